"""
================================================================
BayesPy's Gaussian mixture: ten components, four of them used
================================================================

BayesPy's Gaussian-mixture example fits a mixture with a "large enough" number
of components, K = 10, to 200 points from four Gaussians, with a sparse
Dirichlet(1e-5) prior on the weights, by variational Bayes. "From the ten
cluster components, the model uses effectively the correct number of clusters
(4)", shown as ellipses at two standard deviations.

Here the same overfitted mixture is sampled by NUTS with
:class:`~skbayesmix.BayesianGMM`. With ``weight_concentration`` below 0.1 the
estimator switches by itself to a start from the maximum-likelihood mixture
that BIC prefers among 1 to 10 components (surplus components start empty
instead of splitting clusters between them, as a k-means start with ten
clusters would) and to a weight parameterisation that NUTS can sample when
weights approach zero; see the user guide.
"""

# %%
import os

FAST = os.environ.get("SKBAYESMIX_EXAMPLES_FAST") == "1"
NUM_WARMUP = 20 if FAST else 400
NUM_SAMPLES = 20 if FAST else 600

# %%
# Data
# ----
# Exactly BayesPy's four Gaussians, 50 points each.
import matplotlib.pyplot as plt
import numpy as np

rng = np.random.RandomState(0)
y0 = rng.multivariate_normal([0, 0], [[2, 0], [0, 0.1]], size=50)
y1 = rng.multivariate_normal([0, 0], [[0.1, 0], [0, 2]], size=50)
y2 = rng.multivariate_normal([2, 2], [[2, -1.5], [-1.5, 2]], size=50)
y3 = rng.multivariate_normal([-2, -2], [[0.5, 0], [0, 0.5]], size=50)
y = np.vstack([y0, y1, y2, y3])

fig, ax = plt.subplots(figsize=(5, 4.5))
ax.plot(y[:, 0], y[:, 1], "rx")
ax.set_title("BayesPy's data: 200 points, 4 Gaussians")

# %%
# An overfitted mixture
# ---------------------
# K = 10 components and a sparse Dirichlet prior. BayesPy's 1e-5 is an extreme
# value for variational Bayes; with MCMC, 1e-3 already makes surplus
# components vanish (their posterior weights sit near zero).
from skbayesmix import BayesianGMM

gmm = BayesianGMM(
    n_components=10,
    weight_concentration=1e-3,
    num_warmup=NUM_WARMUP,
    num_samples=NUM_SAMPLES,
    random_state=0,
).fit(y)

print("posterior mean weights:", np.round(gmm.weights_, 3))
print("effective components:", gmm.n_effective_components_)
print(
    f"divergences: {gmm.diagnostics_['divergences']} of "
    f"{gmm.num_chains * gmm.num_samples} draws"
)

# %%
# ``n_effective_components_`` is the posterior median of the number of
# components whose expected membership count is at least one observation; its
# posterior distribution is in ``n_effective_components_draws_``.
values, counts = np.unique(gmm.n_effective_components_draws_, return_counts=True)
for value, count in zip(values, counts):
    print(f"{value} effective components in {count / counts.sum():.0%} of the draws")

# %%
# Components at two standard deviations
# -------------------------------------
# As BayesPy's ``gaussian_mixture_2d(Y, alpha=alpha, scale=2)``: one ellipse per
# component at two standard deviations, opacity growing with the weight.
# Components with a posterior mean weight below 1% are not drawn.
from skbayesmix.plotting import plot_components

fig, ax = plt.subplots(figsize=(5.5, 5))
plot_components(gmm, y, n_std=2, ax=ax)
ax.legend(loc="lower right", fontsize="small")

# %%
# The surplus components are not lost: their posterior weights are tiny but
# sampled, and their means wander over the prior. The posterior draws of the
# occupied components' means are tight clouds.
from skbayesmix.plotting import plot_mean_posterior

fig, ax = plt.subplots(figsize=(5.5, 5))
plot_mean_posterior(gmm, y, ax=ax)

# %%
# Density estimation
# ------------------
# The posterior predictive density captures the four shapes, including the
# two crossing elongated clusters at the origin.
from skbayesmix.plotting import plot_density

fig, ax = plt.subplots(figsize=(5.5, 5))
plot_density(gmm, y, ax=ax)
