"""Weights and scale records as the hardware reads them: mlw-decoded, un-bricked, and 10-byte records.

The weight decoder reads an mlw-compressed stream (decoded here by
`npuc.sim.ethos_u.mlw` with the codec's own decoder) and feeds the MAC array
in *brick* order, outermost first: OFM blocks of the block-config depth; IFM
blocks of 32 channels (16 for part-kernel-first or 16-bit IFMs; one pass for
depthwise); sub-kernels of at most 8x8 (4 per axis when dilated); for
part-kernel-first, IFM micro-blocks of 8; OFM micro-blocks (8 channels, 4 on
the 32-MAC Ethos-U55); kernel elements of the sub-kernel, x fastest, padded
to a multiple of 4 for part-kernel-first 8-bit and depthwise (2 for
part-kernel-first 16-bit); for depth-first, IFM micro-blocks; then one OFM
micro-block's channels, each with one IFM micro-block's channels (one for
depthwise). Positions past the kernel or the channel counts hold zeros.
`unbrick` inverts that order into an OHWI array.

A scale record is 10 bytes per output channel: a 40-bit two's-complement
bias, a 32-bit unsigned scale and a 6-bit shift (`scale_records`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from npuc.errors import CommandStreamError

SCALE_RECORD_BYTES = 10
SUB_KERNEL_MAX = 8
IFM_MICRO_BLOCK = 8


@dataclass(frozen=True)
class BrickLayout:
    """What fixes the brick order of one core's weight stream."""

    ofm_depth: int
    kernel_height: int
    kernel_width: int
    ifm_depth: int
    ofm_block_depth: int
    depthwise: bool
    part_kernel_first: bool
    ifm_bits: int
    ofm_micro_block: int
    dilation_y: int
    dilation_x: int


def brick_order(layout: BrickLayout) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ofm, ky, kx, ifm, valid) of every position of the stream, in stream order."""
    ifm_block = 16 if layout.part_kernel_first or layout.ifm_bits == 16 else 32
    decomp_h = SUB_KERNEL_MAX // layout.dilation_y
    decomp_w = SUB_KERNEL_MAX // layout.dilation_x
    pieces: list[tuple[np.ndarray, ...]] = []
    for ofm_block in range(0, layout.ofm_depth, layout.ofm_block_depth):
        block_depth = min(layout.ofm_block_depth, layout.ofm_depth - ofm_block)
        for ifm_start in range(0, 1 if layout.depthwise else layout.ifm_depth, ifm_block):
            if layout.depthwise:
                ifm_depth_here = IFM_MICRO_BLOCK
            elif layout.part_kernel_first:
                ifm_depth_here = min(ifm_block, layout.ifm_depth - ifm_start)
            else:
                ifm_depth_here = ifm_block
            for sub_y in range(0, layout.kernel_height, decomp_h):
                sub_height = min(layout.kernel_height - sub_y, decomp_h)
                for sub_x in range(0, layout.kernel_width, decomp_w):
                    sub_width = min(layout.kernel_width - sub_x, decomp_w)
                    pieces.append(_sub_kernel(layout, ofm_block, block_depth, ifm_start, ifm_depth_here,
                                              sub_y, sub_height, sub_x, sub_width))
    ofm, ky, kx, ifm, valid = (np.concatenate([piece[axis] for piece in pieces]) for axis in range(5))
    return ofm, ky, kx, ifm, valid


def _sub_kernel(layout: BrickLayout, ofm_block: int, block_depth: int, ifm_start: int, ifm_depth_here: int,
                sub_y: int, sub_height: int, sub_x: int, sub_width: int) -> tuple[np.ndarray, ...]:
    """The positions of one sub-kernel of one OFM block and IFM block, in stream order."""
    elements = sub_width * sub_height
    if layout.part_kernel_first:
        elements = -(-elements // (4 if layout.ifm_bits == 8 else 2)) * (4 if layout.ifm_bits == 8 else 2)
    elif layout.depthwise:
        elements = -(-elements // 4) * 4
    outer = ifm_depth_here if layout.part_kernel_first else 1
    inner = 1 if layout.part_kernel_first else ifm_depth_here
    ifm_width = 1 if layout.depthwise else IFM_MICRO_BLOCK
    # Axes, outermost first: IFM micro-block (part-kernel-first), OFM micro-block, kernel element,
    # IFM micro-block (depth-first), OFM channel in the micro-block, IFM channel in the micro-block.
    outer_ublock = np.arange(0, outer, IFM_MICRO_BLOCK)[:, None, None, None, None, None]
    ofm_ublock = np.arange(0, block_depth, layout.ofm_micro_block)[None, :, None, None, None, None]
    element = np.arange(elements)[None, None, :, None, None, None]
    inner_ublock = np.arange(0, inner, IFM_MICRO_BLOCK)[None, None, None, :, None, None]
    ofm_z = np.arange(layout.ofm_micro_block)[None, None, None, None, :, None]
    ifm_z = np.arange(ifm_width)[None, None, None, None, None, :]
    shape = np.broadcast_shapes(outer_ublock.shape, ofm_ublock.shape, element.shape, inner_ublock.shape,
                                ofm_z.shape, ifm_z.shape)
    ky = element // sub_width
    ofm = np.broadcast_to(ofm_block + ofm_ublock + ofm_z, shape)
    ifm = np.broadcast_to(ifm_start + outer_ublock + inner_ublock + ifm_z, shape)
    wy = np.broadcast_to(sub_y + ky, shape)
    wx = np.broadcast_to(sub_x + element % sub_width, shape)
    valid = (ifm < layout.ifm_depth) & (ofm < layout.ofm_depth) & np.broadcast_to(ky < sub_height, shape)
    return tuple(array.reshape(-1) for array in (ofm, wy, wx, ifm, valid))


def unbrick(values: np.ndarray, layout: BrickLayout, where: str) -> np.ndarray:
    """The OHWI weights (I = 1 for depthwise) a decoded stream holds in `layout`'s brick order."""
    ofm, ky, kx, ifm, valid = brick_order(layout)
    if len(values) != len(ofm):
        raise CommandStreamError(
            f"{where}: the weight stream holds {len(values)} weights; a {layout.kernel_height}x"
            f"{layout.kernel_width} kernel over {layout.ifm_depth} IFM and {layout.ofm_depth} OFM channels "
            f"in blocks of {layout.ofm_block_depth} needs {len(ofm)}"
        )
    weights = np.zeros((layout.ofm_depth, layout.kernel_height, layout.kernel_width,
                        1 if layout.depthwise else layout.ifm_depth), dtype=np.int64)
    weights[ofm[valid], ky[valid], kx[valid], ifm[valid]] = values[valid]
    return weights


def scale_records(raw: bytes, channels: int, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bias, scale, shift) per channel of `channels` 10-byte records at the start of `raw`."""
    if len(raw) < channels * SCALE_RECORD_BYTES:
        raise CommandStreamError(
            f"{where}: the scale stream holds {len(raw)} bytes; {channels} channels need "
            f"{channels * SCALE_RECORD_BYTES}"
        )
    records = np.frombuffer(raw, np.uint8, channels * SCALE_RECORD_BYTES).reshape(channels, SCALE_RECORD_BYTES)
    records = records.astype(np.int64)
    little_endian = 1 << (8 * np.arange(5, dtype=np.int64))
    bias = records[:, :5] @ little_endian
    bias = np.where(bias >= 1 << 39, bias - (1 << 40), bias)
    scale = records[:, 5:9] @ little_endian[:4]
    shift = records[:, 9] & 0x3F
    return bias, scale, shift
