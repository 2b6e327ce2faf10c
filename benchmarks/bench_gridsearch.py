"""GridSearchCV over n_components with compiled-sampler reuse.

``GridSearchCV(BayesianGMM(...), {"n_components": range(1, 9)}, cv=5)`` on the
reference data: total wall time, and how many samplers were compiled or loaded
from the on-disk cache (one since 0.2: every K up to 8 shares one padded sampler,
and the 400-row folds and the 500-row refit share a size bucket; the first release
compiled one per K). Only the public API is used, so the script runs
against any release installed in its own environment (``--json`` then keeps the
results apart); the version it ran against is printed.

    python benchmarks/bench_gridsearch.py [--num-warmup 250] [--num-samples 250]
        [--json PATH]
"""

import argparse
import json
import os
import platform
import time
import warnings

from _environment import REFERENCE_BLOBS  # a sibling module of this script
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import skbayesmix
from skbayesmix import BayesianGMM, compilation_stats, reset_compilation_stats

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-warmup", type=int, default=250)
    parser.add_argument("--num-samples", type=int, default=250)
    parser.add_argument("--max-components", type=int, default=8)
    parser.add_argument(
        "--json", default=os.path.join(RESULTS, "bench_gridsearch.json")
    )
    args = parser.parse_args()
    X, _ = make_blobs(**REFERENCE_BLOBS)
    grid = {"n_components": list(range(1, args.max_components + 1))}
    search = GridSearchCV(
        BayesianGMM(num_warmup=args.num_warmup, num_samples=args.num_samples,
                    random_state=0),
        grid, cv=5, error_score="raise",
    )
    reset_compilation_stats()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X)
    total = time.perf_counter() - start
    stats = compilation_stats()
    result = dict(
        settings=vars(args), total_time=total, n_candidates=len(grid["n_components"]),
        version=skbayesmix.__version__, package=os.path.dirname(skbayesmix.__file__),
        fits=stats["fits"], compilations=stats["compilations"],
        loaded=stats.get("loaded", 0), compile_time=stats["compile_time"],
        best_n_components=search.best_params_["n_components"],
        mean_test_score=[float(s) for s in search.cv_results_["mean_test_score"]],
        mean_fit_time=[float(s) for s in search.cv_results_["mean_fit_time"]],
        machine=platform.platform(), load_average=os.getloadavg(),
    )
    print(f"skbayesmix {skbayesmix.__version__} ({result['package']})")
    print(f"settings: default chains, {args.num_warmup} warm-up + "
          f"{args.num_samples} draws, cv=5, K in 1..{args.max_components}")
    print(f"{'total s':>8s} {'fits':>5s} {'compiles':>8s} {'loaded':>6s} "
          f"{'compile s':>9s} {'best K':>6s}")
    print(f"{total:8.1f} {stats['fits']:5d} {stats['compilations']:8d} "
          f"{result['loaded']:6d} {stats['compile_time']:9.1f} "
          f"{result['best_n_components']:6d}")
    print(f"{'K':>3s} {'mean fit s':>10s} {'mean test score':>15s}")
    for k, fit_time, score in zip(grid["n_components"], result["mean_fit_time"],
                                  result["mean_test_score"]):
        print(f"{k:3d} {fit_time:10.2f} {score:15.3f}")
    path = args.json
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
