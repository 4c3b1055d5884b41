"""VariationalGMM against scikit-learn, closed forms, and hard data."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import BayesianGaussianMixture

from skvi.mixture import VariationalGMM

from elbo_checks import assert_elbo_matches_monte_carlo, assert_elbo_monotone, sweep

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
WEIGHT_PRIORS = ["dirichlet_process", "dirichlet_distribution"]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _three_blobs(random_state=0, n_features=3):
    rng = np.random.RandomState(random_state)
    return np.vstack(
        [
            rng.normal(-3, 1.0, (150, n_features)),
            rng.normal(3, 1.5, (150, n_features)),
            rng.normal(0, 0.5, (100, n_features)) @ rng.normal(size=(n_features, n_features)),
        ]
    )


def _sklearn_prior(X, covariance_type):
    return {
        "full": np.cov(X.T),
        "tied": np.cov(X.T),
        "diag": X.var(axis=0, ddof=1),
        "spherical": X.var(axis=0, ddof=1).mean(),
    }[covariance_type]


@pytest.mark.parametrize("weight_prior", WEIGHT_PRIORS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("reg_covar, rtol", [(0.0, 1e-10), (1e-6, 1e-4)])
def test_same_start_same_answer_as_sklearn(covariance_type, weight_prior, reg_covar, rtol):
    X = _three_blobs()
    K, n_features = 4, X.shape[1]
    resp = np.eye(K)[KMeans(K, n_init=1, random_state=0).fit(X).labels_]
    prior = _sklearn_prior(X, covariance_type)
    common = dict(
        n_components=K,
        covariance_type=covariance_type,
        weight_concentration_prior_type=weight_prior,
        reg_covar=reg_covar,
        max_iter=25,
        tol=0.0,
        random_state=0,
    )
    sk = BayesianGaussianMixture(covariance_prior=prior, **common)
    sk._initialize_parameters = lambda X_, random_state, xp=None: sk._initialize(X_, resp)
    sk.fit(X)
    # 'tied': ours is one shared Wishart prior; scikit-learn's update is ours with the
    # prior counted K times (see the module docstring).
    scale = K if covariance_type == "tied" else 1
    ours = VariationalGMM(
        covariance_prior=scale * prior,
        degrees_of_freedom_prior=scale * n_features if covariance_type == "tied" else None,
        **common,
    )
    ours._initial_resp = lambda X_, random_state, sample_weight=None: resp.copy()
    ours.fit(X)
    assert_elbo_monotone(ours.elbo_history_)
    assert_allclose(ours.means_, sk.means_, rtol=rtol, atol=rtol * np.abs(X).max())
    assert_allclose(ours.weights_, sk.weights_, rtol=rtol, atol=rtol)
    assert_allclose(ours.covariances_, sk.covariances_, rtol=rtol, atol=rtol * 10)
    assert_allclose(ours.precisions_, sk.precisions_, rtol=rtol, atol=rtol * 10)
    assert_allclose(ours.mean_precision_, sk.mean_precision_, rtol=rtol)
    assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=10 * rtol)
    assert_array_equal(ours.predict(X), sk.predict(X))
    if covariance_type != "tied":
        assert_allclose(ours.degrees_of_freedom_, sk.degrees_of_freedom_, rtol=rtol)
        assert_allclose(ours.precisions_cholesky_, sk.precisions_cholesky_, rtol=rtol, atol=rtol)
    else:
        assert_allclose(ours.degrees_of_freedom_, K * sk.degrees_of_freedom_, rtol=rtol)


def test_single_component_elbo_is_the_exact_log_evidence():
    """K=1, 'full': q is the exact Normal-Wishart posterior and the ELBO is log p(X)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3)) @ np.array([[1, 0.3, 0], [0, 1, 0.5], [0, 0, 2]]) + 1.0
    gmm = VariationalGMM(
        n_components=1,
        weight_concentration_prior_type="dirichlet_distribution",
        reg_covar=0.0,
        mean_precision_prior=0.5,
        degrees_of_freedom_prior=4.5,
        covariance_prior=np.diag([2.0, 1.0, 0.5]),
        mean_prior=[0.5, 0.0, -1.0],
        tol=0.0,
        max_iter=2,
    ).fit(X)
    n = X.shape[0]
    b0, m0 = gmm.mean_precision_prior_, gmm.mean_prior_
    nu0, Psi = gmm.degrees_of_freedom_prior_, gmm.covariance_prior_
    xbar = X.mean(axis=0)
    scatter = (X - xbar).T @ (X - xbar)
    bN, nuN = b0 + n, nu0 + n
    mN = (b0 * m0 + n * xbar) / bN
    PsiN = Psi + scatter + b0 * n / bN * np.outer(xbar - m0, xbar - m0)
    # candidate's formula at an arbitrary (mu, Lambda):
    # log p(X) = log p(X | mu, L) + log p(mu, L) - log p(mu, L | X)
    mu, L = np.array([0.2, -0.1, 0.4]), np.array([[1.0, 0.2, 0], [0.2, 2.0, 0.1], [0, 0.1, 0.7]])
    inv = np.linalg.inv
    log_evidence = (
        stats.multivariate_normal(mu, inv(L)).logpdf(X).sum()
        + stats.multivariate_normal(m0, inv(b0 * L)).logpdf(mu)
        + stats.wishart(nu0, inv(Psi)).logpdf(L)
        - stats.multivariate_normal(mN, inv(bN * L)).logpdf(mu)
        - stats.wishart(nuN, inv(PsiN)).logpdf(L)
    )
    assert_allclose(gmm.elbo_history_, log_evidence, rtol=1e-12)
    assert_allclose(gmm.means_[0], mN, rtol=1e-12)
    assert_allclose(gmm.covariances_[0] * gmm.degrees_of_freedom_[0], PsiN, rtol=1e-12)


def _fit_small(covariance_type, weight_prior, X):
    return VariationalGMM(
        n_components=3,
        covariance_type=covariance_type,
        weight_concentration_prior_type=weight_prior,
        random_state=0,
    ).fit(X)


@pytest.mark.parametrize("weight_prior", WEIGHT_PRIORS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predictive_integrates_to_one_in_1d(covariance_type, weight_prior):
    rng = np.random.RandomState(1)
    X = np.r_[rng.normal(-2, 0.5, 50), rng.normal(2, 1, 50)][:, None]
    gmm = _fit_small(covariance_type, weight_prior, X)
    # x = c + tan(t) maps (-pi/2, pi/2) onto the line, so heavy Student-t tails (an
    # unused component keeps nu close to nu_0, a Cauchy) are integrated too
    t = np.linspace(-np.pi / 2, np.pi / 2, 400_001)[1:-1]
    x = np.tan(t)[:, None]
    total = np.trapezoid(np.exp(gmm.score_samples(x)) / np.cos(t) ** 2, t)
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predictive_integrates_to_one_in_2d(covariance_type):
    rng = np.random.RandomState(2)
    X = np.r_[rng.normal(-2, 0.5, (60, 2)), rng.normal(2, 1, (60, 2)) * [1, 0.5]]
    gmm = _fit_small(covariance_type, "dirichlet_process", X)
    # polar coordinates with r = tan(s): the integrand is p(x) r dr dphi
    s = np.linspace(0, np.pi / 2, 3001)[:-1]
    phi = np.linspace(0, 2 * np.pi, 721)
    S, PHI = np.meshgrid(s, phi, indexing="ij")
    r = np.tan(S)
    points = np.c_[(r * np.cos(PHI)).ravel(), (r * np.sin(PHI)).ravel()]
    density = np.exp(gmm.score_samples(points)).reshape(S.shape)
    integrand = density * r / np.cos(S) ** 2
    total = np.trapezoid(np.trapezoid(integrand, phi, axis=1), s)
    assert total == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("weight_prior", WEIGHT_PRIORS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_formula_matches_monte_carlo(covariance_type, weight_prior):
    rng = np.random.RandomState(3)
    X = np.r_[rng.normal(-2, 1, (8, 2)), rng.normal(2, 1, (8, 2))]
    est = VariationalGMM(
        n_components=3,
        covariance_type=covariance_type,
        weight_concentration_prior_type=weight_prior,
        reg_covar=1e-2,  # large enough that a wrong jitter term would show
        init_params="random",
    )
    sweep(est, X, n_sweeps=2)
    assert_elbo_matches_monte_carlo(est, X, n_draws=4000)


@pytest.mark.parametrize("weight_prior", WEIGHT_PRIORS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_never_decreases_and_api(covariance_type, weight_prior):
    X = _three_blobs(n_features=2)
    gmm = VariationalGMM(
        n_components=6,
        covariance_type=covariance_type,
        weight_concentration_prior_type=weight_prior,
        init_params="random",
        tol=0.0,
        max_iter=40,
        random_state=0,
    ).fit(X)
    assert_elbo_monotone(gmm.elbo_history_)
    assert gmm.lower_bound_ == gmm.elbo_
    assert_array_equal(gmm.fit_predict(X), gmm.predict(X))
    proba = gmm.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(gmm.predict(X), proba.argmax(axis=1))
    assert gmm.score(X) == pytest.approx(gmm.score_samples(X).mean())
    assert 1 <= gmm.n_active_components_ <= 6


def test_dirichlet_process_switches_off_extra_components():
    X, _ = make_blobs(600, centers=3, cluster_std=0.6, random_state=4)
    gmm = VariationalGMM(
        n_components=10,
        weight_concentration_prior=1e-3,
        init_params="k-means++",
        max_iter=300,
        random_state=0,
    ).fit(X)
    assert gmm.n_active_components_ == 3
    counts = gmm.mean_precision_ - gmm.mean_precision_prior_
    assert_allclose(np.sort(counts)[-3:], [200, 200, 200], atol=5)
    assert np.sum(counts[counts < 1]) < 1


def test_elbo_compares_across_models():
    """Constants are included, so more (needed) components raise the ELBO."""
    X, _ = make_blobs(400, centers=2, cluster_std=0.5, random_state=0)
    kw = dict(weight_concentration_prior_type="dirichlet_distribution", random_state=0)
    one = VariationalGMM(n_components=1, **kw).fit(X)
    two = VariationalGMM(n_components=2, **kw).fit(X)
    assert two.elbo_ > one.elbo_ + 100


def test_sample_draws_from_the_predictive():
    X, _ = make_blobs(400, centers=2, cluster_std=0.5, random_state=0)
    gmm = VariationalGMM(
        n_components=2, weight_concentration_prior_type="dirichlet_distribution", random_state=0
    ).fit(X)
    draws, labels = gmm.sample(4000)
    assert draws.shape == (4000, 2) and labels.shape == (4000,)
    assert set(np.unique(labels)) <= {0, 1}
    assert_allclose(np.bincount(labels) / 4000, gmm.weights_, atol=0.03)
    for k in range(2):
        assert_allclose(draws[labels == k].mean(axis=0), gmm.means_[k], atol=0.1)
    with pytest.raises(ValueError, match="n_samples"):
        gmm.sample(0)


def test_partial_fit_reaches_batch_quality():
    X, truth = make_blobs(4000, centers=4, cluster_std=0.7, center_box=(-15, 15), random_state=1)
    batch = VariationalGMM(n_components=4, random_state=0).fit(X)
    online = VariationalGMM(n_components=4, random_state=0, total_samples=len(X))
    rng = np.random.RandomState(0)
    for _ in range(3):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 400):
            online.partial_fit(X[order[start : start + 400]])
    assert online.n_batch_iter_ == 30
    assert online.score(X) > batch.score(X) - 0.005
    assert adjusted_rand_score(truth, online.predict(X)) > 0.99
    assert online.n_active_components_ == 4


def test_float32_stays_float32():
    X = _three_blobs(n_features=2).astype(np.float32)
    gmm = VariationalGMM(n_components=3, random_state=0).fit(X)
    assert gmm.predict_proba(X).dtype == np.float32
    assert gmm.score_samples(X).dtype == np.float32
    assert gmm.means_.dtype == np.float32 and gmm.covariances_.dtype == np.float32
    ref = VariationalGMM(n_components=3, random_state=0).fit(X.astype(np.float64))
    assert_allclose(gmm.means_, ref.means_, rtol=1e-4, atol=1e-4)


def _hard_data():
    rng = np.random.RandomState(0)
    return {
        "duplicates": np.repeat(rng.normal(size=(5, 3)), 20, axis=0),
        "constant_feature": np.c_[rng.normal(size=(100, 2)), np.full(100, 3.0)],
        "scales_1e-6_1e6": rng.normal(size=(100, 2)) * [1e-6, 1e6],
        "far_from_origin": rng.normal(size=(100, 2)) * 1e-3 + 1e6,
        "one_sample_per_component": rng.normal(size=(5, 2)),
    }


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("name", list(_hard_data()))
def test_hard_data_gives_finite_fits(name, covariance_type):
    X = _hard_data()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = VariationalGMM(n_components=5, covariance_type=covariance_type, random_state=0)
        gmm.fit(X)
    assert np.isfinite(gmm.elbo_)
    assert_elbo_monotone(gmm.elbo_history_)
    assert np.all(np.isfinite(gmm.score_samples(X)))
    assert np.all(np.isfinite(gmm.predict_proba(X)))
    assert np.all(np.isfinite(gmm.means_))


@pytest.mark.parametrize(
    "params, X_shape, message",
    [
        ({"n_components": 5}, (4, 2), "n_samples >= n_components"),
        ({"degrees_of_freedom_prior": 0.5}, (20, 2), "degrees_of_freedom_prior"),
        ({"mean_prior": [0.0, 0.0, 0.0]}, (20, 2), "mean_prior"),
        ({"covariance_prior": np.eye(3)}, (20, 2), "covariance_prior"),
        ({"covariance_prior": [[1.0, 2.0], [2.0, 1.0]]}, (20, 2), "positive-definite"),
        ({"covariance_type": "diag", "covariance_prior": [1.0, -1.0]}, (20, 2), "positive"),
        ({"covariance_type": "spherical", "covariance_prior": [1.0, 1.0]}, (20, 2), "float"),
        ({"weight_concentration_prior": -1.0}, (20, 2), "weight_concentration_prior"),
        ({"covariance_type": "banana"}, (20, 2), "covariance_type"),
    ],
)
def test_bad_input_names_the_problem(params, X_shape, message):
    X = np.random.RandomState(0).normal(size=X_shape)
    with pytest.raises(ValueError, match=message):
        VariationalGMM(n_components=params.pop("n_components", 2), **params).fit(X)


def test_sample_weight_matches_repetition_from_a_shared_start():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(-2, 1, (30, 2)), rng.normal(2, 1, (30, 2))]
    counts = rng.randint(0, 3, size=60)
    X_rep = np.repeat(X, counts, axis=0)
    resp = np.eye(2)[(X[:, 0] > 0).astype(int)]
    a = VariationalGMM(n_components=2, tol=0.0, max_iter=20, covariance_type="diag")
    a._initial_resp = lambda X_, rs, sample_weight=None: np.repeat(resp, counts, axis=0)
    a.fit(X_rep)
    b = VariationalGMM(n_components=2, tol=0.0, max_iter=20, covariance_type="diag")
    b._initial_resp = lambda X_, rs, sample_weight=None: resp.copy()
    b.fit(X, sample_weight=counts)
    assert_allclose(b.elbo_history_, a.elbo_history_, rtol=1e-10)
    assert_allclose(b.means_, a.means_, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunked_threaded_local_step_is_deterministic(monkeypatch, covariance_type):
    """Chunks on threads, with or without the feature cache: the same arithmetic."""
    from threadpoolctl import threadpool_limits

    import skvi.mixture._gmm as gmm_module

    monkeypatch.setattr(gmm_module, "_CHUNK_BYTES", 1)  # 256 samples per chunk
    X = _three_blobs(n_features=3)
    X = np.vstack([X, X + 0.1, X - 0.1])  # 1200 samples, 5 chunks
    params = dict(n_components=4, covariance_type=covariance_type, tol=0.0, max_iter=15)
    threaded = VariationalGMM(random_state=0, **params).fit(X)
    with threadpool_limits(1):
        sequential = VariationalGMM(random_state=0, **params).fit(X)
    assert_array_equal(threaded.elbo_history_, sequential.elbo_history_)
    monkeypatch.setattr(gmm_module, "_FEATURE_CACHE_BYTES", 0)
    uncached = VariationalGMM(random_state=0, **params).fit(X)
    assert_allclose(uncached.elbo_history_, threaded.elbo_history_, rtol=1e-12)
    assert_allclose(uncached.predict_proba(X), threaded.predict_proba(X), atol=1e-10)
    assert_allclose(uncached.score_samples(X), threaded.score_samples(X), rtol=1e-10)
