"""sample_weight: integer weights are repeated rows; errors; metadata routing."""

import numpy as np
import pytest
import sklearn
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbayesmix import BayesianGMM, BayesianGMMSelector
from skbayesmix._criteria import information_criterion
from skbayesmix._settings import (
    CORESET_MAX_SIZE,
    CORESET_MIN_ROWS,
    CORESET_MIN_SIZE,
    coreset_draws,
)
from skbayesmix._weighted_em import on_weighted_rows, weighted_criterion
from tests.conftest import TINY


@pytest.fixture(scope="module")
def weighted_data(three_blobs):
    X, _ = three_blobs
    weights = np.random.RandomState(1).randint(0, 4, size=len(X))
    return X, weights.astype(float), np.repeat(X, weights, axis=0)


@pytest.fixture(scope="module")
def weighted_and_repeated(weighted_data):
    """Default fits, same seed: on weighted rows and on the repeated rows."""
    X, weights, repeated = weighted_data
    weighted = BayesianGMM(n_components=3, random_state=0).fit(
        X, sample_weight=weights
    )
    plain = BayesianGMM(n_components=3, random_state=0).fit(repeated)
    return weighted, plain


def _monte_carlo_se(fit, name):
    samples = fit.posterior_samples_[name]
    sd = samples.reshape(-1, *samples.shape[2:]).std(axis=0)
    return sd / np.sqrt(fit.diagnostics_["ess_bulk"][name])


def test_integer_weights_give_the_posterior_of_repeated_rows(weighted_and_repeated):
    weighted, plain = weighted_and_repeated
    assert weighted.converged_ and plain.converged_
    # Means within Monte Carlo error (4 combined standard errors).
    se = np.hypot(_monte_carlo_se(weighted, "means"), _monte_carlo_se(plain, "means"))
    assert np.all(np.abs(weighted.means_ - plain.means_) <= 4 * se)
    np.testing.assert_allclose(weighted.weights_, plain.weights_, atol=0.01)
    np.testing.assert_allclose(
        weighted.covariances_, plain.covariances_, rtol=0.05, atol=0.02
    )


def test_integer_weights_give_the_scores_of_repeated_rows(
    weighted_data, weighted_and_repeated
):
    X, weights, repeated = weighted_data
    weighted, plain = weighted_and_repeated
    # One fitted model: weighted rows and repeated rows score the same.
    for model in (weighted, plain):
        assert model.score(X, sample_weight=weights) == pytest.approx(
            model.score(repeated), rel=1e-12
        )
        assert model.bic(X, sample_weight=weights) == pytest.approx(
            model.bic(repeated), rel=1e-12
        )
        assert model.aic(X, sample_weight=weights) == pytest.approx(
            model.aic(repeated), rel=1e-12
        )
    # The two fits: BIC's EM maximum is the same (to EM's tolerance, 1e-3 per
    # row of the mean log-likelihood); predictive scores agree to Monte Carlo
    # error.
    assert weighted.bic(X, sample_weight=weights) == pytest.approx(
        plain.bic(repeated), abs=0.05
    )
    assert weighted.score(repeated) == pytest.approx(plain.score(repeated), abs=2e-3)
    waic_weighted, waic_plain = weighted.waic(), plain.waic()
    assert waic_weighted["elpd"] == pytest.approx(waic_plain["elpd"], abs=3.0)
    assert waic_weighted["se"] == pytest.approx(waic_plain["se"], rel=0.02)


def test_weighted_information_criteria_are_those_of_repeated_rows():
    rng = np.random.RandomState(0)
    log_lik = rng.normal(size=(2, 50, 6))
    weights = np.array([1, 0, 2, 3, 1, 2])
    repeated = np.repeat(log_lik, weights, axis=2)
    for method in ("waic", "loo"):
        weighted = information_criterion(log_lik, method, sample_weight=weights)
        plain = information_criterion(repeated, method)
        for key in ("elpd", "se", "p"):
            assert weighted[key] == pytest.approx(plain[key], rel=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_weighted_em_is_em_on_repeated_rows(weighted_data, covariance_type):
    X, weights, repeated = weighted_data
    start = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    params = dict(
        covariance_type=covariance_type, weights_init=start.weights_,
        means_init=start.means_, precisions_init=start.precisions_, tol=1e-10,
        max_iter=500,
    )
    weighted = on_weighted_rows(GaussianMixture(3, **params), weights)
    weighted.fit(X)
    plain = GaussianMixture(3, **params).fit(repeated)
    np.testing.assert_allclose(
        weighted.covariances_, plain.covariances_, rtol=1e-6, atol=1e-12
    )
    np.testing.assert_allclose(weighted.means_, plain.means_, rtol=1e-6)
    np.testing.assert_allclose(weighted.weights_, plain.weights_, rtol=1e-6)
    assert weighted_criterion(weighted, "bic", X, weights) == pytest.approx(
        plain.bic(repeated), rel=1e-9
    )


def test_zero_weights_leave_rows_out(three_blobs):
    X, y = three_blobs
    keep = y != 2
    fitted = BayesianGMM(n_components=2, **TINY).fit(X, sample_weight=keep * 1.0)
    # No component sits on the left-out cluster.
    left_out = X[~keep].mean(axis=0)
    distances = np.linalg.norm(fitted.means_ - left_out, axis=1)
    assert distances.min() > 3.0
    assert fitted.diagnostics_["coreset"] is None


@pytest.mark.parametrize(
    "sample_weight, message",
    [
        (-np.ones(300), "Negative values in data passed to `sample_weight`"),
        (np.r_[np.nan, np.ones(299)], "sample_weight"),
        (np.r_[np.inf, np.ones(299)], "sample_weight"),
        (np.ones(299), "sample_weight"),
        (np.zeros(300), "(?i)sample.weight"),
    ],
    ids=["negative", "nan", "inf", "length", "all-zero"],
)
def test_bad_weights_are_named(three_blobs, sample_weight, message):
    X, _ = three_blobs
    with pytest.raises(ValueError, match=message):
        BayesianGMM(n_components=2, **TINY).fit(X, sample_weight=sample_weight)


def test_bad_weights_are_named_in_scores(three_blobs):
    X, _ = three_blobs
    fitted = BayesianGMM(n_components=2, **TINY).fit(X)
    with pytest.raises(ValueError, match="sample_weight"):
        fitted.score(X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="Negative"):
        fitted.bic(X, sample_weight=-np.ones(len(X)))


def test_weights_pass_through_pipeline_and_grid_search(three_blobs):
    X, y = three_blobs
    weights = (y != 2) * 1.0
    with sklearn.config_context(enable_metadata_routing=True):
        direct = BayesianGMM(n_components=2, **TINY).fit(
            StandardScaler().fit_transform(X), sample_weight=weights
        )
        pipeline = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            BayesianGMM(n_components=2, **TINY).set_fit_request(sample_weight=True),
        ).fit(X, sample_weight=weights)
        np.testing.assert_array_equal(pipeline[-1].means_, direct.means_)

        search = GridSearchCV(
            BayesianGMM(**TINY)
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True),
            {"n_components": [1, 2]},
            cv=2,
        ).fit(X, sample_weight=weights)
        refit = BayesianGMM(
            n_components=search.best_params_["n_components"], **TINY
        ).fit(X, sample_weight=weights)
        np.testing.assert_array_equal(search.best_estimator_.means_, refit.means_)


def test_selector_with_weights_compares_on_the_weighted_rows(weighted_data):
    X, weights, repeated = weighted_data
    # EM from k-means on the rows or on their repeats: up to K=3 both reach
    # the same maximum on these blobs.
    weighted = BayesianGMMSelector(
        GaussianMixture(random_state=0), n_components_range=(1, 2, 3)
    ).fit(X, sample_weight=weights)
    plain = BayesianGMMSelector(
        GaussianMixture(random_state=0), n_components_range=(1, 2, 3)
    ).fit(repeated)
    assert weighted.best_n_components_ == plain.best_n_components_ == 3
    np.testing.assert_allclose(
        weighted.cv_results_["bic"], plain.cv_results_["bic"], rtol=1e-4
    )
    assert weighted.bic(X, sample_weight=weights) == pytest.approx(
        plain.bic(repeated), rel=1e-4
    )
    assert weighted.score(X, sample_weight=weights) == pytest.approx(
        plain.score(repeated), rel=1e-4
    )


def test_coreset_sizes_follow_the_documented_rule():
    assert coreset_draws("auto", CORESET_MIN_ROWS, 8, 2, "full") is None
    assert coreset_draws("auto", CORESET_MIN_ROWS + 1, 8, 2, "full") == (
        CORESET_MIN_SIZE
    )
    # D=10, K=5 'full' has 329 free parameters; D=20, K=10 2,309.
    assert coreset_draws("auto", 10**6, 5, 10, "full") == 329 * 100
    assert coreset_draws("auto", 10**7, 10, 20, "full") == CORESET_MAX_SIZE
    assert coreset_draws(500, 1000, 2, 2, "full") == 500
    assert coreset_draws(5000, 1000, 2, 2, "full") is None
    assert coreset_draws(None, 10**7, 2, 2, "full") is None


def test_unit_weights_are_the_unweighted_fit(three_blobs):
    X, _ = three_blobs
    plain = BayesianGMM(n_components=2, **TINY).fit(X)
    ones = BayesianGMM(n_components=2, **TINY).fit(X, sample_weight=np.ones(len(X)))
    np.testing.assert_array_equal(plain.means_, ones.means_)
    assert plain.bic(X) == ones.bic(X, sample_weight=np.ones(len(X)))


def test_a_large_total_weight_samples_in_float64(three_blobs):
    # 300 rows weighing 10^4 each: a log density of about 10^7 nats, which
    # float32 resolves to about 1; NUTS then ran at its largest trees (1023
    # leapfrog steps per draw) and never converged.
    X, _ = three_blobs
    model = BayesianGMM(n_components=3, random_state=0).fit(
        X, sample_weight=np.full(len(X), 1e4)
    )
    assert model.converged_
    assert model.diagnostics_["mean_tree_size"] < 50
    assert model.posterior_samples_["means"].dtype == np.float64
