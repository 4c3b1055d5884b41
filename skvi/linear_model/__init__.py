"""Bayesian linear models fitted by variational inference."""

from ._linear import VariationalLinearRegression
from ._logistic import VariationalLogisticRegression

__all__ = ["VariationalLinearRegression", "VariationalLogisticRegression"]
