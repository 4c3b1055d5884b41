"""Empirical-Bayes updates of LDA's Dirichlet priors (Minka 2000, §1).

The ELBO depends on the document-topic prior ``alpha`` only through

    f(alpha) = n [log Gamma(sum_k alpha_k) - sum_k log Gamma(alpha_k)
                  + sum_k (alpha_k - 1) s_k],      s_k = (1/n) sum_d w_d E[log theta_dk],

which is the Dirichlet log-likelihood of Minka (2000), eq. (4), with the observed mean
log-proportions replaced by their expectations under q (Blei, Ng & Jordan 2003, §5.4
and Appendix A.4.2 use the same objective). It is concave, so Newton's method with
the diagonal-plus-rank-one Hessian ``H = diag(q) + z 1 1'`` (Minka 2000, §1:
gradient eq. (6), Hessian and its closed-form inverse) converges in a few steps; a
backtracking line search keeps ``alpha`` positive and ``f`` non-decreasing, so each
update can only raise the ELBO and the batch ELBO stays monotone.

The symmetric topic-word prior ``eta`` (a scalar over a vocabulary of size ``V``) has
the one-dimensional concave objective

    g(eta) = K [log Gamma(V eta) - V log Gamma(eta)] + (eta - 1) t,
    t = sum_k sum_w E[log beta_kw],

maximised the same way.
"""

import numpy as np
from scipy.special import digamma, gammaln, polygamma

__all__ = ["optimize_asymmetric_dirichlet", "optimize_symmetric_dirichlet"]


def _asym_objective(alpha, mean_log, n):
    return n * (gammaln(alpha.sum()) - gammaln(alpha).sum() + ((alpha - 1.0) * mean_log).sum())


def optimize_asymmetric_dirichlet(alpha, mean_log, n, *, max_iter=100, tol=1e-10):
    """Maximise Minka's eq. (4) over a positive vector ``alpha`` (float64 result).

    Parameters
    ----------
    alpha : ndarray of shape (K,)
        Starting point (the current prior).
    mean_log : ndarray of shape (K,)
        Weighted mean of ``E[log theta_dk]`` over the documents (``log p-bar`` in
        Minka's notation, eq. (5)).
    n : float
        Total weight of the documents (Minka's ``N``).
    max_iter : int
        Most Newton steps.
    tol : float
        Stop when the largest relative change of ``alpha`` is below this.

    Returns
    -------
    alpha : ndarray of shape (K,)
    """
    alpha = np.array(alpha, dtype=np.float64)
    mean_log = np.asarray(mean_log, dtype=np.float64)
    if n <= 0:
        return alpha
    value = _asym_objective(alpha, mean_log, n)
    for _ in range(max_iter):
        total = alpha.sum()
        grad = n * (digamma(total) - digamma(alpha) + mean_log)  # Minka eq. (6)
        q = -n * polygamma(1, alpha)  # diagonal of the Hessian
        z = n * polygamma(1, total)  # its rank-one part
        b = np.sum(grad / q) / (1.0 / z + np.sum(1.0 / q))
        step = (grad - b) / q  # H^{-1} g by Sherman-Morrison
        t = 1.0
        while True:  # backtracking: positive and no decrease
            candidate = alpha - t * step
            if np.all(candidate > 0):
                new_value = _asym_objective(candidate, mean_log, n)
                if new_value >= value:
                    break
            t *= 0.5
            if t < 1e-12:
                return alpha
        change = np.max(np.abs(candidate - alpha) / alpha)
        alpha, value = candidate, new_value
        if change < tol:
            break
    return alpha


def _sym_objective(eta, sum_log, n_dists, dim):
    return n_dists * (gammaln(dim * eta) - dim * gammaln(eta)) + (eta - 1.0) * sum_log


def optimize_symmetric_dirichlet(eta, sum_log, n_dists, dim, *, max_iter=100, tol=1e-10):
    """Maximise ``g(eta)`` (module docstring) over a positive scalar by Newton steps.

    Parameters
    ----------
    eta : float
        Starting point.
    sum_log : float
        ``sum_k sum_w E[log beta_kw]`` over the ``n_dists`` distributions.
    n_dists : int
        Number of Dirichlet-distributed vectors sharing ``eta`` (topics, ``K``).
    dim : int
        Their dimension (vocabulary size, ``V``).

    Returns
    -------
    eta : float
    """
    eta = float(eta)
    value = _sym_objective(eta, sum_log, n_dists, dim)
    for _ in range(max_iter):
        grad = n_dists * dim * (digamma(dim * eta) - digamma(eta)) + sum_log
        hess = n_dists * dim * (dim * polygamma(1, dim * eta) - polygamma(1, eta))
        step = grad / hess if hess < 0 else -np.sign(grad) * eta
        t = 1.0
        while True:
            candidate = eta - t * step
            if candidate > 0:
                new_value = _sym_objective(candidate, sum_log, n_dists, dim)
                if new_value >= value:
                    break
            t *= 0.5
            if t < 1e-12:
                return eta
        change = abs(candidate - eta) / eta
        eta, value = float(candidate), new_value
        if change < tol:
            break
    return eta
