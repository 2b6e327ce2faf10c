"""BaseBayesianMixture: fitting orchestration, predictions and criteria.

As scikit-learn's ``BaseMixture`` for ``GaussianMixture``, the base class holds
what any Bayesian mixture fitted by sampling does with its posterior: relabel
it, set the fitted attributes, report diagnostics, predict, score and compare.
A subclass validates its parameters and provides the start and the sampler
(``_check_parameters``, ``_start``, ``_sampler``, ``_max_iterations``).
"""

from collections import namedtuple
from numbers import Integral

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
from skbayesmix._dask import is_dask_array, map_row_blocks
from skbayesmix._modes import posterior_chain_modes, stacked_chain_weights
from skbayesmix._posterior import Posterior
from skbayesmix._progress import progress_line
from skbayesmix._relabel import relabel_features
from skbayesmix._run_length import Verdict, sample_until_converged
from skbayesmix._settings import resolve
from skbayesmix._standardize import Standardization, total_weight
from skbayesmix._training_rows import check_sample_weight, training_rows

_Assessment = namedtuple(
    "_Assessment",
    [
        "posterior",
        "summaries",
        "diagnostics",
        "converged",
        "n_effective",
        "n_effective_median",
        "empty_fraction",
    ],
)


# What a warm start continues: the sampler, and the start and standardising
# map the chains' draws are read with.
_Chains = namedtuple("_Chains", ["sampler", "start", "standardization"])

# Parameters that may change between a fit and the warm-started fit that
# continues its chains.
_CONTINUATION_FREE_PARAMS = (
    "warm_start", "max_num_samples", "verbose", "verbose_interval"
)


def _filled(X_std, n_components, sample_weight, rng):
    """X_std itself, or with its missing entries filled for the start (k-POD).

    The start (k-means, EM or the variational fit, and the prior's pooled
    scatter) runs on complete rows: a missing entry takes the coordinate of
    its row's k-means centre (:func:`~skbayesmix._missing_em.kmeans_with_missing`).
    The sampler marginalises the missing entries exactly.
    """
    if not np.isnan(X_std).any():
        return X_std
    from skbayesmix._missing_em import kmeans_with_missing

    return kmeans_with_missing(
        X_std, n_components, sample_weight=sample_weight, random_state=rng
    )[2]


def _same_value(a, b):
    if a is None or b is None:
        return a is b
    sequences = (np.ndarray, list, tuple)
    if isinstance(a, sequences) or isinstance(b, sequences):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.all(a == b))
    return type(a) is type(b) and a == b


class BaseBayesianMixture(DensityMixin, BaseEstimator):
    """Base class of mixtures fitted by posterior sampling (not public).

    Subclasses define the constructor (with ``coreset_size`` and
    ``random_state`` among its parameters), ``_parameter_constraints``,
    ``_check_parameters(X)`` returning findings about X to warn of (a list
    of str), ``_start(X_std, standardization, rng, sample_weight)`` returning
    a :class:`~skbayesmix._initialization.Start`, ``_sampler(X_std, start,
    rng, standardization=, sample_weight=)`` returning a
    :class:`~skbayesmix._inference.ChainSampler`, and ``_max_iterations()``,
    the budget of post-warm-up iterations per chain. ``sample_weight`` is
    None or the rows' weights.
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Sample the posterior of the mixture given X.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Training data. Missing entries (NaN) are marginalised exactly
            (see the user guide, "Missing values"); a row with nothing
            observed is an error. A :class:`dask.array.Array` is summarised
            by a coreset block by block where it lies (see ``coreset_size``).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row: row i's log-likelihood enters
            the posterior w_i times, so integer weights give the posterior of
            the rows repeated as often as their weights say. None weighs
            every row 1.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._fit_rows(X, sample_weight)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the model and return the most probable component of each row of X.

        The component with the largest posterior mean of p(z_i = k | x_i,
        theta) over the draws; see :meth:`predict_proba` for new rows. When
        the fit sampled a coreset, the rows of X are labelled by
        :meth:`predict`.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row, as in :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels (a dask array for a dask X).
        """
        memberships = self._fit_rows(X, sample_weight)
        if memberships is None:
            return self.predict(X)
        return memberships.argmax(axis=1)

    def _fit_rows(self, X, sample_weight):
        """Fit; return the memberships of X's rows, or None if a coreset was fitted."""
        rng = check_random_state(self.random_state)
        X, sample_weight, coreset = training_rows(
            self, X, sample_weight, coreset_size=self.coreset_size,
            n_components=self.n_components, covariance_type=self.covariance_type,
            rng=rng,
        )
        findings = self._check_parameters(X)
        memberships = self._fit(
            X.astype(np.float64, copy=False), findings, sample_weight, rng=rng,
            coreset=coreset,
        )
        # GaussianMixture keeps float32 input's dtype in its attributes and outputs;
        # sampling and densities run in float64 regardless.
        for name in (
            "weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"
        ):
            setattr(self, name, getattr(self, name).astype(X.dtype, copy=False))
        return None if coreset is not None else memberships

    def _fit(self, X, findings, sample_weight, *, rng, coreset):
        """Sample, relabel, summarise; return the training rows' memberships."""
        self._settings = resolve(self, *X.shape)
        chains = self._continuable_chains(X, sample_weight)
        if chains is None:
            standardization = Standardization.fit(
                X, self.covariance_type, standardize=self.standardize,
                sample_weight=sample_weight,
            )
            X_std = standardization.transform(X)
            X_start = _filled(X_std, self.n_components, sample_weight, rng)
            start = self._start(X_start, standardization, rng, sample_weight)
            sampler = self._sampler(
                X_std, start, rng, standardization=standardization,
                sample_weight=sample_weight, X_start=X_start,
            )
            max_iterations = self._max_iterations()
        else:
            sampler, start, standardization = chains
            sampler.progress = progress_line(self)
            max_iterations = int(sampler.iterations.max()) + self._max_iterations()

        lower_bounds = []

        def assess(result):
            fit = self._assess(
                result, start, standardization, X, sampler, sample_weight
            )
            lower_bounds.append(float(np.average(
                fit.summaries.log_predictive_density, weights=sample_weight
            )))
            diagnostics = fit.diagnostics
            worst, threshold, _ = _diagnostics.checked(
                diagnostics, self._settings.overfitted
            )
            more_draws_help = (
                not fit.converged
                and diagnostics["n_modes"] == 1
                and diagnostics["divergences"] == 0
            )
            return fit, Verdict(more_draws_help, worst, threshold)

        result, fit, stopped = sample_until_converged(
            sampler, assess, max_iterations=max_iterations,
            continuing=chains is not None,
        )
        fit.diagnostics["stopped"] = stopped
        fit.diagnostics["coreset"] = coreset
        self._posterior = fit.posterior
        self._set_point_estimates()
        self.n_effective_components_draws_ = fit.n_effective.reshape(
            self._posterior.shape
        )
        self.n_effective_components_ = fit.n_effective_median
        self._maximum_likelihood = _maximum_likelihood.maximum_likelihood(
            X, self._posterior, reg_covar=self.reg_covar, summaries=fit.summaries,
            starts=[self._start_in_data_units(start, standardization)],
            sample_weight=sample_weight,
        )
        self.lower_bound_ = lower_bounds[-1]
        self.lower_bounds_ = lower_bounds
        self.n_iter_ = self.num_warmup + int(sampler.iterations.max())
        self._X_train = X
        self._train_weight = sample_weight
        self._sample_stats = result.sample_stats
        self.posterior_samples_ = self._posterior.samples()
        self.diagnostics_ = fit.diagnostics
        self.converged_ = fit.converged
        self._fitted_params = self.get_params(deep=False)
        if self.warm_start:
            sampler.detach()
            self._chains = _Chains(sampler, start, standardization)
        else:
            self.__dict__.pop("_chains", None)
        self._warn_poor_inference(fit.empty_fraction, findings)
        if self.verbose:
            print(_diagnostics.describe_fit(self))
        return fit.summaries.memberships

    def _continuable_chains(self, X, sample_weight=None):
        """Return the previous fit's chains if this fit continues them, else None.

        Only on the same data and weights with the same parameters, except
        those that do not change the chains (:data:`_CONTINUATION_FREE_PARAMS`).
        """
        chains = getattr(self, "_chains", None)
        if not self.warm_start or chains is None:
            return None
        previous, current = self._fitted_params, self.get_params(deep=False)
        same_params = all(
            _same_value(previous[name], current[name])
            for name in current
            if name not in _CONTINUATION_FREE_PARAMS
        )
        if (
            not same_params
            or not _same_value(self._X_train, X)
            or not _same_value(self._train_weight, sample_weight)
        ):
            return None
        return chains

    def _assess(self, result, start, standardization, X, sampler, sample_weight=None):
        """Relabel and summarise one set of draws; diagnose its convergence."""
        n_samples = total_weight(X, sample_weight)
        posterior = self._relabelled_posterior(
            result, start, standardization, n_samples
        )
        modes = posterior_chain_modes(posterior, X, result.sample_stats["lp"])
        if modes.max() > 0:
            posterior = posterior.with_chain_weights(
                stacked_chain_weights(posterior, X, modes, sample_weight)
            )
        summaries = posterior.summarize(X, sample_weight)
        n_effective, median = _diagnostics.n_effective_components(
            summaries.expected_counts
        )
        empty_fraction, occupied = _diagnostics.occupied_components(
            summaries.expected_counts
        )
        chain_weights = posterior.chain_weights
        if chain_weights is None:
            chain_weights = np.full(len(modes), 1.0 / len(modes))
        diagnostics = _diagnostics.fit_diagnostics(
            posterior.samples(),
            result.sample_stats,
            covariance_type=self.covariance_type,
            modes=modes,
            chain_weights=chain_weights,
            occupied=occupied,
            component_sites=posterior.component_sites,
            dense_mass=self._settings.dense_mass,
            timings=(result.compile_time, result.run_time),
            iterations=(sampler.iterations.max(), sampler.restarts),
        )
        return _Assessment(
            posterior, summaries, diagnostics,
            _diagnostics.is_converged(diagnostics, self._settings.overfitted),
            n_effective, median, empty_fraction,
        )

    def _warn_poor_inference(self, empty_fraction, findings=()):
        """Issue the fit's one ConvergenceWarning, if any, at the user's line.

        Its findings (``findings`` about the data, then those about the
        inference) are kept in ``diagnostics_["warnings"]``; the warning names
        the model and lists them, one per line.
        """
        findings = [*findings, *_diagnostics.poor_inference_messages(
            self.diagnostics_,
            n_components=self.n_components,
            num_chains=self.num_chains,
            overfitted=self._settings.overfitted,
            empty_fraction=empty_fraction,
        )]
        self.diagnostics_["warnings"] = findings
        if findings:
            _warnings.warn(
                _diagnostics.poor_inference_warning(
                    _diagnostics.model_name(self), findings, converged=self.converged_
                ),
                ConvergenceWarning,
                stacklevel=_warnings.caller_stacklevel(),
            )

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

    # --------------------------------------------------------------- prediction

    def _on_blocks(self, method, X):
        """Apply ``method`` to a dask array block by block, lazily.

        Returns the dask array of its results (rows stay in X's chunks), or
        None when X is not a dask array.
        """
        if not is_dask_array(X):
            return None
        check_is_fitted(self)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has shape {X.shape}, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        if method == "predict":
            return map_row_blocks(self, method, X, n_columns=None, dtype=np.intp)
        dtype = np.result_type(X.dtype, self.means_.dtype)
        n_columns = self.n_components if method == "predict_proba" else None
        return map_row_blocks(self, method, X, n_columns=n_columns, dtype=dtype)

    def _validate_X(self, X):
        """Validate X; return it as float64 with the dtype results are returned in.

        Results are float32 only when both the training data and X are float32,
        as in GaussianMixture.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], reset=False,
            ensure_all_finite="allow-nan",
        )
        dtype = np.result_type(X.dtype, self.means_.dtype)
        return X.astype(np.float64, copy=False), dtype

    def predict_proba(self, X):
        """Posterior predictive probability that each row came from each component.

        For a new point x this is sum_s w_sk N(x | mu_sk, Sigma_sk) /
        sum_s p(x | theta_s) over the posterior draws s (over a row's observed
        coordinates when it has missing entries, NaN; a row with nothing
        observed gets the posterior mean weights): the membership that
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
            Rows sum to 1. A dask array, computed block by block, for a dask X.
        """
        on_blocks = self._on_blocks("predict_proba", X)
        if on_blocks is not None:
            return on_blocks
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
            A dask array, computed block by block, for a dask X.
        """
        on_blocks = self._on_blocks("predict", X)
        if on_blocks is not None:
            return on_blocks
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
            log mean_s p(x | theta_s) over the posterior draws; for a row
            with missing entries (NaN), the exact marginal density of its
            observed coordinates (0 for a row with nothing observed). A dask
            array, computed block by block, for a dask X.
        """
        on_blocks = self._on_blocks("score_samples", X)
        if on_blocks is not None:
            return on_blocks
        X, dtype = self._validate_X(X)
        return self._posterior.log_predictive_density(X).astype(dtype, copy=False)

    def score(self, X, y=None, sample_weight=None):
        """Mean log posterior predictive density of X.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            The mean is weighted by it.

        Returns
        -------
        log_density : float
        """
        log_density = self.score_samples(X)
        if is_dask_array(log_density):
            if sample_weight is None:
                return float(log_density.mean().compute())
            total = (log_density * sample_weight).sum() / sample_weight.sum()
            return float(total.compute())
        sample_weight = check_sample_weight(sample_weight, log_density[:, None])
        return float(np.average(log_density, weights=sample_weight))

    def impute(self, X, n_draws=None):
        """Fill the missing entries (NaN) of X from the posterior.

        A missing entry's distribution given the row's observed entries is,
        under each posterior draw, the mixture of the components' Gaussian
        conditionals, weighted by the components' responsibilities for the
        observed entries. With ``n_draws=None`` each missing entry becomes
        its posterior mean (averaged over the draws), as
        :class:`~sklearn.impute.IterativeImputer` returns one completed
        matrix; with an int, ``n_draws`` completed matrices are drawn from
        that distribution (multiple imputation: their spread is the
        uncertainty of each imputed value, e.g. ``np.quantile(draws, [0.05,
        0.95], axis=0)`` gives 90% intervals). Observed entries are kept as
        given. A row with nothing observed gets the posterior predictive
        mean (or draws of it).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing entries as NaN.
        n_draws : int or None, default=None
            None for the posterior mean, else how many completed matrices to
            draw (seeded by ``random_state``).

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features), or \
                (n_draws, n_samples, n_features) with ``n_draws``
        """
        from skbayesmix._missing import impute

        X, dtype = self._validate_X(X)
        if n_draws is not None and (
            not isinstance(n_draws, Integral) or n_draws < 1
        ):
            raise ValueError(f"n_draws must be None or an int >= 1, got {n_draws!r}")
        standardization = self._posterior.standardization
        imputed = standardization.inverse_transform(impute(
            standardization.transform(X), self._posterior.draws, n_draws=n_draws,
            random_state=check_random_state(self.random_state),
        ))
        return np.where(np.isnan(X), imputed, X).astype(dtype, copy=False)

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

    def _max_log_likelihood(self, X, sample_weight=None):
        """Log-likelihood of X at the maximum-likelihood parameters of the fit.

        Returns it with the number of rows (the total weight) it is over.
        """
        X = self._validate_X(X)[0]
        sample_weight = check_sample_weight(sample_weight, X)
        n_samples = total_weight(X, sample_weight)
        if _same_value(self._train_weight, sample_weight) and (
            X is self._X_train
            or (X.shape == self._X_train.shape and np.array_equal(X, self._X_train))
        ):
            return self._maximum_likelihood.log_likelihood, n_samples
        return _maximum_likelihood.log_likelihood_at_maximum(
            X, self._posterior, self._maximum_likelihood, sample_weight
        ), n_samples

    def _n_parameters(self):
        """Count free parameters as GaussianMixture counts them."""
        n_features = self.means_.shape[1]
        return n_parameters(self.n_components, n_features, self.covariance_type)

    def bic(self, X, sample_weight=None):
        """Bayesian information criterion for X (lower is better).

        BIC = -2 log L + p log n: -2 times the log-likelihood of X at the
        maximum-likelihood parameters found at fit time (EM refinement started
        from the posterior), plus the number of free parameters p times the
        log of the number of rows n, GaussianMixture's formula and count.
        With ``sample_weight``, L is the weighted likelihood prod_i
        p(x_i)^{w_i} and n the sum of the weights, so that integer weights
        give the BIC of the rows repeated as often as their weights say.

        The parameters are found once, on the training data: EM
        (GaussianMixture's, with the same ``reg_covar``) started from the
        posterior mean and from the start, keeping the best result that did
        not collapse a component onto a singularity; the posterior draw with
        the largest training likelihood stands in when no EM result beats it.
        Other data are only evaluated at those parameters, so -2 log L is
        additive over disjoint data sets, as a held-out score should be. p
        counts every one of the ``n_components`` components, empty ones
        included: an overfitted mixture is penalised for every component it
        was given (compare models by ``n_effective_components_``,
        :meth:`waic` or :meth:`loo` instead).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row of X.

        Returns
        -------
        bic : float
        """
        log_lik, n_samples = self._max_log_likelihood(X, sample_weight)
        return _criteria.bic(log_lik, self._n_parameters(), n_samples)

    def aic(self, X, sample_weight=None):
        """Akaike information criterion for X (lower is better).

        AIC = -2 log L + 2 p, with the log-likelihood L of X at the
        maximum-likelihood parameters found at fit time (EM refinement started
        from the posterior) and the number of free parameters p, as in
        :meth:`bic` (also for ``sample_weight``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row of X.

        Returns
        -------
        aic : float
        """
        log_lik = self._max_log_likelihood(X, sample_weight)[0]
        return _criteria.aic(log_lik, self._n_parameters())

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

    def waic(self, X=None, sample_weight=None):
        """Widely applicable information criterion (ArviZ).

        The elpd (higher is better) is sum_i log mean_s p(x_i | theta_s) minus
        the effective number of parameters p = sum_i var_s log p(x_i |
        theta_s), over the posterior draws s, computed as
        :func:`arviz.waic` computes it, on the log scale. No warning is
        issued; ``warning`` is True where ArviZ's would warn (some variance
        above 0.4).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Data; None uses the training data (and its weights).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row of X: ``elpd`` and ``p`` are weighted sums of
            the pointwise values (see :func:`skbayesmix._criteria.weighted_total`).

        Returns
        -------
        result : dict
            ``elpd`` (expected log pointwise predictive density, higher is
            better), ``se``, ``p`` (effective number of parameters),
            ``pointwise`` (per row, one copy of it), ``warning`` and
            ``elpd_data`` (ArviZ's result).
        """
        log_lik = self.pointwise_log_likelihood(X)
        if X is None:
            sample_weight = self._train_weight
        else:
            sample_weight = check_sample_weight(sample_weight, log_lik[0, 0][:, None])
        return _criteria.information_criterion(
            log_lik, "waic", sample_weight=sample_weight
        )

    def loo(self):
        """Pareto-smoothed importance-sampling leave-one-out CV (ArviZ).

        The elpd (higher is better) is sum_i log p(x_i | x_-i) on the training
        data, each term estimated from the posterior draws by Pareto-smoothed
        importance sampling, computed as :func:`arviz.loo` computes it, on the
        log scale; after a weighted fit (``sample_weight`` or a coreset), the
        weighted sum of the rows' values. Where some observation's Pareto k
        exceeds ArviZ's threshold the estimate is unreliable, and a
        ConvergenceWarning says so: increase
        ``num_samples``, or compare models by BIC or by a cross-validated
        score instead.

        Returns
        -------
        result : dict
            ``elpd`` (higher is better), ``se``, ``p``, ``pointwise``,
            ``pareto_k`` per observation, ``pareto_k_threshold``,
            ``elpd_data`` (ArviZ's result) and ``warning`` (True when some
            Pareto k exceeds the threshold).
        """
        result = _criteria.information_criterion(
            self.pointwise_log_likelihood(), "loo", posterior=self.posterior_samples_,
            sample_weight=self._train_weight,
        )
        if result["warning"]:
            n_bad = int(np.sum(result["pareto_k"] > result["pareto_k_threshold"]))
            _warnings.warn(
                _diagnostics.pareto_k_message(n_bad, result["pareto_k_threshold"]),
                ConvergenceWarning,
                stacklevel=_warnings.caller_stacklevel(),
            )
        return result

    def to_inference_data(self):
        """Return the relabelled posterior as an :class:`arviz.InferenceData`.

        Returns
        -------
        idata : arviz.InferenceData
            Groups ``posterior`` (weights, means, covariances in data units;
            dimensions ``component``, ``feature``, and ``feature_i`` and
            ``feature_j`` for covariance matrices, with the feature names as
            coordinates when X had them),
            ``sample_stats`` (diverging, n_steps, acceptance_rate, step_size,
            energy, lp), ``log_likelihood`` (per observation, variable ``x``) and
            ``observed_data``. After a weighted fit (``sample_weight`` or a
            coreset) these are the fitted rows, one copy each: ArviZ's own
            ``az.loo``/``az.waic`` then ignore the weights, which
            :meth:`loo` and :meth:`waic` apply.
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
            covariance_type=self.covariance_type,
            feature_names=getattr(self, "feature_names_in_", None),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
