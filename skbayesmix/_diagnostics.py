"""The one ArviZ boundary for InferenceData and R-hat/ESS; convergence reports.

Everything a fit says about its own inference lives here: the ``diagnostics_``
dict (R-hat, ESS, divergences, sampler statistics, occupied components), whether
the fit converged, the warnings it raises and the summary it prints.
"""

import functools
import threading
import warnings

import numpy as np

from skbayesmix._covariance import n_parameters
from skbayesmix._settings import (
    MIN_ESS_PER_CHAIN,
    OCCUPIED_COUNT,
    OCCUPIED_FRACTION,
    OVERFITTED_CONCENTRATION,
    r_hat_threshold,
)


@functools.cache
def arviz():
    """Import ArviZ on first use (it imports matplotlib) and return it."""
    if threading.active_count() == 1:
        # ArviZ 0.2x announces its 1.0 refactor with a FutureWarning at import,
        # once a day. catch_warnings swaps the process-wide filters, which is
        # safe only while no other thread runs (skbayesmix._warnings);
        # otherwise it may show.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            import arviz as az
    else:
        import arviz as az
    return az


# Named dimensions of the mixture's sites after (chain, draw); a covariance
# matrix has a row and a column feature.
_COVARIANCE_DIMS = {
    "full": ["component", "feature_i", "feature_j"],
    "tied": ["feature_i", "feature_j"],
    "diag": ["component", "feature"],
    "spherical": ["component"],
}


def to_inference_data(
    posterior, sample_stats, *, log_likelihood=None, observed=None,
    covariance_type=None, feature_names=None,
):
    """Build an :class:`arviz.InferenceData` from NumPy arrays.

    Parameters
    ----------
    posterior : dict of ndarray
        Site name to array of shape (chain, draw, ...).
    sample_stats : dict of ndarray
        Sampler statistic to array of shape (chain, draw).
    log_likelihood : ndarray of shape (chain, draw, n_samples), default=None
    observed : ndarray of shape (n_samples, n_features), default=None
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default=None
        Names the dimensions of ``weights``, ``means`` and ``covariances``
        (``component``, ``feature``, and ``feature_i``, ``feature_j`` for a
        matrix); None leaves ArviZ's default names.
    feature_names : array-like of str, default=None
        Coordinates of the feature dimensions; None numbers them.

    Returns
    -------
    idata : arviz.InferenceData
    """
    groups = {"posterior": posterior, "sample_stats": sample_stats}
    if log_likelihood is not None:
        groups["log_likelihood"] = {"x": log_likelihood}
    if observed is not None:
        groups["observed_data"] = {"x": observed}
    dims = {"x": ["obs_id", "feature"]}
    coords = {}
    if covariance_type is not None:
        dims.update(
            weights=["component"],
            means=["component", "feature"],
            covariances=_COVARIANCE_DIMS[covariance_type],
        )
        n_components, n_features = posterior["means"].shape[2:]
        coords["component"] = np.arange(n_components)
        features = (
            np.arange(n_features) if feature_names is None
            else np.asarray(feature_names, dtype=object)
        )
        coords.update(feature=features, feature_i=features, feature_j=features)
    return arviz().from_dict(**groups, dims=dims, coords=coords)


def convergence_summary(posterior, symmetric=()):
    """R-hat (rank-normalised, split) and bulk/tail ESS of every site.

    Parameters
    ----------
    posterior : dict of ndarray
        Site name to array of shape (chain, draw, ...).
    symmetric : tuple of str, default=()
        Sites that hold symmetric matrices in their last two axes (full and
        tied covariances): only their upper triangles are diagnosed, and the
        values mirrored, as the two halves are the same draws (breast cancer,
        D=30: 992 quantities instead of 1,862, ArviZ's 3.5 s nearly halved).

    Returns
    -------
    summary : dict
        ``r_hat``, ``ess_bulk``, ``ess_tail``: dicts of site name to array of the
        site's event shape; ``max_r_hat``, ``min_ess_bulk``: floats (NaN entries,
        e.g. from constant sites, are ignored).
    """
    diagnosed = {
        name: _upper_triangle(value) if name in symmetric else value
        for name, value in posterior.items()
    }
    az = arviz()
    dataset = az.convert_to_dataset(diagnosed)
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
        event_shape = np.shape(posterior[name])[2:]
        if result is None:
            return np.full(event_shape, np.nan)
        if name in symmetric:
            return _mirrored(result[name].values, event_shape)
        return result[name].values

    summary = {
        "r_hat": {name: values(r_hat, name) for name in posterior},
        "ess_bulk": {name: values(ess_bulk, name) for name in posterior},
        "ess_tail": {name: values(ess_tail, name) for name in posterior},
    }
    summary["max_r_hat"] = _nan_extreme(summary["r_hat"], np.nanmax, 1.0)
    summary["min_ess_bulk"] = _nan_extreme(summary["ess_bulk"], np.nanmin, np.nan)
    return summary


def _upper_triangle(matrices):
    """(..., D, D) -> (..., D (D + 1) / 2): the entries on and above the diagonal."""
    upper = np.triu_indices(matrices.shape[-1])
    return matrices[..., upper[0], upper[1]]


def _mirrored(upper_values, shape):
    """Inverse of :func:`_upper_triangle` for symmetric matrices of ``shape``."""
    upper = np.triu_indices(shape[-1])
    matrices = np.empty(shape, dtype=np.asarray(upper_values).dtype)
    matrices[..., upper[0], upper[1]] = upper_values
    matrices[..., upper[1], upper[0]] = upper_values
    return matrices


def _r_hat_thresholds(summary, n_chains, n_draws, n_quantities):
    """Per-site arrays of the R-hat each quantity must stay below.

    :func:`skbayesmix._settings.r_hat_threshold` for the number of chains,
    draws and distinct quantities, with each quantity's autocorrelation time
    estimated as the number of draws over its smaller (bulk or tail) ESS, at
    least 1: a threshold for independent draws flags every converged fit
    whose draws are autocorrelated (``benchmarks/bench_rhat_null.py``). A
    quantity whose chains disagree has a small ESS, so the time is capped at
    the value the ESS check (:func:`is_converged`) tolerates, draws per chain
    over ``MIN_ESS_PER_CHAIN``.
    """
    total = n_chains * n_draws
    # Capped where the ESS check would fail anyway, so that chains that
    # disagree (tiny ESS) cannot buy themselves a lenient threshold.
    max_tau = max(1.0, n_draws / MIN_ESS_PER_CHAIN)
    thresholds = {}
    for name, r_hat in summary["r_hat"].items():
        ess = np.fmin(summary["ess_bulk"][name], summary["ess_tail"][name])
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.where(np.isfinite(ess) & (ess > 0), total / ess, max_tau)
        tau = np.clip(tau, 1.0, max_tau)
        if n_chains < 2 or n_draws < 4:
            thresholds[name] = np.full(np.shape(r_hat), np.inf)
            continue
        thresholds[name] = r_hat_threshold(
            n_chains, n_draws, n_quantities, autocorrelation_time=tau
        )
    return thresholds


def _worst_r_hat(r_hat, thresholds):
    """(R-hat, its threshold) of the quantity furthest above (or nearest) its own."""
    best = (1.0, np.inf, -np.inf)
    for name, values in r_hat.items():
        values = np.asarray(values, dtype=float)
        limit = np.asarray(thresholds[name], dtype=float)
        finite = np.isfinite(values)
        if not finite.any():
            continue
        margin = np.where(finite, values - limit, -np.inf)
        index = np.unravel_index(np.argmax(margin), margin.shape)
        if margin[index] > best[2]:
            best = (float(values[index]), float(limit[index]), float(margin[index]))
    return best[0], best[1]


def _nan_extreme(values, reduce, default):
    flat = np.concatenate([np.ravel(v) for v in values.values()])
    flat = flat[np.isfinite(flat)]
    return float(reduce(flat)) if flat.size else default


def n_effective_components(expected_counts):
    """Occupied components per draw, and their posterior median (half rounds up).

    Parameters
    ----------
    expected_counts : ndarray of shape (n_draws, n_components)

    Returns
    -------
    per_draw : ndarray of shape (n_draws,), dtype=int
        Components holding at least ``OCCUPIED_COUNT`` expected observations.
    median : int
    """
    per_draw = np.sum(expected_counts >= OCCUPIED_COUNT, axis=1)
    # np.round rounds half to even (a median of 2.5 would be 2).
    return per_draw, int(np.floor(np.median(per_draw) + 0.5))


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


def _occupied_summary(summary, thresholds, occupied, component_sites):
    """R-hat and bulk ESS over the occupied components' quantities only.

    An empty component's mean and covariance are draws from their prior, which
    mix slowly and say nothing about the fit. A tied covariance is shared, and
    kept whole.
    """
    r_hat, ess, limits = {}, {}, {}
    for name in summary["r_hat"]:
        keep = occupied if name in component_sites else slice(None)
        r_hat[name] = summary["r_hat"][name][keep]
        ess[name] = summary["ess_bulk"][name][keep]
        limits[name] = thresholds[name][keep]
    worst, limit = _worst_r_hat(r_hat, limits)
    return {
        "occupied_components": np.flatnonzero(occupied),
        "max_r_hat_occupied": _nan_extreme(r_hat, np.nanmax, 1.0),
        "min_ess_bulk_occupied": _nan_extreme(ess, np.nanmin, np.nan),
        "worst_r_hat_occupied": worst,
        "r_hat_threshold_occupied": limit,
    }


def fit_diagnostics(
    samples, sample_stats, *, covariance_type, occupied, component_sites,
    dense_mass, timings, modes, chain_weights, iterations,
):
    """Build the ``diagnostics_`` dict of a fit.

    Parameters
    ----------
    samples : dict of ndarray
        Relabelled draws with leading (chain, draw) axes.
    sample_stats : dict of ndarray
        As returned by :meth:`skbayesmix._inference.ChainSampler.result`.
    occupied : ndarray of shape (n_components,), dtype=bool
    component_sites : tuple of str
        The sites of ``samples`` with a component axis after (chain, draw).
    dense_mass : bool
    timings : tuple of float
        Compilation and sampling time in seconds.
    modes : ndarray of shape (n_chains,), dtype=int
        See :func:`skbayesmix._modes.chain_modes`.
    chain_weights : ndarray of shape (n_chains,)
        How much each chain counts in the posterior averages.
    iterations : tuple
        Post-warm-up iterations of the longest chain, and the number of
        restarts of every chain.
    """
    symmetric = ("covariances",) if covariance_type in ("full", "tied") else ()
    summary = convergence_summary(samples, symmetric=symmetric)
    n_chains, n_draws = samples["weights"].shape[:2]
    n_components, n_features = samples["means"].shape[2:]
    # Distinct quantities (a covariance matrix's symmetric entries once).
    n_quantities = n_parameters(n_components, n_features, covariance_type) + 1
    thresholds = _r_hat_thresholds(summary, n_chains, n_draws, n_quantities)
    worst, limit = _worst_r_hat(summary["r_hat"], thresholds)
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
        "r_hat_thresholds": thresholds,
        "worst_r_hat": worst,
        "r_hat_threshold": limit,
        "n_modes": int(modes.max() + 1),
        "chain_modes": modes,
        "chain_weights": np.asarray(chain_weights, dtype=float),
        "num_draws": int(n_draws),
        "num_iterations": int(iterations[0]),
        "restarts": np.asarray(iterations[1], dtype=int),
        "compile_time": float(timings[0]),
        "sampling_time": float(timings[1]),
        **_occupied_summary(summary, thresholds, occupied, component_sites),
    }


def checked(diagnostics, overfitted):
    """Return the R-hat, its threshold and the min bulk ESS verdicts use.

    The R-hat is that of the quantity furthest above its own threshold (or
    nearest below it); overfitted fits look at the occupied components only.
    """
    suffix = "_occupied" if overfitted else ""
    worst, limit = (
        diagnostics[f"worst_r_hat{suffix}"], diagnostics[f"r_hat_threshold{suffix}"]
    )
    return worst, limit, diagnostics[f"min_ess_bulk{suffix}"]


def is_converged(diagnostics, overfitted):
    """One mode, no divergence, every R-hat below its threshold, enough ESS.

    A quantity's threshold is :func:`skbayesmix._settings.r_hat_threshold`
    for the number of chains, draws, distinct quantities and its
    autocorrelation time: 1.01, or more where so many quantities (or such
    autocorrelated draws) would cross 1.01 in more than 5% of converged
    fits. The bulk ESS must be at least ``MIN_ESS_PER_CHAIN`` per chain.
    """
    r_hat, threshold, min_ess = checked(diagnostics, overfitted)
    n_chains = len(diagnostics["chain_modes"])
    return bool(
        diagnostics["n_modes"] == 1
        and diagnostics["divergences"] == 0
        and r_hat < threshold
        and not min_ess < MIN_ESS_PER_CHAIN * n_chains
    )


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


def _apart(value, threshold, *, decimals):
    """Format a value and its threshold with the fewest decimals that tell them apart.

    At least ``decimals``, the same for both, so that rounding never prints a
    value on the wrong side of its threshold: R-hat 1.01004 against 1.01
    prints ``1.01004`` and ``1.01000``, not ``1.0100`` twice. Equal values
    print equal.
    """
    if value != threshold:
        for places in range(decimals, 17):
            texts = f"{value:.{places}f}", f"{threshold:.{places}f}"
            if texts[0] != texts[1]:
                return texts
    return f"{value:.{decimals}f}", f"{threshold:.{decimals}f}"


def describe(estimator):
    """Short text naming a model: its n_components and covariance type."""
    params = estimator.get_params()
    text = f"n_components={params['n_components']}"
    if "covariance_type" in params:
        text += f", covariance_type={params['covariance_type']!r}"
    return text


def model_name(estimator):
    """Name a model by its class and :func:`describe`: ``GaussianMixture(...)``."""
    return f"{type(estimator).__name__}({describe(estimator)})"


def poor_inference_warning(name, findings, *, converged):
    """One ConvergenceWarning message for a fit: the model, then each finding.

    Parameters
    ----------
    name : str
        The model, as :func:`model_name` gives it.
    findings : list of str
        :func:`poor_inference_messages`; not empty.
    converged : bool
        The fit's ``converged_`` (False for every finding but empty components).

    Returns
    -------
    message : str
        ``"<name> did not converge:"`` (or ``"<name> converged, but:"``), then
        one line ``"- <finding>"`` per finding.
    """
    head = f"{name} did not converge:" if not converged else f"{name} converged, but:"
    return "\n".join([head, *(f"- {finding}" for finding in findings)])


def poor_inference_messages(diagnostics, *, n_components, num_chains, overfitted,
                            empty_fraction):
    """List the findings of a fit's ConvergenceWarning, each saying what to change.

    :func:`poor_inference_warning` merges them into the one warning a fit
    issues; ``diagnostics_["warnings"]`` keeps them as this list.
    """
    messages = []
    n_draws = num_chains * diagnostics["num_draws"]
    ran = (
        f" after {diagnostics['num_iterations']} iterations per chain "
        f"(the last {diagnostics['num_draws']} kept)"
    )
    if diagnostics["divergences"]:
        messages.append(
            f"{diagnostics['divergences']} of {n_draws} post-warm-up transitions "
            "were divergent: the posterior is not explored reliably. Increase "
            "target_accept_prob (e.g. to 0.95), or reduce n_components if some "
            "components are empty."
        )
    max_r_hat, threshold, min_ess = checked(diagnostics, overfitted)
    note = _excluded_note(diagnostics, n_components, overfitted)
    if diagnostics["n_modes"] > 1:
        # Running longer cannot join modes the chains do not cross between.
        groups = [
            np.flatnonzero(diagnostics["chain_modes"] == mode).tolist()
            for mode in range(diagnostics["n_modes"])
        ]
        messages.append(
            f"The {num_chains} chains settled in {diagnostics['n_modes']} different "
            f"modes of the posterior (chains {groups}; max R-hat "
            f"{diagnostics['max_r_hat']:.3f}): running longer will not make them "
            "agree. "
            "Predictions combine the modes with stacking weights "
            f"{np.round(diagnostics['chain_weights'], 3).tolist()} per chain "
            "(diagnostics_['chain_weights']). A misspecified n_components often "
            "has several modes: compare n_components with BayesianGMMSelector; "
            "more chains (num_chains) show how many modes there are."
        )
        return messages
    if max_r_hat >= threshold:
        if diagnostics.get("stopped") == "not converging":
            advice = (
                "Continuing did not bring them closer: they may sit in nearby "
                "modes of the posterior. More chains (num_chains) show how many; "
                "or reduce n_components."
            )
        else:
            advice = "Increase num_warmup and max_num_samples, or reduce n_components."
        r_hat_text, threshold_text = _apart(max_r_hat, threshold, decimals=4)
        messages.append(
            f"R-hat is {r_hat_text}{note} for a quantity that must stay below "
            f"{threshold_text}{ran}: the chains disagree. {advice}"
        )
    # The bar is per chain; the ESS is that of all chains together.
    min_total = MIN_ESS_PER_CHAIN * num_chains
    if np.isfinite(min_ess) and min_ess < min_total:
        ess_text, _ = _apart(min_ess, min_total, decimals=0)
        messages.append(
            f"Min bulk ESS is {ess_text}{note}, below {min_total} "
            f"({MIN_ESS_PER_CHAIN} per chain x {num_chains} chains): posterior "
            f"summaries are noisy{ran}. Increase num_samples or max_num_samples."
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


def pareto_k_message(n_bad, threshold):
    """Word the advice when PSIS-LOO is unreliable (``loo()`` and the selector)."""
    observations = "observation has" if n_bad == 1 else "observations have"
    return (
        f"PSIS-LOO is unreliable: {n_bad} {observations} Pareto k above "
        f"{threshold:.2f}. Increase num_samples, or compare models by BIC or by "
        "a cross-validated score instead."
    )


def describe_fit(estimator):
    """Describe a fitted BayesianGMM: model, weights, diagnostics, timings.

    Printed by ``verbose`` fits and by the command line.
    """
    diag = estimator.diagnostics_
    n_draws = estimator.num_chains * diag["num_draws"]
    chains = f"{estimator.num_chains} chain" + "s" * (estimator.num_chains != 1)
    coreset = diag.get("coreset")
    data = []
    if coreset is not None:
        data = [
            f"fitted a coreset: {coreset['n_rows']} weighted rows "
            f"({coreset['draws']} draws) for {coreset['n_samples']} rows"
        ]
    return "\n".join(
        [
            f"{model_name(estimator)}: {chains} x "
            f"{estimator.num_warmup}+{diag['num_iterations']} (last "
            f"{diag['num_draws']} kept), effective components "
            f"{estimator.n_effective_components_}",
            *data,
            f"weights: {np.array2string(estimator.weights_, precision=3)}",
            f"divergent transitions: {diag['divergences']} of {n_draws}",
            f"max R-hat: {diag['max_r_hat']:.4f}; modes: {diag['n_modes']}",
            f"min bulk ESS: {diag['min_ess_bulk']:.0f} over the "
            f"{chains} (want at least "
            f"{MIN_ESS_PER_CHAIN * estimator.num_chains}, {MIN_ESS_PER_CHAIN} per "
            "chain)",
            f"converged: {estimator.converged_}",
            f"compile {diag['compile_time']:.1f} s, "
            f"sampling {diag['sampling_time']:.1f} s",
        ]
    )
