"""Every 'auto' setting resolved, and every threshold, in one place.

An *overfitted* mixture is one whose Dirichlet concentration is below
``OVERFITTED_CONCENTRATION``: surplus components are meant to empty, so the
'auto' start and weight parameterisation change, and an empty component is no
cause for a warning. That is the one name this package uses for the regime.
"""

from collections import namedtuple

from skbayesmix._covariance import n_parameters

# Below this Dirichlet concentration, surplus components empty by design.
OVERFITTED_CONCENTRATION = 0.1

# A component is occupied in a draw when it holds at least this many expected
# observations, and occupied in the fit when it is so in at least
# OCCUPIED_FRACTION of the draws.
OCCUPIED_COUNT = 1.0
OCCUPIED_FRACTION = 0.5

# Expected observations below which log weights are floored when relabelling
# overfitted mixtures: an empty component's exact weight says nothing.
RELABEL_WEIGHT_FLOOR = 0.1

# Expected observations an empty component starts with (keeps its starting
# weight inside the simplex).
EMPTY_START_COUNT = 0.5

# Convergence: R-hat at or above this, or fewer effective draws per chain.
R_HAT_THRESHOLD = 1.01
MIN_ESS_PER_CHAIN = 100

# EM refinements that shrink some variance below this fraction of the
# posterior mean's are rejected as collapsing onto a singularity.
EM_MIN_VARIANCE_RATIO = 0.1

# elpd differences below this are negligible, whatever their standard error
# (Vehtari's cross-validation FAQ; Sivula, Magnusson and Vehtari, 2022).
NEGLIGIBLE_ELPD_DIFFERENCE = 4.0

ResolvedSettings = namedtuple(
    "ResolvedSettings",
    ["overfitted", "init_params", "weight_parameterization", "dense_mass"],
)


def is_overfitted(weight_concentration):
    """Whether the Dirichlet concentration asks surplus components to empty."""
    return weight_concentration < OVERFITTED_CONCENTRATION


def n_unconstrained_parameters(
    n_components, n_features, covariance_type, weight_parameterization
):
    """Dimension of the unconstrained space NUTS samples.

    GaussianMixture's count (a scale and correlation per covariance entry),
    plus one for weights sampled as K free values rather than on the simplex.
    """
    count = n_parameters(n_components, n_features, covariance_type)
    return count + int(weight_parameterization != "simplex")


def resolve(estimator, n_features):
    """Make the estimator's 'auto' settings concrete for ``n_features`` features.

    Returns
    -------
    settings : ResolvedSettings
        ``init_params`` is 'bic' for overfitted mixtures, else 'kmeans';
        ``weight_parameterization`` 'softmax' for overfitted mixtures, else
        'simplex'; ``dense_mass`` as :func:`skbayesmix._inference.default_dense_mass`
        on the sampled dimension.
    """
    overfitted = is_overfitted(estimator.weight_concentration)
    init_params = estimator.init_params
    if init_params == "auto":
        init_params = "bic" if overfitted else "kmeans"
    weight_parameterization = estimator.weight_parameterization
    if weight_parameterization == "auto":
        weight_parameterization = "softmax" if overfitted else "simplex"
    dense_mass = estimator.dense_mass
    if dense_mass == "auto":
        from skbayesmix._inference import default_dense_mass

        dense_mass = default_dense_mass(
            n_unconstrained_parameters(
                estimator.n_components,
                n_features,
                estimator.covariance_type,
                weight_parameterization,
            ),
            estimator.num_warmup,
        )
    return ResolvedSettings(
        overfitted, init_params, weight_parameterization, bool(dense_mass)
    )
