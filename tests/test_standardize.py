"""Exact tests of the one map between data units and standardised units."""

import numpy as np
import pytest
from conftest import random_covariances
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal

from skbayesmix._covariance import COVARIANCE_TYPES, full_matrices
from skbayesmix._standardize import Standardization

N_COMPONENTS, N_FEATURES = 3, 2


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.standard_normal((50, N_FEATURES)) * [1000.0, 0.01] + [5.0, -2.0]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_fit_centres_and_scales_per_feature(data, covariance_type):
    standardization = Standardization.fit(data, covariance_type)
    assert_allclose(standardization.center, data.mean(axis=0))
    assert_allclose(standardization.scale, data.std(axis=0))
    assert standardization.covariance_type == covariance_type
    X_std = standardization.transform(data)
    assert_allclose(X_std.mean(axis=0), 0.0, atol=1e-12)
    assert_allclose(X_std.std(axis=0), 1.0)


def test_spherical_uses_one_common_scale(data):
    standardization = Standardization.fit(data, "spherical")
    common = np.sqrt(np.mean(data.var(axis=0)))
    assert_allclose(standardization.scale, np.full(N_FEATURES, common))
    # Isotropic components stay isotropic: one factor for every feature.
    assert np.ndim(standardization.covariances_to_data(np.ones(N_COMPONENTS))) == 1
    assert_allclose(
        standardization.covariances_to_data(np.ones(N_COMPONENTS)), common**2
    )


def test_identity_without_standardize_and_unit_scale_for_constant_features(data):
    identity = Standardization.fit(data, "full", standardize=False)
    assert_array_equal(identity.center, 0.0)
    assert_array_equal(identity.scale, 1.0)
    assert_array_equal(identity.transform(data), data)
    assert identity.log_det == 0.0
    constant = np.c_[data[:, 0], np.full(len(data), 3.0)]
    standardization = Standardization.fit(constant, "diag")
    assert standardization.scale[1] == 1.0
    assert_array_equal(standardization.transform(constant)[:, 1], 0.0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_transform_round_trip(data, covariance_type):
    standardization = Standardization.fit(data, covariance_type)
    assert_allclose(
        standardization.inverse_transform(standardization.transform(data)), data,
        rtol=1e-12,
    )
    # Means with leading (chain, draw, component) axes map the same way.
    means = np.random.RandomState(1).standard_normal((2, 4, N_COMPONENTS, N_FEATURES))
    assert_allclose(
        standardization.transform(standardization.inverse_transform(means)), means,
        rtol=1e-12, atol=1e-12,
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_covariances_round_trip_and_match_the_affine_map(data, covariance_type):
    standardization = Standardization.fit(data, covariance_type)
    covariances = random_covariances(
        np.random.RandomState(2), covariance_type, N_COMPONENTS, N_FEATURES, (2, 4)
    )
    in_data = standardization.covariances_to_data(covariances)
    assert in_data.shape == covariances.shape
    assert_allclose(standardization.covariances_to_std(in_data), covariances,
                    rtol=1e-12)
    # x = scale * z + center: Cov(x) = diag(scale) Cov(z) diag(scale).
    D = np.diag(standardization.scale)
    assert_allclose(
        full_matrices(in_data, covariance_type, N_COMPONENTS, N_FEATURES),
        D @ full_matrices(covariances, covariance_type, N_COMPONENTS, N_FEATURES) @ D,
        rtol=1e-12,
    )


def test_empirical_covariance_follows_the_map(data):
    standardization = Standardization.fit(data, "tied")
    X_std = standardization.transform(data)
    assert_allclose(
        standardization.covariances_to_data(np.cov(X_std, rowvar=False)),
        np.cov(data, rowvar=False),
        rtol=1e-10,
    )


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_log_det_is_the_change_of_variables(covariance_type):
    # Milder scales than ``data``: scipy calls a 1e10 condition number singular.
    data = np.random.RandomState(3).standard_normal((50, 2)) * [10.0, 0.1] + 5.0
    standardization = Standardization.fit(data, covariance_type)
    assert_allclose(standardization.log_det, -np.sum(np.log(standardization.scale)))
    mean_std, cov_std = np.array([0.3, -0.2]), np.array([[1.0, 0.3], [0.3, 0.5]])
    density_std = multivariate_normal(mean_std, cov_std)
    density_data = multivariate_normal(
        standardization.inverse_transform(mean_std),
        standardization.covariances_to_data(cov_std)
        if covariance_type == "full"
        else np.diag(standardization.scale) @ cov_std @ np.diag(standardization.scale),
    )
    assert_allclose(
        density_std.logpdf(standardization.transform(data)) + standardization.log_det,
        density_data.logpdf(data),
        rtol=1e-10,
    )
