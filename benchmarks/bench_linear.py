"""VariationalLinearRegression against BayesianRidge and ARDRegression, in one process.

For each number of features D, one synthetic data set (N training rows, correlated
inputs with non-zero means, half the true coefficients zero, Gaussian noise) and a
held-out set from the same model. Every estimator is fitted on the same arrays, in
``--repeats`` interleaved rounds; the fastest time of each is kept (the machine is
shared, so ratios within one run are what count). Also timed, right before each of our
fits: forming X^T X once with numpy (the floor of any method that reads the data's
second moments); our fit over it is reported as fastest over fastest and as the median
of the paired ratios (which shows how much the load of the moment inflates each).

Goals (issue 5): ``ard=False`` at least 3x faster than BayesianRidge, ``ard=True`` at
least 3x faster than ARDRegression, at equal held-out R^2 (within 0.01); at the largest
D, the whole fit within 2x the time of forming X^T X once.

Run: ``python benchmarks/bench_linear.py`` (defaults N=100000, D in 10 100 500).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import ARDRegression, BayesianRidge
from sklearn.metrics import r2_score

from skvi import VariationalLinearRegression


def make_data(n_samples, n_features, n_test=10_000, seed=0):
    rng = np.random.RandomState(seed)
    mixing = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
    transform = np.eye(n_features) + 0.3 * mixing
    X = rng.normal(size=(n_samples, n_features)) @ transform + 1.0
    X_test = rng.normal(size=(n_test, n_features)) @ transform + 1.0
    coef = rng.normal(size=n_features)
    coef[rng.permutation(n_features)[: n_features // 2]] = 0.0
    noise = 0.5 * np.sqrt(np.sum(coef**2))  # signal-to-noise ratio about 4
    y = X @ coef + 2.0 + noise * rng.normal(size=n_samples)
    y_test = X_test @ coef + 2.0 + noise * rng.normal(size=n_test)
    return X, y, X_test, y_test


def timed(func, *args):
    """(result, wall-clock seconds) of one call ``func(*args)``."""
    start = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - start


def fit(estimator, X, y):
    return clone(estimator).fit(X, y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the peers' convergence chatter

    rows, goals = [], []
    for n_features in args.dims:
        X, y, X_test, y_test = make_data(args.n_samples, n_features)
        # Interleaved rounds, so that every minimum comes from comparable machine load:
        # X^T X is timed right before each of our fits.
        times, fitted = {}, {}
        contenders = [
            ("BayesianRidge", BayesianRidge()),
            ("ours False", VariationalLinearRegression(ard=False)),
            ("ARDRegression", ARDRegression()),
            ("ours True", VariationalLinearRegression(ard=True)),
        ]
        for _ in range(args.repeats):
            for name, estimator in contenders:
                if name.startswith("ours"):
                    _, seconds = timed(np.matmul, X.T, X)
                    times.setdefault(f"gram {name}", []).append(seconds)
                fitted[name], seconds = timed(fit, estimator, X, y)
                times.setdefault(name, []).append(seconds)
        for ard, peer_cls in [(False, BayesianRidge), (True, ARDRegression)]:
            peer, t_peer = fitted[peer_cls.__name__], min(times[peer_cls.__name__])
            ours, t_ours = fitted[f"ours {ard}"], min(times[f"ours {ard}"])
            t_gram = min(times[f"gram ours {ard}"])
            # Our fit over X^T X: fastest over fastest, and the median over the rounds of
            # our fit over the X^T X timed just before it (shows the load's effect).
            gram_ratio = t_ours / t_gram
            paired_ratio = float(
                np.median(np.divide(times[f"ours {ard}"], times[f"gram ours {ard}"]))
            )
            r2_peer = r2_score(y_test, peer.predict(X_test))
            r2_ours = r2_score(y_test, ours.predict(X_test))
            rows.append(
                (
                    n_features,
                    peer_cls.__name__,
                    ard,
                    t_peer,
                    t_ours,
                    t_peer / t_ours,
                    t_gram,
                    gram_ratio,
                    paired_ratio,
                    r2_peer,
                    r2_ours,
                    peer.n_iter_,
                    ours.n_iter_,
                )
            )
            goals.append(
                (
                    f"D={n_features} ard={ard}: >= 3x faster than {peer_cls.__name__}",
                    t_peer / t_ours >= 3.0,
                )
            )
            goals.append(
                (
                    f"D={n_features} ard={ard}: |R2 - peer R2| <= 0.01",
                    abs(r2_ours - r2_peer) <= 0.01,
                )
            )
            if n_features == max(args.dims):
                goals.append(
                    (f"D={n_features} ard={ard}: fit <= 2x forming X^T X", gram_ratio <= 2.0)
                )

    header = (
        f"{'D':>4}  {'peer':<14} {'ard':<5} {'peer s':>8} {'ours s':>8} {'speed-up':>8} "
        f"{'XtX s':>7} {'ours/XtX':>8} {'paired':>7} {'peer R2':>9} {'ours R2':>9} "
        f"{'peer it':>7} {'sweeps':>6}"
    )
    print(
        f"N = {args.n_samples}; seconds: fastest of {args.repeats} interleaved rounds; "
        "ours/XtX: fastest over fastest; paired: median over the rounds of our fit over "
        "the X^T X timed just before it"
    )
    print(header)
    print("-" * len(header))
    for d, name, ard, tp, to, ratio, tg, rg, rp, r2p, r2o, peer_iter, sweeps in rows:
        print(
            f"{d:>4}  {name:<14} {ard!s:<5} {tp:8.3f} {to:8.3f} {ratio:7.1f}x "
            f"{tg:7.3f} {rg:7.2f}x {rp:6.2f}x {r2p:9.5f} {r2o:9.5f} {peer_iter:>7} {sweeps:>6}"
        )
    print()
    for text, ok in goals:
        print(f"{'PASS' if ok else 'MISS'}  {text}")


if __name__ == "__main__":
    main()
