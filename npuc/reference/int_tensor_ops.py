"""Integer reductions, concatenation and resizes, bit-exact with TFLite.

MEAN follows ``reference_ops::QuantizedMeanOrSum`` (an int32 sum of the
stored values, one fixed-point rescale that folds in 1/count), SUM the
optimized kernel's float32 rescale (see :func:`reduce_sum`);
RESIZE_BILINEAR follows ``reference_ops::ResizeBilinearInteger`` (10-bit
fixed-point interpolation, int8 and int16); RESIZE_NEAREST_NEIGHBOR follows
``GetNearestNeighbor`` (TFLite's float32 coordinate rule, which differs from
ONNX's in the last bit). Concatenation requantizes inputs whose parameters
differ from the output's like QUANTIZE does. Pure data movement (pad, slice,
split, depth/space) reuses ``movement_kernels``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from npuc.reference import movement_kernels
from npuc.reference.fixed_point import (
    multiply_by_quantized_multiplier,
    round_half_away_from_zero,
    truncating_divide,
    wrap,
)
from npuc.reference.int_kernels import requantize, requantize_rescale

Quantization = tuple[float, int]
"""(scale, zero point) of a per-tensor quantized tensor."""


def mean(
    x: np.ndarray,
    axes: Sequence[int],
    keep_dims: bool,
    input_quantization: Quantization,
    output_quantization: Quantization,
) -> np.ndarray:
    """MEAN over ``axes`` (TFLite ``reference_ops::QuantizedMeanOrSum``).

    The stored values are summed in int32 and re-centred by ``zp * count``;
    the sum is rescaled by in_scale/out_scale (QuantizeMultiplier in double)
    with the multiplier pre-divided by the element count: shifted left by
    floor(log2(count)) (at most 32) and divided by the count.
    """
    (in_scale, in_zero_point), (out_scale, out_zero_point) = input_quantization, output_quantization
    total, count = _sum(x, axes, keep_dims)
    multiplier, shift = mean_rescale(in_scale, out_scale, count)
    centred = wrap(total - in_zero_point * count)
    scaled = multiply_by_quantized_multiplier(centred, multiplier, shift)
    return _saturate(scaled + out_zero_point, x.dtype)


def mean_rescale(in_scale: float, out_scale: float, count: int) -> tuple[int, int]:
    """TFLite MEAN's (multiplier, shift): in_scale / out_scale with 1/count folded in.

    `QuantizeMultiplier` of the float32 scale ratio in double, then the
    multiplier is shifted left by floor(log2(count)) (at most 32, and at most
    31 + shift so the shift stays >= -31) and divided by the count.
    """
    multiplier, shift = requantize_rescale(in_scale, out_scale)
    normalisation = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << normalisation) // count, shift - normalisation


def reduce_sum(
    x: np.ndarray,
    axes: Sequence[int],
    keep_dims: bool,
    input_quantization: Quantization,
    output_quantization: Quantization,
) -> np.ndarray:
    """SUM over ``axes`` as TFLite's optimized ``QuantizedMeanOrSum`` computes it, in float32.

    ``round(sum * s - in_zp * s * count) + out_zp`` with ``s = in_scale /
    out_scale``, all in float32. (TFLite's reference SUM kernel of
    ai_edge_litert 2.3 reads int8/int16 data as uint8; the optimized kernel
    is the one TFLite actually runs.)
    """
    (in_scale, in_zero_point), (out_scale, out_zero_point) = input_quantization, output_quantization
    total, count = _sum(x, axes, keep_dims)
    scale = np.float32(in_scale) / np.float32(out_scale)
    bias = np.float32(np.float32(-in_zero_point) * scale) * np.float32(count)
    rounded = round_half_away_from_zero(total.astype(np.float32) * scale + bias)
    return _saturate(rounded.astype(np.int64) + out_zero_point, x.dtype)


def _sum(x: np.ndarray, axes: Sequence[int], keep_dims: bool) -> tuple[np.ndarray, int]:
    """The int32 (wrapping) sum over ``axes`` and the number of elements summed."""
    axes = tuple(sorted({axis % x.ndim for axis in axes}))
    count = int(np.prod([x.shape[axis] for axis in axes]))
    return wrap(x.astype(np.int64).sum(axis=axes, keepdims=keep_dims)), count


def _saturate(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(values, info.min, info.max).astype(dtype)


def concatenate(
    inputs: Sequence[np.ndarray],
    input_quantizations: Sequence[Quantization],
    output_quantization: Quantization,
    axis: int,
) -> np.ndarray:
    """CONCATENATION along ``axis``; inputs with other parameters are requantized first.

    TFLite's int8/int16 kernels require equal parameters; a differing input
    is converted exactly as an integer QUANTIZE to the output parameters
    would convert it (what the TFLite converter inserts in that case).
    """
    out_scale, out_zero_point = output_quantization
    parts = []
    for array, (scale, zero_point) in zip(inputs, input_quantizations, strict=True):
        if parameters_differ((scale, zero_point), output_quantization):
            info = np.iinfo(array.dtype)
            array = requantize(
                array, scale, zero_point, out_scale, out_zero_point, info.min, info.max, array.dtype
            )
        parts.append(array)
    return movement_kernels.concat(parts, axis)


def parameters_differ(first: Quantization, second: Quantization) -> bool:
    """Whether two (scale, zero point) pairs differ as TFLite compares them (float32 scales)."""
    return (np.float32(first[0]), first[1]) != (np.float32(second[0]), second[1])


def _nearest_indices(
    out_size: int, in_size: int, align_corners: bool, half_pixel: bool
) -> np.ndarray:
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel else 0.0)
    position = (np.arange(out_size, dtype=np.float32) + offset) * scale
    rounded = round_half_away_from_zero(position) if align_corners else np.floor(position)
    index = np.minimum(rounded.astype(np.int64), in_size - 1)
    return np.maximum(index, 0) if half_pixel else index


def resize_nearest(
    x: np.ndarray, out_hw: tuple[int, int], align_corners: bool, half_pixel_centers: bool
) -> np.ndarray:
    """RESIZE_NEAREST_NEIGHBOR (``GetNearestNeighbor``): float32 source coordinates.

    Source index ``floor((o + offset) * scale)``, or rounded half away from
    zero with ``align_corners``; offset 0.5 with ``half_pixel_centers``.
    """
    rows = _nearest_indices(out_hw[0], x.shape[1], align_corners, half_pixel_centers)
    cols = _nearest_indices(out_hw[1], x.shape[2], align_corners, half_pixel_centers)
    return np.ascontiguousarray(x[:, rows][:, :, cols])


def _bilinear_axis(out_size: int, in_size: int, align_corners: bool, half_pixel: bool):
    """(lower index, upper index, lower weight, upper weight) along one axis, Q10 weights."""
    if align_corners and out_size > 1:
        scale = ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        scale = ((1 << 10) * in_size + out_size // 2) // out_size
    scaled = np.arange(out_size, dtype=np.int64) * scale
    if half_pixel:
        scaled = scaled + scale // 2 - (1 << 9)
    lower = np.maximum(truncating_divide(scaled, 1 << 10), 0)
    upper = np.minimum(truncating_divide(scaled + (1 << 10) - 1, 1 << 10), in_size - 1)
    upper_weight = scaled - (lower << 10)
    return lower, upper, (1 << 10) - upper_weight, upper_weight


def resize_bilinear(
    x: np.ndarray, out_hw: tuple[int, int], align_corners: bool, half_pixel_centers: bool
) -> np.ndarray:
    """RESIZE_BILINEAR (``reference_ops::ResizeBilinearInteger``) of int8 or int16 NHWC data.

    Source coordinates and weights are 10-bit fixed point; the Q20 weighted
    sum of the four neighbours is rounded half away from zero.
    """
    y0, y1, wy0, wy1 = _bilinear_axis(out_hw[0], x.shape[1], align_corners, half_pixel_centers)
    x0, x1, wx0, wx1 = _bilinear_axis(out_hw[1], x.shape[2], align_corners, half_pixel_centers)
    wy0, wy1 = wy0[:, None, None], wy1[:, None, None]
    wx0, wx1 = wx0[None, :, None], wx1[None, :, None]
    values = x.astype(np.int64)
    total = (
        values[:, y0][:, :, x0] * wy0 * wx0
        + values[:, y1][:, :, x0] * wy1 * wx0
        + values[:, y0][:, :, x1] * wy0 * wx1
        + values[:, y1][:, :, x1] * wy1 * wx1
    )
    rounding = np.where(total > 0, 1 << 19, -(1 << 19))
    return truncating_divide(total + rounding, 1 << 20).astype(x.dtype)
