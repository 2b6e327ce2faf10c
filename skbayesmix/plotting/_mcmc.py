"""Sampler diagnostics through ArviZ: trace plots and rank histograms."""

import contextlib
import warnings

import numpy as np

from skbayesmix.plotting._base import check_matplotlib_support, fitted_estimator


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

    est = fitted_estimator(estimator)
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

    est = fitted_estimator(estimator)
    idata = est.to_inference_data()
    with _quiet_arviz():
        axes = az.plot_rank(idata, var_names=list(var_names), ax=ax, **kwargs)
    if ax is None:
        # ArviZ's titles and labels overlap in a grid unless laid out again.
        np.ravel(axes)[0].figure.tight_layout()
    return axes
