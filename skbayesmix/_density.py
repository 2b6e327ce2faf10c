"""Chunked log-densities and memberships over posterior draws (NumPy).

Every function here takes a :class:`MixtureDraws` (weights, means and precision
Cholesky factors of each posterior draw, in data units and scikit-learn's
conventions) and walks over blocks of rows and draws so that no
(n_draws, n_samples, n_components) array is ever built: memory stays bounded by
``max_elements`` whatever the number of rows or draws. Large inputs are split
into contiguous row ranges computed in threads, one per core (NumPy releases
the GIL in its matrix products and ufuncs), each with its share of
``max_elements``. The posterior predictive of large inputs (what
``predict_proba``, ``predict`` and ``score_samples`` of new rows need) is
handed to one compiled program, :mod:`skbayesmix._compiled_density`.

Rows may have missing coordinates (NaN): a component's density of such a row
is its Gaussian marginal over the row's observed coordinates, exactly. Each
public function evaluates the complete rows as it would without the others and
every pattern of missing coordinates on its observed columns, with the draws'
marginal over them (:mod:`skbayesmix._missing`); a row with no observed
coordinate has log density 0 under every component (its memberships are the
weights, its predictive density is 1).
"""

import functools
from collections import namedtuple

import numpy as np

from skbayesmix import _missing
from skbayesmix._covariance import full_matrices
from skbayesmix._threadpool import map_in_threads, usable_cores

MixtureDraws = namedtuple(
    "MixtureDraws",
    ["weights", "means", "precisions_cholesky", "covariance_type", "draw_weights"],
    defaults=(None,),
)
MixtureDraws.__doc__ = """Flattened posterior draws of a Gaussian mixture.

weights : (n_draws, n_components); means : (n_draws, n_components, n_features);
precisions_cholesky : per draw, scikit-learn's shape for ``covariance_type``;
draw_weights : (n_draws,) summing to one, or None for equal weights (how the
draws are averaged; see :func:`skbayesmix._modes.chain_modes`).
"""


def _draw_weights(draws):
    """Return the draws' averaging weights, (n_draws,), summing to one."""
    if draws.draw_weights is None:
        n_draws = draws.weights.shape[0]
        return np.full(n_draws, 1.0 / n_draws)
    return draws.draw_weights


def _log_draw_weights(draws):
    with np.errstate(divide="ignore"):
        return np.log(_draw_weights(draws))

# Largest number of float64 intermediate elements one block may hold (8 MB).
# Blocks that stay near the cache: 2^20 took 0.94 s where 2^23 took 2.5 s
# (draw_summaries, 20,000 rows x 2,000 draws, K=8, D=2; 1.2-2.8x on other
# shapes); below 2^18, one draw per block and Python's overhead dominate.
MAX_ELEMENTS = 2**20
# Rows x draws x components below which one thread does the work (about 20 ms):
# the many small evaluations inside a fit stay in the calling thread.
MIN_THREADED_WORK = 2**23
# Rows x draws x components from which the predictive functions run compiled
# (about 0.3 s in NumPy; compiling a new structure's program takes about as long).
MIN_COMPILED_WORK = 2**26


def _rows_of(per_row, rows):
    """Per-row keyword arrays (or None) restricted to ``rows``."""
    return {
        name: None if value is None else value[rows] for name, value in per_row.items()
    }


def _in_row_ranges(combine):
    """Compute large inputs in threads over contiguous row ranges; ``combine`` them.

    Only the block sizes change, so results agree with one thread's to
    rounding (the sums over draws are taken in other groupings). Other
    keyword arguments are per-row arrays (or None), split with the rows.
    """

    def decorator(function):
        @functools.wraps(function)
        def wrapper(X, draws, *, max_elements=MAX_ELEMENTS, **per_row):
            n_samples = X.shape[0]
            n_draws, n_components = draws.weights.shape
            n_threads = min(usable_cores(), n_samples)
            work = n_samples * n_draws * n_components
            if n_threads == 1 or work < MIN_THREADED_WORK:
                return function(X, draws, max_elements=max_elements, **per_row)
            bounds = np.linspace(0, n_samples, n_threads + 1).astype(int)
            share = max(1, max_elements // n_threads)
            parts = map_in_threads(
                lambda rows: function(
                    X[rows], draws, max_elements=share, **_rows_of(per_row, rows)
                ),
                [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])],
                n_threads,
            )
            return combine(parts)

        return wrapper

    return decorator


def _marginal_over_missing(combine, take):
    """Evaluate rows with missing (NaN) coordinates on their observed ones.

    The one place where missing values branch off. Without NaN, the function
    runs as is. Otherwise the rows are grouped by pattern of missing
    coordinates (:func:`~skbayesmix._missing.missing_patterns`; the complete
    rows form one group, computed as if alone), each group runs on its
    observed columns with the draws' marginal over them, and the parts are
    ``combine``-d and put back in row order by ``take(result, index)``. Other
    keyword arguments are per-row arrays (or None), split with the rows.
    """

    def decorator(function):
        @functools.wraps(function)
        def wrapper(X, draws, *, max_elements=MAX_ELEMENTS, **per_row):
            if not np.isnan(X).any():
                return function(X, draws, max_elements=max_elements, **per_row)
            patterns = _missing.missing_patterns(X)
            parts = [
                function(
                    X[np.ix_(rows, observed)],
                    marginal,
                    max_elements=max_elements,
                    **_rows_of(per_row, rows),
                )
                for (observed, rows), marginal in _missing.pattern_draws(
                    draws, patterns
                )
            ]
            order = np.concatenate([rows for _, rows in patterns])
            return take(combine(parts), np.argsort(order))

        return wrapper

    return decorator


def _rows_first(parts):
    return np.concatenate(parts, axis=0)


def _rows_second(parts):
    return np.concatenate(parts, axis=1)


def _take_rows_first(result, index):
    return result[index]


def _take_rows_second(result, index):
    return result[:, index]


def _log_gaussian_prob(X, means, precisions_cholesky, covariance_type):
    """Log N(x | mean_k, cov_k) for a block of draws: shape (n_draws, n_rows, K)."""
    n_rows, n_features = X.shape
    n_draws, n_components = means.shape[:2]
    precisions_cholesky = full_matrices(
        precisions_cholesky, covariance_type, n_components, n_features
    )
    log_det = np.sum(np.log(np.diagonal(precisions_cholesky, 0, -2, -1)), -1)
    # y[s, k, :, n] = (x_n - mu_sk) @ P_sk as ONE matmul of the stacked maps
    # [P_sk' | -P_sk' mu_sk] with [x_n; 1]: several times faster than einsums over
    # 4-D arrays, and the whitened residual keeps full precision.
    projection = np.empty((n_draws, n_components * n_features, n_features + 1))
    # Explicit shapes, not -1: a row with no observed feature has n_features 0.
    projection[..., :n_features] = precisions_cholesky.transpose(0, 1, 3, 2).reshape(
        n_draws, n_components * n_features, n_features
    )
    projection[..., n_features] = -np.einsum(
        "skd,skde->ske", means, precisions_cholesky
    ).reshape(n_draws, n_components * n_features)
    X_aug = np.ones((n_features + 1, n_rows))
    X_aug[:n_features] = X.T
    # Rows last in memory: reductions over components then run over contiguous
    # rows, which is ten times faster than over a trailing axis of length K.
    y = projection @ X_aug  # (n_draws, K * D, n_rows)
    np.square(y, out=y)
    # Sum of squares per component: a reduction over the middle axis adds
    # contiguous rows (a product with a 0/1 matrix costs 2 K flops per term).
    quad = np.add.reduce(y.reshape(n_draws, n_components, n_features, n_rows), axis=2)
    quad *= -0.5
    quad += log_det[:, :, None] - 0.5 * n_features * np.log(2 * np.pi)
    # A (n_draws, n_rows, K) view of the (n_draws, K, n_rows) array.
    quad = np.swapaxes(quad, 1, 2)
    return quad


def _logsumexp(a, axis=-1, keepdims=False):
    """scipy.special.logsumexp without its generality (and overhead)."""
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def _blocks(draws, n_samples, max_elements):
    """Yield (draw slice, row slice) blocks whose intermediates fit the budget."""
    n_draws, n_components, n_features = draws.means.shape
    per_pair = n_components * max(n_features, 1)
    pairs = max(1, max_elements // per_pair)
    draw_block = int(min(n_draws, max(1, pairs // max(1, min(n_samples, 4096)))))
    row_block = int(max(1, pairs // draw_block))
    for row_start in range(0, n_samples, row_block):
        rows = slice(row_start, min(row_start + row_block, n_samples))
        for draw_start in range(0, n_draws, draw_block):
            yield slice(draw_start, min(draw_start + draw_block, n_draws)), rows


def select_draws(draws, index):
    """Return the draws at ``index`` (a slice or indices), equally weighted."""
    return draws._replace(
        weights=draws.weights[index],
        means=draws.means[index],
        precisions_cholesky=draws.precisions_cholesky[index],
        draw_weights=None,
    )


def _weighted_log_prob(X, draws, draw_index):
    block = select_draws(draws, draw_index)
    with np.errstate(divide="ignore"):
        log_weights = np.log(block.weights)
    log_prob = _log_gaussian_prob(
        X, block.means, block.precisions_cholesky, draws.covariance_type
    )
    return log_prob + log_weights[:, None, :]


@_marginal_over_missing(_rows_first, _take_rows_first)
@_in_row_ranges(_rows_first)
def posterior_memberships(X, draws, *, max_elements=MAX_ELEMENTS):
    """Posterior mean of p(z = k | x, theta) over the (weighted) draws.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_components)
    """
    n_samples = X.shape[0]
    n_components = draws.weights.shape[1]
    draw_weights = _draw_weights(draws)
    proba = np.zeros((n_samples, n_components))
    for draw_index, rows in _blocks(draws, n_samples, max_elements):
        weighted = _weighted_log_prob(X[rows], draws, draw_index)
        weighted -= np.max(weighted, axis=-1, keepdims=True)
        np.exp(weighted, out=weighted)
        weighted /= np.sum(weighted, axis=-1, keepdims=True)
        proba[rows] += np.tensordot(draw_weights[draw_index], weighted, axes=1)
    return proba


@_in_row_ranges(_rows_first)
def _numpy_predictive_log_joint(X, draws, *, max_elements=MAX_ELEMENTS):
    n_samples = X.shape[0]
    n_components = draws.weights.shape[1]
    log_draw_weights = _log_draw_weights(draws)
    log_joint = np.full((n_samples, n_components), -np.inf)
    for draw_index, rows in _blocks(draws, n_samples, max_elements):
        weighted = _weighted_log_prob(X[rows], draws, draw_index)
        weighted += log_draw_weights[draw_index, None, None]
        log_joint[rows] = np.logaddexp(log_joint[rows], _logsumexp(weighted, axis=0))
    return log_joint


@_marginal_over_missing(_rows_first, _take_rows_first)
def predictive_log_joint(X, draws, *, max_elements=MAX_ELEMENTS):
    """Return log sum_s v_s w_sk N(x | theta_sk) per row and component.

    The draws' averaging weights are v_s. Inputs of at least
    :data:`MIN_COMPILED_WORK` rows x draws x components go to the compiled
    program of :mod:`skbayesmix._compiled_density` (the same values, several
    times faster; ``max_elements`` does not apply there: its memory is a few
    MB per thread beside the result).

    Returns
    -------
    log_joint : ndarray of shape (n_samples, n_components)
    """
    n_draws, n_components = draws.weights.shape
    # Rows with no observed feature (n_features 0) stay in NumPy.
    if X.shape[1] and X.shape[0] * n_draws * n_components >= MIN_COMPILED_WORK:
        # JAX is imported on first use only.
        from skbayesmix import _compiled_density

        return _compiled_density.predictive_log_joint(
            X, draws._replace(draw_weights=_draw_weights(draws))
        )
    return _numpy_predictive_log_joint(X, draws, max_elements=max_elements)


def predictive_memberships(X, draws, *, max_elements=MAX_ELEMENTS):
    """Memberships under the posterior predictive, per row.

    sum_s w_sk N(x | theta_sk) / sum_s p(x | theta_s): the probability that a
    new point x came from component k, given the data, with the parameters
    integrated out (a ratio of posterior means, where
    :func:`posterior_memberships` is a mean of ratios).

    Returns
    -------
    proba : ndarray of shape (n_samples, n_components)
    """
    log_joint = predictive_log_joint(X, draws, max_elements=max_elements)
    log_joint -= _logsumexp(log_joint, axis=-1, keepdims=True)
    return np.exp(log_joint, out=log_joint)


def log_predictive_density(X, draws, *, max_elements=MAX_ELEMENTS):
    """Log posterior predictive density, log mean_s p(x | theta_s), per row.

    Returns
    -------
    log_density : ndarray of shape (n_samples,)
    """
    return _logsumexp(
        predictive_log_joint(X, draws, max_elements=max_elements), axis=-1
    )


@_marginal_over_missing(_rows_second, _take_rows_second)
@_in_row_ranges(_rows_second)
def pointwise_log_likelihood(X, draws, *, max_elements=MAX_ELEMENTS):
    """Log-likelihood of every row under every draw (for WAIC and PSIS-LOO).

    Returns
    -------
    log_lik : ndarray of shape (n_draws, n_samples)
    """
    n_samples = X.shape[0]
    log_lik = np.empty((draws.weights.shape[0], n_samples))
    for draw_index, rows in _blocks(draws, n_samples, max_elements):
        weighted = _weighted_log_prob(X[rows], draws, draw_index)
        log_lik[draw_index, rows] = _logsumexp(weighted, axis=-1)
    return log_lik


DrawSummaries = namedtuple(
    "DrawSummaries",
    ["total_log_likelihood", "expected_counts", "log_predictive_density",
     "memberships"],
)


def _combine_summaries(parts):
    return DrawSummaries(
        np.sum([part.total_log_likelihood for part in parts], axis=0),
        np.sum([part.expected_counts for part in parts], axis=0),
        np.concatenate([part.log_predictive_density for part in parts]),
        np.concatenate([part.memberships for part in parts]),
    )


def _take_summary_rows(summaries, index):
    return summaries._replace(
        log_predictive_density=summaries.log_predictive_density[index],
        memberships=summaries.memberships[index],
    )


@_marginal_over_missing(_combine_summaries, _take_summary_rows)
@_in_row_ranges(_combine_summaries)
def draw_summaries(X, draws, *, sample_weight=None, max_elements=MAX_ELEMENTS):
    """Everything a fit needs from its training data, in one pass over the draws.

    With ``sample_weight`` (n_samples,), the totals and counts weigh every
    row by it.

    Returns
    -------
    summaries : DrawSummaries
        ``total_log_likelihood`` (n_draws,): sum_i w_i log p(x_i | theta_s);
        ``expected_counts`` (n_draws, n_components): sum_i w_i p(z_i = k | x_i,
        theta_s); ``log_predictive_density`` (n_samples,): as
        :func:`log_predictive_density`; ``memberships`` (n_samples,
        n_components): as :func:`posterior_memberships`.
    """
    n_samples = X.shape[0]
    n_draws, n_components = draws.weights.shape
    draw_weights = _draw_weights(draws)
    log_draw_weights = _log_draw_weights(draws)
    total = np.zeros(n_draws)
    counts = np.zeros((n_draws, n_components))
    log_density = np.full(n_samples, -np.inf)
    memberships = np.zeros((n_samples, n_components))
    for draw_index, rows in _blocks(draws, n_samples, max_elements):
        weighted = _weighted_log_prob(X[rows], draws, draw_index)
        log_lik = _logsumexp(weighted, axis=-1, keepdims=True)
        if sample_weight is None:
            total[draw_index] += log_lik[..., 0].sum(axis=1)
        else:
            total[draw_index] += log_lik[..., 0] @ sample_weight[rows]
        log_density[rows] = np.logaddexp(
            log_density[rows],
            _logsumexp(log_lik[..., 0] + log_draw_weights[draw_index, None], axis=0),
        )
        weighted -= log_lik
        np.exp(weighted, out=weighted)
        if sample_weight is None:
            counts[draw_index] += weighted.sum(axis=1)
        else:
            counts[draw_index] += np.einsum("drk,r->dk", weighted, sample_weight[rows])
        memberships[rows] += np.tensordot(draw_weights[draw_index], weighted, axes=1)
    return DrawSummaries(total, counts, log_density, memberships)
