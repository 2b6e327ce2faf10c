"""K-means start: prior centres and chain starting values (NumPy/scikit-learn only)."""

import numpy as np
from sklearn.cluster import KMeans

# Floor on initial standard deviations, in standardised units, so that a k-means
# cluster with a single (or duplicated) point still starts with a proper covariance.
MIN_INIT_SCALE = 1e-2


def kmeans_start(X, n_components, *, random_state, n_init=3):
    """Cluster standardised data with k-means and summarise each cluster.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    random_state : RandomState
    n_init : int, default=3

    Returns
    -------
    centers : ndarray of shape (n_components, n_features)
    labels : ndarray of shape (n_samples,)
    """
    kmeans = KMeans(n_clusters=n_components, n_init=n_init, random_state=random_state)
    labels = kmeans.fit_predict(X)
    return kmeans.cluster_centers_, labels


def initial_values(X, centers, labels, covariance_type):
    """Constrained starting values of every model site from a hard clustering.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    centers : ndarray of shape (n_components, n_features)
    labels : ndarray of shape (n_samples,)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    values : dict
        ``weights`` (n_components,), ``means`` (n_components, n_features),
        ``scales`` (shape per covariance type) and, for 'full' and 'tied' with more
        than one feature, ``corr_cholesky`` (identity factors).
    """
    n_components, n_features = centers.shape
    counts = np.bincount(labels, minlength=n_components).astype(float)
    # Half a point of pseudo-count keeps every starting weight inside the simplex.
    weights = (counts + 0.5) / (counts.sum() + 0.5 * n_components)
    residuals = X - centers[labels]
    pooled = np.sqrt(np.mean(residuals**2, axis=0))
    pooled = np.maximum(pooled, MIN_INIT_SCALE)
    per_cluster = np.empty((n_components, n_features))
    for k in range(n_components):
        members = residuals[labels == k]
        if len(members) < 2:
            per_cluster[k] = pooled
        else:
            per_cluster[k] = np.sqrt(np.mean(members**2, axis=0))
    per_cluster = np.maximum(per_cluster, MIN_INIT_SCALE)

    if covariance_type in ("full", "diag"):
        scales = per_cluster
    elif covariance_type == "tied":
        scales = pooled
    else:
        scales = np.sqrt(np.mean(per_cluster**2, axis=1))
    values = {"weights": weights, "means": centers.copy(), "scales": scales}
    if n_features > 1 and covariance_type == "full":
        values["corr_cholesky"] = np.tile(np.eye(n_features), (n_components, 1, 1))
    elif n_features > 1 and covariance_type == "tied":
        values["corr_cholesky"] = np.eye(n_features)
    return values


def jittered_chain_values(values, num_chains, random_state, scale=0.05):
    """Copies of ``values`` for each chain, each slightly perturbed.

    Means move by ``scale`` times their component's scale, scales and weights by a
    factor of about ``exp(scale)``, so that chains start apart but in the same mode.

    Returns
    -------
    chain_values : dict
        The same keys as ``values``, each with a leading ``num_chains`` axis.
    """
    rng = random_state
    chains = {}
    for name, value in values.items():
        tiled = np.repeat(value[None], num_chains, axis=0)
        if name == "means":
            spread = np.mean(values["scales"])
            tiled = tiled + scale * spread * rng.standard_normal(tiled.shape)
        elif name == "scales":
            tiled = tiled * np.exp(scale * rng.standard_normal(tiled.shape))
        elif name == "weights":
            tiled = tiled * np.exp(scale * rng.standard_normal(tiled.shape))
            tiled /= tiled.sum(axis=-1, keepdims=True)
        chains[name] = tiled
    return chains
