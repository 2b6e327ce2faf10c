"""Exact tests of the label-switching correction."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skbayesmix._relabel import (
    apply_permutations,
    relabel_draws,
    relabel_features,
    relabel_permutations,
)
from skbayesmix._settings import RELABEL_WEIGHT_FLOOR


def _permuted_draws(rng, reference, n_draws, noise):
    """Draws of the reference means with noise, each in a random component order.

    Returns the draws and, per draw, the order that puts them back.
    """
    n_components = reference.shape[0]
    clean = reference + noise * rng.standard_normal((n_draws,) + reference.shape)
    shuffles = np.array([rng.permutation(n_components) for _ in range(n_draws)])
    # Draw s stores reference component shuffles[s, j] at position j.
    shuffled = np.take_along_axis(clean, shuffles[:, :, None], axis=1)
    return clean, shuffled, np.argsort(shuffles, axis=1)


@pytest.mark.parametrize("n_components", [1, 2, 5, 8])
def test_recovers_random_permutations_exactly(n_components):
    rng = np.random.RandomState(n_components)
    reference = 5 * rng.standard_normal((n_components, 3))
    clean, shuffled, expected = _permuted_draws(rng, reference, 200, noise=0.1)
    permutations = relabel_permutations(shuffled, reference)
    assert permutations.shape == (200, n_components)
    assert_array_equal(permutations, expected)
    assert_allclose(apply_permutations(shuffled, permutations), clean)
    # Each row is a permutation.
    assert_array_equal(
        np.sort(permutations, axis=1), np.tile(np.arange(n_components), (200, 1))
    )


def test_refines_a_poor_reference():
    # A reference that is off by a fraction of the separation (a rough k-means
    # solution) still gives the right labels, via the refined mean of the draws.
    rng = np.random.RandomState(0)
    truth = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    clean, shuffled, expected = _permuted_draws(rng, truth, 300, noise=0.3)
    rough = truth + np.array([[1.5, 0.2], [-1.2, 0.5], [0.4, -1.4], [-0.5, -0.8]])
    assert_array_equal(relabel_permutations(shuffled, rough), expected)


def test_scale_makes_distances_unit_free():
    # Feature 1 is in units 1000 times larger; without ``scale`` it dominates the
    # cost and the components that differ only in feature 0 get swapped.
    rng = np.random.RandomState(1)
    reference = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3000.0]])
    noise = np.array([0.2, 200.0])
    clean = reference + noise * rng.standard_normal((100,) + reference.shape)
    shuffles = np.array([rng.permutation(3) for _ in range(100)])
    shuffled = np.take_along_axis(clean, shuffles[:, :, None], axis=1)
    expected = np.argsort(shuffles, axis=1)
    scaled = relabel_permutations(shuffled, reference, scale=np.array([1.0, 1000.0]))
    assert_array_equal(scaled, expected)
    unscaled = relabel_permutations(shuffled, reference)
    assert not np.array_equal(unscaled, expected)


def test_is_invariant_to_affine_maps_with_matching_scale():
    rng = np.random.RandomState(2)
    reference = rng.standard_normal((4, 2)) * 3
    _, shuffled, _ = _permuted_draws(rng, reference, 50, noise=0.8)
    scale = np.array([1000.0, 0.01])
    center = np.array([5.0, -2.0])
    assert_array_equal(
        relabel_permutations(shuffled * scale + center, reference * scale + center,
                             scale=scale),
        relabel_permutations(shuffled, reference),
    )


def test_apply_permutations_other_axes():
    rng = np.random.RandomState(3)
    n_draws, n_components = 6, 4
    permutations = np.array([rng.permutation(n_components) for _ in range(n_draws)])
    # Covariances: the component axis is 1, followed by matrix axes.
    covariances = rng.standard_normal((n_draws, n_components, 2, 2))
    out = apply_permutations(covariances, permutations)
    for s in range(n_draws):
        assert_array_equal(out[s], covariances[s][permutations[s]])
    # A component axis in another position.
    values = rng.standard_normal((n_draws, 3, n_components))
    out = apply_permutations(values, permutations, component_axis=2)
    for s in range(n_draws):
        assert_array_equal(out[s], values[s][:, permutations[s]])
    # Weights: one axis after the draws.
    weights = rng.dirichlet(np.ones(n_components), size=n_draws)
    assert_array_equal(
        apply_permutations(weights, permutations),
        weights[np.arange(n_draws)[:, None], permutations],
    )


# --------------------------------------------- features and whole draws


def _mixture_draws(rng, covariance_type, n_draws=40):
    reference_means = np.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    weights = rng.dirichlet([30.0, 20.0, 10.0], size=n_draws)
    means = reference_means + 0.2 * rng.standard_normal((n_draws, 3, 2))
    if covariance_type == "full":
        covariances = np.array([np.eye(2) * (k + 1) for k in range(3)])
        covariances = covariances * rng.uniform(0.9, 1.1, (n_draws, 3, 1, 1))
    elif covariance_type == "tied":
        covariances = np.eye(2) * rng.uniform(0.9, 1.1, (n_draws, 1, 1))
    else:
        covariances = np.arange(1.0, 4.0) * rng.uniform(0.9, 1.1, (n_draws, 3))
    return weights, means, covariances, reference_means


def test_features_are_the_means_unless_overfitted():
    rng = np.random.RandomState(4)
    weights, means, covariances, _ = _mixture_draws(rng, "full")
    features = relabel_features(
        weights, means, covariances, covariance_type="full", overfitted=False,
        n_samples=100,
    )
    assert features is means


@pytest.mark.parametrize("covariance_type", ["full", "tied", "spherical"])
def test_overfitted_features_add_log_weight_and_log_scale(covariance_type):
    rng = np.random.RandomState(5)
    weights, means, covariances, _ = _mixture_draws(rng, covariance_type)
    weights[:, 2] = 1e-9  # an empty component: its log weight is floored
    features = relabel_features(
        weights, means, covariances, covariance_type=covariance_type,
        overfitted=True, n_samples=200,
    )
    n_extra = {"full": 2, "tied": 0, "spherical": 1}[covariance_type]
    assert features.shape == (40, 3, 2 + 1 + n_extra)
    assert_array_equal(features[..., :2], means)
    floor = RELABEL_WEIGHT_FLOOR / 200
    assert_allclose(features[:, 2, 2], np.log(floor))
    assert_allclose(features[:, :2, 2], np.log(weights[:, :2]))
    if covariance_type == "full":
        assert_allclose(
            features[..., 3:],
            0.5 * np.log(np.diagonal(covariances, axis1=-2, axis2=-1)),
        )
    elif covariance_type == "spherical":
        assert_allclose(features[..., 3], 0.5 * np.log(covariances))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
@pytest.mark.parametrize("overfitted", [False, True])
def test_relabel_draws_permutes_every_parameter_together(covariance_type, overfitted):
    rng = np.random.RandomState(6)
    if covariance_type == "diag":
        weights, means, _, reference_means = _mixture_draws(rng, "full")
        covariances = rng.uniform(0.5, 2.0, (40, 3, 2))
    else:
        weights, means, covariances, reference_means = _mixture_draws(
            rng, covariance_type
        )
    options = dict(covariance_type=covariance_type, overfitted=overfitted,
                   n_samples=100)
    reference = relabel_features(
        weights.mean(0), reference_means, covariances.mean(0), **options
    )
    shuffles = np.array([rng.permutation(3) for _ in range(40)])
    has_axis = covariance_type != "tied"
    shuffled = (
        apply_permutations(weights, shuffles),
        apply_permutations(means, shuffles),
        apply_permutations(covariances, shuffles) if has_axis else covariances,
    )
    got = relabel_draws(*shuffled, reference, **options)
    assert_allclose(got[0], weights)
    assert_allclose(got[1], means)
    assert_allclose(got[2], covariances)
