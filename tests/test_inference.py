"""The NUTS runner: compiled-sampler reuse, padding buckets, chain methods.

(The model it samples is tested in test_model.py.)
"""

from collections import OrderedDict

import numpy as np
import pytest
from conftest import TINY, kmeans_problem, model_hyper
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV

import skbayesmix
from skbayesmix import BayesianGMM
from skbayesmix._initialization import jittered_chain_values

jax = pytest.importorskip("jax")

from skbayesmix import _inference, _program_cache  # noqa: E402
from skbayesmix._model import ROW_BLOCK  # noqa: E402
from skbayesmix._settings import n_unconstrained_parameters  # noqa: E402
from skbayesmix._sites import padded_entries  # noqa: E402

# These tests only count programs and shapes: conftest.TINY.


def test_padded_size_buckets():
    sizes = [_inference.padded_size(n) for n in range(1, 20000, 37)]
    for n, size in zip(range(1, 20000, 37), sizes):
        assert n <= size <= max(16, 1.5 * n)
        # Large buckets split into whole likelihood blocks.
        if size > 2 * ROW_BLOCK:
            assert size % ROW_BLOCK == 0
    # Folds of 80% of the rows share the full data's bucket at these sizes.
    for n in (128, 500, 1000):
        assert _inference.padded_size(int(0.8 * n)) == _inference.padded_size(n)


@pytest.mark.parametrize(
    "n_components, n_features, covariance_type, num_warmup, dense",
    [
        (8, 2, "full", 500, True),  # the reference model: 47 parameters
        (4, 10, "full", 500, False),  # 263 parameters, a 200-draw window
        (4, 10, "diag", 500, True),  # 84 parameters
        (4, 10, "full", 2000, True),  # a 650-draw window
        (8, 2, "full", 15, False),  # no mass-matrix adaptation at all
    ],
)
def test_auto_dense_mass_needs_a_full_rank_window(
    n_components, n_features, covariance_type, num_warmup, dense
):
    n_parameters = n_unconstrained_parameters(
        n_components, n_features, covariance_type, "simplex"
    )
    assert _inference.default_dense_mass(n_parameters, num_warmup) is dense


def test_public_compilation_api():
    assert skbayesmix.compilation_stats is _program_cache.compilation_stats
    assert skbayesmix.reset_compilation_stats is _program_cache.reset_compilation_stats
    assert {"compilations", "compile_time", "loaded", "load_time", "fits"} <= set(
        skbayesmix.compilation_stats()
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_refit_reuses_compiled_sampler(monkeypatch):
    monkeypatch.setenv("SKBAYESMIX_CACHE_DIR", "off")  # count compilations
    monkeypatch.setattr(_program_cache, "_in_memory", OrderedDict())
    skbayesmix.reset_compilation_stats()
    X, _ = make_blobs(n_samples=110, centers=2, random_state=0)
    BayesianGMM(n_components=2, **TINY).fit(X)
    # A new instance, fewer rows in the same size bucket, new values: no compile.
    BayesianGMM(n_components=2, **{**TINY, "random_state": 1}).fit(3.0 * X[:100])
    stats = skbayesmix.compilation_stats()
    assert stats["fits"] == 2
    assert stats["compilations"] == 1
    # Another structure compiles once more.
    BayesianGMM(n_components=2, covariance_type="diag", **TINY).fit(X)
    assert skbayesmix.compilation_stats()["compilations"] == 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_compiles_once_per_covariance_type(monkeypatch):
    monkeypatch.setenv("SKBAYESMIX_CACHE_DIR", "off")  # count compilations
    X, _ = make_blobs(n_samples=128, centers=2, random_state=0)
    monkeypatch.setattr(_program_cache, "_in_memory", OrderedDict())
    skbayesmix.reset_compilation_stats()
    search = GridSearchCV(
        BayesianGMM(**TINY),
        {"n_components": [1, 3], "covariance_type": ["full", "diag"]},
        cv=5, error_score="raise",
    )
    search.fit(X)
    stats = skbayesmix.compilation_stats()
    assert stats["fits"] == 2 * 2 * 5 + 1
    # K = 1 and 3 share the sampler of their bucket (8 components), and the
    # folds (102 or 103 rows) and the refit (128) one size bucket of rows.
    assert stats["compilations"] == 2


@pytest.mark.parametrize("chain_method", ["parallel", "sequential", "vectorized"])
def test_chain_methods_run(chain_method):
    X, centers, start, rng = kmeans_problem(60, 2, "diag")
    chains = jittered_chain_values(
        start, covariance_type="diag", num_chains=2, random_state=rng
    )
    settings = _inference.SamplerSettings(
        num_warmup=10,
        num_samples=12,
        num_chains=2,
        chain_method=chain_method,
        target_accept_prob=0.8,
        max_tree_depth=6,
        dense_mass=False,
    )
    structure = _inference.ModelStructure(2, "diag", "simplex", "wishart")
    sampler = _inference.ChainSampler(
        X, chains, empty=np.zeros(2, bool),
        prior=model_hyper(centers, covariance_type="diag"),
        structure=structure, settings=settings, seed=3,
    )
    sampler.run()
    result = sampler.result()
    weights, means, covariances = result.mixture
    assert means.shape == (2, 12, 2, 2)
    assert weights.shape == (2, 12, 2) and covariances.shape == (2, 12, 2, 2)
    assert means.dtype == covariances.dtype == np.float64
    assert result.sample_stats["n_steps"].shape == (2, 12)
    assert result.sample_stats["warmup_divergences"].shape == (2,)
    # reg_covar is included in the covariances.
    assert np.all(np.isfinite(covariances)) and np.all(covariances >= 1e-6)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    assert result.compile_time >= 0 and result.run_time > 0
    # Chains are distinct (own keys and starts), draws move within a chain.
    assert not np.allclose(means[0], means[1])
    assert np.ptp(means[0], axis=0).max() > 0




@pytest.mark.parametrize("weights", ["simplex", "softmax"])
def test_padded_components_never_move(weights):
    # Two real components run by a sampler of five.
    X, centers, start, rng = kmeans_problem(60, 2, "full")
    chains = jittered_chain_values(
        start, covariance_type="full", num_chains=2, random_state=rng
    )
    settings = _inference.SamplerSettings(40, 20, 2, "sequential", 0.8, 6, True)
    structure = _inference.ModelStructure(5, "full", weights, "wishart")
    sampler = _inference.ChainSampler(
        X, chains, empty=np.zeros(2, bool), prior=model_hyper(centers),
        structure=structure, settings=settings, seed=0,
    )
    sampler.run()
    weights_draws, means, covariances = sampler.result().mixture
    assert weights_draws.shape == (2, 20, 2) and means.shape == (2, 20, 2, 2)
    assert covariances.shape == (2, 20, 2, 2, 2)
    np.testing.assert_allclose(weights_draws.sum(axis=-1), 1.0, rtol=1e-5)
    for state in sampler._states:
        z = jax.tree.map(lambda leaf: np.asarray(leaf)[0], state.z)
        padded = padded_entries(z, 2, "full")
        for name, value in z.items():
            assert np.all(value[padded[name]] == 0.0), name
        # Their metric is zero, the real coordinates' is not.
        flat = np.concatenate([padded[name].ravel() for name in sorted(z)])
        metric = np.asarray(state.adapt_state.inverse_mass_matrix)[0]
        assert np.all(metric[flat][:, flat] == 0) and np.all(metric[:, flat] == 0)
        assert np.all(np.diag(metric)[~flat] > 0)
    # The real components' draws move.
    assert np.ptp(means[0], axis=0).min() > 0


def test_padded_and_unpadded_samplers_draw_the_same_posterior(monkeypatch):
    from skbayesmix import _settings

    X, _ = make_blobs(n_samples=120, centers=2, cluster_std=1.5, random_state=3)
    fits = []
    for max_work in (_settings.MAX_PADDED_WORK, 0):
        monkeypatch.setattr(_settings, "MAX_PADDED_WORK", max_work)
        gmm = BayesianGMM(
            2, num_warmup=300, num_samples=500, dense_mass=False, random_state=0
        ).fit(X)
        assert gmm.converged_
        fits.append(gmm)
    padded, unpadded = fits
    assert padded._settings.sampled_components == 8
    assert unpadded._settings.sampled_components == 2
    for name in ("weights", "means", "covariances"):
        moments = []
        for gmm in fits:
            draws = gmm.posterior_samples_[name]
            draws = draws.reshape((-1,) + draws.shape[2:])
            ess = gmm.diagnostics_["ess_bulk"][name]
            moments.append((draws.mean(0), draws.std(0), draws.std(0) / np.sqrt(ess)))
        (mean_p, sd_p, se_p), (mean_u, sd_u, se_u) = moments
        # Posterior means within 4 Monte Carlo standard errors, spreads within 15%.
        assert np.all(np.abs(mean_p - mean_u) <= 4 * np.hypot(se_p, se_u)), name
        np.testing.assert_allclose(sd_p, sd_u, rtol=0.15)


def test_least_recently_used_programs_are_dropped(monkeypatch):
    # Programs come from a stand-in for the disk cache: no compilation needed.
    loads = []

    def load(path):
        loads.append(path)
        return object(), {}

    monkeypatch.setattr(_program_cache, "load", load)
    monkeypatch.setattr(_program_cache, "MAX_PROGRAMS_IN_MEMORY", 2)
    # A cache of this test's own: the process's compiled programs stay.
    monkeypatch.setattr(_program_cache, "_in_memory", OrderedDict())
    settings = _inference.SamplerSettings(10, 10, 1, "sequential", 0.8, 6, False)
    data = (np.zeros((16, 2), np.float32),)

    def program(n_components):
        structure = _inference.ModelStructure(
            n_components, "diag", "simplex", "wishart"
        )
        keys = np.zeros((1, 2), np.uint32)
        return _inference._compiled_program(keys, {}, data, structure, settings)

    first = program(1)
    program(2)
    assert program(1) is first  # kept, and now the most recently used
    program(3)  # drops K=2, the least recently used
    assert len(_program_cache._in_memory) == 2
    assert len(loads) == 3
    assert program(1) is first
    program(2)
    assert len(loads) == 4
