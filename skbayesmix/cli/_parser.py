"""The ``skbayesmix`` command's arguments."""

import argparse


def build_parser():
    """Build the argument parser of the ``skbayesmix`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
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
        "-q", "--quiet", action="store_true", help="print only the results, no progress"
    )
    return parser


def _add_model_arguments(parser):
    """Add the number of components, the criterion and the covariance type."""
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


def _max_num_samples(text):
    """--max-num-samples: a positive integer, 'auto' or 'none'."""
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
        type=_max_num_samples,
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
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
