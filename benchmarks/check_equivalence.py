"""Record, or compare against a record, the values a refactoring must not change.

A refactoring that claims "same behaviour" is checked here through the public
API only, so the same script runs before and after it:

- a default ``BayesianGMM(n_components=8, random_state=0)`` fit on the reference
  8 blobs: ``posterior_samples_``, ``predict_proba``, ``score_samples``,
  ``bic``, ``loo()["elpd"]`` and the fitted point estimates;
- FAST fits of the other covariance types and of an overfitted mixture;
- ``BayesianGMMSelector`` over K = 1..4 with the test suite's FAST settings:
  every numeric column of ``cv_results_``, except the timings.

Usage::

    python benchmarks/check_equivalence.py record results/equivalence.npz
    python benchmarks/check_equivalence.py compare results/equivalence.npz

``compare`` exits 1 and lists every value that differs by more than float64
round-off (relative 1e-9, absolute 1e-9 for values near zero).
"""

import argparse
import sys
import warnings

import numpy as np
from sklearn.datasets import make_blobs

from skbayesmix import BayesianGMM, BayesianGMMSelector

FAST = dict(num_warmup=30, num_samples=30, num_chains=2, random_state=0)
RTOL = ATOL = 1e-9


def reference_blobs():
    return make_blobs(
        n_samples=500, centers=8, cluster_std=0.8, center_box=(-10, 10),
        random_state=101,
    )


def _collect_fit(values, prefix, gmm, X):
    for name, draws in gmm.posterior_samples_.items():
        values[f"{prefix}posterior_samples_/{name}"] = draws
    values[f"{prefix}predict_proba"] = gmm.predict_proba(X)
    values[f"{prefix}score_samples"] = gmm.score_samples(X)
    values[f"{prefix}bic"] = np.asarray(gmm.bic(X))
    values[f"{prefix}sample"] = gmm.sample(20)[0]
    values[f"{prefix}precisions_"] = gmm.precisions_


def collect():
    X, _ = reference_blobs()
    values = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gmm = BayesianGMM(n_components=8, random_state=0).fit(X)
        for name, draws in gmm.posterior_samples_.items():
            values[f"posterior_samples_/{name}"] = draws
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                     "lower_bound_"):
            values[name] = np.asarray(getattr(gmm, name))
        values["predict_proba"] = gmm.predict_proba(X)
        values["score_samples"] = gmm.score_samples(X)
        values["bic"] = np.asarray(gmm.bic(X))
        values["aic"] = np.asarray(gmm.aic(X))
        values["loo_elpd"] = np.asarray(gmm.loo()["elpd"])
        values["waic_elpd"] = np.asarray(gmm.waic()["elpd"])
        values["max_r_hat"] = np.asarray(gmm.diagnostics_["max_r_hat"])
        X_new = np.random.default_rng(0).uniform(-12, 12, size=(200, 2))
        values["predict_proba_new"] = gmm.predict_proba(X_new)
        values["score_samples_new"] = gmm.score_samples(X_new)
        values["bic_new"] = np.asarray(gmm.bic(X_new))
        values["sample"] = gmm.sample(50)[0]

        # Every covariance type and the overfitted regime, at FAST settings.
        for covariance_type in ("tied", "diag", "spherical"):
            other = BayesianGMM(3, covariance_type=covariance_type, **FAST).fit(X)
            _collect_fit(values, f"{covariance_type}/", other, X)
        sparse = BayesianGMM(10, weight_concentration=0.01, **FAST).fit(X)
        _collect_fit(values, "overfitted/", sparse, X)
        values["overfitted/n_effective_components_draws_"] = (
            sparse.n_effective_components_draws_
        )

        selector = BayesianGMMSelector(
            BayesianGMM(**FAST), n_components_range=(1, 2, 3, 4)
        ).fit(X)
    for key, column in selector.cv_results_.items():
        if key in ("fit_time", "score_time", "params"):
            continue
        column = np.asarray(column)
        if column.dtype.kind in "fiub":
            values[f"cv_results_/{key}"] = column.astype(np.float64)
    values["best_n_components_"] = np.asarray(selector.best_n_components_)
    return values


def compare(recorded, current):
    failures = []
    for key in sorted(set(recorded) | set(current)):
        if key not in current or key not in recorded:
            failures.append(f"{key}: only in {'record' if key in recorded else 'now'}")
            continue
        old, new = recorded[key], current[key]
        if old.shape != new.shape:
            failures.append(f"{key}: shape {old.shape} -> {new.shape}")
        elif not np.allclose(old, new, rtol=RTOL, atol=ATOL, equal_nan=True):
            worst = np.nanmax(np.abs(old - new))
            failures.append(f"{key}: max abs difference {worst:.3g}")
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("record", "compare"))
    parser.add_argument("path")
    args = parser.parse_args(argv)
    current = collect()
    if args.action == "record":
        np.savez_compressed(args.path, **current)
        print(f"recorded {len(current)} arrays in {args.path}")
        return 0
    recorded = dict(np.load(args.path))
    failures = compare(recorded, current)
    for line in failures:
        print("DIFFERS", line)
    print(f"{len(recorded) - len(failures)} of {len(recorded)} arrays identical "
          f"to rtol={RTOL}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
