"""The one affine map between data units and the sampler's standardised units.

The priors are written for unit-scale data, so the estimator samples
``(X - center) / scale`` and keeps its posterior in those units; a fitted
attribute or a prediction in data units asks this map. Per-feature scaling keeps
'full', 'tied' and 'diag' covariances in their family; a 'spherical' fit uses
one common scale, so that isotropic components stay isotropic. The
statistics of the rows it is fitted on, weighted (``sample_weight``) and with
missing values (NaN), are here too: :func:`total_weight`, :func:`mean_and_std`.
"""

from collections import namedtuple

import numpy as np

from skbayesmix._covariance import feature_scale, unit_factor

_Fields = namedtuple("Standardization", ["center", "scale", "covariance_type"])


def total_weight(X, sample_weight=None):
    """Return the number of rows of X, or the sum of their weights.

    What every count of observations uses (BIC's n, expected counts, the
    prior's pooled scatter), so that integer weights count as repeated rows.
    """
    return X.shape[0] if sample_weight is None else np.sum(sample_weight)


def mean_and_std(X, sample_weight=None):
    """Per-feature mean and standard deviation of X, rows weighted if given.

    The weighted ones are those of X with every row repeated as often as its
    (integer) weight says. Missing values (NaN) are left out: each feature's
    over its observed entries (0 and 0 for a feature never observed).
    """
    missing = np.isnan(X)
    if not missing.any():
        if sample_weight is None:
            return X.mean(axis=0), X.std(axis=0)
        mean = np.average(X, axis=0, weights=sample_weight)
        std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=sample_weight))
        return mean, std
    weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    weight = np.where(missing, 0.0, weight[:, None])
    filled = np.where(missing, 0.0, X)
    total = weight.sum(axis=0)

    def average(values):
        sums = (weight * values).sum(axis=0)
        return np.divide(sums, total, out=np.zeros_like(sums), where=total > 0)

    mean = average(filled)
    return mean, np.sqrt(average((filled - mean) ** 2))


class Standardization(_Fields):
    """Affine map ``x -> (x - center) / scale`` and its action on mixtures.

    Attributes
    ----------
    center : ndarray of shape (n_features,)
    scale : ndarray of shape (n_features,)
        Positive; all equal for 'spherical'.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    """

    __slots__ = ()

    @classmethod
    def fit(cls, X, covariance_type, *, standardize=True, sample_weight=None):
        """Find the map that centres and scales ``X`` (identity if not standardize).

        With ``sample_weight``, by the weighted mean and standard deviation
        (:func:`mean_and_std`).
        """
        n_features = X.shape[1]
        if not standardize:
            return cls(np.zeros(n_features), np.ones(n_features), covariance_type)
        center, std = mean_and_std(X, sample_weight)
        scale = feature_scale(std, covariance_type)
        # A constant feature keeps unit scale rather than dividing by zero.
        scale = np.where(scale > 0, scale, 1.0)
        return cls(center, scale, covariance_type)

    def transform(self, X):
        """Map data rows (or means) into standardised units."""
        return (X - self.center) / self.scale

    def inverse_transform(self, X_std):
        """Map standardised rows (or means) back into data units."""
        return X_std * self.scale + self.center

    def covariances_to_data(self, covariances):
        """Map standardised covariances (any leading axes) into data units."""
        return covariances * unit_factor(self.scale, self.covariance_type)

    def covariances_to_std(self, covariances):
        """Map data-unit covariances into standardised units."""
        return covariances / unit_factor(self.scale, self.covariance_type)

    def regularization(self, reg_covar):
        """``reg_covar`` times the identity in data units, in standardised units.

        Shaped like one covariance of the type: (n_features, n_features) for
        'full' and 'tied', (n_features,) for 'diag', a scalar for 'spherical'.
        """
        n_features = self.center.shape[0]
        identity = {
            "full": np.eye(n_features),
            "tied": np.eye(n_features),
            "diag": np.ones(n_features),
            "spherical": np.float64(1.0),
        }[self.covariance_type]
        return self.covariances_to_std(reg_covar * identity)

    def row_log_det(self, X):
        """Log-Jacobian of each row: over its observed coordinates only.

        A scalar (:attr:`log_det`) when X has no missing value (NaN), else an
        array of shape (n_samples,): a marginal density over the observed
        coordinates changes units by theirs alone.
        """
        missing = np.isnan(X)
        if not missing.any():
            return self.log_det
        return -((~missing) @ np.log(self.scale))

    @property
    def log_det(self):
        """Log-Jacobian log |d x_std / d x|; add it to a standardised log-density."""
        return -float(np.sum(np.log(self.scale)))
