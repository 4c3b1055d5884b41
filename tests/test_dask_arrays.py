"""``fit`` on a dask array: the local step on the blocks, the global step on the client.

A real ``distributed.LocalCluster`` with two single-threaded worker processes is started
once for the session (``local_cluster_client`` in conftest.py). For every estimator the
fit on a dask array of several row blocks must equal the in-memory fit on the same data
(ELBO history, variational parameters, predictions) to rounding; bad input must raise a
ValueError naming the problem before any sweep runs. A few tests run without a client
(dask's threaded scheduler).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from skvi import (  # noqa: E402
    VariationalGMM,
    VariationalLDA,
    VariationalLinearRegression,
    VariationalLogisticRegression,
)
from skvi._dask import _current_client  # noqa: E402
from skvi.datasets import make_lda_corpus  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RTOL_ELBO = 1e-9
RTOL_PARAMS = 1e-7


@pytest.fixture
def client(local_cluster_client):
    """The cluster's client as the current one: fit finds it as a user's would."""
    with local_cluster_client.as_current():
        assert _current_client() is local_cluster_client
        yield local_cluster_client


# ------------------------------------------------------------------------------ data
def _blobs(n=360, d=3, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.normal(scale=4.0, size=(3, d))
    X = centres[rng.randint(3, size=n)] + rng.normal(size=(n, d))
    return X, rng


def _assert_same_fit(a, b, params=True):
    """b (dask) is a's (in memory) fit to rounding."""
    assert a.n_iter_ == b.n_iter_
    assert_allclose(b.elbo_history_, a.elbo_history_, rtol=RTOL_ELBO)
    assert_allclose(b.init_elbos_, a.init_elbos_, rtol=RTOL_ELBO)
    assert b.elbo_ == pytest.approx(a.elbo_, rel=RTOL_ELBO)
    assert b.converged_ == a.converged_
    assert b.n_features_in_ == a.n_features_in_
    if params:
        pa, pb = a._get_variational_params(), b._get_variational_params()
        local = getattr(b, "_dask_local_state", ())  # stays on the workers: not gathered
        assert pa.keys() - set(local) == pb.keys()
        for name in pb:
            for x, y in zip(np.atleast_1d(pa[name]), np.atleast_1d(pb[name]), strict=True):
                if isinstance(x, np.ndarray) or np.isscalar(x):
                    assert_allclose(y, x, rtol=RTOL_PARAMS, atol=1e-10, err_msg=name)


# ----------------------------------------------------------- dask fit == in memory fit
GMM_CASES = [
    {"covariance_type": "full", "init_params": "random_from_data", "weights": True},
    {"covariance_type": "tied", "init_params": "kmeans"},
    {"covariance_type": "diag", "init_params": "k-means++"},
    {
        "covariance_type": "spherical",
        "init_params": "random_from_data",
        "weight_concentration_prior_type": "dirichlet_distribution",
    },
]


@pytest.mark.parametrize("case", GMM_CASES, ids=lambda c: c["covariance_type"])
def test_gmm_equals_in_memory(client, case):
    case = dict(case)
    weights = case.pop("weights", False)
    X, rng = _blobs()
    sample_weight = rng.uniform(0.0, 2.0, size=len(X)) if weights else None
    X_before = X.copy()
    params = dict(n_components=4, random_state=0, max_iter=40, tol=1e-4, **case)
    memory = VariationalGMM(**params).fit(X, sample_weight=sample_weight)
    X_dask = da.from_array(X, chunks=(100, 3))
    w_dask = None if sample_weight is None else da.from_array(sample_weight, chunks=70)
    dask_fit = VariationalGMM(**params).fit(X_dask, sample_weight=w_dask)
    _assert_same_fit(memory, dask_fit)
    for name in ("means_", "covariances_", "weights_", "precisions_cholesky_"):
        assert_allclose(getattr(dask_fit, name), getattr(memory, name), rtol=1e-7, atol=1e-10)
    for name in ("mean_prior_", "covariance_prior_", "degrees_of_freedom_prior_"):
        assert_allclose(getattr(dask_fit, name), getattr(memory, name), rtol=1e-10)
    assert_allclose(dask_fit.predict_proba(X), memory.predict_proba(X), atol=1e-8)
    assert_allclose(dask_fit.score_samples(X), memory.score_samples(X), rtol=1e-9)
    assert dask_fit.lower_bound_ == dask_fit.elbo_
    np.testing.assert_array_equal(X, X_before)  # the caller's data are not mutated


def test_lda_dense_integer_blocks_equal_in_memory(client):
    X, _, _ = make_lda_corpus(300, 40, 3, doc_length=30, random_state=0)
    counts = X.toarray().astype(np.int64)
    weights = np.random.RandomState(1).uniform(0.5, 2.0, size=counts.shape[0])
    params = dict(n_components=3, max_iter=15, random_state=0, optimize_priors=True)
    memory = VariationalLDA(**params).fit(counts, sample_weight=weights)
    dask_fit = VariationalLDA(**params).fit(
        da.from_array(counts, chunks=(80, 40)), sample_weight=weights
    )
    _assert_same_fit(memory, dask_fit)
    assert dask_fit.components_.dtype == np.float64
    assert dask_fit.bound_ == pytest.approx(memory.bound_, rel=1e-9)
    assert_allclose(dask_fit.transform(counts), memory.transform(counts), rtol=1e-7, atol=1e-10)
    # the per-document factors stayed on the workers
    assert getattr(dask_fit, "_doc_topic_gamma", None) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lda_sparse_blocks_equal_in_memory(client, dtype):
    X, _, _ = make_lda_corpus(300, 50, 3, doc_length=30, random_state=2)
    X = X.astype(dtype)
    params = dict(n_components=3, max_iter=12, random_state=0)
    memory = VariationalLDA(**params).fit(X)
    X_dask = da.from_array(X, chunks=(70, 50), asarray=False)
    assert sp.issparse(X_dask._meta)
    dask_fit = VariationalLDA(**params).fit(X_dask)
    assert dask_fit.components_.dtype == dtype
    if dtype == np.float64:
        _assert_same_fit(memory, dask_fit)
    else:  # float32 sums in another order: float32 rounding, not more
        assert dask_fit.n_iter_ == memory.n_iter_
        assert_allclose(dask_fit.elbo_history_, memory.elbo_history_, rtol=1e-5)
        assert_allclose(dask_fit.components_, memory.components_, rtol=1e-3)


def test_linear_regression_equals_in_memory(client):
    X, rng = _blobs(n=300, d=4, seed=3)
    y = X @ rng.normal(size=4) + 0.5 * rng.normal(size=len(X))
    weights = rng.uniform(0.0, 3.0, size=len(X))
    for params in ({"ard": True}, {"fit_intercept": False}):
        memory = VariationalLinearRegression(**params).fit(X, y, sample_weight=weights)
        dask_fit = VariationalLinearRegression(**params).fit(
            da.from_array(X, chunks=(90, 4)),
            da.from_array(y, chunks=120),  # other chunks than X's: aligned by fit
            sample_weight=weights,
        )
        _assert_same_fit(memory, dask_fit)
        for name in ("coef_", "sigma_", "alpha_", "lambda_"):
            assert_allclose(getattr(dask_fit, name), getattr(memory, name), rtol=1e-8)
        assert dask_fit.intercept_ == pytest.approx(memory.intercept_, rel=1e-8, abs=1e-12)
        mean, std = dask_fit.predict(X, return_std=True)
        mean_ref, std_ref = memory.predict(X, return_std=True)
        assert_allclose(mean, mean_ref, rtol=1e-8)
        assert_allclose(std, std_ref, rtol=1e-8)


@pytest.mark.parametrize(
    ("n_classes", "params"), [(2, {"ard": True}), (3, {})], ids=["binary-ard", "multiclass"]
)
def test_logistic_regression_equals_in_memory(client, n_classes, params):
    X, rng = _blobs(n=300, d=3, seed=4)
    score = X @ rng.normal(size=3) + rng.normal(size=len(X))
    cuts = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
    labels = np.array(["ant", "bee", "cat"])[np.digitize(score, cuts)]
    weights = rng.uniform(0.5, 1.5, size=len(X))
    memory = VariationalLogisticRegression(random_state=0, **params)
    memory.fit(X, labels, sample_weight=weights)
    dask_fit = VariationalLogisticRegression(random_state=0, **params).fit(
        da.from_array(X, chunks=(100, 3)), labels, sample_weight=weights
    )
    _assert_same_fit(memory, dask_fit)
    np.testing.assert_array_equal(dask_fit.classes_, memory.classes_)
    assert_allclose(dask_fit.predict_proba(X), memory.predict_proba(X), rtol=1e-8, atol=1e-12)


def test_restarts_are_sequential_and_equal_in_memory(client):
    X, _ = _blobs(n=240)
    params = dict(n_components=3, init_params="random_from_data", n_init=2, random_state=5)
    memory = VariationalGMM(**params, max_iter=30).fit(X)
    dask_fit = VariationalGMM(**params, max_iter=30).fit(da.from_array(X, chunks=(90, 3)))
    assert len(dask_fit.init_elbos_) == 2
    _assert_same_fit(memory, dask_fit)


# --------------------------------------------------------------------- no client here
def test_threaded_scheduler_without_client():
    assert _current_client() is None
    X, _ = _blobs(n=200, d=2, seed=6)
    params = dict(n_components=3, random_state=0, max_iter=30)  # k-means start: all rows
    memory = VariationalGMM(**params).fit(X)
    # a block without rows adds nothing
    dask_fit = VariationalGMM(**params).fit(da.from_array(X, chunks=((64, 0, 136), (2,))))
    _assert_same_fit(memory, dask_fit)


def test_float32_random_start_and_warm_start_without_client():
    X, _ = _blobs(n=300, d=2, seed=7)
    X32 = X.astype(np.float32)
    params = dict(n_components=3, init_params="random_from_data", random_state=0)
    memory = VariationalGMM(**params).fit(X32)
    dask_fit = VariationalGMM(**params).fit(da.from_array(X32, chunks=(100, 2)))
    assert dask_fit.means_.dtype == np.float32
    assert dask_fit.n_iter_ == memory.n_iter_
    assert_allclose(dask_fit.elbo_history_, memory.elbo_history_, rtol=1e-9)
    # 'random' draws per block: another start, still a monotone fit
    other = VariationalGMM(n_components=3, init_params="random", random_state=0)
    other.fit(da.from_array(X, chunks=(100, 2)))
    assert np.all(np.diff(other.elbo_history_) >= -1e-8 * abs(other.elbo_))
    # warm start continues the dask fit exactly as it continues the in-memory one
    short = dict(params, max_iter=3)
    memory = VariationalGMM(**short).fit(X)
    dask_fit = VariationalGMM(**short).fit(da.from_array(X, chunks=(100, 2)))
    memory.set_params(warm_start=True, max_iter=50).fit(X)
    dask_fit.set_params(warm_start=True, max_iter=50).fit(da.from_array(X, chunks=(100, 2)))
    _assert_same_fit(memory, dask_fit)


class _NoDense(sp.csr_matrix):
    """A CSR matrix that fails the test if anything densifies it."""

    def toarray(self, *args, **kwargs):
        raise AssertionError("a sparse block was densified")

    todense = toarray

    def __array__(self, *args, **kwargs):
        raise AssertionError("a sparse block was densified")


def test_sparse_blocks_are_never_densified():
    X, _, _ = make_lda_corpus(120, 30, 2, doc_length=20, random_state=0)
    X_dask = da.from_array(_NoDense(X), chunks=(50, 30), asarray=False)
    memory = VariationalLDA(n_components=2, max_iter=5, random_state=0).fit(X)
    dask_fit = VariationalLDA(n_components=2, max_iter=5, random_state=0).fit(X_dask)
    _assert_same_fit(memory, dask_fit)


# ------------------------------------------------------------------------- bad input
def _nan_in_block(X, row):
    X = X.copy()
    X[row, 1] = np.nan
    return X


def test_unknown_chunk_sizes(client):
    X, _ = _blobs()
    X_dask = da.from_array(X, chunks=(100, 3))
    masked = X_dask[X_dask[:, 0] > 0]
    gmm = VariationalGMM(n_components=2)
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*compute_chunk_sizes"):
        gmm.fit(masked)
    assert not hasattr(gmm, "elbo_")


def test_nan_and_inf_in_a_block_name_it(client):
    X, _ = _blobs()
    gmm = VariationalGMM(n_components=2)
    with pytest.raises(ValueError, match=r"NaN: block 2 \(rows 200 to 299\)"):
        gmm.fit(da.from_array(_nan_in_block(X, 250), chunks=(100, 3)))
    X_inf = X.copy()
    X_inf[5, 0] = np.inf
    with pytest.raises(ValueError, match=r"infinity: block 0"):
        gmm.fit(da.from_array(X_inf, chunks=(100, 3)))
    assert not hasattr(gmm, "elbo_")


def test_mixed_dtypes(client):
    X, _ = _blobs()
    X_dask = da.from_array(X, chunks=(100, 3))
    mixed = X_dask.map_blocks(
        lambda b, block_info=None: (
            b.astype(np.float32) if block_info[0]["chunk-location"][0] == 2 else b
        ),
        dtype=np.float64,
    )
    with pytest.raises(ValueError, match=r"block 2 .* has dtype float32.*mixed dtypes"):
        VariationalGMM(n_components=2).fit(mixed)
    with pytest.raises(ValueError, match="complex"):
        VariationalGMM(n_components=2).fit(X_dask.astype(np.complex128))


def test_negative_counts_and_online_lda(client):
    X, _, _ = make_lda_corpus(100, 20, 2, doc_length=10, random_state=0)
    dense = X.toarray()
    dense[60, 3] = -1.0
    with pytest.raises(ValueError, match=r"Negative values.*block 1"):
        VariationalLDA(n_components=2).fit(da.from_array(dense, chunks=(50, 20)))
    with pytest.raises(ValueError, match="learning_method='online'"):
        VariationalLDA(n_components=2, learning_method="online").fit(
            da.from_array(X, chunks=(50, 20), asarray=False)
        )


def test_bad_targets_weights_and_layout(client):
    X, rng = _blobs(n=200)
    X_dask = da.from_array(X, chunks=(100, 3))
    y = rng.normal(size=200)
    with pytest.raises(ValueError, match=r"y has shape \(150,\)"):
        VariationalLinearRegression().fit(X_dask, y[:150])
    with pytest.raises(ValueError, match="requires y"):
        VariationalLinearRegression().fit(X_dask)
    y_nan = y.copy()
    y_nan[150] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN.*block 1"):
        VariationalLinearRegression().fit(X_dask, y_nan)
    with pytest.raises(ValueError, match="Unknown label type"):
        VariationalLogisticRegression().fit(X_dask, y)
    with pytest.raises(ValueError, match=r"sample_weight contains negative values: block 0"):
        VariationalGMM(n_components=2).fit(X_dask, sample_weight=-np.ones(200))
    with pytest.raises(ValueError, match="zero for every sample"):
        VariationalGMM(n_components=2).fit(X_dask, sample_weight=np.zeros(200))
    with pytest.raises(ValueError, match="Expected a 2D dask array"):
        VariationalGMM(n_components=2).fit(X_dask[:, 0])
    sparse = da.from_array(sp.csr_matrix(X), chunks=(100, 2), asarray=False)
    with pytest.raises(ValueError, match=r"chunks along the features.*rechunk"):
        VariationalLDA(n_components=2).fit(abs(sparse))
    with pytest.raises(TypeError, match="needs dense data"):
        VariationalGMM(n_components=2).fit(sparse)


def test_feature_chunks_are_joined_and_warm_start_checks_width(client):
    X, _ = _blobs(n=200)
    params = dict(n_components=2, init_params="random_from_data", random_state=0)
    memory = VariationalGMM(**params).fit(X)
    dask_fit = VariationalGMM(**params).fit(da.from_array(X, chunks=(100, 2)))
    _assert_same_fit(memory, dask_fit)
    dask_fit.set_params(warm_start=True)
    with pytest.raises(ValueError, match="X has 2 features, but VariationalGMM is expecting 3"):
        dask_fit.fit(da.from_array(X[:, :2], chunks=(100, 2)))


def test_lda_warm_start_ships_no_per_document_state(monkeypatch):
    # After an in-memory fit the estimator holds every document's gamma; a warm start on
    # a dask array must neither broadcast it with the parameters nor keep it.
    import skvi._dask as dask_module

    X, _, _ = make_lda_corpus(300, 40, 3, doc_length=30, random_state=0)
    model = VariationalLDA(n_components=3, max_iter=3, random_state=0).fit(X)
    shipped = []
    sweep_block = dask_module._sweep_block

    def spy(X, y, sample_weight, start, template, params, state):
        shipped.append("_doc_topic_gamma" in params or template._doc_topic_gamma is not None)
        return sweep_block(X, y, sample_weight, start, template, params, state)

    monkeypatch.setattr(dask_module, "_sweep_block", spy)
    model.set_params(warm_start=True, max_iter=2)
    model.fit(da.from_array(X, chunks=(100, 40), asarray=False))
    assert shipped and not any(shipped)
    assert model._doc_topic_gamma is None


@pytest.mark.parametrize("use_client", [False, True])
def test_the_first_bad_block_in_order_is_named(use_client, request):
    # Every block is bad: the error names block 0 whichever block failed first.
    X, _ = _blobs(n=400)
    X_dask = da.from_array(X, chunks=(100, 3))
    weights = -np.ones(400)
    context = request.getfixturevalue("client") if use_client else None
    for _ in range(3):
        with pytest.raises(ValueError, match="negative values: block 0"):
            VariationalGMM(n_components=2).fit(X_dask, sample_weight=weights)
    del context


def test_fit_predict_on_a_dask_array_predicts_block_by_block(client):
    X, _ = _blobs(n=300)
    params = dict(n_components=3, init_params="random_from_data", random_state=0)
    labels = VariationalGMM(**params).fit_predict(da.from_array(X, chunks=(100, 3)))
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), VariationalGMM(**params).fit_predict(X))
