"""Missing values in the NumPyro model: the exact marginal likelihood of the observed
coordinates, its gradient, and the sampler's plumbing (skbayesmix._model,
skbayesmix._inference)."""

import functools

import numpy as np
import pytest
from conftest import kmeans_problem, model_hyper
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import make_blobs

from skbayesmix._initialization import (
    initial_values,
    jittered_chain_values,
    kmeans_start,
)
from skbayesmix._prior import padded_hyperparameters

jax = pytest.importorskip("jax")
jnp = jax.numpy

from numpyro import handlers  # noqa: E402
from numpyro.infer.util import potential_energy, unconstrain_fn  # noqa: E402

from skbayesmix import _inference  # noqa: E402
from skbayesmix._model import ROW_BLOCK, gmm_model, missing_inputs  # noqa: E402
from skbayesmix._sites import init_sites, pad_sites, to_mixture  # noqa: E402

N_REAL, N_SAMPLED = 3, 4


def _problem(covariance_type, covariance_prior, n_samples=90, seed=0):
    """Standardised data with NaN, row weights, hyper-parameters and sites.

    With 'wishart' the model runs N_SAMPLED components, N_REAL of them real.
    """
    n_sampled = N_SAMPLED if covariance_prior == "wishart" else N_REAL
    X, _ = make_blobs(
        n_samples=n_samples, n_features=3, centers=N_REAL, random_state=seed
    )
    X = (X - X.mean(0)) / X.std(0)
    rng = np.random.RandomState(seed)
    centers, labels = kmeans_start(X, N_REAL, random_state=rng)
    start = initial_values(X, centers, labels, covariance_type=covariance_type)
    chains = jittered_chain_values(
        start, covariance_type=covariance_type, num_chains=1, random_state=rng
    )
    prior = model_hyper(centers, covariance_type=covariance_type)
    sites = init_sites(
        jax.tree.map(lambda a: a[0], chains), prior,
        weight_parameterization="simplex", covariance_type=covariance_type,
        covariance_prior=covariance_prior, n_samples=len(X),
        empty=np.zeros(N_REAL, bool),
    )
    sites = pad_sites(
        jax.tree.map(lambda a: a[None], sites), n_sampled,
        covariance_type=covariance_type, covariance_prior=covariance_prior,
    )
    sites = jax.tree.map(lambda a: jnp.asarray(a[0], jnp.float32), sites)
    hyper = {
        name: jnp.asarray(value, jnp.float32)
        for name, value in padded_hyperparameters(prior, n_sampled).items()
    }
    missing = rng.rand(*X.shape) < 0.25
    missing[0] = [True, False, False]
    missing[1] = [False, True, True]
    missing[2] = True  # no observed coordinate: contributes 0
    missing[3] = False
    X[missing] = np.nan
    weights = rng.uniform(0.5, 2.0, len(X))
    weights[-5:] = 0.0
    return X, weights, hyper, sites


def _model(covariance_type, covariance_prior):
    n_sampled = N_SAMPLED if covariance_prior == "wishart" else N_REAL
    return functools.partial(
        gmm_model, n_components=n_sampled, covariance_type=covariance_type,
        covariance_prior=covariance_prior,
    )


def _traced(model, args, sites):
    trace = handlers.trace(handlers.substitute(model, data=sites)).get_trace(*args)
    values = {
        name: np.asarray(site["value"], np.float64)
        for name, site in trace.items() if site["type"] in ("sample", "deterministic")
    }
    return values, float(trace["obs"]["fn"].log_factor)


def _scipy_log_likelihood(X, weights, mixture, covariance_type):
    """sum_i weight_i log sum_k w_k N(x_io | mu_ko, Sigma_k,oo), SciPy in float64."""
    mixture_weights, means, covariances = mixture
    n_features = X.shape[1]
    if covariance_type == "tied":
        covariances = np.broadcast_to(covariances, (N_REAL, n_features, n_features))
    elif covariance_type == "diag":
        covariances = np.stack([np.diag(c) for c in covariances])
    elif covariance_type == "spherical":
        covariances = np.stack([c * np.eye(n_features) for c in covariances])
    total = 0.0
    for x, weight in zip(X, weights):
        o = ~np.isnan(x)
        if weight == 0 or not o.any():
            continue
        log_prob = [
            np.log(w) + multivariate_normal(m[o], c[np.ix_(o, o)]).logpdf(x[o])
            for w, m, c in zip(mixture_weights, means, covariances)
        ]
        total += weight * logsumexp(log_prob)
    return total


CASES = [
    ("full", "wishart"), ("tied", "wishart"), ("diag", "wishart"),
    ("spherical", "wishart"), ("full", "lkj"), ("tied", "lkj"), ("diag", "lkj"),
    ("spherical", "lkj"),
]


@pytest.mark.parametrize("covariance_type, covariance_prior", CASES)
def test_missing_likelihood_is_the_observed_marginal(covariance_type, covariance_prior):
    X, weights, hyper, sites = _problem(covariance_type, covariance_prior)
    X_filled, missing = missing_inputs(X, covariance_type)
    args = (jnp.asarray(X_filled, jnp.float32), jnp.asarray(weights, jnp.float32),
            hyper, jax.tree.map(jnp.asarray, missing))
    values, log_likelihood = _traced(
        _model(covariance_type, covariance_prior), args, sites
    )
    # The real components' mixture (the Wishart factors' covariances carry no
    # reg_covar in the likelihood).
    per_component = ["weights", "means"]
    if covariance_type != "tied":
        per_component += ["precision_log_diagonal", "precision_off_diagonal",
                          "scales", "corr_cholesky"]
    values = {name: value[:N_REAL] if name in per_component else value
              for name, value in values.items()}
    mixture = to_mixture(
        values, covariance_type=covariance_type,
        reg_covar=0.0 if covariance_prior == "wishart" else 1e-6,
        component_root=np.eye(X.shape[1]),
    )
    assert mixture[0].sum() == pytest.approx(1.0, rel=1e-5)
    expected = _scipy_log_likelihood(X, weights, mixture, covariance_type)
    np.testing.assert_allclose(log_likelihood, expected, rtol=2e-5)
    # Complete rows: the missing-data likelihood is the complete-data one.
    complete = ~np.isnan(X).any(axis=1)
    assert 10 < complete.sum() < len(X)
    complete_X = jnp.asarray(X[complete], jnp.float32)
    complete_weights = jnp.asarray(weights[complete], jnp.float32)
    model = _model(covariance_type, covariance_prior)
    _, as_complete = _traced(model, (complete_X, complete_weights, hyper), sites)
    _, as_missing = _traced(model, (
        complete_X, complete_weights, hyper,
        missing_inputs(X[complete], covariance_type)[1],
    ), sites)
    np.testing.assert_allclose(as_missing, as_complete, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_missing_likelihood_in_row_blocks(covariance_type):
    # More than 2 * ROW_BLOCK rows: the likelihood runs block by block.
    X, weights, hyper, sites = _problem(covariance_type, "wishart")
    n_rows = 3 * ROW_BLOCK
    rows = np.arange(n_rows) % len(X)
    X_filled, missing = missing_inputs(X[rows], covariance_type)
    model = _model(covariance_type, "wishart")
    _, blocked = _traced(model, (
        jnp.asarray(X_filled, jnp.float32), jnp.asarray(weights[rows], jnp.float32),
        hyper, missing,
    ), sites)
    X_filled, missing = missing_inputs(X, covariance_type)
    _, once = _traced(model, (
        jnp.asarray(X_filled, jnp.float32), jnp.asarray(weights, jnp.float32),
        hyper, missing,
    ), sites)
    counts = np.bincount(rows, minlength=len(X))
    assert counts.min() != counts.max()
    # The same rows, repeated: compare with the rows weighted by their counts.
    _, weighted = _traced(model, (
        jnp.asarray(X_filled, jnp.float32),
        jnp.asarray(weights * counts, jnp.float32), hyper, missing,
    ), sites)
    np.testing.assert_allclose(blocked, weighted, rtol=1e-5)
    assert abs(blocked) > 10 * abs(once)


def test_missing_patterns_padded_to_a_power_of_two():
    X = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 1.0], [0.0, 1.0, 2.0],
                  [3.0, np.nan, 0.5], [np.nan, 0.0, np.nan]])
    X_filled, missing = missing_inputs(X, "full")
    assert not np.isnan(X_filled).any()
    np.testing.assert_array_equal(X_filled[np.isnan(X)], 0.0)
    patterns, pattern = missing["patterns"], missing["pattern"]
    assert patterns.shape == (4, 3) and pattern.dtype == np.int32
    np.testing.assert_array_equal(patterns[pattern], ~np.isnan(X))
    _, diagonal = missing_inputs(X, "diag")
    np.testing.assert_array_equal(diagonal["observed"], ~np.isnan(X))


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_missing_gradient_is_finite(covariance_type):
    X, weights, hyper, sites = _problem(covariance_type, "wishart")
    X_filled, missing = missing_inputs(X, covariance_type)
    model = _model(covariance_type, "wishart")
    gradient = jax.jit(jax.grad(
        lambda z, args: potential_energy(model, args, {}, z)
    ))
    for data in (X_filled, X):  # NaN given to the model directly: zeroed there too
        args = (jnp.asarray(data, jnp.float32), jnp.asarray(weights, jnp.float32),
                hyper, missing)
        z = unconstrain_fn(model, args, {}, sites)
        grad = gradient(z, args)
        for name, value in grad.items():
            assert np.all(np.isfinite(value)), name
        assert any(np.abs(value).max() > 0 for value in grad.values())


def test_sampler_runs_on_data_with_missing_values():
    X, centers, start, rng = kmeans_problem(80, 2, "full")
    X = X.copy()
    X[rng.rand(*X.shape) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    chains = jittered_chain_values(
        start, covariance_type="full", num_chains=2, random_state=rng
    )
    settings = _inference.SamplerSettings(10, 10, 2, "sequential", 0.8, 5, False)
    sampler = _inference.ChainSampler(
        X, chains, empty=np.zeros(2, bool), prior=model_hyper(centers),
        structure=_inference.ModelStructure(4, "full", "simplex", "wishart"),
        settings=settings, seed=0,
    )
    assert len(sampler._data) == 4 and not np.isnan(sampler._data[0]).any()
    sampler.run()
    weights, means, covariances = sampler.result().mixture
    assert means.shape == (2, 10, 2, 2)
    for draws in (weights, means, covariances):
        assert np.all(np.isfinite(draws))
    assert np.ptp(means[0], axis=0).max() > 0
