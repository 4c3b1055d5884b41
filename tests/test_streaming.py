"""Fitting from a lazily read stream of chunks: partial_fit and skvi.streaming.

Linear regression streams exactly (its sufficient statistics add up), so the stream
gives the batch posterior up to rounding. The mixture and LDA stream by stochastic
VI, which only approaches the batch optimum: after a few passes their held-out score
must be within a stated tolerance of the batch fit's.
"""

import gc
import weakref

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skvi.datasets import make_lda_corpus
from skvi.decomposition import VariationalLDA
from skvi.linear_model import VariationalLinearRegression
from skvi.mixture import VariationalGMM
from skvi.streaming import partial_fit_stream

from conftest import PUBLIC_ESTIMATORS, estimator_id, make_data, make_estimator

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Held-out tolerances after the passes below, in nats per sample (GMM) and per token
# (LDA). A stream stuck in a worse optimum (two topics merged) is off by 0.3 or more.
GMM_TOL = 0.01
LDA_TOL = 0.01


def _outputs(estimator, X):
    names = ["predict", "predict_proba", "transform", "score_samples", "decision_function"]
    return {name: getattr(estimator, name)(X) for name in names if hasattr(estimator, name)}


def _regression_data(n_samples=1000):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, 5)) * [1.0, 2.0, 3.0, 0.1, 10.0] + 3.0
    y = X @ rng.normal(size=5) + rng.normal(size=n_samples) + 7.0
    w = rng.randint(0, 4, size=n_samples).astype(float)
    return X, y, w


def _mixture_data(n_samples, seed):
    rng = np.random.RandomState(seed)
    centers = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    return centers[rng.randint(3, size=n_samples)] + rng.normal(size=(n_samples, 2)) * [1.0, 0.5]


def _lazy_chunks(data, size, reads=None):
    """A generator function reading ``data`` (a tuple of arrays) ``size`` rows at a time.

    Each chunk is a copy made when it is read, as it would be from disk; ``reads``
    counts the chunks read.
    """

    def read():
        n = data[0].shape[0]
        for start in range(0, n, size):
            if reads is not None:
                reads.append(start)
            chunk = tuple(a[start : start + size].copy() for a in data)
            yield chunk if len(chunk) > 1 else chunk[0]

    return read


@pytest.mark.parametrize("ard", [False, True])
def test_linear_regression_stream_equals_batch_fit(ard):
    X, y, w = _regression_data()
    batch = VariationalLinearRegression(ard=ard).fit(X, y, sample_weight=w)
    # One pass over a one-shot generator of (X, y, sample_weight) chunks.
    stream = _lazy_chunks((X, y, w), 100)()
    streamed = partial_fit_stream(VariationalLinearRegression(ard=ard), stream)
    for name in ("coef_", "intercept_", "sigma_", "alpha_", "lambda_", "elbo_"):
        assert_allclose(getattr(streamed, name), getattr(batch, name), rtol=1e-9, err_msg=name)
    assert_allclose(streamed.predict(X[:20]), batch.predict(X[:20]), rtol=1e-10)


def test_mixture_stream_reaches_the_batch_held_out_score():
    X_train, X_test = _mixture_data(3000, 0), _mixture_data(2000, 1)
    batch = VariationalGMM(n_components=5, max_iter=200, random_state=0).fit(X_train)
    reads = []
    gmm = VariationalGMM(n_components=5, random_state=0)
    partial_fit_stream(gmm, _lazy_chunks((X_train,), 300, reads), n_passes=3, total_samples="auto")
    assert len(reads) == 4 * 10  # one counting pass, then three passes of ten chunks
    assert gmm.total_samples == 3000.0
    assert gmm.n_batch_iter_ == 30
    assert abs(gmm.score(X_test) - batch.score(X_test)) < GMM_TOL
    # The score is that of the three clusters, far above one Gaussian's.
    one = VariationalGMM(n_components=1, random_state=0).fit(X_train)
    assert gmm.score(X_test) > one.score(X_test) + 0.3


def test_lda_stream_reaches_the_batch_held_out_bound():
    X, _, _ = make_lda_corpus(2400, 200, 3, doc_length=60, random_state=0)
    X_train, X_test = X[:2000], X[2000:]
    empty = np.zeros((1, X.shape[1]))

    def per_token(model, X_eval):  # documents' part of the bound, per token
        return (model.score(X_eval) - model.score(empty)) / X_eval.sum()

    # Online and batch LDA both have worse optima (merged topics) from a random
    # start: the batch fit keeps the best of three restarts by its ELBO, and so is the
    # best of three streams kept by its training bound.
    batch = VariationalLDA(n_components=3, max_iter=50, n_init=3, random_state=0).fit(X_train)
    streams = [
        partial_fit_stream(
            VariationalLDA(n_components=3, random_state=seed),
            _lazy_chunks((X_train,), 200),
            n_passes=4,
            total_samples="auto",
        )
        for seed in range(3)
    ]
    best = max(streams, key=lambda model: per_token(model, X_train))
    assert best.total_samples == 2000.0
    assert abs(per_token(best, X_test) - per_token(batch, X_test)) < LDA_TOL


STREAMING_ESTIMATORS = [cls for cls in PUBLIC_ESTIMATORS if hasattr(cls, "partial_fit")]


@pytest.mark.parametrize("cls", STREAMING_ESTIMATORS, ids=estimator_id)
def test_no_chunk_is_kept_after_its_partial_fit(cls):
    """Memory is bounded: the estimator holds no reference to a chunk it has seen."""
    estimator = make_estimator(cls, random_state=0)
    X, y = make_data(estimator, n_samples=400)
    alive = []

    def stream():
        for chunk in _lazy_chunks((X,) if y is None else (X, y), 100)():
            gc.collect()
            assert not any(ref() is not None for ref in alive), "a previous chunk is alive"
            first = chunk[0] if isinstance(chunk, tuple) else chunk
            alive.append(weakref.ref(first))
            yield chunk
            del chunk, first  # this generator's own references

    partial_fit_stream(estimator, stream())
    assert len(alive) == 4
    for name, value in _outputs(estimator, X[:10]).items():
        assert np.all(np.isfinite(value)), name


def test_callback_and_verbose_report_the_stream(capsys):
    X, y, w = _regression_data(300)
    seen = []
    partial_fit_stream(
        VariationalLinearRegression(),
        _lazy_chunks((X, y, w), 100),
        n_passes=2,
        callback=lambda est, n_chunks, n_samples: seen.append((n_chunks, n_samples)),
        verbose=2,
    )
    counts = np.cumsum([w[i : i + 100].sum() for i in range(0, 300, 100)])
    assert [c for c, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert_allclose([s for _, s in seen], np.concatenate([counts, counts[-1] + counts]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 3 + 2  # one per chunk, one per pass
    assert "pass 2/2: 3 chunks" in lines[-1]


def test_chunk_forms_are_equivalent():
    X = _mixture_data(300, 0)
    fits = []
    for form in (lambda c: c, lambda c: (c,), lambda c: (c, None), lambda c: (c, None, None)):
        chunks = [form(X[i : i + 100]) for i in range(0, 300, 100)]
        gmm = partial_fit_stream(VariationalGMM(n_components=2, random_state=0), chunks)
        fits.append(gmm.means_)
    for means in fits[1:]:
        np.testing.assert_array_equal(means, fits[0])


def test_weighted_chunks_count_their_weight():
    X = _mixture_data(300, 0)
    w = np.full(300, 2.0)
    gmm = VariationalGMM(n_components=2, random_state=0)
    chunks = [(X[i : i + 100], None, w[i : i + 100]) for i in range(0, 300, 100)]
    partial_fit_stream(gmm, chunks, total_samples="auto")
    assert gmm.total_samples == 600.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_passes": 2}, "one-shot iterator"),
        ({"total_samples": "auto"}, "one-shot iterator"),
        ({"n_passes": 0}, "n_passes must be a positive integer"),
        ({"total_samples": -1.0}, "total_samples must be None"),
        ({"total_samples": "all"}, "total_samples must be None"),
        ({"callback": 3}, "callback must be callable"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    X = _mixture_data(200, 0)
    generator = (X[i : i + 100] for i in range(0, 200, 100))
    with pytest.raises(ValueError, match=message):
        partial_fit_stream(VariationalGMM(n_components=2), generator, **kwargs)


def test_bad_streams_name_the_problem():
    X, y, _ = _regression_data(200)
    with pytest.raises(ValueError, match="no total_samples parameter"):
        partial_fit_stream(VariationalLinearRegression(), [(X, y)], total_samples=100)
    with pytest.raises(ValueError, match="no partial_fit method"):
        partial_fit_stream(object(), [(X, y)])
    with pytest.raises(ValueError, match="must be an iterable of chunks"):
        partial_fit_stream(VariationalLinearRegression(), 3)
    with pytest.raises(ValueError, match="a tuple of 4 items"):
        partial_fit_stream(VariationalLinearRegression(), [(X, y, None, None)])
    with pytest.raises(ValueError, match="yielded no chunk"):
        partial_fit_stream(VariationalLinearRegression(), [])
    with pytest.raises(ValueError, match="holds no sample"):
        partial_fit_stream(VariationalGMM(), [], total_samples="auto")
