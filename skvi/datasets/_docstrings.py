"""A bag-of-words corpus built on the machine from the docstrings of Python's standard library.

No download and no import of the modules (some have side effects): the source files of
the standard library are read as text and every triple-quoted string that opens a
module or follows a line ending in ``:`` (the docstrings of modules, classes and
functions) becomes one document. The files are visited in sorted order, so the corpus
is the same on every run of the same Python version.
"""

import os
import re
import sysconfig

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.utils import Bunch

__all__ = ["load_stdlib_docstrings"]

# Folders of the standard library that are not library documentation (tests, demos,
# the IDE, vendored packages, generated data).
_SKIP_DIRS = frozenset(
    {
        "test",
        "tests",
        "idlelib",
        "lib2to3",
        "tkinter",
        "turtledemo",
        "ensurepip",
        "site-packages",
        "dist-packages",
        "__pycache__",
        "venv",
        "pydoc_data",
        "encodings",
        "lib-dynload",
    }
)

# Words that every docstring uses, whatever its subject.
_DOCSTRING_STOP_WORDS = frozenset(
    [
        "return",
        "returns",
        "returned",
        "default",
        "none",
        "true",
        "false",
        "object",
        "objects",
        "function",
        "functions",
        "method",
        "methods",
        "argument",
        "arguments",
        "value",
        "values",
        "use",
        "used",
        "using",
        "given",
        "optional",
        "called",
        "calls",
        "set",
        "sets",
        "new",
        "instance",
        "class",
        "classes",
        "true",
        "note",
        "example",
        "examples",
        "parameter",
        "parameters",
        "string",
        "strings",
        "type",
        "types",
        "list",
        "lists",
        "number",
        "int",
        "str",
        "bool",
        "self",
        "args",
        "kwargs",
        "specified",
        "raise",
        "raises",
        "raised",
        "error",
        "exception",
        "does",
        "doesn",
        "just",
        "like",
        "way",
        "want",
        "need",
        "needs",
        "make",
        "makes",
        "possible",
        "case",
        "cases",
        "usually",
        "currently",
    ]
)

_DOCSTRING = re.compile(
    r"(?:\A|:[ \t]*(?:#[^\n]*)?\n)[ \t]*[rRuU]?(\"\"\"|''')(.*?)\1",
    re.DOTALL,
)


def _stdlib_files(root):
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(("_", "config-"))
        )
        files.extend(
            os.path.join(dirpath, f)
            for f in sorted(filenames)
            if f.endswith(".py") and not f.startswith("_")
        )
    return files


def load_stdlib_docstrings(*, min_df=5, max_df=0.25, min_tokens=10, stdlib_path=None):
    """Word counts of the docstrings of Python's standard library (built locally).

    Each docstring of a module, class or function in the standard library's source
    files is one document. Words are lower-cased alphabetic tokens of at least three
    letters, without English stop words or words every docstring uses ("return",
    "default", "argument", ...), kept when they occur in at least ``min_df`` and at
    most a fraction ``max_df`` of the docstrings. Documents with fewer than
    ``min_tokens`` kept tokens are dropped. Building it takes one to two seconds; the
    result is deterministic for a given Python version.

    Parameters
    ----------
    min_df : int, default=5
        Keep words found in at least this many docstrings.
    max_df : float, default=0.25
        Drop words found in more than this fraction of the docstrings.
    min_tokens : int, default=10
        Drop documents with fewer kept tokens than this.
    stdlib_path : str or None, default=None
        Folder of the standard library's sources; ``None`` uses this interpreter's
        (``sysconfig.get_paths()["stdlib"]``).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``data``, a ``scipy.sparse.csr_matrix`` of shape (n_documents, n_words)
        and dtype float64 holding the counts; ``feature_names``, the vocabulary
        (ndarray of str, the columns' words); ``doc_names``, ``"path:line"`` of each
        docstring; ``module``, the dotted module name of each docstring; ``DESCR``.

    Raises
    ------
    FileNotFoundError
        When no standard-library source file is found (an interpreter installed
        without its ``.py`` sources).

    Examples
    --------
    >>> from skvi.datasets import load_stdlib_docstrings
    >>> corpus = load_stdlib_docstrings()
    >>> corpus.data.shape[1] == len(corpus.feature_names)
    True
    >>> bool(corpus.data.shape[0] > 500)
    True
    """
    root = sysconfig.get_paths()["stdlib"] if stdlib_path is None else stdlib_path
    files = _stdlib_files(root)
    texts, names, modules = [], [], []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as handle:
            source = handle.read()
        rel = os.path.relpath(path, root)
        module = rel[: -len(".py")].replace(os.sep, ".").removesuffix(".__init__")
        for match in _DOCSTRING.finditer(source):
            texts.append(match.group(2))
            names.append(f"{rel}:{source.count(chr(10), 0, match.start(2)) + 1}")
            modules.append(module)
    if not texts:
        raise FileNotFoundError(f"no standard-library source files with docstrings in {root}")
    vectorizer = CountVectorizer(
        lowercase=True,
        token_pattern=r"(?u)\b[a-zA-Z]{3,}\b",
        stop_words=sorted(ENGLISH_STOP_WORDS | _DOCSTRING_STOP_WORDS),
        min_df=min_df,
        max_df=max_df,
        dtype=np.float64,
    )
    counts = vectorizer.fit_transform(texts).tocsr()
    keep = np.flatnonzero(np.asarray(counts.sum(axis=1)).ravel() >= min_tokens)
    counts = counts[keep]
    counts.sort_indices()
    return Bunch(
        data=counts,
        feature_names=vectorizer.get_feature_names_out(),
        doc_names=np.asarray(names, dtype=object)[keep],
        module=np.asarray(modules, dtype=object)[keep],
        DESCR=(
            f"Docstrings of the Python standard library at {root}: {counts.shape[0]} "
            f"documents, {counts.shape[1]} words, {int(counts.sum())} tokens."
        ),
    )
