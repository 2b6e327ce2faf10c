"""Fit benchmark on the reference seed's data: first fit and a second, warm fit.

Fits ``BayesianGMM(n_components=8)`` (full covariances, default sampler settings)
to ``make_blobs(n_samples=500, centers=8, cluster_std=0.8, center_box=(-10, 10),
random_state=101)`` twice in one process, each time with a new estimator instance.
The first fit pays for compiling the sampler; the second must reuse it. Prints a
table and writes ``benchmarks/results/bench_fit.json``.

Run with::

    python benchmarks/bench_fit.py [--num-samples 500] [--num-warmup 500]
"""

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from skbayesmix import BayesianGMM
from skbayesmix._program_cache import compilation_stats
from skbayesmix._reference import reference_blobs

RESULTS = Path(__file__).parent / "results" / "bench_fit.json"


def _fit_once(X, y, params):
    stats_before = compilation_stats()
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bgmm = BayesianGMM(**params).fit(X)
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    stats_after = compilation_stats()
    diag = bgmm.diagnostics_
    n_draws = bgmm.num_chains * bgmm.num_samples
    min_ess = diag["min_ess_bulk"]
    return {
        "wall_time": wall,
        "cpu_time": cpu,
        "compile_time": diag["compile_time"],
        "sampling_time": diag["sampling_time"],
        "other_time": wall - diag["compile_time"] - diag["sampling_time"],
        "compilations": stats_after["compilations"] - stats_before["compilations"],
        "divergences": diag["divergences"],
        "max_r_hat": diag["max_r_hat"],
        "min_ess_bulk": min_ess,
        "ess_per_second_wall": min_ess / wall,
        "ess_per_second_sampling": min_ess / diag["sampling_time"],
        "draws": n_draws,
        "ari": adjusted_rand_score(y, bgmm.predict(X)),
        "warnings": [str(w.message) for w in caught],
    }


ROWS = [
    ("wall time (s)", "wall_time", "{:.2f}"),
    ("CPU time (s)", "cpu_time", "{:.2f}"),
    ("compile time (s)", "compile_time", "{:.2f}"),
    ("sampling time (s)", "sampling_time", "{:.2f}"),
    ("other time (s)", "other_time", "{:.2f}"),
    ("compilations", "compilations", "{:d}"),
    ("divergences", "divergences", "{:d}"),
    ("max R-hat", "max_r_hat", "{:.4f}"),
    ("min ESS bulk", "min_ess_bulk", "{:.0f}"),
    ("ESS/s (wall)", "ess_per_second_wall", "{:.1f}"),
    ("ESS/s (sampling)", "ess_per_second_sampling", "{:.1f}"),
    ("ARI", "ari", "{:.4f}"),
]


def _table(first, second):
    lines = [f"{'':<20}{'first fit':>12}{'second fit':>12}"]
    for label, key, fmt in ROWS:
        lines.append(
            f"{label:<20}{fmt.format(first[key]):>12}{fmt.format(second[key]):>12}"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    X, y = reference_blobs()
    params = dict(
        n_components=8,
        covariance_type="full",
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.num_chains,
        random_state=args.random_state,
    )
    load_before = os.getloadavg()
    first = _fit_once(X, y, params)
    second = _fit_once(X, y, params)
    load_after = os.getloadavg()

    print(f"BayesianGMM {params}")
    print(_table(first, second))
    print(
        f"load average (1 min) before/after: {load_before[0]:.1f}/{load_after[0]:.1f}"
        f" on {os.cpu_count()} CPUs"
    )
    for name, result in (("first", first), ("second", second)):
        for message in result["warnings"]:
            print(f"{name} fit warning: {message}")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "params": params,
        "first_fit": first,
        "second_fit": second,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.write_text(json.dumps(record, indent=2, default=_json_default) + "\n")
    print(f"wrote {args.output}")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":
    main()
