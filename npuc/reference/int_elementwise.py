"""Integer elementwise binary ops with broadcasting, bit-exact with TFLite.

ADD, SUB (``reference_integer_ops::Add``, ``reference_ops::Sub`` general
path), MUL (``reference_integer_ops::Mul``), MAXIMUM and MINIMUM for int8 and
int16 operands, SQUARED_DIFFERENCE and DIV for int8; the output has the operands' dtype. Scales are float32 as in
TFLite tensors.

ADD and SUB rescale both inputs to a common scale ``2 * max(scale_a,
scale_b)`` after shifting them left by 20 bits (int8) or 15 bits (int16),
combine them and rescale to the output. TFLite's separate int16 path for
power-of-two scales (``pot_scale_int16``, meant for LSTMs) is not modelled:
the general path is the one the TFLite converter selects for 16x8 models.
"""

from __future__ import annotations

import numpy as np

from npuc.reference.fixed_point import (
    count_leading_zeros,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_smaller_than_one_exp,
    quantize_multiplier,
    quantize_multiplier_smaller_than_one_exp,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap,
)
from npuc.reference.fixed_point_math import reciprocal


def _broadcast(a: np.ndarray, b: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        first, second = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64))
        return first, second
    except ValueError as error:
        raise ValueError(f"cannot broadcast {what} inputs: {error}") from error


def _f32(value: float) -> float:
    return float(np.float32(value))


ADD_LEFT_SHIFT = {8: 20, 16: 15}
"""Bits ADD and SUB shift their re-centred int8 / int16 inputs left by before rescaling."""


def add_output_multiplier(a_scale: float, b_scale: float, ofm_scale: float, bits: int) -> float:
    """The real multiplier of ADD/SUB's output rescale: ``2 * max(a, b) / (2^left_shift * ofm)``, scales in float32.

    TFLite computes it with ``QuantizeMultiplierSmallerThanOneExp``, which
    requires it below 1: an output scale less than ``max(a, b) / 2^(left_shift - 1)``
    cannot be represented (TFLite refuses such a model).
    """
    return 2.0 * max(_f32(a_scale), _f32(b_scale)) / ((1 << ADD_LEFT_SHIFT[bits]) * _f32(ofm_scale))


def _add_or_sub(
    sign: int,
    a: np.ndarray,
    a_zero_point: int,
    a_scale: float,
    b: np.ndarray,
    b_zero_point: int,
    b_scale: float,
    ofm_zero_point: int,
    ofm_scale: float,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    dtype = np.asarray(a).dtype
    left_shift = ADD_LEFT_SHIFT[dtype.itemsize * 8]
    wide_a, wide_b = _broadcast(a, b, "ADD/SUB")
    a_scale, b_scale, ofm_scale = _f32(a_scale), _f32(b_scale), _f32(ofm_scale)
    twice_max_input_scale = 2.0 * max(a_scale, b_scale)

    def rescale(x: np.ndarray, zero_point: int, scale: float) -> np.ndarray:
        multiplier, shift = quantize_multiplier_smaller_than_one_exp(scale / twice_max_input_scale)
        return multiply_by_quantized_multiplier_smaller_than_one_exp(
            (x - zero_point) << left_shift, multiplier, shift
        )

    combined = rescale(wide_a, a_zero_point, a_scale) + sign * rescale(
        wide_b, b_zero_point, b_scale
    )
    ofm_multiplier, ofm_shift = quantize_multiplier_smaller_than_one_exp(
        add_output_multiplier(a_scale, b_scale, ofm_scale, dtype.itemsize * 8)
    )
    raw = multiply_by_quantized_multiplier_smaller_than_one_exp(combined, ofm_multiplier, ofm_shift)
    return np.clip(raw + ofm_zero_point, act_min, act_max).astype(dtype)


def add(
    a: np.ndarray,
    a_zero_point: int,
    a_scale: float,
    b: np.ndarray,
    b_zero_point: int,
    b_scale: float,
    ofm_zero_point: int,
    ofm_scale: float,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """ADD with broadcasting (TFLite add.cc Prepare + ``integer_ops::AddFunc``).

    Both inputs are re-centred, shifted left and rescaled to the common scale
    with ``MultiplyByQuantizedMultiplierSmallerThanOneExp``; their sum is
    rescaled to the output scale the same way and clamped.
    """
    return _add_or_sub(
        1, a, a_zero_point, a_scale, b, b_zero_point, b_scale,
        ofm_zero_point, ofm_scale, act_min, act_max,
    )  # fmt: skip


def sub(
    a: np.ndarray,
    a_zero_point: int,
    a_scale: float,
    b: np.ndarray,
    b_zero_point: int,
    b_scale: float,
    ofm_zero_point: int,
    ofm_scale: float,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """SUB ``a - b`` with broadcasting: :func:`add` with the rescaled ``b`` subtracted."""
    return _add_or_sub(
        -1, a, a_zero_point, a_scale, b, b_zero_point, b_scale,
        ofm_zero_point, ofm_scale, act_min, act_max,
    )  # fmt: skip


def mul(
    a: np.ndarray,
    a_zero_point: int,
    a_scale: float,
    b: np.ndarray,
    b_zero_point: int,
    b_scale: float,
    ofm_zero_point: int,
    ofm_scale: float,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """MUL with broadcasting (``reference_integer_ops::Mul``).

    The product of the centred inputs is rescaled by ``a_scale * b_scale /
    ofm_scale`` (formed in float32 like TFLite's Prepare) and clamped.
    """
    dtype = np.asarray(a).dtype
    wide_a, wide_b = _broadcast(a, b, "MUL")
    real = float(np.float32(a_scale) * np.float32(b_scale) / np.float32(ofm_scale))
    multiplier, shift = quantize_multiplier(real)
    product = (wide_a - a_zero_point) * (wide_b - b_zero_point)
    scaled = multiply_by_quantized_multiplier(product, multiplier, shift) + ofm_zero_point
    return np.clip(scaled, act_min, act_max).astype(dtype)


def maximum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAXIMUM of stored values with broadcasting (operands share their quantization)."""
    return np.maximum(*_broadcast(a, b, "MAXIMUM")).astype(np.asarray(a).dtype)


def minimum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MINIMUM of stored values with broadcasting (operands share their quantization)."""
    return np.minimum(*_broadcast(a, b, "MINIMUM")).astype(np.asarray(a).dtype)


SQUARED_DIFFERENCE_LEFT_SHIFT = 7
"""Bits SQUARED_DIFFERENCE shifts its re-centred int8 inputs left by before rescaling them."""


def squared_difference_output_multiplier(a_scale: float, b_scale: float, ofm_scale: float) -> float:
    """The real multiplier of SQUARED_DIFFERENCE's output rescale: ``(2 * max(a, b))^2 / (2^14 * ofm)``.

    TFLite forms it with ``QuantizeMultiplierSmallerThanOneExp``, so it must be below 1.
    """
    twice_max_input_scale = 2.0 * max(_f32(a_scale), _f32(b_scale))
    return twice_max_input_scale**2 / ((1 << (2 * SQUARED_DIFFERENCE_LEFT_SHIFT)) * _f32(ofm_scale))


def squared_difference(
    a: np.ndarray,
    a_zero_point: int,
    a_scale: float,
    b: np.ndarray,
    b_zero_point: int,
    b_scale: float,
    ofm_zero_point: int,
    ofm_scale: float,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """int8 SQUARED_DIFFERENCE with broadcasting (``squared_difference.cc``).

    Both inputs are centred, shifted left by 7 and rescaled to the common
    scale ``2 * max(a_scale, b_scale)`` as ADD does; their difference is
    squared in int32 and rescaled to the output.
    """
    dtype = np.asarray(a).dtype
    wide_a, wide_b = _broadcast(a, b, "SQUARED_DIFFERENCE")
    twice_max_input_scale = 2.0 * max(_f32(a_scale), _f32(b_scale))

    def rescale(x: np.ndarray, zero_point: int, scale: float) -> np.ndarray:
        multiplier, shift = quantize_multiplier_smaller_than_one_exp(_f32(scale) / twice_max_input_scale)
        return multiply_by_quantized_multiplier_smaller_than_one_exp(
            (x - zero_point) << SQUARED_DIFFERENCE_LEFT_SHIFT, multiplier, shift
        )

    difference = rescale(wide_a, a_zero_point, a_scale) - rescale(wide_b, b_zero_point, b_scale)
    multiplier, shift = quantize_multiplier_smaller_than_one_exp(
        squared_difference_output_multiplier(a_scale, b_scale, ofm_scale)
    )
    scaled = multiply_by_quantized_multiplier_smaller_than_one_exp(difference * difference, multiplier, shift)
    return np.clip(scaled + ofm_zero_point, act_min, act_max).astype(dtype)


def _leading_sign_bits(x: np.ndarray) -> np.ndarray:
    """TFLite ``CountLeadingSignBits`` of int32 values (31 for 0 and -1)."""
    x = np.asarray(x, dtype=np.int64)
    return count_leading_zeros(np.where(x >= 0, x, ~x)) - 1


def div(
    a: np.ndarray,
    a_zero_point: int,
    a_scale: float,
    b: np.ndarray,
    b_zero_point: int,
    b_scale: float,
    ofm_zero_point: int,
    ofm_scale: float,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """int8 DIV with broadcasting (``reference_ops::DivElementwise``).

    The centred dividend (negated with the divisor when that is negative) is
    shifted left by its headroom and multiplied by the divisor's Q0.31
    reciprocal (`reciprocal`), then rescaled by ``a_scale / (b_scale *
    ofm_scale)`` (formed in float32, as TFLite's Prepare) with the shifts of
    both. A small dividend over a large divisor needs a right shift beyond
    31 bits, undefined in C++: TFLite's x86 build (LiteRT) then gives a
    saturated result, reproduced here. A divisor equal to its zero point is
    undefined in TFLite.
    """
    dtype = np.asarray(a).dtype
    wide_a, wide_b = _broadcast(a, b, "DIV")
    dividend, divisor = wide_a - a_zero_point, wide_b - b_zero_point
    negative = divisor < 0
    dividend, divisor = np.where(negative, -dividend, dividend), np.abs(divisor)
    inverse, reciprocal_shift = reciprocal(divisor, 31)
    headroom = _leading_sign_bits(dividend)
    quotient = saturating_rounding_doubling_high_mul(wrap(dividend << headroom), inverse)
    real = float(np.float32(np.float32(a_scale) / (np.float32(b_scale) * np.float32(ofm_scale))))
    multiplier, shift = quantize_multiplier(real)
    right_shift = headroom + reciprocal_shift - shift
    product = saturating_rounding_doubling_high_mul(quotient, multiplier)
    scaled = np.where(
        right_shift > 31,
        # C++ leaves shifts of 32 bits and more undefined: TFLite's build shifts by the count mod 32,
        # and its rounding mask of 2^n - 1 truncated to 32 bits is all ones
        (product >> (right_shift & 31)) + (product >= 0),
        rounding_divide_by_pot(product, np.minimum(right_shift, 31)),
    )
    return np.clip(scaled + ofm_zero_point, act_min, act_max).astype(dtype)
