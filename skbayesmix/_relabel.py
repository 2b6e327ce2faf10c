"""Label-switching correction (pure NumPy/SciPy).

Every posterior draw is permuted so that its components match a common reference
as closely as possible, by optimal assignment on the component means (Stephens'
relabelling idea with a squared-distance loss). The reference starts at the k-means
centres and is then refined to the mean of the relabelled draws.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment

from skbayesmix._covariance import (
    component_variance_features,
    has_component_axis,
    variances,
)
from skbayesmix._settings import RELABEL_WEIGHT_FLOOR


def relabel_features(
    weights, means, covariances, *, covariance_type, overfitted, n_samples
):
    """Per-component features that draws are relabelled on (standardised units).

    The means; in overfitted mixtures also the log weight, floored where a
    component expects ``RELABEL_WEIGHT_FLOOR`` observations, and half the log
    variance of each feature, so that an empty component's mean, a prior draw
    that may sit on top of a cluster, never takes an occupied component's
    label, and clusters that share a centre keep theirs.

    Parameters
    ----------
    weights : ndarray of shape (..., n_components)
    means : ndarray of shape (..., n_components, n_features)
    covariances : ndarray
        In scikit-learn's shape for ``covariance_type``, with the same leading
        axes.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    overfitted : bool
    n_samples : int

    Returns
    -------
    features : ndarray of shape (..., n_components, n_features_relabel)
    """
    if not overfitted:
        return means
    floor = RELABEL_WEIGHT_FLOOR / n_samples
    features = [means, np.log(np.maximum(weights, floor))[..., None]]
    component_variances = component_variance_features(
        variances(covariances, covariance_type), covariance_type
    )
    if component_variances is not None:
        features.append(0.5 * np.log(component_variances))
    return np.concatenate(features, axis=-1)


def relabel_draws(weights, means, covariances, reference, **feature_options):
    """Draws with every draw's components permuted into the reference's order.

    Parameters
    ----------
    weights, means, covariances : ndarray
        Flat draws, each with a leading draw axis.
    reference : ndarray of shape (n_components, n_features_relabel)
        Features of the reference (see :func:`relabel_features`).
    **feature_options
        ``covariance_type``, ``overfitted`` and ``n_samples`` of
        :func:`relabel_features`.

    Returns
    -------
    weights, means, covariances : ndarray
    """
    features = relabel_features(weights, means, covariances, **feature_options)
    permutations = relabel_permutations(features, reference)
    weights = apply_permutations(weights, permutations)
    means = apply_permutations(means, permutations)
    if has_component_axis(feature_options["covariance_type"]):
        covariances = apply_permutations(covariances, permutations)
    return weights, means, covariances


def relabel_permutations(means, reference, *, scale=None, n_iter=3):
    """Permutation of each draw's components that best matches a reference.

    Parameters
    ----------
    means : ndarray of shape (n_draws, n_components, n_features)
        Component means of every draw.
    reference : ndarray of shape (n_components, n_features)
        Reference means, e.g. the k-means centres the priors are centred on.
    scale : ndarray of shape (n_features,), default=None
        Feature scales to measure distances in; None means unit scale.
    n_iter : int, default=3
        Rounds of assignment, each against the mean of the previous relabelling.

    Returns
    -------
    permutations : ndarray of shape (n_draws, n_components)
        ``means[s, permutations[s]]`` are draw ``s``'s components in reference order.
    """
    n_draws, n_components, _ = means.shape
    scale = np.ones(means.shape[-1]) if scale is None else np.asarray(scale)
    scaled = means / scale
    reference = np.asarray(reference) / scale
    permutations = np.tile(np.arange(n_components), (n_draws, 1))
    for _ in range(n_iter):
        # cost[s, k, j]: distance from reference component k to draw component j.
        cost = np.sum((reference[None, :, None, :] - scaled[:, None, :, :]) ** 2, -1)
        new = np.empty_like(permutations)
        for s in range(n_draws):
            new[s] = linear_sum_assignment(cost[s])[1]
        unchanged = np.array_equal(new, permutations)
        permutations = new
        if unchanged:
            break
        reference = np.take_along_axis(scaled, permutations[:, :, None], axis=1).mean(0)
    return permutations


def apply_permutations(draws, permutations, *, component_axis=1):
    """Reorder the component axis of ``draws`` by per-draw ``permutations``.

    Parameters
    ----------
    draws : ndarray of shape (n_draws, ..., n_components, ...)
    permutations : ndarray of shape (n_draws, n_components)
    component_axis : int, default=1
        Position of the component axis in ``draws``.

    Returns
    -------
    relabelled : ndarray, same shape as ``draws``
    """
    index_shape = [1] * draws.ndim
    index_shape[0] = permutations.shape[0]
    index_shape[component_axis] = permutations.shape[1]
    index = permutations.reshape(index_shape)
    return np.take_along_axis(draws, index, axis=component_axis)
