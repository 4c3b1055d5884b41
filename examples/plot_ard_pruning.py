"""
=======================================================
Automatic relevance determination: which features stay
=======================================================

With ``ard=True``, :class:`~skvi.VariationalLinearRegression` gives every weight its own
precision lambda_j with a Gamma hyperprior, the model of scikit-learn's
:class:`~sklearn.linear_model.ARDRegression`. Weights the data do not support get a
large posterior precision; those above ``threshold_lambda`` are pruned (reported as
exactly zero), as ARDRegression does.

This example fits 40 features of which 6 matter, compares the coefficients with
ARDRegression and with a shared precision (``ard=False``, BayesianRidge's model), shows
the posterior precisions against the threshold, and how the number of kept features
changes with the amount of data.
"""

# %%
# Sparse ground truth
# -------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import ARDRegression

from skvi import VariationalLinearRegression

rng = np.random.RandomState(0)
n_features, relevant = 40, np.array([2, 7, 11, 19, 30, 33])
coef = np.zeros(n_features)
coef[relevant] = [2.0, -1.5, 1.0, -0.7, 0.5, 3.0]


def sample(n):
    X = rng.normal(size=(n, n_features))
    return X, X @ coef + 1.0 + rng.normal(size=n)


X, y = sample(500)
X_test, y_test = sample(5000)

# %%
# Fit with and without ARD, and ARDRegression
# -------------------------------------------
ard = VariationalLinearRegression(ard=True).fit(X, y)
shared = VariationalLinearRegression(ard=False).fit(X, y)
peer = ARDRegression().fit(X, y)
for name, model in [("VLR ard=True", ard), ("VLR ard=False", shared), ("ARDRegression", peer)]:
    kept = np.flatnonzero(model.coef_ != 0)
    print(
        f"{name:14s} held-out R2 {model.score(X_test, y_test):.4f}  kept {kept.size:2d} features"
    )
print("kept by ard=True:", np.flatnonzero(ard.coef_ != 0), " true:", relevant)
print("same pruning as ARDRegression:", np.array_equal(ard.coef_ == 0, peer.coef_ == 0))

fig, ax = plt.subplots(figsize=(8, 3.5))
index = np.arange(n_features)
ax.plot(index, coef, "k_", markersize=14, mew=2, label="truth")
ax.plot(index - 0.2, shared.coef_, "o", ms=4, label="ard=False (shared precision)")
ax.plot(index, peer.coef_, "x", ms=6, label="ARDRegression")
ax.plot(index + 0.2, ard.coef_, "s", ms=4, mfc="none", label="ard=True")
ax.set_xlabel("feature")
ax.set_ylabel("coefficient")
ax.legend(fontsize=8, ncol=2)
ax.set_title("ARD shrinks irrelevant weights to near zero and prunes many to exactly zero")
fig.tight_layout()

# %%
# Posterior precisions and the pruning threshold
# ----------------------------------------------
# ``lambda_`` holds E[lambda_j] under q. Relevant features have a precision of the order
# of 1 / coef_j^2. An irrelevant one does not grow without bound: with the default
# ``lambda_2 = 1e-6`` its fixed point is near sqrt(alpha G_jj / (2 lambda_2)), G_jj the
# feature's sum of squares (about n here), so with n = 500 and unit noise it sits around
# 1.6e4, close to the default ``threshold_lambda = 1e4`` (dotted): whether such a
# feature is pruned depends on the noise in its estimate, for ARDRegression alike.
fig, ax = plt.subplots(figsize=(8, 3.5))
colors = np.where(np.isin(index, relevant), "C2", "C3")
ax.bar(index, ard.lambda_, color=colors)
ax.axhline(ard.threshold_lambda, color="k", ls=":", label="threshold_lambda")
ax.set_yscale("log")
ax.set_xlabel("feature (green: relevant in truth)")
ax.set_ylabel("posterior mean precision")
ax.legend()
fig.tight_layout()

# %%
# More data, sharper selection
# ----------------------------
# With more samples the posterior of an irrelevant weight concentrates at zero, its
# precision's fixed point grows like sqrt(n), and more of them cross the threshold. The
# posterior variance of the kept weights (the diagonal of ``sigma_``) shrinks like 1 / n.
sizes = [50, 100, 200, 500, 1000, 2000, 5000, 20000]
n_kept, irrelevant_kept, mean_var = [], [], []
for n in sizes:
    X_n, y_n = sample(n)
    model = VariationalLinearRegression(ard=True).fit(X_n, y_n)
    kept = model.coef_ != 0
    n_kept.append(kept.sum())
    irrelevant_kept.append(np.sum(kept & ~np.isin(index, relevant)))
    mean_var.append(np.mean(np.diagonal(model.sigma_)[relevant]))
    print(
        f"n = {n:5d}: kept {n_kept[-1]:2d} features, {irrelevant_kept[-1]:2d} of them irrelevant"
    )

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.plot(sizes, n_kept, "o-", label="kept")
left.plot(sizes, irrelevant_kept, "s-", label="kept but irrelevant")
left.axhline(len(relevant), color="k", ls=":", label="relevant in truth")
left.set_xscale("log")
left.set_xlabel("training samples")
left.set_ylabel("features")
left.legend(fontsize=8)
right.loglog(sizes, mean_var, "o-")
right.set_xlabel("training samples")
right.set_ylabel("mean posterior variance, relevant weights")
fig.tight_layout()
plt.show()
