"""Tour section: VariationalLinearRegression beside BayesianRidge on the diabetes data."""

import os

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ARDRegression, BayesianRidge
from sklearn.model_selection import train_test_split

from ..linear_model import VariationalLinearRegression
from . import TourRow, timed


def _coverage(lower, upper, y):
    return float(np.mean((lower <= y) & (y <= upper)))


def run(plot_dir):
    """Fit both on 70% of diabetes, score held-out R^2 and 95% interval coverage."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

    ours, seconds = timed(VariationalLinearRegression().fit, X_train, y_train)
    peer, peer_seconds = timed(BayesianRidge().fit, X_train, y_train)
    ard = VariationalLinearRegression(ard=True).fit(X_train, y_train)
    ard_peer = ARDRegression().fit(X_train, y_train)

    lower, upper = ours.predict_interval(X_test, coverage=0.95)
    peer_mean, peer_std = peer.predict(X_test, return_std=True)
    row = TourRow(
        estimator="VariationalLinearRegression",
        dataset=f"diabetes {X.shape[0]}x{X.shape[1]}",
        elbo=ours.elbo_,
        sweeps=ours.n_iter_,
        seconds=seconds,
        score_name="held-out R2",
        score=ours.score(X_test, y_test),
        peer="BayesianRidge",
        peer_score=peer.score(X_test, y_test),
        peer_seconds=peer_seconds,
    )
    row.notes.append(
        f"95% Student-t predictive interval covers {_coverage(lower, upper, y_test):.1%} of "
        f"the held-out targets (BayesianRidge's mean +/- 1.96 std: "
        f"{_coverage(peer_mean - 1.96 * peer_std, peer_mean + 1.96 * peer_std, y_test):.1%}); "
        f"max |coef - BayesianRidge coef| = {np.abs(ours.coef_ - peer.coef_).max():.2g}."
    )
    row.notes.append(
        f"ard=True: held-out R2 {ard.score(X_test, y_test):.4f} in {ard.n_iter_} sweeps "
        f"(ARDRegression {ard_peer.score(X_test, y_test):.4f}); "
        f"largest weight precision {np.max(ard.lambda_):.3g}, "
        f"{int(np.sum(ard.coef_ == 0))} feature(s) pruned."
    )

    if plot_dir is not None:
        import matplotlib.pyplot as plt

        order = np.argsort(ours.predict(X_test))
        mean = ours.predict(X_test)[order]
        fig, ax = plt.subplots(figsize=(7, 4))
        position = np.arange(len(order))
        ax.fill_between(
            position, lower[order], upper[order], color="C0", alpha=0.25, label="95% interval"
        )
        ax.plot(position, mean, color="C0", label="predictive mean")
        inside = (lower <= y_test) & (y_test <= upper)
        ax.scatter(position, y_test[order], s=8, c=np.where(inside[order], "k", "C3"))
        ax.set_xlabel("held-out patients, sorted by prediction")
        ax.set_ylabel("disease progression")
        ax.set_title(
            f"diabetes: {inside.mean():.0%} of held-out targets inside the 95% "
            "interval (red: outside)",
            fontsize=10,
        )
        ax.legend(loc="upper left")
        fig.tight_layout()
        path = os.path.join(plot_dir, "linear_predictive_interval.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        row.figures.append(path)
    return row
