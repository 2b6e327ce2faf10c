"""The ``skbayesmix`` command's PNG figure (needs matplotlib, imported lazily)."""

FIGURE_NAME = "skbayesmix.png"


def write_figure(path, selector, X, title):
    """Draw the assignments, the density with ellipses and the criterion curve.

    With a single candidate the third panel shows the posterior of the means
    instead of the criterion curve (nothing for one feature).

    Parameters
    ----------
    path : str
        The PNG file to write.
    selector : BayesianGMMSelector
        The fitted selector.
    X : ndarray of shape (n_samples, n_features)
        The data it was fitted to.
    title : str
        The figure's title.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from skbayesmix import plotting

    est = selector.best_estimator_
    features = (0, 1) if X.shape[1] <= 2 else "pca"
    several = len(selector.cv_results_["n_components"]) > 1
    fig, axes = plt.subplots(1, 3, figsize=(16, 5), layout="constrained")
    plotting.plot_assignments(est, X, features=features, ax=axes[0])
    if X.shape[1] >= 2:
        # Ellipses first, with X, so that a PCA plane is the one of the density.
        plotting.plot_components(est, X, features=features, ax=axes[1])
    plotting.plot_density(est, X, features=features, ax=axes[1])
    if X.shape[1] >= 2:
        axes[1].set_title("posterior predictive density and 2-std ellipses")
    if several:
        plotting.plot_criterion(selector, ax=axes[2])
    elif X.shape[1] >= 2:
        plotting.plot_mean_posterior(est, X, features=features, ax=axes[2])
    else:
        axes[2].set_axis_off()
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
