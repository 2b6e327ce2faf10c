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
from skbayesmix import _model as model_module  # noqa: E402
from skbayesmix._model import gmm_model, missing_inputs  # noqa: E402
from skbayesmix._sites import init_sites, pad_sites, to_mixture  # noqa: E402

N_REAL, N_SAMPLED = 3, 4


def _problem(covariance_type, covariance_prior, n_samples=90, seed=0,
             n_features=3):
    """Standardised data with NaN, row weights, hyper-parameters and sites.

    With 'wishart' the model runs N_SAMPLED components, N_REAL of them real.
    With more than 3 features, row i misses i % n_features coordinates.
    """
    n_sampled = N_SAMPLED if covariance_prior == "wishart" else N_REAL
    X, _ = make_blobs(
        n_samples=n_samples, n_features=n_features, centers=N_REAL,
        random_state=seed,
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
    if n_features == 3:
        missing = rng.rand(*X.shape) < 0.25
        missing[0] = [True, False, False]
        missing[1] = [False, True, True]
        missing[2] = True  # no observed coordinate: contributes 0
        missing[3] = False
    else:
        order = np.argsort(rng.rand(*X.shape), axis=1)
        missing = order < (np.arange(n_samples) % n_features)[:, None]
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


def _inputs(X, weights, covariance_type):
    """The model's (X, mask, missing) from data with NaN, in the model's row order."""
    X_filled, mask, missing = missing_inputs(X, weights, covariance_type)
    return (jnp.asarray(X_filled, jnp.float32), jnp.asarray(mask, jnp.float32),
            jax.tree.map(jnp.asarray, missing))


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
    X_filled, mask, missing = _inputs(X, weights, covariance_type)
    args = (X_filled, mask, hyper, missing)
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
    X_filled, mask, missing = _inputs(X[complete], weights[complete], covariance_type)
    _, as_missing = _traced(model, (X_filled, mask, hyper, missing), sites)
    np.testing.assert_allclose(as_missing, as_complete, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_missing_likelihood_with_many_missing_coordinates(covariance_type):
    # Rows missing 0 to 8 of 9 coordinates: the unrolled factorisations (up to
    # MAX_UNROLLED_MISSING) and the LAPACK ones above.
    assert model_module.MAX_UNROLLED_MISSING < 8
    X, weights, hyper, sites = _problem(
        covariance_type, "wishart", n_samples=72, n_features=9
    )
    X_filled, mask, missing = _inputs(X, weights, covariance_type)
    values, log_likelihood = _traced(
        _model(covariance_type, "wishart"), (X_filled, mask, hyper, missing), sites
    )
    per_component = ["weights", "means"]
    if covariance_type == "full":
        per_component += ["precision_log_diagonal", "precision_off_diagonal"]
    values = {name: value[:N_REAL] if name in per_component else value
              for name, value in values.items()}
    mixture = to_mixture(
        values, covariance_type=covariance_type, reg_covar=0.0,
        component_root=np.eye(X.shape[1]),
    )
    expected = _scipy_log_likelihood(X, weights, mixture, covariance_type)
    np.testing.assert_allclose(log_likelihood, expected, rtol=2e-5)


def _reference_full_log_likelihood(X, mask, log_weights, maps, missing, tied,
                                   observed):
    """The marginal log-likelihood written directly: N(x_o | mu_o, Sigma_oo) of
    each row, from the inverted precisions, with Sigma_oo as the D x D matrix
    diag(o) Sigma diag(o) + diag(1 - o)."""
    del missing, tied
    projection, _, _, flat_means = maps
    n_features = X.shape[1]
    n_components = log_weights.shape[0]
    factors = projection.reshape(n_features, n_components, n_features)
    covariances = jnp.linalg.inv(jnp.einsum("dki,eki->kde", factors, factors))
    means = flat_means.reshape(n_components, n_features)
    o = jnp.asarray(observed, X.dtype)[:, None, :]  # (rows, 1, D)
    blocks = (o[..., :, None] * covariances * o[..., None, :]
              + jnp.eye(n_features) * (1 - o[..., :, None]))  # (rows, K, D, D)
    residuals = o * (X[:, None, :] - means)
    cholesky = jnp.linalg.cholesky(blocks)
    whitened = jax.scipy.linalg.solve_triangular(
        cholesky, residuals[..., None], lower=True
    )[..., 0]
    log_prob = log_weights - 0.5 * (
        jnp.sum(whitened**2, axis=-1)
        + 2 * jnp.sum(jnp.log(jnp.diagonal(cholesky, axis1=-2, axis2=-1)), axis=-1)
        + jnp.sum(o, axis=-1) * jnp.log(2 * jnp.pi)
    )
    has_observed = observed.any(axis=1)
    log_lik = jnp.where(has_observed, jax.scipy.special.logsumexp(log_prob, axis=1), 0)
    return jnp.sum(jnp.where(mask > 0, mask * log_lik, 0.0))


@pytest.mark.parametrize("covariance_type, n_features", [
    ("full", 3), ("tied", 3), ("full", 9), ("tied", 9),
])
def test_missing_gradient_is_the_observed_marginals(covariance_type, n_features,
                                                    monkeypatch):
    # The likelihood differentiates only log det P_mm and the rows completed by
    # their conditional means (held constant); its gradient must still be the
    # exact marginal's, with 0 to n_features - 1 missing coordinates per row.
    X, weights, hyper, sites = _problem(
        covariance_type, "wishart", n_samples=72, n_features=n_features
    )
    X_filled, mask, missing = _inputs(X, weights, covariance_type)
    order = missing_inputs(X, np.arange(len(X)), covariance_type)[1].astype(int)
    model = _model(covariance_type, "wishart")
    args = (X_filled, mask, hyper, missing)
    z = unconstrain_fn(model, args, {}, sites)

    def gradient():
        return jax.jit(jax.grad(lambda z: potential_energy(model, args, {}, z)))(z)

    computed = gradient()
    monkeypatch.setattr(
        model_module, "_marginal_full_log_likelihood", functools.partial(
            _reference_full_log_likelihood, observed=~np.isnan(X[order])
        ),
    )
    expected = gradient()
    assert sorted(computed) == sorted(expected) and len(expected) >= 3
    for name, value in expected.items():
        scale = np.abs(value).max()
        assert scale > 0.1, name
        np.testing.assert_allclose(
            computed[name], value, rtol=1e-3, atol=1e-4 * scale, err_msg=name
        )


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_missing_likelihood_in_row_blocks(covariance_type, monkeypatch):
    # More than 2 * ROW_BLOCK rows, complete and incomplete: the likelihood
    # runs block by block, and the rows after the last whole block as one more.
    monkeypatch.setattr(model_module, "ROW_BLOCK", 16)
    monkeypatch.setattr(model_module, "MISSING_BLOCK_SIZE", 16)
    X, weights, hyper, sites = _problem(covariance_type, "wishart")
    n_rows = 300
    rows = np.arange(n_rows) % len(X)
    n_missing = np.isnan(X[rows]).sum(axis=1)
    assert (n_missing == 0).sum() > 2 * 16 + 7 and (n_missing > 0).sum() > 2 * 16 + 7
    model = _model(covariance_type, "wishart")

    def log_likelihood(X, weights):
        X_filled, mask, missing = _inputs(X, weights, covariance_type)
        return _traced(model, (X_filled, mask, hyper, missing), sites)[1]

    blocked = log_likelihood(X[rows], weights[rows])
    once = log_likelihood(X, weights)
    counts = np.bincount(rows, minlength=len(X))
    assert counts.min() != counts.max()
    # The same rows, repeated: compare with the rows weighted by their counts.
    weighted = log_likelihood(X, weights * counts)
    np.testing.assert_allclose(blocked, weighted, rtol=1e-5)
    assert abs(blocked) > 2 * abs(once)


def test_missing_inputs_group_rows_by_missing_coordinates():
    X = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 1.0], [0.0, 1.0, 2.0],
                  [3.0, np.nan, 0.5], [np.nan, 0.0, np.nan], [np.nan, 2.0, 1.0],
                  [5.0, np.nan, 1.5]])
    weights = np.arange(1.0, 8.0)
    X_filled, mask, missing = missing_inputs(X, weights, "full")
    assert not np.isnan(X_filled).any()
    # Complete rows first, then one coordinate missing (by pattern), then two.
    order = (mask - 1).astype(int)
    np.testing.assert_array_equal(order, [2, 5, 0, 3, 6, 1, 4])
    np.testing.assert_array_equal(X_filled, np.where(np.isnan(X), 0.0, X)[order])
    assert sorted(missing) == ["pattern_1", "pattern_2", "patterns_1", "patterns_2",
                               "positions"]
    np.testing.assert_array_equal(missing["patterns_1"], [[0], [1]])
    np.testing.assert_array_equal(missing["pattern_1"], [0, 1, 1, 1])
    np.testing.assert_array_equal(missing["patterns_2"], [[0, 1], [0, 2]])
    np.testing.assert_array_equal(missing["pattern_2"], [0, 1])
    # The missing entries of the rows after the complete one, row by row.
    np.testing.assert_array_equal(
        missing["positions"], [0, 4, 7, 10, 12, 13, 15, 17]
    )
    assert all(value.dtype == np.int32 for value in missing.values())
    # Diagonal types need a mask of the observed entries, in the rows' order.
    X_filled, mask, diagonal = missing_inputs(X, weights, "diag")
    np.testing.assert_array_equal(mask, weights)
    np.testing.assert_array_equal(diagonal["observed"], ~np.isnan(X))


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_missing_gradient_is_finite(covariance_type):
    X, weights, hyper, sites = _problem(covariance_type, "wishart")
    X_filled, mask, missing = _inputs(X, weights, covariance_type)
    # The rows with NaN, in the model's order.
    order = missing_inputs(X, np.arange(len(X)), covariance_type)[1]
    model = _model(covariance_type, "wishart")
    gradient = jax.jit(jax.grad(
        lambda z, args: potential_energy(model, args, {}, z)
    ))
    for data in (X_filled, X[order]):  # NaN given to the model: zeroed there too
        args = (jnp.asarray(data, jnp.float32), mask, hyper, missing)
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
