"""Model comparison: maximum-likelihood refinement, BIC/AIC/ICL, WAIC/PSIS-LOO.

WAIC and PSIS-LOO are ArviZ's (:func:`arviz.waic`, :func:`arviz.loo`) on the
per-observation log-likelihood, and candidates are compared with
:func:`arviz.compare`; this module keeps ArviZ's ``ELPDData`` results rather
than copies of their formulas. It also holds the selector's rule.
"""

from collections import namedtuple

import numpy as np

from skbayesmix._covariance import inverse, min_variance
from skbayesmix._diagnostics import az
from skbayesmix._posterior import mixture_draws
from skbayesmix._settings import EM_MIN_VARIANCE_RATIO, NEGLIGIBLE_ELPD_DIFFERENCE
from skbayesmix._warnings import ignored_warnings

# Criteria whose value is an elpd (higher is better); the others are deviances.
ELPD_CRITERIA = ("waic", "loo")
CRITERIA = ("bic", "aic", "icl") + ELPD_CRITERIA

MaximumLikelihood = namedtuple("MaximumLikelihood", ["refined", "log_likelihood"])
MaximumLikelihood.__doc__ = """The likelihood's maximum found at fit time.

refined : MixtureDraws with one draw (standardised units), or None when the
EM refinement was rejected; log_likelihood : float, the largest training
log-likelihood over the posterior draws and the refinement (data units).
"""


def refine_maximum_likelihood(X_std, posterior, *, reg_covar):
    """EM from the posterior mean: the nearby maximum-likelihood estimate.

    BIC and AIC are defined at the maximum of the likelihood, which no
    posterior draw reaches exactly: the best draw falls short by about half a
    nat per parameter, which biases BIC against larger models. A few EM steps
    (scikit-learn's GaussianMixture, in standardised units with the same
    ``reg_covar``) started at the posterior mean close that gap. The result is
    rejected if EM shrank some variance below ``EM_MIN_VARIANCE_RATIO`` of the
    posterior mean's, towards a singularity.

    Returns
    -------
    refined : MixtureDraws with one draw, in standardised units, or None
    """
    from sklearn.mixture import GaussianMixture

    covariance_type = posterior.covariance_type
    weights, means, covariances = posterior.std_point_estimates()
    em = GaussianMixture(
        n_components=posterior.n_components,
        covariance_type=covariance_type,
        reg_covar=reg_covar,
        max_iter=100,
        weights_init=weights / weights.sum(),
        means_init=means,
        precisions_init=inverse(covariances, covariance_type),
    )
    with ignored_warnings():
        try:
            em.fit(X_std)
        except (ValueError, np.linalg.LinAlgError):
            return None
    floor = EM_MIN_VARIANCE_RATIO * min_variance(covariances, covariance_type)
    if np.any(min_variance(em.covariances_, covariance_type) < floor):
        return None
    return mixture_draws(
        em.weights_[None], em.means_[None], em.covariances_[None], covariance_type
    )


def maximum_likelihood(X, posterior, *, reg_covar, summaries):
    """Find the training data's :class:`MaximumLikelihood`.

    ``summaries`` are the posterior's :meth:`~Posterior.summarize` of ``X``.
    """
    X_std = posterior.standardization.transform(X)
    refined = refine_maximum_likelihood(X_std, posterior, reg_covar=reg_covar)
    log_lik = _best_log_likelihood(
        X, posterior, refined, summaries.total_log_likelihood
    )
    return MaximumLikelihood(refined, log_lik)


def max_log_likelihood(X, posterior, refined):
    """Largest log-likelihood of X over the posterior draws and the refinement."""
    draw_totals = posterior.total_log_likelihood(X, posterior.draws)
    return _best_log_likelihood(X, posterior, refined, draw_totals)


def _best_log_likelihood(X, posterior, refined, draw_totals):
    """Take the largest of the draws' total log-likelihoods and the refinement's."""
    log_lik = float(draw_totals.max())
    if refined is not None:
        log_lik = max(log_lik, float(posterior.total_log_likelihood(X, refined)[0]))
    return log_lik


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
