"""Choosing the number of components: BayesianGMMSelector and scorers."""

import os
import threading
import time
import warnings
from contextlib import nullcontext
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import (
    BaseEstimator,
    DensityMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from skbayesmix._bayesian_gmm import BayesianGMM, _n_mixture_parameters

CRITERIA = ("bic", "aic", "icl", "waic", "loo")
_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
# Criteria whose value is an elpd (higher is better); the others are deviances.
_ELPD_CRITERIA = ("waic", "loo")
# elpd differences below this are negligible, whatever their standard error
# (Vehtari's cross-validation FAQ; Sivula, Magnusson and Vehtari, 2022).
_NEGLIGIBLE_ELPD_DIFFERENCE = 4.0


def bic_score(estimator, X, y=None):
    """Negative BIC of a fitted mixture on X, a scorer for model selection.

    Larger is better, as scikit-learn's scorers are, so that
    ``GridSearchCV(..., scoring=bic_score)`` picks the candidate of lowest BIC.
    When ``estimator`` is a :class:`~sklearn.pipeline.Pipeline`, X goes through
    every step but the last before the last step's ``bic``.

    Parameters
    ----------
    estimator : estimator or Pipeline
        Fitted estimator with a ``bic(X)`` method, or a pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        Data to evaluate on.
    y : Ignored
        Not used, present for the scorer signature.

    Returns
    -------
    score : float
        ``-estimator.bic(X)``.

    See Also
    --------
    aic_score : The same with the Akaike information criterion.
    BayesianGMMSelector : Compares every criterion on one fit per candidate.

    Examples
    --------
    >>> from sklearn.mixture import GaussianMixture
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skbayesmix import bic_score
    >>> search = GridSearchCV(GaussianMixture(), {"n_components": [1, 2, 3]},
    ...                       scoring=bic_score)
    """
    estimator, X = _final_estimator_and_data(estimator, X)
    return -float(estimator.bic(X))


def aic_score(estimator, X, y=None):
    """Negative AIC of a fitted mixture on X, a scorer for model selection.

    Larger is better. Pipelines are handled as in :func:`bic_score`.

    Parameters
    ----------
    estimator : estimator or Pipeline
        Fitted estimator with an ``aic(X)`` method, or a pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        Data to evaluate on.
    y : Ignored
        Not used, present for the scorer signature.

    Returns
    -------
    score : float
        ``-estimator.aic(X)``.

    See Also
    --------
    bic_score : The same with the Bayesian information criterion.
    """
    estimator, X = _final_estimator_and_data(estimator, X)
    return -float(estimator.aic(X))


def _final_estimator_and_data(estimator, X):
    """Last step of (possibly nested) pipelines and X transformed by the others."""
    while isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return estimator, X


def _membership_entropy(proba):
    """-sum_ik z_ik log z_ik, with 0 log 0 = 0."""
    proba = np.asarray(proba, dtype=np.float64)
    positive = proba > 0
    return float(-np.sum(proba[positive] * np.log(proba[positive])))


def _information_criteria(estimator, X, quiet_loo=True):
    """Every criterion the fitted estimator supports; NaN for the others.

    With ``quiet_loo``, the estimator's own Pareto-k warning is dropped: the
    selector issues one per candidate, naming it.

    Returns
    -------
    scores : dict of float
    pointwise : dict
        ``'waic'`` and ``'loo'``: per-observation elpd contributions (n_samples,),
        used for the standard error of elpd differences; None when skipped.
    """
    nan = float("nan")
    scores = dict.fromkeys(
        [
            "bic", "aic", "icl", "elpd_waic", "se_elpd_waic", "p_waic",
            "elpd_loo", "se_elpd_loo", "p_loo", "n_bad_pareto_k",
        ],
        nan,
    )
    pointwise = {"waic": None, "loo": None}
    scores["bic"] = float(estimator.bic(X))
    if hasattr(estimator, "aic"):
        scores["aic"] = float(estimator.aic(X))
    if hasattr(estimator, "predict_proba"):
        entropy = _membership_entropy(estimator.predict_proba(X))
        scores["icl"] = scores["bic"] + 2.0 * entropy
    if hasattr(estimator, "waic"):
        result = estimator.waic()
        scores["elpd_waic"] = float(result["elpd"])
        scores["se_elpd_waic"] = float(result.get("se", nan))
        scores["p_waic"] = float(result.get("p", nan))
        pointwise["waic"] = _as_pointwise(result, X.shape[0])
    if hasattr(estimator, "loo"):
        with warnings.catch_warnings() if quiet_loo else nullcontext():
            if quiet_loo:
                warnings.simplefilter("ignore", ConvergenceWarning)
            result = estimator.loo()
        scores["elpd_loo"] = float(result["elpd"])
        scores["se_elpd_loo"] = float(result.get("se", nan))
        scores["p_loo"] = float(result.get("p", nan))
        pointwise["loo"] = _as_pointwise(result, X.shape[0])
        if "pareto_k" in result:
            threshold = float(result.get("pareto_k_threshold", 0.7))
            scores["n_bad_pareto_k"] = float(
                np.sum(np.asarray(result["pareto_k"]) > threshold)
            )
            scores["pareto_k_threshold"] = threshold
    return scores, pointwise


def _as_pointwise(result, n_samples):
    pointwise = result.get("pointwise")
    if pointwise is None:
        return None
    pointwise = np.asarray(pointwise, dtype=np.float64).ravel()
    return pointwise if pointwise.shape == (n_samples,) else None


def _fit_and_evaluate(estimator, X, caller_pid):
    """Fit one candidate and compute its criteria (runs in a joblib worker).

    Warnings are recorded and returned rather than shown, so that they reach
    the caller from worker processes too, tagged with the candidate. Recording
    swaps the process-wide warning filters, which is unsafe while other threads
    of the caller's process do the same; in a thread of the caller's process
    (threading backend, Dask with ``processes=False``) warnings therefore pass
    through unrecorded.
    """
    record = (
        os.getpid() != caller_pid
        or threading.current_thread() is threading.main_thread()
    )
    context = warnings.catch_warnings(record=True) if record else nullcontext([])
    with context as caught:
        if record:
            # Other categories keep the process's filters.
            warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        scores, pointwise = _information_criteria(estimator, X, quiet_loo=record)
        score_time = time.perf_counter() - start
    issued = [(w.category, str(w.message)) for w in caught]
    return estimator, scores, pointwise, fit_time, score_time, issued


def _elpd_differences(elpd, pointwise):
    """Difference to the best elpd and its standard error, as arviz.compare.

    The standard error of the difference is ``sqrt(n * var(pw_best - pw_c))``
    over the paired per-observation contributions; where those are missing it
    falls back to the best candidate's own standard error (``nan`` here, filled
    by the caller).
    """
    n_candidates = len(elpd)
    diff = np.full(n_candidates, np.nan)
    dse = np.full(n_candidates, np.nan)
    finite = np.isfinite(elpd)
    if not finite.any():
        return diff, dse
    best = int(np.nanargmax(np.where(finite, elpd, -np.inf)))
    diff[finite] = elpd[best] - elpd[finite]
    if pointwise[best] is None:
        return diff, dse
    for index in np.flatnonzero(finite):
        if pointwise[index] is not None:
            paired = pointwise[best] - pointwise[index]
            dse[index] = float(np.sqrt(paired.size * np.var(paired)))
    return diff, dse


def _select(results, criterion):
    """Row of the winner: lowest deviance, or the one-SE rule on elpd."""
    if criterion not in _ELPD_CRITERIA:
        value = results[criterion]
        if not np.isfinite(value).any():
            raise ValueError(f"No candidate has a finite {criterion}.")
        return int(np.nanargmin(np.where(np.isfinite(value), value, np.nan)))
    elpd = results[f"elpd_{criterion}"]
    if not np.isfinite(elpd).any():
        raise ValueError(f"No candidate has a finite elpd_{criterion}.")
    best = int(np.nanargmax(np.where(np.isfinite(elpd), elpd, np.nan)))
    diff = results[f"d_elpd_{criterion}"]
    dse = results[f"dse_elpd_{criterion}"]
    # Without paired pointwise values, fall back to the best one's own SE.
    tolerance = np.where(
        np.isfinite(dse), dse, results[f"se_elpd_{criterion}"][best]
    )
    # The paired SE of two nearly identical models is itself tiny, so Monte
    # Carlo noise in the elpd estimates would decide; a floor stops that.
    tolerance = np.maximum(np.nan_to_num(tolerance), _NEGLIGIBLE_ELPD_DIFFERENCE)
    eligible = np.flatnonzero(np.isfinite(elpd) & (diff <= tolerance))
    n_parameters = results["n_parameters"]
    complexity = np.where(
        np.isfinite(n_parameters), n_parameters, results["n_components"]
    )
    order = np.lexsort(
        (-elpd[eligible], results["n_components"][eligible], complexity[eligible])
    )
    return int(eligible[order[0]])


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
        criteria, as candidates finish.

    Attributes
    ----------
    estimator_ : estimator object
        The unfitted estimator cloned for every candidate (``BayesianGMM()`` when
        ``estimator`` is None).

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
        - ``fit_time``, ``score_time``: seconds to fit and to compute the
          criteria;
        - ``params``: list of the parameters set on each clone.

        A criterion the estimator does not support is NaN.

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

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    BayesianGMM : The Bayesian mixture fitted per candidate.
    bic_score : Scorer for GridSearchCV (negative BIC).
    sklearn.model_selection.GridSearchCV : Cross-validated search.

    Notes
    -----
    BIC and AIC follow scikit-learn (``-2 log L + p log n`` and
    ``-2 log L + 2 p``) with, for :class:`BayesianGMM`, log L at the posterior
    draw of highest log-likelihood. ICL is BIC plus twice the entropy of the
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
    with a few hundred draws) would decide between them. Candidates with
    Pareto k above the
    threshold raise a :class:`~sklearn.exceptions.ConvergenceWarning`, as do
    candidates whose sampler reported divergences or high R-hat.

    Criteria that need posterior draws (WAIC, PSIS-LOO) are NaN for an
    estimator without ``waic``/``loo``, such as
    :class:`~sklearn.mixture.GaussianMixture`, which is convenient for cheap
    checks.

    **Parallel and distributed fits.** Candidates are independent, so
    ``n_jobs=-1`` fits them in parallel processes. To use a Dask cluster,
    fit inside joblib's Dask backend; each worker compiles the NUTS program
    for the structures it fits once and reuses it::

        from dask.distributed import Client
        import joblib

        client = Client("tcp://scheduler:8786")  # or Client() for a local one
        with joblib.parallel_backend("dask"):
            selector.fit(X)

    The same pattern spreads the fits of
    :class:`~sklearn.model_selection.GridSearchCV` over the cluster; there,
    each fit is one (candidate, fold) pair::

        search = GridSearchCV(
            make_pipeline(StandardScaler(), BayesianGMM()),
            {"bayesiangmm__n_components": [1, 2, 3, 4]},
            scoring=bic_score,  # or None: held-out log predictive density
            n_jobs=-1,
        )
        with joblib.parallel_backend("dask"):
            search.fit(X)

    Set ``n_jobs`` (or the backend) on the outermost loop only: the inner
    estimator's chains already run inside one compiled program.

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
        "covariance_types": [StrOptions(set(_COVARIANCE_TYPES)), list, tuple, None],
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

    def _check_parameters(self, X):
        """Resolve and check the candidate grid against the data and estimator."""
        n_components = np.asarray(self.n_components_range)
        if (
            n_components.ndim != 1
            or n_components.size == 0
            or not np.issubdtype(n_components.dtype, np.integer)
            or np.any(n_components < 1)
        ):
            raise ValueError(
                "n_components_range must be a non-empty sequence of integers >= 1, "
                f"got {self.n_components_range!r}"
            )
        if len(np.unique(n_components)) != n_components.size:
            raise ValueError(
                f"n_components_range has repeated values: {self.n_components_range!r}"
            )
        if X.shape[0] < n_components.max():
            raise ValueError(
                "Expected n_samples >= max(n_components_range) but got "
                f"max(n_components_range) = {n_components.max()}, "
                f"n_samples = {X.shape[0]}"
            )
        params = self.estimator_.get_params()
        if "n_components" not in params:
            raise ValueError(
                f"{type(self.estimator_).__name__} has no n_components parameter."
            )
        if self.covariance_types is None:
            covariance_types = (params.get("covariance_type"),)
        elif isinstance(self.covariance_types, str):
            covariance_types = (self.covariance_types,)
        else:
            covariance_types = tuple(self.covariance_types)
            unknown = [c for c in covariance_types if c not in _COVARIANCE_TYPES]
            if unknown or not covariance_types:
                raise ValueError(
                    "covariance_types must be a non-empty tuple of "
                    f"{_COVARIANCE_TYPES}, got {self.covariance_types!r}"
                )
            if len(set(covariance_types)) != len(covariance_types):
                raise ValueError(
                    f"covariance_types has repeated values: {self.covariance_types!r}"
                )
            if "covariance_type" not in params:
                raise ValueError(
                    f"{type(self.estimator_).__name__} has no covariance_type "
                    "parameter, so covariance_types must be None."
                )
        if self.criterion in _ELPD_CRITERIA and not hasattr(
            self.estimator_, self.criterion
        ):
            raise ValueError(
                f"criterion={self.criterion!r} needs an estimator with a "
                f"{self.criterion}() method, such as BayesianGMM; "
                f"{type(self.estimator_).__name__} has none. Use 'bic', 'aic' or "
                "'icl'."
            )
        return [int(k) for k in n_components], covariance_types

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit every candidate and choose one by ``criterion``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted selector.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        self.estimator_ = (
            BayesianGMM() if self.estimator is None else clone(self.estimator)
        )
        n_components_range, covariance_types = self._check_parameters(X)

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
            delayed(_fit_and_evaluate)(
                clone(self.estimator_).set_params(**params), X, os.getpid()
            )
            for params in candidate_params
        )
        fitted, scores, pointwise = [], [], []
        for index, (estimator, score, pw, fit_time, score_time, issued) in enumerate(
            results
        ):
            score.update(fit_time=fit_time, score_time=score_time)
            fitted.append(estimator)
            scores.append(score)
            pointwise.append(pw)
            self._reissue_warnings(estimator, score, issued)
            if self.verbose:
                self._print_candidate(index, len(candidate_params), estimator, score)

        self.cv_results_ = self._build_results(
            fitted, scores, pointwise, candidate_params, X
        )
        best = self.best_index_ = _select(self.cv_results_, self.criterion)
        self.best_estimator_ = fitted[best]
        self.best_n_components_ = int(self.cv_results_["n_components"][best])
        self.best_covariance_type_ = self.cv_results_["covariance_type"][best]
        value_key = (
            f"elpd_{self.criterion}"
            if self.criterion in _ELPD_CRITERIA
            else self.criterion
        )
        self.best_score_ = float(self.cv_results_[value_key][best])
        if self.verbose:
            print(
                f"BayesianGMMSelector: chose n_components={self.best_n_components_}, "
                f"covariance_type={self.best_covariance_type_!r} "
                f"({self.criterion} = {self.best_score_:.2f})"
            )
        return self

    @staticmethod
    def _describe(estimator):
        params = estimator.get_params()
        text = f"n_components={params['n_components']}"
        if "covariance_type" in params:
            text += f", covariance_type={params['covariance_type']!r}"
        return text

    def _reissue_warnings(self, estimator, score, issued):
        """Show a worker's warnings here, tagged with the candidate."""
        where = self._describe(estimator)
        for category, message in issued:
            warnings.warn(f"[{where}] {message}", category, stacklevel=3)
        n_bad = score["n_bad_pareto_k"]
        if np.isfinite(n_bad) and n_bad > 0:
            warnings.warn(
                f"[{where}] PSIS-LOO is unreliable: {int(n_bad)} observations have "
                f"Pareto k above {score.get('pareto_k_threshold', 0.7):.2f}. "
                "Increase num_samples, or compare by BIC or WAIC instead.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _print_candidate(self, index, n_candidates, estimator, score):
        parts = [f"bic={score['bic']:.2f}"]
        for key in ("aic", "icl"):
            if np.isfinite(score[key]):
                parts.append(f"{key}={score[key]:.2f}")
        for key in _ELPD_CRITERIA:
            if np.isfinite(score[f"elpd_{key}"]):
                parts.append(
                    f"elpd_{key}={score[f'elpd_{key}']:.2f} "
                    f"(se {score[f'se_elpd_{key}']:.2f})"
                )
        if np.isfinite(score["n_bad_pareto_k"]):
            parts.append(f"bad pareto k={int(score['n_bad_pareto_k'])}")
        parts.append(f"fit {score['fit_time']:.1f}s")
        print(
            f"[{index + 1}/{n_candidates}] {self._describe(estimator)}: "
            + ", ".join(parts)
        )

    def _build_results(self, fitted, scores, pointwise, candidate_params, X):
        n_features = X.shape[1]
        n_components = np.array(
            [est.get_params()["n_components"] for est in fitted], dtype=int
        )
        covariance_type = np.array(
            [est.get_params().get("covariance_type") for est in fitted], dtype=object
        )
        results = {
            "n_components": n_components,
            "covariance_type": covariance_type,
            "n_parameters": np.array(
                [
                    # NaN for an estimator without GaussianMixture's covariance types.
                    _n_mixture_parameters(k, n_features, ct)
                    if ct in ("full", "diag", "tied", "spherical")
                    else np.nan
                    for k, ct in zip(n_components, covariance_type)
                ],
                dtype=float,
            ),
        }
        for key in (
            "bic", "aic", "icl", "elpd_waic", "se_elpd_waic", "p_waic",
            "elpd_loo", "se_elpd_loo", "p_loo", "n_bad_pareto_k",
        ):
            results[key] = np.array([s[key] for s in scores], dtype=float)
        for key in _ELPD_CRITERIA:
            diff, dse = _elpd_differences(
                results[f"elpd_{key}"], [pw[key] for pw in pointwise]
            )
            results[f"d_elpd_{key}"] = diff
            results[f"dse_elpd_{key}"] = dse
        for key in CRITERIA:
            value = results[f"elpd_{key}"] if key in _ELPD_CRITERIA else -results[key]
            # Larger is better here; missing values rank last, as in GridSearchCV.
            value = np.where(np.isfinite(value), value, -np.inf)
            results[f"rank_{key}"] = rankdata(-value, method="min").astype(np.int32)
        results["fit_time"] = np.array([s["fit_time"] for s in scores])
        results["score_time"] = np.array([s["score_time"] for s in scores])
        results["params"] = [dict(params) for params in candidate_params]
        return results

    # ------------------------------------------------------------ delegation

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

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
        X = self._check_X(X)
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Membership probabilities from the chosen candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, best_n_components_)
        """
        X = self._check_X(X)
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
        X = self._check_X(X)
        return self.best_estimator_.score_samples(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y=None):
        """Mean log density of X under the chosen candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        log_density : float
        """
        X = self._check_X(X)
        return self.best_estimator_.score(X)

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

    def bic(self, X):
        """BIC of the chosen candidate on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        bic : float
        """
        X = self._check_X(X)
        return self.best_estimator_.bic(X)

    @available_if(_estimator_has("aic"))
    def aic(self, X):
        """AIC of the chosen candidate on X (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        aic : float
        """
        X = self._check_X(X)
        return self.best_estimator_.aic(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
