"""npu-tile: choose the OFM block and stripe of every NPU operation."""

from __future__ import annotations

from dataclasses import dataclass

from npuc.dialects.npu import BLOCK_ATTR, PLACEMENT_ATTR, STRIPE_ATTR, block_attr
from npuc.dialects.quantized import (
    AddOp,
    AvgPool2dOp,
    Conv2dOp,
    DepthwiseConv2dOp,
    FullyConnectedOp,
    MaxPool2dOp,
    SoftmaxOp,
)
from npuc.dialects.window_layers import Pool2dBase
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.cost.compute import (
    AVG_POOL,
    CONV,
    DEPTHWISE,
    ELEMENTWISE,
    FULLY_CONNECTED,
    MAX_POOL,
    CommandShape,
    compute_work,
)
from npuc.cost.geometry import Window as CostWindow
from npuc.cost.geometry import as_batch_hwc, split_blocks
from npuc.cost.traffic import block_transfer_cycles
from npuc.planning import (
    UNIT_WINDOW,
    Window,
    clip_block,
    computes_on_npu,
    describe,
    element_bytes,
    layer_ops,
    main_or_fail,
    require,
    target_or_fail,
    tensor_hwc,
    window,
)
from npuc.targets import Target

ACCUMULATOR_BYTES = 4
"""Bytes per OFM element being accumulated: TFLite integer kernels accumulate in int32."""


@dataclass(frozen=True)
class TilePass(ModulePass):
    """Set `npu.block` and `npu.stripe` on every NPU op that writes an OFM.

    The block is, among the target's `block_configs` whose shared-buffer
    footprint fits `shram_usable_bytes` (see `shram_footprint`), the one the
    cost model prices cheapest (`block_cost`): like Vela's block search, a
    block that wastes fewer micro-blocks past the OFM edge or fetches less
    wins over a merely larger one. A block is clipped to the OFM: no extent
    exceeds the OFM's, rounded up to the OFM micro-block. The stripe is the
    whole OFM for now. Fully connected ofm [N, O] reads as 1 x N x O.

    Assumes npu-legalize has run (every layer op has `npu.placement`).
    """

    name = "npu-tile"

    target: str = "ethos-u55-128"
    """Built-in target name or path of a target TOML file."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = target_or_fail(self.target, self.name)
        tile(main_or_fail(op, self.name), target)


def tile(func: FuncOp, target: Target) -> None:
    """Annotate the NPU ops of `func` with their OFM block and stripe on `target`."""
    for op in layer_ops(func):
        require(op, PLACEMENT_ATTR, "npu-legalize", TilePass.name)
        if computes_on_npu(op):
            op.attributes[BLOCK_ATTR] = block_attr(choose_block(op, target))
            op.attributes[STRIPE_ATTR] = block_attr(tensor_hwc(op.results[0]))


def choose_block(op: Operation, target: Target) -> tuple[int, int, int]:
    """The clipped block config of `target` that fits the SHRAM and `block_cost` prices lowest.

    Ties go to the block with more elements, then to the first in file order.
    """
    ofm = tensor_hwc(op.results[0])
    shape = command_shape(op)
    best: tuple[tuple[float, int], tuple[int, int, int]] | None = None
    for config in target.block_configs:
        block = clip_block(config, ofm, target.ofm_ublock)
        if shram_footprint(op, block, target) > target.shram_usable_bytes:
            continue
        key = (block_cost(shape, block, target, element_bytes(op.operands[0])), -_elements(block))
        if best is None or key < best[0]:
            best = (key, block)
    if best is None:
        raise PassFailedException(
            f"npu-tile: no block config of {target.name} fits {describe(op)} in "
            f"{target.shram_usable_bytes} bytes of shared buffer"
        )
    return best[1]


KIND_OF = {
    Conv2dOp: CONV,
    DepthwiseConv2dOp: DEPTHWISE,
    FullyConnectedOp: FULLY_CONNECTED,
    MaxPool2dOp: MAX_POOL,
    AvgPool2dOp: AVG_POOL,
    AddOp: ELEMENTWISE,
    SoftmaxOp: ELEMENTWISE,
}
"""Quantized op class -> `CommandShape.kind` of the command it lowers to."""


def command_shape(op: Operation) -> CommandShape:
    """The cost model's view of the command a quantized NPU op lowers to.

    Fused activations are not known here (they only slow the output unit,
    alike for every block), so the shape is unclamped.
    """
    op_window = window(op) or UNIT_WINDOW
    cost_window = CostWindow(op_window.kernel, op_window.strides, op_window.dilations, op_window.padding[:2])  # type: ignore[arg-type]
    ifm = as_batch_hwc(op.operands[0].type.get_shape())  # type: ignore[attr-defined]
    ofm = as_batch_hwc(op.results[0].type.get_shape())  # type: ignore[attr-defined]
    return CommandShape(KIND_OF[type(op)], ifm, ofm, cost_window)


def block_cost(shape: CommandShape, block: tuple[int, int, int], target: Target, ifm_bytes: int) -> int:
    """Compute cycles of a command in blocks `block`, with IFM and OFM in the arena memory."""
    geometry = split_blocks(shape.ofm, block, target.ofm_ublock)
    arena = (target.memory(target.arena_memory), ifm_bytes)
    return compute_work(shape, geometry, target, block_transfer_cycles(shape, geometry, target, arena, arena)).cycles


def shram_footprint(op: Operation, block: tuple[int, int, int], target: Target) -> int:
    """Shared-buffer bytes to compute one OFM block of `op`: IFM block(s) + accumulators.

    IFM block = ((block_h - 1) * stride_h + dilated kernel_h)
              x ((block_w - 1) * stride_w + dilated kernel_w) x depth slice,
    in IFM storage bytes. The depth slice is `ifm_depth_step` channels for
    convolution and fully connected (the MAC array consumes the IFM depth in
    such steps and accumulates), and the block depth for depthwise, pooling
    and add (each OFM channel reads its own IFM channel). Add holds a second
    IFM block, and so does softmax, priced as its widest commands: elementwise
    over the whole OFM with a second operand. Accumulators are block_h x block_w x block_d int32 values.
    No double buffering is modelled.
    """
    op_window: Window = window(op) or UNIT_WINDOW
    kernel_h, kernel_w = op_window.dilated_kernel
    ifm_h = (block[0] - 1) * op_window.strides[0] + kernel_h
    ifm_w = (block[1] - 1) * op_window.strides[1] + kernel_w
    per_channel_op = isinstance(op, (DepthwiseConv2dOp, Pool2dBase, AddOp, SoftmaxOp))
    depth_slice = block[2] if per_channel_op else target.throughput.ifm_depth_step
    ifm_blocks = 2 if isinstance(op, (AddOp, SoftmaxOp)) else 1
    ifm_bytes = ifm_h * ifm_w * depth_slice * element_bytes(op.operands[0]) * ifm_blocks
    return ifm_bytes + _elements(block) * ACCUMULATOR_BYTES


def _elements(block: tuple[int, int, int]) -> int:
    return block[0] * block[1] * block[2]
