"""Model comparison: BIC/AIC/ICL, WAIC/PSIS-LOO and the selection rule.

WAIC and PSIS-LOO are ArviZ's, on the per-observation log-likelihood, kept as
ArviZ's ``ELPDData``: the same values as :func:`arviz.waic` and
:func:`arviz.loo` (bitwise, as tested), assembled from ArviZ's own pieces
(:func:`arviz.psislw`, :func:`arviz.ess`, its ``logsumexp``). The top-level
functions warn without a flag to stop it and enter ``warnings.catch_warnings``
internally, which is not safe beside other threads (see
:mod:`skbayesmix._warnings`); here their warning becomes the ``warning`` field.
The standard error of elpd differences is :func:`arviz.compare`'s ``dse``,
computed the same way. The module also holds the selector's rule and the
stacking weights that combine chains in different modes.
"""

import numpy as np
import xarray as xr

from skbayesmix._diagnostics import arviz
from skbayesmix._settings import NEGLIGIBLE_ELPD_DIFFERENCE


def _logsumexp(*args, **kwargs):
    # ArviZ's own logsumexp (imported through _diagnostics, which imports
    # ArviZ quietly), so that the values assembled here are ArviZ's to the
    # last bit.
    return arviz().stats.stats_utils.logsumexp(*args, **kwargs)


# arviz.waic warns when some posterior variance of the log predictive density
# exceeds this (Vehtari, Gelman and Gabry 2017, section 2.2).
WAIC_VARIANCE_WARNING = 0.4

# Criteria whose value is an elpd (higher is better); the others are deviances.
ELPD_CRITERIA = ("waic", "loo")
CRITERIA = ("bic", "aic", "icl") + ELPD_CRITERIA


def bic(log_likelihood, n_parameters, n_samples):
    """-2 log L + p log n."""
    return -2 * log_likelihood + n_parameters * np.log(n_samples)


def aic(log_likelihood, n_parameters):
    """-2 log L + 2 p."""
    return -2 * log_likelihood + 2 * n_parameters


def membership_entropy(proba, sample_weight=None):
    """-sum_ik w_i z_ik log z_ik, with 0 log 0 = 0 (ICL = BIC + 2 * entropy)."""
    proba = np.asarray(proba, dtype=np.float64)
    terms = np.zeros_like(proba)
    positive = proba > 0
    terms[positive] = proba[positive] * np.log(proba[positive])
    if sample_weight is None:
        return float(-np.sum(terms[positive]))
    return float(-np.dot(sample_weight, terms.sum(axis=1)))


def _varying(posterior):
    """Keep the posterior's non-constant sites (ArviZ's ESS of the others is NaN)."""
    if posterior is None:
        return None
    varying = {name: value for name, value in posterior.items() if np.ptp(value) > 0}
    return varying or None


def information_criterion(
    log_likelihood, method, *, posterior=None, sample_weight=None
):
    """WAIC or PSIS-LOO from pointwise log-likelihoods (ArviZ, log scale).

    Parameters
    ----------
    log_likelihood : ndarray of shape (chain, draw, n_samples)
    method : {'waic', 'loo'}
    posterior : dict of ndarray, default=None
        Site name to array of shape (chain, draw, ...). PSIS-LOO takes its
        relative efficiency from the ESS of the posterior's varying sites, as
        ArviZ does; without it the draws are treated as independent.
    sample_weight : ndarray of shape (n_samples,), default=None
        Row weights: totals are weighted sums of the per-observation values,
        and the standard error is that of the rows repeated as often as their
        (integer) weights say. The per-observation values are those of one
        copy of the row.

    Returns
    -------
    result : dict
        ``elpd``, ``se``, ``p`` (effective number of parameters), ``pointwise``
        (n_samples,), ``warning``, ``elpd_data`` (ArviZ's ``ELPDData``), and for
        LOO ``pareto_k`` (n_samples,) and ``pareto_k_threshold``.
    """
    log_likelihood = np.asarray(log_likelihood, dtype=np.float64)
    # Constant quantities divide by zero in the ESS; np.errstate, unlike
    # catch_warnings, is thread-safe.
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "loo":
            res = _loo(log_likelihood, _varying(posterior), sample_weight)
        else:
            res = _waic(log_likelihood, sample_weight)
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


# arviz.waic and arviz.loo are followed step by step below rather than called:
# both warn with no flag to stop them (posterior variance of the log predictive
# density above 0.4; Pareto k above the threshold), and their xarray operations
# swap the process-wide warning filters, which garbles them when fits run in
# threads. The Pareto smoothing, the ESS, the log-sum-exp and the result object
# are ArviZ's own.


def _by_observation(log_likelihood):
    """(n_samples, chain * draw) view, the draws in ArviZ's stacking order."""
    n_chains, n_draws, n_obs = log_likelihood.shape
    return log_likelihood.reshape(n_chains * n_draws, n_obs).T


def _row_logsumexp(values, **kwargs):
    """ArviZ's logsumexp of each row, as its ufunc wrapper applies it."""
    return np.array([_logsumexp(row, **kwargs) for row in values], dtype=np.float64)


def _pointwise_array(values, name):
    """Per-observation values as ArviZ returns them: a DataArray over x_dim_0."""
    return xr.DataArray(
        values, dims=["x_dim_0"], coords={"x_dim_0": np.arange(len(values))},
        name=name,
    )


def weighted_total(values, sample_weight=None):
    """Sum of per-observation values and ArviZ's standard error of it.

    With ``sample_weight``, those of the observations repeated as often as
    their weights say: sum_i w_i v_i and sqrt(sum_i w_i (v_i - mean_w v)^2).
    """
    if sample_weight is None:
        return np.sum(values), (len(values) * np.var(values)) ** 0.5
    total = np.dot(sample_weight, values)
    mean = total / np.sum(sample_weight)
    return total, np.dot(sample_weight, (values - mean) ** 2) ** 0.5


def _waic(log_likelihood, sample_weight=None):
    """:func:`arviz.waic` (log scale, pointwise) by its own recipe.

    ``warning`` is set where ArviZ would warn: some posterior variance of the
    log predictive density exceeds 0.4.
    """
    draws = _by_observation(log_likelihood)
    n_obs, n_samples = draws.shape
    variance = np.var(draws, axis=1)
    waic_i = _row_logsumexp(draws, b_inv=n_samples) - variance
    elpd, se = weighted_total(waic_i, sample_weight)
    return arviz().ELPDData(
        data=[elpd, se, weighted_total(variance, sample_weight)[0],
              n_samples, n_obs, bool(np.any(variance > WAIC_VARIANCE_WARNING)),
              _pointwise_array(waic_i, "waic_i"), "log"],
        index=["elpd_waic", "se", "p_waic", "n_samples", "n_data_points",
               "warning", "waic_i", "scale"],
    )


def _loo(log_likelihood, posterior, sample_weight=None):
    """:func:`arviz.loo` (log scale, pointwise) by its own recipe.

    Pareto smoothing by :func:`arviz.psislw`, with ArviZ's relative efficiency:
    the mean ESS (:func:`arviz.ess`) of the posterior's sites over the number
    of draws; 1 without a posterior or with one chain. ``warning`` is set where
    ArviZ would warn: some Pareto k exceeds ``good_k``.
    """
    draws = _by_observation(log_likelihood)
    n_obs, n_samples = draws.shape
    reff = 1.0
    if posterior is not None and log_likelihood.shape[0] > 1:
        ess = arviz().ess(_posterior_dataset(posterior), method="mean")
        reff = np.hstack([ess[v].values.flatten() for v in ess.data_vars]).mean()
        reff /= n_samples
    log_weights, pareto_k = arviz().psislw(-draws, reff)
    log_weights += draws
    good_k = min(1 - 1 / np.log10(n_samples), 0.7)
    loo_i = _row_logsumexp(log_weights)
    elpd, se = weighted_total(loo_i, sample_weight)
    lppd = weighted_total(_row_logsumexp(draws, b_inv=n_samples), sample_weight)[0]
    return arviz().ELPDData(
        data=[elpd, se, lppd - elpd, n_samples, n_obs,
              bool(np.any(pareto_k > good_k)), _pointwise_array(loo_i, "loo_i"),
              _pointwise_array(pareto_k, "pareto_shape"), "log", good_k],
        index=["elpd_loo", "se", "p_loo", "n_samples", "n_data_points",
               "warning", "loo_i", "pareto_k", "scale", "good_k"],
    )


def _posterior_dataset(posterior):
    """Return the posterior as an xarray Dataset with ArviZ's dimension names.

    Built directly rather than by ``arviz.from_dict``, which warns when there
    are more chains than draws.
    """
    return xr.Dataset(
        {
            name: (
                ("chain", "draw")
                + tuple(f"{name}_dim_{i}" for i in range(np.ndim(value) - 2)),
                np.asarray(value),
            )
            for name, value in posterior.items()
        }
    )


# ------------------------------------------------------------------ selection


def _pointwise(result, method, n_samples):
    """Per-observation elpd of an estimator's waic()/loo() result, or None."""
    if result is None:
        return None
    pointwise = result.get("pointwise")
    if pointwise is None and result.get("elpd_data") is not None:
        pointwise = result["elpd_data"].get(f"{method}_i")
    if pointwise is None or np.shape(pointwise) != (n_samples,):
        return None
    return np.asarray(pointwise, dtype=np.float64)


def elpd_differences(elpd, results, *, method, n_samples, sample_weight=None):
    """Compute the best elpd minus each candidate's, and its standard error.

    The standard error of a difference is :func:`arviz.compare`'s ``dse``, from
    the paired per-observation contributions; NaN where those are missing.
    It is computed here from the same values: ``arviz.compare`` itself sorts
    with a pandas idiom that pandas >= 3.1 deprecates (a warning at every call).

    Parameters
    ----------
    elpd : ndarray of shape (n_candidates,)
    results : list of dict or None
        Each candidate's waic() or loo() result.
    method : {'waic', 'loo'}
    n_samples : int
    sample_weight : ndarray of shape (n_samples,), default=None
        Row weights, as in :func:`information_criterion`.

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
    pointwise = {
        index: _pointwise(results[index], method, n_samples)
        for index in np.flatnonzero(finite)
    }
    if pointwise.get(best) is None:
        return diff, dse
    for index, values in pointwise.items():
        if values is not None:
            dse[index] = weighted_total(pointwise[best] - values, sample_weight)[1]
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


def stacking_weights(pointwise, sample_weight=None):
    """Stacking weights of predictive distributions (Yao et al. 2018, 2022).

    The weights w on the simplex that maximise sum_i log sum_m w_m
    exp(pointwise[i, m]), the leave-one-out log score of the combined
    predictive distribution. Yao, Vehtari and Gelman (2022, "Stacking for
    non-mixing Bayesian computations") stack chains that settled in different
    modes this way; it is :func:`arviz.compare`'s ``method='stacking'``.

    Parameters
    ----------
    pointwise : ndarray of shape (n_samples, n_models)
        Leave-one-out log predictive density of every row under every model.
    sample_weight : ndarray of shape (n_samples,), default=None
        Row weights: row i's log score counts w_i times.

    Returns
    -------
    weights : ndarray of shape (n_models,)
    """
    from scipy.optimize import minimize
    from scipy.special import logsumexp, softmax

    pointwise = np.asarray(pointwise, dtype=float)
    n_models = pointwise.shape[1]
    if n_models == 1:
        return np.ones(1)

    def objective(logits):
        log_weights = logits - logsumexp(logits)
        combined = pointwise + log_weights
        total = logsumexp(combined, axis=1)
        # d/d logits of -sum_i log sum_m w_m p_im, through the softmax.
        share = np.exp(combined - total[:, None])
        weights = np.exp(log_weights)
        if sample_weight is None:
            return -total.sum(), -(share.sum(axis=0) - weights * pointwise.shape[0])
        return -(total @ sample_weight), -(
            sample_weight @ share - weights * np.sum(sample_weight)
        )

    result = minimize(objective, np.zeros(n_models), jac=True, method="L-BFGS-B")
    return softmax(result.x)
