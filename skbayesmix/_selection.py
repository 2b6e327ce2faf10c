"""Choosing the number of components: BayesianGMMSelector."""

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import (
    BaseEstimator,
    DensityMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from skbayesmix._bayesian_gmm import BayesianGMM
from skbayesmix._candidates import (
    candidate_grid,
    candidate_line,
    describe,
    fit_and_evaluate,
    not_converged_line,
    results_table,
)
from skbayesmix._covariance import COVARIANCE_TYPES
from skbayesmix._criteria import CRITERIA, ELPD_CRITERIA, select
from skbayesmix._dask import is_dask_array
from skbayesmix._diagnostics import model_name, pareto_k_message
from skbayesmix._training_rows import check_sample_weight, training_rows
from skbayesmix._warnings import caller_stacklevel, warn
from skbayesmix._weighted_em import weighted_criterion


def _largest(n_components_range):
    """Return the grid's largest number of components (1 if it is malformed).

    :func:`~skbayesmix._candidates.candidate_grid` then says what is wrong.
    """
    try:
        return max(1, int(np.max(n_components_range)))
    except (TypeError, ValueError):
        return 1


def _estimator_has(attr):
    """Delegate availability to the winner once fitted, else to the estimator."""

    def check(self):
        if hasattr(self, "best_estimator_"):
            getattr(self.best_estimator_, attr)
        else:
            getattr(BayesianGMM if self.estimator is None else self.estimator, attr)
        return True

    return check


class BayesianGMMSelector(MetaEstimatorMixin, DensityMixin, BaseEstimator):
    """Choose the number of mixture components by BIC, AIC, ICL, WAIC or PSIS-LOO.

    Fits a clone of ``estimator`` for every candidate number of components (and
    every covariance type in ``covariance_types``), computes every criterion
    the fitted candidates support, and keeps the candidate that ``criterion``
    prefers. Candidates are fitted through :class:`joblib.Parallel`, so they run
    in parallel with ``n_jobs`` or on a Dask cluster under
    ``joblib.parallel_backend("dask")``. The selector is an estimator itself: it
    delegates prediction to the winner and can be a step of a
    :class:`~sklearn.pipeline.Pipeline` or tuned by
    :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    estimator : estimator object, default=None
        Mixture with ``fit``, ``bic`` and an ``n_components`` parameter, and
        optionally ``aic``, ``predict_proba`` (for ICL), ``waic`` and ``loo``.
        It is cloned for every candidate and never modified. None uses
        ``BayesianGMM()``.

    n_components_range : tuple of int, default=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
        Candidate numbers of components.

    covariance_types : {'full', 'tied', 'diag', 'spherical'} or tuple of \
            those, default=None
        Covariance structures to compare, as mclust compares its models. None
        uses the estimator's own ``covariance_type``.

    criterion : {'bic', 'aic', 'icl', 'waic', 'loo'}, default='bic'
        How the winner is chosen: lowest BIC, AIC or ICL, or, for WAIC and
        PSIS-LOO, the one-standard-error rule on the elpd (see Notes). 'waic'
        and 'loo' need an estimator with ``waic()`` and ``loo()`` methods, such
        as :class:`BayesianGMM`.

    n_jobs : int, default=None
        Number of candidates fitted in parallel by :class:`joblib.Parallel`.
        None means 1 unless in a :func:`joblib.parallel_backend` context; -1
        uses all processors.

    verbose : int, default=0
        0 prints nothing; 1 or more prints one line per candidate with its
        criteria, as candidates finish, and at the end one line naming the
        candidates not chosen that did not converge.

    Attributes
    ----------
    estimator_ : estimator object
        The unfitted estimator cloned for every candidate (``BayesianGMM()`` when
        ``estimator`` is None).

    coreset_ : dict or None
        None when the candidates were fitted to X itself; else the coreset
        they were all fitted to (as a BayesianGMM's
        ``diagnostics_["coreset"]``), with ``estimator_``'s ``coreset_size``
        then None.

    cv_results_ : dict of ndarray
        One row per candidate, in the order covariance type, then
        ``n_components_range``; load it with ``pandas.DataFrame(cv_results_)``.
        Keys:

        - ``n_components``, ``covariance_type``, ``n_parameters`` (free
          parameters, counted as GaussianMixture counts them);
        - ``bic``, ``aic``, ``icl``: lower is better;
        - ``elpd_waic``, ``se_elpd_waic``, ``p_waic``, ``elpd_loo``,
          ``se_elpd_loo``, ``p_loo``: expected log pointwise predictive
          density (higher is better), its standard error and the effective
          number of parameters;
        - ``d_elpd_waic``, ``dse_elpd_waic``, ``d_elpd_loo``, ``dse_elpd_loo``:
          elpd of the best candidate minus this one's, and the standard error
          of that difference;
        - ``n_bad_pareto_k``: observations whose Pareto k exceeds ArviZ's
          threshold (PSIS-LOO unreliable when positive);
        - ``rank_bic``, ``rank_aic``, ``rank_icl``, ``rank_waic``,
          ``rank_loo``: rank of each candidate by that criterion's value
          (1 is best; candidates without the criterion rank last);
        - ``max_r_hat``, ``min_ess_bulk`` (float), ``divergences`` (int):
          the sampler diagnostics of the candidate's ``diagnostics_``;
        - ``converged`` (bool): the candidate's ``converged_``;
        - ``n_modes`` (int): the number of posterior modes the fit reports
          (``diagnostics_["n_modes"]``, 1 when it reports none);
        - ``fit_time``, ``score_time``: seconds to fit and to compute the
          criteria;
        - ``params``: list of the parameters set on each clone.

        A criterion the estimator does not support is NaN, as are diagnostics
        of an estimator without ``diagnostics_`` (such as
        :class:`~sklearn.mixture.GaussianMixture`); the integer and boolean
        diagnostic columns are :class:`numpy.ma.MaskedArray` whose entries
        are masked then.

    best_index_ : int
        Row of ``cv_results_`` of the chosen candidate.

    best_n_components_ : int
        Number of components of the chosen candidate.

    best_covariance_type_ : str
        Covariance type of the chosen candidate.

    best_estimator_ : estimator object
        The fitted clone of the chosen candidate (no refit).

    best_score_ : float
        The chosen candidate's value of ``criterion`` on its natural scale:
        BIC, AIC or ICL (lower is better), or elpd for 'waic' and 'loo'
        (higher is better).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    BayesianGMM : The Bayesian mixture fitted per candidate.
    bic_score : Scorer for GridSearchCV (negative BIC).
    sklearn.model_selection.GridSearchCV : Cross-validated search.

    Notes
    -----
    BIC is ``-2 log L + p log n`` and AIC ``-2 log L + 2 p``, lower is better,
    with scikit-learn's formulas and parameter counts p: for
    :class:`BayesianGMM`, log L is the training log-likelihood at the
    maximum-likelihood parameters found at fit time (EM refinement started
    from the posterior; see :meth:`BayesianGMM.bic`), for scikit-learn's
    mixtures at their fitted parameters. ICL is BIC plus twice the entropy of the
    posterior membership probabilities z (``predict_proba`` on the training
    data)::

        ICL = BIC - 2 * sum_i sum_k z_ik log z_ik

    so it penalises overlapping components; it is mclust's ICL with the sign
    flipped to "lower is better" and soft memberships in place of hard ones
    (McLachlan and Peel's ICL-BIC) [2]_.

    WAIC and PSIS-LOO [1]_ come from ArviZ on the per-observation
    log-likelihood of the marginalised mixture. Both are nearly flat once K
    reaches the true number of components (extra components get almost no
    weight), so picking the largest elpd would choose a larger K by noise.
    The selector therefore applies the one-standard-error rule: among the
    candidates whose elpd is within one standard error of the best elpd, it
    chooses the simplest (fewest free parameters, then fewest components). The
    standard error is that of the elpd difference to the best candidate,
    computed from the paired pointwise contributions as
    :func:`arviz.compare` does, or the best candidate's own standard error when
    pointwise values are unavailable. Differences below 4 count as negligible
    whatever their standard error [3]_: the paired standard error of two
    nearly identical models (K=3 and K=4 on three blobs) is well below 1, so
    without this floor the Monte Carlo noise of the elpd estimates (about 1
    with a few hundred draws) would decide between them.

    Warnings concern the chosen candidate only and are issued after the
    choice. Its own :class:`~sklearn.exceptions.ConvergenceWarning` is one per
    fit: it names the model and lists the findings (divergences, high R-hat,
    low ESS, empty components, or for
    :class:`~sklearn.mixture.GaussianMixture` an EM that did not converge):
    ``"BayesianGMM(n_components=3, covariance_type='full') did not converge:"``
    followed by one line per finding. A warning that does not start with the
    model's name is tagged with it, as in ``"[n_components=3,
    covariance_type='full'] ..."``; so is, with ``criterion='loo'`` only, the
    warning that some Pareto k exceed the threshold (PSIS-LOO unreliable:
    increase ``num_samples``, or compare models by BIC or by a
    cross-validated score instead). Candidates not chosen do not warn:
    ``cv_results_`` holds their diagnostics, and ``verbose > 0`` prints one
    line naming those that did not converge. Warnings are collected per
    candidate without touching the process-wide warning filters, so fitting
    in threads is safe; an estimator other than :class:`BayesianGMM` or
    scikit-learn's mixtures warns as it does on its own.

    Criteria that need posterior draws (WAIC, PSIS-LOO) are NaN for an
    estimator without ``waic``/``loo``, such as
    :class:`~sklearn.mixture.GaussianMixture`, which is convenient for cheap
    checks.

    Candidates are independent: ``n_jobs=-1`` fits them in parallel processes,
    and fitting inside ``joblib.parallel_backend("dask")`` spreads them over a
    Dask cluster (see the user guide, "Scaling out with Dask").

    References
    ----------
    .. [1] A. Vehtari, A. Gelman and J. Gabry, "Practical Bayesian model
       evaluation using leave-one-out cross-validation and WAIC", Statistics and
       Computing 27, 2017.
    .. [2] C. Biernacki, G. Celeux and G. Govaert, "Assessing a mixture model for
       clustering with the integrated completed likelihood", IEEE TPAMI 22(7),
       2000.
    .. [3] T. Sivula, M. Magnusson, A. A. Matamoros and A. Vehtari, "Uncertainty
       in Bayesian leave-one-out cross-validation based model comparison",
       arXiv:2008.10296, 2022.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.mixture import GaussianMixture
    >>> from skbayesmix import BayesianGMM, BayesianGMMSelector
    >>> X, _ = make_blobs(n_samples=300, centers=[[-4, 0], [4, 0], [0, 6]],
    ...                   random_state=0)
    >>> selector = BayesianGMMSelector(
    ...     GaussianMixture(random_state=0), n_components_range=(1, 2, 3, 4, 5)
    ... ).fit(X)
    >>> selector.best_n_components_
    3

    With MCMC and PSIS-LOO (slower, compiles one sampler per K):

    >>> selector = BayesianGMMSelector(
    ...     BayesianGMM(num_warmup=200, num_samples=200, random_state=0),
    ...     n_components_range=(1, 2, 3, 4, 5), criterion="loo",
    ... ).fit(X)  # doctest: +SKIP
    >>> selector.best_n_components_  # doctest: +SKIP
    3

    On a Dask cluster:

    >>> import joblib
    >>> from dask.distributed import Client  # doctest: +SKIP
    >>> client = Client(n_workers=2, threads_per_worker=1)  # doctest: +SKIP
    >>> with joblib.parallel_backend("dask"):  # doctest: +SKIP
    ...     selector.fit(X)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "bic"]), None],
        "n_components_range": ["array-like"],
        "covariance_types": [StrOptions(set(COVARIANCE_TYPES)), list, tuple, None],
        "criterion": [StrOptions(set(CRITERIA))],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_components_range=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
        covariance_types=None,
        criterion="bic",
        n_jobs=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.n_components_range = n_components_range
        self.covariance_types = covariance_types
        self.criterion = criterion
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Fit every candidate and choose one by ``criterion``.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row, given to every candidate's fit and criteria
            (see :meth:`BayesianGMM.fit`). BIC and AIC count n as the sum of
            the weights.

        Returns
        -------
        self : object
            The fitted selector.

        Notes
        -----
        When the estimator's ``coreset_size`` asks for a coreset of X, one
        coreset is drawn here, around a k-means solution with the largest
        number of components of the grid, and every candidate is fitted to it
        (with ``coreset_size=None``) and scored on it: the criteria compare the
        candidates on the same weighted rows.
        """
        X_given = X
        self.estimator_ = (
            BayesianGMM() if self.estimator is None else clone(self.estimator)
        )
        params = self.estimator_.get_params()
        X, sample_weight, coreset = training_rows(
            self, X, sample_weight,
            coreset_size=params.get("coreset_size"),
            n_components=_largest(self.n_components_range),
            covariance_type=params.get("covariance_type", "full"),
            rng=check_random_state(params.get("random_state")),
        )
        # Candidates see a DataFrame as given, so that they keep its feature
        # names; other input (and a coreset) as validated.
        if not hasattr(self, "feature_names_in_") or coreset is not None:
            X_given = X
        if coreset is not None:
            self.estimator_.set_params(coreset_size=None)
        n_components_range, covariance_types = candidate_grid(
            self, self.estimator_, X
        )

        candidate_params = []
        for covariance_type in covariance_types:
            for n_components in n_components_range:
                params = {"n_components": n_components}
                if self.covariance_types is not None:
                    params["covariance_type"] = covariance_type
                candidate_params.append(params)
        if self.verbose:
            print(
                f"BayesianGMMSelector: fitting {len(candidate_params)} candidates "
                f"(n_components {n_components_range}, covariance types "
                f"{list(covariance_types)}), criterion={self.criterion!r}"
            )

        results = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(fit_and_evaluate)(
                clone(self.estimator_).set_params(**params), X_given, sample_weight
            )
            for params in candidate_params
        )
        fitted, scores, ic_results, issued = [], [], [], []
        for index, (estimator, score, pw, fit_time, score_time, caught) in enumerate(
            results
        ):
            score.update(fit_time=fit_time, score_time=score_time)
            fitted.append(estimator)
            scores.append(score)
            ic_results.append(pw)
            issued.append(caught)
            if self.verbose:
                print(candidate_line(index, len(candidate_params), estimator, score))

        self.cv_results_ = results_table(
            fitted, scores, ic_results, candidate_params, X, sample_weight
        )
        self.coreset_ = coreset
        best = self.best_index_ = select(self.cv_results_, self.criterion)
        self.best_estimator_ = fitted[best]
        self.best_n_components_ = int(self.cv_results_["n_components"][best])
        self.best_covariance_type_ = self.cv_results_["covariance_type"][best]
        value_key = (
            f"elpd_{self.criterion}"
            if self.criterion in ELPD_CRITERIA
            else self.criterion
        )
        self.best_score_ = float(self.cv_results_[value_key][best])
        if self.verbose:
            print(
                f"BayesianGMMSelector: chose n_components={self.best_n_components_}, "
                f"covariance_type={self.best_covariance_type_!r} "
                f"({self.criterion} = {self.best_score_:.2f})"
            )
        self._report_warnings(fitted[best], scores[best], issued[best])
        if self.verbose:
            line = not_converged_line(self.cv_results_, fitted, issued, best)
            if line:
                print(line)
        return self

    def _report_warnings(self, estimator, score, issued):
        """Issue the chosen candidate's warnings at the user's line.

        A warning that does not start with the model's name (as a
        :class:`BayesianGMM`'s one warning per fit does) is tagged with it.
        """
        stacklevel = caller_stacklevel()
        name, where = model_name(estimator), describe(estimator)
        for category, message in issued:
            if not message.startswith(name):
                message = f"[{where}] {message}"
            warn(message, category, stacklevel=stacklevel)
        n_bad = score["n_bad_pareto_k"]
        if self.criterion == "loo" and np.isfinite(n_bad) and n_bad > 0:
            message = pareto_k_message(
                int(n_bad), score.get("pareto_k_threshold", 0.7)
            )
            warn(f"[{where}] {message}", ConvergenceWarning, stacklevel=stacklevel)

    # ------------------------------------------------------------ delegation

    def _check_X(self, X):
        """Check X against the fit.

        The chosen candidate is then given X as is, with the feature names it
        was fitted with. A dask array is left to the candidate, which works on
        it block by block.
        """
        check_is_fitted(self)
        if is_dask_array(X):
            return X
        return validate_data(
            self, X, dtype=[np.float64, np.float32], reset=False,
            ensure_all_finite="allow-nan",
        )

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Component labels from the chosen candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        self._check_X(X)
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Membership probabilities from the chosen candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, `best_n_components_`)
        """
        self._check_X(X)
        return self.best_estimator_.predict_proba(X)

    @available_if(_estimator_has("score_samples"))
    def score_samples(self, X):
        """Log density of each row of X under the chosen candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        self._check_X(X)
        return self.best_estimator_.score_samples(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y=None, sample_weight=None):
        """Mean log density of X under the chosen candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            The mean is weighted by it.

        Returns
        -------
        log_density : float
        """
        self._check_X(X)
        if sample_weight is None:
            return self.best_estimator_.score(X)
        log_density = self.best_estimator_.score_samples(X)
        sample_weight = check_sample_weight(sample_weight, log_density[:, None])
        return float(np.average(log_density, weights=sample_weight))

    @available_if(_estimator_has("sample"))
    def sample(self, n_samples=1):
        """Draw from the chosen candidate.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.best_estimator_.sample(n_samples)

    def bic(self, X, sample_weight=None):
        """BIC of the chosen candidate on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row; n is then the sum of the weights.

        Returns
        -------
        bic : float
        """
        self._check_X(X)
        return weighted_criterion(self.best_estimator_, "bic", X, sample_weight)

    @available_if(_estimator_has("aic"))
    def aic(self, X, sample_weight=None):
        """AIC of the chosen candidate on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row.

        Returns
        -------
        aic : float
        """
        self._check_X(X)
        return weighted_criterion(self.best_estimator_, "aic", X, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # As the estimator whose candidates it fits (BayesianGMM's by default).
        estimator = BayesianGMM() if self.estimator is None else self.estimator
        tags.input_tags.allow_nan = get_tags(estimator).input_tags.allow_nan
        return tags
