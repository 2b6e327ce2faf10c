"""The skbayesmix command line: promised files, and one-line errors on bad input."""

import csv
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("matplotlib")

from skbayesmix._reference import (  # noqa: E402
    REFERENCE_BLOBS_DESCRIPTION,
    reference_blobs,
)
from skbayesmix.cli import main  # noqa: E402
from skbayesmix.cli._io import load_data  # noqa: E402
from skbayesmix.cli._report import format_table  # noqa: E402

TINY = ["--num-warmup", "30", "--num-samples", "30", "--num-chains", "2"]


def _read_csv(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], np.array(rows[1:], dtype=float)


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_csv_run_over_a_range_writes_every_file(tmp_path, three_blobs, capsys):
    X, _ = three_blobs
    data = tmp_path / "blobs.csv"
    np.savetxt(data, X, delimiter=",", header="a,b", comments="")
    out = tmp_path / "out"
    status = main([str(data), "--range", "2", "3", "-o", str(out), "--quiet", *TINY])
    assert status == 0
    header, values = _read_csv(out / "assignments.csv")
    assert header[:2] == ["label", "uncertainty"]
    assert values.shape[0] == len(X)
    n_components = len(header) - 2
    assert n_components in (2, 3)
    proba = values[:, 2:]
    assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    assert_allclose(values[:, 0], proba.argmax(axis=1))
    assert_allclose(values[:, 1], 1 - proba.max(axis=1), atol=1e-5)
    with open(out / "selection.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["n_components"] for row in table] == ["2", "3"]
    assert all(np.isfinite(float(row["bic"])) for row in table)
    assert all(np.isfinite(float(row["elpd_loo"])) for row in table)
    assert _is_png(out / "skbayesmix.png")
    printed = capsys.readouterr().out
    assert "BIC" in printed and "max R-hat" in printed and "divergent" in printed


def test_demo_with_one_k(tmp_path, capsys, monkeypatch):
    from skbayesmix import _diagnostics

    described = []

    def recording_describe_fit(estimator):
        described.append(describe_fit(estimator))
        return described[-1]

    describe_fit = _diagnostics.describe_fit
    monkeypatch.setattr(_diagnostics, "describe_fit", recording_describe_fit)
    out = tmp_path / "demo"
    status = main(["-k", "3", "-o", str(out), *TINY])
    assert status == 0
    _, values = _read_csv(out / "assignments.csv")
    assert values.shape == (500, 2 + 3)
    assert _is_png(out / "skbayesmix.png")
    assert not (out / "selection.csv").exists()
    captured = capsys.readouterr()
    # Progress goes to stderr; the demo data are the reference data.
    assert f"demo: {REFERENCE_BLOBS_DESCRIPTION}" in captured.err
    # The chosen fit is summarised by the estimator's own describe_fit, verbatim.
    assert len(described) == 1 and "n_components=3" in described[0]
    assert described[0] in captured.out


def test_demo_data_is_the_reference_data():
    X, names, description = load_data(None)
    assert_allclose(X, reference_blobs()[0])
    assert names == ["x0", "x1"]
    assert REFERENCE_BLOBS_DESCRIPTION in description


def test_csv_header_and_delimiter_are_detected(tmp_path):
    with_header = tmp_path / "named.csv"
    with_header.write_text("width; height\n1.5;2\n3;4e1\n\n")
    X, names, _ = load_data(str(with_header))
    assert names == ["width", "height"]
    assert_allclose(X, [[1.5, 2.0], [3.0, 40.0]])
    bare = tmp_path / "bare.txt"
    bare.write_text("1\t2\n3\t4\n")
    X, names, _ = load_data(str(bare))
    assert names == ["x0", "x1"]
    assert_allclose(X, [[1, 2], [3, 4]])


def test_selection_table_shows_present_columns_and_dashes():
    results = {
        "n_components": np.array([1, 2]),
        "bic": np.array([10.0, 8.25]),
        "elpd_loo": np.array([-5.0, np.nan]),
        "se_elpd_loo": np.array([1.0, np.nan]),
        "fit_time": np.array([0.5, 1.5]),
    }
    lines = format_table(results).splitlines()
    assert lines[0].split() == ["K", "BIC", "elpd_loo", "se", "fit", "s"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["1", "10.00", "-5.00", "1.00", "0.5"]
    assert lines[3].split() == ["2", "8.25", "-", "-", "1.5"]
    assert len({len(line) for line in lines}) == 1


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("skbayesmix: error:")
    return err[0]


def test_missing_file(tmp_path, capsys):
    assert main([str(tmp_path / "nope.csv"), "-q"]) == 1
    assert "file not found" in _one_line_error(capsys)


def test_non_numeric_column(tmp_path, capsys):
    path = tmp_path / "iris.csv"
    path.write_text("length,species\n1.0,setosa\n2.0,virginica\n")
    assert main([str(path), "-q"]) == 1
    message = _one_line_error(capsys)
    assert "'species' is not numeric" in message


def test_missing_values(tmp_path, capsys):
    path = tmp_path / "gaps.csv"
    path.write_text("x,y\n1,2\n3,\n5,nan\n7,8\n")
    assert main([str(path), "-q"]) == 1
    message = _one_line_error(capsys)
    assert "2 missing, NaN or infinite values" in message and "'y'" in message


def test_bad_npy(tmp_path, capsys):
    path = tmp_path / "words.npy"
    np.save(path, np.array(["a", "b"]))
    assert main([str(path), "-q"]) == 1
    assert "expected real numbers" in _one_line_error(capsys)


@pytest.mark.parametrize(
    "options, words",
    [
        # The selector checks the candidates against the data...
        (["-k", "5"], ("n_samples", "n_components")),
        (["--range", "2", "5"], ("n_samples", "n_components")),
        (["-k", "0"], ("n_components",)),
        # ... and BayesianGMM its sampler settings: the CLI re-checks neither.
        (["-k", "1", "--num-warmup", "0"], ("num_warmup",)),
        (["-k", "1", "--num-samples", "0"], ("num_samples",)),
        (["-k", "1", "--num-chains", "0"], ("num_chains",)),
        (["-k", "1", "--max-num-samples", "10"], ("max_num_samples",)),
    ],
)
def test_estimator_errors_are_one_line(tmp_path, capsys, options, words):
    path = tmp_path / "small.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    out = tmp_path / "out"
    assert main([str(path), "-q", "-o", str(out), *options]) == 1
    message = _one_line_error(capsys)
    assert all(word in message for word in words), message
    assert not out.exists()


def test_max_num_samples_option():
    from skbayesmix.cli._parser import build_parser

    parser = build_parser()
    assert parser.parse_args([]).max_num_samples == "auto"
    assert parser.parse_args(["--max-num-samples", "none"]).max_num_samples is None
    assert parser.parse_args(["--max-num-samples", "1500"]).max_num_samples == 1500
    with pytest.raises(SystemExit) as error:
        parser.parse_args(["--max-num-samples", "lots"])
    assert error.value.code == 2


def test_module_entry_point_reports_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "skbayesmix", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"skbayesmix: error: file not found: {tmp_path / 'missing.csv'}"
    ]
    usage = subprocess.run(
        [sys.executable, "-m", "skbayesmix", "--criterion", "nope"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert usage.returncode == 2
    assert "invalid choice" in usage.stderr
