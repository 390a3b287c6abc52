"""Int8 NHWC reference kernels, bit-exact with TFLite's reference kernels.

Semantics follow ``tensorflow/lite/kernels/internal/reference/integer_ops``
(conv.h, depthwise_conv.h, fully_connected.h, add.h, pooling.h) and the
int8 -> int8 path of the QUANTIZE kernel. Accumulation is in int64, which
equals TFLite's int32 accumulators whenever those do not overflow; the
requantization step then treats the accumulator as int32 exactly like
TFLite. Weights are symmetric (zero point 0); per-channel multiplier/shift
arrays apply along the last (channel) axis. All kernels return int8.
"""

from __future__ import annotations

import numpy as np

from npuc.reference.fixed_point import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_smaller_than_one_exp,
    quantize_multiplier,
    quantize_multiplier_smaller_than_one_exp,
)
from npuc.reference.float_kernels import (
    Padding,
    Pair,
    check_conv_shapes,
    check_depthwise_shapes,
    check_fc_shapes,
    window_sum_and_count,
    window_taps,
)

ADD_LEFT_SHIFT = 20


def _requantize_accumulator(
    acc: np.ndarray,
    multiplier: np.ndarray | int,
    shift: np.ndarray | int,
    ofm_zero_point: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """Scale an int32 accumulator to the output: TFLite's conv/FC epilogue."""
    scaled = multiply_by_quantized_multiplier(acc, multiplier, shift) + ofm_zero_point
    return np.clip(scaled, act_min, act_max).astype(np.int8)


def conv2d(
    ifm: np.ndarray,
    ifm_zero_point: int,
    weights: np.ndarray,
    bias: np.ndarray,
    multiplier: np.ndarray,
    shift: np.ndarray,
    ofm_zero_point: int,
    act_min: int,
    act_max: int,
    strides: Pair,
    dilations: Pair,
    padding: Padding,
) -> np.ndarray:
    """Per-channel int8 CONV_2D (TFLite ``reference_integer_ops::ConvPerChannel``).

    ``acc = bias[o] + sum w[o,kh,kw,c] * (ifm - ifm_zero_point)`` where padded
    positions contribute nothing, then
    ``clamp(MultiplyByQuantizedMultiplier(acc, multiplier[o], shift[o]) +
    ofm_zero_point, act_min, act_max)``.
    """
    check_conv_shapes(ifm, weights, bias)
    kernel = weights.shape[1:3]
    weights64 = weights.astype(np.int64)
    centred = ifm.astype(np.int64) - ifm_zero_point
    taps = window_taps(centred, kernel, strides, dilations, padding)
    acc = bias.astype(np.int64) + sum(
        np.tensordot(view, weights64[:, kh, kw, :], axes=([3], [1])) for kh, kw, view in taps
    )
    return _requantize_accumulator(acc, multiplier, shift, ofm_zero_point, act_min, act_max)


def depthwise_conv2d(
    ifm: np.ndarray,
    ifm_zero_point: int,
    weights: np.ndarray,
    bias: np.ndarray,
    multiplier: np.ndarray,
    shift: np.ndarray,
    ofm_zero_point: int,
    act_min: int,
    act_max: int,
    strides: Pair,
    dilations: Pair,
    padding: Padding,
    depth_multiplier: int,
) -> np.ndarray:
    """Per-channel int8 DEPTHWISE_CONV_2D (``reference_integer_ops::DepthwiseConvPerChannel``).

    Weights are [1, KH, KW, C*M]; output channel ``c*M + m`` reads input
    channel ``c``. Accumulation and requantization as in :func:`conv2d`.
    """
    check_depthwise_shapes(ifm, weights, bias, depth_multiplier)
    channels = ifm.shape[3]
    kernel = weights.shape[1:3]
    weights64 = weights.astype(np.int64).reshape(*kernel, channels, depth_multiplier)
    centred = ifm.astype(np.int64) - ifm_zero_point
    taps = window_taps(centred, kernel, strides, dilations, padding)
    acc = sum(view[..., :, None] * weights64[kh, kw] for kh, kw, view in taps)
    acc = acc.reshape(*acc.shape[:3], channels * depth_multiplier) + bias.astype(np.int64)
    return _requantize_accumulator(acc, multiplier, shift, ofm_zero_point, act_min, act_max)


def fully_connected(
    ifm: np.ndarray,
    ifm_zero_point: int,
    weights: np.ndarray,
    bias: np.ndarray,
    multiplier: np.ndarray | int,
    shift: np.ndarray | int,
    ofm_zero_point: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """Int8 FULLY_CONNECTED (``reference_integer_ops::FullyConnected``).

    ifm [N, K], weights [O, K], bias [O]; ``acc = bias + (ifm - zp) @ w.T``
    then the conv epilogue. ``multiplier``/``shift`` are per output channel
    or scalars (per-tensor), broadcast over O.
    """
    check_fc_shapes(ifm, weights, bias)
    acc = (ifm.astype(np.int64) - ifm_zero_point) @ weights.astype(np.int64).T
    acc = acc + bias.astype(np.int64)
    return _requantize_accumulator(acc, multiplier, shift, ofm_zero_point, act_min, act_max)


def _rescale_add_input(x: np.ndarray, zero_point: int, real_multiplier: float) -> np.ndarray:
    """Re-centre one ADD input, shift it left by 20 bits and scale it by ``real_multiplier``."""
    multiplier, shift = quantize_multiplier_smaller_than_one_exp(real_multiplier)
    return multiply_by_quantized_multiplier_smaller_than_one_exp(
        (x - zero_point) << ADD_LEFT_SHIFT, multiplier, shift
    )


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
    """Int8 ADD with broadcasting (TFLite add.cc Prepare + ``integer_ops::AddFunc``).

    Both inputs are re-centred, shifted left by 20 bits and rescaled to a
    common scale ``2 * max(a_scale, b_scale)`` with
    ``MultiplyByQuantizedMultiplierSmallerThanOneExp``; their sum is rescaled
    to the output scale the same way. Scales are float32 as in TFLite tensors.
    """
    try:
        a, b = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64))
    except ValueError as error:
        raise ValueError(f"cannot broadcast ADD inputs: {error}") from error
    a_scale, b_scale, ofm_scale = (float(np.float32(s)) for s in (a_scale, b_scale, ofm_scale))
    twice_max_input_scale = 2.0 * max(a_scale, b_scale)
    scaled_a = _rescale_add_input(a, a_zero_point, a_scale / twice_max_input_scale)
    scaled_b = _rescale_add_input(b, b_zero_point, b_scale / twice_max_input_scale)
    ofm_multiplier, ofm_shift = quantize_multiplier_smaller_than_one_exp(
        twice_max_input_scale / ((1 << ADD_LEFT_SHIFT) * ofm_scale)
    )
    raw = multiply_by_quantized_multiplier_smaller_than_one_exp(
        scaled_a + scaled_b, ofm_multiplier, ofm_shift
    )
    return np.clip(raw + ofm_zero_point, act_min, act_max).astype(np.int8)


def max_pool2d(
    ifm: np.ndarray, kernel: Pair, strides: Pair, padding: Padding, act_min: int, act_max: int
) -> np.ndarray:
    """Int8 MAX_POOL_2D (``reference_integer_ops::MaxPool``).

    Maximum over the valid window elements (padding never wins; TFLite starts
    from the int8 lowest value), clamped to [act_min, act_max]. Output keeps
    the input scale and zero point.
    """
    lowest = np.iinfo(np.int8).min
    ofm = None
    for _, _, view in window_taps(ifm, kernel, strides, (1, 1), padding, lowest):
        ofm = view if ofm is None else np.maximum(ofm, view)
    return np.clip(ofm, act_min, act_max).astype(np.int8)


def avg_pool2d(
    ifm: np.ndarray, kernel: Pair, strides: Pair, padding: Padding, act_min: int, act_max: int
) -> np.ndarray:
    """Int8 AVERAGE_POOL_2D (``reference_integer_ops::AveragePool``).

    Sums the valid window elements and divides by their count rounding to
    nearest, ties away from zero: ``(sum + count/2) / count`` for sum > 0,
    ``(sum - count/2) / count`` otherwise, with C truncating division. The
    result is clamped to [act_min, act_max]; scale/zero point are unchanged.
    """
    total, count = window_sum_and_count(ifm.astype(np.int64), kernel, strides, padding)
    half = count // 2
    numerator = np.where(total > 0, total + half, total - half)
    quotient = np.sign(numerator) * (np.abs(numerator) // count)
    return np.clip(quotient, act_min, act_max).astype(np.int8)


def requantize(
    q: np.ndarray,
    in_scale: float,
    in_zero_point: int,
    out_scale: float,
    out_zero_point: int,
    qmin: int,
    qmax: int,
) -> np.ndarray:
    """Int8 -> int8 QUANTIZE (TFLite quantize.cc + ``reference_ops::Requantize``).

    The effective scale ``in_scale / out_scale`` (float32 scales divided in
    double) is encoded with QuantizeMultiplier; each value becomes
    ``clamp(MultiplyByQuantizedMultiplier(q - in_zp) + out_zp, qmin, qmax)``.
    """
    multiplier, shift = quantize_multiplier(
        float(np.float32(in_scale)) / float(np.float32(out_scale))
    )
    centred = np.asarray(q, dtype=np.int64) - in_zero_point
    scaled = multiply_by_quantized_multiplier(centred, multiplier, shift) + out_zero_point
    return np.clip(scaled, qmin, qmax).astype(np.int8)
