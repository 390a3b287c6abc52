"""Which chains of ops npu-schedule cascades, and at which stripe heights.

Candidates are chains (`chains`): runs of striped NPU ops (`STRIPED_OPS`,
batch one) consecutive in the schedule, each reading the previous one's
OFM, its only reader. A cascade of a segment of a chain keeps the
segment's first IFM, its last OFM and the other operands of its
elementwise ops whole, and its intermediates in rolling buffers
(`npuc.backend.cascades`); while it runs the budgeted memory holds those
and whatever else is live across it. Computed stripe by stripe its ops cost
more cycles: more commands, each filling and draining the pipeline, and
blocks clipped to the stripes.

Each op of a cascade computes stripes of its own height (`stripe_heights`:
its OFM's height halved until one row, and the powers of two below it). An
op's cycles depend on its height alone (it computes fixed row ranges from
row 0, whenever its consumer needs them), its rolling buffer's rows on its
height and its consumer's (`cascades.held_rows`): a segment's options are
the Pareto front of its rolling bytes and cycles over all its heights,
built op by op from the last (`ChainCosts.fronts`).

The search is a dynamic program over each chain: the best plan of the first
k ops is the best, over every segment ending at op k (one op alone: no
cascade) and every option of it, of the best plan before the segment plus
the segment. `cheapest_plan` minimises estimated cycles among plans whose
segments all fit a capacity; `smallest_plan` minimises the largest segment
memory (cycles break ties). Under `performance` a segment's memory counts its
ops' weights as staged (npu-schedule stages a cascade's weights first:
unstaged, every stripe would read them again from where they are stored). Under `performance` with a budget the baseline
schedule is kept when it fits, else each chain gets its cheapest plan
within a level no higher than the budget less `PLACEMENT_SLACK` (its
smallest when none fits), the lowest level at which the chains together
take at most `THRIFT` more cycles than at the capacity (`thrifty_plans`:
the peak falls where that costs least), and when
the plans placed together need more than the budget (their segment
estimates do not see the live ranges cascades stretch across each other),
the search runs again with the capacity less the excess; under `size` the
capacity is the smallest the chains allow (the largest of their smallest
plans and of the memory outside them), and each chain gets its cheapest
plan within it: the smallest arena, as fast as it allows.

Cycles are the cost model's estimate of each stripe's command in the
block it runs in (`ChainCosts.stripe_block`), its feature maps in the arena
memory: its compute or, if longer, the time its memories need for the
bytes it moves (`estimates.command_cycles` with `memory_bound`; every
command reads all its weights: from the staging memory under Performance,
from where they are stored under Size); memory is bytes live, each buffer
rounded up to the target's alignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue

from npuc.backend.allocation import fits
from npuc.backend.blocks import choose_block
from npuc.backend.budget import SIZE
from npuc.backend.cascades import Link, cascade_steps, held_rows, op_link, rolling_rows
from npuc.backend.estimates import command_cycles, op_block
from npuc.backend.operators import STRIPED_OPS, WEIGHTED_OPS
from npuc.backend.planning import (
    NPU,
    Buffer,
    buffer_bytes,
    buffers,
    clip_block,
    element_bytes,
    layer_command_shape,
    placement,
    staging_arena,
    tensor_hwc,
    window,
)
from npuc.backend.stripes import StripeRows, ifm_rows
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND
from npuc.cost.compute import CommandShape
from npuc.dialects.common import UNIT_WINDOW, value_shape
from npuc.dialects.npu import (
    BLOCK_ATTR,
    CASCADE_ATTR,
    ROLLING_ROWS_ATTR,
    STRIPE_ATTR,
    block_attr,
)
from npuc.dialects.quantized import ConstantOp
from npuc.targets import BlockShape, Target

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


@dataclass(frozen=True)
class Segment:
    """Ops `first`..`last` (chain indices, inclusive) of a chain: one op alone, or a cascade whose ops
    compute stripes of `heights` rows (one per op); `memory` its bytes live at most, `cycles` its estimate."""

    first: int
    last: int
    heights: tuple[int, ...]
    memory: int
    cycles: int


@dataclass(frozen=True)
class Partial:
    """The ops from some op of a cascade to its last at stripe heights `heights`: the bytes of the rolling
    buffers between them (`memory`) and their estimated cycles."""

    memory: int
    cycles: int
    heights: tuple[int, ...]


def pareto(points: list[Partial]) -> list[Partial]:
    """The points no other is at least as good as in both memory and cycles (and better in one), by
    increasing memory."""
    found: list[Partial] = []
    for point in sorted(points, key=lambda p: (p.memory, p.cycles)):
        if not found or point.cycles < found[-1].cycles:
            found.append(point)
    return found


@dataclass
class Chain:
    """A candidate chain: its ops in schedule order and their schedule positions."""

    ops: list[Operation]
    positions: list[int]


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


def stripe_heights(height: int) -> list[int]:
    """The stripe heights tried for an OFM of `height` rows in a cascade, each lower than it: the height
    halved (rounded up) until one row, and the powers of two below it."""
    found = {1 << power for power in range(height.bit_length()) if 1 << power < height}
    stripe = height
    while stripe > 1:
        stripe = -(-stripe // 2)
        found.add(stripe)
    return sorted(found)


@dataclass
class Baseline:
    """The schedule's buffers in the budgeted memory before any cascade, and what each value is held in."""

    resident: list[Buffer]
    holder: dict[SSAValue, Buffer]
    target: Target
    sizes: dict[SSAValue, int]
    """`buffer_bytes` memoised (an encoded size is costly)."""

    @staticmethod
    def of(func: FuncOp, target: Target) -> Baseline:
        sizes: dict[SSAValue, int] = {}
        found, holder = buffers(func, target, sizes)
        return Baseline([b for b in found if b.memory == target.budget_memory], holder, target, sizes)

    @property
    def alignment(self) -> int:
        return self.target.alignment

    def sized(self, value: SSAValue) -> int:
        """`buffer_bytes` of `value`, aligned."""
        if value not in self.sizes:
            self.sizes[value] = buffer_bytes(value, self.target)
        return self.aligned(self.sizes[value])

    def aligned(self, size: int) -> int:
        return -(-size // self.alignment) * self.alignment

    def live(self, position: int, excluded: frozenset[int] = frozenset()) -> int:
        """Bytes of the buffers live at `position`, but those in `excluded` (by id)."""
        return sum(self.aligned(b.size) for b in self.resident if b.start <= position <= b.end and id(b) not in excluded)

    def held(self, value: SSAValue) -> int:
        """Bytes of the buffer holding `value` in the budgeted memory (0 elsewhere)."""
        buffer = self.holder.get(value)
        return self.aligned(buffer.size) if buffer is not None and any(b is buffer for b in self.resident) else 0

    def fits(self, capacity: int) -> bool:
        return fits([b.live_range() for b in self.resident], self.alignment, capacity)


class ChainCosts:
    """The options of a chain's segments, their memory against the baseline and their estimated cycles."""

    def __init__(self, baseline: Baseline, target: Target, chain: Chain, staging: bool = True):
        self.baseline, self.target, self.chain, self.staging = baseline, target, chain, staging
        self.arena = target.memory(target.arena_memory)
        self.weights_home = target.memory(target.staging_memory if staging else target.weights_memory)
        self.segments: dict[tuple[int, int], list[Segment]] = {}
        self.blocks = {op: op.attributes[BLOCK_ATTR] for op in chain.ops}
        """Each op's block for its whole OFM (npu-tile's), which `clear_cascades` restores."""
        self.layer_blocks = {op: op_block(op) for op in chain.ops}
        self.stripe_costs: dict[tuple[int, ...], int] = {}
        self.links: dict[tuple[int, int], Link] = {}
        self.link_costs: dict[tuple[int, int], int] = {}
        self.rolling_memo: dict[tuple[int, int, int], int] = {}
        self.front_memo: dict[tuple[int, int], dict[int, list[Partial]]] = {}
        self.blocks_by_stripe: dict[tuple[int, int], tuple[int, int, int]] = {}

    def options(self, first: int, last: int) -> list[Segment]:
        """Ops `first`..`last` alone (one op) or as a cascade at the stripe heights of its Pareto front
        (`fronts`), by increasing memory."""
        key = (first, last)
        if key not in self.segments:
            self.segments[key] = self._options(first, last)
        return self.segments[key]

    def _options(self, first: int, last: int) -> list[Segment]:
        ops, positions = self.chain.ops[first : last + 1], self.chain.positions[first : last + 1]
        staged = sum(self.staged_bytes(op) for op in ops)
        if first == last:
            height = tensor_hwc(ops[0].results[0])[0]
            cycles = self.link_cycles(first, height)
            return [Segment(first, last, (height,), self.baseline.live(positions[0]) + staged, cycles)]
        results = [op.results[0] for op in ops]
        inputs = list(dict.fromkeys(
            operand for op in ops for operand in op.operands[:2]
            if operand not in results and not isinstance(getattr(operand, "owner", None), ConstantOp)
        ))  # fmt: skip
        own = frozenset(id(self.baseline.holder[v]) for v in (*results, *inputs) if v in self.baseline.holder)
        others = max(self.baseline.live(position, own) for position in range(positions[0], positions[-1] + 1))
        whole = sum(self.baseline.held(value) for value in inputs) + self.baseline.held(results[-1])
        fixed = others + whole + staged
        points = pareto([point for front in self.fronts(first, last).values() for point in front])
        return [Segment(first, last, point.heights, fixed + point.memory, point.cycles) for point in points]

    def fronts(self, first: int, last: int) -> dict[int, list[Partial]]:
        """For each stripe height of op `first`, the Pareto front (`pareto`) of the stripe heights of ops
        `first`..`last` as a cascade: their rolling buffers' bytes and their cycles.

        The ops of a cascade compute fixed row ranges (stripes from row 0), whenever
        their consumer needs rows: an op's cycles depend on its own stripe height
        alone, its rolling buffer's rows on its height and its consumer's
        (`buffer_bytes`). So the best heights form a chain: built from the last op
        back, each op's front per height extends its consumer's fronts.
        """
        key = (first, last)
        if key in self.front_memo:
            return self.front_memo[key]
        if first == last:
            height = tensor_hwc(self.chain.ops[last].results[0])[0]
            found = {h: [Partial(0, self.link_cycles(last, h), (h,))] for h in stripe_heights(height)}
        else:
            after = self.fronts(first + 1, last)
            height = tensor_hwc(self.chain.ops[first].results[0])[0]
            found = {}
            for h in stripe_heights(height):
                cycles = self.link_cycles(first, h)
                points = []
                for consumer, front in after.items():
                    buffer = self.buffer_bytes(first, h, consumer)
                    points += [Partial(p.memory + buffer, p.cycles + cycles, (h, *p.heights)) for p in front]
                found[h] = pareto(points)
        self.front_memo[key] = found
        return found

    def link(self, index: int, height: int) -> Link:
        """Chain op `index` computing stripes of `height` rows."""
        key = (index, height)
        if key not in self.links:
            self.links[key] = op_link(self.chain.ops, index, height)
        return self.links[key]

    def link_cycles(self, index: int, height: int) -> int:
        """The estimated cycles of chain op `index` computing its OFM in stripes of `height` rows."""
        key = (index, height)
        if key not in self.link_costs:
            link = self.link(index, height)
            self.link_costs[key] = sum(
                self.stripe_cycles(index, link, range(start, min(start + link.stripe_height, link.ofm_height)))
                for start in range(0, link.ofm_height, link.stripe_height)
            )
        return self.link_costs[key]

    def buffer_bytes(self, index: int, height: int, consumer: int) -> int:
        """The bytes of the rolling buffer of chain op `index`'s OFM computed in stripes of `height` rows
        and read by the next op computing stripes of `consumer` rows, aligned."""
        key = (index, height, consumer)
        if key not in self.rolling_memo:
            rows = held_rows(self.link(index, height), self.link(index + 1, consumer))
            self.rolling_memo[key] = self.baseline.aligned(rows * _row_bytes(self.chain.ops[index].results[0]))
        return self.rolling_memo[key]

    def staged_bytes(self, op: Operation) -> int:
        """The bytes of `op`'s weights and scale/bias table once staged (npu-schedule stages a cascade's
        first): a segment needs room for them too, or its stripes read them where they are stored. None
        when nothing is staged (`staging` False: the Size goal)."""
        return self.weight_bytes(op) if self.staging else 0

    def stripe_cycles(self, index: int, link: Link, rows: range) -> int:
        """The cost model's cycles of chain op `index` computing OFM rows `rows` in one command, in the
        block it computes its stripes in (`stripe_block`), its feature maps in the arena memory: its
        compute, or the time its memories need for what it moves if longer (each command reads all its
        weights: staged under Performance, from where they are stored under Size)."""
        reads = ifm_rows(link.window, rows, link.ifm_height)
        key = (index, link.stripe_height, len(rows), len(reads.ifm), reads.pad_top, reads.pad_bottom)
        if key not in self.stripe_costs:
            op = self.chain.ops[index]
            self.stripe_costs[key] = self._stripe_cycles(op, link, len(rows), reads, self.stripe_block(index, link))
        return self.stripe_costs[key]

    def stripe_block(self, index: int, link: Link) -> tuple[int, int, int]:
        """The block chain op `index` computes its stripes of `link.stripe_height` rows in: its block for
        its whole OFM (npu-tile's) for stripes at least as high as that block; for lower ones, of that
        block clipped to the stripe and the block Vela's search picks for the stripe (`stripe_block`),
        the one the cost model finds faster on a whole stripe. Clipped, a block may work through far
        smaller blocks than the stripe allows; picked for the stripe it may move more bytes.
        (Vela's search for every stripe height the cascade search tries would take most of its time.)
        """
        key = (index, link.stripe_height)
        if key not in self.blocks_by_stripe:
            op = self.chain.ops[index]
            _, width, depth = tensor_hwc(op.results[0])
            whole = BlockShape(*self.layer_blocks[op])
            layer = clip_block(whole, (link.stripe_height, width, depth), self.target.ofm_ublock)
            block = stripe_block(op, link, self.target) if link.stripe_height < whole.height else None
            if block is not None and block != layer:
                rows = range(link.stripe_height)
                reads = ifm_rows(link.window, rows, link.ifm_height)
                cycles = {
                    candidate: self._stripe_cycles(op, link, len(rows), reads, candidate) for candidate in (layer, block)
                }
                block = min((layer, block), key=lambda candidate: cycles[candidate])
            self.blocks_by_stripe[key] = block or layer
        return self.blocks_by_stripe[key]

    def weight_bytes(self, op: Operation) -> int:
        """The bytes of `op`'s constant weights and scale/bias table (0 without them)."""
        return sum(self.constant_bytes(op))

    def constant_bytes(self, op: Operation) -> tuple[int, int]:
        """The bytes of `op`'s constant weights and of its scale/bias table ((0, 0) without them)."""
        weights = op.operands[WEIGHTS_OPERAND] if isinstance(op, WEIGHTED_OPS) else None
        if weights is None or not isinstance(weights.owner, ConstantOp):
            return 0, 0
        return self.baseline.sized(weights), self.baseline.sized(op.operands[BIAS_OPERAND])

    def _stripe_cycles(
        self, op: Operation, link: Link, rows: int, reads: StripeRows, block: tuple[int, int, int]
    ) -> int:
        """`command_cycles` of a stripe of `op` in `block`, its weights read from where its stripes read them."""
        weight_bytes, scale_bytes = self.constant_bytes(op)
        shape = stripe_shape(op, link, rows, reads)
        return command_cycles(op, shape, self.target, self.weights_home, weight_bytes, scale_bytes, block, memory_bound=True)


def stripe_shape(op: Operation, link: Link, rows: int, reads: StripeRows) -> CommandShape:
    """The command shape of a stripe of `op` computing `rows` OFM rows from the IFM rows `reads`."""
    layer = layer_command_shape(op)
    _, left, _, right = link.window.padding
    stripe_window = replace(link.window, padding=(reads.pad_top, left, reads.pad_bottom, right))
    batch, _, width, depth = layer.ofm
    ifm = (layer.ifm[0], len(reads.ifm), *layer.ifm[2:])
    return replace(layer, ifm=ifm, ofm=(batch, rows, width, depth), window=stripe_window)


def stripe_block(op: Operation, link: Link, target: Target) -> tuple[int, int, int] | None:
    """The block Vela's search (`npuc.backend.blocks`) picks for a stripe of `op` in a cascade, clipped to
    the stripe; None if none fits the shared buffer. A block chosen for the whole OFM, clipped to a
    stripe lower than it, computes rows the stripe does not have (a 6-row block over 7-row stripes
    works through 12 rows each); Vela, too, picks the block for the stripe."""
    rows = range(min(link.stripe_height, link.ofm_height))
    shape = stripe_shape(op, link, len(rows), ifm_rows(link.window, rows, link.ifm_height))
    block = choose_block(shape, target)
    if block is None:
        return None
    _, height, width, depth = shape.ofm
    return clip_block(BlockShape(*block), (height, width, depth), target.ofm_ublock)


def _row_bytes(value: SSAValue) -> int:
    _, width, depth = tensor_hwc(value)
    return width * depth * element_bytes(value)


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
    if goal != SIZE and budget is None:
        return  # no budget to fit: every op computes its whole OFM, the fastest (no baseline to measure)
    baseline = Baseline.of(func, target)
    if goal != SIZE and budget is not None and baseline.fits(budget):
        return
    costs = [ChainCosts(baseline, target, chain, staging=goal != SIZE) for chain in found]
    capacity = None if budget is None else int(budget * (1 - PLACEMENT_SLACK))
    if goal == SIZE:
        covered = {position for chain in found for position in range(chain.positions[0], chain.positions[-1] + 1)}
        outside = [baseline.live(position) for position in range(len(list(func.body.ops))) if position not in covered]
        capacity = max([*(max(s.memory for s in smallest_plan(c)) for c in costs), *outside])
    while True:
        if goal == SIZE or capacity is None:
            plans = [cheapest_plan(chain_costs, capacity) or smallest_plan(chain_costs) for chain_costs in costs]
        else:
            plans = thrifty_plans(costs, capacity)
        apply_plans(costs, plans)
        if goal == SIZE or budget is None or capacity is None:
            return
        arena = staging_arena(func, target)
        if arena <= budget or all(plan == smallest_plan(c) for plan, c in zip(plans, costs)):
            return
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
                    chain_costs.stripe_block(segment.first + index, chain_costs.link(segment.first + index, height))
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
            op.attributes[BLOCK_ATTR] = chain_costs.blocks[op]


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
