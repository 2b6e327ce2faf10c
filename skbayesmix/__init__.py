"""Fully Bayesian Gaussian mixture models with a scikit-learn interface."""

import importlib

from skbayesmix._bayesian_gmm import BayesianGMM
from skbayesmix._scorers import aic_score, bic_score
from skbayesmix._selection import BayesianGMMSelector
from skbayesmix._version import __version__

# Subpackages load on first attribute access, as scikit-learn's do: plotting
# needs matplotlib, which ``import skbayesmix`` must not require.
_SUBMODULES = ("plotting",)

__all__ = [
    *_SUBMODULES,
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
    if name in _SUBMODULES:
        return importlib.import_module(f"skbayesmix.{name}")
    raise AttributeError(f"module 'skbayesmix' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
