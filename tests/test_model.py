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

import numpyro.distributions as dist  # noqa: E402

from skbayesmix import _inference  # noqa: E402
from skbayesmix._model import (  # noqa: E402
    ROW_BLOCK,
    component_log_prob,
    gmm_model,
    mixture_log_likelihood,
)
from skbayesmix._sites import (  # noqa: E402
    WEIGHT_TAIL_OFFSET,
    init_sites,
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
        # ImproperUniform sites cannot be drawn: give them a value.
        def improper_value(site):
            fn = site.get("fn")
            while hasattr(fn, "base_dist"):
                fn = fn.base_dist
            if isinstance(fn, dist.ImproperUniform):
                return jnp.ones(site["fn"].shape())
            return None

        fixed = handlers.substitute(model, substitute_fn=improper_value)
        trace = handlers.trace(handlers.seed(fixed, 0)).get_trace(
            X, jnp.ones(40, bool),
            model_hyper(np.zeros((4, 3)), covariance_type=covariance_type),
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
    hyper = model_hyper(centers, covariance_type=covariance_type)
    start = init_sites(
        start, hyper, weight_parameterization="simplex",
        covariance_type=covariance_type, covariance_prior="wishart",
        n_samples=X.shape[0],
    )
    hyper = {k: jnp.asarray(v, jnp.float32) for k, v in hyper.items()}
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


def _unconstrained_shapes(n_components, n_features, covariance_type, weights):
    """Shapes of the model's unconstrained sites ('wishart' prior)."""
    per_component = (n_components,) if covariance_type != "tied" else ()
    n_off = n_features * (n_features - 1) // 2
    shapes = {"mean_offsets": (n_components, n_features)}
    shapes[{"simplex": "weight_sticks", "gamma": "log_gamma_weights",
            "softmax": "weight_logits"}[weights]] = (
        (n_components - 1,) if weights == "simplex" else (n_components,)
    )
    if covariance_type in ("full", "tied"):
        shapes["precision_log_diagonal"] = per_component + (n_features,)
        shapes["precision_off_diagonal"] = per_component + (n_off,)
    else:
        shapes["scales"] = (n_components,) + (
            (n_features,) if covariance_type == "diag" else ()
        )
    return shapes


@pytest.mark.parametrize("weights", ["simplex", "gamma", "softmax"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_padded_components_leave_the_real_posterior_unchanged(
    covariance_type, weights
):
    """Padded density = real density x standard normal of the padding, exactly."""
    from numpyro.infer.util import constrain_fn, potential_energy

    from skbayesmix._prior import padded_hyperparameters

    n_real, n_sampled = 3, 5
    X, centers, _, rng = kmeans_problem(80, n_real, covariance_type)
    structure = dict(covariance_type=covariance_type, weight_parameterization=weights)
    real_model = functools.partial(gmm_model, n_components=n_real, **structure)
    padded_model = functools.partial(gmm_model, n_components=n_sampled, **structure)
    hyper = model_hyper(centers, covariance_type=covariance_type)
    data = (jnp.asarray(X, jnp.float32), jnp.ones(len(X)))
    real_args = data + (hyper,)
    padded_args = data + (padded_hyperparameters(hyper, n_sampled),)

    @jax.jit
    def evaluate(real_z, padded_z):
        # One compiled program: NumPyro's eager dispatch compiles many small ones.
        padded_energy, gradient = jax.value_and_grad(
            lambda z: potential_energy(padded_model, padded_args, {}, z)
        )(padded_z)
        recorded = constrain_fn(
            padded_model, padded_args, {}, padded_z, return_deterministic=True
        )
        return (
            potential_energy(real_model, real_args, {}, real_z), padded_energy,
            recorded["padding_log_density"], recorded["weights"], gradient,
        )

    shapes = _unconstrained_shapes(n_sampled, X.shape[1], covariance_type, weights)
    for _ in range(3):
        padded_z = {
            name: jnp.asarray(rng.standard_normal(shape), jnp.float32)
            for name, shape in shapes.items()
        }
        real_z, padding = {}, 0.0
        for name, value in padded_z.items():
            n_kept = {"weight_sticks": n_real - 1}.get(name, n_real)
            if value.shape and value.shape[0] == n_sampled - (name == "weight_sticks"):
                padding += 0.5 * float(jnp.sum(value[n_kept:] ** 2))
                value = value[:n_kept]
            real_z[name] = value
        assert padding > 0
        real_energy, padded_energy, recorded, weights_draw, gradient = evaluate(
            real_z, padded_z
        )
        assert_allclose(float(padded_energy), float(real_energy) + padding, rtol=1e-5)
        assert_allclose(float(recorded), -padding, rtol=1e-5)
        assert_array_equal(np.asarray(weights_draw)[n_real:], 0.0)
        assert all(np.all(np.isfinite(g)) for g in gradient.values())


def test_stick_breaking_weights_are_numpyros_dirichlet():
    """The model's stick-breaking density is NumPyro's Dirichlet site's."""
    import numpyro
    from numpyro.infer.util import potential_energy

    from skbayesmix._model import _sample_log_weights

    alpha, k = 0.7, 5

    def ours():
        _sample_log_weights(alpha, k, "simplex", 100.0, jnp.ones(k, bool))

    def numpyros():
        numpyro.sample("weight_sticks", dist.Dirichlet(alpha * jnp.ones(k)))

    rng = np.random.RandomState(1)
    differences = []
    for _ in range(5):
        sticks = {"weight_sticks": jnp.asarray(3 * rng.standard_normal(k - 1))}
        differences.append(
            float(potential_energy(ours, (), {}, sticks))
            - float(potential_energy(numpyros, (), {}, sticks))
        )
    # Equal up to the Dirichlet's normalising constant.
    assert np.ptp(differences) < 1e-4


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

    covariances = covariance_from_factors(scales, corr, reg, covariance_type)
    log_prob = component_log_prob(
        f32(X), f32(means), f32(covariances), covariance_type
    )
    np.testing.assert_allclose(np.asarray(log_prob), expected, rtol=1e-5, atol=1e-4)
    total = mixture_log_likelihood(
        f32(X), f32(mask), f32(log_weights), f32(means), f32(covariances),
        covariance_type,
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
    covariances = covariance_from_factors(scales, corr, 1e-6, "full")
    args = [X, np.ones(len(X)), np.log(np.full(4, 0.25)), means, covariances]
    got = mixture_log_likelihood(*[jnp.asarray(a, jnp.float32) for a in args],
                                 "full")
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
        _sample_log_weights(concentration, k, "softmax", n_obs, jnp.ones(k, bool))

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


def _init(chains, prior, weights="simplex", covariance_prior="lkj", **kwargs):
    return init_sites(
        chains, prior, weight_parameterization=weights, covariance_type="full",
        covariance_prior=covariance_prior, n_samples=60, **kwargs,
    )


def test_init_sites_per_weight_parameterization():
    _, centers, start, rng = kmeans_problem(60, 2, "full")
    chains = jittered_chain_values(
        start, covariance_type="full", num_chains=3, random_state=rng
    )
    prior = model_hyper(centers)
    simplex = _init(chains, prior)
    assert set(simplex) == set(chains) - {"means", "weights"} | {
        "mean_offsets", "weight_sticks"
    }
    for name in set(chains) - {"means", "weights"}:
        assert_array_equal(simplex[name], chains[name])
    # The sticks are those of NumPyro's transform.
    stick_breaking = dist.transforms.StickBreakingTransform()
    assert_allclose(
        np.asarray(stick_breaking(jnp.asarray(simplex["weight_sticks"]))),
        chains["weights"], rtol=1e-5,
    )
    gamma = _init(chains, prior, "gamma")
    assert "weights" not in gamma
    assert_allclose(np.exp(gamma["log_gamma_weights"]), chains["weights"])
    softmax = _init(chains, prior, "softmax")
    assert "weights" not in softmax
    assert_allclose(
        softmax["weight_logits"], softmax_logits(chains["weights"], 0.5, 60)
    )
    # The chains' values are not changed in place.
    assert "weights" in chains and "weight_logits" not in chains


def test_init_sites_means_and_bartlett_factors_rebuild_the_start():
    X, centers, start, rng = kmeans_problem(60, 2, "full")
    chains = jittered_chain_values(
        start, covariance_type="full", num_chains=3, random_state=rng
    )
    prior = model_hyper(centers)
    root = np.linalg.cholesky(np.cov(X.T) + 0.1 * np.eye(2))
    prior["component_root"] = root
    sites = _init(chains, prior, covariance_prior="wishart")
    assert {"precision_log_diagonal", "precision_off_diagonal"} <= set(sites)
    assert "scales" not in sites and "corr_cholesky" not in sites
    assert_allclose(centers + sites["mean_offsets"] @ root.T, chains["means"])
    samples = {name: value[:, None] for name, value in sites.items()}
    samples["weights"] = chains["weights"][:, None]
    samples["means"] = chains["means"][:, None]
    covariances = to_mixture(
        samples, covariance_type="full", reg_covar=0.0,
        component_root=root,
    )[2][:, 0]
    assert_allclose(
        covariances,
        covariance_from_factors(chains["scales"], chains["corr_cholesky"], 0.0,
                                "full"),
        rtol=1e-10, atol=1e-12,
    )


def test_init_sites_start_empty_components_at_the_knee():
    weights = np.array([[0.7, 0.3 - 1e-9, 1e-9]])
    empty = np.array([False, False, True])
    prior = model_hyper(np.zeros((3, 2)), 1e-3)
    sites = init_sites(
        {"weights": weights, "means": np.zeros((1, 3, 2))}, prior,
        weight_parameterization="softmax", covariance_type="full",
        covariance_prior="lkj", n_samples=200, empty=empty,
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
            start, covariance_type=covariance_type, num_chains=2, random_state=rng
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


# ------------------------------------------------------- covariance priors


@pytest.mark.parametrize("n_features", [1, 3])
def test_bartlett_factors_round_trip(n_features):
    from skbayesmix._sites import bartlett_from_covariances, covariance_from_bartlett

    rng = np.random.RandomState(0)
    A = rng.standard_normal((2, 5, n_features, n_features))
    covariances = A @ np.swapaxes(A, -1, -2) + 0.5 * np.eye(n_features)
    B = rng.standard_normal((n_features, n_features))
    prior_scale = B @ B.T + np.eye(n_features)
    root = np.linalg.cholesky(prior_scale)
    log_diagonal, off_diagonal = bartlett_from_covariances(covariances, root)
    assert log_diagonal.shape == (2, 5, n_features)
    assert (off_diagonal is None) == (n_features == 1)
    assert_allclose(
        covariance_from_bartlett(log_diagonal, off_diagonal, root),
        covariances, rtol=1e-10,
    )
    jax_covariances = covariance_from_bartlett(
        jnp.asarray(log_diagonal), None if off_diagonal is None
        else jnp.asarray(off_diagonal), jnp.asarray(root), xp=jnp,
    )
    assert_allclose(np.asarray(jax_covariances), covariances, rtol=1e-4)


def _prior_draws(covariance_type, dof, prior_scale, n_features=3, seed=0):
    """Covariances drawn by NUTS from the model's prior alone (every row masked)."""
    from numpyro.infer import MCMC, NUTS

    n_components = 2
    model = functools.partial(
        gmm_model, n_components=n_components, covariance_type=covariance_type,
        covariance_prior="wishart",
    )
    hyper = {
        "component_mask": jnp.ones(n_components),
        "weight_concentration": 1.0,
        "mean_prior_loc": jnp.zeros((n_components, n_features)),
        "mean_prior_scale": 1.0,
        "component_root": jnp.linalg.cholesky(jnp.asarray(prior_scale))
        if covariance_type == "full" else jnp.eye(n_features),
        "component_root_inverse": jnp.linalg.inv(jnp.linalg.cholesky(
            jnp.asarray(prior_scale)))
        if covariance_type == "full" else jnp.eye(n_features),
        "bartlett_prior": jnp.eye(n_features),
        "degrees_of_freedom": dof,
        "covariance_prior_scale": jnp.asarray(prior_scale),
        "scale_prior": 1.0,
        "lkj_concentration": 1.0,
        "reg_covar": 0.0,
    }
    mcmc = MCMC(NUTS(model), num_warmup=300, num_samples=2000, progress_bar=False)
    mcmc.run(jax.random.key(seed), jnp.zeros((16, n_features)), jnp.zeros(16), hyper)
    samples = {k: np.asarray(v, np.float64) for k, v in mcmc.get_samples().items()}
    return to_mixture(
        samples, covariance_type=covariance_type, reg_covar=0.0,
        component_root=np.linalg.cholesky(prior_scale)
        if covariance_type == "full" else None,
    )[2]


def test_wishart_prior_has_the_inverse_wishart_moments():
    # dof large enough that the sample variance is a stable estimate.
    n_features, dof = 3, 15.0
    prior_scale = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])
    covariances = _prior_draws("full", dof, prior_scale).reshape(-1, 3, 3)
    scale = dof - n_features - 1
    assert_allclose(covariances.mean(axis=0), prior_scale / scale, atol=0.02)
    # Var(Sigma_ii) = 2 psi_ii^2 / ((dof - D - 1)^2 (dof - D - 3)).
    expected = 2 * np.diag(prior_scale) ** 2 / (scale**2 * (scale - 2))
    assert_allclose(
        np.var(np.diagonal(covariances, axis1=1, axis2=2), axis=0), expected,
        rtol=0.2,
    )


def test_diag_prior_has_the_inverse_gamma_moments():
    n_features, dof = 3, 15.0
    prior_scale = np.array([2.0, 1.0, 0.5])
    variances = _prior_draws("diag", dof, prior_scale).reshape(-1, 3)
    shape = 0.5 * (dof - n_features + 1)
    assert_allclose(variances.mean(axis=0), 0.5 * prior_scale / (shape - 1),
                    rtol=0.05)


def test_gamma_weights_prior_is_finite_far_in_the_tail():
    # y = log g at -100: the Gamma density of exp(-100) underflows in float32.
    from numpyro.infer.util import log_density

    model = functools.partial(
        gmm_model, n_components=3, covariance_type="spherical",
        weight_parameterization="gamma",
    )
    hyper = {
        k: jnp.asarray(v, jnp.float32)
        for k, v in model_hyper(
            np.zeros((3, 2)), 0.01, covariance_type="spherical"
        ).items()
    }
    params = {
        "log_gamma_weights": jnp.array([-100.0, -1.0, 0.0]),
        "mean_offsets": jnp.zeros((3, 2)),
        "scales": jnp.ones(3),
    }
    args = (jnp.zeros((16, 2)), jnp.zeros(16), hyper)
    log_joint, trace = log_density(model, args, {}, params)
    assert np.isfinite(float(log_joint))
    alpha = 0.01
    expected = sum(alpha * y - np.exp(y) for y in (-100.0, -1.0, 0.0))
    from scipy.special import gammaln

    expected -= 3 * gammaln(alpha)
    assert_allclose(float(trace["weight_prior"]["fn"].log_factor), expected, rtol=1e-5)
