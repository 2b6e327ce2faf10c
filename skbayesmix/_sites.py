"""The model's sample sites and the mixture's parameters, translated (NumPy).

The sampler draws sites in an unconstrained-friendly parameterisation
(stick-breaking or softmax weights, mean offsets, Bartlett factors of the
precisions or scales and LKJ correlations); the rest of the package speaks of
weights, means and covariances. This module translates between the two, so
that no other module knows the site names. The Bartlett formulas take an array
namespace ``xp`` so that the JAX model uses them too.
"""

import numpy as np

from skbayesmix._covariance import covariance_from_factors, regularized

# Sites with one entry per component (for 'tied' covariances, the precision's
# sites are shared); the weights' sticks have one entry fewer.
_COMPONENT_SITES = frozenset({
    "weights", "weight_sticks", "weight_logits", "log_gamma_weights",
    "means", "mean_offsets",
})
_COVARIANCE_SITES = frozenset({
    "precision_log_diagonal", "precision_off_diagonal", "scales", "corr_cholesky",
})


def _per_component(name, covariance_type):
    return name in _COMPONENT_SITES or (
        name in _COVARIANCE_SITES and covariance_type != "tied"
    )


# The 'softmax' weights stretch their scale below the log weight at which a
# component expects exp(-WEIGHT_TAIL_OFFSET) observations (see _stretch_tail).
WEIGHT_TAIL_OFFSET = 3.0


def bartlett_factor(log_diagonal, off_diagonal, *, xp=np):
    """Lower-triangular ``A`` with ``exp(log_diagonal)`` on its diagonal.

    ``off_diagonal`` (..., D(D-1)/2) fills the strictly lower triangle row by
    row (NumPy's ``tril_indices(D, -1)`` order); None for one feature.
    """
    n_features = log_diagonal.shape[-1]
    factor = xp.exp(log_diagonal)[..., None] * xp.eye(n_features)
    if off_diagonal is None:
        return factor
    rows, cols = np.tril_indices(n_features, -1)
    if xp is np:
        factor[..., rows, cols] = off_diagonal
        return factor
    return factor.at[..., rows, cols].set(off_diagonal)


def covariance_from_bartlett(log_diagonal, off_diagonal, root, *, xp=np):
    """Covariance ``R (A A')^-1 R'`` of a Bartlett factor ``A`` relative to ``R``.

    If the diagonal entries of ``A`` squared are chi-square with ``dof - i``
    degrees of freedom (i = 0..D-1) and the others standard normal, ``A A'``
    is Wishart(dof, I) and the covariance inverse-Wishart(dof, R R')
    (Bartlett's decomposition); the model gives ``A`` another density when
    its root is not the prior's.

    Parameters
    ----------
    log_diagonal : array of shape (..., D)
    off_diagonal : array of shape (..., D(D-1)/2) or None
    root : array of shape (..., D, D)
        Lower-triangular, broadcast against the factors.
    xp : module, default=numpy
    """
    inverse = xp.linalg.inv(bartlett_factor(log_diagonal, off_diagonal, xp=xp))
    factor = inverse @ xp.swapaxes(root, -1, -2)
    return xp.swapaxes(factor, -1, -2) @ factor


def bartlett_from_covariances(covariances, root):
    """Inverse of :func:`covariance_from_bartlett`: (log_diagonal, off_diagonal).

    ``off_diagonal`` is None for one feature.
    """
    covariances = np.asarray(covariances, dtype=float)
    root = np.asarray(root, dtype=float)
    precision = np.swapaxes(root, -1, -2) @ np.linalg.inv(covariances) @ root
    factor = np.linalg.cholesky(precision)
    n_features = covariances.shape[-1]
    log_diagonal = np.log(np.diagonal(factor, axis1=-2, axis2=-1))
    if n_features == 1:
        return log_diagonal, None
    rows, cols = np.tril_indices(n_features, -1)
    return log_diagonal, factor[..., rows, cols]


def stick_breaking_coordinates(weights):
    """Sticks of the 'simplex' parameterisation for given weights.

    The inverse of NumPyro's ``StickBreakingTransform`` (and of the model's
    stick-breaking), in NumPy.

    Parameters
    ----------
    weights : ndarray of shape (..., n_components)

    Returns
    -------
    sticks : ndarray of shape (..., n_components - 1)
    """
    weights = np.asarray(weights, dtype=float)
    taken = weights[..., :-1]
    # logit(taken / left before) = log(taken / left after).
    left = np.maximum(1.0 - np.cumsum(taken, axis=-1), np.finfo(float).tiny)
    n_sticks = taken.shape[-1]
    return np.log(taken / left) + np.log(n_sticks - np.arange(n_sticks))


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
    chain_values, prior, *, weight_parameterization, covariance_type,
    covariance_prior, n_samples, empty=None,
):
    """Translate the mixture's starting values into sample-site values.

    Parameters
    ----------
    chain_values : dict of ndarray
        ``weights``, ``means``, ``scales`` and (with correlations)
        ``corr_cholesky``, each with a leading chain axis (see
        :mod:`skbayesmix._initialization`).
    prior : dict
        The model's hyper-parameters (see :func:`gmm_model`): the means start
        as offsets from ``mean_prior_loc`` relative to ``mean_root``, and with
        'wishart', 'full' and 'tied' covariances as the Bartlett factors of
        their precisions relative to ``component_root``.
    weight_parameterization : {'simplex', 'gamma', 'softmax'}
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    covariance_prior : {'wishart', 'lkj'}
    n_samples : int
    empty : ndarray of shape (n_components,), dtype=bool, default=None
        Components that start empty ('softmax' only).

    Returns
    -------
    sites : dict of ndarray
    """
    sites = dict(chain_values)
    root = np.asarray(prior["component_root"], dtype=float)
    offsets = sites.pop("means") - np.asarray(prior["mean_prior_loc"], dtype=float)
    sites["mean_offsets"] = np.einsum("...ij,...j->...i", np.linalg.inv(root), offsets)
    if covariance_prior == "wishart" and covariance_type in ("full", "tied"):
        covariances = covariance_from_factors(
            sites.pop("scales"), sites.pop("corr_cholesky", None), 0.0,
            covariance_type,
        )
        log_diagonal, off_diagonal = bartlett_from_covariances(
            covariances, prior["component_root"]
        )
        sites["precision_log_diagonal"] = log_diagonal
        if off_diagonal is not None:
            sites["precision_off_diagonal"] = off_diagonal
    weight_concentration = float(prior["weight_concentration"])
    if weight_parameterization == "simplex":
        sites["weight_sticks"] = stick_breaking_coordinates(sites.pop("weights"))
    elif weight_parameterization == "softmax":
        sites["weight_logits"] = softmax_logits(
            sites.pop("weights"), weight_concentration, n_samples, empty=empty
        )
    elif weight_parameterization == "gamma":
        sites["log_gamma_weights"] = np.log(sites.pop("weights"))
    return sites


def pad_sites(sites, n_sampled, *, covariance_type, covariance_prior):
    """Append padded components to the chains' starting site values.

    Padded components (see :func:`skbayesmix._model.gmm_model`) start at zero
    in unconstrained space, the mode of their standard normal, and stay there
    (see ``skbayesmix._inference._freeze_padding``).

    Parameters
    ----------
    sites : dict of ndarray
        As returned by :func:`init_sites`, with a leading chain axis.
    n_sampled : int
        Components the sampler runs, real and padded.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    covariance_prior : {'wishart', 'lkj'}

    Returns
    -------
    sites : dict of ndarray
    """
    n_components = sites["mean_offsets"].shape[1]
    extra = n_sampled - n_components
    if extra == 0:
        return dict(sites)
    if covariance_prior != "wishart":
        raise ValueError("Only the 'wishart' covariance prior has padded components.")
    padded = {}
    for name, value in sites.items():
        if _per_component(name, covariance_type):
            widths = [(0, 0)] * value.ndim
            widths[1] = (0, extra)
            # A positive scale is exp of its unconstrained value.
            value = np.pad(value, widths, constant_values=float(name == "scales"))
        padded[name] = value
    return padded


def padded_entries(sites, n_real, covariance_type, *, xp=np):
    """Which entries of one chain's site values belong to padded components.

    Parameters
    ----------
    sites : dict of array
        Unconstrained site values of one chain (no chain axis).
    n_real : int or array
        How many leading components are real.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    xp : module, default=numpy

    Returns
    -------
    padded : dict of bool array
        Shaped as ``sites``.
    """
    padded = {}
    for name, value in sites.items():
        if _per_component(name, covariance_type):
            n_kept = n_real - (name == "weight_sticks")
            index = xp.arange(value.shape[0]).reshape((-1,) + (1,) * (value.ndim - 1))
            padded[name] = xp.broadcast_to(index >= n_kept, value.shape)
        else:
            padded[name] = xp.zeros(value.shape, dtype=bool)
    return padded


def real_components(samples, n_components, covariance_type):
    """Draws of the first ``n_components`` (the real ones) of every site.

    Parameters
    ----------
    samples : dict of ndarray
        Draws with leading (chain, draw) axes, padded components included.
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    samples : dict of ndarray
    """
    real = {}
    for name, value in samples.items():
        if _per_component(name, covariance_type):
            value = value[:, :, : n_components - (name == "weight_sticks")]
        real[name] = value
    return real


def to_mixture(samples, *, covariance_type, reg_covar, component_root=None):
    """Weights, means and covariances (``reg_covar`` included) from site draws.

    Parameters
    ----------
    samples : dict of ndarray
        Constrained draws of every site (NumPy), with leading (chain, draw) axes.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    reg_covar : float or ndarray
        A number, or shaped like one covariance of the type.
    component_root : ndarray, default=None
        The roots the Bartlett factors are relative to (when sampled).

    Returns
    -------
    weights, means, covariances : ndarray
        Covariances in scikit-learn's shape for ``covariance_type``.
    """
    if "precision_log_diagonal" in samples:
        covariances = covariance_from_bartlett(
            samples["precision_log_diagonal"],
            samples.get("precision_off_diagonal"),
            component_root,
        )
        covariances = regularized(covariances, reg_covar, covariance_type)
    else:
        covariances = covariance_from_factors(
            samples["scales"], samples.get("corr_cholesky"), reg_covar,
            covariance_type,
        )
    return samples["weights"], samples["means"], covariances
