"""Every public estimator documents itself: numpydoc sections, examples, fitted attributes."""

import inspect
import re

import pytest

from conftest import PUBLIC_ESTIMATORS, make_data, make_estimator

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SECTIONS = ("Parameters", "Attributes", "See Also", "References", "Examples")


def _section(doc, name):
    """The text of one numpydoc section of ``doc``."""
    match = re.search(rf"\n\s*{name}\n\s*-+\n(.*?)(\n\s*\w[\w ]*\n\s*-+\n|\Z)", doc, flags=re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize("cls", PUBLIC_ESTIMATORS, ids=lambda c: c.__name__)
def test_class_docstring_has_the_numpydoc_sections(cls):
    doc = inspect.getdoc(cls)
    missing = [name for name in SECTIONS if not _section("\n" + doc, name)]
    assert not missing, f"{cls.__name__} docstring lacks {missing}"
    assert ">>>" in _section("\n" + doc, "Examples")


@pytest.mark.parametrize("cls", PUBLIC_ESTIMATORS, ids=lambda c: c.__name__)
def test_every_parameter_is_documented(cls):
    documented = _section("\n" + inspect.getdoc(cls), "Parameters")
    names = [p for p in inspect.signature(cls).parameters if p != "self"]
    missing = [p for p in names if not re.search(rf"^\s*{p}\b.*:", documented, flags=re.M)]
    assert not missing, f"{cls.__name__} does not document parameters {missing}"


@pytest.mark.parametrize("cls", PUBLIC_ESTIMATORS, ids=lambda c: c.__name__)
def test_every_fitted_attribute_is_documented(cls):
    estimator = make_estimator(cls, random_state=0)
    X, y = make_data(estimator)
    estimator.fit(X, y)
    documented = _section("\n" + inspect.getdoc(cls), "Attributes")
    fitted = [name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")]
    missing = [a for a in fitted if not re.search(rf"^\s*{a}\s*:", documented, flags=re.M)]
    assert not missing, f"{cls.__name__} does not document fitted attributes {missing}"


@pytest.mark.parametrize("cls", PUBLIC_ESTIMATORS, ids=lambda c: c.__name__)
def test_public_methods_have_docstrings(cls):
    undocumented = [
        name
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and not inspect.getdoc(member)
    ]
    assert not undocumented, f"{cls.__name__} methods without docstrings: {undocumented}"
