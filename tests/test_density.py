"""Exact tests of the chunked NumPy densities against scikit-learn's GaussianMixture.

(The precision Cholesky factors the draws carry are tested in test_covariance.py.)
"""

import numpy as np
import pytest
from conftest import random_covariances
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

from skbayesmix import _compiled_density, _density, _threadpool
from skbayesmix._covariance import COVARIANCE_TYPES, precision_cholesky
from skbayesmix._density import (
    MixtureDraws,
    draw_summaries,
    log_predictive_density,
    pointwise_log_likelihood,
    posterior_memberships,
    predictive_memberships,
)

N_COMPONENTS, N_FEATURES = 3, 2


def _random_covariances(rng, covariance_type, n_draws=None):
    lead = () if n_draws is None else (n_draws,)
    return random_covariances(rng, covariance_type, N_COMPONENTS, N_FEATURES, lead)


def _random_draws(rng, covariance_type, n_draws):
    weights = rng.dirichlet(np.ones(N_COMPONENTS), size=n_draws)
    means = 3 * rng.standard_normal((n_draws, N_COMPONENTS, N_FEATURES))
    covariances = _random_covariances(rng, covariance_type, n_draws)
    draws = MixtureDraws(
        weights=weights,
        means=means,
        precisions_cholesky=precision_cholesky(covariances, covariance_type),
        covariance_type=covariance_type,
    )
    return draws, covariances


def _sklearn_mixture(draws, covariances, s):
    """A GaussianMixture holding draw ``s`` as its fitted parameters."""
    gm = GaussianMixture(
        n_components=N_COMPONENTS, covariance_type=draws.covariance_type
    )
    gm.weights_ = draws.weights[s]
    gm.means_ = draws.means[s]
    gm.covariances_ = covariances[s]
    gm.precisions_cholesky_ = _compute_precision_cholesky(
        covariances[s], draws.covariance_type
    )
    gm.n_features_in_ = N_FEATURES
    return gm


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_single_draw_matches_sklearn(covariance_type):
    rng = np.random.RandomState(3)
    draws, covariances = _random_draws(rng, covariance_type, n_draws=1)
    X = 3 * rng.standard_normal((50, N_FEATURES))
    gm = _sklearn_mixture(draws, covariances, 0)
    assert_allclose(log_predictive_density(X, draws), gm.score_samples(X), rtol=1e-10)
    assert_allclose(posterior_memberships(X, draws), gm.predict_proba(X), atol=1e-12)
    assert_allclose(
        pointwise_log_likelihood(X, draws)[0], gm.score_samples(X), rtol=1e-10
    )
    total, counts, log_density, memberships = draw_summaries(X, draws)
    assert_allclose(total[0], gm.score_samples(X).sum(), rtol=1e-10)
    assert_allclose(counts[0], gm.predict_proba(X).sum(axis=0), rtol=1e-10)
    assert_allclose(log_density, gm.score_samples(X), rtol=1e-10)
    assert_allclose(memberships, gm.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_many_draws_are_posterior_averages(covariance_type):
    rng = np.random.RandomState(4)
    n_draws = 5
    draws, covariances = _random_draws(rng, covariance_type, n_draws)
    X = 3 * rng.standard_normal((40, N_FEATURES))
    per_draw = np.stack(
        [
            _sklearn_mixture(draws, covariances, s).score_samples(X)
            for s in range(n_draws)
        ]
    )
    proba = np.mean(
        [
            _sklearn_mixture(draws, covariances, s).predict_proba(X)
            for s in range(n_draws)
        ],
        axis=0,
    )
    assert_allclose(pointwise_log_likelihood(X, draws), per_draw, rtol=1e-10)
    assert_allclose(
        log_predictive_density(X, draws),
        logsumexp(per_draw, axis=0) - np.log(n_draws),
        rtol=1e-10,
    )
    assert_allclose(posterior_memberships(X, draws), proba, atol=1e-12)
    assert_allclose(posterior_memberships(X, draws).sum(axis=1), 1.0, rtol=1e-12)
    # The fit's single pass gives the same per-row summaries.
    summaries = draw_summaries(X, draws)
    assert_allclose(summaries.log_predictive_density, log_predictive_density(X, draws))
    assert_allclose(summaries.memberships, proba, atol=1e-12)
    assert_allclose(summaries.total_log_likelihood, per_draw.sum(axis=1), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("max_elements", [1, 30])
def test_chunking_does_not_change_results(covariance_type, max_elements):
    # Tiny budgets force one draw and one or a few rows per block.
    rng = np.random.RandomState(5)
    draws, _ = _random_draws(rng, covariance_type, n_draws=4)
    X = 3 * rng.standard_normal((9, N_FEATURES))
    for function in (
        posterior_memberships,
        log_predictive_density,
        pointwise_log_likelihood,
    ):
        assert_allclose(
            function(X, draws, max_elements=max_elements),
            function(X, draws),
            rtol=1e-12,
            atol=1e-12,
        )
    for chunked, whole in zip(
        draw_summaries(X, draws, max_elements=max_elements), draw_summaries(X, draws)
    ):
        assert_allclose(chunked, whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_threads", [2, 3])
def test_row_ranges_in_threads_give_one_threads_results(monkeypatch, n_threads):
    rng = np.random.RandomState(6)
    draws, _ = _random_draws(rng, "full", n_draws=7)
    X = 3 * rng.standard_normal((50, N_FEATURES))
    functions = (
        posterior_memberships,
        predictive_memberships,
        log_predictive_density,
        pointwise_log_likelihood,
        draw_summaries,
    )
    one_thread = [function(X, draws, max_elements=90) for function in functions]
    monkeypatch.setattr(_density, "MIN_THREADED_WORK", 0)
    monkeypatch.setattr(_density, "usable_cores", lambda: n_threads)
    started = []
    real_executor = _threadpool.ThreadPoolExecutor

    def counting_executor(workers):
        started.append(workers)
        return real_executor(workers)

    monkeypatch.setattr(_threadpool, "ThreadPoolExecutor", counting_executor)
    for function, expected in zip(functions, one_thread):
        result = function(X, draws, max_elements=90)
        for got, want in zip(
            result if isinstance(result, tuple) else [result],
            expected if isinstance(expected, tuple) else [expected],
        ):
            assert got.shape == want.shape
            assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert started == [n_threads] * len(functions)


def test_empty_component_has_zero_membership():
    # A zero weight (an emptied component) must not produce NaN.
    rng = np.random.RandomState(6)
    draws, _ = _random_draws(rng, "diag", n_draws=2)
    weights = draws.weights.copy()
    weights[:, 0] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    draws = draws._replace(weights=weights)
    X = rng.standard_normal((10, N_FEATURES))
    proba = posterior_memberships(X, draws)
    assert np.all(np.isfinite(proba))
    assert_allclose(proba[:, 0], 0.0, atol=0)
    assert np.all(np.isfinite(log_predictive_density(X, draws)))


def test_far_outliers_stay_finite():
    # Rows far from every component underflow in the density, not in the log.
    rng = np.random.RandomState(7)
    draws, _ = _random_draws(rng, "full", n_draws=3)
    X = np.array([[1e4, -1e4], [0.0, 0.0]])
    log_density = log_predictive_density(X, draws)
    assert np.all(np.isfinite(log_density))
    assert log_density[0] < -1e5
    assert_allclose(posterior_memberships(X, draws).sum(axis=1), 1.0, rtol=1e-12)


# ------------------------------------------------ the compiled predictive path


def _compiled_and_numpy(monkeypatch, function, X, draws):
    """``function`` through the NumPy loop and through the compiled program."""
    in_numpy = function(X, draws)
    monkeypatch.setattr(_density, "MIN_COMPILED_WORK", 0)
    compiled = function(X, draws)
    monkeypatch.undo()
    return compiled, in_numpy


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_compiled_predictive_equals_numpy(monkeypatch, covariance_type):
    # Draws of unequal averaging weight, more draws and rows than one compiled
    # call takes (both padded), a
    # component with weight zero in some draws and a far outlier.
    rng = np.random.RandomState(8)
    n_draws = _compiled_density.DRAW_BLOCK + 7
    draws, _ = _random_draws(rng, covariance_type, n_draws=n_draws)
    weights = draws.weights.copy()
    weights[::3, 1] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    draws = draws._replace(
        weights=weights, draw_weights=rng.dirichlet(np.ones(n_draws))
    )
    n_rows = _compiled_density.ROW_BLOCK * _compiled_density.ROW_BLOCKS_PER_CALL + 5
    X = 4 * rng.standard_normal((n_rows, N_FEATURES))
    X[0] = [1e4, -1e4]
    for function in (predictive_memberships, log_predictive_density):
        compiled, in_numpy = _compiled_and_numpy(monkeypatch, function, X, draws)
        assert compiled.dtype == np.float64
        assert_allclose(compiled, in_numpy, rtol=1e-12, atol=1e-12)


def test_compiled_predictive_in_several_calls_over_draws(monkeypatch):
    # More draws than one compiled call takes: the running sums carry over.
    monkeypatch.setattr(_compiled_density, "DRAW_BLOCK", 8)
    rng = np.random.RandomState(9)
    draws, _ = _random_draws(rng, "full", n_draws=21)
    X = 3 * rng.standard_normal((40, N_FEATURES))
    assert _compiled_density._draws_per_call(21, N_COMPONENTS, 6) == 8
    compiled = _compiled_density.predictive_log_joint(
        X, draws._replace(draw_weights=np.full(21, 1 / 21))
    )
    assert_allclose(compiled, _density._numpy_predictive_log_joint(X, draws),
                    rtol=1e-12, atol=1e-12)


def test_compiled_predictive_memory_is_bounded_by_the_coefficient_budget():
    # Draws per call: a power of two, the coefficients of one call within
    # MAX_COEFFICIENTS however many features (D=64 'full': 2,145 per draw).
    per_call = _compiled_density._draws_per_call
    budget = _compiled_density.MAX_COEFFICIENTS
    assert per_call(2000, 8, 6) == _compiled_density.DRAW_BLOCK
    assert per_call(3, 8, 6) == 4
    for n_components, n_coefficients in [(10, 2145), (8, 496), (50, 2145)]:
        draws = per_call(2000, n_components, n_coefficients)
        assert draws & (draws - 1) == 0
        assert n_components * draws * n_coefficients <= budget
        assert n_components * 2 * draws * n_coefficients > budget
    assert per_call(2000, 1000, 10**5) == 1


def test_compiled_predictive_keeps_precision_of_narrow_components(monkeypatch):
    # Components a million times narrower than their distance from the origin:
    # the quadratic expansion is taken about each component's centre, so the
    # log densities near it keep their digits.
    rng = np.random.RandomState(10)
    n_draws = 30
    centres = np.array([[1e3, -2e3], [1e3 + 1e-2, -2e3], [-5e2, 7e2]])
    means = centres + 1e-5 * rng.standard_normal((n_draws, N_COMPONENTS, N_FEATURES))
    covariances = np.broadcast_to(
        np.diag([1e-6, 4e-6]), (n_draws, N_COMPONENTS, N_FEATURES, N_FEATURES)
    )
    draws = MixtureDraws(
        weights=rng.dirichlet(np.ones(N_COMPONENTS), size=n_draws),
        means=means,
        precisions_cholesky=precision_cholesky(covariances, "full"),
        covariance_type="full",
    )
    X = centres[rng.randint(N_COMPONENTS, size=200)] + 1e-3 * rng.standard_normal(
        (200, N_FEATURES)
    )
    for function in (predictive_memberships, log_predictive_density):
        compiled, in_numpy = _compiled_and_numpy(monkeypatch, function, X, draws)
        assert_allclose(compiled, in_numpy, rtol=1e-9, atol=1e-9)


def test_compiled_predictive_leaves_jax_in_float32():
    # float64 is a thread-local setting of the compiled path only.
    import jax
    import jax.numpy as jnp

    rng = np.random.RandomState(11)
    draws, _ = _random_draws(rng, "diag", n_draws=5)
    _compiled_density.predictive_log_joint(
        rng.standard_normal((10, N_FEATURES)),
        draws._replace(draw_weights=np.full(5, 0.2)),
    )
    assert not jax.config.jax_enable_x64
    assert jnp.zeros(1).dtype == jnp.float32


def test_compiled_predictive_when_later_draws_dwarf_the_running_total(monkeypatch):
    # Later calls shift their terms by the running total; a far row whose
    # terms grow by more than exp's range (here from about -5e4 to -2e2)
    # overflows that shift and must be summed again from the block's maximum.
    monkeypatch.setattr(_compiled_density, "DRAW_BLOCK", 2)
    rng = np.random.RandomState(12)
    n_draws = 6
    covariances = np.empty((n_draws, N_COMPONENTS, N_FEATURES))
    covariances[:2] = 1e-2
    covariances[2:] = 4.0
    draws = MixtureDraws(
        weights=rng.dirichlet(np.ones(N_COMPONENTS), size=n_draws),
        means=0.1 * rng.standard_normal((n_draws, N_COMPONENTS, N_FEATURES)),
        precisions_cholesky=precision_cholesky(covariances, "diag"),
        covariance_type="diag",
    )
    X = np.array([[30.0, -20.0], [0.0, 0.1], [-25.0, 5.0]])
    compiled = _compiled_density.predictive_log_joint(
        X, draws._replace(draw_weights=np.full(n_draws, 1 / n_draws))
    )
    in_numpy = _density._numpy_predictive_log_joint(X, draws)
    assert in_numpy[0].max() > -300
    assert_allclose(compiled, in_numpy, rtol=1e-12, atol=1e-12)
