"""Latent Dirichlet allocation by batch and online variational Bayes.

The model (Blei, Ng & Jordan 2003, §3 and §5.4, "smoothed" LDA) for a corpus of
``N`` documents over a vocabulary of ``V`` words and ``K`` topics::

    beta_k  ~ Dir(eta)                       topic k's word distribution, k = 1..K
    theta_d ~ Dir(alpha)                     document d's topic proportions
    z_dn    ~ Cat(theta_d),  w_dn ~ Cat(beta_{z_dn})   each token n of document d

and the mean-field family ``q(beta_k) = Dir(lambda_k)``, ``q(theta_d) = Dir(gamma_d)``,
``q(z_dn) = Cat(phi_dn)``. A document is given by its word counts ``n_dw`` (the rows of
``X``); tokens of the same word share ``phi_dw``.

Code names and paper symbols (Blei et al. 2003; Hoffman, Blei & Bach 2010):

============================  =====================================================
code                          symbol
============================  =====================================================
``components_``               ``lambda`` (K x V), the topics' Dirichlet parameters
``exp_dirichlet_component_``  ``exp(E_q[log beta])``
``_doc_topic_gamma``          ``gamma`` (N x K), the documents' Dirichlet parameters
``doc_topic_prior_``          ``alpha`` (a scalar, or a K-vector when asymmetric)
``topic_word_prior_``         ``eta`` (symmetric)
``sstats`` / ``S``            ``S_kw = sum_d w_d n_dw phi_dwk`` (expected counts)
``log_norm``                  ``sum_d w_d sum_w n_dw log Z_dw``, ``Z_dw`` = phi's
                              normaliser
``w_d`` (``sample_weight``)   document weights (an integer weight = repeating the
                              document)
============================  =====================================================

Updates. The E-step (per document, ``_estep.document_e_step``) alternates
``phi_dwk ∝ exp(E[log theta_dk] + E[log beta_kw])`` (Blei et al. eq. (6); Hoffman et al.
eq. (5)) and ``gamma_dk = alpha_k + sum_w n_dw phi_dwk`` (Blei et al. eq. (7)). The
M-step is ``lambda_kw = eta + sum_d w_d n_dw phi_dwk`` (Hoffman et al. eq. (5); Blei et
al. §5.4). Online VB (Hoffman et al. 2010, Algorithm 2, eqs. (6)-(7)) replaces the
M-step, for each mini-batch ``b`` of documents, by
``lambda <- (1 - rho_t) lambda + rho_t (eta + (D / |b|) S_b)`` with
``rho_t = (learning_offset + t) ** -learning_decay`` (``D`` = total documents, or
their total weight). ``optimize_priors`` adds the empirical-Bayes updates of
``alpha`` and ``eta`` (``_priors.py``; Minka 2000; Blei et al. §5.4 and A.4.2).

The ELBO (Blei et al. eq. (15); Hoffman et al. eq. (3)), all constants included::

    L = sum_d w_d { E[log p(theta_d | alpha)] - E[log q(theta_d | gamma_d)]
                    + sum_w n_dw sum_k phi_dwk (E[log theta_dk] + E[log beta_kw]
                                                - log phi_dwk) }
        + sum_k { E[log p(beta_k | eta)] - E[log q(beta_k | lambda_k)] }.

After a batch sweep it is evaluated at the sweep's ``gamma`` and ``phi`` and the new
``lambda``: with ``phi`` from the E-step (topics ``lambda_old``), the word terms are
``log_norm + <S, E_new[log beta] - E_old[log beta]>``, so the ELBO costs
``O(K V + N K)`` on top of the sweep.

Where a batch sweep starts each document's E-step (a partial restart), and the guard.
The first sweep starts every document at ``gamma = 1`` (scikit-learn restarts it at
random values near 1 in every sweep). Every later sweep starts it at
``gamma_0 = 1 + w (gamma_prev - 1)`` with ``w = _warm_weight = 0.1``: a tenth of the way
from 1 towards where the previous sweep left it. Then the guard (``_estep``): if the
documents' total bound fell below its value at their previous gammas (with ``phi``
re-optimised for the new topics), the fewest documents needed, those that lose most,
go back to their previous gamma. With it every step (the E-step, the M-step, the prior
updates) can only raise ``L``, so the batch ELBO never decreases, whatever ``w``.
Documents are matched to their previous ``gamma`` by a fingerprint of their counts, so
warm starts on other, reordered or repeated documents stay exact.

The documents' optima are multimodal, so where an E-step starts and what the guard
keeps decide where a fit ends, not only how long it takes. Measured with the
benchmark's shared evaluator (``bench_lda.py``: held-out bound per token after 5
sweeps, ``mean_change_tol=1e-3``; means over ``random_state`` values):

- A guard per document (each keeps whichever of its two gammas is better for it, as
  before) holds documents in the modes of the first sweeps' topics: on the stdlib
  corpus (K=20, seeds 0-4) -7.0024 against scikit-learn's -6.9268; with the guard on
  the total, -6.9519 (``w = 0``). ``w = 1`` (a plain warm start) locks documents in
  the same way: at K=20 on the synthetic corpus -7.42 when warm from the 2nd sweep.
- ``w`` with the guard on the total. stdlib (K=20, seeds 0-19; scikit-learn -6.9395):
  ``w = 0`` -6.9369, ``0.1`` -6.9402, ``0.2`` -6.9484, ``0.3`` -6.9629. Synthetic
  (seeds 0-2), K=100 (scikit-learn -6.7979): -6.7950, -6.7935, -6.7930, with 264, 221
  and 202 inner iterations per document over the 5 sweeps; K=20: -6.7535, -6.7556,
  -6.7599 (scikit-learn, seed 0: -6.8240). ``w = 0.1`` keeps the small corpus level
  with scikit-learn and saves 16% of the iterations at K=100.

Online epochs start each document at ``1 + 0.5 (gamma_prev - 1)`` from the second
epoch on (``_online_warm_weight``; no guard, online epochs need not raise the ELBO):
K=100, seed 0, 40.7 inner iterations per document over 5 epochs instead of 59.6,
held-out -6.8654 against -6.8659 when starting from 1; K=20 (seeds 0-2) 34.2 instead of
44.5, -6.7790 against -6.7789; stdlib (seeds 0-9) -6.8537 against -6.8515.

Speed (``python benchmarks/bench_lda.py``, same corpus, 5 passes, fit seconds against
scikit-learn's in the same run): the E-step streams the documents through a cache-sized
working set that is refilled as documents converge, and documents with at most 16 topics
left through a compact one of those topics' columns (layout and per-iteration costs in
``_estep.py``). Run of 2026-11-24 (session 5): K=100 batch 15.80 s against 60.15 s
(3.8x; float32 5.0x; 1.6x before the working set), K=20 batch 5.3x, K=100 online 12.28 s
against 37.10 s (3.0x; 3.2x in a second run; the machine's times drift by 10-15%),
K=20 online 3.3x. In online learning ``lambda`` is kept transposed
(``_LazyTopics``) so that a mini-batch's words are whole rows, and the digamma of its
``|words| x K`` topic entries, most of which sit just above the prior ``eta``, is a
series about ``eta`` (``digamma_about``).

Memory (peak of a 2-pass fit, ``tracemalloc``, the benchmark's measure): a fit holds a
few K x V arrays and one n_docs x K one, below scikit-learn's peak on every benchmark
corpus (stdlib, K=20: 1.6 MiB batch, 1.7 MiB online, against 1.9 and 1.8; K=100:
48.8 and 38.5 against 80.7). A batch sweep releases ``components_`` during its E-step
(``<S, E_old[log beta]>`` is the log of ``exp(E[log beta])``, ``_dot_log``) and writes
the new gammas over the previous ones (``document_e_step(overwrite_keep=True)``); online
epochs hold the topics only as ``_LazyTopics`` and keep the documents' gammas in float32
(they only seed the next epoch); the K x V and n_docs x K terms are computed in chunks;
the working set is at most three quarters of the fit's largest array
(``_working_set_bytes``).

``score`` evaluates the same
bound on new documents with ``phi`` at its optimum given ``gamma`` (the form of
scikit-learn's ``_approx_bound``).
"""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .._base import VariationalEstimator, check_fitted
from .._special import digamma_about, dirichlet_expectation_log
from ._estep import BLOCK_BYTES, add_rows, document_e_step, partial_restart
from ._priors import optimize_asymmetric_dirichlet, optimize_symmetric_dirichlet

__all__ = ["VariationalLDA"]

#: scikit-learn's random start of lambda and of the per-sweep gammas: Gamma(100, 1/100).
_INIT_SHAPE, _INIT_SCALE = 100.0, 0.01


def _as_csr(X):
    """CSR view of the counts: sparse input is converted (never densified), dense
    input is compressed; neither touches the caller's array."""
    if sp.issparse(X):
        return X if X.format == "csr" else X.tocsr()
    return sp.csr_matrix(X)


#: Bytes of each float64 temporary in the computations done in chunks (of topics in the
#: K x V ones, of documents in the n_docs x K ones): the fit's peak memory stays a few
#: K x V arrays (scikit-learn's is ~6), whatever K and V.
_CHUNK_BYTES = 1 << 15


def _row_sums(X):
    return np.asarray(X.sum(axis=1), dtype=np.float64).ravel()


def _fingerprint(X):
    """Two random linear functionals of each document's counts, shape (n_docs, 2).

    Equal for equal documents stored alike; different documents collide with
    probability zero (up to rounding).
    """
    weights = np.random.RandomState(20100625).uniform(1.0, 2.0, size=(X.shape[1], 2))
    return np.asarray(X @ weights, dtype=np.float64)


def _q_theta_terms(gamma, weights):
    """``sum_d w_d E[log theta_d]`` (K,) and ``sum_d w_d E_q[log q(theta_d)]`` (scalar).

    ``E_q[log q(theta_d)] = log Gamma(sum gamma_d) - sum_k log Gamma(gamma_dk)
    + sum_k (gamma_dk - 1) E[log theta_dk]`` (PRML eq. (B.22), negated entropy). Done in
    chunks of documents, so the temporaries stay small.
    """
    chunk = max(1, _CHUNK_BYTES // (8 * gamma.shape[1]))
    e_log_sum = np.zeros(gamma.shape[1])
    log_q_sum = 0.0
    for start in range(0, gamma.shape[0], chunk):
        g = gamma[start : start + chunk].astype(np.float64, copy=False)
        e_log = dirichlet_expectation_log(g)
        log_q = gammaln(g.sum(axis=1)) - gammaln(g).sum(axis=1) + np.einsum("dk,dk->d", g, e_log)
        log_q -= e_log.sum(axis=1)
        if weights is None:
            e_log_sum += e_log.sum(axis=0)
            log_q_sum += float(log_q.sum())
        else:
            w = weights[start : start + chunk].astype(np.float64)
            e_log_sum += w @ e_log
            log_q_sum += float(w @ log_q)
    return e_log_sum, log_q_sum


def _doc_prior_terms(alpha, weighted_e_log_sum, total_weight):
    """``sum_d w_d E[log p(theta_d | alpha)]`` from the weighted sum of E[log theta]."""
    alpha = np.asarray(alpha, dtype=np.float64)
    return float(
        total_weight * (gammaln(alpha.sum()) - gammaln(alpha).sum())
        + (alpha - 1.0) @ weighted_e_log_sum
    )


def _e_log_beta_chunks(lam):
    """``E[log beta_kw] = psi(lambda_kw) - psi(sum_w lambda_kw)`` (PRML eq. (B.21)) in
    chunks of topics: yields ``(rows, chunk)``, ``chunk`` float64 of shape (rows' topics,
    V), a new array each time."""
    n_topics, n_words = lam.shape
    e_log_total = digamma(lam.sum(axis=1, dtype=np.float64))
    step = max(1, _CHUNK_BYTES // (8 * n_words))
    for start in range(0, n_topics, step):
        rows = slice(start, min(start + step, n_topics))
        chunk = digamma(lam[rows].astype(np.float64, copy=False))
        chunk -= e_log_total[rows, None]
        yield rows, chunk


def _exp_e_log_beta_t(lam, dtype):
    """``exp(E[log beta])`` transposed, (V, K) C-contiguous in ``dtype``, and the sum of
    ``E[log beta]`` (for the update of eta)."""
    exp_t = np.empty(lam.shape[::-1], dtype=dtype)
    total = 0.0
    for rows, chunk in _e_log_beta_chunks(lam):
        total += float(chunk.sum())
        exp_t[:, rows] = np.exp(chunk, out=chunk).T
    return exp_t, total


def _dot_log(sstats_t, exp_t):
    """``<S, E[log beta]>`` from ``exp(E[log beta])`` (both (words, K)), an eighth of the
    rows at a time. Where ``exp(E[log beta])`` underflowed to 0, so did ``S`` (a multiple
    of it): its log is then taken at the smallest normal number, which adds exactly 0."""
    n_rows = exp_t.shape[0]
    step = max(1, -(-n_rows // 8))
    buffer = np.empty((min(step, n_rows), exp_t.shape[1]))
    total = 0.0
    for start in range(0, n_rows, step):
        rows = slice(start, start + step)
        chunk = exp_t[rows]
        log_exp = buffer[: chunk.shape[0]]
        with np.errstate(divide="ignore"):
            np.log(chunk, out=log_exp)
        part = float(np.einsum("wk,wk->", sstats_t[rows], log_exp))
        if not np.isfinite(part):  # 0 * log(0): underflow
            np.log(np.maximum(chunk, np.finfo(exp_t.dtype).tiny), out=log_exp)
            part = float(np.einsum("wk,wk->", sstats_t[rows], log_exp))
        total += part
    return total


def _topic_terms(lam, eta, sstats=None):
    """``sum_k E[log p(beta_k | eta)] - E[log q(beta_k | lambda_k)]`` (Blei et al. eq. (15)
    applied to the topics; Hoffman et al. eq. (3), last line); with ``sstats`` (K, V),
    also ``<S, E[log beta]>``."""
    n_topics, n_words = lam.shape
    terms = n_topics * (gammaln(n_words * eta) - n_words * gammaln(eta))
    terms -= float(gammaln(lam.sum(axis=1, dtype=np.float64)).sum())
    s_dot = 0.0
    for rows, chunk in _e_log_beta_chunks(lam):
        block = lam[rows].astype(np.float64, copy=False)
        # sum (eta - lambda) E[log beta], without an (eta - lambda) array
        terms += eta * float(chunk.sum()) - float(np.einsum("kw,kw->", block, chunk))
        terms += float(gammaln(block).sum())
        if sstats is not None:
            s_dot += float(np.einsum("kw,kw->", sstats[rows], chunk))
    return float(terms), s_dot


class _LazyTopics:
    """The topics ``lambda = scale * M + shift`` during online learning, kept transposed.

    An online step ``lambda <- (1 - rho) lambda + rho (eta + S)`` with ``S`` non-zero
    only on the mini-batch's words multiplies ``scale`` by ``1 - rho``, moves ``shift``
    towards ``eta`` and adds ``rho S / scale`` to those words of ``M``: O(K x words
    of the batch) instead of O(K x V). ``M`` is stored (V, K), so that a word's K values
    are contiguous: the batch's words are gathered and updated as whole rows (and come
    out in the (words, K) layout the E-step wants). ``M`` is rescaled (folded) when
    ``scale`` gets small, long before float64 loses digits.
    """

    def __init__(self, lam):
        self.M = np.array(lam.T, dtype=np.float64, order="C")
        self.scale, self.shift = 1.0, 0.0
        self.row_sums = self.M.sum(axis=0)

    def words(self, words):
        """``lambda[:, words]`` transposed, shape (len(words), K) (a new array)."""
        cols = self.M[words]
        cols *= self.scale
        cols += self.shift
        return cols

    def row_totals(self):
        return self.scale * self.row_sums + self.shift * self.M.shape[0]

    def step(self, rho, eta, words, stats_t, factor=1.0):
        """One online step with the statistics ``factor * stats_t``, where ``stats_t`` is
        ``S[:, words]`` transposed, (len(words), K)."""
        scale = self.scale * (1.0 - rho)
        shift = (1.0 - rho) * self.shift + rho * eta
        if scale < 1e-6:  # fold: M <- lambda's current value
            self.M *= scale
            self.M += shift
            add_rows(self.M, words, stats_t, rho * factor)
            self.row_sums = self.M.sum(axis=0)
            self.scale, self.shift = 1.0, 0.0
            return
        self.scale, self.shift = scale, shift
        add_rows(self.M, words, stats_t, rho * factor / scale)
        self.row_sums += (rho * factor / scale) * stats_t.sum(axis=0)

    def materialize(self, dtype):
        """``lambda``, shape (K, V), C-contiguous, in ``dtype``."""
        lam = np.multiply(self.M.T, self.scale, order="C")
        lam += self.shift
        return lam.astype(dtype, copy=False)


class VariationalLDA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, VariationalEstimator):
    """Latent Dirichlet allocation fitted by batch or online variational Bayes.

    The model and parameters of :class:`sklearn.decomposition.LatentDirichletAllocation`
    (same names, defaults and attributes), fitted by the same updates, with a
    vectorised E-step (no Python loop over documents), a batch ELBO that never
    decreases (when the documents' partially restarted E-step does worse in total, the
    fewest needed go back to their previous variational parameters), convergence on
    the ELBO per token (``tol``), sample weights, ``n_init`` restarts, and optional
    empirical-Bayes updates of the Dirichlet priors.

    Parameters
    ----------
    n_components : int, default=10
        Number of topics ``K``.
    doc_topic_prior : float, array-like of shape (n_components,) or None, default=None
        Prior ``alpha`` of the documents' topic proportions; ``None`` means
        ``1 / n_components``. An array gives an asymmetric prior.
    topic_word_prior : float or None, default=None
        Symmetric prior ``eta`` of the topics' word distributions; ``None`` means
        ``1 / n_components``.
    learning_method : {'batch', 'online'}, default='batch'
        ``'batch'``: every sweep is an E-step over all documents and an M-step (CAVI;
        the ELBO never decreases). ``'online'``: every sweep (epoch) runs one
        stochastic step per mini-batch of ``batch_size`` documents (Hoffman et al.
        2010).
    learning_decay : float, default=0.7
        ``kappa`` of the online step size ``rho_t = (learning_offset + t) ** -kappa``.
    learning_offset : float, default=10.0
        ``tau_0`` of the online step size.
    max_iter : int, default=10
        Most sweeps (passes over the data) per restart.
    batch_size : int, default=128
        Documents per mini-batch in online learning and in :meth:`partial_fit`.
    evaluate_every : int, default=-1
        scikit-learn's perplexity test, kept so that its calls work unchanged: when
        positive, every ``evaluate_every`` sweeps the training perplexity
        ``exp(-ELBO / tokens)`` is compared with its value ``evaluate_every`` sweeps
        earlier, and the fit stops when they differ by less than ``perp_tol``. It costs
        nothing here (the ELBO is computed every sweep), and ``tol`` applies as well.
    total_samples : float, default=1e6
        Number of documents the stream stands for, used by :meth:`partial_fit`.
    perp_tol : float, default=0.1
        Perplexity tolerance of the ``evaluate_every`` test.
    mean_change_tol : float, default=1e-3
        A document's E-step stops when the mean absolute change of its topic
        pseudo-counts is below this.
    max_doc_update_iter : int, default=100
        Most E-step iterations per document and sweep.
    tol : float, default=1e-3
        Stop when the ELBO changes by less than ``tol`` nats per token between sweeps.
    optimize_priors : bool, default=False
        Update ``doc_topic_prior_`` (an asymmetric vector) and ``topic_word_prior_``
        (a scalar) by empirical Bayes after every M-step (Minka's Newton iteration),
        in batch and online learning.
    n_init : int, default=1
        Independent restarts; the one with the highest ELBO is kept.
    n_jobs : int or None, default=None
        joblib workers for the restarts.
    random_state : int, RandomState instance or None, default=None
        Seeds the topics' random start (and the documents' start in
        :meth:`partial_fit`).
    warm_start : bool, default=False
        Continue from the previous fit's topics and priors; documents seen in the
        previous fit (matched by their counts) also start their first E-step partially
        restarted from their variational parameters, which the guard can return to
        (module docstring).
    verbose : int, default=0
        0 silent, 1 one line per restart, 2 one line per sweep.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        ``lambda``: the Dirichlet parameters of the topics' word distributions,
        pseudo-counts of word ``j`` in topic ``i``.
    exp_dirichlet_component_ : ndarray of shape (n_components, n_features)
        ``exp(E[log beta])``.
    doc_topic_prior_ : float or ndarray of shape (n_components,)
        The prior ``alpha`` used (learned when ``optimize_priors=True``, then a
        vector).
    topic_word_prior_ : float
        The prior ``eta`` used (learned when ``optimize_priors=True``).
    n_batch_iter_ : int
        Number of M-steps (batch sweeps or mini-batch steps) plus one, as in
        scikit-learn.
    bound_ : float
        Perplexity of the training set at the end of the fit, ``exp(-elbo_ / tokens)``
        (the final variational state, no extra pass over the data).
    elbo_ : float
        ELBO (nats, whole training set, all constants included) of the kept restart.
    elbo_history_ : ndarray of shape (n_iter_,)
        ELBO after every sweep of the kept restart.
    init_elbos_ : ndarray of shape (n_init,)
        Final ELBO of each restart.
    n_iter_ : int
        Sweeps run by the kept restart.
    converged_ : bool
        Whether the kept restart met ``tol`` within ``max_iter`` sweeps.
    n_features_in_ : int
        Number of features (vocabulary size) seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :term:`fit`, when they are all strings.

    See Also
    --------
    sklearn.decomposition.LatentDirichletAllocation : The same model; its E-step
        loops over documents in Python and restarts every document at random each
        sweep.

    Notes
    -----
    scikit-learn's ``evaluate_every`` and ``perp_tol`` are replaced by ``tol``: the
    ELBO is computed after every sweep at little cost and is the convergence test.

    References
    ----------
    D. M. Blei, A. Y. Ng and M. I. Jordan (2003). Latent Dirichlet allocation. JMLR 3,
    993-1022.

    M. D. Hoffman, D. M. Blei and F. Bach (2010). Online learning for latent Dirichlet
    allocation. NeurIPS 23.

    T. P. Minka (2000). Estimating a Dirichlet distribution. Technical report.

    Examples
    --------
    >>> from skvi.datasets import make_lda_corpus
    >>> from skvi.decomposition import VariationalLDA
    >>> X, _, _ = make_lda_corpus(200, 50, 3, doc_length=40, random_state=0)
    >>> lda = VariationalLDA(n_components=3, max_iter=50, random_state=0).fit(X)
    >>> lda.transform(X[:2]).shape
    (2, 3)
    >>> bool(lda.converged_)
    True
    """

    _parameter_constraints: dict = {
        **VariationalEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "doc_topic_prior": [None, Interval(Real, 0, None, closed="neither"), "array-like"],
        "topic_word_prior": [None, Interval(Real, 0, None, closed="neither")],
        "learning_method": [StrOptions({"batch", "online"})],
        "learning_decay": [Interval(Real, 0, 1, closed="both")],
        "learning_offset": [Interval(Real, 1.0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "total_samples": [Interval(Real, 0, None, closed="neither")],
        "mean_change_tol": [Interval(Real, 0, None, closed="left")],
        "evaluate_every": [Integral],
        "perp_tol": [Interval(Real, 0, None, closed="left")],
        "max_doc_update_iter": [Interval(Integral, 0, None, closed="left")],
        "optimize_priors": ["boolean"],
    }
    _variational_params = ("components_",)
    _accept_sparse = True
    #: Where a batch sweep starts each document's E-step: ``1 + w (gamma_prev - 1)``, a
    #: partial restart (module docstring); 0 restarts every sweep from 1.
    _warm_weight = 0.1
    #: The same for the second and later epochs of online learning (module docstring).
    _online_warm_weight = 0.5

    def __init__(
        self,
        n_components=10,
        *,
        doc_topic_prior=None,
        topic_word_prior=None,
        learning_method="batch",
        learning_decay=0.7,
        learning_offset=10.0,
        max_iter=10,
        batch_size=128,
        evaluate_every=-1,
        total_samples=1e6,
        perp_tol=1e-1,
        mean_change_tol=1e-3,
        max_doc_update_iter=100,
        tol=1e-3,
        optimize_priors=False,
        n_init=1,
        n_jobs=None,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self.n_components = n_components
        self.doc_topic_prior = doc_topic_prior
        self.topic_word_prior = topic_word_prior
        self.learning_method = learning_method
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.evaluate_every = evaluate_every
        self.total_samples = total_samples
        self.perp_tol = perp_tol
        self.mean_change_tol = mean_change_tol
        self.max_doc_update_iter = max_doc_update_iter
        self.tol = tol
        self.optimize_priors = optimize_priors
        self.n_init = n_init
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------ validation
    def _check_counts(self, X, *, reset, whom):
        """Validated CSR counts: finite, non-negative, float32/float64."""
        if not reset and hasattr(self, "components_"):
            dtype = self.components_.dtype
        else:
            dtype = [np.float64, np.float32]
        X = validate_data(self, X, reset=reset, accept_sparse="csr", dtype=dtype)
        values = X.data if sp.issparse(X) else X
        if values.size and values.min() < 0:
            raise ValueError(
                f"Negative values in data passed to {whom}: LDA needs non-negative word counts."
            )
        return _as_csr(X)

    def _validate_fit_data(self, X, y, sample_weight, reset):
        X = self._check_counts(X, reset=reset, whom=f"{type(self).__name__}.fit")
        return X, None, self._validate_sample_weight(sample_weight, X)

    def _check_priors(self, X, y):
        n_topics = self.n_components
        keep_learned = (
            self.optimize_priors
            and self.warm_start
            and self._has_variational_params()
            and hasattr(self, "doc_topic_prior_")
            and self.components_.shape == (n_topics, X.shape[1])
        )
        if keep_learned:
            return
        if self.doc_topic_prior is None:
            alpha = 1.0 / n_topics
        elif np.ndim(self.doc_topic_prior) == 0:
            alpha = float(self.doc_topic_prior)
        else:
            alpha = np.asarray(self.doc_topic_prior, dtype=np.float64)
            if alpha.shape != (n_topics,):
                raise ValueError(
                    f"doc_topic_prior has shape {alpha.shape}; expected a scalar or a "
                    f"vector of length n_components={n_topics}."
                )
            if not np.all(np.isfinite(alpha)) or np.any(alpha <= 0):
                raise ValueError("doc_topic_prior must be positive and finite.")
        if self.optimize_priors:
            alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (n_topics,)).copy()
        self.doc_topic_prior_ = alpha
        eta = 1.0 / n_topics if self.topic_word_prior is None else self.topic_word_prior
        self.topic_word_prior_ = float(eta)

    # ------------------------------------------------------- state helpers
    def _alpha(self, dtype=np.float64):
        return np.broadcast_to(
            np.asarray(self.doc_topic_prior_, dtype=dtype), (self.n_components,)
        )

    def _set_variational_params(self, params):
        super()._set_variational_params(params)
        if "components_" in params:
            lam = self.components_
            self._exp_topic_word_t = None  # released before its successor is formed
            # Kept transposed (V, K) so that a word's K values are contiguous for the
            # E-step's gather; exp_dirichlet_component_ is its (K, V) view.
            self._exp_topic_word_t, self._e_log_beta_total = _exp_e_log_beta_t(lam, lam.dtype)

    @property
    def exp_dirichlet_component_(self):
        """``exp(E[log beta])``, shape (n_components, n_features)."""
        return self._exp_topic_word_t.T

    def _get_variational_params(self, copy_arrays=True):
        params = super()._get_variational_params(copy_arrays)
        params["n_batch_iter_"] = self.n_batch_iter_
        params["doc_topic_prior_"] = np.copy(self.doc_topic_prior_)
        if np.ndim(params["doc_topic_prior_"]) == 0:
            params["doc_topic_prior_"] = float(params["doc_topic_prior_"])
        params["topic_word_prior_"] = self.topic_word_prior_
        if getattr(self, "_doc_topic_gamma", None) is not None:
            take = np.copy if copy_arrays else np.asarray
            params["_doc_topic_gamma"] = take(self._doc_topic_gamma)
            params["_doc_fingerprint"] = take(self._doc_fingerprint)
        return params

    def _fresh_gamma(self, X):
        """Where a document's E-step starts without a previous gamma (the first batch
        sweep, ``transform``): all pseudo-counts 1.

        scikit-learn starts from random draws near 1; a deterministic start gives the
        same answer for a repeated document and a weighted one.
        """
        return None  # document_e_step's all-ones start, without an (n_docs, K) array

    def _previous_gamma(self, X, fingerprint):
        """The previous sweep's gamma of each document of X, NaN for documents not seen.

        Documents are matched by a fingerprint of their counts (two random linear
        functionals), so a warm start on other documents, reordered or repeated ones
        reuses exactly the gammas of the same documents.
        """
        gamma = getattr(self, "_doc_topic_gamma", None)
        if gamma is None or gamma.shape[1] != self.n_components:
            return None
        stored = self._doc_fingerprint
        if stored.shape == fingerprint.shape and np.array_equal(stored, fingerprint):
            return gamma
        order = np.lexsort(stored.T[::-1])
        keys = stored[order]
        pos = np.clip(np.searchsorted(keys[:, 0], fingerprint[:, 0]), 0, len(keys) - 1)
        # Equal first keys form a run; look for the second key within it.
        matched = np.full(len(fingerprint), -1)
        for shift in range(4):  # identical documents share both keys: short runs
            cand = np.minimum(pos + shift, len(keys) - 1)
            hit = (matched < 0) & np.all(keys[cand] == fingerprint, axis=1)
            matched[hit] = order[cand[hit]]
        result = np.full((len(fingerprint), self.n_components), np.nan, dtype=gamma.dtype)
        found = matched >= 0
        result[found] = gamma[matched[found]]
        return result

    def _working_set_bytes(self, X):
        """The E-step's working set on X: cache-sized (``BLOCK_BYTES``), but at most three
        quarters of the largest of the topics (K x V), the documents' gammas (n_docs x K)
        and X's values, so that it cannot dominate the memory of a small fit (on the
        stdlib corpus, K=20: 1.7 MiB at the peak, scikit-learn 1.8-2.0; half: 1.5 MiB
        and 15% slower; all: 1.8 MiB)."""
        n_docs, n_words = X.shape
        largest = max(self.n_components * max(n_words, n_docs), X.nnz)
        return min(BLOCK_BYTES, largest * X.dtype.itemsize * 3 // 4)

    def _e_step(self, X, gamma, weights, compute_sstats=True, gamma_keep=None, warm_weight=0.0):
        # The previous gammas are this estimator's (or gathered for this call): the
        # E-step may overwrite them with the new ones.
        return document_e_step(
            X,
            self._exp_topic_word_t,
            self._alpha(X.dtype),
            gamma,
            max_iter=self.max_doc_update_iter,
            tol=self.mean_change_tol,
            weights=weights,
            gamma_keep=gamma_keep,
            warm_weight=warm_weight,
            compute_sstats=compute_sstats,
            overwrite_keep=True,
            block_bytes=self._working_set_bytes(X),
        )

    def _batch_statistics(self, X, gamma, weights, gamma_keep=None, warm_weight=0.0):
        """E-step on X; returns (gamma, S, pieces of the ELBO and of the prior updates)."""
        result = self._e_step(X, gamma, weights, gamma_keep=gamma_keep, warm_weight=warm_weight)
        # S_kw = exp(E[log beta_kw]) sum_d w_d exp(E[log theta_dk]) n_dw / Z_dw.
        sstats_t = result.sstats_t
        exp_t = self._exp_topic_word_t
        sstats_t *= exp_t
        sstats = sstats_t.T  # (K, V) view
        e_log_sum, log_q = _q_theta_terms(result.gamma, weights)
        total_weight = float(X.shape[0] if weights is None else weights.sum())
        log_norm = result.log_norm if weights is None else weights * result.log_norm
        pieces = {
            "log_norm": float(log_norm.sum()),
            "s_dot_e_old": _dot_log(sstats_t, exp_t),  # <S, E_old[log beta]>
            "e_log_theta_sum": e_log_sum,
            "log_q_theta": log_q,
            "weight": total_weight,
        }
        return result.gamma, sstats, pieces

    # ----------------------------------------------------------------- hooks
    def _initialize(self, X, y, random_state, sample_weight=None):
        X = _as_csr(X)
        lam = random_state.gamma(_INIT_SHAPE, _INIT_SCALE, (self.n_components, X.shape[1]))
        self._set_variational_params({"components_": lam.astype(X.dtype, copy=False)})
        self.n_batch_iter_ = 1
        self._doc_topic_gamma = None

    def _local_step(self, X, y, sample_weight=None):
        X = _as_csr(X)
        self._elbo_cache = None  # release the previous sweep's arrays before the E-step
        if self.learning_method == "online":
            self._online_epoch(X, sample_weight)
            return None
        # Every document restarts near gamma = 1 (as in scikit-learn, which restarts from
        # random values near 1), a tenth of the way towards its previous gamma (a partial
        # restart: module docstring); the guard sends the fewest documents back to their
        # previous gamma that keep the E-step from lowering the ELBO.
        fingerprint = _fingerprint(X)
        previous = self._previous_gamma(X, fingerprint)
        if previous is not None and previous is self._doc_topic_gamma:
            fingerprint = self._doc_fingerprint  # the same values: one array
        # The E-step needs the topics only as exp(E[log beta]) (this sweep's <S, E[log
        # beta]> is its log): lambda is released until the M-step sets the new one.
        self.components_ = None
        gamma, sstats, pieces = self._batch_statistics(
            X,
            self._fresh_gamma(X) if previous is None else None,
            sample_weight,
            gamma_keep=previous,
            warm_weight=self._warm_weight,
        )
        self._doc_topic_gamma = gamma
        self._doc_fingerprint = fingerprint
        pieces["sstats"] = sstats
        self._elbo_cache = pieces
        return sstats

    def _global_step(self, stats, scale):
        if stats is None:  # online: the epoch already moved the topics
            return
        # M-step, Hoffman et al. (2010) eq. (5): lambda = eta + sum_d w_d n_dw phi_dwk.
        lam = np.multiply(stats, scale, order="C", dtype=stats.dtype)
        lam += self.topic_word_prior_
        params = {"components_": lam}
        if self.optimize_priors:
            cache = self._elbo_cache
            params["doc_topic_prior_"] = optimize_asymmetric_dirichlet(
                self.doc_topic_prior_,
                cache["e_log_theta_sum"] / cache["weight"],
                cache["weight"],
            )
        self._set_variational_params(params)
        if self.optimize_priors:  # eta given the new lambda
            self.topic_word_prior_ = optimize_symmetric_dirichlet(
                self.topic_word_prior_, self._e_log_beta_total, *lam.shape
            )
        self.n_batch_iter_ += 1

    def _elbo(self, X, y, sample_weight=None):
        cache = self._elbo_cache
        docs = _doc_prior_terms(self._alpha(), cache["e_log_theta_sum"], cache["weight"])
        docs -= cache["log_q_theta"]
        topics, s_dot_e = _topic_terms(self.components_, self.topic_word_prior_, cache["sstats"])
        return docs + cache["log_norm"] + s_dot_e - cache["s_dot_e_old"] + topics

    def _elbo_normalizer(self, X, sample_weight):
        """``tol`` is per token: the (weighted) number of tokens."""
        lengths = _row_sums(_as_csr(X))
        return float(lengths.sum() if sample_weight is None else sample_weight @ lengths)

    _tol_unit = "token"

    def _extra_stopping_rule(self):
        if self.evaluate_every <= 0:
            return None
        every, perp_tol = self.evaluate_every, self.perp_tol

        def perplexity_settled(history, tokens):
            # scikit-learn's test (LatentDirichletAllocation.fit): perplexity evaluated
            # every `every` sweeps, stop when it changed by less than perp_tol.
            n = len(history)
            if n % every or n < 2 * every:
                return False
            before, now = np.exp(-np.array([history[n - 1 - every], history[n - 1]]) / tokens)
            return bool(abs(now - before) < perp_tol)

        return perplexity_settled

    def _warm_start_mismatch(self):
        fitted = self.components_.shape[0]
        if fitted != self.n_components:
            return f"n_components is {self.n_components}, the previous fit had {fitted}"
        return None

    def _elbo_is_monotone(self):
        # Online epochs are stochastic steps, which may lower the ELBO between epochs.
        return self.learning_method == "batch"

    def _finalize_fit(self, X, y, sample_weight=None):
        tokens = self._elbo_normalizer(X, sample_weight)
        self.bound_ = float(np.exp(-self.elbo_ / tokens)) if tokens > 0 else np.inf

    # ---------------------------------------------------------------- online
    def _online_steps(self, X, sample_weight, total, start, cache=None, gamma_out=None):
        """Online VB over X's mini-batches (Hoffman et al. 2010, Algorithm 2).

        For each mini-batch ``b``: an E-step from ``start(batch)`` (a slice of X's rows;
        it returns the starting gamma, or None for all ones) on the batch's own
        words only, then ``lambda <- (1 - rho_t) lambda + rho_t (eta + total/|b| S_b)``
        (eqs. (6)-(7)). ``lambda`` is held as ``scale * M + shift`` (``_LazyTopics``,
        ``M`` stored (V, K)): the step rescales two scalars and adds to the batch's rows
        of ``M``, so a step costs O(K x batch vocabulary), not O(K x V), and
        ``E[log beta]`` is formed on the batch's words only, already in the (words, K)
        layout of the E-step; ``components_`` is formed once at the end. When ``cache``
        is given, the ELBO pieces of every batch are added to it (see
        ``_online_epoch``); when ``gamma_out`` is, the documents' gammas are written
        into it.
        """
        n_docs, n_words = X.shape
        dtype = self.components_.dtype
        block_bytes = self._working_set_bytes(X)
        topics = _LazyTopics(self.components_)
        # The topics live in ``topics`` until the end: their other forms are released.
        self.components_ = self._exp_topic_word_t = None
        position = np.zeros(n_words, dtype=X.indices.dtype)  # word -> column in the batch
        try:
            for batch in gen_batches(n_docs, self.batch_size):
                self._online_batch_step(
                    topics,
                    X,
                    batch,
                    sample_weight,
                    start,
                    total,
                    position,
                    block_bytes,
                    cache,
                    gamma_out,
                )
        finally:  # (also when interrupted: the estimator keeps its topics)
            lam = topics.materialize(dtype)
            del topics  # before exp(E[log beta]) is formed
            self._set_variational_params({"components_": lam})

    def _online_batch_step(
        self,
        topics,
        X,
        batch,
        sample_weight,
        start,
        total,
        position,
        block_bytes,
        cache,
        gamma_out,
    ):
        """One mini-batch (rows ``batch`` of X) of ``_online_steps``: its E-step on its own
        words, then the step of the topics (and of the priors); its gamma goes to
        ``gamma_out`` (a method of its own, so that nothing of it outlives it)."""
        gamma0 = start(batch)  # (drawn even for a batch of weight 0: partial_fit's stream)
        weights = None if sample_weight is None else sample_weight[batch]
        batch_weight = float(batch.stop - batch.start if weights is None else weights.sum())
        if batch_weight <= 0:
            return
        # The batch's rows as views of X's arrays, its vocabulary, and the batch with its
        # columns renumbered into that vocabulary.
        lo, hi = X.indptr[batch.start], X.indptr[batch.stop]
        indices = X.indices[lo:hi]
        words = np.flatnonzero(np.bincount(indices, minlength=X.shape[1]))
        position[words] = np.arange(words.size, dtype=position.dtype)
        X_batch = sp.csr_matrix(
            (X.data[lo:hi], position[indices], X.indptr[batch.start : batch.stop + 1] - lo),
            shape=(batch.stop - batch.start, words.size),
        )
        # exp(E[log beta]) on the batch's words, (|W|, K) (Hoffman et al. eq. (5) needs
        # no other word); E[log beta] is not kept beside it (its log gives it back).
        exp_t = topics.words(words)
        digamma_about(exp_t, self.topic_word_prior_, out=exp_t)
        exp_t -= digamma(topics.row_totals())
        exp_t = np.exp(exp_t, out=exp_t).astype(X.dtype, copy=False)
        result = document_e_step(
            X_batch,
            exp_t,
            self._alpha(X.dtype),
            gamma0,
            max_iter=self.max_doc_update_iter,
            tol=self.mean_change_tol,
            weights=weights,
            block_bytes=block_bytes,
        )
        sstats_t = result.sstats_t
        sstats_t *= exp_t  # S_b on the batch's words, transposed (|W|, K)
        e_log_sum, log_q = _q_theta_terms(result.gamma, weights)
        if cache is not None:
            log_norm = result.log_norm if weights is None else weights * result.log_norm
            cache["log_norm"] += float(log_norm.sum())
            cache["s_dot_e_old"] += _dot_log(sstats_t, exp_t)
            cache["e_log_theta_sum"] += e_log_sum
            cache["log_q_theta"] += log_q
            cache["weight"] += batch_weight
            add_rows(cache["sstats"].T, words, sstats_t)
        if gamma_out is not None:
            gamma_out[batch] = result.gamma
        rho = float((self.learning_offset + self.n_batch_iter_) ** (-self.learning_decay))
        topics.step(rho, self.topic_word_prior_, words, sstats_t, total / batch_weight)
        if self.optimize_priors:
            target = optimize_asymmetric_dirichlet(
                self.doc_topic_prior_, e_log_sum / batch_weight, batch_weight
            )
            self.doc_topic_prior_ = (1.0 - rho) * self._alpha() + rho * target
            lam = topics.materialize(np.float64)
            e_log_total = sum(float(chunk.sum()) for _, chunk in _e_log_beta_chunks(lam))
            target = optimize_symmetric_dirichlet(self.topic_word_prior_, e_log_total, *lam.shape)
            self.topic_word_prior_ = (1.0 - rho) * self.topic_word_prior_ + rho * target
        self.n_batch_iter_ += 1

    def _online_epoch(self, X, sample_weight):
        """One pass of online VB over X in mini-batches; caches the epoch's ELBO pieces.

        The ELBO after the epoch is evaluated at every document's gamma and phi from
        its mini-batch's E-step (under the topics of that moment) and the final
        lambda: the word terms are ``sum_b [log_norm_b - <S_b, E_b[log beta]>] +
        <sum_b S_b, E_final[log beta]>``.
        """
        cache = {
            "log_norm": 0.0,
            "s_dot_e_old": 0.0,
            "e_log_theta_sum": np.zeros(self.n_components),
            "log_q_theta": 0.0,
            "weight": 0.0,
            # (K, V) view of a (V, K) array: the batches add whole rows of it.
            "sstats": np.zeros(self.components_.shape[::-1], dtype=self.components_.dtype).T,
        }
        total = float(X.shape[0] if sample_weight is None else sample_weight.sum())
        # From the second epoch on, a document's E-step starts part of the way towards
        # where the previous epoch left it, 1 + w (gamma_prev - 1), as batch sweeps do
        # (no guard: online epochs need not raise the ELBO).
        fingerprint = _fingerprint(X)
        previous = self._previous_gamma(X, fingerprint)

        def start(batch):
            if previous is None:
                return None
            return partial_restart(previous[batch], self._online_warm_weight, X.dtype)

        own = previous is not None and previous is getattr(self, "_doc_topic_gamma", None)
        if own:
            fingerprint = self._doc_fingerprint  # the same values: one array
        # The gammas only seed the next epoch's partial restarts (or a warm start's
        # first E-step, which starts from them and may go back to them, whatever their
        # precision): float32 holds them in half the memory.
        if own and previous.dtype == np.float32:
            gamma = previous  # this restart's array: a batch's rows are read, then rewritten
        else:
            gamma = np.ones((X.shape[0], self.n_components), dtype=np.float32)
        self._online_steps(X, sample_weight, total, start, cache, gamma_out=gamma)
        self._doc_topic_gamma, self._doc_fingerprint = gamma, fingerprint
        self._elbo_cache = cache

    # ------------------------------------------------------------ public API
    def fit(self, X, y=None, sample_weight=None):
        """Fit the topics by batch or online variational Bayes.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask.array.Array} of shape (n_samples, n_features)
            Document-word counts (non-negative). A dask array (of dense or scipy.sparse
            blocks, batch learning only) is fitted where its blocks are; see
            :meth:`skvi._base.VariationalEstimator.fit`.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative document weights; an integer weight acts as repeating the
            document.

        Returns
        -------
        self : VariationalLDA
            The fitted estimator.
        """
        return super().fit(X, y, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Online VB steps on the mini-batches of ``X`` (Hoffman et al. 2010).

        ``X`` is cut into mini-batches of ``batch_size`` documents; each one gets an
        E-step from a random start (as scikit-learn's) and one stochastic step of the
        topics, scaled as if the corpus held ``total_samples`` documents.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word counts (non-negative).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative document weights.

        Returns
        -------
        self : VariationalLDA
            The updated estimator.
        """
        first_call = not hasattr(self, "components_")
        X, _, sample_weight = self._validate_fit_data(X, None, sample_weight, reset=first_call)
        if first_call:
            self._check_priors(X, None)
            self.random_state_ = check_random_state(self.random_state)
            lam = self.random_state_.gamma(
                _INIT_SHAPE, _INIT_SCALE, (self.n_components, X.shape[1])
            )
            self._set_variational_params({"components_": lam.astype(X.dtype, copy=False)})
            self.n_batch_iter_ = 1
        elif not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)

        def start(batch):  # scikit-learn's random start, drawn from the same stream
            return self.random_state_.gamma(
                _INIT_SHAPE, _INIT_SCALE, (batch.stop - batch.start, self.n_components)
            ).astype(X.dtype, copy=False)

        self._online_steps(X, sample_weight, float(self.total_samples), start)
        return self

    def _unnormalized_transform(self, X):
        return self._e_step(X, self._fresh_gamma(X), None, compute_sstats=False)

    def transform(self, X, *, normalize=True):
        """Document-topic proportions: the posterior mean of ``theta`` under q.

        An E-step on ``X`` with the fitted topics, started as scikit-learn's (all
        pseudo-counts 1).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word counts (non-negative).
        normalize : bool, default=True
            Return ``gamma_d / sum_k gamma_dk`` (proportions); ``False`` returns the
            pseudo-counts ``gamma``.

        Returns
        -------
        doc_topic : ndarray of shape (n_samples, n_components)
            Topic proportions (rows sum to one), or pseudo-counts.
        """
        check_fitted(self)
        X = self._check_counts(X, reset=False, whom=f"{type(self).__name__}.transform")
        gamma = self._unnormalized_transform(X).gamma
        if normalize:
            gamma /= gamma.sum(axis=1, keepdims=True)
        return gamma

    def fit_transform(self, X, y=None, *, normalize=True, sample_weight=None):
        """Fit to ``X``, then return its document-topic proportions.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word counts (non-negative).
        y : Ignored
            Not used, present for API consistency.
        normalize : bool, default=True
            Normalise the pseudo-counts into proportions.
        sample_weight : array-like of shape (n_samples,), default=None
            Document weights for the fit.

        Returns
        -------
        doc_topic : ndarray of shape (n_samples, n_components)
            Topic proportions of the training documents.
        """
        return self.fit(X, y, sample_weight=sample_weight).transform(X, normalize=normalize)

    def predict_proba(self, X):
        """Document-topic proportions (the same as :meth:`transform`).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word counts (non-negative).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components)
            Posterior mean topic proportions; rows sum to one.
        """
        return self.transform(X)

    def predict(self, X):
        """The dominant topic of each document.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word counts (non-negative).

        Returns
        -------
        topics : ndarray of shape (n_samples,)
            Index of the largest posterior mean topic proportion.
        """
        return np.argmax(self.transform(X, normalize=False), axis=1)

    def _bound(self, X, sub_sampling=False):
        """The ELBO of X with the fitted topics (scikit-learn's ``_approx_bound``)."""
        result = self._unnormalized_transform(X)
        e_log_sum, log_q = _q_theta_terms(result.gamma, None)
        docs = _doc_prior_terms(self._alpha(), e_log_sum, X.shape[0]) - log_q
        docs += float(result.log_norm.sum())
        if sub_sampling:
            docs *= float(self.total_samples) / X.shape[0]
        return docs + _topic_terms(self.components_, self.topic_word_prior_)[0]

    def score(self, X, y=None):
        """ELBO of ``X`` with the fitted topics: an approximate log-likelihood.

        An E-step on ``X`` (as in :meth:`transform`), then the full bound: the
        documents' terms and the topics' terms, all constants included (the value
        scikit-learn's ``score`` computes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word counts (non-negative).
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        score : float
            The ELBO in nats.
        """
        check_fitted(self)
        X = self._check_counts(X, reset=False, whom=f"{type(self).__name__}.score")
        return float(self._bound(X))

    def perplexity(self, X, sub_sampling=False):
        """Approximate perplexity ``exp(-ELBO / tokens)`` of ``X``, as scikit-learn.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Document-word counts (non-negative).
        sub_sampling : bool, default=False
            Scale the documents' terms and the token count by
            ``total_samples / n_samples`` (``X`` a sample of a larger corpus).

        Returns
        -------
        perplexity : float
            Perplexity per token.
        """
        check_fitted(self)
        X = self._check_counts(X, reset=False, whom=f"{type(self).__name__}.perplexity")
        tokens = float(X.sum())
        if tokens == 0:
            raise ValueError(
                "perplexity is undefined for X without any token: every document is empty."
            )
        if sub_sampling:
            tokens *= float(self.total_samples) / X.shape[0]
        return float(np.exp(-self._bound(X, sub_sampling) / tokens))

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float32", "float64"]
        return tags

    # ------------------------------------------------ fit on a dask array (skvi._dask)
    #: Each block's documents keep their gamma between sweeps, on the worker.
    _dask_local_state = ("_doc_topic_gamma", "_doc_fingerprint")
    #: The per-sweep cache stays on the client (``_dask_set_pieces`` fills it there).
    _dask_client_only = ("_elbo_cache",)

    def _dask_unsupported(self):
        if self.learning_method == "online":
            return (
                "learning_method='online' steps through the mini-batches one after "
                "another; use learning_method='batch', or partial_fit on the blocks "
                "(for block in X.blocks: lda.partial_fit(block.compute()))."
            )
        return None

    def _dask_prepare_block(self, X, y, sample_weight):
        return _as_csr(X), y, sample_weight

    def _dask_pieces(self):
        """The block's additive ELBO pieces (the statistics come separately)."""
        cache = self._elbo_cache
        keys = ("log_norm", "s_dot_e_old", "e_log_theta_sum", "log_q_theta", "weight")
        return {key: cache[key] for key in keys}

    def _dask_set_pieces(self, pieces, stats):
        self._elbo_cache = {**pieces, "sstats": stats}

    def _dask_finalize_fit(self, data):
        tokens = data.normalizer
        self.bound_ = float(np.exp(-self.elbo_ / tokens)) if tokens > 0 else np.inf
