"""The MAC array and the elementwise unit as numpy: accumulators from IFM values and weights.

Every function takes IFM values with the zero point already subtracted (so
padding, which the hardware fills with the IFM zero point, is 0) as int64
(height, width, channels) arrays and returns accumulators, before the output
stage. Convolutions multiply in float64 through BLAS: every product and
partial sum of 8- and 16-bit operands stays far below 2^53, so the sums are
exact integers.
"""

from __future__ import annotations

import numpy as np

from npuc.emit.ethos_u.registers import ElementwiseMode, PoolingMode, UpscaleMode
from npuc.sim.ethos_u.operation import Kernel, Padding

_EXACT_FLOAT = 1 << 53


def upscale(values: np.ndarray, mode: UpscaleMode) -> np.ndarray:
    """The IFM as the kernel sees it: each element repeated (NEAREST) or followed by zeros (ZEROS) in y and x."""
    if mode is UpscaleMode.NEAREST:
        return values.repeat(2, axis=0).repeat(2, axis=1)
    if mode is UpscaleMode.ZEROS:
        spread = np.zeros((values.shape[0] * 2, values.shape[1] * 2, values.shape[2]), values.dtype)
        spread[::2, ::2] = values
        return spread
    return values


def pad(values: np.ndarray, padding: Padding, height: int, width: int, fill: int = 0) -> np.ndarray:
    """The IFM with `padding` around it, cut or filled to `height` x `width` past the top-left padding."""
    padded = np.full((height, width, values.shape[2]), fill, dtype=values.dtype)
    rows = min(values.shape[0], height - padding.top)
    columns = min(values.shape[1], width - padding.left)
    padded[padding.top : padding.top + rows, padding.left : padding.left + columns] = values[:rows, :columns]
    return padded


def _window(values: np.ndarray, kernel: Kernel, ky: int, kx: int, ofm_height: int, ofm_width: int) -> np.ndarray:
    """The IFM elements kernel element (ky, kx) meets for every OFM position."""
    top, left = ky * kernel.dilation_y, kx * kernel.dilation_x
    return values[
        top : top + (ofm_height - 1) * kernel.stride_y + 1 : kernel.stride_y,
        left : left + (ofm_width - 1) * kernel.stride_x + 1 : kernel.stride_x,
    ]


def _matmul(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Exact integer matrix product, through float64 when no sum can reach 2^53."""
    bound = int(np.abs(left).max(initial=0)) * int(np.abs(right).max(initial=0)) * left.shape[-1]
    if bound < _EXACT_FLOAT:
        return (left.astype(np.float64) @ right.astype(np.float64)).astype(np.int64)
    return left @ right


def convolution(values: np.ndarray, weights: np.ndarray, kernel: Kernel, ofm_shape: tuple[int, int, int]
                ) -> np.ndarray:
    """Conv accumulators: OHWI `weights` over padded `values`, for an OFM of `ofm_shape`."""
    height, width, depth = ofm_shape
    accumulators = np.zeros((height * width, depth), np.int64)
    for ky in range(kernel.height):
        for kx in range(kernel.width):
            window = _window(values, kernel, ky, kx, height, width).reshape(height * width, -1)
            accumulators += _matmul(window, weights[:, ky, kx, :].T)
    return accumulators.reshape(height, width, depth)


def depthwise(values: np.ndarray, weights: np.ndarray, kernel: Kernel, ofm_shape: tuple[int, int, int]
              ) -> np.ndarray:
    """Depthwise accumulators: OFM channel c is IFM channel c under weights[c, :, :, 0]."""
    height, width, depth = ofm_shape
    accumulators = np.zeros(ofm_shape, np.int64)
    for ky in range(kernel.height):
        for kx in range(kernel.width):
            accumulators += _window(values, kernel, ky, kx, height, width)[:, :, :depth] * weights[:, ky, kx, 0]
    return accumulators


def pooling(values: np.ndarray, valid: np.ndarray, mode: PoolingMode, kernel: Kernel,
            ofm_shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pooling accumulators and the count of real (unpadded) IFM elements in each window.

    `valid` marks real elements of the padded `values`. MAX ignores padding;
    AVERAGE sums (the output stage divides); REDUCE_SUM also sums over all
    IFM channels into OFM channel 0.
    """
    height, width, _ = ofm_shape
    result: np.ndarray | None = None
    count = np.zeros((height, width, 1), np.int64)
    for ky in range(kernel.height):
        for kx in range(kernel.width):
            window = _window(values, kernel, ky, kx, height, width)
            real = _window(valid, kernel, ky, kx, height, width)
            count += real
            if mode is PoolingMode.MAX:
                window = np.where(real, window, np.iinfo(np.int64).min)
                result = window if result is None else np.maximum(result, window)
            else:
                result = window if result is None else result + window
    assert result is not None
    if mode is PoolingMode.REDUCE_SUM:
        result = result.sum(axis=2, keepdims=True)
    return result, count


def elementwise(mode: ElementwiseMode, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """MIN, MAX, SHL, CLZ and ABS on operands already in their 32-bit form (SHR rounds in the output stage)."""
    if mode is ElementwiseMode.MIN:
        return np.minimum(first, second)
    if mode is ElementwiseMode.MAX:
        return np.maximum(first, second)
    if mode is ElementwiseMode.SHL:
        return _wrap32(first << np.clip(second, 0, 31))
    if mode is ElementwiseMode.CLZ:
        # frexp of an integer below 2^53 is exact: its exponent is the bit length.
        return 32 - np.frexp((first & 0xFFFF_FFFF).astype(np.float64))[1].astype(np.int64)
    if mode is ElementwiseMode.ABS:
        return np.abs(first)
    raise AssertionError(f"no direct form for {mode.name}")


def _wrap32(values: np.ndarray) -> np.ndarray:
    """Keep the low 32 bits, as a signed value."""
    return ((values + (1 << 31)) & 0xFFFF_FFFF) - (1 << 31)
