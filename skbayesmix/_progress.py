"""A progress line for long fits: phase, iterations, rate and time left.

With ``verbose`` (and in the command line) the sampler runs each round of its
chains in several calls of its compiled program instead of one (the draws are
the same, see :func:`skbayesmix._inference._run_chains_program`), sized so
that each takes about :data:`UPDATE_SECONDS`, and reports after each call to a
:class:`ProgressLine`. Without ``verbose`` a round is one call, as before: no
cost at all. Nothing runs inside the compiled program (a host callback there
would keep the program out of the on-disk cache).
"""

import contextlib
import contextvars
import sys
import threading
import time

import numpy as np

_REQUESTED = contextvars.ContextVar("skbayesmix_progress", default=False)

# Iterations of a chain's first call in a round: they time the next calls.
FIRST_CALL_ITERATIONS = 10
# How long one call should take: how often the line is updated.
UPDATE_SECONDS = 0.5
# No line for rounds shorter than this (nor a rate from the first call alone).
FIRST_LINE_SECONDS = 1.0
# Seconds between full lines on a stream that is not a terminal (the default
# of BayesianGMM's verbose_interval).
FILE_INTERVAL_SECONDS = 10.0


@contextlib.contextmanager
def show_progress(enabled=True):
    """Show a progress line for every fit in this context (the command line's).

    Fits in this thread (and in threads started with a copy of its context)
    report as with ``verbose``, without ``verbose``'s summary.
    """
    token = _REQUESTED.set(enabled)
    try:
        yield
    finally:
        _REQUESTED.reset(token)


def progress_line(estimator):
    """Return a :class:`ProgressLine` for ``estimator``'s fit, or None (quiet)."""
    if not (estimator.verbose or _REQUESTED.get()):
        return None
    return ProgressLine(
        f"BayesianGMM K={estimator.n_components} {estimator.covariance_type}",
        file_interval=getattr(estimator, "verbose_interval", FILE_INTERVAL_SECONDS),
    )


def next_call_iterations(iterations, seconds):
    """Return the next call's iterations, after ``iterations`` took ``seconds``.

    Aims at :data:`UPDATE_SECONDS` per call; grows at most fourfold at a time
    (early warm-up iterations are the slowest) and never below one.
    """
    if seconds <= 0:
        return 4 * iterations
    target = int(iterations * UPDATE_SECONDS / seconds)
    return int(np.clip(target, 1, 4 * iterations))


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ProgressLine:
    """One line on ``stream`` that follows a fit's rounds of sampling.

    Reads, for example::

        BayesianGMM K=9 full: warm-up of chains 3-4, 2770/4000 it | 136 it/s | 9 s left

    (the chains running now, and the iterations of all chains together: with
    more chains than cores they run in turns; rounds after the first, the
    continuations, say ``round 2``). Nothing is written during a round's
    first :data:`FIRST_LINE_SECONDS`. On a terminal the line is rewritten in
    place (carriage return) at most every :data:`UPDATE_SECONDS` and erased
    when the round ends; elsewhere (a log file, a notebook's captured stream)
    a full line is printed at most every ``file_interval`` seconds. Updates
    may come from the chains' threads.

    Parameters
    ----------
    label : str
        What is being fitted, printed first.
    stream : file-like, default=None
        Where the line goes; None means ``sys.stderr`` at each update (so that
        the stream a test or notebook substitutes is honoured).
    file_interval : float, default=10.0
        Seconds between lines when ``stream`` is not a terminal.
    """

    def __init__(self, label, stream=None, *, file_interval=FILE_INTERVAL_SECONDS):
        self.label = label
        self._stream = stream
        self.file_interval = float(file_interval)
        self._lock = threading.Lock()
        self._width = 0
        self._broken = False

    @property
    def stream(self):
        return sys.stderr if self._stream is None else self._stream

    def start_round(self, round_index, warmup_length, round_length):
        """Begin a round whose chains run ``round_length`` iterations each.

        The first ``warmup_length`` of a chain's iterations are warm-up.
        """
        with self._lock:
            self._round = round_index
            self._warmup_length = np.asarray(warmup_length)
            self._round_length = np.asarray(round_length)
            self._done = np.zeros(len(self._round_length), dtype=int)
            self._started = time.perf_counter()
            self._written = -np.inf
            self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, chains, iterations):
        """Chains ``chains`` (a slice or indices) have run ``iterations`` each."""
        with self._lock:
            self._done[chains] = iterations
            now = time.perf_counter()
            interval = UPDATE_SECONDS if self._interactive else self.file_interval
            if (
                now - self._started >= FIRST_LINE_SECONDS
                and now - self._written >= interval
            ):
                self._written = now
                self._write(self.text(now - self._started))

    def text(self, elapsed):
        """Return the line for the iterations done after ``elapsed`` seconds."""
        done, length = self._done, self._round_length
        running = np.flatnonzero((done > 0) & (done < length))
        if running.size == 0:  # between chains: the next one to run
            running = np.flatnonzero(done < length)[:1]
        if running.size == 0:  # every chain has finished
            running = np.arange(len(done))
        phase = "sampling"
        if np.any(done[running] < self._warmup_length[running]):
            phase = "warm-up"
        if len(done) > 1:
            first, last = running.min() + 1, running.max() + 1
            chains = f"chain {first}" if first == last else f"chains {first}-{last}"
            phase = f"{phase} of {chains}"
        finished, planned = int(done.sum()), int(length.sum())
        parts = [
            f"{self.label}: "
            + (f"round {self._round + 1}, " if self._round else "")
            + f"{phase}, {finished}/{planned} it"
        ]
        rate = finished / elapsed if elapsed > 0 else 0.0
        if rate > 0:
            parts.append(f"{rate:.0f} it/s")
            parts.append(f"{_duration((planned - finished) / rate)} left")
        return " | ".join(parts)

    def end_round(self):
        """Erase the line (on a terminal) at the end of a round."""
        with self._lock:
            if self._interactive and self._width:
                self._write(" " * self._width + "\r")
            self._width = 0

    def _write(self, text):
        if self._broken:
            return
        try:
            if self._interactive:
                padding = " " * max(0, self._width - len(text))
                self.stream.write("\r" + text + padding)
                self._width = len(text)
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe or file: the fit goes on
            self._broken = True
