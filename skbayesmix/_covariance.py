"""Per-covariance-type logic, dispatched by dict (pure NumPy).

As in scikit-learn's ``sklearn/mixture/_gaussian_mixture.py``, every function that
depends on the covariance type looks its kernel up in a dict keyed by
``covariance_type``; callers never branch. Covariances are in scikit-learn's
shapes, with any leading batch axes (for example (chain, draw)):

- 'full': (..., n_components, n_features, n_features)
- 'tied': (..., n_features, n_features)
- 'diag': (..., n_components, n_features)
- 'spherical': (..., n_components)
"""

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

# Points a component needs for a non-singular covariance estimate.
_MIN_COUNT = {
    "full": lambda n_features: n_features + 1,
    "tied": lambda n_features: 1,
    "diag": lambda n_features: 2,
    "spherical": lambda n_features: 2,
}


def n_parameters(n_components, n_features, covariance_type):
    """Free parameters of a Gaussian mixture, counted as GaussianMixture does."""
    k, d = n_components, n_features
    cov_params = {
        "full": k * d * (d + 1) // 2,
        "diag": k * d,
        "tied": d * (d + 1) // 2,
        "spherical": k,
    }[covariance_type]
    return cov_params + d * k + k - 1


def min_component_count(n_features, covariance_type):
    """Fewest points a component needs for a non-singular covariance."""
    return _MIN_COUNT[covariance_type](n_features)


# ---------------------------------------------------------------- factorisations


def _matrix_from_factors(scales, corr_cholesky, reg_covar, xp, n_components):
    if corr_cholesky is None:  # one feature: no correlation to model
        chol = scales[..., None]
    else:
        chol = scales[..., :, None] * corr_cholesky
    if n_components is not None:  # a shared (tied) factor, one copy per component
        chol = xp.broadcast_to(chol, (n_components,) + chol.shape)
    return regularized(chol @ xp.swapaxes(chol, -1, -2), reg_covar, "full", xp=xp)


def regularized(covariances, reg_covar, covariance_type, *, xp=np):
    """Add ``reg_covar`` to covariances in the type's shape.

    ``reg_covar`` is a number (times the identity for 'full' and 'tied') or
    an array shaped like one covariance of the type (see
    :meth:`~skbayesmix._standardize.Standardization.regularization`).
    """
    if covariance_type in ("full", "tied") and xp.ndim(reg_covar) == 0:
        reg_covar = reg_covar * xp.eye(covariances.shape[-1])
    return covariances + reg_covar


def _variances_from_scales(scales, corr_cholesky, reg_covar, xp, n_components):
    return scales**2 + reg_covar


_FROM_FACTORS = {
    "full": _matrix_from_factors,
    "tied": _matrix_from_factors,
    "diag": _variances_from_scales,
    "spherical": _variances_from_scales,
}


def covariance_from_factors(
    scales, corr_cholesky, reg_covar, covariance_type, *, xp=np, n_components=None
):
    """Covariances from standard deviations and correlation Cholesky factors.

    ``Sigma = diag(s) L L' diag(s) + reg_covar`` for 'full' and 'tied',
    ``s**2 + reg_covar`` for 'diag' and 'spherical'. ``xp`` is the array
    namespace (NumPy, or ``jax.numpy`` inside the model), so the model and the
    fitted estimator share one formula.

    Parameters
    ----------
    scales : array
        Standard deviations: (..., K, D) for 'full' and 'diag', (..., D) for
        'tied', (..., K) for 'spherical'.
    corr_cholesky : array or None
        Lower Cholesky factors of the correlations, (..., D, D) per scale
        vector; None for one feature and for 'diag' and 'spherical'.
    reg_covar : float or array
        Added to every covariance: a number (times the identity), or an array
        shaped like one covariance of the type, (D, D) or (D,) (see
        :meth:`~skbayesmix._standardize.Standardization.regularization`).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    xp : module, default=numpy
    n_components : int, default=None
        For 'tied' only: repeat the shared matrix once per component (the
        model's likelihood takes one matrix per component).

    Returns
    -------
    covariances : array in scikit-learn's shape for ``covariance_type``
    """
    return _FROM_FACTORS[covariance_type](
        scales, corr_cholesky, reg_covar, xp, n_components
    )


def _matrix_precision_cholesky(covariances):
    try:
        cov_chol = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            "A posterior covariance matrix is not positive definite; "
            "increase reg_covar."
        ) from exc
    # One batched solve: a Python loop of solve_triangular calls took seconds
    # for a few thousand draws. tril removes rounding above the diagonal, so
    # the factors are exactly upper triangular like scikit-learn's.
    eye = np.broadcast_to(np.eye(covariances.shape[-1]), covariances.shape)
    inverse = np.tril(np.linalg.solve(cov_chol, eye))
    return np.swapaxes(inverse, -1, -2)


def _variance_precision_cholesky(covariances):
    if np.any(covariances <= 0):
        raise ValueError("A posterior variance is not positive; increase reg_covar.")
    return 1.0 / np.sqrt(covariances)


_PRECISION_CHOLESKY = {
    "full": _matrix_precision_cholesky,
    "tied": _matrix_precision_cholesky,
    "diag": _variance_precision_cholesky,
    "spherical": _variance_precision_cholesky,
}


def precision_cholesky(covariances, covariance_type):
    """Upper-triangular precision Cholesky factors, as scikit-learn stores them.

    Raises
    ------
    ValueError
        If a covariance is not positive definite.
    """
    return _PRECISION_CHOLESKY[covariance_type](covariances)


_FROM_CHOLESKY = {
    "full": lambda chol: chol @ np.swapaxes(chol, -1, -2),
    "tied": lambda chol: chol @ np.swapaxes(chol, -1, -2),
    "diag": lambda chol: chol**2,
    "spherical": lambda chol: chol**2,
}


def precisions_from_cholesky(precisions_cholesky, covariance_type):
    """Precisions ``P P'`` (matrices) or ``p**2`` (variances) from their factors."""
    return _FROM_CHOLESKY[covariance_type](precisions_cholesky)


_INVERSE = {
    "full": np.linalg.inv,
    "tied": np.linalg.inv,
    "diag": lambda covariances: 1.0 / covariances,
    "spherical": lambda covariances: 1.0 / covariances,
}


def inverse(covariances, covariance_type):
    """Precisions: inverse matrices, or reciprocal variances."""
    return _INVERSE[covariance_type](covariances)


# ------------------------------------------------------------- full-matrix views


def _full_from_full(values, n_components, n_features):
    return values


def _full_from_tied(values, n_components, n_features):
    lead = values.shape[:-2]
    return np.broadcast_to(
        values[..., None, :, :], lead + (n_components, n_features, n_features)
    )


def _full_from_diag(values, n_components, n_features):
    return values[..., None, :] * np.eye(n_features)


def _full_from_spherical(values, n_components, n_features):
    return _full_from_diag(
        np.repeat(values[..., None], n_features, axis=-1), n_components, n_features
    )


_FULL = {
    "full": _full_from_full,
    "tied": _full_from_tied,
    "diag": _full_from_diag,
    "spherical": _full_from_spherical,
}


def full_matrices(values, covariance_type, n_components, n_features):
    """(..., K, D, D) matrices from covariances or precision factors of any type.

    Works for any quantity stored in the covariance type's shape whose matrix
    form is diagonal for 'diag' and 'spherical' (covariances, precisions and
    their Cholesky factors alike). 'tied' is broadcast, not copied.
    """
    return _FULL[covariance_type](np.asarray(values), n_components, n_features)


def _diagonal_of_matrix(values):
    return np.diagonal(values, axis1=-2, axis2=-1)


_DIAGONAL = {
    "full": _diagonal_of_matrix,
    "tied": _diagonal_of_matrix,
    "diag": lambda values: values,
    "spherical": lambda values: values,
}


def variances(covariances, covariance_type):
    """Per-feature variances: (..., K, D), (..., D) for 'tied', (..., K) spherical."""
    return _DIAGONAL[covariance_type](covariances)


_COMPONENT_VARIANCE_FEATURES = {
    "full": lambda variances: variances,
    "diag": lambda variances: variances,
    "spherical": lambda variances: variances[..., None],
    "tied": lambda variances: None,
}


def component_variance_features(variances, covariance_type):
    """Per-component variances as (..., K, n) columns, or None for 'tied'.

    ``variances`` as returned by :func:`variances`; a tied covariance has no
    per-component variance to tell components apart.
    """
    return _COMPONENT_VARIANCE_FEATURES[covariance_type](variances)


def _min_matrix_variance(covariances):
    return np.linalg.eigvalsh(covariances)[..., 0]


_MIN_VARIANCE = {
    "full": _min_matrix_variance,
    "tied": _min_matrix_variance,
    "diag": lambda covariances: covariances.min(axis=-1),
    "spherical": lambda covariances: covariances,
}


def min_variance(covariances, covariance_type):
    """Smallest variance along any direction, per component (or shared)."""
    return _MIN_VARIANCE[covariance_type](covariances)


# --------------------------------------------------------------- unit conversion

_UNIT_FACTOR = {
    "full": lambda scale: scale[:, None] * scale[None, :],
    "tied": lambda scale: scale[:, None] * scale[None, :],
    "diag": lambda scale: scale**2,
    # A spherical fit is standardised with one common scale.
    "spherical": lambda scale: scale[0] ** 2,
}


def unit_factor(scale, covariance_type):
    """Factor that multiplies standardised covariances into data units.

    Broadcasts against covariances in the covariance type's shape, for data
    scaled per feature by ``scale`` (one common value for 'spherical').
    """
    return _UNIT_FACTOR[covariance_type](np.asarray(scale))


# ------------------------------------------------------- per-component sampling


def _matrix_noise(covariances, draw_index, labels, noise, per_component):
    # Index draw and component together: covariances[draw_index] alone would
    # copy every component's matrix for every row, (n, K, D, D).
    cov = covariances[draw_index, labels] if per_component else covariances[draw_index]
    return np.einsum("nij,nj->ni", np.linalg.cholesky(cov), noise)


def _diag_noise(covariances, draw_index, labels, noise, per_component):
    return noise * np.sqrt(covariances[draw_index, labels])


def _spherical_noise(covariances, draw_index, labels, noise, per_component):
    return noise * np.sqrt(covariances[draw_index, labels])[:, None]


_NOISE = {
    "full": lambda *args: _matrix_noise(*args, per_component=True),
    "tied": lambda *args: _matrix_noise(*args, per_component=False),
    "diag": lambda *args: _diag_noise(*args, per_component=True),
    "spherical": lambda *args: _spherical_noise(*args, per_component=True),
}


def correlate_noise(covariances, draw_index, labels, noise, covariance_type):
    """Scale standard normal ``noise`` by the covariance each row is drawn from.

    Parameters
    ----------
    covariances : ndarray
        Flat draws, (n_draws, ...) in the covariance type's shape.
    draw_index, labels : ndarray of shape (n_samples,)
        Draw and component of every row.
    noise : ndarray of shape (n_samples, n_features)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    """
    return _NOISE[covariance_type](covariances, draw_index, labels, noise)


# ------------------------------------------------------ starting-value factors


_CLUSTER_SCALES = {
    "full": lambda per_cluster, pooled: per_cluster,
    "diag": lambda per_cluster, pooled: per_cluster,
    "tied": lambda per_cluster, pooled: pooled,
    "spherical": lambda per_cluster, pooled: np.sqrt(np.mean(per_cluster**2, axis=1)),
}

_IDENTITY_CORRELATIONS = {
    "full": lambda n_components, eye: np.tile(eye, (n_components, 1, 1)),
    "tied": lambda n_components, eye: eye,
    "diag": lambda n_components, eye: None,
    "spherical": lambda n_components, eye: None,
}


def factors_from_clusters(per_cluster, pooled, covariance_type):
    """Scales and (identity) correlation factors of a hard clustering's start.

    Parameters
    ----------
    per_cluster : ndarray of shape (n_components, n_features)
        Standard deviation of every feature within every cluster.
    pooled : ndarray of shape (n_features,)
        Standard deviation of every feature around its cluster's centre.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    scales : ndarray
        As :func:`covariance_from_factors` takes them.
    corr_cholesky : ndarray or None
    """
    n_components, n_features = per_cluster.shape
    scales = _CLUSTER_SCALES[covariance_type](per_cluster, pooled)
    if n_features == 1:  # one feature: no correlation to model
        return scales, None
    eye = np.eye(n_features)
    return scales, _IDENTITY_CORRELATIONS[covariance_type](n_components, eye)


def _matrix_factors(covariances, min_scale, shrinkage):
    std = np.sqrt(np.diagonal(covariances, axis1=-2, axis2=-1))
    scales = np.maximum(std, min_scale)
    if covariances.shape[-1] == 1:
        return scales, None
    # Correlations from the unfloored deviations (a floored one would shrink the
    # diagonal below 1); a feature without spread is uncorrelated.
    safe = np.where(std > 0, std, 1.0)
    corr = covariances / (safe[..., :, None] * safe[..., None, :])
    diagonal = np.arange(covariances.shape[-1])
    corr[..., diagonal, diagonal] = np.where(
        std > 0, corr[..., diagonal, diagonal], 1.0
    )
    corr = (1.0 - shrinkage) * corr + shrinkage * np.eye(covariances.shape[-1])
    return scales, np.linalg.cholesky(corr)


def _variance_factors(covariances, min_scale, shrinkage):
    return np.maximum(np.sqrt(covariances), min_scale), None


_FACTORS = {
    "full": _matrix_factors,
    "tied": _matrix_factors,
    "diag": _variance_factors,
    "spherical": _variance_factors,
}


def factors_from_covariances(covariances, covariance_type, *, min_scale, shrinkage):
    """Scales and correlation Cholesky factors that rebuild ``covariances``.

    Scales are floored at ``min_scale``; correlations are shrunk by the fraction
    ``shrinkage`` towards the identity, which keeps a nearly degenerate start
    well inside the support of the LKJ prior. The inverse, up to the floor and
    the shrinkage, of :func:`covariance_from_factors`.
    """
    return _FACTORS[covariance_type](
        np.asarray(covariances, dtype=float), min_scale, shrinkage
    )


def pad_components(covariances, n_surplus, data_covariance, covariance_type):
    """Covariances of a fit with ``n_surplus`` more components, each the data's.

    A tied covariance is shared and needs no padding.
    """
    padding = {
        "full": lambda: np.repeat(data_covariance[None], n_surplus, 0),
        "diag": lambda: np.repeat(np.diag(data_covariance)[None], n_surplus, 0),
        "spherical": lambda: np.full(n_surplus, np.mean(np.diag(data_covariance))),
        "tied": lambda: None,
    }[covariance_type]()
    if padding is None:
        return covariances
    return np.concatenate([covariances, padding])


_PRIOR_SCALE = {
    "full": lambda pooled: pooled,
    "tied": lambda pooled: pooled,
    "diag": lambda pooled: np.diag(pooled).copy(),
    "spherical": lambda pooled: np.float64(np.mean(np.diag(pooled))),
}


def typed_covariance(matrix, covariance_type):
    """One (D, D) covariance in the type's shape of one covariance.

    (D, D) for 'full' and 'tied', its diagonal for 'diag', the mean of its
    diagonal for 'spherical'.
    """
    return _PRIOR_SCALE[covariance_type](np.asarray(matrix, dtype=float))


_FEATURE_SCALE = {
    "full": lambda std: std,
    "tied": lambda std: std,
    "diag": lambda std: std,
    # One common scale keeps isotropic components isotropic.
    "spherical": lambda std: np.full(std.shape, np.sqrt(np.mean(std**2))),
}


def feature_scale(std, covariance_type):
    """Per-feature scale of the standardising map, from the features' spreads."""
    return _FEATURE_SCALE[covariance_type](std)


def has_component_axis(covariance_type):
    """Whether covariances carry a component axis (all but 'tied')."""
    return covariance_type != "tied"
