"""The fit-time maximum of the likelihood (skbayesmix._maximum_likelihood); no MCMC."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

from skbayesmix._maximum_likelihood import (
    log_likelihood_at_maximum,
    maximum_likelihood,
    refine_maximum_likelihood,
)
from skbayesmix._posterior import Posterior
from skbayesmix._standardize import Standardization


@pytest.fixture(scope="module")
def blobs_and_mle():
    X, _ = make_blobs(
        n_samples=200, centers=[[-4, 0], [4, 0], [0, 5]], random_state=0
    )
    standardization = Standardization.fit(X, "full")
    X_std = standardization.transform(X)
    gm = GaussianMixture(3, reg_covar=1e-6, random_state=0, tol=1e-8).fit(X_std)
    return X, X_std, standardization, gm


def _posterior_near(gm, standardization, shift):
    """A constant two-chain posterior at the MLE with its means moved by ``shift``."""
    def tile(value):
        return np.broadcast_to(value, (2, 2) + value.shape).copy()

    return Posterior(
        tile(gm.weights_), tile(gm.means_ + shift), tile(gm.covariances_),
        standardization=standardization,
    )


def test_refinement_reaches_the_maximum_likelihood(blobs_and_mle):
    X, X_std, standardization, gm = blobs_and_mle
    posterior = _posterior_near(gm, standardization, shift=0.05)
    refined = refine_maximum_likelihood(X, posterior, reg_covar=1e-6)
    assert refined is not None and refined.weights.shape == (1, 3)
    # EM from the posterior mean climbs back to the maximum.
    mle = gm.score(X_std) * len(X) + len(X) * standardization.log_det
    summaries = posterior.summarize(X)
    assert summaries.total_log_likelihood.max() < mle - 1.0
    found = maximum_likelihood(X, posterior, reg_covar=1e-6, summaries=summaries)
    assert found.refined
    assert_allclose(found.log_likelihood, mle, atol=1e-3)
    assert_allclose(log_likelihood_at_maximum(X, posterior, found), mle, atol=1e-3)


def test_held_out_log_likelihood_is_additive_and_not_refitted(blobs_and_mle):
    X, X_std, standardization, gm = blobs_and_mle
    posterior = _posterior_near(gm, standardization, shift=0.05)
    train, A, B = X[:100], X[100:150], X[150:]
    found = maximum_likelihood(
        train, posterior, reg_covar=1e-6, summaries=posterior.summarize(train)
    )
    at = [log_likelihood_at_maximum(part, posterior, found) for part in (A, B)]
    both = log_likelihood_at_maximum(np.r_[A, B], posterior, found)
    assert_allclose(both, sum(at), rtol=1e-12)
    # A test set is scored at the training maximum, not at its own: its own
    # maximum would fit it better.
    own = maximum_likelihood(
        A, posterior, reg_covar=1e-6, summaries=posterior.summarize(A)
    )
    assert own.log_likelihood > at[0] + 0.1


def test_refinement_towards_a_singularity_is_rejected(blobs_and_mle):
    # A component on three (almost) coincident points: EM collapses its
    # covariance onto them, far below the posterior mean's.
    X, _, _, _ = blobs_and_mle
    X = np.r_[X, [[20.0, 20.0], [20.0 + 1e-4, 20.0], [20.0, 20.0 + 1e-4]]]
    standardization = Standardization.fit(X, "full")
    X_std = standardization.transform(X)
    gm = GaussianMixture(3, random_state=0).fit(X_std[:-3])
    corner = X_std[-1]
    posterior = Posterior(
        np.broadcast_to(np.r_[gm.weights_ * 0.98, 0.02], (2, 2, 4)).copy(),
        np.broadcast_to(np.r_[gm.means_, corner[None]], (2, 2, 4, 2)).copy(),
        np.broadcast_to(
            np.r_[gm.covariances_, 0.01 * np.eye(2)[None]], (2, 2, 4, 2, 2)
        ).copy(),
        standardization=standardization,
    )
    assert refine_maximum_likelihood(X, posterior, reg_covar=1e-6) is None
    # The best draw stands in.
    summaries = posterior.summarize(X)
    found = maximum_likelihood(X, posterior, reg_covar=1e-6, summaries=summaries)
    assert not found.refined
    assert_allclose(found.log_likelihood, summaries.total_log_likelihood.max())
