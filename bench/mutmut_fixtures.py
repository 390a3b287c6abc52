"""pytest plugin for bench/mutation.py: a fixture's calls count for every test that uses it.

mutmut runs each mutant against the tests that called the mutated function
while it collected its statistics, and it credits a call to the test that
was running. A module-scoped fixture runs once, while the first test that
asks for it is set up, so the later tests that only read its result (the
compiled model of test_memory_views.py, the encoded stream of
test_command_stream.py) never ran against the mutants of what the fixture
called: a mutant those tests kill survived. This plugin records the
functions each fixture's setup called and credits them to every test that
uses the fixture. bench/mutation.py loads it into mutmut's pytest runs.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest
from mutmut.state import state

_CALLED: dict[object, set[str]] = {}
"""Fixture definition -> the mutated functions its setup called."""


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> Generator[None, object, object]:
    outer = state()._stats
    state()._stats = set()
    try:
        return (yield)
    finally:
        called = state()._stats
        _CALLED.setdefault(fixturedef, set()).update(called)
        state()._stats = outer | called


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Before mutmut's own teardown hook files the calls under this test."""
    info = getattr(item, "_fixtureinfo", None)  # pytest's (private) record of the item's fixtures
    definitions = info.name2fixturedefs if info is not None else {}
    for name in getattr(item, "fixturenames", ()):
        for fixturedef in definitions.get(name, ()):
            state()._stats |= _CALLED.get(fixturedef, set())
