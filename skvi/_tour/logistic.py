"""Tour section: VariationalLogisticRegression beside LogisticRegression on breast_cancer."""

import os

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..linear_model import VariationalLogisticRegression
from . import TourRow, timed


def expected_calibration_error(proba, y, n_bins=10):
    """Mean |accuracy - confidence| over equal-width bins of the top-class confidence.

    ``y`` holds class indices (columns of ``proba``).
    """
    confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == y
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    return float(
        sum(
            abs(correct[bins == b].mean() - confidence[bins == b].mean()) * np.mean(bins == b)
            for b in np.unique(bins)
        )
    )


def run(plot_dir):
    """Fit both on 70% of breast_cancer (standardised), score the rest; 5-fold calibration."""
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    ours, seconds = timed(
        make_pipeline(StandardScaler(), VariationalLogisticRegression()).fit, X_train, y_train
    )
    peer, peer_seconds = timed(
        make_pipeline(StandardScaler(), LogisticRegression()).fit, X_train, y_train
    )
    model = ours[-1]
    # Calibration needs more than 171 held-out points: 5-fold probabilities on all 569.
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    proba, peer_proba = (
        cross_val_predict(pipe, X, y, cv=cv, method="predict_proba") for pipe in (ours, peer)
    )
    row = TourRow(
        estimator="VariationalLogisticRegression",
        dataset=f"breast_cancer {X.shape[0]}x{X.shape[1]}",
        elbo=model.elbo_,
        sweeps=model.n_iter_,
        seconds=seconds,
        score_name="held-out accuracy",
        score=ours.score(X_test, y_test),
        peer="LogisticRegression",
        peer_score=peer.score(X_test, y_test),
        peer_seconds=peer_seconds,
    )
    row.notes.append(
        f"5-fold log loss {log_loss(y, proba):.4f} (LogisticRegression "
        f"{log_loss(y, peer_proba):.4f}), expected calibration error "
        f"{expected_calibration_error(proba, y):.4f} "
        f"({expected_calibration_error(peer_proba, y):.4f}); the weight precision "
        f"learned from the data is {model.lambda_[0, 0]:.3g}."
    )

    if plot_dir is not None:
        import matplotlib.pyplot as plt
        from sklearn.calibration import calibration_curve

        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="perfectly calibrated")
        for name, p in [("skvi (moderated)", proba), ("LogisticRegression", peer_proba)]:
            observed, predicted = calibration_curve(y, p[:, 1], n_bins=8)
            ax.plot(predicted, observed, marker="o", label=name)
        ax.set_xlabel("predicted probability of benign")
        ax.set_ylabel("observed frequency")
        ax.set_title("Reliability, 5-fold predictions on breast_cancer")
        ax.legend(loc="upper left")
        fig.tight_layout()
        path = os.path.join(plot_dir, "logistic_reliability.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        row.figures.append(path)
    return row
