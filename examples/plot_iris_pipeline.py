"""
=====================================================================
BayesianGMM in a scikit-learn pipeline: iris, against GaussianMixture
=====================================================================

:class:`~skbayesmix.BayesianGMM` is a drop-in replacement for
:class:`sklearn.mixture.GaussianMixture`. Here both cluster the iris flowers
(4 features, 150 flowers, 3 species) inside the same
``Pipeline(StandardScaler(), ...)``; we compare the clusterings with the
species and look at what the Bayesian fit adds: how uncertain each assignment
is, averaged over the posterior rather than at one point estimate.
"""

# %%
import os

FAST = os.environ.get("SKBAYESMIX_EXAMPLES_FAST") == "1"
NUM_WARMUP = 20 if FAST else 500
NUM_SAMPLES = 20 if FAST else 500

# %%
# Two pipelines that differ in their last step only.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbayesmix import BayesianGMM

X, species = load_iris(return_X_y=True)

em = make_pipeline(StandardScaler(), GaussianMixture(3, n_init=10, random_state=0))
bayes = make_pipeline(
    StandardScaler(),
    BayesianGMM(3, num_warmup=NUM_WARMUP, num_samples=NUM_SAMPLES, random_state=0),
)
labels_em = em.fit_predict(X)
labels_bayes = bayes.fit_predict(X)
print(f"ARI GaussianMixture: {adjusted_rand_score(species, labels_em):.3f}")
print(f"ARI BayesianGMM:     {adjusted_rand_score(species, labels_bayes):.3f}")
print(f"mean log-likelihood of the data, EM:         {em.score(X):.3f}")
print(f"posterior predictive mean log density:       {bayes.score(X):.3f}")

# %%
# Assignment uncertainty
# ----------------------
# Uncertainty = 1 - largest membership probability. The EM fit's probabilities
# come from one parameter estimate; the Bayesian ones average over the
# posterior, so they also reflect how uncertain the components themselves
# are. Both agree that versicolor and virginica overlap.
uncertainty_em = 1 - em.predict_proba(X).max(axis=1)
uncertainty_bayes = 1 - bayes.predict_proba(X).max(axis=1)
for name, u in [
    ("GaussianMixture", uncertainty_em),
    ("BayesianGMM", uncertainty_bayes),
]:
    print(f"{name:16s}: {np.sum(u > 0.1):3d} flowers with uncertainty > 0.1")

fig, ax = plt.subplots(figsize=(5.5, 4))
bins = np.linspace(0, 0.7, 29)
ax.hist(uncertainty_em, bins=bins, alpha=0.6, label="GaussianMixture")
ax.hist(uncertainty_bayes, bins=bins, alpha=0.6, label="BayesianGMM")
ax.set_xlabel("uncertainty (1 - max membership probability)")
ax.set_ylabel("flowers")
ax.set_yscale("log")
ax.legend()

# %%
# Four features on a plane
# ------------------------
# With more than two features the plotting functions show two chosen features
# (``features=(i, j)``) or the first two principal components
# (``features="pca"``). A linear projection of a Gaussian mixture is a Gaussian
# mixture, so the ellipses are the exact projected components. The pipeline's
# last step sees standardised data, so we plot that.
from skbayesmix.plotting import plot_assignments, plot_components

gmm = bayes[-1]
X_scaled = bayes[:-1].transform(X)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
plot_assignments(gmm, X_scaled, features="pca", ax=axes[0])
plot_components(gmm, X_scaled, features=(2, 3), ax=axes[1])
axes[1].set_xlabel("petal length (standardised)")
axes[1].set_ylabel("petal width (standardised)")
