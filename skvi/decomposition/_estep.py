"""The document E-step of LDA over a streamed working set: no Python loop over documents.

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

The factor ``exp(-psi(sum_j gamma_dj))`` is common to all topics of a document and
cancels between ``Z_dw`` and the update of ``gamma_d``, so the loop iterates with
``exp(psi(gamma_dk))`` (one digamma and one exp per topic and iteration) and the
factor is applied once, when the document has converged.

How the work is laid out. Documents are sorted by their number of distinct words and
streamed through a working set of slots, each holding one document's gathered topic
columns ``exp(E[log beta])[:, words of d]`` padded to the working set's width (a
``(slots, width, K)`` array of at most ``BLOCK_BYTES``, small enough to stay in the L3
cache, and less in a small fit: the caller's ``block_bytes``). Every iteration is two
batched matrix-vector products over the working set (``numpy.matmul`` over the stack
of documents), one digamma and one exp over ``(slots, K)``:

- A document that has converged is frozen: its final ``gamma`` and ``exp(psi(gamma))``
  are kept, and the next iteration's first product gives its final ``Z`` (so finishing
  needs no product of its own). Once an eighth of the slots (and at least 16, or half
  of a small set) are frozen they are finished in one batch (final normalisers, ELBO
  terms, the statistics) and refilled with the next documents, so the working set
  stays full of documents that still iterate, instead of iterating as long as its
  slowest document.
- The gather of a document's columns happens once per E-step, when it enters a slot,
  together with its first ``Z`` and, for the guard, ``Z`` and the ELBO terms of its
  previous ``gamma`` (one product with two columns). The working set widens when the
  next documents are longer than its width: its word arrays are views of flat buffers
  of its budget, re-laid out in place (each document's row moves to its new offset,
  from the last one back), so no second set coexists with it; if its documents do not
  fit at the new width, it widens as far as they do.
- Memory: the E-step holds the topics' ``exp(E[log beta])`` (V, K), the statistics
  (V, K), one (n_docs, K) gamma (``overwrite_keep``: the new gammas over the previous
  ones, with the previous rows of the documents the guard might revert kept aside), the
  working set and small buffers; so a fit's peak is a few K x V arrays, below
  scikit-learn's (module docstring of ``_lda.py``).
- A topic that a document does not use decays to ``gamma_dk = alpha_k`` exactly (the
  update ``alpha_k + exp(psi(gamma_dk)) * ...`` rounds to ``alpha_k``); there
  ``exp(psi(gamma_dk))`` is the constant ``exp(psi(alpha_k))``, so while at least half
  of the entries are at ``alpha`` the digamma runs on the others only (83-89% of the
  entries at K=100 on the benchmark corpus; none at K=20, where ``alpha = 0.05`` leaves
  ``gamma`` a few 1e-9 above ``alpha``).
- Compact set (E-steps of ``COMPACT_MIN_DOCS`` documents or more, K >= 2
  ``LIVE_TOPICS``): a document with at most ``LIVE_TOPICS`` = 16 topics off alpha
  moves, with its current ``Z``, to a second working set that holds only those
  topics' columns, ``(slots, width, 16)``: its products cost 16/K of the full ones.
  Its dead topics add ``exp(psi(alpha_k)) beta_kw`` (~1e-44 beta at alpha = 0.01) to
  ``Z_dw``: every update bounds what they could add to gamma by
  ``sum_w n_dw dead_bound_w / Z_dw``, and a document where that reaches a quarter of
  alpha's half-ulp gets the full update instead (``_EStep.check_dead``; its topics
  that come back to life join its live ones), so the iterates are still
  scikit-learn's up to rounding. At K=100 on the benchmark corpus documents reach 16
  live topics after ~21 of ~95 iterations in the first sweep and ~4 of ~25 in later
  ones; the E-steps took 4.8-5.1 s instead of 7.2-7.5 s (first sweep) and 2.0-2.2 s
  instead of 2.5-2.9 s (fourth). 8, 12, 24 and 32 live topics were slower than 16.
- The guard (with ``gamma_keep``): once every document has converged, the fewest
  documents whose previous gamma is better for them go back to it, largest gain first,
  until the E-step's total bound is at least the previous gammas' total; their
  statistics are corrected at their non-zeros (``_EStep.revert``).
- The statistics ``S`` come from the sparse-dense product ``R^T exp(E[log theta])``
  where ``R`` has X's sparsity and holds ``weight_d n_dw / Z_dw``, accumulated in
  batches of documents transposed into rows by word (``_Statistics``); the caller
  multiplies them by ``exp(E[log beta])`` (as scikit-learn does).

Measured at K=100 (float64) on the benchmark corpus (20,000 documents of ~85 distinct
words, after 3 sweeps, partial restarts, 20 inner iterations per document), against
the previous layout (blocks of length-sorted documents iterated until their slowest
document converged, compacted when half had): 2.3 s against 3.6 s per E-step. Per
document and E-step the fixed costs (gather, guard, finishing, statistics) are ~45 us,
each inner iteration ~3.5 us (the two products ~2.4 us at the L3 cache's bandwidth,
the digamma ~1 us before the dead-topic shortcut).

Padding contributes exactly nothing: padded entries have count 0, so their ratio is 0.
Every document's iterates are those of scikit-learn's per-document loop (up to
rounding), whatever the slot it lands in.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln

try:  # scipy's compiled sparse kernels: CSR -> CSC, CSR-times-dense accumulating in place
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
    from scipy.sparse._sparsetools import csr_tocsc as _csr_tocsc
except ImportError:  # pragma: no cover
    _csr_matvecs = _csr_tocsc = None

__all__ = [
    "EStepResult",
    "add_rows",
    "document_e_step",
    "exp_dirichlet_expectation",
    "partial_restart",
]

#: Bytes of gathered topic columns in the working set. Measured at K=100 (float64, 43
#: inner iterations per document, fixed costs included) on this machine (L2 1 MiB per
#: core, L3 32 MiB shared): 1 MiB 7.9, 2 MiB 6.7, 4 MiB 5.8, 8 MiB 6.0, 16 MiB 8.6,
#: 32 MiB 14 us per document-iteration (beyond ~8 MiB the products stream from memory).
BLOCK_BYTES = 4 << 20
#: Relative margin by which a document's previous gamma must beat the new iteration to
#: be kept: far above rounding, far below the ELBO monitor's slack (sqrt(eps)).
KEEP_MARGIN = 1e-11
#: Most slots in the working set (bounds the per-iteration temporaries for very short
#: documents).
MAX_BLOCK_DOCS = 256
#: A slot's arrays without a word axis (six of K entries) count as this many words of
#: the working set's budget.
SLOT_WORDS = 6
#: Frozen slots are finished and refilled once they are 1/REFILL_FRACTION of the slots,
#: or, in a set of short documents and few topics, once they hold REFILL_WORK column
#: entries (at most half the set): there a refill costs more than the frozen slots'
#: share of an iteration (stdlib corpus: 10-15% faster fits; at K=100 it was slower).
REFILL_FRACTION = 8
REFILL_WORK = 1 << 13
#: Iterations between two counts of the entries at gamma = alpha.
DEAD_CHECK_EVERY = 8
#: A document moves to the compact set once at most this many of its topics are off
#: gamma = alpha (with at least twice as many topics in all).
LIVE_TOPICS = 16
#: Fewest documents of an E-step that uses the compact set: it adds work to every
#: iteration that only a full set repays (online mini-batches of 128 documents at K=100,
#: ~6-14 iterations each, were 5-20% slower with it).
COMPACT_MIN_DOCS = 1024
#: Most slots in the compact set.
COMPACT_MAX_DOCS = 1024
#: What dead topics may add to gamma in a compact document, in units of min(alpha) *
#: eps, before it gets the full update: alpha's half-ulp is at least alpha * eps / 4,
#: and a factor of 2 is left for the rounding of the bound.
DEAD_MARGIN = 1 / 8


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
        Documents that went back to their ``gamma_keep`` values (the guard).
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


def partial_restart(gamma_prev, weight, dtype):
    """The start ``1 + weight (gamma_prev - 1)`` (a new array in ``dtype``), 1 on NaN rows
    (documents without a previous gamma)."""
    gamma = np.asarray(gamma_prev, dtype=dtype) - 1
    gamma *= weight
    gamma += 1
    np.copyto(gamma, 1, where=np.isnan(gamma))
    return gamma


def add_rows(out, rows, values, factor=1.0):
    """``out[rows] += factor * values`` for sorted, distinct ``rows``, in one pass.

    scipy's CSR-times-dense kernel with a matrix that has ``factor`` at ``(rows[i], i)``:
    each row of ``values`` is added to its row of ``out`` in place, without numpy's
    gather, add and scatter (2x faster for 3,000 rows of 100 here).
    """
    out2d = out.reshape(out.shape[0], -1)
    if _csr_matvecs is None or not out2d.flags.c_contiguous:  # pragma: no cover
        out2d[rows] += factor * values.reshape(rows.size, -1)
        return
    rows = np.asarray(rows)
    ptr = np.zeros(out2d.shape[0] + 1, dtype=rows.dtype)
    ptr[rows + 1] = 1
    np.cumsum(ptr, out=ptr)
    values = np.ascontiguousarray(values, dtype=out.dtype)
    _csr_matvecs(
        out2d.shape[0],
        rows.size,
        out2d.shape[1],
        ptr,
        np.arange(rows.size, dtype=rows.dtype),
        np.full(rows.size, factor, dtype=out.dtype),
        values.ravel(),
        out2d.ravel(),
    )


def _refill_at(ws):
    """How many frozen slots of ``ws`` are finished and refilled at once."""
    by_work = min(ws.slots // 2, REFILL_WORK // (ws.width * ws.n_live))
    return max(1, ws.slots // REFILL_FRACTION, by_work)


def _working_set_shape(sorted_lengths, start, n_topics, itemsize, block_bytes, max_docs):
    """``(slots, width)`` of a working set for the documents from ``start`` on.

    The width is the length of the last document of the longest run from ``start`` whose
    padded columns fit in ``block_bytes`` (lengths are sorted), the slots as many as fit;
    each slot also counts ``SLOT_WORDS`` words for its arrays without a word axis.
    """
    n = sorted_lengths.size
    cap = max(block_bytes // (itemsize * n_topics), 1)  # most slots * (width + SLOT_WORDS)
    lo, hi, j = start + 1, min(n, start + max_docs), start + 1
    while lo <= hi:  # (j - start) * lengths[j - 1] grows with j: bisect
        mid = (lo + hi) // 2
        if (mid - start) * (max(int(sorted_lengths[mid - 1]), 1) + SLOT_WORDS) <= cap:
            j, lo = mid, mid + 1
        else:
            hi = mid - 1
    width = max(int(sorted_lengths[j - 1]), 1)
    return int(min(max(cap // (width + SLOT_WORDS), 1), max_docs, n - start)), width


def _rows_per_gather(slots):
    """Rows gathered at a time into a copy when a set of ``slots`` is refilled: an eighth
    of the set (a refill's usual size), at least 8."""
    return max(8, slots // REFILL_FRACTION)


def _spread_rows(flat, n_rows, old, new):
    """Rows ``i < n_rows`` of ``old`` elements at ``flat[i * old:]`` move to ``flat[i *
    new:]`` (``new >= old``), each padded with zeros: a chunk at a time from the last row
    back, so that no row is overwritten before it has moved (numpy buffers the overlap of
    a chunk with its own destination: chunks of ~32 KiB)."""
    chunk = max(1, (1 << 15) // (old * flat.itemsize or 1))
    for stop in range(n_rows, 0, -chunk):
        start = max(0, stop - chunk)
        dst = flat[start * new : stop * new].reshape(-1, new)
        dst[:, :old] = flat[start * old : stop * old].reshape(-1, old)
        dst[:, old:] = 0


class _WorkingSet:
    """The documents being iterated: slots ``[0, n)``, each a padded document.

    ``alive[s]`` marks the slots still iterating. A slot that has converged is frozen:
    its ``gamma`` and ``exp(psi(gamma))`` are copied to ``final_gamma`` /
    ``final_exp_theta``, the next iteration's first product gives its final ``Z``
    (``final_norm``), and it keeps iterating, unused, until it is finished and refilled.
    The topic axis has ``n_live`` entries: all K topics here, a document's live topics
    in ``_CompactSet``. The word arrays (axis 1 runs over a document's words) are views
    of flat buffers of ``capacity`` padded words, so that a widening can re-lay them
    out in place (``widened``).
    """

    #: Per-slot arrays with a word axis (axis 1), and the others, that move with a document.
    _by_word = ("cols", "counts", "words", "norm")
    _by_slot = ("gamma", "exp_theta", "doc", "start_pass", "alive")

    def __init__(self, slots, width, n_topics, dtype, index_dtype, n_live=None, capacity=0):
        n_live = n_topics if n_live is None else n_live
        self.slots, self.width, self.n_live, self.n, self.n_alive = slots, width, n_live, 0, 0
        self.n_topics, self.dtype, self.index_dtype = n_topics, dtype, index_dtype
        self.capacity = max(capacity, slots * width)
        self.flat = {
            name: np.empty(self.capacity * math.prod(trail), dtype=dt)
            for name, (trail, dt) in self._word_layout().items()
        }
        self._view_words()
        self.prod = np.empty((slots, 1, n_live), dtype=dtype)
        self.gamma = np.empty((slots, n_live), dtype=dtype)
        self.gamma_new = np.empty((slots, n_live), dtype=dtype)
        self.exp_theta = np.empty((slots, n_live), dtype=dtype)  # exp(psi(gamma))
        self.final_gamma = np.empty((slots, n_live), dtype=dtype)
        self.final_exp_theta = np.empty((slots, n_live), dtype=dtype)
        self.doc = np.empty(slots, dtype=np.intp)
        self.start_pass = np.empty(slots, dtype=np.intp)  # the pass of its first update
        self.ones = np.ones(n_live, dtype=dtype)  # sums over topics as a product (faster)
        self.alive = np.zeros(slots, dtype=bool)
        self.just_frozen = None  # slots frozen by the last update, waiting for their Z

    def _word_layout(self):
        """The word arrays: name -> (shape per word, dtype)."""
        return {
            "cols": ((self.n_live,), self.dtype),
            "counts": ((), self.dtype),
            "words": ((), self.index_dtype),
            "norm": ((1,), self.dtype),  # Z, then the ratio n / Z
            "final_norm": ((), self.dtype),
        }

    #: Per-slot arrays that hold nothing between iterations.
    _scratch = ("prod", "gamma_new")

    def _slot_state(self):
        """The per-slot arrays without a word axis that hold documents' state."""
        return ("final_gamma", "final_exp_theta", *self._by_slot)

    def _view_words(self):
        """The word arrays as (slots, width, ...) views of the flat buffers."""
        self.offsets = np.arange(self.width)
        for name, (trail, _) in self._word_layout().items():
            size = self.slots * self.width * math.prod(trail)
            setattr(self, name, self.flat[name][:size].reshape(self.slots, self.width, *trail))

    def _moving(self):
        """The per-slot state of a live document."""
        return [getattr(self, name) for name in self._by_word + self._by_slot]

    def _padding(self, name):
        """What fills the topic entries a widening adds (none here)."""
        return 0

    #: Whether ``Z`` has a part that the columns leave out (``_add_constant``).
    adds_constant = False

    def _add_constant(self, norm):
        """Add the part of ``Z`` that the columns leave out."""

    def compact(self, slots):
        """Drop the given sorted, finished slots; the last live slots move into the holes."""
        n = self.n
        new_n = n - slots.size
        holes = slots[slots < new_n]
        if holes.size:
            tail = np.ones(n - new_n, dtype=bool)
            tail[slots[slots >= new_n] - new_n] = False
            src = new_n + np.flatnonzero(tail)
            for arr in self._moving():
                arr[holes] = arr[src]
        self.n = new_n

    def widened(self, slots, width, n_live=None):
        """A working set of the given shape holding this one's (live) documents.

        When only the width grows and the buffers are large enough, it is this one,
        re-laid out in place (no second set coexists with it); otherwise a new set.
        """
        n_live = self.n_live if n_live is None else n_live
        n = self.n
        if (
            n_live == self.n_live
            and width >= self.width
            and slots <= self.slots
            and slots * width <= self.capacity
        ):
            for name, (trail, _) in self._word_layout().items():
                per = math.prod(trail)
                _spread_rows(self.flat[name], n, self.width * per, width * per)
            for name in (*self._slot_state(), *self._scratch):  # slot s stays slot s
                setattr(self, name, getattr(self, name)[:slots])
            self.slots, self.width = slots, width
            self._view_words()
            return self
        new = self.__class__(
            slots, width, self.n_topics, self.dtype, self.index_dtype, n_live, self.capacity
        )
        new.n = n
        new.n_alive, new.just_frozen = self.n_alive, self.just_frozen
        for name in (*self._word_layout(), *self._slot_state()):
            old, wide = getattr(self, name)[:n], getattr(new, name)[:n]
            wide[tuple(slice(0, size) for size in old.shape)] = old
            # Padding: count 0, columns 0 (so Z 0, and the ratio 0 / (0 + tiny) = 0).
            fill = 0 if name in self.flat else self._padding(name)
            for axis in range(1, old.ndim):  # what lies beyond the old array on each axis
                index = [slice(None)] * old.ndim
                index[axis] = slice(old.shape[axis], None)
                wide[tuple(index)] = fill
        return new

    def update(self, alpha, tiny):
        """One fixed-point update of every slot (eqs. (6)-(7)) but the digamma: returns
        the new gamma (now ``self.gamma``) and each slot's summed absolute change."""
        n = self.n
        norm3 = self.norm[:n]
        norm = norm3[:, :, 0]
        norm += tiny
        np.divide(self.counts[:n], norm, out=norm)  # the ratio n_dw / Z_dw, in place
        prod = np.matmul(norm3.reshape(n, 1, -1), self.cols[:n], out=self.prod[:n])[:, 0]
        g_new = self.gamma_new[:n]
        np.multiply(prod, self.exp_theta[:n], out=g_new)
        g_new += alpha
        diff = np.subtract(g_new, self.gamma[:n], out=prod)  # (the product is used)
        np.abs(diff, out=diff)
        change = np.matmul(diff, self.ones)  # K times the mean absolute change
        self.gamma, self.gamma_new = self.gamma_new, self.gamma
        return g_new, change

    def freeze(self, change, tol, max_iter, passes):
        """After the update of pass ``passes``: freeze the slots whose mean absolute
        change (``change`` / K) is below ``tol`` or whose iterations reached ``max_iter``
        (their Z comes with the next product)."""
        n = self.n
        alive = self.alive[:n]
        done = change < tol * self.n_topics
        if passes >= max_iter:  # some slot may have made max_iter iterations
            done |= self.start_pass[:n] <= passes + 1 - max_iter
        done &= alive
        newly = np.nonzero(done)[0]
        self.just_frozen = None
        if newly.size:
            self.final_gamma[newly] = self.gamma[newly]
            self.final_exp_theta[newly] = self.exp_theta[newly]
            alive[newly] = False
            self.n_alive -= newly.size
            self.just_frozen = newly

    def product(self):
        """``Z`` of every slot at its current gamma (up to the common factor); the final
        ``Z`` of the slots frozen by the last update."""
        n = self.n
        np.matmul(self.cols[:n], self.exp_theta[:n, :, None], out=self.norm[:n])
        if self.adds_constant:
            self._add_constant(self.norm[:n, :, 0])
        if self.just_frozen is not None:
            self.final_norm[self.just_frozen] = self.norm[self.just_frozen, :, 0]
            self.just_frozen = None


class _CompactSet(_WorkingSet):
    """Documents that use at most ``n_live`` topics, iterated on those only.

    ``topics[s]`` lists slot s's live topics (padding: K, with columns 0, gamma and
    alpha 1, so its entries never move) and ``alpha[s]`` their prior. Its other topics
    are all at ``gamma_dk = alpha_k``, where ``exp(psi(gamma_dk)) = exp(psi(alpha_k))``:
    they add a constant to ``Z_dw``, at most ``dead_bound[s, w] = max_k exp(psi(alpha_k))
    sum_k exp(E[log beta_kw])``. While ``sum_w n_dw dead_bound_w / Z_dw`` is below
    ``alpha * eps / 8`` that constant is below ``Z``'s rounding and leaves every dead
    topic exactly at alpha, so it is left out (``dead[s] = 0``); otherwise the document
    gets the full update (``_EStep.check_dead``) and ``dead[s]`` holds the constant.
    """

    _by_word = (*_WorkingSet._by_word, "dead", "dead_bound")
    _by_slot = (*_WorkingSet._by_slot, "topics", "alpha")

    def __init__(self, slots, width, n_topics, dtype, index_dtype, n_live, capacity=0):
        super().__init__(slots, width, n_topics, dtype, index_dtype, n_live, capacity)
        self.topics = np.empty((slots, n_live), dtype=np.intp)
        self.alpha = np.empty((slots, n_live), dtype=dtype)

    def _word_layout(self):
        return {**super()._word_layout(), "dead": ((), self.dtype), "dead_bound": ((), self.dtype)}

    def _padding(self, name):
        return self.n_topics if name == "topics" else 1

    adds_constant = True

    def _add_constant(self, norm):
        norm += self.dead[: self.n]


class _EStep:
    """One E-step: the documents, the topics, the outputs; loads and finishes slots."""

    def __init__(self, X, exp_topic_word_t, alpha, gamma, max_iter, weights, gamma_keep, sstats):
        self.exp_t, self.alpha, self.gamma = exp_topic_word_t, alpha, gamma
        self.max_iter, self.weights, self.gamma_keep = max_iter, weights, gamma_keep
        # With gamma_keep as the output (overwritten), documents start at partial
        # restarts of it (``start_weight``), and the previous gamma of those whose bound
        # it beats is kept aside when they finish: the guard reverts no other.
        self.overwrite = gamma is gamma_keep
        self.start_weight = 0.0
        self.kept_docs, self.kept_rows = [], []
        self.passes = 0  # the main loop's pass
        dtype = exp_topic_word_t.dtype
        self.tiny = np.finfo(dtype).tiny  # guards 0/0 only; phi stays exactly normalised
        self.indptr = np.asarray(X.indptr)
        self.indices = np.asarray(X.indices)
        self.data = np.asarray(X.data)
        if self.data.shape[0] == 0:  # no token at all: every slot is padding
            self.indices = np.zeros(1, dtype=self.indices.dtype)
            self.data = np.zeros(1, dtype=dtype)
        self.lengths = np.diff(self.indptr)
        self.block_bytes = BLOCK_BYTES  # the working set's budget (see document_e_step)
        n_docs, n_words = X.shape
        n_topics = exp_topic_word_t.shape[1]
        self.n_topics = n_topics
        self.sstats = _Statistics(n_words, n_topics, dtype) if sstats else None
        self.log_norm = np.zeros(n_docs)
        # A topic at gamma_dk = alpha_k has exp(psi(gamma_dk)) = exp(psi(alpha_k)).
        self.alpha_k = np.broadcast_to(alpha, (n_topics,)).copy()
        self.exp_psi_alpha = np.exp(digamma(self.alpha_k))
        # A compact document's dead topics stay at alpha exactly while what they could
        # add to gamma, at most sum_w (n_w / Z_w) dead_w, is below alpha's half-ulp.
        self.dead_limit = float(self.alpha_k.min()) * np.finfo(dtype).eps * DEAD_MARGIN
        if gamma_keep is not None:  # each document's bound at its new and its previous gamma
            self.bound_new = np.zeros(n_docs)
            self.bound_old = np.zeros(n_docs)
            self.log_norm_old = np.zeros(n_docs)

    def start(self, docs):
        """The documents' starting gamma (a new array)."""
        if self.overwrite:
            return partial_restart(self.gamma_keep[docs], self.start_weight, self.exp_t.dtype)
        return self.gamma[docs]

    def previous(self, docs):
        """The documents' previous gamma (with ``overwrite``: of documents kept aside)."""
        if not self.overwrite:
            return self.gamma_keep[docs]
        kept = np.concatenate(self.kept_docs)
        by_doc = np.argsort(kept)
        return np.concatenate(self.kept_rows)[by_doc[np.searchsorted(kept, docs, sorter=by_doc)]]

    def padded(self, docs, offsets):
        """The documents' words and counts padded to ``offsets.size`` (count 0)."""
        valid = offsets < self.lengths[docs][:, None]
        positions = np.where(valid, self.indptr[docs][:, None] + offsets, 0)
        words = np.where(valid, self.indices[positions], 0)
        counts = np.where(valid, self.data[positions], 0).astype(self.exp_t.dtype, copy=False)
        return words, counts

    def load(self, ws, slots, batch):
        """Documents ``batch`` into ``slots`` (an index array, or a slice at the end),
        with their first ``Z`` (and the guard's terms of their previous gamma)."""
        if not isinstance(slots, slice):  # gathered into a copy first: a few at a time
            step = _rows_per_gather(ws.slots)
            if slots.size > step:
                for start in range(0, slots.size, step):
                    self.load(ws, slots[start : start + step], batch[start : start + step])
                return
        words, counts = self.padded(batch, ws.offsets)
        ws.words[slots] = words
        ws.counts[slots] = counts
        if isinstance(slots, slice):  # gather straight into the slots
            cols = ws.cols[slots]
            np.take(self.exp_t, words, axis=0, out=cols, mode="clip")
        else:
            cols = self.exp_t[words]  # the one gather of these columns in this E-step
            ws.cols[slots] = cols
        g0 = self.start(batch)
        e0 = np.exp(digamma(g0))
        if self.gamma_keep is None:
            norm0 = np.matmul(cols, e0[:, :, None])[..., 0]
        else:  # the previous gamma with phi re-optimised for the current topics
            e_log_old, terms_old = _bound_terms(self.gamma_keep[batch], self.alpha)
            e_old = np.exp(e_log_old).astype(g0.dtype, copy=False)
            both = np.matmul(cols, np.stack([e0, e_old], axis=2))
            norm0, norm_old = both[..., 0], both[..., 1]
            norm_old += self.tiny
            log_norm_old = np.sum(counts * np.log(norm_old), axis=1, dtype=np.float64)
            self.log_norm_old[batch] = log_norm_old
            terms_old += log_norm_old
            self.bound_old[batch] = terms_old
        ws.norm[slots, :, 0] = norm0
        ws.gamma[slots] = g0
        ws.exp_theta[slots] = e0
        ws.start_pass[slots] = self.passes
        ws.doc[slots] = batch
        if self.max_iter == 0:  # nothing to iterate: the start is final
            ws.final_gamma[slots] = g0
            ws.final_exp_theta[slots] = e0
            ws.final_norm[slots] = norm0
            ws.alive[slots] = False
        else:
            ws.alive[slots] = True
            ws.n_alive += batch.size

    def revert(self):
        """The guard: the fewest documents go back to their previous gamma so that the
        E-step's bound is at least the previous gammas' bound; returns how many.

        Documents are reverted in order of what they gain by it (largest first), until
        the total over the documents that have a previous gamma is at least theirs at
        it. Re-optimising ``phi`` for a previous gamma does not lower its bound, so the
        E-step then does not lower the ELBO, and neither does a batch sweep. A guard per
        document (keep whichever gamma is better for it) also does that, but holds
        documents in the modes of the first sweeps' topics: on the stdlib corpus it
        ended 0.05 nats/token below this one (module docstring of ``_lda.py``).
        """
        eligible = np.isfinite(self.bound_old)
        if self.weights is not None:
            eligible &= self.weights > 0
        docs = np.flatnonzero(eligible)
        weights = 1.0 if self.weights is None else self.weights[docs]
        gain = weights * (self.bound_old[docs] - self.bound_new[docs])
        deficit = float(gain.sum())
        margin = KEEP_MARGIN * max(abs(float(np.sum(weights * self.bound_new[docs]))), 1.0)
        if not deficit > margin:  # includes: no eligible document
            return 0
        order = np.argsort(-gain, kind="stable")
        order = order[: np.count_nonzero(gain > 0)]  # reverting any other lowers the bound
        n_back = int(np.searchsorted(np.cumsum(gain[order]), deficit - margin)) + 1
        back = docs[order[: min(n_back, order.size)]]
        if self.sstats is not None:
            # Their statistics: out with the new gamma's, in with the previous one's (Z
            # recomputed), in length-sorted chunks of working-set size.
            back = back[np.argsort(self.lengths[back], kind="stable")]
            lengths = self.lengths[back]
            n_topics, itemsize = self.exp_t.shape[1], self.exp_t.dtype.itemsize
            start = 0
            while start < back.size:
                slots, width = _working_set_shape(
                    lengths, start, n_topics, itemsize, self.block_bytes, MAX_BLOCK_DOCS
                )
                slots = min(slots, int(np.searchsorted(lengths, width, "right")) - start)
                chunk = back[start : start + slots]
                start += slots
                words, counts = self.padded(chunk, np.arange(width))
                if self.weights is not None:
                    counts *= self.weights[chunk].astype(counts.dtype)[:, None]
                cols = np.take(self.exp_t, words, axis=0)
                e_new = exp_dirichlet_expectation(self.gamma[chunk]).astype(cols.dtype)
                e_old = exp_dirichlet_expectation(self.previous(chunk)).astype(cols.dtype)
                norm = np.matmul(cols, np.stack([e_new, e_old], axis=2))
                norm += self.tiny
                self.sstats.add(words, -counts / norm[..., 0], e_new)
                self.sstats.add(words, counts / norm[..., 1], e_old)
        self.gamma[back] = self.previous(back)
        self.log_norm[back] = self.log_norm_old[back]
        return back.size

    def statistics(self):
        """The accumulated ``sstats_t`` (None when not asked for)."""
        return None if self.sstats is None else self.sstats.result()

    def finish(self, ws, slots):
        """Final normalisers, ELBO terms and statistics of frozen ``slots``."""
        gamma, exp_theta = ws.final_gamma[slots], ws.final_exp_theta[slots]
        if isinstance(ws, _CompactSet):
            topics = ws.topics[slots]
            gamma = self.expand(topics, gamma, self.alpha_k)
            exp_theta = self.expand(topics, exp_theta, self.exp_psi_alpha)
        norm, counts, words = ws.final_norm[slots], ws.counts[slots], ws.words[slots]
        self._finish(ws.doc[slots], gamma, exp_theta, norm, counts, words)

    def _finish(self, docs, g, exp_theta, norm, counts, words):
        dtype = g.dtype
        # exp(E[log theta]) = exp(psi(gamma)) exp(-psi(sum gamma)): the common factor the
        # loop left out (PRML eq. (B.21)); Z scales with it. Final phi normalisers at the
        # final gamma (scikit-learn forms its statistics at the same point).
        scale = np.exp(-digamma(g.sum(axis=1)))[:, None]
        exp_theta *= scale
        norm *= scale
        norm += self.tiny
        log_norm = np.sum(counts * np.log(norm), axis=1, dtype=np.float64)
        if self.gamma_keep is not None:
            bound_new = self.bound_new[docs] = _doc_bound(g, self.alpha, log_norm)
            if self.overwrite:  # before their rows are overwritten
                worse = docs[self.bound_old[docs] > bound_new]
                if worse.size:
                    self.kept_docs.append(worse)
                    self.kept_rows.append(self.gamma_keep[worse])
        self.gamma[docs] = g
        self.log_norm[docs] = log_norm
        if self.sstats is not None:
            if self.weights is not None:
                counts *= self.weights[docs].astype(dtype)[:, None]
            np.divide(counts, norm, out=counts)
            self.sstats.add(words, counts, exp_theta)

    def expand(self, topics, values, fill):
        """Compact rows ``values`` (m, n_live) at their ``topics`` in rows of K, ``fill``
        elsewhere."""
        full = np.empty((topics.shape[0], self.n_topics + 1), dtype=values.dtype)
        full[:, :-1] = fill
        np.put_along_axis(full, topics, values, axis=1)  # padding lands in the last column
        return np.ascontiguousarray(full[:, :-1])

    @functools.cached_property
    def dead_weight(self):
        """``max_k exp(psi(alpha_k)) sum_k exp(E[log beta_kw])`` per word: at least what
        dead topics add to ``Z_w``."""
        return self.exp_psi_alpha.max() * self.exp_t.sum(axis=1)

    def place(self, cs, slots, words, gamma, live, dead=None):
        """Compact form of documents with padded ``words`` (m, width), ``gamma`` (m, K)
        and live topics (m, K; at most ``cs.n_live`` each) in ``slots``: their topics,
        columns, prior, gamma, the bound on their dead topics' part of Z, and that part
        itself (``dead``, or 0 where the bound shows it is below Z's rounding)."""
        width, n_topics = words.shape[1], self.n_topics
        order = np.argsort(~live, axis=1, kind="stable")[:, : cs.n_live]  # live ones first
        valid = np.take_along_axis(live, order, axis=1)
        cs.topics[slots] = np.where(valid, order, n_topics)
        flat = words.astype(np.intp)[:, :, None] * n_topics + order[:, None, :]
        cols = np.take(self.exp_t, flat)  # exp_t[words, topics], from the flat array
        cols *= valid[:, None, :]  # padding topics: columns 0
        cs.cols[slots, :width] = cols
        cs.dead_bound[slots, :width] = self.dead_weight[words]
        cs.dead[slots, :width] = 0 if dead is None else dead
        cs.gamma[slots] = np.where(valid, np.take_along_axis(gamma, order, axis=1), 1)
        cs.alpha[slots] = np.where(valid, self.alpha_k[order], 1)
        return order, valid

    def migrate(self, cs, ws, slots):
        """Live documents of the working set's ``slots`` (with their current ``Z``) to the
        end of the compact set."""
        m, width = slots.size, ws.width
        to = slice(cs.n, cs.n + m)
        words, gamma = ws.words[slots], ws.gamma[slots]
        order, valid = self.place(cs, to, words, gamma, gamma != self.alpha_k)
        exp_theta = np.take_along_axis(ws.exp_theta[slots], order, axis=1)
        cs.exp_theta[to] = np.where(valid, exp_theta, 1)
        for name in cs._by_word:
            getattr(cs, name)[to, width:] = 0  # padding beyond the documents' width
        cs.counts[to, :width] = ws.counts[slots]
        cs.words[to, :width] = words
        cs.norm[to, :width] = ws.norm[slots]
        cs.doc[to] = ws.doc[slots]
        cs.start_pass[to] = ws.start_pass[slots]
        cs.alive[to] = True
        cs.n += m
        cs.n_alive += m
        ws.alive[slots] = False
        ws.n_alive -= m

    def check_dead(self, cs, change):
        """After ``cs.update``: the slots whose dead topics might have moved get the full
        update instead (exact), their live topics anew and, from then on, their dead
        topics' part of Z. Returns the compact set (reallocated if a document now has
        more live topics than it holds)."""
        n = cs.n
        bound = np.einsum("sw,sw->s", cs.norm[:n, :, 0], cs.dead_bound[:n])  # ratio . bound
        slots = np.flatnonzero((bound >= self.dead_limit) & cs.alive[:n])
        if not slots.size:
            return cs
        words, topics = cs.words[slots], cs.topics[slots]
        cols = np.take(self.exp_t, words, axis=0)
        exp_theta = self.expand(topics, cs.exp_theta[slots], self.exp_psi_alpha)
        # The full update, as _WorkingSet.update, from the full Z.
        norm = np.matmul(cols, exp_theta[:, :, None])[..., 0]
        norm += self.tiny
        ratio = cs.counts[slots] / norm
        prod = np.matmul(ratio[:, None, :], cols)[:, 0]
        gamma = prod * exp_theta + self.alpha_k
        previous = self.expand(topics, cs.gamma_new[slots], self.alpha_k)
        change[slots] = np.add.reduce(np.abs(gamma - previous), axis=1)
        live = gamma != self.alpha_k
        n_live = int(live.sum(axis=1).max())
        if n_live > cs.n_live:
            cs = cs.widened(cs.slots, cs.width, n_live)
        e_dead = np.where(live, 0, self.exp_psi_alpha).astype(cols.dtype)
        dead = np.matmul(cols, e_dead[:, :, None])[..., 0]
        self.place(cs, slots, words, gamma, live, dead)
        return cs


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
    warm_weight=0.0,
    compute_sstats=True,
    overwrite_keep=False,
    block_bytes=BLOCK_BYTES,
    max_block_docs=MAX_BLOCK_DOCS,
    live_topics=LIVE_TOPICS,
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
        Starting pseudo-counts (not modified); ``None`` starts every document at 1, or
        at ``1 + warm_weight * (gamma_keep - 1)`` when ``warm_weight`` is positive.
    max_iter : int
        Most inner iterations per document (``max_doc_update_iter``).
    tol : float
        A document stops when the mean absolute change of its ``gamma`` is below this
        (``mean_change_tol``).
    weights : ndarray of shape (n_docs,) or None
        Document weights; documents of weight 0 are skipped.
    gamma_keep : ndarray of shape (n_docs, K) or None
        Previous pseudo-counts (NaN rows: none). The fewest documents needed go back
        to them (with ``phi`` re-optimised for the current topics) so that the total
        bound of the documents that have them is at least what it is at them
        (``_EStep.revert``). This makes a batch sweep never lower the ELBO, whatever
        its starting point.
    warm_weight : float in [0, 1)
        With ``gamma_init=None`` and ``gamma_keep`` given, start each document at
        ``1 + warm_weight * (gamma_keep - 1)`` (a partial restart; documents whose
        ``gamma_keep`` row is NaN start at 1).
    compute_sstats : bool
        Whether to form the topic statistics.
    overwrite_keep : bool
        With ``gamma_init=None``: write the result into ``gamma_keep`` (when it is a
        C-contiguous array of the topics' dtype), so that the E-step holds one
        (n_docs, K) array instead of two, plus the previous rows of the documents the
        guard might revert (those whose previous bound is higher).
    block_bytes, max_block_docs : int
        Size of the working set (its gathered columns, each slot counted with
        ``SLOT_WORDS`` more words for its other arrays), and its most slots.
    live_topics : int
        Documents with at most this many topics off ``gamma = alpha`` iterate on those
        only (the compact set; 0: never).

    Returns
    -------
    EStepResult
    """
    dtype = exp_topic_word_t.dtype
    n_docs = X.shape[0]
    n_topics = exp_topic_word_t.shape[1]
    alpha = np.asarray(doc_topic_prior, dtype=dtype)
    overwrite = (
        overwrite_keep
        and gamma_init is None
        and gamma_keep is not None
        and gamma_keep.dtype == dtype
        and gamma_keep.flags.c_contiguous
        and gamma_keep.flags.writeable
    )
    if overwrite:  # the output, row by row as documents finish (_EStep)
        gamma = gamma_keep
    elif gamma_init is None and gamma_keep is not None and warm_weight > 0:
        gamma = partial_restart(gamma_keep, warm_weight, dtype)
    elif gamma_init is None:  # all pseudo-counts 1 (scikit-learn's deterministic start)
        gamma = np.ones((n_docs, n_topics), dtype=dtype)
    else:
        gamma = np.array(gamma_init, dtype=dtype, copy=True, order="C")
    step = _EStep(X, exp_topic_word_t, alpha, gamma, max_iter, weights, gamma_keep, compute_sstats)
    lengths = step.lengths
    docs = np.arange(n_docs) if weights is None else np.flatnonzero(weights > 0)
    if overwrite:
        step.start_weight = warm_weight
        if weights is not None:  # skipped documents: their start, as without overwrite
            skipped = np.flatnonzero(~(weights > 0))
            gamma[skipped] = step.start(skipped)
    order = docs[np.argsort(lengths[docs], kind="stable")]
    sorted_lengths = lengths[order]
    n_active = order.size
    if n_active == 0:
        return EStepResult(gamma, step.statistics(), step.log_norm, 0, 0)
    itemsize, tiny = dtype.itemsize, step.tiny
    # A small E-step's working set may hold all of it, but padding (to its longest
    # document) may at most double its columns.
    total = int(sorted_lengths.sum()) * n_topics * itemsize
    block_bytes = max(min(block_bytes, 2 * total), 1)
    step.block_bytes = block_bytes

    # Padded words the working set's buffers hold: its budget, or all documents at the
    # widest one's length if less (a widening within it needs no second set).
    longest = max(int(sorted_lengths[-1]), 1)
    words_cap = max(block_bytes // (itemsize * n_topics), 1)  # (width + SLOT_WORDS) * slots
    capacity = min(words_cap, n_active * longest)

    def compact_slots(width, n_live, at_least):
        fit = block_bytes // (width * n_live * itemsize)
        return max(min(fit, COMPACT_MAX_DOCS), at_least, 1)

    slots, width = _working_set_shape(
        sorted_lengths, 0, n_topics, itemsize, block_bytes, max_block_docs
    )
    ws = _WorkingSet(slots, width, n_topics, dtype, step.indices.dtype, capacity=capacity)
    cs = None  # the compact set, from the first document with few live topics
    use_compact = 0 < 2 * live_topics <= n_topics and n_active >= COMPACT_MIN_DOCS
    fit_end = (None, 0)
    nxt = 0  # next document (position in ``order``) to load
    doc_iterations = 0
    # A topic a document does not use decays to gamma_dk = alpha_k exactly (its update
    # alpha_k + exp(psi(gamma_dk)) * ... rounds to alpha_k), where exp(psi(gamma_dk)) is
    # the constant exp(psi(alpha_k)): when most entries are there, digamma runs on the
    # others only.
    exp_psi_alpha = step.exp_psi_alpha
    skip_dead, passes = False, 0
    while True:
        passes += 1  # no document has made more iterations than this
        step.passes = passes  # (documents loaded now make their first iteration in it)
        n = ws.n
        if n:
            # Z_dw up to the factor exp(-psi(sum_k gamma_dk)), which cancels in the update
            # (module docstring); for the slots frozen by the last update, their final Z.
            ws.product()
        if cs is not None:
            if cs.n:
                cs.product()
            frozen = np.flatnonzero(~cs.alive[: cs.n])
            draining = nxt >= n_active and not ws.n_alive  # no document will join
            if frozen.size and (
                frozen.size >= _refill_at(cs)
                or (draining and (2 * frozen.size >= cs.n or not cs.n_alive))
            ):
                step.finish(cs, frozen)
                cs.compact(frozen)
        # Live documents that use few topics move to the compact set.
        n_frozen = n - ws.n_alive
        migrants = ws.doc[:0]
        if use_compact and ws.n_alive:
            few = np.count_nonzero(ws.gamma[:n] != step.alpha_k, axis=1) <= live_topics
            migrants = np.flatnonzero(few & ws.alive[:n])
            if migrants.size:
                if cs is None:
                    cs = _CompactSet(
                        compact_slots(ws.width, live_topics, 0),
                        ws.width,
                        n_topics,
                        dtype,
                        step.indices.dtype,
                        live_topics,
                        min(block_bytes // (itemsize * live_topics), COMPACT_MAX_DOCS * longest),
                    )
                elif cs.width < ws.width:
                    slots = compact_slots(ws.width, cs.n_live, cs.n)
                    cs = cs.widened(slots, ws.width)
                migrants = migrants[: cs.slots - cs.n]
        # Finish frozen slots and refill them (and the migrants') with the next documents,
        # or drain at the end.
        n_holes = n_frozen + migrants.size
        holes = None
        if nxt < n_active:
            if n_holes + ws.slots - n >= _refill_at(ws) or not ws.n_alive:
                holes = frozen = np.flatnonzero(~ws.alive[:n])
        elif n_holes and (2 * n_holes >= n or not ws.n_alive):  # the last documents
            holes = frozen = np.flatnonzero(~ws.alive[:n])
        if holes is not None:
            if frozen.size:
                step.finish(ws, frozen)
            if migrants.size:
                step.migrate(cs, ws, migrants)
                holes = np.union1d(frozen, migrants)
        if holes is not None and nxt < n_active:
            if fit_end[0] != ws.width:  # documents up to fit_end[1] fit the width
                fit_end = (ws.width, int(np.searchsorted(sorted_lengths, ws.width, "right")))
            n_fit = fit_end[1] - nxt
            if n_fit <= 0:  # the next documents are wider than the working set
                ws.compact(holes)
                holes = holes[:0]
                slots, width = _working_set_shape(
                    sorted_lengths, nxt, n_topics, itemsize, block_bytes, max_block_docs
                )
                if not ws.n:  # (in its buffers when they are large enough)
                    ws = ws.widened(slots, width)
                else:  # as wide as that, or as its documents allow, if the next one fits
                    width = min(width, words_cap // ws.n - SLOT_WORDS)
                    if width >= sorted_lengths[nxt]:
                        slots = min(words_cap // (width + SLOT_WORDS), max_block_docs)
                        ws = ws.widened(max(slots, ws.n), width)
                    # else: iterate the documents it holds until fewer remain
                fit_end = (ws.width, int(np.searchsorted(sorted_lengths, ws.width, "right")))
                n_fit = fit_end[1] - nxt
            n = ws.n
            m = max(0, min(n_fit, holes.size + ws.slots - n))
            into_holes = min(m, holes.size)
            if into_holes:
                step.load(ws, holes[:into_holes], order[nxt : nxt + into_holes])
            if m > into_holes:
                tail = slice(n, n + m - into_holes)
                step.load(ws, tail, order[nxt + into_holes : nxt + m])
                ws.n = n + m - into_holes
            elif into_holes < holes.size:
                ws.compact(holes[into_holes:])
            nxt += m
        elif holes is not None:
            ws.compact(holes)
        n = ws.n
        if ws.n_alive:  # one fixed-point update of every slot (eqs. (6)-(7))
            g_new, change = ws.update(alpha, tiny)
            exp_theta = ws.exp_theta[:n]
            if skip_dead or passes % DEAD_CHECK_EVERY == 0:
                live = g_new != alpha
            if passes % DEAD_CHECK_EVERY == 0:
                skip_dead = 2 * np.count_nonzero(live) < live.size
            if skip_dead:  # digamma only where gamma is not exactly alpha
                values = np.exp(digamma(g_new[live]))
                exp_theta[...] = exp_psi_alpha
                exp_theta[live] = values
            else:
                digamma(g_new, out=exp_theta)
                np.exp(exp_theta, out=exp_theta)
            doc_iterations += ws.n_alive
            ws.freeze(change, tol, max_iter, passes)
        if cs is not None and cs.n_alive:  # the same update on the live topics
            _, change = cs.update(cs.alpha[: cs.n], tiny)
            cs = step.check_dead(cs, change)
            exp_theta = cs.exp_theta[: cs.n]
            digamma(cs.gamma[: cs.n], out=exp_theta)
            np.exp(exp_theta, out=exp_theta)
            doc_iterations += cs.n_alive
            cs.freeze(change, tol, max_iter, passes)
        if not ws.n and nxt >= n_active and (cs is None or not cs.n):
            break
    n_kept = 0 if gamma_keep is None else step.revert()
    return EStepResult(gamma, step.statistics(), step.log_norm, doc_iterations, n_kept)


class _Statistics:
    """``sstats_t += R^T E`` for finished documents, accumulated in batches.

    ``R`` holds a document's ``weight_d n_dw / Z_dw`` on its (padded) words and ``E`` its
    ``exp(E[log theta_d])``: this adds ``sum_d exp(E[log theta_dk]) weight_d n_dw /
    Z_dw`` to the statistics without forming anything of size ``n_docs x K``. Documents
    are buffered and, per batch, ``R`` is transposed into rows by word (scipy's compiled
    CSR -> CSC conversion, a counting sort) so that each word's row of the output is
    read and written once per batch, in order, instead of once per document and word
    at random: 3-4x faster than a document-by-document scatter on this machine.
    """

    #: Most buffered entries (padded words of the buffered documents) per batch, ~36
    #: bytes each: up to V K / 32 of them (~1/7 of the statistics' size), but at least
    #: as many as the vocabulary (the transposition is O(V)). Larger batches read and
    #: write each row of the output fewer times (K=100: 16,384 entries per batch made
    #: online fits ~4% faster than ~6,000).
    max_batch = 1 << 14

    def __init__(self, n_words, n_topics, dtype):
        self.out = np.zeros((n_words, n_topics), dtype=dtype)
        self.pending, self.n_pending = [], 0
        self.flush_at = max(n_words, min(self.max_batch, n_words * n_topics // 32))

    def add(self, words, values, exp_theta):
        """Documents with padded ``words`` and ``values`` (m, width), ``exp_theta`` (m, K)."""
        self.pending.append((words, values, exp_theta))
        self.n_pending += words.size
        if self.n_pending >= self.flush_at:
            self.flush()

    def flush(self):
        if not self.pending:
            return
        words = np.concatenate([w.ravel() for w, _, _ in self.pending])
        values = np.concatenate([v.ravel() for _, v, _ in self.pending])
        dense = np.concatenate([e for _, _, e in self.pending])
        widths = np.concatenate([np.full(w.shape[0], w.shape[1]) for w, _, _ in self.pending])
        self.pending, self.n_pending = [], 0
        n_docs, (n_words, n_topics) = dense.shape[0], self.out.shape
        index_dtype = words.dtype
        doc_ptr = np.zeros(n_docs + 1, dtype=index_dtype)
        np.cumsum(widths, out=doc_ptr[1:])
        if _csr_tocsc is None:  # pragma: no cover - scipy without the private kernels
            R = sp.csr_matrix((values, words, doc_ptr), shape=(n_docs, n_words))
            self.out += R.T.tocsr() @ dense
            return
        word_ptr = np.empty(n_words + 1, dtype=index_dtype)
        doc_idx = np.empty(words.size, dtype=index_dtype)
        by_word = np.empty(words.size, dtype=values.dtype)
        _csr_tocsc(n_docs, n_words, doc_ptr, words, values, word_ptr, doc_idx, by_word)
        _csr_matvecs(
            n_words, n_docs, n_topics, word_ptr, doc_idx, by_word, dense.ravel(), self.out.ravel()
        )

    def result(self):
        self.flush()
        return self.out


def _bound_terms(gamma, alpha):
    """``E[log theta]`` and the ELBO terms of each document that depend on its gamma
    only, both float64: ``sum_k (alpha_k - gamma_k) E[log theta_k] + sum_k log
    Gamma(gamma_k) - log Gamma(sum_k gamma_k)`` (Blei et al. (2003) eq. (15) for one
    document, less the terms that depend on alpha only)."""
    gamma = gamma.astype(np.float64, copy=False)
    total = gamma.sum(axis=1)
    e_log = digamma(gamma)
    e_log -= digamma(total)[:, None]
    terms = np.einsum("dk,dk->d", alpha.astype(np.float64) - gamma, e_log)
    terms += gammaln(gamma).sum(axis=1)
    terms -= gammaln(total)
    return e_log, terms


def _doc_bound(gamma, alpha, log_norm):
    """The ELBO terms of each document that depend on its gamma (float64), with phi at
    its optimum: ``_bound_terms`` plus ``sum_w n_w log Z_w``."""
    return _bound_terms(gamma, alpha)[1] + log_norm
