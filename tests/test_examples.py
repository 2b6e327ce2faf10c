"""Every gallery example runs start to finish with tiny sampler settings."""

import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))


def test_examples_are_found():
    names = {path.name for path in EXAMPLES}
    assert {
        "plot_turing_tutorial.py",
        "plot_bayespy_overfitted.py",
        "plot_bi_gmm_selection.py",
        "plot_iris_pipeline.py",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.exceptions import ConvergenceWarning

    monkeypatch.setenv("SKBAYESMIX_EXAMPLES_FAST", "1")
    text = path.read_text()
    # sphinx-gallery needs a title docstring with an underline, and cells.
    assert text.startswith('"""\n====')
    assert "# %%" in text
    plt.close("all")
    with warnings.catch_warnings():
        # Tiny settings do not converge; that is not what is tested here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        namespace = runpy.run_path(str(path), run_name="__main__")
    assert namespace["FAST"] is True
    assert plt.get_fignums(), f"{path.name} drew no figure"
    for number in plt.get_fignums():
        figure = plt.figure(number)
        assert any(ax.has_data() for ax in figure.axes), f"empty figure in {path.name}"
    plt.close("all")
