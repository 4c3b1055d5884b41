"""ELBO and engine properties that every skvi estimator must have.

Parametrised over every public estimator (and the engine's test model), so a new
estimator is held to the same contract without editing this file.
"""

import copy
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from conftest import make_data, make_estimator
from elbo_checks import assert_elbo_matches_monte_carlo, assert_elbo_monotone, sweep

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _outputs(estimator, X):
    """Everything a fitted estimator predicts on X, by method name."""
    names = ["predict", "predict_proba", "transform", "score_samples", "decision_function"]
    return {name: getattr(estimator, name)(X) for name in names if hasattr(estimator, name)}


def test_elbo_never_decreases(estimator_class):
    est = make_estimator(estimator_class, tol=0.0, max_iter=30, random_state=0)
    X, y = make_data(est)
    est.fit(X, y)
    assert est.n_iter_ == 30
    assert len(est.elbo_history_) == 30
    assert_elbo_monotone(est.elbo_history_)
    assert est.elbo_ == est.elbo_history_[-1]


def test_elbo_matches_monte_carlo(estimator_class):
    est = make_estimator(estimator_class)
    X, y = make_data(est, n_samples=20)
    X, y, _ = sweep(est, X, y, n_sweeps=2)
    assert_elbo_matches_monte_carlo(est, X, y)


def test_results_do_not_depend_on_n_jobs(estimator_class):
    X, y = make_data(make_estimator(estimator_class))
    fits = [
        make_estimator(estimator_class, n_init=3, n_jobs=n_jobs, random_state=7).fit(X, y)
        for n_jobs in (1, 2)
    ]
    assert_array_equal(fits[0].init_elbos_, fits[1].init_elbos_)
    assert fits[0].elbo_ == fits[1].elbo_
    assert len(fits[0].init_elbos_) == 3
    assert fits[0].elbo_ == fits[0].init_elbos_.max()
    for name, value in _outputs(fits[0], X).items():
        assert_array_equal(value, _outputs(fits[1], X)[name], err_msg=name)


def test_same_random_state_same_result(estimator_class):
    X, y = make_data(make_estimator(estimator_class))
    a = make_estimator(estimator_class, n_init=2, random_state=3).fit(X, y)
    b = make_estimator(estimator_class, n_init=2, random_state=3).fit(X, y)
    assert_array_equal(a.elbo_history_, b.elbo_history_)


def test_pickle_round_trip_keeps_predictions(estimator_class):
    X, y = make_data(make_estimator(estimator_class))
    est = make_estimator(estimator_class, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    assert restored.elbo_ == est.elbo_
    for name, value in _outputs(est, X).items():
        assert_array_equal(value, _outputs(restored, X)[name], err_msg=name)


def test_warm_start_continues_where_the_fit_stopped(estimator_class):
    X, y = make_data(make_estimator(estimator_class))
    once = make_estimator(estimator_class, tol=0.0, max_iter=10, random_state=0).fit(X, y)
    twice = make_estimator(estimator_class, tol=0.0, max_iter=5, random_state=0).fit(X, y)
    twice.set_params(warm_start=True, n_init=4).fit(X, y)  # n_init is ignored
    assert len(twice.init_elbos_) == 1
    assert twice.n_iter_ == 5
    assert_allclose(twice.elbo_history_, once.elbo_history_[5:], rtol=1e-10)


def test_warm_start_with_other_n_components_names_the_problem(estimator_class):
    if "n_components" not in estimator_class().get_params():
        pytest.skip("no n_components")
    X, y = make_data(make_estimator(estimator_class))
    est = make_estimator(estimator_class, random_state=0).fit(X, y)
    est.set_params(warm_start=True, n_components=est.n_components + 1)
    with pytest.raises(ValueError, match="n_components"):
        est.fit(X, y)


def test_inputs_are_not_mutated(estimator_class):
    est = make_estimator(estimator_class, random_state=0)
    X, y = make_data(est)
    weights = np.linspace(0.5, 2.0, X.shape[0])
    X_copy, y_copy, weights_copy = X.copy(), None if y is None else y.copy(), weights.copy()
    est.fit(X, y, sample_weight=weights)
    _outputs(est, X)
    assert_array_equal(X, X_copy)
    assert_array_equal(weights, weights_copy)
    if y is not None:
        assert_array_equal(y, y_copy)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 4, np.nan, X), "NaN"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 4, np.inf, X), "infinity"),
        (lambda X: X[:0], "0 sample"),
        (lambda X: X[:, 0], "2D array"),
    ],
    ids=["nan", "inf", "empty", "1d"],
)
def test_bad_training_input_names_the_problem(estimator_class, corrupt, message):
    est = make_estimator(estimator_class)
    X, y = make_data(est)
    bad = corrupt(X)
    with pytest.raises(ValueError, match=message):
        est.fit(bad, None if y is None else y[: len(bad)])


def test_wrong_feature_count_at_predict(estimator_class):
    est = make_estimator(estimator_class, random_state=0)
    X, y = make_data(est)
    est.fit(X, y)
    for name in _outputs(est, X):
        with pytest.raises(ValueError, match="features"):
            getattr(est, name)(X[:, :-1])


@pytest.mark.parametrize(
    "weights, message",
    [
        (lambda n: -np.ones(n), "negative"),
        (lambda n: np.ones(n - 1), "shape"),
        (lambda n: np.full(n, np.nan), "NaN"),
        (lambda n: np.zeros(n), "zero"),
    ],
    ids=["negative", "length", "nan", "all-zero"],
)
def test_bad_sample_weight_names_the_problem(estimator_class, weights, message):
    est = make_estimator(estimator_class)
    X, y = make_data(est)
    with pytest.raises(ValueError, match=message):
        est.fit(X, y, sample_weight=weights(X.shape[0]))


def test_integer_weights_act_as_repetition(estimator_class):
    X, y = make_data(make_estimator(estimator_class), n_samples=30)
    counts = np.arange(X.shape[0]) % 3
    keep = np.repeat(np.arange(X.shape[0]), counts)
    X_rep, y_rep = X[keep], None if y is None else y[keep]
    # Initialisation may look at the data, so both fits continue from one shared state.
    repeated = make_estimator(estimator_class, tol=0.0, max_iter=1, random_state=0)
    repeated.fit(X_rep, y_rep)
    weighted = copy.deepcopy(repeated)
    repeated.set_params(warm_start=True, max_iter=3).fit(X_rep, y_rep)
    weighted.set_params(warm_start=True, max_iter=3).fit(X, y, sample_weight=counts)
    assert_allclose(weighted.elbo_history_, repeated.elbo_history_, rtol=1e-10)
    for name, value in _outputs(repeated, X).items():
        assert_allclose(_outputs(weighted, X)[name], value, rtol=1e-8, err_msg=name)
