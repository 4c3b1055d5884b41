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
from skvi._tour.logistic import expected_calibration_error
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
    # Measured: 0.0741 against 0.0738 (see the calibration benchmark for the spread).
    assert log_loss(y, ours) < 1.05 * log_loss(y, theirs)
    # Measured ECE 0.0163 against 0.0144: issue 6 asks for lower, which this model does
    # not reach here (both are underconfident in the middle bins, and moderation lowers
    # confidence further; see benchmarks/bench_logistic.py). Guard against it worsening.
    ece = [expected_calibration_error(p, y) for p in (ours, theirs)]
    assert ece[0] < 1.25 * ece[1]


def test_float32_stays_float32():
    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    # tol=1e-6 per sample is within reach of float32 arithmetic (1e-9 is not).
    model = VariationalLogisticRegression(tol=1e-6).fit(X.astype(np.float32), y)
    assert model.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert model.coef_.dtype == model.sigma_.dtype == np.float32
    reference = VariationalLogisticRegression(tol=1e-6).fit(X, y)
    assert_allclose(model.coef_, reference.coef_, rtol=5e-3, atol=1e-3)


@pytest.mark.parametrize("ard", [False, True])
def test_default_fit_is_close_to_the_converged_one(ard):
    # Plain xi <-> q(w) coordinate ascent needed 483 sweeps here (3382 with ARD) and the
    # default tol stopped it 0.23 posterior sd short (3.98); the evidence and Newton steps
    # converge to 1e-12 per sample within max_iter=100 (a ConvergenceWarning would fail).
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    tight = VariationalLogisticRegression(ard=ard, tol=1e-12, max_iter=100).fit(X, y)
    default = VariationalLogisticRegression(ard=ard).fit(X, y)
    sd = np.sqrt(np.diagonal(tight.sigma_, axis1=1, axis2=2))
    assert np.max(np.abs(default.coef_ - tight.coef_) / sd) < 0.1
    assert np.max(np.abs(default.predict_proba(X) - tight.predict_proba(X))) < 0.01
    assert tight.elbo_ - default.elbo_ < 0.02


def test_newton_curvature_is_the_profiled_bounds_second_derivative():
    # _local_step's "hessian" must be minus the Hessian in m of the bound profiled over
    # xi, sum_n s_n [(t_n - 1/2) mu_n - log(2 cosh(xi_n / 2))], xi_n^2 = mu_n^2 + v_n,
    # at a q(w) with a full covariance (v_n > 0); checked by central differences.
    from skvi.linear_model._logistic import _profiled_bound

    rng = np.random.default_rng(3)
    X, y = make_classification(n_samples=50, n_features=3, n_redundant=0, random_state=1)
    model = VariationalLogisticRegression()
    X, targets, _ = model._validate_fit_data(X, y, None, reset=True)
    model._check_priors(X, targets)
    model._initialize(X, targets, np.random.RandomState(0))
    root = rng.normal(size=(4, 4))
    cov = (root @ root.T / 4 + 0.1 * np.eye(4))[None]
    mean = rng.normal(size=(1, 4))
    model._set_variational_params({"_mean": mean, "_cov": cov})
    s = rng.uniform(0.5, 2.0, size=50)
    hessian = model._local_step(X, targets, sample_weight=s)["hessian"][0]

    var = np.einsum("ni,ij,nj->n", X, cov[0], X)

    def bound(m):
        return _profiled_bound(X @ m, var, targets[:, 0], s)

    step, eye = 1e-4, np.eye(4)
    numeric = np.array(
        [
            [
                bound(mean[0] + step * (eye[i] + eye[j]))
                - bound(mean[0] + step * (eye[i] - eye[j]))
                - bound(mean[0] - step * (eye[i] - eye[j]))
                + bound(mean[0] - step * (eye[i] + eye[j]))
                for j in range(4)
            ]
            for i in range(4)
        ]
    ) / (4 * step**2)
    assert_allclose(hessian, -numeric, rtol=1e-4, atol=1e-6)
    # and it is not the JJ bound's curvature G, which is larger
    assert np.linalg.eigvalsh(model._local_step(X, targets, s)["gram"][0] - hessian).min() > 0


@pytest.mark.parametrize("ard", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_evidence_step_is_the_coordinate_ascent_fixed_point_given_xi(
    ard, fit_intercept, monkeypatch
):
    from skvi.linear_model import _logistic
    from skvi.linear_model._logistic import INTERCEPT_PRECISION, _evidence_precision

    # In a fit the ARD iteration is capped (its result is only a candidate); run it out.
    monkeypatch.setattr(_logistic, "_EVIDENCE_ARD_MAX_ITER", 10_000)

    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4))
    if fit_intercept:
        X = np.hstack([X + 2.0, np.ones((60, 1))])
    gram = (X.T * rng.uniform(0.05, 0.25, 60)) @ X
    r = X.T @ (rng.integers(0, 2, 60) - 0.5)
    lambda_1, lambda_2, n_weights = 1e-3, 1e-3, 4
    # q(w) given alpha (PRML 10.156-10.157), then q(alpha) given q(w) (Drugowitsch 30-31),
    # many times: the slow way to the same fixed point.
    alpha = np.ones(n_weights) if ard else 1.0
    for _ in range(20_000):
        prior = np.broadcast_to(alpha, n_weights)
        if fit_intercept:
            prior = np.append(prior, INTERCEPT_PRECISION)
        cov = np.linalg.inv(gram + np.diag(prior))
        second = ((cov @ r) ** 2 + np.diag(cov))[:n_weights]
        if ard:
            alpha = (lambda_1 + 0.5) / (lambda_2 + 0.5 * second)
        else:
            alpha = (lambda_1 + 0.5 * n_weights) / (lambda_2 + 0.5 * second.sum())
    fast = _evidence_precision(
        gram, r, lambda_1, lambda_2, fit_intercept, np.ones(n_weights) if ard else 1.0
    )
    assert_allclose(fast, alpha, rtol=1e-6)


def test_partial_fit_streams_towards_the_batch_fit():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = X[:400], X[400:], y[:400], y[400:]
    batch = VariationalLogisticRegression().fit(X_train, y_train)
    sd = np.sqrt(np.diagonal(batch.sigma_, axis1=1, axis2=2))
    stream = VariationalLogisticRegression(total_samples=len(X_train))
    rng = np.random.default_rng(0)
    distances = []
    for _ in range(10):
        for rows in np.array_split(rng.permutation(len(X_train)), 6):
            stream.partial_fit(X_train[rows], y_train[rows], classes=[0, 1])
        distances.append(np.max(np.abs(stream.coef_ - batch.coef_) / sd))
    # Measured: 0.99 posterior sd after one pass, 0.47 after ten (stochastic VI is slow
    # here: each step is one xi <-> q(w) update, without the batch fit's Newton step).
    assert distances[-1] < 0.6 * distances[0]
    assert distances[-1] < 0.6
    assert log_loss(y_test, stream.predict_proba(X_test)) < 1.15 * log_loss(
        y_test, batch.predict_proba(X_test)
    )
    assert stream.score(X_test, y_test) >= batch.score(X_test, y_test) - 0.015
    assert stream.n_batch_iter_ == 60 and stream.n_samples_seen_ == 4000


def test_partial_fit_classes():
    X, y = make_classification(
        n_samples=90,
        n_features=3,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    labels = np.array(["a", "b", "c"])[y]
    first = np.flatnonzero(y == 2)[:10]  # the first batch holds one class only
    rest = np.random.default_rng(0).permutation(np.setdiff1d(np.arange(90), first))
    model = VariationalLogisticRegression()
    with pytest.raises(ValueError, match="at least 2 classes"):
        model.partial_fit(X[first], labels[first])
    model.partial_fit(X[first], labels[first], classes=["c", "a", "b"])
    assert_array_equal(model.classes_, ["a", "b", "c"])
    for _ in range(3):
        for rows in np.array_split(rest, 4):
            model.partial_fit(X[rows], labels[rows])
    assert model.predict_proba(X).shape == (90, 3)
    assert model.score(X, labels) > 0.8
    with pytest.raises(ValueError, match="not among the classes"):
        model.partial_fit(X[:5], np.array(["a", "b", "d", "a", "b"]))
    with pytest.raises(ValueError, match="differs from the classes"):
        model.partial_fit(X[:5], labels[:5], classes=["a", "b"])


@pytest.mark.parametrize("change", [{"ard": True}, {"fit_intercept": False}])
def test_warm_start_and_partial_fit_refuse_a_changed_model(change):
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    model = VariationalLogisticRegression().fit(X, y)
    model.set_params(warm_start=True, **change)
    name = next(iter(change))
    with pytest.raises(ValueError, match=f"{name} is"):
        model.fit(X, y)
    with pytest.raises(ValueError, match=f"partial_fit cannot continue.*{name} is"):
        model.partial_fit(X, y)


def test_pickling_keeps_the_live_estimators_caches():
    import copy

    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    model = VariationalLogisticRegression().fit(X, y)
    model._xi = np.ones(3)
    clone = copy.copy(model)
    assert hasattr(model, "_xi") and not hasattr(clone, "_xi")
