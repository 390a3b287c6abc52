"""Stripes: which OFM rows a stripe computes, which IFM rows it reads, and its command.

A stripe is a slice of an op's OFM computed by its own command. Height
stripes split the OFM rows; a stripe of a windowed op reads the IFM rows its
windows cover, the halo included (kernel, stride, dilation and padding
decide it), and pads only where its windows leave the IFM. Its command is
the op's with row views of the op's feature maps (or rolling-buffer views
in a cascade, `npuc.backend.cascades`), the padding it reaches and the op's
block clipped to it. A weighted layer whose weights are streamed in
OFM-depth slices has depth stripes instead (whole rows, some channels,
`channel_view`): npu-lower gives each slice its command.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from xdsl.dialects.builtin import DenseArrayBase
from xdsl.ir import Attribute, Operation
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.planning import clip_block, describe
from npuc.backend.weight_encoding import slice_depth
from npuc.dialects.common import Window, array_values, int_array
from npuc.dialects.npu import STRIPE_ATTR, block_attr
from npuc.dialects.npu_memory import HEIGHT_AXIS, FeatureMapAttr
from npuc.targets import BlockShape


@dataclass(frozen=True)
class StripeRows:
    """The IFM rows one stripe reads, and the padding it sees.

    `ifm` is a half-open row range of the op's IFM; `pad_top`/`pad_bottom`
    the zero rows its windows reach above and below those rows.
    """

    ifm: range
    pad_top: int
    pad_bottom: int


def stripe_ranges(height: int, stripe_height: int) -> Iterator[range]:
    """The OFM row ranges of stripes at most `stripe_height` rows high, top to bottom."""
    for first in range(0, height, stripe_height):
        yield range(first, min(first + stripe_height, height))


def ifm_rows(window: Window, ofm: range, ifm_height: int) -> StripeRows:
    """The IFM rows and padding of the stripe computing OFM rows `ofm` through `window`.

    Output row y's window starts at input row `y * stride - pad_top` and
    spans the dilated kernel; the rows outside [0, ifm_height) are padding.
    """
    first, stop = _window_rows(window, ofm)
    return StripeRows(range(max(first, 0), min(stop, ifm_height)), max(-first, 0), max(stop - ifm_height, 0))


def ifm_range(window: Window, ofm: range, ifm_height: int) -> range:
    """`ifm_rows(...).ifm` alone: the cascade search asks for it tens of thousands of times."""
    first, stop = _window_rows(window, ofm)
    return range(max(first, 0), min(stop, ifm_height))


def _window_rows(window: Window, ofm: range) -> tuple[int, int]:
    """The first and the stop input row (padding rows counted, negative above) the windows of OFM rows
    `ofm` span."""
    stride = window.strides[0]
    first = ofm.start * stride - window.padding[0]
    return first, (ofm.stop - 1) * stride - window.padding[0] + window.dilated_kernel[0]


def row_view(fm: FeatureMapAttr, rows: range) -> FeatureMapAttr:
    """The rows `rows` of an NHWC feature map, as a view with the same strides."""
    shape, strides = list(fm.shape_values()), fm.stride_values()
    shape[HEIGHT_AXIS] = len(rows)
    return FeatureMapAttr(
        fm.region.data, fm.offset.data + rows.start * strides[HEIGHT_AXIS], shape, strides, fm.element_type
    )


def rolling_view(fm: FeatureMapAttr, buffer_rows: int, rows: range) -> FeatureMapAttr:
    """Rows `rows` of the map `fm` describes (its whole extent at its buffer's offset) held in a rolling
    buffer of `buffer_rows` rows there: row y at buffer row y mod `buffer_rows`, wrapping past the end."""
    assert len(rows) <= buffer_rows, f"{len(rows)} rows do not fit a rolling buffer of {buffer_rows}"
    shape, strides = list(fm.shape_values()), fm.stride_values()
    first = rows.start % buffer_rows
    shape[HEIGHT_AXIS] = len(rows)
    wrap = buffer_rows - first if first + len(rows) > buffer_rows else 0
    return FeatureMapAttr(
        fm.region.data, fm.offset.data + first * strides[HEIGHT_AXIS], shape, strides, fm.element_type,
        wrap, fm.offset.data if wrap else 0,
    )  # fmt: skip


def channel_view(fm: FeatureMapAttr, channels: range) -> FeatureMapAttr:
    """The channels `channels` (of the last axis) of a feature map, as a view with the same strides."""
    shape, strides = list(fm.shape_values()), fm.stride_values()
    shape[-1] = len(channels)
    return FeatureMapAttr(
        fm.region.data, fm.offset.data + channels.start * strides[-1], shape, strides, fm.element_type
    )


def stripe_height(op: Operation, ofm: FeatureMapAttr) -> int | None:
    """The rows per stripe of `op` (`npu.stripe`) when it computes its NHWC OFM in more than one, else None.

    Stripes split the rows, or the depth of a weighted layer whose weights
    are streamed in OFM-depth slices (`slice_depth`), not both: any other
    stripe fails naming the op.
    """
    stripe, shape = op.attributes.get(STRIPE_ATTR), ofm.shape_values()
    if not isinstance(stripe, DenseArrayBase) or len(shape) != 4:
        return None
    height, width, depth = array_values(stripe)
    sliced = slice_depth(op) is not None
    if width != shape[2] or (depth != shape[3] and not sliced) or (sliced and height < shape[HEIGHT_AXIS]):
        raise PassFailedException(
            f"npu-lower: {describe(op)} has a {height}x{width}x{depth} stripe of its "
            f"{shape[1]}x{shape[2]}x{shape[3]} OFM: stripes are either whole rows or the OFM-depth "
            "slices of a conv, depthwise conv or fully connected layer"
        )
    return height if height < shape[HEIGHT_AXIS] else None


def stripe_properties(
    properties: Mapping[str, Attribute],
    window: Window,
    rows: range,
    ublock: BlockShape,
    what: str,
    held: Mapping[str, int] | None = None,
) -> dict[str, Attribute]:
    """The properties of the command computing OFM rows `rows` of the layer command `properties`.

    Its OFM is those rows, each IFM the rows its windows cover (an IFM of one
    row read without a kernel, elementwise, is broadcast: read whole), its
    padding the part of the layer's it reaches, its block the layer's
    clipped to the stripe. `held` maps the feature maps (by property name)
    a cascade keeps in rolling buffers to the buffer's rows: those are
    rolling-buffer views. `what` names the layer in errors.
    """
    held = held or {}

    def view(name: str, fm: FeatureMapAttr, view_rows: range) -> FeatureMapAttr:
        return rolling_view(fm, held[name], view_rows) if name in held else row_view(fm, view_rows)

    ofm, block = properties["ofm"], properties["block"]
    assert isinstance(ofm, FeatureMapAttr) and isinstance(block, DenseArrayBase)
    _, _, width, depth = ofm.shape_values()
    command = dict(properties) | {
        "ofm": view("ofm", ofm, rows),
        "block": block_attr(clip_block(BlockShape(*array_values(block)), (len(rows), width, depth), ublock)),
    }
    for name in ("ifm", "ifm2"):
        fm = properties.get(name)
        if not isinstance(fm, FeatureMapAttr):
            continue
        ifm_height = fm.shape_values()[HEIGHT_AXIS]
        if ifm_height == 1 and "kernel" not in properties:
            continue
        reads = ifm_rows(window, rows, ifm_height)
        if not reads.ifm:
            raise PassFailedException(f"npu-lower: a stripe of {what} reads only padding")
        command[name] = view(name, fm, reads.ifm)
        if "padding" in properties:
            _, left, _, right = window.padding
            command["padding"] = int_array((reads.pad_top, left, reads.pad_bottom, right))
    return command
