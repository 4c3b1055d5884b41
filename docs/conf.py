"""Sphinx configuration of the skvi documentation.

Build (from the repository root; warnings are errors)::

    pip install ".[docs]" && python -m sphinx -W --keep-going -b html docs docs/_build/html

The build runs every ``examples/plot_*.py`` (sphinx-gallery, matplotlib's Agg backend) and
needs no network: intersphinx falls back to the inventories in ``docs/_intersphinx``
(written by ``docs/_intersphinx/make_inventories.py``).
"""

import doctest
import os
import re
import sys
import warnings
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
# Document the checkout the docs live in, even when another copy of skvi is installed.
sys.path.insert(0, str(DOCS.parent))

import skvi  # noqa: E402

# -- Project ------------------------------------------------------------------------------
project = "skvi"
author = "skvi developers"
copyright = "skvi developers"
release = skvi.__version__
version = ".".join(release.split(".")[:2])

# -- General ------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "_intersphinx", "**.ipynb_checkpoints", "sg_execution_times.rst"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
default_role = "literal"
# Every cross-reference must resolve (to this site or, by intersphinx, to another one).
nitpicky = True
# Type words of numpydoc's "Parameters" lines that are prose, not objects.
_PROSE = r"(default|shape|of|or|optional|instance|array-like|n_\w+|\(.*|.*\)|\d.*)"
nitpick_ignore_regex = [
    ("py:class", _PROSE),
    ("py:obj", _PROSE),
    # private modules are not documented; a docstring naming one shows it as code
    ("py:.*", r"skvi\.(.*\.)?_\w+(\..*)?"),
]
# Equations are numbered per page, "(1)", "(2)", ...
math_number_all = False
math_eqref_format = "({number})"

# -- doctest: the ``.. doctest::`` blocks of the pages (docstrings are pytest's) -----------
# python -m sphinx -b doctest -D plot_gallery=0 docs docs/_build/doctest
doctest_test_doctest_blocks = ""
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# -- autodoc / autosummary / numpydoc -----------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    # numpydoc's default for bool is a label of Python's docs that moves between versions
    "bool": ":class:`python:bool`",
    "estimator": "sklearn.base.BaseEstimator",
    "RandomState": "numpy.random.RandomState",
    "RandomState instance": "numpy.random.RandomState",
    "sparse matrix": "scipy.sparse.spmatrix",
    "csr_matrix": "scipy.sparse.csr_matrix",
    "scipy.sparse.csr_matrix": "scipy.sparse.csr_matrix",
    "VariationalGMM": "skvi.VariationalGMM",
    "VariationalLDA": "skvi.VariationalLDA",
    "VariationalLinearRegression": "skvi.VariationalLinearRegression",
    "VariationalLogisticRegression": "skvi.VariationalLogisticRegression",
}
numpydoc_xref_ignore = {
    "of",
    "or",
    "shape",
    "default",
    "optional",
    "instance",
    "array-like",
    "tuple",
    "two",
    "ndarrays",
    "n_samples",
    "n_features",
    "n_components",
    "n_classes",
    "n_init",
    "for",
    "with",
    "a",
    "an",
    "method",
    "ARD",
    "Ignored",
    "objects",
    "...",
}

# -- intersphinx (offline fallbacks; see docs/_intersphinx/make_inventories.py) -----------
intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", (None, "_intersphinx/python.inv")),
    "numpy": ("https://numpy.org/doc/stable/", (None, "_intersphinx/numpy.inv")),
    "scipy": ("https://docs.scipy.org/doc/scipy/", (None, "_intersphinx/scipy.inv")),
    "sklearn": ("https://scikit-learn.org/stable/", (None, "_intersphinx/sklearn.inv")),
    "joblib": ("https://joblib.readthedocs.io/en/stable/", (None, "_intersphinx/joblib.inv")),
    "dask": ("https://docs.dask.org/en/stable/", (None, "_intersphinx/dask.inv")),
    "distributed": (
        "https://distributed.dask.org/en/stable/",
        (None, "_intersphinx/distributed.inv"),
    ),
}
# An offline machine cannot fetch the online inventories: Sphinx then says so (at info
# level) and uses the local ones. Links point to the online pages either way.
intersphinx_timeout = 5

# -- sphinx-gallery -----------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # run every plot_*.py (and show its figures); other files are copied, not run
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "doc_module": ("skvi",),
    "backreferences_dir": "generated/backreferences",
    "min_reported_time": 1,
    "remove_config_comments": True,
    "show_memory": False,
    # an example that raises fails the build
    "only_warn_on_example_error": False,
    "abort_on_example_error": False,
}

# -- MyST (the changelog is ../CHANGELOG.md, included as is) ------------------------------
myst_heading_anchors = 3

# -- HTML ---------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skvi {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "logo": {"text": "skvi"},
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sg_download_links", "sg_launcher_links"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "getting_started": [], "changelog": [], "performance": []}

# Warnings from third-party libraries while the examples and docstrings are imported are
# not the docs' business (sphinx-gallery shows an example's own warnings on its page).
warnings.filterwarnings("ignore", category=DeprecationWarning, module="matplotlib")


# -- skvi.X is documented once, as the name exported from the package --------------------
def _skvi_alias(app, env, node, contnode):
    """Resolve ``skvi.<sub>.Name[.attr]`` to the documented ``skvi.Name[.attr]``.

    The estimators are exported from ``skvi`` and from their modules (``skvi.mixture``,
    ``skvi.linear_model``, ``skvi.decomposition``); the API reference documents the
    top-level names, so references through a module path are sent there.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    parts = target.split(".")
    if len(parts) < 3 or parts[0] != "skvi" or parts[2] not in skvi.__all__:
        return None
    new_target = ".".join(["skvi", *parts[2:]])
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], new_target, node, contnode
    )


_SHAPE = re.compile(r"of shape \(([^)]*)\)")
_TRAILING_UNDERSCORE = re.compile(r"\b(\w*[A-Za-z0-9])_(?=[,)\s]|$)")


def _escape_shapes(app, what, name, obj, options, lines):
    """Escape ``n_iter_`` in "of shape (n_iter_,)" so that reST does not read a link.

    numpydoc leaves the parenthesised shape of a type as written, and a word ending in
    ``_`` is a reference in reST. Runs after numpydoc (priority 600).
    """
    for i, line in enumerate(lines):
        if "of shape (" in line:
            lines[i] = _SHAPE.sub(
                lambda m: "of shape (" + _TRAILING_UNDERSCORE.sub(r"\1\\_", m.group(1)) + ")",
                line,
            )


def setup(app):
    app.connect("missing-reference", _skvi_alias)
    app.connect("autodoc-process-docstring", _escape_shapes, priority=600)
