"""The reference tutorial's data and the cheap sampler settings, in one place.

Tests, benchmarks, examples and the command line's demo all use these, so that a
change of the reference data or of the cheap settings happens once.
"""

# Sampler settings for structural checks: a posterior-shaped result in seconds,
# not a converged one (so one round of sampling, never continued).
FAST_SETTINGS = dict(
    num_warmup=30, num_samples=30, max_num_samples=None, num_chains=2, random_state=0
)

# Cheaper still, for API and plumbing checks that fit many times and only look
# at shapes, types and equality between fits (estimator checks, threads,
# processes, property-based inputs).
TINY_SETTINGS = dict(
    num_warmup=10, num_samples=10, max_num_samples=None, num_chains=2, random_state=0
)

# The reference tutorial's data set (seed bi-gmm-numpyro.md): 500 points from 8
# Gaussian blobs.
REFERENCE_BLOBS = dict(
    n_samples=500, centers=8, cluster_std=0.8, center_box=(-10, 10), random_state=101
)
REFERENCE_BLOBS_DESCRIPTION = (
    "make_blobs(500, centers=8, cluster_std=0.8, center_box=(-10, 10), "
    "random_state=101)"
)


def reference_blobs(*, return_centers=False):
    """Make the reference data: ``make_blobs`` with :data:`REFERENCE_BLOBS`.

    Returns
    -------
    X : ndarray of shape (500, 2)
    y : ndarray of shape (500,)
    centers : ndarray of shape (8, 2)
        Only with ``return_centers=True``.
    """
    from sklearn.datasets import make_blobs

    return make_blobs(**REFERENCE_BLOBS, return_centers=return_centers)
