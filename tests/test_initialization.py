"""Tests of the k-means start (NumPy and scikit-learn only)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skbayesmix._initialization import (
    MIN_INIT_SCALE,
    initial_values,
    jittered_chain_values,
    kmeans_start,
)

SCALE_SHAPES = {
    "full": lambda k, d: (k, d),
    "diag": lambda k, d: (k, d),
    "tied": lambda k, d: (d,),
    "spherical": lambda k, d: (k,),
}


@pytest.fixture(scope="module")
def two_clusters():
    rng = np.random.RandomState(0)
    X = np.vstack(
        [
            rng.normal([0.0, 0.0], [1.0, 0.5], size=(60, 2)),
            rng.normal([8.0, 8.0], [0.5, 2.0], size=(40, 2)),
        ]
    )
    return X


def test_kmeans_start_is_seeded(two_clusters):
    a = kmeans_start(two_clusters, 2, random_state=np.random.RandomState(3))
    b = kmeans_start(two_clusters, 2, random_state=np.random.RandomState(3))
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    centers, labels = a
    assert centers.shape == (2, 2)
    assert labels.shape == (100,)
    # The clusters are well separated: k-means finds them.
    assert sorted(np.bincount(labels)) == [40, 60]
    for k in range(2):
        assert_allclose(centers[k], two_clusters[labels == k].mean(axis=0))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("n_features", [1, 3])
def test_initial_values_shapes(covariance_type, n_features):
    rng = np.random.RandomState(1)
    n_components = 3
    X = rng.standard_normal((30, n_features))
    centers, labels = kmeans_start(X, n_components, random_state=rng)
    values = initial_values(X, centers, labels, covariance_type)
    assert values["weights"].shape == (n_components,)
    assert_allclose(values["weights"].sum(), 1.0)
    assert np.all(values["weights"] > 0)
    assert_array_equal(values["means"], centers)
    assert values["scales"].shape == SCALE_SHAPES[covariance_type](
        n_components, n_features
    )
    assert np.all(values["scales"] >= MIN_INIT_SCALE)
    has_corr = covariance_type in ("full", "tied") and n_features > 1
    assert ("corr_cholesky" in values) == has_corr
    if has_corr:
        expected = (n_components,) if covariance_type == "full" else ()
        assert values["corr_cholesky"].shape == expected + (n_features, n_features)


def test_initial_values_match_cluster_statistics(two_clusters):
    X = two_clusters
    labels = np.r_[np.zeros(60, int), np.ones(40, int)]
    centers = np.array([X[labels == k].mean(axis=0) for k in range(2)])
    full = initial_values(X, centers, labels, "full")
    assert_allclose(full["weights"], [60.5 / 101, 40.5 / 101])
    for k in range(2):
        assert_allclose(full["scales"][k], X[labels == k].std(axis=0))
    tied = initial_values(X, centers, labels, "tied")
    assert_allclose(tied["scales"], np.sqrt(np.mean((X - centers[labels]) ** 2, 0)))
    spherical = initial_values(X, centers, labels, "spherical")
    assert_allclose(
        spherical["scales"], np.sqrt(np.mean(full["scales"] ** 2, axis=1))
    )


def test_initial_values_degenerate_clusters():
    # A singleton cluster and duplicated points still start with proper scales.
    X = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    labels = np.array([0, 0, 0, 1])
    centers = np.array([[0.0, 0.0], [5.0, 5.0]])
    values = initial_values(X, centers, labels, "full")
    assert np.all(np.isfinite(values["scales"]))
    assert np.all(values["scales"] >= MIN_INIT_SCALE)
    assert np.all(values["weights"] > 0)


def test_jittered_chain_values(two_clusters):
    X = two_clusters
    centers, labels = kmeans_start(X, 2, random_state=np.random.RandomState(0))
    values = initial_values(X, centers, labels, "full")
    chains = jittered_chain_values(values, 4, np.random.RandomState(0))
    again = jittered_chain_values(values, 4, np.random.RandomState(0))
    assert set(chains) == set(values)
    for name, value in values.items():
        assert chains[name].shape == (4,) + value.shape
        assert_array_equal(chains[name], again[name])
    # Chains start apart ...
    assert not np.allclose(chains["means"][0], chains["means"][1])
    # ... but near the k-means solution, inside the support.
    assert_allclose(chains["means"], np.broadcast_to(centers, (4, 2, 2)), atol=0.5)
    assert np.all(chains["scales"] > 0)
    assert_allclose(chains["weights"].sum(axis=1), 1.0)
    assert np.all(chains["weights"] > 0)
    assert_allclose(
        chains["scales"] / values["scales"], 1.0, rtol=0.3
    )
    assert_array_equal(chains["corr_cholesky"], np.tile(np.eye(2), (4, 2, 1, 1)))
