"""Predictions after a default fit: predict_proba + score_samples on new rows.

Fits ``BayesianGMM(n_components=8, random_state=0)`` at its default settings on
the reference data (500 points, 8 blobs), then times ``predict_proba`` and
``score_samples`` on ``--n-rows`` new rows from the same blobs, ``--repeats``
times, and prints the median wall and CPU seconds of each and of their sum.
It uses only the public API, so the same script runs against any release
(install one in its own virtual environment and run the script with that
environment's Python) and the two medians give the ratio.

    python benchmarks/bench_predict_default.py [--n-rows 50000] [--repeats 5]
        [--json PATH]
"""

import argparse
import json
import time
import warnings

import numpy as np
from _environment import REFERENCE_BLOBS  # a sibling module of this script
from sklearn.datasets import make_blobs

import skbayesmix
from skbayesmix import BayesianGMM


def new_rows(n_rows):
    _, _, centers = make_blobs(**REFERENCE_BLOBS, return_centers=True)
    X, _ = make_blobs(
        n_samples=n_rows, centers=centers, cluster_std=0.8, random_state=7
    )
    return X


def timed(function, X, repeats):
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function(X)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return float(np.median(walls)), float(np.median(cpus))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    X_train, _ = make_blobs(**REFERENCE_BLOBS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gmm = BayesianGMM(n_components=8, random_state=0).fit(X_train)
    n_draws = int(np.prod(np.shape(gmm.posterior_samples_["weights"])[:2]))
    X = new_rows(args.n_rows)
    rows = {}
    for name in ("predict_proba", "score_samples"):
        rows[name] = timed(getattr(gmm, name), X, args.repeats)
    rows["both"] = tuple(map(sum, zip(rows["predict_proba"], rows["score_samples"])))
    print(f"skbayesmix {skbayesmix.__version__} ({skbayesmix.__file__})")
    print(f"{args.n_rows} rows, {n_draws} posterior draws, K=8; "
          f"median of {args.repeats}")
    print(f"{'method':<15}{'wall s':>10}{'cpu s':>10}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:<15}{wall:>10.3f}{cpu:>10.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"n_rows": args.n_rows, "n_draws": n_draws,
                       "repeats": args.repeats, "median": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
