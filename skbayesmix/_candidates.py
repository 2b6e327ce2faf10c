"""Fitting and scoring the selector's candidates (runs in joblib workers)."""

import os
import threading
import time
import warnings
from contextlib import nullcontext

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning

from skbayesmix._covariance import COVARIANCE_TYPES, n_parameters
from skbayesmix._criteria import (
    CRITERIA,
    ELPD_CRITERIA,
    elpd_differences,
    membership_entropy,
)
from skbayesmix._warnings import ignored_warnings

# Per-candidate values, one column each of ``cv_results_``.
SCORE_KEYS = (
    "bic", "aic", "icl", "elpd_waic", "se_elpd_waic", "p_waic",
    "elpd_loo", "se_elpd_loo", "p_loo", "n_bad_pareto_k",
)


def information_criteria(estimator, X, quiet_loo=True):
    """Every criterion the fitted estimator supports; NaN for the others.

    With ``quiet_loo``, the estimator's own Pareto-k warning is dropped: the
    selector issues one per candidate, naming it.

    Returns
    -------
    scores : dict of float
    ic_results : dict
        ``'waic'`` and ``'loo'``: the estimator's own result (used for the
        standard error of elpd differences); None when skipped.
    """
    nan = float("nan")
    scores = dict.fromkeys(SCORE_KEYS, nan)
    ic_results = {"waic": None, "loo": None}
    scores["bic"] = float(estimator.bic(X))
    if hasattr(estimator, "aic"):
        scores["aic"] = float(estimator.aic(X))
    if hasattr(estimator, "predict_proba"):
        entropy = membership_entropy(estimator.predict_proba(X))
        scores["icl"] = scores["bic"] + 2.0 * entropy
    if hasattr(estimator, "waic"):
        result = estimator.waic()
        scores["elpd_waic"] = float(result["elpd"])
        scores["se_elpd_waic"] = float(result.get("se", nan))
        scores["p_waic"] = float(result.get("p", nan))
        ic_results["waic"] = result
    if hasattr(estimator, "loo"):
        with ignored_warnings(ConvergenceWarning) if quiet_loo else nullcontext():
            result = estimator.loo()
        scores["elpd_loo"] = float(result["elpd"])
        scores["se_elpd_loo"] = float(result.get("se", nan))
        scores["p_loo"] = float(result.get("p", nan))
        ic_results["loo"] = result
        if "pareto_k" in result:
            threshold = float(result.get("pareto_k_threshold", 0.7))
            scores["n_bad_pareto_k"] = float(
                np.sum(np.asarray(result["pareto_k"]) > threshold)
            )
            scores["pareto_k_threshold"] = threshold
    return scores, ic_results


def fit_and_evaluate(estimator, X, caller_pid):
    """Fit one candidate and compute its criteria (runs in a joblib worker).

    Warnings are recorded and returned rather than shown, so that they reach
    the caller from worker processes too, tagged with the candidate. Recording
    swaps the process-wide warning filters, which is unsafe while other threads
    of the caller's process do the same; in a thread of the caller's process
    (threading backend, Dask with ``processes=False``) warnings therefore pass
    through unrecorded.
    """
    record = (
        os.getpid() != caller_pid
        or threading.current_thread() is threading.main_thread()
    )
    context = warnings.catch_warnings(record=True) if record else nullcontext([])
    with context as caught:
        if record:
            # Other categories keep the process's filters.
            warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        scores, ic_results = information_criteria(estimator, X, quiet_loo=record)
        score_time = time.perf_counter() - start
    issued = [(w.category, str(w.message)) for w in caught]
    return estimator, scores, ic_results, fit_time, score_time, issued


def describe(estimator):
    """Short text naming a candidate: its n_components and covariance type."""
    params = estimator.get_params()
    text = f"n_components={params['n_components']}"
    if "covariance_type" in params:
        text += f", covariance_type={params['covariance_type']!r}"
    return text



def results_table(fitted, scores, ic_results, candidate_params, X):
    """Build the selector's ``cv_results_``: one row per fitted candidate."""
    n_features = X.shape[1]
    n_components = np.array(
        [est.get_params()["n_components"] for est in fitted], dtype=int
    )
    covariance_type = np.array(
        [est.get_params().get("covariance_type") for est in fitted], dtype=object
    )
    results = {
        "n_components": n_components,
        "covariance_type": covariance_type,
        "n_parameters": np.array(
            [
                # NaN for an estimator without GaussianMixture's covariance types.
                n_parameters(k, n_features, ct)
                if ct in COVARIANCE_TYPES
                else np.nan
                for k, ct in zip(n_components, covariance_type)
            ],
            dtype=float,
        ),
    }
    for key in SCORE_KEYS:
        results[key] = np.array([s[key] for s in scores], dtype=float)
    for key in ELPD_CRITERIA:
        diff, dse = elpd_differences(
            results[f"elpd_{key}"],
            [ic[key] for ic in ic_results],
            method=key,
            n_samples=X.shape[0],
        )
        results[f"d_elpd_{key}"] = diff
        results[f"dse_elpd_{key}"] = dse
    for key in CRITERIA:
        value = results[f"elpd_{key}"] if key in ELPD_CRITERIA else -results[key]
        # Larger is better here; missing values rank last, as in GridSearchCV.
        value = np.where(np.isfinite(value), value, -np.inf)
        results[f"rank_{key}"] = rankdata(-value, method="min").astype(np.int32)
    results["fit_time"] = np.array([s["fit_time"] for s in scores])
    results["score_time"] = np.array([s["score_time"] for s in scores])
    results["params"] = [dict(params) for params in candidate_params]
    return results


def candidate_grid(selector, estimator, X):
    """Check the selector's grid against the data and ``estimator``.

    Returns
    -------
    n_components_range : list of int
    covariance_types : tuple
        The covariance types to compare (the estimator's own when
        ``selector.covariance_types`` is None).
    """
    n_components = np.asarray(selector.n_components_range)
    if (
        n_components.ndim != 1
        or n_components.size == 0
        or not np.issubdtype(n_components.dtype, np.integer)
        or np.any(n_components < 1)
    ):
        raise ValueError(
            "n_components_range must be a non-empty sequence of integers >= 1, "
            f"got {selector.n_components_range!r}"
        )
    if len(np.unique(n_components)) != n_components.size:
        raise ValueError(
            f"n_components_range has repeated values: {selector.n_components_range!r}"
        )
    if X.shape[0] < n_components.max():
        raise ValueError(
            "Expected n_samples >= max(n_components_range) but got "
            f"max(n_components_range) = {n_components.max()}, "
            f"n_samples = {X.shape[0]}"
        )
    params = estimator.get_params()
    if "n_components" not in params:
        raise ValueError(
            f"{type(estimator).__name__} has no n_components parameter."
        )
    if selector.covariance_types is None:
        covariance_types = (params.get("covariance_type"),)
    elif isinstance(selector.covariance_types, str):
        covariance_types = (selector.covariance_types,)
    else:
        covariance_types = tuple(selector.covariance_types)
        unknown = [c for c in covariance_types if c not in COVARIANCE_TYPES]
        if unknown or not covariance_types:
            raise ValueError(
                "covariance_types must be a non-empty tuple of "
                f"{COVARIANCE_TYPES}, got {selector.covariance_types!r}"
            )
        if len(set(covariance_types)) != len(covariance_types):
            raise ValueError(
                f"covariance_types has repeated values: {selector.covariance_types!r}"
            )
        if "covariance_type" not in params:
            raise ValueError(
                f"{type(estimator).__name__} has no covariance_type "
                "parameter, so covariance_types must be None."
            )
    if selector.criterion in ELPD_CRITERIA and not hasattr(
        estimator, selector.criterion
    ):
        raise ValueError(
            f"criterion={selector.criterion!r} needs an estimator with a "
            f"{selector.criterion}() method, such as BayesianGMM; "
            f"{type(estimator).__name__} has none. Use 'bic', 'aic' or "
            "'icl'."
        )
    return [int(k) for k in n_components], covariance_types
