"""The output stage's rounding modes against TFLite's fixed-point definitions, on Python integers.

The oracle is gemmlowp's arithmetic as TFLite's `MultiplyByQuantizedMultiplier`
documents it (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT),
written here on unbounded Python integers, not the simulator's numpy code.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from npuc.emit.ethos_u.registers import ClipRange, RoundMode
from npuc.sim.ethos_u.output_stage import clip, rescale


def _doubling_high_mul(a: int, b: int) -> int:
    product = a * b
    nudge = (1 << 30) if product >= 0 else 1 - (1 << 30)
    total = product + nudge
    return total // (1 << 31) if total >= 0 else -((-total) // (1 << 31))  # C++ division truncates


def _divide_by_power_of_two(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@given(st.integers(-(1 << 31), (1 << 31) - 1), st.integers(1 << 30, (1 << 31) - 1), st.integers(31, 62))
def test_dbl_is_tflite_s_multiply_by_quantized_multiplier(value, multiplier, shift):
    expected = _divide_by_power_of_two(_doubling_high_mul(value, multiplier), shift - 31)
    assert int(rescale(np.array([value]), multiplier, shift, RoundMode.DBL)[0]) == expected


@given(st.integers(-(1 << 39), (1 << 39) - 1), st.integers(1, (1 << 16) - 1), st.integers(1, 62))
def test_natural_rounds_half_up_and_truncate_toward_zero(value, scale, shift):
    exact = value * scale
    assert int(rescale(np.array([value]), scale, shift, RoundMode.NATURAL)[0]) == (exact + (1 << (shift - 1))) >> shift
    toward_zero = abs(exact) >> shift
    assert int(rescale(np.array([value]), scale, shift, RoundMode.TRUNCATE)[0]) == (
        toward_zero if exact >= 0 else -toward_zero
    )


def test_products_beyond_64_bits_stay_exact():
    value, scale = (1 << 62) - 1, (1 << 32) - 1
    assert int(rescale(np.array([value]), scale, 40, RoundMode.NATURAL)[0]) == (value * scale + (1 << 39)) >> 40


def test_activation_bounds_clip_narrow_results_only():
    values = np.array([-70000, 5, 70000])
    assert list(clip(values, -10, 10, ClipRange.OFM_PRECISION, 8, True)) == [-10, 5, 10]
    assert list(clip(values, -10, 10, ClipRange.OFM_PRECISION, 32, True)) == [-70000, 5, 70000]
    assert list(clip(values, -10, 10, ClipRange.FORCE_INT8, 32, True)) == [-10, 5, 10]
