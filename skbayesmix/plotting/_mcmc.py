"""Sampler diagnostics through ArviZ: trace plots and rank histograms."""

import contextlib
import warnings

import numpy as np

from skbayesmix.plotting._base import (
    check_matplotlib_support,
    component_colors,
    feature_index,
    feature_label,
    feature_names,
    fitted_estimator,
)


@contextlib.contextmanager
def _quiet_arviz():
    """Silence matplotlib's deprecation notices about ArviZ 0.x's own calls."""
    import matplotlib

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=matplotlib.MatplotlibDeprecationWarning
        )
        yield


_TRACE_GROUPS = ("weights", "means", "covariances")


def _variances(covariances, covariance_type):
    """Per-feature variances: (..., K, D), (..., D) for tied, (..., K) spherical."""
    if covariance_type in ("full", "tied"):
        return np.diagonal(covariances, axis1=-2, axis2=-1)
    return covariances


def _trace_panels(samples, covariance_type, var_names, features, names):
    """Draws of each panel, (chain, draw[, component]), keyed by panel title.

    Weights share a panel; means and variances get one panel per feature, as
    features have their own units.
    """
    panels = {}
    for group in var_names:
        if group == "weights":
            panels["weights"] = samples["weights"]
            continue
        values = samples["means"]
        title = "means"
        if group == "covariances":
            values = _variances(samples["covariances"], covariance_type)
            title = "variances"
            if covariance_type == "spherical":
                panels[title] = values  # one variance shared by all features
                continue
        for d in features:
            panels[f"{title}: {feature_label(names, d)}"] = values[..., d]
    return panels


def _trace_data(est, panels):
    """InferenceData of the panels, with the divergences ArviZ marks."""
    from skbayesmix._diagnostics import arviz

    az = arviz()

    n_components = est.weights_.shape[0]
    dims = {title: ["component"] for title, value in panels.items() if value.ndim == 3}
    groups = {"posterior": panels}
    diverging = getattr(est, "_sample_stats", {}).get("diverging")
    n_chains, n_draws = next(iter(panels.values())).shape[:2]
    if diverging is not None and diverging.shape == (n_chains, n_draws):
        groups["sample_stats"] = {"diverging": diverging.astype(bool)}
    return az.from_dict(
        **groups, dims=dims, coords={"component": np.arange(n_components)}
    )


def plot_trace(
    estimator,
    var_names=("weights", "means"),
    *,
    features=None,
    axes=None,
    **kwargs,
):
    """Trace and marginal density of each chain, through :func:`arviz.plot_trace`.

    One row of panels per parameter group and feature, each on its own scale:
    the weights, then the means of each feature, then the variances of each
    feature (the diagonal of the covariances; one shared row for
    ``covariance_type='spherical'``). Each colour is a component (as in the
    other figures of this module), each line style a chain.

    The draws are the relabelled ones the estimator uses for every prediction,
    so overlapping, well-mixed chains are the sign of a converged fit; chains
    that sit at different levels mean the chains disagree (see ``diagnostics_``).

    Parameters
    ----------
    estimator : BayesianGMM or BayesianGMMSelector
        Fitted estimator.
    var_names : sequence of str, default=('weights', 'means')
        Parameter groups to show, in this order (any of 'weights', 'means',
        'covariances').
    features : sequence of int or str, default=None
        Features whose means and variances are shown, as column indices or
        names (``feature_names_in_``); None shows every feature.
    axes : ndarray of matplotlib.axes.Axes of shape (n_rows, 2), default=None
        Axes to draw on; None makes a new figure with a constrained layout.
    **kwargs
        Passed to :func:`arviz.plot_trace` (e.g. ``kind='rank_bars'``).

    Returns
    -------
    axes : ndarray of matplotlib.axes.Axes of shape (n_rows, 2)
        Densities in the first column, traces in the second; each Axes is
        titled after its panel ('weights', 'means: <feature>',
        'variances: <feature>').
    """
    check_matplotlib_support("plot_trace")
    from skbayesmix._diagnostics import arviz

    az = arviz()

    est = fitted_estimator(estimator)
    names = feature_names(estimator)
    if (
        isinstance(var_names, str)
        or not var_names
        or any(v not in _TRACE_GROUPS for v in var_names)
    ):
        raise ValueError(
            f"var_names must be a sequence of {list(_TRACE_GROUPS)}, got {var_names!r}"
        )
    n_features = est.n_features_in_
    features = (
        range(n_features)
        if features is None
        else [feature_index(f, names, n_features) for f in features]
    )
    panels = _trace_panels(
        est.posterior_samples_, est.covariance_type, var_names, features, names
    )
    kwargs.setdefault("compact", True)
    kwargs.setdefault("legend", False)
    kwargs.setdefault(
        "compact_prop", {"color": component_colors(est.weights_.shape[0])}
    )
    if axes is None:
        # Titles clear the tick labels of the row above only when laid out.
        kwargs["backend_kwargs"] = {
            "layout": "constrained",
            **(kwargs.get("backend_kwargs") or {}),
        }
    with _quiet_arviz():
        return az.plot_trace(_trace_data(est, panels), axes=axes, **kwargs)


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
    from skbayesmix._diagnostics import arviz

    az = arviz()

    est = fitted_estimator(estimator)
    idata = est.to_inference_data()
    with _quiet_arviz():
        axes = az.plot_rank(idata, var_names=list(var_names), ax=ax, **kwargs)
    if ax is None:
        # ArviZ's titles and labels overlap in a grid unless laid out again.
        np.ravel(axes)[0].figure.tight_layout()
    return axes
