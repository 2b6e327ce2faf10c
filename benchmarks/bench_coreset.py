"""What a weighted coreset approximates: held-out fit and parameter error.

Fits ``BayesianGMM`` on coresets of several sizes (``coreset_size``) and compares
them with a reference fitted on every training row:

* ``50k``: D=2, K=8 blobs, 50,000 training rows (5,000 held out); the reference
  is a full-data NUTS fit (``coreset_size=None``). Parameter errors are in units
  of the reference's posterior standard deviations, matched by the Hungarian
  algorithm on the means; ``sd ratio`` compares the posterior standard
  deviations of the means (coreset / full).
* ``1e6``: the same blobs with 10^6 training rows (100,000 held out); the
  reference is ``GaussianMixture(8)`` on every row. Errors in data units.
* ``d10``: D=10, K=5 blobs, 10^6 training rows (50,000 held out), against
  ``GaussianMixture(5)``.
* ``1e6u`` (a control, not run by default): as ``1e6``, but each fit samples a
  uniform random subsample of the same size, every row weighing N / size
  (``coreset_size=None`` with ``sample_weight``), instead of a coreset.

Per coreset size it reports the median fit wall time, how many fits converged,
the held-out mean log-likelihood (``score``) and its difference to the
reference, and the parameter errors (worst over seeds). Results are written to
``results/bench_coreset.json`` after every fit (parts not run this time are kept
from an earlier file), so a partial run keeps what it measured.

    python benchmarks/bench_coreset.py [--parts 1e6 d10 50k 1e6u] [--seeds 0 1 2]
        [--d10-seeds 0] [--sizes-50k 2000 5000 10000 20000]
        [--sizes-1e6 2000 5000 10000 20000] [--sizes-d10 5000 10000 20000 32900]
"""

import argparse
import json
import os
import resource
import sys
import time
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

from skbayesmix import BayesianGMM

sys.path.insert(0, os.path.dirname(__file__))
from _environment import header  # noqa: E402

RESULTS = os.path.join(os.path.dirname(__file__), "results")

# (make_blobs arguments, training rows, n_components) of every part.
PARTS = {
    "50k": (dict(n_samples=55_000, centers=8, cluster_std=0.8, center_box=(-10, 10),
                 random_state=101), 50_000, 8),
    "1e6": (dict(n_samples=1_100_000, centers=8, cluster_std=0.8,
                 center_box=(-10, 10), random_state=101), 1_000_000, 8),
    "d10": (dict(n_samples=1_050_000, n_features=10, centers=5, cluster_std=1.0,
                 random_state=0), 1_000_000, 5),
}
PARTS["1e6u"] = PARTS["1e6"]


def _plain(value):
    """NumPy scalars (and anything else) as JSON."""
    return value.item() if hasattr(value, "item") else str(value)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def posterior_sd(gmm):
    """Posterior standard deviation of every mean, shape (K, D)."""
    means = gmm.posterior_samples_["means"]
    return means.reshape(-1, *means.shape[2:]).std(axis=0)


def match(reference_means, means):
    """Order of ``means``'s components matching ``reference_means``'s."""
    cost = ((reference_means[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


def errors(reference, gmm, reference_sd=None):
    """Parameter errors of ``gmm`` against ``reference`` (matched components)."""
    order = match(reference.means_, gmm.means_)
    delta_mean = np.abs(gmm.means_[order] - reference.means_)
    delta_weight = np.abs(gmm.weights_[order] - reference.weights_)
    out = dict(
        max_abs_delta_mean=float(delta_mean.max()),
        max_abs_delta_weight=float(delta_weight.max()),
    )
    if reference_sd is not None:
        sd_ratio = posterior_sd(gmm)[order] / reference_sd
        out.update(
            max_delta_mean_in_sd=float((delta_mean / reference_sd).max()),
            sd_ratio_median=float(np.median(sd_ratio)),
            sd_ratio_min=float(sd_ratio.min()),
            sd_ratio_max=float(sd_ratio.max()),
        )
    return out


def fit_bayesian(X, n_components, coreset_size, seed, uniform=False):
    """Fit a coreset of ``coreset_size`` draws, or a uniform weighted subsample."""
    sample_weight = None
    if uniform:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(len(X), coreset_size, replace=False))
        X, sample_weight = X[rows], np.full(coreset_size, len(X) / coreset_size)
    gmm = BayesianGMM(n_components=n_components,
                      coreset_size=None if uniform else coreset_size,
                      random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, wall = timed(lambda: gmm.fit(X, sample_weight=sample_weight))
    diag = gmm.diagnostics_
    info = dict(
        wall=wall, converged=bool(gmm.converged_),
        compile_time=diag["compile_time"], sampling_time=diag["sampling_time"],
        max_r_hat=float(diag["max_r_hat"]), divergences=int(diag["divergences"]),
        n_modes=int(diag["n_modes"]), stopped=diag["stopped"],
        num_draws=int(diag["num_draws"]), coreset=diag["coreset"],
        warnings=[f"{w.category.__name__}: {w.message}" for w in caught],
    )
    return gmm, info


def summarise(rows, reference_score, in_sd):
    """One line per coreset size: medians of times and scores, worst errors."""
    table = []
    for size in dict.fromkeys(r["coreset_size"] for r in rows):
        group = [r for r in rows if r["coreset_size"] == size]
        line = dict(
            coreset_size=size, fits=len(group),
            n_rows=int(np.median([r["n_rows"] for r in group])),
            wall_median=float(np.median([r["wall"] for r in group])),
            converged=sum(r["converged"] for r in group),
            score_median=float(np.median([r["score"] for r in group])),
            diff_min=float(min(r["score"] - reference_score for r in group)),
            diff_median=float(np.median([r["score"] - reference_score for r in group])),
            max_abs_delta_mean=max(r["max_abs_delta_mean"] for r in group),
            max_abs_delta_weight=max(r["max_abs_delta_weight"] for r in group),
        )
        if in_sd:
            line.update(
                max_delta_mean_in_sd=max(r["max_delta_mean_in_sd"] for r in group),
                sd_ratio_median=float(np.median([r["sd_ratio_median"] for r in group])),
                sd_ratio_min=min(r["sd_ratio_min"] for r in group),
                sd_ratio_max=max(r["sd_ratio_max"] for r in group),
            )
        table.append(line)
    return table


def print_table(table, in_sd):
    head = (f"{'size':>6s} {'fits':>4s} {'rows':>6s} {'wall s':>7s} {'conv':>4s} "
            f"{'score':>9s} {'diff med':>9s} {'diff min':>9s} {'|dmean|':>8s} "
            f"{'|dweight|':>9s}")
    if in_sd:
        head += f" {'dmean/sd':>8s} {'sd ratio med [min, max]':>24s}"
    print(head)
    for t in table:
        line = (f"{t['coreset_size']:>6d} {t['fits']:4d} {t['n_rows']:6d} "
                f"{t['wall_median']:7.1f} {t['converged']:4d} {t['score_median']:9.5f} "
                f"{t['diff_median']:+9.5f} {t['diff_min']:+9.5f} "
                f"{t['max_abs_delta_mean']:8.4f} {t['max_abs_delta_weight']:9.5f}")
        if in_sd:
            line += (f" {t['max_delta_mean_in_sd']:8.2f} "
                     f"{t['sd_ratio_median']:10.2f} [{t['sd_ratio_min']:.2f}, "
                     f"{t['sd_ratio_max']:.2f}]")
        print(line, flush=True)


def run_part(name, sizes, seeds, save):
    blobs, n_train, n_components = PARTS[name]
    X, _ = make_blobs(**blobs)
    X_train, X_test = X[:n_train], X[n_train:]
    print(f"\n== part {name}: {n_train} training rows, {len(X_test)} held out, "
          f"D={X.shape[1]}, K={n_components}", flush=True)
    if name == "50k":
        reference, info = fit_bayesian(X_train, n_components, None, 0)
        reference_sd = posterior_sd(reference)
        info["model"] = "BayesianGMM(coreset_size=None, random_state=0)"
    else:
        reference = GaussianMixture(n_components, random_state=0)
        _, wall = timed(lambda: reference.fit(X_train))
        reference_sd = None
        info = dict(model=f"GaussianMixture({n_components}, random_state=0)",
                    wall=wall, converged=bool(reference.converged_),
                    n_iter=int(reference.n_iter_))
    reference_score, info["score_wall"] = timed(lambda: reference.score(X_test))
    info.update(score=float(reference_score), peak_rss_mb=peak_rss_mb())
    print(f"reference {info['model']}: fit {info['wall']:.1f} s, converged "
          f"{info['converged']}, held-out score {reference_score:.5f}", flush=True)
    part = dict(blobs=blobs, n_train=n_train, n_components=n_components,
                sizes=sizes, seeds=seeds, reference=info, fits=[], table=[])
    for size in sizes:
        for seed in seeds:
            gmm, row = fit_bayesian(X_train, n_components, size, seed,
                                    uniform=name == "1e6u")
            row["n_rows"] = size if row["coreset"] is None else row["coreset"]["n_rows"]
            row["score"], row["score_wall"] = timed(lambda: gmm.score(X_test))
            row.update(coreset_size=size, seed=seed, peak_rss_mb=peak_rss_mb(),
                       **errors(reference, gmm, reference_sd))
            part["fits"].append(row)
            print(f"  size {size:6d} seed {seed}: fit {row['wall']:6.1f} s, converged "
                  f"{row['converged']}, score {row['score']:.5f} "
                  f"({row['score'] - reference_score:+.5f}), "
                  f"|dmean| {row['max_abs_delta_mean']:.4f}, "
                  f"|dweight| {row['max_abs_delta_weight']:.5f}, "
                  f"peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
            part["table"] = summarise(part["fits"], reference_score, name == "50k")
            save(name, part)
    print_table(part["table"], name == "50k")
    return part


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=list(PARTS),
                        default=["1e6", "d10", "50k"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="seeds of the coreset fits of parts 50k and 1e6")
    parser.add_argument("--d10-seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--sizes-50k", type=int, nargs="+",
                        default=[2000, 5000, 10000, 20000])
    parser.add_argument("--sizes-1e6", type=int, nargs="+",
                        default=[2000, 5000, 10000, 20000])
    parser.add_argument("--sizes-d10", type=int, nargs="+",
                        default=[5000, 10000, 20000, 32900])
    parser.add_argument("--output", default=os.path.join(RESULTS, "bench_coreset.json"))
    args = parser.parse_args()
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    results = dict(parts={})
    if os.path.exists(args.output):
        with open(args.output) as f:
            results["parts"] = json.load(f).get("parts", {})
    # Header, settings and totals are this run's; each part also keeps the
    # header and wall time of the run that measured it.
    run_header = header("skbayesmix", "numpy", "sklearn", "jax", "numpyro")
    results.update(header=run_header, settings=vars(args))
    start = time.perf_counter()

    def save(name, part):
        part.update(header=run_header, run_wall=time.perf_counter() - start)
        results["parts"][name] = part
        results["total_wall"] = time.perf_counter() - start
        results["peak_rss_mb"] = peak_rss_mb()
        with open(args.output, "w") as f:
            json.dump(results, f, indent=1, default=_plain)

    sizes = {"50k": args.sizes_50k, "1e6": args.sizes_1e6, "d10": args.sizes_d10,
             "1e6u": args.sizes_1e6}
    for name in args.parts:
        seeds = args.d10_seeds if name == "d10" else args.seeds
        run_part(name, sizes[name], seeds, save)
    print(f"\ntotal {time.perf_counter() - start:.0f} s, "
          f"peak RSS {peak_rss_mb():.0f} MB")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
