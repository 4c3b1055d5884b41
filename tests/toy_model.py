"""A tiny conjugate model that exercises the engine: Bishop PRML §10.1.3, per feature.

Each of the D features is an independent univariate Gaussian with unknown mean mu_d
and precision tau_d, under the Normal-Gamma prior

    mu_d | tau_d ~ N(mu0, (lambda0 tau_d)^-1),    tau_d ~ Gamma(a0, b0)   (rate b0),

and the mean-field family q(mu_d) q(tau_d), q(mu_d) = N(m_d, kappa_d^-1),
q(tau_d) = Gamma(a_d, b_d). The updates are Bishop's eq. (10.26)-(10.30); the two
factors are coupled, so CAVI needs several sweeps, and the exact posterior (a
Normal-Gamma) is known in closed form for the tests to compare with.

There are no local factors: ``_local_step`` returns the weighted sufficient statistics
(N, sum x, sum x^2) per feature. The variational parameters are held in natural form
(kappa, kappa*m, a, b), so the engine's generic blend is the SVI natural-gradient step.
"""

from numbers import Real

import numpy as np
from scipy.special import digamma, gammaln
from sklearn.base import DensityMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from skvi._base import StochasticVIMixin, VariationalEstimator, check_fitted

LOG_2PI = np.log(2 * np.pi)


class NormalGammaModel(StochasticVIMixin, DensityMixin, VariationalEstimator):
    """Per-feature univariate Gaussian with unknown mean and precision (test model)."""

    _parameter_constraints: dict = {
        **VariationalEstimator._parameter_constraints,
        "mean_prior": [Real],
        "mean_precision_prior": [Interval(Real, 0, None, closed="neither")],
        "precision_shape_prior": [Interval(Real, 0, None, closed="neither")],
        "precision_rate_prior": [Interval(Real, 0, None, closed="neither")],
        "learning_decay": [Interval(Real, 0.5, 1.0, closed="right")],
        "learning_offset": [Interval(Real, 0, None, closed="left")],
        "total_samples": [Interval(Real, 0, None, closed="neither"), None],
    }
    _variational_params = ("kappa_", "kappa_mean_", "shape_", "rate_")

    def __init__(
        self,
        *,
        mean_prior=0.0,
        mean_precision_prior=1e-2,
        precision_shape_prior=1e-2,
        precision_rate_prior=1e-2,
        max_iter=200,
        tol=1e-10,
        n_init=1,
        n_jobs=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        learning_decay=0.7,
        learning_offset=10.0,
        total_samples=None,
    ):
        self.mean_prior = mean_prior
        self.mean_precision_prior = mean_precision_prior
        self.precision_shape_prior = precision_shape_prior
        self.precision_rate_prior = precision_rate_prior
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.total_samples = total_samples

    # ----------------------------------------------------------------- hooks
    def _initialize(self, X, y, random_state, sample_weight=None):
        n_features = X.shape[1]
        # A random start: the mean at a random sample, the precision a random
        # multiple of the inverse variance, so that restarts differ.
        row = X[random_state.randint(X.shape[0])]
        precision = np.exp(random_state.normal(size=n_features)) / (X.var(axis=0) + 1.0)
        self._set_variational_params(
            {
                "kappa_": np.ones(n_features),
                "kappa_mean_": row.astype(np.float64),
                "shape_": np.full(n_features, 1.0),
                "rate_": 1.0 / precision,
            }
        )

    def _local_step(self, X, y, sample_weight=None):
        if sample_weight is None:
            n = float(X.shape[0])
            return n, X.sum(axis=0, dtype=np.float64), (X * X).sum(axis=0, dtype=np.float64)
        w = sample_weight.astype(np.float64)
        return w.sum(), w @ X, w @ (X * X)

    def _global_step(self, stats, scale):
        n, s1, s2 = (scale * s for s in stats)
        lam0, mu0 = self.mean_precision_prior, self.mean_prior
        # q(mu): Bishop eq. (10.26)-(10.27), using the current E[tau].
        kappa = (lam0 + n) * self.precision_mean_
        mean = (lam0 * mu0 + s1) / (lam0 + n)
        var = 1.0 / kappa
        # q(tau): Bishop eq. (10.29)-(10.30), using the new q(mu).
        e_mu2 = mean**2 + var
        shape = self.precision_shape_prior + 0.5 * (n + 1.0)
        rate = self.precision_rate_prior + 0.5 * (
            s2 - 2.0 * s1 * mean + n * e_mu2 + lam0 * (e_mu2 - 2.0 * mu0 * mean + mu0**2)
        )
        self._set_variational_params(
            {
                "kappa_": kappa,
                "kappa_mean_": kappa * mean,
                "shape_": np.full_like(rate, shape),
                "rate_": rate,
            }
        )

    def _elbo(self, X, y, sample_weight=None):
        n, s1, s2 = self._local_step(X, y, sample_weight)
        lam0, mu0 = self.mean_precision_prior, self.mean_prior
        a0, b0 = self.precision_shape_prior, self.precision_rate_prior
        e_tau, e_log_tau = self.precision_mean_, digamma(self.shape_) - np.log(self.rate_)
        e_mu, e_mu2 = self.mean_, self.mean_**2 + 1.0 / self.kappa_
        loglik = 0.5 * n * (e_log_tau - LOG_2PI) - 0.5 * e_tau * (s2 - 2 * s1 * e_mu + n * e_mu2)
        log_prior_mu = 0.5 * (np.log(lam0) - LOG_2PI + e_log_tau) - 0.5 * lam0 * e_tau * (
            e_mu2 - 2 * mu0 * e_mu + mu0**2
        )
        log_prior_tau = a0 * np.log(b0) - gammaln(a0) + (a0 - 1) * e_log_tau - b0 * e_tau
        entropy_mu = 0.5 * (1.0 + LOG_2PI - np.log(self.kappa_))
        entropy_tau = (
            gammaln(self.shape_)
            - (self.shape_ - 1) * digamma(self.shape_)
            - np.log(self.rate_)
            + self.shape_
        )
        return float(np.sum(loglik + log_prior_mu + log_prior_tau + entropy_mu + entropy_tau))

    def _set_variational_params(self, params):
        super()._set_variational_params(params)
        self.mean_ = self.kappa_mean_ / self.kappa_
        self.precision_mean_ = self.shape_ / self.rate_

    # ------------------------------------------------------------ prediction
    def score_samples(self, X):
        """E_q[log p(x | mu, tau)] per sample: a lower bound of the log predictive."""
        check_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        e_log_tau = digamma(self.shape_) - np.log(self.rate_)
        sq = (X - self.mean_) ** 2 + 1.0 / self.kappa_
        return np.sum(0.5 * (e_log_tau - LOG_2PI) - 0.5 * self.precision_mean_ * sq, axis=1)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`."""
        return float(self.score_samples(X).mean())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "density_estimator"
        return tags


def exact_posterior(X, model):
    """Exact Normal-Gamma posterior parameters (m, lambda, a, b) per feature."""
    n = X.shape[0]
    lam0, mu0 = model.mean_precision_prior, model.mean_prior
    a0, b0 = model.precision_shape_prior, model.precision_rate_prior
    xbar = X.mean(axis=0)
    lam = lam0 + n
    m = (lam0 * mu0 + n * xbar) / lam
    a = a0 + n / 2
    b = b0 + 0.5 * ((X - xbar) ** 2).sum(axis=0) + lam0 * n * (xbar - mu0) ** 2 / (2 * lam)
    return m, lam, a, b


def exact_log_evidence(X, model):
    """log p(X) of the Normal-Gamma model, summed over the independent features."""
    n = X.shape[0]
    _, lam, a, b = exact_posterior(X, model)
    lam0, a0 = model.mean_precision_prior, model.precision_shape_prior
    b0 = model.precision_rate_prior
    return float(
        np.sum(
            gammaln(a)
            - gammaln(a0)
            + a0 * np.log(b0)
            - a * np.log(b)
            + 0.5 * np.log(lam0 / lam)
            - 0.5 * n * LOG_2PI
        )
    )
