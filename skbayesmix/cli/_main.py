"""The ``skbayesmix`` command: load, check, fit, report, write."""

import contextlib
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
from skbayesmix.cli._parser import USAGE_ERROR, parse_arguments
from skbayesmix.cli._report import format_report

RUN_ERROR = 1
INTERRUPTED = 130
_DEFAULT_K_RANGE = tuple(range(1, 11))


class UsageError(Exception):
    """Options that the data or the estimator rule out, found before fitting."""


def _plural(count, word):
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _k_range(args):
    """Return the candidate numbers of components."""
    if args.n_components is not None:
        return (args.n_components,)
    if args.k_range is not None:
        low, high = args.k_range
        return tuple(range(low, high + 1))
    return _DEFAULT_K_RANGE


def _build_selector(args):
    from skbayesmix import BayesianGMM, BayesianGMMSelector

    base = BayesianGMM(
        covariance_type=args.covariance_type,
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        max_num_samples=args.max_num_samples,
        num_chains=args.num_chains,
        coreset_size=args.coreset_size,
        random_state=args.seed,
    )
    return BayesianGMMSelector(
        base, n_components_range=_k_range(args), criterion=args.criterion
    )


def _check_usage(selector, X):
    """Raise UsageError for settings the selector or its estimator reject.

    These are the checks their ``fit`` makes before sampling, made here so
    that they exit with the usage status and before anything is written.
    """
    from skbayesmix._candidates import candidate_grid

    try:
        selector._validate_params()
        selector.estimator._validate_params()
        candidate_grid(selector, selector.estimator, X)
    except ValueError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None


def _describe_data(data):
    names = data.feature_names
    shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
    n_samples, n_features = data.X.shape
    return (
        f"data: {data.description}, {_plural(n_samples, 'observation')} x "
        f"{_plural(n_features, 'feature')} ({shown})"
    )


def _describe_plan(selector, args):
    k_range = selector.n_components_range
    chains = (
        f"{_plural(args.num_chains, 'chain')} x {args.num_warmup}+"
        f"{args.num_samples} iterations"
    )
    if len(k_range) == 1:
        plan = f"fitting K = {k_range[0]}, {args.covariance_type} covariances: {chains}"
    else:
        plan = (
            f"fitting K = {k_range[0]}..{k_range[-1]} ({len(k_range)} fits, "
            f"{args.covariance_type} covariances, {chains} each) and choosing K "
            f"by {args.criterion}"
        )
    return (
        f"{plan}; the first fit of each K compiles its sampler, unless an earlier "
        "run left it in the cache"
    )


def _fit(selector, X, args):
    """Fit the selector; return the distinct warning messages issued."""
    from skbayesmix._progress import show_progress
    from skbayesmix._warnings import collected_warnings

    # With several candidates the selector's verbose lines (one per candidate,
    # as each ends) are progress too, so they go to stderr with the rest.
    several = len(selector.n_components_range) > 1
    selector.set_params(verbose=int(several and not args.quiet))
    # The selector issues the chosen candidate's warnings; the command prints
    # them instead.
    with (
        collected_warnings() as caught,
        show_progress(enabled=not args.quiet),
        contextlib.redirect_stdout(sys.stderr),
    ):
        selector.fit(X)
    return list(dict.fromkeys(message for _, message in caught))


def _write_outputs(selector, data, args):
    """Write the CSV files and the figure; return their paths."""
    est = selector.best_estimator_
    outputs = [os.path.join(args.output_dir, ASSIGNMENTS_NAME)]
    write_assignments(outputs[0], est, data)
    if len(selector.cv_results_["n_components"]) > 1:
        outputs.append(os.path.join(args.output_dir, SELECTION_NAME))
        write_selection(outputs[-1], selector.cv_results_)
    if not args.no_figure:
        outputs.append(os.path.join(args.output_dir, FIGURE_NAME))
        write_figure(
            outputs[-1],
            selector,
            data.X,
            data.feature_names,
            f"{os.path.basename(data.description)}: K = {est.n_components}, "
            f"{est.covariance_type} covariances",
        )
    return outputs


def _run(args, log):
    """Load, check, fit, print the results and write the outputs."""
    try:
        data = load_data(args.file)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    log(_describe_data(data))
    if data.index is not None:
        header = repr(data.index_name) if data.index_name else "no header"
        log(
            f"note: the first column ({header}) is taken for an index column, "
            "as pandas' to_csv writes it, and is not clustered; assignments.csv "
            "keeps it as its first column"
        )
    selector = _build_selector(args)
    _check_usage(selector, data.X)
    try:
        os.makedirs(args.output_dir, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the output directory {args.output_dir}: {exc.strerror}"
        ) from None
    log(_describe_plan(selector, args))
    messages = _fit(selector, data.X, args)
    print(format_report(selector, args.criterion), flush=True)
    for message in messages:
        print(f"warning: {message}", file=sys.stderr, flush=True)
    outputs = _write_outputs(selector, data, args)
    log("wrote: " + ", ".join(outputs))


def _error(message):
    print(f"skbayesmix: error: {message}", file=sys.stderr, flush=True)


def main(argv=None):
    """Entry point of the ``skbayesmix`` command.

    Loads a CSV or ``.npy`` file (or the demo data), fits a
    :class:`~skbayesmix.BayesianGMMSelector` over the candidate numbers of
    components, prints the criteria table and the chosen fit's diagnostics on
    stdout, and writes ``assignments.csv``, ``selection.csv`` (several
    candidates only) and ``skbayesmix.png`` (unless ``--no-figure``) to the
    output directory. Progress, notes and warnings go to stderr.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success (and after ``--help``); 2 on a usage error: an option
        argparse rejects, a reversed range, an input file that is missing or
        cannot be used, or settings that the data or the estimator rule out
        (such as K above the number of rows), found before anything is fitted
        or written; 1 when the fit or writing the outputs fails; 130 when
        interrupted. Errors are one line ``skbayesmix: error: ...`` on stderr.
    """
    try:
        args = parse_arguments(argv)
    except SystemExit as exc:
        return exc.code

    def log(message):
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        _run(args, log)
    except UsageError as exc:
        _error(exc)
        return USAGE_ERROR
    except (ValueError, RuntimeError, MemoryError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _error(message)
        return RUN_ERROR
    except KeyboardInterrupt:
        print("skbayesmix: interrupted", file=sys.stderr)
        return INTERRUPTED
    return 0
