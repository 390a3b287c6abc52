"""npu-schedule: fix the op order, stage weights for the NPU and assign memories."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.dialects.common import LAYER_ATTR
from npuc.dialects.npu import BLOCK_ATTR, MEMORY_ATTR, PLACEMENT_ATTR, StageOp
from npuc.dialects.quantized import ConstantOp, DequantizeOp
from npuc.ir import arg_attributes
from npuc.planning import (
    CPU,
    NPU,
    buffers,
    WEIGHTED_OPS,
    aliases_input,
    computes_on_npu,
    describe,
    is_host_conversion,
    layer_ops,
    main_or_fail,
    memory_of,
    placement,
    require,
    set_arg_attribute,
    target_or_fail,
)
from npuc.targets import Target


@dataclass(frozen=True)
class SchedulePass(ModulePass):
    """Keep `@main`'s op order as the schedule, stage NPU weights, set `npu.memory`.

    The order is checked to be topological. Every constant weights operand of
    an NPU conv, depthwise conv or fully connected op is copied into the
    target's staging memory by an `npu.stage` op (carrying the consumer's
    `layer`), which the consumer then reads. The stage is issued before the
    NPU op preceding its consumer when the staging memory can hold both
    layers' weights (double buffering, see `hoist_stage`), so the DMA overlaps
    that op's compute; otherwise right before its consumer.
    `npu.memory` is set on every op whose result is held in memory: constants
    in the weights memory, stage ops in the staging memory, layer results and
    host-written quantize results in the arena, an NPU reshape in its input's
    memory (it aliases the input's buffer). Function arguments get the arena
    as argument attribute, except float arguments only the host reads (to
    quantize them); likewise host dequantize results stay in host memory.

    Assumes npu-legalize and npu-tile have run.
    """

    name = "npu-schedule"

    target: str = "ethos-u55-128"
    """Built-in target name or path of a target TOML file."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = target_or_fail(self.target, self.name)
        schedule(main_or_fail(op, self.name), target)


def schedule(func: FuncOp, target: Target) -> None:
    """Check, stage and assign memories to the ops of `func` for `target`."""
    check_preconditions(func)
    check_topological(func)
    for op in list(layer_ops(func)):
        if isinstance(op, WEIGHTED_OPS) and placement(op) == NPU:
            stage_weights(op, target.staging_memory)
    assign_memories(func, target)
    for stage in [op for op in func.body.ops if isinstance(op, StageOp)]:
        hoist_stage(func, stage, target)


def hoist_stage(func: FuncOp, stage: StageOp, target: Target) -> None:
    """Move `stage` (and its constant if it comes later) before the NPU compute op preceding its consumer.

    The copy then runs while that op computes (Vela's weight double
    buffering): its buffer is live across the op, so the allocator keeps it
    apart from the buffers the op reads. It is moved only if, at every
    position its live range grows over, the bytes live in the staging memory
    (each rounded up to the target's alignment) plus its own still fit.
    """
    ops = list(func.body.ops)
    position = ops.index(stage)
    previous = next(
        (i for i in range(position - 1, -1, -1) if computes_on_npu(ops[i]) or placement(ops[i]) == CPU), None
    )
    if previous is None or not computes_on_npu(ops[previous]):
        return
    found, holder = buffers(func)
    own = holder[stage.output]
    size = target.memory(own.memory).size
    aligned = lambda b: -(-b.size // target.alignment) * target.alignment  # noqa: E731
    for point in range(previous, position):
        live = sum(aligned(b) for b in found if b.memory == own.memory and b.start <= point <= b.end and b is not own)
        if live + aligned(own) > size:
            return
    weights = stage.input.owner
    if isinstance(weights, ConstantOp) and ops.index(weights) > previous:
        weights.detach()  # a constant reads nothing and lives for the whole program
        func.body.block.insert_op_before(weights, ops[previous])
    stage.detach()
    func.body.block.insert_op_before(stage, ops[previous])


def check_preconditions(func: FuncOp) -> None:
    """Every layer op is placed and every NPU op with an OFM has a block."""
    for op in layer_ops(func):
        require(op, PLACEMENT_ATTR, "npu-legalize", SchedulePass.name)
        if computes_on_npu(op):
            require(op, BLOCK_ATTR, "npu-tile", SchedulePass.name)


def check_topological(func: FuncOp) -> None:
    """Fail if an op of `func` reads a value that no earlier op defines."""
    defined: set[SSAValue] = set(func.body.block.args)
    for op in func.body.ops:
        for operand in op.operands:
            if operand not in defined:
                raise PassFailedException(
                    f"npu-schedule: {describe(op)} reads a value defined after it"
                )
        defined.update(op.results)


def stage_weights(op: Operation, staging_memory: str) -> None:
    """Insert `npu.stage` of `op`'s constant weights right before `op`; `op` reads it."""
    weights = op.operands[1]
    if not isinstance(weights.owner, ConstantOp):
        return
    stage = StageOp(weights, staging_memory)
    if LAYER_ATTR in op.attributes:
        stage.attributes[LAYER_ATTR] = op.attributes[LAYER_ATTR]
    op.parent_block().insert_op_before(stage, op)  # type: ignore[union-attr]
    op.operands[1] = stage.output


def assign_memories(func: FuncOp, target: Target) -> None:
    """Set `npu.memory` on args and ops whose values are held in memory."""
    for index, arg in enumerate(func.body.block.args):
        if not all(is_host_conversion(use.operation) for use in arg.uses):
            set_arg_attribute(func, index, MEMORY_ATTR, StringAttr(target.arena_memory))
    for op in func.body.ops:
        memory = op_memory(func, op, target)
        if memory is not None:
            op.attributes[MEMORY_ATTR] = StringAttr(memory)


def op_memory(func: FuncOp, op: Operation, target: Target) -> str | None:
    """The memory holding `op`'s result, or None if it is not held in NPU memory."""
    if isinstance(op, ConstantOp):
        return target.weights_memory
    if isinstance(op, StageOp):
        return op.memory.data
    if not op.results or (isinstance(op, DequantizeOp) and is_host_conversion(op)):
        return None
    if aliases_input(op):
        return value_memory(func, op.operands[0]) or target.arena_memory
    return target.arena_memory


def value_memory(func: FuncOp, value: SSAValue) -> str | None:
    """The `npu.memory` already assigned to `value` (op result or argument)."""
    owner = value.owner
    if isinstance(owner, Operation):
        return memory_of(owner.attributes)
    return memory_of(arg_attributes(func)[value.index])  # type: ignore[attr-defined]
