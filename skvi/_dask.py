"""``fit`` on a dask array: the local step on the workers, the global step here.

Batch CAVI alternates a local step, whose expected sufficient statistics are sums over
the samples, and a global step that reads only those sums (see ``skvi._base``). On a
:class:`dask.array.Array` the sums are taken block by block where the blocks live:

1. one cheap pass checks every block (type, dtype, shape, NaN/inf, negative counts,
   targets, weights) and counts its samples; an error names the block;
2. the estimator resolves its priors from statistics summed over the blocks (for example
   the data's mean and covariance) and starts every restart from a distributable
   initialisation;
3. each sweep broadcasts the global variational parameters (``_get_variational_params``)
   to the workers, runs ``_local_step`` on every block there and sums what comes back:
   the sufficient statistics and the additive, data-dependent pieces of the ELBO; the
   global step and the ELBO's global terms run here, on the summed values.

Per-sample local state that must persist between sweeps (LDA's per-document topic
factors) stays with its block on the workers (a distributed future) and is never
gathered. With a :class:`distributed.Client` (the current one, ``default_client()``) the
checked blocks are persisted in the workers' memory for the whole fit and the sums are
reduced on the workers (a tree of fan-in 8, in a fixed order); without one, dask's
threaded scheduler
runs the blocks in this process and recomputes (re-reads) them at every pass, so memory
holds only the blocks in flight. Restarts (``n_init``) run one after another, each with
distributed sweeps; ``n_jobs`` is not used. dask is imported only here, and only when a
dask array reaches ``fit``.

Hooks an estimator may define (all optional; the defaults suit an estimator whose
``_elbo`` reads only its global parameters and the statistics given to ``_global_step``):

``_dask_unsupported()``
    A reason why this configuration cannot be fitted on a dask array, or None.
``_dask_check_priors(data)``
    Client: resolve the priors (default ``_check_priors(data.meta_X, data.meta_y)``);
    may call ``data.moments()`` or ``data.map_reduce``.
``_dask_prepare_block(X, y, sample_weight)``
    Worker: turn one checked block into what the hooks take (default: unchanged).
``_dask_initialize(data, random_state)``
    Client: one restart's start (default ``_initialize(data.meta_X, data.meta_y, ...)``,
    for starts that need only the data's shape and dtype).
``_dask_pieces()`` / ``_dask_set_pieces(pieces, stats)``
    Worker, after ``_local_step`` on a block: the additive ELBO pieces it cached; client:
    store the summed pieces where ``_elbo`` reads them, so ``_elbo`` runs unchanged.
``_dask_local_state``
    Names of the attributes that hold per-block local state kept between sweeps.
``_dask_client_only``
    Names of attributes never shipped to the workers (the client's per-sweep caches).
``_dask_local_step_on_client``
    True when ``_local_step`` reads statistics formed once per fit (in
    ``_dask_check_priors``), not the data: the sweeps then run here.
``_dask_refine(data)``
    Client: replaces ``_refine`` (required when the estimator overrides it: it reads the
    data); may call ``data.map_reduce``.
``_dask_elbo(data)``
    Client: replaces ``_elbo``. Without it ``_elbo`` is called with ``X=None``: it must
    read only what the sweep stored (the pieces, the statistics, the parameters).
``_dask_finalize_fit(data)``
    Client: replaces ``_finalize_fit`` when that reads the data.

What crosses the network per sweep: the variational parameters, once to each worker;
from each block its statistics and ELBO pieces, summed on the workers, and one sum to
the client (about ``1.5 K D^2`` numbers for a full-covariance GMM: ``N_k``, ``S1_k``,
``S2_k`` and the feature sums of its ELBO; ``K V`` for LDA); never the data, the
responsibilities or the per-document factors.
"""

import copy
import operator
import sys

import numpy as np
import scipy.sparse as sp

from ._monitor import ConvergenceMonitor

__all__ = ["DaskData", "fit_dask", "is_dask_array"]

#: Rows per chunk of the float64 passes that take a block's mean and scatter.
_MOMENT_ROWS = 8192


def is_dask_array(X):
    """Whether ``X`` is a :class:`dask.array.Array`, without importing dask."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


# --------------------------------------------------------------------------- combining
class _Moments:
    """Weighted count, mean and scatter of some rows, merged exactly (Chan et al. 1979)."""

    def __init__(self, count, mean, scatter):
        self.count, self.mean, self.scatter = float(count), mean, scatter

    def merge(self, other):
        if other.count == 0.0:
            return self
        if self.count == 0.0:
            return other
        count = self.count + other.count
        delta = other.mean - self.mean
        factor = self.count * other.count / count
        return _Moments(
            count,
            self.mean + (other.count / count) * delta,
            self.scatter + other.scatter + factor * np.outer(delta, delta),
        )


class _Rows:
    """Rows gathered from the blocks, in block order (merge concatenates)."""

    def __init__(self, index, X, sample_weight):
        self.index, self.X, self.sample_weight = index, X, sample_weight

    def merge(self, other):
        stack = sp.vstack if sp.issparse(self.X) else np.concatenate
        weight = (
            None
            if self.sample_weight is None
            else np.concatenate([self.sample_weight, other.sample_weight])
        )
        return _Rows(
            np.concatenate([self.index, other.index]),
            stack([self.X, other.X]).astype(self.X.dtype, copy=False),
            weight,
        )


class _Union:
    """Distinct labels seen in the blocks (merge takes the union)."""

    def __init__(self, values):
        self.values = values

    def merge(self, other):
        return _Union(np.union1d(self.values, other.values))


class _Concat:
    """Values from the blocks, in block order (merge concatenates)."""

    def __init__(self, values):
        self.values = values

    def merge(self, other):
        return _Concat(np.concatenate([self.values, other.values]))


def _combine(a, b):
    """The sum of two blocks' results: arrays and numbers add, containers by item,
    objects with a ``merge`` method merge."""
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, dict):
        return {key: _combine(a[key], b[key]) for key in a}
    if isinstance(a, tuple | list):
        return type(a)(_combine(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "merge"):
        return a.merge(b)
    return a + b


#: Block results summed by one task (a tree of this fan-in reduces many blocks).
_FAN_IN = 8


def _combine_all(*parts):
    """The sum of the parts, pairwise and neighbours first: a fixed order."""
    parts = list(parts)
    while len(parts) > 1:
        paired = [_combine(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = paired + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def _tree(items, reduce):
    """Reduce ``items`` in groups of ``_FAN_IN`` neighbours, level by level."""
    items = list(items)
    while len(items) > 1:
        items = [reduce(*items[i : i + _FAN_IN]) for i in range(0, len(items), _FAN_IN)]
    return items[0]


# ------------------------------------------------------------------------- block tasks
def _call_block(payload, block, state, *extra):
    """Run ``func(X, y, sample_weight, start, *extra, *args[, state])`` on one block."""
    func, args, stateful = payload
    X, y, sample_weight, start = block
    if stateful:
        return func(X, y, sample_weight, start, *extra, *args, state)
    return func(X, y, sample_weight, start, *extra, *args)


def _sweep_block(X, y, sample_weight, start, template, params, state):
    """One block's local step at the broadcast parameters (runs on a worker)."""
    estimator = copy.copy(template)
    estimator._set_variational_params(copy.copy(params))
    for name, value in (state or {}).items():
        setattr(estimator, name, value)
    stats = estimator._local_step(X, y, sample_weight=sample_weight)
    pieces_hook = getattr(estimator, "_dask_pieces", None)
    pieces = None if pieces_hook is None else pieces_hook()
    names = getattr(estimator, "_dask_local_state", ())
    new_state = {name: getattr(estimator, name, None) for name in names} or None
    return (stats, pieces), new_state


def _normalizer_block(X, y, sample_weight, start, estimator):
    return float(estimator._elbo_normalizer(X, sample_weight))


def _moments_block(X, y, sample_weight, start):
    """Weighted mean and scatter of one block in float64, in chunks of rows."""
    if sp.issparse(X):
        raise TypeError("the mean and covariance of sparse blocks are not computed.")
    total = _Moments(0.0, np.zeros(X.shape[1]), np.zeros((X.shape[1], X.shape[1])))
    for lo in range(0, X.shape[0], _MOMENT_ROWS):
        rows = np.asarray(X[lo : lo + _MOMENT_ROWS], dtype=np.float64)
        if sample_weight is None:
            count, mean = float(rows.shape[0]), rows.mean(axis=0)
            diff = rows - mean
            scatter = diff.T @ diff
        else:
            w = np.asarray(sample_weight[lo : lo + _MOMENT_ROWS], dtype=np.float64)
            count = float(w.sum())
            if count <= 0.0:
                continue
            mean = (w @ rows) / count
            diff = rows - mean
            scatter = (diff * w[:, None]).T @ diff
        total = total.merge(_Moments(count, mean, scatter))
    return total


def _labels_block(X, y, sample_weight, start):
    """The distinct labels of one block, after scikit-learn's check of the target type."""
    from sklearn.utils.multiclass import check_classification_targets

    check_classification_targets(y)
    return _Union(np.unique(y))


def _rows_block(X, y, sample_weight, start, index):
    """The rows of this block whose global indices are in the sorted ``index``."""
    lo, hi = np.searchsorted(index, [start, start + X.shape[0]])
    local = index[lo:hi] - start
    weight = None if sample_weight is None else np.asarray(sample_weight)[local]
    return _Rows(index[lo:hi], X[local], weight)


def _positive_rows_block(X, y, sample_weight, start, ranks, rank_start):
    """Global indices of the positive-weight rows with the given (sorted) ranks."""
    positive = np.flatnonzero(sample_weight > 0)
    offset = rank_start[start]
    lo, hi = np.searchsorted(ranks, [offset, offset + positive.size])
    return _Concat(start + positive[ranks[lo:hi] - offset])


def _prepare_block(X, y, sample_weight, start, estimator):
    X, y, sample_weight = estimator._dask_prepare_block(X, y, sample_weight)
    return X, y, sample_weight, start


def _getitem(value, index):
    return value[index]


# ------------------------------------------------------------------- block validation
def _describe(index, start, rows):
    return f"block {index} (rows {start} to {start + rows - 1})"


def _load_block(X, y, sample_weight, index, start, spec):
    """Check one block and convert it to the fit's dtype; return it and its summary.

    Every problem is a ValueError naming the block, raised before any sweep runs.
    """
    rows = spec["rows"][index]
    where = _describe(index, start, rows)
    name = spec["name"]
    sparse = sp.issparse(X)
    if sparse != spec["sparse"] or not (sparse or isinstance(X, np.ndarray)):
        kind = "scipy.sparse" if spec["sparse"] else "numpy.ndarray"
        raise ValueError(
            f"{where} of X is a {type(X).__name__}, but the dask array's other blocks "
            f"(its meta) are {kind}: mixed block types."
        )
    if X.dtype != spec["declared_dtype"]:
        raise ValueError(
            f"{where} of X has dtype {X.dtype}, but the dask array declares "
            f"{spec['declared_dtype']}: mixed dtypes across blocks. Make them agree, "
            "e.g. with X.map_blocks(lambda b: b.astype(dtype), dtype=dtype)."
        )
    if X.shape != (rows, spec["n_features"]):
        raise ValueError(
            f"{where} of X has shape {X.shape}, but the dask array's chunks say "
            f"{(rows, spec['n_features'])}."
        )
    dtype = spec["dtype"]
    if sparse:
        X = X.tocsr() if X.format != "csr" else X
        if X.dtype != dtype:
            X = X.astype(dtype)
        values = X.data
    else:
        X = np.asarray(X, dtype=dtype)
        if not X.flags.aligned:  # unpickled at an odd address: numpy rounds differently
            X = X.copy()
        values = X
    if values.size and not np.isfinite(values).all():
        what = "NaN" if np.isnan(values).any() else "infinity"
        raise ValueError(f"Input X contains {what}: {where} of the dask array.")
    if spec["positive_only"] and values.size and values.min() < 0:
        raise ValueError(
            f"Negative values in data passed to {name}.fit ({where} of the dask array): "
            f"{name} needs non-negative data."
        )
    if spec["y_kind"] is not None:
        y = np.asarray(y)
        if y.shape != (rows,):
            raise ValueError(f"{where} of y has shape {y.shape}; expected ({rows},).")
        if spec["y_kind"] == "numeric":
            y = np.asarray(y, dtype=np.float64) if y.dtype.kind not in "f" else y
        if y.dtype.kind in "fc" and not np.isfinite(y).all():
            raise ValueError(f"Input y contains NaN or infinity: {where} of y.")
    else:
        y = None
    positive = rows
    weight_sum = float(rows)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=dtype)
        if sample_weight.shape != (rows,):
            raise ValueError(
                f"{where} of sample_weight has shape {sample_weight.shape}; expected ({rows},)."
            )
        if not np.isfinite(sample_weight).all():
            raise ValueError(f"sample_weight contains NaN or infinity: {where}.")
        if np.any(sample_weight < 0):
            raise ValueError(f"sample_weight contains negative values: {where}.")
        positive = int(np.count_nonzero(sample_weight > 0))
        weight_sum = float(sample_weight.sum(dtype=np.float64))
    block = (X, y, sample_weight, start)
    return block, {"positive": positive, "weight": weight_sum}


def _check_arrays(estimator, X, y, sample_weight, reset):
    """Checks that need no data (chunks, dtype, shapes); returns dask arrays and a spec."""
    import dask.array as da

    name = type(estimator).__name__
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D dask array, got a {X.ndim}D one of shape {X.shape}: {name} "
            "needs X of shape (n_samples, n_features)."
        )
    if any(np.isnan(c) for c in X.chunks[0]) or any(np.isnan(c) for c in X.chunks[1]):
        raise ValueError(
            "X is a dask array with unknown chunk sizes (for example after boolean "
            "indexing): call X.compute_chunk_sizes() (or X = X.persist() and "
            "X.compute_chunk_sizes()) before fit."
        )
    n_samples, n_features = X.shape
    if n_samples == 0 or n_features == 0:
        raise ValueError(
            f"Found array with {n_samples} sample(s) and {n_features} feature(s) "
            f"(shape={X.shape}) while a minimum of 1 is required by {name}."
        )
    meta = getattr(X, "_meta", None)
    sparse = sp.issparse(meta)
    if not (sparse or isinstance(meta, np.ndarray)):
        raise TypeError(
            f"X is a dask array of {type(meta).__name__} blocks; {name} takes blocks that "
            "are numpy arrays or scipy.sparse matrices."
        )
    if sparse and not estimator._accept_sparse:
        raise TypeError(
            f"X is a dask array of scipy.sparse blocks, but {name} needs dense data: "
            "use X.map_blocks(lambda b: b.toarray()) if it fits in the workers' memory."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"X has dtype {X.dtype}; {name} needs a real numeric dtype (float64, float32, "
            "integer or bool)."
        )
    if X.numblocks[1] > 1:
        if sparse:
            raise ValueError(
                f"X has {X.numblocks[1]} chunks along the features; {name} needs every "
                "block to hold all the features: X.rechunk({1: -1})."
            )
        X = X.rechunk({1: -1})
    if not reset and n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {name} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    tags = estimator.__sklearn_tags__()
    y_kind = None
    if tags.target_tags.required:
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None.")
        y_kind = "numeric" if tags.estimator_type == "regressor" else "labels"
        y = _aligned_vector(da, y, X, "y")
        if y.dtype.kind not in "biufOUS":
            raise ValueError(f"y has dtype {y.dtype}, which {name} cannot use.")
    else:
        y = None
    if sample_weight is not None:
        if np.ndim(sample_weight) == 0 and not is_dask_array(sample_weight):
            sample_weight = da.full(
                n_samples, float(sample_weight), chunks=(X.chunks[0],), dtype=np.float64
            )
        sample_weight = _aligned_vector(da, sample_weight, X, "sample_weight")
        if sample_weight.dtype.kind not in "biuf":
            raise ValueError(f"sample_weight has dtype {sample_weight.dtype}; expected floats.")
    spec = {
        "name": name,
        "rows": [int(c) for c in X.chunks[0]],
        "n_features": int(n_features),
        "sparse": sparse,
        "declared_dtype": np.dtype(X.dtype),
        "dtype": np.dtype(np.float32 if X.dtype == np.float32 else np.float64),
        "positive_only": bool(tags.input_tags.positive_only),
        "y_kind": y_kind,
    }
    return X, y, sample_weight, spec


def _aligned_vector(da, v, X, what):
    """``v`` as a 1-D dask array with X's row chunks."""
    if not is_dask_array(v):
        v = np.asarray(v)
        if v.ndim != 1 or v.shape[0] != X.shape[0]:
            raise ValueError(
                f"{what} has shape {v.shape}; expected ({X.shape[0]},), one value per sample of X."
            )
        return da.from_array(v, chunks=(X.chunks[0],))
    if any(np.isnan(c) for c in v.chunks[0]):
        raise ValueError(
            f"{what} is a dask array with unknown chunk sizes: call "
            f"{what}.compute_chunk_sizes() before fit."
        )
    if v.ndim != 1 or v.shape[0] != X.shape[0]:
        raise ValueError(
            f"{what} has shape {v.shape}; expected ({X.shape[0]},), one value per sample of X."
        )
    if v.chunks[0] != X.chunks[0]:
        v = v.rechunk((X.chunks[0],))
    return v


# -------------------------------------------------------------------------- runners
class _LocalRunner:
    """dask's threaded scheduler in this process; blocks are recomputed at every pass."""

    def __init__(self):
        import dask

        self._dask = dask

    def load(self, tasks):
        return list(tasks)

    def apply(self, func, items, *args):
        delayed = self._dask.delayed
        return [delayed(func, pure=False)(item, *args) for item in items]

    def share(self, value):
        return value

    def map(self, payload, blocks, states, extra=()):
        delayed = self._dask.delayed
        call = delayed(_call_block, pure=False)
        outs = [
            call(payload, block, state, *extra)
            for block, state in zip(blocks, states, strict=True)
        ]
        stateful = payload[2]
        if stateful:
            results = [delayed(_getitem, pure=False)(out, 0) for out in outs]
            new_states = [delayed(_getitem, pure=False)(out, 1) for out in outs]
        else:
            results, new_states = outs, states
        root = _tree(results, delayed(_combine_all, pure=False))
        if stateful:
            total, new_states = self._dask.compute(root, new_states, scheduler="threads")
            return total, list(new_states)
        (total,) = self._dask.compute(root, scheduler="threads")
        return total, new_states

    def gather(self, items):
        try:
            return list(self._dask.compute(*items, scheduler="threads"))
        except Exception:
            # Raise the error of the first bad block in block order, not of whichever
            # thread failed first (the happy path stays parallel).
            for item in items:
                self._dask.compute(item, scheduler="sync")
            raise

    def release(self, items):
        pass


class _DistributedRunner:
    """A distributed Client: blocks persisted on the workers, sums reduced there."""

    def __init__(self, client):
        self.client = client

    def load(self, tasks):
        return self.client.compute(list(tasks))

    def apply(self, func, items, *args):
        client = self.client
        [shared] = client.scatter([args], broadcast=True, hash=False) if args else [()]
        return [client.submit(_apply_shared, func, item, shared, pure=False) for item in items]

    def share(self, value):
        [future] = self.client.scatter([value], broadcast=True, hash=False)
        return future

    def map(self, payload, blocks, states, extra=()):
        client = self.client
        [shared] = client.scatter([payload], broadcast=True, hash=False)
        outs = [
            client.submit(_call_block, shared, block, state, *extra, pure=False)
            for block, state in zip(blocks, states, strict=True)
        ]
        if payload[2]:
            results = [client.submit(operator.getitem, out, 0, pure=False) for out in outs]
            new_states = [client.submit(operator.getitem, out, 1, pure=False) for out in outs]
        else:
            results, new_states = outs, states
        root = _tree(results, lambda *parts: client.submit(_combine_all, *parts, pure=False))
        return root.result(), new_states

    def gather(self, items):
        from distributed import wait

        items = list(items)
        wait(items)
        for future in items:  # the first bad block in block order, not the first to fail
            if future.status == "error":
                future.result()
        return self.client.gather(items)

    def release(self, items):
        """Forget futures nothing else needs (persisted blocks, local state)."""
        futures = [item for item in items if hasattr(item, "key")]
        if futures:
            self.client.cancel(futures)


def _apply_shared(func, item, shared):
    return func(item, *shared)


def _current_client():
    """The current distributed Client, or None (dask's threaded scheduler then)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


# ----------------------------------------------------------------------------- data
class DaskData:
    """The training data of a fit on a dask array, as the estimators' dask hooks see it.

    Attributes
    ----------
    n_samples, n_features : int
        Shape of X as the hooks see it (after ``_dask_prepare_block``).
    dtype : numpy.dtype
        float32 or float64, as the in-memory fit.
    meta_X, meta_y : arrays with no rows
        Stand-ins of X and y of the right type, width and dtype (for hooks that need
        only those, such as ``_check_priors`` of most estimators).
    has_weights : bool
        Whether sample weights were given.
    weight_total : float
        Sum of the sample weights (n_samples without weights).
    positive_weights : int
        Samples of positive weight.
    normalizer : float
        What ``tol`` is per (``_elbo_normalizer`` summed over the blocks).
    reset : bool
        False for a warm start.
    """

    def __init__(self, runner, blocks, kept, spec, summaries, meta_X, meta_y, reset):
        self._runner = runner
        self._blocks = blocks
        self._spec = spec
        self._moments = None
        self.reset = reset
        self.starts = np.array([start for start, _ in kept], dtype=np.int64)
        self.n_blocks = len(kept)
        self.n_samples = int(sum(rows for _, rows in kept))
        self.dtype = spec["dtype"]
        self.meta_X, self.meta_y = meta_X, meta_y
        self.n_features = meta_X.shape[1]
        self.has_weights = spec["has_weights"]
        self.block_positive = np.array([s["positive"] for s in summaries], dtype=np.int64)
        self.positive_weights = int(self.block_positive.sum())
        self.weight_total = float(sum(s["weight"] for s in summaries))
        self.normalizer = None

    # -------------------------------------------------------------- for the hooks
    def map_reduce(self, func, *args):
        """Sum (or merge) ``func(X, y, sample_weight, start, *args)`` over the blocks.

        ``func`` runs where the blocks are, on their prepared form; it must not modify
        its arguments (on the threaded scheduler they are shared). Results add as
        numbers and arrays, tuples and dicts of them, or objects with a ``merge``
        method, in a fixed pairwise order.
        """
        total, _ = self._runner.map((func, args, False), self._blocks, [None] * self.n_blocks)
        return total

    def moments(self):
        """The (weighted) mean and covariance of X, float64, computed once.

        The covariance is ``np.cov``'s with frequency weights (divided by the weight
        total less one).
        """
        if self._moments is None:
            result = self.map_reduce(_moments_block)
            count = result.count
            scatter = 0.5 * (result.scatter + result.scatter.T)
            self._moments = (result.mean, scatter / (count - 1.0 if count > 1.0 else count))
        return self._moments

    def classes(self):
        """The sorted distinct labels of y over all blocks (classifiers)."""
        return self.map_reduce(_labels_block).values

    def take(self, index):
        """The rows of X at the given global indices (X rows, weights or None), in the
        order of ``index``. Gathered here: keep ``index`` small."""
        index = np.asarray(index, dtype=np.int64)
        order = np.argsort(index, kind="stable")
        rows = self.map_reduce(_rows_block, index[order])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        X = rows.X[inverse]
        weight = None if rows.sample_weight is None else rows.sample_weight[inverse]
        return X, weight

    def subsample(self, max_rows, random_state):
        """Up to ``max_rows`` rows drawn uniformly without replacement, in data order.

        All the rows, in order and without drawing from ``random_state``, when there
        are at most ``max_rows``. Returns (global indices, X rows, weights or None).
        """
        if self.n_samples <= max_rows:
            index = np.arange(self.n_samples)
        else:
            index = np.sort(random_state.choice(self.n_samples, max_rows, replace=False))
        X, weight = self.take(index)
        return index, X, weight

    def positive_weight_rows(self, ranks):
        """Global indices of the positive-weight samples of the given ranks (0-based, in
        data order), in the order of ``ranks``."""
        ranks = np.asarray(ranks, dtype=np.int64)
        order = np.argsort(ranks, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(self.block_positive)[:-1]])
        rank_start = {int(s): int(o) for s, o in zip(self.starts, offsets, strict=True)}
        # The blocks come in data order, so the found rows are in the order of the ranks.
        found = self.map_reduce(_positive_rows_block, ranks[order], rank_start).values
        out = np.empty_like(ranks)
        out[order] = found
        return out

    # -------------------------------------------------------------- for the engine
    def _prepare(self, estimator):
        hook = getattr(estimator, "_dask_prepare_block", None)
        if hook is None:
            return
        # the checked blocks are released once their prepared forms are computed
        self._blocks = self._runner.apply(_prepare_block_item, self._blocks, estimator)
        X, y, _ = hook(self.meta_X, self.meta_y, None)
        self.meta_X, self.meta_y = X, y
        self.n_features = X.shape[1]

    def _sweep(self, template, stateful, params, states):
        """Every block's local step at ``params``: the summed (stats, pieces), new states.

        ``template`` is the restart's estimator, shared with the workers once
        (``_share``); ``params`` its variational parameters, sent every sweep.
        """
        func = _sweep_block if stateful else _sweep_block_stateless
        return self._runner.map((func, (params,), stateful), self._blocks, states, (template,))

    def _share(self, value):
        return self._runner.share(value)

    def _release(self, items=None):
        self._runner.release(self._blocks if items is None else items)


def _sweep_block_stateless(X, y, sample_weight, start, template, params):
    result, _ = _sweep_block(X, y, sample_weight, start, template, params, None)
    return result


def _prepare_block_item(block, estimator):
    return _prepare_block(*block, estimator)


def _load(estimator, X, y, sample_weight, spec, reset):
    """Build the runner, check every block (one pass) and return the DaskData."""
    import dask

    client = _current_client()
    runner = _LocalRunner() if client is None else _DistributedRunner(client)
    x_blocks = X.to_delayed().ravel()
    y_blocks = [None] * len(x_blocks) if y is None else list(y.to_delayed().ravel())
    w_blocks = (
        [None] * len(x_blocks) if sample_weight is None else list(sample_weight.to_delayed())
    )
    spec["has_weights"] = sample_weight is not None
    starts = np.concatenate([[0], np.cumsum(spec["rows"])[:-1]])
    load = dask.delayed(_load_block, pure=False)
    tasks = [
        load(xb, yb, wb, i, int(start), spec)
        for i, (xb, yb, wb, start) in enumerate(
            zip(x_blocks, y_blocks, w_blocks, starts, strict=True)
        )
        if spec["rows"][i] > 0  # blocks without rows add nothing
    ]
    loaded = runner.load(tasks)
    blocks = runner.apply(_getitem, loaded, 0)
    summaries_items = runner.apply(_getitem, loaded, 1)
    try:
        summaries = runner.gather(summaries_items)
    except BaseException:  # stop the other blocks' checks
        runner.release(list(loaded) + list(blocks) + list(summaries_items))
        raise
    del loaded, summaries_items  # the blocks keep what they need
    dtype = spec["dtype"]
    D = spec["n_features"]
    meta_X = sp.csr_matrix((0, D), dtype=dtype) if spec["sparse"] else np.empty((0, D), dtype)
    meta_y = None
    if spec["y_kind"] == "numeric":
        meta_y = np.empty(0, dtype=y.dtype if y.dtype.kind == "f" else np.float64)
    elif spec["y_kind"] == "labels":
        meta_y = np.empty(0, dtype=y.dtype)
    kept = [
        (int(start), rows) for start, rows in zip(starts, spec["rows"], strict=True) if rows > 0
    ]
    data = DaskData(runner, blocks, kept, spec, summaries, meta_X, meta_y, reset)
    if spec["has_weights"] and not data.weight_total > 0:
        data._release()
        raise ValueError("sample_weight is zero for every sample.")
    return data


# ------------------------------------------------------------------------------ fit
def _replica_template(estimator):
    """The restart's estimator as the workers get it: no client-only caches, no local
    state of the client."""
    template = copy.copy(estimator)
    for name in getattr(estimator, "_dask_client_only", ()):
        template.__dict__.pop(name, None)
    for name in getattr(estimator, "_dask_local_state", ()):
        setattr(template, name, None)
    return template


def _restart(template, data, seed, label, initialize):
    """One restart: initialisation here, each sweep's local step on the blocks."""
    from ._base import RestartResult, _fit_one_restart

    if getattr(template, "_dask_local_step_on_client", False):
        return _fit_one_restart(template, data.meta_X, data.meta_y, None, seed, label, initialize)
    estimator = copy.copy(template)
    if initialize:
        random_state = np.random.RandomState(seed)
        hook = getattr(estimator, "_dask_initialize", None)
        if hook is None:
            estimator._initialize(data.meta_X, data.meta_y, random_state, sample_weight=None)
        else:
            hook(data, random_state)
    monitor = ConvergenceMonitor(
        tol=estimator.tol,
        normalizer=data.normalizer,
        verbose=estimator.verbose,
        label=label,
        check_decrease=estimator._elbo_is_monotone(),
        extra_rule=estimator._extra_stopping_rule(),
        rel_eps=np.finfo(data.dtype).eps,
    )
    shared = data._share(_replica_template(estimator))
    stateful = bool(getattr(estimator, "_dask_local_state", ()))
    set_pieces = getattr(estimator, "_dask_set_pieces", None)
    refine = getattr(estimator, "_dask_refine", None)
    elbo = getattr(estimator, "_dask_elbo", None)
    states = [None] * data.n_blocks
    try:
        for _ in range(estimator.max_iter):
            params = estimator._get_variational_params()
            # the previous states are released when the new ones replace them
            (stats, pieces), states = data._sweep(shared, stateful, params, states)
            if set_pieces is not None:
                set_pieces(pieces, stats)
            estimator._global_step(stats, 1.0)
            if refine is not None:
                refine(data)
            # _elbo reads only what the sweep stored (X is on the workers).
            if elbo is not None:
                value = elbo(data)
            else:
                value = estimator._elbo(None, None, sample_weight=None)
            if monitor.update(value):
                break
    finally:
        data._release([s for s in states if s is not None])
        data._release([shared])
    return RestartResult(
        params=estimator._get_variational_params(),
        elbo_history=np.asarray(monitor.history),
        converged=monitor.converged,
        summary=monitor.summary(),
    )


def _overrides(estimator, method):
    """Whether the estimator's class overrides a VariationalEstimator method."""
    from ._base import VariationalEstimator

    base = getattr(VariationalEstimator, method, None)
    return base is not None and getattr(type(estimator), method, None) is not base


def fit_dask(estimator, X, y=None, sample_weight=None):
    """``estimator.fit(X, y, sample_weight)`` for a dask array X (see the module docstring).

    Called by :meth:`skvi._base.VariationalEstimator.fit`; the result is the in-memory
    fit's on the same data, up to rounding, for starts that can be distributed.
    """
    name = type(estimator).__name__
    unsupported = getattr(estimator, "_dask_unsupported", None)
    if unsupported is not None and (reason := unsupported()):
        raise ValueError(f"{name} cannot be fitted on a dask array: {reason}")
    if _overrides(estimator, "_refine") and not hasattr(estimator, "_dask_refine"):
        raise ValueError(
            f"{name} cannot be fitted on a dask array: its _refine step reads the data "
            "and it has no _dask_refine counterpart."
        )
    warm = estimator._check_warm_start()
    X, y, sample_weight, spec = _check_arrays(estimator, X, y, sample_weight, reset=not warm)
    data = _load(estimator, X, y, sample_weight, spec, reset=not warm)
    try:
        if not warm:
            estimator.n_features_in_ = spec["n_features"]
            estimator.__dict__.pop("feature_names_in_", None)
        hook = getattr(estimator, "_dask_check_priors", None)
        if hook is None:
            estimator._check_priors(data.meta_X, data.meta_y)
        else:
            hook(data)
        data._prepare(estimator)
        if not getattr(estimator, "_dask_local_step_on_client", False):
            data.normalizer = data.map_reduce(_normalizer_block, _replica_template(estimator))

        # Per-block local state lives on the workers: none from an earlier in-memory fit
        # is broadcast with the parameters, or kept.
        for name in getattr(estimator, "_dask_local_state", ()):
            setattr(estimator, name, None)
        seeds, labels = estimator._restart_seeds(warm)
        results = [
            _restart(estimator, data, seed, label, initialize=not warm)
            for seed, label in zip(seeds, labels, strict=True)
        ]
    finally:
        data._release()

    estimator._keep_best_restart(
        results, data.weight_total if data.has_weights else float(data.n_samples)
    )
    finalize = getattr(estimator, "_dask_finalize_fit", None)
    if finalize is None:
        estimator._finalize_fit(data.meta_X, data.meta_y, sample_weight=None)
    else:
        finalize(data)
    estimator._warn_if_not_converged(len(results))
    return estimator
