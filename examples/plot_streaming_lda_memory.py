"""
===========================================================
Topic models of a corpus larger than memory, read in chunks
===========================================================

:class:`~skvi.decomposition.VariationalLDA` learns from a stream: ``partial_fit`` takes
one chunk of documents, runs an E-step on it and takes one stochastic step on the topics
per mini-batch (online variational Bayes, Hoffman, Blei & Bach 2010). Only one chunk and
the topics are ever in memory, so the corpus can be as large as the disk.

Here the memory budget for the documents is **32 MiB**. A corpus of up to 64,000
documents over a 5,000-word vocabulary is written to disk in chunks of 4,000 documents,
then read back one chunk at a time by :func:`skvi.streaming.partial_fit_stream`. The
largest corpus takes nearly twice the budget as a sparse matrix (and 2.4 GiB as a dense
array); we measure the peak memory of the streaming loop for corpora of 1, 4 and 16
chunks, and the held-out bound per token as the chunks stream in.
"""

# %%
# A corpus written to disk, chunk by chunk
# ----------------------------------------
# The topics are drawn once by :func:`~skvi.datasets.make_lda_corpus`; every chunk then
# draws its documents from the same generative process (Blei, Ng & Jordan 2003, §3):
# topic proportions ``theta_d ~ Dir(0.1)``, a Poisson(100) length, and for each token a
# topic from ``theta_d`` and a word from that topic. Each chunk is saved as a
# ``scipy.sparse`` ``.npz`` file and dropped before the next one is drawn.
import os
import tempfile
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp

from skvi.datasets import make_lda_corpus
from skvi.decomposition import VariationalLDA
from skvi.streaming import partial_fit_stream

N_TOPICS, N_WORDS, CHUNK_DOCS, DOC_LENGTH = 20, 5000, 4000, 100
BUDGET_MIB = 32
SIZES = (1, 4, 16)  # corpus sizes, in chunks

_, _, topic_word = make_lda_corpus(1, N_WORDS, N_TOPICS, random_state=0)
word_cdf = np.cumsum(topic_word, axis=1)
word_cdf /= word_cdf[:, -1:]


def draw_documents(rng, n_docs):
    """Word counts of ``n_docs`` new documents under the fixed topics (CSR)."""
    theta = rng.dirichlet(np.full(N_TOPICS, 0.1), size=n_docs)
    doc = np.repeat(np.arange(n_docs), rng.poisson(DOC_LENGTH, size=n_docs))
    topic = (rng.random(doc.size)[:, None] > np.cumsum(theta, axis=1)[doc]).sum(axis=1)
    topic = np.minimum(topic, N_TOPICS - 1)
    u = rng.random(doc.size)
    word = np.empty(doc.size, dtype=np.int64)
    for k in range(N_TOPICS):  # one vectorised inverse-CDF look-up per topic
        word[topic == k] = np.searchsorted(word_cdf[k], u[topic == k], side="right")
    counts = sp.csr_matrix(
        (np.ones(doc.size), (doc, np.minimum(word, N_WORDS - 1))), shape=(n_docs, N_WORDS)
    )
    counts.sum_duplicates()
    return counts


def csr_mib(X):
    return (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20


workdir = tempfile.TemporaryDirectory()
rng = np.random.default_rng(0)
paths, chunk_mib = [], []
t0 = time.perf_counter()
for i in range(max(SIZES)):
    X = draw_documents(rng, CHUNK_DOCS)
    paths.append(os.path.join(workdir.name, f"chunk_{i:02d}.npz"))
    sp.save_npz(paths[-1], X)
    chunk_mib.append(csr_mib(X))
    del X
X_test = draw_documents(rng, 1000)  # held-out documents, from the same topics
corpus_mib = np.cumsum(chunk_mib)
print(
    f"wrote {len(paths)} chunks in {time.perf_counter() - t0:.1f}s: "
    f"{chunk_mib[0]:.1f} MiB per chunk in memory, {corpus_mib[-1]:.0f} MiB for all of them "
    f"(budget {BUDGET_MIB} MiB); {os.path.getsize(paths[0]) / 2**20:.2f} MiB per file"
)

# %%
# Streaming the chunks
# --------------------
# ``read_chunks`` loads one file at a time; :func:`~skvi.streaming.partial_fit_stream`
# passes each chunk to ``partial_fit`` and drops it before reading the next. The peak is
# measured with :mod:`tracemalloc`, which sees every Python and numpy allocation (the
# chunk being read, the E-step's arrays, the topics), started fresh for each corpus size.
# It does not see memory that existed before it started (the interpreter, the held-out
# set) or BLAS's internal buffers: it measures what grows with the data. After every
# chunk a callback records the held-out bound per token: ``score`` of the held-out
# documents less ``score`` of an empty document (the topics' own terms), per held-out
# token. It is a lower bound on the held-out log-likelihood per token; higher is better.
empty = np.zeros((1, N_WORDS))
test_tokens = X_test.sum()


def read_chunks(paths):
    for path in paths:
        yield sp.load_npz(path)


peaks, curves = {}, {}
for n_chunks in SIZES:
    lda = VariationalLDA(
        n_components=N_TOPICS, total_samples=n_chunks * CHUNK_DOCS, random_state=0
    )
    curve = []

    def held_out(model, chunks_seen, docs_seen, curve=curve):
        bound = (model.score(X_test) - model.score(empty)) / test_tokens
        curve.append((docs_seen, bound))

    t0 = time.perf_counter()
    tracemalloc.start()
    partial_fit_stream(lda, read_chunks(paths[:n_chunks]), callback=held_out)
    peaks[n_chunks] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    curves[n_chunks] = np.array(curve)
    print(
        f"{n_chunks:2d} chunks ({n_chunks * CHUNK_DOCS:6d} documents, corpus "
        f"{corpus_mib[n_chunks - 1]:5.1f} MiB): peak {peaks[n_chunks]:5.1f} MiB, "
        f"held-out bound {curve[-1][1]:.3f} nats/token, {time.perf_counter() - t0:.1f}s"
    )
workdir.cleanup()

# %%
# Peak memory stays flat as the corpus grows
# ------------------------------------------
# The corpus in memory grows with its size; the streaming loop's peak does not: it is
# one chunk, plus ``partial_fit``'s working arrays (a few copies of the 20 x 5000 topic
# matrix and the E-step's arrays for one mini-batch of ``batch_size`` documents) and the
# held-out scoring, whatever the number of chunks. At one chunk the peak is above the
# corpus itself: those working arrays are the fixed cost of the model.
fig, ax = plt.subplots(figsize=(6, 4))
sizes = np.array(SIZES)
ax.plot(sizes, corpus_mib[sizes - 1], "o-", label="whole corpus in memory (CSR)")
ax.plot(sizes, [peaks[n] for n in SIZES], "s-", label="peak of the streaming loop")
ax.axhline(BUDGET_MIB, color="k", linestyle="--", label=f"budget ({BUDGET_MIB} MiB)")
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [f"{n}x\n({n * CHUNK_DOCS} docs)" for n in SIZES])
ax.set_xlabel("corpus size (chunks of 4000 documents)")
ax.set_ylabel("MiB")
ax.set_title("Memory: loading the corpus vs streaming it")
ax.legend()
fig.tight_layout()

# %%
# The held-out bound improves as chunks stream in
# -----------------------------------------------
# Each run scales its mini-batches to its own corpus size (``total_samples``), so the
# runs differ at the same number of documents. The one-chunk run ends well below the
# others: scaled to a corpus of only 4000 documents, the first stochastic steps from the
# random start settle in a worse optimum, and further passes over the chunk do not leave
# it (scikit-learn's online ``LatentDirichletAllocation`` does the same on this chunk).
# The longer streams keep improving the topics as chunks arrive.
fig, ax = plt.subplots(figsize=(6, 4))
for n_chunks in SIZES:
    docs, bound = curves[n_chunks].T
    ax.plot(docs, bound, "o-", markersize=4, label=f"{n_chunks} chunk(s)")
ax.set_xlabel("documents streamed")
ax.set_ylabel("held-out bound (nats per token)")
ax.set_title("Held-out bound after each chunk")
ax.legend()
fig.tight_layout()
plt.show()
