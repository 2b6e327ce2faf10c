"""The posterior predictive of many new rows, as one compiled program (JAX).

:func:`predictive_log_joint` returns log sum_s v_s w_sk N(x | mu_sk, Sigma_sk)
for every row x and component k (v_s the draws' averaging weights): the
predictive memberships and the predictive density of new rows both follow
from it. It computes what :mod:`skbayesmix._density` computes in NumPy, to
float64 round-off, about ten times faster on large inputs (0.46 ns per row,
draw and component on two cores at D=2, mostly the exponential):

- Each Gaussian's log density is a quadratic in x, so the log terms of a block
  of rows and a block of draws are one matrix product of the rows' quadratic
  features with the draws' coefficients. The features are taken about each
  component's posterior mean, so that the expansion keeps its digits where
  the density matters (near the component).
- Each call adds a block of draws to the running log-sums of a block of rows
  inside one program that XLA fuses: the (draws x rows x components) terms
  never leave the cache. The exponentials are shifted by the running sums
  (no pass for the maximum) unless one would overflow.
- The draws are taken in blocks of bounded size (outer loop), the rows in
  calls of fixed shape, in threads over contiguous ranges of calls, one per
  core (JAX releases the GIL).

Computation happens in float64 under :func:`jax.enable_x64` entered in each
worker thread (a thread-local setting: JAX's global configuration is never
touched). Compiled programs are kept for a few structures only
(:func:`_compiled_kernel`); a new structure compiles in about 0.3 s, which is
why :mod:`skbayesmix._density` hands over only large inputs.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from skbayesmix._covariance import full_matrices
from skbayesmix._threadpool import map_in_threads, usable_cores

# Rows per compiled call, as blocks of rows the loop inside the call maps over.
ROW_BLOCK = 128
ROW_BLOCKS_PER_CALL = 16
# Most draws per compiled call (fewer draws are padded to a power of two, so
# that few programs exist). Chosen by timing 256-2048 x 16-256 at D = 2, 10, 30.
DRAW_BLOCK = 512
# Most coefficients (components x draws x quadratic features) of one call:
# 16 MB, so that memory stays bounded for many features (D=64, 'full': 2,145
# coefficients per component and draw).
MAX_COEFFICIENTS = 2**21
_LOG_2PI = np.log(2 * np.pi)


def _diagonal_precision(covariance_type):
    return covariance_type in ("diag", "spherical")


def _quadratic_coefficients(draws, centres):
    """Coefficients of each draw's log term as a quadratic in (x - centre_k).

    log v_s + log w_sk + log N(x | mu_sk, P_sk^-1) = a_sk . q(y) + b_sk . y + c_sk
    with y = x - centre_k and q(y) the squares (diagonal precisions) or the
    upper-triangular products y_i y_j, i <= j, each off-diagonal product
    counted twice.

    Returns
    -------
    coefficients : ndarray of shape (n_draws, n_components, n_coefficients)
        The last axis holds a, b and c, in that order.
    """
    n_draws, n_components, n_features = draws.means.shape
    offsets = draws.means - centres  # (S, K, D)
    if _diagonal_precision(draws.covariance_type):
        roots = np.asarray(draws.precisions_cholesky)
        if draws.covariance_type == "spherical":
            roots = np.broadcast_to(roots[..., None], offsets.shape)
        precision = roots**2
        log_det = np.sum(np.log(roots), axis=-1)
        linear = precision * offsets
        quadratic = -0.5 * precision
    else:
        roots = full_matrices(
            draws.precisions_cholesky, draws.covariance_type, n_components, n_features
        )
        precision = roots @ np.swapaxes(roots, -1, -2)
        log_det = np.sum(np.log(np.diagonal(roots, 0, -2, -1)), axis=-1)
        linear = np.einsum("skde,ske->skd", precision, offsets)
        upper = np.triu_indices(n_features)
        counted = np.where(upper[0] == upper[1], 1.0, 2.0)
        quadratic = -0.5 * counted * precision[..., upper[0], upper[1]]
    with np.errstate(divide="ignore"):
        log_weights = np.log(draws.weights) + np.log(draws.draw_weights)[:, None]
    constant = (
        log_weights + log_det - 0.5 * n_features * _LOG_2PI
        - 0.5 * np.sum(offsets * linear, axis=-1)
    )
    return np.concatenate([quadratic, linear, constant[..., None]], axis=-1)


def _features(rows, centres, diagonal):
    """Quadratic features of ``rows`` about each centre: (K, n_rows, n_coefficients)."""
    offsets = rows[None, :, :] - centres[:, None, :]
    if diagonal:
        quadratic = offsets * offsets
    else:
        upper = np.triu_indices(rows.shape[-1])
        quadratic = offsets[..., upper[0]] * offsets[..., upper[1]]
    ones = jnp.ones(offsets.shape[:-1] + (1,), offsets.dtype)
    return jnp.concatenate([quadratic, offsets, ones], axis=-1)


def _log_joint_kernel(rows, centres, coefficients, log_joint, *, diagonal):
    """Add a block of draws' terms to ``log_joint``, for blocks of rows.

    rows : (n_blocks, ROW_BLOCK, D); centres : (K, D); coefficients :
    (K, n_draws, n_coefficients); log_joint : (n_blocks, K, ROW_BLOCK).
    Components lead and rows trail, so that the sums over draws add contiguous
    rows (about a fifth faster than rows first).
    """

    def sum_from(terms, shift):
        return jnp.log(jnp.sum(jnp.exp(terms - shift[:, None]), axis=1)) + shift

    def from_maximum(terms, total):
        top = jnp.max(terms, axis=1)
        top = jnp.where(jnp.isfinite(top), top, 0.0)
        return jnp.logaddexp(total, sum_from(terms, top))

    def from_total(terms, total):
        # The running total is a safe shift unless a term exceeds it by ~700.
        block_total = sum_from(terms, total)
        return lax.cond(
            jnp.all(block_total < jnp.inf),
            lambda: jnp.logaddexp(total, block_total),
            lambda: from_maximum(terms, total),
        )

    def one_block(block):
        block_rows, total = block
        features = _features(block_rows, centres, diagonal)
        terms = jnp.einsum("krf,kbf->kbr", features, coefficients)
        return lax.cond(
            jnp.all(jnp.isfinite(total)), from_total, from_maximum, terms, total
        )

    return lax.map(one_block, (rows, log_joint))


@functools.lru_cache(maxsize=8)
def _compiled_kernel(diagonal, n_components, n_features, draws_per_call):
    """Return a jitted kernel for one structure (its own function object).

    The arguments only key the cache: each jitted function then holds the one
    program of its shapes, and JAX frees a program's traces with its function,
    so at most eight structures' programs stay in memory (as for samplers, see
    :mod:`skbayesmix._program_cache`).
    """
    del n_components, n_features, draws_per_call
    return jax.jit(functools.partial(_log_joint_kernel, diagonal=diagonal))


def _draws_per_call(n_draws, n_components, n_coefficients):
    """Draws each call takes: a power of two, at most DRAW_BLOCK and the budget."""
    fits_budget = max(1, MAX_COEFFICIENTS // (n_components * n_coefficients))
    most = min(DRAW_BLOCK, 2 ** int(np.log2(fits_budget)))
    return int(min(most, 2 ** int(np.ceil(np.log2(n_draws)))))


def _block_coefficients(draws, centres, draw_slice, per_call):
    """(K, per_call, F) coefficients of the draws in ``draw_slice``.

    Padded draws have a constant of -inf, so their terms are exactly zero.
    """
    block = draws._replace(
        weights=draws.weights[draw_slice],
        means=draws.means[draw_slice],
        precisions_cholesky=draws.precisions_cholesky[draw_slice],
        draw_weights=draws.draw_weights[draw_slice],
    )
    coefficients = _quadratic_coefficients(block, centres)
    padded = np.zeros((per_call,) + coefficients.shape[1:])
    padded[:, :, -1] = -np.inf
    padded[: coefficients.shape[0]] = coefficients
    return padded.swapaxes(0, 1)


def predictive_log_joint(X, draws):
    """Return log sum_s v_s w_sk N(x | mu_sk, Sigma_sk) per row and component.

    The draws are taken in blocks (at most :data:`MAX_COEFFICIENTS`
    coefficients each); for each block, the rows in calls of fixed shape, in
    threads over contiguous ranges of calls. Memory: the result, a padded copy
    of ``X`` and one block's coefficients (at most 16 MB).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        In the draws' units.
    draws : MixtureDraws
        With ``draw_weights`` given (not None): the averaging weights v_s.

    Returns
    -------
    log_joint : ndarray of shape (n_samples, n_components)
    """
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    n_draws, n_components = draws.weights.shape
    diagonal = _diagonal_precision(draws.covariance_type)
    n_quadratic = n_features if diagonal else n_features * (n_features + 1) // 2
    per_call = _draws_per_call(n_draws, n_components, n_quadratic + n_features + 1)
    kernel = _compiled_kernel(diagonal, n_components, n_features, per_call)
    centres = np.tensordot(draws.draw_weights, draws.means, axes=1)

    rows_per_call = ROW_BLOCK * ROW_BLOCKS_PER_CALL
    n_calls = -(-n_samples // rows_per_call)
    rows = np.zeros((n_calls * rows_per_call, n_features))
    rows[:n_samples] = X
    rows = rows.reshape(n_calls, ROW_BLOCKS_PER_CALL, ROW_BLOCK, n_features)
    log_joint = np.full(
        (n_calls, ROW_BLOCKS_PER_CALL, n_components, ROW_BLOCK), -np.inf
    )
    n_threads = min(usable_cores(), n_calls)
    thread_calls = np.array_split(np.arange(n_calls), n_threads)
    with jax.enable_x64(True):
        device_centres = jnp.asarray(centres)

    for start in range(0, n_draws, per_call):
        with jax.enable_x64(True):
            coefficients = jnp.asarray(_block_coefficients(
                draws, centres, slice(start, start + per_call), per_call
            ))

        def add_block(calls, coefficients=coefficients):
            # Each thread writes its own calls' rows of ``log_joint``.
            with jax.enable_x64(True):
                for call in calls:
                    log_joint[call] = np.asarray(kernel(
                        rows[call], device_centres, coefficients, log_joint[call]
                    ))

        map_in_threads(add_block, thread_calls, n_threads)
    return log_joint.swapaxes(2, 3).reshape(-1, n_components)[:n_samples]
