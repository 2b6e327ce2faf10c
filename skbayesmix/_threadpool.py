"""One scikit-learn k-means at a time: its BLAS thread limit is process-wide.

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

import threading

SKLEARN_FIT_LOCK = threading.RLock()
