"""What benchmarks share: the header of their results, the reference data's recipe.

``header`` is stored with every new benchmark's results (commit, versions,
machine). ``REFERENCE_BLOBS`` are the ``make_blobs`` arguments of the
reference data (``skbayesmix._reference`` has the package's copy, which
releases before 0.2 lack): scripts that must run against any release use it.
"""

import importlib
import os
import platform
import subprocess
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
