"""Reading the input file (or the demo data) and writing the CSV outputs."""

import csv
import os
import re
from dataclasses import dataclass

import numpy as np

from skbayesmix._reference import REFERENCE_BLOBS_DESCRIPTION, reference_blobs

DEMO_DESCRIPTION = f"demo: {REFERENCE_BLOBS_DESCRIPTION}"
ASSIGNMENTS_NAME = "assignments.csv"
SELECTION_NAME = "selection.csv"

# The header of the index column that ``DataFrame.to_csv`` writes for an unnamed
# index is empty; ``pandas.read_csv`` names such a column "Unnamed: 0", and a
# frame read that way and saved again carries that name.
_UNNAMED = re.compile(r"(Unnamed: \d+)?")


class InputError(Exception):
    """A problem with the user's input file, reported as one line on stderr."""


@dataclass
class InputData:
    """The data matrix of the input file and what is known about its columns.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The features, as floats.
    feature_names : list of str
        The CSV header, or ``x0``, ``x1``, ... without one.
    description : str
        The file's path, or a description of the demo data.
    index_name : str or None
        Header of the leading unnamed index column that was set aside (empty
        or ``"Unnamed: 0"``); None when there was none.
    index : list of str or None
        That column's values, as written in the file.
    """

    X: np.ndarray
    feature_names: list
    description: str
    index_name: str = None
    index: list = None


# ----------------------------------------------------------------------- input


def load_data(path):
    """Load the data matrix and its feature names.

    A CSV file whose header names its first column "" or ``Unnamed: <n>`` (the
    index column that ``pandas.DataFrame.to_csv`` writes) has that column set
    aside: its values are kept in :attr:`InputData.index` and not clustered.

    Parameters
    ----------
    path : str or None
        A CSV or ``.npy`` file; None loads the reference demo data.

    Returns
    -------
    data : InputData

    Raises
    ------
    InputError
        When the file is missing, unreadable, not numeric, holds missing values
        or fewer than two rows.
    """
    if path is None:
        X, _ = reference_blobs()
        return InputData(X, ["x0", "x1"], DEMO_DESCRIPTION)
    if not os.path.exists(path):
        raise InputError(f"file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"expected a file, got a directory: {path}")
    if path.lower().endswith(".npy"):
        data = InputData(*_load_npy(path), path)
    else:
        data = _load_csv(path)
    _check_finite(data.X, data.feature_names, path)
    return data


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


def _is_header(first, rest):
    """Whether the first row names the columns.

    It does if a field is not a number, or if it is pandas' header of numbered
    columns: an empty first field (the index's) over rows whose first field is
    filled.
    """
    try:
        [_parse_float(field) for field in first]
    except ValueError:
        return True
    return (
        len(first) > 1
        and first[0].strip() == ""
        and all(field.strip() for field in first[1:])
        and bool(rest)
        and all(row and row[0].strip() for row in rest)
    )


def _load_csv(path):
    rows = _read_csv_rows(path)
    has_header = _is_header(rows[0], rows[1:])
    if has_header:
        names = [name.strip() for name in rows[0]]
        rows = rows[1:]
        if not rows:
            raise InputError(f"{path} has a header but no data rows")
    else:
        names = [f"x{j}" for j in range(len(rows[0]))]
    n_columns = len(names)
    first_data_line = 2 if has_header else 1
    for i, row in enumerate(rows):
        if len(row) != n_columns:
            raise InputError(
                f"{path}, line {i + first_data_line}: {len(row)} fields, expected "
                f"{n_columns}"
            )
    index_name = index = None
    if has_header and n_columns > 1 and _UNNAMED.fullmatch(names[0]):
        index_name, names = names[0], names[1:]
        index = [row[0].strip() for row in rows]
        rows = [row[1:] for row in rows]
    X = np.empty((len(rows), len(names)))
    for i, row in enumerate(rows):
        for j, field in enumerate(row):
            try:
                X[i, j] = _parse_float(field)
            except ValueError:
                raise InputError(
                    f"{path}: column {names[j]!r} is not numeric (line "
                    f"{i + first_data_line}: {field.strip()!r}); remove or encode it"
                ) from None
    return InputData(X, names, path, index_name, index)


def _check_finite(X, names, path):
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{path} holds no data (shape {X.shape})")
    if X.shape[0] < 2:
        raise InputError(f"{path} holds 1 observation; a mixture needs at least 2")
    bad = ~np.isfinite(X)
    if bad.any():
        rows, cols = np.nonzero(bad)
        raise InputError(
            f"{path}: {int(bad.sum())} missing, NaN or infinite values (first in "
            f"column {names[cols[0]]!r}, data row {rows[0] + 1}); remove or impute "
            "them first"
        )


# ---------------------------------------------------------------------- output


def write_assignments(path, est, data):
    """Write one row per observation: its index and features, then the clustering.

    The columns are the index column set aside from the input, if any, under
    its own header; the features under their names; ``label``,
    ``uncertainty`` and ``proba_0``, ..., ``proba_{K-1}``.

    Parameters
    ----------
    path : str
        The CSV file to write.
    est : BayesianGMM
        The fitted estimator.
    data : InputData
        The data it was fitted to.
    """
    proba = est.predict_proba(data.X)
    labels = proba.argmax(axis=1)
    uncertainty = 1.0 - proba.max(axis=1)
    header = list(data.feature_names)
    header += ["label", "uncertainty"] + [f"proba_{k}" for k in range(proba.shape[1])]
    index = data.index
    if index is not None:
        header.insert(0, data.index_name)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, (label, unc, row) in enumerate(zip(labels, uncertainty, proba)):
            # repr: the shortest text that reads back as the same float.
            fields = [repr(float(x)) for x in data.X[i]]
            fields += [int(label), f"{unc:.6g}"] + [f"{p:.6g}" for p in row]
            writer.writerow(fields if index is None else [index[i], *fields])


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
