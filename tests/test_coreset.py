import copy
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

from skbayesmix._coreset import dask_coreset, sensitivity_coreset
from skbayesmix._dask import is_dask_array

SIZE = 2000
# Largest |coreset - full| / |full| of the mean log-likelihood allowed. Observed
# with SIZE = 2000 on 20,000 rows, over 20 seeds and the mixtures below: at
# most 0.028 (root mean square 0.006); uniform draws of the same size: 0.027.
# Most of it is the spread of the weights' sum (relative RMS 0.006).
RTOL = 0.04
SEEDS = range(5)


def _mixtures(X, n_components_range):
    """Fitted mixtures and deliberately bad ones (shifted, one broad component)."""
    mixtures = [
        GaussianMixture(k, max_iter=20, tol=1e-2, random_state=0).fit(X)
        for k in n_components_range
    ]
    shifted = copy.deepcopy(mixtures[-1])
    shifted.means_ = shifted.means_ + 3.0
    n_features = X.shape[1]
    broad = copy.deepcopy(mixtures[0])
    broad.weights_ = np.ones(1)
    broad.means_ = X.mean(axis=0, keepdims=True)
    broad.covariances_ = 400.0 * np.eye(n_features)[None]
    broad.precisions_cholesky_ = np.eye(n_features)[None] / 20.0
    return mixtures + [shifted, broad]


def _relative_errors(mixtures, X_coreset, weights, full_means, total_weight):
    estimates = np.array(
        [weights @ m.score_samples(X_coreset) / total_weight for m in mixtures]
    )
    return np.abs(estimates - full_means) / np.abs(full_means)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(20_000, n_features=2, centers=8, random_state=0)
    return X


@pytest.fixture(scope="module")
def blob_mixtures(blobs):
    # Fitted on a subsample: fast, and the mixtures need not be optimal.
    return _mixtures(blobs[::4], range(2, 9))


def test_coreset_approximates_mean_log_likelihood(blobs, blob_mixtures):
    full = np.array([m.score_samples(blobs).mean() for m in blob_mixtures])
    weights_in = np.ones(len(blobs))
    errors = []
    for seed in SEEDS:
        X_c, w_c = sensitivity_coreset(
            blobs, weights_in, size=SIZE, n_clusters=8,
            random_state=np.random.RandomState(seed),
        )
        assert X_c.shape[1] == 2 and X_c.dtype == w_c.dtype == np.float64
        assert len(X_c) <= SIZE and np.all(w_c > 0)
        # Weights sum close to the total weight (observed: within 1.9%).
        assert abs(w_c.sum() / len(blobs) - 1) < 0.03
        errors.append(_relative_errors(blob_mixtures, X_c, w_c, full, len(blobs)))
    errors = np.array(errors)
    assert errors.max() < RTOL
    assert np.sqrt(np.mean(errors**2)) < RTOL / 3


@pytest.mark.parametrize("outliers", ["cluster", "scattered"])
def test_coreset_beats_uniform_with_far_rows(blobs, outliers):
    # 20 far rows that the mixture does not cover dominate its log-likelihood;
    # uniform draws of 2,000 of 20,020 rows catch 2 of them on average. A far
    # cluster gets a k-means centre (the cluster term of the sensitivity draws
    # it); scattered rows do not (the distance term draws them).
    rng = np.random.RandomState(1)
    if outliers == "cluster":
        far = rng.normal(size=(20, 2)) + 40.0
    else:
        angle = rng.uniform(0.0, 2 * np.pi, size=20)
        far = blobs.mean(axis=0) + 40.0 * np.c_[np.cos(angle), np.sin(angle)]
    X = np.vstack([blobs, far])
    mixture = GaussianMixture(8, random_state=0).fit(blobs)
    full = mixture.score_samples(X).mean()
    coreset_errors, uniform_errors = [], []
    for seed in range(10):
        rng = np.random.RandomState(seed)
        X_c, w_c = sensitivity_coreset(
            X, np.ones(len(X)), size=SIZE, n_clusters=8, random_state=rng
        )
        log_likelihood = mixture.score_samples(X_c)
        coreset_errors.append(w_c @ log_likelihood / len(X) - full)
        # The far rows are drawn often (about 15 times) and weigh little:
        # the weights, not the rows alone, make the estimate.
        assert abs(log_likelihood.mean() - full) > 0.5 * abs(full)
        uniform = X[rng.choice(len(X), SIZE)]
        uniform_errors.append(mixture.score_samples(uniform).mean() - full)
    coreset_rms = np.sqrt(np.mean(np.square(coreset_errors)))
    uniform_rms = np.sqrt(np.mean(np.square(uniform_errors)))
    # Observed over 10 seeds: 0.07 against 0.45 (cluster), 0.03 against 0.44
    # (scattered; 0.28 without the distance term).
    assert coreset_rms < 0.3 * uniform_rms
    assert np.max(np.abs(coreset_errors)) < RTOL * abs(full)


def test_integer_weights_match_duplicated_rows(blobs, blob_mixtures):
    counts = np.random.RandomState(0).randint(0, 4, size=len(blobs))
    duplicated = np.repeat(blobs, counts, axis=0)
    full = np.array([m.score_samples(duplicated).mean() for m in blob_mixtures])
    X_c, w_c = sensitivity_coreset(
        blobs, counts.astype(float), size=SIZE, n_clusters=8,
        random_state=np.random.RandomState(0),
    )
    total = counts.sum()
    assert abs(w_c.sum() / total - 1) < 0.03
    assert _relative_errors(blob_mixtures, X_c, w_c, full, total).max() < RTOL
    # Rows of weight zero are never drawn (rows are distinct floats).
    assert np.isin(X_c[:, 0], blobs[counts > 0, 0]).all()
    assert not np.isin(X_c[:, 0], blobs[counts == 0, 0]).any()


def test_zero_weight_rows_never_drawn():
    # Rows of weight zero far away: k-means++ and the sensitivities would pick
    # them first if their weight were ignored.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(5000, 2)), rng.normal(size=(500, 2)) + 100.0])
    weights = np.r_[rng.uniform(0.5, 2.0, 5000), np.zeros(500)]
    X_c, w_c = sensitivity_coreset(
        X, weights, size=300, n_clusters=4, random_state=np.random.RandomState(0)
    )
    assert np.all(X_c[:, 0] < 50.0)
    assert np.all(w_c > 0)


def test_small_data_returned_exactly():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    weights = rng.uniform(0.0, 3.0, size=60)
    weights[::7] = 0.0
    X_c, w_c = sensitivity_coreset(
        X, weights, size=60, n_clusters=3, random_state=np.random.RandomState(0)
    )
    keep = weights > 0
    assert_array_equal(X_c, X[keep])
    assert_array_equal(w_c, weights[keep])
    # One row more than size is sampled: rows merge, weights change.
    X_c, w_c = sensitivity_coreset(
        X, np.ones(60), size=59, n_clusters=3, random_state=np.random.RandomState(0)
    )
    assert len(X_c) < 59
    assert not np.allclose(w_c, 1.0)


def test_coreset_reproducible_and_sorted(blobs):
    weights = np.ones(len(blobs))

    def run(seed):
        return sensitivity_coreset(
            blobs, weights, size=500, n_clusters=5, random_state=seed
        )

    X_a, w_a = run(np.random.RandomState(3))
    X_b, w_b = run(np.random.RandomState(3))
    assert_array_equal(X_a, X_b)
    assert_array_equal(w_a, w_b)
    X_c, _ = run(np.random.RandomState(4))
    assert X_c.shape != X_a.shape or not np.array_equal(X_c, X_a)
    # Rows come in their original order.
    index = {x: i for i, x in enumerate(blobs[:, 0])}
    order = [index[x] for x in X_a[:, 0]]
    assert order == sorted(order)


def test_coreset_with_duplicated_rows():
    # Fewer distinct rows than clusters: no k-means warning, exact reweighting.
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 500, axis=0)
    X_c, w_c = sensitivity_coreset(
        X, np.ones(1000), size=50, n_clusters=5,
        random_state=np.random.RandomState(0),
    )
    assert len(X_c) <= 50
    assert_allclose(w_c.sum(), 1000.0, rtol=0.3)


def test_is_dask_array_false_without_importing_dask():
    code = (
        "import sys, numpy as np, skbayesmix\n"
        "from skbayesmix._dask import is_dask_array\n"
        "assert not is_dask_array(np.zeros((3, 2)))\n"
        "assert 'dask' not in sys.modules and 'dask.array' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def dask_blobs():
    X, _ = make_blobs(200_000, n_features=3, centers=6, random_state=1)
    mixtures = _mixtures(X[::20], range(2, 7))
    full = np.array([m.score_samples(X).mean() for m in mixtures])
    return X, mixtures, full


def test_dask_coreset_approximates_log_likelihood(dask_client, dask_blobs):
    da = pytest.importorskip("dask.array")
    X, mixtures, full = dask_blobs
    X_dask = da.from_array(X, chunks=(50_000, 3))
    assert is_dask_array(X_dask) and not is_dask_array(X)
    X_c, w_c = dask_coreset(
        X_dask, None, size=SIZE, n_clusters=6, random_state=np.random.RandomState(0)
    )
    assert isinstance(X_c, np.ndarray) and len(X_c) <= SIZE
    assert abs(w_c.sum() / len(X) - 1) < 0.03
    assert _relative_errors(mixtures, X_c, w_c, full, len(X)).max() < RTOL
    assert np.isin(X_c[:, 0], X[:, 0]).all()
    # Reproducible, also with columns in several chunks.
    X_again, w_again = dask_coreset(
        X_dask.rechunk((50_000, 1)), None, size=SIZE, n_clusters=6,
        random_state=np.random.RandomState(0),
    )
    assert_array_equal(X_again, X_c)
    assert_array_equal(w_again, w_c)


def test_dask_coreset_with_weights(dask_client, dask_blobs):
    da = pytest.importorskip("dask.array")
    X, mixtures, _ = dask_blobs
    counts = np.random.RandomState(0).randint(0, 4, size=len(X))
    duplicated = np.repeat(X, counts, axis=0)
    full = np.array([m.score_samples(duplicated).mean() for m in mixtures])
    X_dask = da.from_array(X, chunks=(50_000, 3))
    results = []
    # Weight chunks differ from X's: they are rechunked to match.
    for sample_weight in (counts.astype(float), da.from_array(counts, chunks=70_000)):
        X_c, w_c = dask_coreset(
            X_dask, sample_weight, size=SIZE, n_clusters=6,
            random_state=np.random.RandomState(1),
        )
        assert abs(w_c.sum() / counts.sum() - 1) < 0.03
        assert _relative_errors(mixtures, X_c, w_c, full, counts.sum()).max() < RTOL
        assert np.isin(X_c[:, 0], X[counts > 0, 0]).all()
        results.append((X_c, w_c))
    # The same blocks of weights, scattered or from the Dask array.
    assert_array_equal(results[0][0], results[1][0])
    assert_allclose(results[0][1], results[1][1], rtol=1e-12)
    # And the same on the local scheduler (weights passed in the graph).
    dask = pytest.importorskip("dask")
    with dask.config.set(scheduler="synchronous"):
        X_local, w_local = dask_coreset(
            X_dask, counts.astype(float), size=SIZE, n_clusters=6,
            random_state=np.random.RandomState(1),
        )
    assert_array_equal(X_local, results[0][0])
    assert_allclose(w_local, results[0][1], rtol=1e-12)


def test_dask_coreset_small_blocks_exact(dask_client):
    da = pytest.importorskip("dask.array")
    X = np.random.RandomState(0).normal(size=(90, 2))
    X_c, w_c = dask_coreset(
        da.from_array(X, chunks=(30, 2)), None, size=100, n_clusters=3,
        random_state=0,
    )
    assert_array_equal(X_c, X)
    assert_array_equal(w_c, np.ones(90))


def test_dask_coreset_rejects_bad_weights(dask_client):
    da = pytest.importorskip("dask.array")
    X = da.from_array(np.random.RandomState(0).normal(size=(400, 2)), chunks=100)
    for bad in (-1.0, np.nan, np.inf):
        weights = np.ones(400)
        weights[250] = bad
        with pytest.raises(ValueError, match="sample_weight"):
            dask_coreset(
                X, da.from_array(weights, chunks=100), size=50, n_clusters=2,
                random_state=0,
            )
    with pytest.raises(ValueError, match="sample_weight"):
        dask_coreset(X, np.ones(300), size=50, n_clusters=2, random_state=0)


def test_dask_coreset_unknown_chunk_sizes():
    da = pytest.importorskip("dask.array")
    X = da.from_array(np.random.RandomState(0).normal(size=(400, 2)), chunks=100)
    filtered = X[X[:, 0] > 0]
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        dask_coreset(filtered, None, size=50, n_clusters=2, random_state=0)
    X_c, w_c = dask_coreset(
        filtered.compute_chunk_sizes(), None, size=50, n_clusters=2, random_state=0
    )
    assert np.all(X_c[:, 0] > 0) and len(X_c) <= 50
