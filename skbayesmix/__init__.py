"""Fully Bayesian Gaussian mixture models with a scikit-learn interface."""

from skbayesmix._bayesian_gmm import BayesianGMM
from skbayesmix._version import __version__

__all__ = ["BayesianGMM", "__version__"]
