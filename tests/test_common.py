"""scikit-learn's estimator checks on a cheap BayesianGMM."""

import pytest
from conftest import TINY
from sklearn.utils.estimator_checks import parametrize_with_checks

from skbayesmix import BayesianGMM

# Structural checks need a posterior-shaped result, not a converged one: the
# checks fit about 40 times on data of many shapes, and each new
# (n_features, size bucket) compiles a sampler.
CHECK_PARAMS = TINY


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([BayesianGMM(**CHECK_PARAMS)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
