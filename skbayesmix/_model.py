"""The NumPyro model: a marginalised Gaussian mixture in standardised data space.

The model is a pure function of the (padded) data, a validity mask and a dict of
hyper-parameter arrays. Everything that changes array shapes (``n_components``,
``covariance_type``, the weight parameterisation) is bound with
:func:`functools.partial` and is static for JAX; everything else is a traced argument,
so one compiled sampler serves every data set and prior of the same structure.
"""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

from skbayesmix._covariance import covariance_from_factors

# The 'softmax' weights stretch their scale below the log weight at which a
# component expects exp(-WEIGHT_TAIL_OFFSET) observations (see _stretch_tail).
WEIGHT_TAIL_OFFSET = 3.0

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


def _whitening(means, scales, corr_cholesky, reg_covar, covariance_type):
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
        variances = covariance_from_factors(
            scales, None, reg_covar, covariance_type, xp=jnp
        )
        if covariance_type == "spherical":
            variances = jnp.broadcast_to(variances[:, None], means.shape)
        inv_sd = jax.lax.rsqrt(variances)  # (K, D)
        # Block-diagonal projection: the whitened residual (x - mu_k) / sd_k keeps
        # float32 precision, unlike the expanded square x^2 p - 2 x mu p + mu^2 p.
        projection = jnp.eye(n_features)[:, None, :] * inv_sd[None]
        shift = (means * inv_sd).reshape(-1)
        log_det = jnp.sum(jnp.log(variances), axis=1)
        return projection.reshape(n_features, -1), shift, -0.5 * (log_2pi + log_det)

    covariance = covariance_from_factors(
        scales,
        corr_cholesky,
        reg_covar,
        covariance_type,
        xp=jnp,
        n_components=n_components if covariance_type == "tied" else None,
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
    maps = _whitening(means, scales, corr_cholesky, reg_covar, covariance_type)
    return _block_log_prob(X, *maps)


def mixture_log_likelihood(
    X, mask, log_weights, means, scales, corr_cholesky, reg_covar, covariance_type
):
    """Total log-likelihood of the rows of ``X`` whose ``mask`` is positive.

    Same parameters as :func:`component_log_prob`, plus ``mask`` of shape
    (n_samples,) and ``log_weights`` of shape (n_components,). Large inputs
    (more than ``2 * ROW_BLOCK`` rows, a multiple of ``ROW_BLOCK``) are processed
    block by block with :func:`jax.lax.map`.
    """
    projection, shift, log_norm = _whitening(
        means, scales, corr_cholesky, reg_covar, covariance_type
    )
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
        log_gamma = numpyro.sample(
            "log_gamma_weights",
            dist.TransformedDistribution(
                dist.Gamma(alpha, 1.0),
                dist.transforms.ExpTransform().inv,
            ).to_event(1),
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
    weight_parameterization : {'simplex', 'gamma', 'softmax'}
        How the Dirichlet weights are sampled (see ``_sample_log_weights``).
        'simplex' (stick-breaking) suits concentrations near 1 and above;
        'softmax' suits small concentrations with components that empty.
    """
    n_features = X.shape[1]
    log_weights = _sample_log_weights(
        hyper["weight_concentration"],
        n_components,
        weight_parameterization,
        jnp.maximum(jnp.sum(mask), 1.0),
    )

    corr_cholesky = None
    with numpyro.plate("components", n_components):
        means = numpyro.sample(
            "means",
            dist.Normal(hyper["mean_prior_loc"], hyper["mean_prior_scale"]).to_event(1),
        )
        if covariance_type in ("full", "diag"):
            scale_prior = hyper["scale_prior"] * jnp.ones(n_features)
            scales = numpyro.sample(
                "scales", dist.HalfCauchy(scale_prior).to_event(1)
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

    numpyro.factor(
        "obs",
        mixture_log_likelihood(
            X,
            mask,
            log_weights,
            means,
            scales,
            corr_cholesky,
            hyper["reg_covar"],
            covariance_type,
        ),
    )


# ------------------------------------------------------------ NumPy translation
# The two functions below translate between the mixture's parameters and the
# model's sample sites, so that no other module knows the site names.


def softmax_logits(weights, weight_concentration, n_samples, empty=None):
    """Logits of the 'softmax' weight parameterisation for given weights.

    Inverts the map t -> u of :func:`_stretch_tail` by bisection, so that
    softmax(u) equals ``weights``. Components flagged in ``empty`` start at the
    knee of the stretch instead, where an empty component's posterior logit is
    most likely, whatever their (tiny) weight.

    Parameters
    ----------
    weights : ndarray of shape (..., n_components)
    weight_concentration : float
    n_samples : int
    empty : ndarray of shape (n_components,), dtype=bool, default=None

    Returns
    -------
    logits : ndarray, same shape as ``weights``
    """
    log_weights = np.log(np.maximum(weights, np.finfo(float).tiny))
    log_weights = log_weights - log_weights.max(axis=-1, keepdims=True)
    t0 = -np.log(n_samples) - WEIGHT_TAIL_OFFSET
    knee = t0 + np.log(weight_concentration)
    slope = 1.0 / weight_concentration - 1.0

    def stretch(t):
        return t - slope * np.logaddexp(0.0, knee - t)

    # The map is increasing: widen a bracket until it holds, then bisect.
    low, high = log_weights - 1.0, log_weights + 1.0
    while np.any(stretch(low) > log_weights):
        low = 2.0 * low - 1.0
    while np.any(stretch(high) < log_weights):
        high = 2.0 * np.abs(high) + 1.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        below = stretch(mid) < log_weights
        low = np.where(below, mid, low)
        high = np.where(below, high, mid)
    logits = 0.5 * (low + high)
    if empty is not None:
        logits = np.where(empty, min(knee, t0), logits)
    return logits


def init_sites(
    chain_values, *, weight_parameterization, weight_concentration, n_samples,
    empty=None,
):
    """Translate the mixture's starting values into sample-site values.

    Parameters
    ----------
    chain_values : dict of ndarray
        ``weights``, ``means``, ``scales`` and (with correlations)
        ``corr_cholesky``, each with a leading chain axis (see
        :mod:`skbayesmix._initialization`).
    weight_parameterization : {'simplex', 'gamma', 'softmax'}
    weight_concentration : float
    n_samples : int
    empty : ndarray of shape (n_components,), dtype=bool, default=None
        Components that start empty ('softmax' only).

    Returns
    -------
    sites : dict of ndarray
    """
    sites = dict(chain_values)
    if weight_parameterization == "softmax":
        sites["weight_logits"] = softmax_logits(
            sites.pop("weights"), weight_concentration, n_samples, empty=empty
        )
    elif weight_parameterization == "gamma":
        sites["log_gamma_weights"] = np.log(sites.pop("weights"))
    return sites


def to_mixture(samples, *, covariance_type, reg_covar):
    """Weights, means and covariances (``reg_covar`` included) from site draws.

    Parameters
    ----------
    samples : dict of ndarray
        Constrained draws of every site (NumPy), with leading (chain, draw) axes.

    Returns
    -------
    weights, means, covariances : ndarray
        Covariances in scikit-learn's shape for ``covariance_type``.
    """
    covariances = covariance_from_factors(
        samples["scales"], samples.get("corr_cholesky"), reg_covar, covariance_type
    )
    return samples["weights"], samples["means"], covariances
