"""Warnings with advice: every poor-inference warning says which setting to change.

All fits share one sampler structure (K=3, D=1, 'spherical', 2 chains x 20+20), so
the module compiles one NUTS program.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skbayesmix import BayesianGMM

SETTINGS = dict(
    n_components=3,
    covariance_type="spherical",
    num_warmup=20,
    num_samples=20,
    num_chains=2,
    random_state=0,
)


def _two_blobs():
    rng = np.random.RandomState(0)
    return np.r_[rng.randn(30, 1) - 3, rng.randn(30, 1) + 3]


def _fit_recording(X, **params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gmm = BayesianGMM(**{**SETTINGS, **params}).fit(X)
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    return gmm, messages, caught


def _one(messages, needle):
    found = [m for m in messages if needle in m]
    assert len(found) == 1, (needle, messages)
    return found[0]


@pytest.fixture(scope="module")
def emptied_fit():
    # Two blobs, three components, and a fixed prior that holds the third mean far
    # from the data: it empties, and the sampler struggles to drag it out there.
    return _fit_recording(
        _two_blobs(),
        standardize=False,
        mean_prior=[[-3.0], [3.0], [40.0]],
        mean_prior_scale=1.0,
    )


@pytest.fixture(scope="module")
def short_fit():
    # Three blobs, three components: a well-posed model with too few draws.
    rng = np.random.RandomState(1)
    X = np.r_[rng.randn(20, 1) - 6, rng.randn(20, 1), rng.randn(20, 1) + 6]
    return _fit_recording(X)


def test_divergence_warning_advises_target_accept_prob(emptied_fit):
    gmm, messages, _ = emptied_fit
    n_div = gmm.diagnostics_["divergences"]
    assert n_div > 0
    msg = _one(messages, "divergent")
    assert msg.startswith(f"{n_div} of 40 post-warm-up transitions")
    assert "Increase target_accept_prob" in msg
    assert not gmm.converged_


def test_r_hat_warning_advises_longer_chains(emptied_fit, short_fit):
    for gmm, messages, _ in (emptied_fit, short_fit):
        r_hat = gmm.diagnostics_["max_r_hat"]
        if r_hat < 1.01:
            assert not [m for m in messages if "R-hat" in m]
            continue
        msg = _one(messages, "R-hat")
        assert f"{r_hat:.3f}" in msg
        assert "Increase num_warmup and num_samples" in msg
    # At least one of the two fits has chains that disagree after 20 draws.
    assert max(f[0].diagnostics_["max_r_hat"] for f in (emptied_fit, short_fit)) > 1.01


def test_low_ess_warning_advises_more_samples(short_fit):
    gmm, messages, _ = short_fit
    assert gmm.diagnostics_["min_ess_bulk"] < 200
    msg = _one(messages, "ESS")
    assert f"{gmm.diagnostics_['min_ess_bulk']:.0f}" in msg
    assert "Increase num_samples" in msg


def test_empty_component_warning_advises_fewer_components(emptied_fit):
    gmm, messages, _ = emptied_fit
    msg = _one(messages, "less than one observation")
    assert "Reduce n_components (e.g. to 2)" in msg
    assert "weight_concentration" in msg
    # The emptied component is the one whose prior sits at 40.
    empty = int(np.argmax(gmm.means_[:, 0]))
    assert f"indices [{empty}]" in msg
    assert gmm.weights_[empty] < 0.05
    assert gmm.n_effective_components_ == 2


def test_no_empty_component_warning_when_all_are_used(short_fit):
    gmm, messages, _ = short_fit
    assert gmm.n_effective_components_ == 3
    assert not [m for m in messages if "less than one observation" in m]


def test_no_empty_component_warning_for_sparse_prior():
    # A small concentration asks surplus components to empty: no warning then.
    gmm, messages, _ = _fit_recording(
        _two_blobs(),
        standardize=False,
        mean_prior=[[-3.0], [3.0], [40.0]],
        mean_prior_scale=1.0,
        weight_concentration=0.01,
        # The sparse defaults would change the sampler's structure (a new
        # compilation); the warning logic does not depend on them.
        init_params="kmeans",
        weight_parameterization="simplex",
    )
    # Some component is empty in most draws (not occupied) ...
    assert gmm.diagnostics_["occupied_components"].size < gmm.n_components
    # ... yet the sparse prior asked for that: no warning.
    assert not [m for m in messages if "less than one observation" in m]


def test_warnings_point_at_the_callers_line(emptied_fit):
    _, _, caught = emptied_fit
    convergence = [w for w in caught if w.category is ConvergenceWarning]
    assert convergence
    assert {w.filename for w in convergence} == {__file__}


def test_pareto_k_warning_advises_more_samples(short_fit):
    gmm = short_fit[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = gmm.loo()
    assert result["warning"]
    n_bad = int(np.sum(result["pareto_k"] > result["pareto_k_threshold"]))
    assert n_bad > 0
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    msg = _one(messages, "Pareto k")
    assert msg.startswith(f"PSIS-LOO is unreliable: {n_bad} observations")
    assert "Increase num_samples" in msg
    assert {w.filename for w in caught if w.category is ConvergenceWarning} == {
        __file__
    }


def test_fewer_distinct_rows_than_components_warns_once_with_advice():
    X = np.repeat([[0.0], [5.0]], 30, axis=0)
    gmm, messages, caught = _fit_recording(X)
    msg = _one(messages, "distinct rows")
    assert msg.startswith("X has only 2 distinct rows, fewer than n_components = 3")
    assert "Reduce n_components to at most 2" in msg
    # k-means' own advice-free warning is not passed on.
    assert not [m for m in messages if "Number of distinct clusters" in m]
    assert {w.filename for w in caught if "distinct rows" in str(w.message)} == {
        __file__
    }
    assert np.all(np.isfinite(gmm.means_))
