"""What npu-schedule puts in the staging memory, as far as npu-allocate can still place it.

The staging memory is the fast one a layer's weight copies go to (and,
when it is not the arena's memory, NPU-only feature maps). Each step fills
it only while every buffer it holds still fits (`fits`, npu-allocate's own
allocator, so npu-allocate never fails because of them): all candidates at
once if they fit together, otherwise one by one (`place_all_or_each`).
The steps, in npu-schedule's order: stage the weights of the layers that
pay for it (`stage_weights_that_fit`), hoist each copy over the NPU op
before its layer so that it overlaps that op's compute (`hoist_stages`),
under a budget trade copies for thriftier OFM-depth slicings where that
lowers the staging memory's peak (`shrink_peak`), and move NPU-only
feature maps from the arena into the staging memory (`keep_in_staging`).
The stages themselves are edited by `npuc.backend.stages`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from xdsl.dialects.builtin import DenseArrayBase, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue

from npuc.backend.allocation import LiveRange, bytes_per_position, peak_live_bytes
from npuc.backend.allocation import fits as allocation_fits
from npuc.backend.operators import WEIGHTED_OPS
from npuc.backend.planning import (
    CPU,
    NPU,
    Buffer,
    buffers,
    computes_on_npu,
    layer_ops,
    npu_only,
    placement,
    require,
    scratch_name,
    tensor_hwc,
)
from npuc.backend.stages import move_before, restage, stage_weights, unstage_layer
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND
from npuc.backend.weight_staging import (
    SLOT_COUNTS,
    WHOLE,
    Plan,
    Slicing,
    StagingPlans,
    can_slice,
    slice_depths,
    staged_layers,
)
from npuc.dialects.common import array_values
from npuc.dialects.npu import (
    BLOCK_ATTR,
    CASCADE_ATTR,
    MEMORY_ATTR,
    SCRATCH_MEMORY_ATTR,
    StageOp,
)
from npuc.dialects.quantized import ConstantOp, FullyConnectedOp
from npuc.targets import Memory, Target

T = TypeVar("T")

PASS = "npu-schedule"
"""The pass these steps are part of, which their errors name."""


def stage_weights_that_fit(
    func: FuncOp,
    target: Target,
    sizes: dict[SSAValue, int] | None = None,
    cascades_only: bool = False,
    capacity: int | None = None,
    pays_only: bool = False,
    slices: bool = False,
) -> dict[Operation, tuple[Plan, Plan]]:
    """Stage the constant weights of every NPU weighted op (of cascades only, with `cascades_only`; of
    cascades and ops whose staging pays, `staged_layers`, with `pays_only`) that the staging memory can
    place (within `capacity` bytes of it, if given).

    All are staged if they fit together; otherwise they are staged one by
    one, the ops of cascades first (each of their stripes reads the
    weights again: unstaged, from where they are stored), then in schedule
    order, each kept if the staging memory can still place every buffer it
    holds (`fits`). An unstaged op reads its weights where they are stored.
    With `slices`, one whose whole copy does not fit is then tried in
    OFM-depth slices: the slicings `staged_layers` found faster than reading
    in place, fastest first (with `fits`, every slicing, deepest first and
    double-buffered), the first that fits kept.

    Returns, under a memory budget, the staged layers with a thriftier
    plan than the one staged (op -> (staged plan, thriftier plan),
    `staged_layers`' `thrifty`), for `shrink_peak`.
    """
    staging = target.memory(target.staging_memory)
    memo: dict[SSAValue, int] = {} if sizes is None else sizes
    candidates = [
        op for op in layer_ops(func)
        if isinstance(op, WEIGHTED_OPS) and placement(op) == NPU and isinstance(op.operands[1].owner, ConstantOp)
        and not reads_weights_once(op) and (CASCADE_ATTR in op.attributes or not cascades_only)
    ]  # fmt: skip
    plans: dict[Operation, Plan] = dict.fromkeys(candidates, WHOLE)
    decided = StagingPlans()
    if pays_only:
        decided = staged_layers(list(func.body.ops), set(candidates), target, memo, slicing=slices)
        candidates = [op for op in candidates if CASCADE_ATTR in op.attributes or op in decided.plans]
        plans.update(decided.plans)
    consumers = sorted(candidates, key=lambda op: CASCADE_ATTR not in op.attributes)
    stages: dict[Operation, list[StageOp]] = {}

    def place(op: Operation) -> None:
        stages[op] = stage_weights(op, staging.name, plans[op], memo)

    def unplace(op: Operation) -> None:
        unstage_layer(op, stages.pop(op), memo)

    def fits_now() -> bool:
        return fits(buffers(func, target, memo)[0], staging, target.alignment, capacity)

    place_all_or_each(consumers, place, unplace, fits_now)
    if not slices:
        return {}
    for op in consumers:
        if op in stages or not can_slice(op, target):
            continue
        fallbacks = decided.fallbacks.get(op, [Slicing(depth, SLOT_COUNTS[0]) for depth in slice_depths(op, target, None)])
        for plan in fallbacks:
            plans[op] = plan
            place(op)
            if fits_now():
                break
            unplace(op)
    if target.arena_cache_size is None:
        return {}
    return {op: (plans[op], plan) for op, plan in decided.thrifty.items() if op in stages and plans[op] != plan}


def reads_weights_once(op: Operation) -> bool:
    """Whether `op` is a fully connected op whose OFM is one block position (height and width within its
    `npu.block`): it reads its weights once, so Vela (Regor's ProposeWeightBuffering) leaves them in place."""
    if not isinstance(op, FullyConnectedOp):
        return False
    block = require(op, BLOCK_ATTR, "npu-tile", PASS)
    assert isinstance(block, DenseArrayBase)
    height, width, _ = tensor_hwc(op.results[0])
    block_height, block_width, _ = array_values(block)
    return height <= block_height and width <= block_width


def shrink_peak(
    func: FuncOp, target: Target, sizes: dict[SSAValue, int], alternatives: dict[Operation, tuple[Plan, Plan]]
) -> None:
    """Stage layers by their thriftier plan (`alternatives`: op -> (its plan, the thriftier one),
    `stage_weights_that_fit`) where that lowers the staging memory's peak of live bytes
    (`peak_live_bytes`, the bound npu-allocate places at), their copies kept where they are (`restage`).

    Only layers whose copies are live where the peak is can lower it: each
    such layer is tried in turn, kept if the staging memory still places
    everything (`fits`) and the peak fell, until none of them lowers it.
    """
    staging = target.memory(target.staging_memory)
    alternatives = dict(alternatives)
    while alternatives:
        found, holder = buffers(func, target, sizes)
        ranges = [buffer.live_range() for buffer in found if buffer.memory == staging.name]
        peak = peak_live_bytes(ranges, target.alignment)
        at_peak = peak_positions(ranges)
        tried = [
            op for op in alternatives
            if any(isinstance(value.owner, StageOp) and value in holder
                   and any(holder[value].start <= position <= holder[value].end for position in at_peak)
                   for value in (op.operands[WEIGHTS_OPERAND], op.operands[BIAS_OPERAND]))
        ]  # fmt: skip
        lowered = False
        for op in tried:
            plan, thriftier = alternatives.pop(op)
            stages = restage(func, op, thriftier, staging.name, sizes)
            if lowers_peak(func, target, sizes, peak):
                lowered = True
                hoist_restaged(func, target, sizes, op, stages, peak)
                break
            restage(func, op, plan, staging.name, sizes)
        if not lowered:
            return


def lowers_peak(func: FuncOp, target: Target, sizes: dict[SSAValue, int], peak: int) -> bool:
    """Whether the staging memory's buffers now live below `peak` bytes at their peak and still fit it."""
    staging = target.memory(target.staging_memory)
    found = buffers(func, target, sizes)[0]
    ranges = [buffer.live_range() for buffer in found if buffer.memory == staging.name]
    return peak_live_bytes(ranges, target.alignment) < peak and fits(found, staging, target.alignment)


def hoist_restaged(
    func: FuncOp, target: Target, sizes: dict[SSAValue, int], op: Operation, stages: list[StageOp], peak: int
) -> None:
    """Move the `stages` `restage` left right before `op` over the NPU op before it (as `hoist_stages`
    does), if the peak stays below `peak` bytes and everything still fits."""
    ops = list(func.body.ops)
    position = ops.index(stages[0])
    before = npu_op_before(ops, position)
    if before is None or stages[-1].next_op is not op:
        return
    for stage in stages:
        move_before(func, stage, before, later=False)
    if not lowers_peak(func, target, sizes, peak):
        for stage in stages:
            move_before(func, stage, op, later=False)


def peak_positions(ranges: Sequence[LiveRange]) -> list[int]:
    """The schedule positions where the most bytes of `ranges` are live."""
    if not ranges:
        return []
    first = min(live_range.start for live_range in ranges)
    live = bytes_per_position(ranges, max(live_range.end for live_range in ranges) - first + 1, first)
    most = max(live)
    return [first + index for index, size in enumerate(live) if size == most]


def hoist_stages(func: FuncOp, target: Target, sizes: dict[SSAValue, int] | None = None) -> None:
    """Move each `npu.stage` (and its constant if it comes later) before the NPU compute op preceding its
    consumer, as far as the staging memory can still place all its buffers (`fits`).

    The copy then runs while that op computes (Vela's weight double
    buffering): its buffer is live across the op, so the allocator keeps it
    apart from the buffers the op reads. All stages move if they fit
    together; otherwise one by one in program order, each kept if it still
    fits. The buffers are listed once: a move only makes its stage's buffer
    live from the op it moves above (the other ops keep their order), so
    each fit check is one allocation, not a walk of the function.
    """
    ops = list(func.body.ops)
    positions = {op: index for index, op in enumerate(ops)}
    moves = [
        (stage, before) for stage in ops
        if isinstance(stage, StageOp) and (before := npu_op_before(ops, positions[stage])) is not None
    ]  # fmt: skip
    if not moves:
        return
    found, holder = buffers(func, target, sizes)
    staging = target.memory(target.staging_memory)
    starts = {stage: holder[stage.output].start for stage, _ in moves}

    def place(move: tuple[StageOp, Operation]) -> None:
        holder[move[0].output].start = positions[move[1]]

    def unplace(move: tuple[StageOp, Operation]) -> None:
        holder[move[0].output].start = starts[move[0]]

    place_all_or_each(moves, place, unplace, fits_now=lambda: fits(found, staging, target.alignment))
    for stage, before in moves:
        if holder[stage.output].start == positions[before]:
            weights = stage.input.owner
            later = isinstance(weights, ConstantOp) and positions[weights] > positions[before]
            move_before(func, stage, before, later)


def npu_op_before(ops: Sequence[Operation], position: int) -> Operation | None:
    """The op computing on the NPU last before `ops[position]`, None if a CPU operation or nothing comes
    between: a copy issued before it runs while it computes."""
    for index in range(position - 1, -1, -1):
        op = ops[index]
        if computes_on_npu(op):
            return op
        if placement(op) == CPU:
            return None
    return None


def keep_in_staging(func: FuncOp, target: Target, sizes: dict[SSAValue, int] | None = None) -> None:
    """Move NPU-only feature maps from the arena to the staging memory while it can place them.

    A buffer qualifies if NPU commands are all that write and read it (an NPU
    reshape, concat or split counts as both; `npu_only`): the host and CPU
    operations only see the arena. So does an NPU op's scratch
    (`npu.scratch_memory`). All qualifying buffers move at once if they fit;
    otherwise they are tried one by one in schedule order, each kept if the
    staging memory can still place every buffer it holds (`fits`).
    """
    if target.staging_memory == target.arena_memory:
        return
    staging = target.memory(target.staging_memory)
    found, holder = buffers(func, target, sizes)
    held: dict[int, list[SSAValue]] = {}
    for value, buffer in holder.items():
        held.setdefault(id(buffer), []).append(value)
    scratch_owners = {scratch_name(op, position): op for position, op in enumerate(func.body.ops)}
    candidates = [
        b for b in found
        if b.memory == target.arena_memory and all(npu_only(v) for v in held.get(id(b), []))
    ]
    place_all_or_each(
        candidates,
        place=lambda buffer: setattr(buffer, "memory", staging.name),
        unplace=lambda buffer: setattr(buffer, "memory", target.arena_memory),
        fits_now=lambda: fits(found, staging, target.alignment),
    )
    for buffer in candidates:
        for value in held.get(id(buffer), []):
            assert isinstance(value.owner, Operation), "npu_only values are op results"
            value.owner.attributes[MEMORY_ATTR] = StringAttr(buffer.memory)
        if buffer.name in scratch_owners:
            scratch_owners[buffer.name].attributes[SCRATCH_MEMORY_ATTR] = StringAttr(buffer.memory)


def place_all_or_each(
    candidates: Sequence[T],
    place: Callable[[T], None],
    unplace: Callable[[T], None],
    fits_now: Callable[[], bool],
) -> None:
    """Place every candidate; if that does not fit, undo and place them one by one, keeping each that fits."""
    for candidate in candidates:
        place(candidate)
    if fits_now():
        return
    for candidate in candidates:
        unplace(candidate)
    for candidate in candidates:
        place(candidate)
        if not fits_now():
            unplace(candidate)


def fits(found: list[Buffer], memory: Memory, alignment: int, capacity: int | None = None) -> bool:
    """Whether npu-allocate can place the buffers of `found` that live in `memory` (within `capacity`
    bytes of it, if given)."""
    ranges = [b.live_range() for b in found if b.memory == memory.name]
    return allocation_fits(ranges, alignment, memory.size if capacity is None else min(capacity, memory.size))
