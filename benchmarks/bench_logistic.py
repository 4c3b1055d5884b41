"""VariationalLogisticRegression against scikit-learn's LogisticRegression (lbfgs).

Speed: same process, same data: N samples, D in {10, 100}, binary and 5 classes. Prints
fit seconds for both, their ratio (ours / theirs: the goal is <= 3), our sweeps, and the
training accuracy of each. LogisticRegression gives a point estimate; ours a posterior.

Calibration: breast_cancer, standardised, 5-fold cross-validated probabilities, averaged
over 10 shuffles of the folds: log loss, expected calibration error (10 equal-width bins
of the top-class confidence), Brier score and accuracy, both with default settings.

Convergence: on all of breast_cancer, the sweeps to reach tol=1e-12, and how far (in
posterior standard deviations) the default tol stops from that fit's coefficients.

    python benchmarks/bench_logistic.py            # N = 100,000
    python benchmarks/bench_logistic.py --quick    # N = 20,000
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from skvi import VariationalLogisticRegression
from skvi._tour.logistic import expected_calibration_error


def best_of(repeats, estimator, X, y):
    """Smallest wall time of ``repeats`` fits, and the last fitted estimator."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = estimator.fit(X, y)
        times.append(time.perf_counter() - start)
    return min(times), result


def calibration_table(n_shuffles=10):
    X, y = load_breast_cancer(return_X_y=True)
    models = {"LogisticRegression": LogisticRegression, "skvi": VariationalLogisticRegression}
    scores = {name: [] for name in models}
    for seed in range(n_shuffles):
        cv = StratifiedKFold(5, shuffle=True, random_state=seed)
        for name, model in models.items():
            proba = cross_val_predict(
                make_pipeline(StandardScaler(), model()), X, y, cv=cv, method="predict_proba"
            )
            scores[name].append(
                (
                    log_loss(y, proba),
                    expected_calibration_error(proba, y),
                    np.mean((proba[:, 1] - y) ** 2),
                    np.mean(proba.argmax(axis=1) == y),
                )
            )
    print(f"\nbreast_cancer, 5-fold x {n_shuffles} shuffles (mean)")
    print(f"{'model':>20} {'log loss':>9} {'ECE':>7} {'Brier':>7} {'accuracy':>9}")
    for name, rows in scores.items():
        loss, ece, brier, accuracy = np.mean(rows, axis=0)
        print(f"{name:>20} {loss:>9.4f} {ece:>7.4f} {brier:>7.4f} {accuracy:>9.4f}")
    # Paired over the shuffles (same folds for both): mean difference and its standard
    # error. That is the noise of the fold assignment only, not of the 569 patients.
    diff = np.array(scores["skvi"]) - np.array(scores["LogisticRegression"])
    mean, sem = diff.mean(axis=0), diff.std(axis=0, ddof=1) / np.sqrt(len(diff))
    cells = " ".join(f"{m:+.4f}+-{e:.4f}" for m, e in zip(mean, sem, strict=True))
    print(f"{'skvi - LR (paired)':>20} {cells}")


def convergence_table():
    """Sweeps to converge on breast_cancer, and how far the default tol stops from there."""
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    print("\nbreast_cancer (standardised), the whole set")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ard in (False, True):
            tight = VariationalLogisticRegression(ard=ard, tol=1e-12, max_iter=5000).fit(X, y)
            default = VariationalLogisticRegression(ard=ard).fit(X, y)
            sd = np.sqrt(np.diagonal(tight.sigma_, axis1=1, axis2=2))
            gap = np.max(np.abs(default.coef_ - tight.coef_) / sd)
            print(
                f"  ard={ard!s:5}: {tight.n_iter_} sweeps to tol=1e-12; the default tol stops "
                f"after {default.n_iter_}, {gap:.2f} posterior sd from the converged coef_"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 20,000 instead of 100,000")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many fits")
    args = parser.parse_args()
    n_samples = 20_000 if args.quick else 100_000
    blas = {(p["internal_api"], p.get("num_threads")) for p in threadpool_info()}
    print(f"N = {n_samples}, BLAS pools (api, threads): {sorted(blas)}")
    header = f"{'D':>4} {'classes':>7} {'sklearn s':>10} {'skvi s':>8} {'ratio':>6} "
    print(header + f"{'sweeps':>6} {'acc sklearn':>11} {'acc skvi':>9}")
    ratios = []
    for n_features in (10, 100):
        for n_classes in (2, 5):
            X, y = make_classification(
                n_samples=n_samples,
                n_features=n_features,
                n_informative=min(n_features, 8),
                n_redundant=0,
                n_classes=n_classes,
                n_clusters_per_class=1,
                random_state=0,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t_sk, sk = best_of(args.repeats, LogisticRegression(), X, y)
                t_vi, vi = best_of(args.repeats, VariationalLogisticRegression(), X, y)
            ratios.append(t_vi / t_sk)
            print(
                f"{n_features:>4} {n_classes:>7} {t_sk:>10.3f} {t_vi:>8.3f} "
                f"{t_vi / t_sk:>6.2f} {vi.n_iter_:>6} {sk.score(X, y):>11.4f} "
                f"{vi.score(X, y):>9.4f}"
            )
    print(f"worst ratio {max(ratios):.2f} (goal: <= 3)")
    calibration_table()
    convergence_table()


if __name__ == "__main__":
    main()
