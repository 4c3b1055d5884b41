"""VariationalLogisticRegression: against exact integrals, scikit-learn, and its promises."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.special import expit, log_expit, logsumexp
from sklearn.datasets import load_breast_cancer, load_iris, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvi import VariationalLogisticRegression
from skvi.linear_model._logistic import _map_weights


@pytest.fixture(scope="module")
def one_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    t = (rng.random(40) < expit(1.5 * x)).astype(int)
    return x[:, None], t


def _exact_posterior_by_quadrature(x, t, shape, rate):
    """log p(t) and the posterior mean and sd of w, for w ~ N(0, 1/alpha), alpha ~ Gamma."""
    w = np.linspace(-15, 15, 6001)
    log_alpha = np.linspace(-12, 8, 2001)
    alpha = np.exp(log_alpha)
    a = np.outer(w, x[:, 0])
    loglik = (t * log_expit(a) + (1 - t) * log_expit(-a)).sum(axis=1)
    log_prior = stats.norm.logpdf(w[:, None], 0.0, 1.0 / np.sqrt(alpha))
    log_prior += stats.gamma.logpdf(alpha, shape, scale=1.0 / rate) + log_alpha
    joint = loglik[:, None] + log_prior
    cell = np.log(w[1] - w[0]) + np.log(log_alpha[1] - log_alpha[0])
    posterior_w = np.exp(logsumexp(joint, axis=1) - logsumexp(joint))
    mean = posterior_w @ w
    return logsumexp(joint) + cell, mean, np.sqrt(posterior_w @ w**2 - mean**2)


def test_elbo_is_below_the_exact_log_evidence(one_feature):
    X, t = one_feature
    model = VariationalLogisticRegression(
        fit_intercept=False, lambda_1=2.0, lambda_2=2.0, tol=1e-10, max_iter=500
    ).fit(X, t)
    log_evidence, mean, sd = _exact_posterior_by_quadrature(X, t, 2.0, 2.0)
    assert model.elbo_ < log_evidence
    assert log_evidence - model.elbo_ < 0.5  # the JJ bound and mean field lose little
    # The posterior mean is close; mean-field VB is known to understate the spread.
    assert abs(model.coef_[0, 0] - mean) < 0.2 * sd
    assert 0.6 * sd < np.sqrt(model.sigma_[0, 0, 0]) < sd


def test_start_is_the_map_of_scikit_learns_logistic_regression():
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    Xb = np.hstack([X, np.ones((300, 1))])
    prior = np.array([[1.0] * 5 + [1e-6]])
    mean = _map_weights(Xb, y[:, None].astype(float), None, prior)
    reference = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(X, y)
    # A start, not the answer: L-BFGS stops at a gradient of 1e-4 per sample.
    assert_allclose(mean[0, :5], reference.coef_[0], rtol=1e-2, atol=1e-3)
    assert_allclose(mean[0, 5], reference.intercept_[0], rtol=1e-2, atol=1e-3)


def test_predict_proba_is_moderated(one_feature):
    X, t = one_feature
    model = VariationalLogisticRegression().fit(X, t)
    grid = np.linspace(-30, 30, 61)[:, None]
    plug_in = expit(grid @ model.coef_.T + model.intercept_)[:, 0]
    moderated = model.predict_proba(grid)[:, 1]
    # Never more confident than the plug-in sigmoid ...
    assert np.all(np.abs(moderated - 0.5) <= np.abs(plug_in - 0.5) + 1e-12)
    # ... and less confident far from the data, where the logit is uncertain.
    far = np.abs(grid[:, 0]) > 20
    assert np.all(np.abs(plug_in[far] - 0.5) - np.abs(moderated[far] - 0.5) > 1e-3)
    assert np.all((moderated > 0) & (moderated < 1))


def test_predictions_agree_with_probabilities():
    X, y = load_iris(return_X_y=True)
    model = VariationalLogisticRegression(random_state=0).fit(X, y)
    proba = model.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    assert_array_equal(model.decision_function(X).argmax(axis=1), proba.argmax(axis=1))
    assert_allclose(np.exp(model.predict_log_proba(X)), proba, rtol=1e-10)
    assert model.score(X, y) > 0.9


def test_string_labels_and_one_posterior_per_class():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = VariationalLogisticRegression(ard=True, random_state=0).fit(X, names)
    assert_array_equal(model.classes_, names[[0, 50, 100]])
    assert model.coef_.shape == (3, 4) and model.intercept_.shape == (3,)
    assert model.sigma_.shape == (3, 4, 4) and model.lambda_.shape == (3, 4)
    assert set(model.predict(X)) <= set(names)

    binary = VariationalLogisticRegression().fit(X[:100], names[:100])
    assert binary.coef_.shape == (1, 4) and binary.decision_function(X).shape == (150,)
    assert binary.predict_proba(X).shape == (150, 2)


def test_bad_targets_name_the_problem():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="2 classes"):
        VariationalLogisticRegression().fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="continuous"):
        VariationalLogisticRegression().fit(X, np.linspace(0, 1, 20))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        VariationalLogisticRegression().fit(X, np.arange(19) % 2)


def test_separable_data_gives_finite_weights_and_open_probabilities():
    X = np.r_[np.linspace(-3, -1, 20), np.linspace(1, 3, 20)][:, None]
    y = (X[:, 0] > 0).astype(int)
    model = VariationalLogisticRegression(max_iter=500).fit(X, y)
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.sigma_))
    proba = model.predict_proba(np.linspace(-100, 100, 9)[:, None])
    assert np.all((proba > 0) & (proba < 1))
    assert model.score(X, y) == 1.0


def test_ard_shrinks_irrelevant_features_hardest():
    X, y = make_classification(
        n_samples=500,
        n_features=8,
        n_informative=3,
        n_redundant=0,
        shuffle=False,
        random_state=0,
    )
    model = VariationalLogisticRegression(ard=True).fit(X, y)
    assert model.lambda_[0, 3:].min() > 5 * model.lambda_[0, :3].max()


def test_breast_cancer_on_par_with_logistic_regression():
    X, y = load_breast_cancer(return_X_y=True)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)

    def cv_proba(estimator):
        pipe = make_pipeline(StandardScaler(), estimator)
        return cross_val_predict(pipe, X, y, cv=cv, method="predict_proba")

    ours, theirs = cv_proba(VariationalLogisticRegression()), cv_proba(LogisticRegression())
    accuracy = [np.mean(p.argmax(axis=1) == y) for p in (ours, theirs)]
    assert accuracy[0] >= accuracy[1] - 0.01
    # Measured: 0.0754 against 0.0738 (see the calibration benchmark for the spread).
    assert log_loss(y, ours) < 1.05 * log_loss(y, theirs)


def test_float32_stays_float32():
    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    # tol=1e-6 per sample is within reach of float32 arithmetic (1e-9 is not).
    model = VariationalLogisticRegression(tol=1e-6).fit(X.astype(np.float32), y)
    assert model.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert model.coef_.dtype == model.sigma_.dtype == np.float32
    reference = VariationalLogisticRegression(tol=1e-6).fit(X, y)
    assert_allclose(model.coef_, reference.coef_, rtol=5e-3, atol=1e-3)
