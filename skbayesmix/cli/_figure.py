"""The ``skbayesmix`` command's PNG figure (needs matplotlib, imported lazily)."""

FIGURE_NAME = "skbayesmix.png"


def draw_figure(selector, X, feature_names, title):
    """Draw the assignments, the density with ellipses and the criterion curve.

    With a single candidate the third panel shows the posterior of the means
    instead of the criterion curve (nothing for one feature). Two features are
    drawn as they are and their axes carry ``feature_names``; more are drawn on
    their first two principal components.

    Parameters
    ----------
    selector : BayesianGMMSelector
        The fitted selector.
    X : ndarray of shape (n_samples, n_features)
        The data it was fitted to.
    feature_names : list of str
        The names of the columns of ``X``.
    title : str
        The figure's title.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from skbayesmix import plotting

    est = selector.best_estimator_
    n_features = X.shape[1]
    features = (0, 1) if n_features <= 2 else "pca"
    several = len(selector.cv_results_["n_components"]) > 1
    fig, axes = plt.subplots(1, 3, figsize=(16, 5), layout="constrained")
    plotting.plot_assignments(est, X, features=features, ax=axes[0])
    if n_features >= 2:
        # Ellipses first, with X, so that a PCA plane is the one of the density.
        plotting.plot_components(est, X, features=features, ax=axes[1])
    plotting.plot_density(est, X, features=features, ax=axes[1])
    if n_features >= 2:
        axes[1].set_title("posterior predictive density and 2-std ellipses")
    if several:
        plotting.plot_criterion(selector, ax=axes[2])
    elif n_features >= 2:
        plotting.plot_mean_posterior(est, X, features=features, ax=axes[2])
    else:
        axes[2].set_axis_off()
    # The estimator was fitted on an array, so the plots know no column names.
    if n_features == 1:
        for ax in axes[:2]:
            ax.set_xlabel(feature_names[0])
    elif n_features == 2:
        for ax in axes[:2] if several else axes:
            ax.set_xlabel(feature_names[0])
            ax.set_ylabel(feature_names[1])
    fig.suptitle(title)
    return fig


def write_figure(path, selector, X, feature_names, title):
    """Draw the figure of :func:`draw_figure` and save it as a PNG file.

    Parameters
    ----------
    path : str
        The PNG file to write.
    selector : BayesianGMMSelector
        The fitted selector.
    X : ndarray of shape (n_samples, n_features)
        The data it was fitted to.
    feature_names : list of str
        The names of the columns of ``X``.
    title : str
        The figure's title.
    """
    fig = draw_figure(selector, X, feature_names, title)
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
