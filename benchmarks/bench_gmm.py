"""VariationalGMM against scikit-learn's BayesianGaussianMixture, per CAVI sweep.

Both estimators run in this process on the same data, from the same start (the same
initial responsibilities, one-hot k-means labels), for a fixed number of sweeps with
tol=0. One "sweep" is what each library's fit loop does per iteration:

* scikit-learn: ``_e_step`` + ``_m_step`` + ``_compute_lower_bound``;
* skvi: ``_local_step`` + ``_global_step`` + ``_elbo`` (the full ELBO, constants included).

The grid is the issue's: N=100,000, D in {2, 16, 64}, K in {8, 32}, 'full' and 'diag'.
For D=64 the script also reports the fraction of the GEMM-bound limit: this machine's
float64 GEMM rate is measured on a tall-skinny product of the sweep's shape, and a sweep
is counted as ~4*N*K*D^2 flops (the E-step's and the M-step's second-moment products).
Finally ``n_init=8`` restarts with ``n_jobs=2`` against ``n_jobs=1``.

Usage::

    python benchmarks/bench_gmm.py            # the full grid (a few minutes)
    python benchmarks/bench_gmm.py --quick    # N=20,000, fewer sweeps
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture

try:
    from skvi import VariationalGMM
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from skvi import VariationalGMM


def make_data(n, d, k, random_state=0):
    rng = np.random.RandomState(random_state)
    centers = rng.normal(scale=4.0, size=(k, d))
    labels = rng.randint(k, size=n)
    return centers[labels] + rng.normal(size=(n, d))


def initial_resp(X, k):
    labels = KMeans(k, n_init=1, max_iter=20, random_state=0).fit(X[:20000]).predict(X)
    return np.eye(k)[labels]


def time_sklearn(X, resp, covariance_type, n_sweeps):
    est = BayesianGaussianMixture(
        n_components=resp.shape[1], covariance_type=covariance_type, tol=0.0, random_state=0
    )
    est._check_parameters(X)
    est._initialize(X, resp)
    times = []
    for _ in range(n_sweeps):
        t0 = time.perf_counter()
        log_prob_norm, log_resp = est._e_step(X)
        est._m_step(X, log_resp)
        est._compute_lower_bound(log_resp, log_prob_norm)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), est


def time_skvi(X, resp, covariance_type, n_sweeps):
    est = VariationalGMM(
        n_components=resp.shape[1], covariance_type=covariance_type, tol=0.0, random_state=0
    )
    est._validate_params()
    X, _, _ = est._validate_fit_data(X, None, None, reset=True)
    est._check_priors(X, None)
    est._initial_resp = lambda X_, random_state, sample_weight=None: resp
    est._initialize(X, None, np.random.RandomState(0))
    times = []
    for _ in range(n_sweeps):
        t0 = time.perf_counter()
        stats = est._local_step(X, None)
        est._global_step(stats, 1.0)
        est._elbo(X, None)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), est


def gemm_rate(n, d, k):
    """Best float64 flop/s of the sweep-shaped product (N x D by D x K*D) on this machine.

    Best of five runs, with the BLAS's default threads and with one thread (on a busy
    machine a two-thread GEMM can stall), so the limit it gives is the harder one.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.RandomState(0)
    A = rng.normal(size=(n, d))
    B = rng.normal(size=(d, k * d))
    best = np.inf
    for limit in (None, 1):
        with threadpool_limits(limit):
            for _ in range(5):
                t0 = time.perf_counter()
                A @ B
                best = min(best, time.perf_counter() - t0)
    return 2.0 * n * d * k * d / best


def bench_grid(n, dims, ks, kinds, n_sweeps):
    rows = []
    print(f"N={n}, {n_sweeps} sweeps per cell (median seconds per sweep)\n")
    header = f"{'cov':9s} {'D':>3s} {'K':>3s} {'sklearn s':>10s} {'skvi s':>9s} {'ratio':>6s}"
    print(header + "   GEMM-bound limit s  fraction")
    print("-" * (len(header) + 30))
    rates = {}
    for d in dims:
        for k in ks:
            X = make_data(n, d, k)
            resp = initial_resp(X, k)
            for kind in kinds:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    t_sk, _ = time_sklearn(X, resp, kind, n_sweeps)
                    t_vi, _ = time_skvi(X, resp, kind, n_sweeps)
                line = f"{kind:9s} {d:3d} {k:3d} {t_sk:10.4f} {t_vi:9.4f} {t_sk / t_vi:5.1f}x"
                if d == max(dims) and kind == "full":
                    rate = rates.setdefault((d, k), gemm_rate(n, d, k))
                    limit = 4.0 * n * k * d * d / rate
                    line += f"   {limit:10.4f} ({rate / 1e9:4.0f} GF/s)  {limit / t_vi:4.2f}"
                print(line, flush=True)
                rows.append((kind, d, k, t_sk, t_vi))
    ratios = np.array([r[3] / r[4] for r in rows])
    print(
        f"\nratio sklearn/skvi: median {np.median(ratios):.1f}x, "
        f"min {ratios.min():.1f}x, max {ratios.max():.1f}x"
    )
    return rows


def bench_restarts(n, d, k, n_init=8):
    """n_init restarts with n_jobs=2 against n_jobs=1 (same seeds, same results).

    skvi already runs one fit's chunks of samples on all the BLAS's threads, so
    n_jobs=1 is also timed with every library limited to one thread, the setting in
    which restarts are the only parallelism.
    """
    from threadpoolctl import threadpool_limits

    X = make_data(n, d, k, random_state=1)
    params = dict(
        n_components=k,
        n_init=n_init,
        tol=0.0,
        max_iter=30,
        init_params="random_from_data",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # start the worker processes once, as any session that uses them does
        VariationalGMM(**{**params, "n_init": 2, "max_iter": 1, "n_jobs": 2}).fit(X[:1000])
        timings = {}
        for label, n_jobs, limit in [
            ("n_jobs=1", 1, None),
            ("n_jobs=1, one thread", 1, 1),
            ("n_jobs=2", 2, None),
        ]:
            t0 = time.perf_counter()
            if limit is None:
                est = VariationalGMM(n_jobs=n_jobs, **params).fit(X)
            else:
                with threadpool_limits(limit):
                    est = VariationalGMM(n_jobs=n_jobs, **params).fit(X)
            timings[label] = (time.perf_counter() - t0, est)
    (t1, e1), (t1s, _), (t2, e2) = timings.values()
    same = np.array_equal(e1.init_elbos_, e2.init_elbos_) and np.array_equal(e1.means_, e2.means_)
    print(
        f"\nn_init={n_init} restarts (N={n}, D={d}, K={k}, 30 sweeps each):\n"
        f"  n_jobs=1 {t1:.2f} s (chunks on the BLAS's threads), "
        f"n_jobs=1 single-threaded {t1s:.2f} s, n_jobs=2 {t2:.2f} s\n"
        f"  speed-up of n_jobs=2: {t1 / t2:.2f}x over n_jobs=1, "
        f"{t1s / t2:.2f}x over single-threaded n_jobs=1; identical results: {same}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=20,000 and 3 sweeps per cell")
    parser.add_argument("--sweeps", type=int, default=None, help="sweeps per cell")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit every BLAS to this many threads (default: the BLAS's own setting)",
    )
    args = parser.parse_args()
    n = 20_000 if args.quick else 100_000
    sweeps = args.sweeps or (3 if args.quick else 4)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(args.threads):
            print(f"(every BLAS limited to {args.threads} thread(s))")
            bench_grid(n, (2, 16, 64), (8, 32), ("full", "diag"), sweeps)
        return
    bench_grid(n, (2, 16, 64), (8, 32), ("full", "diag"), sweeps)
    bench_restarts(20_000 if args.quick else 50_000, 8, 8)


if __name__ == "__main__":
    main()
