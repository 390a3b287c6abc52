"""gemmlowp's fixed-point math functions, vectorised: exp and reciprocal.

TFLite's int8 SOFTMAX computes ``exp`` of the scaled input differences and
the reciprocal of their sum with gemmlowp's ``FixedPoint<int32_t, N>``
arithmetic (``fixedpoint/fixedpoint.h``, ``GetReciprocal`` in
``kernels/internal/common.h``). A ``FixedPoint<int32_t, N>`` is held here as
its raw int32 value in an int64 array; products are
``saturating_rounding_doubling_high_mul`` of the raws, sums plain int32
additions, and ``Rescale`` is a saturating/rounding power-of-two multiply.
"""

from __future__ import annotations

import numpy as np

from npuc.reference.fixed_point import (
    INT32_MAX,
    count_leading_zeros,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    saturating_rounding_multiply_by_pot,
    wrap,
)

_EXP_MINUS_ONE_EIGHTH = 1895147668
"""exp(-1/8) in Q0.31."""
_ONE_THIRD = 715827883
"""1/3 in Q0.31."""
_EXP_BARREL_SHIFTER = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
                       (2, 39332535), (3, 720401), (4, 242))  # fmt: skip
"""(exponent, exp(-2^exponent) in Q0.31) for the integer part of exp's argument."""
_FORTY_EIGHT_OVER_SEVENTEEN = 1515870810
"""48/17 in Q2.29: Newton-Raphson start of the reciprocal."""
_MINUS_THIRTY_TWO_OVER_SEVENTEEN = -1010580540
"""-32/17 in Q2.29."""


def _mul(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    return saturating_rounding_doubling_high_mul(a, b)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    """exp(a) for Q0.31 ``a`` in [-1/4, 0): Taylor expansion around -1/8."""
    x = wrap(a + (1 << 28))
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    polynomial = rounding_divide_by_pot(wrap(_mul(wrap(x4_over_4 + x3), _ONE_THIRD) + x2), 1)
    return wrap(_EXP_MINUS_ONE_EIGHTH + _mul(_EXP_MINUS_ONE_EIGHTH, wrap(x + polynomial)))


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp ``exp_on_negative_values``: Q0.31 exp of a Q(integer_bits) value <= 0.

    The argument is split into a remainder in [-1/4, 0), handled by a
    polynomial, and multiples of powers of two, handled by multiplying
    constants exp(-2^k) selected by the bits of the integer part.
    """
    a = np.asarray(a, dtype=np.int64)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_one_quarter, integer_bits)
    )
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_BARREL_SHIFTER:
        if integer_bits > exponent:
            selected = (remainder & (1 << (fractional_bits + exponent))) != 0
            result = np.where(selected, _mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp ``one_over_one_plus_x_for_x_in_0_1``: Q0.31 1/(1+a), Newton-Raphson."""
    a = np.asarray(a, dtype=np.int64)
    total = a + INT32_MAX
    half_denominator = np.where(total >= 0, (total + 1) // 2, -((-total + 1) // 2))
    x = wrap(_FORTY_EIGHT_OVER_SEVENTEEN + _mul(half_denominator, _MINUS_THIRTY_TWO_OVER_SEVENTEEN))
    one_in_q2 = 1 << 29
    for _ in range(3):
        one_minus_half_denominator_times_x = wrap(one_in_q2 - _mul(half_denominator, x))
        x = wrap(
            x + saturating_rounding_multiply_by_pot(_mul(x, one_minus_half_denominator_times_x), 2)
        )
    return saturating_rounding_multiply_by_pot(x, 1)


def reciprocal(x: np.ndarray, integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite ``GetReciprocal``: (Q0.31 scale, bits over unit) of a positive Q(integer_digits).

    ``x`` is normalised to [1, 2) by its leading zeros; the returned scale is
    1/normalised and ``num_bits_over_unit`` how far the normalisation moved it.
    """
    x = np.asarray(x, dtype=np.int64)
    headroom_plus_one = count_leading_zeros(x)
    num_bits_over_unit = integer_digits - headroom_plus_one
    shifted_sum_minus_one = wrap(((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


_THREE_HALVES_Q3 = (1 << 28) + (1 << 27)
"""1.5 in Q3.28: the Newton-Raphson constant of the inverse square root."""
_HALF_SQRT_2 = 1518500250
"""sqrt(2) / 2 in Q0.31."""


def inv_sqrt_multiplier_exp(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TFLite ``GetInvSqrtQuantizedMultiplierExp`` (reverse shift -1): 1/sqrt(x) as (Q0.31 multiplier, shift).

    ``x`` (int32 values >= 0) is normalised by pairs of bits into [2^27, 2^29)
    and five Newton-Raphson steps from 1 run in Q3.28, vectorised over the
    array; 0 and 1 give the largest multiplier with shift 0. The shift is a
    left shift (TFLite's right shift negated), as ``multiply_by_quantized_multiplier`` takes it.
    """
    x = np.asarray(x, dtype=np.int64)
    shift = np.full(x.shape, 11, dtype=np.int64)
    large = x >= (1 << 29)
    while large.any():
        x = np.where(large, x // 4, x)
        shift += large
        large = x >= (1 << 29)
    small = x <= 1
    pairs = np.maximum((count_leading_zeros(np.where(small, 2, x)) - 1) // 2 - 1, 0)
    shift -= pairs
    normalised = np.where(small, 1 << 27, x << (2 * pairs))
    half_input = rounding_divide_by_pot(normalised >> 1, 1)
    estimate = np.full(x.shape, 1 << 28, dtype=np.int64)
    for _ in range(5):
        cube = saturating_rounding_multiply_by_pot(_mul(_mul(estimate, estimate), estimate), 6)
        difference = wrap(_mul(_THREE_HALVES_Q3, estimate) - _mul(half_input, cube))
        estimate = saturating_rounding_multiply_by_pot(difference, 3)
    multiplier = _mul(estimate, _HALF_SQRT_2)
    negative = shift < 0
    multiplier = np.where(negative, wrap(multiplier << np.where(negative, -shift, 0)), multiplier)
    shift = np.where(negative, 0, shift)
    return np.where(small, INT32_MAX, multiplier), np.where(small, 0, -shift)
