"""First fits with an empty and a warm on-disk cache, and warm fits, in new processes.

Each repeat makes an empty cache directory and runs two new Python processes
one after the other with ``SKBAYESMIX_CACHE_DIR`` pointing at it. Each process
fits the reference model (``BayesianGMM(n_components=8)`` at the defaults on the
reference data) twice, each time with a new instance and seed: the first fit
pays for getting the sampler (compiling it in the first process, loading it
from disk in the second), the second is a warm fit. The script prints the
medians over repeats: the first fit with an empty cache, the first fit in a new
process with a warm cache, the warm fit, and the ratio of the second to the
third. Only the public API is used, so the script also runs against an older
release (whose processes ignore the variable and compile every time).

    python benchmarks/bench_cache.py [--repeats 3] [--json PATH]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from _environment import REFERENCE_BLOBS  # a sibling module of this script

_CHILD = """
import ast, json, sys, time, warnings
from sklearn.datasets import make_blobs
import skbayesmix
X, _ = make_blobs(**ast.literal_eval(sys.argv[1]))
times = []
for seed in (0, 1):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        skbayesmix.BayesianGMM(n_components=8, random_state=seed).fit(X)
    times.append(time.perf_counter() - start)
print(json.dumps({"times": times, "version": skbayesmix.__version__,
                  "stats": skbayesmix.compilation_stats()}))
"""


def run_child(cache):
    env = {**os.environ, "SKBAYESMIX_CACHE_DIR": cache}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, repr(REFERENCE_BLOBS)], env=env,
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    cold_first, warm_first, warm_fit, runs = [], [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            cold, warm = run_child(cache), run_child(cache)
        runs.append({"empty cache": cold, "warm cache": warm})
        cold_first.append(cold["times"][0])
        warm_first.append(warm["times"][0])
        warm_fit.extend([cold["times"][1], warm["times"][1]])
    medians = {
        "first fit, empty cache": float(np.median(cold_first)),
        "first fit, new process, warm cache": float(np.median(warm_first)),
        "warm fit (second in a process)": float(np.median(warm_fit)),
    }
    print(f"skbayesmix {runs[0]['empty cache']['version']}; reference model "
          f"(K=8, defaults); medians of {args.repeats} repeats (wall s)")
    for name, value in medians.items():
        print(f"{name:<38}{value:8.2f}")
    ratio = medians["first fit, new process, warm cache"] / medians[
        "warm fit (second in a process)"
    ]
    print(f"{'warm-cache first fit / warm fit':<38}{ratio:8.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"medians": medians, "ratio": ratio, "runs": runs}, handle,
                      indent=1)


if __name__ == "__main__":
    main()
