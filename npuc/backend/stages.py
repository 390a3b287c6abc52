"""Weight stages: the `npu.stage` ops that copy a layer's constant weights into the staging memory.

A stage copies one constant (a layer's weights, or its bias: the
scale/bias table) right before the layer, which then reads the copy;
staged in OFM-depth slices (a `Plan` of `npuc.backend.weight_staging`), the
layer's `npu.stripe` is the slices' depth and each stage holds `npu.slots`
slots. npu-schedule inserts, removes and moves stages while it fills the
staging memory (`npuc.backend.staging_memory`); these are its edits of the
IR, each keeping the layer's reads and its remembered buffer sizes right.
"""

from __future__ import annotations

from xdsl.dialects.builtin import IntegerAttr, StringAttr, i64
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from npuc.backend.planning import tensor_hwc
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND
from npuc.backend.weight_staging import WHOLE, Plan
from npuc.dialects.common import LAYER_ATTR
from npuc.dialects.npu import MEMORY_ATTR, SLOTS_ATTR, STRIPE_ATTR, StageOp, block_attr
from npuc.dialects.quantized import ConstantOp


def stage_weights(
    op: Operation, staging_memory: str, plan: Plan = WHOLE, sizes: dict[SSAValue, int] | None = None
) -> list[StageOp]:
    """Insert an `npu.stage` of `op`'s constant weights, and of its constant bias (the scale/bias
    table), right before `op`; `op` reads the copies. Vela buffers the two together, so the
    table's per-block fetch pays the staging memory's latency, not the stored one's.

    Staged in OFM-depth slices (`plan`), `op`'s `npu.stripe` gets the
    slices' depth, which encodes its constants slice by slice, and each
    stage `npu.slots`, the slots its buffer holds (a slice's weights, or
    its scale records, each); the sizes `sizes` remembers of its constants
    are forgotten (they change).

    Returns the stages, their `npu.memory` set.
    """
    if plan is not None:
        height, width, _ = tensor_hwc(op.results[0])
        op.attributes[STRIPE_ATTR] = block_attr((height, width, plan.depth))
        forget_sizes(op, sizes)
    stages = []
    for operand in (BIAS_OPERAND, WEIGHTS_OPERAND):
        if not isinstance(op.operands[operand].owner, ConstantOp):
            continue
        stage = StageOp(op.operands[operand], staging_memory)
        if LAYER_ATTR in op.attributes:
            stage.attributes[LAYER_ATTR] = op.attributes[LAYER_ATTR]
        stage.attributes[MEMORY_ATTR] = StringAttr(staging_memory)
        if plan is not None:
            stage.attributes[SLOTS_ATTR] = IntegerAttr(plan.slots, i64)
        Rewriter.insert_op(stage, InsertPoint.before(op))
        op.operands[operand] = stage.output
        stages.append(stage)
    return stages


def unstage_layer(op: Operation, stages: list[StageOp], sizes: dict[SSAValue, int] | None = None) -> None:
    """Remove the `stages` of `op`'s constants (`unstage`); weights staged in slices are whole again (its
    `npu.stripe` the whole OFM, the sizes `sizes` remembers of its constants forgotten)."""
    sliced = any(SLOTS_ATTR in stage.attributes for stage in stages)
    for stage in stages:
        unstage(stage)
    if sliced:
        op.attributes[STRIPE_ATTR] = block_attr(tensor_hwc(op.results[0]))
        forget_sizes(op, sizes)


def unstage(stage: StageOp) -> None:
    """Remove `stage`: its consumer reads the stored weights again."""
    for use in list(stage.output.uses):
        use.operation.operands[use.index] = stage.input
    stage.detach()
    stage.erase()


def forget_sizes(op: Operation, sizes: dict[SSAValue, int] | None) -> None:
    """Drop the remembered sizes of `op`'s weights and bias (and of the constants they copy): its
    encoding changed."""
    if sizes is None:
        return
    for operand in (WEIGHTS_OPERAND, BIAS_OPERAND):
        value = op.operands[operand]
        sizes.pop(value, None)
        if isinstance(value.owner, StageOp):
            sizes.pop(value.owner.input, None)


def restage(func: FuncOp, op: Operation, plan: Plan, staging_memory: str, sizes: dict[SSAValue, int]) -> list[StageOp]:
    """Stage `op`'s weights by `plan` instead of as they are, the new copies where the old ones are (hoisted
    over the op before, or right before `op`); returns the new stages."""
    old = [value.owner for value in (op.operands[BIAS_OPERAND], op.operands[WEIGHTS_OPERAND])
           if isinstance(value.owner, StageOp)]  # fmt: skip
    anchor = old[-1].next_op
    while isinstance(anchor, (StageOp, ConstantOp)):
        anchor = anchor.next_op
    unstage_layer(op, old, sizes)
    stages = stage_weights(op, staging_memory, plan, sizes)
    if anchor is not op and anchor is not None:
        for stage in stages:
            move_before(func, stage, anchor, later=False)
    return stages


def move_before(func: FuncOp, stage: StageOp, before: Operation, later: bool) -> None:
    """Move `stage` before the op `before`, and its constant with it if that comes `later` than `before`
    (a constant reads nothing and lives for the whole program)."""
    weights = stage.input.owner
    for op in [weights, stage] if isinstance(weights, ConstantOp) and later else [stage]:
        op.detach()
        func.body.block.insert_op_before(op, before)
