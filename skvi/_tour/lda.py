"""Tour section: VariationalLDA beside LatentDirichletAllocation on Python's own docstrings.

The corpus is built on the machine from the docstrings of the standard library
(:func:`skvi.datasets.load_stdlib_docstrings`, no download); 10% of the docstrings are
held out. Both models fit 12 topics by batch variational Bayes with scikit-learn's
settings and 5 passes. The score is the held-out ELBO per token: each model's ``score``
of the held-out documents (the same bound in both libraries, topic terms included)
less its ``score`` of one empty document (the topic terms alone), divided by the
held-out tokens; higher is better. The notes list the top words of skvi's topics.
"""

import os
import warnings

import numpy as np
from sklearn.decomposition import LatentDirichletAllocation

from ..datasets import load_stdlib_docstrings
from ..decomposition import VariationalLDA
from . import TourRow, timed

N_TOPICS = 12
N_WORDS = 8
PASSES = 5


def heldout_bound_per_token(model, X_test):
    """Documents' part of the held-out ELBO per token, from the model's own ``score``."""
    empty = np.zeros((1, X_test.shape[1]))  # its ELBO terms are exactly zero
    return (model.score(X_test) - model.score(empty)) / X_test.sum()


def top_words(components, feature_names, n_words=N_WORDS):
    """The ``n_words`` most probable words of each topic, most probable first."""
    order = np.argsort(-components, axis=1)[:, :n_words]
    return [[str(feature_names[j]) for j in row] for row in order]


def run(plot_dir):
    """Fit both models on the docstrings corpus; return the tour row (and a figure)."""
    corpus = load_stdlib_docstrings()
    X = corpus.data
    order = np.random.RandomState(0).permutation(X.shape[0])
    n_test = X.shape[0] // 10
    X_train, X_test = X[order[n_test:]], X[order[:n_test]]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, seconds = timed(
            VariationalLDA(n_components=N_TOPICS, max_iter=PASSES, random_state=0).fit,
            X_train,
        )
        peer, peer_seconds = timed(
            LatentDirichletAllocation(n_components=N_TOPICS, max_iter=PASSES, random_state=0).fit,
            X_train,
        )
    row = TourRow(
        estimator="VariationalLDA",
        dataset=f"stdlib docstrings ({X_train.shape[0]} docs x {X.shape[1]} words)",
        elbo=ours.elbo_,
        sweeps=ours.n_iter_,
        seconds=seconds,
        score_name="held-out ELBO/token",
        score=heldout_bound_per_token(ours, X_test),
        peer="LatentDirichletAllocation",
        peer_score=heldout_bound_per_token(peer, X_test),
        peer_seconds=peer_seconds,
    )
    words = top_words(ours.components_, corpus.feature_names)
    row.notes.append(
        f"{N_TOPICS} topics of the standard library's docstrings (top {N_WORDS} words; "
        "higher held-out ELBO/token is better):\n"
        + "\n".join(f"  topic {k:2d}: {' '.join(w)}" for k, w in enumerate(words))
    )
    if plot_dir is not None:
        row.figures.append(_plot(ours, corpus.feature_names, plot_dir))
    return row


def _plot(lda, feature_names, plot_dir):
    import matplotlib.pyplot as plt

    topics = lda.components_ / lda.components_.sum(axis=1, keepdims=True)
    n_cols = 4
    n_rows = int(np.ceil(lda.n_components / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 2.4 * n_rows))
    for k, ax in enumerate(axes.ravel()):
        if k >= lda.n_components:
            ax.axis("off")
            continue
        order = np.argsort(-topics[k])[:N_WORDS][::-1]
        ax.barh([str(feature_names[j]) for j in order], topics[k, order], color="tab:blue")
        ax.set_title(f"topic {k}", fontsize=9)
        ax.tick_params(labelsize=8)
    fig.suptitle("VariationalLDA on the standard library's docstrings: top words per topic")
    fig.tight_layout()
    path = os.path.join(plot_dir, "lda_topics.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
