"""Figures of the fitted mixture: ellipses, density, assignments, mean clouds."""

import numpy as np

from skbayesmix._covariance import full_matrices
from skbayesmix._density import log_predictive_density
from skbayesmix._posterior import mixture_draws
from skbayesmix.plotting._base import (
    check_matplotlib_support,
    check_X,
    component_colors,
    feature_label,
    feature_names,
    fitted_estimator,
    get_ax,
    label_axes,
    plane_projection,
    point_covariances,
    projected_mixture,
    scatter_data,
    thinned_draws,
)

# ---------------------------------------------------------------- components


def _draw_ellipse(ax, mean, covariance, n_std, color, alpha, label):
    """Draw a filled ellipse of opacity ``alpha`` and its outline, ``label``."""
    from matplotlib.patches import Ellipse

    eigval, eigvec = np.linalg.eigh(covariance)
    eigval = np.clip(eigval, 0.0, None)
    angle = np.degrees(np.arctan2(eigvec[1, 1], eigvec[0, 1]))
    width, height = 2.0 * n_std * np.sqrt(eigval[::-1])
    ax.add_patch(
        Ellipse(
            mean,
            width,
            height,
            angle=angle,
            facecolor=color,
            alpha=alpha,
            edgecolor="none",
            label=None,
        )
    )
    ax.add_patch(
        Ellipse(
            mean,
            width,
            height,
            angle=angle,
            facecolor="none",
            edgecolor=color,
            linewidth=1.5,
            label=label,
        )
    )


def _mark_means(ax, means, shown, colors):
    ax.scatter(
        means[shown, 0],
        means[shown, 1],
        marker="x",
        s=50,
        linewidths=2,
        c=[colors[k] for k in shown],
        zorder=3,
    )


def _draw_components(ax, est, projection, n_std, min_weight, show_means):
    """Draw the ellipses (and means) of the heavy components; return their indices."""
    weights = est.weights_
    means = projection.points(est.means_)
    covariances = point_covariances(est, projection)
    colors = component_colors(weights.shape[0])
    shown = [k for k in range(weights.shape[0]) if weights[k] >= min_weight]
    for k in shown:
        alpha = 0.15 + 0.35 * weights[k] / weights.max()
        label = f"component {k} (w = {weights[k]:.2f})"
        _draw_ellipse(ax, means[k], covariances[k], n_std, colors[k], alpha, label)
    if show_means and shown:
        _mark_means(ax, means, shown, colors)
    return shown


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
    features : tuple of two int or str, or 'pca', default=(0, 1)
        Features to plot, as column indices or names (``feature_names_in_``
        of an estimator fitted on a DataFrame, else the columns of a
        DataFrame ``X``), or the first two principal components of ``X``.
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
    est = fitted_estimator(estimator)
    names = feature_names(estimator, X)
    X = check_X(est, X, names)
    ax = get_ax(ax)
    projection = plane_projection(est, X, features, names)
    if X is not None:
        scatter_data(ax, projection.points(X))
    shown = _draw_components(ax, est, projection, n_std, min_weight, show_means)
    ax.autoscale_view()
    label_axes(ax, projection)
    ax.set_title(
        f"{len(shown)} of {est.weights_.shape[0]} components "
        f"(weight >= {min_weight:g}), {n_std:g} std"
    )
    return ax


# ------------------------------------------------------------------- density


def _density_title(log):
    return "log posterior predictive density" if log else "posterior predictive density"


def _grid_axes(est, projection, points, X, margin, grid_size):
    """Grid coordinates along both axes: the points' range, padded."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = margin * np.where(hi > lo, hi - lo, 1.0)
    if X is None:
        variances = np.diagonal(point_covariances(est, projection), 0, -2, -1)
        pad = pad + 3.0 * np.sqrt(np.max(variances, axis=0))
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid_size)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid_size)
    return xs, ys


def _plot_density_2d(est, X, features, names, grid_size, levels, log, cmap, margin, ax):
    projection = plane_projection(est, X, features, names)
    draws = projected_mixture(est, projection)
    points = draws.means.reshape(-1, 2) if X is None else projection.points(X)
    xs, ys = _grid_axes(est, projection, points, X, margin, grid_size)
    xx, yy = np.meshgrid(xs, ys)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    log_density = log_predictive_density(grid, draws).reshape(xx.shape)
    # Below ~20 nats under the peak the contours only trace numerical noise.
    values = (
        np.maximum(log_density, log_density.max() - 20.0)
        if log
        else np.exp(log_density)
    )
    label = _density_title(log)
    contours = ax.contour(xx, yy, values, levels=levels, cmap=cmap, linewidths=1.0)
    if X is not None:
        scatter_data(ax, points, color="k", s=8, alpha=0.7)
    label_axes(ax, projection)
    ax.set_title(label)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    contours.set_label(label)
    return ax


def _mixture_1d(est):
    """Thinned posterior draws of a one-feature mixture, and their variances."""
    samples = thinned_draws(est)
    weights = samples["weights"]
    # One feature: every covariance type is a (1, 1) matrix per component.
    variances = full_matrices(
        samples["covariances"], est._posterior.covariance_type, weights.shape[1], 1
    )[..., 0, 0]
    draws = mixture_draws(weights, samples["means"], variances, "spherical")
    return draws, variances


def _plot_density_1d(est, X, names, grid_size, log, margin, ax):
    draws, variances = _mixture_1d(est)
    data = draws.means.ravel() if X is None else X[:, 0]
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
    ax.set_xlabel(feature_label(names, 0))
    ax.set_ylabel("log density" if log else "density")
    ax.set_title(_density_title(log))
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
    features : tuple of two int or str, or 'pca', default=(0, 1)
        Features to plot, as column indices or names (``feature_names_in_``
        of an estimator fitted on a DataFrame, else the columns of a
        DataFrame ``X``), or the first two principal components of ``X``.
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
    est = fitted_estimator(estimator)
    names = feature_names(estimator, X)
    X = check_X(est, X, names)
    ax = get_ax(ax)
    if est.n_features_in_ == 1:
        return _plot_density_1d(est, X, names, grid_size, log, margin, ax)
    return _plot_density_2d(
        est, X, features, names, grid_size, levels, log, cmap, margin, ax
    )


# --------------------------------------------------------------- assignments


def _predict_proba(est, X):
    """``est.predict_proba`` of the validated array, named as at fit if it was."""
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        try:
            import pandas as pd
        except ImportError:
            pass
        else:
            # Unnamed columns would make scikit-learn warn at the user.
            X = pd.DataFrame(X, columns=names)
    return est.predict_proba(X)


def _assignment_style(proba, show_uncertainty, size):
    """Labels, uncertainty, colours, marker areas and edge widths of the points."""
    labels = proba.argmax(axis=1)
    uncertainty = 1.0 - proba.max(axis=1)
    n_components = proba.shape[1]
    colors = np.asarray(component_colors(n_components))[labels]
    max_uncertainty = 1.0 - 1.0 / n_components if n_components > 1 else 1.0
    relative = uncertainty / max_uncertainty
    if show_uncertainty:
        sizes = size * (1.0 + 8.0 * relative)
        edge = np.where(relative > 0.2, 1.0, 0.0)
    else:
        sizes, edge = np.full(len(proba), size), 0.0
    return labels, uncertainty, colors, sizes, edge


def _assignment_points(est, X, features, names, uncertainty):
    """Place the points on a plane, or 1-D data against uncertainty; axis labels."""
    if est.n_features_in_ == 1:
        points = np.column_stack([X[:, 0], uncertainty])
        return points, (feature_label(names, 0), "uncertainty (1 - max probability)")
    projection = plane_projection(est, X, features, names)
    return projection.points(X), projection.labels


def _scatter_assignments(ax, points, labels, colors, sizes, edge):
    """Scatter the points, and an empty handle per used component for the legend."""
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


def _assignments_title(uncertainty, show_uncertainty):
    title = "assignments"
    if show_uncertainty:
        title += (
            f" (marker size ~ uncertainty; {int(np.sum(uncertainty > 0.1))} points "
            "above 0.1)"
        )
    return title


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
    features : tuple of two int or str, or 'pca', default=(0, 1)
        Features to plot, as column indices or names (``feature_names_in_``
        of an estimator fitted on a DataFrame, else the columns of a
        DataFrame ``X``), or the first two principal components of ``X``.
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
    est = fitted_estimator(estimator)
    names = feature_names(estimator, X)
    X = check_X(est, X, names)
    ax = get_ax(ax)
    labels, uncertainty, colors, sizes, edge = _assignment_style(
        _predict_proba(est, X), show_uncertainty, size
    )
    points, (xlabel, ylabel) = _assignment_points(est, X, features, names, uncertainty)
    _scatter_assignments(ax, points, labels, colors, sizes, edge)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(_assignments_title(uncertainty, show_uncertainty))
    return ax


# ------------------------------------------------------------ mean posterior


def _draw_mean_clouds(ax, means, shown):
    """Scatter the draws (n_draws, K, 2) of every component where ``shown``."""
    colors = component_colors(means.shape[1])
    for k in np.flatnonzero(shown):
        ax.scatter(
            means[:, k, 0],
            means[:, k, 1],
            s=4,
            color=colors[k],
            alpha=0.4,
            linewidths=0,
            label=f"component {k}",
        )


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
    features : tuple of two int or str, or 'pca', default=(0, 1)
        Features to plot, as column indices or names (``feature_names_in_``
        of an estimator fitted on a DataFrame, else the columns of a
        DataFrame ``X``), or the first two principal components of ``X``.
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
    est = fitted_estimator(estimator)
    names = feature_names(estimator, X)
    X = check_X(est, X, names)
    ax = get_ax(ax)
    projection = plane_projection(est, X, features, names)
    means = projection.points(thinned_draws(est, max_draws)["means"])
    if X is not None:
        scatter_data(ax, projection.points(X), color="0.75", alpha=0.5)
    _draw_mean_clouds(ax, means, ~(est.weights_ < min_weight))
    label_axes(ax, projection)
    ax.set_title("posterior draws of the component means")
    return ax
