"""The maximum of the likelihood, found once at fit time, for BIC and AIC."""

from collections import namedtuple

import numpy as np

from skbayesmix._covariance import inverse, min_variance
from skbayesmix._posterior import mixture_draws
from skbayesmix._settings import EM_MIN_VARIANCE_RATIO
from skbayesmix._warnings import ignored_warnings

MaximumLikelihood = namedtuple("MaximumLikelihood", ["refined", "log_likelihood"])
MaximumLikelihood.__doc__ = """The likelihood's maximum found at fit time.

refined : MixtureDraws with one draw (standardised units), or None when the
EM refinement was rejected; log_likelihood : float, the largest training
log-likelihood over the posterior draws and the refinement (data units).
"""


def refine_maximum_likelihood(X_std, posterior, *, reg_covar):
    """EM from the posterior mean: the nearby maximum-likelihood estimate.

    BIC and AIC are defined at the maximum of the likelihood, which no
    posterior draw reaches exactly: the best draw falls short by about half a
    nat per parameter, which biases BIC against larger models. A few EM steps
    (scikit-learn's GaussianMixture, in standardised units with the same
    ``reg_covar``) started at the posterior mean close that gap. The result is
    rejected if EM shrank some variance below ``EM_MIN_VARIANCE_RATIO`` of the
    posterior mean's, towards a singularity.

    Returns
    -------
    refined : MixtureDraws with one draw, in standardised units, or None
    """
    from sklearn.mixture import GaussianMixture

    covariance_type = posterior.covariance_type
    weights, means, covariances = posterior.std_point_estimates()
    em = GaussianMixture(
        n_components=posterior.n_components,
        covariance_type=covariance_type,
        reg_covar=reg_covar,
        max_iter=100,
        weights_init=weights / weights.sum(),
        means_init=means,
        precisions_init=inverse(covariances, covariance_type),
    )
    with ignored_warnings():
        try:
            em.fit(X_std)
        except (ValueError, np.linalg.LinAlgError):
            return None
    floor = EM_MIN_VARIANCE_RATIO * min_variance(covariances, covariance_type)
    if np.any(min_variance(em.covariances_, covariance_type) < floor):
        return None
    return mixture_draws(
        em.weights_[None], em.means_[None], em.covariances_[None], covariance_type
    )


def maximum_likelihood(X, posterior, *, reg_covar, summaries):
    """Find the training data's :class:`MaximumLikelihood`.

    ``summaries`` are the posterior's :meth:`~Posterior.summarize` of ``X``.
    """
    X_std = posterior.standardization.transform(X)
    refined = refine_maximum_likelihood(X_std, posterior, reg_covar=reg_covar)
    log_lik = _best_log_likelihood(
        X, posterior, refined, summaries.total_log_likelihood
    )
    return MaximumLikelihood(refined, log_lik)


def max_log_likelihood(X, posterior, refined):
    """Largest log-likelihood of X over the posterior draws and the refinement."""
    draw_totals = posterior.total_log_likelihood(X, posterior.draws)
    return _best_log_likelihood(X, posterior, refined, draw_totals)


def _best_log_likelihood(X, posterior, refined, draw_totals):
    """Take the largest of the draws' total log-likelihoods and the refinement's."""
    log_lik = float(draw_totals.max())
    if refined is not None:
        log_lik = max(log_lik, float(posterior.total_log_likelihood(X, refined)[0]))
    return log_lik
