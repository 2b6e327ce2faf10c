"""
=====================================================
Turing.jl's Gaussian mixture tutorial, with NUTS here
=====================================================

Turing.jl's tutorial "Unsupervised Learning using Bayesian Mixture Models"
draws 60 points from two isotropic Gaussians and recovers the two clusters with
a Gibbs sampler (particle Gibbs for the assignments, HMC for the means and
weights), 3 chains of 100 draws. Here the same model is fitted by
:class:`~skbayesmix.BayesianGMM`: the assignments are marginalised out, so NUTS
samples only the continuous parameters, and the assignments are recovered
afterwards as posterior membership probabilities.
"""

# %%
# Sampler settings. The gallery uses the values below; the test suite sets
# ``SKBAYESMIX_EXAMPLES_FAST=1`` to run the example with tiny ones.
import os

FAST = os.environ.get("SKBAYESMIX_EXAMPLES_FAST") == "1"
NUM_WARMUP = 20 if FAST else 500
NUM_SAMPLES = 20 if FAST else 500

# %%
# Synthetic data
# --------------
# Equal weights, isotropic unit covariances, means ``[-3.5, -3.5]`` and
# ``[0.5, 0.5]``, 60 points, as in the tutorial (NumPy's generator replaces
# Julia's, so the points differ but the distribution is the same).
import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(3)
mu = np.array([-3.5, 0.5])
z_true = rng.choice(2, size=60, p=[0.5, 0.5])
X = rng.standard_normal((60, 2)) + mu[z_true][:, None]

fig, ax = plt.subplots(figsize=(5, 4.5))
ax.scatter(X[:, 0], X[:, 1])
ax.set_title("Synthetic dataset")

# %%
# The model
# ---------
# The tutorial's priors are ``mu_k ~ Normal(0, 1)`` and ``w ~ Dirichlet(1, 1)``
# in data units. ``mean_prior=[0, 0]`` with ``standardize=False`` and
# ``mean_prior_scale=1`` states exactly that prior for the means, and
# ``weight_concentration=1`` that of the weights. Turing's model fixes the
# covariances to the identity; ``covariance_type="spherical"`` samples one
# variance per component instead, with a half-Cauchy prior. Three chains, as in
# the tutorial.
from skbayesmix import BayesianGMM

gmm = BayesianGMM(
    n_components=2,
    covariance_type="spherical",
    weight_concentration=1.0,
    mean_prior=[0.0, 0.0],
    mean_prior_scale=1.0,
    standardize=False,
    num_chains=3,
    num_warmup=NUM_WARMUP,
    num_samples=NUM_SAMPLES,
    random_state=0,
).fit(X)

print("posterior mean weights:", gmm.weights_.round(3))
print("posterior mean means:\n", gmm.means_.round(2))
print("posterior mean variances:", gmm.covariances_.round(2))
print(
    f"divergences: {gmm.diagnostics_['divergences']}, "
    f"max R-hat: {gmm.diagnostics_['max_r_hat']:.3f}"
)

# %%
# Traces
# ------
# The tutorial's first figures are the traces of ``mu`` and ``w``. Each colour
# is a component (both coordinates of each mean are shown), each line style a
# chain: the three chains overlap.
from skbayesmix.plotting import plot_trace

axes = plot_trace(gmm, var_names=("means", "weights"))
axes[0, 0].figure.set_size_inches(10, 5)

# %%
# Label switching
# ---------------
# The tutorial warns that "the modes of mu_1 and mu_2 can switch between
# chains": the likelihood does not change when the two components swap labels,
# so one chain may call the left cluster component 1 while another calls it
# component 2. Averaging over such chains gives meaningless means, and R-hat
# flags the disagreement. skbayesmix prevents it twice over:
#
# 1. every chain starts from the same k-means solution (with a little jitter),
#    so chains begin in the same labelling;
# 2. after sampling, every draw is *relabelled*: its components are permuted to
#    best match a common reference (the k-means centres, refined to the mean of
#    the relabelled draws) by an optimal assignment on the component means.
#    ``posterior_samples_``, every point estimate, prediction and R-hat use the
#    relabelled draws.
#
# To see what step 2 does, let us switch the labels of the third chain by hand,
# as a chain started elsewhere might have done, and look at R-hat.
import warnings

from scipy.optimize import linear_sum_assignment

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az



def max_r_hat(draws):
    """Largest R-hat over the components and coordinates of the means."""
    return float(az.rhat(az.convert_to_dataset({"means": draws}))["means"].max())


means = gmm.posterior_samples_["means"]  # (chain, draw, component, feature)
switched = means.copy()
switched[2] = switched[2][:, ::-1]
print(f"max R-hat, the estimator's relabelled draws: {max_r_hat(means):.3f}")
print(f"max R-hat, third chain switched: {max_r_hat(switched):.3f}")

# %%
# Relabelling: for each draw, the permutation of its components that minimises
# the squared distance to the reference means (here the mean of the first
# chain). This is the algorithm the estimator applies to every draw.
reference = switched[0].mean(axis=0)
relabelled = switched.copy()
for c in range(switched.shape[0]):
    for s in range(switched.shape[1]):
        cost = ((reference[:, None, :] - switched[c, s][None]) ** 2).sum(-1)
        relabelled[c, s] = switched[c, s][linear_sum_assignment(cost)[1]]
print(f"max R-hat after relabelling: {max_r_hat(relabelled):.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
for ax, draws, title in [
    (axes[0], switched, "third chain label-switched"),
    (axes[1], relabelled, "after relabelling"),
]:
    for c, style in zip(range(draws.shape[0]), ["-", "--", ":"]):
        for k in range(2):
            ax.plot(draws[c, :, k, 0], style, color=f"C{k}", lw=0.8)
    ax.set_title(title)
    ax.set_xlabel("draw")
axes[0].set_ylabel("first coordinate of the means")
fig.tight_layout()

# %%
# Posterior predictive density
# ----------------------------
# The tutorial plots the log-density of the mixture at the posterior mean of
# the parameters of the first chain. :func:`~skbayesmix.plotting.plot_density`
# plots the log *posterior predictive* density: the mixture averaged over all
# posterior draws of all chains.
from skbayesmix.plotting import plot_density

fig, ax = plt.subplots(figsize=(5.5, 4.5))
plot_density(gmm, X, ax=ax)

# %%
# Inferred assignments
# --------------------
# The tutorial colours each point by the posterior mean of its sampled
# assignment. Here ``predict_proba`` gives each point's posterior membership
# probabilities, and :func:`~skbayesmix.plotting.plot_assignments` colours by
# the most probable component and grows the markers of uncertain points
# (uncertainty = 1 - largest membership probability). The dataset is
# partitioned into two distinct groups; only points between them are uncertain.
from skbayesmix.plotting import plot_assignments

fig, ax = plt.subplots(figsize=(5.5, 4.5))
plot_assignments(gmm, X, ax=ax)
uncertainty = 1 - gmm.predict_proba(X).max(axis=1)
print("points with uncertainty above 0.05:", int((uncertainty > 0.05).sum()))
