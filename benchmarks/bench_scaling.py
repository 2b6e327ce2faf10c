"""How a BayesianGMM fit scales with N, D and K.

For every (N, D, K) in the grid (default N in {500, 5000, 50000}, D in {2, 10},
K in {4, 8}, covariance 'full'), fits blobs with K true clusters and reports compile
time, sampling time, total leapfrog steps, mean tree size, sampling time per
leapfrog step (about one gradient), bulk ESS of the log-density per second, max
R-hat and ARI. Results are appended to ``results/bench_scaling.json`` after every
configuration, so a partial run keeps what it measured.

    python benchmarks/bench_scaling.py [--n 500 5000 50000] [--d 2 10] [--k 4 8]
        [--num-warmup 500] [--num-samples 500] [--big-n 50000 --big-n-warmup 300
        --big-n-samples 300]
"""

import argparse
import itertools
import json
import os
import platform
import time
import warnings

import arviz as az
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score

from skbayesmix import BayesianGMM

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[500, 5000, 50000])
    parser.add_argument("--d", type=int, nargs="+", default=[2, 10])
    parser.add_argument("--k", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--big-n", type=int, default=50000,
                        help="from this N on, use the --big-n-* settings")
    parser.add_argument("--big-n-warmup", type=int, default=300)
    parser.add_argument("--big-n-samples", type=int, default=300)
    parser.add_argument("--output", default=os.path.join(RESULTS, "bench_scaling.json"))
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    rows = []
    print(f"{'N':>6s} {'D':>3s} {'K':>2s} {'warm':>5s} {'draws':>5s} {'cpu s':>7s} "
          f"{'compile s':>9s} "
          f"{'sample s':>9s} {'leapfrog':>9s} {'tree':>6s} {'ms/leapfrog':>11s} "
          f"{'ESS(lp)/s':>9s} {'max Rhat':>8s} {'ARI':>6s}", flush=True)
    for n, d, k in itertools.product(args.n, args.d, args.k):
        big = n >= args.big_n
        warmup = args.big_n_warmup if big else args.num_warmup
        samples = args.big_n_samples if big else args.num_samples
        X, y = make_blobs(n_samples=n, centers=k, n_features=d, cluster_std=0.8,
                          center_box=(-10, 10), random_state=101)
        gmm = BayesianGMM(n_components=k, num_warmup=warmup, num_samples=samples,
                          max_num_samples=None, num_chains=args.num_chains,
                          random_state=0)
        start, start_cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmm.fit(X)
        wall = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
        diag = gmm.diagnostics_
        stats = gmm._sample_stats
        leapfrog = int(stats["n_steps"].sum())
        leapfrog_all = leapfrog + int(stats["warmup_n_steps"].sum())
        per_leapfrog = diag["sampling_time"] / leapfrog_all
        ess = float(az.ess(np.asarray(stats["lp"], float), method="bulk"))
        row = dict(
            n=n, d=d, k=k, num_warmup=warmup, num_samples=samples,
            num_chains=args.num_chains, wall=wall, cpu=cpu,
            leapfrog_incl_warmup=leapfrog_all,
            compile_time=diag["compile_time"], sampling_time=diag["sampling_time"],
            leapfrog_sampling=leapfrog, mean_tree_size=float(diag["mean_tree_size"]),
            ms_per_leapfrog_est=1e3 * per_leapfrog,
            ess_lp_per_s=ess / diag["sampling_time"],
            max_r_hat=float(diag["max_r_hat"]),
            ari=adjusted_rand_score(y, gmm.predict(X)),
            load_average=os.getloadavg(),
        )
        rows.append(row)
        print(f"{n:6d} {d:3d} {k:2d} {warmup:5d} {samples:5d} {cpu:7.1f} "
              f"{row['compile_time']:9.1f} "
              f"{row['sampling_time']:9.1f} {leapfrog:9d} {row['mean_tree_size']:6.1f} "
              f"{row['ms_per_leapfrog_est']:11.3f} {row['ess_lp_per_s']:9.1f} "
              f"{row['max_r_hat']:8.3f} {row['ari']:6.3f}", flush=True)
        with open(args.output, "w") as f:
            json.dump(dict(settings=vars(args), machine=platform.platform(), rows=rows),
                      f, indent=1)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
