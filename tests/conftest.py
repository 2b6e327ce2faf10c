"""Shared cheap sampler settings for the test suite."""

import numpy as np
import pytest

# The one place that holds the cheap settings tests use. Structural tests only need
# a posterior-shaped result, not a converged one.
FAST = dict(num_warmup=30, num_samples=30, num_chains=2, random_state=0)


@pytest.fixture
def fast_params():
    return dict(FAST)


@pytest.fixture(scope="session")
def reference_blobs():
    """The reference seed's data: 500 points from 8 blobs."""
    from sklearn.datasets import make_blobs

    return make_blobs(
        n_samples=500, centers=8, cluster_std=0.8, center_box=(-10, 10),
        random_state=101,
    )


@pytest.fixture(scope="session")
def three_blobs():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=300, centers=3, cluster_std=1.0, random_state=0)
    return np.asarray(X), y
