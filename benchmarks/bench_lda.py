"""VariationalLDA against scikit-learn's LatentDirichletAllocation (and gensim's LdaModel).

All models run in this process on the same data with matched settings: the same number
of topics, priors (1 / K), passes over the data (``max_iter``; skvi with ``tol=0`` so
it runs them all), per-document E-step tolerance and iteration cap, mini-batch size and
learning-rate schedule for online learning. For each model it prints:

- fit seconds (wall clock; ratios within one run are what to read on a shared machine),
- the held-out bound per token, computed for every model by ONE evaluator: the fitted
  topics ``lambda`` and prior ``alpha`` go through scikit-learn's own reference E-step
  (its ``_e_step``, per-document loop, run to ``mean_change_tol=1e-5``) on held-out
  documents, then the documents' ELBO terms (Blei et al. 2003, eq. (15), phi at its
  optimum) divided by the held-out tokens; higher is better,
- peak memory of the fit (tracemalloc, measured in a separate 2-pass fit so that
  tracing does not slow the timed run: the first pass, and one from the previous pass's
  state, as all later ones are; numpy's allocations are traced).

Each model is fitted with ``random_state`` 0 .. N-1 (``--seeds``, default 1, for the
synthetic corpus; ``--stdlib-seeds``, default 20, for the small stdlib corpus, whose
held-out bound varies by ~0.03 nats/token from seed to seed, more than the models
differ) and the row holds the means of the fit seconds and of the bounds, with the
bounds' standard error over the seeds.

Corpora: a synthetic LDA corpus (20,000 training + 2,000 held-out documents, 10,000
words, ~100 tokens each, 20 true topics) fitted at K=20 and K=100, and the docstrings of
Python's standard library (``skvi.datasets.load_stdlib_docstrings``, 90/10 split) at
K=20. ``--quick`` shrinks the synthetic corpus to 4,000 documents and 3,000 words.

gensim is used when importable (``PYTHONPATH`` may point at a folder holding it).

Run: ``python benchmarks/bench_lda.py [--quick] [--passes N] [--skip-online] [--seeds N]``.
"""

import argparse
import platform
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln, logsumexp
from sklearn.decomposition import LatentDirichletAllocation

from skvi.datasets import load_stdlib_docstrings, make_lda_corpus
from skvi.decomposition import VariationalLDA

try:  # optional peer
    from gensim.matutils import Sparse2Corpus
    from gensim.models import LdaModel
except ImportError:  # pragma: no cover - depends on the machine
    LdaModel = None


# --------------------------------------------------------------- evaluator
def heldout_bound_per_token(components, alpha, X_test):
    """The shared evaluator: held-out ELBO per token given topics and prior.

    The E-step is scikit-learn's reference implementation (one Python loop over the
    documents), started at 1 and run to a mean change of 1e-5; the bound is the
    documents' part of the ELBO with phi at its optimum (no topic terms, which do not
    depend on the held-out documents).
    """
    n_topics = components.shape[0]
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (n_topics,))
    lam = np.asarray(components, dtype=np.float64)
    e_log_beta = digamma(lam) - digamma(lam.sum(axis=1, keepdims=True))
    ref = LatentDirichletAllocation(
        n_components=n_topics, mean_change_tol=1e-5, max_doc_update_iter=1000
    )
    ref.components_ = lam
    ref.exp_dirichlet_component_ = np.exp(e_log_beta)
    # scikit-learn's E-step takes a scalar prior; for an asymmetric alpha (not used in
    # the matched runs) its mean is used for the start only, the bound uses alpha.
    ref.doc_topic_prior_ = float(alpha.mean()) if np.ptp(alpha) == 0 else alpha
    X_test = sp.csr_matrix(X_test, dtype=np.float64)
    if np.ptp(alpha) == 0:
        gamma, _ = ref._e_step(X_test, cal_sstats=False, random_init=False)
    else:  # pragma: no cover - asymmetric priors are not in the default table
        raise ValueError("the shared evaluator needs a symmetric doc_topic_prior")
    e_log_theta = digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True))
    coo = X_test.tocoo()
    word_terms = 0.0
    for chunk in np.array_split(np.arange(coo.nnz), max(1, coo.nnz * n_topics // 5_000_000)):
        scores = e_log_theta[coo.row[chunk]] + e_log_beta[:, coo.col[chunk]].T
        word_terms += float(coo.data[chunk] @ logsumexp(scores, axis=1))
    doc_terms = (
        gamma.shape[0] * (gammaln(alpha.sum()) - gammaln(alpha).sum())
        + np.sum((alpha - gamma) * e_log_theta)
        + gammaln(gamma).sum()
        - gammaln(gamma.sum(axis=1)).sum()
    )
    return (word_terms + doc_terms) / X_test.sum()


# ------------------------------------------------------------------ models
def fit_sklearn(X, K, passes, method, args, seed=0):
    model = LatentDirichletAllocation(
        n_components=K,
        learning_method=method,
        max_iter=passes,
        batch_size=args.batch_size,
        mean_change_tol=1e-3,
        max_doc_update_iter=100,
        random_state=seed,
    )
    model.fit(X)
    return model.components_, model.doc_topic_prior_


_CONVERTED = {}


def _as_dtype(X, dtype):
    """X in ``dtype``, converted once (outside the timed and traced fits)."""
    key = (id(X), np.dtype(dtype))
    if key not in _CONVERTED:
        _CONVERTED[key] = X.astype(dtype, copy=False)
    return _CONVERTED[key]


def fit_skvi(X, K, passes, method, args, dtype=np.float64, seed=0):
    model = VariationalLDA(
        n_components=K,
        learning_method=method,
        max_iter=passes,
        tol=0.0,
        batch_size=args.batch_size,
        mean_change_tol=1e-3,
        max_doc_update_iter=100,
        random_state=seed,
    )
    model.fit(_as_dtype(X, dtype))
    return model.components_, model.doc_topic_prior_


def fit_gensim(X, K, passes, method, args, seed=0):
    corpus = args.gensim_corpus
    model = LdaModel(
        corpus=corpus,
        num_topics=K,
        passes=passes,
        update_every=0 if method == "batch" else 1,
        chunksize=args.batch_size if method == "online" else 2000,
        decay=0.7,
        offset=10.0,
        alpha="symmetric",
        eta=1.0 / K,
        iterations=100,
        gamma_threshold=1e-3,
        eval_every=None,
        random_state=seed,
    )
    return model.state.get_lambda(), model.alpha


def run_case(label, X_train, X_test, K, args, n_seeds=1):
    """Fit every model with ``random_state`` 0 .. n_seeds - 1; the row holds the means
    of the fit seconds and of the held-out bounds over the seeds (the bound's spread
    over seeds is far larger than the models' differences on a small corpus)."""
    rows = []
    passes = args.passes
    models = [
        ("scikit-learn batch", lambda s: fit_sklearn(X_train, K, passes, "batch", args, seed=s)),
        ("skvi batch", lambda s: fit_skvi(X_train, K, passes, "batch", args, seed=s)),
        (
            "skvi batch float32",
            lambda s: fit_skvi(X_train, K, passes, "batch", args, np.float32, seed=s),
        ),
    ]
    if not args.skip_online:
        models += [
            (
                "scikit-learn online",
                lambda s: fit_sklearn(X_train, K, passes, "online", args, seed=s),
            ),
            ("skvi online", lambda s: fit_skvi(X_train, K, passes, "online", args, seed=s)),
        ]
    if LdaModel is not None and not args.skip_gensim:
        args.gensim_corpus = list(Sparse2Corpus(X_train, documents_columns=False))
        models.append(
            ("gensim batch", lambda s: fit_gensim(X_train, K, passes, "batch", args, seed=s))
        )
        if not args.skip_online:
            models.append(
                ("gensim online", lambda s: fit_gensim(X_train, K, passes, "online", args, seed=s))
            )
    _as_dtype(X_train, np.float32)
    for name, fit in models:
        seconds, bounds = [], []
        for seed in range(n_seeds):
            start = time.perf_counter()
            components, alpha = fit(seed)
            seconds.append(time.perf_counter() - start)
            bounds.append(heldout_bound_per_token(components, alpha, X_test))
        seconds, bound = float(np.mean(seconds)), float(np.mean(bounds))
        # The standard error of the mean bound over the seeds (0 for one seed).
        sem = float(np.std(bounds, ddof=1) / np.sqrt(n_seeds)) if n_seeds > 1 else 0.0
        peak = measure_peak(name, X_train, K, args) if not args.no_memory else np.nan
        rows.append((label, K, name, seconds, (bound, sem), peak))
        print(
            f"  {label:<22} K={K:<4} {name:<20} {seconds:8.2f} s  held-out {bound:9.4f}"
            + (f" +- {sem:.4f} (means over {n_seeds} seeds)" if n_seeds > 1 else "")
            + f"  peak {peak:8.1f} MiB",
            flush=True,
        )
    return rows


def measure_peak(name, X, K, args, passes=2):
    """Peak traced memory (MiB) of a ``passes``-pass fit of the named model."""
    method = "online" if "online" in name else "batch"
    if name.startswith("scikit-learn"):
        fit = lambda: fit_sklearn(X, K, passes, method, args)  # noqa: E731
    elif name.startswith("skvi"):
        dtype = np.float32 if "float32" in name else np.float64
        fit = lambda: fit_skvi(X, K, passes, method, args, dtype)  # noqa: E731
    else:
        fit = lambda: fit_gensim(X, K, passes, method, args)  # noqa: E731
    tracemalloc.start()
    tracemalloc.reset_peak()
    fit()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def print_table(rows):
    peers = ["scikit-learn"] + (["gensim"] if any(r[2].startswith("gensim") for r in rows) else [])
    print(
        "\n| corpus | K | model | fit s | "
        + " | ".join(f"x faster than {peer}" for peer in peers)
        + " | held-out bound/token | peak MiB |"
    )
    print("|---|---|---|---|" + "---|" * len(peers) + "---|---|")
    reference = {}  # (corpus, K, peer, mode) -> seconds
    for label, K, name, seconds, _, _ in rows:
        peer, mode = name.split()[0], name.split()[-1]
        if peer in peers:
            reference[(label, K, peer, mode)] = seconds
    for label, K, name, seconds, bound, peak in rows:
        mode = "online" if "online" in name else "batch"
        ratios = []
        for peer in peers:
            ref = reference.get((label, K, peer, mode))
            ratios.append(f"{ref / seconds:.1f}x" if ref else "")
        mean, sem = bound
        held_out = f"{mean:.4f}" + (f" +- {sem:.4f}" if sem else "")
        print(
            f"| {label} | {K} | {name} | {seconds:.2f} | {' | '.join(ratios)} | {held_out} "
            f"| {peak:.1f} |"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small synthetic corpus")
    parser.add_argument("--passes", type=int, default=5, help="passes (max_iter), default 5")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--topics", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--skip-online", action="store_true")
    parser.add_argument("--skip-stdlib", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-gensim", action="store_true")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument(
        "--seeds", type=int, default=1, help="random_state values per synthetic case (mean)"
    )
    parser.add_argument(
        "--stdlib-seeds", type=int, default=20, help="random_state values per stdlib case (mean)"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    print(f"python {platform.python_version()}, gensim {'yes' if LdaModel else 'not installed'}")
    rows = []
    if not args.skip_synthetic:
        n_docs, n_words = (4_000, 3_000) if args.quick else (20_000, 10_000)
        n_test = n_docs // 10
        X, _, _ = make_lda_corpus(n_docs + n_test, n_words, 20, doc_length=100, random_state=0)
        X_train, X_test = X[:n_docs], X[n_docs:]
        label = f"synthetic {n_docs // 1000}k x {n_words // 1000}k"
        print(f"{label}: {X_train.nnz} non-zeros, {int(X_train.sum())} tokens")
        for K in args.topics:
            rows += run_case(label, X_train, X_test, K, args, args.seeds)
    if not args.skip_stdlib:
        corpus = load_stdlib_docstrings()
        X = corpus.data
        order = np.random.RandomState(0).permutation(X.shape[0])
        n_test = X.shape[0] // 10
        X_train, X_test = X[order[n_test:]], X[order[:n_test]]
        label = "stdlib docstrings"
        print(f"{label}: {X_train.shape}, {int(X_train.sum())} tokens")
        rows += run_case(label, X_train, X_test, 20, args, args.stdlib_seeds)
    print_table(rows)


if __name__ == "__main__":
    main()
