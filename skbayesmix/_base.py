"""BaseBayesianMixture: fitting orchestration, predictions and criteria.

As scikit-learn's ``BaseMixture`` for ``GaussianMixture``, the base class holds
what any Bayesian mixture fitted by sampling does with its posterior: relabel
it, set the fitted attributes, report diagnostics, predict, score and compare.
A subclass validates its parameters and provides the start and the sampler
(``_check_parameters``, ``_start``, ``_sample``).
"""

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from skbayesmix import _criteria, _diagnostics, _maximum_likelihood, _warnings
from skbayesmix._covariance import (
    n_parameters,
    precision_cholesky,
    precisions_from_cholesky,
)
from skbayesmix._posterior import Posterior
from skbayesmix._relabel import relabel_features
from skbayesmix._settings import resolve
from skbayesmix._standardize import Standardization


class BaseBayesianMixture(DensityMixin, BaseEstimator):
    """Base class of mixtures fitted by posterior sampling (not public).

    Subclasses define the constructor, ``_parameter_constraints``, and
    ``_check_parameters(X)``, ``_start(X_std, standardization, rng)`` returning a
    :class:`~skbayesmix._initialization.Start`, and ``_sample(X_std, start,
    rng)`` returning a :class:`~skbayesmix._inference.NUTSResult`.
    """

    def fit(self, X, y=None):
        """Sample the posterior of the mixture given X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self.fit_predict(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X, y=None):
        """Fit the model and return the most probable component of each row of X.

        The component with the largest posterior mean of p(z_i = k | x_i,
        theta) over the draws; see :meth:`predict_proba` for new rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        self._check_parameters(X)
        memberships = self._fit(X.astype(np.float64, copy=False))
        # GaussianMixture keeps float32 input's dtype in its attributes and outputs;
        # sampling and densities run in float64 regardless.
        for name in (
            "weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"
        ):
            setattr(self, name, getattr(self, name).astype(X.dtype, copy=False))
        return memberships.argmax(axis=1)

    def _fit(self, X):
        """Sample, relabel, summarise; return the training rows' memberships."""
        rng = check_random_state(self.random_state)
        self._settings = resolve(self, X.shape[1])
        standardization = Standardization.fit(
            X, self.covariance_type, standardize=self.standardize
        )
        X_std = standardization.transform(X)
        start = self._start(X_std, standardization, rng)
        result = self._sample(X_std, start, rng, standardization=standardization)
        self._posterior = self._relabelled_posterior(
            result, start, standardization, X.shape[0]
        )
        modes = self._chain_modes(X)
        if modes.max() > 0:
            self._posterior = self._posterior.with_chain_weights(
                self._stacked_chain_weights(X, modes)
            )
        summaries = self._posterior.summarize(X)
        self._set_point_estimates()
        occupancy = self._set_occupancy(summaries.expected_counts)
        self._maximum_likelihood = _maximum_likelihood.maximum_likelihood(
            X, self._posterior, reg_covar=self.reg_covar, summaries=summaries,
            starts=[self._start_in_data_units(start, standardization)],
        )
        self.lower_bound_ = float(np.mean(summaries.log_predictive_density))
        self.n_iter_ = self.num_warmup + self.num_samples
        self._X_train = X
        self._sample_stats = result.sample_stats
        self._set_diagnostics(result, *occupancy, modes=modes)
        if self.verbose:
            print(_diagnostics.describe_fit(self))
        return summaries.memberships

    def _relabelled_posterior(self, result, start, standardization, n_samples):
        """Relabel the draws to the start's components; return a Posterior."""
        options = dict(
            covariance_type=self.covariance_type,
            overfitted=self._settings.overfitted,
            n_samples=n_samples,
        )
        # The reference is read off the start before it was jittered.
        reference = relabel_features(
            start.values["weights"],
            start.values["means"],
            start.covariances(self.covariance_type),
            **options,
        )
        return Posterior.from_draws(
            *result.mixture, standardization=standardization, reference=reference,
            **options,
        )

    def _start_in_data_units(self, start, standardization):
        """Return the start as (weights, means, covariances) in data units."""
        weights = start.values["weights"]
        return (
            weights / weights.sum(),
            standardization.inverse_transform(start.values["means"]),
            standardization.covariances_to_data(start.covariances(self.covariance_type)),
        )

    def _chain_modes(self, X):
        """Return the mode of every chain (all 0 unless settled modes differ)."""
        modes = _diagnostics.chain_modes(
            self._posterior.chain_memberships(X).argmax(-1)
        )
        if modes.max() > 0 and not _diagnostics.settled_modes(
            self._posterior.samples(), modes
        ):
            return np.zeros_like(modes)
        return modes

    def _stacked_chain_weights(self, X, modes):
        """Chain weights that stack the modes' leave-one-out predictions.

        Each mode's PSIS-LOO pointwise log predictive density is computed from
        its chains' draws; the modes are stacked
        (:func:`skbayesmix._criteria.stacking_weights`) and a mode's weight is
        shared equally by its chains.
        """
        log_lik = self._posterior.pointwise_log_likelihood(X)
        n_modes = modes.max() + 1
        pointwise = np.column_stack([
            _criteria.information_criterion(log_lik[modes == mode], "loo")[
                "pointwise"
            ]
            for mode in range(n_modes)
        ])
        mode_weights = _criteria.stacking_weights(pointwise)
        counts = np.bincount(modes, minlength=n_modes)
        return mode_weights[modes] / counts[modes]

    def _set_point_estimates(self):
        self.weights_, self.means_, self.covariances_ = (
            self._posterior.point_estimates()
        )
        self.precisions_cholesky_ = precision_cholesky(
            self.covariances_, self.covariance_type
        )
        self.precisions_ = precisions_from_cholesky(
            self.precisions_cholesky_, self.covariance_type
        )

    def _set_occupancy(self, expected_counts):
        """Set the effective component counts; return (empty_fraction, occupied)."""
        n_effective, median = _diagnostics.n_effective_components(expected_counts)
        self.n_effective_components_draws_ = n_effective.reshape(self._posterior.shape)
        self.n_effective_components_ = median
        return _diagnostics.occupied_components(expected_counts)

    def _set_diagnostics(self, result, empty_fraction, occupied, *, modes):
        self.posterior_samples_ = self._posterior.samples()
        chain_weights = self._posterior.chain_weights
        if chain_weights is None:
            chain_weights = np.full(len(modes), 1.0 / len(modes))
        self.diagnostics_ = _diagnostics.fit_diagnostics(
            self.posterior_samples_,
            result.sample_stats,
            covariance_type=self.covariance_type,
            modes=modes,
            chain_weights=chain_weights,
            occupied=occupied,
            component_sites=self._posterior.component_sites,
            dense_mass=self._settings.dense_mass,
            timings=(result.compile_time, result.run_time),
        )
        overfitted = self._settings.overfitted
        self.converged_ = _diagnostics.is_converged(self.diagnostics_, overfitted)
        messages = _diagnostics.poor_inference_messages(
            self.diagnostics_,
            n_components=self.n_components,
            num_chains=self.num_chains,
            num_samples=self.num_samples,
            overfitted=overfitted,
            empty_fraction=empty_fraction,
        )
        self.diagnostics_["warnings"] = messages
        stacklevel = _warnings.caller_stacklevel()
        for message in messages:
            _warnings.warn(message, ConvergenceWarning, stacklevel=stacklevel)

    # --------------------------------------------------------------- prediction

    def _validate_X(self, X):
        """Validate X; return it as float64 with the dtype results are returned in.

        Results are float32 only when both the training data and X are float32,
        as in GaussianMixture.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        dtype = np.result_type(X.dtype, self.means_.dtype)
        return X.astype(np.float64, copy=False), dtype

    def predict_proba(self, X):
        """Posterior predictive probability that each row came from each component.

        For a new point x this is sum_s w_sk N(x | mu_sk, Sigma_sk) /
        sum_s p(x | theta_s) over the posterior draws s: the membership that
        :meth:`score_samples`' predictive density implies, with the parameters
        integrated out. :meth:`fit_predict` instead returns, for the training
        rows, the argmax of the posterior mean of p(z_i = k | x_i, theta) (the
        assignment z_i is a parameter of the fitted model there); the two
        differ only where the posterior is uncertain.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components)
            Rows sum to 1.
        """
        X, dtype = self._validate_X(X)
        return self._posterior.predictive_memberships(X).astype(dtype, copy=False)

    def predict(self, X):
        """Most probable component of each row of X under the posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X = self._validate_X(X)[0]
        # argmax in float64: float32 rounding could break near-ties differently.
        return self._posterior.predictive_memberships(X).argmax(axis=1)

    def score_samples(self, X):
        """Log posterior predictive density of each row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            log mean_s p(x | theta_s) over the posterior draws.
        """
        X, dtype = self._validate_X(X)
        return self._posterior.log_predictive_density(X).astype(dtype, copy=False)

    def score(self, X, y=None):
        """Mean log posterior predictive density of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        log_density : float
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1):
        """Draw from the posterior predictive distribution.

        Each point takes a random posterior draw, a component from that draw's
        weights, and a Gaussian draw from that component.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component labels (in the relabelled order).
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling "
                "requires at least one sample."
            )
        return self._posterior.sample(n_samples, check_random_state(self.random_state))

    # ------------------------------------------------------ model comparison

    def _max_log_likelihood(self, X):
        """Log-likelihood of X at the maximum-likelihood parameters of the fit."""
        X = self._validate_X(X)[0]
        if X is self._X_train or (
            X.shape == self._X_train.shape and np.array_equal(X, self._X_train)
        ):
            return self._maximum_likelihood.log_likelihood
        return _maximum_likelihood.log_likelihood_at_maximum(
            X, self._posterior, self._maximum_likelihood
        )

    def _n_parameters(self):
        """Count free parameters as GaussianMixture counts them."""
        n_features = self.means_.shape[1]
        return n_parameters(self.n_components, n_features, self.covariance_type)

    def bic(self, X):
        """Bayesian information criterion for X (lower is better).

        As in GaussianMixture, the log-likelihood is evaluated at the
        maximum-likelihood parameters of the training data. They are found
        once, at fit time, by EM (GaussianMixture's, with the same
        ``reg_covar``) started from the posterior mean, or are the posterior
        draw with the largest training likelihood when EM collapses a
        component onto a singularity or does no better. Other data are only
        evaluated at those parameters, so -2 log L is additive over disjoint
        data sets, as a held-out score should be. The parameter count is
        GaussianMixture's for ``n_components``, empty components included: an
        overfitted mixture is penalised for every component it was given
        (compare models by ``n_effective_components_``, :meth:`waic` or
        :meth:`loo` instead).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        bic : float
        """
        log_lik = self._max_log_likelihood(X)
        return _criteria.bic(log_lik, self._n_parameters(), np.shape(X)[0])

    def aic(self, X):
        """Akaike information criterion for X (lower is better).

        The log-likelihood is evaluated at the fit-time maximum-likelihood
        parameters, as in :meth:`bic`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        aic : float
        """
        return _criteria.aic(self._max_log_likelihood(X), self._n_parameters())

    def pointwise_log_likelihood(self, X=None):
        """Log-likelihood of every row under every posterior draw.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Data; None uses the training data.

        Returns
        -------
        log_lik : ndarray of shape (num_chains, num_samples, n_samples)
        """
        check_is_fitted(self)
        X = self._X_train if X is None else self._validate_X(X)[0]
        return self._posterior.pointwise_log_likelihood(X)

    def waic(self, X=None):
        """Widely applicable information criterion (ArviZ).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Data; None uses the training data.

        Returns
        -------
        result : dict
            ``elpd`` (expected log pointwise predictive density, higher is
            better), ``se``, ``p`` (effective number of parameters),
            ``pointwise``, ``warning`` and ``elpd_data`` (ArviZ's result).
        """
        return _criteria.information_criterion(
            self.pointwise_log_likelihood(X), "waic"
        )

    def loo(self):
        """Pareto-smoothed importance-sampling leave-one-out CV (ArviZ).

        Returns
        -------
        result : dict
            ``elpd`` (higher is better), ``se``, ``p``, ``pointwise``,
            ``pareto_k`` per observation, ``elpd_data`` (ArviZ's result) and
            ``warning`` (True when some Pareto k exceeds ArviZ's threshold, in
            which case a ConvergenceWarning is also issued).
        """
        result = _criteria.information_criterion(
            self.pointwise_log_likelihood(), "loo", posterior=self.posterior_samples_
        )
        if result["warning"]:
            n_bad = int(np.sum(result["pareto_k"] > result["pareto_k_threshold"]))
            _warnings.warn(
                f"PSIS-LOO is unreliable: {n_bad} observations have Pareto k above "
                f"{result['pareto_k_threshold']:.2f}. Increase num_samples, or "
                "compare models by BIC or held-out score instead.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return result

    def to_inference_data(self):
        """Return the relabelled posterior as an :class:`arviz.InferenceData`.

        Returns
        -------
        idata : arviz.InferenceData
            Groups ``posterior`` (weights, means, covariances in data units),
            ``sample_stats`` (diverging, n_steps, acceptance_rate, step_size,
            energy, lp), ``log_likelihood`` (per observation, variable ``x``) and
            ``observed_data``.
        """
        check_is_fitted(self)
        stats = {
            name: value
            for name, value in self._sample_stats.items()
            if name not in ("warmup_divergences", "warmup_n_steps")
        }
        stats["diverging"] = stats["diverging"].astype(bool)
        return _diagnostics.to_inference_data(
            self.posterior_samples_,
            stats,
            log_likelihood=self.pointwise_log_likelihood(),
            observed=self._X_train,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
