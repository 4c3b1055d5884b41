"""Checks of an estimator's ELBO, written once and used by the property tests.

``MONTE_CARLO_ELBO`` maps an estimator's class name to a function that estimates
E_q[log p(X, Z, theta) - log q(Z, theta)] by sampling from the estimator's current
variational posterior. Each estimator registers one; the ELBO-property test fails for
an estimator that has none.
"""

import numpy as np
from scipy import stats

from skvi._base import run_cavi
from skvi._monitor import ConvergenceMonitor


def _normal_gamma_model_mc(model, X, y, rng, n_draws):
    """Draw (mu, tau) from q, evaluate log p(X, mu, tau) - log q(mu, tau) exactly."""
    d = X.shape[1]
    tau = rng.gamma(model.shape_, 1.0 / model.rate_, size=(n_draws, d))
    mu = rng.normal(model.mean_, 1.0 / np.sqrt(model.kappa_), size=(n_draws, d))
    n = X.shape[0]
    s1, s2 = X.sum(axis=0), (X * X).sum(axis=0)
    loglik = 0.5 * n * (np.log(tau) - np.log(2 * np.pi)) - 0.5 * tau * (
        s2 - 2 * mu * s1 + n * mu**2
    )
    lam0, mu0 = model.mean_precision_prior, model.mean_prior
    a0, b0 = model.precision_shape_prior, model.precision_rate_prior
    log_p = (
        loglik
        + stats.norm.logpdf(mu, mu0, 1.0 / np.sqrt(lam0 * tau))
        + stats.gamma.logpdf(tau, a0, scale=1.0 / b0)
    )
    log_q = stats.norm.logpdf(mu, model.mean_, 1.0 / np.sqrt(model.kappa_)) + stats.gamma.logpdf(
        tau, model.shape_, scale=1.0 / model.rate_
    )
    return (log_p - log_q).sum(axis=1)


def _logistic_mc(model, X, targets, rng, n_draws):
    """Draw (w, alpha) from q; evaluate the Jaakkola-Jordan bound at the model's xi.

    The ELBO of VariationalLogisticRegression integrates the JJ lower bound of the
    likelihood (with the local parameters xi fixed), so that bound is what is sampled.
    """
    from skvi._special import jaakkola_jordan_lambda

    total = np.zeros(n_draws)
    groups = model._group_of
    for k in range(targets.shape[1]):
        w = rng.multivariate_normal(model._mean[k], model._cov[k], size=n_draws)
        alpha = rng.gamma(
            model._prec_shape[k],
            1.0 / model._prec_rate[k],
            size=(n_draws, len(model._prec_shape[k])),
        )
        a = w @ X.T
        xi = model._xi[:, k]
        lam = jaakkola_jordan_lambda(xi)
        log_h = (
            a * (targets[:, k] - 0.5)
            + np.log(1 / (1 + np.exp(-xi)))
            - 0.5 * xi
            - lam * (a**2 - xi**2)
        ).sum(axis=1)
        prior_precision = alpha[:, groups]
        if model.fit_intercept:
            from skvi.linear_model._logistic import INTERCEPT_PRECISION

            prior_precision = np.hstack(
                [prior_precision, np.full((n_draws, 1), INTERCEPT_PRECISION)]
            )
        log_prior_w = stats.norm.logpdf(w, 0.0, 1.0 / np.sqrt(prior_precision)).sum(axis=1)
        log_prior_alpha = stats.gamma.logpdf(alpha, model.lambda_1, scale=1 / model.lambda_2).sum(
            axis=1
        )
        log_q_w = stats.multivariate_normal.logpdf(w, model._mean[k], model._cov[k])
        log_q_alpha = stats.gamma.logpdf(
            alpha, model._prec_shape[k], scale=1.0 / model._prec_rate[k]
        ).sum(axis=1)
        total += log_h + log_prior_w + log_prior_alpha - log_q_w - log_q_alpha
    return total


def _full_matrices(layout, value, n_features, n_components):
    """A VariationalGMM covariance layout as full (K, D, D) (or (D, D)) matrices."""
    value = np.asarray(value, dtype=float)
    eye = np.eye(n_features)
    if layout == "full":
        return value
    if layout == "tied":
        return np.broadcast_to(value, (n_components, n_features, n_features))
    if layout == "diag":
        return value[:, :, None] * eye if value.ndim == 2 else np.diag(value)
    return value[..., None, None] * eye if value.ndim == 1 else value * eye


def _variational_gmm_mc(model, X, y, rng, n_draws):
    """Draw (weights, means, precisions, Z) from q; log p(X, Z, theta) - log q exactly.

    The likelihood carries the reg_covar jitter term -reg/2 tr(Lambda_k) of the
    objective (see skvi.mixture._gmm). Precisions are full D x D Wishart draws for
    every covariance type ('diag'/'spherical' restrict only the Wishart's scale).
    """
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    K = model.n_components
    kind = model.covariance_type
    resp = np.empty((n, K))
    model._e_step(X, model._sweep["theta"], resp_out=resp)

    if model.weight_concentration_prior_type == "dirichlet_process":
        a, b = model.weight_concentration_
        # a draw of exactly 1.0 (float rounding of a sharp Beta) gives log(1 - v) = -inf,
        # which only matters for components after it, whose draws then have z there
        # with probability zero
        v = np.minimum(rng.beta(a, b, size=(n_draws, K)), 1.0 - np.finfo(float).eps)
        log_pi = np.log(v) + np.concatenate(
            [np.zeros((n_draws, 1)), np.cumsum(np.log1p(-v), axis=1)[:, :-1]], axis=1
        )
        gamma = model.weight_concentration_prior_
        log_p = stats.beta.logpdf(v, 1.0, gamma).sum(axis=1)
        log_q = stats.beta.logpdf(v, a, b).sum(axis=1)
    else:
        alpha = model.weight_concentration_
        pi = rng.dirichlet(alpha, size=n_draws)
        log_pi = np.log(pi)
        log_p = stats.dirichlet.logpdf(pi.T, np.full(K, model.weight_concentration_prior_))
        log_q = stats.dirichlet.logpdf(pi.T, alpha)

    nu = np.broadcast_to(np.asarray(model.degrees_of_freedom_, dtype=float), (K,))
    A = _full_matrices(kind, model.covariances_, d, K) * nu[:, None, None]
    Psi = _full_matrices(kind, model.covariance_prior_, d, K)
    Psi = Psi if Psi.ndim == 2 else Psi[0]
    nu0, beta0, m0 = (
        model.degrees_of_freedom_prior_,
        model.mean_precision_prior_,
        model.mean_prior_,
    )
    prior_wishart = stats.wishart(df=nu0, scale=np.linalg.inv(Psi))
    lams = np.empty((n_draws, K, d, d))
    for k in range(1 if kind == "tied" else K):
        q_wishart = stats.wishart(df=nu[k], scale=np.linalg.inv(A[k]))
        lam = q_wishart.rvs(size=n_draws, random_state=rng).reshape(n_draws, d, d)
        lams[:, k] = lam
        log_p += prior_wishart.logpdf(np.moveaxis(lam, 0, -1))
        log_q += q_wishart.logpdf(np.moveaxis(lam, 0, -1))
    if kind == "tied":
        lams[:] = lams[:, :1]

    def gauss_logpdf(x, mean, precision):
        L = np.linalg.cholesky(precision)
        z = np.einsum("...ji,...j->...i", L, x - mean)
        logdet = 2 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(-1)
        return -0.5 * d * np.log(2 * np.pi) + 0.5 * logdet - 0.5 * (z * z).sum(-1)

    beta = model.mean_precision_
    chol = np.linalg.cholesky(np.linalg.inv(beta[None, :, None, None] * lams))
    noise = rng.standard_normal((n_draws, K, d))
    mu = model.means_[None] + np.einsum("skij,skj->ski", chol, noise)
    log_p += gauss_logpdf(mu, m0, beta0 * lams).sum(axis=1)
    log_q += gauss_logpdf(mu, model.means_[None], beta[None, :, None, None] * lams).sum(axis=1)

    cum = np.cumsum(resp, axis=1)
    z = (rng.random((n_draws, n, 1)) > cum[None]).sum(axis=2).clip(max=K - 1)
    draws = np.arange(n_draws)[:, None]
    log_q += np.log(resp[np.arange(n)[None], z]).sum(axis=1)
    log_p += log_pi[draws, z].sum(axis=1)
    lam_z = lams[draws, z]
    log_lik = gauss_logpdf(X[None], mu[draws, z], lam_z)
    log_lik -= 0.5 * model.reg_covar * np.trace(lam_z, axis1=-2, axis2=-1)
    return log_p + log_lik.sum(axis=1) - log_q


def _linear_regression_mc(model, X, y, rng, n_draws):
    """Draw (w, alpha, lambda) from q; log p(y, w, alpha, lambda) - log q, with scipy.stats.

    With ``fit_intercept`` the model is fitted to the centred data (unweighted here).
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    if model.fit_intercept:
        X, y = X - X.mean(axis=0), y - y.mean()
    mean, cov = model._posterior_mean_cov()
    w = rng.multivariate_normal(mean, cov, size=n_draws)
    alpha = rng.gamma(model.alpha_shape_, 1.0 / model.alpha_rate_, size=n_draws)
    shape, rate = np.asarray(model.lambda_shape_), np.asarray(model.lambda_rate_)
    lam = rng.gamma(shape, 1.0 / rate, size=(n_draws, *shape.shape))
    lam_w = lam if shape.ndim else lam[:, None]
    resid = y[None, :] - w @ X.T
    log_p = (
        stats.norm.logpdf(resid, 0.0, 1.0 / np.sqrt(alpha)[:, None]).sum(axis=1)
        + stats.norm.logpdf(w, 0.0, 1.0 / np.sqrt(lam_w)).sum(axis=1)
        + stats.gamma.logpdf(alpha, model.alpha_1, scale=1.0 / model.alpha_2)
        + stats.gamma.logpdf(lam, model.lambda_1, scale=1.0 / model.lambda_2)
        .reshape(n_draws, -1)
        .sum(axis=1)
    )
    log_q = (
        stats.multivariate_normal(mean, cov).logpdf(w)
        + stats.gamma.logpdf(alpha, model.alpha_shape_, scale=1.0 / model.alpha_rate_)
        + stats.gamma.logpdf(lam, shape, scale=1.0 / rate).reshape(n_draws, -1).sum(axis=1)
    )
    return log_p - log_q


def _variational_lda_mc(model, X, y, rng, n_draws):
    """Draw (beta, theta, z) from q; evaluate log p(X, z, theta, beta) - log q exactly.

    q(z) of each token of word w in document d is Cat(phi_dw), phi formed as in the
    E-step that produced gamma: from gamma and the topics before the last M-step. The
    model does not keep those topics, so this runs one more sweep on it, keeping them.
    """
    exp_topic_word_t_e_step = model._exp_topic_word_t.copy()
    model._global_step(model._local_step(X, y), 1.0)
    coo = X.tocoo()
    doc, word, count = coo.row, coo.col, coo.data
    assert np.all(count == np.round(count)), "the Monte Carlo check needs integer counts"
    count = count.astype(int)
    gamma, lam = model._doc_topic_gamma, model.components_
    alpha, eta = model._alpha(), model.topic_word_prior_
    exp_log_theta = np.exp(_elog(gamma))
    phi = exp_log_theta[doc] * exp_topic_word_t_e_step[word]
    phi /= phi.sum(axis=1, keepdims=True)
    tok_doc, tok_word = np.repeat(doc, count), np.repeat(word, count)
    tok_cdf = np.cumsum(np.repeat(phi, count, axis=0), axis=1)
    n_docs, n_topics = gamma.shape
    theta = np.stack([rng.dirichlet(g, size=n_draws) for g in gamma], axis=1)
    beta = np.stack([rng.dirichlet(row, size=n_draws) for row in lam], axis=1)
    u = rng.random((n_draws, tok_doc.size, 1))
    z = np.minimum((u > tok_cdf[None]).sum(axis=2), n_topics - 1)
    draws = np.arange(n_draws)[:, None]
    log_lik = np.log(theta[draws, tok_doc[None], z]) + np.log(beta[draws, z, tok_word[None]])
    log_q_z = np.log(np.repeat(phi, count, axis=0)[np.arange(tok_doc.size)[None], z])
    total = (log_lik - log_q_z).sum(axis=1)
    for d in range(n_docs):
        total += stats.dirichlet.logpdf(theta[:, d].T, alpha)
        total -= stats.dirichlet.logpdf(theta[:, d].T, gamma[d])
    for k in range(lam.shape[0]):
        total += stats.dirichlet.logpdf(beta[:, k].T, np.full(lam.shape[1], eta))
        total -= stats.dirichlet.logpdf(beta[:, k].T, lam[k])
    return total


def _elog(gamma):
    from scipy.special import digamma

    return digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True))


MONTE_CARLO_ELBO = {
    "VariationalLinearRegression": _linear_regression_mc,
    "VariationalGMM": _variational_gmm_mc,
    "NormalGammaModel": _normal_gamma_model_mc,
    "VariationalLogisticRegression": _logistic_mc,
    "VariationalLDA": _variational_lda_mc,
}


def sweep(estimator, X, y=None, n_sweeps=3, random_state=0):
    """Initialise ``estimator`` and run ``n_sweeps`` CAVI sweeps on it in place.

    Returns ``(X, y, history)``: the data as the estimator's hooks see it (after its
    ``_validate_fit_data``, e.g. with an intercept column or encoded labels) and the
    ELBO after each sweep.
    """
    estimator._validate_params()
    X, y, _ = estimator._validate_fit_data(X, y, None, reset=True)
    estimator._check_priors(X, y)
    estimator._initialize(X, y, np.random.RandomState(random_state))
    monitor = ConvergenceMonitor(tol=0.0, normalizer=X.shape[0], check_decrease=False)
    run_cavi(estimator, X, y, None, monitor, n_sweeps)
    return X, y, monitor.history


def assert_elbo_matches_monte_carlo(estimator, X, y=None, n_draws=20_000, random_state=0):
    """The ELBO formula at the current state equals its Monte Carlo estimate.

    ``X`` and ``y`` are the data as the hooks see them (as returned by :func:`sweep`).
    The estimate comes first: it may run one more sweep on the estimator (LDA's).
    """
    name = type(estimator).__name__
    assert name in MONTE_CARLO_ELBO, (
        f"{name} has no Monte Carlo ELBO estimate: register one in "
        "tests/elbo_checks.py::MONTE_CARLO_ELBO"
    )
    draws = MONTE_CARLO_ELBO[name](estimator, X, y, np.random.default_rng(random_state), n_draws)
    elbo = estimator._elbo(X, y)
    mc, stderr = draws.mean(), draws.std(ddof=1) / np.sqrt(n_draws)
    assert abs(elbo - mc) < 5 * stderr + 1e-8 * abs(mc), (
        f"{name}: ELBO formula {elbo:.6f} differs from the Monte Carlo estimate "
        f"{mc:.6f} (standard error {stderr:.2g})"
    )


def assert_elbo_monotone(history):
    """No decrease beyond rounding error between sweeps."""
    history = np.asarray(history)
    slack = np.sqrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(history[1:]))
    drops = np.diff(history) < -slack
    assert not drops.any(), f"ELBO decreased at sweeps {np.flatnonzero(drops) + 2}: {history}"
