"""Bayesian logistic regression by the Jaakkola-Jordan variational bound.

The model, for each binary problem (one per class in one-vs-rest, one in all for two
classes), with targets t_n in {0, 1} and the intercept as a coefficient on a column of
ones:

    p(t_n | w) = sigma(w^T x_n)^t_n (1 - sigma(w^T x_n))^(1 - t_n),
    w_j | alpha ~ N(0, alpha_g(j)^-1),      alpha_g ~ Gamma(lambda_1, lambda_2)  (rate),

where each weight j belongs to a precision group g(j): one group shared by all weights
(``ard=False``) or one group per weight (``ard=True``, automatic relevance
determination). The intercept has a fixed vague prior N(0, 1 / INTERCEPT_PRECISION)
instead: shrinking the weights must not shrink it, and a Gamma hyperprior on a group of
one coefficient has a fixed point at infinite precision that would prune it to zero.

The likelihood is replaced by the Jaakkola-Jordan lower bound (Jaakkola & Jordan 2000;
Bishop 2006, PRML eq. 10.151), with one local parameter xi_n per sample,

    log p(t_n | w) >= a_n (t_n - 1/2) + log sigma(xi_n) - xi_n / 2 - lambda(xi_n) (a_n^2 - xi_n^2),

a_n = w^T x_n, lambda(xi) = tanh(xi / 2) / (4 xi). It is quadratic in w, so with the
mean-field family q(w) q(alpha), q(w) = N(m, S) and q(alpha_g) = Gamma(a_g, b_g), every
update is in closed form (Bishop §10.6; Drugowitsch 2013, §3):

    xi_n^2 = x_n^T (S + m m^T) x_n                               (PRML eq. 10.163)
    S^-1 = diag(E[alpha_g(j)]) + 2 sum_n s_n lambda(xi_n) x_n x_n^T   (PRML eq. 10.157)
    m = S sum_n s_n (t_n - 1/2) x_n                               (PRML eq. 10.156)
    a_g = lambda_1 + |g| / 2,  b_g = lambda_2 + 1/2 sum_{j in g} (m_j^2 + S_jj)
                                                          (Drugowitsch 2013, eq. 30-31)

with sample weights s_n. The ELBO is the bound integrated under q, all constants
included:

    L = m^T r + sum_n s_n [log sigma(xi_n) - xi_n/2 + lambda_n xi_n^2] - 1/2 tr((S + m m^T) G)
        + E[log p(w | alpha)] + H[q(w)] - sum_g KL(q(alpha_g) || p(alpha_g)),

r = sum_n s_n (t_n - 1/2) x_n and G = 2 sum_n s_n lambda_n x_n x_n^T: a sweep is two
products over the samples per class (the xi's and G), the rest is O(D^3).

Code names and symbols: ``_mean`` m, ``_cov`` S, ``_prec_shape``/``_prec_rate``
(a_g, b_g), ``xi`` xi, ``lam`` lambda(xi), ``gram`` G, ``r`` r.

References
----------
T. S. Jaakkola and M. I. Jordan (2000). Bayesian parameter estimation via variational
methods. Statistics and Computing 10, 25-37.

C. M. Bishop (2006). Pattern Recognition and Machine Learning, §4.5.2 and §10.6.

J. Drugowitsch (2013). Variational Bayesian inference for linear and logistic
regression. arXiv:1310.5438.

D. J. C. MacKay (1992). The evidence framework applied to classification networks.
Neural Computation 4(5), 720-736.
"""

from numbers import Real

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from .._base import VariationalEstimator, check_fitted
from .._special import (
    LOG_2PI,
    gamma_expectation,
    gamma_expectation_log,
    gamma_kl,
    jaakkola_jordan_lambda,
)

__all__ = ["VariationalLogisticRegression"]

INTERCEPT_PRECISION = 1e-6  # prior precision of the intercept: a N(0, 1000^2) prior


class VariationalLogisticRegression(ClassifierMixin, VariationalEstimator):
    """Bayesian logistic regression fitted by the Jaakkola-Jordan variational bound.

    A Gaussian prior on the weights with a Gamma prior on their precision (one shared
    precision, or one per feature with ``ard=True``). ``predict_proba`` integrates over
    the posterior of the weights (MacKay's probit approximation), so each binary model
    is never more confident than its plug-in sigmoid, and grows less confident far from
    the data. Two classes give one binary model; more give one per class (one-vs-rest),
    each with its own posterior, and their probabilities are normalised over the
    classes (which can make the top class slightly more probable than the normalised
    plug-in probabilities would).

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept; it has a precision of its own, so it is not
        shrunk with the weights.
    ard : bool, default=False
        One precision per weight (automatic relevance determination) instead of one
        shared by all weights.
    lambda_1 : float, default=1e-6
        Shape of the Gamma prior on the weight precisions.
    lambda_2 : float, default=1e-6
        Rate of the Gamma prior on the weight precisions.
    max_iter : int, default=500
        Most sweeps per restart. Data that (nearly) separate the classes need the
        most: the weights then grow slowly from sweep to sweep.
    tol : float, default=1e-4
        Stop when the ELBO changes by less than ``tol`` per (weighted) sample.
    n_init : int, default=1
        Restarts from random starts; the one with the highest ELBO is kept.
    n_jobs : int or None, default=None
        joblib workers for the restarts.
    random_state : int, RandomState instance or None, default=None
        Seeds the starts.
    warm_start : bool, default=False
        Continue from the previous fit's posterior.
    verbose : int, default=0
        1 prints a line per restart, 2 a line per sweep.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Posterior mean of the weights (one row per binary model).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Posterior mean of the intercepts (zeros when ``fit_intercept=False``).
    sigma_ : ndarray of shape (1, n_features, n_features) or (n_classes, ...)
        Posterior covariance of the weights of each binary model.
    lambda_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Posterior mean of the precision of each weight.
    elbo_ : float
        ELBO (the Jaakkola-Jordan bound integrated under q) of the kept restart,
        summed over the binary models.
    elbo_history_ : ndarray of shape (n_iter_,)
        ELBO after every sweep of the kept restart.
    init_elbos_ : ndarray of shape (n_init,)
        Final ELBO of each restart.
    n_iter_ : int
        Sweeps run by the kept restart.
    converged_ : bool
        Whether the kept restart met ``tol``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : Penalised maximum likelihood, no posterior.
    skvi.VariationalLinearRegression : The same priors for a continuous target.

    References
    ----------
    T. S. Jaakkola and M. I. Jordan (2000). Bayesian parameter estimation via
    variational methods. Statistics and Computing 10, 25-37.

    J. Drugowitsch (2013). Variational Bayesian inference for linear and logistic
    regression. arXiv:1310.5438.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skvi import VariationalLogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), VariationalLogisticRegression()).fit(X, y)
    >>> round(clf.score(X, y), 2)
    0.99
    >>> clf.predict_proba(X[:2]).round(3)
    array([[1., 0.],
           [1., 0.]])
    """

    _parameter_constraints: dict = {
        **VariationalEstimator._parameter_constraints,
        "fit_intercept": ["boolean"],
        "ard": ["boolean"],
        "lambda_1": [Interval(Real, 0, None, closed="neither")],
        "lambda_2": [Interval(Real, 0, None, closed="neither")],
    }
    _variational_params = ("_mean", "_cov", "_prec_shape", "_prec_rate")

    def __init__(
        self,
        *,
        fit_intercept=True,
        ard=False,
        lambda_1=1e-6,
        lambda_2=1e-6,
        max_iter=500,
        tol=1e-4,
        n_init=1,
        n_jobs=None,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self.fit_intercept = fit_intercept
        self.ard = ard
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------ data layout
    def _validate_fit_data(self, X, y, sample_weight, reset):
        X, y, sample_weight = super()._validate_fit_data(X, y, sample_weight, reset)
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"VariationalLogisticRegression needs samples of at least 2 classes; "
                f"y has only 1 class: {classes.tolist()}."
            )
        if reset:
            self.classes_ = classes
        elif not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start: y has classes {classes.tolist()}, the previous fit had "
                f"{self.classes_.tolist()}."
            )
        # One binary model per class in one-vs-rest; with two classes one model,
        # for the second class, as sklearn's LogisticRegression.
        n_models = 1 if len(classes) == 2 else len(classes)
        targets = (y_index[:, None] == np.arange(len(classes))[None, -n_models:]).astype(X.dtype)
        if self.fit_intercept:
            X = np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])
        return X, targets, sample_weight

    def _prior_precision_moments(self):
        """E[precision] and E[log precision] of each coefficient's prior, (n_models, n_coefs)."""
        e_alpha = gamma_expectation(self._prec_shape, self._prec_rate)[:, self._group_of]
        e_log_alpha = gamma_expectation_log(self._prec_shape, self._prec_rate)[:, self._group_of]
        if self.fit_intercept:
            column = np.ones((e_alpha.shape[0], 1))
            e_alpha = np.hstack([e_alpha, INTERCEPT_PRECISION * column])
            e_log_alpha = np.hstack([e_log_alpha, np.log(INTERCEPT_PRECISION) * column])
        return e_alpha, e_log_alpha

    # ----------------------------------------------------------------- hooks
    def _check_priors(self, X, y):
        self._fit_dtype = X.dtype
        n_weights = X.shape[1] - int(self.fit_intercept)
        # The precision group of each weight (the intercept's prior is fixed).
        self._group_of = np.arange(n_weights) if self.ard else np.zeros(n_weights, dtype=int)

    def _initialize(self, X, y, random_state, sample_weight=None):
        n_models = y.shape[1]
        n_groups = self._group_of.max(initial=-1) + 1
        shape = np.full((n_models, n_groups), 1.0)
        self._prec_shape, self._prec_rate = shape, shape.copy()  # E[alpha] = 1
        prior_precision, _ = self._prior_precision_moments()
        # Start at the MAP weights, with q(w) a point mass there: the first xi's are
        # then |w_MAP^T x_n|, where the JJ bound touches the likelihood at the MAP, and
        # the JJ fixed point is close, so a few sweeps suffice instead of tens.
        mean = _map_weights(X, y, sample_weight, prior_precision)
        # Jitter the start by 1% of the weights' scale so that restarts differ.
        jitter = 0.01 * np.abs(mean).mean(axis=1, keepdims=True)
        self._set_variational_params(
            {
                "_mean": mean + jitter * random_state.normal(size=mean.shape),
                "_cov": np.zeros(mean.shape + mean.shape[-1:]),
                "_prec_shape": shape,
                "_prec_rate": shape.copy(),
            }
        )

    def _local_step(self, X, y, sample_weight=None):
        """Optimal xi given q(w) (PRML eq. 10.163); returns the statistics G and r."""
        s = np.ones(X.shape[0], dtype=X.dtype) if sample_weight is None else sample_weight
        second_moment = self._cov + np.einsum("ki,kj->kij", self._mean, self._mean)
        n_models = y.shape[1]
        xi = np.empty((X.shape[0], n_models))
        lam = np.empty_like(xi)
        gram = np.empty_like(second_moment)
        for k in range(n_models):  # one product over all samples per binary model
            quad = np.einsum("ni,ni->n", X @ second_moment[k].astype(X.dtype), X)
            xi[:, k] = np.sqrt(np.maximum(quad, 0.0))
            lam[:, k] = jaakkola_jordan_lambda(xi[:, k])
            gram[k] = _weighted_gram(X, 2.0 * s * lam[:, k])
        self._xi = xi
        log_sigma = log_expit(xi) - 0.5 * xi + lam * xi**2
        r = (X.T @ (s[:, None] * (y - 0.5))).T.astype(np.float64)
        return {"gram": gram, "r": r, "xi_terms": s @ log_sigma}

    def _global_step(self, stats, scale):
        gram, r = scale * stats["gram"], scale * stats["r"]
        self._stats = stats
        # q(w): PRML eq. (10.156)-(10.157), through a Cholesky factor of the precision.
        e_alpha, _ = self._prior_precision_moments()
        precision = gram.copy()
        idx = np.arange(precision.shape[-1])
        precision[:, idx, idx] += e_alpha
        cov = _inverse_spd(precision)
        mean = np.einsum("kij,kj->ki", cov, r)
        # q(alpha): Drugowitsch (2013) eq. (30)-(31), per group of weights.
        second = (mean**2 + np.diagonal(cov, axis1=-2, axis2=-1))[:, : len(self._group_of)]
        n_groups = self._prec_shape.shape[1]
        sizes = np.bincount(self._group_of, minlength=n_groups)
        sums = np.stack(
            [np.bincount(self._group_of, weights=row, minlength=n_groups) for row in second]
        )
        self._set_variational_params(
            {
                "_mean": mean,
                "_cov": cov,
                "_prec_shape": np.broadcast_to(self.lambda_1 + 0.5 * sizes, sums.shape).copy(),
                "_prec_rate": self.lambda_2 + 0.5 * sums,
            }
        )

    def _elbo(self, X, y, sample_weight=None):
        stats = self._stats
        gram, r = stats["gram"], stats["r"]
        mean, cov = self._mean, self._cov
        second_moment = cov + np.einsum("ki,kj->kij", mean, mean)
        likelihood_bound = (
            np.einsum("ki,ki->k", mean, r)
            + stats["xi_terms"]
            - 0.5 * np.einsum("kij,kji->k", second_moment, gram)
        )
        e_alpha, e_log_alpha = self._prior_precision_moments()
        second = mean**2 + np.diagonal(cov, axis1=-2, axis2=-1)
        log_prior_w = 0.5 * np.sum(e_log_alpha - LOG_2PI - e_alpha * second, axis=1)
        _, logdet = np.linalg.slogdet(cov)
        entropy_w = 0.5 * cov.shape[-1] * (1.0 + LOG_2PI) + 0.5 * logdet
        kl_alpha = gamma_kl(self._prec_shape, self._prec_rate, self.lambda_1, self.lambda_2)
        return float(np.sum(likelihood_bound + log_prior_w + entropy_w - kl_alpha.sum(axis=1)))

    def _set_variational_params(self, params):
        super()._set_variational_params(params)
        # The algebra runs in float64; the public attributes take the data's dtype.
        n_weights, dtype = self._mean.shape[1] - int(self.fit_intercept), self._fit_dtype
        self.coef_ = self._mean[:, :n_weights].astype(dtype)
        self.intercept_ = (
            self._mean[:, n_weights] if self.fit_intercept else np.zeros(self._mean.shape[0])
        ).astype(dtype)
        self.sigma_ = self._cov[:, :n_weights, :n_weights].astype(dtype)
        self.lambda_ = gamma_expectation(self._prec_shape, self._prec_rate)[
            :, self._group_of
        ].astype(dtype)

    # ------------------------------------------------------------ prediction
    def _logit_moments(self, X):
        """Mean and variance of a = w^T x + b under q, per sample and binary model."""
        check_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        n_weights = self.coef_.shape[1]
        mean = X @ self.coef_.T.astype(X.dtype) + self.intercept_.astype(X.dtype)
        var = np.empty_like(mean)
        for k in range(mean.shape[1]):
            cov = self._cov[k].astype(X.dtype)
            var[:, k] = np.einsum("ni,ni->n", X @ cov[:n_weights, :n_weights], X)
            if self.fit_intercept:
                var[:, k] += 2.0 * (X @ cov[:n_weights, n_weights]) + cov[-1, -1]
        return mean, np.maximum(var, 0.0)

    def decision_function(self, X):
        """Moderated logits, ``kappa(sigma_a^2) mu_a`` (PRML eq. 4.153-4.155).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            The logit of the predictive probability of the positive class (two
            classes) or of each class against the rest.
        """
        mean, var = self._logit_moments(X)
        scores = mean / np.sqrt(1.0 + np.pi * var / 8.0)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Posterior predictive class probabilities, integrated over q(w).

        ``p(t = 1 | x) ~= sigma(kappa(sigma_a^2) mu_a)`` with
        ``kappa(s) = (1 + pi s / 8)^-1/2`` (MacKay 1992; PRML eq. 4.153-4.155): the
        logit is shrunk by its posterior uncertainty. One-vs-rest probabilities are
        normalised over the classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities, in the order of ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            positive = expit(scores)
            return np.column_stack([1.0 - positive, positive])
        proba = expit(scores)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        log_proba = log_expit(scores)
        return log_proba - np.logaddexp.reduce(log_proba, axis=1, keepdims=True)

    def predict(self, X):
        """The class of highest predictive probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels.
        """
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]


def _map_weights(X, targets, sample_weight, prior_precision):
    """MAP weights of each binary model under N(0, 1 / prior_precision) priors.

    L-BFGS on the penalised negative log-likelihood of all binary models at once (one
    product with X and one with X^T per evaluation), to the accuracy a start needs.
    Returns a float64 array of shape (n_models, n_coefs).
    """
    n_models, n_coefs = targets.shape[1], X.shape[1]
    s = np.ones(X.shape[0]) if sample_weight is None else sample_weight.astype(np.float64)

    def objective(flat):
        W = flat.reshape(n_models, n_coefs)
        A = X @ W.T.astype(X.dtype)
        loss = s @ (np.logaddexp(0.0, A) - targets * A) + 0.5 * np.sum(prior_precision * W**2)
        grad = (X.T @ (s[:, None] * (expit(A) - targets)).astype(X.dtype)).T
        return float(np.sum(loss)), (grad + prior_precision * W).ravel()

    result = minimize(
        objective,
        np.zeros(n_models * n_coefs),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 200, "gtol": 1e-4 * max(1.0, s.sum())},
    )
    return result.x.reshape(n_models, n_coefs)


def _weighted_gram(X, weights):
    """``X^T diag(weights) X``, one GEMM (scipy's syrk measured no faster here)."""
    return (X.T * weights.astype(X.dtype)) @ X


def _inverse_spd(matrices):
    """Inverses of a stack of symmetric positive-definite matrices, via Cholesky."""
    chol = np.linalg.cholesky(matrices)
    chol_inv = np.linalg.solve(chol, np.broadcast_to(np.eye(matrices.shape[-1]), matrices.shape))
    return np.matmul(np.swapaxes(chol_inv, -1, -2), chol_inv)
