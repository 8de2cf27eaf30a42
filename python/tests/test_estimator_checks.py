"""scikit-learn's own estimator checks, every one of them: none may fail or be skipped."""

import unittest

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from steepest import GDRegressor

# Checks expected to fail, each with the reason; parametrize_with_checks marks them xfail.
# None at present.
EXPECTED_FAILED_CHECKS: dict = {}
# Checks allowed to skip themselves, each with the reason.  None at present: conftest.py
# turns on SciPy's array API support so that check_array_api_input runs, and pandas
# (installed by ci.sh) lets the DataFrame checks run.
ALLOWED_SKIPS: dict = {}


def _name(check) -> str:
    return getattr(check, "func", check).__name__


@parametrize_with_checks([GDRegressor()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible_estimator(estimator, check):
    try:
        check(estimator)
    except (unittest.SkipTest, pytest.skip.Exception) as skip:
        if _name(check) in ALLOWED_SKIPS:
            pytest.skip(f"{ALLOWED_SKIPS[_name(check)]} ({skip})")
        pytest.fail(f"{_name(check)} skipped itself, which hides whether it passes: {skip}")
