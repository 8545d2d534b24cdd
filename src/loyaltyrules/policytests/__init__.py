"""Policy test cases kept beside the policies (`policies/tests/*.yaml`): choosing,
running and checking them (cases.py, runner.py), and their coverage (coverage.py)."""

from .cases import (
    Case,
    CaseResult,
    cases_of,
    check_test_file,
    matches,
    raise_if_invalid,
    run_case,
    split_test_files,
)
from .coverage import Coverage, PolicyCoverage, percent, report
from .runner import default_jobs, run, select

__all__ = [
    "Case", "CaseResult", "Coverage", "PolicyCoverage", "cases_of", "check_test_file",
    "default_jobs", "matches", "percent", "raise_if_invalid", "report", "run", "run_case",
    "select", "split_test_files",
]
