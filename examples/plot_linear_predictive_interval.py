"""
==================================================
Predictive intervals of Bayesian linear regression
==================================================

:class:`~skvi.VariationalLinearRegression` fits the model of scikit-learn's
:class:`~sklearn.linear_model.BayesianRidge` by mean-field variational inference.
Besides the predictive mean it gives the predictive standard deviation (weight
uncertainty plus noise) and a Student-t predictive interval,
:meth:`~skvi.VariationalLinearRegression.predict_interval`.

This example fits a cubic curve through polynomial features on data with a gap, shows
how the interval widens where there are no data, checks that intervals of every nominal
coverage cover that fraction of fresh data, and streams the data in with the exact
``partial_fit``.
"""

# %%
# Data with a gap
# ---------------
# Inputs on [-3, -1] and [1, 3], a cubic trend and Gaussian noise.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import BayesianRidge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from skvi import VariationalLinearRegression

rng = np.random.RandomState(0)


def truth(x):
    return 0.3 * x**3 - x


def sample(n):
    x = rng.uniform(1.0, 3.0, size=n) * rng.choice([-1.0, 1.0], size=n)
    return x[:, None], truth(x) + 0.6 * rng.normal(size=n)


X, y = sample(60)
grid = np.linspace(-4.0, 4.0, 400)[:, None]

# Degree-5 polynomial features, standardised on the training inputs.
features = make_pipeline(PolynomialFeatures(5, include_bias=False), StandardScaler()).fit(X)
F, F_grid = features.transform(X), features.transform(grid)


# %%
# Fit, and the interval beside BayesianRidge's mean +/- 1.96 std
# ----------------------------------------------------------------
# Both fit the same model; at convergence their means coincide. The Student-t interval
# accounts for the uncertainty of the noise level too, through its degrees of freedom.
ours = VariationalLinearRegression().fit(F, y)
peer = BayesianRidge().fit(F, y)
print(f"ELBO {ours.elbo_:.2f} nats after {ours.n_iter_} sweeps")
print(f"noise std: {1 / np.sqrt(ours.alpha_):.3f} (truth 0.6)")

mean = ours.predict(F_grid)
lower, upper = ours.predict_interval(F_grid, coverage=0.95)
peer_mean, peer_std = peer.predict(F_grid, return_std=True)

fig, ax = plt.subplots(figsize=(7, 4))
ax.fill_between(grid[:, 0], lower, upper, alpha=0.3, label="95% Student-t interval")
ax.plot(grid[:, 0], mean, label="VariationalLinearRegression mean")
ax.plot(grid[:, 0], peer_mean + 1.96 * peer_std, "k:", label="BayesianRidge mean ± 1.96 std")
ax.plot(grid[:, 0], peer_mean - 1.96 * peer_std, "k:")
ax.plot(grid[:, 0], truth(grid[:, 0]), "C2--", label="truth")
ax.scatter(X[:, 0], y, s=12, c="k", zorder=3)
ax.set_ylim(-15, 15)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="upper left", fontsize=8)
ax.set_title("The interval widens in the gap and outside the data")
fig.tight_layout()

# %%
# Calibration on fresh data
# -------------------------
# How often does a nominal 95% interval contain a new point? For one training set the
# answer depends on how well its 60 points happened to pin down the noise level, so
# repeat the experiment on 200 training sets drawn from the process and average the
# fraction of 1,000 fresh points (same input range) inside intervals of each coverage.
# It comes out slightly below nominal (about 0.94 for 0.95): the factorised posterior
# drops the coupling between the weights and the precisions, and so understates their
# uncertainty a little, which matters with 60 points and six coefficients.
nominal = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
inside = np.zeros((200, len(nominal)))
for repeat in range(200):
    X_r, y_r = sample(60)
    X_new, y_new = sample(1000)
    feats = make_pipeline(PolynomialFeatures(5, include_bias=False), StandardScaler()).fit(X_r)
    model = VariationalLinearRegression().fit(feats.transform(X_r), y_r)
    for j, level in enumerate(nominal):
        lo, hi = model.predict_interval(feats.transform(X_new), coverage=level)
        inside[repeat, j] = np.mean((lo <= y_new) & (y_new <= hi))
empirical = inside.mean(axis=0)
for level, frac in zip(nominal, empirical, strict=True):
    print(f"nominal {level:.2f}  empirical {frac:.3f}")

fig, ax = plt.subplots(figsize=(4.5, 4))
ax.plot([0.45, 1.0], [0.45, 1.0], "k:", label="perfect calibration")
ax.plot(nominal, empirical, "o-", label="mean over 200 training sets")
ax.set_xlabel("nominal coverage")
ax.set_ylabel("fraction of new points inside")
ax.legend()
fig.tight_layout()

# %%
# Streaming with ``partial_fit``
# ------------------------------
# ``partial_fit`` accumulates the data's second moments exactly, so the posterior after
# any number of batches equals one fit on everything seen so far. As data arrive the
# interval narrows towards the noise band, in the gap (x = 0) and beyond the data
# (x = 3.5) alike.
stream = VariationalLinearRegression()
X_all, y_all = sample(2560)
F_probe = features.transform(np.array([[0.0], [3.5]]))
seen, widths = [], []
for batch in np.split(np.arange(2560), [10, 20, 40, 80, 160, 320, 640, 1280]):
    stream.partial_fit(features.transform(X_all[batch]), y_all[batch])
    lo, hi = stream.predict_interval(F_probe)
    seen.append(batch[-1] + 1)
    widths.append(hi - lo)
one_fit = VariationalLinearRegression().fit(features.transform(X_all), y_all)
print("partial_fit equals one fit:", np.allclose(stream.coef_, one_fit.coef_, rtol=1e-10))

widths = np.array(widths)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(seen, widths[:, 0], "o-", label="x = 0 (in the gap)")
ax.plot(seen, widths[:, 1], "s-", label="x = 3.5 (beyond the data)")
ax.axhline(2 * 1.96 * 0.6, color="k", ls=":", label="noise alone (truth)")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("samples seen")
ax.set_ylabel("width of the 95% interval")
ax.legend()
fig.tight_layout()
plt.show()
