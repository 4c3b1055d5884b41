"""Bag-of-words corpora drawn from the LDA generative process (Blei, Ng & Jordan 2003, §3)."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "doc_length": [Interval(Real, 0, None, closed="neither")],
        "doc_topic_prior": ["array-like", Interval(Real, 0, None, closed="neither")],
        "topic_word_prior": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_lda_corpus(
    n_samples=1000,
    n_features=1000,
    n_components=10,
    *,
    doc_length=100,
    doc_topic_prior=0.1,
    topic_word_prior=0.01,
    random_state=None,
):
    """Draw a document-word count matrix from latent Dirichlet allocation.

    The generative process of Blei, Ng & Jordan (2003, §3): every topic is a word
    distribution ``beta_k ~ Dir(topic_word_prior)``; every document draws its length
    ``N_d ~ Poisson(doc_length)``, its topic proportions
    ``theta_d ~ Dir(doc_topic_prior)``, and for each of its ``N_d`` tokens a topic
    ``z ~ Cat(theta_d)`` and a word ``w ~ Cat(beta_z)``. Tokens are drawn topic by topic
    (inverse-CDF look-ups), so the cost is linear in the number of tokens.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of documents.
    n_features : int, default=1000
        Vocabulary size.
    n_components : int, default=10
        Number of topics.
    doc_length : float, default=100
        Mean number of tokens per document (Poisson).
    doc_topic_prior : float or array-like of shape (n_components,), default=0.1
        Dirichlet concentration of the topic proportions (a vector for an asymmetric
        prior).
    topic_word_prior : float, default=0.01
        Symmetric Dirichlet concentration of the topics' word distributions.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
        Word counts (float64), sorted indices, no duplicates.
    doc_topic : ndarray of shape (n_samples, n_components)
        The topic proportions ``theta`` that generated each document.
    topic_word : ndarray of shape (n_components, n_features)
        The topics ``beta`` (rows sum to one).

    Examples
    --------
    >>> from skvi.datasets import make_lda_corpus
    >>> X, theta, beta = make_lda_corpus(50, 30, 3, doc_length=20, random_state=0)
    >>> X.shape, theta.shape, beta.shape
    ((50, 30), (50, 3), (3, 30))
    """
    rng = check_random_state(random_state)
    alpha = np.broadcast_to(np.asarray(doc_topic_prior, dtype=np.float64), (n_components,))
    if np.any(alpha <= 0):
        raise ValueError("doc_topic_prior must be positive.")
    topic_word = _dirichlet(rng, np.full((n_components, n_features), float(topic_word_prior)))
    doc_topic = _dirichlet(rng, np.broadcast_to(alpha, (n_samples, n_components)))
    lengths = rng.poisson(doc_length, size=n_samples)
    topic_counts = _multinomial_rows(rng, lengths, doc_topic)
    docs, topics = np.nonzero(topic_counts)
    reps = topic_counts[docs, topics]
    token_doc = np.repeat(docs, reps)
    token_topic = np.repeat(topics, reps)
    token_word = np.empty(token_doc.size, dtype=np.int64)
    cdf = np.cumsum(topic_word, axis=1)
    cdf /= cdf[:, -1:]
    order = np.argsort(token_topic, kind="stable")
    bounds = np.searchsorted(token_topic[order], np.arange(n_components + 1))
    for k in range(n_components):  # one vectorised look-up per topic
        sel = order[bounds[k] : bounds[k + 1]]
        word = np.searchsorted(cdf[k], rng.random_sample(sel.size), side="right")
        token_word[sel] = np.minimum(word, n_features - 1)
    X = sp.csr_matrix(
        (np.ones(token_doc.size), (token_doc, token_word)), shape=(n_samples, n_features)
    )
    X.sum_duplicates()
    X.sort_indices()
    return X, doc_topic, topic_word


def _multinomial_rows(rng, n, p):
    """One multinomial draw per row, ``n[i]`` trials over ``p[i]``, by conditional binomials."""
    counts = np.zeros(p.shape, dtype=np.int64)
    remaining = n.astype(np.int64)
    mass_left = np.ones(p.shape[0])
    for k in range(p.shape[1] - 1):  # a loop over topics, each step vectorised over rows
        share = np.clip(p[:, k] / np.maximum(mass_left, 1e-300), 0.0, 1.0)
        counts[:, k] = rng.binomial(remaining, share)
        remaining -= counts[:, k]
        mass_left -= p[:, k]
    counts[:, -1] = remaining
    return counts


def _dirichlet(rng, alpha):
    """Rows drawn from Dirichlet(alpha row) by normalised Gamma draws (safe for tiny alpha)."""
    draws = rng.standard_gamma(alpha)
    sums = draws.sum(axis=1, keepdims=True)
    # With very small concentrations every Gamma draw can underflow to zero: put the mass
    # on the largest log-draw instead (the limit of the normalised draws).
    empty = sums[:, 0] == 0
    if np.any(empty):
        idx = np.flatnonzero(empty)
        pick = rng.randint(alpha.shape[1], size=idx.size)
        draws[idx, pick] = 1.0
        sums[idx] = 1.0
    return draws / sums
