"""The NumPyro model: a marginalised Gaussian mixture in standardised data space.

The model is a pure function of the (padded) data, a validity mask and a dict of
hyper-parameter arrays. Everything that changes array shapes (``n_components``,
``covariance_type``, the weight parameterisation) is bound with
:func:`functools.partial` and is static for JAX; everything else is a traced argument,
so one compiled sampler serves every data set and prior of the same structure.
"""

from contextlib import nullcontext

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import gammaln, logsumexp

from skbayesmix._covariance import covariance_from_factors, regularized
from skbayesmix._sites import (
    WEIGHT_TAIL_OFFSET,
    bartlett_factor,
)

# Rows are processed in blocks of this many when the (padded) data set is larger:
# the (rows, n_components * n_features) intermediates of one block stay in cache,
# which measured 2-4x faster per gradient at 65,536 rows than one whole-array pass.
# Every size bucket above ROW_BLOCK * 2 (see ``_inference.padded_size``) is a
# multiple of ROW_BLOCK. Per-block sums also keep float32 accumulation error small.
ROW_BLOCK = 2048

# Partial sums are taken over blocks of this many rows before they are added up.
SUM_BLOCK = 128


def blocked_sum(values):
    """Sum a 1-D float array by blocks (pairwise-like error growth in float32)."""
    n = values.shape[0]
    if n <= SUM_BLOCK:
        return jnp.sum(values)
    pad = (-n) % SUM_BLOCK
    values = jnp.pad(values, (0, pad))
    return jnp.sum(jnp.sum(values.reshape(-1, SUM_BLOCK), axis=1))


def _whitening(means, covariances, covariance_type):
    """Whitening maps and log normalisers of the mixture components.

    The squared norm of y = x @ projection - shift, taken per block of
    n_features columns, is the Mahalanobis distance of x to each component.

    Returns
    -------
    projection : array of shape (n_features, n_components * n_features)
    shift : array of shape (n_components * n_features,)
    log_norm : array of shape (n_components,)
        -0.5 * (n_features * log(2 pi) + log det Sigma_k).
    """
    n_components, n_features = means.shape
    log_2pi = n_features * jnp.log(2 * jnp.pi)
    if covariance_type in ("diag", "spherical"):
        variances = covariances
        if covariance_type == "spherical":
            variances = jnp.broadcast_to(variances[:, None], means.shape)
        inv_sd = jax.lax.rsqrt(variances)  # (K, D)
        # Block-diagonal projection: the whitened residual (x - mu_k) / sd_k keeps
        # float32 precision, unlike the expanded square x^2 p - 2 x mu p + mu^2 p.
        projection = jnp.eye(n_features)[:, None, :] * inv_sd[None]
        shift = (means * inv_sd).reshape(-1)
        log_det = jnp.sum(jnp.log(variances), axis=1)
        return projection.reshape(n_features, -1), shift, -0.5 * (log_2pi + log_det)

    covariance = jnp.broadcast_to(
        covariances, (n_components, n_features, n_features)
    )
    cov_chol = jnp.linalg.cholesky(covariance)
    # Invert the K small factors once; the rows then need one dense product.
    eye = jnp.broadcast_to(jnp.eye(n_features), cov_chol.shape)
    chol_inv = solve_triangular(cov_chol, eye, lower=True)  # (K, D, D)
    projection = chol_inv.transpose(2, 0, 1).reshape(n_features, -1)  # (D, K*D)
    shift = jnp.einsum("kij,kj->ki", chol_inv, means).reshape(-1)
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(cov_chol, axis1=-2, axis2=-1)), -1)
    return projection, shift, -0.5 * (log_2pi + log_det)


def _block_log_prob(X, projection, shift, log_norm):
    """(rows, n_components) log-densities from the whitening maps."""
    n_components = log_norm.shape[0]
    y = X @ projection - shift  # (rows, K*D): whitened residuals
    # Summing squares per component with a 0/1 matrix product is much faster on
    # CPU than a reduction over a trailing axis of length n_features.
    group = jnp.repeat(jnp.eye(n_components, dtype=y.dtype), X.shape[1], axis=0)
    return log_norm - 0.5 * ((y * y) @ group)


def _log_sum_exp_rows(a):
    """Logsumexp over the last axis, without the inf handling of the generic one."""
    top = jax.lax.stop_gradient(jnp.max(a, axis=-1, keepdims=True))
    return top[..., 0] + jnp.log(jnp.sum(jnp.exp(a - top), axis=-1))


def component_log_prob(X, means, covariances, covariance_type):
    """Log-density of every row of ``X`` under every component.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    means : array of shape (n_components, n_features)
    covariances : array
        In scikit-learn's shape for ``covariance_type``, regularisation included.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    log_prob : array of shape (n_samples, n_components)
    """
    return _block_log_prob(X, *_whitening(means, covariances, covariance_type))


def _precision_whitening(means, factors, log_det_factors):
    """Whitening maps from factors W_k of the precisions (P_k = W_k W_k').

    As :func:`_whitening`, without inverting or factorising any matrix:
    y = (x - mu_k)' W_k, and log det Sigma_k = -2 log det W_k.
    """
    n_components, n_features = means.shape
    projection = factors.transpose(1, 0, 2).reshape(n_features, -1)  # (D, K*D)
    shift = jnp.einsum("kij,ki->kj", factors, means).reshape(-1)
    log_norm = log_det_factors - 0.5 * n_features * jnp.log(2 * jnp.pi)
    return projection, shift, log_norm


def mixture_log_likelihood(X, mask, log_weights, means, covariances, covariance_type):
    """Total log-likelihood of the rows of ``X`` whose ``mask`` is positive.

    Same parameters as :func:`component_log_prob`, plus ``mask`` of shape
    (n_samples,) and ``log_weights`` of shape (n_components,). Large inputs
    (more than ``2 * ROW_BLOCK`` rows, a multiple of ``ROW_BLOCK``) are processed
    block by block with :func:`jax.lax.map`.
    """
    maps = _whitening(means, covariances, covariance_type)
    return _masked_log_likelihood(X, mask, log_weights, maps)


def _masked_log_likelihood(X, mask, log_weights, maps):
    """:func:`mixture_log_likelihood` from whitening maps."""
    projection, shift, log_norm = maps
    log_norm = log_norm + log_weights

    def block_sum(args):
        X_block, mask_block = args
        log_prob = _block_log_prob(X_block, projection, shift, log_norm)
        log_lik = _log_sum_exp_rows(log_prob)
        return blocked_sum(jnp.where(mask_block > 0, log_lik, 0.0))

    n_rows, n_features = X.shape
    if n_rows <= 2 * ROW_BLOCK or n_rows % ROW_BLOCK:
        return block_sum((X, mask))
    n_blocks = n_rows // ROW_BLOCK
    sums = jax.lax.map(
        block_sum,
        (X.reshape(n_blocks, ROW_BLOCK, n_features), mask.reshape(n_blocks, ROW_BLOCK)),
    )
    return jnp.sum(sums)



def _sample_log_weights(concentration, n_components, weight_parameterization, n_obs):
    """Sample the mixture weights ~ Dirichlet(concentration); return their logs.

    'simplex' uses NumPyro's stick-breaking transform. 'gamma' samples
    log g_k ~ log-Gamma(alpha, 1) and normalises. 'softmax' samples logits t_k:
    the weights are softmax(u) with u_k = f(t_k), the prior density makes
    softmax(u) ~ Dirichlet(alpha) and log(sum_k e^{u_k}) ~ Normal(0, 1) (a proper
    prior on the direction the likelihood ignores), and f is the identity above
    the log weight at which a component expects ``exp(-WEIGHT_TAIL_OFFSET)``
    observations and stretches by up to 1/alpha below it. An empty component's
    log weight has density ~ exp(alpha u): with alpha = 1e-3 a plateau about 1000
    units long in u, which f turns into a unit-scale exponential tail in t.
    """
    alpha = concentration * jnp.ones(n_components)
    if weight_parameterization == "simplex":
        weights = numpyro.sample("weights", dist.Dirichlet(alpha))
        return jnp.log(weights)
    if weight_parameterization == "gamma":
        # y = log g with g ~ Gamma(alpha, 1) has density exp(alpha y - e^y) /
        # Gamma(alpha), written directly: the density of g at exp(y) underflows
        # in float32 below y = -87, which truncated the prior.
        log_gamma = numpyro.sample(
            "log_gamma_weights",
            dist.ImproperUniform(dist.constraints.real_vector, (), (n_components,)),
        )
        numpyro.factor(
            "weight_prior",
            jnp.sum(alpha * log_gamma - jnp.exp(log_gamma) - gammaln(alpha)),
        )
        log_weights = log_gamma - logsumexp(log_gamma)
    else:
        logits = numpyro.sample(
            "weight_logits",
            dist.ImproperUniform(dist.constraints.real_vector, (), (n_components,)),
        )
        u, log_jacobian = _stretch_tail(logits, alpha, n_obs)
        total = logsumexp(u)
        log_weights = u - total
        # Dirichlet(w) * prod(w) (softmax Jacobian) * Normal(total; 0, 1) * |f'|.
        numpyro.factor(
            "weight_prior",
            jnp.sum(alpha * log_weights) - 0.5 * total**2 + log_jacobian,
        )
    numpyro.deterministic("weights", jnp.exp(log_weights))
    return log_weights


def _stretch_tail(t, alpha, n_obs):
    """Stretch logits: u = t - (1/alpha - 1) softplus(t0 + log(alpha) - t).

    Returns u and sum(log du/dt).

    du/dt is 1 well above t0 = -log(n_obs) - WEIGHT_TAIL_OFFSET, 2 at t0 and
    tends to 1/alpha below t0 + log(alpha).
    """
    knee = -jnp.log(n_obs) - WEIGHT_TAIL_OFFSET + jnp.log(alpha)
    slope = 1.0 / alpha - 1.0
    u = t - slope * jax.nn.softplus(knee - t)
    log_jacobian = jnp.sum(jnp.log1p(slope * jax.nn.sigmoid(knee - t)))
    return u, log_jacobian


def _inverse_gamma_scale_log_prob(scales, shape, prior_scale):
    """log-density of s where s^2 ~ InverseGamma(shape, prior_scale / 2), summed.

    The Jacobian of s -> s^2 (2 s) is included; up to a constant.
    """
    return jnp.sum(
        -(2.0 * shape + 1.0) * jnp.log(scales) - 0.5 * prior_scale / scales**2
    )


def _sample_covariances(hyper, n_components, n_features, covariance_type,
                        covariance_prior):
    """Sample the covariances (before ``reg_covar``) in scikit-learn's shape.

    Returns the covariances, or, for 'wishart' with 'full' and 'tied', the
    tuple (W, log det W) of per-component factors of the precisions
    (W W' = Sigma^-1), from which the likelihood is computed directly;
    ``reg_covar`` is then added to the draws only (see
    :func:`to_mixture`), as the prior already keeps them non-singular.

    'wishart': every covariance is inverse-Wishart(``degrees_of_freedom``,
    ``covariance_prior_scale``). 'full' and 'tied' sample a Bartlett factor
    ``A`` of the precision relative to the component's reference covariance
    ``R R'`` (``component_root``): Sigma = R (A A')^-1 R', with the log of
    its diagonal sampled. Relative to the conjugate posterior mean given the
    start, the factor's posterior is close to independent normals, which NUTS
    samples far better than standard deviations and LKJ correlations when D
    is large or the features are correlated. 'diag' and 'spherical' sample standard
    deviations whose squares are InverseGamma((dof - D + 1) / 2,
    covariance_prior_scale / 2), the inverse-Wishart's marginal of one
    variance. The density vanishes as any covariance becomes singular.

    'lkj': half-Cauchy standard deviations and an LKJ correlation (the seed's
    prior, positive at singular covariances).
    """
    # A tied covariance is one set of sites, outside the components' plate.
    plate = (
        nullcontext() if covariance_type == "tied"
        else numpyro.plate("components", n_components)
    )
    matrix = covariance_type in ("full", "tied")
    dof = hyper["degrees_of_freedom"]
    prior_scale = hyper["covariance_prior_scale"]
    if covariance_prior == "wishart" and matrix:
        with plate:
            log_diagonal = numpyro.sample(
                "precision_log_diagonal",
                dist.ImproperUniform(dist.constraints.real_vector, (), (n_features,)),
            )
            off_diagonal = None
            if n_features > 1:
                n_off = n_features * (n_features - 1) // 2
                off_diagonal = numpyro.sample(
                    "precision_off_diagonal",
                    dist.ImproperUniform(dist.constraints.real_vector, (), (n_off,)),
                )
        root = hyper["component_root"]
        factor = bartlett_factor(log_diagonal, off_diagonal, xp=jnp)
        # Wishart(dof, (C C')^-1) density of the precision R^-T A A' R^-1 with
        # its Jacobian (up to a constant): sum_i (dof - i) u_i - |A' M|^2 / 2,
        # M = R^-1 C. With R = C this is Bartlett's independent factors.
        k = dof - jnp.arange(n_features)
        transformed = jnp.swapaxes(factor, -1, -2) @ hyper["bartlett_prior"]
        numpyro.factor(
            "covariance_prior",
            jnp.sum(k * log_diagonal) - 0.5 * jnp.sum(transformed**2),
        )
        # W = R^-T A whitens: the likelihood needs no inverse or factorisation.
        factors = jnp.swapaxes(hyper["component_root_inverse"], -1, -2) @ factor
        log_det = jnp.sum(log_diagonal, -1) - jnp.sum(
            jnp.log(jnp.diagonal(root, axis1=-2, axis2=-1)), -1
        )
        if covariance_type == "tied":
            factors = jnp.broadcast_to(factors, (n_components,) + factors.shape)
            log_det = jnp.broadcast_to(log_det, (n_components,))
        return factors, log_det

    scale_shape = () if covariance_type == "spherical" else (n_features,)
    if covariance_prior == "wishart":
        scale_dist = dist.ImproperUniform(dist.constraints.positive, (), scale_shape)
    else:
        scale_dist = dist.HalfCauchy(hyper["scale_prior"] * jnp.ones(scale_shape))
        scale_dist = scale_dist.to_event(len(scale_shape))
    corr_cholesky = None
    with plate:
        scales = numpyro.sample("scales", scale_dist)
        if matrix and n_features > 1:
            corr_cholesky = numpyro.sample(
                "corr_cholesky",
                dist.LKJCholesky(n_features, hyper["lkj_concentration"]),
            )
    if covariance_prior == "wishart":
        shape = 0.5 * (dof - n_features + 1.0)
        numpyro.factor(
            "covariance_prior",
            _inverse_gamma_scale_log_prob(scales, shape, prior_scale),
        )
    return covariance_from_factors(scales, corr_cholesky, 0.0, covariance_type, xp=jnp)


def _sample_means(hyper, n_components, n_features):
    """Sample the means ~ Normal(mean_prior_loc, mean_prior_scale^2 I).

    The sampled site is ``mean_offsets`` z with means = loc + root z, for the
    lower-triangular ``component_root`` of each component (the Cholesky
    factor of its reference covariance for 'full' and 'tied', see
    :mod:`skbayesmix._prior`; the identity otherwise). The posterior
    of a mean has covariance Sigma_k / n_k: on strongly correlated features
    (condition numbers of 10^4 and more) a diagonal metric on the means
    themselves needs tiny steps, while the offsets are nearly uncorrelated.
    The prior density is written on the means; the Jacobian is constant.
    """
    root = hyper["component_root"]
    with numpyro.plate("components", n_components):
        offsets = numpyro.sample(
            "mean_offsets",
            dist.ImproperUniform(dist.constraints.real_vector, (), (n_features,)),
        )
    shift = jnp.einsum("...ij,...j->...i", root, offsets)
    numpyro.factor(
        "mean_prior",
        -0.5 * jnp.sum(shift**2) / hyper["mean_prior_scale"] ** 2,
    )
    return numpyro.deterministic("means", hyper["mean_prior_loc"] + shift)


def gmm_model(
    X,
    mask,
    hyper,
    *,
    n_components,
    covariance_type="full",
    weight_parameterization="simplex",
    covariance_prior="wishart",
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
        ``mean_prior_scale``, ``component_root`` (lower-triangular,
        (n_components, D, D), or (D, D) shared; see :func:`_sample_means`),
        ``bartlett_prior`` (see :func:`_sample_covariances`),
        ``degrees_of_freedom`` and ``covariance_prior_scale`` ('wishart': the
        inverse-Wishart scale in the shape of one covariance of the type),
        ``scale_prior``, ``lkj_concentration`` ('lkj'), and ``reg_covar`` (a
        number, or shaped like one covariance of the type).
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    weight_parameterization : {'simplex', 'gamma', 'softmax'}
        How the Dirichlet weights are sampled (see ``_sample_log_weights``).
        'simplex' (stick-breaking) suits concentrations near 1 and above;
        'softmax' suits small concentrations with components that empty.
    covariance_prior : {'wishart', 'lkj'}
        See :func:`_sample_covariances`.
    """
    n_features = X.shape[1]
    log_weights = _sample_log_weights(
        hyper["weight_concentration"],
        n_components,
        weight_parameterization,
        jnp.maximum(jnp.sum(mask), 1.0),
    )
    means = _sample_means(hyper, n_components, n_features)
    sampled = _sample_covariances(
        hyper, n_components, n_features, covariance_type, covariance_prior
    )
    if isinstance(sampled, tuple):  # factors of the precisions
        maps = _precision_whitening(means, *sampled)
    else:
        maps = _whitening(
            means, regularized(sampled, hyper["reg_covar"], covariance_type, xp=jnp),
            covariance_type,
        )

    numpyro.factor("obs", _masked_log_likelihood(X, mask, log_weights, maps))
