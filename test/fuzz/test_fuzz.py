"""The fuzz suite (issue 14): malformed inputs end in an `NpucError` or a valid result, never worse.

A seeded sample of every family runs by default (about a fifth of the
cases); `NPUC_FUZZ_FULL=1` runs them all (as `python bench/fuzz.py` does,
with the counts). Every case issue 14 names is a test of its own. No case
may raise another exception, hang, accept an input that must be refused, or
report an error on more than one line.
"""

from __future__ import annotations

import os

import pytest

from fuzz.case import Case
from fuzz.generate import all_cases, sample
from fuzz.runner import OK, Result, run_cases
from fuzz.summary import describe
from fuzz.warm import warm_up

FULL = os.environ.get("NPUC_FUZZ_FULL") == "1"
"""Run every case, not the sample."""

SAMPLE_FRACTION = 0.2
"""Share of each family's cases the normal suite runs."""

CASES = all_cases()
SAMPLED = CASES if FULL else sample(CASES, SAMPLE_FRACTION)
FAMILIES = sorted({case.family for case in SAMPLED})
ISSUE_CASES = [case for case in CASES if case.issue]


def _run(cases: list[Case]) -> dict[str, Result]:
    warm_up()
    return {result.key: result for result in run_cases(cases)}


@pytest.fixture(scope="module")
def issue_results() -> dict[str, Result]:
    """Every issue case, run once in the worker pool."""
    return _run(ISSUE_CASES)


@pytest.mark.parametrize("case", ISSUE_CASES, ids=lambda case: case.key)
def test_issue_case(case: Case, issue_results: dict[str, Result]):
    """An input issue 14 names ends in a one-line `NpucError` (or, where it may, a valid result)."""
    result = issue_results[case.key]
    assert result.outcome == OK, describe(result)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_sample(family: str):
    """The family's sampled cases (all with NPUC_FUZZ_FULL=1) end in a one-line `NpucError` or a valid result."""
    cases = [case for case in SAMPLED if case.family == family and (FULL or not case.issue)]
    failures = [result for result in _run(cases).values() if result.outcome != OK]
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(map(describe, failures))
