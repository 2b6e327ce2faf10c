"""Overfitted mixtures: surplus components empty under a sparse Dirichlet prior."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

from skbayesmix import BayesianGMM
from skbayesmix._initialization import Start, bic_start, overfitted_start

# Small settings that pass the checks below with a margin for the seeds used
# (max occupied R-hat 1.004-1.006 and at most 2 divergences in 1600 draws,
# measured for seeds 0, 1 and 2 on both data sets). Four chains make R-hat far
# less noisy than two.
OVERFITTED = dict(
    n_components=10,
    weight_concentration=1e-3,
    num_warmup=300,
    num_samples=400,
    num_chains=4,
)


def bayespy_data(seed=0):
    """BayesPy's Gaussian-mixture example: four 2-D Gaussians, 50 points each."""
    rng = np.random.RandomState(seed)
    y0 = rng.multivariate_normal([0, 0], [[2, 0], [0, 0.1]], size=50)
    y1 = rng.multivariate_normal([0, 0], [[0.1, 0], [0, 2]], size=50)
    y2 = rng.multivariate_normal([2, 2], [[2, -1.5], [-1.5, 2]], size=50)
    y3 = rng.multivariate_normal([-2, -2], [[0.5, 0], [0, 0.5]], size=50)
    return np.vstack([y0, y1, y2, y3])


def separated_blobs():
    # 200 rows like BayesPy's data: both fits share one compiled sampler.
    return make_blobs(
        n_samples=200, centers=[[0, 0], [6, 0], [3, 5]], cluster_std=1.0,
        random_state=0,
    )


# ------------------------------------------------------------- fast, no MCMC


@pytest.mark.parametrize("method", ["bic", "bgmm"])
def test_overfitted_start_leaves_surplus_components_empty(method):
    X = bayespy_data()
    X = (X - X.mean(0)) / X.std(0)
    start = overfitted_start(
        X, 10, covariance_type="full", weight_concentration=1e-3,
        random_state=np.random.RandomState(0), method=method,
    )
    assert isinstance(start, Start)
    prior_loc, values, occupied = start
    assert occupied.sum() == 4
    assert_allclose(prior_loc[~occupied], 0.0, atol=1e-12)
    assert np.all(values["weights"][~occupied] * X.shape[0] < 1.0)
    assert_allclose(values["weights"].sum(), 1.0)
    assert values["corr_cholesky"].shape == (10, 2, 2)
    assert np.all(values["scales"] > 0)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_bic_start_pads_surplus_components(covariance_type):
    X = bayespy_data()
    X = (X - X.mean(0)) / X.std(0)
    weights, means, covariances = bic_start(
        X, 7, covariance_type=covariance_type, random_state=np.random.RandomState(0)
    )
    fitted = GaussianMixture(7, covariance_type=covariance_type).fit(X)
    assert weights.shape == (7,) and means.shape == (7, 2)
    assert covariances.shape == fitted.covariances_.shape
    assert_allclose(weights.sum(), 1.0)
    n_used = np.sum(weights > 0)
    assert 1 <= n_used < 7
    assert_allclose(means[n_used:], 0.0, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_bic_start_rejects_components_too_small_for_a_covariance(covariance_type):
    # Eight points in 3-D: one component per point has an unbounded likelihood
    # (covariances collapse onto reg_covar) and BIC alone would choose it.
    X = np.random.RandomState(0).standard_normal((8, 3))
    weights, _, _ = bic_start(
        X, 6, covariance_type=covariance_type, random_state=np.random.RandomState(0)
    )
    min_count = 4 if covariance_type == "full" else 2
    used = weights[weights > 0]
    assert len(used) == 1 or np.all(used * len(X) >= min_count - 1e-6)
    assert len(used) <= len(X) // min_count


def test_bic_start_keeps_overlapping_clusters_apart(reference_blobs):
    # The reference 8 blobs: two of them overlap, and the variational start with
    # a sparse prior merges them for random_state=2; BIC's choice does not.
    X, _ = reference_blobs
    X = (X - X.mean(0)) / X.std(0)
    occupied = overfitted_start(
        X, 15, covariance_type="full", weight_concentration=1e-3,
        random_state=np.random.RandomState(2), method="bic",
    ).occupied
    assert occupied.sum() == 8


def test_invalid_weight_parameterization():
    with pytest.raises(ValueError, match="weight_parameterization"):
        X = np.random.default_rng(0).random((10, 2))
        BayesianGMM(weight_parameterization="stick").fit(X)


# ------------------------------------------------------------ MCMC behaviour


@pytest.fixture(scope="module")
def bayespy_fit():
    X = bayespy_data()
    return X, BayesianGMM(**OVERFITTED, random_state=0).fit(X)


def _check_overfitted(gmm, expected):
    n_draws = gmm.num_chains * gmm.num_samples
    diag = gmm.diagnostics_
    assert gmm.n_effective_components_ == expected
    # Nearly every draw, not just the median, has the expected count.
    assert np.mean(gmm.n_effective_components_draws_ == expected) > 0.9
    assert diag["divergences"] < 0.01 * n_draws
    assert diag["max_r_hat_occupied"] < 1.01
    assert len(diag["occupied_components"]) == expected


def test_bayespy_example_finds_four_components(bayespy_fit):
    _, gmm = bayespy_fit
    _check_overfitted(gmm, 4)
    # converged_ also asks for no divergence at all: over 20 seeds, 3 (0.1's
    # jitter) and 5 (this one) of these fits had one to a few divergent
    # transitions in 1600, so it is not asserted for one seed. The rest is.
    diag = gmm.diagnostics_
    assert diag["n_modes"] == 1
    assert diag["worst_r_hat_occupied"] < diag["r_hat_threshold_occupied"]
    assert diag["min_ess_bulk_occupied"] >= 100 * gmm.num_chains


@pytest.mark.parametrize("seed", [1])
def test_bayespy_example_other_seeds(seed):
    gmm = BayesianGMM(**OVERFITTED, random_state=seed).fit(bayespy_data())
    _check_overfitted(gmm, 4)


def test_separated_blobs_find_three_components():
    X, _ = separated_blobs()
    gmm = BayesianGMM(**OVERFITTED, random_state=0).fit(X)
    _check_overfitted(gmm, 3)


def test_predictions_ignore_empty_components(bayespy_fit):
    X, gmm = bayespy_fit
    # Components empty in (nearly) every draw: their parameters are prior
    # draws. (A component empty in most draws but not all may still win a
    # point under the posterior predictive membership.)
    expected_counts = gmm.posterior_samples_["weights"].reshape(-1, 10) * len(X)
    empty = np.flatnonzero(np.mean(expected_counts < 1.0, axis=0) > 0.99)
    assert empty.size >= 4
    assert set(empty).isdisjoint(gmm.diagnostics_["occupied_components"])
    # Together they hold less than one expected observation.
    assert gmm.weights_[empty].sum() * len(X) < 1.0
    assert_allclose(gmm.weights_.sum(), 1.0)
    # In the few draws where such a component holds a point it can still take
    # that point, or a predictive sample: at most a few rows or samples do.
    proba = gmm.predict_proba(X)
    assert np.mean(proba[:, empty].sum(axis=1) > 0.05) < 0.01
    assert np.mean(np.isin(gmm.predict(X), empty)) < 0.01
    _, labels = gmm.sample(500)
    assert np.mean(np.isin(labels, empty)) < 0.01
    assert np.all(np.isfinite(gmm.covariances_))
    assert np.all(np.isfinite(gmm.precisions_cholesky_))
    # BIC counts parameters as GaussianMixture does for n_components = 10.
    n_params = 10 * 3 + 10 * 2 + 9
    log_lik = (gmm.bic(X) - n_params * np.log(len(X))) / -2
    assert_allclose(gmm.aic(X), -2 * log_lik + 2 * n_params)
    assert np.isfinite(gmm.score(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "tied"])
def test_sparse_defaults_run_for_every_covariance_type(covariance_type, fast_params):
    # Structure only: the 'auto' start and weights work for each covariance type.
    X = bayespy_data()
    gmm = BayesianGMM(
        6, covariance_type=covariance_type, weight_concentration=1e-3, **fast_params
    ).fit(X)
    assert_allclose(gmm.weights_.sum(), 1.0)
    assert 1 <= gmm.n_effective_components_ <= 6
    assert gmm.n_effective_components_draws_.shape == (2, 30)
    assert gmm.diagnostics_["occupied_components"].size >= 1
    assert np.isfinite(gmm.diagnostics_["max_r_hat_occupied"])
    assert gmm.predict_proba(X).shape == (200, 6)
