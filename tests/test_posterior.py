"""Exact tests of the Posterior (standardised draws read in data units); no MCMC."""

import numpy as np
import pytest
from conftest import random_covariances
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from skbayesmix._covariance import COVARIANCE_TYPES, full_matrices, precision_cholesky
from skbayesmix._posterior import Posterior, mixture_draws
from skbayesmix._standardize import Standardization

N_CHAINS, N_DRAWS, N_COMPONENTS, N_FEATURES = 2, 3, 3, 2
CENTER = np.array([5.0, -2.0])
FEATURE_SCALE = np.array([10.0, 0.5])


def _standardization(covariance_type):
    # Not the identity; one common scale for 'spherical', as Standardization.fit.
    scale = FEATURE_SCALE if covariance_type != "spherical" else np.full(2, 3.0)
    return Standardization(CENTER, scale, covariance_type)


def _constant_posterior(covariance_type, seed=0):
    """Every draw the same mixture (standardised units); also its parameters."""
    rng = np.random.RandomState(seed)
    weights = rng.dirichlet(np.ones(N_COMPONENTS))
    means = 1.5 * rng.standard_normal((N_COMPONENTS, N_FEATURES))
    covariances = random_covariances(rng, covariance_type, N_COMPONENTS, N_FEATURES)

    def tile(value):
        return np.broadcast_to(value, (N_CHAINS, N_DRAWS) + value.shape).copy()

    posterior = Posterior(
        tile(weights), tile(means), tile(covariances),
        standardization=_standardization(covariance_type),
    )
    return posterior, (weights, means, covariances)


def _varying_posterior(covariance_type, n_draws=5, seed=1):
    """Draws that differ from one another (standardised units)."""
    rng = np.random.RandomState(seed)
    lead = (N_CHAINS, n_draws)
    weights = rng.dirichlet(np.ones(N_COMPONENTS), size=lead)
    means = rng.standard_normal(lead + (N_COMPONENTS, N_FEATURES))
    covariances = random_covariances(
        rng, covariance_type, N_COMPONENTS, N_FEATURES, lead
    )
    return Posterior(
        weights, means, covariances, standardization=_standardization(covariance_type)
    )


def _scipy_components(posterior, weights, means, covariances):
    """Data-unit (weight, scipy frozen normal) pairs of a standardised mixture."""
    standardization = posterior.standardization
    data_means = standardization.inverse_transform(means)
    data_covariances = full_matrices(
        standardization.covariances_to_data(covariances),
        posterior.covariance_type, N_COMPONENTS, N_FEATURES,
    )
    return [
        (w, multivariate_normal(m, c))
        for w, m, c in zip(weights, data_means, data_covariances)
    ]


def _rows(seed=2):
    rng = np.random.RandomState(seed)
    return CENTER + FEATURE_SCALE * 2 * rng.standard_normal((40, N_FEATURES))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_densities_match_scipy_mixture_in_data_units(covariance_type):
    posterior, parameters = _constant_posterior(covariance_type)
    X = _rows()
    components = _scipy_components(posterior, *parameters)
    weighted = np.stack(
        [np.log(w) + normal.logpdf(X) for w, normal in components], axis=1
    )
    expected = logsumexp(weighted, axis=1)
    assert_allclose(posterior.log_predictive_density(X), expected, rtol=1e-10)
    pointwise = posterior.pointwise_log_likelihood(X)
    assert pointwise.shape == (N_CHAINS, N_DRAWS, len(X))
    assert_allclose(pointwise, np.broadcast_to(expected, pointwise.shape), rtol=1e-10)
    memberships = np.exp(weighted - expected[:, None])
    assert_allclose(posterior.memberships(X), memberships, atol=1e-12)
    summaries = posterior.summarize(X)
    assert_allclose(summaries.total_log_likelihood, expected.sum(), rtol=1e-10)
    assert_allclose(summaries.log_predictive_density, expected, rtol=1e-10)
    assert_allclose(summaries.memberships, memberships, atol=1e-12)
    assert_allclose(summaries.expected_counts,
                    np.broadcast_to(memberships.sum(axis=0), (6, N_COMPONENTS)))


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_log_predictive_density_averages_varying_draws(covariance_type):
    posterior = _varying_posterior(covariance_type)
    X = _rows(3)
    pointwise = posterior.pointwise_log_likelihood(X).reshape(-1, len(X))
    assert_allclose(
        posterior.log_predictive_density(X),
        logsumexp(pointwise, axis=0) - np.log(pointwise.shape[0]),
        rtol=1e-10,
    )
    # Draw by draw, the same as a constant posterior at that draw.
    flat = {name: getattr(posterior, name).reshape((-1,) + getattr(
        posterior, name).shape[2:]) for name in ("weights", "means", "covariances")}
    for s in (0, 7):
        components = _scipy_components(
            posterior, flat["weights"][s], flat["means"][s], flat["covariances"][s]
        )
        expected = logsumexp(
            [np.log(w) + normal.logpdf(X) for w, normal in components], axis=0
        )
        assert_allclose(pointwise[s], expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_samples_are_in_data_units(covariance_type):
    posterior = _varying_posterior(covariance_type)
    standardization = posterior.standardization
    samples = posterior.samples()
    assert samples is posterior.samples()  # built once
    assert_array_equal(samples["weights"], posterior.weights)
    assert_allclose(
        samples["means"], standardization.inverse_transform(posterior.means)
    )
    assert_allclose(
        samples["covariances"],
        standardization.covariances_to_data(posterior.covariances),
    )
    assert samples["means"].shape == (N_CHAINS, 5, N_COMPONENTS, N_FEATURES)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "spherical"])
def test_point_estimates_are_means_of_the_samples(covariance_type):
    posterior = _varying_posterior(covariance_type)
    samples = posterior.samples()
    weights, means, covariances = posterior.point_estimates()
    assert_allclose(weights.sum(), 1.0)
    assert_allclose(weights, samples["weights"].mean(axis=(0, 1)), rtol=1e-12)
    assert_allclose(means, samples["means"].mean(axis=(0, 1)), rtol=1e-12)
    assert_allclose(covariances, samples["covariances"].mean(axis=(0, 1)), rtol=1e-12)
    # With chain weights, every average weighs each chain's draws by them.
    chain_weights = np.linspace(1.0, 2.0, posterior.shape[0])
    chain_weights /= chain_weights.sum()
    weighted = posterior.with_chain_weights(chain_weights)
    expected = np.tensordot(chain_weights, samples["means"].mean(axis=1), axes=1)
    assert_allclose(weighted.point_estimates()[1], expected, rtol=1e-12)
    X = samples["means"][0, 0]
    assert_allclose(weighted.draws.draw_weights.sum(), 1.0)
    assert not np.allclose(
        weighted.log_predictive_density(X), posterior.log_predictive_density(X)
    )


def test_flat_samples_thin_evenly():
    posterior = _varying_posterior("diag", n_draws=5)
    flat = posterior.flat_samples()
    n_flat = N_CHAINS * 5
    assert flat["means"].shape == (n_flat, N_COMPONENTS, N_FEATURES)
    # Chain-major: flat draw c * n_draws + d is draw d of chain c.
    assert_array_equal(flat["weights"][5 + 2], posterior.weights[1, 2])
    thinned = posterior.flat_samples(max_draws=4)
    index = [0, 3, 6, 9]  # evenly spaced over 10 draws, first and last kept
    for name, value in flat.items():
        assert_array_equal(thinned[name], value[index])
    one = posterior.flat_samples(max_draws=1)
    assert one["weights"].shape == (1, N_COMPONENTS)
    # Asking for more draws than there are returns them all.
    for name, value in posterior.flat_samples(max_draws=100).items():
        assert_array_equal(value, flat[name])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_draws_and_shapes(covariance_type):
    posterior = _varying_posterior(covariance_type)
    assert posterior.shape == (N_CHAINS, 5)
    assert posterior.n_components == N_COMPONENTS
    assert posterior.covariance_type == covariance_type
    expected_sites = ("weights", "means") + (
        () if covariance_type == "tied" else ("covariances",)
    )
    assert posterior.component_sites == expected_sites
    draws = posterior.draws
    assert draws is posterior.draws  # built once
    flat_covariances = posterior.covariances.reshape(
        (-1,) + posterior.covariances.shape[2:]
    )
    assert_allclose(
        draws.precisions_cholesky,
        precision_cholesky(flat_covariances, covariance_type),
    )
    assert draws.weights.shape == (N_CHAINS * 5, N_COMPONENTS)
    assert draws.covariance_type == covariance_type


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_from_draws_undoes_label_switching(covariance_type):
    rng = np.random.RandomState(4)
    reference = np.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    lead = (N_CHAINS, 6)
    means = reference + 0.1 * rng.standard_normal(lead + reference.shape)
    weights = rng.dirichlet(np.ones(N_COMPONENTS) * 20, size=lead)
    covariances = random_covariances(
        rng, covariance_type, N_COMPONENTS, N_FEATURES, lead
    )
    shuffles = np.array(
        [[rng.permutation(N_COMPONENTS) for _ in range(6)] for _ in range(N_CHAINS)]
    )

    def shuffle(values):
        index = shuffles.reshape(lead + (N_COMPONENTS,) + (1,) * (values.ndim - 3))
        return np.take_along_axis(values, index, axis=2)

    shuffled_covariances = (
        shuffle(covariances) if covariance_type == "full" else covariances
    )
    posterior = Posterior.from_draws(
        shuffle(weights), shuffle(means), shuffled_covariances,
        standardization=_standardization(covariance_type), reference=reference,
        covariance_type=covariance_type, overfitted=False, n_samples=100,
    )
    assert_allclose(posterior.means, means)
    assert_allclose(posterior.weights, weights)
    assert_allclose(posterior.covariances, covariances)


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_sample_follows_the_mixture(covariance_type):
    posterior, (weights, means, covariances) = _constant_posterior(covariance_type)
    X, labels = posterior.sample(4000, np.random.RandomState(0))
    assert X.shape == (4000, N_FEATURES)
    assert np.all(np.diff(labels) >= 0)  # sorted, as GaussianMixture.sample
    again, _ = posterior.sample(4000, np.random.RandomState(0))
    assert_array_equal(again, X)
    data_means = posterior.standardization.inverse_transform(means)
    data_covariances = full_matrices(
        posterior.standardization.covariances_to_data(covariances),
        covariance_type, N_COMPONENTS, N_FEATURES,
    )
    assert_allclose(np.bincount(labels, minlength=3) / 4000, weights, atol=0.03)
    for k in range(N_COMPONENTS):
        rows = X[labels == k]
        sd = np.sqrt(np.diag(data_covariances[k]))
        # Within five standard errors of the component's mean and spread.
        assert np.all(np.abs(rows.mean(axis=0) - data_means[k])
                      < 5 * sd / np.sqrt(len(rows)))
        assert_allclose(rows.std(axis=0), sd, rtol=0.15)


def test_mixture_draws_carry_precision_factors():
    rng = np.random.RandomState(5)
    covariances = random_covariances(rng, "diag", N_COMPONENTS, N_FEATURES, (4,))
    weights = rng.dirichlet(np.ones(N_COMPONENTS), size=4)
    means = rng.standard_normal((4, N_COMPONENTS, N_FEATURES))
    draws = mixture_draws(weights, means, covariances, "diag")
    assert_array_equal(draws.weights, weights)
    assert_array_equal(draws.means, means)
    assert_allclose(draws.precisions_cholesky, 1 / np.sqrt(covariances))
    assert draws.covariance_type == "diag"
