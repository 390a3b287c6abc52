"""Reference kernels of the data-movement ops: concat, split, slice, pad, nearest
resize and the depth/space rearrangements.

They copy elements without arithmetic, so they serve float and integer
tensors alike (the quantized interpreter can reuse them). Axes are axes of
the array given; feature maps are NHWC. `source_coordinates` is the ONNX
Resize coordinate mapping, shared with the linear resize of `float_math`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def concat(arrays: Sequence[np.ndarray], axis: int) -> np.ndarray:
    """Join arrays along `axis`."""
    return np.concatenate(arrays, axis=axis)


def split(x: np.ndarray, extents: Sequence[int], axis: int) -> list[np.ndarray]:
    """Cut `x` along `axis` into consecutive pieces of the given extents."""
    return np.split(x, np.cumsum(extents)[:-1], axis=axis)


def strided_slice(
    x: np.ndarray, begin: Sequence[int], end: Sequence[int], strides: Sequence[int]
) -> np.ndarray:
    """Per axis, the elements of Python's `range(begin, end, stride)`.

    An `end` of -1 means "past the front" (the dialects' convention), not
    numpy's "the last element".
    """
    slices = []
    for first, last, stride in zip(begin, end, strides):
        if last >= 0:
            slices.append(slice(first, last, stride))
        else:
            slices.append(slice(first, None, stride) if stride < 0 else slice(0, 0))
    return x[tuple(slices)]


def pad(x: np.ndarray, paddings: Sequence[int], mode: str, value: float = 0) -> np.ndarray:
    """Pad by [before_0, after_0, before_1, ...]: `constant` (with `value`), `reflect` or `edge`."""
    widths = [(paddings[2 * axis], paddings[2 * axis + 1]) for axis in range(x.ndim)]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=value)
    if mode == "reflect":
        return np.pad(x, widths, mode="reflect")
    if mode == "edge":
        return np.pad(x, widths, mode="edge")
    raise ValueError(f"unknown pad mode '{mode}'")


def source_coordinates(output_size: int, input_size: int, coordinate_mode: str) -> np.ndarray:
    """The input coordinate of each output index along one resized axis (float32).

    ONNX Resize's coordinate_transformation_mode with scale = output / input,
    evaluated in float32 in onnxruntime's order so that rounding ties agree.
    """
    out = np.arange(output_size, dtype=np.float32)
    scale = np.float32(output_size) / np.float32(input_size)
    if coordinate_mode == "asymmetric":
        return out / scale
    if coordinate_mode == "align_corners":
        if output_size == 1:
            return np.zeros(1, np.float32)
        return out * np.float32(input_size - 1) / np.float32(output_size - 1)
    if coordinate_mode == "pytorch_half_pixel" and output_size == 1:
        return np.zeros(1, np.float32)
    half = np.float32(0.5)
    return (out + half) / scale - half


def _round_nearest(position: np.ndarray, nearest_mode: str) -> np.ndarray:
    if nearest_mode == "floor":
        return np.floor(position)
    if nearest_mode == "ceil":
        return np.ceil(position)
    if nearest_mode == "round_prefer_ceil":
        return np.floor(position + np.float32(0.5))
    return np.ceil(position - np.float32(0.5))


def resize_nearest(
    x: np.ndarray, output_hw: tuple[int, int], coordinate_mode: str, nearest_mode: str
) -> np.ndarray:
    """Nearest-neighbour resize of the H and W axes of an NHWC tensor (ONNX Resize).

    Each output pixel copies the input pixel at its rounded source
    coordinates, clamped into the input.
    """
    indices = []
    for size, extent in zip(output_hw, x.shape[1:3]):
        position = _round_nearest(source_coordinates(size, extent, coordinate_mode), nearest_mode)
        indices.append(np.clip(position, 0, extent - 1).astype(np.int64))
    return x[:, indices[0]][:, :, indices[1]]


def depth_to_space(x: np.ndarray, block: int, mode: str) -> np.ndarray:
    """Channels to block x block spatial tiles of an NHWC tensor.

    DCR (TFLite's order): ``out[n, h*bs+i, w*bs+j, c] = x[n, h, w, (i*bs+j)*C + c]``;
    CRD: the input channel is ``c*bs*bs + i*bs + j``.
    """
    batch, height, width, depth = x.shape
    channels = depth // (block * block)
    if mode == "DCR":
        tiles = x.reshape(batch, height, width, block, block, channels).transpose(0, 1, 3, 2, 4, 5)
    else:
        tiles = x.reshape(batch, height, width, channels, block, block).transpose(0, 1, 4, 2, 5, 3)
    return tiles.reshape(batch, height * block, width * block, channels)


def space_to_depth(x: np.ndarray, block: int) -> np.ndarray:
    """Block x block spatial tiles of an NHWC tensor to channels (inverse of DCR depth-to-space)."""
    batch, height, width, channels = x.shape
    tiles = x.reshape(batch, height // block, block, width // block, block, channels)
    return tiles.transpose(0, 1, 3, 2, 4, 5).reshape(
        batch, height // block, width // block, block * block * channels
    )
