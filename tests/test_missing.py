"""Missing values (NaN): fitted, predicted, scored and imputed exactly."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.utils import get_tags

from skbayesmix import BayesianGMM, BayesianGMMSelector
from tests.conftest import FAST, TINY


def _remove(X, fraction, seed):
    """X with ``fraction`` of its entries set to NaN at random (never a whole row)."""
    rng = np.random.RandomState(seed)
    missing = rng.uniform(size=X.shape) < fraction
    missing[missing.all(axis=1), 0] = False
    X_missing = X.copy()
    X_missing[missing] = np.nan
    return X_missing, missing


@pytest.fixture(scope="module")
def blobs_with_holes(reference_blobs):
    X, y = reference_blobs
    X_missing, missing = _remove(X, 0.2, seed=0)
    return X, y, X_missing, missing


@pytest.fixture(scope="module")
def fit_with_holes(blobs_with_holes):
    _, _, X_missing, _ = blobs_with_holes
    return BayesianGMM(n_components=8, random_state=0).fit(X_missing)


def test_reference_blobs_with_a_fifth_of_the_entries_missing(
    blobs_with_holes, fit_with_holes
):
    X, y, X_missing, missing = blobs_with_holes
    model = fit_with_holes
    # The clustering fitted with the holes, on the complete rows (0.964 for a
    # fit on complete data).
    assert adjusted_rand_score(y, model.predict(X)) >= 0.9
    # The rows with a hole are labelled from their observed coordinate only:
    # as well as the true mixture labels them (an ARI of 0.75 here), no better.
    truth = GaussianMixture(8, n_init=5, random_state=0).fit(X)
    oracle = [
        np.argmax([
            np.log(truth.weights_[k]) + multivariate_normal(
                truth.means_[k][~hole], truth.covariances_[k][np.ix_(~hole, ~hole)]
            ).logpdf(x[~hole])
            for k in range(8)
        ])
        for x, hole in zip(X, missing)
    ]
    assert adjusted_rand_score(y, model.predict(X_missing)) >= (
        adjusted_rand_score(y, oracle) - 0.03
    )

    # 90% intervals from multiple imputation cover 85-95% of the removed values.
    draws = model.impute(X_missing, n_draws=1000)
    low, high = np.quantile(draws, [0.05, 0.95], axis=0)
    covered = (low[missing] <= X[missing]) & (X[missing] <= high[missing])
    assert 0.85 <= covered.mean() <= 0.95

    # The posterior mean is no worse than IterativeImputer's.
    rmse = np.sqrt(np.mean((model.impute(X_missing)[missing] - X[missing]) ** 2))
    iterative = IterativeImputer(random_state=0).fit_transform(X_missing)
    rmse_iterative = np.sqrt(np.mean((iterative[missing] - X[missing]) ** 2))
    assert rmse <= rmse_iterative


def test_score_samples_is_the_exact_marginal_density(
    blobs_with_holes, fit_with_holes
):
    _, _, X_missing, _ = blobs_with_holes
    model = fit_with_holes
    rows = X_missing[:40]
    samples = model.posterior_samples_
    # Chains in different modes are combined with stacking weights.
    n_chains, n_draws = samples["weights"].shape[:2]
    chain_weights = np.asarray(model.diagnostics_["chain_weights"])
    log_draw_weights = np.log(np.repeat(chain_weights / n_draws, n_draws))
    weights = samples["weights"].reshape(-1, 8)
    means = samples["means"].reshape(-1, 8, 2)
    covariances = samples["covariances"].reshape(-1, 8, 2, 2)
    expected = []
    for x in rows:
        observed = ~np.isnan(x)
        log_terms = np.log(weights) + np.array([
            [
                multivariate_normal(
                    means[s, k, observed], covariances[s, k][np.ix_(observed, observed)]
                ).logpdf(x[observed])
                for k in range(8)
            ]
            for s in range(len(weights))
        ])
        expected.append(logsumexp(log_terms + log_draw_weights[:, None]))
    np.testing.assert_allclose(model.score_samples(rows), expected, atol=1e-6, rtol=0)


def test_impute_keeps_observed_entries_and_shapes(blobs_with_holes, fit_with_holes):
    _, _, X_missing, missing = blobs_with_holes
    model = fit_with_holes
    filled = model.impute(X_missing)
    assert filled.shape == X_missing.shape and not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~missing], X_missing[~missing])
    draws = model.impute(X_missing[:5], n_draws=3)
    assert draws.shape == (3, 5, 2)
    with pytest.raises(ValueError, match="n_draws"):
        model.impute(X_missing, n_draws=0)


@pytest.fixture(scope="module")
def separated_blobs():
    """Three blobs that every single coordinate tells apart."""
    from sklearn.datasets import make_blobs

    return make_blobs(
        n_samples=300, centers=[[-6, -6], [0, 6], [6, 0]], random_state=0
    )


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_every_covariance_type_fits_and_predicts_with_nan(
    separated_blobs, covariance_type
):
    X, y = separated_blobs
    X_missing, _ = _remove(X, 0.2, seed=1)
    model = BayesianGMM(n_components=3, covariance_type=covariance_type, **FAST)
    assert adjusted_rand_score(y, model.fit_predict(X_missing)) > 0.95
    assert np.all(np.isfinite(model.score_samples(X_missing)))
    proba = model.predict_proba(X_missing)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.isfinite(model.bic(X_missing)) and np.isfinite(model.aic(X_missing))
    assert np.isfinite(model.waic()["elpd"])


def test_a_row_with_nothing_observed(three_blobs):
    X, _ = three_blobs
    X_bad = X.copy()
    X_bad[[4, 17]] = np.nan
    model = BayesianGMM(n_components=3, **TINY)
    with pytest.raises(ValueError, match=r"2 row\(s\) with no observed value.*4, 17"):
        model.fit(X_bad)
    model.fit(X)
    # Nothing observed: the posterior mean weights.
    proba = model.predict_proba(np.full((1, 2), np.nan))
    np.testing.assert_allclose(
        proba[0], model.posterior_samples_["weights"].mean(axis=(0, 1)), rtol=1e-10
    )
    assert model.score_samples(np.full((1, 2), np.nan))[0] == pytest.approx(0.0)


def test_infinity_and_never_observed_features_are_rejected(three_blobs):
    X, _ = three_blobs
    model = BayesianGMM(n_components=3, **TINY)
    X_inf = X.copy()
    X_inf[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.fit(X_inf)
    X_column = np.column_stack([X, np.full(len(X), np.nan)])
    with pytest.raises(ValueError, match="Feature.*2.*no observed value"):
        model.fit(X_column)


def test_tags_and_selector_allow_nan(three_blobs):
    X, _ = three_blobs
    X_missing, _ = _remove(X, 0.1, seed=2)
    assert get_tags(BayesianGMM()).input_tags.allow_nan
    selector = BayesianGMMSelector(
        BayesianGMM(**TINY), n_components_range=(2, 3)
    ).fit(X_missing)
    assert get_tags(selector).input_tags.allow_nan
    assert selector.predict(X_missing).shape == (len(X),)
