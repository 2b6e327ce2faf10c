"""The NUTS runner: compiled-sampler reuse, padding, chain methods, likelihood."""

import functools

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV

import skbayesmix
from skbayesmix import BayesianGMM
from skbayesmix._initialization import (
    initial_values,
    jittered_chain_values,
    kmeans_start,
)

jax = pytest.importorskip("jax")
jnp = jax.numpy

from skbayesmix import _inference  # noqa: E402
from skbayesmix._model import (  # noqa: E402
    ROW_BLOCK,
    component_log_prob,
    gmm_model,
    mixture_log_likelihood,
)

# Cheaper than tests/conftest.FAST: these tests only count programs and shapes.
TINY = dict(num_warmup=10, num_samples=10, num_chains=2, random_state=0)


def _hyper(centers):
    return {
        "weight_concentration": 0.5,
        "mean_prior_loc": centers,
        "mean_prior_scale": 1.0,
        "scale_prior": 1.0,
        "lkj_concentration": 2.0,
        "reg_covar": 1e-6,
    }


def _problem(n_samples, n_components=2, covariance_type="full", seed=0):
    X, _ = make_blobs(n_samples=n_samples, centers=n_components, random_state=seed)
    X = (X - X.mean(0)) / X.std(0)
    rng = np.random.RandomState(seed)
    centers, labels = kmeans_start(X, n_components, random_state=rng)
    start = initial_values(X, centers, labels, covariance_type)
    return X, centers, start, rng


def test_padded_size_buckets():
    sizes = [_inference.padded_size(n) for n in range(1, 20000, 37)]
    for n, size in zip(range(1, 20000, 37), sizes):
        assert n <= size <= max(16, 1.5 * n)
        # Large buckets split into whole likelihood blocks.
        if size > 2 * ROW_BLOCK:
            assert size % ROW_BLOCK == 0
    # Folds of 80% of the rows share the full data's bucket at these sizes.
    for n in (128, 500, 1000):
        assert _inference.padded_size(int(0.8 * n)) == _inference.padded_size(n)


@pytest.mark.parametrize(
    "n_components, n_features, covariance_type, num_warmup, dense",
    [
        (8, 2, "full", 500, True),  # the reference model: 47 parameters
        (4, 10, "full", 500, False),  # 263 parameters, a 200-draw window
        (4, 10, "diag", 500, True),  # 84 parameters
        (4, 10, "full", 2000, True),  # a 650-draw window
        (8, 2, "full", 15, False),  # no mass-matrix adaptation at all
    ],
)
def test_auto_dense_mass_needs_a_full_rank_window(
    n_components, n_features, covariance_type, num_warmup, dense
):
    gmm = BayesianGMM(n_components, covariance_type=covariance_type)
    n_parameters = gmm._n_sampled_parameters(n_features, "simplex")
    assert _inference.default_dense_mass(n_parameters, num_warmup) is dense


@pytest.mark.parametrize(
    "covariance_type, weights",
    [("full", "softmax"), ("tied", "simplex"), ("diag", "simplex"),
     ("spherical", "softmax")],
)
def test_sampled_parameter_count_matches_the_model(covariance_type, weights):
    # Shapes only, through jax.eval_shape: nothing is compiled or run.
    from numpyro import handlers
    from numpyro.distributions.transforms import biject_to

    X = jnp.zeros((40, 3))
    model = functools.partial(
        gmm_model, n_components=4, covariance_type=covariance_type,
        weight_parameterization=weights,
    )

    def unconstrained():
        # ImproperUniform logits cannot be drawn: give them a value.
        fixed = handlers.substitute(model, data={"weight_logits": jnp.zeros(4)})
        trace = handlers.trace(handlers.seed(fixed, 0)).get_trace(
            X, jnp.ones(40, bool), _hyper(np.zeros((4, 3)))
        )
        return {
            name: biject_to(site["fn"].support).inv(site["value"])
            for name, site in trace.items()
            if site["type"] == "sample" and not site["is_observed"]
        }

    size = sum(np.prod(v.shape) for v in jax.eval_shape(unconstrained).values())
    gmm = BayesianGMM(4, covariance_type=covariance_type)
    assert size == gmm._n_sampled_parameters(3, weights)


def test_public_compilation_api():
    assert skbayesmix.compilation_stats is _inference.compilation_stats
    assert skbayesmix.reset_compilation_stats is _inference.reset_compilation_stats
    assert skbayesmix.enable_compilation_cache is _inference.enable_compilation_cache
    assert {"compilations", "compile_time", "fits"} <= set(
        skbayesmix.compilation_stats()
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_refit_reuses_compiled_sampler():
    _inference._compiled_cache.clear()
    skbayesmix.reset_compilation_stats()
    X, _ = make_blobs(n_samples=110, centers=2, random_state=0)
    BayesianGMM(n_components=2, **TINY).fit(X)
    # A new instance, fewer rows in the same size bucket, new values: no compile.
    BayesianGMM(n_components=2, **{**TINY, "random_state": 1}).fit(3.0 * X[:100])
    stats = skbayesmix.compilation_stats()
    assert stats["fits"] == 2
    assert stats["compilations"] == 1
    # Another structure compiles once more.
    BayesianGMM(n_components=2, covariance_type="diag", **TINY).fit(X)
    assert skbayesmix.compilation_stats()["compilations"] == 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_compiles_once_per_n_components():
    X, _ = make_blobs(n_samples=128, centers=2, random_state=0)
    _inference._compiled_cache.clear()
    skbayesmix.reset_compilation_stats()
    search = GridSearchCV(
        BayesianGMM(**TINY), {"n_components": [1, 2]}, cv=5, error_score="raise"
    )
    search.fit(X)
    stats = skbayesmix.compilation_stats()
    assert stats["fits"] == 2 * 5 + 1
    assert stats["compilations"] == 2


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_padding_with_mask_leaves_potential_energy_unchanged(covariance_type):
    from numpyro.infer.util import potential_energy, unconstrain_fn

    X, centers, start, _ = _problem(50, 3, covariance_type)
    model = functools.partial(
        gmm_model, n_components=3, covariance_type=covariance_type
    )
    hyper = {k: jnp.asarray(v, jnp.float32) for k, v in _hyper(centers).items()}
    size = _inference.padded_size(X.shape[0]) + 13
    X_padded = np.full((size, X.shape[1]), 7.0)  # arbitrary rows, masked out
    X_padded[: X.shape[0]] = X
    mask = np.zeros(size)
    mask[: X.shape[0]] = 1.0
    args = (jnp.asarray(X, jnp.float32), jnp.ones(X.shape[0]), hyper)
    padded_args = (jnp.asarray(X_padded, jnp.float32), jnp.asarray(mask), hyper)
    z = unconstrain_fn(model, args, {}, start)
    # Jitted: eager NumPyro dispatch compiles hundreds of tiny programs.
    energy_fn = jax.jit(lambda margs, z: potential_energy(model, margs, {}, z))
    energy = float(energy_fn(args, z))
    padded_energy = float(energy_fn(padded_args, z))
    np.testing.assert_allclose(padded_energy, energy, rtol=1e-6)
    # ... and masking rows out is not the same as dropping nothing.
    unmasked = (padded_args[0], jnp.ones(size), hyper)
    assert abs(float(energy_fn(unmasked, z)) - energy) > 1.0


@pytest.mark.parametrize("n_samples", [100, 3 * ROW_BLOCK])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_mixture_log_likelihood_matches_scipy(n_samples, covariance_type):
    rng = np.random.RandomState(0)
    n_components, n_features, reg = 3, 3, 1e-3
    X = rng.randn(n_samples, n_features)
    mask = (rng.rand(n_samples) > 0.3).astype(float)
    means = rng.randn(n_components, n_features)
    log_weights = np.log(rng.dirichlet(np.ones(n_components)))
    corr = np.linalg.cholesky(0.6 * np.eye(n_features) + 0.4)
    if covariance_type == "full":
        scales = 0.5 + rng.rand(n_components, n_features)
        corr = np.stack([corr] * n_components)
        covs = [np.outer(s, s) * (c @ c.T) for s, c in zip(scales, corr)]
    elif covariance_type == "tied":
        scales = 0.5 + rng.rand(n_features)
        covs = [np.outer(scales, scales) * (corr @ corr.T)] * n_components
    elif covariance_type == "diag":
        scales, corr = 0.5 + rng.rand(n_components, n_features), None
        covs = [np.diag(s**2) for s in scales]
    else:
        scales, corr = 0.5 + rng.rand(n_components), None
        covs = [np.eye(n_features) * s**2 for s in scales]
    expected = np.stack(
        [
            multivariate_normal(m, c + reg * np.eye(n_features)).logpdf(X)
            for m, c in zip(means, covs)
        ],
        axis=1,
    )

    def f32(a):
        return None if a is None else jnp.asarray(a, jnp.float32)

    log_prob = component_log_prob(
        f32(X), f32(means), f32(scales), f32(corr), reg, covariance_type
    )
    np.testing.assert_allclose(np.asarray(log_prob), expected, rtol=1e-5, atol=1e-4)
    total = mixture_log_likelihood(
        f32(X), f32(mask), f32(log_weights), f32(means), f32(scales), f32(corr),
        reg, covariance_type,
    )
    np.testing.assert_allclose(
        float(total), np.sum(mask * logsumexp(expected + log_weights, axis=1)),
        rtol=1e-6,
    )


def test_float32_log_likelihood_keeps_precision_for_tight_clusters():
    # Clusters 1000x narrower than the data's spread: an expanded square
    # x'Px - 2x'Pmu + mu'Pmu would lose hundreds of nats to float32 cancellation.
    X, _ = make_blobs(
        n_samples=3 * ROW_BLOCK, centers=4, cluster_std=0.01, random_state=0
    )
    X = (X - X.mean(0)) / X.std(0)
    means = np.stack([X[i::4].mean(0) for i in range(4)])
    scales = np.stack([X[i::4].std(0) for i in range(4)]) + 1e-3
    corr = np.broadcast_to(np.eye(2), (4, 2, 2))
    args = [X, np.ones(len(X)), np.log(np.full(4, 0.25)), means, scales, corr]
    got = mixture_log_likelihood(*[jnp.asarray(a, jnp.float32) for a in args],
                                 1e-6, "full")
    expected = np.sum(logsumexp(np.stack([
        multivariate_normal(m, np.diag(s**2) + 1e-6 * np.eye(2)).logpdf(X)
        for m, s in zip(means, scales)], axis=1) + np.log(0.25), axis=1))
    assert abs(float(got) - expected) < 0.5


@pytest.mark.parametrize("chain_method", ["sequential", "vectorized"])
def test_chain_methods_run(chain_method):
    X, centers, start, rng = _problem(60, 2, "diag")
    chains = jittered_chain_values(start, 2, rng)
    settings = _inference.SamplerSettings(
        num_warmup=10,
        num_samples=12,
        num_chains=2,
        chain_method=chain_method,
        target_accept_prob=0.8,
        max_tree_depth=6,
        dense_mass=False,
    )
    structure = _inference.ModelStructure(2, "diag", "simplex")
    result = _inference.run_nuts(X, chains, _hyper(centers), structure, settings, 3)
    assert result.samples["means"].shape == (2, 12, 2, 2)
    assert result.samples["means"].dtype == np.float64
    assert result.sample_stats["n_steps"].shape == (2, 12)
    assert np.all(np.isfinite(result.samples["scales"]))
    # Chains are distinct (own keys and starts), draws move within a chain.
    assert not np.allclose(result.samples["means"][0], result.samples["means"][1])
    assert np.ptp(result.samples["means"][0], axis=0).max() > 0


def test_enable_compilation_cache_sets_jax_config(tmp_path, monkeypatch):
    keys = (
        "jax_compilation_cache_dir",
        "jax_persistent_cache_min_compile_time_secs",
        "jax_persistent_cache_min_entry_size_bytes",
    )
    before = {k: getattr(jax.config, k) for k in keys}
    try:
        path = skbayesmix.enable_compilation_cache(tmp_path / "cache")
        assert path == str(tmp_path / "cache")
        assert (tmp_path / "cache").is_dir()
        assert jax.config.jax_compilation_cache_dir == path
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.0
        monkeypatch.setenv("SKBAYESMIX_CACHE_DIR", str(tmp_path / "env"))
        assert skbayesmix.enable_compilation_cache() == str(tmp_path / "env")
    finally:
        from jax.experimental.compilation_cache import compilation_cache

        for k, v in before.items():
            jax.config.update(k, v)
        compilation_cache.reset_cache()
