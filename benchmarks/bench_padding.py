"""Padded components: the same posterior as an unpadded sampler, at what cost.

One compiled sampler serves every ``n_components`` up to a bucket (8, 12, 16,
24, ...): the components beyond ``n_components`` are padding, with no
likelihood, whose coordinates the sampler never moves (``skbayesmix._model``,
``skbayesmix._inference._freeze_padding``). Part 1 fits the same data with the
same seed twice, padded (the default) and unpadded
(``skbayesmix._settings.MAX_PADDED_WORK = 0``, a module constant, not an
option), both with a diagonal metric (``dense_mass=False``, so that both run
the same kind of metric), and reports:

- the posterior: for every weight, mean and covariance entry, the difference of
  the two posterior means over its Monte Carlo standard error
  (``z = (m_pad - m_unpad) / sqrt(mcse_pad^2 + mcse_unpad^2)``, mcse = posterior
  sd / sqrt(bulk ESS)); if both sample the same distribution z is about
  standard normal: the table gives max |z|, the share above 2 (about 5%
  expected) and the ratio of posterior standard deviations;
- the cost: compile and sampling time (``diagnostics_``), min bulk ESS, and
  bulk ESS per second of sampling, padded over unpadded;
- both fits' ``converged_``.

Part 2 fits padded samplers with a dense and a diagonal metric (what a dense
metric costs and buys there): sampling time, min bulk ESS, iterations and
``converged_``.

Each fit is run twice and the second one timed, so compile times come from
the first and sampling times from a warm program. The on-disk cache is off
(``SKBAYESMIX_CACHE_DIR=off``, set by the script). ``--quick`` smoke-tests
the script (its numbers mean nothing).

Run with::

    python benchmarks/bench_padding.py [--seeds 0 1] [--quick]

Writes ``benchmarks/results/padding.json``.
"""

import argparse
import json
import os
import time
import warnings
from pathlib import Path

os.environ["SKBAYESMIX_CACHE_DIR"] = "off"

import numpy as np  # noqa: E402
from _environment import REFERENCE_BLOBS, header  # noqa: E402
from sklearn.datasets import load_iris, load_wine, make_blobs  # noqa: E402

from skbayesmix import BayesianGMM, _settings  # noqa: E402

CASES = [
    # (data set, n_components, covariance_type)
    ("reference", 1, "full"),
    ("reference", 3, "full"),
    ("reference", 8, "full"),
    ("reference", 10, "full"),
    ("iris", 3, "full"),
    ("iris", 3, "diag"),
    ("iris", 3, "tied"),
    ("iris", 3, "spherical"),
    ("wine", 3, "full"),
]
METRIC_CASES = [
    ("reference", 1), ("reference", 3), ("reference", 5), ("reference", 8),
    ("iris", 3), ("wine", 3),
]


def load(name):
    if name == "reference":
        return make_blobs(**REFERENCE_BLOBS)[0]
    return {"iris": load_iris, "wine": load_wine}[name]().data


def fit(X, n_components, covariance_type, seed, padded, quick, dense_mass=False):
    saved = _settings.MAX_PADDED_WORK
    if not padded:
        _settings.MAX_PADDED_WORK = 0
    kwargs = dict(num_warmup=50, num_samples=50) if quick else {}
    try:
        runs = []
        for _ in range(2):
            model = BayesianGMM(
                n_components, covariance_type=covariance_type, random_state=seed,
                dense_mass=dense_mass, **kwargs,
            )
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X)
            runs.append((model, time.perf_counter() - start))
    finally:
        _settings.MAX_PADDED_WORK = saved
    (first, first_wall), (model, wall) = runs
    return model, {
        "sampled_components": int(model._settings.sampled_components),
        "compile_time": first.diagnostics_["compile_time"],
        "sampling_time": model.diagnostics_["sampling_time"],
        "fit_wall": wall,
        "first_fit_wall": first_wall,
        "min_ess_bulk": float(model.diagnostics_["min_ess_bulk"]),
        "max_r_hat": float(model.diagnostics_["max_r_hat"]),
        "converged": bool(model.converged_),
        "iterations": int(model.diagnostics_["num_iterations"]),
    }


def posterior_moments(model):
    """Posterior mean, sd and bulk ESS of every weight, mean and covariance entry."""
    moments = []
    for name in ("weights", "means", "covariances"):
        draws = model.posterior_samples_[name]
        flat = draws.reshape(draws.shape[0] * draws.shape[1], -1)
        ess = np.asarray(model.diagnostics_["ess_bulk"][name]).reshape(-1)
        moments.append((flat.mean(0), flat.std(0), ess))
    return [np.concatenate(parts) for parts in zip(*moments)]


def compare(padded, unpadded):
    mean_p, sd_p, ess_p = posterior_moments(padded)
    mean_u, sd_u, ess_u = posterior_moments(unpadded)
    # Exchanged components (symmetric entries of covariances) count once each.
    keep = sd_p > 0
    mcse = np.sqrt(sd_p**2 / ess_p + sd_u**2 / ess_u)[keep]
    z = (mean_p - mean_u)[keep] / mcse
    return {
        "n_quantities": int(keep.sum()),
        "max_abs_z": float(np.max(np.abs(z))),
        "share_abs_z_above_2": float(np.mean(np.abs(z) > 2)),
        "sd_ratio_median": float(np.median(sd_p[keep] / sd_u[keep])),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = []
    print(
        f"{'data':<10}{'K':>3} {'cov':<10}{'seed':>4} {'bucket':>6} "
        f"{'compile p/u':>12} {'sample p/u':>12} {'ESS/s ratio':>11} "
        f"{'max|z|':>7} {'|z|>2':>6} {'sd ratio':>8} conv p/u"
    )
    for dataset, n_components, covariance_type in CASES:
        X = load(dataset)
        for seed in args.seeds:
            padded, p = fit(X, n_components, covariance_type, seed, True, args.quick)
            unpadded, u = fit(X, n_components, covariance_type, seed, False, args.quick)
            posterior = compare(padded, unpadded)
            ess_rate = (p["min_ess_bulk"] / p["sampling_time"]) / (
                u["min_ess_bulk"] / u["sampling_time"]
            )
            rows.append(dict(
                dataset=dataset, n_components=n_components,
                covariance_type=covariance_type, seed=seed, padded=p,
                unpadded=u, posterior=posterior, ess_per_second_ratio=ess_rate,
            ))
            print(
                f"{dataset:<10}{n_components:>3} {covariance_type:<10}{seed:>4} "
                f"{p['sampled_components']:>6} "
                f"{p['compile_time']:>5.1f}/{u['compile_time']:<5.1f} "
                f"{p['sampling_time']:>5.1f}/{u['sampling_time']:<5.1f} "
                f"{ess_rate:>11.2f} {posterior['max_abs_z']:>7.2f} "
                f"{posterior['share_abs_z_above_2']:>6.2f} "
                f"{posterior['sd_ratio_median']:>8.3f} "
                f"{p['converged']!s:>5}/{u['converged']!s}",
                flush=True,
            )
    print(
        f"\n{'data':<10}{'K':>3} {'seed':>4} {'metric':<7}{'sample s':>9} "
        f"{'min ESS':>8} {'ESS/s':>7} {'iters':>6} conv"
    )
    metric_rows = []
    for dataset, n_components in METRIC_CASES:
        X = load(dataset)
        for seed in args.seeds:
            for dense_mass in (True, False):
                _, r = fit(X, n_components, "full", seed, True, args.quick, dense_mass)
                metric_rows.append(dict(
                    dataset=dataset, n_components=n_components, seed=seed,
                    dense_mass=dense_mass, **r,
                ))
                print(
                    f"{dataset:<10}{n_components:>3} {seed:>4} "
                    f"{'dense' if dense_mass else 'diag':<7}"
                    f"{r['sampling_time']:>9.2f} {r['min_ess_bulk']:>8.0f} "
                    f"{r['min_ess_bulk'] / r['sampling_time']:>7.0f} "
                    f"{r['iterations']:>6} {r['converged']}",
                    flush=True,
                )
    out = Path(__file__).parent / "results" / "padding.json"
    if not args.quick:
        out.write_text(json.dumps(
            {"header": header("skbayesmix", "jax", "numpyro"), "rows": rows,
             "metric_rows": metric_rows},
            indent=1,
        ))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
