"""Gradient cost of the missing-data likelihood against the complete-data one.

Issue 15's must-show: with 20% of the entries missing completely at random, one
gradient of the potential energy (the model's whole log density, as NUTS takes it
at every leapfrog step) costs at most twice the complete-data gradient. Both run
the inputs :class:`skbayesmix._inference.ChainSampler` builds (the size bucket's
padding, the missing-data patterns) from the same data, prior and starting point
(k-means on the complete standardised data, the default estimator's prior); the
missing entries are drawn at random, and a row left with none observed gets its
first coordinate back (fit rejects such rows).

Cost is CPU seconds per gradient inside one compiled loop (no dispatch overhead),
as ``bench_peers.py`` measures it; the complete and the missing-data gradients
are timed in turn, and each cost is the median over repeats. Run on one core
(``taskset -c 0``) for the work itself: with XLA's two threads, time spent
waiting for a busy second core counts as CPU time too.

    taskset -c 0 python benchmarks/bench_missing.py [--repeats 5] [--missing 0.2]

'diag' and 'spherical' zero the missing residuals. 'full' and 'tied' complete
each row by each component's conditional means of its missing entries (P_mm
inverted once per pattern of missing coordinates m, not differentiated) and
differentiate the completed rows' quadratic forms, held constant, and
log det P_mm (see ``skbayesmix._model._marginal_full_log_likelihood``). With
D=10 and 20% missing, 5,000 rows have about 500 patterns.
"""

import argparse
import functools
import json
import os

import numpy as np
from _environment import gradient_timer, header
from sklearn.datasets import make_blobs

RESULTS = os.path.join(os.path.dirname(__file__), "results")

CASES = [  # (n_features, n_components, n_samples)
    (2, 8, 500),
    (2, 8, 50_000),
    (10, 4, 5_000),
    (10, 4, 50_000),  # not required: where the patterns' factorisations amortise
]
COVARIANCE_TYPES = ("full", "diag")  # 'full' with the default 'wishart' prior


def _sampler(X, X_std, n_components, covariance_type):
    """A ChainSampler of the default estimator's model, prior and start for ``X``."""
    from skbayesmix import BayesianGMM, _inference
    from skbayesmix._initialization import (
        Start,
        initial_values,
        jittered_chain_values,
        kmeans_start,
    )
    from skbayesmix._prior import model_hyperparameters
    from skbayesmix._standardize import Standardization

    standardization = Standardization.fit(X_std, covariance_type)
    rng = np.random.RandomState(0)
    centers, labels = kmeans_start(X_std, n_components, random_state=rng)
    values = initial_values(X_std, centers, labels, covariance_type=covariance_type)
    start = Start(centers, values, np.ones(n_components, dtype=bool))
    estimator = BayesianGMM(n_components, covariance_type=covariance_type)
    prior, start = model_hyperparameters(estimator, X_std, start, standardization)
    chains = jittered_chain_values(
        start.values, covariance_type=covariance_type, num_chains=1, random_state=rng
    )
    return _inference.ChainSampler(
        X, chains, empty=~start.occupied, prior=prior,
        structure=_inference.ModelStructure(
            n_components, covariance_type, "simplex", "wishart"
        ),
        settings=_inference.SamplerSettings(1, 1, 1, "sequential", 0.8, 10, False),
        seed=0,
    )


def sampler_gradient_timer(sampler, n_loop):
    """Return a function timing a gradient of the sampler's potential energy (CPU s)."""
    import jax
    from numpyro.infer.util import unconstrain_fn

    from skbayesmix._model import gmm_model

    model = functools.partial(gmm_model, **sampler.structure._asdict())
    model_args = sampler._data
    init = jax.tree.map(lambda a: a[0], sampler._init_values)
    z0 = unconstrain_fn(model, model_args, {}, init)
    return gradient_timer(model, model_args, z0, n_loop=n_loop)


def interleaved_costs(timers, repeats):
    """Median seconds per gradient of each timer, timed in turn ``repeats`` times.

    Alternating the timings exposes every case to the same machine load (on a
    shared machine a case timed alone may meet a quiet or a busy spell).
    """
    times = [[] for _ in timers]
    for _ in range(repeats):
        for timer, measured in zip(timers, times):
            measured.append(timer())
    return [float(np.median(measured)) for measured in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--missing", type=float, default=0.2)
    args = parser.parse_args()
    rows = []
    print(f"{'cov':>5} {'D':>3} {'K':>3} {'N':>7} {'patterns':>8} "
          f"{'complete ms':>12} {'missing ms':>11} {'ratio':>6}", flush=True)
    for n_features, n_components, n_samples in CASES:
        X, _ = make_blobs(n_samples=n_samples, n_features=n_features,
                          centers=n_components, random_state=0)
        X = (X - X.mean(0)) / X.std(0)
        rng = np.random.RandomState(1)
        X_missing = X.copy()
        missing = rng.rand(*X.shape) < args.missing
        missing[missing.all(axis=1), 0] = False
        X_missing[missing] = np.nan
        n_loop = max(20, int(1e6 / n_samples))
        for covariance_type in COVARIANCE_TYPES:
            complete = _sampler(X, X, n_components, covariance_type)
            incomplete = _sampler(X_missing, X, n_components, covariance_type)
            n_patterns = len(np.unique(missing, axis=0))
            cost, cost_missing = interleaved_costs(
                [sampler_gradient_timer(complete, n_loop),
                 sampler_gradient_timer(incomplete, n_loop)],
                args.repeats,
            )
            row = dict(
                covariance_type=covariance_type, n_features=n_features,
                n_components=n_components, n_samples=n_samples,
                missing_fraction=float(missing.mean()), n_patterns=n_patterns,
                gradient_cost_complete=cost, gradient_cost_missing=cost_missing,
                ratio=cost_missing / cost,
            )
            rows.append(row)
            print(f"{covariance_type:>5} {n_features:>3} {n_components:>3} "
                  f"{n_samples:>7} {n_patterns:>8} {1e3 * cost:>12.4f} "
                  f"{1e3 * cost_missing:>11.4f} {row['ratio']:>6.2f}", flush=True)
    path = os.path.join(RESULTS, "bench_missing.json")
    with open(path, "w") as f:
        json.dump(dict(
            _environment=header("skbayesmix", "jax", "numpyro", "numpy"),
            missing=args.missing, repeats=args.repeats, rows=rows,
        ), f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
