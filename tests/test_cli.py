"""The skbayesmix command line: promised files, and one-line errors on bad input."""

import csv
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("matplotlib")

from skbayesmix.cli import main  # noqa: E402

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


def test_demo_with_one_k(tmp_path, capsys):
    out = tmp_path / "demo"
    status = main(["-k", "3", "-o", str(out), *TINY])
    assert status == 0
    _, values = _read_csv(out / "assignments.csv")
    assert values.shape == (500, 2 + 3)
    assert _is_png(out / "skbayesmix.png")
    assert not (out / "selection.csv").exists()
    captured = capsys.readouterr()
    assert "demo" in captured.err  # progress goes to stderr
    assert "chosen model: n_components=3" in captured.out


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


def test_too_many_components(tmp_path, capsys):
    path = tmp_path / "small.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    assert main([str(path), "-k", "5", "-q"]) == 1
    assert "cannot fit 5 components to 3 observations" in _one_line_error(capsys)


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
