"""Integer NHWC layer kernels, bit-exact with TFLite's reference kernels.

Semantics follow ``tensorflow/lite/kernels/internal/reference/integer_ops``
(conv.h, depthwise_conv.h, fully_connected.h, transpose_conv.h, pooling.h)
and the integer paths of the QUANTIZE kernel. Activations are int8, or int16
for TFLite's 16x8 mode (int16 activations with zero point 0, int8 weights);
the output has the input's dtype. Accumulation is in int64, which equals
TFLite's accumulators whenever those do not overflow; the requantization step
then follows TFLite's choice of arithmetic:

- int8, or 16x8 with an int32 bias: the int32 accumulator goes through the
  double-rounding ``MultiplyByQuantizedMultiplier``;
- 16x8 with an int64 bias (TFLite's default): the int64 accumulator goes
  through TFLite's int64 ``MultiplyByQuantizedMultiplier`` (15-bit multiplier).

TFLite's reference FULLY_CONNECTED (int8 and 16x8, LiteRT 2.x) instead
multiplies the accumulator by the real scale in double and rounds once. The
FULLY_CONNECTED kernel keeps the fixed-point multiplier (an NPU's scale
table holds nothing else) but rounds the exact product with it once, which
equals the double rescale unless the product lies within 2^-31 of its size
of a rounding tie (no output of 164,000 in the test models does).

Weights are symmetric (zero point 0); per-channel multiplier/shift arrays
apply along the last (channel) axis. Elementwise ops live in
``int_elementwise`` (ADD is re-exported here for the simulator).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from npuc.reference.fixed_point import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    multiply_by_quantized_multiplier_single_rounding,
    quantize_multiplier,
    quantize_multipliers,
    truncating_divide,
    wrap,
)
from npuc.reference.float_kernels import (
    Padding,
    Pair,
    channel_groups,
    check_conv_shapes,
    check_depthwise_shapes,
    check_fc_shapes,
    tap_sum,
    window_max,
    window_sum_and_count,
    window_taps,
)

__all__ = [
    "avg_pool2d",
    "conv2d",
    "conv_accumulator",
    "conv_real_scale",
    "conv_rescale",
    "depthwise_accumulator",
    "depthwise_conv2d",
    "fully_connected",
    "fully_connected_accumulator",
    "max_pool2d",
    "requantize",
    "transpose_conv2d",
]


def conv_real_scale(ifm_scale: float, weight_scales: np.ndarray, ofm_scale: float) -> np.ndarray:
    """Per-channel real multipliers ``ifm_scale * weight_scale[c] / ofm_scale`` in double.

    The float32 scales are promoted to double before multiplying, as in
    TFLite's PopulateConvolutionQuantizationParams and its reference
    FULLY_CONNECTED.
    """
    weight_scales = np.asarray(weight_scales, dtype=np.float32).astype(np.float64)
    return np.float64(np.float32(ifm_scale)) * weight_scales / np.float64(np.float32(ofm_scale))


def conv_rescale(
    ifm_scale: float, weight_scales: np.ndarray, ofm_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) int32 arrays of :func:`conv_real_scale`."""
    return quantize_multipliers(conv_real_scale(ifm_scale, weight_scales, ofm_scale))


def _requantize_accumulator(
    acc: np.ndarray,
    bias: np.ndarray,
    multiplier: np.ndarray | int,
    shift: np.ndarray | int,
    ofm_zero_point: int,
    act_min: int,
    act_max: int,
    dtype: np.dtype,
    single_rounding: bool = False,
    ofm_dtype: np.dtype | None = None,
) -> np.ndarray:
    """Add the bias and scale the accumulator to the output: TFLite's conv/FC epilogue.

    ``single_rounding`` rounds the fixed-point product once (FULLY_CONNECTED).
    Otherwise an int16 output with an int64 bias array takes TFLite's int64
    rescale and everything else the int32 one (whatever integer type holds
    the bias values). The result is stored as ``ofm_dtype``, by default the
    ifm's ``dtype``.
    """
    acc = acc + bias.astype(np.int64)
    if single_rounding:
        scaled = multiply_by_quantized_multiplier_single_rounding(acc, multiplier, shift)
    elif dtype == np.int16 and bias.dtype == np.int64:
        scaled = multiply_by_quantized_multiplier_int64(acc, multiplier, shift)
    else:
        scaled = multiply_by_quantized_multiplier(acc, multiplier, shift)
    return np.clip(scaled + ofm_zero_point, act_min, act_max).astype(ofm_dtype or dtype)


def conv_accumulator(
    ifm: np.ndarray,
    ifm_zero_point: int,
    weights: np.ndarray,
    strides: Pair,
    dilations: Pair,
    padding: Padding,
    groups: int = 1,
) -> np.ndarray:
    """int64 ``sum w[o,kh,kw,c] * (ifm - ifm_zero_point)`` of a conv (OHWI weights), bias not added.

    Padded positions contribute nothing; with `groups` G, output channel o
    reads the input channels of its group alone (weights [O, KH, KW, C/G]).
    Shared by the TFLite and onnxruntime integer references, which differ
    only in the requantization after it.
    """
    kernel = weights.shape[1:3]
    weights64 = weights.astype(np.int64)
    centred = ifm.astype(np.int64) - ifm_zero_point
    parts = [
        tap_sum(
            np.tensordot(view, weights64[outputs, kh, kw, :], axes=([3], [1]))
            for kh, kw, view in window_taps(centred[..., inputs], kernel, strides, dilations, padding)
        )
        for inputs, outputs in channel_groups(ifm.shape[3], weights.shape[0], groups)
    ]
    return parts[0] if groups == 1 else np.concatenate(parts, axis=3)


def depthwise_accumulator(
    ifm: np.ndarray,
    ifm_zero_point: int,
    weights: np.ndarray,
    strides: Pair,
    dilations: Pair,
    padding: Padding,
    depth_multiplier: int,
) -> np.ndarray:
    """int64 accumulators of a depthwise conv ([1, KH, KW, C*M] weights), bias not added."""
    channels = ifm.shape[3]
    kernel = weights.shape[1:3]
    weights64 = weights.astype(np.int64).reshape(*kernel, channels, depth_multiplier)
    centred = ifm.astype(np.int64) - ifm_zero_point
    taps = window_taps(centred, kernel, strides, dilations, padding)
    acc = sum(view[..., :, None] * weights64[kh, kw] for kh, kw, view in taps)
    return acc.reshape(*acc.shape[:3], channels * depth_multiplier)


def fully_connected_accumulator(ifm: np.ndarray, ifm_zero_point: int, weights: np.ndarray) -> np.ndarray:
    """int64 ``(ifm - zp) @ weights.T`` of a fully connected layer (ifm [N, K], weights [O, K])."""
    return (ifm.astype(np.int64) - ifm_zero_point) @ weights.astype(np.int64).T


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
    groups: int = 1,
) -> np.ndarray:
    """Per-channel CONV_2D (TFLite ``reference_integer_ops::ConvPerChannel``).

    ``acc = bias[o] + sum w[o,kh,kw,c] * (ifm - ifm_zero_point)`` where padded
    positions contribute nothing (over the input channels of o's group, see
    `conv_accumulator`), then the requantization epilogue and the clamp to
    [act_min, act_max]. TFLite's reference kernel groups a CONV_2D whose
    filter depth divides the input depth the same way.
    """
    check_conv_shapes(ifm, weights, bias, groups)
    acc = conv_accumulator(ifm, ifm_zero_point, weights, strides, dilations, padding, groups)
    return _requantize_accumulator(
        acc, bias, multiplier, shift, ofm_zero_point, act_min, act_max, ifm.dtype
    )


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
    ofm_dtype: np.dtype | None = None,
) -> np.ndarray:
    """Per-channel DEPTHWISE_CONV_2D (``reference_integer_ops::DepthwiseConvPerChannel``).

    Weights are [1, KH, KW, C*M]; output channel ``c*M + m`` reads input
    channel ``c``. Accumulation and requantization as in :func:`conv2d`;
    the output is ``ofm_dtype`` (default the ifm's: an explicitly rescaled
    depthwise may store another type, as a split MEAN's partial sums).
    """
    check_depthwise_shapes(ifm, weights, bias, depth_multiplier)
    acc = depthwise_accumulator(ifm, ifm_zero_point, weights, strides, dilations, padding, depth_multiplier)
    return _requantize_accumulator(
        acc, bias, multiplier, shift, ofm_zero_point, act_min, act_max, ifm.dtype, ofm_dtype=ofm_dtype
    )


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
    """FULLY_CONNECTED (``reference_integer_ops::FullyConnected``, per tensor or per channel).

    ifm [N, K], weights [O, K], bias [O]; ``acc = bias + (ifm - zp) @ w.T``
    then the conv epilogue. ``multiplier``/``shift`` are per output channel
    or scalars (per-tensor), broadcast over O. The product with the
    multiplier is rounded once, the fixed-point form of TFLite's double
    ``acc * ifm_scale * weight_scale / ofm_scale`` rounding (see the module
    docstring).
    """
    check_fc_shapes(ifm, weights, bias)
    acc = fully_connected_accumulator(ifm, ifm_zero_point, weights)
    return _requantize_accumulator(
        acc, bias, multiplier, shift, ofm_zero_point, act_min, act_max, ifm.dtype,
        single_rounding=True,
    )  # fmt: skip


def transpose_conv2d(
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
    padding: Padding,
    output_padding: Pair,
) -> np.ndarray:
    """TRANSPOSE_CONV (``reference_integer_ops::TransposeConv``), OHWI weights, no dilation.

    Every ifm pixel (y, x) scatters ``(ifm - zp)[n,y,x,:] @ weights[:,kh,kw,:].T``
    to ``(y*sh + kh, x*sw + kw)`` of the full output; ``padding`` crops
    [top, left, bottom, right] from it and ``output_padding`` extends the
    bottom and right (positions that receive only the bias). Then the conv
    epilogue.
    """
    check_conv_shapes(ifm, weights, bias)
    batch, height, width, _ = ifm.shape
    kernel_h, kernel_w = weights.shape[1:3]
    stride_h, stride_w = strides
    top, left, bottom, right = padding
    full_h = (height - 1) * stride_h + kernel_h + output_padding[0]
    full_w = (width - 1) * stride_w + kernel_w + output_padding[1]
    full = np.zeros((batch, full_h, full_w, weights.shape[0]), dtype=np.int64)
    centred = ifm.astype(np.int64) - ifm_zero_point
    weights64 = weights.astype(np.int64)
    for kh in range(kernel_h):
        for kw in range(kernel_w):
            rows = slice(kh, kh + (height - 1) * stride_h + 1, stride_h)
            cols = slice(kw, kw + (width - 1) * stride_w + 1, stride_w)
            full[:, rows, cols] += np.tensordot(centred, weights64[:, kh, kw, :], axes=([3], [1]))
    acc = full[:, top : full_h - bottom, left : full_w - right]
    return _requantize_accumulator(
        acc, bias, multiplier, shift, ofm_zero_point, act_min, act_max, ifm.dtype
    )


def max_pool2d(
    ifm: np.ndarray, kernel: Pair, strides: Pair, padding: Padding, act_min: int, act_max: int
) -> np.ndarray:
    """MAX_POOL_2D (``reference_integer_ops::MaxPool``), int8 or int16.

    Maximum over the valid window elements (padding never wins; TFLite starts
    from the type's lowest value), clamped to [act_min, act_max]. Output keeps
    the input scale and zero point.
    """
    lowest = np.iinfo(ifm.dtype).min
    ofm = window_max(ifm, kernel, strides, padding, lowest)
    return np.clip(ofm, act_min, act_max).astype(ifm.dtype)


def avg_pool2d(
    ifm: np.ndarray, kernel: Pair, strides: Pair, padding: Padding, act_min: int, act_max: int
) -> np.ndarray:
    """AVERAGE_POOL_2D (``reference_integer_ops::AveragePool``), int8 or int16.

    Sums the valid window elements and divides by their count rounding to
    nearest, ties away from zero: ``(sum + count/2) / count`` for sum > 0,
    ``(sum - count/2) / count`` otherwise, with C truncating division. The
    result is clamped to [act_min, act_max]; scale/zero point are unchanged.
    """
    total, count = window_sum_and_count(ifm.astype(np.int64), kernel, strides, padding)
    half = count // 2
    quotient = truncating_divide(np.where(total > 0, total + half, total - half), count)
    return np.clip(quotient, act_min, act_max).astype(ifm.dtype)


def requantize_rescale(in_scale: float, out_scale: float) -> tuple[int, int]:
    """QUANTIZE's (multiplier, shift): the float32 scales divided in double, then QuantizeMultiplier."""
    return quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))


def requantize(
    q: np.ndarray,
    in_scale: float,
    in_zero_point: int,
    out_scale: float,
    out_zero_point: int,
    qmin: int,
    qmax: int,
    dtype: DTypeLike = np.int8,
) -> np.ndarray:
    """Integer -> integer QUANTIZE (TFLite quantize.cc + ``reference_ops::Requantize``).

    Covers int8 -> int8, int16 -> int16 and the int8 <-> int16 conversions:
    the effective scale ``in_scale / out_scale`` (float32 scales divided in
    double) is encoded with QuantizeMultiplier; each value becomes
    ``clamp(MultiplyByQuantizedMultiplier(q - in_zp) + out_zp, qmin, qmax)``.
    """
    multiplier, shift = requantize_rescale(in_scale, out_scale)
    centred = np.asarray(q, dtype=np.int64) - in_zero_point
    scaled = multiply_by_quantized_multiplier(centred, multiplier, shift) + out_zero_point
    return np.clip(scaled, qmin, qmax).astype(dtype)


def batch_matmul(
    lhs: np.ndarray,
    lhs_zero_point: int,
    lhs_scale: float,
    rhs: np.ndarray,
    rhs_zero_point: int,
    rhs_scale: float,
    ofm_zero_point: int,
    ofm_scale: float,
) -> np.ndarray:
    """BATCH_MATMUL of two quantized tensors, int8 or 16x8 (``reference_ops::BatchMatMul``, no adjoints).

    ``acc = (lhs - zp) @ (rhs - zp)`` over the last two axes, leading axes
    broadcast, rescaled by ``lhs_scale * rhs_scale / ofm_scale`` (the product
    in float32, the quotient in double, as TFLite's Prepare forms it) and
    clamped to the storage range. int8 accumulates in int32; int16 (16x8)
    in int64, rescaled by TFLite's int64 `MultiplyByQuantizedMultiplier`.
    """
    accumulator = (lhs.astype(np.int64) - lhs_zero_point) @ (rhs.astype(np.int64) - rhs_zero_point)
    real = float(np.float32(lhs_scale) * np.float32(rhs_scale)) / float(np.float32(ofm_scale))
    multiplier, shift = quantize_multiplier(real)
    if lhs.dtype == np.int16:
        scaled = multiply_by_quantized_multiplier_int64(accumulator, multiplier, shift) + ofm_zero_point
    else:
        scaled = multiply_by_quantized_multiplier(wrap(accumulator), multiplier, shift) + ofm_zero_point
    info = np.iinfo(lhs.dtype)
    return np.clip(scaled, info.min, info.max).astype(lhs.dtype)
