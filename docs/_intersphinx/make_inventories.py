"""Write the offline intersphinx inventories of the docs: ``python make_inventories.py``.

The docs link to scikit-learn, NumPy, SciPy, Python and joblib through intersphinx. The
machines that build them (CI included) have no internet access, so ``docs/conf.py`` gives
every project a local inventory as the fallback of the online one::

    "sklearn": ("https://scikit-learn.org/stable/", (None, "_intersphinx/sklearn.inv"))

Sphinx tries the online ``objects.inv`` first and uses the file here when that fails;
either way the links point at the real online pages. This script writes those files
(Sphinx inventory format version 2, zlib-compressed) from the public names of the
INSTALLED packages and the URL scheme of each project's published documentation:

* scikit-learn: every name in ``__all__`` of every public module (no path component
  starting with ``_``, no ``tests``/``externals``; at the top level only the four names
  its API reference lists there), at
  ``modules/generated/<module>.<name>.html#<module>.<name>``; their public methods and
  properties on the same page; the top-level modules at ``api/<module>.html``; and the
  glossary terms the docs and docstrings use (``glossary.html#term-<term>``).
* NumPy: the top-level functions and classes at ``reference/generated/numpy.<name>.html``,
  scalar types at ``reference/arrays.scalars.html#numpy.<name>``, constants at
  ``reference/constants.html``, ``ndarray`` methods, ``numpy.linalg`` and ``numpy.random``
  (``RandomState`` on ``reference/random/legacy.html``, ``Generator`` and
  ``default_rng`` on ``reference/random/generator.html``), and the glossary term
  ``array_like``.
* SciPy: ``__all__`` of ``scipy.special``, ``sparse``, ``stats``, ``linalg``, ``optimize``
  at ``reference/generated/scipy.<module>.<name>.html``, modules at
  ``reference/<module>.html``.
* Python: the builtins (functions and classes on ``library/functions.html`` or
  ``library/stdtypes.html``, exceptions and warnings on ``library/exceptions.html``,
  constants on ``library/constants.html``) and the few standard-library entries the docs
  use.
* joblib: the documented names of ``joblib.__all__`` at ``generated/joblib.<name>.html``.
* Dask: ``dask.array.__all__`` at ``generated/dask.array.<name>.html``; distributed: the
  client classes of its ``api.html`` (as ``distributed.X`` and ``dask.distributed.X``).

Rerun it after upgrading one of these packages, and commit the ``*.inv`` files. Run from
anywhere; it writes next to itself. Only entries that the online sites really have
belong here: a name whose page the site lacks must not be added (the scheme above is the
one the sites use for every name it covers).
"""

import builtins
import importlib
import inspect
import pkgutil
import warnings
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write_inventory(path, project, version, entries):
    """Write a Sphinx v2 inventory; ``entries`` are (name, domain:role, uri, dispname)."""
    lines = []
    seen = set()
    for name, role, uri, dispname in sorted(entries):
        if (name, role) in seen:
            continue
        seen.add((name, role))
        if uri.endswith("#" + name):  # the inventory's shorthand for "anchor = name"
            uri = uri[: -len(name)] + "$"
        lines.append(f"{name} {role} 1 {uri} {dispname or '-'}\n")
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = zlib.compress("".join(lines).encode("utf-8"), 9)
    path.write_bytes(header.encode("utf-8") + body)
    print(f"{path.name}: {len(lines)} entries ({project} {version})")


def _role_of(obj):
    if inspect.isclass(obj):
        return "py:exception" if issubclass(obj, BaseException) else "py:class"
    if callable(obj):
        return "py:function"
    return "py:data"


def _public_members(cls):
    """Public methods and properties defined on ``cls`` or inherited (name, role)."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        try:
            attr = inspect.getattr_static(cls, name)
        except AttributeError:
            continue
        if isinstance(attr, property):
            yield name, "py:property"
        elif isinstance(attr, (staticmethod, classmethod)) or callable(attr):
            yield name, "py:method"  # callable(): the C methods of numpy's types too


# ------------------------------------------------------------------------- scikit-learn
def _public_names(module):
    """``__all__``, or the public names defined in the module (or its private parts)."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    names = []
    for name, obj in vars(module).items():
        home = getattr(obj, "__module__", None) or ""
        if not name.startswith("_") and (
            home == module.__name__ or home.startswith(module.__name__ + "._")
        ):
            names.append(name)
    return names


# The names scikit-learn documents at the top level (its API reference's "sklearn"
# section); the package re-exports others, such as clone, documented in their modules.
SKLEARN_TOP_LEVEL = {"config_context", "get_config", "set_config", "show_versions"}
# Labels of scikit-learn's user guide that its docstrings (inherited by skvi's estimators)
# cite; the anchor is the label with "_" turned into "-", as docutils writes it.
SKLEARN_LABELS = {
    "r2_score": "modules/model_evaluation.html#r2-score",
    "accuracy_score": "modules/model_evaluation.html#accuracy-score",
    "metadata_routing": "metadata_routing.html#metadata-routing",
    "grid_search": "modules/grid_search.html#grid-search",
    "mixture": "modules/mixture.html#mixture",
    "bgmm": "modules/mixture.html#bgmm",
    "bayesian_regression": "modules/linear_model.html#bayesian-regression",
    "latentdirichletallocation": "modules/decomposition.html#latentdirichletallocation",
    "pipeline": "modules/compose.html#pipeline",
}
SKLEARN_TERMS = (
    "fit",
    "partial_fit",
    "predict",
    "predict_proba",
    "score",
    "score_samples",
    "transform",
    "n_jobs",
    "random_state",
    "warm_start",
    "sample_weight",
    "estimator",
    "cross-validation",
    "meta-estimator",
)


def sklearn_entries():
    import sklearn

    entries = []
    modules = ["sklearn"]
    for info in pkgutil.walk_packages(sklearn.__path__, "sklearn."):
        parts = info.name.split(".")
        if any(p.startswith("_") or p in ("tests", "externals", "conftest") for p in parts):
            continue
        modules.append(info.name)
    for modname in modules:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(modname)
        except ImportError:  # optional dependencies (pandas, pytest, ...)
            continue
        top = ".".join(modname.split(".")[:2])
        if modname.count(".") == 1:
            entries.append((modname, "py:module", f"api/{top}.html#module-{modname}", None))
        for name in _public_names(module):
            obj = getattr(module, name, None)
            if obj is None or name.startswith("_") or inspect.ismodule(obj):
                continue
            if modname == "sklearn" and name not in SKLEARN_TOP_LEVEL:
                continue  # e.g. sklearn.clone: documented as sklearn.base.clone
            full = f"{modname}.{name}"
            page = f"modules/generated/{full}.html"
            entries.append((full, _role_of(obj), f"{page}#{full}", None))
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for member, role in _public_members(obj):
                    entries.append((f"{full}.{member}", role, f"{page}#{full}.{member}", None))
    for term in SKLEARN_TERMS:
        entries.append((term, "std:term", f"glossary.html#term-{term}", term))
    for label, uri in SKLEARN_LABELS.items():
        entries.append((label, "std:label", uri, label.replace("_", " ")))
    entries.append(("glossary", "std:doc", "glossary.html", "Glossary of Common Terms"))
    return "scikit-learn", sklearn.__version__, entries


# --------------------------------------------------------------------------------- NumPy
NUMPY_CONSTANTS = ("inf", "nan", "pi", "e", "euler_gamma", "newaxis")


def numpy_entries():
    import numpy as np

    entries = [("numpy", "py:module", "reference/index.html#module-numpy", None)]
    for name in np.__all__:
        obj = getattr(np, name, None)
        if obj is None or inspect.ismodule(obj) or name.startswith("_"):
            continue
        full = f"numpy.{name}"
        if name in NUMPY_CONSTANTS:
            entries.append((full, "py:data", f"reference/constants.html#{full}", None))
        elif inspect.isclass(obj) and issubclass(obj, np.generic):
            entries.append((full, "py:class", f"reference/arrays.scalars.html#{full}", None))
        elif inspect.isclass(obj) or callable(obj):
            entries.append((full, _role_of(obj), f"reference/generated/{full}.html#{full}", None))
    for member, role in _public_members(np.ndarray):
        full = f"numpy.ndarray.{member}"
        entries.append((full, role, f"reference/generated/{full}.html#{full}", None))
    entries.append(
        ("numpy.linalg", "py:module", "reference/routines.linalg.html#module-numpy.linalg", None)
    )
    for name in np.linalg.__all__:
        full = f"numpy.linalg.{name}"
        obj = getattr(np.linalg, name)
        entries.append((full, _role_of(obj), f"reference/generated/{full}.html#{full}", None))
    entries.append(
        ("numpy.random", "py:module", "reference/random/index.html#module-numpy.random", None)
    )
    for name in np.random.__all__:
        full = f"numpy.random.{name}"
        obj = getattr(np.random, name)
        if name == "RandomState":
            uri = f"reference/random/legacy.html#{full}"
        elif name in ("Generator", "default_rng"):
            uri = f"reference/random/generator.html#{full}"
        elif inspect.isclass(obj):
            continue  # bit generators live on pages of their own; not used here
        else:
            uri = f"reference/random/generated/{full}.html#{full}"
        entries.append((full, _role_of(obj), uri, None))
    for cls in ("RandomState", "Generator"):
        for member, role in _public_members(getattr(np.random, cls)):
            full = f"numpy.random.{cls}.{member}"
            uri = f"reference/random/generated/{full}.html#{full}"
            entries.append((full, role, uri, None))
    entries.append(("array_like", "std:term", "glossary.html#term-array_like", "array_like"))
    return "NumPy", np.__version__, entries


# --------------------------------------------------------------------------------- SciPy
SCIPY_MODULES = ("special", "sparse", "stats", "linalg", "optimize")


def scipy_entries():
    import scipy

    entries = []
    for sub in SCIPY_MODULES:
        module = importlib.import_module(f"scipy.{sub}")
        modname = f"scipy.{sub}"
        entries.append((modname, "py:module", f"reference/{sub}.html#module-{modname}", None))
        for name in module.__all__:
            obj = getattr(module, name, None)
            if obj is None or inspect.ismodule(obj):
                continue
            full = f"{modname}.{name}"
            page = f"reference/generated/{full}.html"
            entries.append((full, _role_of(obj), f"{page}#{full}", None))
    return "SciPy", scipy.__version__, entries


# -------------------------------------------------------------------------------- Python
STDTYPES = {"str", "dict", "list", "tuple", "set", "frozenset", "range", "bytes", "bytearray"}
STDLIB = (
    ("warnings", "py:module", "library/warnings.html#module-warnings"),
    ("warnings.warn", "py:function", "library/warnings.html#warnings.warn"),
    ("warnings.filterwarnings", "py:function", "library/warnings.html#warnings.filterwarnings"),
    ("warnings.simplefilter", "py:function", "library/warnings.html#warnings.simplefilter"),
    ("warnings.catch_warnings", "py:class", "library/warnings.html#warnings.catch_warnings"),
    ("pickle", "py:module", "library/pickle.html#module-pickle"),
    ("dataclasses.dataclass", "py:function", "library/dataclasses.html#dataclasses.dataclass"),
    ("inspect", "py:module", "library/inspect.html#module-inspect"),
    ("tracemalloc", "py:module", "library/tracemalloc.html#module-tracemalloc"),
    ("os.cpu_count", "py:function", "library/os.html#os.cpu_count"),
    (
        "concurrent.futures.ThreadPoolExecutor",
        "py:class",
        "library/concurrent.futures.html#concurrent.futures.ThreadPoolExecutor",
    ),
    ("iterable", "std:term", "glossary.html#term-iterable"),
    ("iterator", "std:term", "glossary.html#term-iterator"),
    ("generator", "std:term", "glossary.html#term-generator"),
    ("sequence", "std:term", "glossary.html#term-sequence"),
    ("mapping", "std:term", "glossary.html#term-mapping"),
    ("hashable", "std:term", "glossary.html#term-hashable"),
    ("context manager", "std:term", "glossary.html#term-context-manager"),
    ("file object", "std:term", "glossary.html#term-file-object"),
    ("path-like object", "std:term", "glossary.html#term-path-like-object"),
)


def python_entries():
    import sys

    entries = []
    for name in dir(builtins):
        if name.startswith("_"):
            continue
        obj = getattr(builtins, name)
        if name in ("None", "True", "False", "Ellipsis", "NotImplemented"):
            entries.append((name, "py:data", f"library/constants.html#{name}", None))
        elif inspect.isclass(obj) and issubclass(obj, BaseException):
            entries.append((name, "py:exception", f"library/exceptions.html#{name}", None))
        elif inspect.isclass(obj):
            page = "stdtypes" if name in STDTYPES else "functions"
            entries.append((name, "py:class", f"library/{page}.html#{name}", None))
        elif callable(obj):
            entries.append((name, "py:function", f"library/functions.html#{name}", None))
    for name, role, uri in STDLIB:
        entries.append((name, role, uri, name if role == "std:term" else None))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return "Python", version, entries


# -------------------------------------------------------------------------------- joblib
# The names of joblib.__all__ that joblib's API reference documents (generated/ pages).
JOBLIB_DOCUMENTED = {
    "Memory",
    "Parallel",
    "delayed",
    "cpu_count",
    "effective_n_jobs",
    "wrap_non_picklable_objects",
    "parallel_config",
    "parallel_backend",
    "register_compressor",
    "register_parallel_backend",
    "hash",
    "dump",
    "load",
}


def joblib_entries():
    import joblib

    entries = [("joblib", "py:module", "index.html#module-joblib", None)]
    for name in joblib.__all__:
        if name not in JOBLIB_DOCUMENTED:
            continue
        full = f"joblib.{name}"
        obj = getattr(joblib, name)
        entries.append((full, _role_of(obj), f"generated/{full}.html#{full}", None))
    entries.append(("parallel", "std:doc", "parallel.html", "Embarrassingly parallel for loops"))
    return "joblib", joblib.__version__, entries


# ---------------------------------------------------------------------- dask, distributed
def dask_entries():
    import dask
    import dask.array

    entries = [
        ("dask", "py:module", "index.html#module-dask", None),
        ("dask.array", "py:module", "array.html#module-dask.array", None),
    ]
    for name in dask.array.__all__:
        obj = getattr(dask.array, name, None)
        if obj is None or inspect.ismodule(obj) or name.startswith("_"):
            continue
        full = f"dask.array.{name}"
        entries.append((full, _role_of(obj), f"generated/{full}.html#{full}", None))
    return "Dask", dask.__version__, entries


# The names of distributed's API page (api.html) that the docs use; ``dask.distributed``
# re-exports them, and docstrings write either name.
DISTRIBUTED_API = {
    "Client": "py:class",
    "LocalCluster": "py:class",
    "Future": "py:class",
    "get_client": "py:function",
}


def distributed_entries():
    import distributed

    entries = [("distributed", "py:module", "index.html#module-distributed", None)]
    for name, role in DISTRIBUTED_API.items():
        uri = f"api.html#distributed.{name}"
        entries.append((f"distributed.{name}", role, uri, None))
        entries.append((f"dask.distributed.{name}", role, uri, f"dask.distributed.{name}"))
    return "distributed", distributed.__version__, entries


def main():
    for key, build in (
        ("sklearn", sklearn_entries),
        ("numpy", numpy_entries),
        ("scipy", scipy_entries),
        ("python", python_entries),
        ("joblib", joblib_entries),
        ("dask", dask_entries),
        ("distributed", distributed_entries),
    ):
        project, version, entries = build()
        write_inventory(HERE / f"{key}.inv", project, version, entries)


if __name__ == "__main__":
    main()
