"""Convergence monitoring on the evidence lower bound.

One :class:`ConvergenceMonitor` follows one restart: it records the ELBO after
every sweep, decides convergence on the change of ELBO per training sample (per
token for topic models), reports a decrease, which batch coordinate ascent must
never produce, and prints the progress lines that ``verbose`` asks for.
"""

import time
import warnings

import numpy as np

from .exceptions import ElboDecreaseWarning


class ConvergenceMonitor:
    """ELBO history and stopping rule of one restart.

    Parameters
    ----------
    tol : float
        Stop when ``|ELBO_t - ELBO_{t-1}| / normalizer < tol``.
    normalizer : float
        Number of training samples (or tokens); makes ``tol`` independent of the
        data set's size.
    verbose : int
        2 prints one line per sweep.
    label : str
        Names the restart in the printed lines.
    check_decrease : bool
        Warn with :class:`~skvi.exceptions.ElboDecreaseWarning` when the ELBO drops
        by more than rounding error (batch fits only).
    rel_eps : float
        Relative rounding error of the ELBO's arithmetic: ``np.finfo(dtype).eps``.
    extra_rule : callable or None
        ``extra_rule(history, normalizer) -> bool``, a second stopping rule that ends the
        restart when it returns True (for example scikit-learn's perplexity test of
        LatentDirichletAllocation, ``evaluate_every`` and ``perp_tol``).
    """

    def __init__(
        self,
        tol,
        normalizer,
        verbose=0,
        label="",
        check_decrease=True,
        rel_eps=2.2e-16,
        extra_rule=None,
    ):
        self.tol = tol
        self.normalizer = max(float(normalizer), 1.0)
        self.verbose = verbose
        self.label = label
        self.check_decrease = check_decrease
        self.extra_rule = extra_rule
        # A decrease below this many nats is rounding, not a bug.
        self._slack_factor = np.sqrt(rel_eps)
        self.history = []
        self.converged = False
        self._t0 = time.perf_counter()
        self._t_last = self._t0

    @property
    def n_iter(self):
        return len(self.history)

    def update(self, elbo):
        """Record the ELBO after a sweep; return True once converged."""
        elbo = float(elbo)
        now = time.perf_counter()
        if not np.isfinite(elbo):
            raise FloatingPointError(
                f"{self.label}the ELBO is {elbo} after sweep {self.n_iter + 1}: the fit "
                "diverged numerically (check the input's scale or increase the priors' "
                "regularisation)."
            )
        change = np.nan
        if self.history:
            previous = self.history[-1]
            change = elbo - previous
            slack = self._slack_factor * max(1.0, abs(elbo))
            if self.check_decrease and change < -slack:
                warnings.warn(
                    f"{self.label}the ELBO decreased by {-change:.6g} nats at sweep "
                    f"{self.n_iter + 1} (from {previous:.10g} to {elbo:.10g}); coordinate "
                    "ascent never lowers it, so an update or an ELBO term is wrong or the "
                    "problem is ill-conditioned.",
                    ElboDecreaseWarning,
                    stacklevel=3,
                )
            self.converged = abs(change) / self.normalizer < self.tol
        self.history.append(elbo)
        if self.extra_rule is not None and self.extra_rule(self.history, self.normalizer):
            self.converged = True
        if self.verbose >= 2:
            print(
                f"{self.label}sweep {self.n_iter:4d}  ELBO {elbo: .8e}  "
                f"change/sample {change / self.normalizer: .3e}  "
                f"{now - self._t_last:.3f}s",
                flush=True,
            )
        self._t_last = now
        return self.converged

    def summary(self):
        """One line describing the finished restart (``verbose >= 1``)."""
        state = "converged" if self.converged else "not converged"
        last = self.history[-1] if self.history else np.nan
        return (
            f"{self.label}{state} after {self.n_iter} sweeps, ELBO {last:.8e}, "
            f"{time.perf_counter() - self._t0:.2f}s"
        )
