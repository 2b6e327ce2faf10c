"""Warnings that concurrent fits cannot garble: collected per context, never filtered.

``warnings.catch_warnings`` swaps the process-wide ``warnings.filters`` on entry
and puts its saved list back on exit; threads whose blocks interleave put back
each other's lists, and a filter stays changed for good (Python < 3.14 has no
thread-local filters). skbayesmix therefore never touches the filters:

- its own warnings go through :func:`warn`, which issues them normally, or
  appends them to the list of the :func:`collected_warnings` block active in the
  same thread (or context);
- third-party warnings are avoided by construction: scikit-learn mixtures are
  fitted by :func:`quiet_fit`, k-means is never asked for more clusters than
  there are distinct rows, ArviZ's criteria come from its lower-level functions
  where the top-level ones would warn (:mod:`skbayesmix._criteria`), and NumPy's
  floating-point warnings are silenced with :func:`numpy.errstate`, whose state
  is per thread.
"""

import contextlib
import contextvars
import sys
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from skbayesmix._threadpool import SKLEARN_FIT_LOCK

# The list that warn() appends to; None outside collected_warnings(). A new
# thread starts with an empty context, so threads never share a list.
_COLLECTED = contextvars.ContextVar("skbayesmix_collected_warnings", default=None)

# Frames that caller_stacklevel() looks past: this package, scikit-learn's
# meta-estimators and fit wrappers, and joblib's dispatch.
_INTERNAL_MODULES = ("skbayesmix", "sklearn", "joblib")


def warn(message, category=ConvergenceWarning, *, stacklevel=2):
    """Issue a warning, or collect it inside :func:`collected_warnings`.

    Parameters
    ----------
    message : str
    category : type of Warning, default=ConvergenceWarning
    stacklevel : int, default=2
        As for :func:`warnings.warn` called where this function is called: 1
        is the calling function, 2 its caller.
    """
    collected = _COLLECTED.get()
    if collected is not None:
        collected.append((category, str(message)))
    else:
        # One more frame: this function's.
        warnings.warn(message, category, stacklevel=stacklevel + 1)


@contextlib.contextmanager
def collected_warnings():
    """Collect this thread's (or context's) :func:`warn` calls instead of issuing them.

    Only warnings issued through :func:`warn` are collected; the process-wide
    warning filters are neither read nor changed. Blocks nest: the innermost
    one collects.

    Yields
    ------
    collected : list of (type, str)
        ``(category, message)`` of each warning, in the order issued.
    """
    collected = []
    token = _COLLECTED.set(collected)
    try:
        yield collected
    finally:
        _COLLECTED.reset(token)


def caller_stacklevel():
    """Stack level of the first frame outside skbayesmix, scikit-learn and joblib.

    For a warning issued (with :func:`warn` or :func:`warnings.warn`) by the
    function that calls this one, so that it points at the user's line, also
    through ``GridSearchCV`` and ``Pipeline``. Where no such frame exists (a
    worker), the outermost frame.
    """
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and _is_internal(frame):
        frame, level = frame.f_back, level + 1
    return level


def _is_internal(frame):
    module = frame.f_globals.get("__name__", "")
    return module.split(".", 1)[0] in _INTERNAL_MODULES


# ------------------------------------------------------- scikit-learn mixtures


# scikit-learn accepts tol in [0, inf): any finite change of the bound is below it.
_LARGEST_TOL = float(np.finfo(np.float64).max)

# GaussianMixture's initial values that together replace the k-means start.
_FULL_START = ("weights_init", "means_init", "precisions_init")


def quiet_fit(mixture, X, sample_weight=None):
    """Fit a scikit-learn mixture in place, as ``mixture.fit(X)``, without warnings.

    :class:`~sklearn.mixture.GaussianMixture` and
    :class:`~sklearn.mixture.BayesianGaussianMixture` warn when the best
    initialisation did not converge (``BaseMixture.fit_predict``), and the
    k-means start warns when X has fewer distinct rows than components. Here
    each initialisation runs scikit-learn's own EM in steps instead: a fresh
    fit of two iterations, then warm-started fits of one iteration, all with
    the largest finite ``tol`` so that scikit-learn counts each as converged,
    while the original ``tol`` is applied here to the same sequence of lower
    bounds. The parameters, ``n_iter_``, ``lower_bound_`` and ``converged_``
    are those ``fit`` gives; the caller reads ``converged_`` instead of a
    warning.

    Parameters
    ----------
    mixture : GaussianMixture or BayesianGaussianMixture
        Fitted from scratch, as a first fit is (also with ``warm_start``).
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Row weights (see :mod:`skbayesmix._weighted_em`); the fitted mixture is
        then of the weighted class.

    Returns
    -------
    mixture : object
        The fitted ``mixture``.

    Notes
    -----
    Differences from ``fit``: with ``max_iter=1`` scikit-learn's warning is not
    avoided (one iteration never converges there); with k-means
    initialisation and fewer distinct rows than components, the start is
    k-means++ instead (which does not warn); and with scikit-learn < 1.7,
    which does not keep ``lower_bounds_``, convergence is first checked after
    the third iteration instead of the second. A lower bound that is not
    finite lets scikit-learn's warning through.
    """
    # k-means inside the initialisation sets a process-wide BLAS limit.
    with SKLEARN_FIT_LOCK:
        return _fit_in_steps(mixture, X, sample_weight)


def _fit_in_steps(mixture, X, sample_weight):
    from skbayesmix._weighted_em import on_weighted_rows

    mixture = on_weighted_rows(mixture, sample_weight)
    params = mixture.get_params(deep=False)
    max_iter = params["max_iter"]
    if max_iter < 2:
        # No warning at 0 iterations; a warning at 1 whatever is done.
        return mixture.fit(X)
    X_array = np.asarray(X)
    init_params = params["init_params"]
    # GaussianMixture skips k-means when weights, means and precisions are all
    # given (scikit-learn >= 1.3).
    start_given = all(params.get(name) is not None for name in _FULL_START)
    if (
        init_params == "kmeans"
        and not start_given
        and not _has_distinct_rows(X_array, params["n_components"])
    ):
        init_params = "k-means++"
    rng = check_random_state(params["random_state"])
    best, best_bound = None, -np.inf
    for _ in range(params["n_init"]):
        trial = on_weighted_rows(clone(mixture), sample_weight).set_params(
            n_init=1, init_params=init_params, warm_start=False, max_iter=2,
            tol=_LARGEST_TOL,
        )
        # After clone: the initialisations draw from the caller's generator.
        trial.set_params(random_state=rng).fit(X)
        bounds = list(getattr(trial, "lower_bounds_", [np.nan, trial.lower_bound_]))
        converged = abs(bounds[-1] - bounds[-2]) < params["tol"]
        trial.set_params(warm_start=True, max_iter=1)
        while not converged and len(bounds) < max_iter:
            trial.fit(X)
            bounds.append(trial.lower_bound_)
            converged = abs(bounds[-1] - bounds[-2]) < params["tol"]
        # scikit-learn's rule for keeping an initialisation.
        if bounds[-1] > best_bound or best_bound == -np.inf:
            best, best_bound = (trial, bounds, converged), bounds[-1]
    trial, bounds, converged = best
    state = {
        name: value for name, value in vars(trial).items() if name not in params
    }
    state.update(n_iter_=len(bounds), converged_=converged, lower_bound_=bounds[-1])
    if hasattr(trial, "lower_bounds_"):
        state["lower_bounds_"] = bounds
    vars(mixture).update(state)
    return mixture


def _has_distinct_rows(X, n_rows):
    """Whether X has at least ``n_rows`` distinct rows (a prefix often shows it)."""
    head = X[: 10 * n_rows]
    if len(np.unique(head, axis=0)) >= n_rows:
        return True
    return len(np.unique(X, axis=0)) >= n_rows
