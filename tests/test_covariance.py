"""Exact tests of the per-covariance-type kernels in skbayesmix._covariance."""

import numpy as np
import pytest
from conftest import random_covariances
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

from skbayesmix._covariance import (
    COVARIANCE_TYPES,
    component_variance_features,
    correlate_noise,
    covariance_from_factors,
    factors_from_clusters,
    factors_from_covariances,
    feature_scale,
    full_matrices,
    has_component_axis,
    inverse,
    min_component_count,
    min_variance,
    n_parameters,
    pad_components,
    precision_cholesky,
    precisions_from_cholesky,
    unit_factor,
    variances,
)

N_COMPONENTS, N_FEATURES = 3, 2


def _covariances(seed, covariance_type, lead=()):
    return random_covariances(
        np.random.RandomState(seed), covariance_type, N_COMPONENTS, N_FEATURES, lead
    )


def _random_factors(rng, covariance_type, n_features=N_FEATURES, lead=()):
    """Scales and correlation Cholesky factors as the model samples them."""
    lead = tuple(lead)
    per_component = lead + (N_COMPONENTS,)
    scale_shape = {
        "full": per_component + (n_features,),
        "tied": lead + (n_features,),
        "diag": per_component + (n_features,),
        "spherical": per_component,
    }[covariance_type]
    scales = rng.uniform(0.5, 2.0, scale_shape)
    if covariance_type not in ("full", "tied") or n_features == 1:
        return scales, None
    A = rng.standard_normal(scale_shape + (n_features,))
    corr = A @ np.swapaxes(A, -1, -2) + np.eye(n_features)
    sd = np.sqrt(np.diagonal(corr, axis1=-2, axis2=-1))
    corr = corr / (sd[..., :, None] * sd[..., None, :])
    return scales, np.linalg.cholesky(corr)


# ------------------------------------------------------------ counts


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_components, n_features", [(1, 1), (3, 2), (4, 5)])
def test_n_parameters_matches_gaussian_mixture(
    covariance_type, n_components, n_features
):
    gm = GaussianMixture(n_components, covariance_type=covariance_type)
    gm.means_ = np.zeros((n_components, n_features))
    assert n_parameters(n_components, n_features, covariance_type) == gm._n_parameters()


def test_min_component_count():
    assert min_component_count(3, "full") == 4
    assert min_component_count(3, "tied") == 1
    assert min_component_count(3, "diag") == 2
    assert min_component_count(3, "spherical") == 2


def test_has_component_axis():
    assert [has_component_axis(t) for t in COVARIANCE_TYPES] == [
        True, False, True, True
    ]


# ------------------------------------------------- precision factors


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precision_cholesky_matches_sklearn(covariance_type):
    covariances = _covariances(0, covariance_type)
    ours = precision_cholesky(covariances, covariance_type)
    theirs = _compute_precision_cholesky(covariances, covariance_type)
    assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    if covariance_type in ("full", "tied"):
        # Upper triangular, and P P^T is the precision matrix.
        assert_allclose(np.tril(ours, -1), 0.0, atol=0)
        assert_allclose(
            ours @ np.swapaxes(ours, -1, -2), np.linalg.inv(covariances), rtol=1e-10
        )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precision_cholesky_batched(covariance_type):
    # Leading draw axes are handled like a loop over draws.
    covariances = _covariances(1, covariance_type, lead=(4,))
    batched = precision_cholesky(covariances, covariance_type)
    for s in range(4):
        assert_allclose(
            batched[s],
            _compute_precision_cholesky(covariances[s], covariance_type),
            rtol=1e-10,
            atol=1e-12,
        )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precision_cholesky_rejects_non_positive(covariance_type):
    covariances = _covariances(2, covariance_type)
    if covariance_type in ("full", "tied"):
        covariances = -covariances
    else:
        covariances[0] = 0.0
    with pytest.raises(ValueError, match="reg_covar"):
        precision_cholesky(covariances, covariance_type)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_from_cholesky_and_inverse_agree(covariance_type):
    covariances = _covariances(3, covariance_type, lead=(2,))
    precisions = precisions_from_cholesky(
        precision_cholesky(covariances, covariance_type), covariance_type
    )
    assert precisions.shape == covariances.shape
    assert_allclose(precisions, inverse(covariances, covariance_type), rtol=1e-10)
    # As matrices, the precisions invert the covariances.
    product = full_matrices(
        precisions, covariance_type, N_COMPONENTS, N_FEATURES
    ) @ full_matrices(covariances, covariance_type, N_COMPONENTS, N_FEATURES)
    assert_allclose(product, np.broadcast_to(np.eye(N_FEATURES), product.shape),
                    atol=1e-10)


# ------------------------------------------------------- matrix views


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_full_matrices_variances_and_min_variance(covariance_type):
    covariances = _covariances(4, covariance_type, lead=(2, 5))
    matrices = full_matrices(covariances, covariance_type, N_COMPONENTS, N_FEATURES)
    assert matrices.shape == (2, 5, N_COMPONENTS, N_FEATURES, N_FEATURES)
    assert_allclose(matrices, np.swapaxes(matrices, -1, -2))
    diagonal = np.diagonal(matrices, axis1=-2, axis2=-1)  # (2, 5, K, D)
    per_feature = variances(covariances, covariance_type)
    smallest = min_variance(covariances, covariance_type)
    eigen_min = np.linalg.eigvalsh(matrices)[..., 0]  # (2, 5, K)
    if covariance_type == "tied":
        # Shared: one matrix, broadcast (not copied) to every component.
        assert matrices.strides[2] == 0
        assert_allclose(per_feature, diagonal[:, :, 0])
        assert_allclose(smallest, eigen_min[:, :, 0])
    elif covariance_type == "spherical":
        assert_allclose(per_feature, covariances)
        assert_allclose(diagonal, np.repeat(covariances[..., None], N_FEATURES, -1))
        assert_allclose(smallest, eigen_min)
    else:
        assert_allclose(per_feature, diagonal)
        assert_allclose(smallest, eigen_min)
    if covariance_type in ("diag", "spherical"):
        off_diagonal = matrices * (1 - np.eye(N_FEATURES))
        assert_array_equal(off_diagonal, 0.0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_component_variance_features(covariance_type):
    covariances = _covariances(5, covariance_type, lead=(4,))
    features = component_variance_features(
        variances(covariances, covariance_type), covariance_type
    )
    if covariance_type == "tied":
        assert features is None
        return
    expected_columns = 1 if covariance_type == "spherical" else N_FEATURES
    assert features.shape == (4, N_COMPONENTS, expected_columns)
    assert_allclose(
        features.min(axis=-1),
        np.min(np.diagonal(full_matrices(
            covariances, covariance_type, N_COMPONENTS, N_FEATURES
        ), axis1=-2, axis2=-1), axis=-1),
    )


# ----------------------------------------------------------- factors


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_features", [1, 3])
def test_covariance_from_factors_formula(covariance_type, n_features):
    rng = np.random.RandomState(6)
    reg = 1e-3
    scales, corr = _random_factors(rng, covariance_type, n_features, lead=(2,))
    covariances = covariance_from_factors(scales, corr, reg, covariance_type)
    if covariance_type in ("diag", "spherical"):
        assert_allclose(covariances, scales**2 + reg)
        return
    S = scales[..., :, None] * np.eye(n_features)
    R = np.ones((1, 1)) if corr is None else corr @ np.swapaxes(corr, -1, -2)
    assert_allclose(covariances, S @ R @ S + reg * np.eye(n_features), rtol=1e-12)
    if covariance_type == "tied":
        # One matrix per component when the model asks for it.
        repeated = covariance_from_factors(
            scales[0], None if corr is None else corr[0], reg, "tied",
            n_components=N_COMPONENTS,
        )
        assert repeated.shape == (N_COMPONENTS, n_features, n_features)
        assert_allclose(repeated, np.broadcast_to(covariances[0], repeated.shape))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_features", [1, 3])
def test_factors_from_covariances_inverts_covariance_from_factors(
    covariance_type, n_features
):
    rng = np.random.RandomState(7)
    scales, corr = _random_factors(rng, covariance_type, n_features)
    covariances = covariance_from_factors(scales, corr, 0.0, covariance_type)
    got_scales, got_corr = factors_from_covariances(
        covariances, covariance_type, min_scale=1e-6, shrinkage=0.0
    )
    assert_allclose(got_scales, scales, rtol=1e-12)
    if corr is None:
        assert got_corr is None
    else:
        assert_allclose(got_corr, corr, atol=1e-12)


def test_factors_from_covariances_floor_and_shrinkage():
    # A nearly singular start stays inside the LKJ support: correlations are
    # shrunk towards the identity, and tiny scales are floored.
    covariances = np.array([[[4.0, 0.0], [0.0, 1e-8]], [[1.0, 0.999], [0.999, 1.0]]])
    scales, corr = factors_from_covariances(
        covariances, "full", min_scale=1e-2, shrinkage=0.05
    )
    assert_allclose(scales, [[2.0, 1e-2], [1.0, 1.0]])
    correlations = corr[1] @ corr[1].T
    assert_allclose(np.diag(correlations), 1.0)
    assert_allclose(correlations[0, 1], 0.95 * 0.999)
    spherical, none = factors_from_covariances(
        np.array([4.0, 1e-9]), "spherical", min_scale=1e-2, shrinkage=0.05
    )
    assert none is None
    assert_allclose(spherical, [2.0, 1e-2])


@pytest.mark.parametrize("n_features", [1, 2])
def test_factors_from_clusters(n_features):
    rng = np.random.RandomState(8)
    per_cluster = rng.uniform(0.5, 2.0, (N_COMPONENTS, n_features))
    pooled = rng.uniform(0.5, 2.0, n_features)
    full = factors_from_clusters(per_cluster, pooled, "full")
    tied = factors_from_clusters(per_cluster, pooled, "tied")
    diag = factors_from_clusters(per_cluster, pooled, "diag")
    spherical = factors_from_clusters(per_cluster, pooled, "spherical")
    assert_array_equal(full[0], per_cluster)
    assert_array_equal(diag[0], per_cluster)
    assert_array_equal(tied[0], pooled)
    assert_allclose(spherical[0], np.sqrt(np.mean(per_cluster**2, axis=1)))
    assert diag[1] is None and spherical[1] is None
    if n_features == 1:
        assert full[1] is None and tied[1] is None
    else:
        assert_array_equal(full[1], np.tile(np.eye(n_features), (N_COMPONENTS, 1, 1)))
        assert_array_equal(tied[1], np.eye(n_features))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_pad_components(covariance_type):
    covariances = _covariances(9, covariance_type)
    data_covariance = np.array([[2.0, 0.5], [0.5, 3.0]])
    padded = pad_components(covariances, 2, data_covariance, covariance_type)
    if covariance_type == "tied":
        assert padded is covariances
        return
    assert padded.shape == (N_COMPONENTS + 2,) + covariances.shape[1:]
    assert_array_equal(padded[:N_COMPONENTS], covariances)
    expected = {
        "full": data_covariance,
        "diag": np.diag(data_covariance),
        "spherical": 2.5,
    }[covariance_type]
    for surplus in padded[N_COMPONENTS:]:
        assert_allclose(surplus, expected)


# ------------------------------------------------------- unit changes


def test_feature_scale_is_common_for_spherical():
    std = np.array([1.0, 2.0, 4.0])
    for covariance_type in ("full", "tied", "diag"):
        assert_array_equal(feature_scale(std, covariance_type), std)
    assert_allclose(feature_scale(std, "spherical"), np.full(3, np.sqrt(7.0)))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_unit_factor_scales_matrices_by_the_feature_scales(covariance_type):
    covariances = _covariances(10, covariance_type, lead=(2,))
    scale = feature_scale(np.array([3.0, 0.5]), covariance_type)
    scaled = covariances * unit_factor(scale, covariance_type)
    assert scaled.shape == covariances.shape
    D = np.diag(scale)
    assert_allclose(
        full_matrices(scaled, covariance_type, N_COMPONENTS, N_FEATURES),
        D @ full_matrices(covariances, covariance_type, N_COMPONENTS, N_FEATURES) @ D,
        rtol=1e-12,
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_correlate_noise_uses_each_rows_component(covariance_type):
    rng = np.random.RandomState(11)
    n_draws, n_rows = 4, 25
    covariances = _covariances(12, covariance_type, lead=(n_draws,))
    draw_index = rng.randint(n_draws, size=n_rows)
    labels = rng.randint(N_COMPONENTS, size=n_rows)
    noise = rng.standard_normal((n_rows, N_FEATURES))
    got = correlate_noise(covariances, draw_index, labels, noise, covariance_type)
    matrices = full_matrices(covariances, covariance_type, N_COMPONENTS, N_FEATURES)
    for i in range(n_rows):
        chol = np.linalg.cholesky(matrices[draw_index[i], labels[i]])
        assert_allclose(got[i], chol @ noise[i], rtol=1e-12, atol=1e-14)


def test_floored_scales_keep_a_unit_correlation_diagonal():
    # A component whose variance is below min_scale**2 (a start on nearly tied
    # values) must still get a valid correlation factor: unit diagonal, so that
    # it lies in the LKJ prior's support, and the floored scale.
    covariance = np.array([[1e-8, 0.0], [0.0, 1.0]])
    scales, corr_cholesky = factors_from_covariances(
        covariance, "tied", min_scale=1e-2, shrinkage=0.05
    )
    assert_allclose(scales, [1e-2, 1.0])
    corr = corr_cholesky @ corr_cholesky.T
    assert_allclose(np.diag(corr), 1.0)
    # A feature without any spread is uncorrelated with the others.
    scales, corr_cholesky = factors_from_covariances(
        np.array([[0.0, 0.0], [0.0, 2.0]]), "tied", min_scale=1e-2, shrinkage=0.05
    )
    assert_allclose(corr_cholesky @ corr_cholesky.T, np.eye(2))
