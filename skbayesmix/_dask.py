"""Dask plumbing: recognising Dask arrays, shipping data to a cluster, blocks.

Dask is optional and never imported here until the user has imported it:
a Dask array can only exist once ``dask.array`` is loaded.
"""

import sys

import numpy as np


def is_dask_array(X):
    """Whether X is a :class:`dask.array.Array`, without importing Dask.

    A Dask array can only exist once ``dask.array`` has been imported, so
    when it has not, the answer is False and Dask stays unimported.
    """
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def _active_client():
    """Return the ``dask.distributed`` client computations run on now, or None."""
    import dask

    client = getattr(dask.base.get_scheduler(), "__self__", None)
    return client if hasattr(client, "scatter") else None


def ship_blocks(array, row_chunks):
    """Split an ndarray into row blocks, on the cluster when a client is active.

    Embedded in the task graph, a weight vector of 10^7 rows makes a graph of
    80 MB, which ``dask.distributed`` warns about and ships through the
    scheduler; scattered, each block goes to a worker once.
    """
    blocks = np.split(array, np.cumsum(row_chunks)[:-1])
    client = _active_client()
    return blocks if client is None else client.scatter(blocks)


def map_row_blocks(estimator, method, X, *, n_columns, dtype):
    """``estimator.method`` on every block of rows of the Dask array X, lazily.

    The fitted estimator (posterior draws: tens of MB) is scattered to the
    workers once when a distributed client is active, else put in the graph
    once.

    Parameters
    ----------
    estimator : fitted estimator
    method : str
        The name of a method taking a block of rows.
    X : dask.array.Array of shape (n_samples, n_features)
    n_columns : int or None
        Columns of the result; None for one value per row.
    dtype : dtype

    Returns
    -------
    result : dask.array.Array of shape (n_samples,) or (n_samples, n_columns)
    """
    import dask

    X = X.rechunk({1: -1})
    client = _active_client()
    model = (
        dask.delayed(estimator) if client is None
        else client.scatter(estimator, broadcast=True)
    )
    if n_columns is None:
        return X.map_blocks(
            _apply, model, method, drop_axis=1, dtype=dtype,
            meta=np.empty((0,), dtype),
        )
    return X.map_blocks(
        _apply, model, method, chunks=(X.chunks[0], (n_columns,)), dtype=dtype,
        meta=np.empty((0, 0), dtype),
    )


def _apply(block, estimator, method):
    return getattr(estimator, method)(block)
