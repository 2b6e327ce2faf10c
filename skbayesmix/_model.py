"""The NumPyro model: a marginalised Gaussian mixture in standardised data space.

The model is a pure function of the (padded) data, a validity mask and a dict of
hyper-parameter arrays. Everything that changes array shapes (``n_components``,
``covariance_type``, the weight parameterisation) is bound with
:func:`functools.partial` and is static for JAX; everything else is a traced argument,
so one compiled sampler serves every data set and prior of the same structure.
"""

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
WEIGHT_PARAMETERIZATIONS = ("simplex", "gamma")

# Partial sums are taken over blocks of this many rows before they are added up:
# a single float32 running sum over tens of thousands of log-densities loses
# O(1) nats, enough to wreck the energy error that NUTS adapts its step size on.
SUM_BLOCK = 128


def blocked_sum(values):
    """Sum a 1-D float array by blocks (pairwise-like error growth in float32)."""
    n = values.shape[0]
    if n <= SUM_BLOCK:
        return jnp.sum(values)
    pad = (-n) % SUM_BLOCK
    values = jnp.pad(values, (0, pad))
    return jnp.sum(jnp.sum(values.reshape(-1, SUM_BLOCK), axis=1))


def component_log_prob(X, means, scales, corr_cholesky, reg_covar, covariance_type):
    """Log-density of every row of ``X`` under every component.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    means : array of shape (n_components, n_features)
    scales : array
        Standard deviations: (n_components, n_features) for 'full' and 'diag',
        (n_features,) for 'tied', (n_components,) for 'spherical'.
    corr_cholesky : array or None
        Lower Cholesky factor of the correlation matrix: (n_components, n_features,
        n_features) for 'full', (n_features, n_features) for 'tied', else None.
    reg_covar : float
        Added to the diagonal of every covariance matrix.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    log_prob : array of shape (n_samples, n_components)
    """
    n_features = X.shape[1]
    log_2pi = n_features * jnp.log(2 * jnp.pi)
    if covariance_type in ("diag", "spherical"):
        variances = scales**2 + reg_covar
        if covariance_type == "spherical":
            variances = jnp.broadcast_to(variances[:, None], means.shape)
        precisions = 1.0 / variances  # (K, D)
        # Expanded square: two dense products instead of an (N, K, D) difference.
        quad = (
            (X**2) @ precisions.T
            - 2.0 * X @ (means * precisions).T
            + jnp.sum(means**2 * precisions, axis=1)
        )
        log_det = jnp.sum(jnp.log(variances), axis=1)
        return -0.5 * (log_2pi + log_det + quad)

    if corr_cholesky is None:  # one feature: no correlation to model
        cov_chol = scales[..., None]
    else:
        cov_chol = scales[..., :, None] * corr_cholesky
    if covariance_type == "tied":
        cov_chol = jnp.broadcast_to(cov_chol, (means.shape[0],) + cov_chol.shape)
    covariance = cov_chol @ jnp.swapaxes(cov_chol, -1, -2)
    covariance = covariance + reg_covar * jnp.eye(n_features)
    cov_chol = jnp.linalg.cholesky(covariance)
    # Invert the K small factors once, then one dense product over all rows.
    eye = jnp.broadcast_to(jnp.eye(n_features), cov_chol.shape)
    chol_inv = solve_triangular(cov_chol, eye, lower=True)  # (K, D, D)
    n_components = means.shape[0]
    projection = chol_inv.transpose(2, 0, 1).reshape(n_features, -1)  # (D, K*D)
    shift = jnp.einsum("kij,kj->ki", chol_inv, means).reshape(-1)
    y = (X @ projection - shift).reshape(X.shape[0], n_components, n_features)
    quad = jnp.sum(y**2, axis=-1)
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(cov_chol, axis1=-2, axis2=-1)), -1)
    return -0.5 * (log_2pi + log_det + quad)


def gmm_model(
    X,
    mask,
    hyper,
    *,
    n_components,
    covariance_type="full",
    weight_parameterization="simplex",
):
    """Marginalised Bayesian Gaussian mixture (no discrete sites).

    Parameters
    ----------
    X : array of shape (n_padded, n_features)
        Standardised data, padded with arbitrary finite rows.
    mask : array of shape (n_padded,)
        1.0 for real rows, 0.0 for padding (which contributes no likelihood).
    hyper : dict of arrays
        ``weight_concentration``, ``mean_prior_loc`` (n_components, n_features),
        ``mean_prior_scale``, ``scale_prior``, ``lkj_concentration``, ``reg_covar``.
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    weight_parameterization : {'simplex', 'gamma'}
        'simplex' samples the weights with NumPyro's stick-breaking transform.
        'gamma' samples unnormalised Gamma(concentration, 1) variables on the log
        scale and normalises them, which NUTS handles better when the concentration
        is small and components empty.
    """
    n_features = X.shape[1]
    concentration = hyper["weight_concentration"] * jnp.ones(n_components)
    if weight_parameterization == "gamma":
        # log g_k ~ log-Gamma(alpha, 1); w = g / sum(g) ~ Dirichlet(alpha).
        log_gamma = numpyro.sample(
            "log_gamma_weights",
            dist.TransformedDistribution(
                dist.Gamma(concentration, 1.0),
                dist.transforms.ExpTransform().inv,
            ).to_event(1),
        )
        log_weights = log_gamma - logsumexp(log_gamma)
        numpyro.deterministic("weights", jnp.exp(log_weights))
    else:
        weights = numpyro.sample("weights", dist.Dirichlet(concentration))
        log_weights = jnp.log(weights)

    corr_cholesky = None
    with numpyro.plate("components", n_components):
        means = numpyro.sample(
            "means",
            dist.Normal(hyper["mean_prior_loc"], hyper["mean_prior_scale"]).to_event(1),
        )
        if covariance_type in ("full", "diag"):
            scales = numpyro.sample(
                "scales",
                dist.HalfCauchy(hyper["scale_prior"] * jnp.ones(n_features)).to_event(1),
            )
        elif covariance_type == "spherical":
            scales = numpyro.sample("scales", dist.HalfCauchy(hyper["scale_prior"]))
        if covariance_type == "full" and n_features > 1:
            corr_cholesky = numpyro.sample(
                "corr_cholesky",
                dist.LKJCholesky(n_features, hyper["lkj_concentration"]),
            )
    if covariance_type == "tied":
        scales = numpyro.sample(
            "scales",
            dist.HalfCauchy(hyper["scale_prior"] * jnp.ones(n_features)).to_event(1),
        )
        if n_features > 1:
            corr_cholesky = numpyro.sample(
                "corr_cholesky",
                dist.LKJCholesky(n_features, hyper["lkj_concentration"]),
            )

    log_prob = component_log_prob(
        X, means, scales, corr_cholesky, hyper["reg_covar"], covariance_type
    )
    log_lik = logsumexp(log_prob + log_weights, axis=-1)
    numpyro.factor("obs", blocked_sum(jnp.where(mask > 0, log_lik, 0.0)))
