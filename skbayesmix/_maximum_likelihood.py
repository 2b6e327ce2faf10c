"""The maximum of the likelihood, found once at fit time, for BIC and AIC.

BIC and AIC are defined at the maximum-likelihood parameters of the training
data. They are found once, when the posterior is fitted; any other data set is
only evaluated at those parameters, so that -2 log L is additive over disjoint
test sets and a test set cannot tune the parameters it is scored with.
"""

from collections import namedtuple

import numpy as np

from skbayesmix._covariance import inverse, min_component_count, min_variance
from skbayesmix._density import select_draws
from skbayesmix._posterior import mixture_draws
from skbayesmix._settings import EM_MIN_VARIANCE_RATIO
from skbayesmix._standardize import total_weight
from skbayesmix._warnings import quiet_fit

MaximumLikelihood = namedtuple(
    "MaximumLikelihood", ["parameters", "log_likelihood", "refined"]
)
MaximumLikelihood.__doc__ = """The likelihood's maximum found at fit time.

parameters : MixtureDraws with one draw, in the posterior's standardised units:
the EM refinement, or the best posterior draw when it was rejected;
log_likelihood : float, the training data's log-likelihood there (data units);
refined : bool, whether the EM refinement was kept.
"""


def refine_maximum_likelihood(
    X, posterior, *, reg_covar, start=None, sample_weight=None
):
    """EM from the posterior mean (or ``start``): a nearby maximum of the likelihood.

    BIC and AIC are defined at the maximum of the likelihood, which no
    posterior draw reaches exactly: the best draw falls short by about half a
    nat per parameter, which biases BIC against larger models. EM
    (scikit-learn's GaussianMixture on the data, with the same ``reg_covar``)
    started at the posterior mean closes that gap. Rounded or tied data give
    the likelihood singular maxima the prior keeps the posterior away from, so
    the result is rejected if EM collapsed a component: if it kept fewer
    expected points than a non-singular covariance needs (D + 1 for 'full'),
    or shrank some variance below ``EM_MIN_VARIANCE_RATIO`` of the posterior
    mean's.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training data, in data units.
    posterior : Posterior
    reg_covar : float
    start : tuple of ndarray, default=None
        (weights, means, covariances) in data units to start EM from instead
        of the posterior mean.
    sample_weight : ndarray of shape (n_samples,), default=None
        EM weighs the rows by it (:mod:`skbayesmix._weighted_em`).

    Returns
    -------
    refined : MixtureDraws with one draw, in standardised units, or None

    Notes
    -----
    With missing values (NaN) in X, EM for incomplete data
    (:func:`~skbayesmix._missing_em.em_with_missing`) replaces
    GaussianMixture's, with the same ``max_iter`` and ``tol``.
    """
    covariance_type = posterior.covariance_type
    posterior_mean = posterior.point_estimates()
    weights, means, covariances = posterior_mean if start is None else start
    try:
        em_weights, em_means, em_covariances = _em(
            X, weights / weights.sum(), means, covariances,
            covariance_type=covariance_type, reg_covar=reg_covar,
            sample_weight=sample_weight,
        )
    except (ValueError, np.linalg.LinAlgError):
        return None
    n_samples = total_weight(X, sample_weight)
    counts = em_weights * n_samples
    floor = EM_MIN_VARIANCE_RATIO * min_variance(posterior_mean[2], covariance_type)
    if np.any(
        counts < min_component_count(X.shape[1], covariance_type)
    ) or np.any(min_variance(em_covariances, covariance_type) < floor):
        return None
    standardization = posterior.standardization
    return mixture_draws(
        em_weights[None],
        standardization.transform(em_means)[None],
        standardization.covariances_to_std(em_covariances)[None],
        covariance_type,
    )


def _em(X, weights, means, covariances, *, covariance_type, reg_covar,
        sample_weight):
    """100 iterations at most of EM from the given mixture: (weights, means, covs)."""
    if np.isnan(X).any():
        from skbayesmix._missing_em import em_with_missing

        result = em_with_missing(
            X, weights=weights, means=means, covariances=covariances,
            covariance_type=covariance_type, reg_covar=reg_covar,
            sample_weight=sample_weight, max_iter=100,
        )
        return result.weights, result.means, result.covariances
    from sklearn.mixture import GaussianMixture

    em = GaussianMixture(
        n_components=len(weights),
        covariance_type=covariance_type,
        reg_covar=reg_covar,
        max_iter=100,
        weights_init=weights,
        means_init=means,
        precisions_init=inverse(covariances, covariance_type),
    )
    em = quiet_fit(em, X, sample_weight)
    return em.weights_, em.means_, em.covariances_


def maximum_likelihood(
    X, posterior, *, reg_covar, summaries, starts=(), sample_weight=None
):
    """Find the training data's :class:`MaximumLikelihood`.

    EM is started from the posterior mean and from each of ``starts``
    (mixtures in data units, e.g. the k-means start: a posterior that empties a
    surplus component leaves EM nothing to fill it from, where
    GaussianMixture's own start would). The accepted refinement with the
    largest training log-likelihood is kept if it beats every draw, else the
    best draw stands in. ``summaries`` are the posterior's
    :meth:`~Posterior.summarize` of ``X`` (with ``sample_weight``, which
    weighs the rows here too).
    """
    draw_totals = summaries.total_log_likelihood
    best = int(np.argmax(draw_totals))
    found = None
    for start in (None, *starts):
        refined = refine_maximum_likelihood(
            X, posterior, reg_covar=reg_covar, start=start,
            sample_weight=sample_weight,
        )
        if refined is None:
            continue
        total = float(posterior.total_log_likelihood(X, refined, sample_weight)[0])
        if total >= draw_totals[best] and (found is None or total > found[1]):
            found = (refined, total)
    if found is not None:
        return MaximumLikelihood(*found, True)
    parameters = select_draws(posterior.draws, slice(best, best + 1))
    return MaximumLikelihood(parameters, float(draw_totals[best]), False)


def log_likelihood_at_maximum(X, posterior, maximum, sample_weight=None):
    """Log-likelihood of data-unit rows ``X`` at the fit-time maximum."""
    return float(
        posterior.total_log_likelihood(X, maximum.parameters, sample_weight)[0]
    )
