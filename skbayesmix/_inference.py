"""The one place that runs NUTS.

NumPyro's :class:`~numpyro.infer.MCMC` initialises its kernel eagerly (hundreds of
small XLA compilations) and re-traces its sampling loop on every ``run``. Here the
whole of warm-up and sampling, for all chains, is one ``jax.jit`` program whose static
arguments are the model structure and the sampler settings only. Data, mask, prior
hyper-parameters, starting values and the random key are traced arguments, so every
later fit with the same structure, from any estimator instance, reuses the compiled
program. Data are padded to a size bucket with a mask, so cross-validation folds of
different sizes share one program too.

Only this module and ``_model`` import JAX; results are returned as NumPy arrays.
"""

import functools
import threading
import time
from collections import namedtuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro.infer.hmc import hmc
from numpyro.infer.util import constrain_fn, potential_energy, unconstrain_fn

from skbayesmix._model import gmm_model
from skbayesmix._sites import init_sites, to_mixture

ModelStructure = namedtuple(
    "ModelStructure",
    [
        "n_components",
        "covariance_type",
        "weight_parameterization",
        "covariance_prior",
    ],
)
SamplerSettings = namedtuple(
    "SamplerSettings",
    [
        "num_warmup",
        "num_samples",
        "num_chains",
        "chain_method",
        "target_accept_prob",
        "max_tree_depth",
        "dense_mass",
    ],
)
NUTSResult = namedtuple(
    "NUTSResult", ["mixture", "sample_stats", "compile_time", "run_time"]
)

_stats_lock = threading.Lock()
_STATS = {"compilations": 0, "compile_time": 0.0, "fits": 0}


def compilation_stats():
    """Counters of the compiled NUTS programs built in this process.

    Returns
    -------
    stats : dict
        ``compilations`` (number of samplers traced and compiled), ``compile_time``
        (seconds spent tracing and compiling them), ``fits`` (number of sampler runs).
    """
    with _stats_lock:
        return dict(_STATS)


def reset_compilation_stats():
    """Reset the counters returned by :func:`compilation_stats` to zero.

    The compiled samplers themselves are kept: a fit whose structure was compiled
    before the reset still reuses it and is not counted as a compilation.
    """
    with _stats_lock:
        _STATS.update(compilations=0, compile_time=0.0, fits=0)


def enable_compilation_cache(path=None, *, min_compile_time_secs=0.0):
    """Cache compiled samplers on disk, so that new processes skip compilation.

    Sets JAX's persistent compilation cache directory (a process-wide JAX
    setting) and lowers its thresholds so that the samplers this package compiles
    are stored. Nothing is cached on disk unless this function is called.

    Parameters
    ----------
    path : str or path-like, default=None
        Cache directory. None uses ``$SKBAYESMIX_CACHE_DIR`` if set, else
        ``~/.cache/skbayesmix/jax``.
    min_compile_time_secs : float, default=0.0
        Programs that compiled faster than this are not written to the cache.

    Returns
    -------
    path : str
        The cache directory in use.

    Notes
    -----
    This is equivalent to setting ``jax_compilation_cache_dir``,
    ``jax_persistent_cache_min_compile_time_secs`` and
    ``jax_persistent_cache_min_entry_size_bytes`` with :func:`jax.config.update`,
    which you may do yourself instead. The cache key includes the JAX version,
    the program and the CPU, so a stale cache is never used, only missed. Within
    one process, compiled samplers are reused without any disk cache.
    """
    import os

    if path is None:
        path = os.environ.get("SKBAYESMIX_CACHE_DIR") or os.path.join(
            os.path.expanduser("~"), ".cache", "skbayesmix", "jax"
        )
    from jax.experimental.compilation_cache import compilation_cache

    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    if jax.config.jax_compilation_cache_dir != path:
        # JAX opens its cache once per process; reopen it at the new path.
        compilation_cache.reset_cache()
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs", float(min_compile_time_secs)
    )
    # -1: no minimum entry size (0 would mean JAX's backend default).
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path


def padded_size(n_samples):
    """Size bucket a data set of ``n_samples`` rows is padded to.

    Buckets are powers of two and one and a half times powers of two (at least 16),
    so padding wastes at most a third of the rows and folds of similar sizes share
    one compiled sampler.
    """
    size = 16
    while True:
        for bucket in (size, size + size // 2):
            if bucket >= n_samples:
                return bucket
        size *= 2


def _potential_fn_gen(model):
    def gen(X, mask, hyper):
        return functools.partial(potential_energy, model, (X, mask, hyper), {})

    return gen


@functools.partial(jax.jit, static_argnames=("structure", "settings"))
def _run_nuts_program(rng_key, init_values, X, mask, hyper, structure, settings):
    model = functools.partial(gmm_model, **structure._asdict())
    model_args = (X, mask, hyper)
    init_kernel, sample_kernel = hmc(potential_fn_gen=_potential_fn_gen(model))

    def run_one_chain(chain_key, chain_init):
        z0 = unconstrain_fn(model, model_args, {}, chain_init)
        state = init_kernel(
            z0,
            num_warmup=settings.num_warmup,
            target_accept_prob=settings.target_accept_prob,
            max_tree_depth=settings.max_tree_depth,
            dense_mass=settings.dense_mass,
            model_args=model_args,
            rng_key=chain_key,
        )

        def step(state, _):
            state = sample_kernel(state, model_args=model_args)
            stats = {
                "diverging": state.diverging,
                "n_steps": state.num_steps,
                "acceptance_rate": state.mean_accept_prob,
                "step_size": state.adapt_state.step_size,
                "energy": state.energy,
                "lp": -state.potential_energy,
            }
            return state, (state.z, stats)

        # One scan over warm-up and sampling: the NUTS step is compiled once.
        _, (z_all, stats_all) = lax.scan(
            step, state, None, length=settings.num_warmup + settings.num_samples
        )
        warmup = settings.num_warmup
        z_draws = jax.tree.map(lambda a: a[warmup:], z_all)
        stats = {name: value[warmup:] for name, value in stats_all.items()}
        # mean_accept_prob is a running mean that restarts after warm-up.
        stats["acceptance_rate"] = jnp.full_like(
            stats["lp"], stats["acceptance_rate"][-1]
        )
        stats["warmup_divergences"] = jnp.sum(stats_all["diverging"][:warmup])
        stats["warmup_n_steps"] = jnp.sum(stats_all["n_steps"][:warmup])
        draws = jax.vmap(
            lambda z: constrain_fn(model, model_args, {}, z, return_deterministic=True)
        )(z_draws)
        return draws, stats

    chain_keys = jax.random.split(rng_key, settings.num_chains)
    if settings.chain_method == "vectorized":
        return jax.vmap(run_one_chain)(chain_keys, init_values)
    return lax.map(lambda args: run_one_chain(*args), (chain_keys, init_values))


def run_nuts(X, chain_values, *, empty, prior, structure, settings, seed):
    """Sample the posterior of the mixture model with NUTS.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised data.
    chain_values : dict of ndarray
        Starting values of the mixture (see :mod:`skbayesmix._initialization`),
        each with a leading ``num_chains`` axis.
    empty : ndarray of shape (n_components,), dtype=bool
        Components that start empty.
    prior : dict of float or ndarray
        Prior hyper-parameters (see :func:`skbayesmix._model.gmm_model`).
    structure : ModelStructure
    settings : SamplerSettings
    seed : int
        Seed of the JAX random key.

    Returns
    -------
    result : NUTSResult
        ``mixture`` is the tuple (weights, means, covariances) of float64 draws
        in standardised units, each of shape (num_chains, num_samples, ...);
        ``sample_stats`` maps ``diverging``, ``n_steps``, ``acceptance_rate``,
        ``step_size``, ``energy``, ``lp`` to arrays of shape (num_chains,
        num_samples), and ``warmup_divergences`` and ``warmup_n_steps``
        (leapfrog steps of warm-up) to arrays of shape (num_chains,).
    """
    init_values = init_sites(
        chain_values,
        prior,
        weight_parameterization=structure.weight_parameterization,
        covariance_type=structure.covariance_type,
        covariance_prior=structure.covariance_prior,
        n_samples=X.shape[0],
        empty=empty,
    )
    dtype = jnp.float32
    n_samples, n_features = X.shape
    size = padded_size(n_samples)
    X_padded = np.zeros((size, n_features))
    X_padded[:n_samples] = X
    mask = np.zeros(size)
    mask[:n_samples] = 1.0
    args = (
        jax.random.key(seed),
        jax.tree.map(lambda a: jnp.asarray(a, dtype), init_values),
        jnp.asarray(X_padded, dtype),
        jnp.asarray(mask, dtype),
        {name: jnp.asarray(value, dtype) for name, value in prior.items()},
    )
    start = time.perf_counter()
    compiled = _compiled_program(args, structure, settings)
    compile_time = time.perf_counter() - start
    start = time.perf_counter()
    draws, stats = jax.block_until_ready(compiled(*args))
    run_time = time.perf_counter() - start
    with _stats_lock:
        _STATS["fits"] += 1
    samples = {name: np.asarray(value, np.float64) for name, value in draws.items()}
    mixture = to_mixture(
        samples,
        covariance_type=structure.covariance_type,
        reg_covar=np.asarray(prior["reg_covar"], dtype=np.float64),
        component_root=np.asarray(prior["component_root"], np.float64),
    )
    sample_stats = {name: np.asarray(value) for name, value in stats.items()}
    return NUTSResult(mixture, sample_stats, compile_time, run_time)


_compiled_cache = {}
_compile_lock = threading.Lock()


def _compiled_program(args, structure, settings):
    """Compiled executable for these argument shapes and static settings, cached."""
    shapes = tuple(
        (path, leaf.shape, str(leaf.dtype))
        for path, leaf in jax.tree_util.tree_leaves_with_path(args[1:])
    )
    key = (structure, settings, repr(shapes))
    with _compile_lock:
        compiled = _compiled_cache.get(key)
        if compiled is None:
            start = time.perf_counter()
            compiled = _run_nuts_program.lower(
                *args, structure=structure, settings=settings
            ).compile()
            with _stats_lock:
                _STATS["compilations"] += 1
                _STATS["compile_time"] += time.perf_counter() - start
            _compiled_cache[key] = compiled
    return compiled


def default_dense_mass(n_parameters, num_warmup):
    """Whether to adapt a dense mass matrix when the estimator says 'auto'.

    Dense when the last slow adaptation window of NumPyro's schedule holds at
    least as many warm-up draws as there are unconstrained parameters, so that
    the covariance it estimates has full rank. Measured (2 chains, 500 + 500):
    reference data (47 parameters, window 200) dense ESS 660-790 per 1000 draws
    against 220-430 diagonal; 8 blobs with K=15 (90 parameters, window 100)
    occupied ESS 1357 against 437 per 1600; D=10, K=4 (263 parameters) dense
    trees of 252 leapfrog steps against 15 diagonal.
    """
    from numpyro.infer.hmc_util import build_adaptation_schedule

    windows = build_adaptation_schedule(num_warmup)
    if len(windows) < 3:  # no mass-matrix adaptation at all
        return False
    start, end = windows[-2]
    return n_parameters <= end - start + 1
