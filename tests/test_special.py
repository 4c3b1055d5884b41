"""Tests for skvi._special against scipy.stats and Monte Carlo references."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.special import digamma, expit, multigammaln

from skvi._special import (
    beta_entropy,
    beta_expectation_log,
    beta_kl,
    digamma_about,
    dirichlet_entropy,
    dirichlet_expectation_log,
    dirichlet_kl,
    dirichlet_log_normalizer,
    gamma_entropy,
    gamma_expectation,
    gamma_expectation_log,
    gamma_expected_log_pdf,
    gamma_kl,
    gamma_log_normalizer,
    jaakkola_jordan_lambda,
    log_multivariate_gamma,
    multivariate_digamma,
    mvn_entropy,
    mvn_expected_log_pdf,
    mvn_kl,
    normal_wishart_kl,
    stick_breaking_expectation_log_weights,
    wishart_entropy,
    wishart_expectation_logdet,
    wishart_kl,
    wishart_log_normalizer,
)

N_MC = 200_000
N_MC_WISHART = 20_000  # scipy's wishart.logpdf loops in Python over samples


def assert_mc(samples, value, n_se=4.0):
    """Assert ``value`` is within ``n_se`` standard errors of the sample mean (axis 0)."""
    samples = np.asarray(samples)
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    assert np.all(np.abs(mean - value) <= n_se * se), (mean, value, se)


def random_spd(rng, D, size=(), jitter=0.5):
    A = rng.normal(size=(*size, D, D))
    return A @ np.swapaxes(A, -1, -2) / D + jitter * np.eye(D)


def sample_wishart(rng, W, nu, n):
    return stats.wishart.rvs(df=nu, scale=W, size=n, random_state=rng)


def wishart_logpdf(L, W, nu):
    """scipy's Wishart log density at a stack of matrices L of shape (n, D, D)."""
    return stats.wishart.logpdf(np.moveaxis(L, 0, -1), df=nu, scale=W)


# ------------------------------------------------------------------------------------
# multivariate gamma / digamma
# ------------------------------------------------------------------------------------


def test_log_multivariate_gamma_matches_scipy():
    a = np.array([[1.6, 2.0], [3.25, 10.0]])
    for d in (1, 2, 3):
        expected = np.vectorize(lambda x, d=d: multigammaln(x, d))(a)
        assert_allclose(log_multivariate_gamma(a, d), expected, rtol=1e-13)


def test_multivariate_digamma_is_derivative():
    a = np.array([2.0, 3.7, 12.0])
    h = 1e-5
    for d in (1, 3):
        fd = (log_multivariate_gamma(a + h, d) - log_multivariate_gamma(a - h, d)) / (2 * h)
        assert_allclose(multivariate_digamma(a, d), fd, rtol=1e-8)


# ------------------------------------------------------------------------------------
# Dirichlet
# ------------------------------------------------------------------------------------


def test_dirichlet_entropy_matches_scipy_batch():
    rng = np.random.default_rng(0)
    alpha = rng.uniform(0.2, 5.0, size=(3, 4, 5))
    H = dirichlet_entropy(alpha)
    assert H.shape == (3, 4)
    for idx in np.ndindex(3, 4):
        assert_allclose(H[idx], stats.dirichlet.entropy(alpha[idx]), rtol=1e-10, atol=1e-10)


def test_dirichlet_log_normalizer_via_logpdf():
    rng = np.random.default_rng(0)
    alpha = rng.uniform(0.3, 4.0, size=(6, 4))
    x = rng.dirichlet(np.ones(4), size=6)
    ours = np.sum((alpha - 1) * np.log(x), axis=-1) - dirichlet_log_normalizer(alpha)
    ref = [stats.dirichlet.logpdf(x[i], alpha[i]) for i in range(6)]
    assert_allclose(ours, ref, rtol=1e-10)


def test_dirichlet_expectation_log_monte_carlo():
    rng = np.random.default_rng(0)
    alpha = np.array([0.5, 1.0, 2.5, 7.0])
    log_pi = np.log(rng.dirichlet(alpha, size=N_MC))
    assert_mc(log_pi, dirichlet_expectation_log(alpha))
    batch = np.stack([alpha, alpha[::-1]])
    assert_allclose(dirichlet_expectation_log(batch)[1], dirichlet_expectation_log(alpha)[::-1])


def test_dirichlet_kl():
    rng = np.random.default_rng(0)
    a_q = np.array([2.0, 0.7, 3.0])
    a_p = np.array([1.0, 1.5, 2.0])
    assert_allclose(dirichlet_kl(a_q, a_q), 0.0, atol=1e-12)
    x = rng.dirichlet(a_q, size=N_MC)
    log_ratio = stats.dirichlet.logpdf(x.T, a_q) - stats.dirichlet.logpdf(x.T, a_p)
    assert_mc(log_ratio, dirichlet_kl(a_q, a_p))
    # random batch: non-negative, and broadcasting a single p over a batch of q
    A_q = rng.uniform(0.1, 10.0, size=(500, 6))
    A_p = rng.uniform(0.1, 10.0, size=(500, 6))
    assert np.all(dirichlet_kl(A_q, A_p) >= 0)
    assert_allclose(dirichlet_kl(A_q, A_p[0]), [dirichlet_kl(a, A_p[0]) for a in A_q])


# ------------------------------------------------------------------------------------
# Beta and stick-breaking
# ------------------------------------------------------------------------------------


def test_beta_entropy_matches_scipy_batch():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.2, 8.0, size=(4, 5))
    b = rng.uniform(0.2, 8.0, size=(5,))
    assert_allclose(beta_entropy(a, b), stats.beta.entropy(a, b), rtol=1e-10, atol=1e-10)


def test_beta_expectation_log_monte_carlo():
    rng = np.random.default_rng(0)
    a, b = 0.8, 3.0
    v = rng.beta(a, b, size=N_MC)
    e_log_v, e_log_1mv = beta_expectation_log(a, b)
    assert_mc(np.log(v), e_log_v)
    assert_mc(np.log1p(-v), e_log_1mv)


def test_beta_kl():
    rng = np.random.default_rng(0)
    assert_allclose(beta_kl(2.0, 3.0, 2.0, 3.0), 0.0, atol=1e-12)
    a_q, b_q, a_p, b_p = 2.0, 5.0, 1.0, 1.5
    v = rng.beta(a_q, b_q, size=N_MC)
    log_ratio = stats.beta.logpdf(v, a_q, b_q) - stats.beta.logpdf(v, a_p, b_p)
    assert_mc(log_ratio, beta_kl(a_q, b_q, a_p, b_p))
    params = rng.uniform(0.1, 10.0, size=(4, 1000))
    assert np.all(beta_kl(*params) >= 0)
    # the Beta is the two-component Dirichlet
    assert_allclose(
        beta_kl(*params),
        dirichlet_kl(np.stack(params[:2], -1), np.stack(params[2:], -1)),
        rtol=1e-9,
        atol=1e-12,
    )


def test_stick_breaking_expectation_log_weights_monte_carlo():
    rng = np.random.default_rng(0)
    a = np.array([1.0, 2.0, 0.7, 1.5])
    b = np.array([3.0, 1.0, 2.0, 2.5])
    v = rng.beta(a, b, size=(N_MC, 4))
    remaining = np.cumprod(np.concatenate([np.ones((N_MC, 1)), 1 - v[:, :-1]], axis=1), axis=1)
    log_pi = np.log(v * remaining)
    expected = stick_breaking_expectation_log_weights(a, b)
    assert expected.shape == (4,)
    assert_mc(log_pi, expected)
    # broadcasting over leading axes
    batch = stick_breaking_expectation_log_weights(np.stack([a, b]), np.stack([b, a]))
    assert_allclose(batch[0], expected)
    assert_allclose(batch[1], stick_breaking_expectation_log_weights(b, a))


# ------------------------------------------------------------------------------------
# Gamma
# ------------------------------------------------------------------------------------


def test_gamma_entropy_matches_scipy_batch():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.2, 20.0, size=(3, 7))
    b = rng.uniform(0.1, 10.0, size=(3, 7))
    ref = stats.gamma(a, scale=1 / b).entropy()
    assert_allclose(gamma_entropy(a, b), ref, rtol=1e-10, atol=1e-10)


def test_gamma_log_normalizer_via_logpdf():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.3, 10.0, size=8)
    b = rng.uniform(0.1, 5.0, size=8)
    x = rng.uniform(0.1, 5.0, size=8)
    ours = (a - 1) * np.log(x) - b * x - gamma_log_normalizer(a, b)
    assert_allclose(ours, stats.gamma.logpdf(x, a, scale=1 / b), rtol=1e-10)


def test_gamma_expectations_monte_carlo():
    rng = np.random.default_rng(0)
    a, b = np.array([0.7, 3.0]), np.array([2.0, 0.5])
    x = rng.gamma(a, 1 / b, size=(N_MC, 2))
    assert_mc(x, gamma_expectation(a, b))
    assert_mc(np.log(x), gamma_expectation_log(a, b))


def test_gamma_kl_and_cross_term():
    rng = np.random.default_rng(0)
    assert_allclose(gamma_kl(2.0, 3.0, 2.0, 3.0), 0.0, atol=1e-12)
    a_q, b_q, a_p, b_p = 3.0, 2.0, 1.5, 0.7
    x = rng.gamma(a_q, 1 / b_q, size=N_MC)
    log_q = stats.gamma.logpdf(x, a_q, scale=1 / b_q)
    log_p = stats.gamma.logpdf(x, a_p, scale=1 / b_p)
    assert_mc(log_q - log_p, gamma_kl(a_q, b_q, a_p, b_p))
    assert_mc(log_p, gamma_expected_log_pdf(a_q, b_q, a_p, b_p))
    params = rng.uniform(0.1, 10.0, size=(4, 1000))
    kl = gamma_kl(*params)
    assert np.all(kl >= 0)
    assert_allclose(
        kl, -gamma_entropy(*params[:2]) - gamma_expected_log_pdf(*params), rtol=1e-9, atol=1e-9
    )


def test_float32_preserved():
    alpha = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    assert dirichlet_expectation_log(alpha).dtype == np.float32
    a = np.array([1.0, 2.0], dtype=np.float32)
    assert gamma_expectation_log(a, a).dtype == np.float32
    assert jaakkola_jordan_lambda(np.array([0.0, 1.0], dtype=np.float32)).dtype == np.float32
    # the matrix functions too (module constants must not promote float32 to float64)
    W, nu = np.eye(2, dtype=np.float32), np.float32(3.0)
    assert mvn_entropy(W).dtype == np.float32
    assert wishart_entropy(W, nu).dtype == np.float32
    # integer input is promoted to float64
    assert dirichlet_expectation_log(np.array([1, 2])).dtype == np.float64


# ------------------------------------------------------------------------------------
# Multivariate normal
# ------------------------------------------------------------------------------------


def test_mvn_entropy_matches_scipy_batch():
    rng = np.random.default_rng(0)
    cov = random_spd(rng, 3, size=(2, 3))
    H = mvn_entropy(cov)
    assert H.shape == (2, 3)
    for idx in np.ndindex(2, 3):
        ref = stats.multivariate_normal(cov=cov[idx]).entropy()
        assert_allclose(H[idx], ref, rtol=1e-10, atol=1e-10)


def test_mvn_kl_and_cross_term():
    rng = np.random.default_rng(0)
    D = 3
    m_q, m_p = rng.normal(size=D), rng.normal(size=D)
    S_q, S_p = random_spd(rng, D), random_spd(rng, D)
    assert_allclose(mvn_kl(m_q, S_q, m_q, S_q), 0.0, atol=1e-12)
    x = rng.multivariate_normal(m_q, S_q, size=N_MC)
    log_q = stats.multivariate_normal.logpdf(x, m_q, S_q)
    log_p = stats.multivariate_normal.logpdf(x, m_p, S_p)
    kl = mvn_kl(m_q, S_q, m_p, S_p)
    assert_mc(log_q - log_p, kl)
    P_p = np.linalg.inv(S_p)
    assert_mc(log_p, mvn_expected_log_pdf(m_q, S_q, m_p, P_p))
    assert_allclose(kl, -mvn_entropy(S_q) - mvn_expected_log_pdf(m_q, S_q, m_p, P_p))
    # batches: non-negative; broadcasting a single p matches element-wise calls
    M_q, M_p = rng.normal(size=(200, D)), rng.normal(size=(200, D))
    C_q, C_p = random_spd(rng, D, (200,)), random_spd(rng, D, (200,))
    assert np.all(mvn_kl(M_q, C_q, M_p, C_p) >= 0)
    batch = mvn_kl(M_q[:5], C_q[:5], m_p, S_p)
    assert_allclose(batch, [mvn_kl(M_q[i], C_q[i], m_p, S_p) for i in range(5)])
    cross = mvn_expected_log_pdf(M_q[:5], C_q[:5], m_p, P_p)
    assert_allclose(cross, [mvn_expected_log_pdf(M_q[i], C_q[i], m_p, P_p) for i in range(5)])


def test_mvn_expected_log_pdf_isotropic_precision():
    # the VB-regression use: isotropic prior precision alpha I, zero mean
    rng = np.random.default_rng(0)
    m, S, alpha = rng.normal(size=4), random_spd(rng, 4), 2.5
    expected = -2 * np.log(2 * np.pi) + 2 * np.log(alpha) - 0.5 * alpha * (m @ m + np.trace(S))
    assert_allclose(mvn_expected_log_pdf(m, S, np.zeros(4), alpha * np.eye(4)), expected)


# ------------------------------------------------------------------------------------
# Wishart
# ------------------------------------------------------------------------------------


def test_wishart_entropy_matches_scipy_batch():
    rng = np.random.default_rng(0)
    D = 3
    W = random_spd(rng, D, size=(2, 2))
    nu = rng.uniform(D - 0.5, 12.0, size=(2, 2))
    H = wishart_entropy(W, nu)
    assert H.shape == (2, 2)
    for idx in np.ndindex(2, 2):
        ref = stats.wishart(df=nu[idx], scale=W[idx]).entropy()
        assert_allclose(H[idx], ref, rtol=1e-10, atol=1e-10)


def test_wishart_log_normalizer_via_logpdf():
    rng = np.random.default_rng(0)
    for D in (1, 2, 4):
        W, L = random_spd(rng, D), random_spd(rng, D)
        nu = D + 1.3
        ours = (
            0.5 * (nu - D - 1) * np.linalg.slogdet(L)[1]
            - 0.5 * np.trace(np.linalg.solve(W, L))
            - wishart_log_normalizer(W, nu)
        )
        assert_allclose(ours, stats.wishart.logpdf(L, df=nu, scale=W), rtol=1e-10)


def test_wishart_expectation_logdet_monte_carlo():
    rng = np.random.default_rng(0)
    D = 3
    W, nu = random_spd(rng, D), 4.5
    logdets = np.linalg.slogdet(sample_wishart(rng, W, nu, N_MC))[1]
    assert_mc(logdets, wishart_expectation_logdet(W, nu))
    # E[Lambda] = nu W, same parametrisation as scipy
    assert_allclose(stats.wishart.mean(df=nu, scale=W), nu * W)


def test_wishart_kl():
    rng = np.random.default_rng(0)
    D = 3
    W_q, W_p = random_spd(rng, D), random_spd(rng, D)
    nu_q, nu_p = 7.0, 4.0
    assert_allclose(wishart_kl(W_q, nu_q, W_q, nu_q), 0.0, atol=1e-12)
    L = sample_wishart(rng, W_q, nu_q, N_MC_WISHART)
    log_ratio = wishart_logpdf(L, W_q, nu_q) - wishart_logpdf(L, W_p, nu_p)
    assert_mc(log_ratio, wishart_kl(W_q, nu_q, W_p, nu_p))
    # batches: non-negative, broadcasting matches element-wise calls
    Ws_q, Ws_p = random_spd(rng, D, (100,)), random_spd(rng, D, (100,))
    nus_q, nus_p = rng.uniform(D - 0.9, 15, 100), rng.uniform(D - 0.9, 15, 100)
    assert np.all(wishart_kl(Ws_q, nus_q, Ws_p, nus_p) >= 0)
    batch = wishart_kl(Ws_q[:4], nus_q[:4], W_p, nu_p)
    assert_allclose(batch, [wishart_kl(Ws_q[i], nus_q[i], W_p, nu_p) for i in range(4)])


# ------------------------------------------------------------------------------------
# Normal-Wishart
# ------------------------------------------------------------------------------------


def _normal_wishart_logpdf(mu, Lam, chol_Lam, m, beta, W, nu):
    """log N(mu | m, (beta Lam)^-1) + log W(Lam | W, nu), vectorised over samples.

    The Gaussian factor is scipy's standard normal at the whitened point
    ``z = sqrt(beta) chol(Lam)^T (mu - m)`` plus the log-Jacobian ``1/2 log|beta Lam|``.
    """
    D = mu.shape[-1]
    z = np.sqrt(beta) * np.einsum("nji,nj->ni", chol_Lam, mu - m)
    log_jac = 0.5 * D * np.log(beta) + np.sum(
        np.log(np.diagonal(chol_Lam, axis1=-2, axis2=-1)), axis=-1
    )
    log_gauss = stats.multivariate_normal(mean=np.zeros(D)).logpdf(z) + log_jac
    return log_gauss + wishart_logpdf(Lam, W, nu)


def test_normal_wishart_kl_monte_carlo():
    rng = np.random.default_rng(0)
    D = 2
    m_q, m_p = np.array([0.5, -1.0]), np.array([0.0, 0.3])
    beta_q, beta_p = 3.0, 0.8
    W_q, W_p = random_spd(rng, D), random_spd(rng, D)
    nu_q, nu_p = 6.0, 3.5
    args_q = (m_q, beta_q, W_q, nu_q)
    args_p = (m_p, beta_p, W_p, nu_p)
    assert_allclose(normal_wishart_kl(*args_q, *args_q), 0.0, atol=1e-12)

    n = N_MC_WISHART
    Lam = sample_wishart(rng, W_q, nu_q, n)
    chol_Lam = np.linalg.cholesky(Lam)
    eps = rng.normal(size=(n, D, 1))
    # mu - m_q = chol^-T eps / sqrt(beta_q) has covariance (beta_q Lam)^-1
    mu = m_q + np.linalg.solve(np.swapaxes(chol_Lam, -1, -2), eps)[..., 0] / np.sqrt(beta_q)

    # the whitened Gaussian density agrees with scipy's at the explicit covariance
    for i in range(3):
        ref = stats.multivariate_normal.logpdf(mu[i], m_p, np.linalg.inv(beta_p * Lam[i]))
        ours = _normal_wishart_logpdf(mu[i : i + 1], Lam[i : i + 1], chol_Lam[i : i + 1], *args_p)
        assert_allclose(ours - wishart_logpdf(Lam[i : i + 1], W_p, nu_p), ref, rtol=1e-10)

    log_q = _normal_wishart_logpdf(mu, Lam, chol_Lam, *args_q)
    log_p = _normal_wishart_logpdf(mu, Lam, chol_Lam, *args_p)
    kl = normal_wishart_kl(*args_q, *args_p)
    assert_mc(log_q - log_p, kl)
    assert kl > wishart_kl(W_q, nu_q, W_p, nu_p)


def test_normal_wishart_kl_batch():
    rng = np.random.default_rng(0)
    D, n = 3, 50
    m_q, m_p = rng.normal(size=(n, D)), rng.normal(size=(n, D))
    b_q, b_p = rng.uniform(0.1, 5, n), rng.uniform(0.1, 5, n)
    W_q, W_p = random_spd(rng, D, (n,)), random_spd(rng, D, (n,))
    nu_q, nu_p = rng.uniform(D, 10, n), rng.uniform(D, 10, n)
    kl = normal_wishart_kl(m_q, b_q, W_q, nu_q, m_p, b_p, W_p, nu_p)
    assert kl.shape == (n,)
    assert np.all(kl >= 0)
    one = [
        normal_wishart_kl(m_q[i], b_q[i], W_q[i], nu_q[i], m_p[i], b_p[i], W_p[i], nu_p[i])
        for i in range(4)
    ]
    assert_allclose(kl[:4], one)
    # with identical Wisharts, only the expected conditional Gaussian KL remains
    gauss_only = normal_wishart_kl(
        m_q[0], b_q[0], W_q[0], nu_q[0], m_p[0], b_p[0], W_q[0], nu_q[0]
    )
    d = m_q[0] - m_p[0]
    r = b_p[0] / b_q[0]
    expected = 0.5 * (D * r - D - D * np.log(r) + b_p[0] * nu_q[0] * d @ W_q[0] @ d)
    assert_allclose(gauss_only, expected, rtol=1e-10)


# ------------------------------------------------------------------------------------
# Jaakkola-Jordan
# ------------------------------------------------------------------------------------


def test_jaakkola_jordan_lambda_values():
    xi = np.array([-30.0, -2.0, -1e-3, 1e-3, 0.5, 2.0, 30.0, 1e3])
    assert_allclose(jaakkola_jordan_lambda(xi), np.tanh(xi / 2) / (4 * xi), rtol=1e-14)
    assert jaakkola_jordan_lambda(0.0) == 0.125
    assert_allclose(jaakkola_jordan_lambda(xi), jaakkola_jordan_lambda(-xi), rtol=0, atol=0)
    # (sigma(xi) - 1/2) / (2 xi), PRML eq. 10.150
    assert_allclose(jaakkola_jordan_lambda(2.0), (expit(2.0) - 0.5) / 4.0, rtol=1e-14)


def test_jaakkola_jordan_lambda_continuous_near_zero():
    xi = np.concatenate([-np.logspace(-12, -2, 41), [0.0], np.logspace(-12, -2, 41)])
    lam = jaakkola_jordan_lambda(xi)
    assert_allclose(lam, 0.125 - xi**2 / 96 + xi**4 / 960, rtol=1e-14)
    # across the switch point of the series
    edge = np.array([1e-4 * (1 - 1e-12), 1e-4, 1e-4 * (1 + 1e-12)])
    assert np.ptp(jaakkola_jordan_lambda(edge)) < 1e-15


def test_jaakkola_jordan_bound():
    x = np.linspace(-12.0, 12.0, 481)[:, None]
    xi = np.array([0.0, 0.3, 1.0, 2.5, 7.0, -1.5])[None, :]
    lam = jaakkola_jordan_lambda(xi)

    def bound(x):
        return expit(xi) * np.exp((x - xi) / 2 - lam * (x**2 - xi**2))

    assert np.all(expit(x) >= bound(x) * (1 - 1e-12))
    assert_allclose(bound(xi), expit(xi), rtol=1e-13)
    assert_allclose(bound(-xi), expit(-xi), rtol=1e-13)


@pytest.mark.parametrize(
    "func, args",
    [
        (dirichlet_entropy, (np.array([1e-3, 1e3, 1.0]),)),
        (gamma_kl, (1e-3, 1e3, 1e3, 1e-3)),
        (beta_kl, (1e-3, 1e3, 1e3, 1e-3)),
        (jaakkola_jordan_lambda, (np.array([0.0, -0.0, 1e-300, 1e300]),)),
    ],
)
def test_extreme_but_valid_inputs_are_finite(func, args):
    assert np.all(np.isfinite(func(*args)))


@pytest.mark.parametrize("center", [0.001, 0.01, 0.05, 1.0, 1.4616, 30.0])
def test_digamma_about_matches_scipy_near_and_far_from_the_center(center):
    # Values in the series' band (its edges included), far below and far above it,
    # across chunks; within two ulps of scipy's (absolute near psi's root at 1.4616).
    rng = np.random.RandomState(0)
    band = center + np.linspace(-0.005, 0.005, 50_001)
    band = band[band > 0]
    x = np.concatenate([band, rng.uniform(1e-4, 1e3, 30_000), [center, 1e-300, 1e300]])
    rng.shuffle(x)
    before = x.copy()
    got = digamma_about(x, center)
    expected = digamma(x)
    assert_array_equal(x, before)
    tolerance = 2 * np.spacing(np.maximum(np.abs(expected), 1.0))
    assert np.all(np.abs(got - expected) <= tolerance)
    size = x.size - x.size % 7
    in_place = x[:size].reshape(-1, 7)  # also in place, in any shape
    assert digamma_about(in_place, center, out=in_place) is in_place
    assert_array_equal(in_place.ravel(), got[:size])
    strided = np.empty((x.size, 2))[:, 0]  # an output that is not contiguous
    digamma_about(x, center, out=strided)
    assert_array_equal(strided, digamma_about(x, center))
