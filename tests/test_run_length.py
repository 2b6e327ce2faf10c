"""Run length: restarts of failed chains, continuation, kept draws."""

import warnings

import numpy as np
import pytest
from conftest import kmeans_problem, model_hyper
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

from skbayesmix import BayesianGMM, _inference, _program_cache
from skbayesmix._initialization import jittered_chain_values
from skbayesmix._modes import failed_chains, separate_modes
from skbayesmix._run_length import Verdict, kept_draws, sample_until_converged


@pytest.mark.parametrize(
    "iterations, expected",
    [
        ([500, 500], 500),
        ([1000, 1000], 500),  # the first round counts as warm-up
        ([1500, 1500], 1000),
        ([2000, 2000], 1000),
        ([1500, 500], 500),  # a restarted chain has fewer
    ],
)
def test_kept_draws_is_the_last_half_in_whole_rounds(iterations, expected):
    assert kept_draws(np.array(iterations), 500) == expected


def test_failed_chains_are_those_whose_log_density_never_overlaps():
    rng = np.random.RandomState(0)
    lp = rng.standard_normal((4, 500)) * 20.0 - 300.0
    assert not failed_chains(lp).any()
    # Slow mixing: a chain 15 nats lower on average still overlaps.
    slow = lp.copy()
    slow[2] -= 15.0
    assert not failed_chains(slow).any()
    # A chain left thousands of nats down by warm-up.
    stuck = lp.copy()
    stuck[2] -= 3700.0
    assert_array_equal(failed_chains(stuck), [False, False, True, False])
    # Half the chains low: which ones failed is not clear.
    split = lp.copy()
    split[2:] -= 3700.0
    assert not failed_chains(split).any()


def test_separate_modes_splits_the_flagged_chains():
    assert_array_equal(
        separate_modes(np.array([0, 0, 0, 0]), np.array([False, True, False, False])),
        [0, 1, 0, 0],
    )
    assert_array_equal(
        separate_modes(np.array([0, 1, 1, 0]), np.array([False, False, True, True])),
        [0, 1, 2, 3],
    )


class _FakeSampler:
    """The ChainSampler interface over given per-round log densities."""

    def __init__(self, lp_of_round, n_chains=4, round_length=10):
        self.settings = _inference.SamplerSettings(
            1, round_length, n_chains, "sequential", 0.8, 5, False
        )
        self.lp_of_round = lp_of_round
        self.iterations = np.zeros(n_chains, dtype=int)
        self.restarts = np.zeros(n_chains, dtype=int)
        self.calls = []
        self._lp = [[] for _ in range(n_chains)]

    def run(self, fresh=None):
        n_chains = len(self.iterations)
        fresh = np.ones(n_chains, bool) if fresh is None else fresh
        lp = self.lp_of_round(len(self.calls), fresh)
        self.calls.append(fresh.copy())
        for chain in range(n_chains):
            if fresh[chain]:
                if len(self.calls) > 1:
                    self.restarts[chain] += 1
                self._lp[chain], self.iterations[chain] = [], 0
            self._lp[chain].append(lp[chain])
            self.iterations[chain] += self.settings.num_samples

    def result(self, n_draws):
        lp = np.stack([np.concatenate(blocks)[-n_draws:] for blocks in self._lp])
        return _inference.NUTSResult(None, {"lp": lp}, 0.0, 0.0)


def _lp(offsets):
    rng = np.random.RandomState(len(offsets))
    return rng.standard_normal((4, 10)) + np.asarray(offsets)[:, None]


def test_failed_chain_is_restarted_once_then_assessed():
    # Chain 1 is stuck in round 0 and fine after its restart.
    sampler = _FakeSampler(
        lambda r, fresh: _lp([0, -1000 if r == 0 else 0, 0, 0])
    )
    seen = []

    def assess(result):
        seen.append(result.sample_stats["lp"].shape)
        return "done", Verdict(False, 1.0, 1.01)

    result, outcome, stopped = sample_until_converged(
        sampler, assess, max_iterations=30
    )
    assert outcome == "done" and stopped == "assessed"
    assert_array_equal(sampler.calls[1], [False, True, False, False])
    assert_array_equal(sampler.restarts, [0, 1, 0, 0])
    # The others continued (20 iterations) but all keep the restarted chain's 10.
    assert seen == [(4, 10)]
    assert_array_equal(sampler.iterations, [20, 10, 20, 20])


def test_chain_failing_again_is_not_restarted_twice():
    sampler = _FakeSampler(lambda r, fresh: _lp([0, -1000, 0, 0]))
    result, _, _ = sample_until_converged(
        sampler, lambda result: ("modes", Verdict(False, 1.5, 1.01)), max_iterations=50
    )
    assert len(sampler.calls) == 2
    assert failed_chains(result.sample_stats["lp"])[1]


def test_chains_continue_while_more_draws_help_within_the_budget():
    sampler = _FakeSampler(lambda r, fresh: _lp([0, 0, 0, 0]))
    kept = []

    def assess(result):
        kept.append(result.sample_stats["lp"].shape[1])
        # R-hat improves each round, then only ESS is short.
        return len(kept), Verdict(True, [1.3, 1.2, 1.0][len(kept) - 1], 1.01)

    result, outcome, stopped = sample_until_converged(
        sampler, assess, max_iterations=35
    )
    # Rounds of 10 within 35: 10, 20, 30; the last half, in whole rounds, kept.
    assert kept == [10, 10, 20]
    assert outcome == 3 and stopped == "budget"
    assert not np.any(np.vstack(sampler.calls[1:]))


def test_chains_that_disagree_more_after_a_continuation_stop():
    # R-hat grew from the first look to the second (K=9 on the reference
    # data: 1.10, then 1.43): the chains are not converging, no third round.
    def run(r_hats, max_iterations=100):
        sampler = _FakeSampler(lambda r, fresh: _lp([0, 0, 0, 0]))
        values = iter(r_hats)
        *_, stopped = sample_until_converged(
            sampler, lambda result: (None, Verdict(True, next(values), 1.035)),
            max_iterations=max_iterations,
        )
        return len(sampler.calls), stopped

    assert run([1.10, 1.43, 1.0]) == (2, "not converging")
    # A narrow miss whose R-hat rose by chance keeps going (D=10 blobs: 1.013,
    # then 1.015), as does a fit where only the ESS is short.
    assert run([1.04, 1.045, 1.0], max_iterations=30) == (3, "budget")
    assert run([1.0, 1.0, 1.0], max_iterations=30) == (3, "budget")


def test_no_continuation_when_more_draws_cannot_help():
    sampler = _FakeSampler(lambda r, fresh: _lp([0, 0, 0, 0]))
    sample_until_converged(
        sampler, lambda result: ("two modes", Verdict(False, 1.4, 1.01)),
        max_iterations=100,
    )
    assert len(sampler.calls) == 1


def _sampler(num_samples=40, seed=3, chain_method="sequential"):
    X, centers, start, rng = kmeans_problem(80, 2, "full")
    chains = jittered_chain_values(
        start, covariance_type="full", num_chains=2, random_state=rng
    )
    settings = _inference.SamplerSettings(
        num_warmup=60, num_samples=num_samples, num_chains=2,
        chain_method=chain_method, target_accept_prob=0.8, max_tree_depth=6,
        dense_mass=False,
    )
    structure = _inference.ModelStructure(2, "full", "simplex", "wishart")
    return _inference.ChainSampler(
        X, chains, empty=np.zeros(2, bool), prior=model_hyper(centers),
        structure=structure, settings=settings, seed=seed,
    )


@pytest.mark.parametrize("chain_method", ["sequential", "vectorized"])
def test_continued_chains_resume_with_their_adaptation(chain_method):
    sampler = _sampler(chain_method=chain_method)
    sampler.run()
    first = sampler.result()
    before = _program_cache.compilation_stats()["compilations"]
    sampler.run(fresh=np.array([False, False]))
    both = sampler.result(80)
    # One program for both rounds.
    assert _program_cache.compilation_stats()["compilations"] == before
    assert_array_equal(sampler.iterations, [80, 80])
    # The first 40 draws are the first round's; the step size stayed fixed.
    assert_allclose(both.mixture[1][:, :40], first.mixture[1])
    step = both.sample_stats["step_size"]
    assert_allclose(step, np.repeat(step[:, :1], 80, axis=1))
    # Resumed, not restarted: no new warm-up, the chain moves on from its last
    # draw (which a restart from the start would not be near).
    assert_array_equal(
        both.sample_stats["warmup_n_steps"], first.sample_stats["warmup_n_steps"]
    )
    assert not np.allclose(both.mixture[1][:, 40], first.mixture[1][:, -1])


@pytest.mark.parametrize("chain_method", ["sequential", "vectorized"])
def test_restarted_chain_warms_up_again_and_others_continue(chain_method):
    sampler = _sampler(chain_method=chain_method)
    sampler.run()
    first = sampler.result()
    sampler.run(fresh=np.array([True, False]))
    assert_array_equal(sampler.iterations, [40, 80])
    assert_array_equal(sampler.restarts, [1, 0])
    second = sampler.result()
    # Chain 0 has a new warm-up (new key: a new step size); chain 1 kept its own.
    assert second.sample_stats["step_size"][0, 0] != first.sample_stats[
        "step_size"
    ][0, 0]
    assert second.sample_stats["step_size"][1, 0] == first.sample_stats[
        "step_size"
    ][1, 0]


def test_continued_draws_sample_the_same_posterior():
    # Two rounds of one chain set: the second round's means agree with the
    # first's within Monte Carlo error (K=2 well-separated blobs).
    sampler = _sampler(num_samples=150)
    sampler.run()
    sampler.run(fresh=np.array([False, False]))
    means = sampler.result(300).mixture[1]
    first, second = means[:, :150].mean(axis=(0, 1)), means[:, 150:].mean(axis=(0, 1))
    spread = means.std(axis=(0, 1))
    assert np.all(np.abs(first - second) < 0.5 * spread)


def test_max_num_samples_below_num_samples_is_rejected():
    X = np.random.RandomState(0).standard_normal((30, 2))
    with pytest.raises(ValueError, match="max_num_samples must be at least"):
        BayesianGMM(2, num_samples=50, max_num_samples=20).fit(X)


@pytest.mark.slow
def test_wine_converges_at_the_defaults():
    # 178 x 13, K=3: before the jitter kept each start covariance's shape, and
    # before chains could continue, chains disagreed on 2 of 3 seeds.
    data = load_wine()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gmm = BayesianGMM(3, random_state=0).fit(data.data)
    assert gmm.converged_
    assert gmm.diagnostics_["n_modes"] == 1
    assert adjusted_rand_score(data.target, gmm.predict(data.data)) > 0.95


def test_parallel_chains_draw_what_sequential_chains_draw(monkeypatch):
    monkeypatch.setattr(_inference, "usable_cores", lambda: 2)
    results = {}
    for chain_method in ("sequential", "parallel"):
        sampler = _sampler(chain_method=chain_method)
        sampler.run()
        sampler.run(fresh=np.array([True, False]))  # a restart and a continuation
        results[chain_method] = sampler.result()
    for sequential, parallel in zip(
        results["sequential"].mixture, results["parallel"].mixture
    ):
        assert_array_equal(sequential, parallel)
    for name, value in results["sequential"].sample_stats.items():
        assert_array_equal(value, results["parallel"].sample_stats[name])
