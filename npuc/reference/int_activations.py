"""Integer activation functions, bit-exact with TFLite's reference kernels.

Covers RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1, LEAKY_RELU, PRELU, HARD_SWISH,
LOGISTIC, TANH, RSQRT (int8) (``kernels/activations.cc`` with ``reference_ops`` /
``reference_integer_ops``) and GELU (``kernels/gelu.cc``) for int8 and, where
TFLite has them, int16 activations. The element type follows the input array
(int8 or int16). Hard sigmoid, which TFLite has no builtin for, is defined as
TFLite defines its table-driven int8 kernels (GELU, LOGISTIC): a 256-entry
table filled from the float function by ``LUTPopulate``, so any runtime with
a table lookup computes it exactly.

TFLite's reference LOGISTIC and TANH use a 256-entry lookup table for int8
(filled in float32 by ``LUTPopulate``) and fixed-point interpolation in a
table of sigmoid(i/24) for int16; both are reproduced here. Scales are float32
as in TFLite tensors; where TFLite forms a multiplier in float32 arithmetic
(``float / float``) it is done the same way before QuantizeMultiplier.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from npuc.reference.fixed_point import (
    checked_log2,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    quantized_range,
    round_half_away_from_zero,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    truncating_divide,
    wrap,
)
from npuc.reference.fixed_point_math import inv_sqrt_multiplier_exp

RELU_BOUNDS: dict[str, tuple[float, float | None]] = {
    "relu": (0.0, None),
    "relu6": (0.0, 6.0),
    "relu_n1_to_1": (-1.0, 1.0),
    "relu_0_to_1": (0.0, 1.0),
}
"""Float clamp interval of each standalone ReLU operator."""

SIGMOID_TABLE = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
], dtype=np.int64)  # fmt: skip
"""TFLite's ``sigmoid_table_uint16``: sigmoid(i/24) in Q0.16 (common.h), for int16 LOGISTIC/TANH."""


def _range(x: np.ndarray) -> tuple[int, int]:
    info = np.iinfo(x.dtype)
    return int(info.min), int(info.max)


def _f32_ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` in float32, as TFLite divides two tensor scales."""
    return float(np.float32(numerator) / np.float32(denominator))


def relu(
    x: np.ndarray,
    in_zero_point: int,
    in_scale: float,
    out_zero_point: int,
    out_scale: float,
    kind: str,
) -> np.ndarray:
    """RELU / RELU6 / RELU_N1_TO_1 / RELU_0_TO_1 (TFLite ``QuantizedReluX``).

    The input is rescaled to the output scale (multiplier in_scale/out_scale
    divided in float32) and clamped to the kind's interval quantized with the
    output parameters.
    """
    qmin, qmax = _range(x)
    act_min, act_max = quantized_range(*RELU_BOUNDS[kind], out_scale, out_zero_point, qmin, qmax)
    multiplier, shift = quantize_multiplier(_f32_ratio(in_scale, out_scale))
    centred = x.astype(np.int64) - in_zero_point
    scaled = multiply_by_quantized_multiplier(centred, multiplier, shift) + out_zero_point
    return np.clip(scaled, act_min, act_max).astype(x.dtype)


def leaky_relu(
    x: np.ndarray,
    in_zero_point: int,
    in_scale: float,
    out_zero_point: int,
    out_scale: float,
    alpha: float,
) -> np.ndarray:
    """LEAKY_RELU (``reference_ops::QuantizeLeakyRelu``).

    Non-negative inputs are rescaled by in_scale/out_scale, negative ones by
    in_scale*alpha/out_scale (both formed in float32 as TFLite does).
    """
    alpha_real = float(np.float32(in_scale) * np.float32(alpha) / np.float32(out_scale))
    identity = quantize_multiplier(_f32_ratio(in_scale, out_scale))
    negative = quantize_multiplier(alpha_real)
    centred = x.astype(np.int64) - in_zero_point
    scaled = np.where(
        centred >= 0,
        multiply_by_quantized_multiplier(centred, *identity),
        multiply_by_quantized_multiplier(centred, *negative),
    )
    return np.clip(scaled + out_zero_point, *_range(x)).astype(x.dtype)


def prelu(
    x: np.ndarray,
    in_zero_point: int,
    in_scale: float,
    slope: np.ndarray,
    slope_zero_point: int,
    slope_scale: float,
    out_zero_point: int,
    out_scale: float,
) -> np.ndarray:
    """PRELU (``reference_ops::BroadcastPrelu4DSlow``); ``slope`` broadcasts to ``x``.

    ``x >= 0``: rescale by in_scale/out_scale; else multiply the centred input
    by the centred slope and rescale by in_scale*slope_scale/out_scale.
    """
    positive = quantize_multiplier(_f32_ratio(in_scale, out_scale))
    negative = quantize_multiplier(
        float(np.float32(in_scale) * np.float32(slope_scale) / np.float32(out_scale))
    )
    centred = x.astype(np.int64) - in_zero_point
    centred_slope = np.broadcast_to(slope.astype(np.int64) - slope_zero_point, x.shape)
    scaled = np.where(
        centred >= 0,
        multiply_by_quantized_multiplier(centred, *positive),
        multiply_by_quantized_multiplier(centred * centred_slope, *negative),
    )
    return np.clip(scaled + out_zero_point, *_range(x)).astype(x.dtype)


def _multiplier_int16(real: float) -> tuple[int, int]:
    """QuantizeMultiplier then TFLite ``DownScaleInt32ToInt16Multiplier``: (Q15, exponent)."""
    multiplier, exponent = quantize_multiplier(real)
    if multiplier >= 2**31 - 1 - (1 << 15):
        return 2**15 - 1, exponent
    return (multiplier + (1 << 15)) >> 16, exponent


def _saturating_left_shift_int16(x: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(x * (1 << amount), -(2**15), 2**15 - 1)


def hard_swish(
    x: np.ndarray, in_zero_point: int, in_scale: float, out_zero_point: int, out_scale: float
) -> np.ndarray:
    """Int8 HARD_SWISH (``reference_ops::HardSwish``), x * relu6(x + 3) / 6.

    Works in int16 fixed point: the input on a 2^7 finer scale, a "relu-ish"
    factor in [0, 1] where 3.0 maps to 2^15, their truncating doubling high
    product, then a rounding shift to the output scale.
    """
    hires_input_scale = np.float32(1.0 / 128.0) * np.float32(in_scale)
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    output_multiplier, output_exponent = _multiplier_int16(
        float(hires_input_scale / np.float32(out_scale))
    )
    reluish_multiplier, reluish_exponent = _multiplier_int16(
        float(hires_input_scale / reluish_scale)
    )
    if output_exponent > 0:
        raise ValueError("HARD_SWISH needs an output scale above input_scale / 128")

    input_value = wrap(x.astype(np.int64) - in_zero_point, 16)
    hires = wrap(input_value * (1 << 7), 16)
    preshift_output = saturating_rounding_doubling_high_mul(hires, output_multiplier, bits=16)
    reluish = hires
    if reluish_exponent > 0:
        reluish = _saturating_left_shift_int16(reluish, reluish_exponent - 1)
    reluish = saturating_rounding_doubling_high_mul(reluish, reluish_multiplier, bits=16)
    if reluish_exponent > 0:
        reluish = _saturating_left_shift_int16(reluish, 1)
    if reluish_exponent < 0:
        reluish = rounding_divide_by_pot(reluish, -reluish_exponent)
    reluish = (reluish + (1 << 15)) >> 1
    product = truncating_divide(reluish * preshift_output, 1 << 15)
    output = wrap(rounding_divide_by_pot(product, -output_exponent) + out_zero_point, 16)
    return np.clip(output, *_range(x)).astype(x.dtype)


def int8_lut(
    in_scale: float,
    in_zero_point: int,
    out_scale: float,
    out_zero_point: int,
    transform: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """TFLite ``LUTPopulate<int8_t>``: the 256 outputs for inputs -128..127, in float32.

    ``transform`` maps float32 arrays to float32 arrays like the C++ lambda.
    """
    values = np.arange(-128, 128, dtype=np.int64)
    dequantized = np.float32(in_scale) * (values - in_zero_point).astype(np.float32)
    transformed = transform(dequantized.astype(np.float32)).astype(np.float32)
    rescaled = round_half_away_from_zero(transformed * (np.float32(1) / np.float32(out_scale)))
    quantized = np.trunc(rescaled + np.float32(out_zero_point)).astype(np.int64)
    return np.clip(quantized, -128, 127).astype(np.int8)


def _sigmoid_f32(x: np.ndarray) -> np.ndarray:
    exp = np.exp(-x.astype(np.float64)).astype(np.float32)
    return np.float32(1) / (np.float32(1) + exp)


def _tanh_f32(x: np.ndarray) -> np.ndarray:
    return np.tanh(x.astype(np.float64)).astype(np.float32)


def _int16_lookup_scaling(in_scale: float, pot_left_shifts: tuple[int, ...]) -> tuple[int, int]:
    """(input_multiplier, input_left_shift) of int16 LOGISTIC/TANH (TFLite Prepare).

    A power-of-two input scale whose shift is one of ``pot_left_shifts``
    needs no multiplier: the kernel then uses 3 << shift. Otherwise the
    input is rescaled so that 2^17 represents 10.7 (scale 1/(3*4096)).
    """
    is_pot, log2 = checked_log2(in_scale)
    left_shift = 12 + log2
    if is_pot and left_shift in pot_left_shifts:
        return 3 << left_shift, 0
    multiplier = float(np.float32(in_scale)) * 4096.0 * 3.0
    left_shift = 0
    while multiplier <= 32767.0 / 2.0 and left_shift <= 30:
        left_shift += 1
        multiplier *= 2.0
    return int(multiplier), left_shift


def _scaled_int16_input(
    x: np.ndarray, in_scale: float, pot_left_shifts: tuple[int, ...]
) -> np.ndarray:
    multiplier, left_shift = _int16_lookup_scaling(in_scale, pot_left_shifts)
    rounding = (1 << (left_shift - 1)) if left_shift > 0 else 0
    return (x.astype(np.int64) * multiplier + rounding) >> left_shift


def _interpolated_sigmoid(magnitude: np.ndarray, fraction_bits: int, saturated: int) -> np.ndarray:
    """Linear interpolation in SIGMOID_TABLE at magnitude / 2^fraction_bits."""
    index = magnitude >> fraction_bits
    inside = index < 255
    clipped = np.minimum(index, 254)
    low, high = SIGMOID_TABLE[clipped], SIGMOID_TABLE[clipped + 1]
    fraction = magnitude & ((1 << fraction_bits) - 1)
    return np.where(inside, (low << fraction_bits) + fraction * (high - low), saturated)


def logistic(
    x: np.ndarray, in_zero_point: int, in_scale: float, out_zero_point: int, out_scale: float
) -> np.ndarray:
    """LOGISTIC: int8 through a float32-built LUT, int16 by table interpolation.

    int16 (``reference_integer_ops::Logistic``) needs zero points 0 and an
    output scale of 2^-15; int8 needs an output scale of 1/256.
    """
    if x.dtype == np.int8:
        lut = int8_lut(in_scale, in_zero_point, out_scale, out_zero_point, _sigmoid_f32)
        return lut[x.astype(np.int64) + 128]
    value = _scaled_int16_input(x, in_scale, (0,))
    result = _interpolated_sigmoid(np.abs(value), 9, 0x7FFF << 10)
    result = np.where(value >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1)
    return (result >> 10).astype(np.int16)


def tanh(
    x: np.ndarray, in_zero_point: int, in_scale: float, out_zero_point: int, out_scale: float
) -> np.ndarray:
    """TANH: int8 through a float32-built LUT, int16 as 2*sigmoid(2x) - 1 by interpolation.

    int16 (``reference_integer_ops::Tanh``) needs zero points 0 and an output
    scale of 2^-15.
    """
    if x.dtype == np.int8:
        lut = int8_lut(in_scale, in_zero_point, out_scale, out_zero_point, _tanh_f32)
        return lut[x.astype(np.int64) + 128]
    value = _scaled_int16_input(x, in_scale, (0, 1))
    result = _interpolated_sigmoid(np.abs(value), 8, 0xFFFF << 8)
    result = np.where(value >= 0, result - (1 << 23) + (1 << 7), -result + (1 << 23) + (1 << 7) - 1)
    return wrap(result >> 8, 16).astype(np.int16)


def _gelu_f32(x: np.ndarray) -> np.ndarray:
    """TFLite's ``GeluTransform`` in float32: 0.5 * x * erfc(-x / sqrt(2))."""
    half_x = np.float32(0.5) * x
    complement = np.array([math.erfc(float(value * np.float32(-_SQRT_HALF))) for value in x], dtype=np.float32)
    return (half_x * complement).astype(np.float32)


def _gelu_approximate_f32(x: np.ndarray) -> np.ndarray:
    """TFLite's ``GeluTransformApproximate`` in float32: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))."""
    inner = np.float32(_SQRT_2_OVER_PI) * (x + np.float32(0.044715) * x * x * x)
    return (np.float32(0.5) * x * (np.float32(1) + _tanh_f32(inner.astype(np.float32)))).astype(np.float32)


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = 2.0 / math.sqrt(math.pi) * math.sqrt(0.5)
"""M_2_SQRTPI * M_SQRT1_2 in double, as TFLite's ``kSqrt2dPi`` (then rounded to float32)."""


def gelu(
    x: np.ndarray, in_zero_point: int, in_scale: float, out_zero_point: int, out_scale: float,
    approximate: bool = False,
) -> np.ndarray:
    """Int8 GELU (TFLite ``gelu.cc``): a table filled from the float function (exact or tanh form)."""
    transform = _gelu_approximate_f32 if approximate else _gelu_f32
    lut = int8_lut(in_scale, in_zero_point, out_scale, out_zero_point, transform)
    return lut[x.astype(np.int64) + 128]


def hard_sigmoid(
    x: np.ndarray, in_zero_point: int, in_scale: float, out_zero_point: int, out_scale: float,
    alpha: float, beta: float,
) -> np.ndarray:
    """Int8 hard sigmoid, max(0, min(1, alpha * x + beta)) in float32, through a ``LUTPopulate`` table."""

    def transform(values: np.ndarray) -> np.ndarray:
        return np.clip(np.float32(alpha) * values + np.float32(beta), np.float32(0), np.float32(1))

    lut = int8_lut(in_scale, in_zero_point, out_scale, out_zero_point, transform)
    return lut[x.astype(np.int64) + 128]


RSQRT_SHIFT = 20
"""Bits TFLite's int8 RSQRT keeps 1/sqrt(x) scaled by before its output rescale."""


def rsqrt(x: np.ndarray, in_zero_point: int, in_scale: float, out_zero_point: int, out_scale: float) -> np.ndarray:
    """int8 RSQRT (``elementwise.cc``, ``RsqrtEvalQuantized``).

    The centred input's inverse square root is formed in fixed point
    (`inv_sqrt_multiplier_exp`) as an integer scaled by 2^20, then rescaled by
    ``1 / (sqrt(in_scale) * out_scale)`` (the product in float32) and clamped; a
    centred 0 gives the largest output. TFLite refuses inputs below the zero
    point (a negative real value); they are computed here as 0.
    """
    values = np.maximum(np.asarray(x, dtype=np.int64) - in_zero_point, 0)
    inv_multiplier, inv_shift = inv_sqrt_multiplier_exp(values)
    scaled = multiply_by_quantized_multiplier(np.ones_like(values), inv_multiplier, inv_shift + RSQRT_SHIFT)
    root = np.sqrt(np.float32(in_scale)) * np.float32(out_scale)  # float32, as std::sqrt(float) * float
    multiplier, shift = quantize_multiplier(1.0 / float(root))
    output = multiply_by_quantized_multiplier(scaled, multiplier, shift - RSQRT_SHIFT) + out_zero_point
    low, high = _range(np.asarray(x))
    return np.where(values == 0, high, np.clip(output, low, high)).astype(np.asarray(x).dtype)
