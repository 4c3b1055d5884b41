"""Bayesian linear regression by mean-field variational inference.

The model is scikit-learn's BayesianRidge (``ard=False``) and ARDRegression
(``ard=True``), with their parameter names; Gamma distributions have shape and RATE:

    y_n = x_n^T w + w_0 + eps_n,     eps_n ~ N(0, alpha^-1),
    w_j ~ N(0, lambda_j^-1),         lambda_j = lambda for all j (shared) or one per j (ARD),
    alpha ~ Gam(alpha_1, alpha_2),   lambda_g ~ Gam(lambda_1, lambda_2).

A sample weight s_n raises the likelihood of sample n to the power s_n, so an integer
weight is the same as repeating the sample. With ``fit_intercept`` the inputs and
targets are centred at their s-weighted means (as BayesianRidge does) and the model is
fitted to the centred data with w_0 = 0; the intercept is then ``y_mean - x_mean^T E[w]``.
The ELBO is that of the centred data. All the data enter through the weighted, centred
statistics

    s = sum_n s_n,   G = sum_n s_n x_n x_n^T,   r = sum_n s_n y_n x_n,   yy = sum_n s_n y_n^2,

computed once per fit in one chunked pass over the rows (and accumulated exactly by
``partial_fit``: Chan, Golub & LeVeque 1979 for merging centred moments).

Factorisation and updates
-------------------------
Fully factorised: q(w, alpha, lambda) = q(w) q(alpha) q(lambda), with q(w) = N(m, S),
q(alpha) = Gam(a, b) and q(lambda) = Gam(c, d) (one per feature with ARD). This is
Bishop's PRML §10.3 with a Gamma hyperprior on the noise precision added (PRML
Exercise 10.26), and per-feature precisions for ARD (PRML §7.2.2; Drugowitsch 2013).
It is not Drugowitsch's q(w, alpha) q(lambda): his prior scales the weights' variance
by the noise variance, which makes q(w, alpha) Normal-Gamma; this keeps BayesianRidge's
prior, so that its fixed points are BayesianRidge's and ARDRegression's. One sweep
updates, each factor to its optimum given the others (so the ELBO never falls):

    q(alpha):  a = alpha_1 + s/2,
               b = alpha_2 + 1/2 (yy - 2 m^T r + m^T G m + tr(G S))    (PRML Ex. 10.26)
    q(lambda): c = lambda_1 + D/2,   d = lambda_2 + 1/2 (m^T m + tr S)     (PRML 10.94-10.95)
               ARD: c_j = lambda_1 + 1/2,  d_j = lambda_2 + 1/2 (m_j^2 + S_jj)
    q(w):      S^-1 = E[alpha] G + diag(E[lambda]),  m = E[alpha] S r     (PRML 10.99-10.100)

ELBO (PRML eq. 10.107, with the terms 10.108-10.112 and the q(alpha) terms alike):

    L = s/2 (E[log alpha] - log 2 pi) - E[alpha]/2 (yy - 2 m^T r + m^T G m + tr(G S))
        + sum_j 1/2 (E[log lambda_j] - log 2 pi - E[lambda_j] (m_j^2 + S_jj))
        + E[log Gam(alpha | alpha_1, alpha_2)] + H[q(alpha)]
        + sum_g (E[log Gam(lambda_g | lambda_1, lambda_2)] + H[q(lambda_g)])
        + D/2 (1 + log 2 pi) + 1/2 log|S|.

Speed
-----
Shared precision: one eigendecomposition G = Q diag(g) Q^T per fit, after which
S = Q diag(1 / (E[alpha] g + E[lambda])) Q^T and every quantity of a sweep (m^T m,
tr S, tr(G S), log|S|, the residual) is a sum over the D eigenvalues: O(D) per sweep.
ARD: one Cholesky factorisation and inverse of the D x D precision per sweep, O(D^3),
never a pass over the data. float32 input: the products over the rows run in float32
(per chunk of rows, accumulated in float64), the D x D algebra in float64, and the
fitted arrays and predictions are float32.

Start. The evidence (type-II maximum likelihood) fixed point that BayesianRidge and
ARDRegression compute by MacKay's updates (MacKay 1992; PRML eq. 3.91-3.92 and 3.95,
and 7.87-7.89 for ARD, with the Gamma hyperpriors' terms) is also a fixed point of the
updates above: with gamma = sum_j (1 - E[lambda_j] S_jj), the q(alpha) update at a fixed
point reads E[alpha] = (s - gamma + 2 alpha_1) / (||y - X m||^2 + 2 alpha_2) and the
q(lambda) update reads E[lambda_j] = (gamma_j + 2 lambda_1) / (m_j^2 + 2 lambda_2), which
are MacKay's. MacKay's iteration gets there in far fewer steps than coordinate ascent
(which crawls when the prior is far too narrow or wide), so ``_initialize`` runs it
(O(D) per step in the eigenbasis) from BayesianRidge's start and from a scale-equivariant
one, keeps the fixed point with the higher ELBO, for ARD continues with ARDRegression's
iteration (O(D^3) per step, with its pruning), and coordinate ascent starts there. The
start is deterministic: every restart gives the same result.

Prediction
----------
The predictive density under q, the integral of N(y | x^T w, 1/alpha) q(w) q(alpha), has
mean x^T m + w_0 and variance x^T S x + E[1/alpha] = x^T S x + b / (a - 1): that is
``predict(X, return_std=True)``. It is not a standard density; ``predict_interval``
uses the Student-t that a Normal-Gamma posterior with q's moments would give (as
Drugowitsch's does): 2a degrees of freedom, location x^T m + w_0 and squared scale
x^T S x + 1/E[alpha], exact as s grows.

ARD pruning (``threshold_lambda``) keeps every feature in the variational model (the
ELBO is the full model's) and only changes what is reported: features whose
E[lambda_j] exceeds the threshold get a zero coefficient, and ``coef_`` and ``sigma_``
are q(w) conditioned on their weights being zero (ARDRegression's final step).

Names: code ``alpha`` is PRML's beta (noise precision) and code ``lambda`` is PRML's
alpha (weight precision), as in BayesianRidge. ``alpha_shape_``, ``alpha_rate_`` are
(a, b); ``lambda_shape_``, ``lambda_rate_`` are (c, d); ``_LinearStats`` holds s
(``sum_weights``), G (``gram``), r (``xty``), yy (``yty``); the per-sweep cache ``_qw``
holds q(w)'s summaries; ``sigma_`` is S and ``coef_`` is m.

References
----------
C. M. Bishop (2006). Pattern Recognition and Machine Learning, §3.5, §7.2.2, §10.3.

J. Drugowitsch (2013). Variational Bayesian inference for linear and logistic
regression. arXiv:1310.5438.

D. J. C. MacKay (1992). Bayesian interpolation. Neural Computation 4(3), 415-447.

M. E. Tipping (2001). Sparse Bayesian learning and the relevance vector machine.
JMLR 1, 211-244.

T. F. Chan, G. H. Golub and R. J. LeVeque (1979). Updating formulae and a pairwise
algorithm for computing sample variances. Stanford report STAN-CS-79-773.
"""

import warnings
from numbers import Real

import numpy as np
from scipy import stats as sp_stats
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from .._base import VariationalEstimator, _fit_one_restart, check_fitted
from .._special import LOG_2PI, gamma_entropy, gamma_expectation_log, gamma_expected_log_pdf
from ..exceptions import ConvergenceWarning
from ._weight_prior import (
    gaussian_entropy,
    kept_features,
    precision_posterior,
    weight_prior_elbo,
)

__all__ = ["VariationalLinearRegression"]

_EPS = float(np.finfo(np.float64).eps)
# Elements per chunk of rows when forming the statistics (16 MB of float64): the
# centred chunk stays in cache and the Gram is still one large product per chunk.
_CHUNK_ELEMENTS = 1 << 21
# MacKay's evidence iteration at the start: most steps, and the relative change of the
# precisions below which it stops.
_EVIDENCE_MAX_ITER = 1000
_EVIDENCE_RTOL = 1e-12
_ARD_EVIDENCE_MAX_ITER = 300
_ARD_EVIDENCE_RTOL = 1e-6


# ----------------------------------------------------------------------------------------
# Sufficient statistics
# ----------------------------------------------------------------------------------------


class _LinearStats:
    """Weighted (centred) sufficient statistics of (X, y): all the model sees of the data.

    ``sum_weights`` s, ``x_mean``, ``y_mean`` (zero without centring), ``gram`` G,
    ``xty`` r, ``yty`` yy, all float64; ``dtype`` is the input's float dtype.
    """

    def __init__(self, sum_weights, x_mean, y_mean, gram, xty, yty, centred, dtype):
        self.sum_weights = float(sum_weights)
        self.x_mean = x_mean
        self.y_mean = float(y_mean)
        self.gram = gram
        self.xty = xty
        self.yty = float(yty)
        self.centred = bool(centred)
        self.dtype = np.dtype(dtype)
        self._eigen = None

    @property
    def n_features(self):
        return self.xty.shape[0]

    @classmethod
    def empty(cls, n_features, centred, dtype):
        zeros = np.zeros(n_features)
        return cls(0.0, zeros, 0.0, np.zeros((n_features, n_features)), zeros, 0.0, centred, dtype)

    @classmethod
    def from_data(cls, X, y, sample_weight, centred):
        """Statistics of (X, y): one Gram product, or one pass over centred chunks."""
        if sample_weight is None and X.dtype == np.float64:
            stats = cls._from_raw_moments(X, y, centred)
            if stats is not None:
                return stats
        return cls._from_chunks(X, y, sample_weight, centred)

    @classmethod
    def _from_raw_moments(cls, X, y, centred):
        """Unweighted float64: G = X^T X - n x_mean x_mean^T, with no copy of X.

        The subtraction loses about log10(1 + mean^2 / variance) digits per feature; when
        some feature would lose more than 4 (its mean over 100 standard deviations, or
        constant), return None and let the chunked, centred pass do it exactly.
        """
        n = X.shape[0]
        y = np.asarray(y, dtype=np.float64)
        gram = X.T @ X  # syrk, the one product over the data
        sums = X.T @ np.column_stack([np.ones(n), y])  # sum_n x_n and sum_n x_n y_n, one pass
        if not centred:
            return cls(
                n, np.zeros(X.shape[1]), 0.0, gram, sums[:, 1], float(y @ y), False, X.dtype
            )
        x_mean, y_mean = sums[:, 0] / n, float(y.mean())
        raw_diagonal = np.diagonal(gram).copy()
        gram -= n * np.outer(x_mean, x_mean)
        if np.any(np.diagonal(gram) < 1e-4 * raw_diagonal):
            return None
        yc = y - y_mean
        xty = sums[:, 1] - n * y_mean * x_mean
        return cls(n, x_mean, y_mean, gram, xty, float(yc @ yc), True, X.dtype)

    @classmethod
    def _from_chunks(cls, X, y, sample_weight, centred):
        """Statistics in one pass over chunks of rows, each centred, merged exactly."""
        n_samples, n_features = X.shape
        rows = max(1, _CHUNK_ELEMENTS // max(n_features, 1))
        total = cls.empty(n_features, centred, X.dtype)
        for start in range(0, n_samples, rows):
            stop = min(start + rows, n_samples)
            weights = None if sample_weight is None else sample_weight[start:stop]
            total = total.merge(cls._from_chunk(X[start:stop], y[start:stop], weights, centred))
        return total

    @classmethod
    def _from_chunk(cls, X, y, sample_weight, centred):
        dtype = X.dtype
        y = np.asarray(y, dtype=np.float64)
        if sample_weight is None:
            n = float(X.shape[0])
        else:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            n = float(sample_weight.sum())
            if n <= 0.0:
                return cls.empty(X.shape[1], centred, dtype)
        if centred:
            if sample_weight is None:
                x_mean = X.mean(axis=0, dtype=np.float64)
                y_mean = float(y.mean())
            else:
                x_mean = (sample_weight @ X) / n
                y_mean = float(sample_weight @ y) / n
            Xc = X - x_mean.astype(dtype)
            yc = y - y_mean
        else:
            x_mean, y_mean = np.zeros(X.shape[1]), 0.0
            Xc, yc = X, y
        if sample_weight is not None:
            root = np.sqrt(sample_weight)
            Xc = Xc * root.astype(dtype)[:, None]  # a new array: the caller's is untouched
            yc = yc * root
        gram = np.asarray(Xc.T @ Xc, dtype=np.float64)  # syrk: one BLAS call per chunk
        xty = np.asarray(Xc.T @ yc.astype(dtype), dtype=np.float64)
        return cls(n, x_mean, y_mean, gram, xty, float(yc @ yc), centred, dtype)

    def merge(self, other):
        """Statistics of the union of two data sets (Chan, Golub & LeVeque 1979)."""
        if self.centred != other.centred:
            raise ValueError(
                "fit_intercept changed between calls to partial_fit: the statistics "
                "already accumulated cannot be combined with the new batch."
            )
        if other.sum_weights == 0.0:
            return self
        if self.sum_weights == 0.0:
            return other
        n = self.sum_weights + other.sum_weights
        gram = self.gram + other.gram
        xty = self.xty + other.xty
        yty = self.yty + other.yty
        x_mean, y_mean = self.x_mean, self.y_mean
        if self.centred:
            dx = other.x_mean - self.x_mean
            dy = other.y_mean - self.y_mean
            f = self.sum_weights * other.sum_weights / n
            gram += f * np.outer(dx, dx)
            xty += f * dy * dx
            yty += f * dy * dy
            x_mean = self.x_mean + (other.sum_weights / n) * dx
            y_mean = self.y_mean + (other.sum_weights / n) * dy
        dtype = np.promote_types(self.dtype, other.dtype)
        return _LinearStats(n, x_mean, y_mean, gram, xty, yty, self.centred, dtype)

    def scaled(self, scale):
        """The statistics of the data repeated ``scale`` times (same means)."""
        out = _LinearStats(
            scale * self.sum_weights,
            self.x_mean,
            self.y_mean,
            scale * self.gram,
            scale * self.xty,
            scale * self.yty,
            self.centred,
            self.dtype,
        )
        if self._eigen is not None:
            g, Q, rt = self._eigen
            out._eigen = (scale * g, Q, scale * rt)
        return out

    def eigen(self):
        """``(g, Q, Q^T r)``: eigenvalues (clipped at 0) and eigenvectors of G, cached."""
        if self._eigen is None:
            g, Q = np.linalg.eigh(self.gram)
            g = np.maximum(g, 0.0)  # G is positive semi-definite; rounding can dip below
            self._eigen = (g, Q, Q.T @ self.xty)
        return self._eigen

    def residual(self, mean):
        """``yy - 2 m^T r + m^T G m``, the squared residual of the centred data at m."""
        return max(self.yty - 2.0 * (mean @ self.xty) + mean @ (self.gram @ mean), 0.0)


# ----------------------------------------------------------------------------------------
# q(w) given the precisions
# ----------------------------------------------------------------------------------------


def _spd_inverse(P, with_logdet=True):
    """Inverse of a symmetric positive-definite matrix P, and ``log|P|`` (or None).

    numpy.linalg only: a scipy.linalg call right after numpy's large products waits for
    the other OpenBLAS thread pool (PERFORMANCE.md), which costs more than the
    factorisation. ``log|P|`` comes from the Cholesky factor; if P is not numerically
    positive definite (an enormous noise precision times a rank-deficient Gram) it is
    retried with a growing relative jitter on the diagonal.
    """
    jitter = 0.0
    scale = float(np.max(np.abs(np.diagonal(P)))) if P.size else 0.0
    for _ in range(10):
        A = P if jitter == 0.0 else P + jitter * np.eye(P.shape[0])
        try:
            logdet = None
            if with_logdet:
                logdet = 2.0 * float(np.sum(np.log(np.diagonal(np.linalg.cholesky(A)))))
            inverse = np.linalg.inv(A)
        except np.linalg.LinAlgError:
            jitter = max(100.0 * jitter, 10.0 * _EPS * scale, 1e-300)
            continue
        return 0.5 * (inverse + inverse.T), logdet
    raise np.linalg.LinAlgError("the posterior precision of the weights is not positive definite")


def _posterior_shared(stats, e_alpha, e_lambda):
    """Summaries of q(w) for a shared precision, in the eigenbasis of G (O(D))."""
    g, _, rt = stats.eigen()
    den = e_alpha * g + e_lambda  # eigenvalues of S^-1 (PRML 10.100)
    mt = e_alpha * rt / den  # m in the eigenbasis (PRML 10.99)
    mm = float(mt @ mt)
    residual = max(stats.yty - 2.0 * float(mt @ rt) + float((g * mt) @ mt), 0.0)
    return {
        "stats": stats,
        "e_alpha": e_alpha,
        "e_lambda": e_lambda,
        "mean_eigen": mt,
        "residual": residual,
        "trace_gram_cov": float(np.sum(g / den)),
        "second_moment": mm + float(np.sum(1.0 / den)),  # E[w^T w] = m^T m + tr S
        "logdet_cov": -float(np.sum(np.log(den))),
    }


def _posterior_ard(stats, e_alpha, e_lambda):
    """Summaries of q(w) for per-feature precisions: one Cholesky inverse (O(D^3))."""
    precision = e_alpha * stats.gram
    precision[np.diag_indices_from(precision)] += e_lambda  # PRML 10.100
    cov, logdet_precision = _spd_inverse(precision)
    mean = e_alpha * (cov @ stats.xty)  # PRML 10.99
    return {
        "stats": stats,
        "e_alpha": e_alpha,
        "e_lambda": e_lambda,
        "mean": mean,
        "cov": cov,
        "residual": stats.residual(mean),
        "trace_gram_cov": float(np.sum(stats.gram * cov)),
        "second_moment": mean**2 + np.diagonal(cov),  # E[w_j^2]
        "logdet_cov": -logdet_precision,
    }


def _mean_cov(qw):
    """Mean and covariance of q(w) in the original basis."""
    if "cov" in qw:
        return qw["mean"], qw["cov"]
    g, Q, _ = qw["stats"].eigen()
    den = qw["e_alpha"] * g + qw["e_lambda"]
    return Q @ qw["mean_eigen"], (Q / den) @ Q.T


# ----------------------------------------------------------------------------------------
# The evidence fixed point (the start)
# ----------------------------------------------------------------------------------------


def _evidence_shared(stats, alpha_1, alpha_2, lambda_1, lambda_2, lam):
    """MacKay's fixed point of (alpha, lambda) for a shared precision, O(D) per step.

    BayesianRidge's iteration (PRML eq. 3.91-3.92, 3.95 with the Gamma hyperpriors'
    terms) in the eigenbasis of G, from alpha = 1 / var(y) and the given ``lam``. Where
    MacKay's noise update is undefined (total sample weight below the effective number
    of parameters) the step is the coordinate-ascent one instead, which has the same
    fixed points.
    """
    g, _, rt = stats.eigen()
    s = stats.sum_weights
    alpha = 1.0 / (stats.yty / s + _EPS)
    for _ in range(_EVIDENCE_MAX_ITER):
        den = alpha * g + lam
        mt = alpha * rt / den
        gamma = float(np.sum(alpha * g / den))
        mm = float(mt @ mt)
        residual = max(stats.yty - 2.0 * float(mt @ rt) + float((g * mt) @ mt), 0.0)
        new_lambda = (gamma + 2.0 * lambda_1) / (mm + 2.0 * lambda_2)
        new_alpha = (s - gamma + 2.0 * alpha_1) / (residual + 2.0 * alpha_2)
        if not (new_alpha > 0.0 and np.isfinite(new_alpha)):
            new_alpha = (alpha_1 + 0.5 * s) / (alpha_2 + 0.5 * (residual + gamma / alpha))
        if not (new_lambda > 0.0 and np.isfinite(new_lambda)):
            break
        change = max(abs(np.log(new_alpha / alpha)), abs(np.log(new_lambda / lam)))
        alpha, lam = new_alpha, new_lambda
        if change < _EVIDENCE_RTOL:
            break
    return alpha, lam


def _evidence_ard(stats, alpha, lam, alpha_1, alpha_2, lambda_1, lambda_2, threshold, tol):
    """ARDRegression's iteration (PRML eq. 7.87-7.89) on the cached statistics.

    Each step inverts the precision of the kept weights (O(D^3)); weights whose precision
    exceeds ``threshold`` are pruned as in ARDRegression. Stops when the coefficients
    move by less than ``tol`` relative to their size.
    """
    s, n_features = stats.sum_weights, stats.n_features
    lam = np.full(n_features, lam)
    keep = np.ones(n_features, dtype=bool)
    mean = np.zeros(n_features)
    for _ in range(_ARD_EVIDENCE_MAX_ITER):
        idx = np.flatnonzero(keep)
        gram = stats.gram[np.ix_(idx, idx)]
        precision = alpha * gram
        precision[np.diag_indices_from(precision)] += lam[idx]
        cov, _ = _spd_inverse(precision, with_logdet=False)
        new_mean = np.zeros(n_features)
        new_mean[idx] = alpha * (cov @ stats.xty[idx])
        gamma = 1.0 - lam[idx] * np.diagonal(cov)
        residual = stats.residual(new_mean)
        new_lam = (gamma + 2.0 * lambda_1) / (new_mean[idx] ** 2 + 2.0 * lambda_2)
        new_alpha = (s - gamma.sum() + 2.0 * alpha_1) / (residual + 2.0 * alpha_2)
        if not (new_alpha > 0.0 and np.isfinite(new_alpha)):
            new_alpha = (alpha_1 + 0.5 * s) / (
                alpha_2 + 0.5 * (residual + float(np.sum(gram * cov)))
            )
        if not np.all(np.isfinite(new_lam)):
            break
        lam = lam.copy()
        lam[idx] = new_lam
        alpha = new_alpha
        keep = lam < threshold
        change = np.sum(np.abs(new_mean - mean))
        mean = new_mean
        if change <= tol * np.sum(np.abs(mean)) or not keep.any():
            break
    # ARDRegression freezes the precision of a pruned weight where it crossed the
    # threshold. Coordinate ascent keeps every weight, so start a pruned one at the fixed
    # point of its own q(lambda_j) update with m_j = 0 and S_jj = 1 / (lambda_j + alpha
    # G_jj), the positive root of lambda_2 l^2 + (lambda_2 alpha G_jj - lambda_1) l
    # - (lambda_1 + 1/2) alpha G_jj = 0, nearer to where coordinate ascent will go.
    pruned = ~keep
    if pruned.any():
        ag = alpha * np.diagonal(stats.gram)[pruned]
        half = lambda_2 * ag - lambda_1
        lam = lam.copy()
        lam[pruned] = (-half + np.sqrt(half**2 + 4.0 * lambda_2 * (lambda_1 + 0.5) * ag)) / (
            2.0 * lambda_2
        )
    return alpha, lam


# ----------------------------------------------------------------------------------------
# The estimator
# ----------------------------------------------------------------------------------------


class VariationalLinearRegression(RegressorMixin, VariationalEstimator):
    """Bayesian linear regression fitted by mean-field variational inference.

    The model of :class:`~sklearn.linear_model.BayesianRidge` (``ard=False``) and
    :class:`~sklearn.linear_model.ARDRegression` (``ard=True``): a Gaussian prior on the
    weights with a Gamma prior on its precision (shared, or one per feature), and a
    Gamma prior on the noise precision. The posterior is approximated by
    q(w) q(alpha) q(lambda), fitted by coordinate ascent on the full ELBO, started at
    the evidence fixed point so that a fit takes a few sweeps. The data enter only
    through their weighted (centred) second moments, computed once per fit; a sweep
    costs O(n_features) (shared precision) or one n_features x n_features Cholesky
    inverse (ARD), and ``partial_fit`` accumulates the moments exactly.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Centre X and y at their (sample-weighted) means and fit an intercept.
    ard : bool, default=False
        One weight precision per feature (automatic relevance determination) instead
        of one shared precision.
    alpha_1 : float, default=1e-6
        Shape of the Gamma prior on the noise precision alpha.
    alpha_2 : float, default=1e-6
        Rate of the Gamma prior on the noise precision alpha.
    lambda_1 : float, default=1e-6
        Shape of the Gamma prior on the weight precision lambda.
    lambda_2 : float, default=1e-6
        Rate of the Gamma prior on the weight precision lambda.
    threshold_lambda : float, default=1e4
        With ``ard=True``, features whose posterior mean precision exceeds this are
        pruned: their coefficient is reported as zero.
    max_iter : int, default=300
        Most coordinate-ascent sweeps.
    tol : float, default=1e-6
        Stop when the ELBO changes by less than ``tol`` per unit of sample weight.
    n_init : int, default=1
        Restarts. The start is deterministic (the evidence fixed point), so restarts
        give identical results; more than one only costs time.
    n_jobs : int, default=None
        joblib workers for the restarts.
    random_state : int, RandomState instance or None, default=None
        Seeds the restarts (unused by the deterministic start; kept for the shared API).
    warm_start : bool, default=False
        Continue from the previous fit's variational parameters.
    verbose : int, default=0
        0 silent, 1 one line per restart, 2 one line per sweep.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Posterior mean of the weights (pruned features zero).
    intercept_ : float
        ``y_mean - x_mean @ coef_`` (0.0 when ``fit_intercept=False``).
    sigma_ : ndarray of shape (n_features, n_features)
        Posterior covariance of the weights (rows and columns of pruned features zero).
    alpha_ : float
        Posterior mean of the noise precision, ``alpha_shape_ / alpha_rate_``.
    lambda_ : float or ndarray of shape (n_features,)
        Posterior mean of the weight precision (one per feature with ``ard=True``).
    alpha_shape_ : float
        Shape of q(alpha) = ``Gamma(alpha_shape_, alpha_rate_)``.
    alpha_rate_ : float
        Rate of q(alpha).
    lambda_shape_ : float or ndarray of shape (n_features,)
        Shape of q(lambda) = ``Gamma(lambda_shape_, lambda_rate_)``.
    lambda_rate_ : float or ndarray of shape (n_features,)
        Rate of q(lambda).
    X_offset_ : ndarray of shape (n_features,)
        Weighted mean of the training inputs (zeros without intercept).
    elbo_ : float
        ELBO of the fit in nats, constants included (of the centred data with
        ``fit_intercept``; of the model with every feature, before ARD pruning).
    elbo_history_ : ndarray of shape (n_iter_,)
        ELBO after every sweep.
    init_elbos_ : ndarray of shape (n_init,)
        Final ELBO of each restart.
    n_iter_ : int
        Sweeps run.
    converged_ : bool
        Whether ``tol`` was met within ``max_iter`` sweeps.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.linear_model.BayesianRidge : the same model (shared precision), fitted by
        evidence maximisation.
    sklearn.linear_model.ARDRegression : the same model with ``ard=True``.
    VariationalLogisticRegression : the classification counterpart.

    References
    ----------
    C. M. Bishop (2006). Pattern Recognition and Machine Learning, §3.5, §7.2.2, §10.3.

    J. Drugowitsch (2013). Variational Bayesian inference for linear and logistic
    regression. arXiv:1310.5438.

    D. J. C. MacKay (1992). Bayesian interpolation. Neural Computation 4(3), 415-447.

    Examples
    --------
    >>> import numpy as np
    >>> from skvi import VariationalLinearRegression
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.0]) + 0.5 + 0.1 * rng.normal(size=200)
    >>> reg = VariationalLinearRegression().fit(X, y)
    >>> np.round(reg.coef_, 2)
    array([ 1.  , -2.01, -0.01])
    >>> round(reg.intercept_, 2)
    0.5
    >>> mean, std = reg.predict(X[:2], return_std=True)
    >>> lower, upper = reg.predict_interval(X[:2], coverage=0.95)
    >>> bool(np.all((lower < mean) & (mean < upper)))
    True
    """

    _parameter_constraints: dict = {
        **VariationalEstimator._parameter_constraints,
        "fit_intercept": ["boolean"],
        "ard": ["boolean"],
        "alpha_1": [Interval(Real, 0, None, closed="neither")],
        "alpha_2": [Interval(Real, 0, None, closed="neither")],
        "lambda_1": [Interval(Real, 0, None, closed="neither")],
        "lambda_2": [Interval(Real, 0, None, closed="neither")],
        "threshold_lambda": [Interval(Real, 0, None, closed="neither")],
    }
    _variational_params = ("alpha_shape_", "alpha_rate_", "lambda_shape_", "lambda_rate_")

    def __init__(
        self,
        *,
        fit_intercept=True,
        ard=False,
        alpha_1=1e-6,
        alpha_2=1e-6,
        lambda_1=1e-6,
        lambda_2=1e-6,
        threshold_lambda=1e4,
        max_iter=300,
        tol=1e-6,
        n_init=1,
        n_jobs=None,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self.fit_intercept = fit_intercept
        self.ard = ard
        self.alpha_1 = alpha_1
        self.alpha_2 = alpha_2
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.threshold_lambda = threshold_lambda
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------- statistics
    def _validate_fit_data(self, X, y, sample_weight, reset):
        X, y, sample_weight = super()._validate_fit_data(X, y, sample_weight, reset)
        # The statistics are formed once per fit, here in the calling process, and
        # picked up by _check_priors; the restarts share them read-only.
        stats = _LinearStats.from_data(X, y, sample_weight, self.fit_intercept)
        if not self.ard:
            stats.eigen()
        self._pending_stats = stats
        return X, y, sample_weight

    def _check_priors(self, X, y):
        # Statistics of this fit's data, or None: then _initialize forms them from its
        # arguments (when the hooks are driven directly, as the property tests do).
        self._stats = self.__dict__.pop("_pending_stats", None)

    def _ensure_stats(self, X, y, sample_weight):
        if getattr(self, "_stats", None) is None:
            self._stats = _LinearStats.from_data(
                np.asarray(X), np.asarray(y), sample_weight, self.fit_intercept
            )
        return self._stats

    def _elbo_normalizer(self, X, sample_weight):
        stats = getattr(self, "_stats", None)
        if stats is not None:
            return stats.sum_weights
        return super()._elbo_normalizer(X, sample_weight)

    # ------------------------------------------------------------------ hooks
    def _initialize(self, X, y, random_state, sample_weight=None):
        stats = self._ensure_stats(X, y, sample_weight)
        a = self.alpha_1 + 0.5 * stats.sum_weights
        c_shared = self.lambda_1 + 0.5 * stats.n_features
        # MacKay's iteration from BayesianRidge's start (lambda = 1) and from a
        # scale-equivariant one (prior predictive variance tr(G) / (s lambda) equal to the
        # targets' variance), keeping the fixed point with the higher ELBO: the first can
        # stall at all-zero weights when the features or targets are far from unit scale.
        best = None
        trace = float(np.trace(stats.gram))
        starts = [1.0] + ([trace / stats.yty] if trace > 0.0 and stats.yty > 0.0 else [])
        for lam0 in starts:
            alpha, lam = _evidence_shared(
                stats, self.alpha_1, self.alpha_2, self.lambda_1, self.lambda_2, lam0
            )
            qw = _posterior_shared(stats, alpha, lam)
            elbo = self._elbo_at(qw, a, a / alpha, c_shared, c_shared / lam)
            if best is None or elbo > best[0] + 1e-9 * abs(best[0]):
                best = (elbo, alpha, lam)
        _, alpha, lam = best
        if self.ard:
            alpha, lam = _evidence_ard(
                stats,
                alpha,
                lam,
                self.alpha_1,
                self.alpha_2,
                self.lambda_1,
                self.lambda_2,
                self.threshold_lambda,
                tol=_ARD_EVIDENCE_RTOL,
            )
            c = np.full(stats.n_features, self.lambda_1 + 0.5)
        else:
            c = c_shared
        self._set_state(a, a / alpha, c, c / lam, stats)

    def _local_step(self, X, y, sample_weight=None):
        # No local latent variables: the statistics are the data's, formed once per fit.
        return self._ensure_stats(X, y, sample_weight)

    def _global_step(self, stats, scale):
        if scale != 1.0:
            stats = stats.scaled(scale)
        qw = self._current_qw()
        if qw["stats"] is not stats:
            qw = self._posterior(stats, qw["e_alpha"], qw["e_lambda"])
        # q(alpha): PRML Exercise 10.26 (the noise-precision analogue of 10.94-10.95).
        a = self.alpha_1 + 0.5 * stats.sum_weights
        b = self.alpha_2 + 0.5 * (qw["residual"] + qw["trace_gram_cov"])
        # q(lambda): PRML 10.94-10.95 (per feature with ARD).
        c, d = precision_posterior(
            qw["second_moment"], stats.n_features, self.lambda_1, self.lambda_2, self.ard
        )
        # q(w): PRML 10.99-10.100 at the new E[alpha], E[lambda].
        self._set_state(a, b, c, d, stats)

    def _elbo(self, X, y, sample_weight=None):
        return self._elbo_at(
            self._current_qw(),
            self.alpha_shape_,
            self.alpha_rate_,
            self.lambda_shape_,
            self.lambda_rate_,
        )

    def _elbo_at(self, qw, a, b, c, d):
        """The ELBO (PRML eq. 10.107) at q(w) summarised by ``qw``, q(alpha), q(lambda)."""
        stats = qw["stats"]
        e_alpha, e_log_alpha = a / b, float(gamma_expectation_log(a, b))
        # E[log p(y | w, alpha)] (PRML 10.108 with a random noise precision).
        loglik = 0.5 * stats.sum_weights * (e_log_alpha - LOG_2PI) - 0.5 * e_alpha * (
            qw["residual"] + qw["trace_gram_cov"]
        )
        # E[log p(w | lambda)] + E[log p(lambda)] + H[q(lambda)] (PRML 10.109-10.110, B.31).
        weights = weight_prior_elbo(
            qw["second_moment"], c, d, self.lambda_1, self.lambda_2, stats.n_features
        )
        # E[log p(alpha)] + H[q(alpha)].
        noise = float(gamma_expected_log_pdf(a, b, self.alpha_1, self.alpha_2)) + float(
            gamma_entropy(a, b)
        )
        # H[q(w)] (PRML 10.111, B.41).
        entropy_w = gaussian_entropy(qw["logdet_cov"], stats.n_features)
        return loglik + weights + noise + entropy_w

    # ---------------------------------------------------------------- state
    def _posterior(self, stats, e_alpha, e_lambda):
        if self.ard:
            return _posterior_ard(stats, e_alpha, np.asarray(e_lambda, dtype=np.float64))
        return _posterior_shared(stats, e_alpha, e_lambda)

    def _set_state(self, a, b, c, d, stats):
        """Set q(alpha), q(lambda), then q(w) at their means (PRML 10.99-10.100)."""
        self._set_variational_params(
            {"alpha_shape_": a, "alpha_rate_": b, "lambda_shape_": c, "lambda_rate_": d},
            stats=stats,
        )

    def _set_variational_params(self, params, stats=None):
        super()._set_variational_params(params)
        self.alpha_ = float(self.alpha_shape_ / self.alpha_rate_)
        if self.ard:
            self.lambda_ = np.asarray(self.lambda_shape_) / self.lambda_rate_
        else:
            self.lambda_ = float(self.lambda_shape_ / self.lambda_rate_)
        # q(w) at the new means, formed when first needed (one O(D^3) inverse for ARD,
        # which the end of a fit that prunes does not need).
        self._qw = None
        self._qw_stats = stats if stats is not None else getattr(self, "_stats", None)

    def _current_qw(self):
        """Summaries of q(w) given the current E[alpha], E[lambda] (PRML 10.99-10.100)."""
        if self._qw is None:
            self._qw = self._posterior(self._qw_stats, self.alpha_, self.lambda_)
        return self._qw

    def _posterior_mean_cov(self):
        """Mean and covariance of the current q(w), before any pruning."""
        return _mean_cov(self._current_qw())

    def _finalize_fit(self, X, y, sample_weight=None):
        stats = self._stats
        keep = kept_features(self.lambda_, self.threshold_lambda) if self.ard else None
        if keep is None or keep.all():
            mean, cov = self._posterior_mean_cov()
        else:
            # Condition q(w) on the pruned weights being zero: the kept block of the
            # precision, as ARDRegression's final step.
            n_features = stats.n_features
            mean, cov = np.zeros(n_features), np.zeros((n_features, n_features))
            idx = np.flatnonzero(keep)
            if idx.size:
                precision = self.alpha_ * stats.gram[np.ix_(idx, idx)]
                precision[np.diag_indices_from(precision)] += self.lambda_[idx]
                cov_kept, _ = _spd_inverse(precision, with_logdet=False)
                cov[np.ix_(idx, idx)] = cov_kept
                mean[idx] = self.alpha_ * (cov_kept @ stats.xty[idx])
        dtype = stats.dtype
        self.coef_ = mean.astype(dtype)
        self.sigma_ = cov.astype(dtype)
        self.X_offset_ = stats.x_mean.astype(dtype)
        self.intercept_ = float(stats.y_mean - stats.x_mean @ mean) if stats.centred else 0.0

    # --------------------------------------------------------------- partial_fit
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Add a batch of data to the posterior, exactly.

        The weighted second moments of all data seen so far (by ``fit`` or earlier calls
        to ``partial_fit``) are accumulated, and the posterior is refitted on them from
        the evidence start. Any split of a data set into batches gives the same
        posterior as one ``fit`` on all of it (up to rounding).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training inputs.
        y : array-like of shape (n_samples,)
            Its targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch's samples.

        Returns
        -------
        self : object
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from skvi import VariationalLinearRegression
        >>> rng = np.random.RandomState(0)
        >>> X, y = rng.normal(size=(100, 2)), rng.normal(size=100)
        >>> whole = VariationalLinearRegression().fit(X, y)
        >>> parts = VariationalLinearRegression()
        >>> for batch in np.array_split(np.arange(100), 4):
        ...     parts = parts.partial_fit(X[batch], y[batch])
        >>> bool(np.allclose(parts.coef_, whole.coef_, rtol=1e-10))
        True
        """
        first = getattr(self, "_stats", None) is None
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight, reset=first)
        batch = self.__dict__.pop("_pending_stats")
        stats = batch if first else self._stats.merge(batch)
        if not self.ard:
            stats.eigen()
        self._pending_stats = stats
        self._check_priors(X, y)
        label = f"[{type(self).__name__} partial_fit] "
        result = _fit_one_restart(self, X, y, sample_weight, 0, label)
        if self.verbose >= 1:
            print(result.summary, flush=True)
        self._set_variational_params(result.params)
        self.elbo_ = result.elbo
        self.elbo_history_ = result.elbo_history
        self.init_elbos_ = np.array([result.elbo])
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self._finalize_fit(X, y, sample_weight)
        if not self.converged_:
            warnings.warn(
                f"{type(self).__name__} did not converge within max_iter={self.max_iter} "
                f"sweeps (tol={self.tol}). Increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    # ---------------------------------------------------------------- prediction
    def _validate_predict(self, X):
        check_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _predictive_moments(self, X):
        """Mean, ``x^T S x`` of the weights' part, for validated X."""
        mean = X @ self.coef_ + self.intercept_
        Xc = X - self.X_offset_
        weight_var = np.einsum("ij,ij->i", Xc @ self.sigma_, Xc)
        return mean, np.maximum(weight_var, 0.0)

    def predict(self, X, return_std=False):
        """Posterior predictive mean, and optionally its standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        return_std : bool, default=False
            Also return the standard deviation of the predictive distribution under q,
            noise included: ``sqrt(x^T S x + E[1/alpha])``, infinite when the noise
            precision's posterior shape is at most 1 (fewer than ~2 samples).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
            Predictive mean ``x^T coef_ + intercept_``.
        y_std : ndarray of shape (n_samples,)
            Predictive standard deviation (only if ``return_std``).

        Examples
        --------
        >>> import numpy as np
        >>> from skvi import VariationalLinearRegression
        >>> X = np.arange(20.0).reshape(-1, 1)
        >>> reg = VariationalLinearRegression().fit(X, 2 * X.ravel() + 1)
        >>> np.round(reg.predict([[30.0]]), 3)
        array([61.])
        """
        X = self._validate_predict(X)
        mean, weight_var = self._predictive_moments(X)
        if not return_std:
            return mean
        a, b = self.alpha_shape_, self.alpha_rate_
        noise_var = b / (a - 1.0) if a > 1.0 else np.inf  # E[1/alpha] under Gam(a, b)
        return mean, np.sqrt(weight_var + noise_var).astype(mean.dtype)

    def predict_interval(self, X, coverage=0.95):
        """Central predictive interval from the Student-t predictive.

        The Student-t has ``2 * alpha_shape_`` degrees of freedom, location
        ``predict(X)`` and squared scale ``x^T sigma_ x + 1 / alpha_`` (the predictive of
        a Normal-Gamma posterior with q's moments, as in Drugowitsch 2013).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        coverage : float, default=0.95
            Probability mass inside the interval, in (0, 1).

        Returns
        -------
        lower, upper : ndarray of shape (n_samples,)
            The interval's bounds.

        Examples
        --------
        >>> import numpy as np
        >>> from skvi import VariationalLinearRegression
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(500, 2))
        >>> y = X @ [1.0, 2.0] + rng.normal(size=500)
        >>> reg = VariationalLinearRegression().fit(X, y)
        >>> lower, upper = reg.predict_interval(X, coverage=0.9)
        >>> round(float(np.mean((lower <= y) & (y <= upper))), 2)
        0.9
        """
        if not (isinstance(coverage, Real) and 0.0 < coverage < 1.0):
            raise ValueError(f"coverage must be a number in (0, 1); got {coverage!r}.")
        X = self._validate_predict(X)
        mean, weight_var = self._predictive_moments(X)
        scale = np.sqrt(weight_var + 1.0 / self.alpha_)
        half = sp_stats.t.ppf(0.5 + 0.5 * coverage, df=2.0 * self.alpha_shape_) * scale
        return (mean - half).astype(mean.dtype), (mean + half).astype(mean.dtype)

    # ------------------------------------------------ fit on a dask array (skvi._dask)
    #: The local step reads the statistics formed once per fit, not the data.
    _dask_local_step_on_client = True

    def _dask_check_priors(self, data):
        """The statistics of every block, merged (Chan et al. 1979), then ``_check_priors``."""
        stats = data.map_reduce(self._dask_block_stats, self.fit_intercept)
        if not self.ard:
            stats.eigen()
        self._pending_stats = stats
        self._check_priors(data.meta_X, data.meta_y)

    @staticmethod
    def _dask_block_stats(X, y, sample_weight, start, centred):
        return _LinearStats.from_data(X, y, sample_weight, centred)
