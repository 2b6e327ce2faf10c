"""Densities over posterior draws of rows with missing coordinates, and imputation.

The reference for every row is SciPy's Gaussian density of the row's observed
coordinates, with the sub-vector of each component's mean and the sub-matrix
of its covariance (no MCMC: random draws).
"""

import numpy as np
import pytest
from conftest import random_covariances
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp, softmax
from scipy.stats import multivariate_normal

from skbayesmix import _density
from skbayesmix._covariance import COVARIANCE_TYPES, full_matrices, precision_cholesky
from skbayesmix._density import (
    MixtureDraws,
    draw_summaries,
    log_predictive_density,
    pointwise_log_likelihood,
    posterior_memberships,
    predictive_memberships,
)
from skbayesmix._missing import impute, marginal_draws, missing_patterns

N_COMPONENTS = 3


def _random_draws(rng, covariance_type, n_draws, n_features, weighted=True):
    """Random draws and their covariances as (n_draws, K, D, D) matrices."""
    covariances = random_covariances(
        rng, covariance_type, N_COMPONENTS, n_features, (n_draws,)
    )
    draw_weights = rng.dirichlet(np.ones(n_draws)) if weighted else None
    draws = MixtureDraws(
        weights=rng.dirichlet(np.ones(N_COMPONENTS), size=n_draws),
        means=rng.standard_normal((n_draws, N_COMPONENTS, n_features)),
        precisions_cholesky=precision_cholesky(covariances, covariance_type),
        covariance_type=covariance_type,
        draw_weights=draw_weights,
    )
    full = full_matrices(covariances, covariance_type, N_COMPONENTS, n_features)
    return draws, np.array(full)


def _rows_with_missing(rng, n_features):
    """Rows in every kind of pattern: complete, one observed, none observed."""
    X = 1.5 * rng.standard_normal((12, n_features))
    if n_features == 1:
        X[[1, 4, 7]] = np.nan
        return X
    X[1, 0] = np.nan
    X[2, 1:] = np.nan  # one observed value
    X[3] = np.nan  # none observed
    X[4, 2] = np.nan
    X[5, [0, 2]] = np.nan
    X[7, 0] = np.nan  # the same pattern as row 1
    X[9, 1] = np.nan
    return X


def _reference_log_prob(X, draws, full):
    """log w_sk + log N(x_o | mu_sk,o, Sigma_sk,oo) by SciPy: (n_draws, n, K)."""
    n_draws = draws.weights.shape[0]
    log_prob = np.zeros((n_draws, X.shape[0], N_COMPONENTS))
    for i, x in enumerate(X):
        observed = ~np.isnan(x)
        if not observed.any():
            continue
        for s in range(n_draws):
            for k in range(N_COMPONENTS):
                log_prob[s, i, k] = multivariate_normal(
                    draws.means[s, k, observed],
                    full[s, k][np.ix_(observed, observed)],
                ).logpdf(x[observed])
    return log_prob + np.log(draws.weights)[:, None, :]


def _draw_weights(draws):
    n_draws = draws.weights.shape[0]
    if draws.draw_weights is None:
        return np.full(n_draws, 1.0 / n_draws)
    return draws.draw_weights


@pytest.mark.parametrize("n_features", [3, 1])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predictive_density_is_the_mixture_of_observed_marginals(
    covariance_type, n_features
):
    rng = np.random.RandomState(0)
    draws, full = _random_draws(rng, covariance_type, 30, n_features)
    X = _rows_with_missing(rng, n_features)
    # log sum_s v_s sum_k w_sk N(x_o | mu_sk[o], Sigma_sk[o][:, o]), from pdfs.
    expected = np.empty(len(X))
    for i, x in enumerate(X):
        observed = ~np.isnan(x)
        density = 0.0
        for s in range(draws.weights.shape[0]):
            mixture = (
                sum(
                    draws.weights[s, k]
                    * multivariate_normal(
                        draws.means[s, k, observed],
                        full[s, k][np.ix_(observed, observed)],
                    ).pdf(x[observed])
                    for k in range(N_COMPONENTS)
                )
                if observed.any()
                else 1.0
            )
            density += _draw_weights(draws)[s] * mixture
        expected[i] = np.log(density)
    assert_allclose(log_predictive_density(X, draws), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_memberships_likelihoods_and_summaries_match_scipy(covariance_type):
    rng = np.random.RandomState(1)
    draws, full = _random_draws(rng, covariance_type, 20, 3)
    X = _rows_with_missing(rng, 3)
    sample_weight = rng.uniform(0.5, 2.0, len(X))
    log_prob = _reference_log_prob(X, draws, full)
    v = _draw_weights(draws)
    log_lik = logsumexp(log_prob, axis=-1)
    responsibilities = softmax(log_prob, axis=-1)
    posterior = np.einsum("s,snk->nk", v, responsibilities)
    log_joint = logsumexp(log_prob + np.log(v)[:, None, None], axis=0)

    assert_allclose(posterior_memberships(X, draws), posterior, atol=1e-10)
    assert_allclose(posterior_memberships(X, draws).sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(
        predictive_memberships(X, draws), softmax(log_joint, axis=-1), atol=1e-10
    )
    assert_allclose(predictive_memberships(X, draws).sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(pointwise_log_likelihood(X, draws), log_lik, rtol=1e-10, atol=1e-12)

    summaries = draw_summaries(X, draws, sample_weight=sample_weight)
    assert_allclose(
        summaries.total_log_likelihood,
        pointwise_log_likelihood(X, draws) @ sample_weight,
        rtol=1e-10,
        atol=1e-12,
    )
    assert_allclose(
        summaries.expected_counts,
        np.einsum("snk,n->sk", responsibilities, sample_weight),
        rtol=1e-10,
    )
    assert_allclose(
        summaries.log_predictive_density,
        log_predictive_density(X, draws),
        rtol=1e-10,
        atol=1e-12,
    )
    assert_allclose(summaries.memberships, posterior, atol=1e-10)


def _all_results(X, draws, sample_weight):
    summaries = draw_summaries(X, draws, sample_weight=sample_weight)
    return [
        posterior_memberships(X, draws),
        predictive_memberships(X, draws),
        log_predictive_density(X, draws),
        pointwise_log_likelihood(X, draws).T,
        summaries.log_predictive_density,
        summaries.memberships,
    ]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_complete_rows_go_as_without_missing_rows(covariance_type):
    rng = np.random.RandomState(2)
    draws, _ = _random_draws(rng, covariance_type, 25, 3)
    X = _rows_with_missing(rng, 3)
    sample_weight = rng.uniform(0.5, 2.0, len(X))
    complete = ~np.isnan(X).any(axis=1)
    mixed = _all_results(X, draws, sample_weight)
    alone = _all_results(X[complete], draws, sample_weight[complete])
    for with_missing, without in zip(mixed, alone):
        assert_array_equal(with_missing[complete], without)
    # The weighted totals add the complete rows' and the others' parts.
    incomplete = draw_summaries(
        X[~complete], draws, sample_weight=sample_weight[~complete]
    )
    complete_only = draw_summaries(
        X[complete], draws, sample_weight=sample_weight[complete]
    )
    summaries = draw_summaries(X, draws, sample_weight=sample_weight)
    assert_allclose(
        summaries.total_log_likelihood,
        incomplete.total_log_likelihood + complete_only.total_log_likelihood,
        rtol=1e-12,
    )
    assert_allclose(
        summaries.expected_counts,
        incomplete.expected_counts + complete_only.expected_counts,
        rtol=1e-12,
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_row_without_observed_coordinate_has_density_one(covariance_type):
    rng = np.random.RandomState(3)
    draws, _ = _random_draws(rng, covariance_type, 15, 3)
    X = np.full((2, 3), np.nan)
    mean_weights = _draw_weights(draws) @ draws.weights
    assert_allclose(log_predictive_density(X, draws), 0.0, atol=1e-14)
    assert_allclose(pointwise_log_likelihood(X, draws), 0.0, atol=1e-14)
    assert_allclose(posterior_memberships(X, draws), [mean_weights] * 2, rtol=1e-12)
    assert_allclose(predictive_memberships(X, draws), [mean_weights] * 2, rtol=1e-12)
    summaries = draw_summaries(X, draws)
    assert_allclose(summaries.total_log_likelihood, 0.0, atol=1e-14)
    assert_allclose(summaries.expected_counts, 2 * draws.weights, rtol=1e-12)


@pytest.mark.parametrize("max_elements", [1, 40])
def test_chunking_and_threads_do_not_change_missing_rows(monkeypatch, max_elements):
    rng = np.random.RandomState(4)
    draws, _ = _random_draws(rng, "full", 9, 3)
    X = _rows_with_missing(rng, 3)
    sample_weight = rng.uniform(0.5, 2.0, len(X))
    whole = _all_results(X, draws, sample_weight)
    whole_totals = draw_summaries(X, draws, sample_weight=sample_weight)
    monkeypatch.setattr(_density, "MIN_THREADED_WORK", 0)
    monkeypatch.setattr(_density, "usable_cores", lambda: 2)
    functions = (
        posterior_memberships,
        log_predictive_density,
        pointwise_log_likelihood,
    )
    for function, expected in zip(functions, [whole[0], whole[2], whole[3].T]):
        assert_allclose(
            function(X, draws, max_elements=max_elements),
            expected,
            rtol=1e-12,
            atol=1e-14,
        )
    chunked = draw_summaries(
        X, draws, sample_weight=sample_weight, max_elements=max_elements
    )
    for got, expected in zip(chunked, whole_totals):
        assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_compiled_inputs_with_missing_rows_agree_with_numpy(monkeypatch):
    rng = np.random.RandomState(5)
    draws, _ = _random_draws(rng, "full", 12, 3)
    X = 1.5 * rng.standard_normal((400, 3))
    X[::50, 0] = np.nan
    X[7, 1:] = np.nan
    X[11] = np.nan
    in_numpy = [predictive_memberships(X, draws), log_predictive_density(X, draws)]
    # Every group above the threshold: complete rows and patterns run compiled
    # (the row with nothing observed stays in NumPy).
    monkeypatch.setattr(_density, "MIN_COMPILED_WORK", 0)
    compiled = [predictive_memberships(X, draws), log_predictive_density(X, draws)]
    for got, expected in zip(compiled, in_numpy):
        assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    # Only the complete rows are large: their numbers are those without NaN rows.
    monkeypatch.setattr(_density, "MIN_COMPILED_WORK", 300 * 12 * N_COMPONENTS)
    complete = ~np.isnan(X).any(axis=1)
    assert_array_equal(
        log_predictive_density(X, draws)[complete],
        log_predictive_density(X[complete], draws),
    )
    assert_allclose(log_predictive_density(X, draws), in_numpy[1], rtol=1e-9)


def test_missing_patterns_group_every_row_once():
    X = np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, np.nan], [np.nan, 4.0], [5.0, 6.0]])
    patterns = missing_patterns(X)
    assert [p.observed.tolist() for p in patterns] == [
        [True, True],
        [True, False],
        [False, True],
    ]
    assert [p.rows.tolist() for p in patterns] == [[0, 4], [2], [1, 3]]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_marginal_draws_are_the_sub_matrices(covariance_type):
    rng = np.random.RandomState(6)
    draws, full = _random_draws(rng, covariance_type, 4, 3)
    observed = np.array([True, False, True])
    marginal = marginal_draws(draws, observed)
    precision = np.linalg.inv(full[..., observed, :][..., observed])
    factors = full_matrices(
        marginal.precisions_cholesky, covariance_type, N_COMPONENTS, 2
    )
    assert_allclose(factors @ np.swapaxes(factors, -1, -2), precision, rtol=1e-10)
    assert_array_equal(marginal.means, draws.means[..., observed])
    assert marginal_draws(draws, np.ones(3, dtype=bool)) is draws


# ------------------------------------------------------------------ imputation


def _conditional(mean, covariance, observed, x):
    """Mean and covariance of x_m given x_o under one Gaussian."""
    missing = ~observed
    gain = covariance[np.ix_(missing, observed)] @ np.linalg.inv(
        covariance[np.ix_(observed, observed)]
    )
    centre = mean[missing] + gain @ (x[observed] - mean[observed])
    spread = (
        covariance[np.ix_(missing, missing)]
        - gain @ covariance[np.ix_(observed, missing)]
    )
    return centre, spread


def _mixture_conditional(draws, full, x):
    """Mean and covariance of x_m given x_o under the draws' mixture of conditionals."""
    observed = ~np.isnan(x)
    terms, probabilities = [], []
    for s in range(draws.weights.shape[0]):
        log_prob = np.array(
            [
                multivariate_normal(
                    draws.means[s, k, observed], full[s, k][np.ix_(observed, observed)]
                ).logpdf(x[observed])
                if observed.any()
                else 0.0
                for k in range(N_COMPONENTS)
            ]
        ) + np.log(draws.weights[s])
        responsibilities = softmax(log_prob)
        for k in range(N_COMPONENTS):
            terms.append(_conditional(draws.means[s, k], full[s, k], observed, x))
            probabilities.append(_draw_weights(draws)[s] * responsibilities[k])
    probabilities = np.array(probabilities)
    centres = np.array([centre for centre, _ in terms])
    mean = probabilities @ centres
    deviations = centres - mean
    covariance = np.einsum("p,pij->ij", probabilities, [spread for _, spread in terms])
    covariance += np.einsum("p,pi,pj->ij", probabilities, deviations, deviations)
    return mean, covariance


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_imputed_mean_of_one_gaussian_is_the_conditional_mean(covariance_type):
    rng = np.random.RandomState(7)
    draws, full = _random_draws(rng, covariance_type, 1, 3, weighted=False)
    draws = draws._replace(weights=np.array([[0.0, 1.0, 0.0]]))
    X = _rows_with_missing(rng, 3)
    imputed = impute(X, draws)
    observed = ~np.isnan(X)
    assert_array_equal(imputed[observed], X[observed])
    assert not np.isnan(imputed).any()
    for i, x in enumerate(X):
        if observed[i].all():
            continue
        centre, _ = _conditional(draws.means[0, 1], full[0, 1], observed[i], x)
        assert_allclose(imputed[i, ~observed[i]], centre, rtol=1e-10, atol=1e-12)
    assert_allclose(imputed[3], draws.means[0, 1], rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_imputed_mean_is_the_posterior_mean_of_the_conditionals(covariance_type):
    rng = np.random.RandomState(8)
    draws, full = _random_draws(rng, covariance_type, 20, 3)
    X = _rows_with_missing(rng, 3)
    # Tiny budgets: one draw and one row per block.
    for max_elements in (None, 1):
        imputed = impute(X, draws, max_elements=max_elements)
        for i, x in enumerate(X):
            missing = np.isnan(x)
            if missing.any():
                mean, _ = _mixture_conditional(draws, full, x)
                assert_allclose(imputed[i, missing], mean, rtol=1e-9, atol=1e-12)
            else:
                assert_array_equal(imputed[i], x)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_imputed_draws_follow_the_conditional_distribution(covariance_type):
    rng = np.random.RandomState(9)
    draws, full = _random_draws(rng, covariance_type, 10, 3)
    X = _rows_with_missing(rng, 3)[:6]
    n_draws = 4000
    imputed = impute(X, draws, n_draws=n_draws, random_state=0, max_elements=500)
    assert imputed.shape == (n_draws,) + X.shape
    observed = ~np.isnan(X)
    assert_array_equal(imputed[:, observed], np.tile(X[observed], (n_draws, 1)))
    assert not np.isnan(imputed).any()
    assert_array_equal(
        imputed, impute(X, draws, n_draws=n_draws, random_state=0, max_elements=500)
    )
    for i in (1, 2, 3, 5):
        missing = ~observed[i]
        mean, covariance = _mixture_conditional(draws, full, X[i])
        values = imputed[:, i][:, missing]
        standard_error = np.sqrt(np.diag(covariance) / n_draws)
        assert np.all(np.abs(values.mean(axis=0) - mean) < 4 * standard_error)
        # The variance of a sample variance is about 2 sigma^4 / n (a few times
        # that for a mixture's heavier tails): 10% is several standard errors.
        assert_allclose(
            np.cov(values, rowvar=False),
            covariance,
            rtol=0.1,
            atol=0.1
            * np.sqrt(np.outer(np.diag(covariance), np.diag(covariance))).max(),
        )
