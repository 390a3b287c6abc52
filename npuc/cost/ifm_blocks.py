"""The IFM block the NPU fetches to compute one OFM block.

An OFM block needs the IFM rows and columns its kernel window reaches,
`(block - 1) x stride + kernel`, with the kernel limited to one sub-kernel
(`sub_kernel_max`: a larger kernel is applied in parts, each fetching its own
IFM block), rounded up to the OFM micro-block. Its depth is the OFM block's
for a per-channel command (depthwise, pooling, elementwise); a command
summing over the IFM depth fetches it in IFM blocks as deep as its traversal
keeps in the data path (`ifm_block_depth`). The block search (npu-tile), the
shared-buffer layout, the weight encoding and the cost model's block memory
time and traffic all use these rules.
"""

from __future__ import annotations

from npuc.cost.compute import (
    DEPTH_SUMMING,
    KERNEL_FIRST_KINDS,
    STEP_BITS,
    CommandShape,
    kernel_first,
)
from npuc.cost.geometry import ceil_to
from npuc.targets import Target

UBLOCK_BITS = 8
"""Element width the IFM micro-block depth is given for: wider elements round to proportionally fewer channels."""


def runs_kernel_first(shape: CommandShape, target: Target) -> bool:
    """Whether the command is a convolution or fully connected layer that runs (part-)kernel first (`kernel_first`)."""
    return shape.kind in KERNEL_FIRST_KINDS and kernel_first(shape.ifm[3], shape.window.elements, shape.ifm_bits, target.throughput)


def ifm_block_depth(part_kernel_first: bool, ifm_bits: int, target: Target) -> int:
    """IFM channels per IFM block of a convolution: `depth_first_ifm_depth_step` 8-bit channels (fewer
    wider ones) depth first, at most `kernel_first_ifm_block_depth` part-kernel first."""
    widest = target.throughput.depth_first_ifm_depth_step * STEP_BITS // ifm_bits
    if part_kernel_first:
        return min(target.throughput.kernel_first_ifm_block_depth, widest)
    return widest


def ifm_depth(shape: CommandShape, block_depth: int, part_kernel_first: bool, target: Target) -> int:
    """IFM channels of one IFM block: the OFM block's for per-channel commands; for a command
    summing over the IFM depth, the traversal's IFM block (`ifm_block_depth`) within the
    IFM depth, rounded up to the IFM micro-block (in channels of the IFM's width)."""
    if shape.kind not in DEPTH_SUMMING:
        return block_depth
    step = ifm_block_depth(part_kernel_first, shape.ifm_bits, target)
    granule = max(1, target.ifm_ublock.depth * UBLOCK_BITS // shape.ifm_bits)
    return ceil_to(min(shape.ifm[3], step), granule)


def ifm_block(shape: CommandShape, block: tuple[int, int, int], depth: int, target: Target) -> tuple[int, int, int]:
    """The IFM block ([h, w, c]) that feeds OFM block `block`: its kernel halo limited to one
    sub-kernel, rounded up to the OFM micro-block; `depth` channels (`ifm_depth`)."""
    window, ublock = shape.window, target.ofm_ublock
    (kernel_height, kernel_width), (limit_height, limit_width) = window.dilated_kernel, target.sub_kernel_max
    height = ceil_to((block[0] - 1) * window.strides[0] + min(kernel_height, limit_height), ublock.height)
    width = ceil_to((block[1] - 1) * window.strides[1] + min(kernel_width, limit_width), ublock.width)
    return height, width, depth


def fetched_ifm_block(shape: CommandShape, block: tuple[int, int, int], target: Target) -> tuple[int, int, int]:
    """The IFM block the command fetches for OFM block `block`, with the traversal its shape runs."""
    return ifm_block(shape, block, ifm_depth(shape, block[2], runs_kernel_first(shape, target), target), target)
