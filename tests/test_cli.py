"""The skbayesmix command line, run as users run it: streams, exit codes, files."""

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
from skbayesmix.cli import _figure, main  # noqa: E402
from skbayesmix.cli._io import load_data  # noqa: E402
from skbayesmix.cli._parser import build_parser  # noqa: E402
from skbayesmix.cli._report import format_table  # noqa: E402

TINY = [
    "--num-warmup", "30", "--num-samples", "30", "--num-chains", "2",
    "--max-num-samples", "none",
]  # fmt: skip


def _two_blobs(n=100, seed=0):
    rng = np.random.default_rng(seed)
    half = n // 2
    return np.r_[rng.normal(0, 1, (half, 2)), rng.normal(6, 1, (n - half, 2))]


def _run(*args, timeout=300):
    """Run the installed command as a user would, in a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "skbayesmix", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _read_csv(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _check_clustering_columns(header, rows, n_components):
    """label, uncertainty and proba_k columns after the others, consistent."""
    n_before = header.index("label")
    assert header[n_before:] == ["label", "uncertainty"] + [
        f"proba_{k}" for k in range(n_components)
    ]
    values = np.array([row[n_before:] for row in rows], dtype=float)
    proba = values[:, 2:]
    assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    assert_allclose(values[:, 0], proba.argmax(axis=1))
    assert_allclose(values[:, 1], 1 - proba.max(axis=1), atol=1e-5)


# ------------------------------------------------------------- real runs (fits)


def test_pandas_csv_over_a_range_results_on_stdout_rest_on_stderr(tmp_path):
    pd = pytest.importorskip("pandas")
    X = _two_blobs()
    frame = pd.DataFrame(X, columns=["alpha", "beta"], index=np.arange(100, 200))
    data = tmp_path / "frame.csv"
    frame.to_csv(data)  # a leading unnamed index column, as users write it
    out = tmp_path / "out"
    result = _run(data, "--range", 1, 2, "-o", out, *TINY)
    assert result.returncode == 0, result.stderr

    # stdout: the results and nothing else.
    assert result.stdout.startswith("selection (bic chooses K = ")
    assert "BIC" in result.stdout and "max R-hat" in result.stdout
    for noise in ("data:", "note:", "fitting", "BayesianGMMSelector", "[1/2]",
                  "warning:", "it/s", "wrote:"):  # fmt: skip
        assert noise not in result.stdout, noise
    # stderr: the notes, the candidates as they end, where the files went.
    assert "100 observations x 2 features (alpha, beta)" in result.stderr
    note = "note: the first column (no header) is taken for an index column"
    assert note in result.stderr
    assert "fitting K = 1..2 (2 fits" in result.stderr
    assert "[1/2]" in result.stderr and "[2/2]" in result.stderr
    assert "wrote: " in result.stderr
    # 60 draws are too few: the chosen fit warns, on stderr.
    assert "warning: " in result.stderr

    # The index column is not a feature, and comes back as the first column.
    header, rows = _read_csv(out / "assignments.csv")
    assert header[:3] == ["", "alpha", "beta"]
    assert [row[0] for row in rows] == [str(i) for i in range(100, 200)]
    assert_allclose(np.array([row[1:3] for row in rows], dtype=float), X)
    best = int(result.stdout.split("chooses K = ")[1].split(")")[0])
    _check_clustering_columns(header, rows, best)
    back = pd.read_csv(out / "assignments.csv", index_col=0)
    assert back.index.equals(frame.index)
    assert list(back.columns[:2]) == ["alpha", "beta"]

    _, table = _read_csv(out / "selection.csv")
    assert [row[0] for row in table] == ["1", "2"]
    assert _is_png(out / "skbayesmix.png")


def test_npy_with_one_k_is_a_fit_not_a_selection(tmp_path):
    data = tmp_path / "points.npy"
    np.save(data, _two_blobs())
    out = tmp_path / "out"
    result = _run(data, "-k", 2, "-o", out, "--no-figure", *TINY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "fit with K = 2:"
    assert "selection" not in result.stdout and "chooses" not in result.stdout
    # The chosen fit's diagnostics are the estimator's own summary.
    assert "BayesianGMM(n_components=2, covariance_type='full')" in result.stdout
    assert "fitting K = 2, full covariances: 2 chains x 30+30" in result.stderr
    assert "candidate" not in result.stderr
    header, rows = _read_csv(out / "assignments.csv")
    assert header[:2] == ["x0", "x1"] and len(rows) == 100
    _check_clustering_columns(header, rows, 2)
    assert not (out / "selection.csv").exists()
    assert not (out / "skbayesmix.png").exists()


def test_figure_axes_carry_the_header_names(tmp_path, capsys, monkeypatch):
    data = tmp_path / "sizes.csv"
    np.savetxt(data, _two_blobs(), delimiter=",", header="width,height", comments="")
    figures = []
    draw_figure = _figure.draw_figure

    def keeping_draw_figure(*args, **kwargs):
        figures.append(draw_figure(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(_figure, "draw_figure", keeping_draw_figure)
    out = tmp_path / "out"
    assert main([str(data), "-k", "2", "-o", str(out), "--quiet", *TINY]) == 0
    assert _is_png(out / "skbayesmix.png")
    (fig,) = figures
    axes = fig.axes[:3]
    assert [ax.get_xlabel() for ax in axes] == ["width"] * 3
    assert [ax.get_ylabel() for ax in axes] == ["height"] * 3
    header, _ = _read_csv(out / "assignments.csv")
    assert header[:3] == ["width", "height", "label"]
    captured = capsys.readouterr()
    assert captured.out.startswith("fit with K = 2:")
    # --quiet: no notes and no progress, only the warnings (if any) remain.
    assert "data:" not in captured.err and "fitting" not in captured.err
    assert "wrote:" not in captured.err and "it/s" not in captured.err


# --------------------------------------------------- usage errors: no fitting


def _one_line_error(text):
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("skbayesmix: error:")
    return lines[0]


@pytest.mark.parametrize(
    "options, words",
    [
        (["--range", "5", "2"], ("--range 5 2", "MIN must not exceed MAX")),
        (["missing.csv"], ("file not found", "missing.csv")),
    ],
    ids=["reversed-range", "missing-file"],
)
def test_usage_errors_exit_2_in_one_line(tmp_path, options, words):
    result = subprocess.run(
        [sys.executable, "-m", "skbayesmix", *options, "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    message = _one_line_error(result.stderr)
    assert all(word in message for word in words), message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "options, words",
    [
        # Options argparse and the parser check...
        (["--covariance-type", "wide"], ("invalid choice", "'wide'")),
        (["-k", "0"], ("-k/--n-components", ">= 1")),
        (["--range", "0", "3"], ("--range", ">= 1")),
        (["-k", "2", "--range", "1", "3"], ("not allowed",)),
        (["--max-num-samples", "lots"], ("'auto' or 'none'",)),
        (["-k", "1", "--num-samples", "50", "--max-num-samples", "10"],
         ("--max-num-samples", "at least --num-samples = 50")),
        # ... the selector, against the data...
        (["-k", "5"], ("n_samples", "n_components")),
        (["--range", "2", "5"], ("n_samples", "n_components")),
        # ... and BayesianGMM, its sampler settings: the CLI re-checks neither.
        (["-k", "1", "--num-warmup", "0"], ("num_warmup",)),
        (["-k", "1", "--num-chains", "0"], ("num_chains",)),
    ],
)  # fmt: skip
def test_option_errors_exit_2_before_anything_is_written(
    tmp_path, capsys, options, words
):
    path = tmp_path / "small.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    out = tmp_path / "out"
    assert main([str(path), "-q", "-o", str(out), *options]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    message = _one_line_error(captured.err)
    assert all(word in message for word in words), message
    assert not out.exists()


@pytest.mark.parametrize(
    "content, words",
    [
        ("length,species\n1.0,setosa\n2.0,virginica\n", ("'species' is not numeric",)),
        ("x,y\n1,2\n3,\n5,nan\n7,8\n", ("2 missing, NaN or infinite values", "'y'")),
        ("x,y\n1,2\n", ("1 observation",)),
        ("x,y\n1,2\n3,4,5\n", ("line 3: 3 fields, expected 2",)),
    ],
    ids=["text-column", "missing-values", "one-row", "ragged"],
)
def test_unusable_csv_exits_2(tmp_path, capsys, content, words):
    path = tmp_path / "data.csv"
    path.write_text(content)
    assert main([str(path), "-q"]) == 2
    message = _one_line_error(capsys.readouterr().err)
    assert all(word in message for word in words), message


def test_bad_npy_exits_2(tmp_path, capsys):
    path = tmp_path / "words.npy"
    np.save(path, np.array(["a", "b"]))
    assert main([str(path), "-q"]) == 2
    assert "expected real numbers" in _one_line_error(capsys.readouterr().err)


def test_unwritable_output_dir_exits_2(tmp_path, capsys):
    path = tmp_path / "small.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    assert main([str(path), "-k", "1", "-q", "-o", str(path / "out")]) == 2
    assert "cannot create the output directory" in _one_line_error(
        capsys.readouterr().err
    )


def test_failure_during_the_run_exits_1(tmp_path, capsys, monkeypatch):
    from skbayesmix import BayesianGMMSelector

    def failing_fit(self, X, y=None):
        raise RuntimeError("the sampler ran out of memory\ndetails")

    monkeypatch.setattr(BayesianGMMSelector, "fit", failing_fit)
    path = tmp_path / "small.csv"
    path.write_text("1,2\n3,4\n5,6\n")
    assert main([str(path), "-k", "1", "-q", "-o", str(tmp_path / "out")]) == 1
    message = _one_line_error(capsys.readouterr().err)
    assert message == "skbayesmix: error: the sampler ran out of memory"


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "usage: skbayesmix" in text and "Exit status" in text


def test_max_num_samples_option():
    parser = build_parser()
    assert parser.parse_args([]).max_num_samples == "auto"
    assert parser.parse_args(["--max-num-samples", "none"]).max_num_samples is None
    assert parser.parse_args(["--max-num-samples", "1500"]).max_num_samples == 1500


def test_coreset_size_option_reaches_the_estimator():
    from skbayesmix.cli._main import _build_selector

    parser = build_parser()
    assert parser.parse_args([]).coreset_size == "auto"
    assert parser.parse_args(["--coreset-size", "none"]).coreset_size is None
    args = parser.parse_args(["--coreset-size", "5000"])
    assert _build_selector(args).estimator.coreset_size == 5000


# ------------------------------------------------------------- reading input


def test_demo_data_is_the_reference_data():
    data = load_data(None)
    assert_allclose(data.X, reference_blobs()[0])
    assert data.feature_names == ["x0", "x1"]
    assert REFERENCE_BLOBS_DESCRIPTION in data.description
    assert data.index is None


def test_csv_header_and_delimiter_are_detected(tmp_path):
    with_header = tmp_path / "named.csv"
    with_header.write_text("width; height\n1.5;2\n3;4e1\n\n")
    data = load_data(str(with_header))
    assert data.feature_names == ["width", "height"]
    assert_allclose(data.X, [[1.5, 2.0], [3.0, 40.0]])
    assert data.index is None
    bare = tmp_path / "bare.txt"
    bare.write_text("1\t2\n3\t4\n")
    data = load_data(str(bare))
    assert data.feature_names == ["x0", "x1"]
    assert_allclose(data.X, [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    "content, index_name, index, names",
    [
        # DataFrame(X, columns=["a", "b"]).to_csv(path)
        (",a,b\n0,1.5,2\n1,3,4\n", "", ["0", "1"], ["a", "b"]),
        # DataFrame(X).to_csv(path): numbered columns, a header all the same
        (",0,1\n0,1.5,2\n1,3,4\n", "", ["0", "1"], ["0", "1"]),
        # read back with read_csv(path) and saved again, with a text index
        ("Unnamed: 0,a,b\nr1,1.5,2\nr2,3,4\n", "Unnamed: 0", ["r1", "r2"],
         ["a", "b"]),
        # a named index cannot be told from a feature: kept
        ("id,a,b\n7,1.5,2\n8,3,4\n", None, None, ["id", "a", "b"]),
        # no header: nothing to go by
        ("0,1.5,2\n1,3,4\n", None, None, ["x0", "x1", "x2"]),
    ],
    ids=["pandas", "pandas-numbered-columns", "unnamed-0", "named", "no-header"],
)  # fmt: skip
def test_unnamed_leading_index_column_is_set_aside(
    tmp_path, content, index_name, index, names
):
    path = tmp_path / "frame.csv"
    path.write_text(content)
    data = load_data(str(path))
    assert data.index_name == index_name
    assert data.index == index
    assert data.feature_names == names
    assert_allclose(data.X[:, -2:], [[1.5, 2.0], [3.0, 4.0]])


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
