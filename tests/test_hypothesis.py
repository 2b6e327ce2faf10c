"""Property-based robustness tests: any input fits cleanly or fails clearly.

Every generated case either fits, with finite fitted attributes, finite posterior
draws and finite predictions (``ConvergenceWarning`` is allowed: the chains are
deliberately short), or raises a ``ValueError`` whose traceback does not come from
JAX. No case may return NaN or emit a ``RuntimeWarning``.

Input classes covered (generated, plus the explicit ``@example`` cases):

- n_samples from 1 to a few hundred: 1 (rejected, ``ensure_min_samples=2``),
  fewer rows than components (rejected), exactly as many rows as components,
  2 to 16 rows, and 257 to 320 rows;
- n_features from 1 to 8 and n_components from 1 to 6, drawn from a small set of
  shapes so that few samplers are compiled (see ``SHAPES``), with every covariance
  type;
- values scaled by 1e-6 to 1e6, one scale for all features or a different scale per
  feature, with offsets 0, 1 and 1e6 (1e6 + 1e-6 noise collapses in float32);
- data patterns: Gaussian noise, well-separated clusters, duplicated rows (down to
  a single distinct row, i.e. fewer distinct points than components), a constant
  feature, all features constant, integer-valued data;
- float32 and float64 input (attributes and outputs keep float32, as
  ``GaussianMixture`` does);
- ``standardize=True`` (default) and ``standardize=False`` with priors in data units.

Compilation dominates the cost: each (n_components, n_features, covariance_type,
padded n_samples) compiles a sampler, so the shapes come from ``SHAPES`` and the
test checks that no more than ``len(SHAPES)`` samplers were compiled.
"""

import traceback
import warnings

import numpy as np
import pytest
from conftest import TINY
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from skbayesmix import BayesianGMM
from skbayesmix._program_cache import compilation_stats

# (n_components, n_features, covariance_type, n_samples range). The ranges stay in
# one padding bucket each (16 rows, or 384 rows for the large case); a single row
# is an explicit example.
SHAPES = (
    (1, 1, "spherical", (2, 16)),
    (2, 3, "diag", (2, 16)),
    (3, 2, "full", (2, 16)),
    (6, 8, "tied", (2, 16)),
    (2, 2, "full", (257, 320)),
)
# Every example is a fit, and only crash-freeness and finite, well-shaped
# outputs are checked: conftest.TINY, with the seed set per example.
SAMPLER = {name: value for name, value in TINY.items() if name != "random_state"}
SCALES = (1e-6, 1e-3, 1.0, 1e3, 1e6)
PATTERNS = (
    "gaussian",
    "clusters",
    "duplicates",
    "constant_feature",
    "all_constant",
    "integers",
)


@st.composite
def cases(draw):
    shape = draw(st.sampled_from(range(len(SHAPES))))
    low, high = SHAPES[shape][3]
    n_features = SHAPES[shape][1]
    per_feature = draw(st.booleans())
    if per_feature:
        scale = draw(
            st.lists(st.sampled_from(SCALES), min_size=n_features, max_size=n_features)
        )
    else:
        scale = draw(st.sampled_from(SCALES))
    return dict(
        shape=shape,
        n_samples=draw(st.integers(low, high)),
        pattern=draw(st.sampled_from(PATTERNS)),
        n_distinct=draw(st.integers(1, 8)),
        scale=scale,
        offset=draw(st.sampled_from((0.0, 1.0, 1e6))),
        dtype=draw(st.sampled_from(("float32", "float64"))),
        standardize=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


def make_data(case):
    """The data set a case describes."""
    n_components, n_features = SHAPES[case["shape"]][:2]
    n = case["n_samples"]
    rng = np.random.RandomState(case["seed"])
    X = rng.standard_normal((n, n_features))
    pattern = case["pattern"]
    if pattern == "clusters":
        centers = 10.0 * rng.standard_normal((n_components, n_features))
        X = 0.5 * X + centers[np.arange(n) % n_components]
    elif pattern == "duplicates":
        X = X[rng.randint(min(case["n_distinct"], n), size=n)]
    elif pattern == "constant_feature":
        X[:, rng.randint(n_features)] = 3.0
    elif pattern == "all_constant":
        X[:] = 3.0
    elif pattern == "integers":
        X = np.round(3.0 * X)
    X = X * np.asarray(case["scale"]) + case["offset"]
    return X.astype(case["dtype"])


def _assert_not_from_jax(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    files = [frame.filename for frame in frames]
    assert not any(
        "/jax/" in f or "/jaxlib/" in f or "/numpyro/" in f for f in files
    ), (
        "ValueError raised inside JAX/NumPyro",
        files,
    )


def _all_finite(*arrays):
    return all(np.all(np.isfinite(np.asarray(a, dtype=float))) for a in arrays)


_COMPILATIONS = {}


def _case(**overrides):
    """An explicit case: 16 Gaussian float64 rows of the first shape, unless told."""
    case = dict(
        shape=0,
        n_samples=16,
        pattern="gaussian",
        n_distinct=1,
        scale=1.0,
        offset=0.0,
        dtype="float64",
        standardize=True,
        seed=0,
    )
    return {**case, **overrides}


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
# Known risks, checked whatever hypothesis generates:
# a single row (ensure_min_samples=2) and fewer rows than components.
@example(case=_case(n_samples=1))
@example(case=_case(shape=3, n_samples=5))
# N == K with K=6, D=8; and float32 at 1e6 scale.
@example(case=_case(shape=3, n_samples=6, scale=1e6, dtype="float32", seed=1))
# Fewer distinct points than components; all-constant data.
@example(case=_case(shape=2, n_samples=12, pattern="duplicates", n_distinct=2, seed=2))
@example(case=_case(shape=2, n_samples=10, pattern="all_constant", dtype="float32"))
# Tiny noise on a huge offset, and features twelve orders of magnitude apart.
@example(case=_case(shape=1, scale=1e-6, offset=1e6, seed=4))
@example(
    case=_case(
        shape=4, n_samples=300, pattern="clusters", scale=[1e-6, 1e6], dtype="float32"
    )
)
# A constant feature with priors in data units.
@example(
    case=_case(
        shape=2, pattern="constant_feature", scale=1e3, offset=1.0, standardize=False
    )
)
def test_fits_cleanly_or_fails_clearly(case):
    n_components, _, covariance_type, _ = SHAPES[case["shape"]]
    X = make_data(case)
    gmm = BayesianGMM(
        n_components,
        covariance_type=covariance_type,
        standardize=case["standardize"],
        random_state=case["seed"],
        **SAMPLER,
    )
    before = compilation_stats()["compilations"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gmm.fit(X)
        except ValueError as exc:
            _assert_not_from_jax(exc)
            # Only invalid shapes may be rejected.
            assert len(X) < max(2, n_components), str(exc)
            assert "n_samples" in str(exc) or "sample(s)" in str(exc), str(exc)
            return
        proba = gmm.predict_proba(X)
        log_density = gmm.score_samples(X)
        labels = gmm.predict(X)
        X_new, y_new = gmm.sample(5)
        bic = gmm.bic(X)
    key = (case["shape"], gmm.covariance_type)
    _COMPILATIONS[key] = _COMPILATIONS.get(key, 0) + (
        compilation_stats()["compilations"] - before
    )

    # Poor inference may warn, but never with a numerical RuntimeWarning.
    categories = {w.category for w in caught}
    assert categories <= {ConvergenceWarning}, [str(w.message) for w in caught]
    assert len(X) >= max(2, n_components)

    attributes = (
        gmm.weights_,
        gmm.means_,
        gmm.covariances_,
        gmm.precisions_,
        gmm.precisions_cholesky_,
    )
    assert _all_finite(*attributes, gmm.lower_bound_, bic)
    assert _all_finite(*gmm.posterior_samples_.values())
    for attribute in attributes:
        assert attribute.dtype == X.dtype
    assert proba.dtype == X.dtype and log_density.dtype == X.dtype
    assert _all_finite(proba, log_density, X_new)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-5)
    assert np.all((labels >= 0) & (labels < n_components))
    assert X_new.shape == (5, X.shape[1]) and y_new.shape == (5,)
    np.testing.assert_allclose(gmm.weights_.sum(), 1.0, rtol=1e-5)


def test_compilations_stay_within_the_shape_set():
    # Runs after the property test when both land on the same worker; each shape
    # class compiles at most one sampler.
    if not _COMPILATIONS:
        pytest.skip("the property test ran in another process")
    per_shape = {}
    for (shape, _), count in _COMPILATIONS.items():
        per_shape[shape] = per_shape.get(shape, 0) + count
    assert all(count <= 1 for count in per_shape.values()), per_shape
    stats = compilation_stats()
    print(
        f"compilations per shape class: {per_shape}; this process: "
        f"{stats['compilations']} compilations, {stats['compile_time']:.0f} s "
        f"compiling, {stats['fits']} fits"
    )
