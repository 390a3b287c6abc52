"""Compute cycles and MAC counts of NPU compute commands.

Every rate comes from the target's `[throughput]` table. The model is
MAC-bound at the hardware's granularity: the MAC array works on whole OFM
micro-blocks, whole IFM depth steps and whole kernel-element steps, so a layer
whose shape does not fill them pays for the unused lanes (utilisation =
real MACs / (cycles x macs_per_cycle)).
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
from npuc.targets import Throughput


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


def block_cycles(op: ComputeOp, geometry: BlockGeometry, window: Window, rates: Throughput) -> float:
    """Cycles the data path spends on one OFM block.

    - convolution, fully connected: block elements x kernel elements rounded
      up to `kernel_element_step` x IFM depth rounded up to `ifm_depth_step`,
      over `macs_per_cycle` (a fully connected layer is a 1x1 convolution);
    - depthwise: block elements x kernel elements rounded up to
      `kernel_element_step`, over `depthwise_macs_per_cycle` (each OFM
      channel reads one IFM channel, so there is no depth term);
    - pooling: block elements x kernel taps over `pooling_elements_per_cycle`;
    - elementwise: block elements over `elementwise_elements_per_cycle`.
    """
    elements = geometry.block_elements
    if isinstance(op, (Conv2dOp, FullyConnectedOp)):
        ifm_depth = as_batch_hwc(op.ifm.shape_values())[3]
        kernel_steps = ceil_to(window.elements, rates.kernel_element_step)
        return elements * kernel_steps * ceil_to(ifm_depth, rates.ifm_depth_step) / rates.macs_per_cycle
    if isinstance(op, DepthwiseConv2dOp):
        kernel_steps = ceil_to(window.elements, rates.kernel_element_step)
        return elements * kernel_steps / rates.depthwise_macs_per_cycle
    if isinstance(op, PoolOp):
        return elements * window.elements / rates.pooling_elements_per_cycle
    assert isinstance(op, ElementwiseOp), f"no compute rule for {op.name}"
    return elements / rates.elementwise_elements_per_cycle


def compute_work(op: ComputeOp, geometry: BlockGeometry, window: Window, rates: Throughput) -> ComputeWork:
    """MACs and compute cycles of one command.

    cycles = max(blocks x block cycles, blocks x block elements /
    `output_elements_per_cycle`) + `command_overhead_cycles`: the data path and
    the OFM write-back run in parallel, so the slower one sets the pace, and
    issuing the command costs a fixed overhead.
    """
    data_path = geometry.block_count * block_cycles(op, geometry, window, rates)
    write_back = geometry.block_count * geometry.block_elements / rates.output_elements_per_cycle
    cycles = ceil(max(data_path, write_back)) + rates.command_overhead_cycles
    return ComputeWork(macs(op, window), cycles)
