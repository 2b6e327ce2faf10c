"""Shared cheap sampler settings and data sets for the test suite."""

import os

import numpy as np
import pytest

from skbayesmix._reference import FAST_SETTINGS, TINY_SETTINGS
from skbayesmix._reference import reference_blobs as _reference_blobs

# The cheap settings tests use, from the package's one copy (shared with the
# benchmarks, examples and the command line). Structural tests only need a
# posterior-shaped result, not a converged one. Test modules import this name.
FAST = dict(FAST_SETTINGS)
# Cheaper settings for API and plumbing checks (shapes, equality between fits).
TINY = dict(TINY_SETTINGS)


@pytest.fixture(scope="session", autouse=True)
def compiled_program_cache(tmp_path_factory):
    """One on-disk cache of compiled samplers for the run, shared by xdist workers.

    The suite never writes to the user's cache directory; a cache directory
    the caller set in ``SKBAYESMIX_CACHE_DIR`` is kept.
    """
    if "SKBAYESMIX_CACHE_DIR" in os.environ:
        yield os.environ["SKBAYESMIX_CACHE_DIR"]
        return
    base = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:  # base is <run>/popen-gwN
        base = base.parent
    path = str(base / "skbayesmix-compiled")
    os.environ["SKBAYESMIX_CACHE_DIR"] = path
    yield path
    del os.environ["SKBAYESMIX_CACHE_DIR"]


@pytest.fixture
def fast_params():
    return dict(FAST)


@pytest.fixture(scope="session")
def reference_blobs():
    """The reference seed's data: 500 points from 8 blobs, and their labels."""
    return _reference_blobs()


@pytest.fixture(scope="session")
def three_blobs():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=300, centers=3, cluster_std=1.0, random_state=0)
    return np.asarray(X), y


def random_covariances(rng, covariance_type, n_components, n_features, lead=()):
    """Random positive definite covariances in scikit-learn's shape.

    ``lead`` are leading batch axes, e.g. ``(n_draws,)`` or ``(n_chains, n_draws)``.
    """
    lead = tuple(lead)
    if covariance_type in ("full", "tied"):
        shape = lead + ((n_components,) if covariance_type == "full" else ())
        A = rng.standard_normal(shape + (n_features, n_features))
        return A @ np.swapaxes(A, -1, -2) + 0.5 * np.eye(n_features)
    if covariance_type == "diag":
        return rng.uniform(0.3, 2.0, lead + (n_components, n_features))
    return rng.uniform(0.3, 2.0, lead + (n_components,))


def model_hyper(centers, weight_concentration=0.5, covariance_type="full"):
    """The prior hyper-parameters the estimator's defaults pass to the model.

    Every component is real (none padded).
    """
    from skbayesmix._covariance import typed_covariance

    n_features = centers.shape[1]
    return {
        "component_mask": np.ones(len(centers)),
        "weight_concentration": weight_concentration,
        "mean_prior_loc": centers,
        "mean_prior_scale": 1.0,
        "component_root": np.eye(n_features),
        "component_root_inverse": np.eye(n_features),
        "bartlett_prior": np.sqrt(0.3) * np.eye(n_features),
        "degrees_of_freedom": n_features + 2.0,
        "covariance_prior_scale": typed_covariance(
            0.3 * np.eye(n_features), covariance_type
        ),
        "scale_prior": 1.0,
        "lkj_concentration": 2.0,
        "reg_covar": 1e-6,
    }


def kmeans_problem(n_samples, n_components=2, covariance_type="full", seed=0):
    """Standardised blobs, their k-means centres, the start's values and the rng."""
    from sklearn.datasets import make_blobs

    from skbayesmix._initialization import initial_values, kmeans_start

    X, _ = make_blobs(n_samples=n_samples, centers=n_components, random_state=seed)
    X = (X - X.mean(0)) / X.std(0)
    rng = np.random.RandomState(seed)
    centers, labels = kmeans_start(X, n_components, random_state=rng)
    start = initial_values(X, centers, labels, covariance_type=covariance_type)
    return X, centers, start, rng
