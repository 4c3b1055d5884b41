"""
======================================================
Topics of Python's standard library, and how many
======================================================

:class:`~skvi.decomposition.VariationalLDA` fits latent Dirichlet allocation by
variational Bayes. Here it reads the docstrings of Python's own standard library (built
on the machine by :func:`~skvi.datasets.load_stdlib_docstrings`, no download), shows the
top words of each topic, and compares numbers of topics by the held-out evidence lower
bound, with and without empirical-Bayes updates of the Dirichlet priors
(``optimize_priors=True``).
"""

# %%
# The corpus
# ----------
# Every docstring of a module, class or function is a document; words are counted after
# removing English stop words and words every docstring uses. One docstring in ten is
# held out.
import matplotlib.pyplot as plt
import numpy as np

from skvi.datasets import load_stdlib_docstrings
from skvi.decomposition import VariationalLDA

corpus = load_stdlib_docstrings()
X, words = corpus.data, corpus.feature_names
order = np.random.RandomState(0).permutation(X.shape[0])
n_test = X.shape[0] // 10
X_train, X_test = X[order[n_test:]], X[order[:n_test]]
print(corpus.DESCR)

# %%
# Ten topics
# ----------
# The batch fit stops when the ELBO changes by less than ``tol`` nats per token.
lda = VariationalLDA(n_components=10, max_iter=100, tol=1e-4, random_state=0).fit(X_train)
print(f"{lda.n_iter_} sweeps, converged: {lda.converged_}, ELBO {lda.elbo_:.0f} nats")

topics = lda.components_ / lda.components_.sum(axis=1, keepdims=True)
fig, axes = plt.subplots(2, 5, figsize=(15, 6))
for k, ax in enumerate(axes.ravel()):
    top = np.argsort(-topics[k])[:10][::-1]
    ax.barh(words[top], topics[k, top], color="tab:blue")
    ax.set_title(f"topic {k}")
    ax.tick_params(labelsize=8)
fig.suptitle("Top words of each topic (probability under the posterior mean topic)")
fig.tight_layout()

# %%
# The ELBO never decreases in a batch fit
# ---------------------------------------
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(np.arange(1, lda.n_iter_ + 1), lda.elbo_history_ / X_train.sum(), marker=".")
ax.set_xlabel("sweep")
ax.set_ylabel("ELBO per token (nats)")
ax.set_title("Training ELBO after each sweep")
fig.tight_layout()


# %%
# How many topics?
# ----------------
# The held-out bound per token: ``score`` of the held-out documents (an E-step with the
# fitted topics, then the full ELBO) less ``score`` of one empty document (which is
# exactly the topics' own terms), divided by the held-out tokens. It is a lower bound
# of the held-out log-likelihood per token; higher is better.
def heldout_bound(model):
    empty = np.zeros((1, X_test.shape[1]))
    return (model.score(X_test) - model.score(empty)) / X_test.sum()


n_topics = [2, 5, 10, 20, 40]
results = {False: [], True: []}
for optimize in (False, True):
    for K in n_topics:
        model = VariationalLDA(
            n_components=K, optimize_priors=optimize, max_iter=100, tol=1e-3, random_state=0
        ).fit(X_train)
        results[optimize].append(heldout_bound(model))
        print(f"K={K:3d} optimize_priors={optimize!s:5}  held-out {results[optimize][-1]:.4f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(n_topics, results[False], marker="o", label="fixed priors 1/K")
ax.plot(n_topics, results[True], marker="s", label="optimize_priors=True")
ax.set_xscale("log")
ax.set_xticks(n_topics, [str(k) for k in n_topics])
ax.set_xlabel("number of topics K")
ax.set_ylabel("held-out ELBO per token (nats)")
ax.set_title("Held-out bound against the number of topics")
ax.legend()
fig.tight_layout()
plt.show()
