"""Matrix decompositions fitted by variational inference: topic models."""

from ._lda import VariationalLDA

__all__ = ["VariationalLDA"]
