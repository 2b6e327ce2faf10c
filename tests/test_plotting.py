"""skbayesmix.plotting: each function returns Axes holding the expected artists."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import multivariate_normal

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from conftest import FAST  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skbayesmix import BayesianGMM, plotting  # noqa: E402
from skbayesmix._density import log_predictive_density  # noqa: E402
from skbayesmix._posterior import Posterior  # noqa: E402
from skbayesmix._standardize import Standardization  # noqa: E402
from skbayesmix.plotting._base import (  # noqa: E402
    plane_projection,
    projected_mixture,
)


@pytest.fixture(scope="module")
def fitted(three_blobs):
    X, _ = three_blobs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = BayesianGMM(n_components=3, **FAST).fit(X)
    return est, X


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _stub(weights, means, covariances, covariance_type, n_draws=4):
    """A BayesianGMM holding given parameters as constant posterior draws."""
    weights = np.asarray(weights, dtype=float)
    means = np.asarray(means, dtype=float)
    covariances = np.asarray(covariances, dtype=float)
    n_features = means.shape[1]
    est = BayesianGMM(n_components=len(weights), covariance_type=covariance_type)
    est._posterior = Posterior(
        *(
            np.broadcast_to(value, (1, n_draws) + value.shape).copy()
            for value in (weights, means, covariances)
        ),
        standardization=Standardization(
            np.zeros(n_features), np.ones(n_features), covariance_type
        ),
    )
    est.posterior_samples_ = est._posterior.samples()
    est.weights_, est.means_, est.covariances_ = weights, means, covariances
    est.n_features_in_ = n_features
    return est


def _ellipses(ax):
    """The outlined (unfilled) ellipse of each drawn component."""
    return [
        p for p in ax.patches if isinstance(p, Ellipse) and p.get_facecolor()[3] == 0
    ]


def test_plot_components_one_ellipse_per_component(fitted):
    est, X = fitted
    ax = plotting.plot_components(est, X)
    assert isinstance(ax, plt.Axes)
    outlines = _ellipses(ax)
    assert len(outlines) == 3
    centres = np.array([e.center for e in outlines])
    assert_allclose(np.sort(centres, axis=0), np.sort(est.means_, axis=0))
    # The data are scattered underneath.
    assert sum(len(c.get_offsets()) for c in ax.collections) >= len(X)


def test_plot_components_geometry_and_min_weight():
    cov = np.array([[4.0, 0.0, 1.0], [0.0, 9.0, 0.0], [1.0, 0.0, 1.0]])
    est = _stub(
        [0.6, 0.399, 0.001],
        [[0, 0, 0], [5, 5, 5], [9, 9, 9]],
        [cov, np.eye(3), np.eye(3)],
        "full",
    )
    ax = plotting.plot_components(est, features=(0, 2), n_std=3.0, min_weight=0.01)
    outlines = _ellipses(ax)
    assert len(outlines) == 2  # the 0.001 component is skipped
    first = min(outlines, key=lambda e: np.linalg.norm(e.center))
    eigval = np.linalg.eigvalsh(cov[np.ix_([0, 2], [0, 2])])
    assert_allclose(
        sorted([first.width, first.height]), sorted(2 * 3.0 * np.sqrt(eigval))
    )
    assert ax.get_xlabel() == "feature 0" and ax.get_ylabel() == "feature 2"


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_projected_density_is_the_exact_marginal(covariance_type):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    full = A @ A.T + np.eye(3)
    covariances = {
        "full": np.stack([full, 2 * np.eye(3)]),
        "tied": full,
        "diag": np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]]),
        "spherical": np.array([1.5, 0.7]),
    }[covariance_type]
    means = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    est = _stub([0.3, 0.7], means, covariances, covariance_type)
    projection = plane_projection(est, None, (2, 0))
    draws = projected_mixture(est, projection)
    points = rng.standard_normal((5, 2))
    dense = {
        "full": lambda: covariances,
        "tied": lambda: np.stack([full, full]),
        "diag": lambda: np.stack([np.diag(c) for c in covariances]),
        "spherical": lambda: np.stack([c * np.eye(3) for c in covariances]),
    }[covariance_type]()
    index = np.ix_([2, 0], [2, 0])
    expected = np.log(
        sum(
            w * multivariate_normal(means[k][[2, 0]], dense[k][index]).pdf(points)
            for k, w in enumerate([0.3, 0.7])
        )
    )
    assert_allclose(log_predictive_density(points, draws), expected, rtol=1e-10)


def test_plot_density_draws_contours_over_the_data(fitted):
    est, X = fitted
    ax = plotting.plot_density(est, X, grid_size=40)
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(contours) == 1
    assert len(contours[0].levels) > 3
    xmin, xmax = ax.get_xlim()
    assert xmin < X[:, 0].min() and xmax > X[:, 0].max()


def test_plot_assignments_sizes_grow_with_uncertainty(fitted):
    est, X = fitted
    ax = plotting.plot_assignments(est, X)
    points = [c for c in ax.collections if len(c.get_offsets()) == len(X)]
    assert len(points) == 1
    sizes = points[0].get_sizes()
    uncertainty = 1 - est.predict_proba(X).max(axis=1)
    order = np.argsort(uncertainty)
    assert np.all(np.diff(sizes[order]) >= -1e-9)
    assert_allclose(points[0].get_offsets(), X)
    # One legend entry per used component.
    assert len(ax.get_legend_handles_labels()[1]) == len(np.unique(est.predict(X)))


def test_plot_mean_posterior_one_cloud_per_component(fitted):
    est, X = fitted
    ax = plotting.plot_mean_posterior(est, X)
    clouds = [c for c in ax.collections if c.get_label().startswith("component")]
    assert len(clouds) == 3
    n_draws = est.num_chains * est.num_samples
    assert all(len(c.get_offsets()) == n_draws for c in clouds)


def test_pca_projection_for_more_features():
    rng = np.random.default_rng(1)
    means = np.array([[0.0, 0, 0, 0], [4, 4, 0, 0]])
    est = _stub([0.5, 0.5], means, np.ones((2, 4)), "diag")
    X = np.vstack([m + rng.standard_normal((50, 4)) for m in means])
    ax = plotting.plot_assignments(est, X, features="pca")
    assert ax.get_xlabel() == "principal component 1"
    offsets = [c for c in ax.collections if len(c.get_offsets()) == len(X)][0]
    # The clusters separate along the first principal component.
    pc1 = offsets.get_offsets()[:, 0]
    assert abs(pc1[:50].mean() - pc1[50:].mean()) > 4.5  # the means are 5.7 apart
    with pytest.raises(ValueError, match="out of range"):
        plotting.plot_components(est, features=(0, 7))
    with pytest.raises(ValueError, match="pair of column indices or 'pca'"):
        plotting.plot_components(est, features="tsne")


def test_one_feature_density_and_assignments():
    est = _stub([0.5, 0.5], [[-2.0], [2.0]], [0.5, 0.5], "spherical")
    X = np.linspace(-4, 4, 30)[:, None]
    ax = plotting.plot_density(est, X, log=False)
    line = [ln for ln in ax.get_lines() if ln.get_label() == "posterior predictive"][0]
    xs, ys = line.get_data()
    expected = 0.5 * sum(multivariate_normal(m, 0.5).pdf(xs) for m in (-2.0, 2.0))
    assert_allclose(ys, expected, rtol=1e-8)
    plt.figure()
    ax = plotting.plot_assignments(est, X)
    assert ax.get_ylabel().startswith("uncertainty")
    with pytest.raises(ValueError, match="at least 2 features"):
        plotting.plot_components(est)


def test_plot_criterion_from_dict_with_and_without_se():
    results = {
        "n_components": np.array([1, 2, 3]),
        "bic": np.array([30.0, 10.0, 12.0]),
        "elpd_loo": np.array([-20.0, -5.0, -4.5]),
        "se_elpd_loo": np.array([2.0, np.nan, 1.0]),
    }
    ax = plotting.plot_criterion(results)
    assert len(ax.containers) == 1
    assert not ax.containers[0].has_yerr
    assert ax.get_ylabel() == "BIC (lower is better)"
    plt.figure()
    ax = plotting.plot_criterion(results, "loo")
    assert ax.containers[0].has_yerr
    assert "higher is better" in ax.get_ylabel()
    with pytest.raises(ValueError, match="no criterion 'waic'"):
        plotting.plot_criterion(results, "waic")


def test_plot_criterion_of_a_selector_marks_the_choice(three_blobs):
    from sklearn.mixture import GaussianMixture

    from skbayesmix import BayesianGMMSelector

    X, _ = three_blobs
    selector = BayesianGMMSelector(
        GaussianMixture(max_iter=20, random_state=0),
        n_components_range=(1, 2, 3, 4),
        covariance_types=("full", "spherical"),
    ).fit(X)
    ax = plotting.plot_criterion(selector)
    assert len(ax.containers) == 2  # one line per covariance type
    labels = ax.get_legend_handles_labels()[1]
    assert f"selected: K = {selector.best_n_components_}" in labels
    assert {"full", "spherical"} <= set(labels)


def test_plot_trace_and_rank(fitted):
    est, _ = fitted
    axes = plotting.plot_trace(est, var_names=("weights",))
    assert axes.shape == (1, 2)
    # One trace line per component and chain.
    assert len(axes[0, 1].get_lines()) >= est.n_components * est.num_chains
    axes = plotting.plot_rank(est, var_names=("weights",))
    assert np.size(axes) == est.n_components
    assert all(ax.has_data() for ax in np.ravel(axes))


def test_unfitted_estimator_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        plotting.plot_components(BayesianGMM())
