"""The rows a fit samples: X and its sample_weight, or a weighted coreset of them.

NUTS evaluates the likelihood of every row at every leapfrog step. Above
:data:`~skbayesmix._settings.CORESET_MIN_ROWS` rows (``coreset_size='auto'``),
the fit samples instead the posterior of a weighted coreset's likelihood,
prod_i p(x_i | theta)^{w_i} over a few thousand rows drawn by sensitivity
sampling (:mod:`skbayesmix._coreset`); a Dask array is summarised block by
block on its cluster, and only the coreset reaches the client.
"""

import numpy as np
from sklearn.utils.validation import _check_sample_weight, validate_data

from skbayesmix._coreset import dask_coreset, sensitivity_coreset
from skbayesmix._dask import is_dask_array
from skbayesmix._settings import coreset_draws
from skbayesmix._standardize import total_weight


def check_sample_weight(sample_weight, X):
    """Validate ``sample_weight`` for X: finite, non-negative, not all zero.

    Returns None for None or weights all 1 (every row weighs 1: the
    unweighted computations, to the last bit), else a float64 array.
    """
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not np.sum(sample_weight) > 0:
        raise ValueError(
            "sample_weight must have a positive sum; got all weights zero."
        )
    return None if np.all(sample_weight == 1.0) else sample_weight


def check_missing_values(X):
    """Reject training rows, and features, with no observed value (all NaN).

    Missing values (NaN) are marginalised row by row; a row with none
    observed says nothing about the mixture, and a feature never observed
    cannot be modelled.
    """
    missing = np.isnan(X)
    if not missing.any():
        return
    empty = np.flatnonzero(missing.all(axis=1))
    if empty.size:
        shown = ", ".join(str(i) for i in empty[:10]) + ", ..." * (empty.size > 10)
        raise ValueError(
            f"X has {empty.size} row(s) with no observed value (all NaN), at "
            f"indices {shown}. Remove them before fit; predict_proba gives such "
            "rows the posterior mean weights."
        )
    never = np.flatnonzero(missing.all(axis=0))
    if never.size:
        raise ValueError(
            f"Feature(s) {', '.join(str(j) for j in never)} of X have no observed "
            "value (all NaN): remove them."
        )


def training_rows(
    estimator, X, sample_weight, *, coreset_size, n_components, covariance_type, rng
):
    """Validate X and its weights; summarise them by a coreset if asked.

    Parameters
    ----------
    estimator : estimator
        Validates X (``validate_data``, which sets ``n_features_in_`` and
        ``feature_names_in_``).
    X : array-like or dask array of shape (n_samples, n_features)
    sample_weight : array-like of shape (n_samples,) or None
    coreset_size : int, 'auto' or None
        See :func:`skbayesmix._settings.coreset_draws`.
    n_components : int
        Clusters of the quick k-means solution sensitivity sampling is built
        around.
    covariance_type : str
        Counts the parameters for ``coreset_size='auto'``.
    rng : RandomState

    Returns
    -------
    X : ndarray of shape (n_rows, n_features), float32 or float64
        The rows to fit: X itself, or the coreset's rows.
    sample_weight : ndarray of shape (n_rows,) or None
    coreset : dict or None
        ``n_samples`` (rows summarised), ``total_weight`` (their weight),
        ``draws`` (the coreset's draws) and ``n_rows`` (distinct rows drawn).
    """
    if is_dask_array(X):
        return _dask_training_rows(
            estimator, X, sample_weight, coreset_size=coreset_size,
            n_components=n_components, covariance_type=covariance_type, rng=rng,
        )
    X = validate_data(
        estimator, X, dtype=[np.float64, np.float32], ensure_min_samples=2,
        ensure_all_finite="allow-nan",
    )
    check_missing_values(X)
    sample_weight = check_sample_weight(sample_weight, X)
    n_samples, n_features = X.shape
    draws = coreset_draws(
        coreset_size, n_samples, n_components, n_features, covariance_type
    )
    if draws is None:
        return X, sample_weight, None
    weights = np.ones(n_samples) if sample_weight is None else sample_weight
    rows, row_weights = sensitivity_coreset(
        X.astype(np.float64, copy=False), weights, size=draws,
        n_clusters=n_components, random_state=rng,
    )
    total = total_weight(X, sample_weight)
    coreset = _coreset_summary(n_samples, total, draws, rows)
    return rows.astype(X.dtype, copy=False), _scaled(row_weights, total), coreset


def _dask_training_rows(
    estimator, X, sample_weight, *, coreset_size, n_components, covariance_type, rng
):
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-dimensional dask array, got {X.ndim} dimensions."
        )
    if not np.issubdtype(X.dtype, np.number):
        raise TypeError(f"X must be a numeric dask array, got dtype {X.dtype}.")
    n_samples, n_features = X.shape
    draws = None
    if not np.isnan(n_samples):
        draws = coreset_draws(
            coreset_size, n_samples, n_components, n_features, covariance_type
        )
        if draws is None and coreset_size is None:
            # No coreset asked for: every row comes to the client.
            rows = X.compute()
            weights = None if sample_weight is None else np.asarray(sample_weight)
            return training_rows(
                estimator, rows, weights, coreset_size=None,
                n_components=n_components, covariance_type=covariance_type, rng=rng,
            )
    if sample_weight is not None and not is_dask_array(sample_weight):
        if not np.isnan(n_samples):
            sample_weight = check_sample_weight(
                sample_weight, np.empty((int(n_samples), 0))
            )
    # Small arrays come back whole: a block's coreset is its rows when it has
    # no more rows than the draws asked for.
    size = draws if draws is not None else n_samples
    rows, row_weights = dask_coreset(
        X.astype(np.float64), sample_weight, size=size, n_clusters=n_components,
        random_state=rng,
    )
    rows = validate_data(
        estimator, rows, dtype=[np.float64], ensure_min_samples=2,
        ensure_all_finite="allow-nan",
    )
    check_missing_values(rows)
    if draws is None:
        return rows, None if sample_weight is None else row_weights, None
    if sample_weight is None:
        total = n_samples
    elif is_dask_array(sample_weight):
        total = float(sample_weight.sum().compute())
    else:
        total = np.sum(sample_weight)
    coreset = _coreset_summary(n_samples, total, draws, rows)
    return rows, _scaled(row_weights, total), coreset


def _scaled(row_weights, total):
    """Scale a coreset's weights to sum to the data's total weight.

    Their sum is an unbiased estimate of it, off by about 1% at 2,000 draws;
    scaled, the coreset has X's n for BIC and the posterior X's width, and
    the log-likelihoods of well-fitting mixtures are estimated about twice
    as closely.
    """
    return row_weights * (total / np.sum(row_weights))


def _coreset_summary(n_samples, total_weight, draws, rows):
    return {
        "n_samples": int(n_samples),
        "total_weight": float(total_weight),
        "draws": int(draws),
        "n_rows": int(rows.shape[0]),
    }
