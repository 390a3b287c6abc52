"""npu-schedule: fix the op order, stage weights for the NPU and assign memories."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from xdsl.context import Context
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.dialects.func import FuncOp
from xdsl.ir import BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.allocation import LiveRange, bytes_per_position, peak_live_bytes
from npuc.backend.allocation import fits as allocation_fits
from npuc.backend.budget import PERFORMANCE, SIZE, optimise_goal
from npuc.backend.cascade_search import choose_cascades
from npuc.backend.operators import WEIGHTED_OPS
from npuc.backend.planning import (
    CPU,
    NPU,
    Buffer,
    buffers,
    computes_on_npu,
    describe,
    is_host_conversion,
    layer_ops,
    main_or_fail,
    memory_of,
    moves_no_data,
    placement,
    require,
    scratch_bytes,
    scratch_name,
    set_arg_attribute,
    staging_arena,
    target_or_fail,
    tensor_hwc,
)
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND
from npuc.backend.weight_staging import (
    PAYS,
    SLOT_COUNTS,
    WHOLE,
    Plan,
    Slicing,
    StagingPlans,
    can_slice,
    slice_depths,
    staged_layers,
    staging_rule,
)
from npuc.dialects.common import LAYER_ATTR, array_values
from npuc.dialects.npu import (
    BLOCK_ATTR,
    CASCADE_ATTR,
    MEMORY_ATTR,
    PLACEMENT_ATTR,
    SCRATCH_MEMORY_ATTR,
    SLOTS_ATTR,
    STRIPE_ATTR,
    StageOp,
    block_attr,
)
from npuc.dialects.quantized import (
    ConcatOp,
    ConstantOp,
    DequantizeOp,
    FullyConnectedOp,
    quant_type,
)
from npuc.errors import NpucError
from npuc.ir import arg_attributes
from npuc.targets import Memory, Target

T = TypeVar("T")


@dataclass(frozen=True)
class SchedulePass(ModulePass):
    """Keep `@main`'s op order as the schedule, stage NPU weights, set `npu.memory`.

    The order is checked to be topological. `npu.memory` is set on every op
    whose result is held in memory: constants in the weights memory, layer
    results and host-written quantize results in the arena, an NPU reshape
    in its input's memory (it aliases the input's buffer). Function
    arguments get the arena as argument attribute, except float arguments
    only the host reads (to quantize them); likewise host dequantize results
    stay in host memory. An op that needs scratch (an NPU softmax) gets
    `npu.scratch_memory`, the arena.

    Then three steps use the staging memory, each only as far as the
    staging memory can still place every buffer it holds (checked with
    npu-allocate's own allocator, `fits`, so npu-allocate never fails
    because of them):
    1. the constant weights of every NPU conv, depthwise conv or fully
       connected op, with its scale/bias table, are copied into the staging
       memory by `npu.stage` ops (carrying the consumer's `layer`) right
       before the consumer, which reads the copies (`stage_weights_that_fit`),
       where staging makes the consumer end earlier (`weight_staging=pays`,
       `npuc.backend.weight_staging`; with `fits`, wherever they fit, as
       Vela does) and always for a cascade's ops (each stripe reads the
       weights again); weights that do not fit are read where they are
       stored, and so are those of a fully connected op whose OFM is one
       block position: it reads its weights once, so a copy would only add
       its time (Vela's weight-buffering rule, `reads_weights_once`). With
       `weight_slices` a copy may be of OFM-depth slices through slots
       (`npu.slots` on the stages, the slices' depth in the op's
       `npu.stripe`; docs/ir.md "Weight slices") where the whole copy does
       not fit, and under a budget where that lowers the staging memory's
       peak for at most `SLICING_SLACK` of the layer's time (`shrink_peak`);
    2. each stage moves before the NPU op preceding its consumer, so the
       copy overlaps that op's compute (double buffering, `hoist_stages`);
    3. feature maps that only NPU commands write and read move from the
       arena into the staging memory (`keep_in_staging`), as Vela keeps
       intermediates in its fast "cache" memory. With the staging memory
       being the arena memory (Shared_Sram), nothing moves.

    Before them, chains of ops are cascaded (`npuc.backend.cascade_search`):
    under `performance` when the whole feature maps do not fit the budget.

    The staging memory's size is the memory budget when the target has one
    (`Target.arena_cache_size`). With `optimise=size` every chain is
    cascaded for the smallest arena, and of the three steps only the first
    runs, for the ops of cascades and only as far as the staging memory's
    arena does not grow (`staging_arena`): other weights are read where
    they are stored and feature maps stay in the arena
    (`npuc.backend.budget`).

    Assumes npu-legalize and npu-tile have run.
    """

    name = "npu-schedule"

    target: str = "ethos-u55-128"
    """Built-in target name or path of a target TOML file."""

    optimise: str = PERFORMANCE
    """`performance` (default): the fastest schedule that fits; `size`: the least staging memory."""

    weight_staging: str = PAYS
    """`pays` (default): stage a layer's weights where that makes it end earlier; `fits`: wherever they fit."""

    weight_slices: bool = True
    """Stream weights in OFM-depth slices through slots of the staging memory where the whole copy does not
    fit, and under a budget where that lowers the staging memory's peak (`npuc.backend.weight_staging`)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = target_or_fail(self.target, self.name)
        try:
            goal, rule = optimise_goal(self.optimise), staging_rule(self.weight_staging)
        except NpucError as error:
            raise PassFailedException(f"{self.name}: {error}") from None
        schedule(main_or_fail(op, self.name), target, goal, rule, self.weight_slices)


def schedule(
    func: FuncOp, target: Target, optimise: str = PERFORMANCE, weight_staging: str = PAYS, weight_slices: bool = True
) -> None:
    """Check, stage and assign memories to the ops of `func` for `target`, towards goal `optimise`, staging
    weights by rule `weight_staging` (`npuc.backend.weight_staging`), in OFM-depth slices with
    `weight_slices`."""
    check_preconditions(func)
    check_topological(func)
    assign_memories(func, target)
    choose_cascades(func, target, optimise)
    sizes: dict[SSAValue, int] = {}  # buffer sizes, unchanged by staging and moving (`buffers`)
    if optimise == SIZE:
        stage_weights_that_fit(func, target, sizes, cascades_only=True, capacity=staging_arena(func, target, sizes))
        return
    thriftier = stage_weights_that_fit(func, target, sizes, pays_only=weight_staging == PAYS, slices=weight_slices)
    hoist_stages(func, target, sizes)
    shrink_peak(func, target, sizes, thriftier)
    keep_in_staging(func, target, sizes)


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


def peak_positions(ranges: Sequence[LiveRange]) -> list[int]:
    """The schedule positions where the most bytes of `ranges` are live."""
    if not ranges:
        return []
    first = min(live_range.start for live_range in ranges)
    live = bytes_per_position(ranges, max(live_range.end for live_range in ranges) - first + 1, first)
    most = max(live)
    return [first + index for index, size in enumerate(live) if size == most]


def reads_weights_once(op: Operation) -> bool:
    """Whether `op` is a fully connected op whose OFM is one block position (height and width within its
    `npu.block`): it reads its weights once, so Vela (Regor's ProposeWeightBuffering) leaves them in place."""
    if not isinstance(op, FullyConnectedOp):
        return False
    block = require(op, BLOCK_ATTR, "npu-tile", SchedulePass.name)
    assert isinstance(block, DenseArrayBase)
    height, width, _ = tensor_hwc(op.results[0])
    block_height, block_width, _ = array_values(block)
    return height <= block_height and width <= block_width


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


def unstage_all(stages: list[StageOp]) -> None:
    """Remove every stage of `stages` (`unstage`)."""
    for stage in stages:
        unstage(stage)


def unstage(stage: StageOp) -> None:
    """Remove `stage`: its consumer reads the stored weights again."""
    for use in list(stage.output.uses):
        use.operation.operands[use.index] = stage.input
    stage.detach()
    stage.erase()


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


def move_before(func: FuncOp, stage: StageOp, before: Operation, later: bool) -> None:
    """Move `stage` before the op `before`, and its constant with it if that comes `later` than `before`
    (a constant reads nothing and lives for the whole program)."""
    weights = stage.input.owner
    for op in [weights, stage] if isinstance(weights, ConstantOp) and later else [stage]:
        op.detach()
        func.body.block.insert_op_before(op, before)


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


def npu_only(value: SSAValue) -> bool:
    """Whether only NPU commands write `value` and read it (an NPU reshape, concat or split counts as both)."""

    def on_npu(op: Operation) -> bool:
        return computes_on_npu(op) or moves_no_data(op)

    return isinstance(value.owner, Operation) and on_npu(value.owner) and all(on_npu(use.operation) for use in value.uses)


def fits(found: list[Buffer], memory: Memory, alignment: int, capacity: int | None = None) -> bool:
    """Whether npu-allocate can place the buffers of `found` that live in `memory` (within `capacity`
    bytes of it, if given)."""
    ranges = [b.live_range() for b in found if b.memory == memory.name]
    return allocation_fits(ranges, alignment, memory.size if capacity is None else min(capacity, memory.size))


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
    unstage_all(stages)
    if sliced:
        op.attributes[STRIPE_ATTR] = block_attr(tensor_hwc(op.results[0]))
        forget_sizes(op, sizes)


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


def assign_memories(func: FuncOp, target: Target) -> None:
    """Set `npu.memory` on args and ops whose values are held in memory."""
    for index, arg in enumerate(func.body.block.args):
        if quant_type(arg) is not None or not all(is_host_conversion(use.operation) for use in arg.uses):
            set_arg_attribute(func, index, MEMORY_ATTR, StringAttr(target.arena_memory))
    for op in func.body.ops:
        memory = op_memory(func, op, target)
        if memory is not None:
            op.attributes[MEMORY_ATTR] = StringAttr(memory)
        if scratch_bytes(op):
            op.attributes[SCRATCH_MEMORY_ATTR] = StringAttr(target.arena_memory)


def op_memory(func: FuncOp, op: Operation, target: Target) -> str | None:
    """The memory holding `op`'s result, or None if it is not held in NPU memory."""
    if isinstance(op, ConstantOp):
        return target.weights_memory
    if not op.results or (isinstance(op, DequantizeOp) and is_host_conversion(op)):
        return None
    if moves_no_data(op):
        # Reshape and split results live in their input's buffer; an NPU
        # concat's buffer is the one its first computed input's producer
        # writes (a DMA copies a constant input into it).
        held = list(op.operands)
        if isinstance(op, ConcatOp):
            held = [value for value in op.operands if not isinstance(value.owner, ConstantOp)]
        return (value_memory(func, held[0]) if held else None) or target.arena_memory
    return target.arena_memory


def value_memory(func: FuncOp, value: SSAValue) -> str | None:
    """The `npu.memory` already assigned to `value` (op result or argument)."""
    if isinstance(value, BlockArgument):
        return memory_of(arg_attributes(func)[value.index])
    assert isinstance(value.owner, Operation)
    return memory_of(value.owner.attributes)
