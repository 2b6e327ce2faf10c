"""A Dask array of 10^7 rows fitted on a two-process LocalCluster.

The rows (D=10, K=5 Gaussian blobs) are generated block by block on the
workers and never exist on the client: ``BayesianGMM.fit`` summarises each block
by a coreset where it lies, only the coresets come back, and NUTS samples the
reduced coreset on the client. Reported: time of the fit and of its parts,
the client process's peak resident set size (Linux ``ru_maxrss``; the
scheduler runs in it too), the held-out mean log-likelihood against
GaussianMixture fitted on one block of 10^6 rows, and a block-wise
``score_samples`` over 10^6 rows of the dask array.

    python benchmarks/bench_dask.py [--n-rows 10000000] [--chunk-rows 1000000]
"""

import argparse
import json
import os
import resource
import time

import numpy as np
from _environment import header
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def blobs(n_rows, centers, seed):
    return make_blobs(
        n_samples=n_rows, centers=centers, cluster_std=1.0, random_state=seed
    )[0]


def dask_blobs(n_rows, chunk_rows, centers):
    """A dask array of blobs whose blocks are made on the workers."""
    import dask
    import dask.array as da

    blocks, start = [], 0
    while start < n_rows:
        rows = min(chunk_rows, n_rows - start)
        block = dask.delayed(blobs)(rows, centers, 1000 + len(blocks))
        blocks.append(da.from_delayed(block, (rows, centers.shape[1]), float))
        start += rows
    return da.concatenate(blocks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=10)
    parser.add_argument("--n-components", type=int, default=5)
    parser.add_argument("--coreset-size", default="auto")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    coreset_size = (
        args.coreset_size if args.coreset_size == "auto" else int(args.coreset_size)
    )

    from dask.distributed import Client, LocalCluster

    from skbayesmix import BayesianGMM

    centers = np.random.RandomState(0).uniform(
        -6, 6, size=(args.n_components, args.n_features)
    )
    held_out = blobs(100_000, centers, 1)
    rss_start = current_rss_mb()
    with LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True,
        dashboard_address=None,
    ) as cluster, Client(cluster):
        X = dask_blobs(args.n_rows, args.chunk_rows, centers)
        print(
            f"X: dask array {X.shape}, {X.numblocks[0]} blocks of up to "
            f"{args.chunk_rows:,} rows ({X.nbytes / 2**30:.2f} GiB, never on the "
            "client)", flush=True,
        )
        model = BayesianGMM(
            n_components=args.n_components, coreset_size=coreset_size,
            random_state=args.seed,
        )
        start = time.perf_counter()
        model.fit(X)
        fit_time = time.perf_counter() - start
        rss_after_fit = peak_rss_mb()
        diagnostics = model.diagnostics_
        start = time.perf_counter()
        first_block = model.score_samples(X[: args.chunk_rows]).compute()
        score_time = time.perf_counter() - start

    reference = GaussianMixture(args.n_components, random_state=0).fit(
        blobs(args.chunk_rows, centers, 1000)
    )
    result = dict(
        header("skbayesmix", "numpy", "sklearn", "jax", "numpyro", "dask",
               "distributed"),
        n_rows=args.n_rows, chunk_rows=args.chunk_rows,
        n_features=args.n_features, n_components=args.n_components,
        workers=args.workers, coreset=diagnostics["coreset"],
        fit_time=fit_time, compile_time=diagnostics["compile_time"],
        sampling_time=diagnostics["sampling_time"],
        other_time=fit_time - diagnostics["compile_time"]
        - diagnostics["sampling_time"],
        converged=bool(model.converged_), max_r_hat=diagnostics["max_r_hat"],
        client_rss_start_mb=rss_start, client_peak_rss_mb=rss_after_fit,
        score_samples_rows=len(first_block), score_samples_time=score_time,
        held_out_score=model.score(held_out),
        gm_one_block_held_out_score=reference.score(held_out),
    )
    rows = [
        ("rows x features", f"{args.n_rows:,} x {args.n_features}"),
        ("blocks", f"{X.numblocks[0]} of {args.chunk_rows:,} rows"),
        ("coreset", f"{diagnostics['coreset']['n_rows']:,} rows "
                    f"({diagnostics['coreset']['draws']:,} draws)"),
        ("fit, total", f"{fit_time:.1f} s"),
        ("  compile", f"{result['compile_time']:.1f} s"),
        ("  sampling (NUTS)", f"{result['sampling_time']:.1f} s"),
        ("  coreset, start, EM, summaries", f"{result['other_time']:.1f} s"),
        ("converged", f"{model.converged_} (max R-hat {diagnostics['max_r_hat']:.4f})"),
        ("client peak RSS", f"{rss_after_fit:.0f} MB (at start {rss_start:.0f} MB)"),
        (f"score_samples, {len(first_block):,} rows (dask)", f"{score_time:.1f} s"),
        ("held-out mean log-likelihood", f"{result['held_out_score']:.4f}"),
        ("  GaussianMixture on one block",
         f"{result['gm_one_block_held_out_score']:.4f}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "bench_dask.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2, default=float)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
