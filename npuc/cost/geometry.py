"""OFM block geometry of an NPU compute command, shared by the compute and traffic models.

The NPU computes an OFM block by block (the command's `block` property,
`[h, w, c]`). It visits block positions in height/width and, at each position,
every depth block before moving on (Ethos-U's order), so the IFM box of a
position and the weights are streamed once per height/width position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from math import ceil, prod

from npuc.dialects.common import UNIT_WINDOW, Window
from npuc.dialects.npu import ComputeOp, FeatureMapAttr
from npuc.targets import BlockShape


def ceil_to(value: int, step: int) -> int:
    """`value` rounded up to a multiple of `step`."""
    return -(-value // step) * step


def as_batch_hwc(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A feature-map shape as (batch, height, width, depth).

    Shapes of rank < 4 are padded with leading 1s (a fully connected `[N, K]`
    becomes batch 1, height 1, width N, depth K); axes before the last three
    fold into the batch.
    """
    padded = (1,) * max(0, 4 - len(shape)) + tuple(shape)
    return prod(padded[:-3]), padded[-3], padded[-2], padded[-1]


@dataclass(frozen=True)
class BlockGeometry:
    """How a command's OFM splits into blocks.

    `block` is the command's block clamped to the OFM and rounded up to the
    micro-block (`ublock`): the hardware never computes more than one
    micro-block past the OFM edge, and never less than a micro-block.
    `work_blocks` is the full blocks' worth of work: an edge block counts by
    the part of the block it fills, micro-block rounded (it is computed at
    its clipped size).
    """

    batch: int
    ofm: tuple[int, int, int]
    block: tuple[int, int, int]
    counts: tuple[int, int, int]
    work_blocks: float

    @property
    def hw_positions(self) -> int:
        """Block positions in batch, height and width (weights stream once per position)."""
        return self.batch * self.counts[0] * self.counts[1]

    @property
    def block_count(self) -> int:
        """All OFM blocks of the command."""
        return self.hw_positions * self.counts[2]

    @property
    def block_elements(self) -> int:
        """Elements the hardware computes per block (micro-block rounded)."""
        return prod(self.block)


def block_geometry(op: ComputeOp, ublock: BlockShape) -> BlockGeometry:
    """The block geometry of compute command `op` on a target with micro-block `ublock`."""
    return split_blocks(as_batch_hwc(op.ofm.shape_values()), op.block_shape(), ublock)


def split_blocks(
    ofm_shape: tuple[int, int, int, int], block: tuple[int, int, int], ublock: BlockShape
) -> BlockGeometry:
    """The geometry of an OFM (batch, height, width, depth) computed in blocks `block` ([h, w, c])."""
    batch, height, width, depth = ofm_shape
    ofm = (height, width, depth)
    steps = (ublock.height, ublock.width, ublock.depth)
    rounded = _hwc(ceil_to(min(extent, size), step) for extent, size, step in zip(ofm, block, steps))
    counts = _hwc(ceil(extent / size) for extent, size in zip(ofm, block))
    work = batch * prod(ceil_to(extent, step) / size for extent, step, size in zip(ofm, steps, rounded))
    return BlockGeometry(batch, ofm, rounded, counts, work)


def _hwc(extents: Iterable[int]) -> tuple[int, int, int]:
    """Three per-axis values (height, width, depth) as a tuple."""
    height, width, depth = extents
    return height, width, depth


def ifm_rows_read(
    ofm_extent: int,
    block_extent: int,
    ifm_extent: int,
    kernel: int,
    stride: int,
    dilation: int,
    pad_before: int,
) -> int:
    """IFM rows (or columns) read along one axis, summed over the blocks along it.

    Each block of `block_extent` outputs needs `(block - 1) * stride +
    dilated kernel` inputs, clipped to the IFM (padding is not read), so
    neighbouring blocks re-read the kernel halo between them.
    """
    total = 0
    reach = dilation * (kernel - 1) + 1
    for first in range(0, ofm_extent, block_extent):
        last = min(first + block_extent, ofm_extent) - 1
        low = max(0, first * stride - pad_before)
        high = min(ifm_extent, last * stride - pad_before + reach)
        total += max(0, high - low)
    return total


def ifm_box_elements(fm: FeatureMapAttr, op: ComputeOp, geometry: BlockGeometry, window: Window) -> int:
    """IFM elements a command reads from `fm`: the box of every block position, all channels.

    The box of a height/width position includes the kernel halo; all depth
    blocks at that position share it. An elementwise operand broadcast in
    height or width is read once.
    """
    batch, height, width, depth = as_batch_hwc(fm.shape_values())
    if window == UNIT_WINDOW and (height, width) != geometry.ofm[:2]:
        return prod(fm.shape_values())
    block = op.block_shape()
    axes = zip(geometry.ofm[:2], block[:2], (height, width), window.kernel, window.strides,
               window.dilations, window.pad_before)
    rows, cols = (ifm_rows_read(*axis) for axis in axes)
    return batch * rows * cols * depth
