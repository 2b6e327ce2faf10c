"""Fitting and scoring the selector's candidates (runs in joblib workers)."""

import time
from collections.abc import Mapping

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from skbayesmix._covariance import COVARIANCE_TYPES, n_parameters
from skbayesmix._criteria import (
    CRITERIA,
    ELPD_CRITERIA,
    elpd_differences,
    membership_entropy,
)
from skbayesmix._diagnostics import describe, model_name, poor_inference_warning
from skbayesmix._warnings import collected_warnings, quiet_fit, warn
from skbayesmix._weighted_em import weighted_criterion

# Per-candidate values, one column each of ``cv_results_``.
SCORE_KEYS = (
    "bic", "aic", "icl", "elpd_waic", "se_elpd_waic", "p_waic",
    "elpd_loo", "se_elpd_loo", "p_loo", "n_bad_pareto_k",
)


def information_criteria(estimator, X, sample_weight=None):
    """Every criterion the fitted estimator supports; NaN for the others.

    With ``sample_weight``, BIC, AIC and ICL weigh the rows of X by it; WAIC
    and PSIS-LOO are the estimator's own, on its training rows and weights.

    The estimator's own Pareto-k warning (a ConvergenceWarning issued through
    :func:`skbayesmix._warnings.warn` by ``loo()``) is dropped: the selector
    words its own, for the chosen candidate and criterion 'loo' only.

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
    scores["bic"] = float(weighted_criterion(estimator, "bic", X, sample_weight))
    if hasattr(estimator, "aic"):
        scores["aic"] = float(weighted_criterion(estimator, "aic", X, sample_weight))
    if hasattr(estimator, "predict_proba"):
        entropy = membership_entropy(estimator.predict_proba(X), sample_weight)
        scores["icl"] = scores["bic"] + 2.0 * entropy
    if hasattr(estimator, "waic"):
        result = estimator.waic()
        scores["elpd_waic"] = float(result["elpd"])
        scores["se_elpd_waic"] = float(result.get("se", nan))
        scores["p_waic"] = float(result.get("p", nan))
        ic_results["waic"] = result
    if hasattr(estimator, "loo"):
        with collected_warnings() as issued:
            result = estimator.loo()
        for category, message in issued:
            if not issubclass(category, ConvergenceWarning):
                warn(message, category)
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


def fit_and_evaluate(estimator, X, sample_weight=None):
    """Fit one candidate and compute its criteria (runs in a joblib worker).

    Warnings issued through :func:`skbayesmix._warnings.warn` (every warning of
    :class:`BayesianGMM`) are collected rather than shown, in a worker thread or
    process alike, and returned, so that the selector shows those of the chosen
    candidate only. The process-wide warning filters are not touched.

    Returns
    -------
    estimator : estimator object
        The fitted candidate (for scikit-learn's mixtures with
        ``sample_weight``, its weighted class, see
        :mod:`skbayesmix._weighted_em`).
    scores : dict of float
    ic_results : dict
    fit_time, score_time : float
    issued : list of (type, str)
        The collected ``(category, message)`` pairs.
    """
    with collected_warnings() as issued:
        start = time.perf_counter()
        estimator = _fit(estimator, X, sample_weight)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        scores, ic_results = information_criteria(estimator, X, sample_weight)
        score_time = time.perf_counter() - start
    return estimator, scores, ic_results, fit_time, score_time, issued


def _fit(estimator, X, sample_weight=None):
    """Fit a candidate and return it; scikit-learn's mixtures without warnings.

    Their EM runs through :func:`~skbayesmix._warnings.quiet_fit` (on weighted
    rows with ``sample_weight``), and a non-converged fit is reported through
    :func:`~skbayesmix._warnings.warn` like a BayesianGMM's.
    """
    plain_mixture = isinstance(
        estimator, (GaussianMixture, BayesianGaussianMixture)
    ) and (type(estimator).fit, type(estimator).fit_predict) == (
        GaussianMixture.fit, GaussianMixture.fit_predict
    )
    if not plain_mixture:
        if sample_weight is None:
            estimator.fit(X)
        else:
            estimator.fit(X, sample_weight=sample_weight)
        return estimator
    estimator = quiet_fit(estimator, X, sample_weight)
    if not estimator.converged_:
        finding = (
            f"EM stopped after max_iter={estimator.max_iter} iterations before "
            f"its lower bound changed by less than tol={estimator.tol:g}. "
            "Increase max_iter or tol."
        )
        warn(
            poor_inference_warning(model_name(estimator), [finding], converged=False),
            ConvergenceWarning,
        )
    return estimator


def results_table(fitted, scores, ic_results, candidate_params, X, sample_weight=None):
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
            sample_weight=sample_weight,
        )
        results[f"d_elpd_{key}"] = diff
        results[f"dse_elpd_{key}"] = dse
    for key in CRITERIA:
        value = results[f"elpd_{key}"] if key in ELPD_CRITERIA else -results[key]
        # Larger is better here; missing values rank last, as in GridSearchCV.
        value = np.where(np.isfinite(value), value, -np.inf)
        results[f"rank_{key}"] = rankdata(-value, method="min").astype(np.int32)
    results.update(diagnostic_columns(fitted))
    results["fit_time"] = np.array([s["fit_time"] for s in scores])
    results["score_time"] = np.array([s["score_time"] for s in scores])
    results["params"] = [dict(params) for params in candidate_params]
    return results


def diagnostic_columns(fitted):
    """Sampler diagnostics of each fitted candidate, as ``cv_results_`` columns.

    Read from ``diagnostics_`` (``max_r_hat``, ``min_ess_bulk``,
    ``divergences``, ``n_modes``, 1 when absent) and ``converged_``; NaN, or
    masked in integer and boolean columns, for an estimator without them.

    Returns
    -------
    columns : dict
        ``max_r_hat``, ``min_ess_bulk`` (float), ``divergences``, ``n_modes``
        (masked int) and ``converged`` (masked bool), each (n_candidates,).
    """
    diagnostics = []
    for estimator in fitted:
        value = getattr(estimator, "diagnostics_", None)
        diagnostics.append(value if isinstance(value, Mapping) else {})

    def floats(key):
        return np.array([d.get(key, np.nan) for d in diagnostics], dtype=float)

    def masked(values, dtype):
        present = [value is not None for value in values]
        filled = [value if ok else 0 for value, ok in zip(values, present)]
        return np.ma.MaskedArray(
            np.array(filled, dtype=dtype), mask=np.logical_not(present)
        )

    return {
        "max_r_hat": floats("max_r_hat"),
        "min_ess_bulk": floats("min_ess_bulk"),
        "divergences": masked([d.get("divergences") for d in diagnostics], int),
        "converged": masked(
            [getattr(estimator, "converged_", None) for estimator in fitted], bool
        ),
        "n_modes": masked(
            [d.get("n_modes", 1) if d else None for d in diagnostics], int
        ),
    }


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


def candidate_line(index, n_candidates, estimator, score):
    """One line of verbose output: a candidate and its scores."""
    parts = [f"bic={score['bic']:.2f}"]
    for key in ("aic", "icl"):
        if np.isfinite(score[key]):
            parts.append(f"{key}={score[key]:.2f}")
    for key in ELPD_CRITERIA:
        if np.isfinite(score[f"elpd_{key}"]):
            parts.append(
                f"elpd_{key}={score[f'elpd_{key}']:.2f} "
                f"(se {score[f'se_elpd_{key}']:.2f})"
            )
    if np.isfinite(score["n_bad_pareto_k"]):
        parts.append(f"bad pareto k={int(score['n_bad_pareto_k'])}")
    parts.append(f"fit {score['fit_time']:.1f}s")
    return f"[{index + 1}/{n_candidates}] {describe(estimator)}: " + ", ".join(parts)


def not_converged_line(cv_results, fitted, issued, best_index):
    """One line naming the candidates not chosen that did not converge, or None.

    A candidate did not converge if its ``converged_`` is False or, for an
    estimator without ``converged_``, if it issued a ConvergenceWarning.
    """
    converged = cv_results["converged"]
    unknown = np.ma.getmaskarray(converged)
    failed = [
        index
        for index in range(len(fitted))
        if index != best_index
        and (
            any(issubclass(c, ConvergenceWarning) for c, _ in issued[index])
            if unknown[index]
            else not converged[index]
        )
    ]
    if not failed:
        return None
    n_components = cv_results["n_components"]
    covariance_type = cv_results["covariance_type"]
    if len(set(covariance_type[failed])) == 1:
        names = "n_components=" + ", ".join(str(n_components[i]) for i in failed)
    else:
        names = "; ".join(describe(fitted[i]) for i in failed)
    return (
        f"BayesianGMMSelector: {len(failed)} candidate"
        f"{'s' if len(failed) > 1 else ''} not chosen did not converge: "
        f"{names}; see cv_results_['converged']"
    )
