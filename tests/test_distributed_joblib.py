"""Restarts and model selection on a dask cluster, through joblib's dask backend.

A real ``distributed.LocalCluster`` with two worker processes is started once for the
session (``local_cluster_client`` in conftest.py). Under
``joblib.parallel_backend("dask")`` every restart of ``fit`` (and every fold of
``GridSearchCV`` / ``cross_val_score``) is a task on another process; the results must
be bit-for-bit those of ``n_jobs=1`` (API.md: results are identical for any ``n_jobs``).
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402

import skvi  # noqa: E402
from skvi import VariationalGMM  # noqa: E402
from skvi._base import _fit_one_restart  # noqa: E402

from conftest import PUBLIC_ESTIMATORS, estimator_id, make_data, make_estimator  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def dask_client(local_cluster_client):
    """The session's cluster as the current client, where joblib's dask backend looks."""
    with local_cluster_client.as_current():
        yield local_cluster_client


def _assert_identical(a, b, name):
    """Exact equality of arrays, floats, or tuples/dicts of them."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), name
        for key in a:
            _assert_identical(a[key], b[key], f"{name}[{key!r}]")
    elif isinstance(a, tuple | list):
        assert len(a) == len(b), name
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_identical(x, y, f"{name}[{i}]")
    else:
        assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)


def _predictions(estimator, X):
    names = ["predict", "predict_proba", "transform", "score_samples", "decision_function"]
    return {name: getattr(estimator, name)(X) for name in names if hasattr(estimator, name)}


@pytest.mark.parametrize("cls", PUBLIC_ESTIMATORS, ids=estimator_id)
def test_restarts_on_the_cluster_equal_n_jobs_1(dask_client, cls):
    X, y = make_data(make_estimator(cls), n_samples=80)
    local = make_estimator(cls, n_init=3, n_jobs=1, random_state=11).fit(X, y)
    # Fitted once first, so the estimator shipped to the workers carries a fit's
    # attributes and caches.
    remote = make_estimator(cls, n_init=3, n_jobs=-1, random_state=11)
    remote.fit(X[:50], None if y is None else y[:50])
    with distributed.get_task_stream(dask_client) as tasks, joblib.parallel_backend("dask"):
        remote.fit(X, y)
    assert len(tasks.data) > 0, "no task ran on the cluster"
    assert len(remote.init_elbos_) == 3
    assert_array_equal(remote.init_elbos_, local.init_elbos_)
    assert remote.elbo_ == local.elbo_
    assert_array_equal(remote.elbo_history_, local.elbo_history_)
    _assert_identical(
        remote._get_variational_params(), local._get_variational_params(), cls.__name__
    )
    _assert_identical(_predictions(remote, X), _predictions(local, X), "predictions")


def test_grid_search_on_the_cluster_equals_n_jobs_1(dask_client):
    X, _ = make_data(make_estimator(VariationalGMM), n_samples=90)
    grid = {"n_components": [1, 2, 3], "covariance_type": ["full", "diag"]}
    cv = KFold(3, shuffle=True, random_state=0)

    def search(n_jobs):
        # n_init restarts nested inside each fold's task: joblib's dask backend runs
        # them on the cluster too.
        est = VariationalGMM(max_iter=50, n_init=2, n_jobs=n_jobs, random_state=0)
        return GridSearchCV(est, grid, cv=cv, n_jobs=n_jobs).fit(X)

    local = search(1)
    with joblib.parallel_backend("dask"):
        remote = search(-1)
    for key in ("mean_test_score", *(f"split{i}_test_score" for i in range(3))):
        assert_array_equal(remote.cv_results_[key], local.cv_results_[key], err_msg=key)
    assert remote.best_params_ == local.best_params_
    assert remote.best_estimator_.elbo_ == local.best_estimator_.elbo_
    # The data are two clusters: a search that works prefers more than one component.
    assert local.best_params_["n_components"] > 1


@pytest.mark.parametrize("cls", PUBLIC_ESTIMATORS, ids=estimator_id)
def test_cross_val_score_on_the_cluster_equals_n_jobs_1(dask_client, cls):
    X, y = make_data(make_estimator(cls), n_samples=90)
    est = make_estimator(cls, n_init=2, random_state=3)
    cv = KFold(3, shuffle=True, random_state=0)
    local = cross_val_score(est, X, y, cv=cv, n_jobs=1)
    with joblib.parallel_backend("dask"):
        remote = cross_val_score(est, X, y, cv=cv, n_jobs=-1)
    assert np.all(np.isfinite(local))
    assert_array_equal(remote, local)


def test_a_misaligned_copy_of_the_data_gives_the_same_restart():
    """joblib's dask backend delivers arrays at odd addresses (not 8-byte aligned).

    numpy takes other loops on misaligned data, which can round differently; a restart
    copies such arrays first, so the backend cannot change the result.
    """
    cls = skvi.VariationalLogisticRegression
    est = make_estimator(cls, random_state=0)
    X, y = make_data(est, n_samples=97, n_features=5)
    X, y, _ = est._validate_fit_data(X, y, None, reset=True)
    est._check_priors(X, y)

    def misaligned(a):
        buffer = np.zeros(a.nbytes + 1, dtype=np.uint8)
        view = buffer[1:].view(a.dtype).reshape(a.shape)
        view[...] = a
        assert not view.flags.aligned
        return view

    aligned = _fit_one_restart(est, X, y, None, 123, "")
    shifted = _fit_one_restart(est, misaligned(X), misaligned(y), None, 123, "")
    assert aligned.elbo == shifted.elbo
    _assert_identical(shifted.params, aligned.params, "params")
