"""Integer SOFTMAX along the last axis, bit-exact with TFLite's reference kernels.

TFLite uses two different algorithms (``kernels/internal/reference/softmax.h``):

- int8: gemmlowp fixed point. Input differences to the row maximum are
  scaled by beta * input_scale into Q5.26, exponentiated with
  ``exp_on_negative_values``, summed in Q12.19 and normalised by the
  fixed-point reciprocal of the sum. Output scale 1/256, zero point -128.
- int16: two 513-entry lookup tables with linear interpolation, exp(x) on
  [-10, 0] and 1/(1+x) on [0, 1], filled in double by ``LUTPopulate``.
  Output scale 1/32768, zero point 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from npuc.reference.fixed_point import (
    calculate_input_radius,
    count_leading_zeros,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    round_half_away_from_zero,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap,
)
from npuc.reference.fixed_point_math import exp_on_negative_values, reciprocal

SCALED_DIFF_INTEGER_BITS = 5
"""Integer bits of the int8 kernel's exp argument (Q5.26)."""
ACCUMULATION_INTEGER_BITS = 12
"""Integer bits of the int8 kernel's sum of exponentials (Q12.19)."""
_INT16_RANGE = 65535
"""int16 max - min: the int16 LUTs map this many steps onto their input interval."""


def softmax(x: np.ndarray, in_scale: float, beta: float) -> np.ndarray:
    """SOFTMAX of int8 or int16 ``x`` along its last axis (output dtype = input dtype; empty for an empty ``x``)."""
    if x.size == 0:
        return x.copy()
    if x.dtype == np.int8:
        return _softmax_int8(x, in_scale, beta)
    return _softmax_int16(x, in_scale, beta)


def exp_of_differences(diff: np.ndarray, in_scale: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """The int8 kernel's Q0.31 exp of differences to the row maximum (<= 0), and which count.

    The differences are scaled by beta * input_scale into Q5.26 and
    exponentiated with ``exp_on_negative_values``; those below TFLite's
    ``diff_min`` are not valid (they add nothing and give -128).
    """
    real = min(
        float(np.float32(beta))
        * float(np.float32(in_scale))
        * (1 << (31 - SCALED_DIFF_INTEGER_BITS)),
        2.0**31 - 1.0,
    )
    multiplier, left_shift = quantize_multiplier(real)
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    rescaled = saturating_rounding_doubling_high_mul(wrap(diff << left_shift), multiplier)
    return exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS), diff >= diff_min


def _softmax_int8(x: np.ndarray, in_scale: float, beta: float) -> np.ndarray:
    diff = x.astype(np.int64) - x.max(axis=-1, keepdims=True)
    exps, valid = exp_of_differences(diff, in_scale, beta)
    accumulated = rounding_divide_by_pot(exps, ACCUMULATION_INTEGER_BITS)
    sum_of_exps = wrap(np.where(valid, accumulated, 0).sum(axis=-1, keepdims=True))
    scale, bits_over_unit = reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS)
    exponent = bits_over_unit + 31 - 8
    unsaturated = rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(scale, exps), exponent
    )
    output = np.clip(unsaturated - 128, -128, 127)
    return np.where(valid, output, -128).astype(np.int8)


def int16_lut(
    in_scale: float,
    in_zero_point: int,
    out_scale: float,
    transform: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """TFLite ``LUTPopulate<int16_t>`` in double: 512 interpolation segments + end point.

    Each entry is the sampled value minus half the error the linear
    interpolation would make at the segment's midpoint (output zero point 0).
    """
    input_min = in_scale * (-32768 - in_zero_point)
    input_max = in_scale * (32767 - in_zero_point)
    output_min = out_scale * -32768
    output_max = out_scale * 32767
    steps = 512
    step = (input_max - input_min) / steps
    half_step = step / 2
    inverse = 65536.0 / (output_max - output_min)
    index = np.arange(steps, dtype=np.float64)
    value = transform(input_min + index * step)
    midpoint = transform(input_min + index * step + half_step)
    following = transform(input_min + (index + 1) * step)
    sample = round_half_away_from_zero(value * inverse)
    midpoint_interpolated = round_half_away_from_zero((following * inverse + sample) / 2)
    bias = round_half_away_from_zero(
        (midpoint_interpolated - round_half_away_from_zero(midpoint * inverse)) / 2
    )
    last = round_half_away_from_zero(transform(np.array([input_max])) * inverse)
    table = np.concatenate([sample - bias, last])
    return np.clip(table, -32768, 32767).astype(np.int64)


def int16_lut_lookup(values: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """TFLite ``LUTLookup`` of int16 values: the high 9 bits index, the low 7 interpolate."""
    values = np.asarray(values, dtype=np.int64)
    index = 256 + (values >> 7)
    offset = values & 0x7F
    base = lut[index]
    slope = wrap(lut[index + 1] - base, 16)
    return wrap(base + ((slope * offset + 64) >> 7), 16)


def _exp_lut() -> np.ndarray:
    return int16_lut(10.0 / _INT16_RANGE, 32767, 2.0 / _INT16_RANGE, np.exp)


def _one_over_one_plus_x_lut() -> np.ndarray:
    return int16_lut(1.0 / _INT16_RANGE, -32768, 2.0 / _INT16_RANGE, lambda v: 1.0 / (1.0 + v))


def _softmax_int16(x: np.ndarray, in_scale: float, beta: float) -> np.ndarray:
    # TFLite multiplies the two float32 values in float32 before dividing in double.
    beta_scale = float(np.float32(in_scale) * np.float32(beta))
    multiplier, shift = quantize_multiplier(beta_scale / (10.0 / _INT16_RANGE))

    diff = x.astype(np.int64) - x.max(axis=-1, keepdims=True)
    scaled = multiply_by_quantized_multiplier(diff, multiplier, shift) + 32767
    exps = int16_lut_lookup(np.clip(scaled, -32768, 32767), _exp_lut())
    sum_of_exps = wrap(exps.sum(axis=-1, keepdims=True))
    headroom_plus_one = count_leading_zeros(sum_of_exps)
    shifted_sum = ((sum_of_exps << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    symmetric_sum = np.clip(shifted_sum - ((1 << 15) + (1 << 16)), -32768, 32767)
    reciprocal_scale = int16_lut_lookup(symmetric_sum, _one_over_one_plus_x_lut())
    right_shift = 31 - headroom_plus_one
    result = (exps * reciprocal_scale + (np.int64(1) << (right_shift - 1))) >> right_shift
    return np.clip(result, 0, 32767).astype(np.int16)
