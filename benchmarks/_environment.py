"""What benchmarks share: the header of their results, the reference data's recipe.

``gradient_cost`` (and ``gradient_timer``) time the model's gradient inside one
compiled loop.
``header`` is stored with every new benchmark's results (commit, versions,
machine). ``REFERENCE_BLOBS`` are the ``make_blobs`` arguments of the
reference data (``skbayesmix._reference`` has the package's copy, which
releases before 0.2 lack): scripts that must run against any release use it.
"""

import importlib
import os
import platform
import subprocess
import time
from pathlib import Path

REFERENCE_BLOBS = dict(
    n_samples=500, centers=8, cluster_std=0.8, center_box=(-10, 10), random_state=101
)


def header(*packages):
    """Commit, versions of ``packages`` (importable names) and the machine's load.

    Parameters
    ----------
    *packages : str
        Module names, e.g. ``"skbayesmix", "numpy", "sklearn"``.

    Returns
    -------
    info : dict
    """
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True,
            text=True, cwd=Path(__file__).parent, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    info = {"commit": commit}
    for name in packages:
        info[name] = importlib.import_module(name).__version__
    info.update(
        platform=platform.platform(),
        cpu_count=os.cpu_count(),
        load_average=list(os.getloadavg()),
    )
    return info


def gradient_timer(model, model_args, z0, *, n_loop):
    """A function that returns CPU seconds per gradient of ``model``'s potential energy.

    The gradient runs ``n_loop`` times inside one compiled loop (no dispatch
    overhead), from the unconstrained point ``z0``; the loop's end must be
    finite. The loop is compiled (and run once) here.
    """
    import jax
    import numpy as np
    from numpyro.infer.util import potential_energy

    grad = jax.grad(lambda z: potential_energy(model, model_args, {}, z))

    @jax.jit
    def loop(z):
        def body(i, z):
            return jax.tree.map(lambda a, g: a - 1e-7 * g, z, grad(z))

        return jax.lax.fori_loop(0, n_loop, body, z)

    final = jax.block_until_ready(loop(z0))
    assert all(np.all(np.isfinite(v)) for v in jax.tree.leaves(final))

    def seconds_per_gradient():
        start = time.process_time()
        jax.block_until_ready(loop(z0))
        return (time.process_time() - start) / n_loop

    return seconds_per_gradient


def gradient_cost(model, model_args, z0, *, n_loop, repeats=5):
    """Median CPU seconds per gradient of ``model``'s potential energy.

    See :func:`gradient_timer`; one run compiles, ``repeats`` are timed.
    """
    import numpy as np

    timer = gradient_timer(model, model_args, z0, n_loop=n_loop)
    return float(np.median([timer() for _ in range(repeats)]))
