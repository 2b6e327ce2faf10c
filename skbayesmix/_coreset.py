"""Weighted coresets: a few thousand weighted rows that stand in for millions.

NUTS evaluates the likelihood of every row at every leapfrog step, so fitting
10^6-10^7 rows directly is out of reach. A coreset is a small weighted subset
(C, u) of the rows whose weighted log-likelihood sum_{c in C} u_c log p(x_c |
theta) approximates the full sum_i w_i log p(x_i | theta) for every mixture
theta, not only for the one a point estimate would pick; the sampler then
targets prod_c p(x_c | theta)^{u_c}.

Rows are drawn by importance (sensitivity) sampling around a quick k-means
clustering B of the data, as in Lucic et al. [1]_: a row far from its centre,
or in a small cluster, can dominate the log-likelihood of some mixture and is
drawn more often, with a smaller weight; uniform sampling would miss small,
far components. Bachem et al. [2]_ give the lightweight variant of the bound
and the analysis of its cost. Coresets compose: the union of coresets of
disjoint blocks is a coreset of their union, which :func:`dask_coreset` uses
to build one per block of a Dask array on the workers and reduce the union on
the client.

References
----------
.. [1] M. Lucic, M. Faulkner, A. Krause and D. Feldman, "Training Gaussian
   Mixture Models at Scale via Coresets", Journal of Machine Learning
   Research 18(160), 2018.
.. [2] O. Bachem, M. Lucic and A. Krause, "Scalable k-Means Clustering via
   Lightweight Coresets", KDD 2018.
"""

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.utils import check_random_state

from skbayesmix._dask import is_dask_array, ship_blocks
from skbayesmix._standardize import mean_and_std
from skbayesmix._threadpool import SKLEARN_FIT_LOCK

# k-means for the clustering B runs on at most this many rows: the
# sensitivities only need a rough B (the bound holds for any B), and at 10^6
# rows the subsample makes seeding and Lloyd about four times cheaper.
_MAX_CLUSTERING_ROWS = 100_000
_LLOYD_ITERATIONS = 10


def sensitivity_coreset(X, sample_weight, *, size, n_clusters, random_state):
    """Weighted coreset of rows drawn by their sensitivity.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,)
        Non-negative finite weights (validated by the caller); rows of weight
        zero are never drawn.
    size : int
        Number of draws (with replacement). Rows drawn more than once are
        merged into one row with the summed weight, so the coreset usually
        has fewer than ``size`` rows.
    n_clusters : int
        Number of clusters of the k-means clustering the rows are drawn
        around (at most the number of distinct rows is used).
    random_state : int, RandomState instance or None

    Returns
    -------
    X_coreset : ndarray of shape (n_coreset, n_features)
        Rows of X in their original order.
    weights : ndarray of shape (n_coreset,)
        Positive weights; for any f, ``weights @ f(X_coreset)`` is an
        unbiased estimate of ``sample_weight @ f(X)``.

    Notes
    -----
    With d_i the squared distance of row i to its nearest centre of B, B_i its
    cluster, W_B the weight of a cluster, W the total weight and
    c = sum_i w_i d_i / W, the sensitivity bound of [1]_ (Algorithm 2, written
    with weights) is

        s_i = alpha d_i / c + 2 alpha (sum_{j in B_i} w_j d_j) / (W_{B_i} c)
              + 4 W / W_{B_i},   alpha = 16 (log k + 2).

    Row i is drawn with probability q_i proportional to w_i s_i and a draw
    weighs w_i / (size q_i). When no more than ``size`` rows have positive
    weight, those rows are returned with their weights, exactly.
    """
    rng = check_random_state(random_state)
    X = np.asarray(X, dtype=np.float64)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    positive = np.flatnonzero(sample_weight > 0)
    if len(positive) <= size:
        return X[positive], sample_weight[positive]
    if len(positive) < len(X):
        X, sample_weight = X[positive], sample_weight[positive]

    labels, sq_distances = _cluster(X, sample_weight, n_clusters, rng)
    sensitivity = _sensitivity(sample_weight, labels, sq_distances, n_clusters)
    probability = sample_weight * sensitivity
    probability /= probability.sum()

    draws = rng.choice(len(X), size, p=probability)
    drawn, counts = np.unique(draws, return_counts=True)
    weights = counts * sample_weight[drawn] / (size * probability[drawn])
    return X[drawn], weights


def _cluster(X, sample_weight, n_clusters, rng):
    """Weighted k-means (k-means++ seeds, a few Lloyd steps) on a subsample.

    Distances are taken between standardised features (weighted), as the
    estimator samples them: on raw features one with a large range (wine's
    proline, in the hundreds) would decide every distance alone. Missing
    entries count as the feature's mean.

    Returns the label of every row of X and its squared distance to its
    centre.
    """
    n_samples = len(X)
    mean, scale = mean_and_std(X, sample_weight)
    X = (X - mean) / np.where(scale > 0, scale, 1.0)
    # A missing entry (NaN) sits at its feature's mean, for the distances only:
    # the coreset keeps the rows as they are.
    X[np.isnan(X)] = 0.0
    if n_samples > _MAX_CLUSTERING_ROWS:
        rows = rng.choice(n_samples, _MAX_CLUSTERING_ROWS, replace=False)
        X_fit, weight_fit = X[rows], sample_weight[rows]
    else:
        X_fit, weight_fit = X, sample_weight
    # KMeans warns when it finds fewer distinct clusters than asked for.
    n_clusters = min(n_clusters, _count_distinct_rows(X_fit, n_clusters))
    with SKLEARN_FIT_LOCK:
        seeds, _ = kmeans_plusplus(
            X_fit, n_clusters, sample_weight=weight_fit, random_state=rng
        )
        kmeans = KMeans(
            n_clusters, init=seeds, n_init=1, max_iter=_LLOYD_ITERATIONS,
            random_state=rng,
        ).fit(X_fit, sample_weight=weight_fit)
        labels = kmeans.predict(X)
    residual = X - kmeans.cluster_centers_[labels]
    return labels, np.einsum("ij,ij->i", residual, residual)


def _count_distinct_rows(X, n_rows):
    """Count the distinct rows of X, stopping at ``n_rows``."""
    # A prefix nearly always shows enough distinct rows; sorting all is slow.
    head = np.unique(X[: 10 * n_rows], axis=0)
    if len(head) >= n_rows:
        return n_rows
    return min(n_rows, len(np.unique(X, axis=0)))


def _sensitivity(sample_weight, labels, sq_distances, n_clusters):
    """Upper bound on each row's sensitivity (see :func:`sensitivity_coreset`)."""
    alpha = 16.0 * (np.log(n_clusters) + 2.0)
    total_weight = sample_weight.sum()
    cluster_weight = np.bincount(labels, weights=sample_weight, minlength=n_clusters)
    cluster_cost = np.bincount(
        labels, weights=sample_weight * sq_distances, minlength=n_clusters
    )
    sensitivity = 4.0 * total_weight / cluster_weight[labels]
    mean_cost = cluster_cost.sum() / total_weight
    # Zero when every row sits on its centre: only the cluster term is left.
    if mean_cost > 0:
        sensitivity += alpha * sq_distances / mean_cost
        sensitivity += (
            2.0 * alpha * cluster_cost[labels] / (cluster_weight[labels] * mean_cost)
        )
    return sensitivity


def dask_coreset(X, sample_weight, *, size, n_clusters, random_state):
    """Weighted coreset of a Dask array, built block by block on the workers.

    Each block of rows is reduced to a coreset by :func:`sensitivity_coreset`
    where it lives (with the active ``dask.distributed`` client if there is
    one); only these coresets come back. Their union is a coreset of X [1]_.
    The ``size`` draws are shared among the blocks in proportion to their
    weight (rounded up), so that the union is a stratified sample of about
    ``size`` draws: as close to X's likelihood as one coreset of that size.
    (Coresets of ``size`` draws per block, reduced once more on the client,
    compound two sampling errors.)

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows, with known chunk sizes.
    sample_weight : dask.array.Array, ndarray of shape (n_samples,) or None
        None weighs every row 1. A Dask array is checked block by block
        (non-negative and finite); an ndarray is assumed checked.
    size : int
        Number of draws, shared among the blocks.
    n_clusters : int
        Number of clusters of the k-means clusterings rows are drawn around.
    random_state : int, RandomState instance or None
        Seeds of the blocks are drawn from it up front.

    Returns
    -------
    X_coreset : ndarray of shape (n_coreset, n_features)
    weights : ndarray of shape (n_coreset,)

    Raises
    ------
    ValueError
        If the chunk sizes of X are unknown, or a Dask ``sample_weight`` has a
        negative or non-finite value.
    """
    import dask

    if X.ndim != 2:
        raise ValueError(f"Expected a 2-dimensional Dask array, got ndim = {X.ndim}.")
    if np.isnan(X.shape[0]) or np.isnan(X.chunks[0]).any():
        raise ValueError(
            "The chunk sizes of the Dask array X are unknown (as after boolean "
            "indexing, or from a Dask DataFrame's .values or .to_dask_array()). "
            "Compute them first with X.compute_chunk_sizes(), or build X with "
            "ddf.to_dask_array(lengths=True)."
        )
    rng = check_random_state(random_state)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    row_chunks = X.chunks[0]
    X_blocks = X.to_delayed()[:, 0]
    check_weights = is_dask_array(sample_weight)
    if sample_weight is None:
        weight_blocks = [None] * len(X_blocks)
    else:
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight.shape == {sample_weight.shape}, expected "
                f"{(X.shape[0],)}!"
            )
        if check_weights:
            weight_blocks = sample_weight.rechunk((row_chunks,)).to_delayed()
        else:
            weight_blocks = ship_blocks(np.asarray(sample_weight), row_chunks)
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(X_blocks))
    block_weights = _block_weights(sample_weight, row_chunks, weight_blocks)
    total = block_weights.sum()
    if not total > 0:
        raise ValueError("sample_weight must have a positive sum.")
    draws = np.ceil(size * block_weights / total).astype(int)

    block_coreset = dask.delayed(_block_coreset, pure=True)
    tasks = [
        block_coreset(
            X_block, weight_block, size=block_draws, n_clusters=n_clusters,
            seed=seed, check_weights=check_weights,
        )
        for X_block, weight_block, block_draws, seed in zip(
            X_blocks, weight_blocks, draws, seeds
        )
        if block_draws > 0
    ]
    coresets = dask.compute(*tasks)
    X_union = np.concatenate([X_part for X_part, _ in coresets])
    weight_union = np.concatenate([weight_part for _, weight_part in coresets])
    return X_union, weight_union


def _block_weights(sample_weight, row_chunks, weight_blocks):
    """Total weight of every block of rows (a pass over Dask weights only)."""
    if sample_weight is None:
        return np.asarray(row_chunks, dtype=np.float64)
    if not is_dask_array(sample_weight):
        bounds = np.concatenate([[0], np.cumsum(row_chunks)[:-1]])
        return np.add.reduceat(np.asarray(sample_weight, dtype=np.float64), bounds)
    import dask

    checked_sum = dask.delayed(_checked_sum, pure=True)
    return np.array(dask.compute(*[checked_sum(block) for block in weight_blocks]))


def _checked_sum(sample_weight):
    sample_weight = _checked_weights(sample_weight)
    return float(sample_weight.sum())


def _checked_weights(sample_weight):
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if not (np.all(np.isfinite(sample_weight)) and np.all(sample_weight >= 0)):
        raise ValueError("sample_weight must be non-negative and finite.")
    return sample_weight


def _block_coreset(X, sample_weight, *, size, n_clusters, seed, check_weights):
    """Coreset of one block of rows; runs on a Dask worker."""
    X = np.asarray(X, dtype=np.float64)
    if sample_weight is None:
        sample_weight = np.ones(len(X))
    elif check_weights:
        sample_weight = _checked_weights(sample_weight)
    else:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
    return sensitivity_coreset(
        X, sample_weight, size=size, n_clusters=n_clusters,
        random_state=np.random.RandomState(seed),
    )
