"""The header every new benchmark stores with its results: commit, versions, machine."""

import importlib
import os
import platform
import subprocess
from pathlib import Path


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
