"""Integer kernels with onnxruntime's CPU rounding, for QDQ models.

A QDQ ONNX model means what onnxruntime computes for it. With default
session options onnxruntime fuses DequantizeLinear -> Conv/MatMul ->
QuantizeLinear into QLinearConv / QLinearMatMul, AveragePool into
QLinearAveragePool and Softmax into QLinearSoftmax; element-wise Mul/Add by a
constant (tf2onnx's batch norm) stay float ops between DequantizeLinear and
QuantizeLinear. Their arithmetic, from onnxruntime's MLAS and contrib kernels:

- requantization of an int32 accumulator (MlasRequantizeOutput): the float32
  scale ``ifm_scale * weight_scale[c] / ofm_scale`` (float32 operations),
  ``float(acc + bias) * scale`` clamped to the output range minus the zero
  point, rounded half to even, plus the zero point;
- QuantizeLinear (MlasQuantizeLinear): ``x / scale`` in float32, clamped,
  rounded half to even, plus the zero point; DequantizeLinear:
  ``float(q - zp) * scale`` in float32;
- QLinearAveragePool: the dequantized window summed in float32 row by row,
  divided by the element count, then ``nearbyint(y / scale + zp)`` clamped;
- QLinearSoftmax (int8): a float32 table ``exp((x - max + shift) * x_scale)``,
  the float32 sum of the row's entries, then
  ``nearbyint(entry * floor(1 / y_scale) / sum) + zp``.

Conv-like ops of an unfused float Conv (onnxruntime leaves a few, e.g. when a
Q result feeds two branches) are computed here as QLinearConv: they may
differ by a step where float accumulation rounds across a tie.
"""

from __future__ import annotations

import numpy as np

from npuc.reference.float_kernels import Padding, Pair, window_taps

F32 = np.float32


def dequantize_linear(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """DequantizeLinear: ``float32(q - zp) * float32(scale)``."""
    return (q.astype(np.int32) - zero_point).astype(F32) * F32(scale)


def quantize_linear(
    x: np.ndarray, scale: float, zero_point: int, qmin: int, qmax: int, dtype: np.dtype
) -> np.ndarray:
    """QuantizeLinear: float32 division, clamp, round half to even, add the zero point."""
    scaled = np.asarray(x, F32) / F32(scale)
    clamped = np.clip(scaled, F32(qmin - zero_point), F32(qmax - zero_point))
    return (np.rint(clamped).astype(np.int32) + zero_point).astype(dtype)


def requantize_scales(ifm_scale: float, weight_scales: np.ndarray, ofm_scale: float) -> np.ndarray:
    """QLinearConv/QLinearMatMul's per-channel float32 output scales."""
    return (F32(ifm_scale) * np.asarray(weight_scales, F32)) / F32(ofm_scale)


def requantize_output(
    acc: np.ndarray, scales: np.ndarray, zero_point: int, qmin: int, qmax: int, dtype: np.dtype
) -> np.ndarray:
    """MlasRequantizeOutput of an int32 accumulator (bias included), scales on the last axis."""
    scaled = acc.astype(np.int32).astype(F32) * scales.astype(F32)
    clamped = np.clip(scaled, F32(qmin - zero_point), F32(qmax - zero_point))
    return (np.rint(clamped).astype(np.int32) + zero_point).astype(dtype)


def float_binary(
    function, first: np.ndarray, a: tuple[float, int], second: np.ndarray, b: tuple[float, int],
    out: tuple[float, int], qmin: int, qmax: int, dtype: np.dtype,
) -> np.ndarray:
    """DequantizeLinear both inputs, a float32 element-wise op, QuantizeLinear."""
    result = function(dequantize_linear(first, *a), dequantize_linear(second, *b)).astype(F32)
    return quantize_linear(result, *out, qmin, qmax, dtype)


def avg_pool2d(
    ifm: np.ndarray, ifm_params: tuple[float, int], ofm_params: tuple[float, int],
    qmin: int, qmax: int, kernel: Pair, strides: Pair, padding: Padding,
) -> np.ndarray:
    """QLinearAveragePool (count_include_pad=0) on NHWC integers."""
    real = dequantize_linear(ifm, *ifm_params)
    total = np.zeros(1, F32)
    count = np.zeros(1, np.int64)
    ones = np.ones(ifm.shape[:3] + (1,), F32)
    for _, _, view in window_taps(real, kernel, strides, (1, 1), padding):
        total = total + view
    for _, _, view in window_taps(ones, kernel, strides, (1, 1), padding):
        count = count + view.astype(np.int64)
    average = total / count.astype(F32)
    scale, zero_point = ofm_params
    rounded = np.rint(average / F32(scale) + F32(zero_point))
    return np.clip(rounded, qmin, qmax).astype(ifm.dtype)


def softmax_int8(x: np.ndarray, x_scale: float, y_scale: float, y_zero_point: int) -> np.ndarray:
    """QLinearSoftmax of int8 `x` along its last axis (onnxruntime's table and float32 sums)."""
    length = x.shape[-1]
    shift = max(0.0, float(np.log(np.float64(F32(np.finfo(F32).max) / F32(length)))) - 5.0)
    shift /= float(F32(x_scale))
    steps = np.arange(256, dtype=np.float64)  # table entry of x - max = step - 255
    table = np.exp((steps - 255 + shift) * float(F32(x_scale))).astype(F32)
    entries = table[x.astype(np.int64) - x.max(axis=-1, keepdims=True) + 255]
    total = np.zeros(x.shape[:-1], F32)
    for index in range(length):  # sequential float32 sum, as the kernel does
        total = total + entries[..., index]
    multiplier = F32(np.floor(F32(1.0) / F32(y_scale)))
    quotient = (entries * multiplier) / total[..., None]
    stored = np.rint(quotient).astype(np.int32) + y_zero_point
    return np.where(stored > 255, 255, stored).astype(np.int8)
