"""BayesianGMM against its peers on the reference data, in one run.

Compares, on the reference seed's data (500 points, D=2, 8 blobs, K=8, 'full'):
BayesianGMM (first fit, which compiles, and a warm fit by a new instance), a plain
hand-written NumPyro model (``MCMC(NUTS(model))`` with ``MixtureSameFamily``, same
priors in the same standardised space), PyMC's default NUTS on the same marginalised
model (``pip install skbayesmix[bench]``), and scikit-learn's ``GaussianMixture`` and
``BayesianGaussianMixture``.

Reported per method: wall time, CPU time (this process and its children, which is
less sensitive to a loaded machine), compile time where it can be separated, total
leapfrog steps, bulk ESS of the log-density (label-invariant), ESS per wall second,
ARI against the true blobs, and the mean held-out log predictive density.

    python benchmarks/bench_peers.py [--num-warmup 500] [--num-samples 500]
        [--skip-pymc] [--pymc-num-warmup W --pymc-num-samples S]
        [--pymc-repeats {1,2}] [--skip-numpyro]

PyMC here (pip's PyTensor, which finds no BLAS) needs 15-30 ms of CPU per
gradient and about 100 leapfrog steps per draw, so 2 x (500 + 500) takes about an
hour: ``--pymc-num-warmup`` and
``--pymc-num-samples`` shorten its run. ESS per second is a rate and comparable
across run lengths, as long as each run is long enough to adapt.
"""

import argparse
import functools
import json
import os
import platform
import resource
import time

import numpy as np
from _environment import gradient_cost as compiled_gradient_cost
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from skbayesmix import BayesianGMM, compilation_stats
from skbayesmix._covariance import precision_cholesky
from skbayesmix._density import (
    MixtureDraws,
    log_predictive_density,
    posterior_memberships,
)
from skbayesmix._initialization import kmeans_start
from skbayesmix._reference import reference_blobs

K = 8
RESULTS = os.path.join(os.path.dirname(__file__), "results")


def cpu_time():
    self_ = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return self_.ru_utime + self_.ru_stime + children.ru_utime + children.ru_stime


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = cpu_time() - self.cpu


def ess_bulk(chains):
    import arviz as az

    return float(az.ess(np.asarray(chains, dtype=float), method="bulk"))


def data():
    X, y, centers = reference_blobs(return_centers=True)
    X_test, _ = make_blobs(
        n_samples=500, centers=centers, cluster_std=0.8, random_state=202
    )
    return X, y, X_test


def draws_from_standardised(weights, means, cov, center, scale):
    """MixtureDraws in data units from (S, K), (S, K, D), (S, K, D, D) arrays."""
    cov = cov * scale[:, None] * scale[None, :]
    return MixtureDraws(
        weights=weights / weights.sum(-1, keepdims=True),
        means=means * scale + center,
        precisions_cholesky=precision_cholesky(cov, "full"),
        covariance_type="full",
    )


def score_draws(draws_chain0, draws_all, X, y, X_test):
    """ARI of chain 0's mean memberships (no cross-chain label switching) and the
    label-invariant held-out log predictive density of all draws."""
    labels = posterior_memberships(X, draws_chain0).argmax(1)
    return (
        adjusted_rand_score(y, labels),
        float(np.mean(log_predictive_density(X_test, draws_all))),
    )


def gradient_cost(X, n_loop=2000):
    """CPU seconds per gradient of BayesianGMM's potential, inside one compiled
    loop (no dispatch overhead), on the padded standardised reference data."""
    import jax.numpy as jnp
    from numpyro.infer.util import unconstrain_fn

    from skbayesmix import BayesianGMM, _inference
    from skbayesmix._initialization import Start, initial_values
    from skbayesmix._model import gmm_model
    from skbayesmix._prior import model_hyperparameters, padded_hyperparameters
    from skbayesmix._sites import init_sites
    from skbayesmix._standardize import Standardization

    # The default estimator's prior and sites, as a fit builds them.
    standardization = Standardization.fit(X, "full")
    Xs = standardization.transform(X)
    centers, labels = kmeans_start(Xs, K, random_state=np.random.RandomState(0))
    values = initial_values(Xs, centers, labels, covariance_type="full")
    start = Start(centers, values, np.ones(K, dtype=bool))
    hyper, start = model_hyperparameters(BayesianGMM(K), Xs, start, standardization)
    sites = init_sites(
        start.values, hyper, weight_parameterization="simplex",
        covariance_type="full", covariance_prior="wishart", n_samples=len(Xs),
    )
    hyper = padded_hyperparameters(hyper, K)  # no padded component: all real
    size = _inference.padded_size(len(Xs))
    X_padded = np.zeros((size, Xs.shape[1]))
    X_padded[: len(Xs)] = Xs
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    model_args = (f32(X_padded), f32(np.arange(size) < len(Xs)),
                  {k: f32(v) for k, v in hyper.items()})
    model = functools.partial(gmm_model, n_components=K, covariance_type="full")
    z0 = unconstrain_fn(model, model_args, {}, {k: f32(v) for k, v in sites.items()})
    return compiled_gradient_cost(model, model_args, z0, n_loop=n_loop)


def bench_bayesian_gmm(X, y, X_test, args):
    grad_cost = gradient_cost(X)
    print(f"gradient cost (CPU, compiled loop): {1e3 * grad_cost:.4f} ms", flush=True)
    rows = []
    for label in ("BayesianGMM first fit", "BayesianGMM warm fit"):
        before = compilation_stats()
        with Timer() as t:
            gmm = BayesianGMM(
                n_components=K, num_warmup=args.num_warmup,
                num_samples=args.num_samples, max_num_samples=None, num_chains=2,
                random_state=0,
            ).fit(X)
        stats = gmm._sample_stats
        leapfrog_all = int(stats["n_steps"].sum() + stats["warmup_n_steps"].sum())
        rows.append(dict(
            method=label, wall=t.wall, cpu=t.cpu,
            leapfrog_incl_warmup=leapfrog_all, gradient_cost=grad_cost,
            cpu_over_gradient_time=t.cpu / (leapfrog_all * grad_cost),
            compile=compilation_stats()["compile_time"] - before["compile_time"],
            leapfrog=int(stats["n_steps"].sum()),
            ess_lp=ess_bulk(stats["lp"]),
            min_ess_bulk=float(gmm.diagnostics_["min_ess_bulk"]),
            ari=adjusted_rand_score(y, gmm.predict(X)),
            heldout=float(gmm.score(X_test)),
        ))
    return rows


def numpyro_model(X, hyper, K):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    D = X.shape[1]
    w = numpyro.sample("weights", dist.Dirichlet(hyper["alpha"] * jnp.ones(K)))
    with numpyro.plate("components", K):
        mu = numpyro.sample("means", dist.Normal(hyper["loc"], 1.0).to_event(1))
        sigma = numpyro.sample("scales", dist.HalfCauchy(jnp.ones(D)).to_event(1))
        corr = numpyro.sample("corr_cholesky", dist.LKJCholesky(D, 2.0))
    with numpyro.plate("data", X.shape[0]):
        numpyro.sample(
            "obs",
            dist.MixtureSameFamily(
                dist.Categorical(w),
                dist.MultivariateNormal(mu, scale_tril=sigma[..., None] * corr),
            ),
            obs=X,
        )


def standardised(X):
    center, scale = X.mean(0), X.std(0)
    Xs = (X - center) / scale
    centers, _ = kmeans_start(Xs, K, random_state=np.random.RandomState(0))
    return Xs, center, scale, centers


def bench_numpyro(X, y, X_test, args):
    import jax
    import jax.numpy as jnp
    from numpyro.infer import MCMC, NUTS, init_to_value

    Xs, center, scale, centers = standardised(X)
    hyper = {"alpha": 0.5, "loc": jnp.asarray(centers)}
    rows = []
    for label in ("NumPyro hand-written first fit", "NumPyro hand-written second fit"):
        with Timer() as t:
            kernel = NUTS(
                functools.partial(numpyro_model, K=K),
                init_strategy=init_to_value(values={"means": jnp.asarray(centers)}),
            )
            mcmc = MCMC(
                kernel, num_warmup=args.num_warmup, num_samples=args.num_samples,
                num_chains=2, chain_method="sequential", progress_bar=False,
            )
            mcmc.run(jax.random.key(0), jnp.asarray(Xs), hyper,
                     extra_fields=("potential_energy", "num_steps"))
            samples = jax.device_get(mcmc.get_samples(group_by_chain=True))
        extra = mcmc.get_extra_fields(group_by_chain=True)
        s = {k: np.asarray(v, dtype=float) for k, v in samples.items()}
        chol = s["scales"][..., None] * s["corr_cholesky"]
        cov = chol @ np.swapaxes(chol, -1, -2)
        flat = lambda a: a.reshape((-1,) + a.shape[2:])  # noqa: E731
        all_draws = draws_from_standardised(
            flat(s["weights"]), flat(s["means"]), flat(cov), center, scale)
        chain0 = draws_from_standardised(
            s["weights"][0], s["means"][0], cov[0], center, scale)
        ari, heldout = score_draws(chain0, all_draws, X, y, X_test)
        rows.append(dict(
            method=label, wall=t.wall, cpu=t.cpu, compile=None,
            leapfrog=int(np.asarray(extra["num_steps"]).sum()),
            ess_lp=ess_bulk(-np.asarray(extra["potential_energy"])),
            ari=ari, heldout=heldout,
        ))
    return rows


def pymc_model(Xs, centers):
    """The marginalised mixture in PyMC, its likelihood written out.

    ``pm.Mixture`` over ``pm.MvNormal`` components is the textbook spelling, but
    here it had not finished 50 warm-up + 50 draws after 27 CPU minutes, so the
    log-likelihood is written by hand: one triangular solve per component and a
    log-sum-exp over components, the same computation as BayesianGMM's.
    """
    import pymc as pm
    import pytensor.tensor as pt
    from pytensor.tensor.slinalg import solve_triangular

    n, D = Xs.shape
    with pm.Model() as model:
        w = pm.Dirichlet("weights", a=0.5 * np.ones(K))
        mu = pm.Normal("means", mu=centers, sigma=1.0, shape=(K, D))
        chols, log_dens = [], []
        for k in range(K):
            chol, _, _ = pm.LKJCholeskyCov(
                f"chol_{k}", n=D, eta=2.0, sd_dist=pm.HalfCauchy.dist(1.0, shape=D),
                compute_corr=True,
            )
            chols.append(chol)
            z = solve_triangular(chol, (Xs - mu[k]).T, lower=True)
            log_dens.append(
                -0.5 * pt.sum(z**2, axis=0) - pt.sum(pt.log(pt.diag(chol)))
                - 0.5 * D * np.log(2 * np.pi)
            )
        log_joint = pt.log(w)[:, None] + pt.stack(log_dens)
        pm.Potential("obs", pt.sum(pm.math.logsumexp(log_joint, axis=0)))
        pm.Deterministic("cov", pt.stack([c @ c.T for c in chols]))
    return model


def bench_pymc(X, y, X_test, args):
    import pymc as pm

    Xs, center, scale, centers = standardised(X)
    model = pymc_model(Xs, centers)
    rows = []
    labels = ("PyMC NUTS first fit", "PyMC NUTS second fit")
    for label in labels[: args.pymc_repeats]:
        with Timer() as t, model:
            idata = pm.sample(
                draws=args.pymc_num_samples or args.num_samples,
                tune=args.pymc_num_warmup or args.num_warmup, chains=2,
                random_seed=0, progressbar=False, compute_convergence_checks=False,
                initvals={"means": centers},
            )
        post = idata.posterior
        weights = post["weights"].values
        means = post["means"].values
        cov = post["cov"].values
        flat = lambda a: a.reshape((-1,) + a.shape[2:])  # noqa: E731
        all_draws = draws_from_standardised(
            flat(weights), flat(means), flat(cov), center, scale)
        chain0 = draws_from_standardised(weights[0], means[0], cov[0], center, scale)
        ari, heldout = score_draws(chain0, all_draws, X, y, X_test)
        rows.append(dict(
            method=label, wall=t.wall, cpu=t.cpu, compile=None,
            leapfrog=int(idata.sample_stats["n_steps"].values.sum()),
            ess_lp=ess_bulk(idata.sample_stats["lp"].values),
            ari=ari, heldout=heldout,
        ))
    return rows


def bench_sklearn(X, y, X_test):
    rows = []
    for label, est in [
        ("sklearn GaussianMixture", GaussianMixture(K, random_state=0)),
        ("sklearn BayesianGaussianMixture",
         BayesianGaussianMixture(n_components=K, max_iter=500, random_state=0)),
    ]:
        with Timer() as t:
            est.fit(X)
        rows.append(dict(
            method=label, wall=t.wall, cpu=t.cpu, compile=None, leapfrog=None,
            ess_lp=None, ari=adjusted_rand_score(y, est.predict(X)),
            heldout=float(est.score(X_test)),
        ))
    return rows


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-warmup", type=int, default=500)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--skip-pymc", action="store_true")
    parser.add_argument("--pymc-num-warmup", type=int, default=None)
    parser.add_argument("--pymc-num-samples", type=int, default=None)
    parser.add_argument("--pymc-repeats", type=int, choices=[1, 2], default=2,
                        help="1 skips PyMC's second fit (no compilation)")
    parser.add_argument("--skip-numpyro", action="store_true")
    parser.add_argument("--output", default=os.path.join(RESULTS, "bench_peers.json"))
    args = parser.parse_args()
    X, y, X_test = data()
    sections = [("BayesianGMM", bench_bayesian_gmm)]
    if not args.skip_numpyro:
        sections.append(("NumPyro", bench_numpyro))
    if not args.skip_pymc:
        sections.append(("PyMC", bench_pymc))
    rows = []
    for name, bench in sections:
        try:
            rows += bench(X, y, X_test, args)
        except Exception as exc:  # keep the other methods' results
            print(f"{name} failed or skipped: {exc!r}")
        print(f"done: {name}: {rows[-2:]}", flush=True)
    rows += bench_sklearn(X, y, X_test)
    for row in rows:
        ess = row["ess_lp"]
        row["ess_per_s"] = None if ess is None else ess / row["wall"]
        row["ess_per_cpu_s"] = None if ess is None else ess / row["cpu"]
    header = (f"{'method':34s} {'wall s':>8s} {'cpu s':>8s} {'compile':>8s} "
              f"{'leapfrog':>9s} {'ESS(lp)':>8s} {'ESS/s':>7s} {'ESS/cpu s':>9s} "
              f"{'ARI':>6s} {'heldout':>8s}")
    print(f"settings: 2 chains x ({args.num_warmup} warm-up + "
          f"{args.num_samples} draws)")
    if not args.skip_pymc and (args.pymc_num_warmup or args.pymc_num_samples):
        print(f"PyMC: 2 chains x ({args.pymc_num_warmup or args.num_warmup} warm-up "
              f"+ {args.pymc_num_samples or args.num_samples} draws)")
    print(header)
    for r in rows:
        if "cpu_over_gradient_time" in r:
            print(f"{r['method']}: CPU {r['cpu']:.2f} s = "
                  f"{r['cpu_over_gradient_time']:.2f} x (leapfrog steps incl. warm-up "
                  f"{r['leapfrog_incl_warmup']} x gradient "
                  f"{1e3 * r['gradient_cost']:.4f} ms)")
    for r in rows:
        print(f"{r['method']:34s} {r['wall']:8.2f} {r['cpu']:8.2f} "
              f"{fmt(r['compile'], '8.2f')} {fmt(r['leapfrog'], '9d')} "
              f"{fmt(r['ess_lp'], '8.0f')} {fmt(r['ess_per_s'], '7.1f')} "
              f"{fmt(r['ess_per_cpu_s'], '9.1f')} "
              f"{r['ari']:6.3f} {r['heldout']:8.3f}")
    os.makedirs(RESULTS, exist_ok=True)
    path = args.output
    with open(path, "w") as f:
        json.dump(dict(settings=vars(args), machine=platform.platform(),
                       load_average=os.getloadavg(), rows=rows), f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
