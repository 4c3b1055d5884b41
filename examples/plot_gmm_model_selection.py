"""
=========================================================
Choosing the number of components and the covariance type
=========================================================

Three ways to choose a :class:`~skvi.mixture.VariationalGMM`, side by side:

* the held-out score: ``score`` is the mean log posterior-predictive density of new
  samples (a Student-t mixture, Bishop 2006, eq. 10.81), so
  :class:`~sklearn.model_selection.GridSearchCV` with the default scorer picks the model
  that predicts held-out data best;
* the training ELBO: a lower bound on the log evidence ``log p(X)``, which already
  charges a model for its complexity (Bishop 2006, §10.2.4). skvi computes it in full,
  constants included, so it compares across ``n_components`` and covariance types;
* the Dirichlet-process prior: given more components than it needs, the fit switches
  the superfluous ones off, and ``n_active_components_`` counts those left.
"""

# %%
# Three elongated clusters with different orientations
# ----------------------------------------------------
# Each cluster has its own covariance, so 'full' is the right family: 'tied' forces one
# shared covariance, 'diag' axis-aligned ellipses and 'spherical' circles, and these
# need more components to cover the same clusters.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from skvi.mixture import VariationalGMM

rng = np.random.RandomState(0)


def rotation(angle):
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


clusters = [  # centre, standard deviations along the two axes, angle, size
    ((0.0, 0.0), (2.0, 0.4), 0.3, 250),
    ((5.0, 3.0), (1.5, 0.3), -0.9, 200),
    ((-1.0, 5.0), (0.6, 0.6), 0.0, 150),
]
X = np.vstack(
    [
        rng.normal(size=(n, 2)) * scale @ rotation(angle).T + centre
        for centre, scale, angle, n in clusters
    ]
)

# %%
# Grid search on the held-out predictive density
# ----------------------------------------------
# Five-fold cross-validation over eight values of ``n_components`` and the four
# covariance types. The default scorer is the estimator's ``score``, here the mean held-out
# log predictive density per sample (higher is better).
base = VariationalGMM(max_iter=500, tol=1e-4, random_state=0)
param_grid = {
    "n_components": list(range(1, 9)),
    "covariance_type": ["full", "tied", "diag", "spherical"],
}
search = GridSearchCV(base, param_grid, cv=KFold(5, shuffle=True, random_state=0)).fit(X)
print("best parameters:", search.best_params_)
print(f"best held-out score: {search.best_score_:.4f} nats per sample")

# %%
# Training ELBO and active components on all the data
# ---------------------------------------------------
# Each model is also fitted once on all 600 samples: ``elbo_`` divided by the number of
# samples is on the same scale as the held-out score (the log evidence is the sum of
# the sequential log predictive densities), and ``n_active_components_`` counts the
# components that hold at least one sample.
n_components = param_grid["n_components"]
table = {}
for covariance_type in param_grid["covariance_type"]:
    fits = [
        clone(base).set_params(n_components=k, covariance_type=covariance_type).fit(X)
        for k in n_components
    ]
    table[covariance_type] = dict(
        elbo=[gmm.elbo_ / len(X) for gmm in fits],
        active=[gmm.n_active_components_ for gmm in fits],
    )
    best_k = n_components[int(np.argmax(table[covariance_type]["elbo"]))]
    print(f"{covariance_type:9s}: highest ELBO at n_components={best_k}")

results = search.cv_results_
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
for i, covariance_type in enumerate(param_grid["covariance_type"]):
    rows = results["param_covariance_type"] == covariance_type
    ks = np.asarray(results["param_n_components"][rows], dtype=int)
    axes[0].errorbar(
        ks + 0.06 * (i - 1.5),
        results["mean_test_score"][rows],
        yerr=results["std_test_score"][rows] / np.sqrt(5),
        marker="o",
        capsize=3,
        label=covariance_type,
    )
    axes[1].plot(n_components, table[covariance_type]["elbo"], marker="o", label=covariance_type)
    axes[2].plot(
        np.asarray(n_components) + 0.06 * (i - 1.5),
        table[covariance_type]["active"],
        marker="o",
        label=covariance_type,
    )
axes[0].set_title("GridSearchCV: held-out score (mean ± s.e.)")
axes[0].set_ylabel("mean log predictive density (nats)")
axes[1].set_title("training ELBO per sample")
axes[1].set_ylabel("ELBO / n_samples (nats)")
axes[2].plot(n_components, n_components, "k:", lw=1, label="n_components")
axes[2].set_title("Dirichlet-process prior: active components")
axes[2].set_ylabel("n_active_components_")
for ax in axes:
    ax.set_xlabel("n_components")
    ax.set_xticks(n_components)
    ax.legend(fontsize=8)
fig.tight_layout()

# %%
# All three criteria agree here. With 'full' covariances the held-out score and the
# ELBO climb to three components and then level off: the extra components are switched
# off by the Dirichlet-process prior (right), so ``n_components`` beyond three costs
# almost nothing, and GridSearchCV's pick among these nearly equal scores is a matter of
# noise. (The ELBO drifts down a little beyond five components because, with more
# components, a single restart more often ends on a slightly worse local optimum, for
# example with an emptied component early in the stick-breaking order, where it still
# holds a share of the weight; ``n_init`` > 1 removes most of the drift.)
#
# The restricted families keep improving with more components, because they need
# several ellipses or circles to tile each elongated cluster, yet stay below 'full'.
# Unlike a maximum-likelihood fit, neither curve rises without bound as components are
# added: the ELBO is a bound on the evidence, not a training likelihood.

# %%
# What the winners look like
# --------------------------
# The best 'full' model and the best 'spherical' model, with ellipses of two standard
# deviations around each active component.


def draw(ax, gmm, title):
    ax.scatter(X[:, 0], X[:, 1], s=4, c="0.6")
    counts = gmm.mean_precision_ - gmm.mean_precision_prior_
    for k in np.flatnonzero(counts >= 1.0):
        if gmm.covariance_type == "full":
            covariance = gmm.covariances_[k]
        else:  # spherical: one variance per component
            covariance = gmm.covariances_[k] * np.eye(2)
        values, vectors = np.linalg.eigh(covariance)
        angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
        width, height = 4.0 * np.sqrt(values[::-1])
        ax.add_patch(
            Ellipse(gmm.means_[k], width, height, angle=angle, fill=False, color="C3", lw=1.5)
        )
    ax.set_title(title)
    ax.set_xlabel("x1")
    ax.set_aspect("equal")


fig, axes = plt.subplots(1, 2, figsize=(10, 5), sharey=True)
for ax, covariance_type in zip(axes, ["full", "spherical"], strict=True):
    rows = np.flatnonzero(results["param_covariance_type"] == covariance_type)
    best = rows[np.argmax(results["mean_test_score"][rows])]
    k = int(results["param_n_components"][best])
    gmm = clone(base).set_params(n_components=k, covariance_type=covariance_type).fit(X)
    draw(
        ax,
        gmm,
        f"{covariance_type}, n_components={k}: {gmm.n_active_components_} active\n"
        f"held-out score {results['mean_test_score'][best]:.3f}",
    )
axes[0].set_ylabel("x2")
fig.tight_layout()
plt.show()
