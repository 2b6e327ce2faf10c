"""The model-selection criterion against the number of components."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skbayesmix.plotting._base import check_matplotlib_support, get_ax


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


def _selector_results(selector, criterion):
    """Return the results, the criterion to plot and the selected row (or None)."""
    if isinstance(selector, dict):
        return selector, "bic" if criterion is None else criterion, None
    check_is_fitted(selector, "cv_results_")
    own = getattr(selector, "criterion", None)
    criterion = own if criterion is None else criterion
    best_index = getattr(selector, "best_index_", None) if criterion == own else None
    return selector.cv_results_, criterion, best_index


def _standard_errors(results, se_key):
    if se_key is None:
        return None
    se = np.asarray(results[se_key], dtype=float)
    return np.where(np.isfinite(se), se, 0.0)


def _draw_lines(ax, results, n_components, values, se):
    """One errorbar line per covariance type; return the covariance types."""
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
    return groups


def _mark_selected(ax, n_components, values, best_index):
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


def _label_criterion(ax, key, n_components, se):
    ax.set_xlabel("number of components")
    ax.set_xticks(np.unique(n_components))
    higher = key.startswith("elpd")
    name = key.upper() if key in ("bic", "aic", "icl") else key
    ax.set_ylabel(name + (" (higher is better)" if higher else " (lower is better)"))
    title = f"{name} by number of components"
    if se is not None:
        title += " (+/- 1 SE)"
    ax.set_title(title)


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
    results, criterion, best_index = _selector_results(selector, criterion)
    key, se_key = _criterion_keys(results, criterion)
    ax = get_ax(ax)
    n_components = np.asarray(results["n_components"], dtype=float)
    values = np.asarray(results[key], dtype=float)
    se = _standard_errors(results, se_key)
    groups = _draw_lines(ax, results, n_components, values, se)
    if best_index is not None and np.isfinite(values[best_index]):
        _mark_selected(ax, n_components, values, best_index)
    if len(groups) > 1 or best_index is not None:
        ax.legend()
    _label_criterion(ax, key, n_components, se)
    return ax
