"""No surprises for the host process.

Importing skbayesmix and fitting leave JAX's global configuration, NumPy's error
state and print options, the warnings filters, loggers and environment variables
as they were; the import prints nothing and writes no files; fits in threads and
in joblib's loky worker processes give the same results as serial fits.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
from conftest import TINY
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from skbayesmix import BayesianGMM

# These tests compare fits across threads and processes for equality, so any
# posterior-shaped result will do (conftest.TINY); the seed is set per test.
TINY = {name: value for name, value in TINY.items() if name != "random_state"}

# Runs in a fresh interpreter: snapshots the global state before and after
# ``import skbayesmix`` and after a fit, and prints them as one JSON line.
_STATE_SCRIPT = textwrap.dedent(
    """
    import json, logging, os, sys, warnings
    import numpy as np
    import jax

    # The dependencies' own import-time side effects (scipy and others add
    # warnings filters) are the baseline: what skbayesmix itself changes is tested.
    import scipy.linalg, scipy.optimize, scipy.special, scipy.stats
    import sklearn.cluster, sklearn.mixture, sklearn.utils.estimator_checks
    import numpyro, numpyro.infer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz

    def snapshot():
        import jax.numpy as jnp
        loggers = ["", "jax", "numpyro", "arviz", "sklearn", "skbayesmix"]
        return {
            "jax_config": {k: repr(v) for k, v in sorted(jax.config.values.items())},
            "jax_default_dtype": str(jnp.zeros(1).dtype),
            "jax_devices": repr(jax.devices()),
            "np_geterr": np.geterr(),
            "np_printoptions": repr(np.get_printoptions()),
            "warnings_filters": [repr(f) for f in warnings.filters],
            "loggers": {
                name: [logging.getLogger(name).level,
                       len(logging.getLogger(name).handlers)]
                for name in loggers
            },
            "environ": dict(os.environ),
        }

    states = {"before": snapshot()}
    import skbayesmix
    states["import"] = snapshot()
    X = np.random.RandomState(0).randn(40, 1)
    gmm = skbayesmix.BayesianGMM(
        1, covariance_type="spherical", num_warmup=15, num_samples=10,
        random_state=0,
    )
    gmm.fit(X).predict_proba(X)
    gmm.score_samples(X)
    states["fit"] = snapshot()
    sys.stdout.write(json.dumps(states, default=str) + "\\n")
    """
)


def _run_python(code, cwd):
    # A clean interpreter: no pytest variables, and JAX's defaults.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST", "JAX_ENABLE_X64"))
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _listing(path):
    return sorted(
        os.path.relpath(os.path.join(root, name), path)
        for root, dirs, files in os.walk(path)
        for name in dirs + files
    )


def test_import_prints_nothing_and_writes_no_files(tmp_path):
    before = _listing(tmp_path)
    proc = _run_python("import skbayesmix, skbayesmix._bayesian_gmm", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ""
    assert _listing(tmp_path) == before


def test_import_and_fit_leave_global_state_alone(tmp_path):
    proc = _run_python(_STATE_SCRIPT, tmp_path)
    assert proc.returncode == 0, proc.stderr
    # verbose=0: nothing on stdout but the snapshot line.
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    states = json.loads(lines[0])
    assert states["before"]["jax_config"]["jax_enable_x64"] == "False"
    for stage in ("import", "fit"):
        for key, value in states["before"].items():
            assert states[stage][key] == value, (stage, key)
    # Only Python warnings (from the deliberately short chains: a line naming
    # the warning, its findings, the source line) reach stderr: no logging
    # output from JAX, NumPyro or ArviZ.
    for line in proc.stderr.splitlines():
        assert (
            "Warning" in line or line.startswith(("  ", "- ")) or not line
        ), proc.stderr
    assert _listing(tmp_path) == []


def _data(seed, n_features):
    rng = np.random.RandomState(seed)
    return np.r_[rng.randn(25, n_features) - 2, rng.randn(25, n_features) + 2]


# Two structures, so that concurrent fits also run different compiled samplers.
JOBS = [
    (dict(n_components=1, covariance_type="spherical", random_state=0), 0, 1),
    (dict(n_components=2, covariance_type="diag", random_state=1), 1, 2),
    (dict(n_components=1, covariance_type="spherical", random_state=2), 2, 1),
    (dict(n_components=2, covariance_type="diag", random_state=3), 3, 2),
]


def _fit(params, seed, n_features, quiet=True):
    gmm = BayesianGMM(**params, **TINY)
    if not quiet:
        return gmm.fit(_data(seed, n_features))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains warn, by design
        return gmm.fit(_data(seed, n_features))


def _assert_same_fit(a, b):
    for name in a.posterior_samples_:
        assert_array_equal(a.posterior_samples_[name], b.posterior_samples_[name])
    assert_array_equal(a.means_, b.means_)
    assert a.diagnostics_["divergences"] == b.diagnostics_["divergences"]


@pytest.fixture(scope="module")
def serial_fits():
    return [_fit(*job) for job in JOBS]


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [(pool["internal_api"], pool["num_threads"]) for pool in threadpool_info()]


def test_threaded_fits_match_serial_fits(serial_fits):
    filters = list(warnings.filters)
    geterr = np.geterr()
    # scikit-learn's k-means limits BLAS threads process-wide while it runs;
    # concurrent k-means used to leave the limit set for good.
    blas_threads = _blas_threads()
    barrier = threading.Barrier(len(JOBS))

    def job(args):
        barrier.wait()  # start together, so the fits really overlap
        # No catch_warnings here: it is not thread-safe and would itself garble
        # the filters this test checks.
        return _fit(*args, quiet=False)

    with ThreadPoolExecutor(max_workers=len(JOBS)) as pool:
        threaded = list(pool.map(job, JOBS))
    for serial, concurrent in zip(serial_fits, threaded):
        _assert_same_fit(serial, concurrent)
    assert warnings.filters == filters
    assert np.geterr() == geterr
    assert _blas_threads() == blas_threads


def test_loky_worker_fits_match_serial_fits(serial_fits):
    # Workers are fresh processes: each compiles its own sampler.
    jobs = [JOBS[0], JOBS[2]]
    with joblib.parallel_config(backend="loky", n_jobs=2):
        fitted = joblib.Parallel()(joblib.delayed(_fit)(*job) for job in jobs)
    for serial, worker in zip([serial_fits[0], serial_fits[2]], fitted):
        _assert_same_fit(serial, worker)


def test_dtypes_follow_gaussian_mixture():
    # Whatever the installed scikit-learn does with float32 (1.9 keeps float32 in
    # the fitted attributes and in predict_proba/score_samples), BayesianGMM does.
    from sklearn.mixture import GaussianMixture

    params, seed, n_features = JOBS[0]
    X64 = _data(seed, n_features)
    X32 = X64.astype(np.float32)

    def dtypes(est):
        names = [
            "weights_",
            "means_",
            "covariances_",
            "precisions_",
            "precisions_cholesky_",
        ]
        out = {name: getattr(est, name).dtype for name in names}
        for label, X in (("32", X32), ("64", X64)):
            out["predict_proba" + label] = est.predict_proba(X).dtype
            out["score_samples" + label] = est.score_samples(X).dtype
        out["sample"] = est.sample(2)[0].dtype
        return out

    for X in (X32, X64):
        reference = GaussianMixture(1, covariance_type="spherical").fit(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmm = BayesianGMM(**params, **TINY).fit(X)
        assert dtypes(gmm) == dtypes(reference)
    assert gmm.means_.dtype == np.float64
    # The posterior draws stay float64 whatever the input.
    assert all(v.dtype == np.float64 for v in gmm.posterior_samples_.values())


def test_usable_cores_follow_affinity_and_omp_num_threads(monkeypatch):
    from skbayesmix._threadpool import usable_cores

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = usable_cores()
    assert cores >= 1
    if hasattr(os, "sched_getaffinity"):
        assert cores == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert usable_cores() == 1
    for ignored in ("", "0", "auto"):
        monkeypatch.setenv("OMP_NUM_THREADS", ignored)
        assert usable_cores() == cores
