"""Which chains of ops npu-schedule cascades, and at which stripe heights.

Candidates are chains (`chains`): runs of striped NPU ops (`STRIPED_OPS`,
batch one) consecutive in the schedule, each reading the previous one's
OFM, its only reader. A cascade of a segment of a chain keeps its
intermediates in rolling buffers (`npuc.backend.cascades`): it can need
less of the budgeted memory, for more cycles. What each segment costs, and
its options (the Pareto front of its memory and cycles over its ops'
stripe heights), are `npuc.backend.cascade_costs`'s.

The search is a dynamic program over each chain: the best plan of the first
k ops is the best, over every segment ending at op k (one op alone: no
cascade) and every option of it, of the best plan before the segment plus
the segment. `cheapest_plan` minimises estimated cycles among plans whose
segments all fit a capacity; `smallest_plan` minimises the largest segment
memory (cycles break ties). Under `performance` with a budget the baseline
schedule is kept when it fits, else each chain gets its cheapest plan
within a level no higher than the budget less `PLACEMENT_SLACK` (its
smallest when none fits), the lowest level at which the chains together
take at most `THRIFT` more cycles than at the capacity (`thrifty_plans`:
the peak falls where that costs least), and when
the plans placed together need more than the budget (their segment
estimates do not see the live ranges cascades stretch across each other),
the search runs again with the capacity less the excess (when even the
chains' smallest plans do not fit, it runs once more with every command
reading its weights where they are stored, as under `size`: staged weights
take budgeted memory, and Performance must not fail where Size fits, so
the schedule may then be far slower); under `size` the
capacity is the smallest the chains allow (the largest of their smallest
plans and of the memory outside them), and each chain gets its cheapest
plan within it: the smallest arena, as fast as it allows.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation

from npuc.backend.budget import SIZE
from npuc.backend.cascade_costs import (
    Baseline,
    Chain,
    ChainCosts,
    Segment,
    stripe_block,
)
from npuc.backend.cascades import Link, cascade_steps, op_link, rolling_rows
from npuc.backend.operators import STRIPED_OPS
from npuc.backend.planning import NPU, placement, staging_arena, tensor_hwc, window
from npuc.dialects.common import UNIT_WINDOW, value_shape
from npuc.dialects.npu import (
    BLOCK_ATTR,
    CASCADE_ATTR,
    ROLLING_ROWS_ATTR,
    STRIPE_ATTR,
    block_attr,
)
from npuc.dialects.quantized import ConstantOp
from npuc.targets import Target

PLACEMENT_SLACK = 0.03
"""The share of the budget the Performance search leaves free: its segment estimates do not see the weights
npu-schedule stages ahead of a segment, nor the allocator's distance from the peak-live bound; a plan
that fills the budget exactly leaves no room to stage the cascades' weights (MobileNetV2 at 512 KiB: 1.48x
the cycles at 0 %, Vela's cycles at 3 %)."""

THRIFT = 0.005
"""How many more cycles than their fastest plans within the capacity (a share of their cycles) the chains'
plans may take together to lower the highest of them (`thrifty_plans`)."""

MAX_SEGMENT = 12
"""Most ops in one cascade the search tries: it bounds the search's time (segments per chain grow with its square)."""


def chains(func: FuncOp) -> list[Chain]:
    """The candidate chains of `func`, each of at least two ops."""
    found: list[Chain] = []
    current: Chain | None = None
    for position, op in enumerate(func.body.ops):
        if isinstance(op, ConstantOp):
            continue
        if not _striped(op):
            current = None
        elif current is not None and _continues(current.ops[-1], op):
            current.ops.append(op)
            current.positions.append(position)
        else:
            current = Chain([op], [position])
            found.append(current)
    return [chain for chain in found if len(chain.ops) > 1]


def _striped(op: Operation) -> bool:
    """An NPU op that computes in height stripes, with a batch-one NHWC OFM."""
    if not isinstance(op, STRIPED_OPS) or placement(op) != NPU:
        return False
    shape = value_shape(op.results[0])
    return len(shape) == 4 and shape[0] == 1


def _continues(previous: Operation, op: Operation) -> bool:
    """Whether `op` reads `previous`'s result as its only reader, through operand 0 or (elementwise, not
    broadcast: the OFM's shape) 1."""
    result = previous.results[0]
    if [use.operation for use in result.uses] != [op] or result not in op.operands[:2]:
        return False
    return window(op) is not None or value_shape(result) == value_shape(op.results[0])


def links(ops: Sequence[Operation], stripe: int) -> list[Link]:
    """The links of a cascade of `ops` whose last op computes `stripe` rows per command: each other op
    computes the rows its consumer's stripe advances by (`stripe` times the consumers' strides)."""
    heights = [stripe]
    for op in reversed(ops[1:]):
        heights.insert(0, heights[0] * (window(op) or UNIT_WINDOW).strides[0])
    return [op_link(ops, index, height) for index, height in enumerate(heights)]


def cheapest_plan(costs: ChainCosts, capacity: int | None) -> list[Segment] | None:
    """The plan of the chain with the fewest estimated cycles whose segments all fit `capacity` bytes
    (None: any), or None when no plan does."""
    count = len(costs.chain.ops)
    best: list[tuple[int, list[Segment]] | None] = [None] * (count + 1)
    best[0] = (0, [])
    for end in range(1, count + 1):
        for start in range(max(0, end - MAX_SEGMENT), end):
            before = best[start]
            if before is None:
                continue
            for segment in costs.options(start, end - 1):
                if capacity is not None and segment.memory > capacity:
                    continue
                total = before[0] + segment.cycles
                current = best[end]
                if current is None or total < current[0]:
                    best[end] = (total, [*before[1], segment])
    plan = best[count]
    return None if plan is None else plan[1]


def smallest_plan(costs: ChainCosts) -> list[Segment]:
    """The plan of the chain whose largest segment memory is the least (then the fewest cycles)."""
    count = len(costs.chain.ops)
    best: list[tuple[tuple[int, int], list[Segment]] | None] = [None] * (count + 1)
    best[0] = ((0, 0), [])
    for end in range(1, count + 1):
        for start in range(max(0, end - MAX_SEGMENT), end):
            before = best[start]
            assert before is not None  # every prefix has a plan: ops alone
            for segment in costs.options(start, end - 1):
                key = (max(before[0][0], segment.memory), before[0][1] + segment.cycles)
                current = best[end]
                if current is None or key < current[0]:
                    best[end] = (key, [*before[1], segment])
    plan = best[count]
    assert plan is not None
    return plan[1]


def plan_memory(plan: Sequence[Segment]) -> int:
    """The most bytes any segment of a plan holds."""
    return max(segment.memory for segment in plan)


def plan_cycles(plan: Sequence[Segment]) -> int:
    """A plan's estimated cycles."""
    return sum(segment.cycles for segment in plan)


def thrifty_plans(costs: Sequence[ChainCosts], capacity: int) -> list[list[Segment]]:
    """Each chain's plan: the fastest whose segments all fit a level no higher than `capacity` (its
    smallest if none does), at the lowest level at which the chains together take at most `THRIFT`
    more cycles than their fastest plans within `capacity` (`cheapest_plan`).

    The fastest plans fill the capacity for the last few cycles they save.
    Lowering the level lowers the highest of them, the schedule's peak, where
    it costs fewest cycles: the chains already below it keep their fastest
    plans. Each chain's plan within a level gets no faster as the level
    falls, so the lowest level within `THRIFT` is found by bisection over the
    segments' memories.
    """
    fastest = [cheapest_plan(chain_costs, capacity) for chain_costs in costs]
    plans = [plan or smallest_plan(chain_costs) for plan, chain_costs in zip(fastest, costs)]
    limit = sum(plan_cycles(plan) for plan in plans) * (1 + THRIFT)
    adjustable = [index for index, plan in enumerate(fastest) if plan is not None]
    levels = sorted({
        segment.memory for index in adjustable for first in range(len(costs[index].chain.ops))
        for last in range(first, min(first + MAX_SEGMENT, len(costs[index].chain.ops)))
        for segment in costs[index].options(first, last) if segment.memory < capacity
    })  # fmt: skip
    low, high = 0, len(levels)
    while low < high:
        middle = (low + high) // 2
        trial = list(plans)
        for index in adjustable:
            trial[index] = cheapest_plan(costs[index], levels[middle]) or smallest_plan(costs[index])
        if sum(plan_cycles(plan) for plan in trial) <= limit:
            plans, high = trial, middle
        else:
            low = middle + 1
    return plans


def choose_cascades(func: FuncOp, target: Target, goal: str) -> None:
    """Cascade chains of `func` towards `goal` on `target` (see the module docstring): set `npu.cascade`,
    `npu.stripe` and `npu.rolling_rows` on the ops of each cascade chosen."""
    if target.arena_memory != target.budget_memory:
        return  # the feature maps are not in the budgeted memory: cascades cannot make them fit it
    found = chains(func)
    if not found:
        return
    budget = target.arena_cache_size
    baseline = Baseline.of(func, target)
    if goal == SIZE:
        costs = [ChainCosts(baseline, target, chain, staging=False) for chain in found]
        covered = {position for chain in found for position in range(chain.positions[0], chain.positions[-1] + 1)}
        outside = [baseline.live(position) for position in range(len(list(func.body.ops))) if position not in covered]
        capacity = max([*(max(s.memory for s in smallest_plan(c)) for c in costs), *outside])
        apply_plans(costs, [cheapest_plan(chain_costs, capacity) or smallest_plan(chain_costs) for chain_costs in costs])
    elif budget is not None and not baseline.fits(budget):  # else every op computes its whole OFM: the fastest
        if not fit_budget(func, target, [ChainCosts(baseline, target, chain) for chain in found], budget):
            fit_budget(func, target, [ChainCosts(baseline, target, chain, staging=False) for chain in found], budget)


def fit_budget(func: FuncOp, target: Target, costs: Sequence[ChainCosts], budget: int) -> bool:
    """Cascade the chains of `costs` (`thrifty_plans`) until their placement fits `budget` (True), or,
    when even every chain's smallest plan does not, report False: with weights staged (`ChainCosts.staging`)
    the cascades are then cleared, for a search that reads the weights where they are stored (the
    slower schedule that may fit: Performance then fails only where Size does too); without, they stay,
    for npu-allocate to name what does not fit."""
    capacity = int(budget * (1 - PLACEMENT_SLACK))
    while True:
        plans = thrifty_plans(costs, capacity)
        apply_plans(costs, plans)
        arena = staging_arena(func, target)
        if arena <= budget:
            return True
        if all(plan == smallest_plan(c) for plan, c in zip(plans, costs)):
            if costs[0].staging:
                clear_cascades(costs)
            return False
        capacity -= arena - budget  # the segments' estimates missed what placing them together costs
        clear_cascades(costs)


def apply_plans(costs: Sequence[ChainCosts], plans: Sequence[list[Segment]]) -> None:
    """Mark the cascades of each chain's plan, numbered in schedule order."""
    cascade = 0
    for chain_costs, plan in zip(costs, plans):
        for segment in plan:
            if segment.first < segment.last:
                ops = chain_costs.chain.ops[segment.first : segment.last + 1]
                blocks = [
                    chain_costs.fastest_stripe_block(segment.first + index, chain_costs.link(segment.first + index, height))
                    for index, height in enumerate(segment.heights)
                ]
                mark_cascade(ops, segment.heights, cascade, chain_costs.target, blocks)
                cascade += 1


def clear_cascades(costs: Sequence[ChainCosts]) -> None:
    """Undo `apply_plans`: every chain op computes its whole OFM again, in its own block."""
    for chain_costs in costs:
        for op in chain_costs.chain.ops:
            for key in (CASCADE_ATTR, ROLLING_ROWS_ATTR):
                op.attributes.pop(key, None)
            op.attributes[STRIPE_ATTR] = block_attr(tensor_hwc(op.results[0]))
            op.attributes[BLOCK_ATTR] = block_attr(chain_costs.blocks[op])


def mark_cascade(
    ops: Sequence[Operation],
    stripe: int | Sequence[int],
    index: int,
    target: Target,
    blocks: Sequence[tuple[int, int, int] | None] | None = None,
) -> None:
    """Annotate `ops` as cascade `index` whose ops compute `stripe` rows per command (one height per op;
    one number: the last op's, the others' following by `links`), each op's block `blocks` (by default
    the one Vela's search picks for its stripes, `stripe_block`; None: its block for the whole OFM)."""
    if isinstance(stripe, int):
        cascade = links(ops, stripe)
    else:
        cascade = [op_link(ops, position, height) for position, height in enumerate(stripe)]
    if blocks is None:
        blocks = [stripe_block(op, link, target) for op, link in zip(ops, cascade)]
    for op, link, rows, block in zip(ops, cascade, [*rolling_rows(cascade, cascade_steps(cascade)), None], blocks):
        _, width, depth = tensor_hwc(op.results[0])
        op.attributes[CASCADE_ATTR] = IntegerAttr(index, i64)
        op.attributes[STRIPE_ATTR] = block_attr((link.stripe_height, width, depth))
        if block is not None:
            op.attributes[BLOCK_ATTR] = block_attr(block)
        if rows is not None:
            op.attributes[ROLLING_ROWS_ATTR] = IntegerAttr(rows, i64)
