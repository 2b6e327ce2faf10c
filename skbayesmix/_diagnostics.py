"""The one ArviZ boundary: InferenceData, R-hat/ESS, WAIC and PSIS-LOO."""

import warnings

import numpy as np

with warnings.catch_warnings():
    # ArviZ 0.2x announces its 1.0 refactor with a FutureWarning at import.
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

R_HAT_THRESHOLD = 1.01
MIN_ESS_PER_CHAIN = 100


def to_inference_data(posterior, sample_stats, log_likelihood=None, observed=None):
    """Build an :class:`arviz.InferenceData` from NumPy arrays.

    Parameters
    ----------
    posterior : dict of ndarray
        Site name to array of shape (chain, draw, ...).
    sample_stats : dict of ndarray
        Sampler statistic to array of shape (chain, draw).
    log_likelihood : ndarray of shape (chain, draw, n_samples), default=None
    observed : ndarray of shape (n_samples, n_features), default=None

    Returns
    -------
    idata : arviz.InferenceData
    """
    dims = {"x": ["obs_id", "feature"], "x_log_likelihood": ["obs_id"]}
    groups = {"posterior": posterior, "sample_stats": sample_stats}
    if log_likelihood is not None:
        groups["log_likelihood"] = {"x": log_likelihood}
    if observed is not None:
        groups["observed_data"] = {"x": observed}
    return az.from_dict(**groups, dims={"x": dims["x"]})


def convergence_summary(posterior):
    """R-hat (rank-normalised, split) and bulk/tail ESS of every site.

    Parameters
    ----------
    posterior : dict of ndarray
        Site name to array of shape (chain, draw, ...).

    Returns
    -------
    summary : dict
        ``r_hat``, ``ess_bulk``, ``ess_tail``: dicts of site name to array of the
        site's event shape; ``max_r_hat``, ``min_ess_bulk``: floats (NaN entries,
        e.g. from constant sites, are ignored).
    """
    dataset = az.convert_to_dataset(posterior)
    n_chains, n_draws = next(iter(posterior.values())).shape[:2]
    # ArviZ logs to stderr instead of raising when there are too few chains or
    # draws: do not ask it then, and report NaN. Constant sites (e.g. a single
    # component's weight) divide by zero; np.errstate, unlike catch_warnings, is
    # thread-safe.
    with np.errstate(divide="ignore", invalid="ignore"):
        r_hat = az.rhat(dataset) if n_chains >= 2 and n_draws >= 4 else None
        ess_bulk = az.ess(dataset, method="bulk") if n_draws >= 4 else None
        ess_tail = az.ess(dataset, method="tail") if n_draws >= 4 else None

    def values(result, name):
        if result is None:
            return np.full(np.shape(posterior[name])[2:], np.nan)
        return result[name].values

    summary = {
        "r_hat": {name: values(r_hat, name) for name in posterior},
        "ess_bulk": {name: values(ess_bulk, name) for name in posterior},
        "ess_tail": {name: values(ess_tail, name) for name in posterior},
    }
    summary["max_r_hat"] = _nan_extreme(summary["r_hat"], np.nanmax, 1.0)
    summary["min_ess_bulk"] = _nan_extreme(summary["ess_bulk"], np.nanmin, np.nan)
    return summary


def _nan_extreme(values, reduce, default):
    flat = np.concatenate([np.ravel(v) for v in values.values()])
    flat = flat[np.isfinite(flat)]
    return float(reduce(flat)) if flat.size else default


def _relative_ess(posterior):
    """Mean ESS over every posterior quantity divided by the number of draws.

    ArviZ's own choice for PSIS-LOO, except that constant quantities (NaN ESS,
    e.g. the weight of a one-component mixture) are skipped.
    """
    if posterior is None:
        return 1.0
    n_draws = np.prod(next(iter(posterior.values())).shape[:2])
    # Constant quantities divide by zero; np.errstate, unlike catch_warnings, is
    # thread-safe.
    with np.errstate(divide="ignore", invalid="ignore"):
        ess = az.ess(az.convert_to_dataset(posterior), method="mean")
    values = np.concatenate([np.ravel(ess[name].values) for name in ess.data_vars])
    values = values[np.isfinite(values)]
    return float(values.mean() / n_draws) if values.size else 1.0


def information_criterion(log_likelihood, method, posterior=None):
    """WAIC or PSIS-LOO from pointwise log-likelihoods, with Pareto-k checks.

    Parameters
    ----------
    log_likelihood : ndarray of shape (chain, draw, n_samples)
    method : {'waic', 'loo'}
    posterior : dict of ndarray, default=None
        Site name to array of shape (chain, draw, ...). PSIS-LOO takes its
        relative efficiency from the posterior's ESS, as ArviZ does; without it
        the draws are treated as independent (relative efficiency 1).

    Returns
    -------
    result : dict
        ``elpd``, ``se``, ``p`` (effective number of parameters), ``pointwise``
        (n_samples,), and for LOO ``pareto_k`` (n_samples,) and ``warning``
        (True when some k exceeds ArviZ's threshold).
    """
    idata = az.from_dict(log_likelihood={"x": log_likelihood})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method == "loo":
            res = az.loo(idata, pointwise=True, reff=_relative_ess(posterior))
        else:
            res = az.waic(idata, pointwise=True)
    key = "loo" if method == "loo" else "waic"
    result = {
        "elpd": float(res[f"elpd_{key}"]),
        "se": float(res["se"]),
        "p": float(res[f"p_{key}"]),
        "pointwise": np.asarray(res[f"{key}_i"]),
        "warning": bool(res["warning"]),
        "messages": [str(w.message) for w in caught],
    }
    if method == "loo":
        result["pareto_k"] = np.asarray(res["pareto_k"])
        result["pareto_k_threshold"] = float(getattr(res, "good_k", 0.7))
    return result
