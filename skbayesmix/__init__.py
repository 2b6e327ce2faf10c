"""Fully Bayesian Gaussian mixture models with a scikit-learn interface."""

from skbayesmix._bayesian_gmm import BayesianGMM
from skbayesmix._scorers import aic_score, bic_score
from skbayesmix._selection import BayesianGMMSelector
from skbayesmix._version import __version__

__all__ = [
    "BayesianGMM",
    "BayesianGMMSelector",
    "aic_score",
    "bic_score",
    "compilation_stats",
    "reset_compilation_stats",
    "__version__",
]

# JAX is imported on first use only: these names resolve lazily.
_LAZY_INFERENCE_NAMES = (
    "compilation_stats",
    "reset_compilation_stats",
)


def __getattr__(name):
    if name in _LAZY_INFERENCE_NAMES:
        from skbayesmix import _program_cache

        return getattr(_program_cache, name)
    raise AttributeError(f"module 'skbayesmix' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
