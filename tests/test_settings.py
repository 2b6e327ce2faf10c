"""'auto' settings and the overfitted regime (skbayesmix._settings); no MCMC."""

import pytest

from skbayesmix import BayesianGMM
from skbayesmix._covariance import COVARIANCE_TYPES, n_parameters
from skbayesmix._settings import (
    OVERFITTED_CONCENTRATION,
    component_bucket,
    is_overfitted,
    n_unconstrained_parameters,
    resolve,
    sampled_components,
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
    sparse = resolve(BayesianGMM(10, weight_concentration=1e-3), 500, 2)
    assert sparse.overfitted
    assert sparse.init_params == "bic"
    assert sparse.weight_parameterization == "softmax"
    default = resolve(BayesianGMM(3), 500, 2)
    assert not default.overfitted
    assert default.init_params == "kmeans"
    assert default.weight_parameterization == "simplex"


def test_explicit_settings_are_kept():
    settings = resolve(
        BayesianGMM(
            3, weight_concentration=1e-3, init_params="bgmm",
            weight_parameterization="gamma", dense_mass=False,
        ),
        500, 2,
    )
    assert settings.overfitted
    assert settings.init_params == "bgmm"
    assert settings.weight_parameterization == "gamma"
    assert settings.dense_mass is False
    assert resolve(BayesianGMM(4, dense_mass=True), 500, 10).dense_mass is True


def test_auto_dense_mass_counts_the_sampled_dimension():
    # K=8, D=2 'full' on too many rows to pad: 47 parameters, a 200-draw
    # window with num_warmup=500.
    assert resolve(BayesianGMM(8), 100_000, 2).dense_mass is True
    # K=4, D=10 'full', 100,000 rows (too many to pad): 263 parameters; 'diag': 84.
    assert resolve(BayesianGMM(4), 100_000, 10).dense_mass is False
    assert resolve(BayesianGMM(4, covariance_type="diag"), 100_000, 10).dense_mass
    # The window is a function of num_warmup.
    assert resolve(BayesianGMM(4, num_warmup=2000), 100_000, 10).dense_mass is True
    assert resolve(BayesianGMM(8, num_warmup=15), 100_000, 2).dense_mass is False
    # Padded components count: K=2, D=2 'full' on 500 rows runs 8 components,
    # 47 parameters (11 unpadded), more than the 25-draw window of 150 warm-up.
    padded = resolve(BayesianGMM(2, num_warmup=150), 500, 2)
    assert padded.sampled_components == 8
    assert padded.dense_mass is False
    unpadded = resolve(BayesianGMM(2, num_warmup=150), 1_000_000, 2)
    assert unpadded.sampled_components == 2
    assert unpadded.dense_mass is True


def test_components_are_padded_to_a_bucket_on_small_problems():
    assert [component_bucket(k) for k in (1, 8, 9, 12, 13, 17, 25, 40)] == [
        8, 8, 12, 12, 16, 24, 32, 48
    ]
    # Small data: every K up to the bucket shares one sampler.
    for n_components in range(1, 9):
        assert sampled_components(n_components, 500, 2, "wishart") == 8
    assert sampled_components(10, 500, 2, "wishart") == 12
    # The NumPyro tutorial's prior is never padded; neither is large data.
    assert sampled_components(3, 500, 2, "lkj") == 3
    assert sampled_components(3, 100_000, 2, "lkj") == 3
    assert sampled_components(3, 100_000, 2, "wishart") == 3
    assert sampled_components(3, 569, 30, "wishart") == 8
    assert sampled_components(3, 5000, 30, "wishart") == 3


# r_hat_threshold: appended here while the top of the file is being edited;
# these imports can join the others.
# (arviz is already imported, without its FutureWarning, by skbayesmix.)
import arviz as az  # noqa: E402
import numpy as np  # noqa: E402

from skbayesmix._settings import r_hat_threshold  # noqa: E402


def test_r_hat_threshold_grows_with_the_number_of_quantities():
    thresholds = [r_hat_threshold(2, 500, m) for m in (1, 10, 100, 1000, 10000)]
    assert thresholds == sorted(thresholds)
    assert thresholds[-1] > thresholds[2] > 1.01


def test_r_hat_threshold_is_never_below_vehtari():
    for num_chains in (1, 2, 4, 8):
        for num_draws in (4, 100, 500, 5000):
            for n_quantities in (1, 50, 2000):
                assert r_hat_threshold(num_chains, num_draws, n_quantities) >= 1.01
    # Many draws per quantity: the floor, where the formula alone is lower.
    assert r_hat_threshold(4, 1000, 2000) == 1.01
    assert r_hat_threshold(4, 1000, 2000, minimum=1.0) < 1.005


def test_r_hat_threshold_shrinks_with_more_draws_and_grows_with_tau():
    thresholds = [
        r_hat_threshold(2, draws, 1000, minimum=1.0) for draws in (100, 250, 500, 1000)
    ]
    assert all(a > b for a, b in zip(thresholds, thresholds[1:]))
    assert r_hat_threshold(2, 500, 400, autocorrelation_time=3.0) > r_hat_threshold(
        2, 500, 400
    )
    with pytest.raises(ValueError, match="n_quantities = 0"):
        r_hat_threshold(2, 500, 0)


def test_r_hat_threshold_false_alarms_on_converged_chains():
    # 40 simulated fits of 4 chains x 250 independent draws and 200 quantities,
    # R-hat as convergence_summary computes it. The rule's false-alarm rate is
    # about 5%: 0-7 of 40 over seeds 0-29 (expected 2.2); 1.01 flags 9-18.
    rng = np.random.default_rng(0)
    draws = rng.standard_normal((4, 250, 40, 200))
    r_hat = az.rhat(az.convert_to_dataset({"x": draws}))["x"].values
    max_r_hat = r_hat.max(axis=1)
    threshold = r_hat_threshold(4, 250, 200)
    assert 1.01 < threshold < 1.02
    rule_alarms = int(np.sum(max_r_hat >= threshold))
    vehtari_alarms = int(np.sum(max_r_hat >= 1.01))
    assert rule_alarms <= 7
    assert vehtari_alarms >= 5
    assert rule_alarms < vehtari_alarms
