"""Gamma hyperprior on the precision of Gaussian weights, shared or per feature (ARD).

Private helpers for the Bayesian linear models of :mod:`skvi.linear_model`. The weight
prior is

    p(w | lambda) = prod_j N(w_j | 0, lambda_j^-1),    p(lambda_g) = Gam(lambda_1, lambda_2),

with one precision shared by all D weights (``ard=False``: lambda_j = lambda for every
j) or one precision per weight (``ard=True``, automatic relevance determination:
MacKay 1994; Tipping 2001; Bishop 2006, PRML §7.2.2). Gamma shape and RATE, as
BayesianRidge and ARDRegression (``lambda_1``, ``lambda_2``) and PRML eq. (B.26).

Given a Gaussian factor q(w) with second moments E[w_j^2] = m_j^2 + S_jj, the optimal
factor q(lambda) is Gamma(c, d) with

    shared:  c = lambda_1 + D / 2,     d = lambda_2 + 1/2 sum_j E[w_j^2]   (PRML eq. 10.94-10.95)
    ARD:     c_j = lambda_1 + 1 / 2,   d_j = lambda_2 + 1/2 E[w_j^2]        (the same, per weight)

and its share of the ELBO (PRML eq. 10.107, the terms 10.108 and 10.110 and the
entropy of q(lambda) from B.31) is

    E[log p(w | lambda)] + E[log p(lambda)] - E[log q(lambda)]
      = sum_j 1/2 (E[log lambda_j] - log 2 pi - E[lambda_j] E[w_j^2])
        + sum_g (E[log Gam(lambda_g | lambda_1, lambda_2)] + H[Gam(c_g, d_g)]).

A precision is represented by ``(shape, rate)``: two floats for the shared case, two
arrays of shape (D,) for ARD, so the shape of the arrays says which prior it is.
"""

import numpy as np

from .._special import (
    LOG_2PI,
    gamma_entropy,
    gamma_expectation_log,
    gamma_expected_log_pdf,
)


def precision_posterior(second_moment, n_features, lambda_1, lambda_2, ard):
    """Optimal q(lambda) = Gam(shape, rate) given the weights' second moments.

    PRML eq. (10.94)-(10.95): ``c = lambda_1 + D/2``, ``d = lambda_2 + E[w^T w]/2`` for a
    shared precision; the same per weight, ``c_j = lambda_1 + 1/2``,
    ``d_j = lambda_2 + E[w_j^2]/2``, for ARD.

    Parameters
    ----------
    second_moment : float or ndarray of shape (n_features,)
        ``E[w_j^2] = m_j^2 + S_jj`` per weight (required for ARD), or already summed
        over the weights (enough for a shared precision).
    n_features : int
        Number of weights D.
    lambda_1, lambda_2 : float
        Shape and rate of the Gamma prior.
    ard : bool
        One precision per weight if True, one shared precision otherwise.

    Returns
    -------
    shape, rate : float, or ndarray of shape (n_features,) for ARD
    """
    if ard:
        rate = lambda_2 + 0.5 * np.asarray(second_moment, dtype=np.float64)
        return np.full(n_features, lambda_1 + 0.5), rate
    return lambda_1 + 0.5 * n_features, lambda_2 + 0.5 * float(np.sum(second_moment))


def weight_prior_elbo(second_moment, shape, rate, lambda_1, lambda_2, n_features):
    """``E[log p(w | lambda)] + E[log p(lambda)] + H[q(lambda)]``, constants included.

    Parameters
    ----------
    second_moment : float or ndarray of shape (n_features,)
        ``E[w_j^2]`` per weight when ``shape`` is an array (ARD); their sum when the
        precision is shared (``shape`` a float).
    shape, rate : float or ndarray of shape (n_features,)
        q(lambda).
    lambda_1, lambda_2 : float
        The Gamma prior.
    n_features : int
        Number of weights D.

    Returns
    -------
    float
    """
    shape = np.asarray(shape, dtype=np.float64)
    rate = np.asarray(rate, dtype=np.float64)
    e_lambda = shape / rate
    e_log_lambda = gamma_expectation_log(shape, rate)
    if shape.ndim == 0:  # shared: every weight has the same precision
        log_p_w = 0.5 * n_features * (e_log_lambda - LOG_2PI) - 0.5 * e_lambda * float(
            np.sum(second_moment)
        )
    else:
        log_p_w = 0.5 * np.sum(e_log_lambda - LOG_2PI - e_lambda * second_moment)
    hyper = gamma_expected_log_pdf(shape, rate, lambda_1, lambda_2) + gamma_entropy(shape, rate)
    return float(log_p_w + np.sum(hyper))


def gaussian_entropy(logdet_cov, n_features):
    """Entropy of N(m, S) from ``log|S|`` (PRML eq. B.41)."""
    return 0.5 * n_features * (1.0 + LOG_2PI) + 0.5 * float(logdet_cov)


def kept_features(lambda_mean, threshold_lambda):
    """Weights whose posterior mean precision is below ``threshold_lambda`` (ARD pruning).

    A weight with a larger precision is pruned, as in scikit-learn's ARDRegression: its
    coefficient is reported as exactly zero.
    """
    return np.asarray(lambda_mean) < threshold_lambda
