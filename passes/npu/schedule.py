"""npu-schedule: fix the op order, stage weights for the NPU and assign memories."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.budget import PERFORMANCE, SIZE, optimise_goal
from npuc.backend.cascade_search import choose_cascades
from npuc.backend.fastest_blocks import fastest_blocks
from npuc.backend.planning import (
    computes_on_npu,
    describe,
    is_host_conversion,
    layer_ops,
    main_or_fail,
    moves_no_data,
    require,
    scratch_bytes,
    set_arg_attribute,
    staging_arena,
    target_or_fail,
    value_memory,
)
from npuc.backend.staging_memory import (
    hoist_stages,
    keep_in_staging,
    shrink_peak,
    stage_weights_that_fit,
)
from npuc.backend.weight_staging import PAYS, staging_rule
from npuc.dialects.npu import (
    BLOCK_ATTR,
    MEMORY_ATTR,
    PLACEMENT_ATTR,
    SCRATCH_MEMORY_ATTR,
)
from npuc.dialects.quantized import ConcatOp, ConstantOp, DequantizeOp, quant_type
from npuc.errors import NpucError
from npuc.targets import Target


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

    Then three steps use the staging memory (`npuc.backend.staging_memory`),
    each only as far as the staging memory can still place every buffer it
    holds (checked with
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

    Last, each layer computing its whole OFM outside a cascade, with its
    maps in the arena, gets the block of npu-tile's block depth that the
    cost model prices fastest now that its weights' memory is known
    (`npuc.backend.fastest_blocks`; npu-tile's is Vela's search, which
    weighs fetched bytes, not cycles), unless `vela-blocks`.

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

    vela_blocks: bool = False
    """Keep npu-tile's blocks (Vela's search) for every layer, as Vela computes: the Vela comparisons do."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = target_or_fail(self.target, self.name)
        try:
            goal, rule = optimise_goal(self.optimise), staging_rule(self.weight_staging)
        except NpucError as error:
            raise PassFailedException(f"{self.name}: {error}") from None
        schedule(main_or_fail(op, self.name), target, goal, rule, self.weight_slices, self.vela_blocks)


def schedule(
    func: FuncOp,
    target: Target,
    optimise: str = PERFORMANCE,
    weight_staging: str = PAYS,
    weight_slices: bool = True,
    vela_blocks: bool = False,
) -> None:
    """Check, stage and assign memories to the ops of `func` for `target`, towards goal `optimise`, staging
    weights by rule `weight_staging` (`npuc.backend.weight_staging`), in OFM-depth slices with
    `weight_slices`; then give each whole-OFM layer the fastest block (`npuc.backend.fastest_blocks`)
    unless `vela_blocks`."""
    check_preconditions(func)
    check_topological(func)
    assign_memories(func, target)
    choose_cascades(func, target, optimise)
    sizes: dict[SSAValue, int] = {}  # buffer sizes, unchanged by staging and moving (`buffers`)
    if optimise == SIZE:
        stage_weights_that_fit(func, target, sizes, cascades_only=True, capacity=staging_arena(func, target, sizes))
    else:
        thriftier = stage_weights_that_fit(func, target, sizes, pays_only=weight_staging == PAYS, slices=weight_slices)
        hoist_stages(func, target, sizes)
        shrink_peak(func, target, sizes, thriftier)
        keep_in_staging(func, target, sizes)
    if not vela_blocks:
        fastest_blocks(func, target)


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

