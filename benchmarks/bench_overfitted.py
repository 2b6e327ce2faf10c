"""Overfitted mixtures: surplus components that empty under a sparse Dirichlet prior.

Fits ``BayesianGMM`` with a generous ``n_components`` and a small
``weight_concentration`` (the 'auto' settings then start from BIC's choice among
maximum-likelihood fits of 1..n_components components, surplus components empty,
and sample the weights with the 'softmax' parameterisation) to:

- BayesPy's Gaussian-mixture example (four Gaussians, 50 points each, generated
  with ``np.random.RandomState(0)``), K=10: the answer is 4;
- three well-separated blobs (``make_blobs(200, centers=[[0, 0], [6, 0], [3, 5]],
  random_state=0)``), K=10: the answer is 3;
- the reference seed's 8 blobs (``make_blobs(500, centers=8, cluster_std=0.8,
  center_box=(-10, 10), random_state=101)``), K=15: the answer is the number of
  components that ``GaussianMixture``'s BIC chooses over 1..15 (computed here).

For each fit it records ``n_effective_components_`` and its posterior
distribution, divergences, R-hat over the occupied components, the fit's time,
and the same data fitted by scikit-learn's ``BayesianGaussianMixture``
(``weight_concentration_prior_type="dirichlet_distribution"``, the same
concentration) with its count of components holding at least one expected
observation and its time. Writes ``benchmarks/results/bench_overfitted.json``.

Run with::

    python benchmarks/bench_overfitted.py [--num-warmup 500] [--num-samples 500]
        [--concentration 0.001] [--seeds 0 1 2] [--datasets bayespy three eight]
        [--ablation [--ablation-data {bayespy,eight}]]

``--ablation`` also fits BayesPy's data (seed 0), and with ``--ablation-data eight``
the reference 8 blobs (K=15, seed 2), with each start and weight
parameterisation that the defaults replace: the variational start
(``init_params='bgmm'``) with 'softmax', 'simplex' and 'gamma' weights, and the
k-means start with 'softmax' weights.
"""

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from skbayesmix import BayesianGMM
from skbayesmix._reference import reference_blobs

RESULTS = Path(__file__).parent / "results" / "bench_overfitted.json"


def bayespy_data(seed=0):
    """BayesPy's example: four 2-D Gaussians with 50 points each."""
    rng = np.random.RandomState(seed)
    y0 = rng.multivariate_normal([0, 0], [[2, 0], [0, 0.1]], size=50)
    y1 = rng.multivariate_normal([0, 0], [[0.1, 0], [0, 2]], size=50)
    y2 = rng.multivariate_normal([2, 2], [[2, -1.5], [-1.5, 2]], size=50)
    y3 = rng.multivariate_normal([-2, -2], [[0.5, 0], [0, 0.5]], size=50)
    return np.vstack([y0, y1, y2, y3])


def bic_choice(X, max_components):
    """Number of components GaussianMixture's BIC chooses, and its time."""
    start = time.perf_counter()
    bics = [
        GaussianMixture(k, n_init=5, random_state=0).fit(X).bic(X)
        for k in range(1, max_components + 1)
    ]
    return int(np.argmin(bics)) + 1, time.perf_counter() - start


def datasets(names):
    """(name, X, n_components, expected number of components)."""
    out = []
    if "bayespy" in names:
        out.append(("bayespy", bayespy_data(0), 10, 4))
    if "three" in names:
        X, _ = make_blobs(
            n_samples=200, centers=[[0, 0], [6, 0], [3, 5]], cluster_std=1.0,
            random_state=0,
        )
        out.append(("three_blobs", X, 10, 3))
    if "eight" in names:
        X, _ = reference_blobs()
        out.append(("reference_8_blobs", X, 15, None))
    return out


def fit_bayesian_gmm(X, n_components, concentration, seed, args, **params):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gmm = BayesianGMM(
            n_components,
            weight_concentration=concentration,
            num_warmup=args.num_warmup,
            num_samples=args.num_samples,
            num_chains=args.num_chains,
            random_state=seed,
            **params,
        ).fit(X)
    wall = time.perf_counter() - start
    diag = gmm.diagnostics_
    draws = gmm.n_effective_components_draws_.ravel()
    n_draws = draws.size
    return {
        "seed": seed,
        "n_effective_components": gmm.n_effective_components_,
        "n_effective_distribution": np.bincount(
            draws, minlength=n_components + 1
        ).tolist(),
        "divergences": diag["divergences"],
        "divergent_fraction": diag["divergences"] / n_draws,
        "warmup_divergences": diag["warmup_divergences"].tolist(),
        "max_r_hat_occupied": diag["max_r_hat_occupied"],
        "max_r_hat_all": diag["max_r_hat"],
        "min_ess_bulk_occupied": diag["min_ess_bulk_occupied"],
        "occupied_components": diag["occupied_components"].tolist(),
        "mean_tree_size": diag["mean_tree_size"],
        "weights": np.round(gmm.weights_, 4).tolist(),
        "wall_time": wall,
        "compile_time": diag["compile_time"],
        "sampling_time": diag["sampling_time"],
        "warnings": [str(w.message) for w in caught],
    }


def fit_sklearn(X, n_components, concentration, seed):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bgmm = BayesianGaussianMixture(
            n_components=n_components,
            weight_concentration_prior_type="dirichlet_distribution",
            weight_concentration_prior=concentration,
            max_iter=500,
            random_state=seed,
        ).fit(X)
    wall = time.perf_counter() - start
    return {
        "seed": seed,
        "n_components_used": int(np.sum(bgmm.weights_ * X.shape[0] >= 1.0)),
        "converged": bool(bgmm.converged_),
        "wall_time": wall,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--concentration", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--datasets", nargs="+", default=["bayespy", "three", "eight"],
        choices=["bayespy", "three", "eight"],
    )
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--ablation-data", choices=["bayespy", "eight"],
                        default="bayespy")
    args = parser.parse_args()

    results = {
        "settings": vars(args),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "datasets": {},
    }
    for name, X, n_components, expected in datasets(args.datasets):
        bic_k, bic_time = bic_choice(X, n_components)
        expected = bic_k if expected is None else expected
        entry = {
            "n_samples": X.shape[0],
            "n_components": n_components,
            "expected": expected,
            "gaussian_mixture_bic_choice": bic_k,
            "gaussian_mixture_bic_time": bic_time,
            "bayesian_gmm": [],
            "sklearn_bayesian_gaussian_mixture": [],
        }
        for seed in args.seeds:
            fit = fit_bayesian_gmm(X, n_components, args.concentration, seed, args)
            fit["correct"] = fit["n_effective_components"] == expected
            entry["bayesian_gmm"].append(fit)
            sk = fit_sklearn(X, n_components, args.concentration, seed)
            sk["correct"] = sk["n_components_used"] == expected
            entry["sklearn_bayesian_gaussian_mixture"].append(sk)
            print(
                f"{name:18s} K={n_components:2d} seed={seed}: "
                f"BayesianGMM n_eff={fit['n_effective_components']} "
                f"(expected {expected}) div={fit['divergences']} "
                f"R-hat(occupied)={fit['max_r_hat_occupied']:.4f} "
                f"time={fit['wall_time']:.1f}s (compile {fit['compile_time']:.1f}s,"
                f" sampling {fit['sampling_time']:.1f}s) | sklearn "
                f"used={sk['n_components_used']} time={sk['wall_time']:.2f}s"
            )
        results["datasets"][name] = entry
    if args.ablation:
        results["ablation"] = {}
        variants = {
            "bgmm_softmax": ("bgmm", "softmax"),
            "kmeans_softmax": ("kmeans", "softmax"),
            "bgmm_simplex": ("bgmm", "simplex"),
            "bgmm_gamma": ("bgmm", "gamma"),
        }
        (_, X, n_components, expected), = datasets(
            ["bayespy" if args.ablation_data == "bayespy" else "eight"])
        seed = 0 if args.ablation_data == "bayespy" else 2
        expected = expected or bic_choice(X, n_components)[0]
        results["ablation"]["data"] = {"name": args.ablation_data, "seed": seed}
        for variant, (init, weights) in variants.items():
            params = {"init_params": init, "weight_parameterization": weights}
            fit = fit_bayesian_gmm(
                X, n_components, args.concentration, seed, args, **params
            )
            fit["correct"] = fit["n_effective_components"] == expected
            results["ablation"][variant] = fit
            print(
                f"ablation {variant:15s}: n_eff={fit['n_effective_components']} "
                f"div={fit['divergences']} "
                f"R-hat(occupied)={fit['max_r_hat_occupied']:.3f} "
                f"time={fit['wall_time']:.1f}s"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
