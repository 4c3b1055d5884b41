"""Expectations, entropies, KL divergences and log-normalisers for mean-field VI.

Pure, vectorised math for the exponential families that skvi's mean-field variational
factors use. No estimator state lives here. Every function takes numpy arrays whose
leading axes index a batch of distributions and broadcast against each other;
float32 inputs stay float32 where the underlying ufuncs allow it, anything else is
computed in float64. Matrix work on stacked ``(..., D, D)`` arrays goes through
:mod:`numpy.linalg` only (numpy and scipy ship separate OpenBLAS thread pools, and
mixing them on large stacks stalls).

Parametrisations, as in Bishop, *Pattern Recognition and Machine Learning* (PRML,
2006), Appendix B:

Dirichlet ``Dir(pi | alpha)``
    ``alpha`` has shape ``(..., K)``, the components along the last axis.
    ``E[log pi_k] = psi(alpha_k) - psi(alpha_0)`` (B.21), entropy (B.22), normaliser
    ``C(alpha) = 1 / B(alpha)`` (B.23), ``alpha_0 = sum_k alpha_k`` (B.24).
Beta ``Beta(v | a, b)``
    The two-component Dirichlet, ``E[log v] = psi(a) - psi(a + b)``.
Stick-breaking (truncated Dirichlet process)
    ``v_k ~ Beta(a_k, b_k)``, ``pi_k = v_k prod_{j<k} (1 - v_j)`` (Blei & Jordan 2006).
Gamma ``Gam(x | a, b)``
    Shape ``a`` and RATE ``b``: ``p(x) = b^a x^(a-1) exp(-b x) / Gamma(a)`` (B.26),
    ``E[x] = a / b`` (B.27), ``E[log x] = psi(a) - log b`` (B.30), entropy (B.31).
Gaussian ``N(x | mu, Sigma)``
    Mean ``(..., D)``, covariance ``(..., D, D)`` (B.37-B.39), entropy (B.41).
Wishart ``W(Lambda | W, nu)``
    Scale matrix ``W`` of shape ``(..., D, D)`` and degrees of freedom ``nu > D - 1``
    of shape ``(...)``, so that ``E[Lambda] = nu W`` (B.78-B.80),
    ``E[log|Lambda|]`` (B.81), entropy (B.82). This is also scipy's
    ``wishart(df=nu, scale=W)``.
Normal-Wishart ``N(mu | m, (beta Lambda)^-1) W(Lambda | W, nu)``
    PRML Section 2.3.6, used as the conjugate prior of the Gaussian mixture (Section
    10.2).

Sign convention for log-normalisers: every ``*_log_normalizer`` returns ``log Z``, the
quantity SUBTRACTED from the unnormalised log density, e.g.
``log Gam(x | a, b) = (a - 1) log x - b x - gamma_log_normalizer(a, b)`` and
``log W(Lambda | W, nu) = (nu - D - 1)/2 log|Lambda| - tr(W^-1 Lambda)/2
- wishart_log_normalizer(W, nu)``, so ``wishart_log_normalizer = -log B(W, nu)`` in
PRML's notation (B.79).

All KL divergences are ``KL(q || p)``, the first group of arguments being ``q``.

References
----------
C. M. Bishop (2006). Pattern Recognition and Machine Learning. Springer. Appendix B.

D. M. Blei and M. I. Jordan (2006). Variational inference for Dirichlet process
mixtures. Bayesian Analysis 1(1), 121-143.

T. S. Jaakkola and M. I. Jordan (2000). Bayesian parameter estimation via variational
methods. Statistics and Computing 10, 25-37.
"""

import functools
import math
import operator

import numpy as np
from scipy.special import betaln, digamma, gammaln, polygamma

__all__ = [
    "beta_entropy",
    "beta_expectation_log",
    "beta_kl",
    "digamma_about",
    "dirichlet_entropy",
    "dirichlet_expectation_log",
    "dirichlet_kl",
    "dirichlet_log_normalizer",
    "gamma_entropy",
    "gamma_expectation",
    "gamma_expectation_log",
    "gamma_expected_log_pdf",
    "gamma_kl",
    "gamma_log_normalizer",
    "jaakkola_jordan_lambda",
    "log_multivariate_gamma",
    "multivariate_digamma",
    "mvn_entropy",
    "mvn_expected_log_pdf",
    "mvn_kl",
    "normal_wishart_kl",
    "stick_breaking_expectation_log_weights",
    "wishart_entropy",
    "wishart_expectation_logdet",
    "wishart_kl",
    "wishart_log_normalizer",
]

# Python floats, not numpy scalars, so that float32 arrays stay float32 (NEP 50)
_LOG_2 = math.log(2.0)
_LOG_PI = math.log(math.pi)
LOG_2PI = math.log(2.0 * math.pi)  # shared by the estimators' ELBOs


def _as_float(x):
    """Return ``x`` as an array of floating dtype (float32/float64 kept, else float64)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


def _logdet(A):
    """Log-determinant of a stack of positive-definite matrices, via slogdet."""
    return np.linalg.slogdet(A)[1]


def _chol_logdet(L):
    """Log-determinant of ``L L^T`` from its Cholesky factor ``L``."""
    return 2.0 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1)


# ---------------------------------------------------------------------------------------
# Multivariate gamma and digamma
# ---------------------------------------------------------------------------------------


def log_multivariate_gamma(a, d):
    """Log of the multivariate gamma function, vectorised over ``a``.

    ``log Gamma_d(a) = d (d - 1) / 4 log(pi) + sum_{j=1}^{d} gammaln(a + (1 - j) / 2)``,
    the same as :func:`scipy.special.multigammaln` but for arrays.

    Parameters
    ----------
    a : array_like
        Arguments, each ``> (d - 1) / 2``.
    d : int
        Dimension.

    Returns
    -------
    ndarray
        ``log Gamma_d(a)``, same shape as ``a``.

    Examples
    --------
    >>> from scipy.special import multigammaln
    >>> bool(np.isclose(log_multivariate_gamma(3.5, 3), multigammaln(3.5, 3)))
    True
    """
    a = _as_float(a)
    d = operator.index(d)
    out = np.full_like(a, d * (d - 1) / 4.0 * _LOG_PI)
    for j in range(1, d + 1):
        out = out + gammaln(a + (1 - j) / 2.0)
    return out


def multivariate_digamma(a, d):
    """Multivariate digamma function ``sum_{j=1}^{d} psi(a + (1 - j) / 2)``.

    The derivative of :func:`log_multivariate_gamma` with respect to ``a``.

    Parameters
    ----------
    a : array_like
        Arguments, each ``> (d - 1) / 2``.
    d : int
        Dimension.

    Returns
    -------
    ndarray
        Same shape as ``a``.
    """
    a = _as_float(a)
    d = operator.index(d)
    out = np.zeros_like(a)
    for j in range(1, d + 1):
        out = out + digamma(a + (1 - j) / 2.0)
    return out


# ---------------------------------------------------------------------------------------
# Dirichlet (PRML B.16-B.24)
# ---------------------------------------------------------------------------------------


#: Half-width of the band about the center where ``digamma_about`` uses its series,
#: the series' degree, and the chunk of elements it evaluates at a time (in L2 cache).
_ABOUT_HALF_WIDTH = 0.005
_ABOUT_DEGREE = 6
_ABOUT_CHUNK = 1 << 15


@functools.lru_cache(maxsize=8)
def _about_coefficients(center):
    """Taylor coefficients of ``psi(1 + x)`` about ``x = center``: ``psi^(n)(1 + center)
    / n!``, n = 0 .. ``_ABOUT_DEGREE``."""
    return [float(digamma(1.0 + center))] + [
        float(polygamma(n, 1.0 + center)) / math.factorial(n) for n in range(1, _ABOUT_DEGREE + 1)
    ]


def digamma_about(x, center, out=None):
    """``digamma(x)`` for a float64 array whose values cluster about ``center``.

    Online LDA's topic entries ``lambda_kw`` mostly sit just above the prior ``eta``
    (92-97% within 0.0025 of it on the benchmark corpus at K=100), where scipy's
    digamma takes ~9 ns an element (it climbs to x >= 10 by recurrence). There,
    ``psi(x) = psi(1 + x) - 1/x`` with ``psi(1 + x)`` smooth: its Taylor series about
    ``1 + center`` to degree 6 (coefficients ``psi^(n)(1 + center) / n!``) has a
    remainder below ``0.005^7 ~ 8e-17``; elements farther than 0.005 from the center
    go to scipy, and so do arrays of fewer than 32,768 elements (there the set-up costs
    more than the series saves). Measured: 1.3-1.9 ms instead of 2.8-2.9 ms for
    3,200 x 100 entries, within one ulp of scipy's values.

    Parameters
    ----------
    x : ndarray of float64
        Positive values (not modified).
    center : float
        Where the values cluster, positive.
    out : ndarray of float64, optional
        Where to write the result (may be ``x`` itself).

    Returns
    -------
    ndarray
        ``digamma(x)``.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x) if out is None else out
    if x.size < _ABOUT_CHUNK:  # the series' set-up costs more than it saves
        return digamma(x, out=out)
    if not (x.flags.c_contiguous and out.flags.c_contiguous):  # the chunks are flat views
        out[...] = digamma_about(np.ascontiguousarray(x), center)
        return out
    degree, center = _ABOUT_DEGREE, float(center)
    coef = _about_coefficients(center)
    flat, result = x.reshape(-1), out.reshape(-1)
    for start in range(0, flat.size, _ABOUT_CHUNK):
        values = flat[start : start + _ABOUT_CHUNK]
        offset = values - center
        far = np.flatnonzero(np.abs(offset) > _ABOUT_HALF_WIDTH)
        far_values = values[far]  # before ``out`` (possibly ``x``) is written
        chunk = result[start : start + _ABOUT_CHUNK]
        with np.errstate(over="ignore", invalid="ignore"):  # far values are replaced
            reciprocal = np.divide(1.0, values)
            np.multiply(offset, coef[degree], out=chunk)  # Horner
            for c in coef[degree - 1 : 0 : -1]:
                chunk += c
                chunk *= offset
            chunk += coef[0]
            chunk -= reciprocal
        if far.size:
            chunk[far] = digamma(far_values)
    return out


def dirichlet_expectation_log(alpha):
    """Expected log of a Dirichlet variable, ``E[log pi_k]`` (PRML B.21).

    Parameters
    ----------
    alpha : array_like of shape (..., K)
        Concentrations, positive.

    Returns
    -------
    ndarray of shape (..., K)
        ``digamma(alpha) - digamma(alpha.sum(-1))``.
    """
    alpha = _as_float(alpha)
    return digamma(alpha) - digamma(alpha.sum(axis=-1, keepdims=True))


def dirichlet_log_normalizer(alpha):
    """Log of the multivariate Beta function, ``log B(alpha) = -log C(alpha)`` (B.23).

    Parameters
    ----------
    alpha : array_like of shape (..., K)
        Concentrations, positive.

    Returns
    -------
    ndarray of shape (...)
        ``sum_k gammaln(alpha_k) - gammaln(alpha_0)``.
    """
    alpha = _as_float(alpha)
    return gammaln(alpha).sum(axis=-1) - gammaln(alpha.sum(axis=-1))


def dirichlet_entropy(alpha):
    """Entropy of a Dirichlet distribution (PRML B.22).

    Parameters
    ----------
    alpha : array_like of shape (..., K)
        Concentrations, positive.

    Returns
    -------
    ndarray of shape (...)
        ``log B(alpha) - sum_k (alpha_k - 1) E[log pi_k]``.
    """
    alpha = _as_float(alpha)
    return dirichlet_log_normalizer(alpha) - np.sum(
        (alpha - 1.0) * dirichlet_expectation_log(alpha), axis=-1
    )


def dirichlet_kl(alpha_q, alpha_p):
    """KL divergence ``KL(Dir(alpha_q) || Dir(alpha_p))``.

    Parameters
    ----------
    alpha_q, alpha_p : array_like of shape (..., K)
        Concentrations of ``q`` and ``p``, positive, broadcast against each other.

    Returns
    -------
    ndarray of shape (...)
        ``log B(alpha_p) - log B(alpha_q) + sum_k (alpha_q - alpha_p)_k E_q[log pi_k]``.
    """
    alpha_q = _as_float(alpha_q)
    alpha_p = _as_float(alpha_p)
    return (
        dirichlet_log_normalizer(alpha_p)
        - dirichlet_log_normalizer(alpha_q)
        + np.sum((alpha_q - alpha_p) * dirichlet_expectation_log(alpha_q), axis=-1)
    )


# ---------------------------------------------------------------------------------------
# Beta and stick-breaking (Blei & Jordan 2006)
# ---------------------------------------------------------------------------------------


def beta_expectation_log(a, b):
    """Expected logs of a Beta variable, ``E[log v]`` and ``E[log(1 - v)]``.

    Parameters
    ----------
    a, b : array_like
        Positive shape parameters, broadcast against each other.

    Returns
    -------
    e_log_v, e_log_1mv : ndarray
        ``digamma(a) - digamma(a + b)`` and ``digamma(b) - digamma(a + b)``.
    """
    a = _as_float(a)
    b = _as_float(b)
    psi_ab = digamma(a + b)
    return digamma(a) - psi_ab, digamma(b) - psi_ab


def beta_entropy(a, b):
    """Entropy of a Beta distribution.

    Parameters
    ----------
    a, b : array_like
        Positive shape parameters, broadcast against each other.

    Returns
    -------
    ndarray
        ``log B(a, b) - (a - 1) E[log v] - (b - 1) E[log(1 - v)]``.
    """
    a = _as_float(a)
    b = _as_float(b)
    e_log_v, e_log_1mv = beta_expectation_log(a, b)
    return betaln(a, b) - (a - 1.0) * e_log_v - (b - 1.0) * e_log_1mv


def beta_kl(a_q, b_q, a_p, b_p):
    """KL divergence ``KL(Beta(a_q, b_q) || Beta(a_p, b_p))``.

    Parameters
    ----------
    a_q, b_q : array_like
        Shape parameters of ``q``.
    a_p, b_p : array_like
        Shape parameters of ``p``. All four broadcast against each other.

    Returns
    -------
    ndarray
        The KL divergence, non-negative.
    """
    a_q, b_q, a_p, b_p = (_as_float(x) for x in (a_q, b_q, a_p, b_p))
    e_log_v, e_log_1mv = beta_expectation_log(a_q, b_q)
    return betaln(a_p, b_p) - betaln(a_q, b_q) + (a_q - a_p) * e_log_v + (b_q - b_p) * e_log_1mv


def stick_breaking_expectation_log_weights(a, b):
    """Expected log mixture weights under a truncated stick-breaking posterior.

    With ``v_k ~ Beta(a_k, b_k)`` and ``pi_k = v_k prod_{j<k} (1 - v_j)``,
    ``E[log pi_k] = E[log v_k] + sum_{j<k} E[log(1 - v_j)]`` (Blei & Jordan 2006).
    All ``K`` sticks are treated alike; a caller that fixes the last stick at one
    passes whatever ``a_K, b_K`` it uses for it.

    Parameters
    ----------
    a, b : array_like of shape (..., K)
        Beta parameters of the sticks, along the last axis.

    Returns
    -------
    ndarray of shape (..., K)
        ``E[log pi_k]``.
    """
    e_log_v, e_log_1mv = beta_expectation_log(a, b)
    cum = np.cumsum(e_log_1mv, axis=-1)
    # exclusive cumulative sum: sum_{j<k}, which is zero for k = 0
    return e_log_v + cum - e_log_1mv


# ---------------------------------------------------------------------------------------
# Gamma, shape a and rate b (PRML B.26-B.31)
# ---------------------------------------------------------------------------------------


def gamma_expectation(a, b):
    """Mean of a Gamma distribution, ``E[x] = a / b`` (PRML B.27).

    Parameters
    ----------
    a, b : array_like
        Shape and rate, positive.

    Returns
    -------
    ndarray
        ``a / b``.
    """
    return _as_float(a) / _as_float(b)


def gamma_expectation_log(a, b):
    """Expected log of a Gamma variable, ``E[log x] = psi(a) - log b`` (PRML B.30).

    Parameters
    ----------
    a, b : array_like
        Shape and rate, positive.

    Returns
    -------
    ndarray
        ``digamma(a) - log(b)``.
    """
    return digamma(_as_float(a)) - np.log(_as_float(b))


def gamma_log_normalizer(a, b):
    """Log-normaliser of a Gamma distribution (from PRML B.26).

    ``log Gam(x | a, b) = (a - 1) log x - b x - gamma_log_normalizer(a, b)``.

    Parameters
    ----------
    a, b : array_like
        Shape and rate, positive.

    Returns
    -------
    ndarray
        ``gammaln(a) - a log(b)``.
    """
    a = _as_float(a)
    return gammaln(a) - a * np.log(_as_float(b))


def gamma_entropy(a, b):
    """Entropy of a Gamma distribution (PRML B.31).

    Parameters
    ----------
    a, b : array_like
        Shape and rate, positive.

    Returns
    -------
    ndarray
        ``gammaln(a) - (a - 1) psi(a) - log(b) + a``.
    """
    a = _as_float(a)
    b = _as_float(b)
    return gammaln(a) - (a - 1.0) * digamma(a) - np.log(b) + a


def gamma_expected_log_pdf(a_q, b_q, a_p, b_p):
    """Cross term ``E_{Gam(x | a_q, b_q)}[log Gam(x | a_p, b_p)]``.

    ``gamma_kl(a_q, b_q, a_p, b_p) = -gamma_entropy(a_q, b_q) - this``.

    Parameters
    ----------
    a_q, b_q : array_like
        Shape and rate of the distribution the expectation is under.
    a_p, b_p : array_like
        Shape and rate of the density being averaged.

    Returns
    -------
    ndarray
        ``(a_p - 1) E_q[log x] - b_p E_q[x] - gamma_log_normalizer(a_p, b_p)``.
    """
    a_q, b_q, a_p, b_p = (_as_float(x) for x in (a_q, b_q, a_p, b_p))
    return (
        (a_p - 1.0) * gamma_expectation_log(a_q, b_q)
        - b_p * (a_q / b_q)
        - gamma_log_normalizer(a_p, b_p)
    )


def gamma_kl(a_q, b_q, a_p, b_p):
    """KL divergence ``KL(Gam(a_q, b_q) || Gam(a_p, b_p))`` (shape, rate).

    Parameters
    ----------
    a_q, b_q : array_like
        Shape and rate of ``q``.
    a_p, b_p : array_like
        Shape and rate of ``p``.

    Returns
    -------
    ndarray
        ``(a_q - a_p) psi(a_q) - gammaln(a_q) + gammaln(a_p)
        + a_p log(b_q / b_p) + a_q (b_p - b_q) / b_q``.
    """
    a_q, b_q, a_p, b_p = (_as_float(x) for x in (a_q, b_q, a_p, b_p))
    return (
        (a_q - a_p) * digamma(a_q)
        - gammaln(a_q)
        + gammaln(a_p)
        + a_p * (np.log(b_q) - np.log(b_p))
        + a_q * (b_p - b_q) / b_q
    )


# ---------------------------------------------------------------------------------------
# Multivariate normal (PRML B.37-B.41)
# ---------------------------------------------------------------------------------------


def mvn_entropy(cov):
    """Entropy of a multivariate normal distribution (PRML B.41).

    Parameters
    ----------
    cov : array_like of shape (..., D, D)
        Covariance matrices, positive definite.

    Returns
    -------
    ndarray of shape (...)
        ``D/2 (1 + log 2 pi) + 1/2 log|cov|``.
    """
    cov = _as_float(cov)
    D = cov.shape[-1]
    return 0.5 * D * (1.0 + LOG_2PI) + 0.5 * _logdet(cov)


def mvn_kl(mean_q, cov_q, mean_p, cov_p):
    """KL divergence ``KL(N(mean_q, cov_q) || N(mean_p, cov_p))``.

    Computed from the Cholesky factors ``L_q``, ``L_p``, without an explicit inverse:
    ``1/2 [ ||L_p^-1 L_q||_F^2 + ||L_p^-1 (m_q - m_p)||^2 - D + log|cov_p| - log|cov_q| ]``.

    Parameters
    ----------
    mean_q : array_like of shape (..., D)
    cov_q : array_like of shape (..., D, D)
        Mean and covariance of ``q``.
    mean_p : array_like of shape (..., D)
    cov_p : array_like of shape (..., D, D)
        Mean and covariance of ``p``.

    Returns
    -------
    ndarray of shape (...)
        The KL divergence, non-negative.
    """
    mean_q, cov_q, mean_p, cov_p = (_as_float(x) for x in (mean_q, cov_q, mean_p, cov_p))
    D = cov_q.shape[-1]
    L_q = np.linalg.cholesky(cov_q)
    L_p = np.linalg.cholesky(cov_p)
    trace_term = np.sum(np.linalg.solve(L_p, L_q) ** 2, axis=(-2, -1))
    diff = (mean_q - mean_p)[..., None]
    z = np.linalg.solve(L_p, diff)
    maha = np.sum(z**2, axis=(-2, -1))
    return 0.5 * (trace_term + maha - D + _chol_logdet(L_p) - _chol_logdet(L_q))


def mvn_expected_log_pdf(mean_q, cov_q, mean_p, prec_p):
    """Cross term ``E_{N(x | mean_q, cov_q)}[log N(x | mean_p, prec_p^-1)]``.

    ``p`` is given by its PRECISION matrix ``P`` (PRML B.37 with ``Lambda = P``):
    ``-D/2 log 2 pi + 1/2 log|P| - 1/2 [(m_q - m_p)^T P (m_q - m_p) + tr(P cov_q)]``.
    Thus ``mvn_kl(m_q, S_q, m_p, S_p) = -mvn_entropy(S_q) - this(m_q, S_q, m_p, S_p^-1)``.

    Parameters
    ----------
    mean_q : array_like of shape (..., D)
    cov_q : array_like of shape (..., D, D)
        Mean and covariance of the distribution the expectation is under.
    mean_p : array_like of shape (..., D)
    prec_p : array_like of shape (..., D, D)
        Mean and precision of the density being averaged.

    Returns
    -------
    ndarray of shape (...)
        The expected log density.
    """
    mean_q, cov_q, mean_p, prec_p = (_as_float(x) for x in (mean_q, cov_q, mean_p, prec_p))
    D = prec_p.shape[-1]
    diff = mean_q - mean_p
    maha = np.einsum("...i,...ij,...j->...", diff, prec_p, diff)
    trace_term = np.einsum("...ij,...ji->...", prec_p, cov_q)
    return -0.5 * D * LOG_2PI + 0.5 * _logdet(prec_p) - 0.5 * (maha + trace_term)


# ---------------------------------------------------------------------------------------
# Wishart (PRML B.78-B.82)
# ---------------------------------------------------------------------------------------


def wishart_expectation_logdet(W, nu):
    """Expected log-determinant of a Wishart matrix, ``E[log|Lambda|]`` (PRML B.81).

    Parameters
    ----------
    W : array_like of shape (..., D, D)
        Scale matrices, positive definite.
    nu : array_like of shape (...)
        Degrees of freedom, ``> D - 1``.

    Returns
    -------
    ndarray of shape (...)
        ``sum_{i=1}^{D} psi((nu + 1 - i)/2) + D log 2 + log|W|``.
    """
    W = _as_float(W)
    nu = _as_float(nu)
    D = W.shape[-1]
    return multivariate_digamma(0.5 * nu, D) + D * _LOG_2 + _logdet(W)


def wishart_log_normalizer(W, nu):
    """Log-normaliser of a Wishart distribution, ``-log B(W, nu)`` (from PRML B.79).

    ``log W(Lambda | W, nu) = (nu - D - 1)/2 log|Lambda| - tr(W^-1 Lambda)/2
    - wishart_log_normalizer(W, nu)``.

    Parameters
    ----------
    W : array_like of shape (..., D, D)
        Scale matrices, positive definite.
    nu : array_like of shape (...)
        Degrees of freedom, ``> D - 1``.

    Returns
    -------
    ndarray of shape (...)
        ``nu/2 log|W| + nu D/2 log 2 + log Gamma_D(nu/2)``.
    """
    W = _as_float(W)
    nu = _as_float(nu)
    D = W.shape[-1]
    return 0.5 * nu * _logdet(W) + 0.5 * nu * D * _LOG_2 + log_multivariate_gamma(0.5 * nu, D)


def wishart_entropy(W, nu):
    """Entropy of a Wishart distribution (PRML B.82).

    Parameters
    ----------
    W : array_like of shape (..., D, D)
        Scale matrices, positive definite.
    nu : array_like of shape (...)
        Degrees of freedom, ``> D - 1``.

    Returns
    -------
    ndarray of shape (...)
        ``-log B(W, nu) - (nu - D - 1)/2 E[log|Lambda|] + nu D / 2``.
    """
    W = _as_float(W)
    nu = _as_float(nu)
    D = W.shape[-1]
    return (
        wishart_log_normalizer(W, nu)
        - 0.5 * (nu - D - 1.0) * wishart_expectation_logdet(W, nu)
        + 0.5 * nu * D
    )


def _wishart_kl_parts(W_q, nu_q, W_p, nu_p):
    """KL of two Wisharts, plus the Cholesky factor of ``W_q`` for reuse."""
    D = W_q.shape[-1]
    L_q = np.linalg.cholesky(W_q)
    L_p = np.linalg.cholesky(W_p)
    logdet_q = _chol_logdet(L_q)
    logdet_p = _chol_logdet(L_p)
    # tr(W_p^-1 W_q) = ||L_p^-1 L_q||_F^2
    trace_term = np.sum(np.linalg.solve(L_p, L_q) ** 2, axis=(-2, -1))
    half_nu_q = 0.5 * nu_q
    half_nu_p = 0.5 * nu_p
    e_logdet_q = multivariate_digamma(half_nu_q, D) + D * _LOG_2 + logdet_q
    kl = (
        (half_nu_q - half_nu_p) * e_logdet_q
        - half_nu_q * D
        + half_nu_q * trace_term
        # log-normaliser of p minus that of q
        + half_nu_p * logdet_p
        - half_nu_q * logdet_q
        + (half_nu_p - half_nu_q) * D * _LOG_2
        + log_multivariate_gamma(half_nu_p, D)
        - log_multivariate_gamma(half_nu_q, D)
    )
    return kl, L_q


def wishart_kl(W_q, nu_q, W_p, nu_p):
    """KL divergence ``KL(W(W_q, nu_q) || W(W_p, nu_p))``.

    ``(nu_q - nu_p)/2 E_q[log|Lambda|] - nu_q D/2 + nu_q/2 tr(W_p^-1 W_q)
    + wishart_log_normalizer(W_p, nu_p) - wishart_log_normalizer(W_q, nu_q)``,
    with the trace and log-determinants from Cholesky factors.

    Parameters
    ----------
    W_q : array_like of shape (..., D, D)
    nu_q : array_like of shape (...)
        Scale matrix and degrees of freedom of ``q``.
    W_p : array_like of shape (..., D, D)
    nu_p : array_like of shape (...)
        Scale matrix and degrees of freedom of ``p``.

    Returns
    -------
    ndarray of shape (...)
        The KL divergence, non-negative.
    """
    W_q, nu_q, W_p, nu_p = (_as_float(x) for x in (W_q, nu_q, W_p, nu_p))
    return _wishart_kl_parts(W_q, nu_q, W_p, nu_p)[0]


# ---------------------------------------------------------------------------------------
# Normal-Wishart (PRML Section 2.3.6)
# ---------------------------------------------------------------------------------------


def normal_wishart_kl(m_q, beta_q, W_q, nu_q, m_p, beta_p, W_p, nu_p):
    """KL divergence between two Normal-Wishart distributions.

    ``q(mu, Lambda) = N(mu | m_q, (beta_q Lambda)^-1) W(Lambda | W_q, nu_q)`` and likewise
    ``p``. The chain rule gives ``KL(q(Lambda) || p(Lambda))`` plus
    ``E_{q(Lambda)}[KL(q(mu | Lambda) || p(mu | Lambda))]``; both conditionals share
    ``Lambda``, so ``log|Lambda|`` cancels and with ``E_q[Lambda] = nu_q W_q`` the second
    term is
    ``1/2 [D beta_p/beta_q - D + D log(beta_q/beta_p) + beta_p nu_q d^T W_q d]``,
    ``d = m_q - m_p``.

    Parameters
    ----------
    m_q : array_like of shape (..., D)
    beta_q : array_like of shape (...)
    W_q : array_like of shape (..., D, D)
    nu_q : array_like of shape (...)
        Parameters of ``q``.
    m_p : array_like of shape (..., D)
    beta_p : array_like of shape (...)
    W_p : array_like of shape (..., D, D)
    nu_p : array_like of shape (...)
        Parameters of ``p``.

    Returns
    -------
    ndarray of shape (...)
        The KL divergence, non-negative.
    """
    m_q, beta_q, W_q, nu_q, m_p, beta_p, W_p, nu_p = (
        _as_float(x) for x in (m_q, beta_q, W_q, nu_q, m_p, beta_p, W_p, nu_p)
    )
    D = W_q.shape[-1]
    kl_wishart, L_q = _wishart_kl_parts(W_q, nu_q, W_p, nu_p)
    # d^T W_q d = ||L_q^T d||^2
    diff = m_q - m_p
    maha = np.sum(np.einsum("...ji,...j->...i", L_q, diff) ** 2, axis=-1)
    ratio = beta_p / beta_q
    kl_gauss = 0.5 * (D * (ratio - 1.0 - np.log(ratio)) + beta_p * nu_q * maha)
    return kl_wishart + kl_gauss


# ---------------------------------------------------------------------------------------
# Jaakkola-Jordan bound
# ---------------------------------------------------------------------------------------


def jaakkola_jordan_lambda(xi):
    """The Jaakkola-Jordan coefficient ``lambda(xi) = tanh(xi/2) / (4 xi)``.

    Equal to ``(sigma(xi) - 1/2) / (2 xi)`` (PRML eq. 10.150; Jaakkola & Jordan 2000),
    the curvature of the quadratic lower bound
    ``sigma(x) >= sigma(xi) exp((x - xi)/2 - lambda(xi) (x^2 - xi^2))``. Even in ``xi``,
    with limit ``1/8`` at ``xi = 0`` (a series is used for ``|xi| < 1e-4``).

    Parameters
    ----------
    xi : array_like
        Variational parameters, any real value.

    Returns
    -------
    ndarray
        ``lambda(xi)``, same shape as ``xi``.

    Examples
    --------
    >>> float(jaakkola_jordan_lambda(0.0))
    0.125
    """
    xi = _as_float(xi)
    ax = np.abs(xi)
    small = ax < 1e-4
    # substitute harmless values where each branch is not used, so neither warns
    large = np.where(small, 1.0, ax).astype(xi.dtype, copy=False)
    tiny = np.where(small, ax, 0.0).astype(xi.dtype, copy=False)
    # tanh(x/2)/(4x) = 1/8 - x^2/96 + x^4/960 - ..., the x^4 term is below 1e-18 here
    series = 0.125 - tiny * tiny / 96.0
    return np.where(small, series, np.tanh(0.5 * large) / (4.0 * large))
