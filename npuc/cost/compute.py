"""Compute cycles and MAC counts of NPU compute commands.

Every rate comes from the target's `[throughput]` table. The data path works
on whole OFM micro-blocks (`ofm_ublock`): one *step* feeds every micro-block
of a block `ifm_depth_step x kernel_element_step` MACs per output element,
which takes `ublock elements x step MACs / macs_per_cycle` cycles (4 on every
Ethos-U), and no micro-block-deep slice of a block takes fewer than
`depth_slice_min_cycles` per step. In parallel, the output unit writes the
block back at `output_elements_per_cycle` (slower with a fused activation or
for a max pool). A layer whose shape does not fill the steps pays for the
unused lanes (utilisation = real MACs / (cycles x macs_per_cycle)).
Formulas and reasons: docs/report-format.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, prod

from npuc.cost.geometry import (
    BlockGeometry,
    as_batch_hwc,
    ceil_to,
)
from npuc.dialects.common import Window
from npuc.dialects.npu import (
    ComputeOp,
    Conv2dOp,
    DepthwiseConv2dOp,
    FullyConnectedOp,
    PoolOp,
)
from npuc.targets import BlockShape, Target, Throughput


@dataclass(frozen=True)
class ComputeWork:
    """What the compute engine does for one command: real MACs and cycles."""

    macs: int
    cycles: int


CONV, DEPTHWISE, FULLY_CONNECTED = "conv", "depthwise", "fully_connected"
MAX_POOL, AVG_POOL, REDUCE_SUM, ELEMENTWISE = "max_pool", "avg_pool", "reduce_sum", "elementwise"
"""`CommandShape.kind` values."""

DEPTH_SUMMING = (CONV, FULLY_CONNECTED, REDUCE_SUM)
"""Kinds whose OFM element sums over the whole IFM depth: the data path walks the IFM depth in steps
(Vela prices a reduce sum like a depth-first convolution with a 1 x 1 kernel, not like a pool)."""

KERNEL_FIRST_KINDS = (CONV, FULLY_CONNECTED)
"""Kinds that may run part-kernel first (`kernel_first`): a fully connected layer is a 1x1 convolution."""


@dataclass(frozen=True)
class CommandShape:
    """What the compute rules need to know about a command, independent of its IR.

    `kind` is one of the constants above; `ifm` and `ofm` are (batch, height,
    width, depth); `clamped` says whether a fused activation narrows the OFM
    range; `ifm_bits` is the IFM element width. Built from a lowered command
    by `command_shape`, and by npu-tile from a quantized op to price
    candidate blocks before lowering.
    """

    kind: str
    ifm: tuple[int, int, int, int]
    ofm: tuple[int, int, int, int]
    window: Window
    clamped: bool = False
    ifm_bits: int = 8


def command_shape(op: ComputeOp) -> CommandShape:
    """The `CommandShape` of a lowered compute command."""
    if isinstance(op, Conv2dOp):
        kind = CONV
    elif isinstance(op, DepthwiseConv2dOp):
        kind = DEPTHWISE
    elif isinstance(op, FullyConnectedOp):
        kind = FULLY_CONNECTED
    elif isinstance(op, PoolOp):
        kind = {"max": MAX_POOL, "reduce_sum": REDUCE_SUM}.get(op.kind.data, AVG_POOL)
    else:
        kind = ELEMENTWISE
    ofm_type = op.ofm.element_type
    clamped = (op.act_min.value.data, op.act_max.value.data) != (ofm_type.qmin, ofm_type.qmax)
    return CommandShape(
        kind, as_batch_hwc(op.ifm.shape_values()), as_batch_hwc(op.ofm.shape_values()), op.window(), clamped,
        op.ifm.element_type.bits,
    )


def macs(shape: CommandShape) -> int:
    """Real multiply-accumulates of a command (0 for pooling and elementwise)."""
    ofm_elements = prod(shape.ofm)
    if shape.kind == CONV:
        return ofm_elements * shape.window.elements * shape.ifm[3]
    if shape.kind == DEPTHWISE:
        return ofm_elements * shape.window.elements
    if shape.kind == FULLY_CONNECTED:
        return ofm_elements * shape.ifm[3]
    return 0


STEP_BITS = 8
"""Element width the throughput steps are stated for: 16-bit data fits half as many elements per step."""


def kernel_first(ifm_depth: int, kernel_elements: int, ifm_bits: int, rates: Throughput) -> bool:
    """Whether a convolution runs (part-)kernel first: depth in small steps, kernel elements grouped.

    The hardware's (and Vela's) choice, which the cost model, the block
    search and the weight encoding share: a shallow IFM (at most one
    `ifm_depth_step`) always does; otherwise kernel first wins when it fills
    the data path at least as well, IFM depth over IFM depth rounded up to
    `ifm_depth_step` times kernel elements over kernel elements rounded up to
    the kernel step, against IFM depth over IFM depth rounded up to the
    depth-first IFM block (both steps in elements of `ifm_bits`).
    """
    if ifm_depth <= rates.ifm_depth_step:
        return True
    # At least one element per step: a target taking one 8-bit kernel element at a time takes one 16-bit too.
    depth_first_block = max(1, rates.depth_first_ifm_depth_step * STEP_BITS // ifm_bits)
    kernel_step = max(1, rates.kernel_element_step * STEP_BITS // ifm_bits)
    depth_first = ifm_depth / ceil_to(ifm_depth, depth_first_block)
    # Grouped as Vela groups the float arithmetic, so that ties go the same way.
    part_kernel = (ifm_depth / ceil_to(ifm_depth, rates.ifm_depth_step)) * (
        kernel_elements / ceil_to(kernel_elements, kernel_step)
    )
    return part_kernel >= depth_first


def _steps(shape: CommandShape, rates: Throughput) -> int:
    """Data-path steps per micro-block-deep slice of a block (see module docstring)."""
    taps = shape.window.elements
    if shape.kind in DEPTH_SUMMING:
        depth = shape.ifm[3]
        if shape.kind in KERNEL_FIRST_KINDS and kernel_first(depth, taps, shape.ifm_bits, rates):
            return ceil(taps / rates.kernel_element_step) * ceil(depth / rates.ifm_depth_step)
        return taps * ceil(depth / rates.depth_first_ifm_depth_step)
    if shape.kind == DEPTHWISE:
        return ceil(taps / rates.kernel_element_step)
    return 1


def block_cycles(shape: CommandShape, block: tuple[int, int, int], target: Target) -> float:
    """Cycles the data path spends on one OFM block `block` ([h, w, c], micro-block rounded).

    Convolution, fully connected, reduce sum and depthwise: max(micro-blocks per slice x
    step cycles, `depth_slice_min_cycles`) x steps x slices. Pooling: each
    micro-block takes max(kernel taps, step cycles) x micro-block elements /
    `pooling_elements_per_cycle` (the rate for 8-bit data; wider data takes
    proportionally longer). Elementwise: no data-path work (the output unit
    sets the pace).
    """
    rates, ublock = target.throughput, micro_block(shape, target.ofm_ublock)
    height, width, depth = block
    per_slice = ceil(height / ublock.height) * ceil(width / ublock.width)
    slices = ceil(depth / ublock.depth)
    step_cycles = ublock.elements * rates.ifm_depth_step * rates.kernel_element_step / rates.macs_per_cycle
    if shape.kind in (MAX_POOL, AVG_POOL):
        rate = rates.pooling_elements_per_cycle * 8 / shape.ifm_bits
        return max(step_cycles, shape.window.elements) * ublock.elements / rate * per_slice * slices
    if shape.kind == ELEMENTWISE:
        return 0.0
    slice_cycles = max(rates.depth_slice_min_cycles, step_cycles * per_slice)
    return slice_cycles * _steps(shape, rates) * slices


def micro_block(shape: CommandShape, ublock: BlockShape) -> BlockShape:
    """The micro-block a command uses: a two-row micro-block folds to one row of twice the width
    for a one-row OFM of even width with a one-row kernel (no rows would be wasted)."""
    if ublock.height == 2 and shape.kind in (CONV, DEPTHWISE, FULLY_CONNECTED):
        _, height, width, _ = shape.ofm
        if height == 1 and width % 2 == 0 and shape.window.kernel[0] == 1:
            return BlockShape(1, ublock.width * 2, ublock.depth)
    return ublock


def output_cycles_per_element(shape: CommandShape, rates: Throughput) -> float:
    """Output-unit cycles per OFM element: the slower of the operation's write-back and its activation."""
    if shape.kind == ELEMENTWISE:
        cycles = 1 / rates.elementwise_elements_per_cycle
    elif shape.kind == MAX_POOL:
        cycles = 1 / rates.max_pool_output_elements_per_cycle
    else:
        cycles = 1 / rates.output_elements_per_cycle
    return max(cycles, 1 / rates.activation_elements_per_cycle) if shape.clamped else cycles


@dataclass(frozen=True)
class CommandMemory:
    """What the compute rules need of a command's memories (`traffic.command_memory`).

    `ifm_block_cycles` and `ofm_block_cycles`: latency and transfer of one
    IFM block (the slower IFM of an elementwise command) and one OFM block;
    `scale_cycles`: a block's fetch of its scale/bias records (0 without
    them); `ofm_elements`: the OFM's elements as stored (a bricked map's
    depth in whole bricks).
    """

    ifm_block_cycles: float
    ofm_block_cycles: float
    scale_cycles: float
    ofm_elements: int


def compute_work(shape: CommandShape, geometry: BlockGeometry, target: Target, memory: CommandMemory) -> ComputeWork:
    """MACs and compute cycles of one command.

    The data path and the output unit work on different blocks at once:
    per block, the data path takes `block_cycles` and the output unit the
    block's write-back (`output_cycles_per_element` x its elements, clipped
    to the OFM) or, for a weighted command, its scale/bias fetch if slower.
    Neither falls below (data path + output + the difference of the OFM and
    IFM block memory times) / `block_pipeline_stages`, the rate commands
    are issued at. cycles = blocks x the slower + one block of the faster
    (the pipeline drains), plus one IFM and one OFM block's memory time (it
    fills and empties once per command). Blocks are counted by their work
    (`BlockGeometry.work_blocks`: edge blocks at their clipped size).
    This is Vela 5.2's per-operation estimate once the blocks are Vela's
    (`npuc.backend.blocks`). Elementwise commands: `elementwise_cycles`.
    """
    rates = target.throughput
    if shape.kind == ELEMENTWISE:
        return ComputeWork(0, elementwise_cycles(shape, geometry, target, memory))
    data_path = block_cycles(shape, geometry.block, target)
    clipped = prod(min(size, extent) for size, extent in zip(geometry.block, geometry.ofm))
    output = max(ceil(output_cycles_per_element(shape, rates) * clipped), memory.scale_cycles)
    in_out = abs(memory.ofm_block_cycles - memory.ifm_block_cycles) if geometry.work_blocks > 1 else 0
    issue = (data_path + output + in_out) / rates.block_pipeline_stages
    slow, fast = sorted((max(data_path, issue), max(output, issue)), reverse=True)
    fill = memory.ifm_block_cycles + memory.ofm_block_cycles
    return ComputeWork(macs(shape), ceil(slow * geometry.work_blocks + fast + fill))


def elementwise_cycles(shape: CommandShape, geometry: BlockGeometry, target: Target, memory: CommandMemory) -> int:
    """Cycles of an elementwise command: stored OFM elements x cycles per element + `command_overhead_cycles`.

    An element costs its output rate, or, if slower, its share of one
    block's memory time (the slower of IFM and OFM block, which overlap)
    spread over the pipeline: (block memory / block elements + output
    cycles per element) / `block_pipeline_stages`. A small command thus
    pays only its share of the memory latency (Vela's rule), not a whole
    block's. A bricked OFM counts its depth in whole bricks.
    """
    rates = target.throughput
    per_element = output_cycles_per_element(shape, rates)
    block_memory = max(memory.ifm_block_cycles, memory.ofm_block_cycles)
    issue = (block_memory / geometry.block_elements + per_element) / rates.block_pipeline_stages
    return ceil(max(per_element, issue) * memory.ofm_elements) + rates.command_overhead_cycles
