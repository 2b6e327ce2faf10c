"""Behaviour of BayesianGMM: accuracy, GaussianMixture parity, API contract.

Fits are shared through module-scoped fixtures: one FAST fit per covariance type
of three separated blobs (one compiled sampler each, reused by the other fits of
that structure), and one longer fit of the reference seed's data.
"""

import pickle
import warnings

import numpy as np
import pytest
from conftest import FAST
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from skbayesmix import BayesianGMM, _reference
from skbayesmix._diagnostics import poor_inference_messages
from skbayesmix._program_cache import compilation_stats

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def _fit_quietly(estimator, X):
    # FAST settings are too short for converged diagnostics by design.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.fixture(scope="module")
def separated_blobs():
    """Three well-separated blobs of 300 points with unequal spreads.

    (``three_blobs`` overlaps: GaussianMixture's ARI there is only 0.76, and
    FAST posterior means of the overlapping pair drift from the MLE.)
    """
    X, y = make_blobs(
        n_samples=300, centers=[[-6.0, 0.0], [6.0, 0.0], [0.0, 9.0]],
        cluster_std=[1.0, 1.5, 0.7], random_state=0,
    )
    return X, y


class _LazyFits(dict):
    """Fits on first access, so that a pytest-xdist worker compiles only the
    covariance types its share of the tests uses."""

    def __init__(self, X):
        super().__init__()
        self.X = X

    def __missing__(self, covariance_type):
        estimator = BayesianGMM(
            n_components=3, covariance_type=covariance_type, **FAST
        )
        self[covariance_type] = _fit_quietly(estimator, self.X)
        return self[covariance_type]


@pytest.fixture(scope="module")
def fitted(separated_blobs):
    """A FAST fit with K=3, per covariance type (one compiled sampler each)."""
    return _LazyFits(separated_blobs[0])


# ------------------------------------------------------------ reference data


@pytest.fixture(scope="module")
def reference_fit(reference_blobs):
    # 2 x 1000 draws (not the default 500): with ~56 quantities, max R-hat of
    # 2 x 500 draws hovers around the 1.01 threshold from noise alone.
    X, _ = reference_blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return BayesianGMM(n_components=8, num_samples=1000, random_state=0).fit(X)


def test_reference_blobs_match_gaussian_mixture(reference_blobs, reference_fit):
    # The reference seed's data; held-out rows come from the same eight centres.
    X, y = reference_blobs
    _, _, centers = _reference.reference_blobs(return_centers=True)
    X_test, _ = make_blobs(
        n_samples=1000, centers=centers, cluster_std=0.8, random_state=202
    )
    gm = GaussianMixture(n_components=8, n_init=10, random_state=0).fit(X)
    bgmm = reference_fit
    ari = adjusted_rand_score(y, bgmm.predict(X))
    # Measured with seeds 0, 1, 2: ARI 0.9644 (GaussianMixture: 0.9644), held-out
    # score -4.5155 to -4.5159 (GaussianMixture: -4.5131), max R-hat 1.005-1.009.
    assert ari >= adjusted_rand_score(y, gm.predict(X))
    assert abs(bgmm.score(X_test) - gm.score(X_test)) < 0.05
    assert bgmm.diagnostics_["divergences"] == 0
    assert bgmm.diagnostics_["max_r_hat"] < 1.01
    # 47 sampled parameters, a 200-draw last warm-up window: 'auto' is dense.
    assert bgmm.diagnostics_["dense_mass"] is True
    assert bgmm.converged_
    assert bgmm.n_effective_components_ == 8


def test_second_fit_by_new_instance_compiles_nothing(reference_blobs, fitted):
    # ``fitted`` compiled the K=3 'full' FAST sampler for 300 rows; a new instance
    # of the same structure, on other data of another size in the same size
    # bucket, reuses it.
    X, _ = reference_blobs
    assert fitted["full"].n_features_in_ == 2
    before = compilation_stats()
    _fit_quietly(BayesianGMM(n_components=3, **FAST), X[:300])
    _fit_quietly(BayesianGMM(n_components=3, **FAST), X[:280])
    after = compilation_stats()
    assert after["compilations"] == before["compilations"]
    assert after["fits"] == before["fits"] + 2


# ------------------------------------------------ parity with GaussianMixture


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_attributes_match_gaussian_mixture(separated_blobs, fitted, covariance_type):
    X, _ = separated_blobs
    gm = GaussianMixture(
        n_components=3, covariance_type=covariance_type, random_state=0
    ).fit(X)
    bgmm = fitted[covariance_type]
    for name in (
        "weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"
    ):
        assert getattr(bgmm, name).shape == getattr(gm, name).shape, name
    assert bgmm.n_features_in_ == gm.n_features_in_
    # BIC at the best posterior draw is near the maximum-likelihood BIC (measured
    # over seeds 0-2: 0.1-0.35% above it, 2-9 in absolute terms), and cannot be
    # below it by more than EM's tolerance.
    assert_allclose(bgmm.bic(X), gm.bic(X), rtol=0.01)
    assert gm.bic(X) - 1.0 < bgmm.bic(X) < gm.bic(X) + 20.0
    assert_allclose(bgmm.aic(X), gm.aic(X), rtol=0.01)
    # Same clustering up to a relabelling.
    assert adjusted_rand_score(gm.predict(X), bgmm.predict(X)) > 0.95


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_are_consistent(fitted, covariance_type):
    bgmm = fitted[covariance_type]
    if covariance_type in ("full", "tied"):
        assert_allclose(
            bgmm.precisions_, np.linalg.inv(bgmm.covariances_), rtol=1e-8
        )
        chol = bgmm.precisions_cholesky_
        assert_array_equal(np.tril(chol, -1), 0.0)
        assert_allclose(chol @ np.swapaxes(chol, -1, -2), bgmm.precisions_, rtol=1e-10)
    else:
        assert_allclose(bgmm.precisions_, 1.0 / bgmm.covariances_, rtol=1e-10)
        assert_allclose(bgmm.precisions_cholesky_**2, bgmm.precisions_, rtol=1e-10)
    assert_allclose(bgmm.weights_.sum(), 1.0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predictions(separated_blobs, fitted, covariance_type):
    X, y = separated_blobs
    bgmm = fitted[covariance_type]
    proba = bgmm.predict_proba(X)
    assert proba.shape == (len(X), 3)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(bgmm.predict(X), proba.argmax(axis=1))
    assert adjusted_rand_score(y, bgmm.predict(X)) == 1.0
    log_density = bgmm.score_samples(X)
    assert log_density.shape == (len(X),)
    assert_allclose(bgmm.score(X), log_density.mean())
    assert_allclose(bgmm.lower_bound_, log_density.mean())
    assert bgmm.n_effective_components_ == 3


def test_posterior_samples_and_diagnostics(fitted):
    bgmm = fitted["full"]
    chains, draws = FAST["num_chains"], FAST["num_samples"]
    samples = bgmm.posterior_samples_
    assert samples["weights"].shape == (chains, draws, 3)
    assert samples["means"].shape == (chains, draws, 3, 2)
    assert samples["covariances"].shape == (chains, draws, 3, 2, 2)
    # Point estimates are posterior means of the relabelled draws.
    assert_allclose(bgmm.means_, samples["means"].mean(axis=(0, 1)))
    assert_allclose(bgmm.covariances_, samples["covariances"].mean(axis=(0, 1)))
    diag = bgmm.diagnostics_
    for key in ("r_hat", "ess_bulk", "divergences", "max_r_hat", "min_ess_bulk"):
        assert key in diag
    assert diag["r_hat"]["means"].shape == (3, 2)
    assert isinstance(diag["divergences"], int)
    assert bgmm.n_effective_components_draws_.shape == (chains, draws)
    assert bgmm.n_iter_ == FAST["num_warmup"] + FAST["num_samples"]


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_sample(fitted, covariance_type):
    bgmm = fitted[covariance_type]
    X, labels = bgmm.sample(3000)
    assert X.shape == (3000, 2)
    assert labels.shape == (3000,)
    assert set(np.unique(labels)) == {0, 1, 2}
    # Each component's draws sit around its mean, in proportion to its weight.
    for k in range(3):
        assert_allclose(X[labels == k].mean(axis=0), bgmm.means_[k], atol=0.2)
    assert_allclose(np.bincount(labels) / 3000, bgmm.weights_, atol=0.04)
    # Seeded by random_state, as GaussianMixture.sample is.
    assert_array_equal(bgmm.sample(5)[0], bgmm.sample(5)[0])
    with pytest.raises(ValueError, match="n_samples"):
        bgmm.sample(0)


# --------------------------------------------------------------- invariances


def test_standardisation_invariance(separated_blobs, fitted):
    # reg_covar is in data units, as in GaussianMixture: it scales with the data.
    X, _ = separated_blobs
    scaled = _fit_quietly(
        BayesianGMM(n_components=3, reg_covar=1e-6 * 1000**2, **FAST), 1000 * X + 5
    )
    reference = fitted["full"]
    assert_array_equal(scaled.predict(1000 * X + 5), reference.predict(X))
    assert_allclose(scaled.means_, 1000 * reference.means_ + 5, rtol=1e-3)
    assert_allclose(scaled.covariances_, 1e6 * reference.covariances_, rtol=1e-2)
    assert_allclose(scaled.weights_, reference.weights_, rtol=1e-3)


def test_same_random_state_gives_identical_fits(separated_blobs, fitted):
    X, _ = separated_blobs
    again = _fit_quietly(BayesianGMM(n_components=3, **FAST), X)
    for name, value in fitted["full"].posterior_samples_.items():
        assert_array_equal(again.posterior_samples_[name], value)
    assert_array_equal(again.means_, fitted["full"].means_)


def test_fit_predict_equals_fit_then_predict(separated_blobs, fitted):
    X, _ = separated_blobs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = BayesianGMM(n_components=3, **FAST).fit_predict(X)
    assert_array_equal(labels, fitted["full"].predict(X))


def test_pandas_input_sets_feature_names(separated_blobs, fitted):
    pd = pytest.importorskip("pandas")
    X, _ = separated_blobs
    df = pd.DataFrame(X, columns=["height", "weight"])
    bgmm = BayesianGMM(n_components=3, **FAST)
    with warnings.catch_warnings():
        # No "X does not have valid feature names" warning from fit_predict.
        # (ConvergenceWarning is a UserWarning: the later filter takes precedence.)
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = bgmm.fit_predict(df)
        assert_array_equal(bgmm.predict(df), labels)
    assert_array_equal(bgmm.feature_names_in_, ["height", "weight"])
    assert_array_equal(labels, fitted["full"].predict(X))


def _jax_objects(value, seen=None):
    """Names of objects from JAX modules reachable from ``value``."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    module = type(value).__module__ or ""
    if module.split(".")[0] in ("jax", "jaxlib"):
        return [type(value).__name__]
    found = []
    if isinstance(value, dict):
        children = list(value.keys()) + list(value.values())
    elif isinstance(value, (list, tuple, set)):
        children = list(value)
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        children = list(vars(value).values())
    else:
        children = []
    for child in children:
        found += _jax_objects(child, seen)
    return found


def test_pickle_round_trip_holds_no_jax(separated_blobs, fitted):
    X, _ = separated_blobs
    bgmm = fitted["full"]
    assert _jax_objects(bgmm) == []
    restored = pickle.loads(pickle.dumps(bgmm))
    assert_array_equal(restored.predict(X), bgmm.predict(X))
    assert_array_equal(restored.predict_proba(X), bgmm.predict_proba(X))
    assert_array_equal(restored.score_samples(X), bgmm.score_samples(X))
    # A clone is unfitted and has the same parameters.
    assert clone(bgmm).get_params() == bgmm.get_params()
    with pytest.raises(NotFittedError):
        clone(bgmm).predict(X)


# ------------------------------------------------------------------- ArviZ


def test_to_inference_data(separated_blobs, fitted):
    az = pytest.importorskip("arviz")
    X, _ = separated_blobs
    bgmm = fitted["full"]
    idata = bgmm.to_inference_data()
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data"):
        assert group in idata.groups(), group
    chains, draws = FAST["num_chains"], FAST["num_samples"]
    log_lik = idata.log_likelihood["x"]
    assert log_lik.shape == (chains, draws, len(X))
    assert_allclose(log_lik.values, bgmm.pointwise_log_likelihood())
    assert_allclose(
        idata.posterior["means"].values, bgmm.posterior_samples_["means"]
    )
    assert idata.sample_stats["diverging"].dtype == bool
    assert_allclose(idata.observed_data["x"].values, X)
    summary = az.summary(idata, var_names=["weights"])
    assert len(summary) == 3
    with warnings.catch_warnings():
        # 60 draws give unreliable Pareto k, which ArviZ says with a UserWarning.
        warnings.simplefilter("ignore", UserWarning)
        loo = az.loo(idata)
    assert np.isfinite(loo["elpd_loo"])


# ------------------------------------------------------------------ warnings


def test_convergence_warning_names_the_setting(three_blobs, fitted):
    # Two overlapping blobs and 30 draws per chain: too few effective draws.
    # The 'full' FAST sampler for this size bucket is already compiled by
    # ``fitted``.
    X, _ = three_blobs
    assert fitted["full"].n_features_in_ == 2
    bgmm = BayesianGMM(n_components=3, **FAST)
    with pytest.warns(ConvergenceWarning) as record:
        bgmm.fit(X)
    messages = " ".join(str(w.message) for w in record)
    assert "ESS" in messages
    assert "Increase num_samples" in messages
    assert not bgmm.converged_
    (warning,) = record
    assert str(warning.message) == (
        "BayesianGMM(n_components=3, covariance_type='full') did not converge:\n"
        + "\n".join(f"- {finding}" for finding in bgmm.diagnostics_["warnings"])
    )


def test_no_warning_text_without_cause(fitted):
    # The advice is keyed to each diagnostic, so a clean fit would stay quiet.
    # The fit's own diagnostics dict, with its verdict-relevant entries replaced.
    bgmm = fitted["full"]
    diag = {
        **bgmm.diagnostics_, "divergences": 0, "worst_r_hat": 1.0,
        "r_hat_threshold": 1.01, "min_ess_bulk": 1e6, "n_modes": 1,
    }

    def messages():
        return poor_inference_messages(
            diag,
            n_components=bgmm.n_components,
            num_chains=bgmm.num_chains,
            overfitted=False,
            empty_fraction=np.zeros(bgmm.n_components),
        )

    assert messages() == []
    diag["divergences"] = 3
    (message,) = messages()
    assert "target_accept_prob" in message
    diag.update(divergences=0, worst_r_hat=1.2)
    (message,) = messages()
    assert "num_warmup" in message


# --------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "X, match",
    [
        # NaN is a missing value (tests/test_missing.py); a row of them is not.
        (np.array([[0.0, 1.0], [np.nan, np.nan], [3.0, 4.0]]), "no observed value"),
        (np.array([[0.0, 1.0], [np.inf, 2.0], [3.0, 4.0]]), "infinity"),
        (np.arange(10.0), "Expected 2D array"),
        (np.empty((0, 2)), "0 sample"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), "could not convert|numeric"),
        (np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]), "n_samples >= n_components"),
    ],
    ids=["nan-row", "inf", "1d", "empty", "strings", "too-few-samples"],
)
def test_bad_input_raises_clear_value_error(X, match):
    with pytest.raises(ValueError, match=match):
        BayesianGMM(n_components=4, **FAST).fit(X)


def test_wrong_number_of_features_at_predict(separated_blobs, fitted):
    X, _ = separated_blobs
    bgmm = fitted["full"]
    for method in (bgmm.predict, bgmm.predict_proba, bgmm.score_samples, bgmm.score):
        with pytest.raises(ValueError, match="3 features.*expecting 2 features"):
            method(np.hstack([X, X[:, :1]]))


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 0},
        {"n_components": 1.5},
        {"covariance_type": "banded"},
        {"weight_concentration": -1.0},
        {"weight_concentration": 0.0},
        {"mean_prior_scale": -1.0},
        {"scale_prior": 0.0},
        {"lkj_concentration": -0.5},
        {"reg_covar": -1e-6},
        {"num_samples": 0},
        {"target_accept_prob": 1.0},
        {"chain_method": "pmap"},
    ],
    ids=lambda params: "-".join(f"{k}={v}" for k, v in params.items()),
)
def test_invalid_parameters_are_rejected(three_blobs, params):
    from sklearn.utils._param_validation import InvalidParameterError

    X, _ = three_blobs
    name = next(iter(params))
    with pytest.raises(InvalidParameterError, match=name):
        BayesianGMM(**params).fit(X)
    assert issubclass(InvalidParameterError, ValueError)


def test_mean_prior_shape_is_checked(three_blobs):
    X, _ = three_blobs
    with pytest.raises(ValueError, match="mean_prior must have shape"):
        BayesianGMM(n_components=3, mean_prior=[0.0, 0.0, 0.0]).fit(X)


def test_unfitted_estimator_raises_not_fitted(three_blobs):
    X, _ = three_blobs
    bgmm = BayesianGMM()
    for method in (
        bgmm.predict, bgmm.predict_proba, bgmm.score_samples, bgmm.score, bgmm.bic,
        bgmm.aic,
    ):
        with pytest.raises(NotFittedError):
            method(X)
    for method in (bgmm.sample, bgmm.to_inference_data, bgmm.loo):
        with pytest.raises(NotFittedError):
            method()
