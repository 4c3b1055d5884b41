"""The document E-step of LDA, blocked: no Python loop over documents.

For every document d the E-step alternates, until the topic pseudo-counts ``gamma_d``
stop moving (Blei, Ng & Jordan 2003, Fig. 6, eqs. (6)-(7); Hoffman, Blei & Bach 2010,
Algorithm 1; written in the ``exp E[log]`` form of scikit-learn and onlineldavb)::

    Z_dw     = sum_k exp(E[log theta_dk]) exp(E[log beta_kw])        (phi's normaliser)
    gamma_dk = alpha_k + exp(E[log theta_dk]) sum_w n_dw exp(E[log beta_kw]) / Z_dw
    exp(E[log theta_dk]) = exp(psi(gamma_dk) - psi(sum_j gamma_dj))

with ``phi_dwk = exp(E[log theta_dk]) exp(E[log beta_kw]) / Z_dw``, until the mean
absolute change of ``gamma_d`` is below ``tol`` (scikit-learn's ``mean_change_tol``)
or ``max_iter`` iterations have run. The expected sufficient statistics for the topics
are then ``S_kw = sum_d weight_d n_dw phi_dwk``, formed at the final ``gamma_d``.

How the work is laid out (measured in PERFORMANCE.md): documents are sorted by their
number of distinct words and cut into blocks of similar length, padded to the block's
longest document and small enough that the block's gathered topic columns
``exp(E[log beta])[:, words of d]`` (a ``(B, L, K)`` array) stay in cache. That gather
happens once per block per E-step; every inner iteration is then two batched
matrix-vector products (``numpy.matmul`` over the stack of documents), one digamma and
one exp over ``(B, K)``. A document whose ``gamma_d`` has converged leaves the active
set; the working arrays are compacted when at most half of them are still active. The
statistics ``S`` come from one sparse-dense product ``R^T exp(E[log theta])`` where
``R`` has X's sparsity and holds ``weight_d n_dw / Z_dw``; they are multiplied by
``exp(E[log beta])`` by the caller (as scikit-learn does).

Padding contributes exactly nothing: padded entries have count 0, so their ratio is 0.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln

try:  # scipy's compiled CSC-times-dense kernel, accumulating into its output
    from scipy.sparse._sparsetools import csc_matvecs as _csc_matvecs
except ImportError:  # pragma: no cover
    _csc_matvecs = None

__all__ = ["EStepResult", "document_e_step", "exp_dirichlet_expectation"]

#: Bytes of gathered topic columns per block: a few MiB keeps a block in L2/L3 cache.
BLOCK_BYTES = 2 << 20
#: Relative margin by which a document's previous gamma must beat the new iteration to
#: be kept: far above rounding, far below the ELBO monitor's slack (sqrt(eps)).
KEEP_MARGIN = 1e-11
#: Most documents per block (bounds the per-block temporaries for very short documents).
MAX_BLOCK_DOCS = 1024


@dataclass
class EStepResult:
    """What one E-step over a set of documents returns.

    Attributes
    ----------
    gamma : ndarray of shape (n_docs, K)
        Final topic pseudo-counts (rows of documents that were skipped, weight 0,
        are the initial values).
    sstats_t : ndarray of shape (V, K) or None
        ``sum_d weight_d exp(E[log theta_dk]) n_dw / Z_dw``, transposed; multiply by
        ``exp(E[log beta_kw])`` to get the statistics ``S_kw``.
    log_norm : ndarray of shape (n_docs,)
        ``sum_w n_dw log Z_dw`` per document at the final ``gamma`` (unweighted; 0 for
        skipped documents): the word terms of the ELBO with ``phi`` at its optimum
        given ``gamma`` and the topics.
    doc_iterations : int
        Total inner iterations summed over documents (a cost diagnostic).
    n_kept : int
        Documents that kept their ``gamma_keep`` values.
    """

    gamma: np.ndarray
    sstats_t: np.ndarray | None
    log_norm: np.ndarray
    doc_iterations: int
    n_kept: int = 0


def exp_dirichlet_expectation(gamma):
    """``exp(E[log theta])`` under ``Dir(gamma)`` row-wise: ``exp(psi(g) - psi(sum g))``.

    Bishop (2006) PRML eq. (B.21).
    """
    return np.exp(digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True)))


def _block_bounds(lengths, n_topics, itemsize, block_bytes, max_docs):
    """Cut documents sorted by length into ``[start, stop)`` blocks within the budget."""
    n = lengths.size
    cap = max(block_bytes // (itemsize * n_topics), 1)  # most B * L per block
    bounds = []
    i = 0
    while i < n:
        hi = min(n, i + max_docs)
        if (hi - i) * max(int(lengths[hi - 1]), 1) <= cap:
            j = hi
        else:  # (j - i) * lengths[j - 1] grows with j: bisect for the largest fit
            lo, j = i + 1, i + 1
            while lo <= hi:
                mid = (lo + hi) // 2
                if (mid - i) * max(int(lengths[mid - 1]), 1) <= cap:
                    j, lo = mid, mid + 1
                else:
                    hi = mid - 1
        bounds.append((i, j))
        i = j
    return bounds


def document_e_step(
    X,
    exp_topic_word_t,
    doc_topic_prior,
    gamma_init,
    *,
    max_iter,
    tol,
    weights=None,
    gamma_keep=None,
    compute_sstats=True,
    block_bytes=BLOCK_BYTES,
    max_block_docs=MAX_BLOCK_DOCS,
):
    """Run the LDA E-step on every document of ``X`` at once.

    Parameters
    ----------
    X : scipy.sparse.csr_matrix or csr_array of shape (n_docs, V)
        Non-negative counts, float32 or float64. Neither sorted indices nor the absence
        of duplicates is required; ``X`` is not modified.
    exp_topic_word_t : ndarray of shape (V, K), C-contiguous, X's dtype
        ``exp(E[log beta_kw])``, transposed so that a word's K values are contiguous.
    doc_topic_prior : ndarray of shape (K,)
        The Dirichlet prior ``alpha`` of the topic proportions.
    gamma_init : ndarray of shape (n_docs, K) or None
        Starting pseudo-counts (not modified); ``None`` starts every document at 1.
    max_iter : int
        Most inner iterations per document (``max_doc_update_iter``).
    tol : float
        A document stops when the mean absolute change of its ``gamma`` is below this
        (``mean_change_tol``).
    weights : ndarray of shape (n_docs,) or None
        Document weights; documents of weight 0 are skipped.
    gamma_keep : ndarray of shape (n_docs, K) or None
        Previous pseudo-counts: a document keeps them (with ``phi`` re-optimised for
        the current topics) when they give it a higher ELBO than the iteration from
        ``gamma_init`` reached. This makes a batch sweep that restarts every document
        never lower the ELBO.
    compute_sstats : bool
        Whether to form the topic statistics.

    Returns
    -------
    EStepResult
    """
    dtype = exp_topic_word_t.dtype
    n_docs, n_words = X.shape
    n_topics = exp_topic_word_t.shape[1]
    alpha = np.asarray(doc_topic_prior, dtype=dtype)
    tiny = np.finfo(dtype).tiny  # guards 0/0 only; phi stays exactly normalised
    if gamma_init is None:  # all pseudo-counts 1 (scikit-learn's deterministic start)
        gamma = np.ones((n_docs, n_topics), dtype=dtype)
    else:
        gamma = np.array(gamma_init, dtype=dtype, copy=True, order="C")
    indptr = np.asarray(X.indptr)
    indices = np.asarray(X.indices)
    data = np.asarray(X.data)
    lengths = np.diff(indptr)

    docs = np.arange(n_docs) if weights is None else np.flatnonzero(weights > 0)
    order = docs[np.argsort(lengths[docs], kind="stable")]
    sstats_t = np.zeros((n_words, n_topics), dtype=dtype) if compute_sstats else None
    log_norm = np.zeros(n_docs)
    doc_iterations = 0
    n_kept = 0

    for start, stop in _block_bounds(
        lengths[order], n_topics, dtype.itemsize, block_bytes, max_block_docs
    ):
        block = order[start:stop]
        width = int(lengths[block[-1]])
        offsets = np.arange(width)
        valid = offsets < lengths[block][:, None]  # (B, L)
        positions = np.where(valid, indptr[block][:, None] + offsets, 0)
        if data.shape[0] == 0:
            positions = np.zeros_like(positions)
            counts = np.zeros(positions.shape, dtype=dtype)
            words = positions
        else:
            counts = np.where(valid, data[positions], 0).astype(dtype, copy=False)
            words = np.where(valid, indices[positions], 0)
        topic_cols = exp_topic_word_t[words]  # (B, L, K): the one gather per E-step

        g_final, et_final, iters = _iterate_block(
            topic_cols, counts, gamma[block], alpha, max_iter, tol, tiny
        )
        doc_iterations += iters

        # Final phi normalisers at the final gamma (scikit-learn forms its statistics
        # at the same point).
        norm = np.matmul(topic_cols, et_final[:, :, None])[..., 0] + tiny
        block_log_norm = np.sum(counts * np.log(norm), axis=1, dtype=np.float64)
        if gamma_keep is not None:
            g_old = gamma_keep[block].astype(dtype)
            et_old = exp_dirichlet_expectation(g_old)
            norm_old = np.matmul(topic_cols, et_old[:, :, None])[..., 0] + tiny
            log_norm_old = np.sum(counts * np.log(norm_old), axis=1, dtype=np.float64)
            # Keep the old values only when clearly better (not by rounding), so that a
            # converged iteration always wins a tie.
            bound_new = _doc_bound(g_final, alpha, block_log_norm)
            bound_old = _doc_bound(g_old, alpha, log_norm_old)
            keep = bound_old - bound_new > KEEP_MARGIN * np.maximum(np.abs(bound_new), 1.0)
            if keep.any():
                g_final[keep], et_final[keep], norm[keep] = (
                    g_old[keep],
                    et_old[keep],
                    norm_old[keep],
                )
                block_log_norm[keep] = log_norm_old[keep]
                n_kept += int(keep.sum())
        gamma[block] = g_final
        log_norm[block] = block_log_norm
        if compute_sstats:
            w_block = None if weights is None else weights[block].astype(dtype)[:, None]
            weighted_counts = counts if w_block is None else counts * w_block
            block_ptr = np.zeros(block.size + 1, dtype=indices.dtype)
            np.cumsum(lengths[block], out=block_ptr[1:])
            _add_transposed_product(
                sstats_t,
                block_ptr,
                words[valid].astype(indices.dtype, copy=False),
                (weighted_counts / norm)[valid],
                et_final,
            )
    return EStepResult(gamma, sstats_t, log_norm, doc_iterations, n_kept)


def _add_transposed_product(out, col_ptr, row_idx, values, dense):
    """``out += A @ dense`` for the (V, B) sparse ``A`` given in CSC form.

    ``A`` holds a block's ``n_dw / Z_dw`` (column b = document b), so this adds the
    block's ``sum_d exp(E[log theta_dk]) n_dw / Z_dw`` to the statistics without
    forming anything of size ``n_docs x K``. It calls scipy's compiled kernel (the one
    behind ``csc_matrix @ dense``) to accumulate in place; without it, the public
    product is added.
    """
    n_rows, n_vecs = out.shape
    dense = np.ascontiguousarray(dense, dtype=out.dtype)
    values = np.ascontiguousarray(values, dtype=out.dtype)
    if _csc_matvecs is not None:
        _csc_matvecs(
            n_rows, dense.shape[0], n_vecs, col_ptr, row_idx, values, dense.ravel(), out.ravel()
        )
    else:  # pragma: no cover - older or newer scipy without the private kernel
        A = sp.csc_matrix((values, row_idx, col_ptr), shape=(n_rows, dense.shape[0]))
        out += A @ dense


def _doc_bound(gamma, alpha, log_norm):
    """The ELBO terms of each document that depend on its gamma (float64).

    ``sum_k (alpha_k - gamma_k) E[log theta_k] + sum_k log Gamma(gamma_k)
    - log Gamma(sum_k gamma_k) + sum_w n_w log Z_w`` with phi at its optimum: Blei et
    al. (2003) eq. (15) for one document, less the terms that depend on alpha only.
    """
    gamma = gamma.astype(np.float64)
    total = gamma.sum(axis=1)
    e_log = digamma(gamma) - digamma(total)[:, None]
    return (
        np.einsum("dk,dk->d", alpha.astype(np.float64) - gamma, e_log)
        + gammaln(gamma).sum(axis=1)
        - gammaln(total)
        + log_norm
    )


def _iterate_block(topic_cols, counts, gamma0, alpha, max_iter, tol, tiny):
    """The fixed-point iteration on one block; returns final gamma, exp E[log theta]."""
    n_block, n_topics = gamma0.shape
    gamma_out = gamma0.copy()
    exp_theta = exp_dirichlet_expectation(gamma0)
    exp_theta_out = exp_theta.copy()
    # Working set: all documents of the block; ``alive`` marks those not yet converged.
    cols, cnts, g_last, idx = topic_cols, counts, gamma0, np.arange(n_block)
    alive = np.ones(n_block, dtype=bool)
    # Scratch buffers, sliced to the working set's size after each compaction.
    norm_buf = np.empty((*counts.shape, 1), dtype=counts.dtype)
    g_buf = np.empty((n_block, 1, n_topics), dtype=counts.dtype)
    diff_buf = np.empty((n_block, n_topics), dtype=counts.dtype)
    iterations = 0
    for _ in range(max_iter):
        n = cols.shape[0]
        norm = np.matmul(cols, exp_theta[:, :, None], out=norm_buf[:n])[..., 0]
        norm += tiny
        np.divide(cnts, norm, out=norm)  # the ratio n_dw / Z_dw, in place
        g_new = np.matmul(norm[:, None, :], cols, out=g_buf[:n])[:, 0, :]
        g_new *= exp_theta
        g_new += alpha
        g_new = g_new.copy()  # g_buf is reused next iteration; g_last must survive it
        exp_theta = _exp_dirichlet_inplace(g_new, exp_theta)
        iterations += int(alive.sum())
        diff = np.subtract(g_new, g_last, out=diff_buf[:n])
        np.abs(diff, out=diff)
        change = diff.mean(axis=1)
        done = alive & (change < tol)
        if done.any():
            gamma_out[idx[done]] = g_new[done]
            exp_theta_out[idx[done]] = exp_theta[done]
            alive &= ~done
            n_alive = int(alive.sum())
            if n_alive == 0:
                return gamma_out, exp_theta_out, iterations
            if 2 * n_alive <= alive.size:  # compact: converged documents leave
                cols, cnts, idx = cols[alive], cnts[alive], idx[alive]
                g_new, exp_theta = g_new[alive], exp_theta[alive]
                alive = np.ones(n_alive, dtype=bool)
        g_last = g_new
    gamma_out[idx[alive]] = g_last[alive]
    exp_theta_out[idx[alive]] = exp_theta[alive]
    return gamma_out, exp_theta_out, iterations


def _exp_dirichlet_inplace(gamma, out):
    """``exp_dirichlet_expectation(gamma)`` written into ``out`` (same shape), returned."""
    if out.shape != gamma.shape or not out.flags.writeable:
        out = np.empty_like(gamma)
    digamma(gamma, out=out)
    out -= digamma(gamma.sum(axis=1, keepdims=True))
    return np.exp(out, out=out)
