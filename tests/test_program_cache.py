"""Compiled samplers on disk: where, reused across processes, never stale or fatal."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from conftest import TINY
from numpy.testing import assert_array_equal

import skbayesmix
from skbayesmix import BayesianGMM

pytest.importorskip("jax")

from skbayesmix import _program_cache  # noqa: E402

# A structure few other tests compile (clearing it from memory is harmless).
PARAMS = dict(n_components=3, covariance_type="spherical", **TINY)


def _data():
    rng = np.random.RandomState(0)
    return np.r_[rng.randn(30, 2) - 3, rng.randn(30, 2), rng.randn(30, 2) + 3]


def _fit():
    """Fit PARAMS with its compiled sampler forgotten by this process.

    (Its sampler is that of every K up to 8, spherical.)
    """
    for key in list(_program_cache._in_memory):
        structure = key[0]
        if (structure.n_components, structure.covariance_type) == (8, "spherical"):
            del _program_cache._in_memory[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # short chains
        return BayesianGMM(**PARAMS).fit(_data())


def _entries(path):
    return sorted(p.name for p in path.iterdir() if not p.name.startswith("."))


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("SKBAYESMIX_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    default = _program_cache.cache_dir()
    assert default.parts[-2:] == ("skbayesmix", "compiled")
    if sys.platform.startswith("linux"):
        assert default == tmp_path / "xdg" / "skbayesmix" / "compiled"
    monkeypatch.setenv("SKBAYESMIX_CACHE_DIR", str(tmp_path / "mine"))
    assert _program_cache.cache_dir() == tmp_path / "mine"
    for off in ("off", "OFF", " off "):
        monkeypatch.setenv("SKBAYESMIX_CACHE_DIR", off)
        assert _program_cache.cache_dir() is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_stored_program_is_loaded_instead_of_compiled(monkeypatch, tmp_path):
    monkeypatch.setenv("SKBAYESMIX_CACHE_DIR", str(tmp_path))
    skbayesmix.reset_compilation_stats()
    first = _fit()
    assert skbayesmix.compilation_stats()["compilations"] == 1
    (entry,) = _entries(tmp_path)
    assert entry.endswith(".xla")
    second = _fit()
    stats = skbayesmix.compilation_stats()
    assert (stats["compilations"], stats["loaded"]) == (1, 1)
    assert _entries(tmp_path) == [entry]
    for name, draws in first.posterior_samples_.items():
        assert_array_equal(draws, second.posterior_samples_[name])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_damaged_entry_warns_and_is_compiled_again(monkeypatch, tmp_path):
    monkeypatch.setenv("SKBAYESMIX_CACHE_DIR", str(tmp_path))
    reference = _fit()
    (entry,) = _entries(tmp_path)
    for damage in (b"not a pickle", (tmp_path / entry).read_bytes()[:1000]):
        (tmp_path / entry).write_bytes(damage)
        skbayesmix.reset_compilation_stats()
        with pytest.warns(RuntimeWarning, match="unreadable compiled-program cache"):
            gmm = _fit()
        assert skbayesmix.compilation_stats()["compilations"] == 1
        assert_array_equal(gmm.means_, reference.means_)
    # The entry was written again, whole: the next fit loads it silently.
    skbayesmix.reset_compilation_stats()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        _fit()
    assert skbayesmix.compilation_stats()["loaded"] == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_unwritable_cache_warns_and_fits(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SKBAYESMIX_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(RuntimeWarning, match="cannot write the compiled-program"):
        gmm = _fit()
    assert gmm.predict(_data()).shape == (90,)
    assert np.all(np.isfinite(gmm.means_))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_off_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SKBAYESMIX_CACHE_DIR", "off")
    skbayesmix.reset_compilation_stats()
    _fit()
    assert skbayesmix.compilation_stats()["compilations"] == 1
    assert list(tmp_path.iterdir()) == []


def test_entry_names_change_with_what_the_program_depends_on(monkeypatch):
    key = ("structure", "settings", "shapes")
    name = _program_cache.entry_name(key)
    assert name == _program_cache.entry_name(key)
    assert name != _program_cache.entry_name(key[:2] + ("other shapes",))
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=true")
    assert name != _program_cache.entry_name(key)


def test_least_recently_used_entries_are_evicted(tmp_path):
    for age, name in enumerate(["new", "middle", "old"]):
        path = tmp_path / f"{name}.xla"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1e9 - age * 1000, 1e9 - age * 1000))
    (tmp_path / "unrelated.txt").write_bytes(b"x" * 1000)
    _program_cache._evict(tmp_path, max_bytes=250)
    assert _entries(tmp_path) == ["middle.xla", "new.xla", "unrelated.txt"]
    _program_cache._evict(tmp_path, max_bytes=100)
    assert _entries(tmp_path) == ["new.xla", "unrelated.txt"]


_NEW_PROCESS = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np
    import skbayesmix
    X = np.random.RandomState(0).randn(60, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gmm = skbayesmix.BayesianGMM(
            2, covariance_type="full", dense_mass=True, num_warmup=60,
            num_samples=10, max_num_samples=None, num_chains=2, random_state=0,
        ).fit(X)
    stats = skbayesmix.compilation_stats()
    print(json.dumps([stats["compilations"], stats["loaded"], gmm.means_.tolist()]))
    """
)


def test_a_new_process_loads_what_another_compiled(tmp_path):
    # A dense mass matrix and full covariances: the program calls LAPACK, which
    # a process that only loads programs must initialise (it crashed before).
    env = {**os.environ, "SKBAYESMIX_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", _NEW_PROCESS], env=env, cwd=tmp_path,
            capture_output=True, text=True, timeout=600,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (json.loads(run.stdout.strip().splitlines()[-1]) for run in runs)
    assert first[:2] == [1, 0]
    assert second[:2] == [0, 1]
    assert second[2] == first[2]
