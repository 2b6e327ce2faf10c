"""BayesianGMMSelector, its criteria, the scorers and parallel candidate fits."""

import warnings

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skbayesmix import BayesianGMM, BayesianGMMSelector, aic_score, bic_score

# Enough MCMC for a stable choice of K on well-separated blobs, and no more.
# Checked over random_state 0, 1, 2 (see the report of issue 3).
MCMC = dict(num_warmup=200, num_samples=200, num_chains=2, random_state=0)


@pytest.fixture(scope="module")
def separated_blobs():
    """Three well-separated blobs of 100 points each."""
    X, y = make_blobs(
        n_samples=300, centers=[[-4, 0], [4, 0], [0, 6]], cluster_std=1.0,
        random_state=0,
    )
    return X, y


def _cheap_selector(**params):
    return BayesianGMMSelector(
        estimator=GaussianMixture(max_iter=5, random_state=0),
        criterion="bic",
        n_components_range=(1, 2),
        **params,
    )


@parametrize_with_checks([_cheap_selector()])
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        # max_iter=5 keeps the checks fast; EM need not converge.
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# --------------------------------------------------------------- scorers


def test_bic_and_aic_scorers_match_negative_criteria(separated_blobs):
    X, _ = separated_blobs
    gmm = GaussianMixture(3, random_state=0).fit(X)
    assert bic_score(gmm, X) == pytest.approx(-gmm.bic(X))
    assert aic_score(gmm, X) == pytest.approx(-gmm.aic(X))

    # In a pipeline the last step scores the transformed data, not raw X.
    pipe = make_pipeline(StandardScaler(), GaussianMixture(3, random_state=0)).fit(X)
    X_scaled = pipe[0].transform(X)
    assert bic_score(pipe, X) == pytest.approx(-pipe[-1].bic(X_scaled))
    assert aic_score(pipe, X) == pytest.approx(-pipe[-1].aic(X_scaled))
    assert bic_score(pipe, X) != pytest.approx(-pipe[-1].bic(X))


def test_bic_score_in_grid_search_with_pipeline(separated_blobs):
    X, _ = separated_blobs
    search = GridSearchCV(
        make_pipeline(StandardScaler(), GaussianMixture(random_state=0)),
        {"gaussianmixture__n_components": [2, 3, 4]},
        scoring=bic_score,
        cv=3,
    ).fit(X)
    assert search.best_params_ == {"gaussianmixture__n_components": 3}


# ------------------------------------------------- criteria and the choice


def test_criteria_for_gaussian_mixture_and_icl(separated_blobs):
    X, _ = separated_blobs
    selector = BayesianGMMSelector(
        GaussianMixture(random_state=0), n_components_range=(1, 2, 3, 4, 5)
    ).fit(X)
    results = selector.cv_results_
    assert_array_equal(results["n_components"], [1, 2, 3, 4, 5])
    assert selector.best_n_components_ == 3
    assert selector.best_covariance_type_ == "full"
    assert selector.best_index_ == 2
    assert results["rank_bic"][2] == 1
    for k, row in zip(range(1, 6), range(5)):
        gmm = GaussianMixture(k, random_state=0).fit(X)
        assert_allclose(results["bic"][row], gmm.bic(X), rtol=1e-10)
        assert_allclose(results["aic"][row], gmm.aic(X), rtol=1e-10)
        proba = gmm.predict_proba(X)
        entropy = -np.sum(proba * np.log(np.clip(proba, 1e-300, None)))
        assert_allclose(results["icl"][row], gmm.bic(X) + 2 * entropy, rtol=1e-10)
        assert results["n_parameters"][row] == gmm._n_parameters()
    # ICL penalises overlap, so it never undercuts BIC.
    assert np.all(results["icl"] >= results["bic"])
    # Criteria that need posterior draws are skipped, not invented.
    for key in ("elpd_waic", "se_elpd_waic", "elpd_loo", "se_elpd_loo",
                "n_bad_pareto_k", "dse_elpd_loo"):
        assert np.all(np.isnan(results[key]))
    assert selector.best_score_ == pytest.approx(results["bic"][2])
    assert len(results["params"]) == 5
    assert results["params"][2] == {"n_components": 3}


# membership_entropy, elpd_differences and the one-SE rule (select) on synthetic
# values are tested in test_criteria.py; here they are tested through the selector.


class _FakeBayesianMixture(GaussianMixture):
    """GaussianMixture with canned waic/loo results, to test the selection rule."""

    ELPD = {1: -700.0, 2: -600.0, 3: -500.0, 4: -494.0, 5: -492.0}

    def _ic(self):
        rng = np.random.RandomState(self.n_components)
        # Pointwise contributions of the larger models are the K=3 ones plus
        # noise: paired differences have an SE of about 10 (sqrt(2 * 300) * 0.4).
        n = 300  # rows of separated_blobs
        base = np.random.RandomState(3).normal(-5.0, 1.0, n)
        if self.n_components >= 3:
            pointwise = base + rng.normal(0, 0.4, n)
        else:
            pointwise = np.random.RandomState(0).normal(-5, 1, n)
        pointwise += (self.ELPD[self.n_components] - pointwise.sum()) / n
        return {"elpd": pointwise.sum(), "se": 10.0, "p": 1.0, "pointwise": pointwise}

    def waic(self):
        return self._ic()

    def loo(self):
        from skbayesmix._warnings import warn

        result = self._ic()
        result["pareto_k"] = np.where(np.arange(300) < self.n_components - 2, 0.9, 0.1)
        result["pareto_k_threshold"] = 0.7
        # As BayesianGMM.loo() does, through the channel the selector collects.
        warn("the estimator's own Pareto warning", ConvergenceWarning)
        return result


def test_one_standard_error_rule_and_pareto_warnings(separated_blobs):
    X, _ = separated_blobs
    selector = BayesianGMMSelector(
        _FakeBayesianMixture(random_state=0),
        n_components_range=(1, 2, 3, 4, 5),
        criterion="loo",
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        selector.fit(X)
    results = selector.cv_results_
    # K=5 has the best elpd, but K=3 and K=4 lie within one paired SE of it
    # (and K=3 beyond the negligible difference of 4).
    assert results["rank_loo"][4] == 1
    assert results["dse_elpd_loo"][2] > results["d_elpd_loo"][2] > 4
    assert results["d_elpd_loo"][1] > results["dse_elpd_loo"][1]
    assert selector.best_n_components_ == 3
    assert selector.best_score_ == pytest.approx(results["elpd_loo"][2])
    assert_array_equal(results["n_bad_pareto_k"], [0, 0, 1, 2, 3])
    # One Pareto warning, for the chosen candidate only, naming it, at the
    # caller's line; the inner estimator's own is replaced, not repeated.
    messages = [str(w.message) for w in record if "Pareto" in str(w.message)]
    assert messages == [
        "[n_components=3, covariance_type='full'] PSIS-LOO is unreliable: 1 "
        "observation has Pareto k above 0.70. Increase num_samples, or compare "
        "models by BIC or by a cross-validated score instead."
    ]
    assert {w.filename for w in record} == {__file__}

    # WAIC has no paired SE fallback issue: same rule, same choice; and Pareto
    # k concerns PSIS-LOO only.
    selector.set_params(criterion="waic")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        selector.fit(X)
    assert selector.best_n_components_ == 3
    assert not [w for w in record if "Pareto" in str(w.message)]


def test_covariance_types_compare_structures(separated_blobs):
    X, _ = separated_blobs
    selector = BayesianGMMSelector(
        GaussianMixture(random_state=0),
        n_components_range=(2, 3, 4),
        covariance_types=("full", "spherical"),
    ).fit(X)
    results = selector.cv_results_
    assert_array_equal(results["n_components"], [2, 3, 4, 2, 3, 4])
    assert list(results["covariance_type"]) == ["full"] * 3 + ["spherical"] * 3
    # The blobs are isotropic: spherical wins BIC with fewer parameters.
    assert selector.best_covariance_type_ == "spherical"
    assert selector.best_n_components_ == 3
    assert selector.best_estimator_.covariance_type == "spherical"
    assert results["params"][4] == {"n_components": 3, "covariance_type": "spherical"}


def test_does_not_mutate_estimator_and_delegates(separated_blobs):
    X, _ = separated_blobs
    inner = GaussianMixture(random_state=0)
    params = inner.get_params()
    selector = BayesianGMMSelector(inner, n_components_range=(2, 3)).fit(X)
    assert inner.get_params() == params
    assert not hasattr(inner, "means_")
    best = selector.best_estimator_
    assert best is not inner and best.n_components == 3
    assert_array_equal(selector.predict(X), best.predict(X))
    assert_allclose(selector.predict_proba(X), best.predict_proba(X))
    assert_allclose(selector.score_samples(X), best.score_samples(X))
    assert selector.score(X) == pytest.approx(best.score(X))
    assert selector.bic(X) == pytest.approx(best.bic(X))
    assert selector.aic(X) == pytest.approx(best.aic(X))
    assert selector.sample(7)[0].shape == (7, 2)


class _BicOnly(BaseEstimator):
    """The least an estimator needs: fit, bic and an n_components parameter."""

    def __init__(self, n_components=1):
        self.n_components = n_components

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def bic(self, X):
        return float((self.n_components - 2) ** 2)


def test_delegation_and_criteria_follow_the_estimator(separated_blobs):
    X, _ = separated_blobs
    # Before fit, availability comes from the estimator (BayesianGMM if None).
    assert hasattr(BayesianGMMSelector(), "predict_proba")
    assert hasattr(BayesianGMMSelector(), "sample")
    selector = BayesianGMMSelector(_BicOnly(), n_components_range=(1, 2, 3))
    methods = ("predict", "predict_proba", "score", "score_samples", "sample", "aic")
    for method in methods:
        assert not hasattr(selector, method), method
    selector.fit(X)
    assert selector.best_n_components_ == 2
    assert not hasattr(selector, "predict_proba")
    assert selector.bic(X) == 0.0
    assert np.all(np.isnan(selector.cv_results_["aic"]))
    assert np.all(np.isnan(selector.cv_results_["icl"]))
    # Without a covariance type the row says None and complexity is K.
    assert list(selector.cv_results_["covariance_type"]) == [None] * 3


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components_range": ()}, "non-empty sequence"),
        ({"n_components_range": (0, 1)}, "integers >= 1"),
        ({"n_components_range": (2, 2)}, "repeated"),
        ({"n_components_range": (1, 20)}, "max\\(n_components_range\\) = 20"),
        ({"covariance_types": ("full", "wide")}, "covariance_types"),
        ({"criterion": "loo"}, "needs an estimator with a loo"),
    ],
)
def test_invalid_parameters(params, match):
    X = np.random.RandomState(0).normal(size=(10, 2))
    selector = BayesianGMMSelector(GaussianMixture(), **params)
    with pytest.raises(ValueError, match=match):
        selector.fit(X)


def test_verbose_prints_one_line_per_candidate(separated_blobs, capsys):
    X, _ = separated_blobs
    _cheap_selector(verbose=1).fit(X)
    out = capsys.readouterr().out.splitlines()
    assert [line[:5] for line in out[1:3]] == ["[1/2]", "[2/2]"]
    assert "bic=" in out[1] and "chose n_components=" in out[-1]
    _cheap_selector().fit(X)
    assert capsys.readouterr().out == ""


def test_selector_as_pipeline_step_in_grid_search(separated_blobs):
    X, _ = separated_blobs
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("selector", BayesianGMMSelector(
            GaussianMixture(random_state=0), n_components_range=(2, 3, 4)
        )),
    ])
    search = GridSearchCV(
        pipe,
        {"selector__estimator__covariance_type": ["full", "spherical"]},
        scoring=bic_score,
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X)
    assert search.best_params_ == {"selector__estimator__covariance_type": "spherical"}
    selector = search.best_estimator_.named_steps["selector"]
    assert selector.best_n_components_ == 3
    assert selector.best_estimator_.covariance_type == "spherical"


# ------------------------------------------------------------ with MCMC


def test_bic_and_loo_choose_three_blobs(separated_blobs):
    X, _ = separated_blobs
    selector = BayesianGMMSelector(
        BayesianGMM(**MCMC),
        n_components_range=(1, 2, 3, 4, 5, 6),
        criterion="loo",
    )
    with warnings.catch_warnings():
        # Short chains on surplus components warn about R-hat; not under test.
        warnings.simplefilter("ignore", ConvergenceWarning)
        selector.fit(X)
    results = selector.cv_results_
    assert selector.best_n_components_ == 3
    assert results["n_components"][np.argmin(results["bic"])] == 3
    assert results["n_components"][np.argmin(results["aic"])] >= 3
    for key in ("elpd_waic", "se_elpd_waic", "elpd_loo", "se_elpd_loo", "p_loo",
                "n_bad_pareto_k", "icl"):
        assert np.all(np.isfinite(results[key])), key
    # Past K=3 PSIS-LOO is flat: within a few paired SEs of the best.
    assert np.all(results["d_elpd_loo"][3:] < 3 * results["dse_elpd_loo"][3:] + 1)
    assert np.all(results["d_elpd_loo"][:2] > 10 * results["dse_elpd_loo"][:2])
    assert isinstance(selector.best_estimator_, BayesianGMM)
    assert selector.best_estimator_.n_components == 3


def test_grid_search_pipeline_chooses_three(separated_blobs):
    X, _ = separated_blobs

    def default_score(estimator, X, y=None):
        return estimator.score(X)  # what GridSearchCV uses with scoring=None

    search = GridSearchCV(
        make_pipeline(StandardScaler(), BayesianGMM(**MCMC)),
        {"bayesiangmm__n_components": [1, 2, 3, 4]},
        scoring={"score": default_score, "bic": bic_score},
        refit=False,
        cv=KFold(3, shuffle=True, random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X)
    n_components = np.asarray(search.cv_results_["param_bayesiangmm__n_components"])
    for metric in ("score", "bic"):
        ranks = search.cv_results_[f"rank_test_{metric}"]
        assert n_components[np.argmin(ranks)] == 3, metric


@pytest.fixture(scope="module")
def sequential_selection(separated_blobs):
    X, _ = separated_blobs
    selector = BayesianGMMSelector(
        BayesianGMM(**MCMC), n_components_range=(2, 3), criterion="bic"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        selector.fit(X)
    return selector


_COMPARED = ("bic", "aic", "icl", "elpd_waic", "elpd_loo", "se_elpd_loo")


def _assert_same_selection(selector, reference):
    assert selector.best_n_components_ == reference.best_n_components_ == 3
    for key in _COMPARED:
        assert_allclose(selector.cv_results_[key], reference.cv_results_[key],
                        rtol=1e-6, err_msg=key)
    assert_allclose(
        selector.best_estimator_.means_, reference.best_estimator_.means_, rtol=1e-6
    )


def test_same_result_with_two_jobs(separated_blobs, sequential_selection):
    X, _ = separated_blobs
    selector = clone(sequential_selection).set_params(n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        selector.fit(X)
    _assert_same_selection(selector, sequential_selection)


def test_same_result_on_a_dask_cluster(separated_blobs, sequential_selection):
    distributed = pytest.importorskip("dask.distributed")
    X, _ = separated_blobs
    selector = clone(sequential_selection)
    # Worker threads (processes=False) start in a second where worker processes
    # take tens of seconds, and reuse this process's compiled samplers; process
    # separation is what the n_jobs=2 (loky) test covers.
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
        host="127.0.0.1", dashboard_address=None,
    ) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as tasks:
            with joblib.parallel_backend("dask"), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                selector.fit(X)
        # The candidates ran as tasks on the cluster's workers.
        workers = {task["worker"] for task in tasks.data}
        assert len(tasks.data) >= 1
        assert workers and workers <= set(client.scheduler_info()["workers"])
    _assert_same_selection(selector, sequential_selection)


# ------------------------------------------------ warnings of the chosen one


class _AdvisingMixture(GaussianMixture):
    """GaussianMixture that warns as BayesianGMM does, and reports diagnostics."""

    def fit(self, X, y=None):
        from skbayesmix._warnings import warn

        super().fit(X)
        k = self.n_components
        self.diagnostics_ = {
            "max_r_hat": 1.0 + k / 100, "min_ess_bulk": 100.0 * k,
            "divergences": k - 1, "n_modes": k,
        }
        warn(f"K={k} mixes slowly", ConvergenceWarning)
        warn(f"K={k} has a note", UserWarning)
        return self


def _recorded(fit, *args):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fitted = fit(*args)
    return fitted, record


@pytest.mark.parametrize("backend", ["sequential", "threading"])
def test_only_the_chosen_candidate_warns_at_the_callers_line(separated_blobs, backend):
    X, _ = separated_blobs
    selector = BayesianGMMSelector(
        _AdvisingMixture(random_state=0), n_components_range=(2, 3, 4)
    )
    with joblib.parallel_config(backend=backend, n_jobs=2):
        _, record = _recorded(selector.fit, X)
    assert selector.best_n_components_ == 3
    # Every category is passed on, tagged with the candidate; nothing of K=2, 4.
    assert [(w.category, str(w.message)) for w in record] == [
        (ConvergenceWarning, "[n_components=3, covariance_type='full'] K=3 mixes "
         "slowly"),
        (UserWarning, "[n_components=3, covariance_type='full'] K=3 has a note"),
    ]
    assert {w.filename for w in record} == {__file__}
    results = selector.cv_results_
    assert_allclose(results["max_r_hat"], [1.02, 1.03, 1.04])
    assert_allclose(results["min_ess_bulk"], [200.0, 300.0, 400.0])
    assert_array_equal(results["divergences"], [1, 2, 3])
    assert_array_equal(results["n_modes"], [2, 3, 4])
    assert_array_equal(results["converged"], [True, True, True])


def test_chosen_candidate_warns_at_the_users_line_through_grid_search(
    separated_blobs,
):
    X, _ = separated_blobs
    pipe = make_pipeline(StandardScaler(), BayesianGMMSelector(
        _AdvisingMixture(random_state=0), n_components_range=(2, 3)
    ))
    search = GridSearchCV(
        pipe, {"bayesiangmmselector__criterion": ["bic", "aic"]},
        scoring=bic_score, cv=KFold(2, shuffle=True, random_state=0),
    )
    _, record = _recorded(search.fit, X)
    # One candidate chosen per selector fit (2 settings x 2 folds, and the refit).
    assert len(record) == 2 * 5
    assert {w.filename for w in record} == {__file__}
    assert all(str(w.message).startswith("[n_components=3") for w in record)


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_gaussian_mixture_candidates_that_do_not_converge_are_summarised(
    separated_blobs, capsys, n_jobs
):
    X, _ = separated_blobs
    # With 3 EM iterations, K=4 and K=5 do not converge (scikit-learn warns).
    selector = BayesianGMMSelector(
        GaussianMixture(max_iter=3, random_state=0),
        n_components_range=(1, 2, 3, 4, 5), n_jobs=n_jobs, verbose=1,
    )
    _, record = _recorded(selector.fit, X)
    assert selector.best_n_components_ == 3
    assert record == []
    results = selector.cv_results_
    assert_array_equal(results["converged"], [True, True, True, False, False])
    assert results["converged"].dtype == bool
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (
        "BayesianGMMSelector: 2 candidates not chosen did not converge: "
        "n_components=4, 5; see cv_results_['converged']"
    )
    # The same fits as GaussianMixture's own, which does warn.
    for k, row in zip((4, 5), (3, 4)):
        gmm, warned = _recorded(GaussianMixture(k, max_iter=3, random_state=0).fit, X)
        assert [w.category for w in warned] == [ConvergenceWarning]
        assert_allclose(results["bic"][row], gmm.bic(X), rtol=1e-12)
    # No sampler diagnostics: NaN, or masked.
    for key in ("max_r_hat", "min_ess_bulk"):
        assert results[key].dtype == np.float64 and np.all(np.isnan(results[key]))
    for key in ("divergences", "n_modes"):
        assert results[key].dtype.kind == "i"
        assert np.all(np.ma.getmaskarray(results[key]))


def test_chosen_warnings_only_when_misspecified_candidates_do_not_converge(capsys):
    from conftest import TINY

    # Two blobs: K=3 is misspecified. With tiny chains no candidate converges
    # (checked below), yet only the chosen K=2 warns.
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(40, 1) - 5, rng.randn(40, 1) + 5]
    selector = BayesianGMMSelector(
        BayesianGMM(covariance_type="spherical", **TINY),
        n_components_range=(1, 2, 3), verbose=1,
    )
    _, record = _recorded(selector.fit, X)
    assert selector.best_n_components_ == 2
    convergence = [w for w in record if w.category is ConvergenceWarning]
    assert convergence
    for warning in convergence:
        assert str(warning.message).startswith(
            "BayesianGMM(n_components=2, covariance_type='spherical') did not "
            "converge:\n"
        )
        assert warning.filename == __file__
    results = selector.cv_results_
    assert not results["converged"][2]
    not_chosen = [int(k) for k, ok in zip(results["n_components"], results["converged"])
                  if k != 2 and not ok]
    assert 3 in not_chosen
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"BayesianGMMSelector: {len(not_chosen)} candidate"
        f"{'s' if len(not_chosen) > 1 else ''} not chosen did not converge: "
        f"n_components={', '.join(map(str, not_chosen))}; "
        "see cv_results_['converged']"
    )
    # The diagnostic columns are the candidates' own.
    best = selector.best_estimator_
    assert results["max_r_hat"].dtype == np.float64
    assert results["min_ess_bulk"].dtype == np.float64
    assert results["divergences"].dtype.kind == "i"
    assert results["n_modes"].dtype.kind == "i"
    assert results["converged"].dtype == bool
    for key in ("divergences", "n_modes", "converged"):
        assert not np.ma.getmaskarray(results[key]).any(), key
    assert results["max_r_hat"][1] == best.diagnostics_["max_r_hat"]
    assert results["min_ess_bulk"][1] == best.diagnostics_["min_ess_bulk"]
    assert results["divergences"][1] == best.diagnostics_["divergences"]
    assert results["n_modes"][1] == best.diagnostics_.get("n_modes", 1)
    assert results["converged"][1] == best.converged_


# ----------------------------------------------- ArviZ's global settings


def test_arviz_ic_scale_does_not_change_elpd():
    from skbayesmix._criteria import elpd_differences, information_criterion
    from skbayesmix._diagnostics import arviz

    az = arviz()

    rng = np.random.RandomState(0)
    log_liks = [rng.normal(-2, s, (2, 50, 40)) + rng.normal(0, 0.5, 40)
                for s in (0.2, 0.9)]
    posterior = {"means": rng.standard_normal((2, 50, 3))}

    def criteria():
        results = {
            method: [information_criterion(ll, method, posterior=posterior)
                     for ll in log_liks]
            for method in ("waic", "loo")
        }
        differences = {
            method: elpd_differences(
                np.array([r["elpd"] for r in res]), res, method=method, n_samples=40
            )
            for method, res in results.items()
        }
        return results, differences

    reference, reference_differences = criteria()
    with az.rc_context({"stats.ic_scale": "deviance"}):
        results, differences = criteria()
    for method in ("waic", "loo"):
        for ours, theirs in zip(results[method], reference[method]):
            for key in ("elpd", "se", "p", "pointwise"):
                assert_array_equal(ours[key], theirs[key])
            assert ours["elpd_data"]["scale"] == "log"
        assert_array_equal(differences[method], reference_differences[method])


@pytest.mark.parametrize("criterion", ["waic", "loo"])
def test_arviz_ic_scale_does_not_change_the_choice(criterion):
    from conftest import TINY

    from skbayesmix._diagnostics import arviz

    az = arviz()

    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(40, 1) - 5, rng.randn(40, 1) + 5]
    selector = BayesianGMMSelector(
        BayesianGMM(covariance_type="spherical", **TINY),
        n_components_range=(1, 2, 3), criterion=criterion,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = clone(selector).fit(X)
        with az.rc_context({"stats.ic_scale": "deviance"}):
            selector.fit(X)
            best = selector.best_estimator_
            estimator_results = best.waic(), best.loo()
    assert selector.best_n_components_ == reference.best_n_components_
    assert selector.best_score_ == reference.best_score_
    for key in (f"elpd_{criterion}", f"d_elpd_{criterion}", f"dse_elpd_{criterion}"):
        assert_array_equal(selector.cv_results_[key], reference.cv_results_[key])
    for ours, method in zip(estimator_results, ("waic", "loo")):
        assert ours["elpd"] == reference.cv_results_[f"elpd_{method}"][
            reference.best_index_
        ]
