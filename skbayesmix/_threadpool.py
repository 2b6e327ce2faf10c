"""Threads: how many cores to use; one scikit-learn k-means at a time.

Chains of a fit run in threads, one per usable core (:func:`usable_cores`),
each calling a compiled single-chain program; JAX releases the GIL while the
program runs, so two threads keep two cores busy. Large density evaluations
are split over as many threads (NumPy releases the GIL too).

scikit-learn's KMeans (also inside GaussianMixture's k-means initialisation)
runs under ``threadpoolctl.threadpool_limits(limits=1, user_api="blas")``,
which saves the process-wide BLAS thread count on entry and restores it on
exit. Two such blocks that interleave in different threads restore each
other's saved value, and BLAS stays on one thread for the rest of the process
(measured: OpenBLAS at 1 of 2 threads after four concurrent fits), which also
changes the floating-point results of every later fit. Each scikit-learn fit
this package makes that can run k-means holds :data:`SKLEARN_FIT_LOCK`; they
take milliseconds, so serialising them costs nothing measurable.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

SKLEARN_FIT_LOCK = threading.RLock()


def map_in_threads(function, items, n_threads):
    """Return ``[function(item) for item in items]``, computed in up to ``n_threads``.

    In the calling thread when one thread (or one item) is all there is.
    """
    items = list(items)
    n_threads = min(n_threads, len(items))
    if n_threads <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(n_threads) as executor:
        return list(executor.map(function, items))


def usable_cores():
    """Return the number of CPU cores this process may use.

    ``os.sched_getaffinity`` where the platform has it (it honours container
    and ``taskset`` limits), else ``os.cpu_count()``; at most
    ``OMP_NUM_THREADS`` when that is set, as joblib's process workers set it
    to their share of the cores, so that parallel candidates do not each
    start one thread per core.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:
        cores = min(cores, int(limit))
    return max(cores, 1)
