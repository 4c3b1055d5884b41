"""VariationalGMM against scikit-learn's BayesianGaussianMixture, per CAVI sweep.

Both estimators run in this process on the same data, from the same start (the same
initial responsibilities, one-hot k-means labels), for a fixed number of sweeps with
tol=0. One "sweep" is what each library's fit loop does per iteration:

* scikit-learn: ``_e_step`` + ``_m_step`` + ``_compute_lower_bound``;
* skvi: ``_local_step`` + ``_global_step`` + ``_elbo`` (the full ELBO, constants included).

The grid is the issue's: N=100,000, D in {2, 16, 64}, K in {8, 32}, 'full' and 'diag'.
skvi is also timed on the same data cast to float32 (the column ``f32/f64`` is its time
over the float64 time; a float32 sweep runs the log-responsibility GEMM in float32 when
that is accurate and the statistics GEMM in float64, see skvi.mixture._gmm).

For 'full' at the largest D the script also reports the fraction of the GEMM-bound
limit. A sweep does two products over the F = 1 + D + D(D+1)/2 quadratic features,
log rho = Theta^T F (K x F by F x N) and G = R F^T (K x N by N x F), each 2*N*K*F flops,
so a sweep is counted as 4*N*K*F flops. The rate is that of these two products on one
chunk of the estimator's shape (F x rows), single-threaded, times the number of threads
the estimator runs chunks on; the fraction is the limit's time over skvi's sweep time.
The issue that set the goal (fraction >= 0.67, "within 1.5x of the GEMM-bound limit")
counts ~4*N*K*D^2 flops per sweep, the two products of the plain per-component form;
the quadratic features need about half as many (F ~ D^2 / 2), so the column
``issue's fraction`` (4*N*K*D^2 flops at the same rate) is about twice ``fraction``,
which measures skvi against the floor of its own algorithm.
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
    """Median seconds per sweep from the given start; X's dtype is kept (float32 too)."""
    est = VariationalGMM(
        n_components=resp.shape[1], covariance_type=covariance_type, tol=0.0, random_state=0
    )
    est._validate_params()
    X, _, _ = est._validate_fit_data(X, None, None, reset=True)
    est._check_priors(X, None)
    est._initial_resp = lambda X_, random_state, sample_weight=None: resp.astype(X_.dtype)
    est._initialize(X, None, np.random.RandomState(0))
    times = []
    for _ in range(n_sweeps):
        t0 = time.perf_counter()
        stats = est._local_step(X, None)
        est._global_step(stats, 1.0)
        est._elbo(X, None)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), est


def n_quad_features(d):
    """F = 1 + D + D(D+1)/2: the constant, linear and upper-triangle quadratic features."""
    return 1 + d + d * (d + 1) // 2


def gemm_rate(est, n, d, k):
    """float64 flop/s of a sweep's two products on one chunk, times the chunk threads.

    ``Theta^T @ F`` (K x F by F x rows) and ``R @ F^T`` (K x rows by rows x F) on one
    chunk of the estimator's size, single-threaded (as the estimator runs them), best
    of seven; multiplied by the number of threads the estimator runs chunks on.
    """
    from threadpoolctl import threadpool_limits

    import skvi.mixture._gmm as gmm_module

    f = n_quad_features(d)
    rows = est._chunk_rows(n, 8)
    rng = np.random.RandomState(0)
    FT = rng.normal(size=(f, rows))
    theta_t = rng.normal(size=(k, f))
    resp = rng.random_sample((k, rows))
    best = np.inf
    with threadpool_limits(1):
        for _ in range(7):
            t0 = time.perf_counter()
            theta_t @ FT
            resp @ FT.T
            best = min(best, time.perf_counter() - t0)
    threads = min(gmm_module._blas_threads(), -(-n // rows))
    return 4.0 * rows * k * f / best * threads, threads


def bench_grid(n, dims, ks, kinds, n_sweeps):
    rows = []
    print(f"N={n}, {n_sweeps} sweeps per cell (median seconds per sweep)\n")
    header = (
        f"{'cov':9s} {'D':>3s} {'K':>3s} {'sklearn s':>10s} {'skvi s':>9s} {'ratio':>6s}"
        f" {'skvi f32 s':>11s} {'f32/f64':>8s} {'f32 E-step':>10s}"
    )
    print(header + "   GEMM-bound limit s  fraction  issue's fraction")
    print("-" * (len(header) + 52))
    for d in dims:
        for k in ks:
            X = make_data(n, d, k)
            X32 = X.astype(np.float32)
            resp = initial_resp(X, k)
            for kind in kinds:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    t_sk, _ = time_sklearn(X, resp, kind, n_sweeps)
                    t_vi, est = time_skvi(X, resp, kind, n_sweeps)
                    t_32, est32 = time_skvi(X32, resp, kind, n_sweeps)
                choose = getattr(est32, "_estep_dtype", None)  # absent before the float64 fix
                estep = choose(X32, est32._theta()).__name__ if choose else "float32"
                line = (
                    f"{kind:9s} {d:3d} {k:3d} {t_sk:10.4f} {t_vi:9.4f} {t_sk / t_vi:5.1f}x"
                    f" {t_32:11.4f} {t_32 / t_vi:8.2f} {estep:>10s}"
                )
                if d == max(dims) and kind == "full":
                    rate, threads = gemm_rate(est, n, d, k)
                    limit = 4.0 * n * k * n_quad_features(d) / rate
                    issue_limit = 4.0 * n * k * d**2 / rate
                    line += (
                        f"   {limit:10.4f} ({rate / 1e9:4.0f} GF/s on {threads} thr)"
                        f"  {limit / t_vi:4.2f}  {issue_limit / t_vi:14.2f}"
                    )
                print(line, flush=True)
                rows.append((kind, d, k, t_sk, t_vi, t_32))
    ratios = np.array([r[3] / r[4] for r in rows])
    f32 = np.array([r[5] / r[4] for r in rows])
    print(
        f"\nratio sklearn/skvi: median {np.median(ratios):.1f}x, "
        f"min {ratios.min():.1f}x, max {ratios.max():.1f}x\n"
        f"skvi float32/float64 time: median {np.median(f32):.2f}, "
        f"min {f32.min():.2f}, max {f32.max():.2f}\n"
        f"GEMM-bound limit = 4*N*K*F flops / rate, F = 1 + D + D(D+1)/2 (two products of "
        f"2*N*K*F flops per sweep: Theta^T F and R F^T); the issue's fraction counts "
        f"4*N*K*D^2 flops at the same rate"
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
