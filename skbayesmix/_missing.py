"""Rows with missing coordinates (NaN): Gaussian marginals and imputation (NumPy).

A component's density of a row with missing coordinates is its Gaussian
marginal over the row's observed coordinates (the sub-vector of the mean, the
sub-matrix of the covariance): the missing coordinates are integrated out
exactly, never filled in. Rows are grouped by their pattern of missing
coordinates (:func:`missing_patterns`), and under every pattern the posterior
draws are again draws of a Gaussian mixture, over fewer features
(:func:`marginal_draws`), which :mod:`skbayesmix._density` evaluates like any
other. A row with no observed coordinate has log density 0 under every
component.

:func:`impute` fills the missing coordinates from the draws: the posterior
mean of each missing entry given the row's observed ones, or draws from their
posterior predictive. Memory stays bounded by ``max_elements`` as in
:mod:`skbayesmix._density`.
"""

from collections import namedtuple

import numpy as np
from sklearn.utils import check_random_state

from skbayesmix import _density
from skbayesmix._covariance import full_matrices, precision_cholesky

MissingPattern = namedtuple("MissingPattern", ["observed", "rows"])
MissingPattern.__doc__ = """Rows sharing one pattern of missing coordinates.

observed : (n_features,) bool, the coordinates these rows observe;
rows : (n_rows,) int, ascending indices of the rows.
"""


def missing_patterns(X):
    """Group the rows of ``X`` by their pattern of missing (NaN) coordinates.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    patterns : list of MissingPattern
        The complete rows first (if any), then one entry per pattern of the
        other rows; together they hold every row once.
    """
    missing = np.isnan(X)
    incomplete = missing.any(axis=1)
    patterns = []
    if not incomplete.all():
        patterns.append(
            MissingPattern(np.ones(X.shape[1], dtype=bool), np.flatnonzero(~incomplete))
        )
    incomplete_rows = np.flatnonzero(incomplete)
    if incomplete_rows.size:
        unique, inverse = np.unique(
            missing[incomplete_rows], axis=0, return_inverse=True
        )
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(np.bincount(inverse, minlength=len(unique)))[:-1]
        for pattern, rows in zip(unique, np.split(incomplete_rows[order], bounds)):
            patterns.append(MissingPattern(~pattern, rows))
    return patterns


def _matrix_covariances(precisions_cholesky):
    # Sigma = (P P')^-1 = U' U with U = P^-1: one triangular inverse keeps the
    # digits that inverting the precision P P' would lose.
    eye = np.broadcast_to(
        np.eye(precisions_cholesky.shape[-1]), precisions_cholesky.shape
    )
    inverse = np.triu(np.linalg.solve(precisions_cholesky, eye))
    return np.swapaxes(inverse, -1, -2) @ inverse


def _variance_covariances(precisions_cholesky):
    return 1.0 / precisions_cholesky**2


_COVARIANCES = {
    "full": _matrix_covariances,
    "tied": _matrix_covariances,
    "diag": _variance_covariances,
    "spherical": _variance_covariances,
}


def covariances(draws):
    """Return the draws' covariances, in the covariance type's shape."""
    return _COVARIANCES[draws.covariance_type](np.asarray(draws.precisions_cholesky))


def _matrix_marginal(draws, observed, draw_covariances):
    if draw_covariances is None:
        draw_covariances = covariances(draws)
    block = draw_covariances[..., observed, :][..., observed]
    return precision_cholesky(block, draws.covariance_type)


_MARGINAL_FACTORS = {
    "full": _matrix_marginal,
    "tied": _matrix_marginal,
    "diag": lambda draws, observed, _: draws.precisions_cholesky[..., observed],
    # One variance for every feature: the same factor over any subset.
    "spherical": lambda draws, observed, _: draws.precisions_cholesky,
}


def marginal_draws(draws, observed, *, draw_covariances=None):
    """Return the draws' marginal mixture over the ``observed`` features.

    Parameters
    ----------
    draws : MixtureDraws
    observed : ndarray of shape (n_features,), bool
    draw_covariances : ndarray, default=None
        ``covariances(draws)`` when already computed.

    Returns
    -------
    marginal : MixtureDraws
        Same weights, covariance type and draw weights; the means' and
        covariances' sub-vectors and sub-matrices over ``observed`` (the
        precision factors of the covariances' observed blocks). ``draws``
        itself when every feature is observed.
    """
    observed = np.asarray(observed, dtype=bool)
    if observed.all():
        return draws
    return draws._replace(
        means=draws.means[..., observed],
        precisions_cholesky=_MARGINAL_FACTORS[draws.covariance_type](
            draws, observed, draw_covariances
        ),
    )


def pattern_draws(draws, patterns):
    """Yield every pattern with the draws' marginal over its observed features.

    The covariances are computed once, on the first pattern with a missing
    feature; the marginals one at a time (their total size grows with the
    number of patterns).
    """
    draw_covariances = None
    for pattern in patterns:
        if draw_covariances is None and not pattern.observed.all():
            draw_covariances = covariances(draws)
        yield (
            pattern,
            marginal_draws(draws, pattern.observed, draw_covariances=draw_covariances),
        )


# ------------------------------------------------------------------- imputation


def _conditionals(draws, observed, draw_covariances):
    """Gaussian conditionals of the missing features given the observed ones.

    ``draw_covariances`` are ``covariances(draws)``.

    Returns
    -------
    coefficients : ndarray of shape (n_draws, n_components, n_missing, n_observed + 1)
        [B | c] with E[x_m | x_o] = B x_o + c, B = Sigma_mo Sigma_oo^-1 and
        c = mu_m - B mu_o.
    cholesky : ndarray of shape (n_draws, n_components, n_missing, n_missing)
        Lower Cholesky factors of Sigma_mm - B Sigma_om.
    """
    n_components, n_features = draws.means.shape[1:]
    full = full_matrices(
        draw_covariances, draws.covariance_type, n_components, n_features
    )
    missing = ~observed
    sigma_oo = full[..., observed, :][..., observed]
    sigma_om = full[..., observed, :][..., missing]
    sigma_mm = full[..., missing, :][..., missing]
    gain = np.swapaxes(np.linalg.solve(sigma_oo, sigma_om), -1, -2)
    conditional = sigma_mm - gain @ sigma_om
    conditional = 0.5 * (conditional + np.swapaxes(conditional, -1, -2))
    offset = draws.means[..., missing] - np.einsum(
        "skmo,sko->skm", gain, draws.means[..., observed]
    )
    coefficients = np.concatenate([gain, offset[..., None]], axis=-1)
    return coefficients, np.linalg.cholesky(conditional)


def _draw_block(draws, max_elements):
    """Draws per block: full covariances and conditionals within the budget."""
    n_draws, n_components, n_features = draws.means.shape
    per_draw = 3 * n_components * max(n_features, 1) ** 2
    return int(min(n_draws, max(1, max_elements // per_draw)))


def _responsibilities(X_observed, marginal):
    """p(z = k | x_o, theta_s) of every draw: (n_draws, n_rows, n_components)."""
    weighted = _density._weighted_log_prob(X_observed, marginal, slice(None))
    weighted -= np.max(weighted, axis=-1, keepdims=True)
    np.exp(weighted, out=weighted)
    weighted /= np.sum(weighted, axis=-1, keepdims=True)
    return weighted


def _conditional_mean(X_observed, draws, observed, max_elements):
    """Posterior mean of the missing features of rows sharing one pattern."""
    n_rows, n_observed = X_observed.shape
    n_components = draws.weights.shape[1]
    n_missing = observed.size - n_observed
    draw_weights = _density._draw_weights(draws)
    X_augmented = np.hstack([X_observed, np.ones((n_rows, 1))])
    mean = np.zeros((n_rows, n_missing))
    draw_block = _draw_block(draws, max_elements)
    per_row = draw_block * n_components * max(n_observed, 1) + n_missing * (
        n_observed + 1
    )
    row_block = max(1, max_elements // per_row)
    for draw_start in range(0, draws.weights.shape[0], draw_block):
        draw_index = slice(draw_start, draw_start + draw_block)
        block = _density.select_draws(draws, draw_index)
        block_covariances = covariances(block)
        marginal = marginal_draws(block, observed, draw_covariances=block_covariances)
        coefficients, _ = _conditionals(block, observed, block_covariances)
        coefficients = coefficients.reshape(-1, n_missing * (n_observed + 1))
        for row_start in range(0, n_rows, row_block):
            rows = slice(row_start, row_start + row_block)
            weights = _responsibilities(X_observed[rows], marginal)
            weights *= draw_weights[draw_index, None, None]
            # sum_s,k v_s r_sk(x) [B_sk | c_sk], then applied to [x_o; 1].
            gains = (
                np.swapaxes(weights, 0, 1).reshape(weights.shape[1], -1) @ coefficients
            ).reshape(-1, n_missing, n_observed + 1)
            mean[rows] += np.einsum("rmo,ro->rm", gains, X_augmented[rows])
    return mean


def _pair_log_prob(X_observed, marginal, draw_of_pair):
    """Return log w_sk + log N(x_o | theta_sk) of (row, draw) pairs: (n_pairs, K)."""
    n_pairs, n_observed = X_observed.shape
    n_components = marginal.weights.shape[1]
    factors = full_matrices(
        np.asarray(marginal.precisions_cholesky)[draw_of_pair],
        marginal.covariance_type,
        n_components,
        n_observed,
    )
    whitened = np.einsum(
        "pkd,pkde->pke", X_observed[:, None, :] - marginal.means[draw_of_pair], factors
    )
    log_det = np.sum(np.log(np.diagonal(factors, 0, -2, -1)), axis=-1)
    with np.errstate(divide="ignore"):
        log_weights = np.log(marginal.weights[draw_of_pair])
    return (
        log_weights
        + log_det
        - 0.5 * n_observed * np.log(2 * np.pi)
        - 0.5 * np.sum(whitened**2, axis=-1)
    )


def _conditional_draws(X_observed, draws, observed, n_draws, rng, max_elements):
    """Posterior predictive draws of the missing features of one pattern's rows.

    Returns
    -------
    values : ndarray of shape (n_draws, n_rows, n_missing)
    """
    n_rows, n_observed = X_observed.shape
    n_components = draws.weights.shape[1]
    n_missing = observed.size - n_observed
    draw_weights = _density._draw_weights(draws)
    values = np.empty((n_draws * n_rows, n_missing))
    # Every (replicate, row) pair picks a draw; the pairs are then taken in
    # blocks of draws, whose conditionals are computed once.
    draw_of = rng.choice(len(draw_weights), size=n_draws * n_rows, p=draw_weights)
    pairs = np.argsort(draw_of, kind="stable")
    sorted_draws = draw_of[pairs]
    draw_block = _draw_block(draws, max_elements)
    per_pair = n_components * (max(n_observed, 1) ** 2 + n_missing**2 + n_observed + 1)
    pair_block = max(1, max_elements // per_pair)
    for draw_start in range(0, draws.weights.shape[0], draw_block):
        draw_stop = draw_start + draw_block
        start, stop = np.searchsorted(sorted_draws, [draw_start, draw_stop])
        if start == stop:
            continue
        block = _density.select_draws(draws, slice(draw_start, draw_stop))
        block_covariances = covariances(block)
        marginal = marginal_draws(block, observed, draw_covariances=block_covariances)
        coefficients, cholesky = _conditionals(block, observed, block_covariances)
        for pair_start in range(start, stop, pair_block):
            chunk = pairs[pair_start : min(pair_start + pair_block, stop)]
            draw = sorted_draws[pair_start : pair_start + chunk.size] - draw_start
            x = X_observed[chunk % n_rows]
            log_prob = _pair_log_prob(x, marginal, draw)
            proba = np.exp(log_prob - log_prob.max(axis=-1, keepdims=True))
            cumulative = np.cumsum(proba, axis=-1)
            uniform = rng.uniform(size=(chunk.size, 1)) * cumulative[:, -1:]
            component = np.minimum(
                np.sum(cumulative <= uniform, axis=-1), n_components - 1
            )
            gain = coefficients[draw, component]
            centre = np.einsum("pmo,po->pm", gain[..., :n_observed], x) + gain[..., -1]
            noise = rng.standard_normal((chunk.size, n_missing))
            values[chunk] = centre + np.einsum(
                "pmj,pj->pm", cholesky[draw, component], noise
            )
    return values.reshape(n_draws, n_rows, n_missing)


def impute(X, draws, *, n_draws=None, random_state=None, max_elements=None):
    """Fill the missing (NaN) entries of ``X`` from posterior draws.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Rows in the units of ``draws``, with NaN where a coordinate is missing.
    draws : MixtureDraws
    n_draws : int, default=None
        None: return the posterior mean of every missing entry,
        sum_s v_s sum_k r_sk(x_o) E[x_m | x_o, z = k, theta_s], with v_s the
        draws' averaging weights, r_sk(x_o) the component's responsibility
        given the observed coordinates and E[x_m | x_o] = mu_m + Sigma_mo
        Sigma_oo^-1 (x_o - mu_o). An int: return that many draws of the
        missing entries from their posterior predictive given the observed
        ones (a draw s by the averaging weights, a component k by r_sk(x_o),
        then x_m from N(E[x_m | x_o], Sigma_mm - Sigma_mo Sigma_oo^-1 Sigma_om)).
        A row with nothing observed gets the posterior predictive mean
        (responsibilities w_sk), or draws from the posterior predictive.
        The draws are weighted as the posterior given the data says: right
        for the fitted rows, whose observed entries the posterior has seen.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws (unused when ``n_draws`` is None).
    max_elements : int, default=None
        Largest number of float64 intermediate elements of one block; None
        for :data:`skbayesmix._density.MAX_ELEMENTS`.

    Returns
    -------
    X_imputed : ndarray of shape (n_samples, n_features) or \
            (n_draws, n_samples, n_features)
        ``X`` with its missing entries filled; observed entries are copied
        unchanged.
    """
    X = np.asarray(X, dtype=np.float64)
    if max_elements is None:
        max_elements = _density.MAX_ELEMENTS
    if n_draws is None:
        imputed = X.copy()
    else:
        rng = check_random_state(random_state)
        imputed = np.repeat(X[None], n_draws, axis=0)
    for observed, rows in missing_patterns(X):
        if observed.all():
            continue
        X_observed = X[np.ix_(rows, observed)]
        missing = np.flatnonzero(~observed)
        if n_draws is None:
            imputed[np.ix_(rows, missing)] = _conditional_mean(
                X_observed, draws, observed, max_elements
            )
        else:
            imputed[:, rows[:, None], missing] = _conditional_draws(
                X_observed, draws, observed, n_draws, rng, max_elements
            )
    return imputed
