"""The start: prior centres and chain starting values (NumPy/scikit-learn only).

Starting values are given in the model's parameterisation of a mixture:
``weights``, ``means``, per-feature standard deviations ``scales`` and, for
'full' and 'tied' with more than one feature, the Cholesky factor
``corr_cholesky`` of the correlations (see
:func:`skbayesmix._covariance.covariance_from_factors`), all in standardised
units.
"""

from collections import namedtuple

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from skbayesmix._covariance import (
    correlate_noise,
    covariance_from_factors,
    factors_from_clusters,
    factors_from_covariances,
    min_component_count,
    pad_components,
)
from skbayesmix._settings import EMPTY_START_COUNT, OCCUPIED_COUNT
from skbayesmix._standardize import mean_and_std, total_weight
from skbayesmix._threadpool import SKLEARN_FIT_LOCK
from skbayesmix._warnings import quiet_fit

# Floor on initial standard deviations, in standardised units, so that a k-means
# cluster with a single (or duplicated) point still starts with a proper covariance.
MIN_INIT_SCALE = 1e-2

class Start(namedtuple("Start", ["prior_loc", "values", "occupied"])):
    """Where the chains start and the mean priors are centred.

    Attributes
    ----------
    prior_loc : ndarray of shape (n_components, n_features)
        Centres of the mean priors.
    values : dict of ndarray
        Starting values (see the module docstring).
    occupied : ndarray of shape (n_components,), dtype=bool
        The components the start fills (all of them for a k-means start).
    """

    __slots__ = ()

    def covariances(self, covariance_type):
        """Covariances of the starting values (no ``reg_covar``)."""
        return covariance_from_factors(
            self.values["scales"], self.values.get("corr_cholesky"), 0.0,
            covariance_type,
        )

    def scatter(self, X, covariance_type, sample_weight=None):
        """Membership-weighted counts and scatter matrices of the components.

        Each row counts towards every component in proportion to its
        membership under the start (times its ``sample_weight``). The matrices
        are full (n_features, n_features) even when the start's own covariances
        are diagonal.

        Returns
        -------
        counts : ndarray of shape (n_components,)
        scatter : ndarray of shape (n_components, n_features, n_features)
            sum_i r_ik (x_i - mu_k)(x_i - mu_k)'.
        """
        from skbayesmix._density import posterior_memberships
        from skbayesmix._posterior import mixture_draws

        weights, means = self.values["weights"], self.values["means"]
        draw = mixture_draws(
            weights[None], means[None], self.covariances(covariance_type)[None],
            covariance_type,
        )
        memberships = posterior_memberships(X, draw)
        if sample_weight is not None:
            memberships = memberships * sample_weight[:, None]
        scatter = np.empty((len(weights), X.shape[1], X.shape[1]))
        for k in range(len(weights)):
            residuals = X - means[k]
            scatter[k] = (memberships[:, k, None] * residuals).T @ residuals
        return memberships.sum(axis=0), scatter


def kmeans_start(
    X, n_components, *, random_state, n_init=3, max_iter=None, tol=None,
    sample_weight=None,
):
    """Cluster standardised data with k-means and summarise each cluster.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    random_state : RandomState
    n_init : int, default=3
    max_iter, tol : int and float or None, default=None
        :class:`~sklearn.cluster.KMeans`' own; None keeps its defaults.
    sample_weight : ndarray of shape (n_samples,) or None, default=None

    Returns
    -------
    centers : ndarray of shape (n_components, n_features)
    labels : ndarray of shape (n_samples,)
    """
    # k-means cannot find more clusters than there are distinct points (and warns
    # without advice); surplus components then start on copies of the centres.
    n_clusters = min(n_components, _n_distinct_rows(X, sample_weight))
    kmeans = KMeans(
        n_clusters=n_clusters, n_init=n_init, random_state=random_state,
        **_given(max_iter=max_iter, tol=tol),
    )
    with SKLEARN_FIT_LOCK:
        labels = kmeans.fit_predict(X, **_given(sample_weight=sample_weight))
    centers = kmeans.cluster_centers_[np.arange(n_components) % n_clusters]
    return centers, labels


def seeded_start(
    X, n_components, *, init_params, random_state, n_init=1, max_iter=None, tol=None,
    sample_weight=None,
):
    """k-means seeded as GaussianMixture's other ``init_params`` seed EM.

    'k-means++' seeds the centres with :func:`~sklearn.cluster.kmeans_plusplus`,
    'random_from_data' with distinct rows drawn at random, and 'random' with
    the weighted means of random responsibilities, as
    :class:`~sklearn.mixture.GaussianMixture` draws them (all close to the data
    mean). k-means then runs from the seeds, as EM does in GaussianMixture;
    of ``n_init`` runs, the one of least inertia is kept. With
    ``sample_weight``, seeds and k-means weigh the rows (rows of zero weight
    are never seeds).

    Returns
    -------
    centers : ndarray of shape (n_components, n_features)
    labels : ndarray of shape (n_samples,)
    """
    rng = random_state
    n_samples = X.shape[0]
    weighted = _given(sample_weight=sample_weight)
    distinct = np.unique(_positive_rows(X, sample_weight), axis=0)
    n_clusters = min(n_components, len(distinct))
    options = _given(max_iter=max_iter, tol=tol)
    best = None
    for _ in range(n_init):
        if init_params == "k-means++":
            seeds, _ = kmeans_plusplus(X, n_clusters, random_state=rng, **weighted)
        elif init_params == "random_from_data":
            seeds = distinct[rng.choice(len(distinct), n_clusters, replace=False)]
        else:  # 'random'
            resp = rng.uniform(size=(n_samples, n_clusters))
            resp /= resp.sum(axis=1, keepdims=True)
            if sample_weight is not None:
                resp *= sample_weight[:, None]
            seeds = (resp.T @ X) / resp.sum(axis=0)[:, None]
        kmeans = KMeans(
            n_clusters=n_clusters, init=seeds, n_init=1, random_state=rng, **options
        )
        with SKLEARN_FIT_LOCK:
            labels = kmeans.fit_predict(X, **weighted)
        if best is None or kmeans.inertia_ < best[2]:
            best = (kmeans.cluster_centers_, labels, kmeans.inertia_)
    centers, labels, _ = best
    return centers[np.arange(n_components) % n_clusters], labels


def nearest_center_labels(X, centers):
    """Label every row with its nearest centre (Euclidean)."""
    distances = (
        np.sum(X**2, axis=1)[:, None]
        - 2 * X @ centers.T
        + np.sum(centers**2, axis=1)[None]
    )
    return np.argmin(distances, axis=1)


def initial_values(X, centers, labels, *, covariance_type, sample_weight=None):
    """Constrained starting values of every model site from a hard clustering.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    centers : ndarray of shape (n_components, n_features)
    labels : ndarray of shape (n_samples,)
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Counts and spreads weigh the rows by it.

    Returns
    -------
    values : dict
        ``weights`` (n_components,), ``means`` (n_components, n_features),
        ``scales`` (shape per covariance type) and, for 'full' and 'tied' with more
        than one feature, ``corr_cholesky`` (identity factors).
    """
    n_components, n_features = centers.shape
    counts = np.bincount(
        labels, weights=sample_weight, minlength=n_components
    ).astype(float)
    weights = _weights_inside_simplex(counts)
    residuals = X - centers[labels]
    pooled = np.sqrt(np.average(residuals**2, axis=0, weights=sample_weight))
    pooled = np.maximum(pooled, MIN_INIT_SCALE)
    per_cluster = np.empty((n_components, n_features))
    for k in range(n_components):
        members = labels == k
        if sample_weight is not None:
            members &= sample_weight > 0
        if np.sum(members) < 2:
            per_cluster[k] = pooled
        else:
            per_cluster[k] = np.sqrt(np.average(
                residuals[members] ** 2, axis=0,
                weights=None if sample_weight is None else sample_weight[members],
            ))
    per_cluster = np.maximum(per_cluster, MIN_INIT_SCALE)
    scales, corr_cholesky = factors_from_clusters(per_cluster, pooled, covariance_type)
    values = {"weights": weights, "means": centers.copy(), "scales": scales}
    if corr_cholesky is not None:
        values["corr_cholesky"] = corr_cholesky
    return values


def jittered_chain_values(values, *, covariance_type, num_chains, random_state,
                          scale=0.05):
    """Copy ``values`` for each chain, each slightly perturbed.

    A component's mean moves by ``scale`` of its own standard deviations,
    along its covariance; its covariance as a whole is multiplied by about
    ``exp(2 * scale)``, and the weights by about ``exp(scale)``, so that
    chains start apart but in the same mode. Scaling a covariance as a whole
    keeps its correlations: moving each feature's scale on its own changes the
    variance of differences between strongly correlated features (0.99 on
    breast cancer) many times over, and such a start left chains in a region
    thousands of nats below the others, with a component emptied.

    Returns
    -------
    chain_values : dict
        The same keys as ``values``, each with a leading ``num_chains`` axis.
    """
    rng = random_state
    chains = {
        name: np.repeat(value[None], num_chains, axis=0)
        for name, value in values.items()
    }
    means = values["means"]
    n_components = means.shape[0]
    covariances = covariance_from_factors(
        values["scales"], values.get("corr_cholesky"), 0.0, covariance_type
    )[None]
    components = np.arange(n_components)
    first_draw = np.zeros(n_components, dtype=int)
    for chain in range(num_chains):
        noise = rng.standard_normal(means.shape)
        chains["means"][chain] = means + scale * correlate_noise(
            covariances, first_draw, components, noise, covariance_type
        )
    n_scales = 1 if covariance_type == "tied" else n_components
    factors = np.exp(scale * rng.standard_normal((num_chains, n_scales)))
    scales = chains["scales"]
    chains["scales"] = scales * factors.reshape(
        factors.shape + (1,) * (scales.ndim - 2)
    )
    weights = chains["weights"] * np.exp(
        scale * rng.standard_normal(chains["weights"].shape)
    )
    chains["weights"] = weights / weights.sum(axis=-1, keepdims=True)
    return chains


def variational_start(
    X, n_components, *, covariance_type, weight_concentration, random_state, n_init=1,
    max_iter=None, tol=None, sample_weight=None,
):
    """Fit scikit-learn's variational Bayesian mixture to standardised data.

    With a small Dirichlet concentration the variational fit empties surplus
    components instead of splitting clusters between them, which k-means does.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    weight_concentration : float
    random_state : RandomState
    n_init : int, default=1
    max_iter, tol : int and float or None, default=None
        Of the variational fit; None is 500 iterations and scikit-learn's tol.
    sample_weight : ndarray of shape (n_samples,) or None, default=None

    Returns
    -------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        In scikit-learn's shape for ``covariance_type``.
    """
    from sklearn.mixture import BayesianGaussianMixture

    bgmm = BayesianGaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        weight_concentration_prior_type="dirichlet_distribution",
        weight_concentration_prior=weight_concentration,
        max_iter=500 if max_iter is None else max_iter,
        n_init=n_init,
        random_state=random_state,
        **_given(tol=tol),
    )
    bgmm = quiet_fit(bgmm, X, sample_weight)
    return bgmm.weights_, bgmm.means_, bgmm.covariances_


def mixture_initial_values(weights, means, covariances, *, covariance_type):
    """Constrained starting values of every model site from a fitted mixture.

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        In scikit-learn's shape for ``covariance_type``, standardised units.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    values : dict
        As :func:`initial_values`.
    """
    weights = np.asarray(weights, dtype=float)
    weights = weights / weights.sum()
    values = {"weights": weights, "means": np.array(means, dtype=float)}
    scales, corr_cholesky = factors_from_covariances(
        covariances, covariance_type, min_scale=MIN_INIT_SCALE, shrinkage=0.05
    )
    if corr_cholesky is not None:
        values["corr_cholesky"] = corr_cholesky
    values["scales"] = scales
    return values


def bic_start(
    X, n_components, *, covariance_type, random_state, n_init=3, max_iter=None,
    tol=None, sample_weight=None,
):
    """Fit maximum-likelihood mixtures of 1..n_components and keep BIC's choice.

    The same search as mclust or a loop over scikit-learn's ``GaussianMixture``:
    every size is fitted by EM from ``n_init`` k-means starts, and the fit with the
    lowest BIC is padded with surplus components of zero weight. Fits in which
    some component holds too few points for a non-singular covariance (D + 1
    for 'full', 2 for 'diag' and 'spherical') are not candidates, except with
    one component. Unlike the variational fit, it does not merge overlapping
    clusters for want of prior mass; unlike plain k-means with
    ``n_components`` clusters, it does not split a cluster between several
    components.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    random_state : RandomState
    n_init : int, default=3
    max_iter, tol : int and float or None, default=None
        Of every EM fit; None keeps GaussianMixture's defaults.
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        EM and BIC weigh the rows by it (BIC's n is the total weight).

    Returns
    -------
    weights : ndarray of shape (n_components,)
        Zero for the surplus components.
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        In scikit-learn's shape for ``covariance_type``; surplus components get
        the data's covariance.
    """
    from sklearn.mixture import GaussianMixture

    from skbayesmix._weighted_em import weighted_criterion

    n_features = X.shape[1]
    n_samples = total_weight(X, sample_weight)
    # A component needs this many points for a non-singular covariance; fits
    # with fewer in some component have a likelihood that grows without bound
    # as its covariance collapses onto reg_covar, and BIC would prefer them.
    min_count = min_component_count(n_features, covariance_type)
    best, best_bic = None, np.inf
    # EM needs at least as many distinct points as components.
    max_components = min(n_components, _n_distinct_rows(X, sample_weight))
    for k in range(1, max_components + 1):
        mixture = GaussianMixture(
            k, covariance_type=covariance_type, n_init=n_init,
            random_state=random_state,
            **_given(max_iter=max_iter, tol=tol),
        )
        try:
            mixture = quiet_fit(mixture, X, sample_weight)
        except ValueError:
            # EM failed on a collapsed covariance: not a candidate.
            if best is None:
                raise
            continue
        degenerate = np.any(mixture.weights_ * n_samples < min_count)
        if best is not None and degenerate:
            continue
        bic = weighted_criterion(mixture, "bic", X, sample_weight)
        if bic < best_bic:
            best, best_bic = mixture, bic
    n_surplus = n_components - best.n_components
    weights = np.concatenate([best.weights_, np.zeros(n_surplus)])
    mean = np.average(X, axis=0, weights=sample_weight)
    means = np.concatenate([best.means_, np.repeat(mean[None], n_surplus, 0)])
    data_cov = np.atleast_2d(np.cov(X, rowvar=False, aweights=sample_weight))
    covariances = pad_components(
        best.covariances_, n_surplus, data_cov, covariance_type
    )
    return weights, means, covariances


def overfitted_start(
    X, n_components, *, covariance_type, weight_concentration, random_state,
    method="bic", n_init=None, max_iter=None, tol=None, sample_weight=None,
):
    """Prior centres and starting values in which surplus components are empty.

    The start is either BIC's choice among maximum-likelihood fits of 1 to
    ``n_components`` components (``method='bic'``, :func:`bic_start`) or
    scikit-learn's variational fit with the same Dirichlet concentration
    (``method='bgmm'``, :func:`variational_start`). Its occupied components
    (expected count of at least one observation) keep their fitted parameters
    and centre their mean priors on their means; the surplus ones centre their
    mean priors on the data mean, start near it and get half an observation's
    weight.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised data.
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    weight_concentration : float
    random_state : RandomState
    method : {'bic', 'bgmm'}, default='bic'
    n_init, max_iter, tol : int, int and float or None, default=None
        Of the EM or variational fits; None keeps the defaults of
        :func:`bic_start` and :func:`variational_start`.
    sample_weight : ndarray of shape (n_samples,) or None, default=None

    Returns
    -------
    start : Start
    """
    options = dict(
        max_iter=max_iter, tol=tol, sample_weight=sample_weight,
        **_given(n_init=n_init),
    )
    if method == "bic":
        weights, means, covariances = bic_start(
            X, n_components, covariance_type=covariance_type,
            random_state=random_state, **options,
        )
    else:
        weights, means, covariances = variational_start(
            X, n_components, covariance_type=covariance_type,
            weight_concentration=weight_concentration, random_state=random_state,
            **options,
        )
    n_samples = total_weight(X, sample_weight)
    occupied = weights * n_samples >= OCCUPIED_COUNT
    if not occupied.any():
        occupied[np.argmax(weights)] = True
    # Half an observation keeps every starting weight inside the simplex.
    weights = np.where(occupied, weights, EMPTY_START_COUNT / n_samples)
    values = mixture_initial_values(
        weights, means, covariances, covariance_type=covariance_type
    )
    prior_loc = np.array(means, dtype=float)
    mean, std = mean_and_std(X, sample_weight)
    prior_loc[~occupied] = mean
    n_empty = int(np.sum(~occupied))
    values["means"][~occupied] = prior_loc[~occupied] + 0.5 * std * (
        random_state.standard_normal((n_empty, X.shape[1]))
    )
    return Start(prior_loc, values, occupied)


def choose_start(
    X, n_components, *, covariance_type, init_params, weight_concentration,
    random_state, n_init=None, max_iter=None, tol=None, given=None,
    sample_weight=None,
):
    """Choose the start that ``init_params`` names, on standardised data.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised data.
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'bic', \
            'bgmm'}
        'kmeans' centres every component on a k-means centroid; 'k-means++',
        'random' and 'random_from_data' too, k-means seeded as GaussianMixture
        seeds EM (:func:`seeded_start`); 'bic' and 'bgmm' are
        :func:`overfitted_start`'s methods.
    weight_concentration : float
    random_state : RandomState
    n_init : int or None, default=None
        Starts tried, the best kept; None is 3 for 'kmeans' and 'bic', 1 for
        the others.
    max_iter, tol : int and float or None, default=None
        Of k-means, or of the EM or variational fits; None keeps their defaults.
    given : dict or None, default=None
        Parts of the start given by the user, in standardised units:
        ``weights`` (n_components,), ``means`` (n_components, n_features),
        ``covariances`` (scikit-learn's shape for ``covariance_type``). They
        replace what ``init_params`` would give ('bic' and 'bgmm' then act as
        'kmeans' for the parts not given); rows are labelled by their nearest
        given mean.
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Every start weighs the rows by it, as if each row were repeated as
        often as its (integer) weight says.

    Returns
    -------
    start : Start
    """
    given = given or {}
    if init_params in ("bic", "bgmm") and given:
        init_params = "kmeans"
    if init_params in ("bic", "bgmm"):
        return overfitted_start(
            X, n_components, covariance_type=covariance_type,
            weight_concentration=weight_concentration, random_state=random_state,
            method=init_params, n_init=n_init, max_iter=max_iter, tol=tol,
            sample_weight=sample_weight,
        )
    if "means" in given:
        centers = np.array(given["means"], dtype=float)
        labels = nearest_center_labels(X, centers)
    elif init_params == "kmeans":
        centers, labels = kmeans_start(
            X, n_components, random_state=random_state,
            n_init=3 if n_init is None else n_init, max_iter=max_iter, tol=tol,
            sample_weight=sample_weight,
        )
    else:
        centers, labels = seeded_start(
            X, n_components, init_params=init_params, random_state=random_state,
            n_init=1 if n_init is None else n_init, max_iter=max_iter, tol=tol,
            sample_weight=sample_weight,
        )
    values = initial_values(
        X, centers, labels, covariance_type=covariance_type,
        sample_weight=sample_weight,
    )
    if "weights" in given:
        weights = np.asarray(given["weights"], dtype=float)
        n_samples = total_weight(X, sample_weight)
        values["weights"] = _weights_inside_simplex(
            weights / weights.sum() * n_samples
        )
    if "covariances" in given:
        values = mixture_initial_values(
            values["weights"], values["means"], given["covariances"],
            covariance_type=covariance_type,
        )
    return Start(centers, values, np.ones(n_components, dtype=bool))


def _weights_inside_simplex(counts):
    # Half a point of pseudo-count keeps every starting weight inside the
    # simplex: a zero weight is minus infinity in the sampler's coordinates.
    return (counts + 0.5) / (counts.sum() + 0.5 * len(counts))


def _positive_rows(X, sample_weight):
    """Return the rows of X that carry weight (all without ``sample_weight``)."""
    return X if sample_weight is None else X[sample_weight > 0]


def _n_distinct_rows(X, sample_weight=None):
    return len(np.unique(_positive_rows(X, sample_weight), axis=0))


def _given(**options):
    """Keep the options that are not None, as keyword arguments."""
    return {name: value for name, value in options.items() if value is not None}
