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

from npuc.cost.geometry import BlockGeometry, Window, as_batch_hwc, ceil_to
from npuc.dialects.npu import (
    ComputeOp,
    Conv2dOp,
    DepthwiseConv2dOp,
    ElementwiseOp,
    FullyConnectedOp,
    PoolOp,
)
from npuc.targets import BlockShape, Target, Throughput


@dataclass(frozen=True)
class ComputeWork:
    """What the compute engine does for one command: real MACs and cycles."""

    macs: int
    cycles: int


def macs(op: ComputeOp, window: Window) -> int:
    """Real multiply-accumulates of a command (0 for pooling and elementwise)."""
    ofm_elements = prod(op.ofm.shape_values())
    if isinstance(op, Conv2dOp):
        return ofm_elements * window.elements * op.ifm.shape_values()[3]
    if isinstance(op, DepthwiseConv2dOp):
        return ofm_elements * window.elements
    if isinstance(op, FullyConnectedOp):
        return ofm_elements * op.ifm.shape_values()[1]
    return 0


def kernel_first(ifm_depth: int, kernel_elements: int, rates: Throughput) -> bool:
    """Whether a convolution runs kernel first (depth in small steps, kernel elements grouped).

    A shallow IFM (at most one `ifm_depth_step`) always does; otherwise the
    mode with the better lane utilisation wins: depth first fills
    `depth_first_ifm_depth_step`-deep steps, kernel first fills
    `ifm_depth_step x kernel_element_step` steps.
    """
    if ifm_depth <= rates.ifm_depth_step:
        return True
    depth_first = ifm_depth / ceil_to(ifm_depth, rates.depth_first_ifm_depth_step)
    padded = ceil_to(ifm_depth, rates.ifm_depth_step) * ceil_to(kernel_elements, rates.kernel_element_step)
    return ifm_depth * kernel_elements / padded > depth_first


def _steps(op: ComputeOp, window: Window, rates: Throughput) -> int:
    """Data-path steps per micro-block-deep slice of a block (see module docstring)."""
    if isinstance(op, (Conv2dOp, FullyConnectedOp)):
        depth = as_batch_hwc(op.ifm.shape_values())[3]
        if isinstance(op, Conv2dOp) and kernel_first(depth, window.elements, rates):
            return ceil(window.elements / rates.kernel_element_step) * ceil(depth / rates.ifm_depth_step)
        return window.elements * ceil(depth / rates.depth_first_ifm_depth_step)
    if isinstance(op, DepthwiseConv2dOp):
        return ceil(window.elements / rates.kernel_element_step)
    return 1


def block_cycles(op: ComputeOp, geometry: BlockGeometry, window: Window, target: Target) -> float:
    """Cycles the data path spends on one OFM block.

    Convolution, fully connected and depthwise: max(micro-blocks per slice x
    step cycles, `depth_slice_min_cycles`) x steps x slices. Pooling: each
    micro-block takes max(kernel taps, step cycles) at one tap per cycle.
    Elementwise: no data-path work (the output unit sets the pace).
    """
    rates, ublock = target.throughput, micro_block(op, target.ofm_ublock)
    height, width, depth = geometry.block
    per_slice = ceil(height / ublock.height) * ceil(width / ublock.width)
    slices = ceil(depth / ublock.depth)
    step_cycles = ublock.elements * rates.ifm_depth_step * rates.kernel_element_step / rates.macs_per_cycle
    if isinstance(op, PoolOp):
        return max(step_cycles, window.elements) * per_slice * slices
    if isinstance(op, ElementwiseOp):
        return 0.0
    slice_cycles = max(rates.depth_slice_min_cycles, step_cycles * per_slice)
    return slice_cycles * _steps(op, window, rates) * slices


def micro_block(op: ComputeOp, ublock: BlockShape) -> BlockShape:
    """The micro-block a command uses: a two-row micro-block folds to one row of twice the width
    for a one-row OFM of even width with a one-row kernel (no rows would be wasted)."""
    if ublock.height == 2 and isinstance(op, (Conv2dOp, DepthwiseConv2dOp, FullyConnectedOp)):
        _, height, width, _ = as_batch_hwc(op.ofm.shape_values())
        kernel_height = command_kernel_height(op)
        if height == 1 and width % 2 == 0 and kernel_height == 1:
            return BlockShape(1, ublock.width * 2, ublock.depth)
    return ublock


def command_kernel_height(op: ComputeOp) -> int:
    """Kernel rows of a command (1 for fully connected)."""
    return 1 if isinstance(op, FullyConnectedOp) else op.kernel.get_values()[0]  # type: ignore[attr-defined]


def output_cycles_per_element(op: ComputeOp, rates: Throughput) -> float:
    """Output-unit cycles per OFM element: the slower of the operation's write-back and its activation."""
    if isinstance(op, ElementwiseOp):
        cycles = 1 / rates.elementwise_elements_per_cycle
    elif isinstance(op, PoolOp) and op.kind.data == "max":
        cycles = 1 / rates.max_pool_output_elements_per_cycle
    else:
        cycles = 1 / rates.output_elements_per_cycle
    ofm_type = op.ofm.element_type
    clamped = (op.act_min.value.data, op.act_max.value.data) != (ofm_type.qmin, ofm_type.qmax)
    return max(cycles, 1 / rates.activation_elements_per_cycle) if clamped else cycles


def compute_work(
    op: ComputeOp, geometry: BlockGeometry, window: Window, target: Target, block_memory_cycles: float
) -> ComputeWork:
    """MACs and compute cycles of one command.

    The data path and the output unit work on different blocks at once, so
    cycles = blocks x the slower per-block time + one block of the faster
    one (pipeline fill) + `command_overhead_cycles`. Neither per-block time
    falls below (data path + output + `block_memory_cycles`, the latency and
    transfer of one IFM and one OFM block) / `block_pipeline_stages`.
    """
    rates = target.throughput
    data_path = block_cycles(op, geometry, window, target)
    output = ceil(output_cycles_per_element(op, rates) * geometry.block_elements)
    floor = (data_path + output + block_memory_cycles) / rates.block_pipeline_stages
    slow, fast = sorted((max(data_path, floor), max(output, floor)), reverse=True)
    cycles = ceil(slow * geometry.block_count + fast) + rates.command_overhead_cycles
    return ComputeWork(macs(op, window), cycles)
