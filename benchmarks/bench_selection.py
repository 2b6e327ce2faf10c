"""Choosing K on the reference seed's data: BayesianGMMSelector vs GaussianMixture.

Fits BayesianGMM for K = 2..12 through BayesianGMMSelector (criterion BIC),
reports every criterion per K, the selector's total time and the number of NUTS
programs compiled, and compares the choice with GaussianMixture's BIC choice
(n_init=10) over the same range.

    python benchmarks/bench_selection.py [--num-warmup 500] [--num-samples 500]
        [--n-jobs 1] [--out benchmarks/results/bench_selection.json]
"""

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from skbayesmix import BayesianGMM, BayesianGMMSelector
from skbayesmix._criteria import select
from skbayesmix._program_cache import compilation_stats, reset_compilation_stats
from skbayesmix._reference import REFERENCE_BLOBS_DESCRIPTION, reference_blobs

N_COMPONENTS_RANGE = tuple(range(2, 13))


def gaussian_mixture_bic(X):
    start = time.perf_counter()
    bics = [
        GaussianMixture(k, n_init=10, random_state=0).fit(X).bic(X)
        for k in N_COMPONENTS_RANGE
    ]
    return np.array(bics), time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--out",
        default=os.path.join(
            os.path.dirname(__file__), "results", "bench_selection.json"
        ),
    )
    args = parser.parse_args()

    X, _ = reference_blobs()
    gmm_bic, gmm_time = gaussian_mixture_bic(X)
    gmm_choice = N_COMPONENTS_RANGE[int(np.argmin(gmm_bic))]

    selector = BayesianGMMSelector(
        BayesianGMM(
            num_warmup=args.num_warmup,
            num_samples=args.num_samples,
            num_chains=args.num_chains,
            random_state=args.random_state,
        ),
        n_components_range=N_COMPONENTS_RANGE,
        criterion="bic",
        n_jobs=args.n_jobs,
    )
    reset_compilation_stats()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        selector.fit(X)
    total_time = time.perf_counter() - start
    stats = compilation_stats()
    res = selector.cv_results_

    header = (
        f"{'K':>3} {'bic':>9} {'gmm bic':>9} {'aic':>9} {'icl':>9} "
        f"{'elpd_waic':>15} {'elpd_loo':>15} {'bad k':>5} {'fit s':>7}"
    )
    print(header)
    for row, k in enumerate(res["n_components"]):
        print(
            f"{k:>3} {res['bic'][row]:9.1f} {gmm_bic[row]:9.1f} {res['aic'][row]:9.1f} "
            f"{res['icl'][row]:9.1f} "
            f"{res['elpd_waic'][row]:8.1f}±{res['se_elpd_waic'][row]:5.1f} "
            f"{res['elpd_loo'][row]:8.1f}±{res['se_elpd_loo'][row]:5.1f} "
            f"{int(res['n_bad_pareto_k'][row]):5d} {res['fit_time'][row]:7.1f}"
        )
    choices = {
        name: int(res["n_components"][np.argmin(res[name])])
        for name in ("bic", "aic", "icl")
    }
    for name in ("waic", "loo"):
        choices[name] = int(res["n_components"][select(res, name)])
    print(
        f"selector choices: {choices}; GaussianMixture BIC (n_init=10) chooses "
        f"{gmm_choice} ({gmm_time:.1f}s)"
    )
    print(
        f"selector total {total_time:.1f}s for {len(N_COMPONENTS_RANGE)} candidates "
        f"(n_jobs={args.n_jobs}); {stats['compilations']} NUTS compilations "
        f"({stats['compile_time']:.1f}s); {len(caught)} ConvergenceWarnings"
    )

    best = selector.best_estimator_
    record = {
        "data": REFERENCE_BLOBS_DESCRIPTION,
        "settings": vars(args),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "load_average": list(os.getloadavg())},
        "cv_results": {
            key: (value.tolist() if isinstance(value, np.ndarray) else value)
            for key, value in res.items()
        },
        "gaussian_mixture_bic": gmm_bic.tolist(),
        "gaussian_mixture_choice": gmm_choice,
        "gaussian_mixture_time": gmm_time,
        "selector_choices": choices,
        "selector_total_time": total_time,
        "compilations": stats["compilations"],
        "compile_time": stats["compile_time"],
        "best_diagnostics": {
            "max_r_hat": best.diagnostics_["max_r_hat"],
            "divergences": best.diagnostics_["divergences"],
            "min_ess_bulk": best.diagnostics_["min_ess_bulk"],
        },
        "warnings": [str(w.message) for w in caught],
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(record, f, indent=1, default=str)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
