"""Max R-hat over many quantities of converged chains, and a threshold for it.

A fit is declared converged when the *maximum* R-hat over every sampled
quantity (weights, means, covariance entries: hundreds at D=10) is below a
threshold. Vehtari et al.'s 1.01 is a rule for one quantity; the maximum over M
quantities of chains that have converged crosses it often. This script
simulates chains that have converged by construction and records the
distribution of the maximum:

- the null grid: independent standard normal draws for (chains, draws per
  chain, M quantities) in (2, 500, 50), (2, 500, 400), (4, 250, 400),
  (4, 250, 1000), (4, 500, 1000), (4, 500, 2000), (4, 1000, 2000): median and
  95th percentile of the maximum, the false-alarm rate P(max >= 1.01) and that
  of :func:`skbayesmix._settings.r_hat_threshold` (also without its 1.01 floor,
  ``minimum=1``, to check the formula where the floor hides it);
- autocorrelated draws: AR(1) chains with coefficient 0.5 (autocorrelation time
  tau = 3), against 1.01, the rule for independent draws, the rule with the true
  tau, and the rule with tau estimated as draws / median bulk ESS;
- detection: one chain shifted by 3 sd on 3 quantities (chains in different
  modes), one chain of four shifted by 0.2 or 0.5 sd on 5 quantities (mild),
  and one chain of two shifted by 3 sd on every quantity (where the estimated
  tau masks the disagreement and the ESS check catches it), with the rates at
  which each threshold, and the ESS check (bulk ESS < 100 per chain), flag
  them.

R-hat is ArviZ's rank-normalised split R-hat, the larger of the bulk and the
folded (tail) versions, as ``az.rhat`` computes it for
``skbayesmix._diagnostics.convergence_summary``. A vectorised copy of it
(``rank_r_hat``) is used for speed and checked against
``convergence_summary`` on the first replication of every null row. The bulk
ESS (tau-hat and the ESS check) is ``az.ess(method="bulk")`` of the first 200
quantities and of the shifted ones. Writes ``benchmarks/results/rhat_null.json``
and prints markdown tables.

Run with::

    python benchmarks/bench_rhat_null.py [--replications 400]
        [--other-replications 100] [--seed 0] [--quick]

The two largest null rows run half of ``--replications``. ``--quick`` runs 5
replications of the small rows only (a smoke test). The full run takes about
8 minutes of one core.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from _environment import header  # a sibling module of this script
from scipy import stats

from skbayesmix._diagnostics import convergence_summary
from skbayesmix._settings import MIN_ESS_PER_CHAIN, r_hat_threshold

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

RESULTS = Path(__file__).parent / "results" / "rhat_null.json"
VEHTARI = 1.01

# (num_chains, draws per chain, quantities)
NULL_GRID = [
    (2, 500, 50), (2, 500, 400), (4, 250, 400), (4, 250, 1000),
    (4, 500, 1000), (4, 500, 2000), (4, 1000, 2000),
]
QUICK_GRID = [(2, 500, 50), (2, 500, 400), (4, 250, 400)]
AR_PHI = 0.5
AR_GRID = [(2, 500, 400), (4, 500, 1000)]
# (num_chains, draws, quantities, shifted quantities, shift in sd)
DETECTION = [
    (2, 500, 400, 3, 3.0), (4, 250, 1000, 3, 3.0),
    (4, 250, 1000, 5, 0.2), (4, 250, 1000, 5, 0.5),
    (4, 500, 1000, 5, 0.2), (4, 500, 1000, 5, 0.5),
    # every quantity: the estimated tau masks it, the ESS check does not
    (2, 500, 400, 400, 3.0),
]
QUICK_DETECTION = [(2, 500, 400, 3, 3.0), (4, 250, 400, 5, 0.5)]
ESS_QUANTITIES = 200
# Rows drawing more values than this per replication run half the replications.
BIG_ROW = 3_000_000


def _rank_normal_scores(values):
    """ArviZ's ``_z_scale`` row by row: Blom scores of average ranks.

    Parameters
    ----------
    values : ndarray of shape (n_rows, size)

    Returns
    -------
    z : ndarray of shape (n_rows, size)
    """
    n_rows, size = values.shape
    order = np.argsort(values, axis=1)
    ordered = np.take_along_axis(values, order, axis=1)
    blom = stats.norm.ppf((np.arange(1, size + 1) - 0.375) / (size + 0.25))
    scores = np.tile(blom, (n_rows, 1))
    rows, cols = np.nonzero(ordered[:, 1:] == ordered[:, :-1])
    if rows.size:
        # Ties (always two at the median of the folded draws) share their mean
        # rank, as scipy.stats.rankdata(method="average") gives them.
        tie = rows * size + cols
        starts = np.ones(tie.size, dtype=bool)
        starts[1:] = tie[1:] != tie[:-1] + 1
        first = tie[starts]
        last = tie[np.append(starts[1:], True)]
        length = last - first + 2
        offset = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
        mean_rank = (first % size + last % size + 3) / 2
        scores.ravel()[np.repeat(first, length) + offset] = stats.norm.ppf(
            (np.repeat(mean_rank, length) - 0.375) / (size + 0.25)
        )
    z = np.empty(values.shape)
    np.put_along_axis(z, order, scores, axis=1)
    return z


def _split_r_hat(z, n_halves, half):
    z = z.reshape(-1, n_halves, half)
    between = half * z.mean(axis=2).var(axis=1, ddof=1)
    within = z.var(axis=2, ddof=1).mean(axis=1)
    return np.sqrt((between / within + half - 1) / half)


def rank_r_hat(draws):
    """``az.rhat(method="rank")`` of every quantity at once.

    Parameters
    ----------
    draws : ndarray of shape (n_chains, n_draws, n_quantities)

    Returns
    -------
    r_hat : ndarray of shape (n_quantities,)
    """
    n_chains, n_draws, n_quantities = draws.shape
    half = n_draws // 2
    split = np.concatenate([draws[:, :half], draws[:, n_draws - half:]], axis=0)
    flat = np.ascontiguousarray(np.moveaxis(split, 2, 0)).reshape(n_quantities, -1)
    bulk = _split_r_hat(_rank_normal_scores(flat), 2 * n_chains, half)
    folded = np.abs(flat - np.median(flat, axis=1, keepdims=True))
    tail = _split_r_hat(_rank_normal_scores(folded), 2 * n_chains, half)
    return np.maximum(bulk, tail)


def check_against_package(draws):
    """Largest difference between ``rank_r_hat`` and the package's R-hat."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        package = convergence_summary({"x": draws})["r_hat"]["x"]
    return float(np.max(np.abs(rank_r_hat(draws) - package)))


def ar1_draws(rng, shape, phi):
    """Stationary AR(1) chains with unit variance along axis 1."""
    noise = rng.standard_normal(shape)
    draws = np.empty(shape)
    draws[:, 0] = noise[:, 0]
    scale = np.sqrt(1 - phi**2)
    for t in range(1, shape[1]):
        draws[:, t] = phi * draws[:, t - 1] + scale * noise[:, t]
    return draws


def ess_check(draws, n_shifted=0):
    """Estimated autocorrelation time, and whether the ESS check fails.

    Bulk ESS (``az.ess(method="bulk")``, as the package computes it) of the
    first ``ESS_QUANTITIES`` quantities and of the ``n_shifted`` last ones:
    tau-hat is the draws over their median ESS; the check fails when their
    smallest ESS is below ``MIN_ESS_PER_CHAIN`` per chain.
    """
    n_chains, n_draws, n_quantities = draws.shape
    subset = np.union1d(np.arange(min(ESS_QUANTITIES, n_quantities)),
                        np.arange(n_quantities - n_shifted, n_quantities))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ess = az.ess(az.convert_to_dataset({"x": draws[:, :, subset]}),
                     method="bulk")["x"].values
    tau_hat = n_chains * n_draws / np.median(ess)
    return tau_hat, bool(ess.min() < MIN_ESS_PER_CHAIN * n_chains)


def summarise(maxima, thresholds):
    maxima = np.asarray(maxima)
    out = {
        "replications": int(maxima.size),
        "median_max": float(np.median(maxima)),
        "q95_max": float(np.quantile(maxima, 0.95)),
    }
    for name, threshold in thresholds.items():
        threshold = np.asarray(threshold)
        out[f"threshold_{name}"] = float(np.mean(threshold))
        out[f"rate_{name}"] = float(np.mean(maxima >= threshold))
    return out


def null_row(rng, num_chains, num_draws, n_quantities, replications):
    start = time.process_time()
    maxima, check = [], None
    for replication in range(replications):
        draws = rng.standard_normal((num_chains, num_draws, n_quantities))
        if replication == 0:
            check = check_against_package(draws)
        maxima.append(rank_r_hat(draws).max())
    row = {
        "num_chains": num_chains, "num_draws": num_draws,
        "n_quantities": n_quantities,
        **summarise(maxima, {
            "vehtari": VEHTARI,
            "rule": r_hat_threshold(num_chains, num_draws, n_quantities),
            "formula": r_hat_threshold(num_chains, num_draws, n_quantities,
                                       minimum=1.0),
        }),
        "max_difference_to_package": check,
        "cpu_time": time.process_time() - start,
    }
    return row



def _thresholds(num_chains, num_draws, n_quantities, tau_hats):
    """1.01, the rule, and the rule with each replication's estimated tau."""
    return {
        "vehtari": VEHTARI,
        "rule": r_hat_threshold(num_chains, num_draws, n_quantities),
        "rule_estimated_tau": [
            r_hat_threshold(num_chains, num_draws, n_quantities,
                            autocorrelation_time=t)
            for t in tau_hats
        ],
    }

def ar_row(rng, num_chains, num_draws, n_quantities, replications, phi=AR_PHI):
    start = time.process_time()
    tau = (1 + phi) / (1 - phi)
    maxima, tau_hats, ess_fails, check = [], [], [], None
    for replication in range(replications):
        draws = ar1_draws(rng, (num_chains, num_draws, n_quantities), phi)
        if replication == 0:
            check = check_against_package(draws)
        maxima.append(rank_r_hat(draws).max())
        tau_hat, ess_fail = ess_check(draws)
        tau_hats.append(tau_hat)
        ess_fails.append(ess_fail)
    thresholds = _thresholds(num_chains, num_draws, n_quantities, tau_hats)
    thresholds["rule_true_tau"] = r_hat_threshold(
        num_chains, num_draws, n_quantities, autocorrelation_time=tau)
    return {
        "num_chains": num_chains, "num_draws": num_draws,
        "n_quantities": n_quantities, "phi": phi, "tau": tau,
        "median_estimated_tau": float(np.median(tau_hats)),
        "rate_ess_check_fails": float(np.mean(ess_fails)),
        **summarise(maxima, thresholds),
        "max_difference_to_package": check,
        "cpu_time": time.process_time() - start,
    }


def detection_row(rng, num_chains, num_draws, n_quantities, n_shifted, shift,
                  replications):
    start = time.process_time()
    maxima, tau_hats, ess_fails = [], [], []
    for _ in range(replications):
        draws = rng.standard_normal((num_chains, num_draws, n_quantities))
        # The last chain sits `shift` sd away on the last `n_shifted` quantities.
        draws[-1, :, n_quantities - n_shifted:] += shift
        maxima.append(rank_r_hat(draws).max())
        tau_hat, ess_fail = ess_check(draws, n_shifted)
        tau_hats.append(tau_hat)
        ess_fails.append(ess_fail)
    thresholds = _thresholds(num_chains, num_draws, n_quantities, tau_hats)
    return {
        "num_chains": num_chains, "num_draws": num_draws,
        "n_quantities": n_quantities, "n_shifted": n_shifted, "shift": shift,
        "median_estimated_tau": float(np.median(tau_hats)),
        "rate_ess_check_fails": float(np.mean(ess_fails)),
        **summarise(maxima, thresholds),
        "cpu_time": time.process_time() - start,
    }


def print_tables(results):
    print("\nNull: independent draws (false-alarm rates)\n")
    print("| chains x draws | M | median max | 95% max | P(max >= 1.01) "
          "| rule | P(max >= rule) | formula w/o floor | P(max >= formula) | reps |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results["null"]:
        print(
            f"| {r['num_chains']} x {r['num_draws']} | {r['n_quantities']} "
            f"| {r['median_max']:.4f} | {r['q95_max']:.4f} "
            f"| {r['rate_vehtari']:.3f} | {r['threshold_rule']:.4f} "
            f"| {r['rate_rule']:.3f} | {r['threshold_formula']:.4f} "
            f"| {r['rate_formula']:.3f} | {r['replications']} |"
        )
    print(f"\nNull: AR(1) draws, phi = {AR_PHI} (tau = 3; false-alarm rates)\n")
    print("| chains x draws | M | median max | 95% max | P(max >= 1.01) "
          "| P(>= rule, tau=1) | rule, true tau | P(>= it) "
          "| median tau-hat | P(>= rule, tau-hat) | P(ESS check fails) | reps |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results["ar1"]:
        print(
            f"| {r['num_chains']} x {r['num_draws']} | {r['n_quantities']} "
            f"| {r['median_max']:.4f} | {r['q95_max']:.4f} "
            f"| {r['rate_vehtari']:.3f} | {r['rate_rule']:.3f} "
            f"| {r['threshold_rule_true_tau']:.4f} | {r['rate_rule_true_tau']:.3f} "
            f"| {r['median_estimated_tau']:.2f} "
            f"| {r['rate_rule_estimated_tau']:.3f} "
            f"| {r['rate_ess_check_fails']:.3f} | {r['replications']} |"
        )
    print("\nDetection: one chain shifted (detection rates)\n")
    print("| chains x draws | M | shifted | shift (sd) | median max "
          "| P(max >= 1.01) | rule | P(max >= rule) | median tau-hat "
          "| P(>= rule, tau-hat) | P(ESS check fails) | reps |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results["detection"]:
        print(
            f"| {r['num_chains']} x {r['num_draws']} | {r['n_quantities']} "
            f"| {r['n_shifted']} | {r['shift']} | {r['median_max']:.4f} "
            f"| {r['rate_vehtari']:.3f} | {r['threshold_rule']:.4f} "
            f"| {r['rate_rule']:.3f} | {r['median_estimated_tau']:.2f} "
            f"| {r['rate_rule_estimated_tau']:.3f} "
            f"| {r['rate_ess_check_fails']:.3f} | {r['replications']} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=400,
                        help="per row of the null grid (half in the two largest)")
    parser.add_argument("--other-replications", type=int, default=100,
                        help="per AR(1) and detection row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.replications = args.other_replications = 5
    info = header("skbayesmix", "numpy", "scipy", "arviz")
    print(" ".join(f"{key}={value}" for key, value in info.items()))

    rng = np.random.default_rng(args.seed)
    results = {"settings": {**vars(args), "out": str(args.out)}, "header": info,
               "null": [], "ar1": [], "detection": []}
    for config in QUICK_GRID if args.quick else NULL_GRID:
        big = np.prod(config) > BIG_ROW
        row = null_row(rng, *config, args.replications // (2 if big else 1))
        results["null"].append(row)
        print(f"null {config}: P(max >= 1.01) = {row['rate_vehtari']:.3f}, "
              f"P(max >= rule {row['threshold_rule']:.4f}) = {row['rate_rule']:.3f} "
              f"({row['cpu_time']:.0f} s CPU; |rank_r_hat - package| = "
              f"{row['max_difference_to_package']:.1e})", flush=True)
    for config in AR_GRID[:1] if args.quick else AR_GRID:
        row = ar_row(rng, *config, args.other_replications)
        results["ar1"].append(row)
        print(f"AR(1) {config}: P(max >= 1.01) = {row['rate_vehtari']:.3f} "
              f"({row['cpu_time']:.0f} s CPU)", flush=True)
    for config in QUICK_DETECTION if args.quick else DETECTION:
        row = detection_row(rng, *config, args.other_replications)
        results["detection"].append(row)
        print(f"detection {config}: 1.01 {row['rate_vehtari']:.3f}, "
              f"rule {row['rate_rule']:.3f} ({row['cpu_time']:.0f} s CPU)",
              flush=True)
    print_tables(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
