"""
=====================================================
Streaming ``partial_fit`` approaching the batch fit
=====================================================

Every skvi estimator learns from a stream of mini-batches with ``partial_fit``, but not
all in the same way:

* :class:`~skvi.mixture.VariationalGMM` runs stochastic variational inference (Hoffman
  et al. 2013): each mini-batch gives the optimum of the global factors as if the whole
  data set looked like the batch, and the posterior takes a step of size
  ``rho_t = (learning_offset + t) ** -learning_decay`` towards it, in natural
  parameters. The steps shrink, so the posterior settles near a batch optimum.
* :class:`~skvi.decomposition.VariationalLDA` runs online variational Bayes (Hoffman,
  Blei & Bach 2010), the same scheme for the topics.
* :class:`~skvi.VariationalLinearRegression` needs no step sizes: its posterior depends
  on the data only through sums of ``x x^T``, ``x y`` and ``y^2``, which ``partial_fit``
  accumulates exactly, so any split into batches gives the batch fit itself.

This example streams each model's training data in mini-batches, several passes for
the first two, and follows a held-out score against the batch fit's.
"""

# %%
# Gaussian mixture: stochastic VI
# -------------------------------
# 20,000 training samples from six blobs, streamed in mini-batches of 100 for five
# passes, each pass in a new random order. ``total_samples`` tells each step how large
# the data set is, so that one batch's statistics are scaled up to the whole.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs

from skvi import VariationalLinearRegression
from skvi.datasets import make_lda_corpus
from skvi.decomposition import VariationalLDA
from skvi.mixture import VariationalGMM

rng = np.random.RandomState(0)
X, _ = make_blobs(
    n_samples=22_000,
    centers=6,
    cluster_std=[0.5, 1.0, 1.5, 0.7, 1.2, 0.8],
    random_state=2,
)
X_train, X_test = X[:20_000], X[20_000:]

batch_gmm = VariationalGMM(n_components=10, tol=1e-5, max_iter=1000, random_state=0)
batch_gmm.fit(X_train)
print(f"batch fit: {batch_gmm.n_iter_} sweeps, held-out score {batch_gmm.score(X_test):.4f}")

stream_gmm = VariationalGMM(n_components=10, total_samples=len(X_train), random_state=0)
batch_size, n_passes = 100, 5
seen, gmm_scores = [], []
for _ in range(n_passes):
    order = rng.permutation(len(X_train))
    for batch in np.array_split(order, len(X_train) // batch_size):
        stream_gmm.partial_fit(X_train[batch])
        if stream_gmm.n_batch_iter_ % 10 == 0:
            seen.append(stream_gmm.n_batch_iter_ * batch_size / len(X_train))
            gmm_scores.append(stream_gmm.score(X_test))
print(
    f"stream after {n_passes} passes ({stream_gmm.n_batch_iter_} mini-batches): "
    f"held-out score {gmm_scores[-1]:.4f}"
)

# %%
# Left: the held-out mean log predictive density after every tenth mini-batch. The
# first mini-batches start from a k-means initialisation on the first batch alone;
# within a fraction of a pass the stream is close to the batch level (dashed), and the
# shrinking steps keep it there while the noise of single mini-batches fades. Right:
# the component means of the two fits, sized by their weights. They agree on the
# separated clusters; in the overlapping middle, where several ways of splitting the
# data among components are nearly equally good, the two fits chose differently, with
# the same held-out score.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.plot(seen, gmm_scores, marker=".", label="partial_fit (stochastic VI)")
left.axhline(batch_gmm.score(X_test), color="k", ls="--", label="batch fit")
left.set_ylim(min(gmm_scores) - 0.002, batch_gmm.score(X_test) + 0.005)
left.set_xlabel("passes over the training data")
left.set_ylabel("held-out mean log density (nats)")
left.set_title("VariationalGMM: stream against batch")
left.legend()
right.scatter(X_train[:, 0], X_train[:, 1], s=1, c="0.8")
right.scatter(*batch_gmm.means_.T, s=3000 * batch_gmm.weights_, facecolors="none", edgecolors="k")
right.scatter(*stream_gmm.means_.T, s=3000 * stream_gmm.weights_, marker="+", c="C0")
right.scatter([], [], facecolors="none", edgecolors="k", label="batch fit means")
right.scatter([], [], marker="+", c="C0", label="partial_fit means")
right.set_xlabel("x1")
right.set_ylabel("x2")
right.set_title("component means (size: weight)")
right.legend(fontsize=8)
fig.tight_layout()

# %%
# Latent Dirichlet allocation: online variational Bayes
# -----------------------------------------------------
# A corpus of 5,000 documents drawn from LDA itself
# (:func:`~skvi.datasets.make_lda_corpus`: 5 topics, 300 words, about 80 tokens per
# document), one in ten held out. Each ``partial_fit`` call below takes a third of the
# training documents and makes one online step per ``batch_size=100`` of them. The
# score is the held-out bound per token: the ELBO of the held-out documents with the
# current topics, less the topics' own terms (``score`` of an empty document), per
# held-out token.
#
# Four streams start cold, from four random states. A fifth starts from a batch fit on
# the first 900 documents (``partial_fit`` after ``fit`` continues from the fitted
# topics) and then streams the rest.
corpus, _, _ = make_lda_corpus(5000, 300, 5, doc_length=80, random_state=0)
docs_train, docs_test = corpus[:4500], corpus[4500:]
empty = np.zeros((1, corpus.shape[1]))


def heldout_bound(model):
    return (model.score(docs_test) - model.score(empty)) / docs_test.sum()


lda_params = dict(n_components=5, batch_size=100, total_samples=docs_train.shape[0])
batch_lda = VariationalLDA(max_iter=300, tol=1e-5, n_init=3, random_state=0, **lda_params)
batch_lda.fit(docs_train)
print(f"batch fit: {batch_lda.n_iter_} sweeps, held-out bound {heldout_bound(batch_lda):.4f}")

n_passes, n_chunks = 5, 3
order_rng = np.random.RandomState(1)


def stream(model, start=0.0):
    """Stream n_passes shuffled passes in n_chunks calls each; held-out bound per call."""
    seen, scores = ([start], [heldout_bound(model)]) if start > 0 else ([], [])
    for n_pass in range(n_passes):
        order = order_rng.permutation(docs_train.shape[0])
        for i, chunk in enumerate(np.array_split(order, n_chunks)):
            model.partial_fit(docs_train[chunk])
            seen.append(start + n_pass + (i + 1) / n_chunks)
            scores.append(heldout_bound(model))
    return seen, scores


streams = {}
for seed in range(4):
    streams[f"cold start, random_state={seed}"] = stream(
        VariationalLDA(random_state=seed, **lda_params)
    )
first = VariationalLDA(max_iter=100, tol=1e-4, n_init=3, random_state=0, **lda_params)
streams["batch fit on 900 documents, then streamed"] = stream(
    first.fit(docs_train[:900]), start=900 / docs_train.shape[0]
)
for label, (_, scores) in streams.items():
    print(f"{label:42s}: held-out bound {scores[-1]:.4f}")

# %%
# Every stream here reaches the batch fit's held-out bound (dashed) within a pass or
# two. That is not guaranteed: LDA's objective is not concave, and a cold stream whose
# first steps lock two topics together stays on that lower hill, as a batch restart
# would (with other random states or another order of the documents, some of the cold
# streams above do; scikit-learn's
# :class:`~sklearn.decomposition.LatentDirichletAllocation` behaves the same from the
# same start). ``partial_fit`` has no ``n_init``: start the stream from a
# batch fit (with restarts) on a first chunk of the data, or run several streams and
# keep the best held-out bound.
fig, ax = plt.subplots(figsize=(7.5, 4.2))
for label, (seen, scores) in streams.items():
    ax.plot(seen, scores, marker=".", lw=3 if label.startswith("batch") else 1, label=label)
ax.axhline(heldout_bound(batch_lda), color="k", ls="--", label="batch fit on all (n_init=3)")
ax.set_xlabel("passes over the training documents")
ax.set_ylabel("held-out bound per token (nats)")
ax.set_title("VariationalLDA: online streams against batch")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Linear regression: exact streaming
# ----------------------------------
# 20 features, 2,000 samples arriving in batches of 100. After every batch the streamed
# posterior is compared with a batch fit on everything seen so far: the coefficients
# agree to rounding error, so the two held-out :math:`R^2` curves are one.
n_features = 20
true_coef = rng.normal(size=n_features) * (rng.uniform(size=n_features) < 0.5)
X_lin = rng.normal(size=(3000, n_features))
y_lin = X_lin @ true_coef + 2.0 + rng.normal(scale=2.0, size=3000)
X_lin_train, y_lin_train = X_lin[:2000], y_lin[:2000]
X_lin_test, y_lin_test = X_lin[2000:], y_lin[2000:]

stream_lin = VariationalLinearRegression()
n_seen, r2_stream, r2_batch, largest_gap = [], [], [], 0.0
for stop in range(100, 2001, 100):
    stream_lin.partial_fit(X_lin_train[stop - 100 : stop], y_lin_train[stop - 100 : stop])
    refit = VariationalLinearRegression().fit(X_lin_train[:stop], y_lin_train[:stop])
    largest_gap = max(largest_gap, np.max(np.abs(stream_lin.coef_ - refit.coef_)))
    n_seen.append(stop)
    r2_stream.append(stream_lin.score(X_lin_test, y_lin_test))
    r2_batch.append(refit.score(X_lin_test, y_lin_test))
print(f"largest |coef_ difference| between stream and batch over all steps: {largest_gap:.1e}")

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(n_seen, r2_batch, color="k", lw=3, alpha=0.4, label="fit on all samples seen")
ax.plot(n_seen, r2_stream, "o", color="C0", ms=5, label="partial_fit, batch by batch")
ax.set_xlabel("training samples seen")
ax.set_ylabel("held-out $R^2$")
ax.set_title("VariationalLinearRegression: the stream is the batch fit")
ax.legend()
fig.tight_layout()
plt.show()
