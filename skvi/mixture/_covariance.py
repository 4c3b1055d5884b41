"""The four covariance types of :class:`~skvi.mixture.VariationalGMM`, one interface.

Each class knows how its precision posterior is laid out and does the handful of
operations the mixture needs on it; the mixture picks one class per fit (no
``if covariance_type ==`` chains elsewhere).

Symbols (Bishop, PRML §10.2, in the code's names). Data are centred at a fixed
origin ``c`` (``x~ = x - c``), so every mean below is relative to ``c``:

``beta`` (beta_k), ``eta`` (beta_k m_k), ``nu`` (nu_k), ``A`` (W_k^{-1}, the inverse of
the Wishart scale matrix), ``C`` (W_k^{-1} + beta_k m_k m_k^T, the natural parameter of
the Normal-Wishart paired with ``-Lambda/2``), ``Psi`` (W_0^{-1}, the prior's
``covariance_prior_``), ``P`` (a precision-like matrix such as E[Lambda_k] = nu_k W_k).

The four types, exactly scikit-learn's model (see the derivation in ``_gmm``):

``full``
    A_k is a (D, D) matrix per component.
``tied``
    one Wishart shared by every component: A is (D, D), nu a scalar,
    nu = nu_0 + N (one prior, the exact Normal-Wishart posterior).
``diag``
    the Normal-Wishart model whose q(Lambda_k) is restricted to Wisharts with a
    diagonal scale matrix: A_k is a (D,) vector (its diagonal).
``spherical``
    q(Lambda_k) restricted to Wisharts with scale matrix (1/a_k) I: A_k is a scalar.

Quadratic features: every type writes x^T P x as a dot product of a per-sample
feature vector with a per-component coefficient vector (Performance note: one GEMM
then serves every component's Mahalanobis term, and the same features give the
M-step's second moments in one more product):

* full: ``vech(x x^T)`` (upper triangle, i <= j), coefficients ``P_ii`` and ``2 P_ij``;
* diag: ``x * x``; spherical: ``|x|^2``; tied: none (x^T P x is shared by every
  component and is computed separately when it is needed).
"""

import numpy as np

from .._special import log_multivariate_gamma, multivariate_digamma

_LOG_2 = np.log(2.0)


def _cholesky(A):
    """Stacked Cholesky with a last-resort jitter for numerically indefinite input."""
    A = 0.5 * (A + np.swapaxes(A, -1, -2))
    try:
        return np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        pass
    D = A.shape[-1]
    scale = np.abs(np.trace(A, axis1=-2, axis2=-1))[..., None, None] / D + np.finfo(float).tiny
    eye = np.eye(D)
    for jitter in (1e-12, 1e-10, 1e-8, 1e-6):
        try:
            return np.linalg.cholesky(A + jitter * scale * eye)
        except np.linalg.LinAlgError:
            continue
    raise ValueError(
        "Fitting the mixture model failed because some components have ill-defined "
        "covariance (for instance caused by singleton or collapsed samples). Try to "
        "decrease the number of components, increase reg_covar, or scale the input data."
    )


class _Covariance:
    """Interface shared by the four types. ``D`` is the number of features."""

    name = ""
    shared = False  # one precision for every component (tied)

    def __init__(self, n_features):
        self.D = n_features

    # -- layout ---------------------------------------------------------------------
    @property
    def n_quad(self):
        """Number of quadratic features per sample."""
        raise NotImplementedError

    def quad_features(self, XcT, out):
        """Write the quadratic features of centred samples into ``out``.

        Both are laid out features x samples (``XcT`` is (D, n), ``out`` (n_quad, n)),
        so that each product below writes whole contiguous rows.
        """
        raise NotImplementedError

    def quad_coef(self, P):
        """Coefficients ``(n_quad, K)`` with ``quad_features(x) @ coef = x^T P_k x``."""
        raise NotImplementedError

    def unpack_second_moment(self, G_quad):
        """Per-component second-moment statistic from ``resp^T @ quad_features``."""
        raise NotImplementedError

    # -- linear algebra on the type's layout ------------------------------------------
    def factor(self, A):
        """``(A_inverse, log|A|)`` of the inverse scale(s) (Cholesky for matrices)."""
        raise NotImplementedError

    def matvec(self, P, v):
        """``P_k v_k`` for v of shape (K, D)."""
        raise NotImplementedError

    def quad(self, P, v):
        """``v_k^T P_k v_k`` for v of shape (K, D)."""
        return np.sum(v * self.matvec(P, v), axis=-1)

    def trace(self, P):
        """``tr(P_k)`` (the trace of the full D x D matrix the layout stands for)."""
        raise NotImplementedError

    def trace_prod(self, P, Q):
        """``tr(P_k Q_k)`` for two arrays in this layout (broadcasting)."""
        raise NotImplementedError

    def from_matrix_prior(self, Psi):
        """The prior's ``Psi`` in this layout (already in it: returned as float64)."""
        return np.asarray(Psi, dtype=np.float64)

    # -- CAVI: the Normal-Wishart natural parameter C (Bishop eq. 10.60-10.63) ------
    def natural_C(self, Psi, beta0, m0, Nk, S2, reg):
        """C = Psi + beta_0 m_0 m_0^T + sum_n r_nk x x^T + reg N_k I, in this layout."""
        raise NotImplementedError

    def degrees_of_freedom(self, nu0, Nk):
        """nu_k = nu_0 + N_k (Bishop eq. 10.63)."""
        return nu0 + Nk

    def inverse_scale(self, C, beta, eta):
        """A = C - eta eta^T / beta (= W^{-1}, Bishop eq. 10.62).

        Both terms are of size ``beta_k |m_k|^2`` (means relative to the origin), the
        difference of size ``nu_k sigma_k^2``: about ``2 log10(|m_k| / sigma_k)``
        significant digits cancel, so ``C`` must come from float64 statistics (see
        ``_gmm``), whatever the dtype of the data.
        """
        raise NotImplementedError

    # -- everything derived from A, from one factorisation ------------------------
    def posterior(self, A, nu):
        """Derived arrays of the Wishart factors q(Lambda_k) = W(A_k^{-1}, nu_k).

        One Cholesky factorisation of the stacked ``A`` gives all of them (Bishop eq.
        10.62-10.63 for A and nu; scikit-learn's layouts for the public ones):

        ``(A_inv, logdet_A, covariances, precisions, precisions_cholesky)`` with
        ``covariances = A / nu``, ``precisions = nu A^{-1} = E[Lambda]`` and
        ``precisions_cholesky`` the factor U of ``precisions = U U^T`` (upper
        triangular for 'full' and 'tied', as scikit-learn's ``precisions_cholesky_``).
        """
        raise NotImplementedError

    def sample_gaussian(self, rng, A_chol, scale, labels):
        """Draws of N(0, A_k / scale_k) for each label (A_chol from ``sample_factor``)."""
        raise NotImplementedError

    def sample_factor(self, A):
        raise NotImplementedError

    def sample_xPx(self, XcT, L):
        """Per-sample x^T P x that the quadratic features leave out (tied only)."""
        return None

    # -- ELBO pieces ----------------------------------------------------------------
    def expected_logdet(self, nu, logdet_A):
        """E[log|Lambda|] = psi_D(nu/2) + D log 2 - log|A| (Bishop eq. 10.65, B.81)."""
        return multivariate_digamma(0.5 * nu, self.D) + self.D * _LOG_2 - logdet_A

    def wishart_log_normalizer(self, nu, logdet_A):
        """log Z of W(Lambda | A^{-1}, nu) = -log B(W, nu) (Bishop B.79)."""
        D = self.D
        return -0.5 * nu * logdet_A + 0.5 * nu * D * _LOG_2 + log_multivariate_gamma(0.5 * nu, D)


class FullCovariance(_Covariance):
    name = "full"

    def __init__(self, n_features):
        super().__init__(n_features)
        self._iu = np.triu_indices(n_features)
        # where each row i of the upper triangle starts in the vech layout
        self._offsets = np.concatenate(([0], np.cumsum(np.arange(n_features, 0, -1))))

    @property
    def n_quad(self):
        return self.D * (self.D + 1) // 2

    def quad_features(self, XcT, out):
        off = self._offsets
        for i in range(self.D):
            np.multiply(XcT[i], XcT[i:], out=out[off[i] : off[i + 1]])

    def quad_coef(self, P):
        i, j = self._iu
        coef = P[:, i, j] * np.where(i == j, 1.0, 2.0)
        return coef.T

    def unpack_second_moment(self, G_quad):
        K = G_quad.shape[0]
        S = np.zeros((K, self.D, self.D))
        i, j = self._iu
        S[:, i, j] = G_quad
        S[:, j, i] = G_quad
        return S

    def _factor(self, A):
        """``(L^{-1}, A^{-1}, log|A|)`` from the Cholesky factor ``A = L L^T``."""
        L = _cholesky(A)
        logdet = 2.0 * np.sum(np.log(np.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
        L_inv = np.linalg.inv(L)
        return L_inv, np.swapaxes(L_inv, -1, -2) @ L_inv, logdet

    def factor(self, A):
        _, A_inv, logdet = self._factor(A)
        return A_inv, logdet

    def posterior(self, A, nu):
        L_inv, A_inv, logdet = self._factor(A)
        nu = np.asarray(nu, dtype=np.float64)[..., None, None]
        # chol(A / nu) = L / sqrt(nu), so scikit-learn's precisions_cholesky_ (the
        # transposed inverse of the covariance's Cholesky factor) is sqrt(nu) L^{-T}
        U = np.sqrt(nu) * np.swapaxes(L_inv, -1, -2)
        return A_inv, logdet, A / nu, nu * A_inv, U

    def matvec(self, P, v):
        return np.einsum("...ij,...j->...i", P, v)

    def trace(self, P):
        return np.trace(P, axis1=-2, axis2=-1)

    def trace_prod(self, P, Q):
        return np.einsum("...ij,...ji->...", P, Q)

    def natural_C(self, Psi, beta0, m0, Nk, S2, reg):
        eye = np.eye(self.D)
        return Psi + beta0 * np.outer(m0, m0) + S2 + (reg * Nk)[:, None, None] * eye

    def inverse_scale(self, C, beta, eta):
        return C - np.einsum("ki,kj->kij", eta, eta) / beta[:, None, None]

    def sample_factor(self, A):
        return _cholesky(A)

    def sample_gaussian(self, rng, A_chol, scale, labels):
        z = rng.standard_normal(size=(len(labels), self.D))
        return np.einsum("nij,nj->ni", A_chol[labels], z) / np.sqrt(scale[labels])[:, None]


class TiedCovariance(FullCovariance):
    name = "tied"
    shared = True

    @property
    def n_quad(self):
        # x^T P x is shared by every component: no quadratic features (callers test
        # n_quad before asking for quad_features / quad_coef)
        return 0

    def natural_C(self, Psi, beta0, m0, Nk, S2, reg):
        # one Wishart for all components: every component's mean prior contributes
        # beta_0 m_0 m_0^T, S2 is the total scatter sum_n x x^T (Bishop eq. 10.62 summed)
        K = len(Nk)
        return Psi + K * beta0 * np.outer(m0, m0) + S2 + reg * np.sum(Nk) * np.eye(self.D)

    def degrees_of_freedom(self, nu0, Nk):
        return nu0 + float(np.sum(Nk))

    def inverse_scale(self, C, beta, eta):
        return C - np.einsum("ki,kj->ij", eta / beta[:, None], eta)

    def sample_gaussian(self, rng, A_chol, scale, labels):
        z = rng.standard_normal(size=(len(labels), self.D))
        return (z @ A_chol.T) / np.sqrt(scale[labels])[:, None]

    def sample_xPx(self, XcT, L):
        """x^T P x from the Cholesky factor L of P (P = L L^T)."""
        Y = L.T.astype(XcT.dtype) @ XcT
        return np.einsum("in,in->n", Y, Y)

    def quad(self, P, v):
        return np.einsum("ki,ij,kj->k", v, P, v)

    def matvec(self, P, v):
        return v @ P.T


class DiagCovariance(_Covariance):
    name = "diag"

    @property
    def n_quad(self):
        return self.D

    def quad_features(self, XcT, out):
        np.multiply(XcT, XcT, out=out)

    def quad_coef(self, P):
        return P.T

    def unpack_second_moment(self, G_quad):
        return G_quad

    def factor(self, A):
        return 1.0 / A, np.sum(np.log(A), axis=-1)

    def matvec(self, P, v):
        return P * v

    def trace(self, P):
        return np.sum(P, axis=-1)

    def trace_prod(self, P, Q):
        return np.sum(P * Q, axis=-1)

    def natural_C(self, Psi, beta0, m0, Nk, S2, reg):
        return Psi + beta0 * m0 * m0 + S2 + (reg * Nk)[:, None]

    def inverse_scale(self, C, beta, eta):
        return C - eta * eta / beta[:, None]

    def posterior(self, A, nu):
        A_inv, logdet = self.factor(A)
        nu = np.asarray(nu, dtype=np.float64)[:, None]
        precisions = nu * A_inv
        return A_inv, logdet, A / nu, precisions, np.sqrt(precisions)

    def sample_factor(self, A):
        return np.sqrt(A)

    def sample_gaussian(self, rng, A_chol, scale, labels):
        z = rng.standard_normal(size=(len(labels), self.D))
        return z * A_chol[labels] / np.sqrt(scale[labels])[:, None]


class SphericalCovariance(_Covariance):
    name = "spherical"

    @property
    def n_quad(self):
        return 1

    def quad_features(self, XcT, out):
        np.einsum("in,in->n", XcT, XcT, out=out[0])

    def quad_coef(self, P):
        return np.asarray(P)[None, :]

    def unpack_second_moment(self, G_quad):
        return G_quad[:, 0]

    def factor(self, A):
        return 1.0 / A, self.D * np.log(A)

    def matvec(self, P, v):
        return np.asarray(P)[..., None] * v

    def trace(self, P):
        return self.D * P

    def trace_prod(self, P, Q):
        return self.D * P * Q

    def natural_C(self, Psi, beta0, m0, Nk, S2, reg):
        # the restricted optimum keeps the mean of the diagonal of the full-matrix C
        return Psi + (beta0 * np.dot(m0, m0) + S2) / self.D + reg * Nk

    def inverse_scale(self, C, beta, eta):
        return C - np.sum(eta * eta, axis=1) / (self.D * beta)

    def posterior(self, A, nu):
        A_inv, logdet = self.factor(A)
        precisions = np.asarray(nu, dtype=np.float64) * A_inv
        return A_inv, logdet, A / nu, precisions, np.sqrt(precisions)

    def sample_factor(self, A):
        return np.sqrt(A)

    def sample_gaussian(self, rng, A_chol, scale, labels):
        z = rng.standard_normal(size=(len(labels), self.D))
        return z * (A_chol[labels] / np.sqrt(scale[labels]))[:, None]


COVARIANCE_TYPES = {
    cls.name: cls for cls in (FullCovariance, TiedCovariance, DiagCovariance, SphericalCovariance)
}


def make_covariance(covariance_type, n_features):
    """The covariance-type object for one fit."""
    return COVARIANCE_TYPES[covariance_type](n_features)
