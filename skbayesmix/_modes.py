"""Chains in different modes of the posterior: found, told apart, combined.

A mixture posterior can have modes, different clusterings of the data, that
chains do not move between. Chains are grouped by their clustering of the
training rows (:func:`chain_modes`); a group counts as a mode only if it is
stationary on its own (:func:`settled_modes`); a chain whose log density never
reaches the best chain's range failed (:func:`failed_chains`) and is a mode of
its own. Predictions combine the modes by stacking
(:func:`stacked_chain_weights`).
"""

import numpy as np

from skbayesmix import _criteria
from skbayesmix._diagnostics import convergence_summary
from skbayesmix._settings import (
    FAILED_CHAIN_QUANTILE,
    MODE_LABEL_DISAGREEMENT,
    MODE_STATIONARY_R_HAT,
)


def posterior_chain_modes(posterior, X, lp):
    """Return the mode of every chain (all 0 unless settled modes differ).

    Chains whose log density never meets the best chain's range (they failed
    again after a restart; see :mod:`skbayesmix._run_length`) are in a mode
    of their own, whatever their clustering.

    Parameters
    ----------
    posterior : Posterior
    X : ndarray of shape (n_samples, n_features)
        The training data.
    lp : ndarray of shape (n_chains, n_draws)
        Log density of every draw.

    Returns
    -------
    modes : ndarray of shape (n_chains,), dtype=int
    """
    modes = chain_modes(posterior.chain_memberships(X).argmax(-1))
    failed = failed_chains(lp)
    if failed.any():
        return separate_modes(modes, failed)
    if modes.max() > 0 and not settled_modes(posterior.samples(), modes):
        return np.zeros_like(modes)
    return modes


def stacked_chain_weights(posterior, X, modes, sample_weight=None):
    """Chain weights that stack the modes' leave-one-out predictions.

    Each mode's PSIS-LOO pointwise log predictive density is computed from
    its chains' draws; the modes are stacked
    (:func:`skbayesmix._criteria.stacking_weights`) and a mode's weight is
    shared equally by its chains. ``sample_weight`` weighs the rows' scores.

    Returns
    -------
    chain_weights : ndarray of shape (n_chains,)
    """
    log_lik = posterior.pointwise_log_likelihood(X)
    n_modes = modes.max() + 1
    pointwise = np.column_stack([
        _criteria.information_criterion(log_lik[modes == mode], "loo")["pointwise"]
        for mode in range(n_modes)
    ])
    mode_weights = _criteria.stacking_weights(pointwise, sample_weight)
    counts = np.bincount(modes, minlength=n_modes)
    return mode_weights[modes] / counts[modes]


def failed_chains(lp):
    """Chains whose log density stays below everything the best chain draws.

    A chain failed when even its high log densities (quantile
    ``1 - FAILED_CHAIN_QUANTILE``) are below the low ones (quantile
    ``FAILED_CHAIN_QUANTILE``) of the chain with the highest median: the two
    never overlap. Chains sampling one posterior overlap however slowly they
    mix; a chain that warm-up left in a region of far lower density (for
    example with a component emptied, thousands of nats down) does not. Only a
    minority of the chains can fail: when half or more are low, which chains
    failed is not clear, and none is reported.

    Parameters
    ----------
    lp : ndarray of shape (n_chains, n_draws)
        Log density of every draw.

    Returns
    -------
    failed : ndarray of shape (n_chains,), dtype=bool
    """
    lp = np.asarray(lp, dtype=float)
    n_chains = lp.shape[0]
    best = np.argmax(np.median(lp, axis=1))
    floor = np.quantile(lp[best], FAILED_CHAIN_QUANTILE)
    failed = np.quantile(lp, 1 - FAILED_CHAIN_QUANTILE, axis=1) < floor
    if 2 * failed.sum() >= n_chains:
        return np.zeros(n_chains, dtype=bool)
    return failed


def chain_modes(chain_labels):
    """Group the chains by the mode of the posterior each settled in.

    Two chains sampled the same mode when their hard memberships of the
    training rows (argmax of each chain's mean memberships) differ on at most
    ``MODE_LABEL_DISAGREEMENT`` of the rows (or one row): modes of a mixture
    posterior are different clusterings of the data. Slow mixing within one
    mode moves a chain's log density but rarely its clustering, so this also
    keeps a short or poorly adapted run from being called multimodal. Modes
    are the groups of chains linked by that relation.

    Parameters
    ----------
    chain_labels : ndarray of shape (n_chains, n_samples)

    Returns
    -------
    modes : ndarray of shape (n_chains,), dtype=int
        The mode of every chain, numbered in order of first appearance.
    """
    n_chains, n_samples = chain_labels.shape
    allowed = max(1, int(MODE_LABEL_DISAGREEMENT * n_samples))
    modes = np.full(n_chains, -1)
    n_modes = 0
    for chain in range(n_chains):
        if modes[chain] >= 0:
            continue
        modes[chain], stack = n_modes, [chain]
        while stack:
            current = stack.pop()
            for other in np.flatnonzero(modes < 0):
                if np.sum(chain_labels[current] != chain_labels[other]) <= allowed:
                    modes[other] = n_modes
                    stack.append(other)
        n_modes += 1
    return modes


def separate_modes(modes, apart):
    """Split the chains flagged ``apart`` from the others' modes.

    Parameters
    ----------
    modes : ndarray of shape (n_chains,), dtype=int
    apart : ndarray of shape (n_chains,), dtype=bool

    Returns
    -------
    modes : ndarray of shape (n_chains,), dtype=int
        Chains share a mode when they shared one in ``modes`` and are on the
        same side of ``apart``; numbered in order of first appearance.
    """
    keys = list(zip(np.asarray(modes).tolist(), np.asarray(apart).tolist()))
    numbers = {}
    return np.array([numbers.setdefault(key, len(numbers)) for key in keys])


def settled_modes(samples, modes):
    """Whether every mode's chains, taken alone, are stationary and agree.

    Chains whose clusterings differ may simply not have converged yet; they
    sampled different *modes* only if each group, on its own, passes a
    (lenient) R-hat check: split R-hat below ``MODE_STATIONARY_R_HAT`` for
    every quantity.

    Parameters
    ----------
    samples : dict of ndarray
        Draws with leading (chain, draw) axes.
    modes : ndarray of shape (n_chains,), dtype=int
    """
    for mode in range(modes.max() + 1):
        chains = modes == mode
        group = {name: value[chains] for name, value in samples.items()}
        if chains.sum() == 1:  # R-hat needs two chains: use the two halves
            half = next(iter(group.values())).shape[1] // 2
            group = {
                name: value[0, : 2 * half].reshape((2, half) + value.shape[2:])
                for name, value in group.items()
            }
        summary = convergence_summary(group)
        if not summary["max_r_hat"] < MODE_STATIONARY_R_HAT:
            return False
    return True
