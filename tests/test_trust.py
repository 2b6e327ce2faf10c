"""What issue 12 promises users on real data: non-degenerate priors, BIC at the
fit-time maximum, exact predictive memberships, honest chain diagnostics."""

import tracemalloc
import warnings

import numpy as np
import pytest
from conftest import FAST
from numpy.testing import assert_allclose
from scipy.stats import multivariate_normal
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from skbayesmix import BayesianGMM, _density
from skbayesmix._covariance import correlate_noise
from skbayesmix._diagnostics import n_effective_components


def _fit(estimator, X):
    with warnings.catch_warnings():  # main thread only: a test, not the library
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


@pytest.fixture(scope="module")
def blobs_fit():
    X, _ = make_blobs(
        n_samples=300, centers=[[-6.0, 0.0], [6.0, 0.0], [0.0, 9.0]],
        cluster_std=[1.0, 1.5, 0.7], random_state=0,
    )
    return X, _fit(BayesianGMM(n_components=3, **FAST), X)


@pytest.mark.parametrize("compiled", [False, True])
def test_predict_proba_is_the_posterior_predictive_membership(
    blobs_fit, compiled, monkeypatch
):
    # Small inputs run in NumPy, large ones in a compiled program: both exact.
    if compiled:
        monkeypatch.setattr(_density, "MIN_COMPILED_WORK", 0)
    X, gmm = blobs_fit
    assert gmm.diagnostics_["n_modes"] == 1
    grid = np.random.RandomState(0).uniform(-10, 12, size=(200, 2))
    samples = gmm.posterior_samples_
    weights = samples["weights"].reshape(-1, 3)
    means = samples["means"].reshape(-1, 3, 2)
    covariances = samples["covariances"].reshape(-1, 3, 2, 2)
    joint = np.zeros((len(grid), 3))
    for s in range(len(weights)):
        for k in range(3):
            joint[:, k] += weights[s, k] * multivariate_normal(
                means[s, k], covariances[s, k]
            ).pdf(grid)
    expected = joint / joint.sum(axis=1, keepdims=True)
    assert_allclose(gmm.predict_proba(grid), expected, atol=1e-6)
    assert np.array_equal(gmm.predict(grid), expected.argmax(axis=1))
    # score_samples is the same predictive density.
    assert_allclose(
        gmm.score_samples(grid), np.log(joint.sum(axis=1) / len(weights)),
        rtol=1e-6,
    )


def test_held_out_bic_is_additive_over_disjoint_sets(blobs_fit):
    X, gmm = blobs_fit
    A, B = X[::2], X[1::2]
    p = gmm._n_parameters()

    def deviance(data):  # -2 log L at the fit-time maximum
        return gmm.bic(data) - p * np.log(len(data))

    assert_allclose(deviance(X), deviance(A) + deviance(B), rtol=1e-10)
    assert_allclose(gmm.aic(A) - 2 * p, deviance(A), rtol=1e-10)


def test_iris_components_do_not_collapse_onto_rounded_values():
    # Iris is rounded to 0.1 cm; with the half-Cauchy/LKJ prior a K=4
    # component collapsed onto tied values (BIC 435.6 against EM's 622.2).
    X = load_iris().data
    gmm = _fit(
        BayesianGMM(n_components=4, num_warmup=150, num_samples=150,
                    random_state=0),
        X,
    )
    em = GaussianMixture(4, n_init=10, random_state=0).fit(X)
    assert abs(gmm.bic(X) - em.bic(X)) / em.bic(X) < 0.02
    # Every covariance keeps a smallest variance of the data's own order: a
    # rounding step of 0.1 cm has variance 0.1**2 / 12 = 8e-4.
    smallest = np.linalg.eigvalsh(gmm.covariances_).min()
    assert smallest > 8e-4


def test_reg_covar_is_in_data_units(blobs_fit):
    X, gmm = blobs_fit
    big = _fit(BayesianGMM(n_components=3, reg_covar=4.0, **FAST), X)
    # Every covariance draw includes 4 on its diagonal, in data units.
    variances = np.diagonal(big.posterior_samples_["covariances"], axis1=-2, axis2=-1)
    assert variances.min() > 4.0


def test_sample_does_not_copy_every_components_matrix():
    rng = np.random.RandomState(0)
    n_draws, n_components, n_features, n_samples = 2, 50, 10, 2000
    covariances = np.broadcast_to(
        np.eye(n_features), (n_draws, n_components, n_features, n_features)
    ).copy()
    draw_index = rng.randint(n_draws, size=n_samples)
    labels = rng.randint(n_components, size=n_samples)
    noise = rng.standard_normal((n_samples, n_features))
    tracemalloc.start()
    out = correlate_noise(covariances, draw_index, labels, noise, "full")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert_allclose(out, noise)
    # (n_samples, K, D, D) float64 would be 80 MB; one matrix per row is 1.6 MB.
    assert peak < 10e6


def test_n_effective_components_rounds_half_up():
    # Two draws with 2 and 3 occupied components: the median 2.5 is 3, not
    # NumPy's round-half-to-even 2.
    counts = np.array([[10.0, 10.0, 0.0, 0.0], [10.0, 10.0, 5.0, 0.0]])
    per_draw, median = n_effective_components(counts)
    assert per_draw.tolist() == [2, 3]
    assert median == 3
