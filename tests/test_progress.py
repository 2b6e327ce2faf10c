"""Progress on long fits: rounds in several calls, the same draws, one line."""

import io
import warnings

import numpy as np
import pytest
from conftest import TINY, kmeans_problem, model_hyper
from sklearn.exceptions import ConvergenceWarning

from skbayesmix import BayesianGMM, _progress
from skbayesmix._initialization import jittered_chain_values
from skbayesmix._progress import ProgressLine, next_call_iterations, show_progress

jax = pytest.importorskip("jax")

from skbayesmix import _inference  # noqa: E402


class RecordingProgress(ProgressLine):
    """A ProgressLine that keeps every update instead of writing it."""

    def __init__(self):
        super().__init__("test", stream=io.StringIO())
        self.updates = []

    def advance(self, chains, iterations):
        super().advance(chains, iterations)
        self.updates.append((chains, np.array(iterations)))


def _sampler(chain_method, progress, seed=4):
    # Parallel chains: a padded 'full' sampler with a dense metric; vectorized
    # chains (one program for all, under vmap): a cheaper 'diag' one.
    covariance_type = "full" if chain_method == "parallel" else "diag"
    X, centers, start, rng = kmeans_problem(60, 2, covariance_type)
    chains = jittered_chain_values(
        start, covariance_type=covariance_type, num_chains=3, random_state=rng
    )
    settings = _inference.SamplerSettings(
        num_warmup=30, num_samples=25, num_chains=3, chain_method=chain_method,
        target_accept_prob=0.8, max_tree_depth=6,
        dense_mass=chain_method == "parallel",
    )
    n_sampled = 3 if chain_method == "parallel" else 2
    return _inference.ChainSampler(
        X, chains, empty=np.zeros(2, bool),
        prior=model_hyper(centers, covariance_type=covariance_type),
        structure=_inference.ModelStructure(
            n_sampled, covariance_type, "simplex", "wishart"
        ),
        settings=settings, seed=seed, progress=progress,
    )


def _three_rounds(sampler):
    sampler.run()  # warm-up and draws
    sampler.run(fresh=np.array([False, True, False]))  # a restart beside resumes
    sampler.run(fresh=np.zeros(3, bool))  # a continuation
    return sampler.result(50)


@pytest.mark.parametrize("chain_method", ["parallel", "vectorized"])
def test_rounds_in_several_calls_draw_the_same(monkeypatch, chain_method):
    # Calls of 7, then 3, 3, ... iterations: boundaries fall inside warm-up,
    # on the switch to sampling and inside sampling.
    monkeypatch.setattr(_inference, "FIRST_CALL_ITERATIONS", 7)
    monkeypatch.setattr(_inference, "next_call_iterations", lambda size, s: 3)
    in_one_call = _three_rounds(_sampler(chain_method, None))
    progress = RecordingProgress()
    in_calls = _three_rounds(_sampler(chain_method, progress))
    for one, several in zip(in_one_call.mixture, in_calls.mixture):
        np.testing.assert_array_equal(one, several)
    for name, value in in_one_call.sample_stats.items():
        np.testing.assert_array_equal(value, in_calls.sample_stats[name], name)
    assert in_calls.sample_stats["warmup_n_steps"].min() > 0
    # Every chain reported its way through every round (55, 55, 25 iterations).
    reported = [iterations.max() for _, iterations in progress.updates]
    assert reported[0] == 7 and 55 in reported and 25 in reported
    n_batches = 1 if chain_method == "vectorized" else 3
    assert len(progress.updates) >= (55 // 3) * n_batches


def test_next_call_aims_at_the_update_interval():
    assert next_call_iterations(10, 0.05) == 40  # at most fourfold
    assert next_call_iterations(40, _progress.UPDATE_SECONDS) == 40
    assert next_call_iterations(40, 4 * _progress.UPDATE_SECONDS) == 10
    assert next_call_iterations(1, 100.0) == 1
    assert next_call_iterations(5, 0.0) == 20


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def immediate(monkeypatch):
    """Lines from the first update on, at every update."""
    monkeypatch.setattr(_progress, "UPDATE_SECONDS", 0.0)
    monkeypatch.setattr(_progress, "FIRST_LINE_SECONDS", 0.0)


def test_progress_line_text_and_erasure(immediate):
    terminal = _Terminal()
    line = ProgressLine("BayesianGMM K=3 full", stream=terminal)
    line.start_round(0, np.array([100, 100, 100]), np.array([200, 200, 200]))
    line.advance(slice(0, 1), 50)
    assert line.text(2.0) == (
        "BayesianGMM K=3 full: warm-up of chain 1, 50/600 it | 25 it/s | 22 s left"
    )
    line.advance(slice(1, 2), 150)
    # Chains 1 and 2 run, one of them still warming up.
    assert "warm-up of chains 1-2, 200/600 it" in terminal.getvalue().rsplit("\r")[-1]
    line.advance(slice(0, 2), np.array([200, 200]))
    # Both done, chain 3 not started: it is the next one.
    assert line.text(8.0).startswith(
        "BayesianGMM K=3 full: warm-up of chain 3, 400/600"
    )
    line.end_round()
    assert terminal.getvalue().endswith("\r")  # the line is erased
    # A continuation of one chain: no warm-up, its round number.
    line.start_round(1, np.zeros(1, int), np.array([100]))
    line.advance(slice(0, 1), 40)
    assert line.text(4.0) == (
        "BayesianGMM K=3 full: round 2, sampling, 40/100 it | 10 it/s | 6 s left"
    )


def test_progress_line_at_every_stage_of_a_round(immediate):
    # Before any chain ran, between chains, and once all have finished (the
    # last update of a round; this case once raised from np.min of nothing).
    line = ProgressLine("fit", stream=io.StringIO())
    line.start_round(0, np.array([10, 10]), np.array([30, 30]))
    assert line.text(0.0) == "fit: warm-up of chain 1, 0/60 it"
    line.advance(slice(0, 1), 30)
    assert line.text(1.0).startswith("fit: warm-up of chain 2, 30/60 it")
    line.advance(slice(1, 2), 30)
    assert line.text(2.0) == (
        "fit: sampling of chains 1-2, 60/60 it | 30 it/s | 0 s left"
    )
    line.start_round(1, np.array([0]), np.array([5]))
    line.advance(slice(0, 1), 5)
    assert line.text(1.0) == "fit: round 2, sampling, 5/5 it | 5 it/s | 0 s left"


def test_progress_in_a_file_gets_whole_lines(immediate):
    log = io.StringIO()
    line = ProgressLine("fit", stream=log)
    line.start_round(0, np.array([5]), np.array([10]))
    line.advance(slice(0, 1), 3)
    line.advance(slice(0, 1), 6)  # within ten seconds: not written
    line.end_round()
    assert log.getvalue().count("\n") == 1 and "\r" not in log.getvalue()
    assert log.getvalue().startswith("fit: warm-up, 3/10 it")


def test_a_closed_stream_does_not_stop_the_fit(immediate):
    class ClosedPipe(_Terminal):
        writes = 0

        def write(self, text):
            self.writes += 1
            raise BrokenPipeError(32, "Broken pipe")

    pipe = ClosedPipe()
    line = ProgressLine("fit", stream=pipe)
    line.start_round(0, np.array([5]), np.array([10]))
    line.advance(slice(0, 1), 3)
    line.advance(slice(0, 1), 6)
    line.end_round()
    assert pipe.writes == 1  # tried once, then quiet


def test_short_rounds_write_nothing():
    log = _Terminal()
    line = ProgressLine("fit", stream=log)
    line.start_round(0, np.array([5]), np.array([10]))
    line.advance(slice(0, 1), 10)
    line.end_round()
    assert log.getvalue() == ""


def _quiet_fit(estimator, X):
    with warnings.catch_warnings():  # a test in the main thread
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def test_verbose_fit_reports_progress_on_stderr(immediate, capsys):
    X = kmeans_problem(80, 2, "full")[0]
    quiet = _quiet_fit(BayesianGMM(n_components=2, **TINY), X)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    loud = _quiet_fit(BayesianGMM(n_components=2, verbose=1, **TINY), X)
    captured = capsys.readouterr()
    # TINY: 2 chains x (10 + 10); the first call runs the 10 warm-up iterations.
    assert captured.err.startswith("BayesianGMM K=2 full: sampling of chain")
    assert "10/40 it" in captured.err
    assert "converged" in captured.out  # the summary, as before
    # Reporting does not change the draws.
    for name, value in quiet.posterior_samples_.items():
        np.testing.assert_array_equal(value, loud.posterior_samples_[name])


def test_show_progress_without_verbose(immediate, capsys):
    X = kmeans_problem(80, 2, "full")[0]
    with show_progress():
        _quiet_fit(BayesianGMM(n_components=2, **TINY), X)
    captured = capsys.readouterr()
    assert captured.err.startswith("BayesianGMM K=2 full: ")
    assert captured.out == ""
    with show_progress(enabled=False):
        _quiet_fit(BayesianGMM(n_components=2, **TINY), X)
    assert capsys.readouterr().err == ""
