"""BayesianGMM: scikit-learn glue, validation and fitted attributes."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from skbayesmix import _diagnostics
from skbayesmix._density import (
    MixtureDraws,
    compute_precision_cholesky,
    draw_summaries,
    log_predictive_density,
    pointwise_log_likelihood,
    posterior_memberships,
)
from skbayesmix._initialization import (
    initial_values,
    jittered_chain_values,
    kmeans_start,
)
from skbayesmix._relabel import apply_permutations, relabel_permutations

# Sites with a component axis right after (chain, draw), per covariance type.
_COMPONENT_SITES = {
    "full": ("weights", "means", "covariances"),
    "tied": ("weights", "means"),
    "diag": ("weights", "means", "covariances"),
    "spherical": ("weights", "means", "covariances"),
}


class BayesianGMM(DensityMixin, BaseEstimator):
    """Bayesian Gaussian mixture fitted by NUTS, a drop-in for GaussianMixture.

    The mixture is sampled in its marginalised form (the assignments are integrated
    out) by NumPyro's No-U-Turn sampler, with priors centred on a k-means solution
    and chains started there. Every prediction is an average over the posterior
    draws, after the draws have been relabelled to undo label switching.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.

    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        As in :class:`sklearn.mixture.GaussianMixture`: one full covariance per
        component, one shared full covariance, one diagonal covariance per
        component, or one variance per component.

    weight_concentration : float, default=0.5
        Concentration of the symmetric Dirichlet prior on the weights. Well below
        1 (e.g. 0.01) with a generous ``n_components``, surplus components empty.

    mean_prior_scale : float, default=1.0
        Standard deviation of the Normal prior on each mean around its k-means
        centre (or ``mean_prior``), in standardised units: 1.0 is one standard
        deviation of the data, a weakly informative prior.

    scale_prior : float, default=1.0
        Scale of the half-Cauchy prior on component standard deviations, in
        standardised units.

    lkj_concentration : float, default=2.0
        Concentration of the LKJ prior on correlation matrices ('full' and 'tied').
        1.0 is uniform over correlations; 2.0 mildly favours weak correlations and
        keeps NUTS away from degenerate, near-singular covariances.

    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance, in standardised units, so that
        the fit stays invariant to rescaling the data.

    init_params : {'kmeans'}, default='kmeans'
        How prior centres and chain starting values are chosen.

    mean_prior : array-like of shape (n_features,) or (n_components, n_features), \
            default=None
        Fixed centre of the prior on the means, in data units. None centres each
        component's prior on its k-means centroid.

    standardize : bool, default=True
        Centre and scale the data before sampling, so that the priors are
        expressed in units of the data's spread and the fit is invariant to
        affine rescaling. With False the priors are in data units.

    num_warmup : int, default=500
        Warm-up (adaptation) iterations per chain.

    num_samples : int, default=500
        Posterior draws kept per chain.

    num_chains : int, default=2
        Number of chains.

    chain_method : {'sequential', 'vectorized'}, default='sequential'
        How chains run inside the single compiled program: one after the other
        (fastest to compile, and as fast to run on CPU) or vectorised with
        :func:`jax.vmap`.

    target_accept_prob : float, default=0.8
        Target acceptance probability of NUTS' step-size adaptation. Increase it
        (e.g. to 0.95) when there are divergent transitions.

    max_tree_depth : int, default=10
        Maximum depth of NUTS' trajectory tree.

    random_state : int, RandomState instance or None, default=None
        Seeds k-means, the chains' starting jitter, the sampler's key and
        :meth:`sample`. An int gives identical fits.

    verbose : int, default=0
        0 prints nothing; 1 prints a summary of the fit and its diagnostics.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Posterior mean of the mixture weights.

    means_ : ndarray of shape (n_components, n_features)
        Posterior mean of the component means.

    covariances_ : ndarray
        Posterior mean of the covariances, shaped as in GaussianMixture:
        (n_components, n_features, n_features) if 'full', (n_features, n_features)
        if 'tied', (n_components, n_features) if 'diag', (n_components,) if
        'spherical'.

    precisions_ : ndarray
        Inverse of ``covariances_``, same shape.

    precisions_cholesky_ : ndarray
        Upper-triangular Cholesky factor of ``precisions_``, same shape.

    converged_ : bool
        True when there were no divergent transitions and every R-hat is below
        1.01.

    n_iter_ : int
        Iterations run per chain (``num_warmup + num_samples``).

    lower_bound_ : float
        Mean log posterior predictive density of the training data.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    posterior_samples_ : dict of ndarray
        ``weights``, ``means``, ``covariances`` (data units, relabelled), each with
        leading (num_chains, num_samples) axes.

    diagnostics_ : dict
        ``r_hat``, ``ess_bulk``, ``ess_tail`` (dicts per site), ``max_r_hat``,
        ``min_ess_bulk``, ``divergences`` (post-warm-up divergent transitions),
        ``divergences_per_chain``, ``warmup_divergences``, ``accept_rate`` and
        ``step_size`` per chain, ``mean_tree_size``, ``compile_time`` and
        ``sampling_time`` in seconds.

    n_effective_components_ : int
        Posterior median of the number of components whose expected membership
        count in the training data is at least one observation.

    n_effective_components_draws_ : ndarray of shape (num_chains, num_samples)
        That number for every draw: its posterior distribution.

    See Also
    --------
    sklearn.mixture.GaussianMixture : Maximum-likelihood mixture fitted by EM.
    sklearn.mixture.BayesianGaussianMixture : Variational Bayesian mixture.

    Notes
    -----
    In standardised space the model is::

        w        ~ Dirichlet(weight_concentration)
        mu_k     ~ Normal(m_k, mean_prior_scale**2 I)      # m_k: k-means centre
        sigma_kd ~ HalfCauchy(scale_prior)
        Omega_k  ~ LKJCholesky(lkj_concentration)         # 'full' and 'tied'
        x_i      ~ sum_k w_k Normal(mu_k, Sigma_k)

    with ``Sigma_k = diag(sigma_k) Omega_k diag(sigma_k) + reg_covar I``. The
    sampler is compiled once per structure (n_components, n_features, covariance
    type, sampler settings and a size bucket of n_samples) and reused by every
    later fit in the process.

    References
    ----------
    .. [1] M. D. Hoffman and A. Gelman, "The No-U-Turn Sampler", JMLR 15, 2014.
    .. [2] M. Stephens, "Dealing with label switching in mixture models",
       JRSS B 62(4), 2000.

    Examples
    --------
    >>> import numpy as np
    >>> from skbayesmix import BayesianGMM
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gmm = BayesianGMM(n_components=2, num_warmup=20, num_samples=20,
    ...                   random_state=0).fit(X)  # doctest: +SKIP
    >>> gmm.predict([[0, 0], [12, 3]])  # doctest: +SKIP
    array([0, 1])
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "weight_concentration": [Interval(Real, 0.0, None, closed="neither")],
        "mean_prior_scale": [Interval(Real, 0.0, None, closed="neither")],
        "scale_prior": [Interval(Real, 0.0, None, closed="neither")],
        "lkj_concentration": [Interval(Real, 0.0, None, closed="neither")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "init_params": [StrOptions({"kmeans"})],
        "mean_prior": ["array-like", None],
        "standardize": ["boolean"],
        "num_warmup": [Interval(Integral, 1, None, closed="left")],
        "num_samples": [Interval(Integral, 1, None, closed="left")],
        "num_chains": [Interval(Integral, 1, None, closed="left")],
        "chain_method": [StrOptions({"sequential", "vectorized"})],
        "target_accept_prob": [Interval(Real, 0.0, 1.0, closed="neither")],
        "max_tree_depth": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        weight_concentration=0.5,
        mean_prior_scale=1.0,
        scale_prior=1.0,
        lkj_concentration=2.0,
        reg_covar=1e-6,
        init_params="kmeans",
        mean_prior=None,
        standardize=True,
        num_warmup=500,
        num_samples=500,
        num_chains=2,
        chain_method="sequential",
        target_accept_prob=0.8,
        max_tree_depth=10,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.weight_concentration = weight_concentration
        self.mean_prior_scale = mean_prior_scale
        self.scale_prior = scale_prior
        self.lkj_concentration = lkj_concentration
        self.reg_covar = reg_covar
        self.init_params = init_params
        self.mean_prior = mean_prior
        self.standardize = standardize
        self.num_warmup = num_warmup
        self.num_samples = num_samples
        self.num_chains = num_chains
        self.chain_method = chain_method
        self.target_accept_prob = target_accept_prob
        self.max_tree_depth = max_tree_depth
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting

    def _check_parameters(self, X):
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got "
                f"n_components = {self.n_components}, n_samples = {n_samples}"
            )
        if self.mean_prior is not None:
            mean_prior = np.asarray(self.mean_prior, dtype=np.float64)
            if mean_prior.shape not in (
                (n_features,),
                (self.n_components, n_features),
            ):
                raise ValueError(
                    "mean_prior must have shape (n_features,) or (n_components, "
                    f"n_features) = ({self.n_components}, {n_features}), "
                    f"got {mean_prior.shape}"
                )
            if not np.all(np.isfinite(mean_prior)):
                raise ValueError("mean_prior contains NaN or infinity.")

    def _standardization(self, X):
        """Centre and scale of the affine map into the sampler's space."""
        n_features = X.shape[1]
        if not self.standardize:
            return np.zeros(n_features), np.ones(n_features)
        center = X.mean(axis=0)
        scale = X.std(axis=0)
        if self.covariance_type == "spherical":
            # One common scale keeps isotropic components isotropic.
            scale = np.full(n_features, np.sqrt(np.mean(scale**2)))
        # A constant feature keeps unit scale rather than dividing by zero.
        scale = np.where(scale > 0, scale, 1.0)
        return center, scale

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
        self._fit(X.astype(np.float64, copy=False))
        return self.predict(X)

    def _fit(self, X):
        from skbayesmix import _inference  # the JAX boundary, imported on first fit

        rng = check_random_state(self.random_state)
        self._center, self._scale = self._standardization(X)
        X_std = (X - self._center) / self._scale
        centers, labels = kmeans_start(X_std, self.n_components, random_state=rng)
        if self.mean_prior is None:
            prior_loc = centers
        else:
            mean_prior = np.asarray(self.mean_prior, dtype=np.float64)
            prior_loc = np.broadcast_to(
                (mean_prior - self._center) / self._scale, centers.shape
            ).copy()
        start = initial_values(X_std, centers, labels, self.covariance_type)
        chain_start = jittered_chain_values(start, self.num_chains, rng)
        hyper = {
            "weight_concentration": self.weight_concentration,
            "mean_prior_loc": prior_loc,
            "mean_prior_scale": self.mean_prior_scale,
            "scale_prior": self.scale_prior,
            "lkj_concentration": self.lkj_concentration,
            "reg_covar": self.reg_covar,
        }
        structure = _inference.ModelStructure(
            self.n_components, self.covariance_type, "simplex"
        )
        settings = _inference.SamplerSettings(
            num_warmup=self.num_warmup,
            num_samples=self.num_samples,
            num_chains=self.num_chains,
            chain_method=self.chain_method,
            target_accept_prob=float(self.target_accept_prob),
            max_tree_depth=self.max_tree_depth,
        )
        seed = int(rng.randint(np.iinfo(np.int32).max))
        result = _inference.run_nuts(X_std, chain_start, hyper, structure, settings, seed)

        samples = self._to_data_units(result.samples)
        samples = self._relabel(samples, reference=centers * self._scale + self._center)
        self.posterior_samples_ = samples
        self._draws = self._flatten_draws(samples)
        self._set_point_estimates(samples)
        self._sample_stats = result.sample_stats

        total_log_lik, counts = draw_summaries(X, self._draws)
        self._max_log_likelihood = float(total_log_lik.max())
        n_effective = np.sum(counts >= 1.0, axis=1)
        self.n_effective_components_draws_ = n_effective.reshape(
            self.num_chains, self.num_samples
        )
        self.n_effective_components_ = int(np.round(np.median(n_effective)))
        self.lower_bound_ = float(np.mean(log_predictive_density(X, self._draws)))
        self.n_iter_ = self.num_warmup + self.num_samples
        self._X_train = X
        self._set_diagnostics(result)
        self._warn_on_poor_inference()
        if self.verbose:
            self._print_summary()

    def _to_data_units(self, samples):
        """Weights, means and covariances in data units from the sampled sites."""
        scale, center = self._scale, self._center
        variances_reg = self.reg_covar
        sites = {"weights": samples["weights"]}
        sites["means"] = samples["means"] * scale + center
        scales = samples["scales"]
        if self.covariance_type in ("full", "tied"):
            if "corr_cholesky" in samples:
                chol = scales[..., :, None] * samples["corr_cholesky"]
            else:
                chol = scales[..., None]
            cov = chol @ np.swapaxes(chol, -1, -2)
            n_features = cov.shape[-1]
            cov = cov + variances_reg * np.eye(n_features)
            cov = cov * scale[:, None] * scale[None, :]
        elif self.covariance_type == "diag":
            cov = (scales**2 + variances_reg) * scale**2
        else:
            cov = (scales**2 + variances_reg) * scale[0] ** 2
        sites["covariances"] = cov
        return sites

    def _relabel(self, samples, reference):
        """Permute every draw's components to match the reference means."""
        n_chains, n_draws = samples["weights"].shape[:2]
        flat = {
            name: value.reshape((n_chains * n_draws,) + value.shape[2:])
            for name, value in samples.items()
        }
        permutations = relabel_permutations(flat["means"], reference, scale=self._scale)
        for name in _COMPONENT_SITES[self.covariance_type]:
            flat[name] = apply_permutations(flat[name], permutations)
        self._permutations = permutations.reshape(n_chains, n_draws, -1)
        return {
            name: value.reshape((n_chains, n_draws) + value.shape[1:])
            for name, value in flat.items()
        }

    def _flatten_draws(self, samples):
        flat = {
            name: value.reshape((-1,) + value.shape[2:])
            for name, value in samples.items()
        }
        return MixtureDraws(
            weights=flat["weights"],
            means=flat["means"],
            precisions_cholesky=compute_precision_cholesky(
                flat["covariances"], self.covariance_type
            ),
            covariance_type=self.covariance_type,
        )

    def _set_point_estimates(self, samples):
        weights = samples["weights"].mean(axis=(0, 1))
        self.weights_ = weights / weights.sum()
        self.means_ = samples["means"].mean(axis=(0, 1))
        self.covariances_ = samples["covariances"].mean(axis=(0, 1))
        self.precisions_cholesky_ = compute_precision_cholesky(
            self.covariances_, self.covariance_type
        )
        if self.covariance_type in ("full", "tied"):
            chol = self.precisions_cholesky_
            self.precisions_ = chol @ np.swapaxes(chol, -1, -2)
        else:
            self.precisions_ = self.precisions_cholesky_**2

    def _set_diagnostics(self, result):
        stats = result.sample_stats
        summary = _diagnostics.convergence_summary(self.posterior_samples_)
        divergences_per_chain = stats["diverging"].sum(axis=1).astype(int)
        self.diagnostics_ = {
            **summary,
            "divergences": int(divergences_per_chain.sum()),
            "divergences_per_chain": divergences_per_chain,
            "warmup_divergences": np.asarray(stats["warmup_divergences"]).astype(int),
            "accept_rate": stats["acceptance_rate"][:, -1].astype(float),
            "step_size": stats["step_size"][:, -1].astype(float),
            "mean_tree_size": float(stats["n_steps"].mean()),
            "compile_time": float(result.compile_time),
            "sampling_time": float(result.run_time),
        }
        self.converged_ = bool(
            self.diagnostics_["divergences"] == 0
            and self.diagnostics_["max_r_hat"] < _diagnostics.R_HAT_THRESHOLD
        )

    def _warn_on_poor_inference(self):
        diag = self.diagnostics_
        n_draws = self.num_chains * self.num_samples
        if diag["divergences"]:
            warnings.warn(
                f"{diag['divergences']} of {n_draws} post-warm-up transitions were "
                "divergent: the posterior is not explored reliably. Increase "
                "target_accept_prob (e.g. to 0.95), or reduce n_components if some "
                "components are empty.",
                ConvergenceWarning,
                stacklevel=4,
            )
        if diag["max_r_hat"] >= _diagnostics.R_HAT_THRESHOLD:
            warnings.warn(
                f"Max R-hat is {diag['max_r_hat']:.3f} (above "
                f"{_diagnostics.R_HAT_THRESHOLD}): the chains disagree. Increase "
                "num_warmup and num_samples, or reduce n_components.",
                ConvergenceWarning,
                stacklevel=4,
            )
        min_ess = diag["min_ess_bulk"]
        if np.isfinite(min_ess) and min_ess < _diagnostics.MIN_ESS_PER_CHAIN * self.num_chains:
            warnings.warn(
                f"Min bulk ESS is {min_ess:.0f}, below "
                f"{_diagnostics.MIN_ESS_PER_CHAIN} per chain: posterior summaries "
                "are noisy. Increase num_samples.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _print_summary(self):
        diag = self.diagnostics_
        print(
            f"BayesianGMM(n_components={self.n_components}, covariance_type="
            f"'{self.covariance_type}'): {self.num_chains} chains x "
            f"{self.num_warmup}+{self.num_samples}, compile "
            f"{diag['compile_time']:.1f}s, sampling {diag['sampling_time']:.1f}s, "
            f"divergences {diag['divergences']}, max R-hat {diag['max_r_hat']:.3f}, "
            f"min ESS {diag['min_ess_bulk']:.0f}, effective components "
            f"{self.n_effective_components_}"
        )

    # --------------------------------------------------------------- prediction

    def _check_X(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return X.astype(np.float64, copy=False)

    def predict_proba(self, X):
        """Posterior mean membership probability of each component.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components)
            Mean over posterior draws of p(z = k | x, theta); rows sum to 1.
        """
        X = self._check_X(X)
        return posterior_memberships(X, self._draws)

    def predict(self, X):
        """Most probable component of each row of X under the posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.predict_proba(X).argmax(axis=1)

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
        X = self._check_X(X)
        return log_predictive_density(X, self._draws)

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
                "Invalid value for 'n_samples': %d . The sampling requires at "
                "least one sample." % n_samples
            )
        rng = check_random_state(self.random_state)
        draws = self.posterior_samples_
        weights = self._draws.weights
        means = self._draws.means
        covariances = draws["covariances"].reshape(
            (-1,) + draws["covariances"].shape[2:]
        )
        n_draws, n_components, n_features = means.shape
        draw_index = rng.randint(n_draws, size=n_samples)
        cumulative = np.cumsum(weights[draw_index], axis=1)
        u = rng.uniform(size=(n_samples, 1)) * cumulative[:, -1:]
        labels = np.minimum((u > cumulative).sum(axis=1), n_components - 1)
        noise = rng.standard_normal((n_samples, n_features))
        if self.covariance_type in ("full", "tied"):
            cov = covariances[draw_index]
            if self.covariance_type == "full":
                cov = cov[np.arange(n_samples), labels]
            noise = np.einsum("nij,nj->ni", np.linalg.cholesky(cov), noise)
        elif self.covariance_type == "diag":
            noise = noise * np.sqrt(covariances[draw_index, labels])
        else:
            noise = noise * np.sqrt(covariances[draw_index, labels])[:, None]
        X = means[draw_index, labels] + noise
        order = np.argsort(labels, kind="stable")
        return X[order], labels[order]

    # ------------------------------------------------------ model comparison

    def _n_parameters(self):
        """Number of free parameters, counted as GaussianMixture counts them."""
        n_features = self.means_.shape[1]
        k = self.n_components
        if self.covariance_type == "full":
            cov_params = k * n_features * (n_features + 1) / 2.0
        elif self.covariance_type == "diag":
            cov_params = k * n_features
        elif self.covariance_type == "tied":
            cov_params = n_features * (n_features + 1) / 2.0
        else:
            cov_params = k
        return int(cov_params + n_features * k + k - 1)

    def _max_draw_log_likelihood(self, X):
        X = self._check_X(X)
        if X is self._X_train or (
            X.shape == self._X_train.shape and np.array_equal(X, self._X_train)
        ):
            return self._max_log_likelihood
        return float(draw_summaries(X, self._draws)[0].max())

    def bic(self, X):
        """Bayesian information criterion for X (lower is better).

        The log-likelihood is that of the posterior draw with the highest
        log-likelihood on X; the parameter count is GaussianMixture's.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        bic : float
        """
        log_lik = self._max_draw_log_likelihood(X)
        return -2 * log_lik + self._n_parameters() * np.log(np.shape(X)[0])

    def aic(self, X):
        """Akaike information criterion for X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        aic : float
        """
        return -2 * self._max_draw_log_likelihood(X) + 2 * self._n_parameters()

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
        X = self._X_train if X is None else self._check_X(X)
        log_lik = pointwise_log_likelihood(X, self._draws)
        return log_lik.reshape(self.num_chains, self.num_samples, -1)

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
            ``pointwise`` and ``warning``.
        """
        check_is_fitted(self)
        return _diagnostics.information_criterion(
            self.pointwise_log_likelihood(X), "waic"
        )

    def loo(self):
        """Pareto-smoothed importance-sampling leave-one-out CV (ArviZ).

        Returns
        -------
        result : dict
            ``elpd`` (higher is better), ``se``, ``p``, ``pointwise``,
            ``pareto_k`` per observation and ``warning`` (True when some Pareto
            k exceeds ArviZ's threshold, in which case a ConvergenceWarning is
            also issued).
        """
        check_is_fitted(self)
        result = _diagnostics.information_criterion(
            self.pointwise_log_likelihood(), "loo"
        )
        if result["warning"]:
            n_bad = int(np.sum(result["pareto_k"] > result["pareto_k_threshold"]))
            warnings.warn(
                f"PSIS-LOO is unreliable: {n_bad} observations have Pareto k above "
                f"{result['pareto_k_threshold']:.2f}. Increase num_samples, or "
                "compare models by BIC or held-out score instead.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return result

    def to_inference_data(self):
        """The relabelled posterior as an :class:`arviz.InferenceData`.

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
            if name != "warmup_divergences"
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
