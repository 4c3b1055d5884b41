"""The variational engine shared by every skvi estimator.

Every skvi estimator is coordinate-ascent variational inference (CAVI) on a
conjugate-exponential model, so every estimator is the same loop with different
hooks. This module writes that loop once: input validation, restarts in parallel,
the convergence test on the ELBO, warm start, and the stochastic-VI step of
``partial_fit``. An estimator writes only its model, as five hooks:

``_check_priors(X, y)``
    Once per fit, before the restarts, in the calling process: resolve ``None``
    hyperparameters into fitted ``*_prior_`` attributes.
``_initialize(X, y, random_state, sample_weight=None)``
    Once per restart: set the initial variational parameters.
``_local_step(X, y, sample_weight=None)``
    Every sweep or mini-batch: update the local factors (responsibilities,
    document-topic proportions, Jaakkola-Jordan parameters) given the global ones and
    return expected sufficient statistics that add over samples.
``_global_step(stats, scale)``
    Every sweep or mini-batch: set the global factors to their optimum given
    ``scale * stats`` (``scale`` is 1 in a batch fit, ``total_samples / batch size``
    in stochastic VI).
``_elbo(X, y, sample_weight=None)``
    Every sweep, right after ``_global_step``: the full ELBO in nats, all constants
    included, summed over the data, at the current local and global factors. It may
    reuse what the sweep's ``_local_step`` computed.

``sample_weight`` is an extension of the hooks in ARCHITECTURE.md: the mixture and
regression models need weighted statistics, and passing the weights to the hooks
keeps the loop generic. It is ``None`` when the caller gave none.

The global variational parameters are named once per estimator, in the class
attribute ``_variational_params``. Saving, restoring, comparing and blending them is
generic code here. The names must be parameters whose convex combination is the
natural-gradient step of stochastic VI (Hoffman et al. 2013, eq. 27): natural
parameters, or affine maps of them such as Dirichlet concentrations, Beta and Gamma
shapes and rates, or a Gaussian's precision and precision-times-mean. Estimators
derive their public attributes (means, covariances) from them by overriding
:meth:`VariationalEstimator._set_variational_params`.

References
----------
M. D. Hoffman, D. M. Blei, C. Wang and J. Paisley (2013). Stochastic variational
inference. JMLR 14, 1303-1347.
"""

import copy
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data

from ._monitor import ConvergenceMonitor
from .exceptions import ConvergenceWarning

__all__ = ["StochasticVIMixin", "VariationalEstimator"]


@dataclass
class RestartResult:
    """What one restart sends back to the calling process (no data-sized caches)."""

    params: dict
    elbo_history: np.ndarray
    converged: bool
    summary: str

    @property
    def elbo(self):
        return float(self.elbo_history[-1])

    @property
    def n_iter(self):
        return len(self.elbo_history)


def run_cavi(estimator, X, y, sample_weight, monitor, max_iter):
    """Run batch CAVI sweeps on ``estimator`` in place until ``monitor`` converges.

    One sweep is: local factors given the globals, globals given the local statistics,
    an optional refinement of the globals that needs the data (``_refine``), then the
    ELBO at the new state. Each step maximises the ELBO over its factors or at least
    does not lower it, so the ELBO never decreases (Bishop 2006, PRML §10.1.1).
    """
    for _ in range(max_iter):
        # No name keeps the statistics past their global step (they may be large).
        estimator._global_step(estimator._local_step(X, y, sample_weight=sample_weight), 1.0)
        estimator._refine(X, y, sample_weight=sample_weight)
        if monitor.update(estimator._elbo(X, y, sample_weight=sample_weight)):
            break
    return monitor


def _fit_one_restart(template, X, y, sample_weight, seed, label, initialize=True):
    """One restart on a private shallow copy of ``template`` (safe in any process)."""
    X, y, sample_weight = _aligned(X), _aligned(y), _aligned(sample_weight)
    estimator = copy.copy(template)
    if initialize:
        estimator._initialize(X, y, np.random.RandomState(seed), sample_weight=sample_weight)
    monitor = ConvergenceMonitor(
        tol=estimator.tol,
        normalizer=estimator._elbo_normalizer(X, sample_weight),
        verbose=estimator.verbose,
        label=label,
        check_decrease=estimator._elbo_is_monotone(),
        extra_rule=estimator._extra_stopping_rule(),
        rel_eps=np.finfo(X.dtype).eps if X.dtype.kind == "f" else np.finfo(float).eps,
    )
    run_cavi(estimator, X, y, sample_weight, monitor, estimator.max_iter)
    return RestartResult(
        params=estimator._get_variational_params(copy_arrays=False),  # its own: no copies
        elbo_history=np.asarray(monitor.history),
        converged=monitor.converged,
        summary=monitor.summary(),
    )


class VariationalEstimator(BaseEstimator):
    """Base class of skvi's estimators: CAVI with restarts, warm start and verbose.

    Subclasses implement the five hooks listed in the module docstring and name their
    global variational parameters in ``_variational_params``; ``fit`` is written here.

    Parameters
    ----------
    max_iter : int
        Most CAVI sweeps per restart.
    tol : float
        Stop a restart when the change of the ELBO per training sample between two
        sweeps falls below ``tol``.
    n_init : int
        Independent restarts; the one with the highest final ELBO is kept.
    n_jobs : int or None
        joblib workers for the restarts (``None`` means 1 unless inside a
        :func:`joblib.parallel_backend` context, -1 means all cores).
    random_state : int, RandomState instance or None
        Seeds every restart; the result does not depend on ``n_jobs``.
    warm_start : bool
        Continue from the previous fit's variational parameters (``n_init`` is then
        ignored).
    verbose : int
        0 silent, 1 one line per restart, 2 also one line per sweep.

    Attributes
    ----------
    elbo_ : float
        ELBO of the kept restart, in nats over the whole training set, constants
        included.
    elbo_history_ : ndarray of shape (n_iter_,)
        ELBO after every sweep of the kept restart.
    init_elbos_ : ndarray of shape (n_init,)
        Final ELBO of each restart.
    n_iter_ : int
        Sweeps run by the kept restart.
    converged_ : bool
        Whether the kept restart met ``tol`` within ``max_iter`` sweeps.
    """

    _parameter_constraints: dict = {
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    #: Names of the attributes that hold the global variational parameters.
    _variational_params: tuple = ()

    #: Passed to ``validate_data``: whether scipy.sparse input is accepted.
    _accept_sparse = False

    # ------------------------------------------------------------------ hooks
    def _check_priors(self, X, y):
        """Resolve ``None`` hyperparameters into ``*_prior_`` attributes."""

    def _initialize(self, X, y, random_state, sample_weight=None):
        raise NotImplementedError

    def _local_step(self, X, y, sample_weight=None):
        raise NotImplementedError

    def _global_step(self, stats, scale):
        raise NotImplementedError

    def _elbo(self, X, y, sample_weight=None):
        raise NotImplementedError

    # -------------------------------------------------------- optional hooks
    def _validate_fit_data(self, X, y, sample_weight, reset):
        """Validate the training data; return ``(X, y, sample_weight)``.

        Unsupervised estimators ignore ``y``. Subclasses extend this (label encoding,
        non-negative counts) and call it first.
        """
        kwargs = dict(reset=reset, dtype=[np.float64, np.float32])
        if self._accept_sparse:
            kwargs["accept_sparse"] = ["csr", "csc", "coo"]
        if self.__sklearn_tags__().target_tags.required:
            X, y = validate_data(self, X, y, y_numeric=self._y_numeric(), **kwargs)
        else:
            X = validate_data(self, X, **kwargs)
        return X, y, self._validate_sample_weight(sample_weight, X)

    def _y_numeric(self):
        return self.__sklearn_tags__().estimator_type == "regressor"

    def _validate_sample_weight(self, sample_weight, X):
        """``None``, or a non-negative finite float vector of length n_samples."""
        if sample_weight is None:
            return None
        sample_weight = np.asarray(sample_weight, dtype=X.dtype)
        if sample_weight.ndim == 0:
            sample_weight = np.full(X.shape[0], sample_weight, dtype=X.dtype)
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight has shape {sample_weight.shape}; expected "
                f"({X.shape[0]},), one weight per sample."
            )
        if not np.all(np.isfinite(sample_weight)):
            raise ValueError("sample_weight contains NaN or infinity.")
        if np.any(sample_weight < 0):
            raise ValueError("sample_weight contains negative values.")
        if not np.any(sample_weight > 0):
            raise ValueError("sample_weight is zero for every sample.")
        return sample_weight

    def _elbo_normalizer(self, X, sample_weight):
        """What ``tol`` is per: the (weighted) number of training samples."""
        return _sample_count(X, sample_weight)

    #: What ``_elbo_normalizer`` counts, for messages ("sample", "token").
    _tol_unit = "sample"

    def _elbo_is_monotone(self):
        """Whether a sweep can never lower the ELBO (True for batch CAVI).

        A fit whose sweeps are stochastic steps (online LDA) returns False, and a
        decrease is then not reported as a bug.
        """
        return True

    def _get_variational_params(self, copy_arrays=True):
        """The named global variational parameters, as a dict of copies (of the objects
        themselves with ``copy_arrays=False``, for an estimator that is discarded)."""
        take = copy.deepcopy if copy_arrays else lambda value: value
        return {name: take(getattr(self, name)) for name in self._variational_params}

    def _set_variational_params(self, params):
        """Set the named parameters; override to derive public attributes from them."""
        for name, value in params.items():
            setattr(self, name, value)

    def _refine(self, X, y, sample_weight=None):
        """Optional: after a batch sweep's global step, move the globals uphill using the data.

        For example a line search towards a Newton step that coordinate ascent alone
        would take many sweeps to make. It must never lower the ELBO. Not called by
        ``partial_fit`` (stochastic steps see one mini-batch). Default: nothing.
        """

    def _finalize_fit(self, X, y, sample_weight=None):
        """Called once after the kept restart's parameters are set (default: nothing)."""

    def _extra_stopping_rule(self):
        """A second stopping rule for the monitor, ``rule(history, normalizer)``, or None."""
        return None

    def _warm_start_mismatch(self):
        """Why the fitted parameters cannot seed a warm start (None when they can).

        For example ``n_components`` changed since the previous fit.
        """
        return None

    def _check_warm_start(self):
        """Whether this fit continues the previous one (``warm_start`` and fitted)."""
        warm = bool(self.warm_start) and self._has_variational_params()
        if warm and (problem := self._warm_start_mismatch()):
            raise ValueError(
                f"warm_start=True cannot continue the previous fit: {problem}. Set "
                "warm_start=False to fit from a new start."
            )
        return warm

    def _restart_seeds(self, warm):
        """Every restart's seed and verbose label, drawn up front from ``random_state``.

        Always ``n_init`` of them (one for a warm start), so that neither ``n_jobs`` nor
        the order in which workers finish can change the result.
        """
        n_init = 1 if warm else self.n_init
        seeds = check_random_state(self.random_state).randint(np.iinfo(np.int32).max, size=n_init)
        labels = [f"[{type(self).__name__} restart {i + 1}/{n_init}] " for i in range(n_init)]
        return seeds, labels

    def _keep_best_restart(self, results, n_samples_fit):
        """Adopt the restart of highest ELBO and set the fitted attributes shared by all."""
        init_elbos = np.array([result.elbo for result in results])
        best_index = int(np.argmax(init_elbos))
        best = results[best_index]
        if self.verbose >= 1:
            for result in results:
                print(result.summary, flush=True)
            if len(results) > 1:
                print(
                    f"[{type(self).__name__}] kept restart {best_index + 1} "
                    f"(ELBO {best.elbo:.8e})",
                    flush=True,
                )
        self._set_variational_params(best.params)
        self.elbo_ = best.elbo
        self.elbo_history_ = best.elbo_history
        self.init_elbos_ = init_elbos
        self.n_iter_ = best.n_iter
        self.converged_ = best.converged
        # What partial_fit counts as already seen when it continues this fit; a new fit
        # also starts a new stream of mini-batches (see StochasticVIMixin.partial_fit).
        self._fit_n_samples = n_samples_fit
        self.__dict__.pop("n_samples_seen_", None)

    def _warn_if_not_converged(self, n_init):
        if not self.converged_:
            warnings.warn(
                f"{type(self).__name__} did not converge: the best of {n_init} restart(s) "
                f"ran max_iter={self.max_iter} sweeps and its ELBO still changed by more "
                f"than tol={self.tol} per {self._tol_unit}. Increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _has_variational_params(self):
        return all(hasattr(self, name) for name in self._variational_params)

    # ------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the variational posterior by CAVI, keeping the best of ``n_init`` restarts.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Training data; a dask array is fitted where its blocks are (see Notes).
        y : array-like of shape (n_samples,) or None
            Target values for supervised estimators; ignored otherwise.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; an integer weight acts as repeating the sample.

        Returns
        -------
        self : object
            The fitted estimator.

        Notes
        -----
        With a :class:`dask.array.Array` X (``pip install "skvi[distributed]"``) the
        local step runs on each block of rows, on the workers of the current
        :class:`distributed.Client` (else on dask's threaded scheduler), and returns
        statistics that are summed; the global step runs in this process
        (``skvi._dask``). ``y`` and ``sample_weight`` may be numpy or dask arrays.
        The fit is the in-memory one up to rounding, except where a start needs all
        the data at once: VariationalGMM's 'kmeans' and 'k-means++' run on a uniform
        subsample of at most 100 000 rows gathered here (all rows, hence the same
        start, on smaller data) and its 'random' start draws block by block.
        Restarts run one after another; ``n_jobs`` is not used. Predict block by
        block, e.g. ``X.map_blocks(est.predict, drop_axis=1, dtype=int)``.
        """
        from ._dask import fit_dask, is_dask_array  # imports no dask

        if is_dask_array(X):  # local steps on the blocks where they live (skvi._dask)
            return fit_dask(self, X, y, sample_weight)
        warm = self._check_warm_start()
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight, reset=not warm)
        self._check_priors(X, y)
        seeds, labels = self._restart_seeds(warm)
        if warm:
            results = [
                _fit_one_restart(self, X, y, sample_weight, seeds[0], labels[0], initialize=False)
            ]
        else:
            results = Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_one_restart)(self, X, y, sample_weight, seed, label)
                for seed, label in zip(seeds, labels, strict=True)
            )

        self._keep_best_restart(results, _sample_count(X, sample_weight))
        self._finalize_fit(X, y, sample_weight=sample_weight)
        self._warn_if_not_converged(len(results))
        return self


class StochasticVIMixin:
    """``partial_fit`` by stochastic variational inference (Hoffman et al. 2013).

    Mixed into a :class:`VariationalEstimator` that has the parameters
    ``learning_decay``, ``learning_offset`` and ``total_samples``. Each call is one
    natural-gradient step on the global factors from one mini-batch:

    1. local factors of the batch given the current globals (``_local_step``);
    2. the globals' optimum as if the data set were the batch repeated
       ``total_samples / batch size`` times (``_global_step(stats, scale)``);
    3. a blend of old and optimum, ``param <- (1 - rho_t) param + rho_t target`` with
       ``rho_t = (learning_offset + t) ** -learning_decay`` for the t-th batch, t = 1,
       2, ... (Hoffman et al. 2013, eq. 26-27 and §2.4; the Robbins-Monro conditions
       hold for learning_decay in (0.5, 1]).

    The first call initialises the variational parameters from its batch, unless a
    ``fit`` already did: then the stream continues that posterior. With
    ``total_samples=None`` the scale uses the number of samples seen so far, those of
    that ``fit`` included.
    """

    def _blend_variational_params(self, previous, target, rho):
        """``(1 - rho) previous + rho target``, parameter by parameter.

        Right when the named parameters are natural parameters of their factors or
        affine maps of them; an estimator whose named parameters are not (a Gaussian's
        mean and covariance) overrides this to blend in natural coordinates.
        """
        return {
            name: _blend(previous[name], target[name], rho) for name in self._variational_params
        }

    #: Constraints of the step-size parameters, for the estimator's _parameter_constraints.
    _svi_parameter_constraints = {
        "learning_decay": [Interval(Real, 0.5, 1.0, closed="right")],
        "learning_offset": [Interval(Real, 0.0, None, closed="left")],
        "total_samples": [None, Interval(Real, 0.0, None, closed="neither")],
    }

    def _svi_learning_rate(self, t):
        """Step size of the t-th mini-batch (t >= 1)."""
        return float((self.learning_offset + t) ** (-self.learning_decay))

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the variational posterior with one mini-batch (stochastic VI).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One mini-batch of training data.
        y : array-like of shape (n_samples,) or None
            Targets of the batch for supervised estimators; ignored otherwise.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch's samples.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first_call = not self._has_variational_params()
        if not first_call and (problem := self._warm_start_mismatch()):
            raise ValueError(
                f"partial_fit cannot continue the fitted posterior: {problem}. Fit anew, "
                "or set the parameters back."
            )
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight, reset=first_call)
        if first_call:
            self._check_priors(X, y)
            self._initialize(
                X, y, check_random_state(self.random_state), sample_weight=sample_weight
            )
        if not hasattr(self, "n_samples_seen_"):  # the first call, or the first after fit
            self.n_batch_iter_ = 0
            self.n_samples_seen_ = 0.0 if first_call else self._fit_n_samples

        batch_size = _sample_count(X, sample_weight)
        self.n_samples_seen_ += batch_size
        total = self.n_samples_seen_ if self.total_samples is None else self.total_samples
        rho = self._svi_learning_rate(self.n_batch_iter_ + 1)

        t0 = time.perf_counter()
        previous = self._get_variational_params()
        stats = self._local_step(X, y, sample_weight=sample_weight)
        self._global_step(stats, total / batch_size)
        target = self._get_variational_params()
        self._set_variational_params(self._blend_variational_params(previous, target, rho))
        self.n_batch_iter_ += 1
        if self.verbose >= 2:
            print(
                f"[{type(self).__name__} partial_fit] batch {self.n_batch_iter_}  "
                f"rho {rho:.4f}  {time.perf_counter() - t0:.3f}s",
                flush=True,
            )
        return self


def _aligned(a):
    """``a``, or a copy of it if one of its buffers is misaligned.

    joblib's dask backend unpickles arrays at odd addresses; numpy runs other loops on
    misaligned data, which round differently, and a restart must give the same bits on
    every backend and for every n_jobs.
    """
    buffers = [a] if isinstance(a, np.ndarray) else [getattr(a, "data", None)]
    buffers += [getattr(a, name, None) for name in ("indices", "indptr")]  # sparse
    if any(isinstance(b, np.ndarray) and not b.flags.aligned for b in buffers):
        return a.copy()
    return a


def _sample_count(X, sample_weight):
    """The (weighted) number of samples in X."""
    return float(X.shape[0]) if sample_weight is None else float(sample_weight.sum())


def _blend(old, target, rho):
    """``(1 - rho) * old + rho * target`` for arrays, floats or tuples of them."""
    if isinstance(old, tuple):
        return tuple(_blend(o, t, rho) for o, t in zip(old, target, strict=True))
    return (1.0 - rho) * old + rho * target


def check_fitted(estimator):
    """``check_is_fitted`` on the variational parameters (fit or partial_fit)."""
    check_is_fitted(estimator, list(estimator._variational_params) or None)
