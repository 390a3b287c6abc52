"""TFLite integer (fixed-point) arithmetic, vectorised over numpy arrays.

The functions mirror ``tensorflow/lite/kernels/internal/common.h`` and
``quantization_util.cc`` in their default build (``TFLITE_SINGLE_ROUNDING``
undefined, i.e. the gemmlowp double-rounding scheme) so that the integer
reference interpreter is bit-exact with TFLite's reference kernels.

All integer helpers take and return ``int64`` arrays holding values of the
C++ ``int32_t`` type they model; int64 leaves room for the intermediate
products without overflow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

ACTIVATION_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "none": (None, None),
    "relu": (0.0, None),
    "relu6": (0.0, 6.0),
    "relu_n1_to_1": (-1.0, 1.0),
}


def round_half_away_from_zero(x: np.ndarray | float) -> np.ndarray:
    """Round like C's ``std::round`` (TFLite's ``TfLiteRound``), keeping dtype.

    ``np.round`` rounds half to even, which differs from TFLite on ties.
    Subtracting the integer part is exact in binary floating point, so the
    tie test below has no double-rounding error.
    """
    x = np.asarray(x)
    whole = np.trunc(x)
    fraction = x - whole
    return whole + np.where(np.abs(fraction) >= 0.5, np.sign(x), 0).astype(x.dtype)


def wrap(x: np.ndarray, bits: int = 32) -> np.ndarray:
    """Reinterpret int64 values as two's-complement ``bits``-wide integers (C++ wrap)."""
    return np.asarray(x, dtype=np.int64).astype(f"int{bits}").astype(np.int64)


def quantize_multipliers(
    real_multipliers: np.ndarray | Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised TFLite ``QuantizeMultiplier``: real = multiplier * 2^(shift-31).

    Follows quantization_util.cc: ``q = frexp(real, &shift)``, the Q31
    significand is ``round(q * 2^31)`` (half away from zero); a rounded value
    of exactly 2^31 is halved with ``shift + 1``; shifts below -31 flush the
    multiplier to zero. Zero maps to (0, 0). Returns int32 arrays.
    """
    real = np.asarray(real_multipliers, dtype=np.float64)
    significand, shift = np.frexp(real)
    q_fixed = round_half_away_from_zero(significand * 2.0**31).astype(np.int64)
    saturated = q_fixed == 2**31
    q_fixed = np.where(saturated, q_fixed // 2, q_fixed)
    shift = np.where(saturated, shift + 1, shift).astype(np.int64)
    underflow = shift < -31
    q_fixed = np.where(underflow, 0, q_fixed)
    shift = np.where(underflow, 0, shift)
    return q_fixed.astype(np.int32), shift.astype(np.int32)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """Scalar TFLite ``QuantizeMultiplier``; see :func:`quantize_multipliers`."""
    multiplier, shift = quantize_multipliers(np.float64(real_multiplier))
    return int(multiplier), int(shift)


def quantize_multiplier_smaller_than_one_exp(real_multiplier: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplierSmallerThanOneExp``: returns (multiplier, left_shift).

    Same encoding as :func:`quantize_multiplier`; TFLite additionally
    requires the resulting shift to be non-positive (real < 1).
    """
    multiplier, shift = quantize_multiplier(real_multiplier)
    if shift > 0:
        raise ValueError(f"multiplier {real_multiplier} is not smaller than one")
    return multiplier, shift


def saturating_rounding_doubling_high_mul(
    a: np.ndarray | int, b: np.ndarray | int, bits: int = 32
) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int32 (or int16) values.

    Returns the high half of ``2*a*b`` rounded to nearest (nudge of
    +-2^(bits-2), then C truncating division by 2^(bits-1)); the single
    overflow case ``a == b == min`` saturates to the type's maximum.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    low = -(1 << (bits - 1))
    overflow = (a == b) & (a == low)
    product = a * b
    half = 1 << (bits - 2)
    nudged = product + np.where(product >= 0, half, 1 - half)
    high = truncating_divide(nudged, 1 << (bits - 1))
    return np.where(overflow, -low - 1, high)


def truncating_divide(numerator: np.ndarray, denominator: np.ndarray | int) -> np.ndarray:
    """C integer division (rounds toward zero) of int64 arrays; denominator > 0."""
    numerator = np.asarray(numerator, dtype=np.int64)
    quotient = np.abs(numerator) // denominator
    return np.where(numerator < 0, -quotient, quotient)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: x / 2^exponent, ties away from zero.

    ``exponent`` is in [0, 31] and broadcasts against ``x`` (per-channel
    shifts along the last axis).
    """
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(
    x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplier`` (double-rounding build).

    Computes ``x * multiplier * 2^(shift-31)``: a positive shift is applied
    as an exact left shift of ``x`` before the rounding doubling high mul, a
    negative one as a rounding right shift after it. ``x`` is an int32
    accumulator; values beyond int32 (and the left-shifted value) wrap as
    in TFLite's int32 arithmetic. ``multiplier``/``shift`` broadcast against
    ``x``, so per-channel arrays apply along the last axis.
    """
    shift = np.asarray(shift, dtype=np.int64)
    left_shift = np.maximum(shift, 0)
    right_shift = np.maximum(-shift, 0)
    shifted = wrap(wrap(x) * (np.int64(1) << left_shift))
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shifted, multiplier), right_shift
    )


def multiply_by_quantized_multiplier_int64(
    x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """TFLite's int64 ``MultiplyByQuantizedMultiplier`` (16x8 kernels with int64 bias).

    The Q31 multiplier is first reduced to 15 bits (rounded, saturating at
    0x7FFF), then ``(x * reduced + 2^(14-shift)) >> (15 - shift)`` with an
    arithmetic shift, so ties round up rather than away from zero.
    """
    multiplier = np.asarray(multiplier, dtype=np.int64)
    reduced = np.where(multiplier < 0x7FFF0000, (multiplier + (1 << 15)) >> 16, 0x7FFF)
    total_shift = 15 - np.asarray(shift, dtype=np.int64)
    rounding = np.int64(1) << (total_shift - 1)
    return (np.asarray(x, dtype=np.int64) * reduced + rounding) >> total_shift


EXACT_INT64_PRODUCT = 1 << 62
"""Products at least this large (with the rounding term) are formed in Python integers, not int64."""


def multiply_by_quantized_multiplier_single_rounding(
    x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """``MultiplyByQuantizedMultiplier`` with one rounding (TFLite's TFLITE_SINGLE_ROUNDING).

    ``(x * multiplier + 2^(30 - shift)) >> (31 - shift)`` on the exact 64-bit
    product: the nearest integer to ``x * multiplier * 2^(shift-31)``, ties
    rounded up. A product beyond int64 (an accumulator past 2^32) is formed
    exactly, as TFLite's double rescale does not overflow either.
    """
    total_shift = 31 - np.asarray(shift, dtype=np.int64)
    x, multiplier = np.asarray(x, dtype=np.int64), np.asarray(multiplier, dtype=np.int64)
    if x.size and int(np.abs(x).max()) * int(np.abs(multiplier).max()) >= EXACT_INT64_PRODUCT:
        # a 16x8 accumulator with a large int64 bias: the product in Python integers, then back
        exact = (x.astype(object) * multiplier.astype(object) + (1 << (total_shift.astype(object) - 1))) >> total_shift.astype(object)
        return np.asarray(exact, dtype=np.int64)
    return (x * multiplier + (np.int64(1) << (total_shift - 1))) >> total_shift


def saturating_rounding_multiply_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingMultiplyByPOT`` on int32 values.

    A positive exponent is a left shift saturating at the int32 limits, a
    negative one a rounding right shift.
    """
    x = np.asarray(x, dtype=np.int64)
    if exponent <= 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    shifted = x << exponent
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))


def count_leading_zeros(x: np.ndarray) -> np.ndarray:
    """Leading zero bits of int64-held uint32 values (32 for zero)."""
    _, exponent = np.frexp(np.asarray(x, dtype=np.float64))
    return 32 - exponent.astype(np.int64)


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite ``CheckedLog2``: (whether x is a power of two, its rounded log2).

    Computed in float32 like TFLite: log(x) / log(2) rounded half away from
    zero, a power of two when the fractional part is below 1e-3.
    """
    log2 = np.float32(np.log(np.float32(x))) * (np.float32(1) / np.float32(np.log(np.float32(2))))
    rounded = np.float32(round_half_away_from_zero(np.float32(log2)))
    return bool(abs(log2 - rounded) < np.float32(1e-3)), int(rounded)


def calculate_input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """TFLite ``CalculateInputRadius``: largest input difference that stays unsaturated."""
    radius = (
        ((1 << integer_bits) - 1)
        * float(1 << (total_signed_bits - integer_bits))
        / float(1 << left_shift)
    )
    return int(np.floor(radius))


def multiply_by_quantized_multiplier_smaller_than_one_exp(
    x: np.ndarray, multiplier: np.ndarray | int, left_shift: np.ndarray | int
) -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplierSmallerThanOneExp`` (used by ADD).

    Rounding doubling high mul followed by a rounding right shift of
    ``-left_shift`` (``left_shift`` <= 0).
    """
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x, multiplier), -np.asarray(left_shift)
    )


def _quantize_scalar(value: float, scale: float, zero_point: int) -> int:
    """TFLite ``Quantize`` helper of kernel_util.cc: float32 ``round(f / scale)``."""
    quotient = np.float32(value) / np.float32(scale)
    return int(zero_point) + int(round_half_away_from_zero(quotient))


def activation_range(
    activation: str, scale: float, zero_point: int, qmin: int, qmax: int
) -> tuple[int, int]:
    """TFLite ``CalculateActivationRangeQuantized`` for a fused activation.

    The float bounds of ``activation`` ("none", "relu", "relu6",
    "relu_n1_to_1") are quantized with the output scale/zero point and
    intersected with the storage range [qmin, qmax].
    """
    if activation not in ACTIVATION_BOUNDS:
        raise ValueError(f"unknown activation {activation!r}")
    return quantized_range(*ACTIVATION_BOUNDS[activation], scale, zero_point, qmin, qmax)


def quantized_range(
    lower: float | None,
    upper: float | None,
    scale: float,
    zero_point: int,
    qmin: int,
    qmax: int,
) -> tuple[int, int]:
    """The float interval [lower, upper] (None: unbounded) in stored integers.

    Each bound is ``zero_point + round(bound / scale)`` in float32 (TFLite's
    ``Quantize`` helper), intersected with the storage range [qmin, qmax].
    """
    act_min, act_max = qmin, qmax
    if lower is not None:
        act_min = max(qmin, _quantize_scalar(lower, scale, zero_point))
    if upper is not None:
        act_max = min(qmax, _quantize_scalar(upper, scale, zero_point))
    return act_min, act_max


def _along_axis(values: np.ndarray | float, ndim: int, axis: int | None) -> np.ndarray:
    """Shape per-axis quantization parameters to broadcast along ``axis``."""
    values = np.asarray(values)
    if axis is None:
        if values.size != 1:
            raise ValueError("per-axis quantization parameters need an axis")
        return values.reshape(())
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


def quantize(
    x: np.ndarray,
    scale: np.ndarray | float,
    zero_point: np.ndarray | int,
    qmin: int,
    qmax: int,
    axis: int | None = None,
    dtype: DTypeLike = np.int8,
) -> np.ndarray:
    """Float -> integer as TFLite's reference QUANTIZE (``AffineQuantize``).

    ``clamp(round(x / scale) + zero_point, qmin, qmax)`` with the division in
    float32 and ``std::round`` (half away from zero). Per-axis scale and
    zero point (``PerChannelQuantize``) are given as arrays with ``axis``.
    """
    x = np.asarray(x, dtype=np.float32)
    scale = _along_axis(np.asarray(scale, dtype=np.float32), x.ndim, axis)
    zero_point = _along_axis(np.asarray(zero_point, dtype=np.int64), x.ndim, axis)
    rounded = round_half_away_from_zero(x / scale).astype(np.int64)
    return np.clip(rounded + zero_point, qmin, qmax).astype(dtype)


def dequantize(
    q: np.ndarray,
    scale: np.ndarray | float,
    zero_point: np.ndarray | int,
    axis: int | None = None,
) -> np.ndarray:
    """Integer -> float32 as TFLite's reference DEQUANTIZE.

    ``float(scale * (q - zero_point))`` with the product in double precision
    (TFLite keeps ``DequantizationParams::scale`` as a double).
    """
    q = np.asarray(q, dtype=np.int64)
    scale = _along_axis(np.asarray(scale, dtype=np.float32).astype(np.float64), q.ndim, axis)
    zero_point = _along_axis(np.asarray(zero_point, dtype=np.int64), q.ndim, axis)
    return (scale * (q - zero_point)).astype(np.float32)
