"""Warnings raised by skvi that users may want to filter.

:class:`ConvergenceWarning` is scikit-learn's own class, re-exported so that
``warnings.filterwarnings("ignore", category=ConvergenceWarning)`` works for skvi and
scikit-learn estimators alike.
"""

from sklearn.exceptions import ConvergenceWarning

__all__ = ["ConvergenceWarning", "ElboDecreaseWarning"]


class ElboDecreaseWarning(RuntimeWarning):
    """The ELBO went down between two sweeps of a batch fit.

    Coordinate-ascent variational inference never lowers the evidence lower bound:
    every update maximises it over one factor with the others held fixed. A decrease
    larger than rounding error (about ``sqrt(eps) * |ELBO|``) therefore means an
    update or an ELBO term is wrong, or the problem is numerically ill-conditioned.
    skvi's own test suite turns this warning into an error.

    Examples
    --------
    >>> import warnings
    >>> from skvi.exceptions import ElboDecreaseWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", ElboDecreaseWarning)
    ...     # a fit here would raise instead of warn if its ELBO went down
    """
