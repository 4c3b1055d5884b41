"""
=====================================================================
Moderated probabilities: what a Bayesian logistic regression knows
=====================================================================

:class:`skvi.VariationalLogisticRegression` keeps a Gaussian posterior over the
weights and integrates over it when it predicts (MacKay's probit approximation).
Its probabilities are never more confident than the plug-in sigmoid of the posterior
mean, and they fall back towards 1/2 far from the training data, where the weights
leave the logit uncertain. scikit-learn's :class:`~sklearn.linear_model.LogisticRegression`
gives the plug-in probabilities only.
"""

# %%
# Two small clouds of points, and both models fitted on them.
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvi import VariationalLogisticRegression

rng = np.random.default_rng(0)
X = np.vstack(
    [rng.normal([-1.0, 0.0], 1.2, size=(15, 2)), rng.normal([1.0, 0.5], 1.2, size=(15, 2))]
)
y = np.repeat([0, 1], 15)
bayes = VariationalLogisticRegression().fit(X, y)

# %%
# Predictive probability of class 1 on a wide grid: the plug-in sigmoid of the
# posterior mean (left) against the moderated predictive of skvi (right).
xx, yy = np.meshgrid(np.linspace(-8, 8, 200), np.linspace(-8, 8, 200))
grid = np.c_[xx.ravel(), yy.ravel()]
plug_in = expit(grid @ bayes.coef_[0] + bayes.intercept_[0]).reshape(xx.shape)
moderated = bayes.predict_proba(grid)[:, 1].reshape(xx.shape)

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True)
levels = np.linspace(0, 1, 11)
for ax, proba, title in [
    (axes[0], plug_in, "plug-in: sigmoid of the posterior mean"),
    (axes[1], moderated, "skvi: integrated over q(w)"),
]:
    contour = ax.contourf(xx, yy, proba, levels=levels, cmap="RdBu_r", alpha=0.8)
    ax.contour(xx, yy, proba, levels=[0.1, 0.5, 0.9], colors="k", linewidths=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="k")
    ax.set_title(title)
    ax.set_xlabel("feature 1")
axes[0].set_ylabel("feature 2")
fig.colorbar(contour, ax=axes, label="p(class 1)")
plt.show()

# %%
# The 10% and 90% contours (black) of the moderated predictive spread apart away from
# the data: confidence there is earned only where the posterior is sure of the logit.
# Along the decision boundary both agree, since moderation shrinks the logit towards 0
# without changing its sign.
points = np.array([[1.5, 0.0], [1.5, 7.0]])  # near the data, and far above it
print("plug-in   p(class 1):", expit(points @ bayes.coef_[0] + bayes.intercept_[0]).round(3))
print("moderated p(class 1):", bayes.predict_proba(points)[:, 1].round(3))

# %%
# Reliability diagram on breast_cancer, from 5-fold cross-validated probabilities: the
# observed frequency of the positive class against the predicted probability.
X, y = load_breast_cancer(return_X_y=True)
cv = StratifiedKFold(5, shuffle=True, random_state=0)
fig, ax = plt.subplots(figsize=(5, 5))
ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="perfectly calibrated")
for name, model in [
    ("skvi VariationalLogisticRegression", VariationalLogisticRegression()),
    ("LogisticRegression", LogisticRegression()),
]:
    proba = cross_val_predict(
        make_pipeline(StandardScaler(), model), X, y, cv=cv, method="predict_proba"
    )
    observed, predicted = calibration_curve(y, proba[:, 1], n_bins=8)
    ax.plot(predicted, observed, marker="o", label=name)
ax.set_xlabel("predicted probability")
ax.set_ylabel("observed frequency")
ax.set_title("Reliability on breast_cancer (5-fold)")
ax.legend(loc="upper left")
plt.show()
