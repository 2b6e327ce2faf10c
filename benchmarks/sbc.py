"""Simulation-based calibration of BayesianGMM (Talts et al. 2018).

For every replication: draw mixture parameters from the exact prior the model
uses, draw a data set from the mixture, fit ``BayesianGMM`` with that prior
(``mean_prior`` fixed, ``standardize=False`` so that no prior looks at the data),
and record the rank of ``f(truth)`` among ``f(draws)`` for label-invariant
functions ``f``: the smaller weight, the sorted means and standard deviations of
each feature, the sorted correlations. If the posterior is right, every rank is
uniform on ``0..L`` (``L`` thinned draws). Ranks are binned into a histogram and
tested for uniformity with a chi-square test (and a Kolmogorov-Smirnov test on
the jittered ranks).

The prior, in data units (``standardize=False``)::

    w        ~ Dirichlet(weight_concentration * ones(K))
    mu_k     ~ Normal(mean_prior, mean_prior_scale**2 I)
    sigma_kd ~ HalfCauchy(scale_prior)
    Omega_k  ~ LKJ(D, lkj_concentration)          # 'full', D = 2
    Sigma_k  = diag(sigma_k) Omega_k diag(sigma_k) + reg_covar I

Run::

    python benchmarks/sbc.py                      # 200 replications per family
    python benchmarks/sbc.py --replications 20    # a quick look

Writes ``benchmarks/results/sbc.md`` and ``benchmarks/results/sbc.json``.

References
----------
S. Talts, M. Betancourt, D. Simpson, A. Vehtari and A. Gelman, "Validating
Bayesian inference algorithms with simulation-based calibration",
arXiv:1804.06788, 2018.
"""

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from skbayesmix import BayesianGMM
from skbayesmix._program_cache import compilation_stats

RESULTS = Path(__file__).parent / "results"

# Families: (name, n_features, covariance_type). K and N are shared.
FAMILIES = (("D=1", 1, "full"), ("D=2", 2, "full"))


def draw_prior(rng, n_components, n_features, prior):
    """One draw of (weights, means, covariances) from the model's prior."""
    weights = rng.dirichlet(np.full(n_components, prior["weight_concentration"]))
    means = prior["mean_prior"] + prior["mean_prior_scale"] * rng.standard_normal(
        (n_components, n_features)
    )
    scales = np.abs(
        prior["scale_prior"] * rng.standard_cauchy((n_components, n_features))
    )
    corr = np.tile(np.eye(n_features), (n_components, 1, 1))
    if n_features == 2:
        # LKJ(eta) in two dimensions: (rho + 1) / 2 ~ Beta(eta, eta).
        eta = prior["lkj_concentration"]
        rho = 2.0 * rng.beta(eta, eta, size=n_components) - 1.0
        corr[:, 0, 1] = corr[:, 1, 0] = rho
    elif n_features > 2:
        raise ValueError("This benchmark draws LKJ correlations for D <= 2 only.")
    cov = scales[:, :, None] * corr * scales[:, None, :]
    cov = cov + prior["reg_covar"] * np.eye(n_features)
    return weights, means, cov


def draw_data(rng, weights, means, cov, n_samples):
    labels = rng.choice(len(weights), size=n_samples, p=weights)
    noise = rng.standard_normal((n_samples, means.shape[1]))
    chol = np.linalg.cholesky(cov)
    return means[labels] + np.einsum("nij,nj->ni", chol[labels], noise)


def statistics(weights, means, cov):
    """Label-invariant functions of one parameter set (or a batch of draws).

    weights (..., K), means (..., K, D), cov (..., K, D, D) -> dict of (...,).
    """
    out = {"weight_min": np.min(weights, axis=-1)}
    sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))  # (..., K, D)
    n_features = means.shape[-1]
    for d in range(n_features):
        sorted_means = np.sort(means[..., d], axis=-1)
        sorted_sd = np.sort(sd[..., d], axis=-1)
        out[f"mean{d}_min"] = sorted_means[..., 0]
        out[f"mean{d}_max"] = sorted_means[..., -1]
        out[f"sd{d}_min"] = sorted_sd[..., 0]
        out[f"sd{d}_max"] = sorted_sd[..., -1]
    if n_features == 2:
        rho = cov[..., 0, 1] / (sd[..., 0] * sd[..., 1])
        rho = np.sort(rho, axis=-1)
        out["corr_min"] = rho[..., 0]
        out["corr_max"] = rho[..., -1]
    return out


def family_of(name):
    """Parameter family a statistic belongs to."""
    for prefix, family in (
        ("weight", "weights"),
        ("mean", "means"),
        ("sd", "scales"),
        ("corr", "correlations"),
    ):
        if name.startswith(prefix):
            return family
    raise ValueError(name)


def run_family(name, n_features, covariance_type, args, prior):
    n_draws_kept = args.thinned_draws
    ranks = {}
    fit_info = []
    rng = np.random.RandomState(args.seed + 1000 * n_features)
    for rep in range(args.replications):
        weights, means, cov = draw_prior(rng, args.n_components, n_features, prior)
        X = draw_data(rng, weights, means, cov, args.n_samples)
        gmm = BayesianGMM(
            args.n_components,
            covariance_type=covariance_type,
            weight_concentration=prior["weight_concentration"],
            mean_prior=np.full(n_features, prior["mean_prior"]),
            mean_prior_scale=prior["mean_prior_scale"],
            scale_prior=prior["scale_prior"],
            lkj_concentration=prior["lkj_concentration"],
            reg_covar=prior["reg_covar"],
            standardize=False,
            num_warmup=args.num_warmup,
            num_samples=args.num_samples,
            # Calibration of fixed-length runs: continuing only fits whose
            # diagnostics fail would condition the ranks on them.
            max_num_samples=None,
            num_chains=args.num_chains,
            random_state=rep,
        )
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gmm.fit(X)
        elapsed = time.perf_counter() - start
        post = gmm.posterior_samples_
        w = post["weights"].reshape((-1,) + post["weights"].shape[2:])
        m = post["means"].reshape((-1,) + post["means"].shape[2:])
        c = post["covariances"].reshape((-1,) + post["covariances"].shape[2:])
        # Thin evenly over the concatenated chains to reduce autocorrelation.
        keep = np.linspace(0, len(w) - 1, n_draws_kept).round().astype(int)
        truth = statistics(weights, means, cov)
        draws = statistics(w[keep], m[keep], c[keep])
        for stat, value in truth.items():
            ranks.setdefault(stat, []).append(int(np.sum(draws[stat] < value)))
        fit_info.append(
            {
                "seconds": elapsed,
                "divergences": gmm.diagnostics_["divergences"],
                "max_r_hat": gmm.diagnostics_["max_r_hat"],
                "min_ess_bulk": gmm.diagnostics_["min_ess_bulk"],
            }
        )
        if args.verbose:
            print(
                f"{name} rep {rep}: {elapsed:.2f}s, divergences "
                f"{fit_info[-1]['divergences']}, max R-hat "
                f"{fit_info[-1]['max_r_hat']:.3f}",
                flush=True,
            )
    return ranks, fit_info


def uniformity(ranks, n_draws_kept, n_bins, rng):
    """Histogram of ranks in 0..L and chi-square / KS p-values for uniformity."""
    ranks = np.asarray(ranks)
    n_values = n_draws_kept + 1
    bins = np.floor(ranks * n_bins / n_values).astype(int)
    counts = np.bincount(bins, minlength=n_bins)
    chi2 = stats.chisquare(counts)
    # Jitter the discrete ranks into continuous uniforms for the KS test.
    u = (ranks + rng.uniform(size=ranks.shape)) / n_values
    ks = stats.kstest(u, "uniform")
    return counts, float(chi2.pvalue), float(ks.pvalue)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--n-samples", type=int, default=50)
    parser.add_argument("--n-components", type=int, default=2)
    parser.add_argument("--num-warmup", type=int, default=300)
    parser.add_argument("--num-samples", type=int, default=300)
    parser.add_argument("--num-chains", type=int, default=2)
    parser.add_argument("--thinned-draws", type=int, default=99)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--weight-concentration", type=float, default=1.0)
    parser.add_argument("--mean-prior-scale", type=float, default=3.0)
    parser.add_argument("--scale-prior", type=float, default=0.5)
    parser.add_argument("--lkj-concentration", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default="D=1,D=2")
    parser.add_argument("--output", default=str(RESULTS / "sbc"))
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--markdown-only",
        action="store_true",
        help="rewrite the .md table from an existing .json without fitting",
    )
    args = parser.parse_args(argv)
    if args.markdown_only:
        output = Path(args.output)
        report = json.loads(output.with_suffix(".json").read_text())
        output.with_suffix(".md").write_text(to_markdown(report))
        return

    prior = {
        "weight_concentration": args.weight_concentration,
        "mean_prior": 0.0,
        "mean_prior_scale": args.mean_prior_scale,
        "scale_prior": args.scale_prior,
        "lkj_concentration": args.lkj_concentration,
        "reg_covar": 1e-6,
    }
    chosen = args.families.split(",")
    rng = np.random.RandomState(args.seed)
    report = {
        "settings": {
            **{k: v for k, v in vars(args).items() if k not in ("output", "verbose")},
            "prior": prior,
        },
        "machine": platform.platform(),
        "families": {},
    }
    total_start = time.perf_counter()
    for name, n_features, covariance_type in FAMILIES:
        if name not in chosen:
            continue
        start = time.perf_counter()
        ranks, fit_info = run_family(name, n_features, covariance_type, args, prior)
        rows = {}
        for stat, values in ranks.items():
            counts, p_chi2, p_ks = uniformity(
                values, args.thinned_draws, args.bins, rng
            )
            rows[stat] = {
                "family": family_of(stat),
                "histogram": counts.tolist(),
                "p_chi2": p_chi2,
                "p_ks": p_ks,
                "ranks": values,
            }
        divergences = np.array([f["divergences"] for f in fit_info])
        r_hat = np.array([f["max_r_hat"] for f in fit_info])
        report["families"][name] = {
            "n_features": n_features,
            "covariance_type": covariance_type,
            "statistics": rows,
            "seconds": time.perf_counter() - start,
            "median_fit_seconds": float(np.median([f["seconds"] for f in fit_info])),
            "fits_with_divergences": int(np.sum(divergences > 0)),
            "total_divergences": int(divergences.sum()),
            "fits_with_r_hat_above_1.01": int(np.sum(r_hat >= 1.01)),
            "median_max_r_hat": float(np.median(r_hat)),
        }
    report["total_seconds"] = time.perf_counter() - total_start
    report["compilations"] = compilation_stats()["compilations"]

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(report, indent=1))
    markdown = to_markdown(report)
    output.with_suffix(".md").write_text(markdown)
    print(markdown)


def to_markdown(report):
    s = report["settings"]
    prior = s["prior"]
    lines = [
        "# Simulation-based calibration of BayesianGMM",
        "",
        f"`python benchmarks/sbc.py` — {s['replications']} replications per family, "
        f"N={s['n_samples']}, K={s['n_components']}, covariance_type='full', "
        f"{s['num_chains']} chains x ({s['num_warmup']} warm-up + "
        f"{s['num_samples']} draws), thinned to L={s['thinned_draws']} draws, "
        f"ranks in 0..L binned into {s['bins']} bins.",
        "",
        f"Prior (data units, `standardize=False`): weights ~ Dirichlet("
        f"{prior['weight_concentration']}), means ~ Normal({prior['mean_prior']}, "
        f"{prior['mean_prior_scale']}^2), scales ~ HalfCauchy({prior['scale_prior']}), "
        f"correlations ~ LKJ({prior['lkj_concentration']}), reg_covar = "
        f"{prior['reg_covar']}.",
        "",
        "Uniform ranks are what a calibrated posterior gives. p-values: chi-square on "
        "the histogram and Kolmogorov-Smirnov on jittered ranks; with this many "
        "statistics a few p-values below 0.05 are expected by chance, so compare the "
        "smallest with a Bonferroni threshold (0.05 / number of statistics).",
        "",
        "| family | statistic | parameter | rank histogram | chi-square p | KS p |",
        "|---|---|---|---|---|---|",
    ]
    n_tests = 0
    for name, fam in report["families"].items():
        for stat, row in fam["statistics"].items():
            n_tests += 1
            hist = " ".join(f"{c:>2d}" for c in row["histogram"])
            lines.append(
                f"| {name} | {stat} | {row['family']} | `{hist}` | "
                f"{row['p_chi2']:.3f} | {row['p_ks']:.3f} |"
            )
    lines += ["", "Per parameter family (smallest p-value over its statistics):", ""]
    lines += ["| family | parameter | statistics | min chi-square p | min KS p |"]
    lines += ["|---|---|---|---|---|"]
    for name, fam in report["families"].items():
        groups = {}
        for stat, row in fam["statistics"].items():
            groups.setdefault(row["family"], []).append(row)
        for family, rows in groups.items():
            lines.append(
                f"| {name} | {family} | {len(rows)} | "
                f"{min(r['p_chi2'] for r in rows):.3f} | "
                f"{min(r['p_ks'] for r in rows):.3f} |"
            )
    threshold = 0.05 / max(n_tests, 1)
    p_min = min(
        min(row["p_chi2"], row["p_ks"])
        for fam in report["families"].values()
        for row in fam["statistics"].values()
    )
    verdict = (
        "every p-value is above it: the ranks are consistent with uniform, i.e. "
        "no sign of miscalibration."
        if p_min > threshold
        else "some p-value is below it: evidence of miscalibration."
    )
    lines += [
        "",
        f"Bonferroni threshold for {n_tests} statistics: {threshold:.4f}; smallest "
        f"p-value {p_min:.3f}; {verdict}",
        "",
        "| family | total s | median fit s | fits with divergences | "
        "fits with R-hat >= 1.01 | median max R-hat |",
        "|---|---|---|---|---|---|",
    ]
    for name, fam in report["families"].items():
        lines.append(
            f"| {name} | {fam['seconds']:.0f} | {fam['median_fit_seconds']:.2f} | "
            f"{fam['fits_with_divergences']} | {fam['fits_with_r_hat_above_1.01']} | "
            f"{fam['median_max_r_hat']:.3f} |"
        )
    lines += [
        "",
        f"Total {report['total_seconds']:.0f} s, {report['compilations']} sampler "
        f"compilations, on {report['machine']} (2 cores shared with other jobs).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
