"""Label-switching correction (pure NumPy/SciPy).

Every posterior draw is permuted so that its components match a common reference
as closely as possible, by optimal assignment on the component means (Stephens'
relabelling idea with a squared-distance loss). The reference starts at the k-means
centres and is then refined to the mean of the relabelled draws.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment


def relabel_permutations(means, reference, scale=None, n_iter=3):
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


def apply_permutations(draws, permutations, component_axis=1):
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
