"""Scaling out: ``fit`` on a dask array, and streaming ``partial_fit``, on this machine.

Part 1, a fit on a dask array against the in-memory fit of the same data, for
VariationalGMM (full covariances, 'random_from_data' start) and VariationalLDA (batch,
sparse blocks): wall time of ``fit`` and peak memory of the client process, for

- ``memory``: the data as one numpy / scipy.sparse array in the client, ``fit(X)``;
- ``dask, 2 procs``: a ``distributed.LocalCluster`` of 2 single-threaded worker
  processes on this machine; the data are a dask array whose blocks are generated on
  the workers (nothing of the data passes through the client);
- ``dask, threads``: no client, dask's threaded scheduler in the client process, which
  regenerates each block at every pass (memory: the blocks in flight).

Every fit runs the same number of sweeps (``tol=0``); the ELBO difference to the
in-memory fit is printed as a check (it should be rounding). The machine has 2 cores
shared with other work: read the ratios, not the seconds.

Part 2, streaming ``partial_fit`` (GMM and LDA, stochastic VI) over chunks generated one
at a time and dropped after use, at 1x, 4x and 16x the data: peak memory of the process
and the size the whole data set would take in memory.

Peak memory is the peak resident set size of the client process
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``; the worker processes are not counted),
each row measured in a fresh Python process; ``base`` is the same right after the
imports, before any data exist, and ``peak - base`` is what the run added. With a
LocalCluster the scheduler runs inside the client process and is counted; the cluster
is started and has imported skvi before the clock starts (as a long-lived one has).
The streaming rows also print a quality check: the held-out log-likelihood per sample
(GMM), or how well the fitted topics match the true ones (LDA: mean best cosine).

Run: ``python benchmarks/bench_scale.py [--quick]``.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp

SEED = 20240601

# Part 1 sizes (full run / --quick)
GMM = {"rows": 400_000, "features": 16, "components": 8, "blocks": 8, "sweeps": 10}
LDA = {"docs": 20_000, "words": 5_000, "topics": 20, "length": 100, "blocks": 8, "sweeps": 5}
QUICK_GMM = {**GMM, "rows": 40_000}
QUICK_LDA = {**LDA, "docs": 2_000, "words": 1_000}
# Part 2: rows (documents) at 1x, and rows per chunk
STREAM_GMM = {"rows": 200_000, "chunk": 10_000, "features": 16, "components": 8}
STREAM_LDA = {"docs": 5_000, "chunk": 500, "words": 5_000, "topics": 20, "length": 100}


def _maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- data
def gmm_block(index, rows, n_features, n_components):
    """Rows of a Gaussian mixture, block ``index`` (the same values wherever made)."""
    centres = np.random.default_rng(SEED).normal(scale=5.0, size=(n_components, n_features))
    rng = np.random.default_rng([SEED, index])
    labels = rng.integers(n_components, size=rows)
    return centres[labels] + rng.standard_normal((rows, n_features))


def lda_block(index, docs, n_words, n_topics, length):
    """Documents of an LDA corpus (shared topics), block ``index``, as CSR counts."""
    topics = np.random.default_rng(SEED).dirichlet(np.full(n_words, 0.05), size=n_topics)
    cdf = np.cumsum(topics, axis=1)
    cdf /= cdf[:, -1:]
    rng = np.random.default_rng([SEED, index])
    theta = rng.dirichlet(np.full(n_topics, 0.2), size=docs)
    topic_counts = rng.multinomial(rng.poisson(length, size=docs), theta)
    doc, topic = np.nonzero(topic_counts)
    reps = topic_counts[doc, topic]
    token_doc, token_topic = np.repeat(doc, reps), np.repeat(topic, reps)
    token_word = np.empty(token_doc.size, dtype=np.int64)
    for k in range(n_topics):  # one vectorised look-up per topic
        sel = np.flatnonzero(token_topic == k)
        token_word[sel] = np.searchsorted(cdf[k], rng.random(sel.size), side="right")
    np.minimum(token_word, n_words - 1, out=token_word)
    X = sp.csr_matrix((np.ones(token_doc.size), (token_doc, token_word)), shape=(docs, n_words))
    X.sum_duplicates()
    return X


def _gmm_dask(cfg):
    import dask.array as da

    rows = cfg["rows"] // cfg["blocks"]

    def make(block_id=None):
        return gmm_block(block_id[0], rows, cfg["features"], cfg["components"])

    chunks = ((rows,) * cfg["blocks"], (cfg["features"],))
    return da.map_blocks(make, chunks=chunks, dtype=np.float64)


def _gmm_memory(cfg):
    rows = cfg["rows"] // cfg["blocks"]
    parts = [gmm_block(i, rows, cfg["features"], cfg["components"]) for i in range(cfg["blocks"])]
    return np.concatenate(parts)


def _lda_dask(cfg):
    import dask.array as da

    docs = cfg["docs"] // cfg["blocks"]

    def make(block_id=None):
        return lda_block(block_id[0], docs, cfg["words"], cfg["topics"], cfg["length"])

    chunks = ((docs,) * cfg["blocks"], (cfg["words"],))
    meta = sp.csr_matrix((0, cfg["words"]))
    return da.map_blocks(make, chunks=chunks, dtype=np.float64, meta=meta)


def _lda_memory(cfg):
    docs = cfg["docs"] // cfg["blocks"]
    parts = [
        lda_block(i, docs, cfg["words"], cfg["topics"], cfg["length"])
        for i in range(cfg["blocks"])
    ]
    return sp.vstack(parts, format="csr")


# ------------------------------------------------------------------------ children
def _estimator(model, cfg):
    from skvi import VariationalGMM, VariationalLDA

    if model == "gmm":
        return VariationalGMM(
            n_components=cfg["components"],
            init_params="random_from_data",
            max_iter=cfg["sweeps"],
            tol=0.0,
            random_state=0,
        )
    return VariationalLDA(
        n_components=cfg["topics"], max_iter=cfg["sweeps"], tol=0.0, random_state=0
    )


def _import_skvi():
    import skvi  # noqa: F401


def child_fit(model, mode, cfg):
    """One fit in this (fresh) process; returns its measurements."""
    import dask  # noqa: F401  (imported before the baseline in every mode)
    import distributed

    import skvi  # noqa: F401

    warnings.simplefilter("ignore")
    base = _maxrss_mb()
    est = _estimator(model, cfg)
    cluster = client = None
    if mode == "dask-procs":
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster)
        # A long-lived cluster has imported skvi already: do it before the clock starts.
        client.run(_import_skvi)
    if mode == "memory":
        t0 = time.perf_counter()
        X = _gmm_memory(cfg) if model == "gmm" else _lda_memory(cfg)
        t_data = time.perf_counter() - t0
    else:
        X = _gmm_dask(cfg) if model == "gmm" else _lda_dask(cfg)
        t_data = 0.0
    t0 = time.perf_counter()
    est.fit(X)
    seconds = time.perf_counter() - t0
    result = {
        "seconds": seconds,
        "data_seconds": t_data,
        "elbo": float(est.elbo_),
        "n_iter": int(est.n_iter_),
        "base_mb": base,
        "peak_mb": _maxrss_mb(),
    }
    if client is not None:
        client.close()
        cluster.close()
    return result


def child_stream(model, factor):
    """partial_fit over chunks made one at a time; returns the peak memory."""
    import skvi  # noqa: F401
    from skvi import VariationalGMM, VariationalLDA

    warnings.simplefilter("ignore")
    base = _maxrss_mb()
    t0 = time.perf_counter()
    if model == "gmm":
        cfg = STREAM_GMM
        n_chunks = factor * cfg["rows"] // cfg["chunk"]
        est = VariationalGMM(
            n_components=cfg["components"],
            init_params="random_from_data",
            random_state=0,
            total_samples=float(factor * cfg["rows"]),
        )
        for i in range(n_chunks):
            est.partial_fit(gmm_block(i, cfg["chunk"], cfg["features"], cfg["components"]))
        total_bytes = factor * cfg["rows"] * cfg["features"] * 8
        score = float(est.score(gmm_block(10**6, 5_000, cfg["features"], cfg["components"])))
    else:
        cfg = STREAM_LDA
        n_chunks = factor * cfg["docs"] // cfg["chunk"]
        est = VariationalLDA(
            n_components=cfg["topics"],
            learning_method="online",
            total_samples=float(factor * cfg["docs"]),
            random_state=0,
        )
        nnz = 0
        for i in range(n_chunks):
            chunk = lda_block(i, cfg["chunk"], cfg["words"], cfg["topics"], cfg["length"])
            nnz += chunk.nnz
            est.partial_fit(chunk)
        total_bytes = nnz * 12 + factor * cfg["docs"] * 4  # CSR float64 data, int32 indices
        score = _topic_recovery(est.components_, cfg)
    return {
        "seconds": time.perf_counter() - t0,
        "chunks": n_chunks,
        "data_mb": total_bytes / 2**20,
        "score": score,
        "base_mb": base,
        "peak_mb": _maxrss_mb(),
    }


def _topic_recovery(components, cfg):
    """Mean over the true topics of the best cosine similarity with a fitted topic."""
    truth = np.random.default_rng(SEED).dirichlet(np.full(cfg["words"], 0.05), size=cfg["topics"])
    fitted = components / np.linalg.norm(components, axis=1, keepdims=True)
    truth = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    return float(np.mean(np.max(truth @ fitted.T, axis=1)))


def _run_child(*args):
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"child {args} failed:\n{out.stdout}\n{out.stderr[-4000:]}")
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller data in part 1")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(args.child)
        if job[0] == "fit":
            print(json.dumps(child_fit(*job[1:])))
        else:
            print(json.dumps(child_stream(*job[1:])))
        return

    import dask
    import distributed

    import skvi

    print(
        f"skvi {skvi.__version__}, dask {dask.__version__}, distributed "
        f"{distributed.__version__}, numpy {np.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    gmm_cfg, lda_cfg = (QUICK_GMM, QUICK_LDA) if args.quick else (GMM, LDA)
    print(
        f"\nPart 1: fit on a dask array vs in memory. GMM: {gmm_cfg['rows']:,} x "
        f"{gmm_cfg['features']}, K={gmm_cfg['components']} full, {gmm_cfg['sweeps']} "
        f"sweeps. LDA: {lda_cfg['docs']:,} docs x {lda_cfg['words']:,} words, "
        f"K={lda_cfg['topics']}, {lda_cfg['sweeps']} sweeps. {gmm_cfg['blocks']} row "
        "blocks each."
    )
    header = (
        f"{'model':<5} {'mode':<15} {'fit s':>7} {'x memory':>8} {'base MB':>8} "
        f"{'peak MB':>8} {'peak-base':>9} {'|dELBO|/|ELBO|':>15}"
    )
    print(header)
    print("-" * len(header))
    for model, cfg in (("gmm", gmm_cfg), ("lda", lda_cfg)):
        reference = None
        for mode, label in (
            ("memory", "memory"),
            ("dask-procs", "dask, 2 procs"),
            ("dask-threads", "dask, threads"),
        ):
            r = _run_child("fit", model, mode, cfg)
            if reference is None:
                reference = r
            rel = abs(r["elbo"] - reference["elbo"]) / abs(reference["elbo"])
            print(
                f"{model:<5} {label:<15} {r['seconds']:7.2f} "
                f"{r['seconds'] / reference['seconds']:8.2f} {r['base_mb']:8.0f} "
                f"{r['peak_mb']:8.0f} {r['peak_mb'] - r['base_mb']:9.0f} {rel:15.1e}",
                flush=True,
            )

    print(
        f"\nPart 2: streaming partial_fit, chunks made one at a time. GMM chunks of "
        f"{STREAM_GMM['chunk']:,} rows x {STREAM_GMM['features']}; LDA (online) chunks of "
        f"{STREAM_LDA['chunk']} docs x {STREAM_LDA['words']:,} words."
    )
    header = (
        f"{'model':<5} {'size':>4} {'rows':>10} {'chunks':>6} {'data MB':>8} {'s':>7} "
        f"{'base MB':>8} {'peak MB':>8} {'peak-base':>9}  score"
    )
    print(header)
    print("-" * len(header))
    for model in ("gmm", "lda"):
        for factor in (1, 4, 16):
            r = _run_child("stream", model, factor)
            rows = factor * (STREAM_GMM["rows"] if model == "gmm" else STREAM_LDA["docs"])
            what = "held-out log-lik/sample" if model == "gmm" else "topic recovery (cos)"
            print(
                f"{model:<5} {factor:>3}x {rows:>10,} {r['chunks']:>6} {r['data_mb']:8.0f} "
                f"{r['seconds']:7.1f} {r['base_mb']:8.0f} {r['peak_mb']:8.0f} "
                f"{r['peak_mb'] - r['base_mb']:9.0f}  {what} {r['score']:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
