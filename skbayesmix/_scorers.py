"""Scorers for GridSearchCV: negative BIC and AIC of a fitted mixture."""

from sklearn.pipeline import Pipeline


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
