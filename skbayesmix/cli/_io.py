"""Reading the input file (or the demo data) and writing the CSV outputs."""

import csv
import os

import numpy as np

from skbayesmix._reference import REFERENCE_BLOBS_DESCRIPTION, reference_blobs

DEMO_DESCRIPTION = f"demo: {REFERENCE_BLOBS_DESCRIPTION}"
ASSIGNMENTS_NAME = "assignments.csv"
SELECTION_NAME = "selection.csv"


class InputError(Exception):
    """A problem with the user's input file, reported as one line on stderr."""


# ----------------------------------------------------------------------- input


def load_data(path):
    """Load the data matrix and its feature names.

    Parameters
    ----------
    path : str or None
        A CSV or ``.npy`` file; None loads the reference demo data.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    names : list of str
        Column names (the CSV header, or ``x0``, ``x1``, ...).
    description : str
        ``path``, or a description of the demo data.

    Raises
    ------
    InputError
        When the file is missing, unreadable, not numeric or holds missing values.
    """
    if path is None:
        X, _ = reference_blobs()
        return X, ["x0", "x1"], DEMO_DESCRIPTION
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


def _read_csv_rows(path):
    """Read the non-blank rows of a CSV file, in its sniffed dialect."""
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
    return rows


def _load_csv(path):
    rows = _read_csv_rows(path)
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


# ---------------------------------------------------------------------- output


def write_assignments(path, est, X):
    """Write one row per observation: label, uncertainty and probabilities.

    Parameters
    ----------
    path : str
        The CSV file to write.
    est : BayesianGMM
        The fitted estimator.
    X : ndarray of shape (n_samples, n_features)
        The data it was fitted to.
    """
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


def write_selection(path, results):
    """Write one row per candidate with every one-dimensional result column.

    Parameters
    ----------
    path : str
        The CSV file to write.
    results : dict
        The selector's ``cv_results_``.
    """
    keys = [
        key for key, value in results.items() if key != "params" and np.ndim(value) == 1
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(keys)
        for i in range(len(results["n_components"])):
            writer.writerow([results[key][i] for key in keys])
