"""The ``skbayesmix`` command: load, fit, report, write."""

import os
import sys

from skbayesmix.cli._figure import FIGURE_NAME, write_figure
from skbayesmix.cli._io import (
    ASSIGNMENTS_NAME,
    SELECTION_NAME,
    InputError,
    load_data,
    write_assignments,
    write_selection,
)
from skbayesmix.cli._parser import build_parser
from skbayesmix.cli._report import format_report

_DEFAULT_K_RANGE = tuple(range(1, 11))


def _k_range(args):
    """Return the candidate numbers of components; the selector checks them."""
    if args.n_components is not None:
        return (args.n_components,)
    if args.k_range is not None:
        low, high = sorted(args.k_range)
        return tuple(range(low, high + 1))
    return _DEFAULT_K_RANGE


def _fit(X, args, log):
    """Fit the selector; return it and the distinct warning messages issued."""
    from skbayesmix import BayesianGMM, BayesianGMMSelector
    from skbayesmix._progress import show_progress
    from skbayesmix._warnings import collected_warnings

    base = BayesianGMM(
        covariance_type=args.covariance_type,
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        max_num_samples=args.max_num_samples,
        num_chains=args.num_chains,
        random_state=args.seed,
    )
    k_range = _k_range(args)
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
    log(
        f"{label} (the first fit of each K compiles its sampler, unless an "
        "earlier run left it in the cache)"
    )
    # The selector issues the chosen candidate's warnings; the report prints
    # them instead.
    with collected_warnings() as caught:
        with show_progress(enabled=not args.quiet):
            selector.fit(X)
    messages = list(dict.fromkeys(message for _, message in caught))
    return selector, messages


def _write_outputs(selector, X, args, description):
    """Write the CSV files and the figure; return their paths."""
    est = selector.best_estimator_
    outputs = [os.path.join(args.output_dir, ASSIGNMENTS_NAME)]
    write_assignments(outputs[0], est, X)
    if len(selector.cv_results_["n_components"]) > 1:
        outputs.append(os.path.join(args.output_dir, SELECTION_NAME))
        write_selection(outputs[-1], selector.cv_results_)
    if not args.no_figure:
        outputs.append(os.path.join(args.output_dir, FIGURE_NAME))
        write_figure(
            outputs[-1],
            selector,
            X,
            f"{os.path.basename(description)}: K = {est.n_components}, "
            f"{est.covariance_type} covariances",
        )
    return outputs


def _run(args, log):
    """Load, fit, print the report and write the outputs."""
    X, _, description = load_data(args.file)
    log(f"data: {description}, {X.shape[0]} observations x {X.shape[1]} features")
    selector, messages = _fit(X, args, log)
    os.makedirs(args.output_dir, exist_ok=True)
    print()
    print(format_report(selector, args.criterion, messages))
    outputs = _write_outputs(selector, X, args, description)
    print()
    print("wrote: " + ", ".join(outputs))


def main(argv=None):
    """Entry point of the ``skbayesmix`` command.

    Loads a CSV or ``.npy`` file (or the demo data), fits a
    :class:`~skbayesmix.BayesianGMMSelector` over the candidate numbers of
    components, prints the selection table and the chosen fit's diagnostics, and
    writes ``assignments.csv``, ``selection.csv`` (several candidates only) and
    ``skbayesmix.png`` (unless ``--no-figure``) to the output directory.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 on an input or fitting error (reported as one line
        ``skbayesmix: error: ...`` on stderr, e.g. a parameter the estimator
        rejects), 2 on a usage error, 130 when interrupted.
    """
    args = build_parser().parse_args(argv)

    def log(message):
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        _run(args, log)
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
