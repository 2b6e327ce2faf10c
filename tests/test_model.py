"""The NumPyro model: likelihood, masking, parameter count, weight parameterisations,
and the translation between the mixture and the sample sites (skbayesmix._model)."""

import functools

import numpy as np
import pytest
from conftest import kmeans_problem, model_hyper
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import make_blobs

from skbayesmix._covariance import COVARIANCE_TYPES, covariance_from_factors
from skbayesmix._initialization import jittered_chain_values
from skbayesmix._settings import n_unconstrained_parameters

jax = pytest.importorskip("jax")
jnp = jax.numpy

from skbayesmix import _inference  # noqa: E402
from skbayesmix._model import (  # noqa: E402
    ROW_BLOCK,
    WEIGHT_TAIL_OFFSET,
    component_log_prob,
    gmm_model,
    init_sites,
    mixture_log_likelihood,
    softmax_logits,
    to_mixture,
)


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
            X, jnp.ones(40, bool), model_hyper(np.zeros((4, 3)))
        )
        return {
            name: biject_to(site["fn"].support).inv(site["value"])
            for name, site in trace.items()
            if site["type"] == "sample" and not site["is_observed"]
        }

    size = sum(np.prod(v.shape) for v in jax.eval_shape(unconstrained).values())
    assert size == n_unconstrained_parameters(4, 3, covariance_type, weights)




@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_padding_with_mask_leaves_potential_energy_unchanged(covariance_type):
    from numpyro.infer.util import potential_energy, unconstrain_fn

    X, centers, start, _ = kmeans_problem(50, 3, covariance_type)
    model = functools.partial(
        gmm_model, n_components=3, covariance_type=covariance_type
    )
    hyper = {k: jnp.asarray(v, jnp.float32) for k, v in model_hyper(centers).items()}
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


@pytest.mark.parametrize("concentration", [1e-3, 0.05, 0.5, 3.0])
def test_softmax_logits_invert_the_model_stretch(concentration):
    from skbayesmix._model import _stretch_tail

    weights = np.array([0.5, 0.3, 0.2 - 2e-9, 1e-9, 1e-9])
    logits = softmax_logits(weights, concentration, n_samples=200)
    u, _ = _stretch_tail(jnp.asarray(logits), concentration, 200.0)
    u = np.asarray(u, dtype=np.float64)
    recovered = np.exp(u - np.logaddexp.reduce(u))
    assert_allclose(recovered, weights, rtol=1e-4)
    # Flagged components start at the knee of the stretch, below relevance.
    empty = softmax_logits(
        weights, concentration, 200, empty=np.array([0, 0, 0, 1, 1], bool)
    )
    assert_allclose(empty[:3], logits[:3])
    assert np.all(empty[3:] < np.log(1 / 200))


@pytest.mark.parametrize("concentration", [1e-3, 0.3])
def test_softmax_weight_prior_is_dirichlet(concentration):
    """The 'softmax' density is Dirichlet x Normal(log-sum) x |Jacobian|."""
    from jax.scipy.special import logsumexp
    from jax.scipy.stats import norm
    from numpyro.infer.util import log_density

    from skbayesmix._model import _sample_log_weights, _stretch_tail

    k, n_obs = 4, 200.0

    def model():
        _sample_log_weights(concentration, k, "softmax", n_obs)

    def to_free(t):
        # The bijection R^k -> (w_1, ..., w_{k-1}, log sum_k e^{u_k}).
        u, _ = _stretch_tail(t, concentration, n_obs)
        total = logsumexp(u)
        return jnp.concatenate([jnp.exp(u - total)[:-1], total[None]])

    rng = np.random.RandomState(0)
    differences = []
    for _ in range(6):
        # From well inside the stretched tail (t < -8) to occupied components.
        t = jnp.asarray(rng.uniform(-10.0, 1.0, size=k), dtype=jnp.float32)
        ours = log_density(model, (), {}, {"weight_logits": t})[0]
        u, _ = _stretch_tail(t, concentration, n_obs)
        log_weights = u - logsumexp(u)
        log_jacobian = jnp.linalg.slogdet(jax.jacfwd(to_free)(t))[1]
        # Unnormalised Dirichlet density of w times Normal(0, 1) of the log-sum.
        expected = (
            jnp.sum((concentration - 1) * log_weights)
            + norm.logpdf(logsumexp(u))
            + log_jacobian
        )
        differences.append(float(ours - expected))
    # Equal up to a constant: the normalising terms the model leaves out.
    assert np.ptp(differences) < 1e-3 * max(1.0, np.abs(differences).max())


# ------------------------------------------------- sites and the mixture


def test_init_sites_per_weight_parameterization():
    _, centers, start, rng = kmeans_problem(60, 2, "full")
    chains = jittered_chain_values(start, num_chains=3, random_state=rng)
    simplex = init_sites(
        chains, weight_parameterization="simplex", weight_concentration=0.5,
        n_samples=60,
    )
    assert set(simplex) == set(chains)
    for name in chains:
        assert_array_equal(simplex[name], chains[name])
    gamma = init_sites(
        chains, weight_parameterization="gamma", weight_concentration=0.5,
        n_samples=60,
    )
    assert "weights" not in gamma
    assert_allclose(np.exp(gamma["log_gamma_weights"]), chains["weights"])
    softmax = init_sites(
        chains, weight_parameterization="softmax", weight_concentration=0.5,
        n_samples=60,
    )
    assert "weights" not in softmax
    assert_allclose(
        softmax["weight_logits"], softmax_logits(chains["weights"], 0.5, 60)
    )
    # The chains' values are not changed in place.
    assert "weights" in chains and "weight_logits" not in chains


def test_init_sites_start_empty_components_at_the_knee():
    weights = np.array([[0.7, 0.3 - 1e-9, 1e-9]])
    empty = np.array([False, False, True])
    sites = init_sites(
        {"weights": weights}, weight_parameterization="softmax",
        weight_concentration=1e-3, n_samples=200, empty=empty,
    )
    knee = -np.log(200) - WEIGHT_TAIL_OFFSET + np.log(1e-3)
    assert_allclose(sites["weight_logits"][0, 2], knee)
    assert_allclose(
        sites["weight_logits"][0, :2], softmax_logits(weights, 1e-3, 200)[0, :2]
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_to_mixture_builds_covariances_with_reg_covar(covariance_type):
    _, _, start, rng = kmeans_problem(60, 3, covariance_type)
    samples = {
        name: np.repeat(value[:, None], 4, axis=1)  # (chain, draw, ...)
        for name, value in jittered_chain_values(
            start, num_chains=2, random_state=rng
        ).items()
    }
    weights, means, covariances = to_mixture(
        samples, covariance_type=covariance_type, reg_covar=1e-3
    )
    assert weights is samples["weights"] and means is samples["means"]
    expected = covariance_from_factors(
        samples["scales"], samples.get("corr_cholesky"), 1e-3, covariance_type
    )
    assert_allclose(covariances, expected)
    leading = {"full": (3, 2, 2), "tied": (2, 2), "diag": (3, 2), "spherical": (3,)}
    assert covariances.shape == (2, 4) + leading[covariance_type]
