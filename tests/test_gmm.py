"""VariationalGMM against scikit-learn, closed forms, and hard data."""

import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.special import gammaln, logsumexp
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
def test_same_start_same_answer_as_sklearn(covariance_type, weight_prior):
    """reg_covar=0: the same model, the same updates (see test_reg_covar_... for > 0)."""
    reg_covar, rtol = 0.0, 1e-10
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


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_reg_covar_estep_is_sklearns_plus_the_jitter_term(covariance_type):
    """reg_covar > 0: our q(Z) update is scikit-learn's E-step plus -reg/2 tr E[Lambda_k].

    From one state (ours, copied into a BayesianGaussianMixture), scikit-learn's
    log-responsibilities plus that term give ours to rounding error; without it they
    differ by O(reg), except for 'tied', where the term is common to all components.
    """
    X = _three_blobs()
    reg = 0.5
    ours = VariationalGMM(
        n_components=4, covariance_type=covariance_type, reg_covar=reg, max_iter=5, tol=0.0
    )
    ours.set_params(random_state=0).fit(X)
    sk = BayesianGaussianMixture(n_components=4, covariance_type=covariance_type)
    for name in (
        "weight_concentration_",
        "mean_precision_",
        "means_",
        "degrees_of_freedom_",
        "precisions_cholesky_",
    ):
        setattr(sk, name, getattr(ours, name))
    sk_log = sk._estimate_weighted_log_prob(X)
    trace = {
        "full": lambda P: np.trace(P, axis1=1, axis2=2),
        "tied": lambda P: np.full(4, np.trace(P)),
        "diag": lambda P: P.sum(axis=1),
        "spherical": lambda P: X.shape[1] * P,
    }[covariance_type](ours.precisions_)
    with_term = sk_log - 0.5 * reg * trace
    resp = ours.predict_proba(X)
    assert_allclose(resp, np.exp(with_term - logsumexp(with_term, axis=1)[:, None]), atol=1e-12)
    plain = np.exp(sk_log - logsumexp(sk_log, axis=1)[:, None])
    if covariance_type == "tied":
        assert_allclose(resp, plain, atol=1e-12)
    else:
        assert np.abs(resp - plain).max() > 1e-3


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


@pytest.mark.parametrize("weight_prior", WEIGHT_PRIORS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predictive_integrates_to_one_in_2d(covariance_type, weight_prior):
    rng = np.random.RandomState(2)
    X = np.r_[rng.normal(-2, 0.5, (60, 2)), rng.normal(2, 1, (60, 2)) * [1, 0.5]]
    gmm = _fit_small(covariance_type, weight_prior, X)
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
        # the jitter term -reg/2 sum_nk r_nk tr E[Lambda_k] is then 3.5-6.5 nats, 10-40
        # standard errors of the estimate: an ELBO without it fails (checked by deletion)
        reg_covar=1.0,
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


def _normal_wishart_log_evidence(X, m0, b0, nu0, Psi):
    """log p(X) of the Normal-Wishart model by the candidate's formula, with scipy.stats.

    log p(X) = log p(X | mu, L) + log p(mu, L) - log p(mu, L | X) at any (mu, L).
    """
    n = X.shape[0]
    xbar = X.mean(axis=0)
    scatter = (X - xbar).T @ (X - xbar)
    bN, nuN = b0 + n, nu0 + n
    mN = (b0 * m0 + n * xbar) / bN
    PsiN = Psi + scatter + b0 * n / bN * np.outer(xbar - m0, xbar - m0)
    mu, L = xbar, np.linalg.inv(PsiN / nuN)
    inv = np.linalg.inv
    return (
        stats.multivariate_normal(mu, inv(L)).logpdf(X).sum()
        + stats.multivariate_normal(m0, inv(b0 * L)).logpdf(mu)
        + stats.wishart(nu0, inv(Psi)).logpdf(L)
        - stats.multivariate_normal(mN, inv(bN * L)).logpdf(mu)
        - stats.wishart(nuN, inv(PsiN)).logpdf(L)
    )


def _log_prior_of_labels(counts, weight_prior, a0):
    """log p(Z) of labels with these per-component counts, pi integrated out."""
    counts = np.asarray(counts, dtype=float)
    K, n = len(counts), counts.sum()
    if weight_prior == "dirichlet_distribution":  # Dirichlet-multinomial
        return gammaln(K * a0) - gammaln(n + K * a0) + np.sum(gammaln(counts + a0) - gammaln(a0))
    # stick-breaking: prod_k E[v_k^{N_k} (1 - v_k)^{N_>k}] with v_k ~ Beta(1, gamma);
    # 1 / B(1, gamma) = gamma
    after = np.concatenate((np.cumsum(counts[::-1])[-2::-1], [0.0]))
    return np.sum(
        gammaln(1 + counts) + gammaln(a0 + after) - gammaln(1 + a0 + counts + after) + np.log(a0)
    )


@pytest.mark.parametrize("weight_prior", WEIGHT_PRIORS)
def test_elbo_is_the_exact_log_joint_of_separated_clusters(weight_prior):
    """The ELBO is the exact log p(X, Z*) for clusters too far apart to share samples.

    With q(Z) one-hot on Z* (the leak is ~exp(-400)), q(pi) q(mu, Lambda) is the exact
    posterior given Z*, so the ELBO equals log p(Z*) + sum_k log p(X_k): a missing
    constant, per sample or per component, would show. So the ELBOs of K=2 and K=1
    compare the two models as these closed forms do.
    """
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(-20, 1, (30, 2)), rng.normal(20, [1.0, 0.5], (50, 2))]
    kw = dict(weight_concentration_prior_type=weight_prior, reg_covar=0.0, random_state=0)
    elbos = {}
    for K in (1, 2):
        gmm = VariationalGMM(n_components=K, **kw).fit(X)
        labels = gmm.predict(X)
        counts = np.bincount(labels, minlength=K)
        assert sorted(counts) == ([80] if K == 1 else [30, 50])
        prior = (gmm.mean_prior_, gmm.mean_precision_prior_, gmm.degrees_of_freedom_prior_)
        log_joint = _log_prior_of_labels(counts, weight_prior, gmm.weight_concentration_prior_)
        for k in range(K):
            log_joint += _normal_wishart_log_evidence(
                X[labels == k], *prior, gmm.covariance_prior_
            )
        assert gmm.elbo_ == pytest.approx(log_joint, rel=1e-10, abs=1e-8)
        elbos[K] = gmm.elbo_
    assert elbos[2] > elbos[1] + 50


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


def _full_scale(gmm, k):
    """A_k = nu_k covariances_[k] as a full (D, D) matrix, from the public attributes."""
    D = gmm.means_.shape[1]
    nu = np.broadcast_to(gmm.degrees_of_freedom_, gmm.mean_precision_.shape)[k]
    cov = {
        "full": lambda c: c[k],
        "tied": lambda c: c,
        "diag": lambda c: np.diag(c[k]),
        "spherical": lambda c: c[k] * np.eye(D),
    }[gmm.covariance_type](np.asarray(gmm.covariances_, dtype=float))
    return nu * cov


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_spread_is_the_predictive_covariance(covariance_type):
    """Draws of component k have the Student-t's covariance (1 + beta) A / (beta (dof - 2))."""
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(-3, 1, (40, 2)), rng.normal(3, [1.0, 0.3], (40, 2)) @ [[1, 0.5], [0, 1]]]
    gmm = VariationalGMM(
        n_components=2,
        covariance_type=covariance_type,
        weight_concentration_prior_type="dirichlet_distribution",
        random_state=0,
    ).fit(X)
    draws, labels = gmm.sample(200_000)
    D = X.shape[1]
    for k in range(2):
        beta = gmm.mean_precision_[k]
        dof = np.broadcast_to(gmm.degrees_of_freedom_, (2,))[k] + 1 - D
        expected = (1 + beta) * _full_scale(gmm, k) / (beta * (dof - 2))
        got = np.cov(draws[labels == k].T)
        assert_allclose(got, expected, atol=0.03 * np.abs(expected).max())
        assert_allclose(draws[labels == k].mean(axis=0), gmm.means_[k], atol=0.02)


def test_sample_minus_one_labels_carry_the_dirichlet_process_tail():
    """The mass beyond the truncation, prod_k E[1 - v_k], is drawn from the prior predictive."""
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(-3, 1, (20, 2)), rng.normal(3, 1, (20, 2))]
    gmm = VariationalGMM(
        n_components=2,
        weight_concentration_prior=20.0,
        degrees_of_freedom_prior=10.0,
        mean_prior=[1.0, -2.0],
        random_state=0,
    ).fit(X)
    a, b = gmm.weight_concentration_
    tail = float(np.prod(b / (a + b)))
    assert tail > 0.2
    n = 100_000
    draws, labels = gmm.sample(n)
    assert set(np.unique(labels)) == {-1, 0, 1}
    outside = labels == -1
    assert outside.mean() == pytest.approx(tail, abs=4 * np.sqrt(tail * (1 - tail) / n))
    # the prior predictive St(m_0, ..., nu_0 + 1 - D) of the Normal-Wishart prior
    beta0, dof0 = gmm.mean_precision_prior_, gmm.degrees_of_freedom_prior_ + 1 - 2
    expected = (1 + beta0) * gmm.covariance_prior_ / (beta0 * (dof0 - 2))
    assert_allclose(draws[outside].mean(axis=0), [1.0, -2.0], atol=0.1)
    assert_allclose(np.cov(draws[outside].T), expected, atol=0.05 * np.abs(expected).max())


@pytest.mark.parametrize("total_samples", [4000, None])
def test_partial_fit_reaches_batch_quality(total_samples):
    X, truth = make_blobs(4000, centers=4, cluster_std=0.7, center_box=(-15, 15), random_state=1)
    batch = VariationalGMM(n_components=4, random_state=0).fit(X)
    online = VariationalGMM(n_components=4, random_state=0, total_samples=total_samples)
    rng = np.random.RandomState(0)
    for _ in range(3):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 400):
            online.partial_fit(X[order[start : start + 400]])
    assert online.n_batch_iter_ == 30 and online.n_samples_seen_ == 3 * len(X)
    assert online.score(X) > batch.score(X) - 0.005
    assert adjusted_rand_score(truth, online.predict(X)) > 0.99
    assert online.n_active_components_ == 4


def _two_blobs(random_state=0):
    rng = np.random.RandomState(random_state)
    return np.r_[rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (200, 2))]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("total_samples", [None, 1000.0])
def test_partial_fit_after_fit_continues_the_fitted_posterior(total_samples, weighted):
    """fit, then one batch of the same data: one small step from the fitted posterior.

    The step blends the posterior with the batch's optimum scaled to ``total`` samples
    (the samples seen so far, the fit's 400 included, when total_samples is None), so
    the expected counts sum to ``(1 - rho) 400 + rho total``; a reset would start from
    the batch alone (about 100 or sum(w)).
    """
    X = _two_blobs()
    rng = np.random.RandomState(1)
    gmm = VariationalGMM(n_components=2, random_state=0, total_samples=total_samples).fit(X)
    means, score, elbo = gmm.means_.copy(), gmm.score(X), gmm.elbo_
    batch = X[rng.permutation(len(X))[:100]]
    weights = rng.randint(1, 4, size=100).astype(float) if weighted else None
    gmm.partial_fit(batch, sample_weight=weights)
    batch_size = 100.0 if weights is None else weights.sum()
    assert gmm.n_batch_iter_ == 1
    assert gmm.n_samples_seen_ == 400.0 + batch_size
    total = 400.0 + batch_size if total_samples is None else total_samples
    rho = (gmm.learning_offset + 1.0) ** -gmm.learning_decay
    counts = gmm.mean_precision_ - gmm.mean_precision_prior_
    assert counts.sum() == pytest.approx((1.0 - rho) * 400.0 + rho * total, rel=1e-10)
    assert np.abs(gmm.means_ - means).max() < 0.1
    assert abs(gmm.score(X) - score) < 0.02
    assert gmm.elbo_ == gmm.lower_bound_ == elbo  # the fit's, documented as such
    # a batch of a single sample is fine after the first call
    gmm.partial_fit(X[:1])
    assert gmm.n_batch_iter_ == 2
    # a new fit starts a new stream
    gmm.fit(X)
    gmm.partial_fit(batch)
    assert gmm.n_batch_iter_ == 1 and gmm.n_samples_seen_ == 500.0


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_partial_fit_sample_weight_matches_repetition(covariance_type):
    X = _two_blobs()
    counts = np.random.RandomState(2).randint(0, 4, size=len(X))
    counts[:2] = 1  # both blobs keep samples
    batch_index = np.arange(0, len(X), 3)
    fitted = VariationalGMM(n_components=2, covariance_type=covariance_type, random_state=0)
    fitted.fit(X)
    weighted, repeated = copy.deepcopy(fitted), copy.deepcopy(fitted)
    weighted.partial_fit(X[batch_index], sample_weight=counts[batch_index])
    repeated.partial_fit(np.repeat(X[batch_index], counts[batch_index], axis=0))
    assert weighted.n_samples_seen_ == repeated.n_samples_seen_
    for name in fitted._variational_params:
        assert_allclose(
            np.asarray(getattr(weighted, name), dtype=float),
            np.asarray(getattr(repeated, name), dtype=float),
            rtol=1e-10,
            err_msg=name,
        )
    assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-10)


def test_partial_fit_alone_keeps_the_attributes_consistent():
    X = _two_blobs()
    gmm = VariationalGMM(n_components=2, random_state=0)
    for start in range(0, 400, 100):
        gmm.partial_fit(X[start : start + 100])
    # the public arrays are those of the streamed posterior
    assert_allclose(gmm.means_, gmm._origin + gmm._eta / gmm.mean_precision_[:, None])
    assert_allclose(gmm.precisions_, np.linalg.inv(gmm.covariances_), rtol=1e-10)
    mean_weights, _ = gmm._mean_weights()
    assert_allclose(gmm.weights_, mean_weights / mean_weights.sum())
    # no fit: no ELBO attributes, and nothing needs them
    for name in ("elbo_", "lower_bound_", "elbo_history_", "n_iter_", "converged_"):
        assert not hasattr(gmm, name), name
    assert np.isfinite(gmm.score(X))
    assert_array_equal(gmm.predict(X), gmm.predict_proba(X).argmax(axis=1))
    assert gmm.sample(3)[0].shape == (3, 2)


FLOAT32_ATTRIBUTES = ("means_", "covariances_", "precisions_", "precisions_cholesky_", "weights_")


def test_float32_stays_float32():
    X = _three_blobs(n_features=2).astype(np.float32)
    gmm = VariationalGMM(n_components=3, random_state=0).fit(X)
    assert gmm.predict_proba(X).dtype == np.float32
    assert gmm.score_samples(X).dtype == np.float32
    assert gmm.sample(5)[0].dtype == np.float32
    for name in FLOAT32_ATTRIBUTES:
        assert getattr(gmm, name).dtype == np.float32, name
    ref = VariationalGMM(n_components=3, random_state=0).fit(X.astype(np.float64))
    assert_allclose(gmm.means_, ref.means_, rtol=1e-4, atol=1e-4)
    # partial_fit alone, and after a float32 fit
    streamed = VariationalGMM(n_components=3, random_state=0).partial_fit(X)
    gmm.partial_fit(X[:50])
    for est in (streamed, gmm):
        for name in FLOAT32_ATTRIBUTES:
            assert getattr(est, name).dtype == np.float32, name
        assert est.sample(5)[0].dtype == np.float32


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_separated_blobs_match_float64(covariance_type):
    """Clusters 2000 widths apart: float32 data fit as the same data in float64.

    The second moments about one origin cancel to (width / separation)^2 in
    ``inverse_scale``; summed in float32 they lost every digit ('full' raised an
    ill-defined-covariance error, the other types lost 3-4 digits, 'tied' its ELBO).
    """
    rng = np.random.RandomState(0)
    X32 = np.r_[rng.normal(-100, 0.1, (5000, 3)), rng.normal(100, 0.1, (5000, 3))].astype(
        np.float32
    )
    kw = dict(n_components=2, covariance_type=covariance_type, max_iter=10, tol=0.0)
    f64 = VariationalGMM(random_state=0, **kw).fit(X32.astype(np.float64))
    f32 = VariationalGMM(random_state=0, **kw).fit(X32)
    assert f32.covariances_.dtype == np.float32
    assert_allclose(f32.covariances_, f64.covariances_, rtol=1e-6)
    assert_allclose(f32.means_, f64.means_, rtol=1e-6)
    assert_allclose(f32.elbo_history_, f64.elbo_history_, rtol=1e-6)
    assert_array_equal(f32.predict(X32), f64.predict(X32.astype(np.float64)))


def test_float32_responsibilities_fall_back_to_float64_on_tight_blobs():
    """Tight blobs: the float32 log-rho GEMM would drift the ELBO, so it runs in float64.

    Four blobs of width 0.01 in a box of side 20: the terms of log rho are ~1e6 times
    log rho itself. From the same start the float32 fit then follows the float64 fit
    of the same data; forcing the float32 GEMM drifts the ELBO by ~1e-5 relative.
    """
    X, truth = make_blobs(
        10_000, n_features=4, centers=4, cluster_std=0.01, center_box=(-10, 10), random_state=0
    )
    X32 = X.astype(np.float32)
    resp = np.eye(4)[truth]

    def fit(data):
        gmm = VariationalGMM(n_components=4, max_iter=10, tol=0.0)
        gmm._initial_resp = lambda X_, rs, sample_weight=None: resp.astype(X_.dtype)
        return gmm.fit(data)

    f32, f64 = fit(X32), fit(X32.astype(np.float64))
    assert f32._estep_dtype(X32, f32._theta()) == np.float64
    assert_allclose(f32.elbo_history_, f64.elbo_history_, rtol=1e-6)
    # well-scaled float32 data keep the float32 GEMM
    easy = _three_blobs(n_features=2).astype(np.float32)
    gmm = VariationalGMM(n_components=3, random_state=0).fit(easy)
    assert gmm._estep_dtype(easy, gmm._theta()) == np.float32


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
        ({"covariance_prior": 2.0}, (20, 2), "'full covariance_prior'.*scalar"),
        ({"covariance_type": "tied", "covariance_prior": 2.0}, (20, 2), "'tied.*scalar"),
        ({"covariance_type": "diag", "covariance_prior": 2.0}, (20, 2), "'diag.*scalar"),
        ({"covariance_prior": [[1.0, np.nan], [0.0, 1.0]]}, (20, 2), "covariance_prior"),
        ({"mean_prior": [np.nan, 0.0]}, (20, 2), "mean_prior"),
        ({"n_components": 1}, (1, 2), "1 sample"),
        ({"weight_concentration_prior": -1.0}, (20, 2), "weight_concentration_prior"),
        ({"covariance_type": "banana"}, (20, 2), "covariance_type"),
    ],
)
def test_bad_input_names_the_problem(params, X_shape, message):
    X = np.random.RandomState(0).normal(size=X_shape)
    with pytest.raises(ValueError, match=message):
        VariationalGMM(n_components=params.pop("n_components", 2), **params).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_weight_matches_repetition_from_a_shared_start(covariance_type):
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(-2, 1, (30, 2)), rng.normal(2, 1, (30, 2))]
    counts = rng.randint(0, 3, size=60)
    X_rep = np.repeat(X, counts, axis=0)
    resp = np.eye(2)[(X[:, 0] > 0).astype(int)]
    kw = dict(n_components=2, tol=0.0, max_iter=20, covariance_type=covariance_type)
    a = VariationalGMM(**kw)
    a._initial_resp = lambda X_, rs, sample_weight=None: np.repeat(resp, counts, axis=0)
    a.fit(X_rep)
    b = VariationalGMM(**kw)
    b._initial_resp = lambda X_, rs, sample_weight=None: resp.copy()
    b.fit(X, sample_weight=counts)
    assert_allclose(b.elbo_history_, a.elbo_history_, rtol=1e-10)
    assert_allclose(b.means_, a.means_, rtol=1e-10)
    assert_allclose(b.covariances_, a.covariances_, rtol=1e-10)
    assert_allclose(b.covariance_prior_, a.covariance_prior_, rtol=1e-12)
    assert_allclose(b.score_samples(X), a.score_samples(X), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunked_threaded_local_step_is_deterministic(monkeypatch, covariance_type, dtype):
    """Chunks on threads, with or without the feature cache: the same arithmetic."""
    from concurrent.futures import ThreadPoolExecutor

    import skvi.mixture._gmm as gmm_module

    pools = []

    class CountingPool(ThreadPoolExecutor):
        def __init__(self, max_workers):
            pools.append(max_workers)
            super().__init__(max_workers)

    monkeypatch.setattr(gmm_module, "ThreadPoolExecutor", CountingPool)
    monkeypatch.setattr(gmm_module, "_CHUNK_BYTES", 1)  # 256 samples per chunk
    X = _three_blobs(n_features=3)
    X = np.vstack([X, X + 0.1, X - 0.1]).astype(dtype)  # 1200 samples, 5 chunks
    params = dict(n_components=4, covariance_type=covariance_type, tol=0.0, max_iter=15)
    # three threads whatever the machine has (and the BLAS would use)
    monkeypatch.setattr(gmm_module, "_blas_threads", lambda: 3)
    threaded = VariationalGMM(random_state=0, **params).fit(X)
    assert pools and set(pools) == {3}
    monkeypatch.setattr(gmm_module, "_blas_threads", lambda: 1)
    pools.clear()
    sequential = VariationalGMM(random_state=0, **params).fit(X)
    assert not pools
    assert_array_equal(threaded.elbo_history_, sequential.elbo_history_)
    assert_array_equal(threaded.predict_proba(X), sequential.predict_proba(X))
    monkeypatch.setattr(gmm_module, "_FEATURE_CACHE_BYTES", 0)
    monkeypatch.setattr(gmm_module, "_blas_threads", lambda: 3)
    uncached = VariationalGMM(random_state=0, **params).fit(X)
    assert set(pools) == {3}
    assert_allclose(uncached.elbo_history_, threaded.elbo_history_, rtol=1e-12)
    assert_allclose(uncached.predict_proba(X), threaded.predict_proba(X), atol=1e-10)
    assert_allclose(uncached.score_samples(X), threaded.score_samples(X), rtol=1e-10)


def test_warm_start_with_another_covariance_type_names_the_problem():
    X = np.random.RandomState(0).normal(size=(50, 2))
    gmm = VariationalGMM(n_components=2, random_state=0).fit(X)
    gmm.set_params(warm_start=True, covariance_type="diag")
    with pytest.raises(ValueError, match="covariance_type"):
        gmm.fit(X)
