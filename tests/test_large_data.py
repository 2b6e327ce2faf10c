"""Coresets in the estimator and the selector; Dask arrays on a real cluster."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from skbayesmix import BayesianGMM, BayesianGMMSelector
from tests.conftest import FAST, TINY


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=40_000, centers=3, cluster_std=1.0, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def coreset_fit(blobs):
    X, _ = blobs
    return BayesianGMM(n_components=3, coreset_size=4_000, **FAST).fit(X)


def test_coreset_fit_reports_what_it_fitted(blobs, coreset_fit):
    X, _ = blobs
    coreset = coreset_fit.diagnostics_["coreset"]
    assert coreset["n_samples"] == len(X)
    assert coreset["draws"] == 4_000
    assert 1_000 < coreset["n_rows"] <= 4_000
    # The weights are scaled to X's total: BIC's n and the posterior's width.
    assert coreset["total_weight"] == pytest.approx(len(X))
    assert coreset_fit.n_features_in_ == 2


def test_coreset_fit_predicts_and_scores_like_a_full_fit(blobs, coreset_fit):
    X, y = blobs
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture

    # The blobs overlap: EM on every row reaches an ARI of 0.78. (A coreset
    # of 1,000 draws is 0.004 nats below it, 0.02 in ARI.)
    em = GaussianMixture(3, random_state=0).fit(X)
    assert adjusted_rand_score(y, coreset_fit.predict(X)) > (
        adjusted_rand_score(y, em.predict(X)) - 0.01
    )
    assert coreset_fit.score(X) > em.score(X) - 0.002
    # BIC is evaluated on every row of X, not on the coreset.
    log_lik = coreset_fit._max_log_likelihood(X)[0]
    assert coreset_fit.bic(X) == pytest.approx(
        -2 * log_lik + coreset_fit._n_parameters() * np.log(len(X))
    )


def test_fit_predict_with_a_coreset_labels_every_row(blobs):
    X, _ = blobs
    model = BayesianGMM(n_components=3, coreset_size=500, **TINY)
    labels = model.fit_predict(X)
    assert labels.shape == (len(X),)
    np.testing.assert_array_equal(labels, model.predict(X))


def test_selector_fits_every_candidate_to_one_coreset(blobs):
    X, _ = blobs
    selector = BayesianGMMSelector(
        BayesianGMM(coreset_size=800, **TINY), n_components_range=(1, 2, 3)
    ).fit(X)
    assert selector.coreset_["n_samples"] == len(X)
    assert selector.estimator_.coreset_size is None
    assert selector.best_estimator_.diagnostics_["coreset"] is None
    assert selector.best_estimator_._X_train.shape[0] == selector.coreset_["n_rows"]
    assert selector.best_n_components_ == 3


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def test_dask_array_fit_and_block_wise_predictions(client, blobs):
    import dask.array as da

    X, y = blobs
    X_dask = da.from_array(X, chunks=(10_000, 2))
    model = BayesianGMM(n_components=3, coreset_size=1_000, **TINY).fit(X_dask)
    assert model.diagnostics_["coreset"]["n_samples"] == len(X)
    assert model.diagnostics_["coreset"]["total_weight"] == pytest.approx(len(X))

    labels = model.predict(X_dask)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), model.predict(X))
    proba = model.predict_proba(X_dask)
    assert isinstance(proba, da.Array) and proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.compute(), model.predict_proba(X), rtol=1e-12)
    log_density = model.score_samples(X_dask)
    np.testing.assert_allclose(
        log_density.compute(), model.score_samples(X), rtol=1e-12
    )
    assert model.score(X_dask) == pytest.approx(model.score(X), rel=1e-12)


def test_dask_dataframe_needs_known_chunk_sizes(client, blobs):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")

    X, _ = blobs
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b"]), npartitions=4)
    model = BayesianGMM(n_components=3, coreset_size=500, **TINY)
    with pytest.raises(ValueError, match=r"to_dask_array\(lengths=True\)"):
        model.fit(frame.to_dask_array())
    model.fit(frame.to_dask_array(lengths=True))
    assert model.diagnostics_["coreset"]["n_samples"] == len(X)


def test_dask_fit_names_bad_weights(client, blobs):
    import dask.array as da

    X, _ = blobs
    X_dask = da.from_array(X, chunks=(10_000, 2))
    model = BayesianGMM(n_components=3, coreset_size=500, **TINY)
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        model.fit(X_dask, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X_dask, sample_weight=da.full(len(X), np.nan, chunks=10_000))


def test_selector_on_a_dask_array(client, blobs):
    import dask.array as da

    X, _ = blobs
    X_dask = da.from_array(X, chunks=(10_000, 2))
    selector = BayesianGMMSelector(
        BayesianGMM(coreset_size=800, **TINY), n_components_range=(2, 3)
    ).fit(X_dask)
    assert selector.coreset_["n_samples"] == len(X)
    labels = selector.predict(X_dask)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), selector.predict(X))
