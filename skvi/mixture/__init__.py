"""Mixture models fitted by variational inference."""

from ._gmm import VariationalGMM

__all__ = ["VariationalGMM"]
