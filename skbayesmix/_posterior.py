"""The relabelled posterior, in standardised units, and everything read off it.

:class:`Posterior` holds the draws of the weights, means and covariances with
leading (chain, draw) axes, already relabelled, in the sampler's standardised
units, together with the :class:`~skbayesmix._standardize.Standardization` that
maps them to data units. Flat (chain x draw) views are built once. Estimators,
criteria and plotting ask it for point estimates, densities, memberships and
samples; nobody else reshapes chains or converts units.
"""

import numpy as np

from skbayesmix import _density
from skbayesmix._covariance import (
    correlate_noise,
    has_component_axis,
    precision_cholesky,
)
from skbayesmix._density import MixtureDraws
from skbayesmix._relabel import relabel_draws
from skbayesmix._standardize import total_weight


def _flat(values):
    return values.reshape((-1,) + values.shape[2:])


def _total_log_det(X, log_det, sample_weight):
    """Sum the rows' log-Jacobians (weighted), given per row or for all."""
    if np.ndim(log_det) == 0:
        n_samples = total_weight(X, sample_weight)
        return n_samples * log_det
    return np.sum(log_det) if sample_weight is None else sample_weight @ log_det


def mixture_draws(weights, means, covariances, covariance_type, draw_weights=None):
    """:class:`~skbayesmix._density.MixtureDraws` of flat parameter draws."""
    return MixtureDraws(
        weights=weights,
        means=means,
        precisions_cholesky=precision_cholesky(covariances, covariance_type),
        covariance_type=covariance_type,
        draw_weights=draw_weights,
    )


class Posterior:
    """Relabelled posterior draws of a Gaussian mixture in standardised units.

    Parameters
    ----------
    weights : ndarray of shape (n_chains, n_draws, n_components)
    means : ndarray of shape (n_chains, n_draws, n_components, n_features)
    covariances : ndarray of shape (n_chains, n_draws, ...)
        In scikit-learn's shape for the covariance type, ``reg_covar`` included.
    standardization : Standardization
        The map from data units to the units of the draws.
    chain_weights : ndarray of shape (n_chains,), default=None
        How much each chain counts in every average over the posterior
        (summing to one); None weighs every draw equally. Chains that settled
        in different modes are combined by stacking weights (see
        :func:`skbayesmix._criteria.stacking_weights`).
    """

    def __init__(self, weights, means, covariances, *, standardization,
                 chain_weights=None):
        self.weights = weights
        self.means = means
        self.covariances = covariances
        self.standardization = standardization
        self.chain_weights = chain_weights
        self._draws = None
        self._samples = None

    def with_chain_weights(self, chain_weights):
        """Return the same draws averaged with other chain weights (None: equal)."""
        posterior = Posterior(
            self.weights, self.means, self.covariances,
            standardization=self.standardization, chain_weights=chain_weights,
        )
        posterior._samples = self._samples  # data units do not depend on weights
        return posterior

    @property
    def draw_weights(self):
        """Weight of every flat draw in posterior averages, (n_draws,), or None."""
        if self.chain_weights is None:
            return None
        n_chains, n_draws = self.shape
        return np.repeat(np.asarray(self.chain_weights) / n_draws, n_draws)

    def _mean(self, values):
        """Posterior mean over the leading (chain, draw) axes."""
        weights = self.draw_weights
        if weights is None:
            return values.mean(axis=(0, 1))
        return np.tensordot(weights, _flat(values), axes=1)

    @classmethod
    def from_draws(cls, weights, means, covariances, *, standardization, reference,
                   **feature_options):
        """Build a Posterior from sampled draws, each relabelled to ``reference``.

        Parameters
        ----------
        weights, means, covariances : ndarray
            Draws in standardised units with leading (chain, draw) axes.
        standardization : Standardization
        reference : ndarray of shape (n_components, n_features_relabel)
            See :func:`skbayesmix._relabel.relabel_features`, whose options
            ``feature_options`` are.
        """
        shape = weights.shape[:2]
        relabelled = relabel_draws(
            _flat(weights), _flat(means), _flat(covariances), reference,
            **feature_options,
        )
        weights, means, covariances = (
            value.reshape(shape + value.shape[1:]) for value in relabelled
        )
        return cls(weights, means, covariances, standardization=standardization)

    @property
    def covariance_type(self):
        return self.standardization.covariance_type

    @property
    def shape(self):
        """(n_chains, n_draws per chain)."""
        return self.weights.shape[:2]

    @property
    def n_components(self):
        return self.weights.shape[-1]

    @property
    def component_sites(self):
        """Names of the :meth:`samples` with a component axis after (chain, draw)."""
        if has_component_axis(self.covariance_type):
            return ("weights", "means", "covariances")
        return ("weights", "means")

    # ------------------------------------------------------------------ views

    @property
    def draws(self):
        """Flat draws in standardised units, with precision factors (built once)."""
        if self._draws is None:
            self._draws = mixture_draws(
                _flat(self.weights),
                _flat(self.means),
                _flat(self.covariances),
                self.covariance_type,
                self.draw_weights,
            )
        return self._draws

    def samples(self):
        """Weights, means and covariances in data units, with (chain, draw) axes."""
        if self._samples is None:
            to_data = self.standardization
            self._samples = {
                "weights": self.weights,
                "means": to_data.inverse_transform(self.means),
                "covariances": to_data.covariances_to_data(self.covariances),
            }
        return self._samples

    def flat_samples(self, max_draws=None):
        """:meth:`samples` with the draws flattened, evenly thinned to ``max_draws``."""
        flat = {name: _flat(value) for name, value in self.samples().items()}
        if max_draws is None:
            return flat
        n_draws = flat["weights"].shape[0]
        index = np.unique(
            np.linspace(0, n_draws - 1, min(n_draws, max_draws)).astype(int)
        )
        return {name: value[index] for name, value in flat.items()}

    def point_estimates(self):
        """Posterior means of the weights, means and covariances, in data units."""
        samples = self.samples()
        weights = self._mean(samples["weights"])
        return (
            weights / weights.sum(),
            self._mean(samples["means"]),
            self._mean(samples["covariances"]),
        )

    # -------------------------------------------------------------- densities

    def summarize(self, X, sample_weight=None):
        """:func:`~skbayesmix._density.draw_summaries` of data-unit rows ``X``."""
        summaries = _density.draw_summaries(
            self.standardization.transform(X), self.draws, sample_weight=sample_weight
        )
        log_det = self.standardization.row_log_det(X)
        return summaries._replace(
            total_log_likelihood=summaries.total_log_likelihood
            + _total_log_det(X, log_det, sample_weight),
            log_predictive_density=summaries.log_predictive_density + log_det,
        )

    def total_log_likelihood(self, X, draws, sample_weight=None):
        """sum_i w_i log p(x_i | theta_s) of data-unit rows under other ``draws``.

        ``draws`` is a :class:`~skbayesmix._density.MixtureDraws` in this
        posterior's standardised units (e.g. a maximum-likelihood refinement).

        Returns
        -------
        total : ndarray of shape (n_draws,)
        """
        summaries = _density.draw_summaries(
            self.standardization.transform(X), draws, sample_weight=sample_weight
        )
        return (
            summaries.total_log_likelihood
            + _total_log_det(X, self.standardization.row_log_det(X), sample_weight)
        )

    def memberships(self, X):
        """Posterior mean of p(z = k | x, theta), shape (n_samples, n_components)."""
        return _density.posterior_memberships(
            self.standardization.transform(X), self.draws
        )

    def chain_memberships(self, X):
        """Each chain's mean memberships, (n_chains, n_samples, n_components)."""
        X_std = self.standardization.transform(X)
        n_chains, n_draws = self.shape
        return np.stack([
            _density.posterior_memberships(
                X_std,
                _density.select_draws(
                    self.draws, slice(chain * n_draws, (chain + 1) * n_draws)
                ),
            )
            for chain in range(n_chains)
        ])

    def predictive_memberships(self, X):
        """Posterior predictive memberships of new rows, (n_samples, n_components).

        See :func:`skbayesmix._density.predictive_memberships`.
        """
        return _density.predictive_memberships(
            self.standardization.transform(X), self.draws
        )

    def log_predictive_density(self, X):
        """Log posterior predictive density of data-unit rows, shape (n_samples,)."""
        return (
            _density.log_predictive_density(
                self.standardization.transform(X), self.draws
            )
            + self.standardization.row_log_det(X)
        )

    def pointwise_log_likelihood(self, X):
        """Log-likelihood log p(x_i | theta_s), shape (n_chains, n_draws, n_samples)."""
        log_lik = _density.pointwise_log_likelihood(
            self.standardization.transform(X), self.draws
        )
        log_lik = log_lik + self.standardization.row_log_det(X)
        return log_lik.reshape(self.shape + (-1,))

    # --------------------------------------------------------------- sampling

    def sample(self, n_samples, random_state):
        """Rows from the posterior predictive distribution, in data units.

        Each row takes a random draw, a component from that draw's weights and a
        Gaussian draw from that component.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        labels : ndarray of shape (n_samples,), sorted
        """
        rng = random_state
        flat = self.flat_samples()
        weights, means = flat["weights"], flat["means"]
        n_draws, n_components, n_features = means.shape
        if self.draw_weights is None:
            draw_index = rng.randint(n_draws, size=n_samples)
        else:
            draw_index = rng.choice(n_draws, size=n_samples, p=self.draw_weights)
        cumulative = np.cumsum(weights[draw_index], axis=1)
        u = rng.uniform(size=(n_samples, 1)) * cumulative[:, -1:]
        labels = np.minimum((u > cumulative).sum(axis=1), n_components - 1)
        noise = rng.standard_normal((n_samples, n_features))
        noise = correlate_noise(
            flat["covariances"], draw_index, labels, noise, self.covariance_type
        )
        X = means[draw_index, labels] + noise
        order = np.argsort(labels, kind="stable")
        return X[order], labels[order]
