"""Every 'auto' setting resolved, and every threshold, in one place.

An *overfitted* mixture is one whose Dirichlet concentration is below
``OVERFITTED_CONCENTRATION``: surplus components are meant to empty, so the
'auto' start and weight parameterisation change, and an empty component is no
cause for a warning. That is the one name this package uses for the regime.
"""

from collections import namedtuple

import numpy as np

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

# Added to the start's pooled within-cluster covariance (standardised units)
# before it scales the inverse-Wishart prior, so that a feature constant within
# every cluster still gets a proper prior.
POOLED_COVARIANCE_FLOOR = 1e-6

# Convergence: R-hat at or above this, or fewer effective draws per chain.
R_HAT_THRESHOLD = 1.01
MIN_ESS_PER_CHAIN = 100

# Two chains sampled different modes of the posterior when their hard
# memberships of the training rows differ on more than this fraction of the
# rows (and at least two rows).
MODE_LABEL_DISAGREEMENT = 0.01
# ... and only if each group of chains, alone, has every split R-hat below
# this: otherwise the chains have not converged yet.
MODE_STATIONARY_R_HAT = 1.05

# A chain failed in warm-up when its log density's upper quantile (1 - q) is
# below the lower quantile q of the best chain's: the two never overlap.
FAILED_CHAIN_QUANTILE = 0.01
# Budget of post-warm-up iterations per chain when max_num_samples='auto'.
AUTO_MAX_ROUNDS = 3
# Chains stop continuing when R-hat, at least this, did not come closer to its
# threshold in a continuation (below it, R-hat moves by chance).
NOT_CONVERGING_R_HAT = 1.05

# EM refinements that shrink some variance below this fraction of the
# posterior mean's are rejected as collapsing onto a singularity.
EM_MIN_VARIANCE_RATIO = 0.1

# elpd differences below this are negligible, whatever their standard error
# (Vehtari's cross-validation FAQ; Sivula, Magnusson and Vehtari, 2022).
NEGLIGIBLE_ELPD_DIFFERENCE = 4.0

# One compiled sampler serves every n_components up to a bucket (the rest are
# padded components, see _model.gmm_model): buckets are SMALLEST_COMPONENT_BUCKET
# and then powers of two and one and a half times powers of two. The padded
# likelihood runs on up to a third more components than are real (see
# _model.likelihood_sizes), so padding is used only while a fit is short beside
# a compilation: padded rows * n_features * bucket at most MAX_PADDED_WORK
# (e.g. 65,536 rows of 2 features, 4,096 rows of 30).
SMALLEST_COMPONENT_BUCKET = 8
MAX_PADDED_WORK = 2**20

# coreset_size='auto': data with more rows than this are summarised by a
# weighted coreset (see _training_rows) of CORESET_ROWS_PER_PARAMETER draws per
# free parameter, at least CORESET_MIN_SIZE and at most CORESET_MAX_SIZE. A
# coreset of m draws costs about p / (2 m) nats per row of held-out
# log-likelihood for p free parameters (benchmarks/bench_coreset.py: 0.0101
# measured for 0.0118 predicted at D=2, K=8, m=2,000; 0.0154-0.0161 for 0.0164
# at D=10, K=5, m=10,000): 100 draws per parameter keep it near 0.005.
CORESET_MIN_ROWS = 20_000
CORESET_MIN_SIZE = 10_000
CORESET_MAX_SIZE = 50_000
CORESET_ROWS_PER_PARAMETER = 100

ResolvedSettings = namedtuple(
    "ResolvedSettings",
    [
        "overfitted", "init_params", "weight_parameterization", "dense_mass",
        "sampled_components",
    ],
)


def component_bucket(n_components):
    """Return how many components a padded sampler for ``n_components`` runs."""
    bucket = SMALLEST_COMPONENT_BUCKET
    while True:
        for size in (bucket, bucket + bucket // 2):
            if size >= n_components:
                return size
        bucket *= 2


def sampled_components(n_components, n_samples, n_features, covariance_prior):
    """How many components the sampler runs, padding included.

    The bucket of ``n_components`` (:func:`component_bucket`) with the
    'wishart' prior while the padded likelihood stays cheap, else exactly
    ``n_components`` (a sampler of its own).
    """
    from skbayesmix._inference import padded_size

    bucket = component_bucket(n_components)
    work = padded_size(n_samples) * n_features * bucket
    if covariance_prior != "wishart" or work > MAX_PADDED_WORK:
        return n_components
    return bucket


def coreset_draws(coreset_size, n_samples, n_components, n_features, covariance_type):
    """Rows a coreset of the data samples, or None when the fit uses every row.

    'auto' summarises data of more than :data:`CORESET_MIN_ROWS` rows by
    :data:`CORESET_ROWS_PER_PARAMETER` draws per free parameter
    (GaussianMixture's count), at least :data:`CORESET_MIN_SIZE` and at most
    :data:`CORESET_MAX_SIZE`; an int always draws that many (unless the data
    have no more rows); None never summarises.
    """
    if coreset_size is None:
        return None
    if coreset_size == "auto":
        if n_samples <= CORESET_MIN_ROWS:
            return None
        count = n_parameters(n_components, n_features, covariance_type)
        coreset_size = min(
            max(CORESET_MIN_SIZE, CORESET_ROWS_PER_PARAMETER * count),
            CORESET_MAX_SIZE,
        )
    return int(coreset_size) if coreset_size < n_samples else None


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


def resolve(estimator, n_samples, n_features):
    """Make the estimator's 'auto' settings concrete for data of this shape.

    Returns
    -------
    settings : ResolvedSettings
        ``init_params`` is 'bic' for overfitted mixtures, else 'kmeans';
        ``weight_parameterization`` 'softmax' for overfitted mixtures, else
        'simplex'; ``sampled_components`` as :func:`sampled_components`;
        ``dense_mass`` as
        :func:`skbayesmix._inference.default_dense_mass` on the sampled
        dimension, padded components included, so that every K of a bucket
        shares one sampler.
    """
    overfitted = is_overfitted(estimator.weight_concentration)
    init_params = estimator.init_params
    if init_params == "auto":
        init_params = "bic" if overfitted else "kmeans"
    weight_parameterization = estimator.weight_parameterization
    if weight_parameterization == "auto":
        weight_parameterization = "softmax" if overfitted else "simplex"
    n_sampled = sampled_components(
        estimator.n_components, n_samples, n_features, estimator.covariance_prior
    )
    dense_mass = estimator.dense_mass
    if dense_mass == "auto":
        from skbayesmix._inference import default_dense_mass

        dense_mass = default_dense_mass(
            n_unconstrained_parameters(
                n_sampled,
                n_features,
                estimator.covariance_type,
                weight_parameterization,
            ),
            estimator.num_warmup,
        )
    return ResolvedSettings(
        overfitted, init_params, weight_parameterization, bool(dense_mass), n_sampled
    )


def r_hat_threshold(
    num_chains, num_draws, n_quantities, false_alarm_rate=0.05, *,
    autocorrelation_time=1.0, minimum=R_HAT_THRESHOLD,
):
    """R-hat threshold for the maximum over many quantities of converged chains.

    Vehtari et al.'s 1.01 [1]_ is a rule for one quantity. The maximum R-hat of
    converged chains over hundreds of quantities crosses it often (2 chains x
    500 draws, 400 quantities: about one fit in three). This is the threshold
    that the maximum crosses with probability about ``false_alarm_rate`` when
    the chains have converged, and never below ``minimum``.

    Parameters
    ----------
    num_chains : int
        Number of chains (each is split in two halves, as ArviZ does).
    num_draws : int
        Draws per chain after warm-up.
    n_quantities : int
        Number of distinct quantities whose maximum R-hat is checked. Entries
        that copy one another (the two halves of a symmetric matrix) count
        once; counting them twice only raises the threshold a little.
    false_alarm_rate : float, default=0.05
        Probability that converged chains reach the threshold.
    autocorrelation_time : float or ndarray, default=1.0
        Integrated autocorrelation time tau of the draws, i.e. draws over
        effective draws: 1 for independent draws. R-hat's noise grows with it.
        An array gives one threshold per quantity (one F quantile for all).
    minimum : float, default=1.01
        Floor of the threshold: never stricter than Vehtari et al.'s 1.01.

    Returns
    -------
    threshold : float, or ndarray shaped like ``autocorrelation_time``

    Notes
    -----
    ArviZ's rank-normalised split R-hat (``az.rhat(method="rank")``) splits
    each chain, giving m = 2 * num_chains halves of n = num_draws // 2 draws,
    and computes R-hat^2 = (F + n - 1) / n, where F is n times the variance of
    the half means over the mean within-half variance. For independent normal
    draws F follows the F distribution with m - 1 and m (n - 1) degrees of
    freedom (close to chi2_{m-1} / (m - 1)); draws with autocorrelation time
    tau multiply it by about tau. The reported R-hat is the larger of the bulk
    and the tail (folded) versions, which are nearly independent, so a
    Bonferroni bound over 2 * n_quantities values gives::

        q = f.isf(false_alarm_rate / (2 * n_quantities), m - 1, m * (n - 1))
        threshold = max(minimum, sqrt(1 + (tau * q - 1) / n))

    to first order 1 + (tau * q - 1) / (2 n). The F quantile, rather than the
    chi-squared one, matters at these tail probabilities: 1,000-2,000
    simulated fits per setting gave false-alarm rates of 5.5-5.7% with it and
    6.0-6.4% with chi2 (2 x 500 draws, 50 and 400 quantities; 4 x 250, 400).
    ``benchmarks/bench_rhat_null.py`` checks the rule by simulation, for
    independent and AR(1) draws and for chains that disagree (results in
    ``benchmarks/README.md``). With autocorrelated draws a threshold computed
    for independent ones is far too strict: AR(1) draws of coefficient 0.5
    (tau = 3), 4 chains x 500 draws and 1000 quantities cross both 1.01 and
    it in every simulated fit, and the rule with tau = 3 in about 5%. tau estimated
    from the bulk ESS grows when the chains disagree everywhere, so the ESS
    check must stay beside it.

    References
    ----------
    .. [1] Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. and Buerkner,
       P.-C. (2021). Rank-normalization, folding, and localization: an
       improved R-hat for assessing convergence of MCMC. Bayesian Analysis
       16(2), 667-718.
    """
    from scipy.stats import f

    if num_chains < 1 or num_draws < 4 or n_quantities < 1:
        raise ValueError(
            "Expected num_chains >= 1, num_draws >= 4 and n_quantities >= 1 but "
            f"got num_chains = {num_chains}, num_draws = {num_draws}, "
            f"n_quantities = {n_quantities}"
        )
    if not 0 < false_alarm_rate < 1:
        raise ValueError(
            f"Expected 0 < false_alarm_rate < 1 but got {false_alarm_rate}"
        )
    halves, half_draws = 2 * num_chains, num_draws // 2
    ratio = f.isf(
        false_alarm_rate / (2 * n_quantities), halves - 1, halves * (half_draws - 1)
    )
    tau = np.asarray(autocorrelation_time, dtype=float)
    threshold = np.maximum(minimum, np.sqrt(1 + (tau * ratio - 1) / half_draws))
    return float(threshold) if threshold.ndim == 0 else threshold
