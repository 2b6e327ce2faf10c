"""Figures for fitted Bayesian Gaussian mixtures (needs matplotlib).

Every function draws on one :class:`matplotlib.axes.Axes` (``ax=None`` draws on
the current Axes) and returns it, so figures compose like scikit-learn's and
ArviZ's. Data with more than two features are shown either on two chosen
features, ``features=(i, j)``, or on the first two principal components of the
data, ``features="pca"``. A linear projection of a Gaussian mixture is a Gaussian
mixture, so ellipses and density contours drawn on a projection are exact
marginals of the fitted model, not approximations.

Components are coloured consistently across functions: component ``k`` has the
``k``-th colour of matplotlib's ``tab10`` (``tab20`` beyond ten components).
"""

import contextlib
import warnings

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from skbayesmix._density import (
    MixtureDraws,
    compute_precision_cholesky,
    log_predictive_density,
)

__all__ = [
    "plot_assignments",
    "plot_components",
    "plot_criterion",
    "plot_density",
    "plot_mean_posterior",
    "plot_rank",
    "plot_trace",
]

# Posterior draws used for density grids and mean scatters: enough for smooth
# contours, few enough that a 150 x 150 grid stays interactive.
_MAX_PLOT_DRAWS = 400


def check_matplotlib_support(caller_name):
    """Raise an ImportError naming ``caller_name`` if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib. You can install matplotlib with "
            "`pip install skbayesmix[plot]`."
        ) from exc


def _get_ax(ax):
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


class _Projection:
    """Linear map x -> (x - center) @ matrix.T onto two plotting axes."""

    def __init__(self, matrix, center, labels):
        self.matrix = matrix
        self.center = center
        self.labels = labels

    def points(self, X):
        return (np.asarray(X) - self.center) @ self.matrix.T

    def covariances(self, cov, covariance_type, n_components):
        """Project covariances (any leading axes) to (..., K, 2, 2)."""
        P = self.matrix
        if covariance_type == "full":
            return np.einsum("ad,...kde,be->...kab", P, cov, P)
        if covariance_type == "tied":
            proj = np.einsum("ad,...de,be->...ab", P, cov, P)[..., None, :, :]
            return np.broadcast_to(proj, proj.shape[:-3] + (n_components, 2, 2)).copy()
        if covariance_type == "diag":
            return np.einsum("ad,...kd,bd->...kab", P, cov, P)
        return cov[..., None, None] * (P @ P.T)


def _feature_label(est, index):
    names = getattr(est, "feature_names_in_", None)
    return str(names[index]) if names is not None else f"feature {index}"


def _projection(est, X, features):
    n_features = est.n_features_in_
    if n_features < 2:
        raise ValueError(
            "This plot needs at least 2 features, got n_features = 1; use "
            "plot_density or plot_assignments, which also draw 1-D data."
        )
    if isinstance(features, str):
        if features != "pca":
            raise ValueError(
                f"features must be a pair of column indices or 'pca', got {features!r}"
            )
        # Without data, the components' means span the plane.
        data = est.means_ if X is None or X.shape[0] < 2 else X
        center = data.mean(axis=0)
        _, _, vt = np.linalg.svd(data - center, full_matrices=False)
        matrix = np.zeros((2, n_features))
        matrix[: min(2, vt.shape[0])] = vt[:2]
        return _Projection(
            matrix, center, ("principal component 1", "principal component 2")
        )
    i, j = (int(f) for f in features)
    for f in (i, j):
        if not -n_features <= f < n_features:
            raise ValueError(
                f"features {tuple(features)} out of range for n_features = {n_features}"
            )
    matrix = np.zeros((2, n_features))
    matrix[0, i] = 1.0
    matrix[1, j] = 1.0
    labels = (_feature_label(est, i % n_features), _feature_label(est, j % n_features))
    return _Projection(matrix, np.zeros(n_features), labels)


def _check_X(est, X):
    if X is None:
        return None
    X = check_array(X, dtype=np.float64)
    if X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but the estimator was fitted with "
            f"{est.n_features_in_} features."
        )
    return X


def _fitted_estimator(est):
    """Return the fitted BayesianGMM itself, or a selector's ``best_estimator_``."""
    best = getattr(est, "best_estimator_", None)
    if best is not None and hasattr(best, "posterior_samples_"):
        est = best
    check_is_fitted(est, "posterior_samples_")
    return est


def _thinned_draws(est, max_draws=_MAX_PLOT_DRAWS):
    """Flattened posterior draws, evenly thinned to at most ``max_draws``."""
    samples = est.posterior_samples_
    flat = {
        name: value.reshape((-1,) + value.shape[2:]) for name, value in samples.items()
    }
    n_draws = flat["weights"].shape[0]
    index = np.unique(np.linspace(0, n_draws - 1, min(n_draws, max_draws)).astype(int))
    return {name: value[index] for name, value in flat.items()}


def _projected_mixture(est, projection, max_draws=_MAX_PLOT_DRAWS):
    """Posterior draws of the mixture marginalised onto the projection plane."""
    draws = _thinned_draws(est, max_draws)
    n_components = draws["weights"].shape[1]
    means = projection.points(draws["means"])
    covariances = projection.covariances(
        draws["covariances"], est.covariance_type, n_components
    )
    return MixtureDraws(
        weights=draws["weights"],
        means=means,
        precisions_cholesky=compute_precision_cholesky(covariances, "full"),
        covariance_type="full",
    )


def _scatter_data(ax, points, **kwargs):
    style = {"s": 10, "color": "0.35", "alpha": 0.6, "linewidths": 0}
    style.update(kwargs)
    return ax.scatter(points[:, 0], points[:, 1], **style)


def _label_axes(ax, projection):
    ax.set_xlabel(projection.labels[0])
    ax.set_ylabel(projection.labels[1])


def plot_components(
    estimator,
    X=None,
    *,
    n_std=2.0,
    features=(0, 1),
    min_weight=0.01,
    show_means=True,
    ax=None,
):
    """Draw each component as an ellipse at ``n_std`` standard deviations.

    As BayesPy's ``gaussian_mixture_2d``: the ellipse of component ``k`` encloses
    the points within ``n_std`` standard deviations (Mahalanobis distance) of its
    posterior mean, and its opacity grows with the component's weight.
    Components whose posterior mean weight is below ``min_weight`` are skipped,
    so the empty components of an overfitted mixture do not clutter the figure.

    Parameters
    ----------
    estimator : BayesianGMM or BayesianGMMSelector
        Fitted estimator (a selector's ``best_estimator_`` is used).
    X : array-like of shape (n_samples, n_features), default=None
        Data to scatter underneath, in grey.
    n_std : float, default=2.0
        Number of standard deviations the ellipses span.
    features : tuple of two int or 'pca', default=(0, 1)
        Features to plot, or the first two principal components of ``X``.
    min_weight : float, default=0.01
        Components with a smaller posterior mean weight are not drawn.
    show_means : bool, default=True
        Mark each drawn component's mean with a cross.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None uses the current Axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
        Holds one :class:`matplotlib.patches.Ellipse` per drawn component.
    """
    check_matplotlib_support("plot_components")
    from matplotlib.patches import Ellipse

    est = _fitted_estimator(estimator)
    X = _check_X(est, X)
    ax = _get_ax(ax)
    projection = _projection(est, X, features)
    weights = est.weights_
    n_components = weights.shape[0]
    means = projection.points(est.means_)
    covariances = projection.covariances(
        est.covariances_, est.covariance_type, n_components
    )
    colors = component_colors(n_components)
    if X is not None:
        _scatter_data(ax, projection.points(X))
    shown = [k for k in range(n_components) if weights[k] >= min_weight]
    for k in shown:
        eigval, eigvec = np.linalg.eigh(covariances[k])
        eigval = np.clip(eigval, 0.0, None)
        angle = np.degrees(np.arctan2(eigvec[1, 1], eigvec[0, 1]))
        width, height = 2.0 * n_std * np.sqrt(eigval[::-1])
        alpha = 0.15 + 0.35 * weights[k] / weights.max()
        ax.add_patch(
            Ellipse(
                means[k],
                width,
                height,
                angle=angle,
                facecolor=colors[k],
                alpha=alpha,
                edgecolor="none",
                label=None,
            )
        )
        ax.add_patch(
            Ellipse(
                means[k],
                width,
                height,
                angle=angle,
                facecolor="none",
                edgecolor=colors[k],
                linewidth=1.5,
                label=f"component {k} (w = {weights[k]:.2f})",
            )
        )
    if show_means and shown:
        ax.scatter(
            means[shown, 0],
            means[shown, 1],
            marker="x",
            s=50,
            linewidths=2,
            c=[colors[k] for k in shown],
            zorder=3,
        )
    ax.autoscale_view()
    _label_axes(ax, projection)
    ax.set_title(
        f"{len(shown)} of {n_components} components (weight >= {min_weight:g}), "
        f"{n_std:g} std"
    )
    return ax


def plot_density(
    estimator,
    X=None,
    *,
    features=(0, 1),
    grid_size=150,
    levels=12,
    log=True,
    cmap="viridis",
    margin=0.1,
    ax=None,
):
    """Contours of the posterior predictive density over the data.

    The density is ``mean_s p(x | theta_s)`` over (up to 400 evenly thinned)
    posterior draws: the mixture averaged over the posterior, not the mixture at
    averaged parameters. With more than two features it is the exact marginal
    density on the plotted plane.

    Parameters
    ----------
    estimator : BayesianGMM or BayesianGMMSelector
        Fitted estimator.
    X : array-like of shape (n_samples, n_features), default=None
        Data scattered over the contours; also sets the plotting range. None
        uses the range of the component means and covariances.
    features : tuple of two int or 'pca', default=(0, 1)
        Features to plot, or the first two principal components of ``X``.
        Ignored for one-feature data, which is drawn as a density curve.
    grid_size : int, default=150
        Grid points per axis.
    levels : int or array-like, default=12
        Contour levels, passed to :meth:`~matplotlib.axes.Axes.contour`.
    log : bool, default=True
        Contour the log-density (as the Turing tutorial does) rather than the
        density.
    cmap : str, default='viridis'
        Colour map of the contours.
    margin : float, default=0.1
        Fraction of the data range added on each side of the grid.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None uses the current Axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
        Holds a :class:`~matplotlib.contour.QuadContourSet` (2-D) or a line (1-D).
    """
    check_matplotlib_support("plot_density")
    est = _fitted_estimator(estimator)
    X = _check_X(est, X)
    ax = _get_ax(ax)
    if est.n_features_in_ == 1:
        return _plot_density_1d(est, X, grid_size, log, margin, ax)
    projection = _projection(est, X, features)
    draws = _projected_mixture(est, projection)
    points = draws.means.reshape(-1, 2) if X is None else projection.points(X)
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = margin * np.where(hi > lo, hi - lo, 1.0)
    if X is None:
        pad = pad + 3.0 * np.sqrt(
            np.max(np.diagonal(_mean_covariance(est, projection), 0, -2, -1), axis=0)
        )
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid_size)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid_size)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    log_density = log_predictive_density(grid, draws).reshape(xx.shape)
    if log:
        # Below ~20 nats under the peak the contours only trace numerical noise.
        values = np.maximum(log_density, log_density.max() - 20.0)
        label = "log posterior predictive density"
    else:
        values = np.exp(log_density)
        label = "posterior predictive density"
    contours = ax.contour(xx, yy, values, levels=levels, cmap=cmap, linewidths=1.0)
    if X is not None:
        _scatter_data(ax, points, color="k", s=8, alpha=0.7)
    _label_axes(ax, projection)
    ax.set_title(label)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    contours.set_label(label)
    return ax


def _mean_covariance(est, projection):
    return projection.covariances(
        est.covariances_, est.covariance_type, est.weights_.shape[0]
    )


def _plot_density_1d(est, X, grid_size, log, margin, ax):
    samples = _thinned_draws(est)
    weights, means = samples["weights"], samples["means"]
    covariances = samples["covariances"]
    if est.covariance_type == "tied":
        variances = np.broadcast_to(covariances[:, :1, 0], weights.shape)
    elif est.covariance_type in ("full", "diag"):
        variances = covariances.reshape(weights.shape)
    else:
        variances = covariances
    draws = MixtureDraws(
        weights=weights,
        means=means,
        precisions_cholesky=1.0 / np.sqrt(variances),
        covariance_type="spherical",
    )
    data = means.ravel() if X is None else X[:, 0]
    lo, hi = data.min(), data.max()
    pad = margin * (hi - lo if hi > lo else 1.0) + (
        3.0 * np.sqrt(variances.max()) if X is None else 0.0
    )
    xs = np.linspace(lo - pad, hi + pad, grid_size)
    log_density = log_predictive_density(xs[:, None], draws)
    values = log_density if log else np.exp(log_density)
    if X is not None and not log:
        ax.hist(X[:, 0], bins="auto", density=True, color="0.8")
    ax.plot(xs, values, color="C0", label="posterior predictive")
    if X is not None:
        ax.plot(X[:, 0], np.full(X.shape[0], values.min()), "|", color="k", alpha=0.5)
    ax.set_xlabel(_feature_label(est, 0))
    ax.set_ylabel("log density" if log else "density")
    ax.set_title(
        "log posterior predictive density" if log else "posterior predictive density"
    )
    return ax


def plot_assignments(
    estimator,
    X,
    *,
    features=(0, 1),
    show_uncertainty=True,
    size=20.0,
    ax=None,
):
    """Points coloured by their most probable component, sized by uncertainty.

    The uncertainty of a point is ``1 - max_k p(z = k | x)``, with the
    membership probabilities averaged over the posterior (``predict_proba``), as
    mclust's uncertainty plot shows it: confidently assigned points are small,
    points between components are large and outlined.

    Parameters
    ----------
    estimator : BayesianGMM or BayesianGMMSelector
        Fitted estimator.
    X : array-like of shape (n_samples, n_features)
        Data to assign.
    features : tuple of two int or 'pca', default=(0, 1)
        Features to plot, or the first two principal components of ``X``.
        One-feature data is drawn against its uncertainty.
    show_uncertainty : bool, default=True
        Scale marker area with uncertainty; False draws every point at ``size``.
    size : float, default=20.0
        Marker area of a point with no uncertainty.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None uses the current Axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
        Holds one :class:`~matplotlib.collections.PathCollection` with a point
        per row of X.
    """
    check_matplotlib_support("plot_assignments")
    est = _fitted_estimator(estimator)
    X = _check_X(est, X)
    ax = _get_ax(ax)
    proba = est.predict_proba(X)
    labels = proba.argmax(axis=1)
    uncertainty = 1.0 - proba.max(axis=1)
    n_components = proba.shape[1]
    colors = np.asarray(component_colors(n_components))[labels]
    max_uncertainty = 1.0 - 1.0 / n_components if n_components > 1 else 1.0
    relative = uncertainty / max_uncertainty
    sizes = size * (1.0 + 8.0 * relative) if show_uncertainty else np.full(len(X), size)
    edge = np.where(relative > 0.2, 1.0, 0.0) if show_uncertainty else 0.0
    if est.n_features_in_ == 1:
        points = np.column_stack([X[:, 0], uncertainty])
        xlabel, ylabel = _feature_label(est, 0), "uncertainty (1 - max probability)"
    else:
        projection = _projection(est, X, features)
        points = projection.points(X)
        xlabel, ylabel = projection.labels
    ax.scatter(
        points[:, 0],
        points[:, 1],
        s=sizes,
        c=colors,
        edgecolors="k",
        linewidths=edge,
        alpha=0.85,
    )
    for k in np.unique(labels):
        ax.scatter([], [], color=colors[labels == k][0], label=f"component {k}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    title = "assignments"
    if show_uncertainty:
        title += (
            f" (marker size ~ uncertainty; {int(np.sum(uncertainty > 0.1))} points "
            "above 0.1)"
        )
    ax.set_title(title)
    return ax


def plot_mean_posterior(
    estimator,
    X=None,
    *,
    features=(0, 1),
    min_weight=0.01,
    max_draws=1000,
    ax=None,
):
    """Scatter the posterior draws of each component mean.

    Each cloud shows the posterior uncertainty about where a component sits
    (after relabelling); a cloud spread over two clusters means the component
    is not identified.

    Parameters
    ----------
    estimator : BayesianGMM or BayesianGMMSelector
        Fitted estimator.
    X : array-like of shape (n_samples, n_features), default=None
        Data to scatter underneath, in grey.
    features : tuple of two int or 'pca', default=(0, 1)
        Features to plot, or the first two principal components of ``X``.
    min_weight : float, default=0.01
        Components with a smaller posterior mean weight are not drawn.
    max_draws : int, default=1000
        Draws shown per component (evenly thinned).
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None uses the current Axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
        Holds one :class:`~matplotlib.collections.PathCollection` per drawn
        component (plus one for X).
    """
    check_matplotlib_support("plot_mean_posterior")
    est = _fitted_estimator(estimator)
    X = _check_X(est, X)
    ax = _get_ax(ax)
    projection = _projection(est, X, features)
    draws = _thinned_draws(est, max_draws)
    means = projection.points(draws["means"])
    n_components = means.shape[1]
    colors = component_colors(n_components)
    if X is not None:
        _scatter_data(ax, projection.points(X), color="0.75", alpha=0.5)
    for k in range(n_components):
        if est.weights_[k] < min_weight:
            continue
        ax.scatter(
            means[:, k, 0],
            means[:, k, 1],
            s=4,
            color=colors[k],
            alpha=0.4,
            linewidths=0,
            label=f"component {k}",
        )
    _label_axes(ax, projection)
    ax.set_title("posterior draws of the component means")
    return ax


def _criterion_keys(results, criterion):
    """Key of the criterion's value and of its standard error (or None)."""
    for key in (criterion, f"elpd_{criterion}"):
        if key in results:
            break
    else:
        candidates = sorted(
            k
            for k in results
            if not k.startswith(("se_", "dse_", "d_", "rank_", "p_"))
            and not k.endswith("_se")
        )
        raise ValueError(
            f"cv_results_ has no criterion {criterion!r}; available: {candidates}"
        )
    for se_key in (f"se_{key}", f"{key}_se", f"{criterion}_se"):
        if se_key in results:
            return key, se_key
    return key, None


def plot_criterion(selector, criterion=None, *, ax=None):
    """Model-selection criterion against the number of components.

    Plots the criterion from the ``cv_results_`` of a fitted
    :class:`~skbayesmix.BayesianGMMSelector` (or any dict of arrays with an
    ``n_components`` key), one line per covariance type, with error bars of
    one standard error where the results hold one (the elpd of WAIC and
    PSIS-LOO), and marks the selected candidate. BIC, AIC and ICL are
    deviances (lower is better); ``'waic'`` and ``'loo'`` are plotted as elpd
    (higher is better).

    Parameters
    ----------
    selector : BayesianGMMSelector or dict
        Fitted selector, or its ``cv_results_``.
    criterion : str, default=None
        Criterion to plot ('bic', 'aic', 'icl', 'waic', 'loo' or any key of the
        results); None uses the selector's ``criterion`` (or 'bic' for a dict).
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None uses the current Axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
        Holds one errorbar container per covariance type.
    """
    check_matplotlib_support("plot_criterion")
    best_index = None
    if isinstance(selector, dict):
        results = selector
        criterion = "bic" if criterion is None else criterion
    else:
        check_is_fitted(selector, "cv_results_")
        results = selector.cv_results_
        own = getattr(selector, "criterion", None)
        criterion = own if criterion is None else criterion
        if criterion == own:
            best_index = getattr(selector, "best_index_", None)
    key, se_key = _criterion_keys(results, criterion)
    ax = _get_ax(ax)
    n_components = np.asarray(results["n_components"], dtype=float)
    values = np.asarray(results[key], dtype=float)
    se = None
    if se_key is not None:
        se = np.asarray(results[se_key], dtype=float)
        se = np.where(np.isfinite(se), se, 0.0)
    cov_types = results.get("covariance_type")
    if cov_types is None:
        cov_types = np.full(len(values), None, dtype=object)
    cov_types = np.asarray(cov_types, dtype=object)
    groups = list(dict.fromkeys(cov_types.tolist()))
    for group in groups:
        rows = np.flatnonzero(cov_types == group)
        rows = rows[np.argsort(n_components[rows])]
        ax.errorbar(
            n_components[rows],
            values[rows],
            yerr=None if se is None else se[rows],
            marker="o",
            capsize=3,
            label=None if len(groups) == 1 else str(group),
        )
    if best_index is not None and np.isfinite(values[best_index]):
        ax.plot(
            n_components[best_index],
            values[best_index],
            marker="*",
            ms=16,
            color="gold",
            markeredgecolor="k",
            linestyle="none",
            zorder=3,
            label=f"selected: K = {int(n_components[best_index])}",
        )
    if len(groups) > 1 or best_index is not None:
        ax.legend()
    ax.set_xlabel("number of components")
    ax.set_xticks(np.unique(n_components))
    higher = key.startswith("elpd")
    name = key.upper() if key in ("bic", "aic", "icl") else key
    ax.set_ylabel(name + (" (higher is better)" if higher else " (lower is better)"))
    title = f"{name} by number of components"
    if se is not None:
        title += " (+/- 1 SE)"
    ax.set_title(title)
    return ax


@contextlib.contextmanager
def _quiet_arviz():
    """Silence matplotlib's deprecation notices about ArviZ 0.x's own calls."""
    import matplotlib

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=matplotlib.MatplotlibDeprecationWarning
        )
        yield


def plot_trace(estimator, var_names=("weights", "means"), *, axes=None, **kwargs):
    """Trace and marginal density of each chain, through :func:`arviz.plot_trace`.

    The draws are the relabelled ones the estimator uses for every prediction,
    so overlapping, well-mixed chains are the sign of a converged fit; chains
    that sit at different levels mean the chains disagree (see ``diagnostics_``).

    Parameters
    ----------
    estimator : BayesianGMM or BayesianGMMSelector
        Fitted estimator.
    var_names : sequence of str, default=('weights', 'means')
        Posterior variables to show (any of 'weights', 'means', 'covariances').
    axes : ndarray of matplotlib.axes.Axes of shape (n_rows, 2), default=None
        Axes to draw on; None makes a new figure.
    **kwargs
        Passed to :func:`arviz.plot_trace` (e.g. ``compact=False``).

    Returns
    -------
    axes : ndarray of matplotlib.axes.Axes
        Of shape (len(var_names), 2) in ArviZ's compact layout.
    """
    check_matplotlib_support("plot_trace")
    from skbayesmix._diagnostics import az

    est = _fitted_estimator(estimator)
    idata = est.to_inference_data()
    kwargs.setdefault("compact", True)
    kwargs.setdefault("legend", False)
    with _quiet_arviz():
        return az.plot_trace(idata, var_names=list(var_names), axes=axes, **kwargs)


def plot_rank(estimator, var_names=("weights",), *, ax=None, **kwargs):
    """Rank histograms of the chains, through :func:`arviz.plot_rank`.

    Draws of all chains are ranked together; if the chains sample the same
    distribution each chain's ranks are uniform, so flat bars mean good mixing
    and a chain whose bars slope or bunch has not converged.

    Parameters
    ----------
    estimator : BayesianGMM or BayesianGMMSelector
        Fitted estimator.
    var_names : sequence of str, default=('weights',)
        Posterior variables to show.
    ax : ndarray of matplotlib.axes.Axes, default=None
        Axes to draw on, one per scalar quantity; None makes a new figure.
    **kwargs
        Passed to :func:`arviz.plot_rank` (e.g. ``kind='vlines'``).

    Returns
    -------
    axes : ndarray of matplotlib.axes.Axes
        One Axes per scalar quantity.
    """
    check_matplotlib_support("plot_rank")
    from skbayesmix._diagnostics import az

    est = _fitted_estimator(estimator)
    idata = est.to_inference_data()
    with _quiet_arviz():
        axes = az.plot_rank(idata, var_names=list(var_names), ax=ax, **kwargs)
    if ax is None:
        # ArviZ's titles and labels overlap in a grid unless laid out again.
        np.ravel(axes)[0].figure.tight_layout()
    return axes
