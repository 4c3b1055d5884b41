"""
=====================================================
Learning an asymmetric Dirichlet prior for the topics
=====================================================

LDA's prior on each document's topic proportions, ``theta_d ~ Dir(alpha)``, says how
often each topic is used: a large ``alpha_k`` is a topic that most documents use, a
small one a topic that few documents use, and a few heavily. scikit-learn's
:class:`~sklearn.decomposition.LatentDirichletAllocation` fixes a symmetric
``alpha = 1 / n_components``. With ``optimize_priors=True``,
:class:`~skvi.decomposition.VariationalLDA` learns an asymmetric ``alpha`` (one value per
topic) and the topics' symmetric word prior ``eta`` by empirical Bayes: after every
M-step, Minka's (2000) Newton iteration maximises the ELBO over ``alpha`` given the
documents' ``E[log theta_dk]`` (Blei, Ng & Jordan 2003, §5.4 and A.4.2), and likewise
for ``eta``. Each update raises the ELBO, so the batch fit's ELBO still never goes down.

This example draws a corpus from LDA with a known, strongly asymmetric ``alpha`` and
checks how well the fit recovers it.
"""

# %%
# A corpus with a known asymmetric prior
# --------------------------------------
# Six topics whose prior weights halve from one topic to the next, so that the first
# topic is common and the last one rare. :func:`~skvi.datasets.make_lda_corpus` returns
# the true topics as well, which lets us match each fitted topic to the true one it
# estimates.
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter
from scipy.optimize import linear_sum_assignment

from skvi.datasets import make_lda_corpus
from skvi.decomposition import VariationalLDA

true_alpha = np.array([0.8, 0.4, 0.2, 0.1, 0.05, 0.025])
true_eta = 0.05
n_topics = len(true_alpha)
X, true_theta, true_topics = make_lda_corpus(
    3000,
    500,
    n_topics,
    doc_length=80,
    doc_topic_prior=true_alpha,
    topic_word_prior=true_eta,
    random_state=0,
)
X_train, X_test = X[:2700], X[2700:]
empty = np.zeros((1, X.shape[1]))


def heldout_bound(model):
    """Held-out ELBO per token, without the topics' own terms."""
    return (model.score(X_test) - model.score(empty)) / X_test.sum()


def match_topics(model):
    """For each true topic, the fitted topic closest to it (Bhattacharyya), and overlap."""
    fitted = model.components_ / model.components_.sum(axis=1, keepdims=True)
    overlap = np.sqrt(true_topics[:, None, :] * fitted[None, :, :]).sum(axis=2)
    true_index, fitted_index = linear_sum_assignment(-overlap)
    return fitted_index, overlap[true_index, fitted_index]


# %%
# Fixed symmetric priors against learned priors
# ---------------------------------------------
fits = {}
for optimize in (False, True):
    fits[optimize] = VariationalLDA(
        n_components=n_topics, optimize_priors=optimize, max_iter=300, tol=1e-4, random_state=0
    ).fit(X_train)
for optimize, model in fits.items():
    _, overlap = match_topics(model)
    print(
        f"optimize_priors={optimize!s:5}: {model.n_iter_} sweeps, "
        f"held-out bound {heldout_bound(model):.4f} nats per token, "
        f"topic overlap with the truth {overlap.min():.3f}-{overlap.max():.3f}"
    )
learned = fits[True]
order, _ = match_topics(learned)
learned_alpha = learned.doc_topic_prior_[order]
print("true alpha:   ", true_alpha)
print("learned alpha:", learned_alpha.round(3))
print(f"eta: true {true_eta}, learned {learned.topic_word_prior_:.4f}, default {1 / n_topics:.4f}")

# %%
# The learned ``alpha`` follows the true one over a factor of 30, topic by topic, and
# the learned ``eta`` is close to the true 0.05. The fixed default gives every topic the
# same ``1/6`` and puts ``eta`` at ``1/6`` too, more than three times the truth, which smooths the
# topics towards uniform. Learning both raises the held-out bound (printed above): the
# model's prior now matches how the corpus was made.
fig, ax = plt.subplots(figsize=(7, 4))
index = np.arange(n_topics)
ax.bar(index - 0.2, true_alpha, width=0.4, label="true alpha (corpus drawn with it)")
ax.bar(index + 0.2, learned_alpha, width=0.4, label="learned doc_topic_prior_")
ax.axhline(1 / n_topics, color="k", ls=":", label="default fixed prior 1 / n_components")
ax.set_yscale("log")
ax.set_yticks(true_alpha, [f"{value:g}" for value in true_alpha])
ax.yaxis.set_minor_formatter(NullFormatter())
ax.set_xticks(index, [f"topic {k}" for k in index])
ax.set_xlabel("true topic (and the fitted topic matched to it)")
ax.set_ylabel("Dirichlet concentration alpha_k")
ax.set_title("optimize_priors=True recovers an asymmetric prior")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Too many topics
# ---------------
# Given ten topics for a corpus made from six, does the learned prior switch the extra
# topics off, as the Dirichlet-process prior does for
# :class:`~skvi.mixture.VariationalGMM`? Only partly. The bars, sorted, are the learned
# concentrations; the dots the share of the training tokens each topic explains
# (``components_`` less the prior ``eta``, normalised). The extra topics get small
# concentrations, but so do the rare true topics, and between them the extra topics
# still explain a few percent of the tokens rather than being left empty. The held-out
# bound, not the prior, tells that ten topics are too many: it is lower than with six
# learned topics.
wide = VariationalLDA(
    n_components=10, optimize_priors=True, max_iter=300, tol=1e-4, random_state=0
).fit(X_train)
rank = np.argsort(-wide.doc_topic_prior_)
token_share = wide.components_.sum(axis=1) - wide.topic_word_prior_ * X.shape[1]
token_share /= token_share.sum()
print("learned alpha with 10 topics:", wide.doc_topic_prior_[rank].round(3))
print(
    f"held-out bound: 10 topics {heldout_bound(wide):.4f}, "
    f"6 topics {heldout_bound(learned):.4f} (both with optimize_priors=True)"
)

fig, ax = plt.subplots(figsize=(7, 4))
ax.bar(np.arange(10), wide.doc_topic_prior_[rank], color="C1", label="learned alpha_k")
ax.plot(np.arange(10), token_share[rank], "ko", label="share of training tokens")
ax.set_yscale("log")
ax.set_xticks(np.arange(10))
ax.set_xlabel("fitted topic, by learned concentration")
ax.set_ylabel("concentration / token share")
ax.set_title("n_components=10 on a six-topic corpus")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
