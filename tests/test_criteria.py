"""Criteria and the selector's rule (skbayesmix._criteria); no MCMC."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

from skbayesmix._criteria import (
    CRITERIA,
    ELPD_CRITERIA,
    aic,
    bic,
    elpd_differences,
    information_criterion,
    membership_entropy,
    select,
)
from skbayesmix._diagnostics import arviz

az = arviz()


def test_criteria_names():
    assert set(ELPD_CRITERIA) == {"waic", "loo"}
    assert set(CRITERIA) == {"bic", "aic", "icl", "waic", "loo"}


# ------------------------------------------------------- deviances


def test_bic_and_aic_match_gaussian_mixture():
    X, _ = make_blobs(n_samples=120, centers=3, random_state=0)
    gm = GaussianMixture(3, random_state=0).fit(X)
    log_lik = gm.score(X) * len(X)
    assert_allclose(bic(log_lik, gm._n_parameters(), len(X)), gm.bic(X), rtol=1e-12)
    assert_allclose(aic(log_lik, gm._n_parameters()), gm.aic(X), rtol=1e-12)


def test_membership_entropy():
    assert membership_entropy([[1.0, 0.0], [0.0, 1.0]]) == 0.0
    assert_allclose(membership_entropy([[0.5, 0.5]]), np.log(2))
    assert_allclose(
        membership_entropy([[0.2, 0.8], [0.5, 0.5]]),
        -(0.2 * np.log(0.2) + 0.8 * np.log(0.8)) + np.log(2),
    )


# ------------------------------------------------------ WAIC and LOO


def _log_likelihood(seed=0, shape=(2, 50, 30)):
    rng = np.random.RandomState(seed)
    return rng.normal(-2.0, 0.3, shape) + rng.normal(0, 0.5, shape[-1])


def test_waic_is_lppd_minus_the_pointwise_variance():
    log_lik = _log_likelihood()
    result = information_criterion(log_lik, "waic")
    flat = log_lik.reshape(-1, log_lik.shape[-1])
    lppd = logsumexp(flat, axis=0) - np.log(flat.shape[0])
    p = np.var(flat, axis=0)  # ArviZ's p_waic: the variance with ddof=0
    assert_allclose(result["pointwise"], lppd - p, rtol=1e-10)
    assert_allclose(result["elpd"], np.sum(lppd - p), rtol=1e-10)
    assert_allclose(result["p"], np.sum(p), rtol=1e-10)
    assert_allclose(result["se"], np.sqrt(30 * np.var(lppd - p)), rtol=1e-10)
    assert result["elpd_data"] is not None


def test_loo_reports_pareto_k_and_ignores_constant_sites():
    log_lik = _log_likelihood(1)
    varying = np.random.RandomState(2).standard_normal((2, 50, 3))
    posterior = {"means": varying, "constant": np.ones((2, 50))}
    result = information_criterion(log_lik, "loo", posterior=posterior)
    assert result["pareto_k"].shape == (30,)
    assert result["pointwise"].shape == (30,)
    assert_allclose(result["elpd"], result["pointwise"].sum(), rtol=1e-10)
    assert result["pareto_k_threshold"] > 0
    # Near-identical draws: LOO is about the log predictive density.
    lppd = logsumexp(log_lik.reshape(100, 30), axis=0) - np.log(100)
    assert abs(result["elpd"] - lppd.sum()) < 0.1 * abs(lppd.sum())
    # The relative efficiency comes from the varying site alone.
    only_varying = information_criterion(log_lik, "loo", posterior={"means": varying})
    assert_allclose(only_varying["elpd"], result["elpd"], rtol=1e-12)


@pytest.mark.parametrize("posterior", [None, {"constant": np.ones((2, 50))}])
def test_loo_without_a_varying_posterior_treats_draws_as_independent(posterior):
    log_lik = _log_likelihood(1)
    result = information_criterion(log_lik, "loo", posterior=posterior)
    expected = az.loo(
        az.from_dict(log_likelihood={"x": log_lik}), pointwise=True, reff=1.0
    )
    assert_allclose(result["elpd"], float(expected["elpd_loo"]), rtol=1e-12)


# -------------------------------------------------- elpd differences


def _ic_result(pointwise):
    pointwise = np.asarray(pointwise, dtype=float)
    return {"elpd": pointwise.sum(), "se": np.sqrt(pointwise.size
            * np.var(pointwise)), "p": 1.0, "pointwise": pointwise}


def test_elpd_differences_are_paired_standard_errors():
    rng = np.random.RandomState(0)
    n = 50
    pointwise = [rng.normal(-3, 1, n), None, rng.normal(-5, 1, n)]
    pointwise[1] = pointwise[0] + rng.normal(0.1, 0.05, n)  # best, close to 0
    elpd = np.array([p.sum() for p in pointwise])
    results = [_ic_result(p) for p in pointwise]
    diff, dse = elpd_differences(elpd, results, method="loo", n_samples=n)
    assert diff[1] == 0 and dse[1] == 0
    assert_allclose(diff, elpd[1] - elpd)
    for other in (0, 2):
        paired = pointwise[1] - pointwise[other]
        assert_allclose(dse[other], np.sqrt(n * np.var(paired)), rtol=1e-10)
    # Pairing removes the shared per-observation variance.
    assert dse[0] < 0.5 * np.sqrt(n) * np.std(pointwise[0])


def test_elpd_differences_from_arviz_results():
    # BayesianGMM's results carry ArviZ's ELPDData: the same paired SE.
    log_liks = [_log_likelihood(seed) for seed in (3, 4)]
    results = [information_criterion(log_lik, "waic") for log_lik in log_liks]
    elpd = np.array([r["elpd"] for r in results])
    diff, dse = elpd_differences(elpd, results, method="waic", n_samples=30)
    best = int(np.argmax(elpd))
    other = 1 - best
    paired = results[best]["pointwise"] - results[other]["pointwise"]
    assert_allclose(diff[other], elpd[best] - elpd[other])
    assert_allclose(dse[other], np.sqrt(30 * np.var(paired)), rtol=1e-10)
    assert dse[best] == 0


def test_elpd_differences_without_pointwise_values():
    elpd = np.array([-120.0, np.nan, -100.0, -110.0])
    n = 20
    rng = np.random.RandomState(5)
    results = [
        _ic_result(rng.normal(-6, 1, n)),
        None,  # a failed candidate
        _ic_result(rng.normal(-5, 1, n)),
        {"elpd": -110.0, "se": 3.0},  # no per-observation values to pair
    ]
    diff, dse = elpd_differences(elpd, results, method="waic", n_samples=n)
    assert_allclose(diff, [20.0, np.nan, 0.0, 10.0])
    assert np.isnan(dse[1]) and np.isnan(dse[3])
    assert np.isfinite(dse[0]) and dse[2] == 0
    # Without the best candidate's pointwise values nothing can be paired.
    results[2] = {"elpd": -100.0}
    diff, dse = elpd_differences(elpd, results, method="waic", n_samples=n)
    assert_allclose(diff, [20.0, np.nan, 0.0, 10.0])
    assert np.all(np.isnan(dse))
    diff, dse = elpd_differences(
        np.full(2, np.nan), [None, None], method="loo", n_samples=n
    )
    assert np.all(np.isnan(diff)) and np.all(np.isnan(dse))


# -------------------------------------------------------------- select


def _elpd_results(elpd, dse, se=20.0):
    elpd = np.asarray(elpd, dtype=float)
    return {
        "elpd_loo": elpd,
        "se_elpd_loo": np.full(elpd.size, se),
        "d_elpd_loo": elpd.max() - elpd,
        "dse_elpd_loo": np.asarray(dse, dtype=float),
        "n_components": np.arange(1, elpd.size + 1),
        "n_parameters": np.arange(1, elpd.size + 1) * 6.0 - 1,
    }


def test_one_standard_error_rule_on_results():
    # Within the paired SE: the simpler model.
    assert select(_elpd_results([-120, -100, -95], [20, 8, 0]), "loo") == 1
    # Beyond it (and beyond 4): the best.
    assert select(_elpd_results([-120, -100, -95], [20, 3, 0]), "loo") == 2
    # A difference below 4 is negligible even with a tiny paired SE.
    assert select(_elpd_results([-120, -100, -99.3], [10, 0.5, 0]), "loo") == 1
    # Without paired SEs, the best candidate's own SE is the tolerance.
    nan = np.nan
    assert select(_elpd_results([-150, -100, -90], [nan, nan, 0], se=12), "loo") == 1
    assert select(_elpd_results([-150, -100, -90], [nan, nan, 0], se=8), "loo") == 2
    # Fewer parameters wins over fewer components across covariance types.
    results = _elpd_results([-100, -100.5, -99], [0, 1, 0])
    results["n_parameters"] = np.array([20.0, 8.0, 30.0])
    assert select(results, "loo") == 1
    # Without a parameter count (NaN), complexity is the number of components.
    results["n_parameters"] = np.full(3, np.nan)
    assert select(results, "loo") == 0


def test_select_lowest_finite_deviance():
    results = {"bic": np.array([np.nan, 310.0, 290.0, np.inf, 300.0])}
    assert select(results, "bic") == 2
    with pytest.raises(ValueError, match="finite bic"):
        select({"bic": np.array([np.nan, np.inf])}, "bic")
    with pytest.raises(ValueError, match="finite elpd_loo"):
        select(_elpd_results([np.nan, np.nan], [np.nan, np.nan]), "loo")


def test_stacking_weights_prefer_the_better_predictive_model():
    from skbayesmix._criteria import stacking_weights

    rng = np.random.RandomState(0)
    good = rng.normal(-1.0, 0.3, 200)
    pointwise = np.column_stack([good, good - 2.0])
    weights = stacking_weights(pointwise)
    assert_allclose(weights.sum(), 1.0)
    assert weights[0] > 0.99
    # Two models each better on half the rows: both get weight.
    split = np.column_stack([
        np.r_[good[:100], good[100:] - 3], np.r_[good[:100] - 3, good[100:]]
    ])
    weights = stacking_weights(split)
    assert_allclose(weights, [0.5, 0.5], atol=0.05)
    # It maximises the log score: no other point on the simplex does better.
    def score(w):
        return np.sum(logsumexp(split + np.log(w), axis=1))

    for w0 in np.linspace(0.05, 0.95, 19):
        assert score(weights) >= score(np.array([w0, 1 - w0])) - 1e-6
    assert_allclose(stacking_weights(good[:, None]), [1.0])
