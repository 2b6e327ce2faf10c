"""'auto' settings and the overfitted regime (skbayesmix._settings); no MCMC."""

import pytest

from skbayesmix import BayesianGMM
from skbayesmix._covariance import COVARIANCE_TYPES, n_parameters
from skbayesmix._settings import (
    OVERFITTED_CONCENTRATION,
    is_overfitted,
    n_unconstrained_parameters,
    resolve,
)


def test_overfitted_below_the_concentration_threshold():
    assert is_overfitted(1e-3)
    assert is_overfitted(0.099)
    assert not is_overfitted(OVERFITTED_CONCENTRATION)
    assert not is_overfitted(0.5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_unconstrained_parameters_add_one_for_free_weights(covariance_type):
    base = n_parameters(5, 3, covariance_type)
    assert n_unconstrained_parameters(5, 3, covariance_type, "simplex") == base
    for weights in ("softmax", "gamma"):
        assert n_unconstrained_parameters(5, 3, covariance_type, weights) == base + 1


def test_auto_settings_follow_the_regime():
    sparse = resolve(BayesianGMM(10, weight_concentration=1e-3), n_features=2)
    assert sparse.overfitted
    assert sparse.init_params == "bic"
    assert sparse.weight_parameterization == "softmax"
    default = resolve(BayesianGMM(3), n_features=2)
    assert not default.overfitted
    assert default.init_params == "kmeans"
    assert default.weight_parameterization == "simplex"


def test_explicit_settings_are_kept():
    settings = resolve(
        BayesianGMM(
            3, weight_concentration=1e-3, init_params="bgmm",
            weight_parameterization="gamma", dense_mass=False,
        ),
        n_features=2,
    )
    assert settings.overfitted
    assert settings.init_params == "bgmm"
    assert settings.weight_parameterization == "gamma"
    assert settings.dense_mass is False
    assert resolve(BayesianGMM(4, dense_mass=True), 10).dense_mass is True


def test_auto_dense_mass_counts_the_sampled_dimension():
    # K=8, D=2 'full': 47 parameters, a 200-draw window with num_warmup=500.
    assert resolve(BayesianGMM(8), n_features=2).dense_mass is True
    # K=4, D=10 'full': 263 parameters; 'diag': 84.
    assert resolve(BayesianGMM(4), n_features=10).dense_mass is False
    assert resolve(BayesianGMM(4, covariance_type="diag"), 10).dense_mass is True
    # The window is a function of num_warmup.
    assert resolve(BayesianGMM(4, num_warmup=2000), 10).dense_mass is True
    assert resolve(BayesianGMM(8, num_warmup=15), 2).dense_mass is False
