"""Shared plumbing of the figures: matplotlib, Axes, colours and projections."""

import operator

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from skbayesmix._covariance import full_matrices
from skbayesmix._posterior import mixture_draws

# Posterior draws used for density grids and mean scatters: enough for smooth
# contours, few enough that a 150 x 150 grid stays interactive.
MAX_PLOT_DRAWS = 400


def check_matplotlib_support(caller_name):
    """Raise an ImportError naming ``caller_name`` if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib. You can install matplotlib with "
            "`pip install skbayesmix[plot]`."
        ) from exc


def get_ax(ax):
    """Return ``ax``, or the current Axes if it is None."""
    import matplotlib.pyplot as plt

    return plt.gca() if ax is None else ax


def component_colors(n_components):
    """Colour of each component, as used by every function of this module.

    Parameters
    ----------
    n_components : int

    Returns
    -------
    colors : list of RGBA tuples of length n_components
    """
    import matplotlib as mpl

    cmap = mpl.colormaps["tab10" if n_components <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n_components)]


class Projection:
    """Linear map x -> (x - center) @ matrix.T onto two plotting axes."""

    def __init__(self, matrix, center, labels):
        self.matrix = matrix
        self.center = center
        self.labels = labels

    def points(self, X):
        """Rows (or means, with any leading axes) on the plane, (..., 2)."""
        return (np.asarray(X) - self.center) @ self.matrix.T

    def covariances(self, cov, covariance_type, n_components):
        """Project covariances (any leading axes) to (..., K, 2, 2)."""
        P = self.matrix
        matrices = full_matrices(cov, covariance_type, n_components, P.shape[1])
        return np.einsum("ad,...kde,be->...kab", P, matrices, P)


def feature_names(estimator, X=None):
    """Names of the features, or None when neither the estimator nor X has them.

    The estimator's ``feature_names_in_`` come first (a selector's are those
    of every estimator it fitted), then the string column names of a
    DataFrame ``X``.
    """
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return np.asarray(names, dtype=object)
    return _column_names(X)


def _column_names(X):
    columns = getattr(X, "columns", None)
    if columns is None or not all(isinstance(c, str) for c in columns):
        return None
    return np.asarray(list(columns), dtype=object)


def feature_label(names, index):
    """Name feature ``index``: its column name if known, else ``feature <index>``."""
    return str(names[index]) if names is not None else f"feature {index}"


def feature_index(feature, names, n_features):
    """Column index of ``feature``, given by name or by (possibly negative) index."""
    if isinstance(feature, str):
        if names is None:
            raise ValueError(
                f"Feature {feature!r} is given by name, but the estimator was fitted "
                "without feature names; fit it on a DataFrame, or give column "
                f"indices 0 to {n_features - 1}."
            )
        matches = np.flatnonzero(names == feature)
        if matches.size == 0:
            raise ValueError(
                f"Unknown feature {feature!r}; available features: {list(names)}"
            )
        return int(matches[0])
    try:
        index = operator.index(feature)
    except TypeError:
        raise ValueError(
            f"A feature is a column name or an integer index, got {feature!r}"
        ) from None
    if not -n_features <= index < n_features:
        raise ValueError(f"Feature {index} out of range for n_features = {n_features}")
    return index % n_features


def _pca_projection(est, X):
    # Without data, the components' means span the plane.
    data = est.means_ if X is None or X.shape[0] < 2 else X
    center = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data - center, full_matrices=False)
    matrix = np.zeros((2, est.n_features_in_))
    matrix[: min(2, vt.shape[0])] = vt[:2]
    return Projection(
        matrix, center, ("principal component 1", "principal component 2")
    )


def _feature_projection(est, features, names):
    n_features = est.n_features_in_
    if len(features) != 2:
        raise ValueError(
            f"features must be a pair of column names or indices, or 'pca', got "
            f"{tuple(features)!r}"
        )
    i, j = (feature_index(f, names, n_features) for f in features)
    matrix = np.zeros((2, n_features))
    matrix[0, i] = 1.0
    matrix[1, j] = 1.0
    labels = (feature_label(names, i), feature_label(names, j))
    return Projection(matrix, np.zeros(n_features), labels)


def plane_projection(est, X, features, names=None):
    """Project onto two features, or onto the first two principal components.

    ``features`` is ``'pca'`` or a pair of column names (looked up in ``names``)
    or indices.
    """
    if est.n_features_in_ < 2:
        raise ValueError(
            "This plot needs at least 2 features, got n_features = 1; use "
            "plot_density or plot_assignments, which also draw 1-D data."
        )
    if isinstance(features, str):
        if features != "pca":
            raise ValueError(
                "features must be a pair of column names or indices, or 'pca', got "
                f"{features!r}"
            )
        return _pca_projection(est, X)
    return _feature_projection(est, features, names)


def check_X(est, X, names=None):
    """Validate ``X`` as floats with the fitted number of features (None passes).

    A DataFrame whose column names differ from the fitted ``names`` is rejected,
    as scikit-learn's estimators reject it: its columns would be misread.
    """
    if X is None:
        return None
    columns = _column_names(X)
    if names is not None and columns is not None and list(columns) != list(names):
        raise ValueError(
            f"The columns of X, {list(columns)}, differ from the feature names "
            f"seen at fit, {list(names)}."
        )
    X = check_array(X, dtype=np.float64)
    if X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but the estimator was fitted with "
            f"{est.n_features_in_} features."
        )
    return X


def fitted_estimator(est):
    """Return the fitted BayesianGMM itself, or a selector's ``best_estimator_``."""
    best = getattr(est, "best_estimator_", None)
    if best is not None and hasattr(best, "posterior_samples_"):
        est = best
    check_is_fitted(est, "posterior_samples_")
    return est


def thinned_draws(est, max_draws=MAX_PLOT_DRAWS):
    """Flat posterior draws in data units, evenly thinned to at most ``max_draws``."""
    return est._posterior.flat_samples(max_draws)


def projected_mixture(est, projection, max_draws=MAX_PLOT_DRAWS):
    """Posterior draws of the mixture marginalised onto the projection plane."""
    draws = thinned_draws(est, max_draws)
    covariances = projection.covariances(
        draws["covariances"], est._posterior.covariance_type, draws["weights"].shape[1]
    )
    return mixture_draws(
        draws["weights"], projection.points(draws["means"]), covariances, "full"
    )


def point_covariances(est, projection):
    """Project the posterior mean covariances onto the plane, (K, 2, 2)."""
    return projection.covariances(
        est.covariances_, est.covariance_type, est.weights_.shape[0]
    )


def scatter_data(ax, points, **kwargs):
    """Scatter data points in grey (``kwargs`` override the style)."""
    style = {"s": 10, "color": "0.35", "alpha": 0.6, "linewidths": 0}
    style.update(kwargs)
    return ax.scatter(points[:, 0], points[:, 1], **style)


def label_axes(ax, projection):
    """Label the two axes after the projection's directions."""
    ax.set_xlabel(projection.labels[0])
    ax.set_ylabel(projection.labels[1])
