"""Bayesian linear models fitted by variational inference."""

from ._logistic import VariationalLogisticRegression

__all__ = ["VariationalLogisticRegression"]
