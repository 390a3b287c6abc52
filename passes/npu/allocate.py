"""npu-allocate: give every buffer a byte offset in its memory, reusing dead space."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import (
    DenseArrayBase,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    i64,
)
from xdsl.dialects.func import FuncOp
from xdsl.ir import BlockArgument, Operation, OpResult
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.allocation import allocate, arena_size, check_placement
from npuc.backend.budget import budget_error
from npuc.backend.planning import (
    CPU,
    NPU,
    Buffer,
    buffers,
    layer_ops,
    main_or_fail,
    placement,
    require,
    scratch_name,
    set_arg_attribute,
    target_or_fail,
)
from npuc.dialects.npu import (
    MEMORY_ATTR,
    MEMORY_USAGE_ATTR,
    OFFSET_ATTR,
    SCRATCH_MEMORY_ATTR,
    SCRATCH_OFFSET_ATTR,
)
from npuc.errors import AllocationError
from npuc.targets import Memory, Target


@dataclass(frozen=True)
class AllocatePass(ModulePass):
    """Set `npu.offset` on every value npu-schedule put in a memory.

    Live ranges run in schedule order (op index in `@main`, see
    `npuc.backend.planning.buffers`); each memory is placed separately by
    `npuc.backend.allocation.allocate` with the target's alignment and the memory's
    size as capacity, so buffers that are never live at the same time share
    bytes (an op with several results gets `npu.offset = array<i64: ...>`, one
    per result). Constants live for the whole program and so get consecutive
    offsets. An op's scratch (in its `npu.scratch_memory`) lives only at
    the op and gets `npu.scratch_offset`. An NPU reshape gets its input's
    offset. The placement is then re-checked by
    `npuc.backend.allocation.check_placement`, and the bytes used per memory are
    recorded as module attribute `npu.memory_usage`.

    When the budgeted memory (`Target.arena_cache_size`) cannot hold its
    buffers, the failure names the layer at the schedule's fullest point
    and the bytes live there (`npuc.backend.budget.budget_error`, raised as
    the cause of the pass failure).

    Assumes npu-schedule has run (`npu.memory` set).
    """

    name = "npu-allocate"

    target: str = "ethos-u55-128"
    """Built-in target name or path of a target TOML file."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = target_or_fail(self.target, self.name)
        usage = allocate_module(main_or_fail(op, self.name), target)
        op.attributes[MEMORY_USAGE_ATTR] = DictionaryAttr(
            {memory: IntegerAttr(size, i64) for memory, size in usage.items()}
        )


def allocate_module(func: FuncOp, target: Target) -> dict[str, int]:
    """Place the buffers of `func` in the memories of `target`; bytes used per memory."""
    for op in layer_ops(func):
        if placement(op) in (NPU, CPU):
            require(op, MEMORY_ATTR, "npu-schedule", AllocatePass.name)
    found, holder = buffers(func, target)
    unknown = {b.memory for b in found} - {m.name for m in target.memories}
    if unknown:
        raise PassFailedException(
            f"npu-allocate: target {target.name} has no memory {', '.join(sorted(unknown))}"
        )
    offsets: dict[str, int] = {}
    usage: dict[str, int] = {}
    for memory in target.memories:
        resident = [b for b in found if b.memory == memory.name]
        try:
            placed = place(resident, memory, target.alignment)
        except PassFailedException:
            shortfall = budget_error(func, target) if memory.name == target.budget_memory else None
            if shortfall is None:
                raise
            raise PassFailedException(f"{AllocatePass.name}: {shortfall}") from shortfall
        offsets.update(placed)
        usage[memory.name] = arena_size([b.live_range() for b in resident], placed)
    result_offsets: dict[Operation, dict[int, int]] = {}
    for value, buffer in holder.items():
        if isinstance(value, BlockArgument):
            set_arg_attribute(func, value.index, OFFSET_ATTR, IntegerAttr(offsets[buffer.name], i64))
        else:
            assert isinstance(value, OpResult)
            result_offsets.setdefault(value.owner, {})[value.index] = offsets[buffer.name]
    for op, by_result in result_offsets.items():
        if len(op.results) == 1:
            op.attributes[OFFSET_ATTR] = IntegerAttr(by_result[0], i64)
        else:
            op.attributes[OFFSET_ATTR] = DenseArrayBase.from_list(i64, [by_result[i] for i in range(len(op.results))])
    for position, op in enumerate(func.body.ops):
        if SCRATCH_MEMORY_ATTR in op.attributes:
            op.attributes[SCRATCH_OFFSET_ATTR] = IntegerAttr(offsets[scratch_name(op, position)], i64)
    return usage


def place(resident: list[Buffer], memory: Memory, alignment: int) -> dict[str, int]:
    """Offsets of the buffers `resident` in `memory`, proven by `check_placement`."""
    ranges = [b.live_range() for b in resident]
    try:
        offsets = allocate(ranges, alignment, memory.size, memory.name)
        check_placement(ranges, offsets, memory.size, alignment, memory.name)
    except AllocationError as error:
        largest = max(resident, key=lambda b: b.size)
        raise PassFailedException(
            f"npu-allocate: {error} (largest buffer: {largest.name}, {largest.size} bytes)"
        ) from None
    return offsets
