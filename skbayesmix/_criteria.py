"""Model comparison: BIC/AIC/ICL, WAIC/PSIS-LOO and the selection rule.

WAIC and PSIS-LOO are ArviZ's (:func:`arviz.waic`, :func:`arviz.loo`) on the
per-observation log-likelihood, and candidates are compared with
:func:`arviz.compare`; this module keeps ArviZ's ``ELPDData`` results rather
than copies of their formulas. It also holds the selector's rule.
"""

import numpy as np

from skbayesmix._diagnostics import az
from skbayesmix._settings import NEGLIGIBLE_ELPD_DIFFERENCE
from skbayesmix._warnings import ignored_warnings

# Criteria whose value is an elpd (higher is better); the others are deviances.
ELPD_CRITERIA = ("waic", "loo")
CRITERIA = ("bic", "aic", "icl") + ELPD_CRITERIA


def bic(log_likelihood, n_parameters, n_samples):
    """-2 log L + p log n."""
    return -2 * log_likelihood + n_parameters * np.log(n_samples)


def aic(log_likelihood, n_parameters):
    """-2 log L + 2 p."""
    return -2 * log_likelihood + 2 * n_parameters


def membership_entropy(proba):
    """-sum_ik z_ik log z_ik, with 0 log 0 = 0 (ICL = BIC + 2 * entropy)."""
    proba = np.asarray(proba, dtype=np.float64)
    positive = proba > 0
    return float(-np.sum(proba[positive] * np.log(proba[positive])))


def _varying(posterior):
    """Keep the posterior's non-constant sites (ArviZ's ESS of the others is NaN)."""
    if posterior is None:
        return None
    varying = {name: value for name, value in posterior.items() if np.ptp(value) > 0}
    return varying or None


def information_criterion(log_likelihood, method, *, posterior=None):
    """WAIC or PSIS-LOO from pointwise log-likelihoods (ArviZ, log scale).

    Parameters
    ----------
    log_likelihood : ndarray of shape (chain, draw, n_samples)
    method : {'waic', 'loo'}
    posterior : dict of ndarray, default=None
        Site name to array of shape (chain, draw, ...). PSIS-LOO takes its
        relative efficiency from the ESS of the posterior's varying sites, as
        ArviZ does; without it the draws are treated as independent.

    Returns
    -------
    result : dict
        ``elpd``, ``se``, ``p`` (effective number of parameters), ``pointwise``
        (n_samples,), ``warning``, ``elpd_data`` (ArviZ's ``ELPDData``), and for
        LOO ``pareto_k`` (n_samples,) and ``pareto_k_threshold``.
    """
    groups = {"log_likelihood": {"x": log_likelihood}}
    varying = _varying(posterior) if method == "loo" else None
    if varying is not None:
        groups["posterior"] = varying
    idata = az.from_dict(**groups)
    # Constant quantities divide by zero in the ESS; np.errstate, unlike
    # catch_warnings, is thread-safe. ArviZ's own warnings are reported through
    # ``warning``.
    with np.errstate(divide="ignore", invalid="ignore"), ignored_warnings():
        if method == "loo":
            # Without a posterior group ArviZ needs the relative efficiency.
            reff = None if varying is not None else 1.0
            res = az.loo(idata, pointwise=True, reff=reff, scale="log")
        else:
            res = az.waic(idata, pointwise=True, scale="log")
    result = {
        "elpd": float(res[f"elpd_{method}"]),
        "se": float(res["se"]),
        "p": float(res[f"p_{method}"]),
        "pointwise": np.asarray(res[f"{method}_i"]),
        "warning": bool(res["warning"]),
        "elpd_data": res,
    }
    if method == "loo":
        result["pareto_k"] = np.asarray(res["pareto_k"])
        result["pareto_k_threshold"] = float(getattr(res, "good_k", 0.7))
    return result


# ------------------------------------------------------------------ selection


def _elpd_data(result, method, n_samples):
    """ArviZ ``ELPDData`` of an estimator's waic()/loo() result, or None.

    BayesianGMM returns ArviZ's own; for another estimator's dict with
    per-observation values one is assembled from them.
    """
    if result is None:
        return None
    if result.get("elpd_data") is not None:
        return result["elpd_data"]
    pointwise = result.get("pointwise")
    if pointwise is None or np.shape(pointwise) != (n_samples,):
        return None
    from arviz.stats.stats_utils import ELPDData
    from xarray import DataArray

    return ELPDData(
        data=[result["elpd"], result.get("se", np.nan), result.get("p", np.nan),
              bool(result.get("warning", False)), DataArray(np.asarray(pointwise)),
              "log"],
        index=[f"elpd_{method}", "se", f"p_{method}", "warning", f"{method}_i",
               "scale"],
    )


def elpd_differences(elpd, results, *, method, n_samples):
    """Compute the best elpd minus each candidate's, and its standard error.

    The standard error of a difference is :func:`arviz.compare`'s ``dse``, from
    the paired per-observation contributions; NaN where those are missing.

    Parameters
    ----------
    elpd : ndarray of shape (n_candidates,)
    results : list of dict or None
        Each candidate's waic() or loo() result.
    method : {'waic', 'loo'}
    n_samples : int

    Returns
    -------
    diff, dse : ndarray of shape (n_candidates,)
    """
    diff = np.full(len(elpd), np.nan)
    dse = np.full(len(elpd), np.nan)
    finite = np.isfinite(elpd)
    if not finite.any():
        return diff, dse
    best = int(np.nanargmax(np.where(finite, elpd, -np.inf)))
    diff[finite] = elpd[best] - elpd[finite]
    paired = {
        index: _elpd_data(results[index], method, n_samples)
        for index in np.flatnonzero(finite)
    }
    paired = {index: data for index, data in paired.items() if data is not None}
    if best not in paired:
        return diff, dse
    # ArviZ 0.23 sorts with a pandas idiom that pandas >= 3.1 deprecates.
    with ignored_warnings(DeprecationWarning, FutureWarning):
        table = az.compare(paired, ic=method, method="pseudo-BMA", scale="log")
    for index in paired:
        dse[index] = float(table.loc[index, "dse"])
    return diff, dse


def select(results, criterion):
    """Row of the winner: lowest deviance, or the one-SE rule on elpd.

    For 'waic' and 'loo', every candidate whose elpd is within one standard
    error of the difference (at least ``NEGLIGIBLE_ELPD_DIFFERENCE``) of the
    best is eligible, and the one with the fewest parameters (then components,
    then the higher elpd) wins.
    """
    if criterion not in ELPD_CRITERIA:
        value = results[criterion]
        if not np.isfinite(value).any():
            raise ValueError(f"No candidate has a finite {criterion}.")
        return int(np.nanargmin(np.where(np.isfinite(value), value, np.nan)))
    elpd = results[f"elpd_{criterion}"]
    if not np.isfinite(elpd).any():
        raise ValueError(f"No candidate has a finite elpd_{criterion}.")
    best = int(np.nanargmax(np.where(np.isfinite(elpd), elpd, np.nan)))
    diff = results[f"d_elpd_{criterion}"]
    dse = results[f"dse_elpd_{criterion}"]
    # Without paired pointwise values, fall back to the best one's own SE.
    tolerance = np.where(
        np.isfinite(dse), dse, results[f"se_elpd_{criterion}"][best]
    )
    # The paired SE of two nearly identical models is itself tiny, so Monte
    # Carlo noise in the elpd estimates would decide; a floor stops that.
    tolerance = np.maximum(np.nan_to_num(tolerance), NEGLIGIBLE_ELPD_DIFFERENCE)
    eligible = np.flatnonzero(np.isfinite(elpd) & (diff <= tolerance))
    n_parameters = results["n_parameters"]
    complexity = np.where(
        np.isfinite(n_parameters), n_parameters, results["n_components"]
    )
    order = np.lexsort(
        (-elpd[eligible], results["n_components"][eligible], complexity[eligible])
    )
    return int(eligible[order[0]])
