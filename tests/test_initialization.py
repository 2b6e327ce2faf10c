"""Tests of the start: k-means values, chain jitter, choose_start (no MCMC).

(The overfitted starts, 'bic' and 'bgmm', are tested in test_overfitted.py.)
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skbayesmix._covariance import COVARIANCE_TYPES, covariance_from_factors
from skbayesmix._initialization import (
    MIN_INIT_SCALE,
    Start,
    choose_start,
    initial_values,
    jittered_chain_values,
    kmeans_start,
    mixture_initial_values,
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
    values = initial_values(X, centers, labels, covariance_type=covariance_type)
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
    full = initial_values(X, centers, labels, covariance_type="full")
    assert_allclose(full["weights"], [60.5 / 101, 40.5 / 101])
    for k in range(2):
        assert_allclose(full["scales"][k], X[labels == k].std(axis=0))
    tied = initial_values(X, centers, labels, covariance_type="tied")
    assert_allclose(tied["scales"], np.sqrt(np.mean((X - centers[labels]) ** 2, 0)))
    spherical = initial_values(X, centers, labels, covariance_type="spherical")
    assert_allclose(
        spherical["scales"], np.sqrt(np.mean(full["scales"] ** 2, axis=1))
    )


def test_initial_values_degenerate_clusters():
    # A singleton cluster and duplicated points still start with proper scales.
    X = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    labels = np.array([0, 0, 0, 1])
    centers = np.array([[0.0, 0.0], [5.0, 5.0]])
    values = initial_values(X, centers, labels, covariance_type="full")
    assert np.all(np.isfinite(values["scales"]))
    assert np.all(values["scales"] >= MIN_INIT_SCALE)
    assert np.all(values["weights"] > 0)


def test_jittered_chain_values(two_clusters):
    X = two_clusters
    centers, labels = kmeans_start(X, 2, random_state=np.random.RandomState(0))
    values = initial_values(X, centers, labels, covariance_type="full")
    chains = jittered_chain_values(
        values, covariance_type="full", num_chains=4,
        random_state=np.random.RandomState(0),
    )
    again = jittered_chain_values(
        values, covariance_type="full", num_chains=4,
        random_state=np.random.RandomState(0),
    )
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


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_jitter_scales_each_covariance_as_a_whole(two_clusters, covariance_type):
    # Jittering each feature's scale on its own changes the variance of the
    # difference of strongly correlated features many times over (breast
    # cancer); the covariance must keep its shape.
    X = two_clusters
    centers, labels = kmeans_start(X, 2, random_state=np.random.RandomState(0))
    values = initial_values(X, centers, labels, covariance_type=covariance_type)
    if "corr_cholesky" in values:
        correlated = np.linalg.cholesky(np.array([[1.0, 0.95], [0.95, 1.0]]))
        values["corr_cholesky"] = np.broadcast_to(
            correlated, values["corr_cholesky"].shape
        ).copy()
    chains = jittered_chain_values(
        values, covariance_type=covariance_type, num_chains=5,
        random_state=np.random.RandomState(1),
    )
    start = covariance_from_factors(
        values["scales"], values.get("corr_cholesky"), 0.0, covariance_type
    )
    n_covariances = 1 if covariance_type == "tied" else 2
    for chain in range(5):
        corr_cholesky = chains.get("corr_cholesky")
        jittered = covariance_from_factors(
            chains["scales"][chain],
            None if corr_cholesky is None else corr_cholesky[chain],
            0.0, covariance_type,
        )
        ratio = (jittered / start).reshape(n_covariances, -1)
        assert_allclose(ratio, np.repeat(ratio[:, :1], ratio.shape[1], axis=1))
        assert np.all(np.abs(np.log(ratio)) < 0.5)
        assert not np.allclose(ratio, 1.0)


def test_choose_start_kmeans_centres_priors_on_the_centroids(two_clusters):
    X = (two_clusters - two_clusters.mean(0)) / two_clusters.std(0)
    start = choose_start(
        X, 2, covariance_type="diag", init_params="kmeans", weight_concentration=0.5,
        random_state=np.random.RandomState(4),
    )
    assert isinstance(start, Start)
    centers, labels = kmeans_start(X, 2, random_state=np.random.RandomState(4))
    assert_array_equal(start.prior_loc, centers)
    assert_array_equal(start.occupied, [True, True])
    expected = initial_values(X, centers, labels, covariance_type="diag")
    assert set(start.values) == set(expected)
    for name, value in expected.items():
        assert_array_equal(start.values[name], value)


@pytest.mark.parametrize("init_params", ["bic", "bgmm"])
def test_choose_start_overfitted_methods_leave_components_empty(
    two_clusters, init_params
):
    X = (two_clusters - two_clusters.mean(0)) / two_clusters.std(0)
    start = choose_start(
        X, 4, covariance_type="full", init_params=init_params,
        weight_concentration=1e-3,
        random_state=np.random.RandomState(0),
    )
    assert start.occupied.sum() == 2
    # Empty components' priors sit on the data mean (0 once standardised).
    assert_allclose(start.prior_loc[~start.occupied], 0.0, atol=1e-12)
    assert_allclose(start.values["weights"].sum(), 1.0)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_mixture_initial_values_rebuild_the_covariances(covariance_type):
    from sklearn.mixture import GaussianMixture

    from skbayesmix._covariance import covariance_from_factors, variances

    rng = np.random.RandomState(5)
    X = rng.standard_normal((80, 2)) @ np.array([[1.0, 0.3], [0.0, 0.7]])
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    values = mixture_initial_values(
        2 * gm.weights_, gm.means_, gm.covariances_, covariance_type=covariance_type
    )
    assert_allclose(values["weights"], gm.weights_)  # normalised
    assert_allclose(values["means"], gm.means_)
    rebuilt = covariance_from_factors(
        values["scales"], values.get("corr_cholesky"), 0.0, covariance_type
    )
    # Exact up to the 5% shrinkage of correlations towards the identity.
    assert_allclose(
        variances(rebuilt, covariance_type),
        variances(gm.covariances_, covariance_type),
        rtol=1e-10,
    )
    if covariance_type in ("full", "tied"):
        assert_allclose(
            rebuilt[..., 0, 1], 0.95 * gm.covariances_[..., 0, 1], rtol=1e-10
        )


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data", "random"])
def test_seeded_starts_run_k_means_from_gaussian_mixture_seeds(init_params):
    from sklearn.datasets import make_blobs
    from sklearn.metrics import adjusted_rand_score

    from skbayesmix._initialization import seeded_start

    X, y = make_blobs(300, centers=4, cluster_std=0.5, random_state=1)
    centers, labels = seeded_start(
        X, 4, init_params=init_params, random_state=np.random.RandomState(0),
        n_init=3,
    )
    assert centers.shape == (4, 2)
    # 'random' seeds all lie near the data mean: only the k-means run that
    # follows separates the blobs.
    assert adjusted_rand_score(y, labels) == 1.0
    # Centroids of the rows labelled with them, as k-means leaves them.
    for k in range(4):
        np.testing.assert_allclose(centers[k], X[labels == k].mean(0), atol=1e-6)
