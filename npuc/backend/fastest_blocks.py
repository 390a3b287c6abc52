"""Each whole-OFM layer's block, chosen by the cost model once npu-schedule knows where its operands are.

npu-tile picks every block by Vela's search (`npuc.backend.blocks`), which
minimises the IFM and weight elements a block fetches. How long the
command takes also depends on what the search does not weigh: the pipeline
filling and draining once per block, the write-back of partial edge blocks,
the bursts of a plain or bricked feature map, and where the weights are
read from, which npu-schedule only then decides (staged or in place). Once
it has, `fastest_blocks` prices the op's command (`estimates.command_cycles`,
with its operands where they are) in every block the hardware runs it in
(`blocks.candidate_blocks`) of the search's block depth, and keeps the
fastest: the depth sets the weights' encoding (their brick order) and so
the bytes staged, which the schedule has placed; height and width change
neither. kws_dscnn runs 4 % faster for it, digits_cnn 10 %.

Only layers whose command the estimate describes as the cost model sees
it: a convolution, depthwise convolution, fully connected layer or pool
computing its whole OFM (cascades choose their stripes' blocks
themselves), its IFM and OFM whole maps (no view of another buffer) in the
arena memory, and its weights, if any, read whole from the weights memory
or a whole staged copy. The estimate prices the command alone: a
flash-bound layer sharing the flash with other layers' weight copies may
come out a little slower (MobileNetV2's last project convolutions: up to
350 cycles each, against 24,000 saved over the network).
"""

from __future__ import annotations

from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation

from npuc.backend.blocks import candidate_blocks, search_input
from npuc.backend.estimates import command_cycles, op_block
from npuc.backend.operators import WEIGHTED_OPS
from npuc.backend.planning import (
    buffer_bytes,
    computes_on_npu,
    element_bytes,
    in_stripes,
    layer_command_shape,
    layer_ops,
    npu_only,
    npu_views,
    value_memory,
)
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND
from npuc.dialects.npu import (
    BLOCK_ATTR,
    CASCADE_ATTR,
    SLOTS_ATTR,
    StageOp,
    block_attr,
)
from npuc.dialects.quantized import AvgPool2dOp, ConstantOp, MaxPool2dOp
from npuc.targets import Memory, Target

LAYERS = (*WEIGHTED_OPS, MaxPool2dOp, AvgPool2dOp)
"""The layers whose blocks are chosen again: one command each, over one IFM (the estimate's)."""


def fastest_blocks(func: FuncOp, target: Target) -> None:
    """Give every qualifying layer of `func` (see the module docstring) the block of its search's depth
    that the cost model prices fastest, its operands where npu-schedule has put them."""
    views = npu_views(func)
    for op in layer_ops(func):
        if not _qualifies(func, op, target) or any(value in views for value in (op.operands[0], op.results[0])):
            continue
        weights = _weights(op, target)
        if weights is not None:
            op.attributes[BLOCK_ATTR] = block_attr(fastest_block(op, target, *weights))


def fastest_block(
    op: Operation, target: Target, weights: Memory | None, weight_bytes: int, scale_bytes: int
) -> tuple[int, int, int]:
    """The block of `op`'s block depth the cost model prices `op`'s command fastest in, its weights and
    scale/bias table (`weight_bytes`, `scale_bytes`) read from `weights`; its own block on a tie.
    A function of the command's shape and of these alone: each is searched once per process."""
    shape = layer_command_shape(op)
    plain = (not npu_only(op.operands[0]), not npu_only(op.results[0]))
    current = op_block(op)
    key = (shape, current, element_bytes(op.operands[0]), element_bytes(op.results[0]), plain, target, weights,
           weight_bytes, scale_bytes)  # fmt: skip
    if key not in _SEARCHED:
        best, best_cycles = current, command_cycles(op, shape, target, weights, weight_bytes, scale_bytes, current,
                                                    True, plain)  # fmt: skip
        for block in candidate_blocks(search_input(shape, target), target):
            if block[2] != current[2] or block == current:
                continue
            cycles = command_cycles(op, shape, target, weights, weight_bytes, scale_bytes, block, True, plain)
            if cycles < best_cycles:
                best, best_cycles = block, cycles
        _SEARCHED[key] = best
    return _SEARCHED[key]


_SEARCHED: dict[tuple, tuple[int, int, int]] = {}
"""`fastest_block`'s searches, by their arguments."""


def _qualifies(func: FuncOp, op: Operation, target: Target) -> bool:
    """An NPU layer of `LAYERS` computing its whole OFM, outside any cascade, its maps in the arena memory."""
    if not isinstance(op, LAYERS) or not computes_on_npu(op) or CASCADE_ATTR in op.attributes or in_stripes(op):
        return False
    return all(value_memory(func, value) == target.arena_memory for value in (op.operands[0], op.results[0]))


def _weights(op: Operation, target: Target) -> tuple[Memory | None, int, int] | None:
    """Where `op` reads its weights and scale/bias table from and their bytes: (None, 0, 0) without
    weights; None when it reads them otherwise than whole (in OFM-depth slices) or not as constants."""
    if not isinstance(op, WEIGHTED_OPS):
        return None, 0, 0
    weights, bias = op.operands[WEIGHTS_OPERAND], op.operands[BIAS_OPERAND]
    if isinstance(weights.owner, StageOp) and SLOTS_ATTR not in weights.owner.attributes:
        memory, weights = target.staging_memory, weights.owner.operands[0]
        bias = bias.owner.operands[0] if isinstance(bias.owner, StageOp) else bias
    elif isinstance(weights.owner, ConstantOp):
        memory = target.weights_memory
    else:
        return None
    if not isinstance(weights.owner, ConstantOp) or not isinstance(bias.owner, ConstantOp):
        return None
    return target.memory(memory), buffer_bytes(weights, target), buffer_bytes(bias, target)
