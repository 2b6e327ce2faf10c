"""GaussianMixture user code, run with the class swapped for BayesianGMM.

Every constructor argument of scikit-learn's GaussianMixture is accepted with a
meaning (the start's algorithm, the start itself, the chains' continuation);
Pipeline, GridSearchCV and pandas work as with GaussianMixture.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbayesmix import BayesianGMM, BayesianGMMSelector, bic_score
from tests.conftest import TINY

# Tiny sampler settings do not converge; the warnings are tested elsewhere.
pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=120, centers=3, cluster_std=0.7, random_state=3)
    return X, y


@pytest.fixture(scope="module")
def frame(blobs):
    X, _ = blobs
    return pd.DataFrame(X, columns=["length", "width"])


def _gaussian_mixture_grid(X):
    """GaussianMixture configurations as users write them: every argument set."""
    grid = []
    for index, covariance_type in enumerate(COVARIANCE_TYPES):
        init_params = ("kmeans", "k-means++", "random", "random_from_data")[index]
        grid.append(dict(
            n_components=3, covariance_type=covariance_type, tol=1e-4,
            reg_covar=1e-5, max_iter=200, n_init=2, init_params=init_params,
            random_state=0, warm_start=False, verbose=0, verbose_interval=5,
        ))
        # A fitted GaussianMixture's parameters as the start.
        fitted = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
        fitted.fit(X)
        grid.append(dict(
            n_components=3, covariance_type=covariance_type,
            weights_init=fitted.weights_, means_init=fitted.means_,
            precisions_init=fitted.precisions_, random_state=0,
        ))
    return grid


def test_gaussian_mixture_parameter_grid_runs_unchanged(blobs):
    X, _ = blobs
    for params in _gaussian_mixture_grid(X):
        gm_params = GaussianMixture(**params).get_params()
        sampler = {name: TINY[name] for name in TINY if name != "random_state"}
        gmm = BayesianGMM(**gm_params, **sampler)
        assert set(gm_params) <= set(gmm.get_params())
        labels = gmm.fit(X).predict(X)
        assert labels.shape == (len(X),)
        assert gmm.means_.shape == (3, 2)
        assert np.isfinite(gmm.score(X))


def test_means_init_centres_the_start_and_the_priors(blobs):
    X, _ = blobs
    means = GaussianMixture(3, random_state=0).fit(X).means_
    # Listed in the opposite order: the fit's components follow means_init.
    gmm = BayesianGMM(3, means_init=means[::-1], **TINY).fit(X)
    assert np.abs(gmm.means_ - means[::-1]).max() < 0.5


def test_zero_starting_weight_stays_inside_the_simplex(blobs):
    X, _ = blobs
    # A zero weight, taken as is, is minus infinity for the sampler: every
    # transition diverged.
    gmm = BayesianGMM(
        3, weights_init=[0.5, 0.5, 0.0],
        **{**TINY, "num_warmup": 50, "num_samples": 50},
    ).fit(X)
    assert gmm.diagnostics_["divergences"] == 0
    assert np.all(gmm.weights_ > 0.1)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(weights_init=[0.5, 0.5]), "weights_init"),
        (dict(weights_init=[0.2, 0.2, 0.2]), "normalized"),
        (dict(means_init=np.zeros((2, 2))), "means_init"),
        (dict(precisions_init=-np.ones((3, 2, 2))), "positive-definite"),
        (dict(covariance_type="diag", precisions_init=np.ones((3, 3))), "shape"),
        (dict(n_init=0), "n_init"),
        (dict(init_params="kmeans++"), "init_params"),
    ],
)
def test_bad_initial_parameters_are_named(blobs, params, message):
    X, _ = blobs
    with pytest.raises(ValueError, match=message):
        BayesianGMM(3, **params, **TINY).fit(X)


def test_warm_start_continues_the_chains(blobs):
    X, _ = blobs
    gmm = BayesianGMM(3, warm_start=True, **TINY).fit(X)
    first_iterations = gmm.n_iter_
    first_draws = gmm.posterior_samples_["means"].copy()
    # A pickled fit continues the same way.
    copy = pickle.loads(pickle.dumps(gmm))
    gmm.fit(X)
    copy.fit(X)
    assert gmm.n_iter_ == first_iterations + TINY["num_samples"]
    assert gmm.diagnostics_["num_iterations"] == 2 * TINY["num_samples"]
    # No second warm-up: the kept draws (the last half) are the new round's.
    assert not np.array_equal(gmm.posterior_samples_["means"], first_draws)
    np.testing.assert_array_equal(
        gmm.posterior_samples_["means"], copy.posterior_samples_["means"]
    )
    # max_num_samples may change between a fit and its continuation.
    gmm.set_params(max_num_samples=2 * TINY["num_samples"]).fit(X)
    assert gmm.n_iter_ >= first_iterations + 2 * TINY["num_samples"]
    # Other parameters start afresh, as do fits without warm_start (which
    # keep no chains).
    gmm.set_params(target_accept_prob=0.9).fit(X)
    assert gmm.diagnostics_["num_iterations"] <= gmm.max_num_samples
    assert "_chains" not in vars(BayesianGMM(3, **TINY).fit(X))


def test_warm_start_on_other_data_starts_from_the_last_fit(blobs):
    X, _ = blobs
    gmm = BayesianGMM(3, warm_start=True, **TINY).fit(X)
    previous_means = gmm.means_.copy()
    gmm.fit(X[::-1][:100])
    # A new run (warm-up again), labelled like the last fit.
    assert gmm.n_iter_ == TINY["num_warmup"] + TINY["num_samples"]
    assert np.abs(gmm.means_ - previous_means).max() < 1.0


def test_pipeline_and_grid_search_with_the_class_swapped(blobs):
    X, _ = blobs
    for estimator in (GaussianMixture(random_state=0), BayesianGMM(**TINY)):
        pipeline = make_pipeline(StandardScaler(), estimator)
        search = GridSearchCV(
            pipeline,
            {f"{type(estimator).__name__.lower()}__n_components": [2, 3]},
            cv=2,
            scoring=bic_score,
        )
        search.fit(X)
        assert search.best_estimator_.predict(X).shape == (len(X),)
        assert search.best_params_ in (
            {f"{type(estimator).__name__.lower()}__n_components": k} for k in (2, 3)
        )


def test_pandas_in_and_out_keep_feature_names(frame):
    gmm = BayesianGMM(3, **TINY).fit(frame)
    np.testing.assert_array_equal(gmm.feature_names_in_, frame.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        gmm.predict(frame)
        gmm.predict_proba(frame)
        gmm.score_samples(frame)
    with pytest.warns(UserWarning, match="feature names"):
        gmm.predict(frame.to_numpy())


def test_selector_estimators_keep_feature_names(frame):
    selector = BayesianGMMSelector(
        BayesianGMM(**TINY), n_components_range=(2, 3)
    ).fit(frame)
    np.testing.assert_array_equal(
        selector.best_estimator_.feature_names_in_, frame.columns
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        selector.best_estimator_.predict(frame)
        selector.predict(frame)
        selector.score(frame)


@pytest.mark.parametrize(
    "covariance_type, dims",
    [
        ("full", ("component", "feature_i", "feature_j")),
        ("diag", ("component", "feature")),
    ],
)
def test_inference_data_has_components_and_named_features(
    frame, covariance_type, dims
):
    gmm = BayesianGMM(3, covariance_type=covariance_type, **TINY).fit(frame)
    posterior = gmm.to_inference_data().posterior
    assert posterior["weights"].dims[2:] == ("component",)
    assert posterior["means"].dims[2:] == ("component", "feature")
    assert posterior["covariances"].dims[2:] == dims
    assert list(posterior["feature"].values) == ["length", "width"]
    np.testing.assert_allclose(
        posterior["means"].sel(feature="width").mean(("chain", "draw")),
        gmm.means_[:, 1],
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_every_gaussian_mixture_attribute_with_its_shape(blobs, covariance_type):
    X, _ = blobs
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    gmm = BayesianGMM(
        3, covariance_type=covariance_type,
        **{**TINY, "max_num_samples": 3 * TINY["num_samples"]},
    ).fit(X)
    fitted = [name for name in vars(gm) if name.endswith("_") and name[0] != "_"]
    for name in fitted:
        # lower_bounds_: one per EM iteration there, one per round of draws here.
        if name != "lower_bounds_":
            assert np.shape(getattr(gmm, name)) == np.shape(getattr(gm, name)), name
    # Tiny chains do not converge: they ran every round of the budget.
    assert len(gmm.lower_bounds_) == 3
    assert gmm.lower_bounds_[-1] == gmm.lower_bound_
