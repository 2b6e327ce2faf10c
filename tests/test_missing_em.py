"""EM and k-means on rows with missing values (skbayesmix._missing_em)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from skbayesmix import _missing_em
from skbayesmix._covariance import COVARIANCE_TYPES, full_matrices, inverse
from skbayesmix._initialization import kmeans_start
from skbayesmix._missing_em import em_with_missing, kmeans_with_missing
from skbayesmix._standardize import mean_and_std
from skbayesmix._warnings import quiet_fit

REG_COVAR = 1e-4


def _blobs(n_samples=300, missing=0.2, seed=0):
    X, y = make_blobs(
        n_samples, n_features=3, centers=[[0, 0, 0], [8, 8, -8], [-8, -8, 8]],
        random_state=seed,
    )
    X_missing = X.copy()
    X_missing[np.random.RandomState(seed).uniform(size=X.shape) < missing] = np.nan
    return X, X_missing, y


def _start(X, covariance_type):
    """A rough start: two EM steps from k-means, then moved and widened."""
    gm = quiet_fit(
        GaussianMixture(3, covariance_type=covariance_type, max_iter=2, random_state=0),
        X,
    )
    return dict(
        weights=gm.weights_, means=gm.means_ + 0.3,
        covariances=gm.covariances_ * 1.5, covariance_type=covariance_type,
        reg_covar=REG_COVAR,
    )


def _exact_log_likelihood(X, result, covariance_type, sample_weight=None):
    """sum_i w_i log sum_k w_k N(x_obs,i | mu_k,obs, S_k,obs obs), by SciPy."""
    n_components, n_features = result.means.shape
    sigma = full_matrices(result.covariances, covariance_type, n_components, n_features)
    per_row = []
    for x in X:
        o = ~np.isnan(x)
        if not o.any():
            per_row.append(0.0)
            continue
        per_row.append(logsumexp([
            np.log(result.weights[k]) + multivariate_normal(
                result.means[k, o], sigma[k][np.ix_(o, o)]
            ).logpdf(x[o])
            for k in range(n_components)
        ]))
    weight = np.ones(len(X)) if sample_weight is None else sample_weight
    return np.dot(weight, per_row)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("max_iter", [2, 100])
def test_without_missing_values_is_gaussian_mixture_em(
    covariance_type, weighted, max_iter
):
    # Integer weights against GaussianMixture on the repeated rows.
    X, _, _ = _blobs()
    sample_weight = np.random.RandomState(1).randint(0, 4, len(X)) if weighted else None
    X_repeated = X if sample_weight is None else np.repeat(X, sample_weight, axis=0)
    start = _start(X, covariance_type)
    gm = GaussianMixture(
        3, covariance_type=covariance_type, reg_covar=REG_COVAR, tol=1e-6,
        max_iter=max_iter, weights_init=start["weights"], means_init=start["means"],
        precisions_init=inverse(start["covariances"], covariance_type),
        init_params="random", random_state=0,
    )
    gm = quiet_fit(gm, X_repeated)
    result = em_with_missing(
        X, **start, tol=1e-6, max_iter=max_iter, sample_weight=sample_weight
    )
    assert result.n_iter == gm.n_iter_
    assert result.converged == gm.converged_ == (max_iter == 100)
    assert_allclose(result.weights, gm.weights_, rtol=1e-8, atol=1e-12)
    assert_allclose(result.means, gm.means_, rtol=1e-8, atol=1e-10)
    assert_allclose(result.covariances, gm.covariances_, rtol=1e-8, atol=1e-10)
    assert_allclose(
        result.log_likelihood, gm.score_samples(X_repeated).sum(), rtol=1e-10
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_never_decreases(covariance_type):
    X, X_missing, _ = _blobs()
    start = _start(X, covariance_type)
    history = [
        em_with_missing(X_missing, **start, tol=0.0, max_iter=n_iter).log_likelihood
        for n_iter in range(1, 16)
    ]
    steps = np.diff(history)
    assert np.all(steps >= -1e-9 * abs(history[-1]))
    # The start is poor: EM must have climbed.
    assert history[-1] > history[0] + 1.0


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_is_the_observed_marginal(covariance_type):
    X, X_missing, _ = _blobs()
    X_missing[:5] = np.nan  # rows without any observed value count for nothing
    sample_weight = np.random.RandomState(2).uniform(0.5, 2.0, len(X))
    result = em_with_missing(
        X_missing, **_start(X, covariance_type), sample_weight=sample_weight
    )
    assert result.converged
    assert_allclose(
        result.log_likelihood,
        _exact_log_likelihood(X_missing, result, covariance_type, sample_weight),
        rtol=1e-8,
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_parameters_close_to_complete_data_em(covariance_type):
    X, X_missing, _ = _blobs(n_samples=600)
    start = _start(X, covariance_type)
    complete = em_with_missing(X, **start, tol=1e-8)
    missing = em_with_missing(X_missing, **start, tol=1e-8)
    assert missing.converged
    assert_allclose(missing.weights, complete.weights, atol=0.03)
    assert_allclose(missing.means, complete.means, atol=0.2)
    assert_allclose(missing.covariances, complete.covariances, atol=0.25)
    # Estimates from fewer values: a complete start is not kept.
    assert not np.allclose(missing.means, complete.means, atol=1e-3)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_are_repeated_rows(covariance_type):
    X, X_missing, _ = _blobs(n_samples=150)
    sample_weight = np.random.RandomState(3).randint(0, 4, len(X))
    start = _start(X, covariance_type)
    weighted = em_with_missing(
        X_missing, **start, tol=1e-6, sample_weight=sample_weight.astype(float)
    )
    repeated = em_with_missing(
        np.repeat(X_missing, sample_weight, axis=0), **start, tol=1e-6
    )
    assert weighted.n_iter == repeated.n_iter
    for name in ("weights", "means", "covariances", "log_likelihood"):
        assert_allclose(
            getattr(weighted, name), getattr(repeated, name), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_blocks_do_not_change_the_result(covariance_type, monkeypatch):
    # Default blocks: one per pattern (few rows each are mixed). Tiny blocks
    # split patterns over blocks and gather mixed ones row by row.
    X, X_missing, _ = _blobs()
    start = _start(X, covariance_type)
    default = em_with_missing(X_missing, **start, max_iter=5)
    monkeypatch.setattr(_missing_em, "_BLOCK_FLOATS", 600)
    monkeypatch.setattr(_missing_em, "_OWN_BLOCK_FLOATS", 20 * 27)
    blocks = _missing_em._pattern_blocks(~np.isnan(X_missing), n_components=3)
    assert any(len(patterns) > 1 for _, patterns, _ in blocks)
    own = [patterns[0].tobytes() for _, patterns, _ in blocks if len(patterns) == 1]
    assert len(own) > len(set(own))  # a pattern split over blocks
    assert_array_equal(
        np.sort(np.concatenate([rows for rows, _, _ in blocks])), np.arange(len(X))
    )
    small = em_with_missing(X_missing, **start, max_iter=5)
    for name in ("weights", "means", "covariances", "log_likelihood"):
        assert_allclose(getattr(small, name), getattr(default, name), rtol=1e-10)


def test_singular_covariance_raises():
    X, X_missing, _ = _blobs()
    start = _start(X, "full")
    start["covariances"] = np.zeros_like(start["covariances"])
    start["reg_covar"] = 0.0
    with pytest.raises(ValueError, match="reg_covar"):
        em_with_missing(X_missing, **start)


def test_kpod_recovers_blobs():
    X, X_missing, y = _blobs()
    result = kmeans_with_missing(X_missing, 3, random_state=np.random.RandomState(0))
    assert adjusted_rand_score(y, result.labels) > 0.95
    missing = np.isnan(X_missing)
    assert_array_equal(result.X_filled[~missing], X[~missing])
    assert_array_equal(
        result.X_filled[missing], result.centers[result.labels][missing]
    )
    # Filled from the clusters, the missing entries are nearer the truth than
    # the feature means are.
    mean_error = np.abs(np.nanmean(X_missing, axis=0) - X)[missing].mean()
    assert np.abs(result.X_filled - X)[missing].mean() < 0.6 * mean_error


@pytest.mark.parametrize("weighted", [False, True])
def test_kpod_without_missing_values_is_kmeans_start(weighted):
    X, _, _ = _blobs()
    sample_weight = (
        np.random.RandomState(4).uniform(0.5, 2.0, len(X)) if weighted else None
    )
    options = dict(n_init=2, max_iter=50, tol=1e-5, sample_weight=sample_weight)
    centers, labels = kmeans_start(
        X, 3, random_state=np.random.RandomState(5), **options
    )
    result = kmeans_with_missing(X, 3, random_state=np.random.RandomState(5), **options)
    assert_array_equal(result.centers, centers)
    assert_array_equal(result.labels, labels)
    assert_array_equal(result.X_filled, X)


def test_kpod_weighted_feature_means_start():
    # One observed value per feature in the heavy rows: the first fill is
    # the weighted mean, so heavy rows pull the missing entries towards them.
    X = np.array([[0.0, np.nan], [10.0, 1.0], [np.nan, 2.0], [0.5, 0.5]])
    # The fill is the estimator's standardising mean over observed entries.
    means, _ = mean_and_std(X, np.array([1.0, 3.0, 1.0, 0.0]))
    assert_allclose(means, [7.5, 1.25])
    assert_allclose(mean_and_std(X)[0], [3.5, 7 / 6])


def test_kpod_rounds_lower_the_observed_loss():
    X, X_missing, _ = _blobs(missing=0.4, seed=1)
    observed = ~np.isnan(X_missing)

    def loss(result):
        residuals = np.where(observed, X_missing - result.centers[result.labels], 0.0)
        return np.sum(residuals**2)

    losses = [
        loss(kmeans_with_missing(
            X_missing, 3, random_state=np.random.RandomState(0), n_rounds=n_rounds
        ))
        for n_rounds in (1, 2, 10)
    ]
    assert losses[0] >= losses[1] >= losses[2]
    assert losses[2] < losses[0]
