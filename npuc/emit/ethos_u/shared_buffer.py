"""The shared buffer (SHRAM) of one command: where its IFM, second IFM, accumulators and lookup table go.

The NPU keeps a command's IFM blocks and accumulators in its shared buffer,
each area double-buffered and a whole number of banks (`target.shram`):

    bank 0            output_banks     ifm_end          accumulator_start   lut_start   end
    | reserved output | IFM (x2)        | IFM2 (x2) ...   | accumulators (x2) | LUT/end  |

The IFM area starts after the reserved output banks; an elementwise command
has no accumulators and a second IFM area after the first (its IFM area
runs up to the accumulator start). The end of the buffer is reserved (its
`shram_reserved_bytes` beyond the output banks), and a command with a
lookup table keeps at least `lut_bytes` there. The Ethos-U registers
IFM_IB_END, IFM2_IB_START and AB_START are the area boundaries in banks.

The same rules decide which OFM blocks fit (npu-tile's block search,
`npuc.backend.blocks`) and program the registers (the emitter), so a block
the search chose is a block the emitter can lay out. They are Vela's
(`ethosu/vela/architecture_allocator.py`): IFM bytes per pixel round up to
the IFM micro-block depth, accumulator channels to it too; 16-bit IFMs
(except pooling) accumulate in 40 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from npuc.cost import ifm_blocks
from npuc.cost.compute import (
    AVG_POOL,
    ELEMENTWISE,
    MAX_POOL,
    CommandShape,
)
from npuc.cost.geometry import ceil_to
from npuc.cost.ifm_blocks import UBLOCK_BITS, ifm_block
from npuc.emit.ethos_u.weights import Traversal
from npuc.targets import Target

ACCUMULATOR_BITS = 32
"""Accumulator width of 8-bit data: TFLite integer kernels accumulate int8 products in int32."""

WIDE_ACCUMULATOR_BITS = 40
"""Accumulator width of 16-bit data (but pooling): the NPU keeps 40-bit sums of int16 x int8 products."""

WIDE_ACCUMULATOR_IFM_BITS = 16
"""The IFM width whose products accumulate in `WIDE_ACCUMULATOR_BITS`."""

@dataclass(frozen=True)
class ShramLayout:
    """Area boundaries of one command in the shared buffer, in banks (see the module docstring)."""

    ifm_start: int
    ifm_end: int
    ifm2_start: int
    accumulator_start: int
    lut_start: int


def wide_accumulators(shape: CommandShape) -> bool:
    """Whether the command accumulates in 40 bits (16-bit IFM, other than max and average pooling)."""
    return shape.ifm_bits == WIDE_ACCUMULATOR_IFM_BITS and shape.kind not in (MAX_POOL, AVG_POOL)


def ifm_depth(shape: CommandShape, block_depth: int, traversal: Traversal, target: Target) -> int:
    """IFM channels of one IFM block of a command walking its kernel in `traversal` (`ifm_blocks.ifm_depth`)."""
    return ifm_blocks.ifm_depth(shape, block_depth, traversal == Traversal.PART_KERNEL_FIRST, target)


def layout(
    shape: CommandShape,
    block: tuple[int, int, int],
    traversal: Traversal,
    target: Target,
    second_ifm: bool | None = None,
    lut: bool = False,
) -> ShramLayout | None:
    """The shared-buffer layout of a command computing `block` ([h, w, c]), None if it does not fit.

    `second_ifm` says whether an elementwise command reads a second IFM
    block (not a scalar; default: any elementwise command does), `lut`
    whether it uses a lookup table. A one-row OFM computed with a one-row
    kernel needs only one row of accumulators, whatever the block height.
    """
    banks = target.shram
    total = target.shram_bytes // banks.bank_bytes
    reserved_end = target.shram_reserved_bytes // banks.bank_bytes - banks.output_banks
    lut_start = total - max(reserved_end, banks.lut_bytes // banks.bank_bytes if lut else 0)
    height, width, depth = ifm_block(shape, block, ifm_depth(shape, block[2], traversal, target), target)
    ifm_bytes = height * width * ceil_to(ceil(depth * shape.ifm_bits / UBLOCK_BITS), target.ifm_ublock.depth)
    ifm_end = banks.output_banks + _double_banks(ifm_bytes, _ifm_granule(shape, target), target)
    if shape.kind == ELEMENTWISE:
        second = ifm_end - banks.output_banks if second_ifm is None or second_ifm else 0
        if ifm_end + second > lut_start:
            return None
        return ShramLayout(banks.output_banks, lut_start, ifm_end, lut_start, lut_start)
    rows = 1 if shape.ofm[1] == 1 and shape.window.kernel[0] == 1 else block[0]
    wide = wide_accumulators(shape)
    bits = WIDE_ACCUMULATOR_BITS if wide else ACCUMULATOR_BITS
    accumulator_bytes = rows * block[1] * ceil_to(block[2], target.ifm_ublock.depth) * bits // 8
    granule = banks.wide_accumulator_granule if wide else banks.accumulator_granule
    accumulator_start = lut_start - _double_banks(accumulator_bytes, granule, target)
    if ifm_end > accumulator_start:
        return None
    return ShramLayout(banks.output_banks, ifm_end, ifm_end, accumulator_start, lut_start)


def _ifm_granule(shape: CommandShape, target: Target) -> int:
    """The bank granule of an IFM area: 32-bit IFMs, elementwise IFMs, other IFMs."""
    banks = target.shram
    if shape.ifm_bits > WIDE_ACCUMULATOR_IFM_BITS:
        return banks.wide_ifm_granule
    return banks.elementwise_ifm_granule if shape.kind == ELEMENTWISE else banks.ifm_granule


def _double_banks(size: int, granule: int, target: Target) -> int:
    """Banks a double-buffered area of `size` bytes takes, rounded up to `granule`."""
    return ceil_to(2 * ceil(size / target.shram.bank_bytes), granule)
