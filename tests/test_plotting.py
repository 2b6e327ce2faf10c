"""skbayesmix.plotting: each function returns Axes holding the expected artists."""

import subprocess
import sys
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

from skbayesmix import BayesianGMM, BayesianGMMSelector, plotting  # noqa: E402
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


@pytest.fixture(scope="module")
def named_selector(three_blobs):
    """A selector fitted on a DataFrame with named columns (one candidate)."""
    pd = pytest.importorskip("pandas")
    X, _ = three_blobs
    df = pd.DataFrame(X, columns=["width", "height"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        selector = BayesianGMMSelector(
            BayesianGMM(**FAST), n_components_range=(3,)
        ).fit(df)
    return selector, df


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
    with pytest.raises(ValueError, match="pair of column names or indices, or 'pca'"):
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


# ------------------------------------------------------------ feature names

NAMES = np.array(["alpha", "beta", "gamma"], dtype=object)


def _named_stub():
    """Three features named as if fitted on a DataFrame, and matching data."""
    means = np.array([[0.0, 10.0, 100.0], [5.0, 20.0, 300.0]])
    est = _stub([0.5, 0.5], means, np.array([[1.0, 4.0, 900.0]] * 2), "diag")
    est.feature_names_in_ = NAMES
    rng = np.random.default_rng(0)
    X = np.vstack([m + rng.standard_normal((20, 3)) * [1, 2, 30] for m in means])
    return est, X


@pytest.mark.parametrize(
    "plot",
    [
        plotting.plot_components,
        plotting.plot_density,
        plotting.plot_assignments,
        plotting.plot_mean_posterior,
    ],
)
def test_features_by_name_select_the_same_columns_as_indices(plot):
    est, X = _named_stub()
    by_name = plot(est, X, features=("gamma", "alpha"))
    assert (by_name.get_xlabel(), by_name.get_ylabel()) == ("gamma", "alpha")
    plt.figure()
    by_index = plot(est, X, features=(2, 0))
    assert (by_index.get_xlabel(), by_index.get_ylabel()) == ("gamma", "alpha")
    assert_allclose(by_name.get_xlim(), by_index.get_xlim())
    assert_allclose(by_name.get_ylim(), by_index.get_ylim())
    # Feature gamma (means 100, 300) is on x, not feature beta or alpha.
    assert by_name.get_xlim()[1] > 250


def test_plot_components_by_name_draws_the_named_features():
    est, _ = _named_stub()
    ax = plotting.plot_components(est, features=("beta", "gamma"))
    centres = np.array(sorted(tuple(e.center) for e in _ellipses(ax)))
    assert_allclose(centres, est.means_[:, [1, 2]])


def test_feature_names_from_dataframe_columns():
    pd = pytest.importorskip("pandas")
    est, X = _named_stub()
    del est.feature_names_in_
    df = pd.DataFrame(X, columns=NAMES)
    ax = plotting.plot_assignments(est, df, features=("beta", "alpha"))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("beta", "alpha")
    points = [c for c in ax.collections if len(c.get_offsets()) == len(X)][0]
    assert_allclose(points.get_offsets(), X[:, [1, 0]])
    # Without names anywhere, labels stay positional and names are refused.
    plt.figure()
    ax = plotting.plot_components(est, X, features=(1, 0))
    assert ax.get_xlabel() == "feature 1"
    with pytest.raises(ValueError, match="'beta' is given by name, but the estim"):
        plotting.plot_components(est, X, features=("beta", 0))


def test_unknown_feature_name_is_named_with_the_available_ones():
    est, X = _named_stub()
    with pytest.raises(ValueError) as info:
        plotting.plot_components(est, X, features=("alpha", "delta"))
    message = str(info.value)
    assert "'delta'" in message
    assert "['alpha', 'beta', 'gamma']" in message
    with pytest.raises(ValueError, match="Unknown feature 'delta'"):
        plotting.plot_trace(est, features=["delta"])
    with pytest.raises(ValueError, match="pair of column names or indices"):
        plotting.plot_components(est, X, features=("alpha", "beta", "gamma"))


def test_dataframe_with_other_columns_is_rejected():
    pd = pytest.importorskip("pandas")
    est, X = _named_stub()
    df = pd.DataFrame(X, columns=["gamma", "beta", "alpha"])
    with pytest.raises(ValueError, match="differ from the feature names seen at"):
        plotting.plot_components(est, df)


def test_selector_fitted_on_a_dataframe_labels_with_its_names(named_selector):
    selector, df = named_selector
    ax = plotting.plot_components(selector, df, features=("height", "width"))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("height", "width")
    centres = np.array(sorted(tuple(e.center) for e in _ellipses(ax)))
    means = selector.best_estimator_.means_[:, ::-1]
    assert_allclose(centres, means[np.argsort(means[:, 0])])
    plt.figure()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "fitted without feature names" notice
        ax = plotting.plot_assignments(selector, df, features=("width", "height"))
    assert ax.get_xlabel() == "width"
    axes = plotting.plot_trace(selector)
    titles = [ax.get_title() for ax in axes[:, 1]]
    assert titles == ["weights", "means: width", "means: height"]


# -------------------------------------------------------------------- trace


def test_plot_trace_one_panel_per_group_and_feature(fitted):
    est, _ = fitted
    axes = plotting.plot_trace(est, var_names=("weights", "means", "covariances"))
    assert axes.shape == (5, 2)
    titles = [ax.get_title() for ax in axes[:, 1]]
    assert titles == [
        "weights",
        "means: feature 0",
        "means: feature 1",
        "variances: feature 0",
        "variances: feature 1",
    ]
    assert [ax.get_title() for ax in axes[:, 0]] == titles
    # Each feature's means on their own scale, a line per component and chain.
    samples = est.posterior_samples_
    for d, ax in enumerate(axes[1:3, 1]):
        lo, hi = ax.get_ylim()
        assert lo <= samples["means"][..., d].min()
        assert hi >= samples["means"][..., d].max()
        assert hi - lo < 2 * np.ptp(samples["means"][..., d])
        assert len(ax.get_lines()) >= est.n_components * est.num_chains
    assert not np.allclose(axes[1, 1].get_ylim(), axes[2, 1].get_ylim(), atol=0.5)
    # The variance rows show the diagonal of the covariances.
    variances = np.diagonal(samples["covariances"], axis1=-2, axis2=-1)
    assert axes[4, 1].get_ylim()[1] >= variances[..., 1].max()
    figure = axes[0, 0].figure
    assert figure.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"


def test_plot_trace_selects_features_and_groups(fitted):
    est, _ = fitted
    axes = plotting.plot_trace(est, var_names=("means",), features=[-1])
    assert axes.shape == (1, 2)
    assert axes[0, 1].get_title() == "means: feature 1"
    spherical = _stub([0.5, 0.5], [[0.0, 1.0], [2.0, 3.0]], [1.0, 2.0], "spherical")
    spherical.posterior_samples_ = {  # spread draws so the densities exist
        name: value + 0.01 * np.arange(4).reshape(1, 4, *[1] * (value.ndim - 2))
        for name, value in spherical.posterior_samples_.items()
    }
    axes = plotting.plot_trace(spherical, var_names=("covariances",))
    assert [ax.get_title() for ax in axes[:, 1]] == ["variances"]
    with pytest.raises(ValueError, match="var_names must be a sequence of"):
        plotting.plot_trace(est, var_names="means")
    with pytest.raises(ValueError, match="var_names must be a sequence of"):
        plotting.plot_trace(est, var_names=("mu",))


# -------------------------------------------------------- package attribute


def test_plotting_is_a_lazy_attribute_of_the_package():
    code = (
        "import sys, skbayesmix\n"
        "assert 'skbayesmix.plotting' not in sys.modules\n"
        # Nor JAX, ArviZ, matplotlib (ArviZ 0.x imports it) or Dask: all on
        # first use.
        "for heavy in ('matplotlib', 'arviz', 'jax', 'dask'):\n"
        "    assert heavy not in sys.modules, heavy\n"
        "assert 'plotting' in dir(skbayesmix)\n"
        "assert callable(skbayesmix.plotting.plot_components)\n"
        "assert skbayesmix.plotting is sys.modules['skbayesmix.plotting']\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    with pytest.raises(AttributeError, match="no attribute 'plotter'"):
        import skbayesmix

        skbayesmix.plotter  # noqa: B018


def test_missing_matplotlib_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install skbayesmix\[plot\]"):
        plotting.plot_components(object())
