"""scikit-learn's EM on weighted rows (``sample_weight``), for starts and BIC.

scikit-learn's mixtures take no ``sample_weight`` (scikit-learn issue #15647).
EM on weighted rows is EM on their sufficient statistics with every row's
responsibilities multiplied by its weight: the M step of
:class:`~sklearn.mixture.GaussianMixture` and of
:class:`~sklearn.mixture.BayesianGaussianMixture` is run on those, and the
E step's mean log-likelihood, which decides convergence and which
initialisation is kept, is the weighted mean. Integer weights then give EM on
the rows repeated as often as their weights say. The initialisation (k-means
on the rows, unweighted) is only where EM starts.
"""

import inspect

import numpy as np
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from skbayesmix._covariance import n_parameters, precision_cholesky


class _WeightedRows:
    """Mixin: the E and M steps of a scikit-learn mixture on weighted rows.

    The weights are the attribute ``_row_weight`` (set by
    :func:`on_weighted_rows`), not a parameter, so that ``get_params`` is
    scikit-learn's; a clone is unweighted until given them again.
    """

    def _e_step(self, X, *args, **kwargs):
        log_prob_norm, log_resp = self._estimate_log_prob_resp(X, *args, **kwargs)
        return np.average(log_prob_norm, weights=self._row_weight), log_resp

    def _m_step(self, X, log_resp, *args, **kwargs):
        weight = self._row_weight
        log_weight = np.full(weight.shape, -np.inf)
        np.log(weight, out=log_weight, where=weight > 0)
        log_resp = log_resp + log_weight[:, None]
        if self.covariance_type == "tied":
            return self._tied_m_step(X, np.exp(log_resp), weight)
        return super()._m_step(X, log_resp, *args, **kwargs)

    def _tied_scatter(self, X, resp, weight):
        """Return the weighted counts, means and tied covariance (nk, xk, sk).

        scikit-learn's tied covariance uses the unweighted X'X, right only when
        every row's responsibilities sum to one; here they sum to its weight,
        so the tied M step is written out (the others are scikit-learn's).
        """
        nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
        xk = (resp.T @ X) / nk[:, None]
        sk = ((X.T * weight) @ X - (nk * xk.T) @ xk) / nk.sum()
        sk.flat[:: X.shape[1] + 1] += self.reg_covar
        return nk, xk, sk


class WeightedGaussianMixture(_WeightedRows, GaussianMixture):
    """:class:`~sklearn.mixture.GaussianMixture` fitted to weighted rows."""

    def _tied_m_step(self, X, resp, weight):
        nk, self.means_, self.covariances_ = self._tied_scatter(X, resp, weight)
        self.weights_ = nk / nk.sum()
        self.precisions_cholesky_ = precision_cholesky(self.covariances_, "tied")


class WeightedBayesianGaussianMixture(_WeightedRows, BayesianGaussianMixture):
    """:class:`~sklearn.mixture.BayesianGaussianMixture` fitted to weighted rows."""

    def _tied_m_step(self, X, resp, weight):
        nk, xk, sk = self._tied_scatter(X, resp, weight)
        self._estimate_weights(nk)
        self._estimate_means(nk, xk)
        self._estimate_precisions(nk, xk, sk)



_WEIGHTED = {
    GaussianMixture: WeightedGaussianMixture,
    BayesianGaussianMixture: WeightedBayesianGaussianMixture,
}


def on_weighted_rows(mixture, sample_weight):
    """Return ``mixture`` (unfitted) so that its fit weighs rows by ``sample_weight``.

    ``sample_weight`` None returns ``mixture`` itself, so that unweighted fits
    stay scikit-learn's own.
    """
    if sample_weight is None:
        return mixture
    cls = _WEIGHTED.get(type(mixture), type(mixture))
    weighted = cls(**mixture.get_params(deep=False))
    weighted._row_weight = np.asarray(sample_weight, dtype=np.float64)
    return weighted


def weighted_criterion(mixture, criterion, X, sample_weight):
    """Return a fitted mixture's ``criterion`` ('bic' or 'aic') on weighted rows.

    Its own method when it takes ``sample_weight`` (or there are none), else
    GaussianMixture's formula with the weighted log-likelihood
    sum_i w_i log p(x_i) and, for BIC, n the total weight.
    """
    method = getattr(mixture, criterion)
    if sample_weight is None:
        return method(X)
    if "sample_weight" in inspect.signature(method).parameters:
        return method(X, sample_weight=sample_weight)
    log_lik = np.dot(sample_weight, mixture.score_samples(X))
    n_params = n_parameters(mixture.n_components, X.shape[1], mixture.covariance_type)
    penalty = np.log(np.sum(sample_weight)) if criterion == "bic" else 2.0
    return -2 * log_lik + n_params * penalty
