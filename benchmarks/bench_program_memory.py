"""Memory of compiled samplers in a long-running process: 50 fits of 50 structures.

Fits ``BayesianGMM`` with cheap settings (10 + 10 iterations, 2 chains) on 200
rows of 3 features for K = 1..13 x the four covariance types (the first 50
structures), each structure compiled once, and prints the process's resident
memory every 5 fits. The process keeps at most
``skbayesmix._program_cache.MAX_PROGRAMS_IN_MEMORY`` compiled samplers; without
that bound every structure would keep its program (about 45 MB each). The
on-disk cache is switched off, so every structure is compiled.

    python benchmarks/bench_program_memory.py [--json PATH]
"""

import argparse
import json
import os
import resource
import time
import warnings

import numpy as np

os.environ["SKBAYESMIX_CACHE_DIR"] = "off"

from skbayesmix import BayesianGMM, compilation_stats  # noqa: E402
from skbayesmix._program_cache import MAX_PROGRAMS_IN_MEMORY  # noqa: E402

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    X = np.r_[rng.randn(100, 3) - 2, rng.randn(100, 3) + 2]
    structures = [(k, c) for k in range(1, 14) for c in COVARIANCE_TYPES][:50]
    rows = [{"fits": 0, "resident_mib": resident_mib(), "seconds": 0.0}]
    start = time.perf_counter()
    print(f"at most {MAX_PROGRAMS_IN_MEMORY} compiled samplers kept")
    print(f"{'fits':>5}{'compiled':>10}{'resident MiB':>14}{'seconds':>9}")
    for index, (k, covariance_type) in enumerate(structures, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 10 draws do not converge
            BayesianGMM(
                k, covariance_type=covariance_type, num_warmup=10, num_samples=10,
                max_num_samples=None, num_chains=2, random_state=0,
            ).fit(X)
        if index % 5 == 0:
            rows.append({
                "fits": index,
                "compilations": compilation_stats()["compilations"],
                "resident_mib": resident_mib(),
                "seconds": time.perf_counter() - start,
            })
            row = rows[-1]
            print(f"{index:5d}{row['compilations']:10d}{row['resident_mib']:14.0f}"
                  f"{row['seconds']:9.0f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident MiB {peak:.0f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"max_programs": MAX_PROGRAMS_IN_MEMORY, "rows": rows,
                       "peak_resident_mib": peak}, handle, indent=1)


if __name__ == "__main__":
    main()
