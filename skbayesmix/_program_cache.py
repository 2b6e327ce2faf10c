"""Where compiled samplers come from: this process, the disk, or a compilation.

Compiling the NUTS program of one model structure takes seconds; loading it
takes a fraction of a second. :func:`compiled_program` returns a program kept
in this process (at most :data:`MAX_PROGRAMS_IN_MEMORY`, least recently used
dropped first), else one stored on disk, else builds it and stores it, and
counts which (:func:`compilation_stats`).

On disk, programs are serialised with
:mod:`jax.experimental.serialize_executable` into one file per program under
:func:`cache_dir`, without touching JAX's process-wide configuration (JAX's own
persistent cache is a global setting).

An entry's name is a hash of everything that could make a stored program wrong
for this process: the source of this package, the versions of JAX, jaxlib and
NumPyro, the CPU (its instruction-set flags, since XLA compiles for the host),
``XLA_FLAGS`` and the JAX settings that change programs, and the program's own
key (model structure, sampler settings, argument shapes and dtypes). A stale
entry is therefore never used, only left behind; the least recently used
entries are removed when the directory grows past :data:`MAX_CACHE_BYTES`. An
entry that cannot be read is ignored with a warning and written again.

``SKBAYESMIX_CACHE_DIR`` moves the cache (an empty directory means a cold
start); ``SKBAYESMIX_CACHE_DIR=off`` switches it off.
"""

import functools
import hashlib
import os
import pickle
import platform
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import jax
import numpy as np

ENVIRONMENT_VARIABLE = "SKBAYESMIX_CACHE_DIR"
# Entries are 1-20 MB (about 4 MB for K=8, D=2); beyond this total the least
# recently used are removed.
MAX_CACHE_BYTES = 1 << 30
_SUFFIX = ".xla"
_FORMAT = 2
# Compiled programs kept in this process. Each holds about 45 MB (its machine
# code and JAX's trace of it, for the small structures of
# benchmarks/bench_program_memory.py); one dropped is loaded again from disk
# in about half a second.
MAX_PROGRAMS_IN_MEMORY = 16
_in_memory = OrderedDict()
# Tracing runs NumPyro's effect handlers, whose stack is global: programs are
# built (and loaded) one at a time, so that fits in threads never trace at once.
_build_lock = threading.Lock()

_stats_lock = threading.Lock()
_STATS = {
    "compilations": 0, "compile_time": 0.0, "loaded": 0, "load_time": 0.0,
    "fits": 0, "rounds": 0,
}


def compilation_stats():
    """Counters of the compiled NUTS programs this process built or loaded.

    Returns
    -------
    stats : dict
        ``compilations`` (number of samplers traced and compiled),
        ``compile_time`` (seconds spent tracing and compiling them), ``loaded``
        and ``load_time`` (samplers read from the on-disk cache instead, and
        the seconds that took), ``fits`` (number of fits sampled), ``rounds``
        (runs of a compiled sampler: a fit's first round, restarts and
        continuations).
    """
    with _stats_lock:
        return dict(_STATS)


def reset_compilation_stats():
    """Reset the counters returned by :func:`compilation_stats` to zero.

    The compiled samplers themselves are kept: a fit whose structure was compiled
    before the reset still reuses it and is not counted as a compilation.
    """
    with _stats_lock:
        _STATS.update(
            compilations=0, compile_time=0.0, loaded=0, load_time=0.0, fits=0,
            rounds=0,
        )


def count_round(*, first):
    """Count one run of a compiled sampler (``first``: a fit's first round)."""
    with _stats_lock:
        _STATS["fits"] += int(first)
        _STATS["rounds"] += 1


def compiled_program(key, build):
    """Return the (compiled, zero inputs) of the program ``key`` names.

    Parameters
    ----------
    key : hashable
        The program's key in this process: model structure, sampler settings
        and argument shapes; with the environment it also names the disk entry
        (:func:`entry_name`).
    build : callable
        Traces and compiles the program, returning (compiled, zero inputs); called
        only when neither this process nor the disk has it.
    """
    with _build_lock:
        cached = _in_memory.get(key)
        if cached is not None:
            _in_memory.move_to_end(key)
            return cached
        start = time.perf_counter()
        directory = cache_dir()
        path = None if directory is None else directory / entry_name(key)
        cached = None if path is None else load(path)
        if cached is None:
            cached = build()
            if path is not None:
                store(path, *cached)
            count, seconds = "compilations", "compile_time"
        else:
            count, seconds = "loaded", "load_time"
        with _stats_lock:
            _STATS[count] += 1
            _STATS[seconds] += time.perf_counter() - start
        _in_memory[key] = cached
        while len(_in_memory) > MAX_PROGRAMS_IN_MEMORY:
            _in_memory.popitem(last=False)
    return cached


def cache_dir():
    """Directory of the compiled-program cache, or None when it is switched off.

    ``$SKBAYESMIX_CACHE_DIR`` if set (``off`` switches the cache off), else
    ``compiled`` in the user's cache directory of skbayesmix
    (:func:`platformdirs.user_cache_dir`: ``~/.cache/skbayesmix`` on Linux,
    ``~/Library/Caches/skbayesmix`` on macOS, ``%LOCALAPPDATA%`` on Windows).

    Returns
    -------
    path : pathlib.Path or None
    """
    value = os.environ.get(ENVIRONMENT_VARIABLE)
    if value is not None and value.strip().lower() == "off":
        return None
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("skbayesmix")) / "compiled"


@functools.cache
def _environment_fingerprint():
    """Return what, besides its own key, a stored program depends on."""
    import jaxlib
    import numpyro

    package = Path(__file__).parent
    source = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        source.update(path.name.encode())
        source.update(path.read_bytes())
    return (
        _FORMAT,
        source.hexdigest(),
        jax.__version__,
        jaxlib.__version__,
        numpyro.__version__,
        platform.machine(),
        _cpu_flags(),
    )


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def entry_name(program_key):
    """File name of the entry of one program, from its in-process key."""
    settings = (
        os.environ.get("XLA_FLAGS", ""),
        bool(jax.config.jax_enable_x64),
        str(jax.config.jax_default_matmul_precision),
        jax.default_backend(),
    )
    text = repr((_environment_fingerprint(), settings, program_key))
    return hashlib.sha256(text.encode()).hexdigest() + _SUFFIX


@functools.cache
def _initialize_lapack():
    """Have jaxlib fill its table of LAPACK functions, as compiling would.

    Compiled programs call LAPACK (Cholesky, triangular solves) through that
    table, which jaxlib fills when the first linear-algebra operation is
    lowered. A program loaded into a process that has lowered none would call
    an empty entry and crash (measured with jaxlib 0.10.2: a segmentation
    fault on the first call of a loaded K=8 'full' sampler; JAX issues #28908
    and #29610); lowering one Cholesky fills it.
    """
    jax.jit(jax.numpy.linalg.cholesky).lower(np.eye(2, dtype=np.float32))


def load(path):
    """Return the (compiled, zero inputs) stored at ``path``, or None.

    A missing entry returns None silently; an unreadable one with a warning.
    """
    try:
        payload = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        _warn(f"cannot read compiled-program cache entry {path} ({error}); compiling")
        return None
    try:
        from jax.experimental.serialize_executable import deserialize_and_load

        _initialize_lapack()
        entry = pickle.loads(payload)
        if entry["format"] != _FORMAT:
            raise ValueError(f"format {entry['format']}, expected {_FORMAT}")
        compiled = deserialize_and_load(
            entry["executable"], entry["in_tree"], entry["out_tree"]
        )
        states = entry["states"]
    except Exception as error:  # any damage to the file: compile instead
        _warn(
            f"ignoring unreadable compiled-program cache entry {path} "
            f"({type(error).__name__}: {error}); compiling it again"
        )
        return None
    try:
        os.utime(path)  # recently used: evicted last
    except OSError:
        pass
    return compiled, states


def store(path, compiled, states):
    """Write a compiled program and its zero inputs (HMC states, buffers) to ``path``.

    Written to a temporary file and renamed, so other processes never read a
    partial entry; then the least recently used entries are removed while the
    directory is over :data:`MAX_CACHE_BYTES`. Failures warn and are ignored.
    """
    directory = path.parent
    from jax.experimental.serialize_executable import serialize

    try:
        executable, in_tree, out_tree = serialize(compiled)
        payload = pickle.dumps({
            "format": _FORMAT,
            "executable": executable,
            "in_tree": in_tree,
            "out_tree": out_tree,
            "states": jax.tree.map(np.asarray, states),
        })
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=directory, prefix=".tmp-", delete=False
        ) as handle:
            try:
                handle.write(payload)
            except BaseException:
                os.unlink(handle.name)
                raise
        os.replace(handle.name, path)
    except Exception as error:
        _warn(
            f"cannot write the compiled-program cache in {directory} "
            f"({type(error).__name__}: {error}); set {ENVIRONMENT_VARIABLE} to a "
            "writable directory, or to 'off'"
        )
        return
    _evict(directory, MAX_CACHE_BYTES)


def _evict(directory, max_bytes):
    """Remove least recently used entries until the total is at most ``max_bytes``."""
    entries = []
    for path in directory.glob("*" + _SUFFIX):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed by another process
            continue
        entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        total -= size


def _warn(message):
    warnings.warn(f"skbayesmix: {message}", RuntimeWarning, stacklevel=2)
