"""Float32 NHWC reference kernels for the float reference interpreter.

Conventions: activations are NHWC, convolution weights OHWI, depthwise
weights TFLite-style [1, KH, KW, C*M], padding is explicit
(top, left, bottom, right). Windowed ops are vectorised with strided views
of the padded input, one view per kernel tap; convolution and fully
connected accumulate in float64 and round once to float32 so results match
onnxruntime/TFLite within float32 precision.

:func:`output_hw` and :func:`window_taps` are shared with the integer
kernels, which use the same window geometry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

from npuc.errors import check_memory

Pair = tuple[int, int]
Padding = tuple[int, int, int, int]


def output_hw(
    in_hw: Pair, kernel: Pair, strides: Pair, dilations: Pair, padding: Padding
) -> Pair:
    """Output height/width of a window op with explicit padding.

    ``O = (I + pad_before + pad_after - d*(K-1) - 1) // s + 1`` per axis;
    raises ValueError when the padded input is smaller than the window.
    """
    top, left, bottom, right = padding
    sizes = []
    for size, k, s, d, before, after in zip(
        in_hw, kernel, strides, dilations, (top, left), (bottom, right)
    ):
        span = size + before + after - d * (k - 1) - 1
        if span < 0 or s < 1:
            raise ValueError(
                f"window {k} (dilation {d}, stride {s}) does not fit input {size} "
                f"padded by ({before}, {after})"
            )
        sizes.append(span // s + 1)
    return sizes[0], sizes[1]


def window_taps(
    ifm: np.ndarray,
    kernel: Pair,
    strides: Pair,
    dilations: Pair,
    padding: Padding,
    pad_value: float | int = 0,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(kh, kw, view)`` for every kernel tap of a window op.

    ``view`` is the [N, OH, OW, C] slice of the padded NHWC input read by tap
    (kh, kw) for every output position; padded positions hold ``pad_value``.
    Reducing the views over the taps gives the convolution/pooling result
    without any per-pixel Python loop. A padded input beyond
    `npuc.errors.MEMORY_LIMIT_BYTES` (a dilation of 2^31 - 1 with SAME
    padding) raises `MemoryLimitError` before it is allocated.
    """
    if ifm.ndim != 4:
        raise ValueError(f"expected an NHWC tensor, got shape {ifm.shape}")
    oh, ow = output_hw(ifm.shape[1:3], kernel, strides, dilations, padding)
    top, left, bottom, right = padding
    batch, height, width, channels = ifm.shape
    padded_shape = [batch, height + top + bottom, width + left + right, channels]
    check_memory(math.prod(padded_shape) * ifm.itemsize, f"padded input of shape {padded_shape}")
    padded = ifm if not any(padding) else np.pad(
        ifm,
        ((0, 0), (top, bottom), (left, right), (0, 0)),
        constant_values=pad_value,
    )  # unpadded, the views are of `ifm` itself (no copy): callers only read them
    (sh, sw), (dh, dw) = strides, dilations
    for kh in range(kernel[0]):
        for kw in range(kernel[1]):
            y0, x0 = kh * dh, kw * dw
            view = padded[:, y0 : y0 + (oh - 1) * sh + 1 : sh, x0 : x0 + (ow - 1) * sw + 1 : sw]
            yield kh, kw, view


def tap_sum(terms: Iterable[np.ndarray]) -> np.ndarray:
    """The sum of per-tap arrays (a window has at least one tap)."""
    total = sum(terms)
    assert isinstance(total, np.ndarray), "a window has at least one tap"
    return total


def window_max(ifm: np.ndarray, kernel: Pair, strides: Pair, padding: Padding, lowest: float | int) -> np.ndarray:
    """Elementwise maximum over the taps of a pooling window; padded positions hold `lowest`."""
    views = (view for _, _, view in window_taps(ifm, kernel, strides, (1, 1), padding, lowest))
    ofm = next(views)
    for view in views:
        ofm = np.maximum(ofm, view)
    return ofm


def check_conv_shapes(ifm: np.ndarray, weights: np.ndarray, bias: np.ndarray, groups: int = 1) -> None:
    """Raise ValueError unless ifm is NHWC, weights OHWI over C / groups and bias [O]."""
    if ifm.ndim != 4 or weights.ndim != 4:
        raise ValueError(f"expected NHWC ifm and OHWI weights, got {ifm.shape}, {weights.shape}")
    if weights.shape[3] * groups != ifm.shape[3] or weights.shape[0] % groups:
        raise ValueError(f"weights {weights.shape} in {groups} group(s) do not match ifm channels {ifm.shape[3]}")
    if bias.shape != (weights.shape[0],):
        raise ValueError(f"bias {bias.shape} does not match {weights.shape[0]} output channels")


def check_depthwise_shapes(
    ifm: np.ndarray, weights: np.ndarray, bias: np.ndarray, depth_multiplier: int
) -> None:
    """Raise ValueError unless weights are [1, KH, KW, C*M] and bias [C*M]."""
    if ifm.ndim != 4 or weights.ndim != 4 or weights.shape[0] != 1:
        raise ValueError(
            f"expected NHWC ifm and [1,KH,KW,C*M] weights, got {ifm.shape}, {weights.shape}"
        )
    channels = ifm.shape[3] * depth_multiplier
    if weights.shape[3] != channels or bias.shape != (channels,):
        raise ValueError(
            f"weights {weights.shape} / bias {bias.shape} do not match "
            f"{ifm.shape[3]} channels x depth multiplier {depth_multiplier}"
        )


def check_fc_shapes(ifm: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> None:
    """Raise ValueError unless ifm is [N, K], weights [O, K] and bias [O]."""
    if ifm.ndim != 2 or weights.ndim != 2 or weights.shape[1] != ifm.shape[1]:
        raise ValueError(f"expected [N,K] ifm and [O,K] weights, got {ifm.shape}, {weights.shape}")
    if bias.shape != (weights.shape[0],):
        raise ValueError(f"bias {bias.shape} does not match {weights.shape[0]} output channels")


def conv2d(
    ifm: np.ndarray,
    weights: np.ndarray,
    bias: np.ndarray,
    strides: Pair,
    dilations: Pair,
    padding: Padding,
    groups: int = 1,
) -> np.ndarray:
    """2-D convolution (TFLite CONV_2D / ONNX Conv), zero padding.

    ``ofm[n,y,x,o] = bias[o] + sum_{kh,kw,c} ifm_pad[n, y*sh + kh*dh,
    x*sw + kw*dw, g*C/G + c] * weights[o,kh,kw,c]``, accumulated in float64,
    where g is output channel o's group of `groups` G.
    """
    check_conv_shapes(ifm, weights, bias, groups)
    kernel = weights.shape[1:3]
    outputs, inputs = weights.shape[0] // groups, weights.shape[3]
    # per group and tap the [C/G, O/G] matrix its input channels are multiplied by
    taps64 = weights.astype(np.float64).reshape(groups, outputs, *kernel, inputs).transpose(0, 2, 3, 4, 1)
    ofm_shape = (ifm.shape[0], *output_hw(ifm.shape[1:3], kernel, strides, dilations, padding), weights.shape[0])
    positions = math.prod(ofm_shape[:3])
    acc = np.zeros((groups, positions, outputs))
    for kh, kw, view in window_taps(ifm.astype(np.float64), kernel, strides, dilations, padding):
        # one matrix product per tap and group (batched over the groups) on its view made contiguous,
        # summed in tap order: a group's sums as its own convolution's, and regnet's many small groups in
        # one call each rather than one convolution per group
        rows = view.reshape(*view.shape[:3], groups, inputs).transpose(3, 0, 1, 2, 4)
        acc += np.ascontiguousarray(rows).reshape(groups, positions, inputs) @ taps64[:, kh, kw]
    ofm = acc.transpose(1, 0, 2).reshape(ofm_shape)
    return (ofm + bias.astype(np.float64)).astype(np.float32)


def channel_groups(in_channels: int, out_channels: int, groups: int) -> list[tuple[slice, slice]]:
    """Per group of a grouped convolution, its input and its output channels."""
    ins, outs = in_channels // groups, out_channels // groups
    return [(slice(g * ins, (g + 1) * ins), slice(g * outs, (g + 1) * outs)) for g in range(groups)]


def depthwise_conv2d(
    ifm: np.ndarray,
    weights: np.ndarray,
    bias: np.ndarray,
    strides: Pair,
    dilations: Pair,
    padding: Padding,
    depth_multiplier: int,
) -> np.ndarray:
    """Depthwise convolution with TFLite DEPTHWISE_CONV_2D weight layout.

    Weights are [1, KH, KW, C*M]; output channel ``c*M + m`` convolves input
    channel ``c`` with weights[..., c*M + m]. Accumulates in float64.
    """
    check_depthwise_shapes(ifm, weights, bias, depth_multiplier)
    n, _, _, channels = ifm.shape
    kernel = weights.shape[1:3]
    weights64 = weights.astype(np.float64).reshape(*kernel, channels, depth_multiplier)
    taps = window_taps(ifm.astype(np.float64), kernel, strides, dilations, padding)
    acc = sum(view[..., :, None] * weights64[kh, kw] for kh, kw, view in taps)
    acc = acc.reshape(*acc.shape[:3], channels * depth_multiplier)
    return (acc + bias.astype(np.float64)).astype(np.float32)


def transpose_conv2d(
    ifm: np.ndarray,
    weights: np.ndarray,
    bias: np.ndarray,
    strides: Pair,
    dilations: Pair,
    padding: Padding,
    output_padding: Pair,
) -> np.ndarray:
    """Transposed convolution (ONNX ConvTranspose, group 1) with OHWI weights.

    Every ifm pixel (y, x) scatters ``ifm[n,y,x,:] @ weights[:,kh,kw,:].T``
    to ``(y*sh + kh*dh, x*sw + kw*dw)`` of the full output; ``padding`` then
    crops [top, left, bottom, right] from it and ``output_padding`` extends
    the bottom and right by zeros (before the bias). Accumulates in float64.
    """
    check_conv_shapes(ifm, weights, bias)
    batch, height, width, _ = ifm.shape
    kernel_h, kernel_w = weights.shape[1:3]
    (sh, sw), (dh, dw) = strides, dilations
    top, left, bottom, right = padding
    full_h = (height - 1) * sh + dh * (kernel_h - 1) + 1 + output_padding[0]
    full_w = (width - 1) * sw + dw * (kernel_w - 1) + 1 + output_padding[1]
    full = np.zeros((batch, full_h, full_w, weights.shape[0]))
    ifm64 = ifm.astype(np.float64)
    weights64 = weights.astype(np.float64)
    for kh in range(kernel_h):
        for kw in range(kernel_w):
            y0, x0 = kh * dh, kw * dw
            full[:, y0 : y0 + (height - 1) * sh + 1 : sh, x0 : x0 + (width - 1) * sw + 1 : sw] += (
                np.tensordot(ifm64, weights64[:, kh, kw, :], axes=([3], [1]))
            )
    ofm = full[:, top : full_h - bottom, left : full_w - right]
    return (ofm + bias.astype(np.float64)).astype(np.float32)


def fully_connected(ifm: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Fully connected layer ``ifm @ weights.T + bias`` (TFLite FULLY_CONNECTED).

    ifm [N, K], weights [O, K], bias [O]; accumulated in float64.
    """
    check_fc_shapes(ifm, weights, bias)
    acc = ifm.astype(np.float64) @ weights.astype(np.float64).T
    return (acc + bias.astype(np.float64)).astype(np.float32)


def max_pool2d(ifm: np.ndarray, kernel: Pair, strides: Pair, padding: Padding) -> np.ndarray:
    """Max pooling where padded positions never win.

    Padding takes the lowest float32 value, the initial value of TFLite's
    reference MaxPool, so only real input elements can be the maximum.
    """
    lowest = np.finfo(np.float32).min
    return window_max(ifm, kernel, strides, padding, lowest).astype(np.float32)


def avg_pool2d(ifm: np.ndarray, kernel: Pair, strides: Pair, padding: Padding) -> np.ndarray:
    """Average pooling over the valid (non-padded) elements of each window.

    Matches TFLite AVERAGE_POOL_2D and ONNX AveragePool with
    ``count_include_pad=0``. Raises ValueError if a window lies entirely in
    the padding (TFLite rejects that too).
    """
    total, count = window_sum_and_count(ifm.astype(np.float64), kernel, strides, padding)
    return (total / count).astype(np.float32)


def window_sum_and_count(
    ifm: np.ndarray, kernel: Pair, strides: Pair, padding: Padding
) -> tuple[np.ndarray, np.ndarray]:
    """Per-window sum of ``ifm`` and number of valid elements, for average pooling.

    ``count`` has shape [1, OH, OW, 1] and broadcasts against ``total``
    [N, OH, OW, C]. Raises ValueError for windows without valid elements.
    """
    valid = np.ones((1, *ifm.shape[1:3], 1), dtype=np.int64)
    total = tap_sum(view for _, _, view in window_taps(ifm, kernel, strides, (1, 1), padding))
    count = tap_sum(view for _, _, view in window_taps(valid, kernel, strides, (1, 1), padding))
    if np.any(count == 0):
        raise ValueError("pooling window lies entirely in the padding")
    return total, count


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise float32 addition with numpy (= ONNX/TFLite) broadcasting."""
    return (np.asarray(a, dtype=np.float32) + np.asarray(b, dtype=np.float32)).astype(np.float32)


def clamp(x: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    """Clamp to [lo, hi]; a None bound is open (fused ReLU/ReLU6 and Clip)."""
    if lo is not None:
        x = np.maximum(x, np.float32(lo))
    if hi is not None:
        x = np.minimum(x, np.float32(hi))
    return np.asarray(x, dtype=np.float32)
