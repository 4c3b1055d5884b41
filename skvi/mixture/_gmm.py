"""Variational Bayesian Gaussian mixture: the model of scikit-learn's BayesianGaussianMixture.

The model (Bishop, PRML §10.2; stick-breaking prior after Blei & Jordan 2006):

* weights: ``pi ~ Dir(alpha_0, ..., alpha_0)`` ('dirichlet_distribution'), or the
  stick-breaking construction of a Dirichlet process, ``v_k ~ Beta(1, gamma)``,
  ``pi_k = v_k prod_{j<k} (1 - v_j)`` ('dirichlet_process');
* ``z_n | pi ~ Cat(pi)``, ``x_n | z_n = k ~ N(mu_k, Lambda_k^{-1})``;
* ``mu_k | Lambda_k ~ N(m_0, (beta_0 Lambda_k)^{-1})``, ``Lambda_k ~ W(W_0, nu_0)``, with
  ``W_0^{-1} = covariance_prior_``, ``nu_0 = degrees_of_freedom_prior_``,
  ``beta_0 = mean_precision_prior_``, ``m_0 = mean_prior_``.

Mean field ``q(Z) q(pi) prod_k q(mu_k, Lambda_k)``; coordinate ascent (CAVI):

* local step, Bishop eq. (10.46)-(10.49) with (10.64)-(10.66): ``log rho_nk =
  E[log pi_k] + E[log|Lambda_k|]/2 - D/2 log 2 pi - D/(2 beta_k) - nu_k/2 (x_n -
  m_k)^T W_k (x_n - m_k) - reg/2 tr(E[Lambda_k])``, ``r_nk = softmax_k(log rho_nk)``;
* global step, Bishop eq. (10.58)-(10.63): ``alpha_k = alpha_0 + N_k`` (Dirichlet) or
  ``a_k = 1 + N_k``, ``b_k = gamma + sum_{j>k} N_j`` (stick-breaking, Blei & Jordan 2006,
  eq. 18-19); ``beta_k = beta_0 + N_k``, ``m_k = (beta_0 m_0 + N_k xbar_k) / beta_k``,
  ``nu_k = nu_0 + N_k``, ``W_k^{-1} = W_0^{-1} + N_k (S_k + reg I) + beta_0 N_k / beta_k
  (xbar_k - m_0)(xbar_k - m_0)^T``.

Code names and paper symbols: ``resp`` r_nk; ``Nk``, ``S1``, ``S2`` the weighted sums
``sum_n w_n r_nk (1, x_n, x_n x_n^T)``; ``mean_precision_`` beta_k; ``_eta`` beta_k m_k;
``degrees_of_freedom_`` nu_k; ``_natural_C`` ``W_k^{-1} + beta_k m_k m_k^T``; ``A``
``W_k^{-1}``; ``weight_concentration_`` alpha_k, or the pair (a_k, b_k).
``covariances_ = W_k^{-1} / nu_k`` and ``precisions_ = nu_k W_k = E[Lambda_k]``, exactly
as scikit-learn.

Means and second moments are relative to one fixed origin ``_origin`` = c (the mean of
the data that started the fit), which keeps the magnitudes of the data out of the
arithmetic but not the separations between components: ``A = C - eta eta^T / beta``
subtracts two terms of size ``beta_k |m_k - c|^2`` to leave one of size ``nu_k
sigma_k^2``, so it loses about ``2 log10(|m_k - c| / sigma_k)`` significant digits (a
component's distance from the origin in units of its width). The statistics ``S2``
are therefore always accumulated in float64 from features built in float64, float32
input included (float32 sums lost every digit at separations of ~1000 widths). In
float64 the covariances are good to ~5e-4 at 1e6 widths and fail (ill-defined
covariance) near 1e8 widths, where scikit-learn, which centres every component at its
own mean, still works.

What differs from textbook VB, and why. Everything below is scikit-learn's model except
where said; from the same priors and the same start the fit is scikit-learn's to
rounding error when ``reg_covar=0`` (for 'tied', after the change of prior given
below), and differs by O(``reg_covar``) otherwise:

* ``reg_covar``. scikit-learn adds ``reg_covar`` to every empirical covariance. Here it is
  part of the objective: each expected log-likelihood term carries ``-reg/2
  tr(E[Lambda_k])``, the exact expectation of ``log N(x_n + e | mu_k, Lambda_k^{-1})``
  over a jitter ``e ~ N(0, reg I)``. The bound is then still a lower bound on the log
  evidence (it is below the plain ELBO), CAVI on it gives exactly scikit-learn's M-step,
  and the ELBO never decreases. With ``reg_covar=0`` it is the plain ELBO. The E-step
  is not scikit-learn's: our ``log rho_nk`` carries the same ``-reg/2 tr(E[Lambda_k])``
  (the CAVI update of q(Z) for this objective), scikit-learn's E-step leaves it out
  (its iteration then ascends no single bound). With ``reg_covar > 0`` and components
  of different precisions the responsibilities, hence the fit, differ from
  scikit-learn's by relative amounts of order ``reg_covar tr(E[Lambda_k])`` (1e-2 at
  ``reg_covar=1e-2`` on unit-variance data); for 'tied' the term is the same for every
  component and cancels.
* 'diag' and 'spherical' are scikit-learn's: the Normal-Wishart model above, with
  q(Lambda_k) restricted to Wishart distributions whose scale matrix is diagonal
  (respectively a multiple of the identity) and the prior scale ``W_0`` likewise. The
  restricted optimum of the ELBO is ``nu_k = nu_0 + N_k`` and ``W_k^{-1}`` = the diagonal
  (respectively the mean of the diagonal) of the full-covariance update: setting the
  derivatives of KL(q || q*) to zero gives ``(W_k)_dd = nu_k^* / (nu_k (A_k^*)_dd)`` and
  ``(nu_k - nu_k^*) (psi_D'(nu_k/2)/4 - D/(2 nu_k)) = 0``. ``E[log|Lambda_k|]`` is the
  Wishart one, ``psi_D(nu_k/2) + D log 2 - log|W_k^{-1}|``. It is therefore not the
  model with independent per-dimension Gamma precisions (that model's digamma terms
  differ), and its posterior predictive is a multivariate Student-t with a diagonal
  (isotropic) scale matrix, not a product of univariate Student-t's.
* 'tied' is the exact posterior of ONE Wishart shared by all components,
  ``nu = nu_0 + N`` and ``W^{-1} = W_0^{-1} + sum_k [N_k S_k + beta_0 N_k / beta_k
  (xbar_k - m_0)(...)^T] + reg N I``. scikit-learn's 'tied' update instead uses
  ``nu_0 + N/K`` and divides the data terms by K; that is this model with the prior
  ``(K nu_0, K W_0^{-1})``: pass ``degrees_of_freedom_prior=K*nu_0`` and
  ``covariance_prior=K*Psi`` to reproduce scikit-learn's means, covariances_, weights
  and responsibilities (its ``degrees_of_freedom_`` is then ours divided by K).
* The stick-breaking truncation is on q(Z) (Kurihara, Welling & Vlassis 2007):
  ``q(z_n > K) = 0`` while the process stays infinite, so all K sticks are Beta and the
  sticks beyond K keep their prior; the ELBO bounds the evidence of the infinite model.
  scikit-learn uses the same updates.
* The default ``covariance_prior`` is the data's covariance plus ``reg_covar`` on its
  diagonal (scikit-learn: without ``reg_covar``), so that a constant feature still gives
  a proper prior.

The ELBO (Bishop eq. 10.70-10.77) is computed in full, constants included:
``E[log p(X, Z | pi, mu, Lambda)] + H[q(Z)] - KL(q(pi) || p(pi)) - sum_k KL(q(mu_k,
Lambda_k) || p(mu_k, Lambda_k))``. The first term is linear in the local step's
statistics, and ``H[q(Z)] = sum_n w_n logsumexp_k(log rho_nk) - sum_nk w_n r_nk log
rho_nk``, so the ELBO costs no pass over the data beyond the local step.

Computation: every ``log rho_nk`` is linear in the per-sample features ``[1, x, vech(x
x^T)]`` (``[1, x, x*x]`` for 'diag', ``[1, x, |x|^2]`` for 'spherical', ``[1, x]`` for
'tied', whose shared ``x^T E[Lambda] x`` cancels in the softmax), so the local step is,
per chunk of rows, one GEMM ``F @ Theta`` for all components' log rho, a softmax, and one
GEMM ``resp^T @ F`` for every sufficient statistic of the M-step at once (the features
are kept for the whole fit when they take less than 256 MiB, else rebuilt per chunk).
The statistics GEMM is always float64 (see above). For float32 input the log-rho GEMM
runs in float32 while its estimated rounding error, eps32 times the largest sum of
absolute terms, stays below 0.01 nats, else in float64 (``_estep_dtype``): the same
cancellation makes the terms of log rho much larger than log rho for tight,
well-separated clusters.
Chunks run on as many Python threads as the BLAS has, each with a single-threaded BLAS,
and their results are summed in chunk order, so the answer does not depend on the
number of threads (nor, therefore, on ``n_jobs``).

Posterior predictive (Bishop eq. 10.81): ``p(x | X) = sum_k E[pi_k] St(x | m_k, L_k,
nu_k + 1 - D)`` with ``L_k = (nu_k + 1 - D) beta_k / (1 + beta_k) W_k``. For the
Dirichlet-process prior, ``sum_k E[pi_k] < 1``: the rest, ``prod_k E[1 - v_k]``, belongs
to the components beyond the truncation, whose q is the prior, and goes to the prior
predictive ``St(x | m_0, L_0, nu_0 + 1 - D)`` (for 'tied', with the shared posterior
``W``, ``nu``), so that the predictive integrates to one.

References
----------
C. M. Bishop (2006). Pattern Recognition and Machine Learning. Springer. §10.2.

D. M. Blei and M. I. Jordan (2006). Variational inference for Dirichlet process
mixtures. Bayesian Analysis 1(1), 121-143.

K. Kurihara, M. Welling and N. Vlassis (2007). Accelerated variational Dirichlet process
mixtures. NIPS 19.

M. D. Hoffman, D. M. Blei, C. Wang and J. Paisley (2013). Stochastic variational
inference. JMLR 14, 1303-1347.
"""

import copy
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import numpy as np
from scipy.special import digamma, gammaln, logsumexp
from sklearn.base import DensityMixin
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .._base import StochasticVIMixin, VariationalEstimator, check_fitted
from .._dask import is_dask_array
from .._special import LOG_2PI, beta_kl, dirichlet_kl
from ._covariance import make_covariance

__all__ = ["VariationalGMM"]

# Largest data-sized feature matrix kept across the sweeps of one restart.
_FEATURE_CACHE_BYTES = 256 * 2**20
# Rows per chunk are chosen so that one chunk's features and log-responsibilities
# stay in cache.
_CHUNK_BYTES = 4 * 2**20
# Rows per chunk of the float64 passes that take the data's mean and covariance.
_MOMENT_ROWS = 8192
# float32 input: the log-responsibility GEMM runs in float32 only while its estimated
# rounding error (nats, see VariationalGMM._estep_dtype) stays below this.
_FLOAT32_LOGRHO_ERROR = 1e-2
_FLOAT32_EPS = float(np.finfo(np.float32).eps)
# Caches (data-sized or per sweep): never pickled; fit keeps them on its restarts' copies,
# partial_fit drops them after each batch.
_CACHE_ATTRS = ("_fcache", "_tcache", "_rcache", "_sweep", "_prior_sample_weight")

_CONTROLLER = None


def _blas_controller():
    """One threadpoolctl controller (created on first use, once numpy's BLAS is loaded)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        # threadpoolctl is a dependency of scikit-learn; imported here, on first use,
        # so that importing skvi loads only numpy, scipy, scikit-learn and joblib.
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def _blas_threads():
    """Threads the BLAS would use here (1 inside a joblib worker that limits them)."""
    info = _blas_controller().select(user_api="blas").info()
    threads = max((lib["num_threads"] for lib in info), default=1)
    return max(1, min(threads, os.cpu_count() or 1))


def _weighted_mean(X, sample_weight):
    """The (weighted) mean of the rows of X in float64, without a float64 copy of X."""
    if sample_weight is None:
        return np.mean(X, axis=0, dtype=np.float64)
    w = np.asarray(sample_weight, dtype=np.float64)
    total = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], _MOMENT_ROWS):
        stop = start + _MOMENT_ROWS
        total += w[start:stop] @ np.asarray(X[start:stop], dtype=np.float64)
    return total / w.sum()


def _weighted_covariance(X, mean, sample_weight):
    """np.cov of X (ddof=1 on the weighted count: frequency weights), float64, chunked."""
    D = X.shape[1]
    scatter = np.zeros((D, D))
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    for start in range(0, X.shape[0], _MOMENT_ROWS):
        stop = start + _MOMENT_ROWS
        diff = np.asarray(X[start:stop], dtype=np.float64) - mean
        scatter += (diff if w is None else diff * w[start:stop, None]).T @ diff
    total = float(X.shape[0]) if w is None else float(w.sum())
    scatter = 0.5 * (scatter + scatter.T)
    return scatter / (total - 1.0 if total > 1.0 else total)


class VariationalGMM(StochasticVIMixin, DensityMixin, VariationalEstimator):
    """Variational Bayesian Gaussian mixture, a drop-in for BayesianGaussianMixture.

    The same model as :class:`sklearn.mixture.BayesianGaussianMixture` (Bishop 2006,
    §10.2, with a Dirichlet or truncated Dirichlet-process prior on the weights), fitted
    by coordinate-ascent variational inference with the full evidence lower bound
    (constants included, so it compares across ``n_components``, covariance types and
    priors), restarts in parallel, a posterior-predictive :meth:`score_samples` (a
    mixture of multivariate Student-t) and stochastic VI in :meth:`partial_fit`.

    Parameters
    ----------
    n_components : int, default=10
        Number of components (the truncation level for the Dirichlet process).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Form of the precision posteriors; see the Notes for 'tied', 'diag' and
        'spherical'.
    tol : float, default=1e-3
        Stop when the ELBO per training sample changes by less than ``tol`` (as
        scikit-learn's ``GaussianMixture``). ``BayesianGaussianMixture`` compares the
        change of its bound summed over the samples with its ``tol``, so it stops N
        times later: pass ``tol=1e-3 / n_samples`` for the same rule, for example when
        the Dirichlet-process prior should drain superfluous components (which takes
        many small steps) or after ``init_params='random'`` (whose near-symmetric start
        moves slowly at first).
    reg_covar : float, default=1e-6
        Added to the diagonal of every component's scatter, as in scikit-learn (here as a
        term of the objective, see the Notes).
    max_iter : int, default=100
        Most CAVI sweeps per restart.
    n_init : int, default=1
        Restarts; the one with the highest ELBO is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the initial responsibilities are drawn (as scikit-learn).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
        Prior on the weights.
    weight_concentration_prior : float or None, default=None
        gamma (Dirichlet process) or alpha_0 (Dirichlet); ``1 / n_components`` if None.
    mean_precision_prior : float or None, default=None
        beta_0; 1 if None.
    mean_prior : array-like of shape (n_features,) or None, default=None
        m_0; the (weighted) mean of X if None.
    degrees_of_freedom_prior : float or None, default=None
        nu_0 > n_features - 1; n_features if None.
    covariance_prior : float or array-like or None, default=None
        W_0^{-1}: (n_features, n_features) for 'full' and 'tied', (n_features,) for
        'diag', a float for 'spherical'. If None, the (weighted) covariance of X plus
        ``reg_covar`` on its diagonal (its diagonal, its mean variance).
    n_jobs : int or None, default=None
        joblib workers for the restarts.
    random_state : int, RandomState instance or None, default=None
        Seeds the restarts and :meth:`sample`.
    warm_start : bool, default=False
        Continue from the previous fit's posterior.
    verbose : int, default=0
        0 silent, 1 one line per restart, 2 one line per sweep.
    learning_decay : float, default=0.7
        kappa in the step size ``(learning_offset + t) ** -kappa`` of :meth:`partial_fit`.
    learning_offset : float, default=10.0
        tau_0 in that step size.
    total_samples : float or None, default=None
        Size of the data set :meth:`partial_fit` streams over; the number of samples seen
        so far if None.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Posterior mean weights, normalised to sum to one (scikit-learn's convention).
    means_ : ndarray of shape (n_components, n_features)
        Posterior means m_k of the component means.
    covariances_ : ndarray
        ``W_k^{-1} / nu_k``, shaped as in scikit-learn for the covariance type.
    precisions_ : ndarray
        ``E[Lambda_k] = nu_k W_k``, the inverse of ``covariances_``.
    precisions_cholesky_ : ndarray
        Cholesky factors of ``precisions_`` (scikit-learn's layout).
    weight_concentration_ : ndarray or tuple of two ndarrays
        alpha_k (Dirichlet) or the Beta parameters (a_k, b_k) of the sticks.
    mean_precision_ : ndarray of shape (n_components,)
        beta_k.
    degrees_of_freedom_ : ndarray of shape (n_components,) or float
        nu_k (a float for 'tied').
    weight_concentration_prior_ : float
        gamma or alpha_0 used in the fit (the parameter, or its default resolved).
    mean_precision_prior_ : float
        beta_0 used in the fit.
    mean_prior_ : ndarray of shape (n_features,)
        m_0 used in the fit.
    degrees_of_freedom_prior_ : float
        nu_0 used in the fit.
    covariance_prior_ : float or ndarray
        W_0^{-1} used in the fit, shaped for the covariance type.
    n_active_components_ : int
        Components whose expected count of training samples, ``N_k = sum_n w_n r_nk``
        (``mean_precision_ - mean_precision_prior_``), is at least one.
    lower_bound_ : float
        Same as ``elbo_`` (scikit-learn's name); set by :meth:`fit` only.
    lower_bounds_ : ndarray of shape (n_iter_,)
        Same values as ``elbo_history_`` (scikit-learn's name for the bound per sweep).
    elbo_ : float
        ELBO of the kept restart, nats, all constants included.
    elbo_history_ : ndarray of shape (n_iter_,)
        ELBO after each sweep of the kept restart.
    init_elbos_ : ndarray of shape (n_init,)
        Final ELBO of each restart.
    n_iter_ : int
        Sweeps run by the kept restart.
    converged_ : bool
        Whether the kept restart met ``tol``.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen in fit, when X has string column names.
    n_batch_iter_ : int
        Mini-batches seen by :meth:`partial_fit` (since the last :meth:`fit`).
    n_samples_seen_ : float
        (Weighted) samples seen by :meth:`partial_fit`, those of a preceding
        :meth:`fit` included.

    See Also
    --------
    sklearn.mixture.BayesianGaussianMixture : The same model, fitted with a truncated
        ELBO and a plug-in density.

    Notes
    -----
    The module docstring of ``skvi.mixture._gmm`` derives every update and lists the
    few places where this estimator departs from textbook VB. From the same priors and
    the same initial responsibilities the fit is scikit-learn's, to rounding error,
    when ``reg_covar=0``. Three differences remain otherwise:

    * ``reg_covar > 0``: the M-step is scikit-learn's, but ``reg_covar`` is a term of
      the objective (the expected log-likelihood of a jittered sample, ``-reg/2
      tr(E[Lambda_k])`` per sample and component), and the E-step, the CAVI update of
      q(Z), includes that term while scikit-learn's does not. Responsibilities, and so
      the fit, differ by relative amounts of order ``reg_covar tr(E[Lambda_k])``
      ('tied' excepted: there the term is common to all components and cancels).
    * 'tied' is one shared Wishart prior; use ``degrees_of_freedom_prior = K nu_0`` and
      ``covariance_prior = K W_0^{-1}`` to get scikit-learn's fit.
    * the default ``covariance_prior`` is the data's covariance plus ``reg_covar`` on
      its diagonal (scikit-learn's has no ``reg_covar``).

    After :meth:`partial_fit` the posterior's attributes (``means_``, ``weights_``,
    ...) describe the streamed posterior, while ``elbo_``, ``lower_bound_``,
    ``elbo_history_``, ``n_iter_`` and ``converged_`` describe the last :meth:`fit`
    (they are absent after ``partial_fit`` alone); see :meth:`partial_fit`.

    References
    ----------
    C. M. Bishop (2006). Pattern Recognition and Machine Learning, §10.2.

    D. M. Blei and M. I. Jordan (2006). Variational inference for Dirichlet process
    mixtures. Bayesian Analysis 1(1), 121-143.

    M. D. Hoffman, D. M. Blei, C. Wang and J. Paisley (2013). Stochastic variational
    inference. JMLR 14, 1303-1347.

    Examples
    --------
    >>> import numpy as np
    >>> from skvi.mixture import VariationalGMM
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(-4, 1, (100, 2)), rng.normal(4, 1, (100, 2))])
    >>> gmm = VariationalGMM(n_components=5, random_state=0).fit(X)
    >>> gmm.n_active_components_
    2
    >>> gmm.predict([[-4.0, -4.0], [4.0, 4.0]]).tolist() == gmm.predict(X[[0, 150]]).tolist()
    True
    """

    _parameter_constraints: dict = {
        **VariationalEstimator._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "k-means++", "random", "random_from_data"})],
        "weight_concentration_prior_type": [
            StrOptions({"dirichlet_process", "dirichlet_distribution"})
        ],
        "weight_concentration_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_prior": [None, "array-like"],
        "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "covariance_prior": [None, "array-like", Interval(Real, 0.0, None, closed="neither")],
        **StochasticVIMixin._svi_parameter_constraints,
    }

    _variational_params = (
        "weight_concentration_",
        "mean_precision_",
        "_eta",
        "degrees_of_freedom_",
        "_natural_C",
        "_origin",
    )

    def __init__(
        self,
        *,
        n_components=10,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        n_jobs=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        learning_decay=0.7,
        learning_offset=10.0,
        total_samples=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.total_samples = total_samples

    # ---------------------------------------------------------------- validation
    def _validate_fit_data(self, X, y, sample_weight, reset):
        X, y, sample_weight = super()._validate_fit_data(X, y, sample_weight, reset)
        if reset:
            # The first batch resolves the data-dependent priors (a covariance needs two
            # samples) and the initial responsibilities; later partial_fit batches may
            # be a single sample.
            if X.shape[0] < 2:
                raise ValueError(
                    f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a "
                    f"minimum of 2 is required by {type(self).__name__} to start a fit."
                )
            if X.shape[0] < self.n_components:
                raise ValueError(
                    "Expected n_samples >= n_components but got "
                    f"n_components = {self.n_components}, n_samples = {X.shape[0]}."
                )
        # _check_priors(X, y) resolves data-dependent priors with the same weights.
        self._prior_sample_weight = sample_weight
        return X, y, sample_weight

    def _check_priors(self, X, y):
        sample_weight = self.__dict__.pop("_prior_sample_weight", None)
        n_features = X.shape[1]
        self._cov = make_covariance(self.covariance_type, n_features)
        # the posterior's parameters are float64; the public arrays follow the data
        self._dtype = np.dtype(X.dtype)
        # a fit on a dask array brings the moments, summed over its blocks (_dask_check_priors)
        moments = getattr(self, "_data_moments", None)
        mean = _weighted_mean(X, sample_weight) if moments is None else moments[0]

        if self.weight_concentration_prior is None:
            self.weight_concentration_prior_ = 1.0 / self.n_components
        else:
            self.weight_concentration_prior_ = float(self.weight_concentration_prior)
        if self.mean_precision_prior is None:
            self.mean_precision_prior_ = 1.0
        else:
            self.mean_precision_prior_ = float(self.mean_precision_prior)
        if self.mean_prior is None:
            self.mean_prior_ = mean
        else:
            mean_prior = check_array(
                self.mean_prior,
                dtype=[np.float64, np.float32],
                ensure_2d=False,
                input_name="mean_prior",
            )
            if mean_prior.shape != (n_features,):
                raise ValueError(
                    f"The parameter 'mean_prior' should have the shape ({n_features},), "
                    f"but got {mean_prior.shape}."
                )
            self.mean_prior_ = mean_prior.astype(np.float64)
        if self.degrees_of_freedom_prior is None:
            self.degrees_of_freedom_prior_ = float(n_features)
        elif self.degrees_of_freedom_prior > n_features - 1.0:
            self.degrees_of_freedom_prior_ = float(self.degrees_of_freedom_prior)
        else:
            raise ValueError(
                "The parameter 'degrees_of_freedom_prior' should be greater than "
                f"{n_features - 1}, but got {self.degrees_of_freedom_prior:.3f}."
            )
        self.covariance_prior_ = self._resolve_covariance_prior(X, mean, sample_weight)
        # the prior's factorisation, once per fit (the KL terms and the predictive use it)
        self._Psi = self._cov.from_matrix_prior(self.covariance_prior_)
        self._Psi_inv, self._logdet_Psi = self._cov.factor(self._Psi)

    def _resolve_covariance_prior(self, X, mean, sample_weight):
        n_features = X.shape[1]
        kind = self.covariance_type
        if self.covariance_prior is None:
            moments = getattr(self, "_data_moments", None)
            cov = _weighted_covariance(X, mean, sample_weight) if moments is None else moments[1]
            cov = cov + self.reg_covar * np.eye(n_features)
            if kind in ("full", "tied"):
                return cov
            if kind == "diag":
                return np.diag(cov).copy()
            return float(np.mean(np.diag(cov)))
        if kind == "spherical":
            if np.ndim(self.covariance_prior) != 0:
                raise ValueError(
                    "The parameter 'spherical covariance_prior' should be a positive float, "
                    f"but got an array of shape {np.shape(self.covariance_prior)}."
                )
            value = float(self.covariance_prior)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(
                    "The parameter 'spherical covariance_prior' should be a positive, "
                    f"finite float, but got {value!r}."
                )
            return value
        shape = (n_features,) if kind == "diag" else (n_features, n_features)
        if np.ndim(self.covariance_prior) == 0:
            raise ValueError(
                f"The parameter '{kind} covariance_prior' should be an array of shape "
                f"{shape}, but got the scalar {self.covariance_prior!r} (a scalar is the "
                "covariance_prior of covariance_type='spherical' only)."
            )
        prior = check_array(
            self.covariance_prior,
            dtype=[np.float64, np.float32],
            ensure_2d=False,
            input_name="covariance_prior",
        ).astype(np.float64)
        if prior.shape != shape:
            raise ValueError(
                f"The parameter '{kind} covariance_prior' should have the shape "
                f"{shape}, but got {prior.shape}."
            )
        if kind == "diag":
            if np.any(prior <= 0):
                raise ValueError("'diag covariance_prior' should be positive.")
            return prior
        if not np.allclose(prior, prior.T) or np.any(np.linalg.eigvalsh(prior) <= 0.0):
            raise ValueError(f"'{kind} covariance_prior' should be symmetric, positive-definite.")
        return prior

    # -------------------------------------------------------------- features
    def _n_feature_columns(self):
        return 1 + self._cov.D + self._cov.n_quad

    def _chunk_rows(self, n_samples, itemsize):
        width = max(self._n_feature_columns(), self.n_components)
        return int(min(n_samples, max(256, _CHUNK_BYTES // (itemsize * width))))

    def _build_features(self, X, out):
        """``[1; x~; quad(x~)]`` of rows X, centred, into ``out`` (features x samples).

        ``out`` is float64 whatever the dtype of X: ``x - c`` and its products are formed
        in float64 (float32 data are exact in float64), so the statistics of float32 data
        have float64 accuracy.
        """
        D = self._cov.D
        out[0] = 1.0
        XcT = out[1 : 1 + D]
        np.subtract(X.T, self._origin[:, None], out=XcT)
        if self._cov.n_quad:
            self._cov.quad_features(XcT, out[1 + D :])

    def _for_chunks(self, X, func, consume=None, cache=False, low=False):
        """Run ``func(start, stop, FT, FT_low)`` on every chunk of samples; consume in order.

        ``FT`` is the chunk's feature matrix laid out features x samples, ``[1; x~;
        quad(x~)]``, always in float64, so that building it writes contiguous rows and
        both GEMMs of the local step read it in place. ``FT_low`` is the same matrix in
        float32 when X is float32 and ``low`` is true (for a float32 GEMM), else ``FT``.
        Chunks run on as many threads as the BLAS would use, each chunk's BLAS calls
        single-threaded (two small concurrent chunks beat one two-thread GEMM per chunk,
        and a two-thread BLAS stalls badly on a busy machine). ``consume`` sees the
        results in chunk order in the calling thread, so the arithmetic does not depend
        on the number of threads. With ``cache=True`` the feature matrices are kept on
        the (restart's) estimator when they are small, and reused while the same X comes
        back.
        """
        n = X.shape[0]
        low = bool(low) and X.dtype == np.float32
        n_cols = self._n_feature_columns()
        step = self._chunk_rows(n, 8)
        bounds = [(start, min(start + step, n)) for start in range(0, n, step)]
        cached = getattr(self, "_fcache", None)
        FT_all = FT_low_all = None
        build = build_low = False
        if cache and cached is not None and cached[0] is X:
            FT_all, FT_low_all = cached[1], cached[2]
        elif cache and n * n_cols * 8 <= _FEATURE_CACHE_BYTES:
            FT_all, build = np.empty((n_cols, n)), True
        if (
            low
            and FT_all is not None
            and FT_low_all is None
            and n * n_cols * 12 <= _FEATURE_CACHE_BYTES
        ):
            FT_low_all, build_low = np.empty((n_cols, n), dtype=np.float32), True
        local = threading.local()

        def buffer(name, dtype):
            array = getattr(local, name, None)
            if array is None:
                array = np.empty((n_cols, step), dtype=dtype)
                setattr(local, name, array)
            return array

        def task(bound):
            start, stop = bound
            if FT_all is not None:
                FT = FT_all[:, start:stop]
                if build:
                    self._build_features(X[start:stop], FT)
            else:
                FT = buffer("features", np.float64)[:, : stop - start]
                self._build_features(X[start:stop], FT)
            FT_low = FT
            if low:
                if FT_low_all is not None:
                    FT_low = FT_low_all[:, start:stop]
                    if build_low:
                        FT_low[...] = FT
                else:
                    FT_low = buffer("low", np.float32)[:, : stop - start]
                    FT_low[...] = FT
            return func(start, stop, FT, FT_low)

        n_threads = min(_blas_threads(), len(bounds))
        with _blas_controller().limit(limits=1, user_api="blas"):
            if n_threads <= 1:
                for result in map(task, bounds):
                    if consume is not None:
                        consume(result)
            else:
                with ThreadPoolExecutor(n_threads) as executor:
                    for result in executor.map(task, bounds):
                        if consume is not None:
                            consume(result)
        if build or build_low:
            self._fcache = (X, FT_all, FT_low_all)

    def _total_scatter(self, X, sample_weight):
        """sum_n w_n x~ x~^T in float64 ('tied' only), kept with the feature cache."""
        cached = getattr(self, "_tcache", None)
        if cached is not None and cached[0] is X and cached[2] is sample_weight:
            return cached[1]
        D = self._cov.D
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        T = np.zeros((D, D))

        def chunk(start, stop, FT, FT_low):
            XcT = FT[1 : 1 + D]
            return (XcT if w is None else XcT * w[start:stop]) @ XcT.T

        self._for_chunks(X, chunk, T.__iadd__, cache=True)
        T = 0.5 * (T + T.T)
        self._tcache = (X, T, sample_weight)
        return T

    def _clear_caches(self):
        for name in _CACHE_ATTRS:
            self.__dict__.pop(name, None)

    def __getstate__(self):
        state = dict(super().__getstate__())
        for name in _CACHE_ATTRS:
            state.pop(name, None)
        return state

    # ----------------------------------------------------------- posterior terms
    def _expected_log_weights(self):
        """E[log pi_k] (Bishop eq. 10.66; Blei & Jordan 2006 eq. 14 for the sticks)."""
        if self.weight_concentration_prior_type == "dirichlet_process":
            a, b = self.weight_concentration_
            psi_ab = digamma(a + b)
            e_log_1mv = digamma(b) - psi_ab
            return digamma(a) - psi_ab + np.concatenate(([0.0], np.cumsum(e_log_1mv)[:-1]))
        alpha = self.weight_concentration_
        return digamma(alpha) - digamma(np.sum(alpha))

    def _mean_weights(self):
        """E[pi_k] under q, and the mass left to the sticks beyond the truncation."""
        if self.weight_concentration_prior_type == "dirichlet_process":
            a, b = self.weight_concentration_
            e_v = a / (a + b)
            e_1mv = b / (a + b)
            left = np.concatenate(([1.0], np.cumprod(e_1mv)))
            return e_v * left[:-1], float(left[-1])
        alpha = self.weight_concentration_
        return alpha / np.sum(alpha), 0.0

    def _theta(self):
        """Coefficients (n_features_out, K) with ``features @ theta = log rho`` (eq. 10.46).

        For 'tied' the shared ``-x^T E[Lambda] x / 2`` is left out: it cancels in the
        responsibilities and in H[q(Z)] (see ``_elbo``).
        """
        cov = self._cov
        D = cov.D
        beta, nu = self.mean_precision_, self.degrees_of_freedom_
        m = self._eta / beta[:, None]
        P = self._P
        Pm = cov.matvec(P, m)
        # Bishop eq. (10.64)-(10.65); the reg_covar term is -reg/2 tr(E[Lambda_k]).
        e_logdet = cov.expected_logdet(nu, self._logdet_A)
        const = (
            self._expected_log_weights()
            + 0.5 * e_logdet
            - 0.5 * D * LOG_2PI
            - 0.5 * D / beta
            - 0.5 * np.sum(m * Pm, axis=1)
            - 0.5 * self.reg_covar * cov.trace(P)
        )
        const = np.broadcast_to(const, beta.shape)
        rows = [const[None, :], Pm.T]
        if cov.n_quad:
            rows.append(-0.5 * cov.quad_coef(P))
        return np.vstack(rows)

    def _weights_kl(self):
        """KL(q(pi) || p(pi)): Dirichlet, or the sum over sticks of Beta KLs."""
        prior = self.weight_concentration_prior_
        if self.weight_concentration_prior_type == "dirichlet_process":
            a, b = self.weight_concentration_
            return float(np.sum(beta_kl(a, b, 1.0, prior)))
        alpha = self.weight_concentration_
        return float(dirichlet_kl(alpha, np.full_like(alpha, prior)))

    def _normal_wishart_kl(self):
        """sum_k KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k)) (Bishop eq. 10.74, 10.77).

        KL of the Wisharts (one for 'tied') plus, per component, E_q(Lambda)[KL of the
        conditional Gaussians] = 1/2 [D beta_0/beta_k - D + D log(beta_k/beta_0) +
        beta_0 (m_k - m_0)^T E[Lambda_k] (m_k - m_0)].
        """
        cov = self._cov
        D = cov.D
        beta0, nu0 = self.mean_precision_prior_, self.degrees_of_freedom_prior_
        beta, nu = self.mean_precision_, self.degrees_of_freedom_
        Psi = self._Psi
        m = self._eta / beta[:, None]
        m0 = self.mean_prior_ - self._origin
        e_logdet = cov.expected_logdet(nu, self._logdet_A)
        kl_wishart = (
            0.5 * (nu - nu0) * e_logdet
            - 0.5 * nu * D
            + 0.5 * nu * cov.trace_prod(Psi, self._A_inv)
            - cov.wishart_log_normalizer(nu, self._logdet_A)
            + cov.wishart_log_normalizer(nu0, self._logdet_Psi)
        )
        P = self._P
        ratio = beta0 / beta
        kl_gauss = 0.5 * (D * (ratio - 1.0 - np.log(ratio)) + beta0 * cov.quad(P, m - m0))
        return float(np.sum(kl_wishart) + np.sum(kl_gauss))

    # ----------------------------------------------------------------- hooks
    def _initial_resp(self, X, random_state, sample_weight=None):
        """Initial responsibilities, drawn as scikit-learn's BaseMixture draws them."""
        n_samples = X.shape[0]
        K = self.n_components
        if self.init_params == "kmeans":
            resp = np.zeros((n_samples, K), dtype=X.dtype)
            labels = (
                KMeans(n_clusters=K, n_init=1, random_state=random_state)
                .fit(X, sample_weight=sample_weight)
                .labels_
            )
            resp[np.arange(n_samples), labels] = 1
        elif self.init_params == "random":
            resp = random_state.uniform(size=(n_samples, K)).astype(X.dtype)
            resp /= resp.sum(axis=1)[:, None]
        elif self.init_params == "random_from_data":
            resp = np.zeros((n_samples, K), dtype=X.dtype)
            candidates = np.arange(n_samples)
            if sample_weight is not None and np.count_nonzero(sample_weight) >= K:
                candidates = np.flatnonzero(sample_weight > 0)
            indices = candidates[random_state.choice(len(candidates), size=K, replace=False)]
            resp[indices, np.arange(K)] = 1
        else:  # k-means++
            resp = np.zeros((n_samples, K), dtype=X.dtype)
            _, indices = kmeans_plusplus(
                X, K, random_state=random_state, sample_weight=sample_weight
            )
            resp[indices, np.arange(K)] = 1
        return resp

    def _initialize(self, X, y, random_state, sample_weight=None):
        self._origin = _weighted_mean(X, sample_weight)
        resp = self._initial_resp(X, random_state, sample_weight)
        self._global_step(self._stats_from_resp(X, resp, sample_weight), 1.0)

    def _stats_from_resp(self, X, resp, sample_weight=None):
        """Statistics (N_k, S1_k, S2_k) of given responsibilities (initialisation)."""
        rw = np.asarray(resp, dtype=np.float64)
        if sample_weight is not None:
            rw = rw * np.asarray(sample_weight, dtype=np.float64)[:, None]
        G = np.zeros((self.n_components, self._n_feature_columns()))
        self._for_chunks(X, lambda start, stop, FT, FT_low: rw[start:stop].T @ FT.T, G.__iadd__)
        return self._unpack_stats(G, X, sample_weight)

    def _unpack_stats(self, G, X, sample_weight):
        D = self._cov.D
        Nk = G[:, 0].copy()
        S1 = G[:, 1 : 1 + D].copy()
        if self._cov.shared:
            S2 = self._total_scatter(X, sample_weight)
        else:
            S2 = self._cov.unpack_second_moment(G[:, 1 + D :])
        return Nk, S1, S2

    def _local_step(self, X, y, sample_weight=None):
        """Responsibilities (Bishop eq. 10.46-10.49) and their statistics, chunk by chunk.

        Per chunk: one GEMM for every component's log rho, a softmax, and one GEMM for
        all M-step statistics. Caches the statistics, the coefficients used and the
        summed log-normalisers for the ELBO of this sweep.
        """
        G, lse_sum, theta = self._e_step(X, self._theta(), sample_weight)
        self._sweep = {"G": G, "lse_sum": lse_sum, "theta": theta}
        stats = self._unpack_stats(G, X, sample_weight)
        if self._cov.shared:
            self._sweep["T"] = stats[2]
        return stats

    def _estep_dtype(self, X, theta, cache=False):
        """Precision of the log-rho GEMM: float32 for float32 data while it is accurate.

        The GEMM ``theta^T F`` sums terms ``theta_jk F_jn`` that cancel: for a sample
        near a component far from the origin in units of the component's width (tight,
        well-separated clusters) they are many orders of magnitude larger than log
        rho_nk itself. float32 rounds the sum by about eps32 times ``sum_j |theta_jk|
        |F_jn|``, which is at most ``|theta_k|^T f(R)``, with ``f(R) = [1, R, quad(R)]``
        the features of the data's range ``R_i = max_n |x~_ni|`` (every feature is
        bounded by its value at R). The GEMM runs in float32 while ``eps32 max_k
        |theta_k|^T f(R)`` is below ``_FLOAT32_LOGRHO_ERROR`` nats (measured rounding
        errors were 0.5-1.5 times this estimate), else in float64. ``cache`` keeps R
        with the feature cache (the fit's X).
        """
        if X.dtype != np.float32:
            return np.float64
        cached = getattr(self, "_rcache", None)
        if cached is not None and cached[0] is X:
            R = cached[1]
        else:
            lo = np.min(X, axis=0).astype(np.float64)
            hi = np.max(X, axis=0).astype(np.float64)
            R = np.maximum(hi - self._origin, self._origin - lo)
            if cache:
                self._rcache = (X, R)
        f_R = np.empty((self._n_feature_columns(), 1))
        self._build_features((self._origin + R)[None, :], f_R)
        magnitude = float(np.max(np.abs(theta).T @ np.abs(f_R)))
        if _FLOAT32_EPS * magnitude <= _FLOAT32_LOGRHO_ERROR:
            return np.float32
        return np.float64

    def _e_step(self, X, theta, sample_weight=None, resp_out=None):
        """Per chunk: log rho by one GEMM, softmax, then all statistics by one GEMM.

        The log-rho GEMM runs in ``_estep_dtype``; the statistics GEMM always runs in
        float64 on float64 features (see the module docstring: the second moments about
        one origin are differenced in ``inverse_scale``, which float32 sums cannot
        afford). With ``resp_out``, the responsibilities are written there instead.

        Returns the statistics ``G = sum_n w_n r_n F_n^T``, ``sum_n w_n lse_n`` and the
        coefficients as used (rounded to float32 when the GEMM ran in float32): H[q(Z)]
        in ``_elbo`` must subtract ``<theta, G>`` for the theta that made r, or the
        rounding of theta, the same for every sample, would add up over the samples.
        """
        dtype = self._estep_dtype(X, theta, cache=resp_out is None)
        low = dtype == np.float32
        theta_t = np.ascontiguousarray(theta.T, dtype=dtype)
        G = np.zeros((self.n_components, theta.shape[0]))
        lse_sum = 0.0
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

        def chunk(start, stop, FT, FT_low):
            # log rho for all components in one GEMM, laid out components x samples
            r = theta_t @ (FT_low if low else FT)
            mx = r.max(axis=0)
            r -= mx
            np.exp(r, out=r)
            s = r.sum(axis=0)
            r /= s
            lse = mx + np.log(s)
            if resp_out is not None:
                resp_out[start:stop] = r.T
                return None
            r = r.astype(np.float64, copy=False)
            if w is not None:
                r *= w[start:stop]
                lse_part = float(np.dot(w[start:stop], lse))
            else:
                lse_part = float(np.sum(lse, dtype=np.float64))
            # every M-step statistic of every component in one float64 GEMM
            return r @ FT.T, lse_part

        def consume(result):
            nonlocal lse_sum
            if result is not None:
                G.__iadd__(result[0])
                lse_sum += result[1]

        self._for_chunks(X, chunk, consume, cache=resp_out is None, low=low)
        return G, lse_sum, theta_t.T.astype(np.float64)

    def _global_step(self, stats, scale):
        """Bishop eq. (10.58)-(10.63); Blei & Jordan (2006) eq. 18-19 for the sticks."""
        Nk, S1, S2 = (scale * np.asarray(s, dtype=np.float64) for s in stats)
        cov = self._cov
        beta0 = self.mean_precision_prior_
        m0 = self.mean_prior_ - self._origin
        if self.weight_concentration_prior_type == "dirichlet_process":
            tail = np.concatenate((np.cumsum(Nk[::-1])[-2::-1], [0.0]))
            weights = (1.0 + Nk, self.weight_concentration_prior_ + tail)
        else:
            weights = self.weight_concentration_prior_ + Nk
        self._set_variational_params(
            {
                "weight_concentration_": weights,
                "mean_precision_": beta0 + Nk,
                "_eta": beta0 * m0 + S1,
                "degrees_of_freedom_": cov.degrees_of_freedom(self.degrees_of_freedom_prior_, Nk),
                "_natural_C": cov.natural_C(self._Psi, beta0, m0, Nk, S2, self.reg_covar),
                "_origin": self._origin,
            }
        )

    def _elbo(self, X, y, sample_weight=None):
        """Full ELBO (Bishop eq. 10.70-10.77, constants included) from this sweep's stats.

        ``E[log p(X, Z | theta)] = sum_k <theta_k(new), G_k>`` (linear in the
        statistics) and ``H[q(Z)] = sum_n w_n lse_n - sum_k <theta_k(old), G_k>``.
        """
        sweep = self._sweep
        G = sweep["G"]
        expected_loglik = float(np.sum(self._theta().T * G))
        entropy = sweep["lse_sum"] - float(np.sum(sweep["theta"].T * G))
        if self._cov.shared:
            expected_loglik -= 0.5 * float(np.sum(self._P * sweep["T"]))
        return expected_loglik + entropy - self._weights_kl() - self._normal_wishart_kl()

    def _set_variational_params(self, params):
        """Set the named parameters and derive every other array from them, once.

        Called by the engine after each global step, each stochastic-VI blend and at
        the end of ``fit``: the public attributes (``means_``, ``covariances_``,
        ``precisions_``, ``precisions_cholesky_``, ``weights_``,
        ``n_active_components_``) always describe the current posterior, in the dtype
        of the data that started the fit. One Cholesky factorisation of the inverse
        Wishart scales serves all of them (the prior's is done once, in
        ``_check_priors``).
        """
        super()._set_variational_params(params)
        cov = self._cov
        beta, nu = self.mean_precision_, self.degrees_of_freedom_
        A = cov.inverse_scale(self._natural_C, beta, self._eta)
        self._A = A
        self._A_inv, self._logdet_A, covariances, precisions, precisions_cholesky = cov.posterior(
            A, nu
        )
        self._P = precisions  # E[Lambda_k], float64
        dtype = self._dtype
        self.means_ = (self._origin + self._eta / beta[:, None]).astype(dtype, copy=False)
        self.covariances_ = covariances.astype(dtype, copy=False)
        self.precisions_ = precisions.astype(dtype, copy=False)
        self.precisions_cholesky_ = precisions_cholesky.astype(dtype, copy=False)
        mean_weights, _ = self._mean_weights()
        self.weights_ = (mean_weights / np.sum(mean_weights)).astype(dtype, copy=False)
        # N_k = beta_k - beta_0 = sum_n w_n r_nk, the expected count of training samples
        # (the weights' prior pseudo-counts left out: an empty Dirichlet-process
        # component has N * weight close to one from its Beta(1, gamma) prior alone)
        self.n_active_components_ = int(np.sum(beta - self.mean_precision_prior_ >= 1.0))

    def _warm_start_mismatch(self):
        fitted = self.means_.shape[0]
        if fitted != self.n_components:
            return f"n_components is {self.n_components}, the previous fit had {fitted}"
        if self._cov.name != self.covariance_type:
            return (
                f"covariance_type is {self.covariance_type!r}, the previous fit used "
                f"{self._cov.name!r}"
            )
        return None

    def _finalize_fit(self, X, y, sample_weight=None):
        self.lower_bound_ = self.elbo_
        self.lower_bounds_ = self.elbo_history_

    # ----------------------------------------------------------- public methods
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each training sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Same as ``fit(X).predict(X)``; a dask array of the labels, block by block,
            when X is a dask array.
        """
        self.fit(X, y, sample_weight=sample_weight)
        if is_dask_array(X):  # predict where the blocks are, not on the client
            return X.map_blocks(self.predict, drop_axis=1, dtype=np.int64)
        return self.predict(X)

    def partial_fit(self, X, y=None, sample_weight=None):
        """One step of stochastic VI on a mini-batch (Hoffman et al. 2013).

        The first call on an unfitted estimator resolves the priors and initialises the
        posterior from its batch (``init_params``); after :meth:`fit` the stream
        continues the fitted posterior. Each call blends the global factors with their
        optimum for the batch scaled to ``total_samples`` (natural-parameter steps),
        with the step size ``(learning_offset + t) ** -learning_decay`` of the t-th
        batch. Batches after the first may hold a single sample.

        The posterior's public attributes (``means_``, ``covariances_``, ``weights_``,
        ...) are updated by every call, in the dtype of the data that started the fit.
        ``elbo_``, ``lower_bound_``, ``elbo_history_``, ``n_iter_`` and ``converged_``
        are set by :meth:`fit` only (the ELBO of the whole data set is not computed
        on a stream): after ``partial_fit`` they still describe the last ``fit``, and
        they do not exist if the estimator was only ever partially fitted. Nothing in
        :meth:`predict`, :meth:`score` or :meth:`sample` uses them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One mini-batch.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch's samples.

        Returns
        -------
        self : VariationalGMM
            The updated estimator.
        """
        super().partial_fit(X, y, sample_weight=sample_weight)
        self._clear_caches()
        return self

    def _validate_predict(self, X):
        check_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def predict_proba(self, X):
        """Responsibilities of the components under q (Bishop eq. 10.49).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            ``r_nk``, rows summing to one.
        """
        X = self._validate_predict(X)
        resp = np.empty((X.shape[0], self.n_components), dtype=X.dtype)
        self._e_step(X, self._theta(), resp_out=resp)
        return resp

    def predict(self, X):
        """Most probable component of each sample under q.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            ``argmax_k r_nk``.
        """
        return np.argmax(self.predict_proba(X), axis=1)

    def _predictive_components(self):
        """Per predictive component: log weight, beta, centred mean, nu, A, A^-1, log|A|.

        For the Dirichlet process, the mass beyond the truncation is one more component
        at the prior (sharing the posterior Wishart for 'tied').
        """
        cov = self._cov
        mean_weights, tail = self._mean_weights()
        beta = self.mean_precision_
        m = self._eta / beta[:, None]
        nu = np.broadcast_to(np.asarray(self.degrees_of_freedom_, dtype=float), beta.shape)
        A, A_inv = self._A, self._A_inv
        logdet = np.broadcast_to(self._logdet_A, beta.shape)
        with np.errstate(divide="ignore"):
            log_w = np.log(mean_weights)
        if tail > 0:
            m0 = (self.mean_prior_ - self._origin)[None, :]
            log_w = np.append(log_w, np.log(tail))
            beta = np.append(beta, self.mean_precision_prior_)
            m = np.vstack([m, m0])
            if cov.shared:
                nu = np.append(nu, nu[0])
                logdet = np.append(logdet, logdet[0])
            else:
                nu = np.append(nu, self.degrees_of_freedom_prior_)
                A = np.concatenate([A, np.asarray(self._Psi)[None, ...]])
                A_inv = np.concatenate([A_inv, np.asarray(self._Psi_inv)[None, ...]])
                logdet = np.append(logdet, self._logdet_Psi)
        return log_w, beta, m, nu, A, A_inv, logdet

    def _log_student_t(self, X):
        """log St(x | m_k, L_k, nu_k + 1 - D) for every predictive component (eq. 10.81).

        The Mahalanobis terms come from the same features as the E-step, in float64
        for any input dtype (a one-off pass, not part of the fit's loop).
        """
        cov = self._cov
        D = cov.D
        log_w, beta, m, nu, _, A_inv, logdet = self._predictive_components()
        dof = nu + 1.0 - D
        scale = dof * beta / (1.0 + beta)
        # Mahalanobis terms (x - m_k)^T A_k^{-1} (x - m_k) from the same features
        Pm = cov.matvec(A_inv, m)
        rows = [np.sum(m * Pm, axis=1)[None, :], -2.0 * Pm.T]
        if cov.n_quad:
            rows.append(cov.quad_coef(A_inv))
        coef_t = np.ascontiguousarray(np.vstack(rows).T)
        out = np.empty((X.shape[0], len(beta)))
        L_shared = np.linalg.cholesky(A_inv) if cov.shared else None

        def chunk(start, stop, FT, FT_low):
            maha = coef_t @ FT
            if cov.shared:
                maha += cov.sample_xPx(FT[1 : 1 + D], L_shared)
            out[start:stop] = np.maximum(maha, 0.0).T

        self._for_chunks(X, chunk)
        log_norm = (
            gammaln(0.5 * (dof + D))
            - gammaln(0.5 * dof)
            + 0.5 * D * np.log(scale)
            - 0.5 * logdet
            - 0.5 * D * np.log(dof * np.pi)
        )
        return log_w, log_norm - 0.5 * (dof + D) * np.log1p(scale * out / dof)

    def score_samples(self, X):
        """Log density of the posterior predictive (Bishop eq. 10.81) at each sample.

        A mixture of multivariate Student-t distributions (plus, for the Dirichlet
        process, the prior predictive for the mass beyond the truncation). It integrates
        to one, unlike a plug-in Gaussian mixture density.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            ``log p(x | training data)`` under q.
        """
        X = self._validate_predict(X)
        log_w, log_t = self._log_student_t(X)
        return logsumexp(log_t + log_w, axis=1).astype(X.dtype, copy=False)

    def score(self, X, y=None):
        """Mean log posterior-predictive density of the samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            Mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1):
        """Draw samples from the posterior predictive (a Student-t mixture).

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The samples, grouped by component, in the dtype of the training data.
        y : ndarray of shape (n_samples,)
            Their components; ``-1`` marks draws from the prior predictive that carries
            the Dirichlet process's mass beyond the truncation.
        """
        check_fitted(self)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at "
                "least one sample."
            )
        cov = self._cov
        rng = check_random_state(self.random_state)
        log_w, beta, m, nu, A, _, _ = self._predictive_components()
        weights = np.exp(log_w)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        labels = np.repeat(np.arange(len(weights)), counts)
        dof = nu + 1.0 - cov.D
        scale = dof * beta / (1.0 + beta)
        gauss = cov.sample_gaussian(rng, cov.sample_factor(A), scale, labels)
        chi2 = rng.chisquare(dof[labels])
        X = self._origin + m[labels] + gauss / np.sqrt(chi2 / dof[labels])[:, None]
        X = X.astype(self._dtype, copy=False)
        y = labels.astype(np.int64)
        y[y >= self.n_components] = -1
        return X, y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "density_estimator"
        return tags

    # ------------------------------------------------ fit on a dask array (skvi._dask)
    #: The per-sweep cache stays on the client (``_dask_set_pieces`` fills it there).
    _dask_client_only = ("_sweep",)
    #: k-means on a dask array starts from a subsample of at most this many rows.
    _DASK_KMEANS_ROWS = 100_000

    def _dask_check_priors(self, data):
        """``_check_priors`` from the data's mean and covariance summed over the blocks."""
        if data.reset and data.n_samples < max(2, self.n_components):
            raise ValueError(
                f"Found {data.n_samples} sample(s) while {type(self).__name__} needs at "
                f"least 2 and n_components={self.n_components} to start a fit."
            )
        self._data_moments = data.moments()
        try:
            self._check_priors(data.meta_X, None)
        finally:
            del self._data_moments

    def _dask_initialize(self, data, random_state):
        """``_initialize`` on a dask array; the initial statistics are summed over blocks.

        'random_from_data' draws the same rows as in memory. 'kmeans' and 'k-means++'
        run on a uniform subsample of at most ``_DASK_KMEANS_ROWS`` rows (and 64 MiB),
        gathered here: on data no larger than that it is all the rows, in order, and
        the start is the in-memory one; every row then takes its nearest k-means
        centre. 'random' draws each block's responsibilities from a stream of its own:
        the same distribution as in memory, not the same draws.
        """
        K = self.n_components
        self._origin = data.moments()[0]
        if self.init_params == "random_from_data":
            if data.has_weights and data.positive_weights >= K:
                ranks = random_state.choice(data.positive_weights, size=K, replace=False)
                plan = ("rows", data.positive_weight_rows(ranks))
            else:
                plan = ("rows", random_state.choice(data.n_samples, size=K, replace=False))
        elif self.init_params == "random":
            plan = ("random", random_state.randint(np.iinfo(np.int32).max))
        else:
            rows = max(K, min(self._DASK_KMEANS_ROWS, 2**26 // (8 * data.n_features)))
            index, X, weight = data.subsample(rows, random_state)
            if self.init_params == "kmeans":
                kmeans = KMeans(n_clusters=K, n_init=1, random_state=random_state)
                plan = ("kmeans", kmeans.fit(X, sample_weight=weight))
            else:
                _, chosen = kmeans_plusplus(X, K, random_state=random_state, sample_weight=weight)
                plan = ("rows", index[chosen])
        self._global_step(data.map_reduce(self._dask_initial_stats, plan), 1.0)

    def _dask_initial_stats(self, X, y, sample_weight, start, plan):
        """Statistics of one block's initial responsibilities (on a worker)."""
        kind, value = plan
        n, K = X.shape[0], self.n_components
        if kind == "random":
            seed = [value, start % 2**32, start // 2**32]
            resp = np.random.RandomState(seed).uniform(size=(n, K)).astype(X.dtype)
            resp /= resp.sum(axis=1)[:, None]
        else:
            resp = np.zeros((n, K), dtype=X.dtype)
            if kind == "kmeans":
                resp[np.arange(n), value.predict(X)] = 1
            else:  # one row per component
                hit = np.flatnonzero((value >= start) & (value < start + n))
                resp[value[hit] - start, hit] = 1
        return copy.copy(self)._stats_from_resp(X, resp, sample_weight)

    def _dask_pieces(self):
        """The block's additive ELBO pieces: G and its H[q(Z)] (see ``_elbo``)."""
        sweep = self._sweep
        entropy = sweep["lse_sum"] - float(np.sum(sweep["theta"].T * sweep["G"]))
        return {"G": sweep["G"], "entropy": entropy}

    def _dask_set_pieces(self, pieces, stats):
        """The summed pieces as ``_elbo`` reads them.

        Each block's H[q(Z)] is taken with the coefficients that block used (float32
        blocks choose their GEMM precision one by one), so the sum is stored as
        ``lse_sum`` with ``theta = 0``.
        """
        G = pieces["G"]
        self._sweep = {"G": G, "lse_sum": pieces["entropy"], "theta": np.zeros(G.shape[::-1])}
        if self._cov.shared:
            self._sweep["T"] = stats[2]
