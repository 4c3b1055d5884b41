"""Fitting from a stream of chunks with ``partial_fit``, in bounded memory.

Every skvi estimator with a ``partial_fit`` learns from data it never holds in memory
at once: stochastic variational inference for the mixture and topic models (one
natural-gradient step per mini-batch, Hoffman et al. 2013), exact accumulation of the
sufficient statistics for linear regression. :func:`partial_fit_stream` feeds such an
estimator from any iterable of chunks (read lazily from disk, a database or a
generator), for one or several passes, and can count the stream first so that the
stochastic-VI scale ``total_samples`` is the true size of the data set.

References
----------
M. D. Hoffman, D. M. Blei, C. Wang and J. Paisley (2013). Stochastic variational
inference. JMLR 14, 1303-1347.
"""

import time
from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import _num_samples

__all__ = ["partial_fit_stream"]


def partial_fit_stream(
    estimator,
    chunks,
    *,
    n_passes=1,
    total_samples=None,
    classes=None,
    callback=None,
    verbose=0,
):
    """Fit ``estimator`` by ``partial_fit`` on a stream of chunks.

    Each chunk is read, passed to ``estimator.partial_fit`` and released before the
    next one is read, so memory holds one chunk and the model, whatever the size of
    the stream.

    Parameters
    ----------
    estimator : estimator with a ``partial_fit`` method
        For example :class:`~skvi.mixture.VariationalGMM`,
        :class:`~skvi.decomposition.VariationalLDA` or
        :class:`~skvi.linear_model.VariationalLinearRegression`. It is updated in
        place (a fitted estimator continues from its posterior).
    chunks : iterable or callable
        The stream. Each chunk is ``X`` (an array or sparse matrix of shape
        (n_chunk_samples, n_features)) or a tuple ``(X,)``, ``(X, y)`` or
        ``(X, y, sample_weight)``. For several passes, or with
        ``total_samples="auto"``, the stream is read more than once: give a callable
        without arguments that returns a new iterable each time (such as a function
        that reads files lazily), or an iterable that can be iterated again (a list);
        a one-shot iterator or generator raises a ``ValueError``.
    n_passes : int, default=1
        Passes over the stream.
    total_samples : None, "auto" or float, default=None
        The data-set size stochastic VI scales each mini-batch to. None keeps the
        estimator's own ``total_samples``; ``"auto"`` reads the stream once first and
        counts its (weighted) samples; a number is used as it is. It is set on the
        estimator with ``set_params``. An estimator without a ``total_samples``
        parameter (exact ``partial_fit``) accepts only None.
    classes : array-like or None, default=None
        All class labels, passed to the first ``partial_fit`` call as ``classes=``
        (scikit-learn's convention for classifiers, whose first chunk may not hold
        every class).
    callback : callable or None, default=None
        Called after every chunk as ``callback(estimator, n_chunks, n_samples)``, with
        the chunks and (weighted) samples streamed so far over all passes: for
        progress, held-out scores, or checkpoints.
    verbose : int, default=0
        0 silent, 1 one line per pass, 2 also one line per chunk.

    Returns
    -------
    estimator : estimator
        The same estimator, updated by every chunk.

    See Also
    --------
    skvi.mixture.VariationalGMM.partial_fit : stochastic VI for the mixture.
    skvi.decomposition.VariationalLDA.partial_fit : online VB for LDA.
    skvi.linear_model.VariationalLinearRegression.partial_fit : exact streaming.

    References
    ----------
    M. D. Hoffman, D. M. Blei, C. Wang and J. Paisley (2013). Stochastic variational
    inference. JMLR 14, 1303-1347.

    Examples
    --------
    Chunks read lazily by a generator function, three passes, the stream counted first:

    >>> import numpy as np
    >>> from skvi.mixture import VariationalGMM
    >>> from skvi.streaming import partial_fit_stream
    >>> rng = np.random.RandomState(0)
    >>> def read_chunks():  # stands for reading files one by one
    ...     for i in range(10):
    ...         yield rng.normal(size=(100, 2)) + 4.0 * (i % 2)
    >>> gmm = VariationalGMM(n_components=2, random_state=0)
    >>> gmm = partial_fit_stream(gmm, read_chunks, n_passes=3, total_samples="auto")
    >>> gmm.total_samples, gmm.n_batch_iter_
    (1000.0, 30)
    >>> np.sort(gmm.means_[:, 0]).round(0)
    array([0., 4.])
    """
    if not hasattr(estimator, "partial_fit"):
        raise ValueError(f"{type(estimator).__name__} has no partial_fit method.")
    if not isinstance(n_passes, Integral) or n_passes < 1:
        raise ValueError(f"n_passes must be a positive integer; got {n_passes!r}.")
    if total_samples is not None:
        if "total_samples" not in estimator.get_params():
            raise ValueError(
                f"{type(estimator).__name__} has no total_samples parameter (its "
                "partial_fit does not scale mini-batches); pass total_samples=None."
            )
        number = isinstance(total_samples, Real) and not isinstance(total_samples, bool)
        if not (isinstance(total_samples, str) and total_samples == "auto") and not (
            number and total_samples > 0
        ):
            raise ValueError(
                f'total_samples must be None, "auto" or a positive number; got {total_samples!r}.'
            )
    if callback is not None and not callable(callback):
        raise ValueError(f"callback must be callable or None; got {callback!r}.")
    auto = isinstance(total_samples, str) and total_samples == "auto"
    reads = n_passes + auto
    open_stream = _stream_opener(chunks, reads)

    if auto:
        counted = sum(_chunk_size(*_unpack(chunk)) for chunk in open_stream())
        if counted <= 0:
            raise ValueError("total_samples='auto': the stream holds no sample.")
        total_samples = counted
    if total_samples is not None:
        estimator.set_params(total_samples=float(total_samples))

    name = type(estimator).__name__
    n_chunks, n_samples = 0, 0.0
    first = classes is not None
    for pass_index in range(n_passes):
        t_pass = time.perf_counter()
        pass_chunks, pass_samples = 0, 0.0
        for chunk in open_stream():
            X, y, sample_weight = _unpack(chunk)
            t_chunk = time.perf_counter()
            extra = {"classes": classes} if first else {}
            estimator.partial_fit(X, y, sample_weight=sample_weight, **extra)
            first = False
            size = _chunk_size(X, y, sample_weight)
            n_chunks, n_samples = n_chunks + 1, n_samples + size
            pass_chunks, pass_samples = pass_chunks + 1, pass_samples + size
            if verbose >= 2:
                print(
                    f"[{name} stream] pass {pass_index + 1}/{n_passes}  chunk {pass_chunks}  "
                    f"{size:g} samples  {time.perf_counter() - t_chunk:.3f}s",
                    flush=True,
                )
            if callback is not None:
                callback(estimator, n_chunks, n_samples)
            del chunk, X, y, sample_weight  # hold one chunk at a time
        if pass_chunks == 0:
            raise ValueError(f"pass {pass_index + 1} of the stream yielded no chunk.")
        if verbose >= 1:
            print(
                f"[{name} stream] pass {pass_index + 1}/{n_passes}: {pass_chunks} chunks, "
                f"{pass_samples:g} samples, {time.perf_counter() - t_pass:.2f}s",
                flush=True,
            )
    return estimator


def _stream_opener(chunks, reads):
    """A function returning a fresh iterator over the stream, once per read."""
    if callable(chunks):
        return lambda: iter(chunks())
    try:
        one_shot = iter(chunks) is chunks
    except TypeError:
        raise ValueError(
            f"chunks must be an iterable of chunks or a callable returning one; got "
            f"{type(chunks).__name__}."
        ) from None
    if one_shot and reads > 1:
        raise ValueError(
            f"chunks is a one-shot iterator ({type(chunks).__name__}) but the stream "
            f"must be read {reads} times (n_passes, or total_samples='auto'); pass a "
            "callable that returns a new iterator, such as the generator function itself."
        )
    return lambda: iter(chunks)


def _unpack(chunk):
    """``(X, y, sample_weight)`` from a chunk ``X``, ``(X,)``, ``(X, y)`` or ``(X, y, w)``."""
    if not isinstance(chunk, tuple):
        return chunk, None, None
    if not 1 <= len(chunk) <= 3:
        raise ValueError(
            f"a chunk tuple must be (X,), (X, y) or (X, y, sample_weight); got a tuple of "
            f"{len(chunk)} items."
        )
    return (*chunk, *(None,) * (3 - len(chunk)))


def _chunk_size(X, y=None, sample_weight=None):
    """The (weighted) number of samples of a chunk, as stochastic VI counts them."""
    if sample_weight is None:
        return float(_num_samples(X))
    return float(np.sum(sample_weight))
