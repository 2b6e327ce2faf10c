"""Figures for fitted Bayesian Gaussian mixtures (needs matplotlib).

Every function draws on one :class:`matplotlib.axes.Axes` (``ax=None`` draws on
the current Axes) and returns it, so figures compose like scikit-learn's; the
sampler diagnostics :func:`plot_trace` and :func:`plot_rank` return ArviZ's grid
of Axes instead.
Data with more than two features are shown either on two chosen features,
``features=(i, j)`` by column index or ``features=("flavanoids", "proline")`` by
name, or on the first two principal components of the data,
``features="pca"``. Names are the estimator's ``feature_names_in_`` (fitted on a
DataFrame), else the columns of a DataFrame ``X``; axes and panels are labelled
with them. A linear projection of a Gaussian mixture is a Gaussian
mixture, so ellipses and density contours drawn on a projection are exact
marginals of the fitted model, not approximations.

Components are coloured consistently across functions: component ``k`` has the
``k``-th colour of matplotlib's ``tab10`` (``tab20`` beyond ten components).
"""

from skbayesmix.plotting._base import (
    check_matplotlib_support as check_matplotlib_support,
)
from skbayesmix.plotting._base import component_colors as component_colors
from skbayesmix.plotting._mcmc import plot_rank, plot_trace
from skbayesmix.plotting._mixture import (
    plot_assignments,
    plot_components,
    plot_density,
    plot_mean_posterior,
)
from skbayesmix.plotting._selection import plot_criterion

__all__ = [
    "plot_assignments",
    "plot_components",
    "plot_criterion",
    "plot_density",
    "plot_mean_posterior",
    "plot_rank",
    "plot_trace",
]
