"""The integer semantics of elementwise and reduce_sum commands, against their definitions.

The oracle divides with Python's exact rationals, so it shares nothing with
the shifts under test.
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npuc.errors import NpucError
from npuc.sim.integer_ops import operate, output_stage, reduce_sum, shift_right


def rounded(value: int, amount: int, rounding: str) -> int:
    """`value / 2^amount` rounded as docs/ir.md defines each mode."""
    exact = Fraction(value, 2**amount)
    if rounding == "half_up":
        return floor(exact + Fraction(1, 2))
    magnitude = floor(abs(exact) + Fraction(1, 2)) if rounding == "half_away" else floor(abs(exact))
    return -magnitude if value < 0 else magnitude


def objects(*values: int) -> np.ndarray:
    return np.array(values, dtype=object)


@pytest.mark.parametrize("rounding", ["half_up", "half_away", "truncate"])
@given(value=st.integers(-(2**70), 2**70), amount=st.integers(0, 63))
def test_shift_right_rounds_as_defined(rounding, value, amount):
    assert shift_right(objects(value), amount, rounding)[0] == rounded(value, amount, rounding)


def test_the_rounding_modes_differ_on_ties_and_negative_values():
    values = objects(3, -3, 5, -5)
    assert list(shift_right(values, 1, "half_up")) == [2, -1, 3, -2]
    assert list(shift_right(values, 1, "half_away")) == [2, -2, 3, -3]
    assert list(shift_right(values, 1, "truncate")) == [1, -1, 2, -2]


@pytest.mark.parametrize("amount", [-1, 64, objects(0, 64), objects(-1, 1)])
def test_shift_amounts_outside_0_to_63_are_refused(amount):
    with pytest.raises(NpucError, match=r"^shift amount outside 0\.\.63$"):
        shift_right(objects(1, 2), amount, "half_up")


def test_a_shift_of_63_is_allowed():
    assert list(shift_right(objects(2**63, -(2**63)), 63, "half_up")) == [1, -1]
    assert list(operate("shl", objects(1), objects(63), "half_up")) == [2**63]


def test_operate_computes_each_kind_exactly():
    first, second = objects(2**40, -7), objects(2**30, 2)
    assert list(operate("add", first, second, "half_up")) == [2**40 + 2**30, -5]
    assert list(operate("sub", first, second, "half_up")) == [2**40 - 2**30, -9]
    assert list(operate("mul", first, second, "half_up")) == [2**70, -14]
    assert list(operate("shl", first, objects(3, 2), "half_up")) == [2**43, -28]
    assert list(operate("asr", first, objects(3, 2), "half_away")) == [2**37, -2]
    assert list(operate("clz", objects(1, 0, -1), None, "half_up")) == [31, 32, 0]


def test_an_unknown_kind_is_named():
    with pytest.raises(NpucError, match=r"^unknown elementwise kind 'div'$"):
        operate("div", objects(1), objects(1), "half_up")


def test_output_stage_rescales_with_the_given_rounding():
    values = objects(3, -3)
    assert list(output_stage(values, 1, 1, "half_up", 0, -128, 127)) == [2, -1]
    assert list(output_stage(values, 1, 1, "truncate", 0, -128, 127)) == [1, -1]


def test_output_stage_adds_the_zero_point_and_clamps_both_ends():
    values = objects(-1000, -20, 20, 1000)
    result = output_stage(values, 3, 2, "half_up", 5, -10, 100)
    assert list(result) == [-10, -10, 20, 100]
    assert result.dtype == np.int64


def test_output_stage_looks_results_up_in_a_centred_table():
    lut = (np.arange(256, dtype=np.int32) - 128) * 3
    result = output_stage(objects(-128, -1, 0, 127), 1, 0, "half_up", 0, -128, 127, lut)
    assert list(result) == [-384, -3, 0, 381]
    assert result.dtype == np.int64


def test_reduce_sum_subtracts_the_zero_point_from_every_element():
    ifm = np.array([[[1, 2, 3], [-128, 127, 0]]], dtype=np.int8)
    assert reduce_sum(ifm, -5).tolist() == [[[21], [14]]]
