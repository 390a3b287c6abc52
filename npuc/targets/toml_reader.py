"""Strictly typed reading of decoded TOML tables, with errors that name the field.

Every user mistake in a description file (missing field, wrong type, value
out of range, unknown field) becomes a `TargetError` with a single line
naming the file and the dotted field path.
"""

from __future__ import annotations

import math
from typing import Any

from npuc.errors import TargetError
from npuc.targets.description import Range


class TableReader:
    """Strictly typed access to one TOML table, reporting errors by field path."""

    def __init__(self, source: str, table: dict[str, Any], path: str):
        self.source = source
        self.table = table
        self.path = path
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> TargetError:
        """A `TargetError` naming the file and field `key` of this table."""
        return TargetError(f"{self.source}: field '{self._field(key)}': {problem}")

    def _field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def value(self, key: str) -> Any:
        """Field `key` as decoded, marked as read; `missing` error if absent."""
        self.used.add(key)
        if key not in self.table:
            raise self.fail(key, "missing")
        return self.table[key]

    def has(self, key: str) -> bool:
        """Whether optional field `key` is present."""
        return key in self.table

    def string(self, key: str) -> str:
        """Field `key` as a string."""
        value = self.value(key)
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_type_name(value)}")
        return value

    def integer(self, key: str, minimum: int = 0) -> int:
        """Field `key` as an integer no smaller than `minimum`."""
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {_type_name(value)}")
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def positive_number(self, key: str) -> float:
        """Field `key` as a finite number (integer or float) greater than zero."""
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number, got {_type_name(value)}")
        return self.checked_positive(key, float(value))

    def checked_positive(self, key: str, value: float) -> float:
        """`value` (read from or computed with field `key`) if finite and greater than zero."""
        if not (math.isfinite(value) and value > 0):
            raise self.fail(key, f"must be a finite number greater than 0, got {value}")
        return value

    def int_list(self, key: str, length: int | None = None) -> list[int]:
        """Field `key` as a list of positive integers (of `length`, if given)."""
        value = self.value(key)
        return self.checked_int_list(key, value, length)

    def checked_int_list(self, key: str, value: Any, length: int | None) -> list[int]:
        """`value` (an entry of field `key`) as a list of positive integers (of `length`, if given)."""
        wanted = f"a list of {length} positive integers" if length else "a list of positive integers"
        if not isinstance(value, list) or (length is not None and len(value) != length):
            raise self.fail(key, f"expected {wanted}, got {describe(value)}")
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise self.fail(key, f"expected {wanted}, got {describe(value)}")
        return value

    def choices(self, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        """Field `key` as a non-empty list of strings drawn from `allowed`."""
        value = self.value(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"expected a non-empty list of strings, got {describe(value)}")
        for item in value:
            if item not in allowed:
                raise self.fail(key, f"unknown value '{item}' (known: {', '.join(allowed)})")
        return tuple(value)

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        """Field `key` as one string drawn from `allowed`."""
        value = self.string(key)
        if value not in allowed:
            raise self.fail(key, f"unknown value '{value}' (known: {', '.join(allowed)})")
        return value

    def range(self, key: str) -> Range:
        """Field `key` as an inclusive range `[low, high]` of positive integers."""
        low, high = self.int_list(key, 2)
        if low > high:
            raise self.fail(key, f"range [{low}, {high}] is empty")
        return Range(low, high)

    def sub(self, key: str) -> TableReader:
        """Field `key` as a nested table."""
        value = self.value(key)
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_type_name(value)}")
        return TableReader(self.source, value, self._field(key))

    def done(self) -> None:
        """Reject fields of this table that were never read (typos, stale keys)."""
        for key in self.table:
            if key not in self.used:
                raise self.fail(key, "unknown field")


def _type_name(value: Any) -> str:
    """TOML-flavoured name of a decoded value's type, for error messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def describe(value: Any) -> str:
    """Short description of a decoded value for error messages."""
    if isinstance(value, list):
        return f"{value!r}" if len(repr(value)) <= 60 else "a long array"
    return _type_name(value)
