"""The one ArviZ boundary for InferenceData and R-hat/ESS; convergence reports.

Everything a fit says about its own inference lives here: the ``diagnostics_``
dict (R-hat, ESS, divergences, sampler statistics, occupied components), whether
the fit converged, the warnings it raises and the summary it prints.
"""

import warnings

import numpy as np

from skbayesmix._settings import (
    MIN_ESS_PER_CHAIN,
    OCCUPIED_COUNT,
    OCCUPIED_FRACTION,
    OVERFITTED_CONCENTRATION,
    R_HAT_THRESHOLD,
)

with warnings.catch_warnings():
    # ArviZ 0.2x announces its 1.0 refactor with a FutureWarning at import.
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az


def to_inference_data(posterior, sample_stats, *, log_likelihood=None, observed=None):
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
    groups = {"posterior": posterior, "sample_stats": sample_stats}
    if log_likelihood is not None:
        groups["log_likelihood"] = {"x": log_likelihood}
    if observed is not None:
        groups["observed_data"] = {"x": observed}
    return az.from_dict(**groups, dims={"x": ["obs_id", "feature"]})


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


def occupied_components(expected_counts):
    """Components holding ``OCCUPIED_COUNT`` observations in enough draws.

    Parameters
    ----------
    expected_counts : ndarray of shape (n_draws, n_components)

    Returns
    -------
    empty_fraction : ndarray of shape (n_components,)
        Fraction of draws in which each component holds less.
    occupied : ndarray of shape (n_components,), dtype=bool
    """
    empty_fraction = np.mean(expected_counts < OCCUPIED_COUNT, axis=0)
    return empty_fraction, empty_fraction <= OCCUPIED_FRACTION


def _occupied_summary(summary, occupied, component_sites):
    """R-hat and bulk ESS over the occupied components' quantities only.

    An empty component's mean and covariance are draws from their prior, which
    mix slowly and say nothing about the fit. A tied covariance is shared, and
    kept whole.
    """
    r_hat, ess = {}, {}
    for name in summary["r_hat"]:
        keep = occupied if name in component_sites else slice(None)
        r_hat[name] = summary["r_hat"][name][keep]
        ess[name] = summary["ess_bulk"][name][keep]
    return {
        "occupied_components": np.flatnonzero(occupied),
        "max_r_hat_occupied": _nan_extreme(r_hat, np.nanmax, 1.0),
        "min_ess_bulk_occupied": _nan_extreme(ess, np.nanmin, np.nan),
    }


def fit_diagnostics(
    samples, sample_stats, *, occupied, component_sites, dense_mass, timings
):
    """Build the ``diagnostics_`` dict of a fit.

    Parameters
    ----------
    samples : dict of ndarray
        Relabelled draws with leading (chain, draw) axes.
    sample_stats : dict of ndarray
        As returned by :func:`skbayesmix._inference.run_nuts`.
    occupied : ndarray of shape (n_components,), dtype=bool
    component_sites : tuple of str
        The sites of ``samples`` with a component axis after (chain, draw).
    dense_mass : bool
    timings : tuple of float
        Compilation and sampling time in seconds.
    """
    summary = convergence_summary(samples)
    divergences_per_chain = sample_stats["diverging"].sum(axis=1).astype(int)
    return {
        **summary,
        "divergences": int(divergences_per_chain.sum()),
        "divergences_per_chain": divergences_per_chain,
        "warmup_divergences": np.asarray(sample_stats["warmup_divergences"]).astype(
            int
        ),
        "accept_rate": sample_stats["acceptance_rate"][:, -1].astype(float),
        "step_size": sample_stats["step_size"][:, -1].astype(float),
        "mean_tree_size": float(sample_stats["n_steps"].mean()),
        "dense_mass": bool(dense_mass),
        "compile_time": float(timings[0]),
        "sampling_time": float(timings[1]),
        **_occupied_summary(summary, occupied, component_sites),
    }


def checked(diagnostics, overfitted):
    """Return the max R-hat and min bulk ESS verdicts use (occupied if overfitted)."""
    suffix = "_occupied" if overfitted else ""
    return diagnostics[f"max_r_hat{suffix}"], diagnostics[f"min_ess_bulk{suffix}"]


def is_converged(diagnostics, overfitted):
    """No divergent transition and every (checked) R-hat below the threshold."""
    max_r_hat, _ = checked(diagnostics, overfitted)
    return bool(diagnostics["divergences"] == 0 and max_r_hat < R_HAT_THRESHOLD)


def _excluded_note(diagnostics, n_components, overfitted):
    """Which components overfitted diagnostics leave out, for messages."""
    occupied = diagnostics["occupied_components"]
    if not overfitted or occupied.size == n_components:
        return ""
    empty = np.setdiff1d(np.arange(n_components), occupied)
    return (
        f" (over the {occupied.size} occupied components; the empty components "
        f"{empty.tolist()}, whose parameters are prior draws, are excluded)"
    )


def poor_inference_messages(diagnostics, *, n_components, num_chains, num_samples,
                            overfitted, empty_fraction):
    """ConvergenceWarning messages for a fit, each saying what to change."""
    messages = []
    n_draws = num_chains * num_samples
    if diagnostics["divergences"]:
        messages.append(
            f"{diagnostics['divergences']} of {n_draws} post-warm-up transitions "
            "were divergent: the posterior is not explored reliably. Increase "
            "target_accept_prob (e.g. to 0.95), or reduce n_components if some "
            "components are empty."
        )
    max_r_hat, min_ess = checked(diagnostics, overfitted)
    note = _excluded_note(diagnostics, n_components, overfitted)
    if max_r_hat >= R_HAT_THRESHOLD:
        messages.append(
            f"Max R-hat is {max_r_hat:.3f}{note} (above {R_HAT_THRESHOLD}): the "
            "chains disagree. Increase num_warmup and num_samples, or reduce "
            "n_components."
        )
    if np.isfinite(min_ess) and min_ess < MIN_ESS_PER_CHAIN * num_chains:
        messages.append(
            f"Min bulk ESS is {min_ess:.0f}{note}, below {MIN_ESS_PER_CHAIN} per "
            "chain: posterior summaries are noisy. Increase num_samples."
        )
    empty = np.flatnonzero(empty_fraction > OCCUPIED_FRACTION)
    if empty.size and not overfitted:
        n_used = n_components - empty.size
        messages.append(
            f"{empty.size} of {n_components} components (indices "
            f"{empty.tolist()}) hold less than one observation in most posterior "
            f"draws: the data support fewer components. Reduce n_components "
            f"(e.g. to {max(n_used, 1)}), or set a small weight_concentration "
            f"(e.g. 0.01, below {OVERFITTED_CONCENTRATION}) to let surplus "
            "components empty on purpose."
        )
    return messages


def describe_fit(estimator):
    """Describe a fitted BayesianGMM: model, weights, diagnostics, timings.

    Printed by ``verbose`` fits and by the command line.
    """
    diag = estimator.diagnostics_
    n_draws = estimator.num_chains * estimator.num_samples
    return "\n".join(
        [
            f"BayesianGMM(n_components={estimator.n_components}, covariance_type="
            f"'{estimator.covariance_type}'): {estimator.num_chains} chains x "
            f"{estimator.num_warmup}+{estimator.num_samples}, effective components "
            f"{estimator.n_effective_components_}",
            f"weights: {np.array2string(estimator.weights_, precision=3)}",
            f"divergent transitions: {diag['divergences']} of {n_draws}",
            f"max R-hat: {diag['max_r_hat']:.3f} (want < {R_HAT_THRESHOLD})",
            f"min bulk ESS: {diag['min_ess_bulk']:.0f} (want > "
            f"{MIN_ESS_PER_CHAIN * estimator.num_chains})",
            f"converged: {estimator.converged_}",
            f"compile {diag['compile_time']:.1f} s, "
            f"sampling {diag['sampling_time']:.1f} s",
        ]
    )
