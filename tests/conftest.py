"""Shared fixtures: the estimators under test, small fast settings, and data for each.

Every public estimator of skvi is discovered from ``skvi.__all__``; the engine's test
model (``toy_model.NormalGammaModel``) is added to the list. A new estimator is
covered by the common and ELBO-property tests without editing them: give it small
settings in ``FAST_PARAMS`` if its defaults are slow, and a Monte Carlo ELBO in
``elbo_checks.MONTE_CARLO_ELBO``.
"""

import gc
import inspect
import sys
import warnings

import numpy as np
import pytest

import skvi
from skvi._base import VariationalEstimator

from toy_model import NormalGammaModel

SEED = 0

PUBLIC_ESTIMATORS = [
    obj
    for name in skvi.__all__
    if inspect.isclass(obj := getattr(skvi, name)) and issubclass(obj, VariationalEstimator)
]
ESTIMATORS = [*PUBLIC_ESTIMATORS, NormalGammaModel]

# Settings that keep each estimator's tests fast (by class name).
FAST_PARAMS = {
    "NormalGammaModel": {"max_iter": 100},
    "VariationalGMM": {"n_components": 3, "max_iter": 50},
    "VariationalLDA": {"n_components": 3, "max_iter": 10},
}


def make_estimator(cls, **params):
    """An instance of ``cls`` with its fast settings, overridden by ``params``."""
    return cls(**{**FAST_PARAMS.get(cls.__name__, {}), **params})


def make_data(estimator, n_samples=60, n_features=3, random_state=SEED):
    """Small data suited to ``estimator``: (X, y), y None for unsupervised ones."""
    rng = np.random.RandomState(random_state)
    tags = estimator.__sklearn_tags__()
    if tags.input_tags.positive_only:  # count data (topic models)
        X = rng.poisson(3.0, size=(n_samples, max(n_features, 8))).astype(float)
        return X, None
    X = rng.normal(size=(n_samples, n_features)) + 3.0 * rng.randint(2, size=(n_samples, 1))
    if tags.estimator_type == "classifier":
        y = (X @ rng.normal(size=n_features) + rng.normal(size=n_samples) > 0).astype(int)
        return X, y
    if tags.estimator_type == "regressor":
        y = X @ rng.normal(size=n_features) + 0.3 * rng.normal(size=n_samples)
        return X, y
    return X, None


def estimator_id(cls):
    return cls.__name__


@pytest.fixture(params=ESTIMATORS, ids=estimator_id)
def estimator_class(request):
    return request.param


def _skvi_location():
    import skvi

    return skvi.__file__


def _ignore_distributed_warnings():
    warnings.filterwarnings("ignore", category=ResourceWarning)
    warnings.filterwarnings("ignore", module="distributed")


@pytest.fixture(scope="session")
def local_cluster_client():
    """A real ``distributed.LocalCluster``: two single-threaded worker processes.

    Started once for the whole session, closed at its end. The client is not the
    default one: a test makes it current (``client.as_current()``) where it wants it.
    """
    distributed = pytest.importorskip("distributed")
    # Only around the cluster's own start and stop: distributed may warn there (a port
    # in use, sockets left for the garbage collector), which says nothing about skvi.
    with warnings.catch_warnings():
        _ignore_distributed_warnings()
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster, set_as_default=False)
    try:
        # The workers must run the code under test, not another installed copy.
        locations = set(client.run(_skvi_location).values())
        assert locations == {skvi.__file__}, (locations, skvi.__file__, sys.path[:3])
        yield client
    finally:
        with warnings.catch_warnings():
            _ignore_distributed_warnings()
            client.close()
            cluster.close()
            gc.collect()  # unclosed sockets warn here, not in another module's test
