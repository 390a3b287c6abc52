"""A fuzz case: one malformed input, how it reaches npuc's public API, and what npuc may answer.

A case's `run` gets a fresh scratch directory, writes its input files there
and calls `npuc.api` (and the loaders the CLI calls: `npuc.data`,
`npuc.targets`) on them, as the CLI would. Every case may end in an
`NpucError`; whether it may also end in a result is its `expect`, or, for a
model file, the verdict of the framework's own runtime (`reference`:
onnxruntime or LiteRT), run on the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAY_ACCEPT = "NpucError or a valid result"
"""A case npuc may refuse (with an `NpucError`) or process."""

MUST_REJECT = "must be NpucError"
"""A case npuc must refuse: the input is invalid (its runtime refuses it, or its values are nonsense)."""

DEFAULT_TIMEOUT = 10.0
"""Seconds a case may run before it counts as a hang."""


@dataclass(frozen=True)
class Case:
    """One malformed input.

    `run(directory)` writes the input under `directory` and runs it through
    npuc; its return value is not inspected (returning is a valid result).
    `expect` is MAY_ACCEPT or MUST_REJECT; `reference(directory)`, when given,
    runs the framework's runtime on the same input and returns True when it
    refuses it, which makes the case MUST_REJECT. `issue` marks the inputs
    issue 14 names: each is also a regression test of its own.
    """

    family: str
    name: str
    run: Callable[[Path], object] = field(repr=False)
    expect: str = MAY_ACCEPT
    reference: Callable[[Path], bool] | None = field(default=None, repr=False)
    issue: bool = False
    timeout: float = DEFAULT_TIMEOUT

    @property
    def key(self) -> str:
        """`family/name`: unique across the suite."""
        return f"{self.family}/{self.name}"
