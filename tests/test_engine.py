"""The engine (skvi._base, skvi._monitor) exercised through the conjugate test model.

The test model's exact posterior and evidence are known in closed form, so the
engine's answers can be checked against the truth, not only against themselves.
"""

import copy
import re

import numpy as np
import pytest
from joblib import parallel_backend
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import digamma
from sklearn.utils._param_validation import InvalidParameterError

from skvi._monitor import ConvergenceMonitor
from skvi.exceptions import ConvergenceWarning, ElboDecreaseWarning

from elbo_checks import assert_elbo_matches_monte_carlo, assert_elbo_monotone, sweep
from toy_model import NormalGammaModel, exact_log_evidence, exact_posterior


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    return rng.normal([1.0, -2.0, 5.0], [1.0, 0.5, 3.0], size=(200, 3))


class HalfLikelihoodBug(NormalGammaModel):
    """A realistic bug: the likelihood's (N/2) E[log tau] term is left out of the ELBO."""

    def _elbo(self, X, y, sample_weight=None):
        e_log_tau = digamma(self.shape_) - np.log(self.rate_)
        return super()._elbo(X, y, sample_weight) - 0.5 * X.shape[0] * np.sum(e_log_tau)


def test_fit_recovers_the_exact_posterior(X):
    model = NormalGammaModel(random_state=0).fit(X)
    m, _, a, b = exact_posterior(X, model)
    # Mean-field VI gets the posterior mean of mu exactly (Bishop §10.1.3) ...
    assert_allclose(model.mean_, m, rtol=1e-10)
    # ... and E[tau] up to the extra 1/2 in the shape, Bishop eq. (10.29).
    assert_allclose(model.precision_mean_, a / b, rtol=2 / X.shape[0])
    assert model.converged_


def test_elbo_is_a_tight_lower_bound_on_the_evidence(X):
    model = NormalGammaModel(random_state=0).fit(X)
    log_evidence = exact_log_evidence(X, model)
    assert model.elbo_ <= log_evidence
    # The factorisation q(mu) q(tau) loses little: well under a nat per feature.
    assert log_evidence - model.elbo_ < 0.5 * X.shape[1]


def test_elbo_checks_catch_a_wrong_elbo(X):
    model = HalfLikelihoodBug()
    sweep(model, X, n_sweeps=2)
    with pytest.raises(AssertionError, match="Monte Carlo"):
        assert_elbo_matches_monte_carlo(model, X)
    with pytest.warns(ElboDecreaseWarning, match="decreased"):
        HalfLikelihoodBug(max_iter=50, random_state=0).fit(X)
    with pytest.raises(AssertionError, match="decreased"):
        assert_elbo_monotone(sweep(HalfLikelihoodBug(), X, n_sweeps=5)[2])


def test_convergence_warning_when_max_iter_is_too_small(X):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = NormalGammaModel(max_iter=2, tol=0.0, random_state=0).fit(X)
    assert not model.converged_
    assert model.n_iter_ == 2


def test_best_restart_is_kept(X):
    model = NormalGammaModel(n_init=5, max_iter=2, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    assert model.init_elbos_.shape == (5,)
    assert len(set(model.init_elbos_)) == 5  # restarts really differ
    assert model.elbo_ == model.init_elbos_.max()


def test_verbose_reports_restarts_and_sweeps(X, capsys):
    NormalGammaModel(n_init=2, verbose=1, random_state=0).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert all(re.search(r"restart \d/2\] converged after \d+ sweeps, ELBO", s) for s in lines[:2])
    assert "kept restart" in lines[2]

    model = NormalGammaModel(verbose=2, random_state=0).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    sweeps = [s for s in lines if "] sweep" in s]
    assert len(sweeps) == model.n_iter_
    assert re.search(r"ELBO .*change/sample .*\d+\.\d{3}s$", sweeps[1])


def test_any_joblib_backend_gives_the_same_result(X):
    reference = NormalGammaModel(n_init=3, random_state=1).fit(X)
    with parallel_backend("threading", n_jobs=2):
        threaded = NormalGammaModel(n_init=3, random_state=1).fit(X)
    assert_array_equal(threaded.init_elbos_, reference.init_elbos_)


def test_invalid_parameters_are_named(X):
    for params, name in [
        ({"n_init": 0}, "n_init"),
        ({"tol": -1.0}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"verbose": "yes"}, "verbose"),
    ]:
        with pytest.raises(InvalidParameterError, match=name):
            NormalGammaModel(**params).fit(X)


def test_warm_start_rejects_a_different_feature_count(X):
    model = NormalGammaModel(warm_start=True, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.fit(X[:, :2])


def test_float32_input_is_accepted(X):
    model = NormalGammaModel(random_state=0).fit(X.astype(np.float32))
    assert_allclose(model.mean_, NormalGammaModel(random_state=0).fit(X).mean_, rtol=1e-5)


def test_monitor_stops_on_a_non_finite_elbo():
    monitor = ConvergenceMonitor(tol=1e-3, normalizer=10)
    monitor.update(-5.0)
    with pytest.raises(FloatingPointError, match="diverged"):
        monitor.update(np.nan)


def test_monitor_tol_is_per_sample():
    monitor = ConvergenceMonitor(tol=1e-3, normalizer=1000)
    assert not monitor.update(-100.0)
    assert not monitor.update(-98.0)  # 2e-3 per sample
    assert monitor.update(-97.5)  # 5e-4 per sample


def test_partial_fit_step_is_the_natural_gradient_blend(X):
    model = NormalGammaModel(random_state=0, total_samples=1000.0)
    model.partial_fit(X[:50])
    before = model._get_variational_params()
    rho = model._svi_learning_rate(model.n_batch_iter_ + 1)
    target = NormalGammaModel(random_state=0)
    target._set_variational_params(before)
    target.mean_precision_prior = model.mean_precision_prior
    target._global_step(target._local_step(X[50:100], None), 1000.0 / 50)
    model.partial_fit(X[50:100])
    for name, old in before.items():
        assert_allclose(getattr(model, name), (1 - rho) * old + rho * getattr(target, name))
    assert model.n_batch_iter_ == 2


def test_partial_fit_continues_a_fit(X):
    batch = NormalGammaModel(random_state=0).fit(X)
    stream = copy.deepcopy(batch)
    stream.partial_fit(X[:20])  # total_samples=None: the fit's 200 samples count as seen
    assert stream.n_batch_iter_ == 1 and stream.n_samples_seen_ == 220
    restarted = copy.deepcopy(stream).fit(X).partial_fit(X[:20])  # a new fit, a new stream
    assert restarted.n_batch_iter_ == 1 and restarted.n_samples_seen_ == 220
    # One step from the fitted posterior (not from a new start) towards the batch's.
    target = copy.deepcopy(batch)
    target._global_step(target._local_step(X[:20], None), 220 / 20)
    rho = stream._svi_learning_rate(1)
    for name in stream._variational_params:
        expected = (1 - rho) * getattr(batch, name) + rho * getattr(target, name)
        assert_allclose(getattr(stream, name), expected, rtol=1e-12)


def test_partial_fit_learning_offset_zero_is_a_full_first_step(X):
    model = NormalGammaModel(random_state=0, learning_offset=0.0, learning_decay=1.0)
    model.partial_fit(X[:50])
    assert model.n_batch_iter_ == 1  # rho_1 = (0 + 1) ** -1 = 1: no ZeroDivisionError


def test_partial_fit_passes_reach_the_batch_fit(X):
    batch = NormalGammaModel(random_state=0).fit(X)
    stream = NormalGammaModel(random_state=0, total_samples=X.shape[0], learning_offset=1.0)
    for _ in range(20):
        for chunk in np.array_split(X, 8):
            stream.partial_fit(chunk)
    assert_allclose(stream.mean_, batch.mean_, rtol=0.02, atol=0.02)
    assert_allclose(stream.precision_mean_, batch.precision_mean_, rtol=0.1)
    with pytest.raises(ValueError, match="features"):
        stream.partial_fit(X[:10, :2])
