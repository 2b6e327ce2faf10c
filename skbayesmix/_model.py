"""The NumPyro model: a marginalised Gaussian mixture in standardised data space.

The model is a pure function of the (padded) data, a validity mask and a dict of
hyper-parameter arrays (and, for data with missing entries, the rows' missing
coordinates, see :func:`missing_inputs`). Everything that changes array
shapes (``n_components``, ``covariance_type``, the weight parameterisation) is
bound with :func:`functools.partial` and is static for JAX; everything else is a
traced argument, so one compiled sampler serves every data set and prior of the
same structure.
With padded components (``hyper["component_mask"]``, see :func:`gmm_model`) it
also serves every smaller number of components.
"""

import functools
from contextlib import nullcontext

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import gammaln, logsumexp

from skbayesmix import _missing
from skbayesmix._covariance import covariance_from_factors, regularized
from skbayesmix._sites import (
    WEIGHT_TAIL_OFFSET,
    bartlett_factor,
)

# Rows are processed in blocks of this many when the (padded) data set is larger:
# the (rows, n_components * n_features) intermediates of one block stay in cache,
# which measured 2-4x faster per gradient at 65,536 rows than one whole-array pass.
# Every size bucket above ROW_BLOCK * 2 (see ``_inference.padded_size``) is a
# multiple of ROW_BLOCK. Per-block sums also keep float32 accumulation error small.
ROW_BLOCK = 2048

# Partial sums are taken over blocks of this many rows before they are added up.
SUM_BLOCK = 128


def blocked_sum(values):
    """Sum a 1-D float array by blocks (pairwise-like error growth in float32)."""
    n = values.shape[0]
    if n <= SUM_BLOCK:
        return jnp.sum(values)
    pad = (-n) % SUM_BLOCK
    values = jnp.pad(values, (0, pad))
    return jnp.sum(jnp.sum(values.reshape(-1, SUM_BLOCK), axis=1))


def _whitening(means, covariances, covariance_type):
    """Whitening maps and log normalisers of the mixture components.

    The squared norm of y = x @ projection - shift, taken per block of
    n_features columns, is the Mahalanobis distance of x to each component.

    Returns
    -------
    projection : array of shape (n_features, n_components * n_features)
    shift : array of shape (n_components * n_features,)
    log_norm : array of shape (n_components,)
        -0.5 * (n_features * log(2 pi) + log det Sigma_k).
    """
    n_components, n_features = means.shape
    log_2pi = n_features * jnp.log(2 * jnp.pi)
    if covariance_type in ("diag", "spherical"):
        variances = covariances
        if covariance_type == "spherical":
            variances = jnp.broadcast_to(variances[:, None], means.shape)
        inv_sd = jax.lax.rsqrt(variances)  # (K, D)
        # Block-diagonal projection: the whitened residual (x - mu_k) / sd_k keeps
        # float32 precision, unlike the expanded square x^2 p - 2 x mu p + mu^2 p.
        projection = jnp.eye(n_features)[:, None, :] * inv_sd[None]
        shift = (means * inv_sd).reshape(-1)
        log_det = jnp.sum(jnp.log(variances), axis=1)
        return projection.reshape(n_features, -1), shift, -0.5 * (log_2pi + log_det)

    covariance = jnp.broadcast_to(
        covariances, (n_components, n_features, n_features)
    )
    cov_chol = jnp.linalg.cholesky(covariance)
    # Invert the K small factors once; the rows then need one dense product.
    eye = jnp.broadcast_to(jnp.eye(n_features), cov_chol.shape)
    chol_inv = solve_triangular(cov_chol, eye, lower=True)  # (K, D, D)
    projection = chol_inv.transpose(2, 0, 1).reshape(n_features, -1)  # (D, K*D)
    shift = jnp.einsum("kij,kj->ki", chol_inv, means).reshape(-1)
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(cov_chol, axis1=-2, axis2=-1)), -1)
    return projection, shift, -0.5 * (log_2pi + log_det)


def _block_log_prob(X, projection, shift, log_norm):
    """(rows, n_components) log-densities from the whitening maps."""
    n_components = log_norm.shape[0]
    y = X @ projection - shift  # (rows, K*D): whitened residuals
    # Summing squares per component with a 0/1 matrix product is much faster on
    # CPU than a reduction over a trailing axis of length n_features.
    group = jnp.repeat(jnp.eye(n_components, dtype=y.dtype), X.shape[1], axis=0)
    return log_norm - 0.5 * ((y * y) @ group)


def _log_sum_exp_rows(a):
    """Logsumexp over the last axis, without the inf handling of the generic one."""
    top = jax.lax.stop_gradient(jnp.max(a, axis=-1, keepdims=True))
    return top[..., 0] + jnp.log(jnp.sum(jnp.exp(a - top), axis=-1))


def component_log_prob(X, means, covariances, covariance_type):
    """Log-density of every row of ``X`` under every component.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    means : array of shape (n_components, n_features)
    covariances : array
        In scikit-learn's shape for ``covariance_type``, regularisation included.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    log_prob : array of shape (n_samples, n_components)
    """
    return _block_log_prob(X, *_whitening(means, covariances, covariance_type))


def _precision_whitening(means, factors, log_det_factors):
    """Whitening maps from factors W_k of the precisions (P_k = W_k W_k').

    As :func:`_whitening`, without inverting or factorising any matrix:
    y = (x - mu_k)' W_k, and log det Sigma_k = -2 log det W_k.
    """
    n_components, n_features = means.shape
    projection = factors.transpose(1, 0, 2).reshape(n_features, -1)  # (D, K*D)
    shift = jnp.einsum("kij,ki->kj", factors, means).reshape(-1)
    log_norm = log_det_factors - 0.5 * n_features * jnp.log(2 * jnp.pi)
    return projection, shift, log_norm


def mixture_log_likelihood(X, mask, log_weights, means, covariances, covariance_type):
    """Total log-likelihood of the rows of ``X`` whose ``mask`` is positive.

    Same parameters as :func:`component_log_prob`, plus ``mask`` of shape
    (n_samples,) and ``log_weights`` of shape (n_components,). Large inputs
    (more than ``2 * ROW_BLOCK`` rows, a multiple of ``ROW_BLOCK``) are processed
    block by block with :func:`jax.lax.map`.
    """
    maps = _whitening(means, covariances, covariance_type)
    return _masked_log_likelihood(X, mask, log_weights, maps)


def likelihood_sizes(n_components):
    """Component counts the padded likelihood is compiled for, up to ``n_components``.

    1, 2, 3, 4, 6, 8, 12, ...: the likelihood of ``n_real`` components runs
    on the first ``s >= n_real`` of them, wasting at most a third of its work.
    """
    sizes, size = [1, 2, 3], 4
    while size < n_components:
        sizes += [size, size + size // 2]
        size *= 2
    sizes = [size for size in sizes if size < n_components]
    return sizes + [n_components]


def _masked_log_likelihood(X, mask, log_weights, maps, n_real=None):
    """:func:`mixture_log_likelihood` from whitening maps.

    With ``n_real`` (a traced count of the leading components that are real;
    the others have log weight -inf), only the first ``s`` components enter,
    for the smallest ``s`` of :func:`likelihood_sizes` that holds them all:
    :func:`jax.lax.switch` runs one branch, so the likelihood costs at most a
    third more than an unpadded model's.
    """
    if n_real is not None:
        n_components = log_weights.shape[0]
        sizes = likelihood_sizes(n_components)
        if len(sizes) > 1:
            n_features = X.shape[1]

            def first(size):
                def likelihood(X, mask, log_weights, maps):
                    projection, shift, log_norm = maps
                    kept = (
                        projection[:, : size * n_features],
                        shift[: size * n_features],
                        log_norm[:size],
                    )
                    return _masked_log_likelihood(X, mask, log_weights[:size], kept)

                return likelihood

            branch = jnp.searchsorted(jnp.asarray(sizes), n_real)
            return jax.lax.switch(
                branch, [first(size) for size in sizes], X, mask, log_weights, maps
            )
    projection, shift, log_norm = maps
    log_norm = log_norm + log_weights

    def block_sum(args):
        X_block, mask_block = args
        log_prob = _block_log_prob(X_block, projection, shift, log_norm)
        log_lik = _log_sum_exp_rows(log_prob)
        # mask > 0 rather than a product alone: padding rows may have
        # log_lik = -inf, and 0 * -inf is nan.
        return blocked_sum(jnp.where(mask_block > 0, mask_block * log_lik, 0.0))

    n_rows, n_features = X.shape
    if n_rows <= 2 * ROW_BLOCK or n_rows % ROW_BLOCK:
        return block_sum((X, mask))
    n_blocks = n_rows // ROW_BLOCK
    sums = jax.lax.map(
        block_sum,
        (X.reshape(n_blocks, ROW_BLOCK, n_features), mask.reshape(n_blocks, ROW_BLOCK)),
    )
    return jnp.sum(sums)


def missing_inputs(X, mask, covariance_type):
    """Build the model's inputs for data with missing entries (NaN), in NumPy.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        May contain NaN.
    mask : ndarray of shape (n_samples,)
        The rows' weights (see :func:`gmm_model`).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    X_filled : ndarray of shape (n_samples, n_features)
        ``X`` with its missing entries set to 0.0 (no NaN reaches a gradient);
        for 'full' and 'tied', its rows reordered by their number of missing
        entries, complete rows first, then by pattern (the likelihood is a
        sum over rows).
    mask : ndarray of shape (n_samples,)
        ``mask``, in the order of ``X_filled``.
    missing : dict of ndarray
        For 'diag' and 'spherical', ``observed`` (n_samples, n_features): 1.0
        where an entry is observed. For 'full' and 'tied', for every number
        ``j > 0`` of missing entries that occurs, the next block of rows:
        ``patterns_j`` (n_patterns, j), their distinct sets of missing
        coordinates, and ``pattern_j`` (rows,), each row's index in
        ``patterns_j``; and ``positions`` (n_missing_entries,), the flat
        positions (row * n_features + column) of the missing entries in the
        rows after the complete ones, ascending. All int32 (``positions``
        int64 beyond 2**31 entries).
    """
    X = np.asarray(X)
    absent = np.isnan(X)
    if covariance_type in ("diag", "spherical"):
        X_filled = np.where(absent, 0.0, X)
        return X_filled, mask, {"observed": (~absent).astype(X_filled.dtype)}
    by_count = {}
    for pattern in _missing.missing_patterns(X):  # rows ascending in each
        missing_columns = np.flatnonzero(~pattern.observed)
        by_count.setdefault(len(missing_columns), []).append(
            (tuple(missing_columns), pattern.rows)
        )
    order, missing = [], {}
    for count, group in sorted(by_count.items()):
        group.sort(key=lambda member: member[0])
        order.extend(rows for _, rows in group)
        if count:
            patterns = np.array([columns for columns, _ in group], dtype=np.int32)
            pattern = np.repeat(
                np.arange(len(group), dtype=np.int32), [len(rows) for _, rows in group]
            )
            missing[f"patterns_{count}"] = patterns
            missing[f"pattern_{count}"] = pattern
    order = np.concatenate(order)
    X_filled = np.where(absent, 0.0, X)[order]
    if missing:
        incomplete = absent[order][np.count_nonzero(~absent.any(axis=1)):]
        missing["positions"] = np.flatnonzero(incomplete).astype(
            np.int32 if incomplete.size < 2**31 else np.int64
        )
    return X_filled, np.asarray(mask)[order], missing


def _split_last(a, n_pieces):
    """Split ``a`` into pieces along its last axis, and drop that axis.

    One split, rather than an index per piece: the gradient of many indexings
    of an array adds as many zero-padded copies of it.
    """
    return [piece[..., 0] for piece in jnp.split(a, n_pieces, axis=-1)]


def _inverse_cholesky(A):
    """Return log det A and L^-1 (A = L L') for a batch of small ``A``.

    Parameters
    ----------
    A : array of shape (..., j, j)
        Symmetric positive definite.

    Returns
    -------
    log_det : array of shape A.shape[:-2]
    inverse_factor : array of A's shape, lower triangular
    """
    size = A.shape[-1]
    if size > MAX_UNROLLED_MISSING:
        factor = jnp.linalg.cholesky(A)
        eye = jnp.broadcast_to(jnp.eye(size, dtype=A.dtype), A.shape)
        log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(factor, axis1=-2, axis2=-1)), -1)
        return log_det, solve_triangular(factor, eye, lower=True)
    return _unrolled_inverse_cholesky(A)


def _unrolled_inverse_cholesky(A):
    """:func:`_inverse_cholesky`, unrolled over the static size of ``A``.

    Elementwise operations on the batch: for the 1 x 1 to 6 x 6 blocks of
    the missing-data likelihood, with their gradient, far cheaper than
    batched LAPACK calls (or than a gradient written with batched products).
    """
    size = A.shape[-1]
    entries = _split_last(A.reshape(A.shape[:-2] + (size * size,)), size * size)
    factor = [[None] * size for _ in range(size)]
    for row in range(size):
        for column in range(row + 1):
            value = entries[row * size + column] - sum(
                (factor[row][k] * factor[column][k] for k in range(column)), 0.0
            )
            factor[row][column] = (
                jnp.sqrt(value) if column == row else value / factor[column][column]
            )
    inverse = [[jnp.zeros_like(entries[0])] * size for _ in range(size)]
    for row in range(size):
        inverse[row][row] = 1.0 / factor[row][row]
        for column in range(row):
            inverse[row][column] = -inverse[row][row] * sum(
                factor[row][k] * inverse[k][column] for k in range(column, row)
            )
    log_det = 2.0 * sum(jnp.log(factor[row][row]) for row in range(size))
    inverse_factor = jnp.stack([jnp.stack(row, axis=-1) for row in inverse], axis=-2)
    return log_det, inverse_factor


# Blocks of up to this many missing coordinates are factorised by unrolled
# code, larger ones by LAPACK (the unrolled code, and its compile time, grow
# with the cube of the number).
MAX_UNROLLED_MISSING = 6


def _pattern_tables(precisions, patterns):
    """Invert, per pattern of missing coordinates m, the precisions' blocks P_mm.

    Parameters
    ----------
    precisions : array of shape (n_precisions, n_features, n_features)
        One per component, or one shared ('tied').
    patterns : int array of shape (n_patterns, j)

    Returns
    -------
    inverses : array of shape (n_patterns, j * j, n_precisions)
        P_mm^-1, row-major, constant for automatic differentiation.
    log_det : array of shape (n_patterns, n_precisions)
        log det P_mm, with its exact first derivative.
    """
    size = patterns.shape[1]
    block = precisions[:, patterns[:, :, None], patterns[:, None, :]]
    block = jnp.swapaxes(block, 0, 1)  # (n_patterns, n_precisions, j, j)
    log_det, inverse_factors = _inverse_cholesky(jax.lax.stop_gradient(block))
    if size > MAX_UNROLLED_MISSING:
        inverse = jnp.einsum("...ba,...bc->...ac", inverse_factors, inverse_factors)
        linear = jnp.sum(inverse * block, axis=(-2, -1))
        inverses = jnp.swapaxes(inverse.reshape(block.shape[:-2] + (-1,)), 1, 2)
    else:
        # Sums of elementwise products written out: XLA's CPU reductions over
        # axes of a few entries, and batched products of tiny matrices, are slow.
        factor = _split_last(
            inverse_factors.reshape(block.shape[:-2] + (-1,)), size * size
        )
        inverse = [
            sum(factor[k * size + a] * factor[k * size + c]
                for k in range(max(a, c), size))
            for a in range(size) for c in range(size)
        ]
        entries = _split_last(block.reshape(block.shape[:-2] + (-1,)), size * size)
        linear = sum(a * b for a, b in zip(inverse, entries))
        inverses = jnp.stack(inverse, axis=1)
    # d log det B = tr(B^-1 dB): adding <B^-1, B> minus the same held constant
    # leaves the value and gives the gradient without differentiating the
    # factorisation (hundreds of tiny operations per gradient).
    return inverses, log_det + (linear - jax.lax.stop_gradient(linear))


def _conditional_fill(z_missing, pattern, tables):
    """Conditional means of a group's missing entries, and log det P_mm.

    Parameters
    ----------
    z_missing : array of shape (rows, j, n_components)
        z_m, with z = P_k (x - mu_k) and zeros in ``x`` at the missing
        coordinates m.
    pattern : int array of shape (rows,)
        Each row's index in ``tables``.
    tables : tuple
        :func:`_pattern_tables` of the rows' patterns.

    Returns
    -------
    fill : array of shape (rows, j, n_components)
        x_m = -P_k,mm^-1 z_m: the mean of x_m given the observed x_o under
        component k (as mu_m - P_mm^-1 P_mo (x_o - mu_o)).
    log_det : array of shape (rows, n_components) or (rows, 1) if tied
        log det P_k,mm.
    """
    size = z_missing.shape[1]
    inverses, log_det = (
        table.at[pattern].get(mode="promise_in_bounds", indices_are_sorted=True)
        for table in tables
    )
    if size > MAX_UNROLLED_MISSING:
        inverses = inverses.reshape((-1, size, size) + inverses.shape[2:])
        return -jnp.einsum("rabk,rbk->rak", inverses, z_missing), log_det
    inverse = _split_last(jnp.swapaxes(inverses, 1, 2), size * size)
    z_parts = _split_last(jnp.swapaxes(z_missing, 1, 2), size)
    fill = [
        -sum(inverse[a * size + b] * z_parts[b] for b in range(size))
        for a in range(size)
    ]
    return jnp.stack(fill, axis=1), log_det


# The missing-data likelihood's differentiated work runs in blocks of at least
# ROW_BLOCK rows whose (rows, n_components * n_features) intermediates hold at
# most this many numbers: at D=10, K=4 and 50,000 rows with 20% missing,
# blocks of 2,048 rows made its gradient 1.2 times slower than one pass
# (blocks bound the memory).
MISSING_BLOCK_SIZE = 1 << 22


def _map_row_blocks(function, *arrays, block_rows=None):
    """Return ``function(*arrays)``, computed by blocks of rows when large.

    Above 2 * ``block_rows`` rows (default ROW_BLOCK), whole blocks run with
    :func:`jax.lax.map` and the remaining rows as one more block; ``function``
    returns one row per row.
    """
    block_rows = block_rows or ROW_BLOCK
    n_rows = arrays[0].shape[0]
    if n_rows <= 2 * block_rows:
        return function(*arrays)
    n_blocks = n_rows // block_rows
    whole = n_blocks * block_rows
    blocks = jax.lax.map(
        lambda block: function(*block),
        tuple(a[:whole].reshape((n_blocks, block_rows) + a.shape[1:]) for a in arrays),
    )
    result = blocks.reshape((whole,) + blocks.shape[2:])
    if whole < n_rows:
        result = jnp.concatenate([result, function(*(a[whole:] for a in arrays))])
    return result


def _marginal_full_log_likelihood(X, mask, log_weights, maps, missing, tied):
    """Marginal log-likelihood of 'full' or 'tied' components (missing at random).

    The rows come as :func:`missing_inputs` orders them: complete rows, then
    one block for each number j of missing coordinates m. With r = x - mu_k
    and P_k = W_k W_k' component k's precision, the observed coordinates'
    quadratic form r_o' Sigma_k,oo^-1 r_o is the least value of r' P_k r over
    the values at m, reached at their conditional means (Schur complement),
    and log det Sigma_k,oo = log det Sigma_k + log det P_k,mm. The rows
    completed by those means (:func:`_conditional_fill`), held constant, give
    the quadratic form's exact value and first derivatives (envelope
    theorem): the gradient is one product per component for all incomplete
    rows, as for complete rows, with nothing differentiated per row or
    pattern but log det P_mm (:func:`_pattern_tables`). Second derivatives
    through this form are not those of the likelihood.
    """
    projection, shift, log_norm, flat_means = maps
    n_rows, n_features = X.shape
    n_components = log_weights.shape[0]
    factors = projection.reshape(n_features, n_components, n_features)
    precision = jnp.einsum("dki,eki->dke", factors, factors)  # P_k[d, e]
    means = flat_means.reshape(n_components, n_features)
    counts = sorted(int(name[8:]) for name in missing if name.startswith("pattern_"))
    n_complete = n_rows - sum(missing[f"pattern_{j}"].shape[0] for j in counts)
    block_rows = max(ROW_BLOCK, MISSING_BLOCK_SIZE // (n_components * n_features))

    log_lik = _map_row_blocks(
        lambda X_block: _log_sum_exp_rows(_block_log_prob(
            X_block, projection, shift, log_norm + log_weights
        )),
        X[:n_complete], block_rows=block_rows,
    )
    if counts:
        log_lik = jnp.concatenate([log_lik, _incomplete_log_lik(
            X[n_complete:], log_weights, log_norm, means, factors, shift, precision,
            [(j, missing[f"patterns_{j}"], missing[f"pattern_{j}"]) for j in counts],
            missing["positions"], tied, block_rows,
        )])
    return blocked_sum(jnp.where(mask > 0, mask * log_lik, 0.0))


def _incomplete_log_lik(X, log_weights, log_norm, means, factors, shift, precision,
                        groups, positions, tied, block_rows):
    """Marginal log-likelihood of each incomplete row (see the caller).

    ``groups`` holds (j, patterns_j, pattern_j) for each number j of missing
    coordinates, in the rows' order, and ``positions`` the flat positions of
    the missing entries in ``X`` (see :func:`missing_inputs`). Returns an
    array of shape (rows,).
    """
    n_rows, n_features = X.shape
    n_components = means.shape[0]
    # z = P_k (x - mu_k), as (rows * n_features, n_components).
    fixed_precision, fixed_means = jax.lax.stop_gradient((precision, means))
    z = X @ fixed_precision.transpose(0, 2, 1).reshape(n_features, -1) - jnp.einsum(
        "kd,dke->ek", fixed_means, fixed_precision
    ).reshape(-1)
    z_missing = z.reshape(-1, n_components).at[positions].get(
        mode="promise_in_bounds", indices_are_sorted=True
    )
    precisions = jnp.swapaxes(precision[:, :1] if tied else precision, 0, 1)
    fills, offsets, start = [], [], 0
    for count, patterns, pattern in groups:
        n_entries = pattern.shape[0] * count
        fill, log_det = _conditional_fill(
            z_missing[start: start + n_entries].reshape(-1, count, n_components),
            pattern, _pattern_tables(precisions, patterns),
        )
        fills.append(fill.reshape(n_entries, n_components))
        offsets.append(0.5 * count * jnp.log(2 * jnp.pi) - 0.5 * log_det)
        start += n_entries
    completed = jnp.broadcast_to(X.reshape(-1), (n_components, X.size))
    completed = completed.at[:, positions].set(
        jnp.concatenate(fills).T, mode="promise_in_bounds", indices_are_sorted=True,
        unique_indices=True,
    )
    completed = jax.lax.stop_gradient(
        completed.reshape(n_components, n_rows, n_features)
    )
    weight_factors = factors.transpose(1, 0, 2)  # (K, D, D): W_k
    weight_shift = shift.reshape(n_components, 1, n_features)  # mu_k' W_k
    ones = jnp.ones(n_features, X.dtype)

    def block_log_lik(completed_block, offset_block):
        y = jnp.matmul(completed_block, weight_factors) - weight_shift  # (K, rows, D)
        quadratic = ((y * y) @ ones).T
        return _log_sum_exp_rows(
            log_norm + log_weights + offset_block - 0.5 * quadratic
        )

    offsets = jnp.concatenate(offsets)
    if n_rows <= 2 * block_rows:
        return block_log_lik(completed, offsets)
    return _map_row_blocks(
        lambda completed_block, offset_block: block_log_lik(
            completed_block.transpose(1, 0, 2), offset_block
        ),
        completed.transpose(1, 0, 2), offsets, block_rows=block_rows,
    )


def _marginal_diagonal_maps(means, variances):
    """Whitening maps of diagonal components, with half log variances per feature.

    Returns
    -------
    projection : array of shape (n_features, n_components * n_features)
    shift : array of shape (n_components * n_features,)
    half_log_variances : array of shape (n_features, n_components)
    """
    n_features = means.shape[1]
    inv_sd = jax.lax.rsqrt(variances)
    projection = jnp.eye(n_features)[:, None, :] * inv_sd[None]
    shift = (means * inv_sd).reshape(-1)
    return projection.reshape(n_features, -1), shift, 0.5 * jnp.log(variances).T


def _marginal_diagonal_log_likelihood(X, mask, log_weights, maps, observed):
    """Marginal log-likelihood of diagonal components (missing at random).

    Missing residuals are zeroed; the normaliser counts observed coordinates only.
    """
    projection, shift, half_log_variances = maps
    n_components = log_weights.shape[0]
    group = jnp.repeat(jnp.eye(n_components, dtype=X.dtype), X.shape[1], axis=0)

    def block_log_lik(X_block, observed_block):
        y = (X_block @ projection - shift) * jnp.tile(observed_block, (1, n_components))
        log_norm = (
            -0.5 * jnp.log(2 * jnp.pi) * jnp.sum(observed_block, axis=1, keepdims=True)
            - observed_block @ half_log_variances
        )
        return _log_sum_exp_rows(log_norm + log_weights - 0.5 * ((y * y) @ group))

    block_rows = max(ROW_BLOCK, MISSING_BLOCK_SIZE // (n_components * X.shape[1]))
    log_lik = _map_row_blocks(block_log_lik, X, observed, block_rows=block_rows)
    return blocked_sum(jnp.where(mask > 0, mask * log_lik, 0.0))


def _marginal_maps(means, sampled, covariance_type, missing, reg_covar):
    """Build the maps of the marginal likelihood, and the likelihood that reads them.

    ``sampled`` is what :func:`_sample_covariances` returns: covariances, or
    the precision factors (W, log det W) of 'wishart' 'full' and 'tied'.

    Returns
    -------
    maps : tuple of arrays
        Every array's last axis runs over components (length n_components or
        n_components * n_features), so that leading components can be sliced.
    likelihood : callable
        (X, mask, log_weights, maps) -> total marginal log-likelihood.
    """
    if covariance_type in ("diag", "spherical"):
        covariances = regularized(sampled, reg_covar, covariance_type, xp=jnp)
        variances = jnp.broadcast_to(
            covariances[:, None] if covariance_type == "spherical" else covariances,
            means.shape,
        )
        maps = _marginal_diagonal_maps(means, variances)
        return maps, functools.partial(
            _marginal_diagonal_log_likelihood, observed=missing["observed"]
        )
    if isinstance(sampled, tuple):  # factors of the precisions
        maps = _precision_whitening(means, *sampled)
    else:
        maps = _whitening(
            means, regularized(sampled, reg_covar, covariance_type, xp=jnp),
            covariance_type,
        )
    return maps + (means.reshape(-1),), functools.partial(
        _marginal_full_log_likelihood, missing=missing,
        tied=covariance_type == "tied",
    )


def _marginal_log_likelihood(X, mask, log_weights, maps, likelihood, n_real):
    """:func:`_masked_log_likelihood` of rows with missing coordinates.

    ``maps`` and ``likelihood`` are from :func:`_marginal_maps`; ``X`` has
    zeros at the missing coordinates.

    The branch of :func:`jax.lax.switch` that runs (see
    :func:`likelihood_sizes`) returns the value and its gradient with respect
    to ``log_weights`` and ``maps``, which a custom VJP then scales. Left to
    automatic differentiation, the switch would return every branch's
    residuals, rows by components for each size, filled with zeros for the
    branches not taken: a quarter of the missing-data gradient's cost at
    50,000 rows (D=10, K=4).
    """
    n_components = log_weights.shape[0]

    def first(size):
        def value_and_gradient(X, mask, log_weights, maps):
            def total(log_weights, maps):
                kept = tuple(m[..., : m.shape[-1] // n_components * size] for m in maps)
                return likelihood(X, mask, log_weights[:size], kept)

            return jax.value_and_grad(total, argnums=(0, 1))(log_weights, maps)

        return value_and_gradient

    sizes = likelihood_sizes(n_components)
    branch = jnp.searchsorted(jnp.asarray(sizes), n_real)

    def value_and_gradient(log_weights, maps):
        return jax.lax.switch(
            branch, [first(size) for size in sizes], X, mask, log_weights, maps
        )

    @jax.custom_vjp
    def total(log_weights, maps):
        return value_and_gradient(log_weights, maps)[0]

    def total_vjp(gradient, cotangent):
        return jax.tree.map(lambda g: cotangent * g, gradient)

    total.defvjp(value_and_gradient, total_vjp)
    return total(log_weights, maps)


def _padded_log_density(values, padded):
    """Return the standard normal log-density (up to a constant) of ``padded`` entries.

    The density of a padded component's unconstrained site values: any proper
    density independent of the rest leaves the real components' posterior
    unchanged. (The sampler does not move them anyway: see
    ``skbayesmix._inference._freeze_padding``.)
    """
    return -0.5 * jnp.sum(jnp.where(padded, values**2, 0.0))


def _stick_breaking(sticks, n_real):
    """Log weights and log-Jacobian of stick-breaking over the first ``n_real`` slots.

    As NumPyro's ``StickBreakingTransform`` on ``sticks[:n_real - 1]`` (the same
    shift, fractions and Jacobian), for a number of real components that is an
    array rather than a shape: the weights of the slots from ``n_real`` on are
    exactly zero (log weight -inf), and the sticks from ``n_real - 1`` on are
    unused.

    Returns
    -------
    log_weights : array of shape (len(sticks) + 1,)
    log_jacobian : scalar
    free : array of shape (len(sticks),), dtype=bool
        The sticks that are used.
    """
    index = jnp.arange(sticks.shape[-1])
    free = index < n_real - 1
    # Shifted so that zero sticks give equal weights, as NumPyro's transform.
    shifted = sticks - jnp.log(jnp.where(free, n_real - 1 - index, 1.0))
    log_taken = jnp.where(free, jax.nn.log_sigmoid(shifted), 0.0)
    log_left = jnp.where(free, jax.nn.log_sigmoid(-shifted), 0.0)
    # Slot j takes a fraction of what slots before it left; the last real slot
    # takes all that is left.
    left_before = jnp.concatenate([jnp.zeros(1), jnp.cumsum(log_left)])
    log_weights = jnp.concatenate([log_taken, jnp.zeros(1)]) + left_before
    slots = jnp.arange(sticks.shape[-1] + 1)
    log_weights = jnp.where(slots < n_real, log_weights, -jnp.inf)
    # |J| = prod_i w_i (1 - f_i) over the used sticks (Stan's simplex transform).
    log_jacobian = jnp.sum(jnp.where(free, log_weights[:-1] + log_left, 0.0))
    return log_weights, log_jacobian, free


def _sample_log_weights(
    concentration, n_components, weight_parameterization, n_obs, real
):
    """Sample the mixture weights ~ Dirichlet(concentration); return their logs.

    The Dirichlet is over the ``real`` components; the others get log weight
    -inf, and their sites a standard normal.

    'simplex' samples stick-breaking coordinates (NumPyro's transform). 'gamma'
    samples log g_k ~ log-Gamma(alpha, 1) and normalises. 'softmax' samples
    logits t_k: the weights are softmax(u) with u_k = f(t_k), the prior density
    makes softmax(u) ~ Dirichlet(alpha) and log(sum_k e^{u_k}) ~ Normal(0, 1) (a
    proper prior on the direction the likelihood ignores), and f is the identity
    above the log weight at which a component expects ``exp(-WEIGHT_TAIL_OFFSET)``
    observations and stretches by up to 1/alpha below it. An empty component's
    log weight has density ~ exp(alpha u): with alpha = 1e-3 a plateau about 1000
    units long in u, which f turns into a unit-scale exponential tail in t.

    Returns
    -------
    log_weights : array of shape (n_components,)
    padded_density : scalar
        The log-density of the padded components' sites.
    """
    alpha = concentration * jnp.ones(n_components)
    if weight_parameterization == "simplex":
        sticks = numpyro.sample(
            "weight_sticks",
            dist.ImproperUniform(dist.constraints.real_vector, (), (n_components - 1,)),
        )
        log_weights, log_jacobian, free = _stick_breaking(sticks, jnp.sum(real))
        padded_density = _padded_log_density(sticks, ~free)
        dirichlet = jnp.sum(jnp.where(real, (alpha - 1.0) * log_weights, 0.0))
        numpyro.factor("weight_prior", dirichlet + log_jacobian + padded_density)
    elif weight_parameterization == "gamma":
        # y = log g with g ~ Gamma(alpha, 1) has density exp(alpha y - e^y) /
        # Gamma(alpha), written directly: the density of g at exp(y) underflows
        # in float32 below y = -87, which truncated the prior.
        log_gamma = numpyro.sample(
            "log_gamma_weights",
            dist.ImproperUniform(dist.constraints.real_vector, (), (n_components,)),
        )
        padded_density = _padded_log_density(log_gamma, ~real)
        log_gamma_density = alpha * log_gamma - jnp.exp(log_gamma) - gammaln(alpha)
        numpyro.factor(
            "weight_prior",
            jnp.sum(jnp.where(real, log_gamma_density, 0.0)) + padded_density,
        )
        log_weights = jnp.where(real, log_gamma, -jnp.inf)
        log_weights = log_weights - logsumexp(log_weights)
    else:
        logits = numpyro.sample(
            "weight_logits",
            dist.ImproperUniform(dist.constraints.real_vector, (), (n_components,)),
        )
        padded_density = _padded_log_density(logits, ~real)
        u, log_jacobian = _stretch_tail(logits, alpha, n_obs)
        u = jnp.where(real, u, -jnp.inf)
        total = logsumexp(u)
        log_weights = u - total
        # Dirichlet(w) * prod(w) (softmax Jacobian) * Normal(total; 0, 1) * |f'|.
        numpyro.factor(
            "weight_prior",
            jnp.sum(jnp.where(real, alpha * log_weights + log_jacobian, 0.0))
            - 0.5 * total**2 + padded_density,
        )
    numpyro.deterministic("weights", jnp.exp(log_weights))
    return log_weights, padded_density


def _stretch_tail(t, alpha, n_obs):
    """Stretch logits: u = t - (1/alpha - 1) softplus(t0 + log(alpha) - t).

    Returns u and log du/dt, element by element.

    du/dt is 1 well above t0 = -log(n_obs) - WEIGHT_TAIL_OFFSET, 2 at t0 and
    tends to 1/alpha below t0 + log(alpha).
    """
    knee = -jnp.log(n_obs) - WEIGHT_TAIL_OFFSET + jnp.log(alpha)
    slope = 1.0 / alpha - 1.0
    u = t - slope * jax.nn.softplus(knee - t)
    log_jacobian = jnp.log1p(slope * jax.nn.sigmoid(knee - t))
    return u, log_jacobian


def _inverse_gamma_scale_log_prob(scales, shape, prior_scale):
    """log-density of s where s^2 ~ InverseGamma(shape, prior_scale / 2).

    Element by element; the Jacobian of s -> s^2 (2 s) is included; up to a
    constant.
    """
    return -(2.0 * shape + 1.0) * jnp.log(scales) - 0.5 * prior_scale / scales**2


def _sample_covariances(hyper, n_components, n_features, covariance_type,
                        covariance_prior, real):
    """Sample the covariances (before ``reg_covar``) in scikit-learn's shape.

    Returns the covariances, or, for 'wishart' with 'full' and 'tied', the
    tuple (W, log det W) of per-component factors of the precisions
    (W W' = Sigma^-1), from which the likelihood is computed directly;
    ``reg_covar`` is then added to the draws only (see
    :func:`to_mixture`), as the prior already keeps them non-singular. Also
    returns the standard normal log-density of the padded components' sites
    (those not ``real``; 'wishart' only).

    'wishart': every covariance is inverse-Wishart(``degrees_of_freedom``,
    ``covariance_prior_scale``). 'full' and 'tied' sample a Bartlett factor
    ``A`` of the precision relative to the component's reference covariance
    ``R R'`` (``component_root``): Sigma = R (A A')^-1 R', with the log of
    its diagonal sampled. Relative to the conjugate posterior mean given the
    start, the factor's posterior is close to independent normals, which NUTS
    samples far better than standard deviations and LKJ correlations when D
    is large or the features are correlated. 'diag' and 'spherical' sample standard
    deviations whose squares are InverseGamma((dof - D + 1) / 2,
    covariance_prior_scale / 2), the inverse-Wishart's marginal of one
    variance. The density vanishes as any covariance becomes singular.

    'lkj': half-Cauchy standard deviations and an LKJ correlation (the seed's
    prior, positive at singular covariances).
    """
    # A tied covariance is one set of sites, outside the components' plate.
    plate = (
        nullcontext() if covariance_type == "tied"
        else numpyro.plate("components", n_components)
    )
    matrix = covariance_type in ("full", "tied")
    dof = hyper["degrees_of_freedom"]
    prior_scale = hyper["covariance_prior_scale"]
    if covariance_prior == "wishart" and matrix:
        with plate:
            log_diagonal = numpyro.sample(
                "precision_log_diagonal",
                dist.ImproperUniform(dist.constraints.real_vector, (), (n_features,)),
            )
            off_diagonal = None
            if n_features > 1:
                n_off = n_features * (n_features - 1) // 2
                off_diagonal = numpyro.sample(
                    "precision_off_diagonal",
                    dist.ImproperUniform(dist.constraints.real_vector, (), (n_off,)),
                )
        root = hyper["component_root"]
        factor = bartlett_factor(log_diagonal, off_diagonal, xp=jnp)
        # Wishart(dof, (C C')^-1) density of the precision R^-T A A' R^-1 with
        # its Jacobian (up to a constant): sum_i (dof - i) u_i - |A' M|^2 / 2,
        # M = R^-1 C. With R = C this is Bartlett's independent factors.
        k = dof - jnp.arange(n_features)
        transformed = jnp.swapaxes(factor, -1, -2) @ hyper["bartlett_prior"]
        density = jnp.sum(k * log_diagonal, -1) - 0.5 * jnp.sum(
            transformed**2, (-2, -1)
        )
        padded_density = 0.0
        if covariance_type == "full":
            padded = ~real[:, None]
            padded_density = _padded_log_density(log_diagonal, padded)
            if off_diagonal is not None:
                padded_density += _padded_log_density(off_diagonal, padded)
            density = jnp.where(real, density, 0.0)
        numpyro.factor("covariance_prior", jnp.sum(density) + padded_density)
        # W = R^-T A whitens: the likelihood needs no inverse or factorisation.
        factors = jnp.swapaxes(hyper["component_root_inverse"], -1, -2) @ factor
        log_det = jnp.sum(log_diagonal, -1) - jnp.sum(
            jnp.log(jnp.diagonal(root, axis1=-2, axis2=-1)), -1
        )
        if covariance_type == "tied":
            factors = jnp.broadcast_to(factors, (n_components,) + factors.shape)
            log_det = jnp.broadcast_to(log_det, (n_components,))
        return (factors, log_det), padded_density

    scale_shape = () if covariance_type == "spherical" else (n_features,)
    if covariance_prior == "wishart":
        scale_dist = dist.ImproperUniform(dist.constraints.positive, (), scale_shape)
    else:
        scale_dist = dist.HalfCauchy(hyper["scale_prior"] * jnp.ones(scale_shape))
        scale_dist = scale_dist.to_event(len(scale_shape))
    corr_cholesky = None
    with plate:
        scales = numpyro.sample("scales", scale_dist)
        if matrix and n_features > 1:
            corr_cholesky = numpyro.sample(
                "corr_cholesky",
                dist.LKJCholesky(n_features, hyper["lkj_concentration"]),
            )
    padded_density = 0.0
    if covariance_prior == "wishart":
        shape = 0.5 * (dof - n_features + 1.0)
        density = _inverse_gamma_scale_log_prob(scales, shape, prior_scale)
        # Padded scales s: log s standard normal, the Jacobian s of the
        # positive transform (which NumPyro adds) taken out.
        log_scales = jnp.log(scales)
        padded = ~(real if covariance_type == "spherical" else real[:, None])
        padded_density = _padded_log_density(log_scales, padded)
        numpyro.factor(
            "covariance_prior",
            jnp.sum(jnp.where(padded, -log_scales, density)) + padded_density,
        )
    covariances = covariance_from_factors(
        scales, corr_cholesky, 0.0, covariance_type, xp=jnp
    )
    return covariances, padded_density


def _sample_means(hyper, n_components, n_features, real):
    """Sample the means ~ Normal(mean_prior_loc, mean_prior_scale^2 I).

    The sampled site is ``mean_offsets`` z with means = loc + root z, for the
    lower-triangular ``component_root`` of each component (the Cholesky
    factor of its reference covariance for 'full' and 'tied', see
    :mod:`skbayesmix._prior`; the identity otherwise). The posterior
    of a mean has covariance Sigma_k / n_k: on strongly correlated features
    (condition numbers of 10^4 and more) a diagonal metric on the means
    themselves needs tiny steps, while the offsets are nearly uncorrelated.
    The prior density is written on the means; the Jacobian is constant.
    Offsets of padded components (not ``real``) are standard normal.

    Returns
    -------
    means : array of shape (n_components, n_features)
    padded_density : scalar
        The log-density of the padded offsets.
    """
    root = hyper["component_root"]
    with numpyro.plate("components", n_components):
        offsets = numpyro.sample(
            "mean_offsets",
            dist.ImproperUniform(dist.constraints.real_vector, (), (n_features,)),
        )
    shift = jnp.einsum("...ij,...j->...i", root, offsets)
    density = -0.5 * jnp.sum(shift**2, -1) / hyper["mean_prior_scale"] ** 2
    padded_density = _padded_log_density(offsets, ~real[:, None])
    density = jnp.sum(jnp.where(real, density, 0.0))
    numpyro.factor("mean_prior", density + padded_density)
    means = numpyro.deterministic("means", hyper["mean_prior_loc"] + shift)
    return means, padded_density


def gmm_model(
    X,
    mask,
    hyper,
    missing=None,
    *,
    n_components,
    covariance_type="full",
    weight_parameterization="simplex",
    covariance_prior="wishart",
):
    """Marginalised Bayesian Gaussian mixture (no discrete sites).

    Parameters
    ----------
    X : array of shape (n_padded, n_features)
        Standardised data, padded with arbitrary finite rows.
    mask : array of shape (n_padded,)
        The weight of each row's log-likelihood: 1.0 for real rows (or their
        ``sample_weight``), 0.0 for padding (which contributes no likelihood).
    hyper : dict of arrays
        ``component_mask`` (n_components,): 1.0 for the real components, 0.0
        for padding (see below), ``weight_concentration``,
        ``mean_prior_loc`` (n_components, n_features),
        ``mean_prior_scale``, ``component_root`` (lower-triangular,
        (n_components, D, D), or (D, D) shared; see :func:`_sample_means`),
        ``bartlett_prior`` (see :func:`_sample_covariances`),
        ``degrees_of_freedom`` and ``covariance_prior_scale`` ('wishart': the
        inverse-Wishart scale in the shape of one covariance of the type),
        ``scale_prior``, ``lkj_concentration`` ('lkj'), and ``reg_covar`` (a
        number, or shaped like one covariance of the type).
    missing : dict of arrays, default=None
        For data with missing entries, the rows' missing coordinates as
        :func:`missing_inputs` describes them (its ``X_filled`` and ``mask``
        are then ``X`` and ``mask``, padding rows included, in its order of
        the rows): each row's likelihood is then its
        marginal over its observed coordinates (missing at random), and a row
        with none contributes 0. None: every coordinate is observed.
    n_components : int
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    weight_parameterization : {'simplex', 'gamma', 'softmax'}
        How the Dirichlet weights are sampled (see ``_sample_log_weights``).
        'simplex' (stick-breaking) suits concentrations near 1 and above;
        'softmax' suits small concentrations with components that empty.
    covariance_prior : {'wishart', 'lkj'}
        See :func:`_sample_covariances`.

    Notes
    -----
    Padded components let one compiled sampler serve every number of
    components up to ``n_components``: they have log weight -inf (no
    likelihood), the Dirichlet is over the real components only, and every
    unconstrained value of their sites follows an independent standard normal
    ('wishart' only; with 'lkj' every component must be real). The posterior of
    the real components is exactly that of the unpadded model.
    """
    n_features = X.shape[1]
    real = hyper["component_mask"] > 0
    n_real = jnp.sum(real.astype(jnp.int32))
    log_weights, weight_padding = _sample_log_weights(
        hyper["weight_concentration"],
        n_components,
        weight_parameterization,
        jnp.maximum(jnp.sum(mask), 1.0),
        real,
    )
    means, mean_padding = _sample_means(hyper, n_components, n_features, real)
    sampled, covariance_padding = _sample_covariances(
        hyper, n_components, n_features, covariance_type, covariance_prior, real
    )
    # Recorded with every draw, so that the log density of the real
    # components' posterior can be told apart from the padding's.
    numpyro.deterministic(
        "padding_log_density", weight_padding + mean_padding + covariance_padding
    )
    if missing is not None:
        maps, likelihood = _marginal_maps(
            means, sampled, covariance_type, missing, hyper["reg_covar"]
        )
        # Missing entries are zero already; a NaN here would reach the gradient.
        X = jnp.where(jnp.isnan(X), 0.0, X)
        numpyro.factor("obs", _marginal_log_likelihood(
            X, mask, log_weights, maps, likelihood, n_real
        ))
        return
    if isinstance(sampled, tuple):  # factors of the precisions
        maps = _precision_whitening(means, *sampled)
    else:
        maps = _whitening(
            means, regularized(sampled, hyper["reg_covar"], covariance_type, xp=jnp),
            covariance_type,
        )
    numpyro.factor("obs", _masked_log_likelihood(X, mask, log_weights, maps, n_real))
