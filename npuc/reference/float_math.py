"""Float32 reference kernels of the arithmetic graph ops beyond convolution and pooling.

Elementwise unary and binary functions, PReLU, softmax, local response
normalisation, reductions, batched matrix products and linear resize, with
ONNX semantics. Transcendental functions and sums are computed in float64
and rounded once to float32, so results stay within float32 precision of
onnxruntime. IEEE special values propagate silently (a division by zero gives
inf, a square root of a negative number nan), as in ONNX Runtime.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from npuc.reference.movement_kernels import source_coordinates


def binary(function: np.ufunc, ifm: np.ndarray, ifm2: np.ndarray) -> np.ndarray:
    """`function(ifm, ifm2)` in float32 with numpy (= ONNX) broadcasting."""
    with np.errstate(all="ignore"):
        return function(ifm.astype(np.float32), ifm2.astype(np.float32)).astype(np.float32)


def prelu(x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """x where x >= 0, else slope * x (slope broadcast to x)."""
    return np.where(x >= 0, x, x * slope).astype(np.float32)


def _in_float64(function, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return function(x.astype(np.float64)).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), without overflow for large |x|."""
    return _in_float64(lambda v: np.exp(-np.logaddexp(0.0, -v)), x)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent."""
    return _in_float64(np.tanh, x)


def sqrt(x: np.ndarray) -> np.ndarray:
    """Square root (nan for negative inputs)."""
    return _in_float64(np.sqrt, x)


def rsqrt(x: np.ndarray) -> np.ndarray:
    """1 / sqrt(x) (inf at 0, nan for negative inputs)."""
    return _in_float64(lambda value: 1.0 / np.sqrt(value), x)


def squared_difference(ifm: np.ndarray, ifm2: np.ndarray) -> np.ndarray:
    """(ifm - ifm2)^2 in float32 with numpy broadcasting (TFLite SQUARED_DIFFERENCE)."""
    difference = binary(np.subtract, ifm, ifm2)
    return difference * difference


def hard_swish(x: np.ndarray) -> np.ndarray:
    """x * relu6(x + 3) / 6 (ONNX HardSwish)."""
    return _in_float64(lambda v: v * np.clip(v + 3.0, 0.0, 6.0) / 6.0, x)


def hard_sigmoid(x: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """max(0, min(1, alpha * x + beta))."""
    return _in_float64(lambda v: np.clip(alpha * v + beta, 0.0, 1.0), x)


def gelu(x: np.ndarray, approximate: bool = False) -> np.ndarray:
    """0.5 * x * (1 + erf(x / sqrt(2))), or the tanh approximation (ONNX Gelu, approximate "tanh")."""
    if approximate:
        return _in_float64(lambda v: 0.5 * v * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (v + 0.044715 * v**3))), x)
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return _in_float64(lambda v: 0.5 * v * (1.0 + erf(v / np.sqrt(2.0))), x)


def leaky_relu(x: np.ndarray, alpha: float) -> np.ndarray:
    """x where x >= 0, else alpha * x."""
    return np.where(x >= 0, x, np.float32(alpha) * x).astype(np.float32)


def elu(x: np.ndarray, alpha: float) -> np.ndarray:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return _in_float64(lambda v: np.where(v > 0, v, alpha * np.expm1(np.minimum(v, 0.0))), x)


def softmax(x: np.ndarray, axis: int, beta: float = 1.0) -> np.ndarray:
    """Softmax of `beta * x` along `axis`, shifted by the maximum for stability (empty for an empty `x`)."""
    if x.size == 0:
        return x.astype(np.float32)
    scaled = beta * x.astype(np.float64)
    exponentials = np.exp(scaled - scaled.max(axis=axis, keepdims=True))
    return (exponentials / exponentials.sum(axis=axis, keepdims=True)).astype(np.float32)


def lrn(x: np.ndarray, size: int, alpha: float, beta: float, bias: float) -> np.ndarray:
    """ONNX LRN across the last (channel) axis of an NHWC tensor.

    Channel c is divided by ``(bias + alpha / size * s) ** beta`` where ``s``
    sums the squares of channels ``c - floor((size-1)/2)`` to
    ``c + ceil((size-1)/2)`` that exist.
    """
    squares = np.square(x.astype(np.float64))
    before = (size - 1) // 2
    after = size - 1 - before
    channels = x.shape[-1]
    padded = np.pad(squares, [(0, 0)] * (x.ndim - 1) + [(before, after)])
    window_sum = sum(padded[..., offset : offset + channels] for offset in range(size))
    return (x / (bias + alpha / size * window_sum) ** beta).astype(np.float32)


REDUCE_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "mean": np.mean, "sum": np.sum, "max": partial(np.max, initial=-np.inf), "min": partial(np.min, initial=np.inf),
}  # fmt: skip
"""The numpy function of each reduction kind of the dialects; max and min of nothing are -inf and inf (ONNX)."""


def reduce(x: np.ndarray, kind: str, axes: Sequence[int], keepdims: bool) -> np.ndarray:
    """Mean, sum, max or min over `axes`, summing in float64."""
    return REDUCE_FUNCTIONS[kind](
        x.astype(np.float64), axis=tuple(axes), keepdims=keepdims
    ).astype(np.float32)


def batch_matmul(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Matrix product of the last two axes, leading axes broadcast (ONNX MatMul)."""
    return np.matmul(lhs.astype(np.float64), rhs.astype(np.float64)).astype(np.float32)


def resize_linear(x: np.ndarray, output_hw: tuple[int, int], coordinate_mode: str) -> np.ndarray:
    """Bilinear resize of the H and W axes of an NHWC tensor (ONNX Resize, linear).

    Source positions outside the input clamp to its edge, as in onnxruntime.
    """
    result = x.astype(np.float64)
    for axis, size in ((1, output_hw[0]), (2, output_hw[1])):
        extent = x.shape[axis]
        position = np.clip(source_coordinates(size, extent, coordinate_mode), 0, extent - 1)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, extent - 1)
        weight_shape = [1] * x.ndim
        weight_shape[axis] = size
        weight = (position - low).astype(np.float64).reshape(weight_shape)
        result = np.take(result, low, axis=axis) * (1 - weight) + np.take(
            result, high, axis=axis
        ) * weight
    return result.astype(np.float32)
