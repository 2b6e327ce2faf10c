"""Prediction time and memory: 1,000,000 rows x 2,000 posterior draws, K=8.

Fits ``BayesianGMM(n_components=8)`` with 2 chains x 1,000 draws on the reference
data, then times ``predict_proba``, ``score_samples`` and ``predict`` on a million
rows and reports the extra memory each needs: the peak of NumPy allocations traced
by :mod:`tracemalloc`, and the growth of the process's peak resident set size over
its resident size before the call (Linux ``ru_maxrss``).

    python benchmarks/bench_predict.py [--n-rows 1000000] [--num-samples 1000]
"""

import argparse
import json
import os
import platform
import resource
import time
import tracemalloc

from sklearn.datasets import make_blobs

from skbayesmix import BayesianGMM
from skbayesmix._reference import reference_blobs

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(fn, X):
    rss_before = current_rss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    cpu = time.process_time()
    out = fn(X)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, dict(
        wall=wall, cpu=cpu, traced_peak_mb=traced_peak / 2**20,
        peak_rss_growth_mb=max(0.0, peak_rss_mb() - rss_before),
        output_mb=out.nbytes / 2**20,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=1_000_000)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--num-warmup", type=int, default=300)
    args = parser.parse_args()
    X, _, centers = reference_blobs(return_centers=True)
    gmm = BayesianGMM(n_components=8, num_warmup=args.num_warmup,
                      num_samples=args.num_samples, max_num_samples=None,
                      num_chains=2, random_state=0)
    gmm.fit(X)
    n_draws = gmm.posterior_samples_["weights"].shape[0] * args.num_samples
    X_big, _ = make_blobs(n_samples=args.n_rows, centers=centers, cluster_std=0.8,
                          random_state=1)
    rows = []
    for name in ("predict_proba", "score_samples", "predict"):
        _, m = measure(getattr(gmm, name), X_big)
        rows.append(dict(method=name, **m))
    print(f"{args.n_rows} rows x {n_draws} draws, K=8, D=2 ('full')")
    print(f"{'method':14s} {'wall s':>8s} {'cpu s':>8s} {'traced peak MB':>15s} "
          f"{'peak RSS growth MB':>19s} {'output MB':>10s}")
    for r in rows:
        print(f"{r['method']:14s} {r['wall']:8.1f} {r['cpu']:8.1f} "
              f"{r['traced_peak_mb']:15.1f} {r['peak_rss_growth_mb']:19.1f} "
              f"{r['output_mb']:10.1f}")
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "bench_predict.json")
    with open(path, "w") as f:
        json.dump(dict(settings=vars(args), n_draws=n_draws, rows=rows,
                       machine=platform.platform(), load_average=os.getloadavg()),
                  f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
