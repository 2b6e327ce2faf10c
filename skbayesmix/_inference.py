"""The one place that runs NUTS.

NumPyro's :class:`~numpyro.infer.MCMC` initialises its kernel eagerly (hundreds of
small XLA compilations) and re-traces its sampling loop on every ``run``. Here the
whole of a chain's warm-up and sampling is one compiled program whose static
arguments are the model structure and the sampler settings only, called once per
chain from one thread per core (or once for all chains, vectorised). Data, mask,
prior hyper-parameters, starting values and the random key are arguments, so every
later fit with the same structure, from any estimator instance, reuses the compiled
program; so do later processes, through the on-disk cache
(:mod:`skbayesmix._program_cache`). Data are padded to a size bucket with a mask,
so cross-validation folds of different sizes share one program too.

Only this module, ``_model`` and ``_program_cache`` import JAX; results are
returned as NumPy arrays.
"""

import functools
import time
from collections import namedtuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro.infer.hmc import hmc
from numpyro.infer.util import constrain_fn, potential_energy, unconstrain_fn

from skbayesmix import _program_cache
from skbayesmix._model import gmm_model
from skbayesmix._prior import padded_hyperparameters
from skbayesmix._sites import (
    init_sites,
    pad_sites,
    padded_entries,
    real_components,
    to_mixture,
)
from skbayesmix._threadpool import map_in_threads, usable_cores

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


def _run_chains_program(
    keys, init_values, states, fresh, X, mask, hyper, structure, settings
):
    """Run one round of every chain: warm-up then draws, or draws after ``states``.

    A chain with ``fresh`` True starts at its ``init_values``, adapts for
    ``num_warmup`` iterations and draws ``num_samples``; otherwise it resumes
    from its HMC state in ``states`` (adaptation over, step size and mass
    matrix kept) and draws ``num_samples`` more. One program serves the first
    round, restarts and continuations.
    """
    model = functools.partial(gmm_model, **structure._asdict())
    model_args = (X, mask, hyper)
    init_kernel, sample_kernel = hmc(potential_fn_gen=_potential_fn_gen(model))
    n_real = jnp.sum(hyper["component_mask"] > 0)

    def moving(z):
        return _moving_coordinates(z, n_real, structure.covariance_type)

    def start(chain_key, chain_init):
        # Also configures the kernel (warm-up length, tree depth) for resumed chains.
        state = _initial_state(
            init_kernel, model, model_args, settings, chain_key, chain_init
        )
        return _freeze_padding(state, moving(state.z))

    def warm_up(state):
        keep = moving(state.z)

        def warm_step(carry, _):
            state, divergences, n_steps = carry
            state = sample_kernel(state, model_args=model_args)
            # Adaptation may have set a new metric.
            state = _freeze_padding(state, keep)
            return (
                state,
                divergences + state.diverging.astype(jnp.int32),
                n_steps + state.num_steps.astype(jnp.int32),
            ), None

        zero = jnp.zeros((), jnp.int32)
        carry, _ = lax.scan(
            warm_step, (state, zero, zero), None, length=settings.num_warmup
        )
        return carry

    def draw(state):
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

        state, (z_draws, stats) = lax.scan(
            step, state, None, length=settings.num_samples
        )
        draws = jax.vmap(
            lambda z: constrain_fn(model, model_args, {}, z, return_deterministic=True)
        )(z_draws)
        return draws, stats, state

    if settings.chain_method == "vectorized":
        # Under vmap a per-chain condition would run both branches: warm up
        # all chains, or none, and keep the warmed-up state of fresh ones.
        no_warmup = jnp.zeros(fresh.shape, jnp.int32)
        warmed, divergences, n_steps = lax.cond(
            jnp.any(fresh),
            jax.vmap(warm_up),
            lambda initial: (initial, no_warmup, no_warmup),
            jax.vmap(start)(keys, init_values),
        )
        state = jax.tree.map(
            lambda new, old: jnp.where(
                fresh.reshape(fresh.shape + (1,) * (new.ndim - 1)), new, old
            ),
            warmed,
            states,
        )
        draws, stats, state = jax.vmap(draw)(state)
    else:

        def run_one_chain(args):
            chain_key, chain_init, state_in, is_fresh = args
            zero = jnp.zeros((), jnp.int32)
            state, chain_divergences, chain_n_steps = lax.cond(
                is_fresh,
                warm_up,
                lambda initial: (state_in, zero, zero),
                start(chain_key, chain_init),
            )
            return (*draw(state), chain_divergences, chain_n_steps)

        draws, stats, state, divergences, n_steps = lax.map(
            run_one_chain, (keys, init_values, states, fresh)
        )
    stats["warmup_divergences"] = divergences
    stats["warmup_n_steps"] = n_steps
    return draws, stats, state


def _moving_coordinates(z, n_real, covariance_type):
    """Return 1.0 for the real components' coordinates in raveled ``z``, 0.0 else."""
    padded = padded_entries(z, n_real, covariance_type, xp=jnp)
    return 1.0 - jax.flatten_util.ravel_pytree(padded)[0].astype(jnp.float32)


def _freeze_padding(state, keep):
    """Give the padded components' coordinates a zero inverse mass: they never move.

    ``keep`` is :func:`_moving_coordinates` of the state's ``z``.

    With zero inverse mass (and zero mass-matrix square root, so their momentum
    is drawn as zero) a coordinate keeps its starting value and takes no part
    in the kinetic energy, the trajectory or NUTS' U-turn criterion: the chain
    samples the real components' posterior conditional on the padding's fixed
    values, which, the two being independent in the model, is their posterior.
    Left free they took part in the dynamics (reference data, K=1 in a sampler
    of 8, diagonal metric: 7.0 leapfrog steps per draw against 5.1-5.4
    unpadded; frozen, 5.4-5.5), and a dense metric estimated over them was
    noisy (12.3 steps). Frozen, their adapted metric entries come out zero
    anyway: a coordinate that never moves has no covariance with the others.
    """
    adapt = state.adapt_state
    if adapt.inverse_mass_matrix.ndim == 2:
        keep = keep[:, None] * keep[None, :]
    return state._replace(adapt_state=adapt._replace(
        inverse_mass_matrix=adapt.inverse_mass_matrix * keep,
        mass_matrix_sqrt=adapt.mass_matrix_sqrt * keep,
        mass_matrix_sqrt_inv=adapt.mass_matrix_sqrt_inv * keep,
    ))


def _initial_state(init_kernel, model, model_args, settings, chain_key, chain_init):
    z0 = unconstrain_fn(model, model_args, {}, chain_init)
    return init_kernel(
        z0,
        num_warmup=settings.num_warmup,
        target_accept_prob=settings.target_accept_prob,
        max_tree_depth=settings.max_tree_depth,
        dense_mass=settings.dense_mass,
        model_args=model_args,
        rng_key=chain_key,
    )


def _empty_states(keys, init_values, X, mask, hyper, structure, settings):
    """Zero HMC states shaped as the program's, the input of a first round."""

    def initial_states(keys, init_values, X, mask, hyper):
        model = functools.partial(gmm_model, **structure._asdict())
        init_kernel, _ = hmc(potential_fn_gen=_potential_fn_gen(model))
        return jax.vmap(
            lambda key, init: _initial_state(
                init_kernel, model, (X, mask, hyper), settings, key, init
            )
        )(keys, init_values)

    shapes = jax.eval_shape(initial_states, keys, init_values, X, mask, hyper)
    return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)


def program_settings(settings):
    """Return the settings of the compiled program that runs these chains.

    Vectorised chains run in lock-step in one program. Otherwise the program
    runs one chain and is called once per chain: one after the other
    ('sequential') or from several threads at once ('parallel'; JAX releases
    the GIL while a program runs). Those two share one compiled program,
    whatever the number of chains.
    """
    if settings.chain_method == "vectorized":
        return settings
    return settings._replace(num_chains=1, chain_method="sequential")


def _take(tree, chains):
    return jax.tree.map(lambda leaf: leaf[chains], tree)


class ChainSampler:
    """The chains of one fit: run, restarted and continued by one compiled program.

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
        Prior hyper-parameters of the real components (see
        :func:`skbayesmix._prior.model_hyperparameters`).
    structure : ModelStructure
        Its ``n_components`` may exceed the real ones (as many as
        ``chain_values`` has): the sampler then runs padded components too
        (see :func:`skbayesmix._model.gmm_model`), which :meth:`result` leaves
        out, so that one compiled program serves every number of components up
        to it.
    settings : SamplerSettings
        ``num_samples`` is the length of one round.
    seed : int
        Seed of the JAX random key.

    Attributes
    ----------
    n_components : int
        The real components (the others of ``structure`` are padding).
    iterations : ndarray of shape (num_chains,)
        Post-warm-up iterations of each chain since its last (re)start.
    restarts : ndarray of shape (num_chains,)
        How many times each chain was started again.
    """

    def __init__(self, X, chain_values, *, empty, prior, structure, settings, seed):
        init_values = init_sites(
            chain_values,
            prior,
            weight_parameterization=structure.weight_parameterization,
            covariance_type=structure.covariance_type,
            covariance_prior=structure.covariance_prior,
            n_samples=X.shape[0],
            empty=empty,
        )
        self.n_components = chain_values["means"].shape[1]
        init_values = pad_sites(
            init_values,
            structure.n_components,
            covariance_type=structure.covariance_type,
            covariance_prior=structure.covariance_prior,
        )
        sampled_prior = padded_hyperparameters(prior, structure.n_components)
        # NumPy inputs: slicing them per chain runs no JAX operation (each
        # would compile a small program on first use in a process).
        dtype = np.float32
        n_samples, n_features = X.shape
        size = padded_size(n_samples)
        X_padded = np.zeros((size, n_features))
        X_padded[:n_samples] = X
        mask = np.zeros(size)
        mask[:n_samples] = 1.0
        self.structure, self.settings = structure, settings
        self._prior = prior
        self._key = jax.random.PRNGKey(seed)
        self._init_values = jax.tree.map(lambda a: np.asarray(a, dtype), init_values)
        self._data = (
            np.asarray(X_padded, dtype),
            np.asarray(mask, dtype),
            {name: np.asarray(value, dtype) for name, value in sampled_prior.items()},
        )
        n_chains = settings.num_chains
        if settings.chain_method == "vectorized":
            self._batches = [slice(0, n_chains)]
        else:
            self._batches = [slice(chain, chain + 1) for chain in range(n_chains)]
        self._states = None  # the HMC states of every batch, once run
        self._rounds = 0
        self._blocks = [[] for _ in range(n_chains)]
        self._warmup = [None] * n_chains
        self.iterations = np.zeros(n_chains, dtype=int)
        self.restarts = np.zeros(n_chains, dtype=int)
        self.compile_time = 0.0
        self.run_time = 0.0

    def run(self, fresh=None):
        """Run one round: warm-up and draws for ``fresh`` chains, draws for others.

        Parameters
        ----------
        fresh : ndarray of shape (num_chains,), dtype=bool, default=None
            Chains to (re)start from their starting values with a new key; the
            others continue. None starts every chain (the first round).
        """
        n_chains = self.settings.num_chains
        if fresh is None:
            fresh = np.ones(n_chains, dtype=bool)
        if self._rounds == 0:
            keys = jax.random.split(self._key, n_chains)
        else:
            round_key = jax.random.fold_in(self._key, self._rounds)
            keys = jax.random.split(round_key, n_chains)
        keys = np.asarray(keys)
        batches = self._batches
        start = time.perf_counter()
        compiled, empty_states = _compiled_program(
            keys[batches[0]],
            _take(self._init_values, batches[0]),
            self._data,
            self.structure,
            program_settings(self.settings),
        )
        self.compile_time += time.perf_counter() - start
        if self._states is None:
            self._states = [empty_states] * len(batches)
        fresh_chains = np.asarray(fresh, dtype=bool)

        def run_batch(index):
            chains = batches[index]
            return jax.block_until_ready(compiled(
                keys[chains],
                _take(self._init_values, chains),
                self._states[index],
                fresh_chains[chains],
                *self._data,
            ))

        start = time.perf_counter()
        parallel = self.settings.chain_method == "parallel"
        outputs = map_in_threads(
            run_batch, range(len(batches)), usable_cores() if parallel else 1
        )
        self.run_time += time.perf_counter() - start
        self._states = [state for _, _, state in outputs]
        _program_cache.count_round(first=self._rounds == 0)
        draws, stats = (
            {
                name: np.concatenate([np.asarray(out[part][name]) for out in outputs])
                for name in outputs[0][part]
            }
            for part in (0, 1)
        )
        draws = {name: value.astype(np.float64) for name, value in draws.items()}
        for chain in range(n_chains):
            block = (
                {name: value[chain] for name, value in draws.items()},
                {
                    name: value[chain] for name, value in stats.items()
                    if not name.startswith("warmup_")
                },
            )
            if fresh[chain]:
                if self._rounds > 0:
                    self.restarts[chain] += 1
                self._blocks[chain] = []
                self.iterations[chain] = 0
                self._warmup[chain] = (
                    stats["warmup_divergences"][chain], stats["warmup_n_steps"][chain]
                )
            self._blocks[chain].append(block)
            self.iterations[chain] += self.settings.num_samples
        self._rounds += 1

    def result(self, n_draws=None):
        """Return the last ``n_draws`` draws of every chain (default: all they share).

        Returns
        -------
        result : NUTSResult
            ``mixture`` is the tuple (weights, means, covariances) of float64
            draws in standardised units, each of shape (num_chains, n_draws,
            ...); ``sample_stats`` maps ``diverging``, ``n_steps``,
            ``acceptance_rate``, ``step_size``, ``energy``, ``lp`` to arrays of
            shape (num_chains, n_draws), and ``warmup_divergences`` and
            ``warmup_n_steps`` (leapfrog steps of warm-up) to arrays of shape
            (num_chains,).
        """
        if n_draws is None:
            n_draws = int(self.iterations.min())
        samples, stats = {}, {}
        for index in (0, 1):
            merged = stats if index else samples
            for name in self._blocks[0][0][index]:
                merged[name] = np.stack([
                    np.concatenate([block[index][name] for block in blocks])[-n_draws:]
                    for blocks in self._blocks
                ])
        # mean_accept_prob is a running mean over all post-warm-up iterations.
        stats["acceptance_rate"] = np.repeat(
            stats["acceptance_rate"][:, -1:], n_draws, axis=1
        )
        stats["warmup_divergences"] = np.array([w[0] for w in self._warmup])
        stats["warmup_n_steps"] = np.array([w[1] for w in self._warmup])
        # The log density of the real components' posterior.
        stats["lp"] = stats["lp"] - samples.pop("padding_log_density")
        samples = real_components(
            samples, self.n_components, self.structure.covariance_type
        )
        mixture = to_mixture(
            samples,
            covariance_type=self.structure.covariance_type,
            reg_covar=np.asarray(self._prior["reg_covar"], dtype=np.float64),
            component_root=np.asarray(self._prior["component_root"], np.float64),
        )
        return NUTSResult(mixture, stats, self.compile_time, self.run_time)


def _compiled_program(keys, init_values, data, structure, settings):
    """Compiled executable and zero HMC states for these shapes and settings.

    From this process's programs or the on-disk cache when either has it
    (:func:`skbayesmix._program_cache.compiled_program`), else traced and
    compiled here.
    """
    shapes = tuple(
        (path, leaf.shape, str(leaf.dtype))
        for path, leaf in jax.tree_util.tree_leaves_with_path(
            (keys, init_values, data)
        )
    )

    def build():
        states = _empty_states(keys, init_values, *data, structure, settings)
        fresh = np.ones(settings.num_chains, dtype=bool)
        # A new function object per program: JAX keeps its traces and
        # lowerings of a function as long as the function lives, so a program
        # dropped from memory takes them along.
        program = jax.jit(functools.partial(
            _run_chains_program, structure=structure, settings=settings
        ))
        return program.lower(keys, init_values, states, fresh, *data).compile(), states

    return _program_cache.compiled_program((structure, settings, repr(shapes)), build)


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
