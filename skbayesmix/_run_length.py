"""How long the chains run: restart failed chains, continue until they agree.

A fit runs its chains in rounds of ``num_samples`` post-warm-up iterations
(:class:`skbayesmix._inference.ChainSampler`). After the first round, chains
that failed in warm-up are started again, and chains that have not converged
yet continue from where they stopped, until the diagnostics hold or the budget
``max_num_samples`` is spent. Pure NumPy: the sampler is passed in.
"""

from collections import namedtuple

import numpy as np

from skbayesmix._modes import failed_chains
from skbayesmix._settings import NOT_CONVERGING_R_HAT


def kept_draws(iterations, round_length):
    """Return how many trailing draws per chain the posterior is computed from.

    The last half of each chain's post-warm-up iterations, rounded up to whole
    rounds, as Gelman and Rubin discard the first half: iterations a chain
    needed to reach the region the others sample count as warm-up. Chains that
    were restarted have fewer iterations; all chains keep as many as the
    shortest.

    Parameters
    ----------
    iterations : ndarray of shape (n_chains,)
        Post-warm-up iterations of every chain since its last (re)start.
    round_length : int

    Returns
    -------
    n_draws : int
    """
    rounds = np.asarray(iterations) // round_length
    return int(round_length * np.min(np.ceil(rounds / 2)))


Verdict = namedtuple("Verdict", ["more_draws_help", "r_hat", "r_hat_threshold"])
Verdict.__doc__ = """What an assessment of the kept draws says about running on.

more_draws_help : bool
    The chains have not converged, but continuing could change that (one
    mode, no divergent transition).
r_hat, r_hat_threshold : float
    The worst R-hat (furthest above its threshold) and that threshold.
"""


def sample_until_converged(sampler, assess, *, max_iterations, continuing=False):
    """Run ``sampler`` in rounds until ``assess`` is content or the budget is spent.

    The first round warms every chain up and draws one round. After each round:

    1. Chains that failed (:func:`failed_chains`) and were never restarted are
       warmed up again from their starting values with a new key, while the
       other chains continue.
    2. Otherwise ``assess`` reads the kept draws (:func:`kept_draws`). The run
       stops unless more draws can help; and after a continuation, also when
       the chains still disagree clearly (R-hat at least
       ``NOT_CONVERGING_R_HAT``) and at least as much as before it (R-hat's
       excess over its threshold did not shrink): they are not converging,
       e.g. a surplus component with nowhere to go. Narrow misses always
       continue: their R-hat moves up and down by chance from round to round.
       Else every chain continues by one round.

    No chain runs more than ``max_iterations`` post-warm-up iterations.

    Parameters
    ----------
    sampler : ChainSampler
    assess : callable
        ``assess(result) -> (outcome, verdict)`` for a
        :class:`~skbayesmix._inference.NUTSResult`, ``verdict`` a
        :class:`Verdict`.
    max_iterations : int
        Budget of post-warm-up iterations per chain.
    continuing : bool, default=False
        The sampler has run before (a warm start): the first round continues
        every chain instead of starting them.

    Returns
    -------
    result : NUTSResult
        The kept draws.
    outcome : object
        What ``assess`` returned for them.
    stopped : {'assessed', 'not converging', 'budget'}
        Why the run stopped: ``assess`` said more draws would not help (or
        the chains converged); R-hat's excess did not shrink in a
        continuation; or the next round would pass ``max_iterations``.
    """
    round_length = sampler.settings.num_samples
    if continuing:
        sampler.run(fresh=np.zeros(len(sampler.iterations), dtype=bool))
    else:
        sampler.run()
    previous_excess = None
    while True:
        result = sampler.result(kept_draws(sampler.iterations, round_length))
        can_continue = sampler.iterations.max() + round_length <= max_iterations
        failed = failed_chains(result.sample_stats["lp"]) & (sampler.restarts == 0)
        if failed.any() and can_continue:
            sampler.run(fresh=failed)
            continue
        outcome, verdict = assess(result)
        excess = verdict.r_hat - verdict.r_hat_threshold
        if not verdict.more_draws_help:
            return result, outcome, "assessed"
        if (
            previous_excess is not None
            and 0 < previous_excess <= excess
            and verdict.r_hat >= NOT_CONVERGING_R_HAT
        ):
            return result, outcome, "not converging"
        if not can_continue:
            return result, outcome, "budget"
        previous_excess = excess
        sampler.run(fresh=np.zeros(len(sampler.iterations), dtype=bool))
