"""Small data sets for the tour, the examples and the docs, built on the machine.

Nothing here downloads anything: :func:`load_stdlib_docstrings` reads the docstrings of
Python's own standard library, :func:`make_lda_corpus` draws a corpus from the LDA
generative process.
"""

from ._docstrings import load_stdlib_docstrings
from ._synthetic import make_lda_corpus

__all__ = ["load_stdlib_docstrings", "make_lda_corpus"]
