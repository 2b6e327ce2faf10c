"""The model's prior hyper-parameters, read off the estimator, the data and the start.

Everything is in standardised units. The inverse-Wishart's scale matrix is the
start's pooled within-cluster covariance (times ``covariance_prior_scale``), so
that a priori every component is about as spread as the start's clusters, and
the density vanishes at singular covariances. Means and the Bartlett factors
of the precisions are sampled relative to each component's *reference*
covariance, the conjugate posterior mean given the start's memberships: an
exact reparameterisation (the prior is unchanged) under which the posterior is
close to a standard normal, whatever the correlation of the features.
"""

import numpy as np

from skbayesmix._covariance import factors_from_covariances, typed_covariance
from skbayesmix._initialization import MIN_INIT_SCALE
from skbayesmix._settings import POOLED_COVARIANCE_FLOOR
from skbayesmix._standardize import total_weight


def _reference_covariances(counts, scatter, prior_scale, dof, covariance_type):
    """Posterior mean of each covariance under IW(dof, prior_scale), given the start.

    (prior_scale + S_k) / (dof + n_k - D - 1) per component ('full'), one pooled
    matrix for 'tied'.
    """
    n_features = prior_scale.shape[-1]
    if covariance_type == "tied":
        counts, scatter = counts.sum(keepdims=True), scatter.sum(axis=0, keepdims=True)
    denominator = np.maximum(dof + counts - n_features - 1.0, 1.0)
    reference = (prior_scale + scatter) / denominator[:, None, None]
    return reference[0] if covariance_type == "tied" else reference


def model_hyperparameters(estimator, X_std, start, standardization, sample_weight=None):
    """Hyper-parameters of :func:`skbayesmix._model.gmm_model`, and the start.

    Parameters
    ----------
    estimator : BayesianGMM
    X_std : ndarray of shape (n_samples, n_features)
    start : Start
    standardization : Standardization
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        The pooled scatter that scales the covariance prior weighs the rows by
        it (n is then the total weight).

    Returns
    -------
    hyper : dict
    start : Start
        For 'full' and 'tied', its covariances replaced by the reference ones,
        a better place to start than k-means' diagonal ones.
    """
    n_features = X_std.shape[1]
    n_samples = total_weight(X_std, sample_weight)
    covariance_type = estimator.covariance_type
    dof = estimator.degrees_of_freedom_prior
    dof = float(n_features + 2.0 if dof is None else dof)
    counts, scatter = start.scatter(X_std, covariance_type, sample_weight)
    # A feature constant within every cluster has no spread to scale by.
    pooled = scatter.sum(axis=0) / n_samples
    pooled += POOLED_COVARIANCE_FLOOR * np.eye(n_features)
    prior_scale = estimator.covariance_prior_scale * pooled
    hyper = {
        "weight_concentration": estimator.weight_concentration,
        "mean_prior_loc": start.prior_loc,
        "mean_prior_scale": estimator.mean_prior_scale,
        "degrees_of_freedom": dof,
        "covariance_prior_scale": typed_covariance(prior_scale, covariance_type),
        "scale_prior": estimator.scale_prior,
        "lkj_concentration": estimator.lkj_concentration,
        "reg_covar": standardization.regularization(estimator.reg_covar),
    }
    if covariance_type not in ("full", "tied"):
        hyper["component_root"] = np.eye(n_features)
        hyper["component_root_inverse"] = np.eye(n_features)
        hyper["bartlett_prior"] = np.eye(n_features)
        return hyper, start
    reference = _reference_covariances(
        counts, scatter, prior_scale, dof, covariance_type
    )
    root = np.linalg.cholesky(reference)
    hyper["component_root"] = root
    hyper["component_root_inverse"] = np.linalg.inv(root)
    # A' R^-1 C, with C C' the scale matrix, is what the Wishart density needs.
    hyper["bartlett_prior"] = np.linalg.solve(
        root, np.broadcast_to(np.linalg.cholesky(prior_scale), root.shape)
    )
    scales, corr_cholesky = factors_from_covariances(
        reference, covariance_type, min_scale=MIN_INIT_SCALE, shrinkage=0.0
    )
    values = dict(start.values, scales=scales)
    if corr_cholesky is not None:
        values["corr_cholesky"] = corr_cholesky
    return hyper, start._replace(values=values)


def padded_hyperparameters(hyper, n_sampled):
    """Return the hyper-parameters of a sampler that runs ``n_sampled`` components.

    Adds ``component_mask`` (1.0 for the real components, 0.0 for padding) and
    gives padded components a zero mean location and identity roots: their
    sites follow a standard normal whatever these are (see
    :func:`skbayesmix._model.gmm_model`), and the values only need to be finite.

    Parameters
    ----------
    hyper : dict
        As returned by :func:`model_hyperparameters`.
    n_sampled : int
        Components the sampler runs, at least ``n_components``.

    Returns
    -------
    hyper : dict
    """
    n_components, n_features = np.shape(hyper["mean_prior_loc"])
    extra = n_sampled - n_components
    padded = dict(hyper)
    padded["component_mask"] = np.concatenate([np.ones(n_components), np.zeros(extra)])
    padded["mean_prior_loc"] = np.concatenate(
        [hyper["mean_prior_loc"], np.zeros((extra, n_features))]
    )
    identity = np.broadcast_to(np.eye(n_features), (extra, n_features, n_features))
    for name in ("component_root", "component_root_inverse", "bartlett_prior"):
        if np.ndim(hyper[name]) == 3:  # one per component
            padded[name] = np.concatenate([hyper[name], identity])
    return padded
