"""Convergence summaries, occupancy and the advice in warnings; no MCMC."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skbayesmix._diagnostics import (
    convergence_summary,
    fit_diagnostics,
    is_converged,
    occupied_components,
    poor_inference_messages,
    to_inference_data,
)
from skbayesmix._settings import (
    MIN_ESS_PER_CHAIN,
    OVERFITTED_CONCENTRATION,
    R_HAT_THRESHOLD,
)

N_CHAINS, N_DRAWS, N_COMPONENTS = 2, 200, 3


def _clean(**changes):
    """A diagnostics dict of a clean fit (the keys the verdicts read)."""
    diagnostics = {
        "divergences": 0,
        "max_r_hat": 1.0,
        "worst_r_hat": 1.0,
        "r_hat_threshold": R_HAT_THRESHOLD,
        "min_ess_bulk": 1e6,
        "max_r_hat_occupied": 1.0,
        "worst_r_hat_occupied": 1.0,
        "r_hat_threshold_occupied": R_HAT_THRESHOLD,
        "min_ess_bulk_occupied": 1e6,
        "occupied_components": np.arange(N_COMPONENTS),
        "n_modes": 1,
        "chain_modes": np.zeros(N_CHAINS, dtype=int),
        "chain_weights": np.full(N_CHAINS, 1.0 / N_CHAINS),
        "num_draws": 500,
        "num_iterations": 500,
    }
    diagnostics.update(changes)
    return diagnostics


def _messages(diagnostics, overfitted=False, empty_fraction=None, num_chains=2):
    if empty_fraction is None:
        empty_fraction = np.zeros(N_COMPONENTS)
    return poor_inference_messages(
        diagnostics,
        n_components=N_COMPONENTS,
        num_chains=num_chains,
        overfitted=overfitted,
        empty_fraction=np.asarray(empty_fraction),
    )


# ------------------------------------------------------------ messages


def test_no_message_without_cause():
    assert _messages(_clean()) == []
    assert _messages(_clean(), overfitted=True) == []
    assert is_converged(_clean(), overfitted=False)


def test_each_cause_names_its_setting():
    (message,) = _messages(_clean(divergences=3))
    assert message.startswith("3 of 1000 post-warm-up transitions were divergent")
    assert "target_accept_prob" in message
    (message,) = _messages(_clean(worst_r_hat=1.2))
    assert "R-hat is 1.2000" in message and "must stay below 1.0100" in message
    assert "Increase num_warmup and max_num_samples" in message
    assert "after 500 iterations per chain (the last 500 kept)" in message
    # Chains that continued without coming closer: running longer is not it.
    (message,) = _messages(_clean(worst_r_hat=1.2, stopped="not converging"))
    assert "nearby modes" in message and "num_chains" in message
    assert "max_num_samples" not in message
    (message,) = _messages(_clean(min_ess_bulk=150.0))
    assert "Min bulk ESS is 150" in message and "Increase num_samples" in message
    (message,) = _messages(
        _clean(), empty_fraction=[0.0, 0.9, 0.0]
    )
    assert "1 of 3 components (indices [1])" in message
    assert "Reduce n_components (e.g. to 2)" in message
    assert f"below {OVERFITTED_CONCENTRATION}" in message
    # Several causes, several messages.
    assert len(_messages(_clean(divergences=1, worst_r_hat=1.5))) == 2
    # Chains in different modes: one message, and not the advice to run longer.
    (message,) = _messages(_clean(
        worst_r_hat=1.5, n_modes=2, chain_modes=np.array([0, 1]),
        chain_weights=np.array([0.7, 0.3]), min_ess_bulk=5.0,
    ))
    assert "settled in 2 different modes" in message and "[[0], [1]]" in message
    assert "[0.7, 0.3]" in message and "Increase num_warmup" not in message
    assert not is_converged(_clean(n_modes=2), overfitted=False)


def test_thresholds():
    just_below = np.nextafter(R_HAT_THRESHOLD, 0)
    assert _messages(_clean(worst_r_hat=just_below)) == []
    assert len(_messages(_clean(worst_r_hat=R_HAT_THRESHOLD))) == 1
    # A quantity's own threshold, not 1.01, decides.
    assert _messages(_clean(worst_r_hat=1.02, r_hat_threshold=1.03)) == []
    # The ESS bar is per chain.
    ess = MIN_ESS_PER_CHAIN * 2
    assert _messages(_clean(min_ess_bulk=ess)) == []
    assert len(_messages(_clean(min_ess_bulk=ess - 1))) == 1
    assert _messages(_clean(min_ess_bulk=ess - 1), num_chains=1) == []
    # NaN ESS (too few draws to estimate it) is not reported as low.
    assert _messages(_clean(min_ess_bulk=np.nan)) == []
    # Half the draws empty is still occupied.
    assert _messages(_clean(), empty_fraction=[0.5, 0.0, 0.0]) == []


def test_overfitted_fits_are_judged_on_occupied_components():
    # Empty components' parameters are prior draws: their R-hat is excluded,
    # and emptying is what the overfitted prior asks for.
    diagnostics = _clean(
        worst_r_hat=1.5, min_ess_bulk=20.0, occupied_components=np.array([0, 2])
    )
    empty_fraction = [0.0, 1.0, 0.0]
    assert _messages(diagnostics, overfitted=True, empty_fraction=empty_fraction) == []
    assert is_converged(diagnostics, overfitted=True)
    assert not is_converged(diagnostics, overfitted=False)
    assert len(_messages(diagnostics, empty_fraction=empty_fraction)) == 3
    diagnostics.update(worst_r_hat_occupied=1.05)
    (message,) = _messages(diagnostics, overfitted=True, empty_fraction=empty_fraction)
    assert "R-hat is 1.0500 (over the 2 occupied components" in message
    assert "the empty components [1]" in message
    assert not is_converged(diagnostics, overfitted=True)


def test_divergences_prevent_convergence():
    assert not is_converged(_clean(divergences=1), overfitted=False)
    assert not is_converged(_clean(divergences=1), overfitted=True)
    assert not is_converged(_clean(worst_r_hat=1.01), overfitted=False)
    # Too few effective draws (100 per chain) is not converged either.
    assert not is_converged(_clean(min_ess_bulk=199.0), overfitted=False)


# ---------------------------------------------------------- summaries


def test_occupied_components():
    counts = np.array([[10.0, 0.5, 3.0], [12.0, 0.2, 0.9], [9.0, 2.0, 0.1],
                       [11.0, 0.0, 2.0]])
    empty_fraction, occupied = occupied_components(counts)
    assert_allclose(empty_fraction, [0.0, 0.75, 0.5])
    assert_array_equal(occupied, [True, False, True])


def test_convergence_summary_shapes_and_mixing():
    rng = np.random.RandomState(0)
    mixed = rng.standard_normal((N_CHAINS, N_DRAWS, 3, 2))
    stuck = rng.standard_normal((N_CHAINS, N_DRAWS, 3))
    stuck[1] += 5.0  # the chains disagree
    summary = convergence_summary({"means": mixed, "weights": stuck})
    assert summary["r_hat"]["means"].shape == (3, 2)
    assert summary["ess_bulk"]["weights"].shape == (3,)
    assert summary["ess_tail"]["means"].shape == (3, 2)
    assert np.all(summary["r_hat"]["means"] < 1.05)
    assert np.all(summary["r_hat"]["weights"] > 1.5)
    assert_allclose(summary["max_r_hat"], summary["r_hat"]["weights"].max())
    assert_allclose(
        summary["min_ess_bulk"],
        min(summary["ess_bulk"]["means"].min(), summary["ess_bulk"]["weights"].min()),
    )


def test_symmetric_sites_are_diagnosed_once_per_entry_pair():
    # Upper triangles only, mirrored: the same values as diagnosing every
    # entry of the symmetric matrices (leading component axis or not).
    rng = np.random.RandomState(2)
    factors = rng.standard_normal((N_CHAINS, N_DRAWS, 2, 3, 3))
    full = factors @ np.swapaxes(factors, -1, -2)
    full = 0.5 * (full + np.swapaxes(full, -1, -2))  # exactly symmetric
    full[1, :, 0, 0, 1] += 3.0  # chains that disagree on one pair
    full[1, :, 0, 1, 0] += 3.0
    tied = full[:, :, 1]
    posterior = {"covariances": full, "tied": tied}
    reduced = convergence_summary(posterior, symmetric=("covariances", "tied"))
    every_entry = convergence_summary(posterior)
    for key in ("r_hat", "ess_bulk", "ess_tail"):
        for name in posterior:
            assert reduced[key][name].shape == posterior[name].shape[2:]
            assert_allclose(reduced[key][name], every_entry[key][name], rtol=1e-12)
    worst = reduced["r_hat"]["covariances"][0, 0, 1]
    assert worst > 1.2 and worst == reduced["max_r_hat"]
    assert_allclose(reduced["max_r_hat"], every_entry["max_r_hat"], rtol=1e-12)


def test_convergence_summary_ignores_constant_sites_and_short_chains():
    rng = np.random.RandomState(1)
    posterior = {
        "weights": np.ones((N_CHAINS, N_DRAWS, 1)),  # one component: constant
        "means": rng.standard_normal((N_CHAINS, N_DRAWS, 1, 2)),
    }
    with np.errstate(all="raise"):
        summary = convergence_summary(posterior)
    assert np.isfinite(summary["max_r_hat"]) and np.isfinite(summary["min_ess_bulk"])
    # One chain: no R-hat (NaN, reported as 1.0); three draws: no ESS either.
    one_chain = convergence_summary({"means": posterior["means"][:1]})
    assert np.all(np.isnan(one_chain["r_hat"]["means"]))
    assert one_chain["max_r_hat"] == 1.0
    short = convergence_summary({"means": posterior["means"][:, :3]})
    assert np.isnan(short["min_ess_bulk"])


def _sample_stats(rng, divergent=()):
    stats = {
        "diverging": np.zeros((N_CHAINS, N_DRAWS), bool),
        "n_steps": rng.randint(1, 16, (N_CHAINS, N_DRAWS)),
        "acceptance_rate": rng.uniform(0.7, 0.9, (N_CHAINS, N_DRAWS)),
        "step_size": np.full((N_CHAINS, N_DRAWS), 0.3),
        "energy": rng.standard_normal((N_CHAINS, N_DRAWS)),
        "lp": rng.standard_normal((N_CHAINS, N_DRAWS)),
        "warmup_divergences": np.array([4, 0]),
        "warmup_n_steps": np.array([900, 800]),
    }
    for chain, draw in divergent:
        stats["diverging"][chain, draw] = True
    return stats


@pytest.mark.parametrize("component_sites", [("weights", "means", "covariances"),
                                             ("weights", "means")])
def test_fit_diagnostics(component_sites):
    rng = np.random.RandomState(2)
    samples = {
        "weights": rng.dirichlet(np.ones(N_COMPONENTS), (N_CHAINS, N_DRAWS)),
        "means": rng.standard_normal((N_CHAINS, N_DRAWS, N_COMPONENTS, 2)),
        "covariances": rng.uniform(1, 2, (N_CHAINS, N_DRAWS, N_COMPONENTS)),
    }
    # Component 1 is empty, and its mean drifts apart between chains.
    samples["means"][1, :, 1] += 10.0
    occupied = np.array([True, False, True])
    diagnostics = fit_diagnostics(
        samples, _sample_stats(rng, divergent=[(0, 5), (1, 7), (1, 9)]),
        covariance_type="spherical", occupied=occupied,
        component_sites=component_sites, dense_mass=True, timings=(1.5, 2.5),
        modes=np.zeros(N_CHAINS, dtype=int), chain_weights=np.full(N_CHAINS, 0.5),
        iterations=(2 * N_DRAWS, np.array([0, 1])),
    )
    assert diagnostics["divergences"] == 3
    assert diagnostics["num_draws"] == N_DRAWS
    assert diagnostics["num_iterations"] == 2 * N_DRAWS
    assert_array_equal(diagnostics["restarts"], [0, 1])
    assert diagnostics["n_modes"] == 1
    assert_array_equal(diagnostics["chain_weights"], [0.5, 0.5])
    # Every quantity has its threshold, at least 1.01; the verdict reads the
    # quantity furthest above its own.
    assert diagnostics["r_hat_thresholds"]["means"].shape == (N_COMPONENTS, 2)
    assert min(np.min(t) for t in diagnostics["r_hat_thresholds"].values()) >= 1.01
    assert diagnostics["worst_r_hat"] > 1.5
    assert diagnostics["worst_r_hat_occupied"] < 1.05
    assert_array_equal(diagnostics["divergences_per_chain"], [1, 2])
    assert_array_equal(diagnostics["warmup_divergences"], [4, 0])
    assert diagnostics["accept_rate"].shape == (N_CHAINS,)
    assert_allclose(diagnostics["step_size"], 0.3)
    assert diagnostics["dense_mass"] is True
    assert diagnostics["compile_time"] == 1.5 and diagnostics["sampling_time"] == 2.5
    assert_array_equal(diagnostics["occupied_components"], [0, 2])
    # The empty component's drift counts in max_r_hat, not in the occupied one.
    assert diagnostics["max_r_hat"] > 1.5
    assert diagnostics["max_r_hat_occupied"] < 1.05
    assert diagnostics["min_ess_bulk_occupied"] >= diagnostics["min_ess_bulk"]
    assert diagnostics["r_hat"]["means"].shape == (N_COMPONENTS, 2)


def test_to_inference_data():
    rng = np.random.RandomState(3)
    posterior = {"means": rng.standard_normal((N_CHAINS, 10, N_COMPONENTS, 2))}
    stats = {"diverging": np.zeros((N_CHAINS, 10), bool)}
    log_lik = rng.standard_normal((N_CHAINS, 10, 7))
    observed = rng.standard_normal((7, 2))
    idata = to_inference_data(posterior, stats, log_likelihood=log_lik,
                              observed=observed)
    assert set(idata.groups()) == {
        "posterior", "sample_stats", "log_likelihood", "observed_data"
    }
    assert_array_equal(idata.log_likelihood["x"].values, log_lik)
    assert idata.log_likelihood["x"].dims == ("chain", "draw", "obs_id")
    assert idata.observed_data["x"].dims == ("obs_id", "feature")
    assert set(to_inference_data(posterior, stats).groups()) == {
        "posterior", "sample_stats"
    }


# ---------------------------------------------------------------- modes


def test_chain_modes_group_chains_by_their_clustering():
    from skbayesmix._modes import chain_modes

    labels = np.zeros((4, 300), dtype=int)
    labels[:, 150:] = 1
    labels[1, :10] = 1  # chain 1 moved 10 rows: another mode
    labels[2, :2] = 1  # chain 2 moved 2 rows (< 1% of 300 = 3): the same one
    assert_array_equal(chain_modes(labels), [0, 1, 0, 0])
    assert_array_equal(chain_modes(labels[[0, 2, 3]]), [0, 0, 0])


def test_modes_are_settled_only_when_each_group_is_stationary():
    from skbayesmix._modes import settled_modes

    rng = np.random.RandomState(4)
    draws = rng.standard_normal((4, 200, 3))
    draws[1] += 3.0  # chain 1 sits elsewhere, but is stationary there
    modes = np.array([0, 1, 0, 0])
    assert settled_modes({"means": draws}, modes)
    trending = draws.copy()
    trending[1] += np.linspace(0, 5, 200)[:, None]  # still moving: not a mode
    assert not settled_modes({"means": trending}, modes)
