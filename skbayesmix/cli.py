"""Command line: fit a Bayesian Gaussian mixture to a CSV or NumPy file.

Run ``skbayesmix --help`` (or ``python -m skbayesmix --help``). Without a file it
fits the demo data set of the reference tutorial: 500 points from 8 Gaussian
blobs (``make_blobs(500, centers=8, cluster_std=0.8, center_box=(-10, 10),
random_state=101)``).

Outputs, in ``--output-dir``:

- ``assignments.csv``: one row per observation with its ``label`` (most
  probable component), ``uncertainty`` (1 - largest membership probability) and
  ``proba_0``, ..., ``proba_{K-1}`` (posterior mean membership probabilities);
- ``selection.csv``: one row per candidate number of components with every
  criterion (when more than one K was fitted);
- ``skbayesmix.png``: assignments with their uncertainty, density contours with
  component ellipses, and the criterion curve (or the posterior of the means).
"""

import argparse
import csv
import os
import sys
import threading
import time
import warnings

import numpy as np

_DEMO_DESCRIPTION = (
    "demo: make_blobs(500, centers=8, cluster_std=0.8, random_state=101)"
)
_FIGURE_NAME = "skbayesmix.png"
_ASSIGNMENTS_NAME = "assignments.csv"
_SELECTION_NAME = "selection.csv"


class InputError(Exception):
    """A problem with the user's input, reported as one line on stderr."""


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="skbayesmix",
        description=(
            "Fit a fully Bayesian Gaussian mixture (NumPyro NUTS) to a CSV or .npy "
            "file, choose the number of components, and write the assignments, "
            "membership probabilities and a figure. Without FILE, fits a demo data "
            "set (8 Gaussian blobs)."
        ),
    )
    parser.add_argument(
        "file",
        nargs="?",
        default=None,
        metavar="FILE",
        help="CSV (numeric columns, optional header row) or .npy file of shape "
        "(n_samples, n_features); omit for the demo data",
    )
    k_group = parser.add_mutually_exclusive_group()
    k_group.add_argument(
        "-k",
        "--n-components",
        type=int,
        metavar="K",
        help="fit this number of components only",
    )
    k_group.add_argument(
        "--range",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        dest="k_range",
        help="choose the number of components in MIN..MAX (default: 1 10)",
    )
    parser.add_argument(
        "--criterion",
        default="bic",
        choices=("bic", "aic", "icl", "waic", "loo"),
        help="criterion that chooses K (default: bic; waic and loo use the "
        "one-standard-error rule)",
    )
    parser.add_argument(
        "--covariance-type",
        default="full",
        choices=("full", "tied", "diag", "spherical"),
        help="covariance structure of the components (default: full)",
    )
    parser.add_argument(
        "--output-dir",
        "-o",
        default="skbayesmix_output",
        metavar="DIR",
        help="directory for the CSV files and the figure (default: "
        "./skbayesmix_output)",
    )
    parser.add_argument(
        "--num-warmup",
        type=int,
        default=500,
        metavar="N",
        help="warm-up iterations per chain (default: 500)",
    )
    parser.add_argument(
        "--num-samples",
        type=int,
        default=500,
        metavar="N",
        help="posterior draws per chain (default: 500)",
    )
    parser.add_argument(
        "--num-chains",
        type=int,
        default=2,
        metavar="N",
        help="number of chains (default: 2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--no-figure", action="store_true", help="do not draw the PNG figure"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the results, no progress"
    )
    return parser


# ----------------------------------------------------------------------- input


def _load_data(path):
    """Load the data matrix and feature names (a CSV or .npy file, or the demo)."""
    if path is None:
        from sklearn.datasets import make_blobs

        X, _ = make_blobs(
            n_samples=500,
            centers=8,
            cluster_std=0.8,
            center_box=(-10, 10),
            random_state=101,
        )
        return X, ["x0", "x1"], _DEMO_DESCRIPTION
    if not os.path.exists(path):
        raise InputError(f"file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"expected a file, got a directory: {path}")
    if path.lower().endswith(".npy"):
        X, names = _load_npy(path)
    else:
        X, names = _load_csv(path)
    _check_finite(X, names, path)
    return X, names, path


def _load_npy(path):
    try:
        X = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read {path} as a NumPy .npy file ({exc})") from None
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(
        X.dtype, np.complexfloating
    ):
        raise InputError(f"{path} holds {X.dtype} values; expected real numbers")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise InputError(
            f"{path} has shape {X.shape}; expected (n_samples, n_features)"
        )
    return X.astype(np.float64), [f"x{j}" for j in range(X.shape[1])]


def _parse_float(text):
    text = text.strip()
    if text == "" or text.lower() in ("na", "nan", "null", "none"):
        return np.nan
    return float(text)


def _load_csv(path):
    try:
        with open(path, newline="") as handle:
            sample = handle.read(65536)
            handle.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t ")
            except csv.Error:
                dialect = csv.excel
            rows = [
                row
                for row in csv.reader(handle, dialect)
                if any(f.strip() for f in row)
            ]
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text CSV file") from None
    if not rows:
        raise InputError(f"{path} is empty")
    header = rows[0]
    try:
        [_parse_float(field) for field in header]
        names = [f"x{j}" for j in range(len(header))]
    except ValueError:
        names = [name.strip() for name in header]
        rows = rows[1:]
    if not rows:
        raise InputError(f"{path} has a header but no data rows")
    n_columns = len(names)
    X = np.empty((len(rows), n_columns))
    first_data_line = 2 if names != [f"x{j}" for j in range(n_columns)] else 1
    for i, row in enumerate(rows):
        if len(row) != n_columns:
            raise InputError(
                f"{path}, line {i + first_data_line}: {len(row)} fields, expected "
                f"{n_columns}"
            )
        for j, field in enumerate(row):
            try:
                X[i, j] = _parse_float(field)
            except ValueError:
                raise InputError(
                    f"{path}: column {names[j]!r} is not numeric (line "
                    f"{i + first_data_line}: {field.strip()!r}); remove or encode it"
                ) from None
    return X, names


def _check_finite(X, names, path):
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{path} holds no data (shape {X.shape})")
    bad = ~np.isfinite(X)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise InputError(
            f"{path}: {int(bad.sum())} missing, NaN or infinite values (first in "
            f"column {names[cols[0]]!r}, data row {rows[0] + 1}); remove or impute "
            "them first"
        )


# -------------------------------------------------------------------- fitting


class _Ticker:
    """Elapsed-time line on a terminal while the sampler runs (no-op otherwise)."""

    def __init__(self, label, stream, enabled):
        self.label = label
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self.start = time.perf_counter()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.5):
            elapsed = time.perf_counter() - self.start
            self.stream.write(f"\r{self.label} ... {elapsed:5.0f} s")
            self.stream.flush()

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.stream.write("\r" + " " * (len(self.label) + 16) + "\r")
            self.stream.flush()
        return False


def _fit(X, args, log):
    from sklearn.exceptions import ConvergenceWarning

    from skbayesmix import BayesianGMM, BayesianGMMSelector

    base = BayesianGMM(
        covariance_type=args.covariance_type,
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.num_chains,
        random_state=args.seed,
    )
    if args.n_components is not None:
        k_range = (args.n_components,)
    elif args.k_range is not None:
        low, high = args.k_range
        if low > high:
            low, high = high, low
        k_range = tuple(range(low, high + 1))
    else:
        k_range = tuple(range(1, 11))
    if min(k_range) < 1:
        raise InputError(
            f"the number of components must be at least 1, got {min(k_range)}"
        )
    if max(k_range) > X.shape[0]:
        raise InputError(
            f"cannot fit {max(k_range)} components to {X.shape[0]} observations"
        )
    selector = BayesianGMMSelector(
        base,
        n_components_range=k_range,
        criterion=args.criterion,
        verbose=0 if args.quiet else 1,
    )
    label = (
        f"sampling {len(k_range)} model(s), {args.num_chains} chains x "
        f"{args.num_warmup}+{args.num_samples} iterations"
    )
    log(f"{label} (the first fit of each K includes JAX compilation)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        with _Ticker(label, sys.stderr, enabled=not args.quiet):
            selector.fit(X)
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    return selector, messages


# -------------------------------------------------------------------- output


def _format_table(results):
    columns = [("K", "n_components", "{:d}")]
    columns += [(name.upper(), name, "{:.2f}") for name in ("bic", "aic", "icl")]
    for name in ("waic", "loo"):
        columns.append((f"elpd_{name}", f"elpd_{name}", "{:.2f}"))
        columns.append(("se", f"se_elpd_{name}", "{:.2f}"))
    columns += [("bad k", "n_bad_pareto_k", "{:.0f}"), ("fit s", "fit_time", "{:.1f}")]
    columns = [c for c in columns if c[1] in results]
    cells = [[title for title, _, _ in columns]]
    for i in range(len(results["n_components"])):
        row = []
        for _, key, fmt in columns:
            value = results[key][i]
            if key == "n_components":
                row.append(fmt.format(int(value)))
            else:
                row.append(fmt.format(float(value)) if np.isfinite(value) else "-")
        cells.append(row)
    widths = [max(len(r[j]) for r in cells) for j in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _format_diagnostics(est):
    diag = est.diagnostics_
    n_draws = est.num_chains * est.num_samples
    return "\n".join(
        [
            f"chosen model: n_components={est.n_components}, covariance_type="
            f"'{est.covariance_type}', effective components "
            f"{est.n_effective_components_}",
            f"weights: {np.array2string(est.weights_, precision=3)}",
            f"divergent transitions: {diag['divergences']} of {n_draws}",
            f"max R-hat: {diag['max_r_hat']:.3f} (want < 1.01)",
            f"min bulk ESS: {diag['min_ess_bulk']:.0f} (want > {100 * est.num_chains})",
            f"converged: {est.converged_}",
            f"compile {diag['compile_time']:.1f} s, "
            f"sampling {diag['sampling_time']:.1f} s",
        ]
    )


def _write_assignments(path, est, X):
    proba = est.predict_proba(X)
    labels = proba.argmax(axis=1)
    uncertainty = 1.0 - proba.max(axis=1)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["label", "uncertainty"] + [f"proba_{k}" for k in range(proba.shape[1])]
        )
        for label, unc, row in zip(labels, uncertainty, proba):
            writer.writerow([int(label), f"{unc:.6g}"] + [f"{p:.6g}" for p in row])


def _write_selection(path, results):
    keys = [
        key for key, value in results.items() if key != "params" and np.ndim(value) == 1
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(keys)
        for i in range(len(results["n_components"])):
            writer.writerow([results[key][i] for key in keys])


def _write_figure(path, selector, X, title):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from skbayesmix import plotting

    est = selector.best_estimator_
    features = (0, 1) if X.shape[1] <= 2 else "pca"
    several = len(selector.cv_results_["n_components"]) > 1
    fig, axes = plt.subplots(1, 3, figsize=(16, 5), layout="constrained")
    plotting.plot_assignments(est, X, features=features, ax=axes[0])
    if X.shape[1] >= 2:
        # Ellipses first, with X, so that a PCA plane is the one of the density.
        plotting.plot_components(est, X, features=features, ax=axes[1])
    plotting.plot_density(est, X, features=features, ax=axes[1])
    if X.shape[1] >= 2:
        axes[1].set_title("posterior predictive density and 2-std ellipses")
    if several:
        plotting.plot_criterion(selector, ax=axes[2])
    elif X.shape[1] >= 2:
        plotting.plot_mean_posterior(est, X, features=features, ax=axes[2])
    else:
        axes[2].set_axis_off()
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    """Entry point of the ``skbayesmix`` command.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 on an input or fitting error (reported as one line on
        stderr), 2 on a usage error.
    """
    args = _build_parser().parse_args(argv)

    def log(message):
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        for name in ("num_warmup", "num_samples", "num_chains"):
            if getattr(args, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1")
        X, names, description = _load_data(args.file)
        log(f"data: {description}, {X.shape[0]} observations x {X.shape[1]} features")
        selector, messages = _fit(X, args, log)
        est = selector.best_estimator_
        os.makedirs(args.output_dir, exist_ok=True)
        print()
        print(
            f"selection ({args.criterion} chooses K = {selector.best_n_components_}):"
        )
        print(_format_table(selector.cv_results_))
        print()
        print(_format_diagnostics(est))
        for message in messages:
            print(f"warning: {message}")
        outputs = [os.path.join(args.output_dir, _ASSIGNMENTS_NAME)]
        _write_assignments(outputs[0], est, X)
        if len(selector.cv_results_["n_components"]) > 1:
            outputs.append(os.path.join(args.output_dir, _SELECTION_NAME))
            _write_selection(outputs[-1], selector.cv_results_)
        if not args.no_figure:
            outputs.append(os.path.join(args.output_dir, _FIGURE_NAME))
            _write_figure(
                outputs[-1],
                selector,
                X,
                f"{os.path.basename(description)}: K = {est.n_components}, "
                f"{est.covariance_type} covariances",
            )
        print()
        print("wrote: " + ", ".join(outputs))
    except InputError as exc:
        print(f"skbayesmix: error: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"skbayesmix: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("skbayesmix: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
