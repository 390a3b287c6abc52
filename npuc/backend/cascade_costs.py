"""What each segment of a chain costs as a cascade, at which stripe heights: the options the cascade
search of npu-schedule (`npuc.backend.cascade_search`) plans each chain from.

A cascade of a segment of a chain (`Chain`) keeps the segment's first IFM,
its last OFM and the other operands of its elementwise ops whole, and its
intermediates in rolling buffers (`npuc.backend.cascades`); while it runs
the budgeted memory holds those and whatever else is live across it in the
schedule before any cascade (`Baseline`). Under `performance` a segment's
memory counts its ops' weights as staged (npu-schedule stages a cascade's
weights first: unstaged, every stripe would read them again from where they
are stored). Computed stripe by stripe its ops cost more cycles: more
commands, each filling and draining the pipeline, and blocks clipped to the
stripes.

Each op of a cascade computes stripes of its own height (`stripe_heights`:
its OFM's height halved until one row, and the powers of two below it). An
op's cycles depend on its height alone (it computes fixed row ranges from
row 0, whenever its consumer needs them), its rolling buffer's rows on its
height and its consumer's (`cascades.held_rows`): a segment's options are
the Pareto front of its rolling bytes and cycles over all its heights,
built op by op from the last (`ChainCosts.fronts`).

Cycles are the cost model's estimate of each stripe's command in the
block it runs in (`ChainCosts.stripe_block`; the chosen plan's ops then
weigh every block: `ChainCosts.fastest_stripe_block`), its feature maps in the arena
memory: its compute or, if longer, the time its memories need for the
bytes it moves (`estimates.command_cycles` with `memory_bound`; every
command reads all its weights: from the staging memory under Performance,
from where they are stored under Size); memory is bytes live, each buffer
rounded up to the target's alignment. The search prices many segments of
each chain at many heights, and these estimates and Vela's block search are
its costliest steps: `ChainCosts` computes each once per chain.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue

from npuc.backend.allocation import fits
from npuc.backend.blocks import candidate_blocks, choose_block, search_input
from npuc.backend.cascades import Link, held_rows, op_link
from npuc.backend.estimates import command_cycles, op_block
from npuc.backend.operators import WEIGHTED_OPS
from npuc.backend.planning import (
    Buffer,
    buffer_bytes,
    buffers,
    clip_block,
    element_bytes,
    layer_command_shape,
    tensor_hwc,
)
from npuc.backend.stripes import StripeRows, ifm_rows, stripe_ranges
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND
from npuc.cost.compute import CommandShape
from npuc.dialects.quantized import ConstantOp
from npuc.targets import BlockShape, Target

FINALISTS = 4
"""How many blocks, the fastest on a cascade op's typical stripe, `ChainCosts.fastest_stripe_block` prices on
all its stripes."""


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
    """A chain the search may cascade (`cascade_search.chains`): its ops in schedule order and their
    schedule positions."""

    ops: list[Operation]
    positions: list[int]


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
        self.blocks = {op: op_block(op) for op in chain.ops}
        """Each op's block for its whole OFM (npu-tile's), which `clear_cascades` restores."""
        self.stripe_costs: dict[tuple[int, ...], int] = {}
        self.links: dict[tuple[int, int], Link] = {}
        self.link_costs: dict[tuple[int, int], int] = {}
        self.rolling_memo: dict[tuple[int, int, int], int] = {}
        self.front_memo: dict[tuple[int, int], dict[int, list[Partial]]] = {}
        self.blocks_by_stripe: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.fastest_blocks: dict[tuple[int, int], tuple[int, int, int]] = {}

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
            whole = BlockShape(*self.blocks[op])
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

    def fastest_stripe_block(self, index: int, link: Link) -> tuple[int, int, int]:
        """The block in which the cost model prices chain op `index`'s stripes of `link.stripe_height`
        rows lowest, among every block the hardware runs such a stripe in (`blocks.candidate_blocks`),
        or `stripe_block`'s if none is faster.

        The search prices each op at many heights and weighs two blocks for each
        (`stripe_block`); the ops of the plan it chooses are each at one height,
        and every block can be weighed for it: Vela's search minimises what the
        blocks fetch, not the cycles of the stripe's commands, which pipeline
        fill and the stripe's height decide as much (MobileNetV2's first
        depthwise convolution in 1-row stripes: 0.80x the cycles in 1 x 16 x 16
        blocks than in the 1 x 64 x 16 Vela's search picks).
        """
        key = (index, link.stripe_height)
        if key not in self.fastest_blocks:
            op = self.chain.ops[index]
            kinds = stripe_kinds(link)

            def cycles(block: tuple[int, int, int]) -> int:
                return sum(count * self._stripe_cycles(op, link, rows, reads, block) for rows, reads, count in kinds)

            # Ranked on the kind of stripe most are (the others differ at the edges), the few best then
            # priced on every stripe.
            rows, reads, _ = max(kinds, key=lambda kind: kind[2])
            blocks = candidate_blocks(search_input(stripe_shape(op, link, rows, reads), self.target), self.target)
            ranked = sorted(blocks, key=lambda block: (self._stripe_cycles(op, link, rows, reads, block), block))
            self.fastest_blocks[key] = min([self.stripe_block(index, link), *ranked[:FINALISTS]], key=cycles)
        return self.fastest_blocks[key]

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


def stripe_kinds(link: Link) -> list[tuple[int, StripeRows, int]]:
    """The stripes of `link` by kind: (OFM rows, the IFM rows one of them reads, how many there are).
    Stripes of a kind cost the same; they differ only at the edges (padding, a shorter last stripe)."""
    kinds: dict[tuple[int, int, int, int], tuple[int, StripeRows, int]] = {}
    for rows in stripe_ranges(link.ofm_height, link.stripe_height):
        reads = ifm_rows(link.window, rows, link.ifm_height)
        kind = (len(rows), len(reads.ifm), reads.pad_top, reads.pad_bottom)
        kinds[kind] = (len(rows), reads, kinds[kind][2] + 1 if kind in kinds else 1)
    return list(kinds.values())


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
