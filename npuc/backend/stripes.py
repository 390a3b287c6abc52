"""Height stripes: which OFM rows a stripe computes and which IFM rows it reads.

A stripe is a slice of an op's OFM computed by its own command(s). Height
stripes split the OFM rows; a stripe of a windowed op reads the IFM rows its
windows cover, the halo included (kernel, stride, dilation and padding
decide it), and pads only where its windows leave the IFM. Each stripe is a
command in its own right: its IFM and OFM are row views of the op's feature
maps and its padding is the part of the op's padding it reaches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from npuc.dialects.common import Window
from npuc.dialects.npu_memory import FeatureMapAttr

HEIGHT_AXIS = 1
"""The row axis of an NHWC feature map."""


@dataclass(frozen=True)
class StripeRows:
    """The rows one stripe computes and reads, and the padding it sees.

    `ofm` and `ifm` are half-open row ranges of the op's OFM and IFM;
    `pad_top`/`pad_bottom` the zero rows its windows reach above and below
    the IFM rows it reads.
    """

    ofm: range
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
    stride, kernel = window.strides[0], window.dilated_kernel[0]
    first = ofm.start * stride - window.padding[0]
    stop = (ofm.stop - 1) * stride - window.padding[0] + kernel
    return StripeRows(ofm, range(max(first, 0), min(stop, ifm_height)), max(-first, 0), max(stop - ifm_height, 0))


def row_view(fm: FeatureMapAttr, rows: range) -> FeatureMapAttr:
    """The rows `rows` of an NHWC feature map, as a view with the same strides."""
    shape, strides = list(fm.shape_values()), fm.stride_values()
    shape[HEIGHT_AXIS] = len(rows)
    return FeatureMapAttr(
        fm.region.data, fm.offset.data + rows.start * strides[HEIGHT_AXIS], shape, strides, fm.element_type
    )
