"""The ``skbayesmix`` command's arguments."""

import argparse

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, status 2."""

    def error(self, message):
        self.exit(
            USAGE_ERROR,
            f"{self.prog}: error: {message} (see {self.prog} --help)\n",
        )


def parse_arguments(argv=None):
    """Parse and check the command's arguments.

    Beyond what argparse checks, a range must not be reversed and
    ``--max-num-samples`` must not be below ``--num-samples``.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments; None reads ``sys.argv[1:]``.

    Returns
    -------
    args : argparse.Namespace

    Raises
    ------
    SystemExit
        With status 2 after one line on stderr on a usage error, or 0 after
        ``--help``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.k_range is not None and args.k_range[0] > args.k_range[1]:
        low, high = args.k_range
        parser.error(
            f"argument --range: MIN must not exceed MAX, got --range {low} {high}; "
            f"write --range {high} {low}"
        )
    if (
        isinstance(args.max_num_samples, int)
        and args.max_num_samples < args.num_samples
    ):
        parser.error(
            f"argument --max-num-samples: must be at least --num-samples = "
            f"{args.num_samples} (or 'auto', or 'none'), got {args.max_num_samples}"
        )
    return args


def build_parser():
    """Build the argument parser of the ``skbayesmix`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
        Its ``error`` prints one line on stderr and exits with status 2.
    """
    parser = _Parser(
        prog="skbayesmix",
        description=(
            "Fit a fully Bayesian Gaussian mixture (NumPyro NUTS) to a CSV or .npy "
            "file, choose the number of components, and write the assignments, "
            "membership probabilities and a figure. Without FILE, fits a demo data "
            "set (8 Gaussian blobs)."
        ),
        epilog=(
            "Results (the criteria table and the chosen fit's diagnostics) go to "
            "stdout; progress, notes and warnings to stderr. Exit status: 0 on "
            "success, 1 if the fit or writing the outputs fails, 2 on a usage "
            "error (an option, or an input file that cannot be used), 130 when "
            "interrupted."
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
    _add_model_arguments(parser)
    parser.add_argument(
        "--output-dir",
        "-o",
        default="skbayesmix_output",
        metavar="DIR",
        help="directory for the CSV files and the figure (default: "
        "./skbayesmix_output)",
    )
    _add_sampler_arguments(parser)
    parser.add_argument(
        "--no-figure", action="store_true", help="do not draw the PNG figure"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no notes on stderr (warnings and errors remain)",
    )
    return parser


def _add_model_arguments(parser):
    """Add the number of components, the criterion and the covariance type."""
    k_group = parser.add_mutually_exclusive_group()
    k_group.add_argument(
        "-k",
        "--n-components",
        type=_positive_int,
        metavar="K",
        help="fit this number of components only (no selection)",
    )
    k_group.add_argument(
        "--range",
        type=_positive_int,
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


def _positive_int(text):
    """Parse a number of components: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _int_auto_none(text):
    """--max-num-samples, --coreset-size: an integer, 'auto' or 'none'."""
    if text.lower() in ("auto", "none"):
        return None if text.lower() == "none" else "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer, 'auto' or 'none', got {text!r}"
        ) from None


def _add_sampler_arguments(parser):
    """Add the NUTS settings and the seed; the estimator checks their values."""
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
        "--max-num-samples",
        type=_int_auto_none,
        default="auto",
        metavar="N",
        help=(
            "post-warm-up iterations per chain that chains which disagree may "
            "continue to; 'auto' (the default) is 3 x --num-samples, 'none' runs "
            "--num-samples only"
        ),
    )
    parser.add_argument(
        "--num-chains",
        type=int,
        default=4,
        metavar="N",
        help="number of chains (default: 4, as BayesianGMM)",
    )
    parser.add_argument(
        "--coreset-size",
        type=_int_auto_none,
        default="auto",
        metavar="N",
        help=(
            "fit a weighted coreset of N draws instead of every row; 'auto' (the "
            "default) does so above 20,000 rows, 'none' never"
        ),
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
