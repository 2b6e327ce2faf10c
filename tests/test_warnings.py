"""Warnings with advice: every poor-inference warning says which setting to change.

The sampler fits share one structure (D=1, 'spherical', 2 chains x 20+20), so the
module compiles few NUTS programs.
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from skbayesmix import BayesianGMM

SETTINGS = dict(
    n_components=3,
    covariance_type="spherical",
    num_warmup=20,
    num_samples=20,
    num_chains=2,
    random_state=0,
)


def _two_blobs():
    rng = np.random.RandomState(0)
    return np.r_[rng.randn(30, 1) - 3, rng.randn(30, 1) + 3]


def _fit_recording(X, **params):
    """Fit; return the estimator, the findings of its warning, and the warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gmm = BayesianGMM(**{**SETTINGS, **params}).fit(X)
    findings = gmm.diagnostics_["warnings"]
    poor = [w for w in caught if "did not converge:" in str(w.message)
            or "converged, but:" in str(w.message)]
    # One warning per fit: the model, then each finding on its own line.
    if findings:
        (warning,) = poor
        assert warning.category is ConvergenceWarning
        assert str(warning.message) == "\n".join([
            f"BayesianGMM(n_components={gmm.n_components}, covariance_type="
            f"'{gmm.covariance_type}') "
            + ("converged, but:" if gmm.converged_ else "did not converge:"),
            *(f"- {finding}" for finding in findings),
        ])
    else:
        assert poor == []
    return gmm, findings, caught


def _one(messages, needle):
    found = [m for m in messages if needle in m]
    assert len(found) == 1, (needle, messages)
    return found[0]


@pytest.fixture(scope="module")
def emptied_fit():
    # Two blobs, three components, and a fixed prior that holds the third mean far
    # from the data: it empties, and the sampler struggles to drag it out there.
    return _fit_recording(
        _two_blobs(),
        standardize=False,
        mean_prior=[[-3.0], [3.0], [40.0]],
        mean_prior_scale=1.0,
    )


@pytest.fixture(scope="module")
def short_fit():
    # Three blobs, three components: a well-posed model with too few draws.
    rng = np.random.RandomState(1)
    X = np.r_[rng.randn(20, 1) - 6, rng.randn(20, 1), rng.randn(20, 1) + 6]
    return _fit_recording(X)


def test_divergence_warning_advises_target_accept_prob(emptied_fit):
    gmm, messages, _ = emptied_fit
    n_div = gmm.diagnostics_["divergences"]
    assert n_div > 0
    msg = _one(messages, "divergent")
    assert msg.startswith(f"{n_div} of 40 post-warm-up transitions")
    assert "Increase target_accept_prob" in msg
    assert not gmm.converged_


def test_r_hat_warning_advises_longer_chains(emptied_fit, short_fit):
    flagged = 0
    for gmm, messages, _ in (emptied_fit, short_fit):
        r_hat = gmm.diagnostics_["worst_r_hat"]
        if r_hat < gmm.diagnostics_["r_hat_threshold"]:
            assert not [m for m in messages if "R-hat" in m]
            continue
        flagged += 1
        msg = _one(messages, "R-hat")
        printed, limit = re.search(
            r"R-hat is ([0-9.]+) .*must stay below ([0-9.]+)", msg
        ).groups()
        assert float(printed) >= float(limit)
        assert float(printed) == pytest.approx(r_hat, abs=1e-4)
        # The advice follows why the chains stopped.
        if gmm.diagnostics_["stopped"] == "not converging":
            assert "nearby modes" in msg and "num_chains" in msg
        else:
            assert "Increase num_warmup and max_num_samples" in msg
        # It says how long the chains ran, continuation included.
        iterations = gmm.diagnostics_["num_iterations"]
        assert f"after {iterations} iterations per chain" in msg
    # At least one of the two fits has chains that disagree after 20 draws.
    assert flagged >= 1


def test_low_ess_warning_advises_more_samples(short_fit):
    gmm, messages, _ = short_fit
    assert gmm.diagnostics_["min_ess_bulk"] < 200
    msg = _one(messages, "ESS")
    assert f"{gmm.diagnostics_['min_ess_bulk']:.0f}" in msg
    assert "Increase num_samples" in msg


def test_empty_component_warning_advises_fewer_components(emptied_fit):
    gmm, messages, _ = emptied_fit
    msg = _one(messages, "less than one observation")
    assert "Reduce n_components (e.g. to 2)" in msg
    assert "weight_concentration" in msg
    # The emptied component is the one whose prior sits at 40.
    empty = int(np.argmax(gmm.means_[:, 0]))
    assert f"indices [{empty}]" in msg
    assert gmm.weights_[empty] < 0.05
    assert gmm.n_effective_components_ == 2


def test_no_empty_component_warning_when_all_are_used(short_fit):
    gmm, messages, _ = short_fit
    assert gmm.n_effective_components_ == 3
    assert not [m for m in messages if "less than one observation" in m]


def test_no_empty_component_warning_for_sparse_prior():
    # A small concentration asks surplus components to empty: no warning then.
    gmm, messages, _ = _fit_recording(
        _two_blobs(),
        standardize=False,
        mean_prior=[[-3.0], [3.0], [40.0]],
        mean_prior_scale=1.0,
        weight_concentration=0.01,
        # The sparse defaults would change the sampler's structure (a new
        # compilation); the warning logic does not depend on them.
        init_params="kmeans",
        weight_parameterization="simplex",
    )
    # Some component is empty in most draws (not occupied) ...
    assert gmm.diagnostics_["occupied_components"].size < gmm.n_components
    # ... yet the sparse prior asked for that: no warning.
    assert not [m for m in messages if "less than one observation" in m]


def test_warnings_point_at_the_callers_line(emptied_fit):
    _, _, caught = emptied_fit
    convergence = [w for w in caught if w.category is ConvergenceWarning]
    assert convergence
    assert {w.filename for w in convergence} == {__file__}


def test_pareto_k_warning_advises_more_samples(short_fit):
    gmm = short_fit[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = gmm.loo()
    assert result["warning"]
    n_bad = int(np.sum(result["pareto_k"] > result["pareto_k_threshold"]))
    assert n_bad > 0
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    msg = _one(messages, "Pareto k")
    assert msg.startswith(f"PSIS-LOO is unreliable: {n_bad} observations")
    assert "Increase num_samples" in msg
    assert {w.filename for w in caught if w.category is ConvergenceWarning} == {
        __file__
    }


def test_fewer_distinct_rows_than_components_warns_once_with_advice():
    X = np.repeat([[0.0], [5.0]], 30, axis=0)
    gmm, _, caught = _fit_recording(X)
    messages = [str(w.message) for w in caught]
    msg = _one(messages, "distinct rows")
    assert "X has only 2 distinct rows, fewer than n_components = 3" in msg
    assert "Reduce n_components to at most 2" in msg
    # k-means' own advice-free warning is not passed on.
    assert not [m for m in messages if "Number of distinct clusters" in m]
    assert {w.filename for w in caught if "distinct rows" in str(w.message)} == {
        __file__
    }
    assert np.all(np.isfinite(gmm.means_))


# ------------------------------------- warnings without the process-wide filters
# skbayesmix._warnings: warn() and collected_warnings() never read or change
# warnings.filters, so that fits in threads cannot leave them changed.


def test_warn_outside_collection_points_at_the_caller():
    from skbayesmix._warnings import warn

    def library_function():
        warn("advice", ConvergenceWarning)  # stacklevel=2: library_function's caller

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        library_function()
        warn("here", UserWarning, stacklevel=1)
    assert [(w.category, str(w.message)) for w in caught] == [
        (ConvergenceWarning, "advice"), (UserWarning, "here")
    ]
    assert {w.filename for w in caught} == {__file__}


def test_collected_warnings_collect_instead_of_issuing_and_nest():
    from skbayesmix._warnings import collected_warnings, warn

    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with collected_warnings() as outer:
            warn("first")
            with collected_warnings() as inner:
                warn("inner", UserWarning)
            warn("second", RuntimeWarning)
        warn("after")
    assert outer == [(ConvergenceWarning, "first"), (RuntimeWarning, "second")]
    assert inner == [(UserWarning, "inner")]
    assert [str(w.message) for w in caught] == ["after"]
    assert warnings.filters == filters


def test_collected_warnings_are_per_thread():
    import threading

    from skbayesmix._warnings import collected_warnings, warn

    barrier = threading.Barrier(4)
    lists = {}

    def job(name):
        with collected_warnings() as collected:
            barrier.wait()  # all four blocks open at once
            for i in range(20):
                warn(f"{name} {i}")
        lists[name] = collected

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with collected_warnings() as main_list:
            threads = [threading.Thread(target=job, args=(n,)) for n in "abcd"]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    for name in "abcd":
        assert lists[name] == [(ConvergenceWarning, f"{name} {i}") for i in range(20)]
    # A thread started inside a collecting block does not report to it.
    assert main_list == [] and caught == []


def _plain_fit_warnings(mixture, X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mixture.fit(X)
    return [w for w in caught if w.category is ConvergenceWarning]


@pytest.mark.parametrize("mixture", [
    # EM stopped before convergence, from k-means; several initialisations.
    {"class": "GaussianMixture", "n_components": 4, "max_iter": 3, "n_init": 2},
    {"class": "BayesianGaussianMixture", "n_components": 4, "max_iter": 4},
    # Converged after a few iterations.
    {"class": "GaussianMixture", "n_components": 2, "covariance_type": "diag"},
])
def test_quiet_fit_is_fit_without_its_warning(mixture):
    import sklearn.mixture
    from sklearn.datasets import make_blobs

    from skbayesmix._warnings import quiet_fit

    params = dict(mixture)
    cls = getattr(sklearn.mixture, params.pop("class"))
    X, _ = make_blobs(n_samples=200, centers=4, random_state=1)
    reference = cls(**params, random_state=np.random.RandomState(3))
    reference_warnings = _plain_fit_warnings(reference, X)
    assert bool(reference_warnings) == (not reference.converged_)
    quiet = cls(**params, random_state=np.random.RandomState(3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert quiet_fit(quiet, X) is quiet
    assert caught == []
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                 "n_iter_", "converged_", "lower_bound_"):
        np.testing.assert_array_equal(getattr(quiet, name), getattr(reference, name))
    assert quiet.get_params().keys() == reference.get_params().keys()
    assert quiet.max_iter == reference.max_iter and quiet.tol == reference.tol
    # The caller's generator advanced as fit advances it.
    assert quiet.random_state.randint(1000) == reference.random_state.randint(1000)


def test_quiet_fit_with_fewer_distinct_rows_than_components():
    from sklearn.mixture import GaussianMixture

    from skbayesmix._warnings import quiet_fit

    # k-means cannot find three clusters in two distinct rows, and says so; the
    # quiet fit starts from k-means++ instead (and warns about nothing).
    X = np.repeat([[0.0], [5.0]], 30, axis=0)
    messages = [str(w.message) for w in _plain_fit_warnings(GaussianMixture(3), X)]
    assert any("distinct clusters" in m for m in messages)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet = quiet_fit(GaussianMixture(3, random_state=0), X)
    assert caught == []
    assert np.all(np.isfinite(quiet.means_)) and quiet.converged_


def test_concurrent_fits_and_criteria_leave_the_warning_filters_alone(monkeypatch):
    # Threads in catch_warnings blocks that interleave put back each other's
    # filter lists; with skbayesmix's blocks (lock-guarded among themselves)
    # beside third-party ones, the filters were left changed in 5 of 5 trials.
    import sys
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from conftest import TINY

    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(30, 2) - 3, rng.randn(30, 2) + 3]
    fitted = BayesianGMM(2, **TINY).fit(X)  # compiles once, outside the threads
    # Third-party code (scikit-learn's validation, ArviZ's ESS) still enters
    # catch_warnings; skbayesmix itself must not, on any path a thread runs.
    entered_by_skbayesmix = []
    enter = warnings.catch_warnings.__enter__

    def recording_enter(self):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("skbayesmix"):
            entered_by_skbayesmix.append(caller)
        return enter(self)

    monkeypatch.setattr(warnings.catch_warnings, "__enter__", recording_enter)

    def job(index):
        barrier.wait()  # start together, so that fits and criteria overlap
        BayesianGMM(2, **TINY).fit(X).waic()
        fitted.loo()
        fitted.waic()

    for _ in range(5):
        filters = list(warnings.filters)
        barrier = threading.Barrier(4)
        # No catch_warnings here: it would itself garble the filters under test.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(job, range(4)))
        assert warnings.filters == filters
    assert entered_by_skbayesmix == []


# ----------------------------------------------- one warning per fit, named


def test_grid_search_warns_once_per_fit_naming_k_at_the_users_line():
    # 3 K x 3 folds + the refit, with draws too few to converge: at most one
    # ConvergenceWarning per fit, naming its K, at this file's line (not at
    # scikit-learn's _validation.py).
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(
        BayesianGMM(**{**SETTINGS, "max_num_samples": None}),
        {"n_components": [2, 3, 4]},
        cv=3,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(_two_blobs())
    convergence = [w for w in caught if w.category is ConvergenceWarning]
    assert 1 <= len(convergence) <= 3 * 3 + 1
    assert {w.filename for w in convergence} == {__file__}
    named = [
        k for w in convergence for k in (2, 3, 4)
        if str(w.message).startswith(
            f"BayesianGMM(n_components={k}, covariance_type='spherical') did not "
            "converge:\n"
        )
    ]
    assert len(named) == len(convergence)
    # At most one per fit: no K warns more often than it was fitted.
    best = search.best_params_["n_components"]
    for k in (2, 3, 4):
        assert named.count(k) <= 3 + (k == best)


def test_pipeline_warns_once_at_the_users_line():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(
        StandardScaler(), BayesianGMM(**{**SETTINGS, "max_num_samples": None})
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipe.fit(_two_blobs())
    (warning,) = caught
    assert warning.category is ConvergenceWarning
    assert warning.filename == __file__
    findings = pipe[-1].diagnostics_["warnings"]
    assert len(findings) >= 2  # merged: several findings, one warning
    assert str(warning.message).startswith(
        "BayesianGMM(n_components=3, covariance_type='spherical') did not converge:\n"
    )


def test_merged_warning_lists_each_finding_under_the_model():
    from skbayesmix._diagnostics import model_name, poor_inference_warning

    name = model_name(BayesianGMM(3, covariance_type="tied"))
    assert name == "BayesianGMM(n_components=3, covariance_type='tied')"
    assert poor_inference_warning(name, ["a.", "b."], converged=False) == (
        f"{name} did not converge:\n- a.\n- b."
    )
    assert poor_inference_warning(name, ["a."], converged=True) == (
        f"{name} converged, but:\n- a."
    )


def _findings(**changes):
    from skbayesmix._diagnostics import poor_inference_messages

    diagnostics = {
        "divergences": 0, "worst_r_hat": 1.0, "r_hat_threshold": 1.01,
        "min_ess_bulk": 1e6, "n_modes": 1, "num_draws": 100,
        "num_iterations": 100, "occupied_components": np.arange(2),
        **changes,
    }
    return poor_inference_messages(
        diagnostics, n_components=2, num_chains=4, overfitted=False,
        empty_fraction=np.zeros(2),
    )


def test_values_print_on_their_side_of_the_threshold():
    # 1.01004 is above 1.01: not "1.0100 ... below 1.0100".
    (finding,) = _findings(worst_r_hat=1.01004)
    assert "R-hat is 1.01004 for a quantity that must stay below 1.01000" in finding
    (finding,) = _findings(worst_r_hat=1.2, r_hat_threshold=1.0123)
    assert "R-hat is 1.2000 for a quantity that must stay below 1.0123" in finding
    # Equal is not below: the same digits, no more.
    (finding,) = _findings(worst_r_hat=1.01)
    assert "R-hat is 1.0100 for a quantity that must stay below 1.0100" in finding
    # The ESS bar is per chain, times the chains; 399.6 is not printed as 400.
    (finding,) = _findings(min_ess_bulk=399.6)
    assert finding.startswith(
        "Min bulk ESS is 399.6, below 400 (100 per chain x 4 chains)"
    )
    (finding,) = _findings(min_ess_bulk=120.0)
    assert finding.startswith(
        "Min bulk ESS is 120, below 400 (100 per chain x 4 chains)"
    )
    assert _findings(min_ess_bulk=400.0) == []


class _LooMixture(GaussianMixture):
    """A scikit-learn mixture whose loo() warns as BayesianGMM.loo does."""

    def waic(self, X=None):
        return {"elpd": -float(self.bic(self._X)), "se": 1.0, "p": 1.0}

    def loo(self):
        from skbayesmix._diagnostics import pareto_k_message
        from skbayesmix._warnings import warn

        warn(pareto_k_message(2, 0.7), ConvergenceWarning)
        pareto_k = np.zeros(len(self._X))
        pareto_k[:2] = 1.0
        return {
            "elpd": -float(self.bic(self._X)), "se": 1.0, "p": 1.0,
            "pareto_k": pareto_k, "pareto_k_threshold": 0.7,
        }

    def fit(self, X, y=None):
        self._X = X
        return super().fit(X, y)


@pytest.mark.parametrize("criterion", ["bic", "aic", "icl", "waic", "loo"])
def test_pareto_k_warns_only_when_loo_is_the_criterion(criterion):
    from sklearn.datasets import make_blobs

    from skbayesmix import BayesianGMMSelector
    from skbayesmix._diagnostics import pareto_k_message

    X, _ = make_blobs(n_samples=90, centers=3, random_state=0)
    selector = BayesianGMMSelector(
        _LooMixture(random_state=0), n_components_range=(2, 3), criterion=criterion
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        selector.fit(X)
    pareto = [str(w.message) for w in caught if "Pareto" in str(w.message)]
    if criterion != "loo":
        assert pareto == []
        return
    k = selector.best_n_components_
    # The same advice as loo()'s own, tagged with the chosen candidate.
    assert pareto == [
        f"[n_components={k}, covariance_type='full'] {pareto_k_message(2, 0.7)}"
    ]
    assert {w.filename for w in caught} == {__file__}
