"""scikit-learn's estimator checks over every skvi estimator (discovered, not listed)."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import ESTIMATORS, make_estimator

# Checks an estimator is known to fail, with the reason (by class name).
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    [make_estimator(cls, random_state=0) for cls in ESTIMATORS],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_compatible(estimator, check):
    check(estimator)
