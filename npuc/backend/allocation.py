"""Liveness-based placement of buffers in one memory, and an independent checker.

Buffers whose live ranges do not intersect may share addresses, so the arena a
schedule needs is far smaller than the sum of its buffers. `allocate` places
buffers greedily (largest first, first fit into the gaps left by buffers it
conflicts with), as TFLite Micro's greedy memory planner does. `check_placement`
verifies any placement from scratch, without trusting the allocator.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from npuc.errors import AllocationError

__all__ = ["LiveRange", "allocate", "arena_size", "check_placement", "fits", "peak_live_bytes"]


@dataclass(frozen=True)
class LiveRange:
    """A buffer and the schedule positions during which it holds live data.

    `start` is the position of the command that first writes the buffer and
    `end` that of the last command that reads it, both inclusive. `size` is in
    bytes.
    """

    name: str
    start: int
    end: int
    size: int


def allocate(
    ranges: Iterable[LiveRange],
    alignment: int,
    capacity: int | None = None,
    memory: str = "",
) -> dict[str, int]:
    """Assign each buffer an aligned byte offset; live-overlapping buffers never overlap.

    First fit (each buffer at the lowest aligned offset between the already
    placed buffers whose live ranges intersect its own) in a few orders (by
    decreasing size, as TFLite Micro's greedy planner; by size with later
    buffers first; by the bytes a buffer conflicts with; by size times
    lifetime, which places a long-lived residual before the short-lived maps
    around it), keeping the smallest arena; if that is above `peak_live_bytes`, each order again
    with the highest buffer moved earlier (`_promote_top`), then a bounded search
    (`_search_placement`) looks for a smaller one. Stops as soon as an arena
    reaches the bound. Deterministic: ties go by name. Raises
    `AllocationError` if the resulting arena exceeds `capacity` bytes of
    `memory`.
    """
    ranges = sorted(_validated(ranges, alignment), key=lambda r: r.name)
    placement = _placement(ranges, alignment, peak_live_bytes(ranges, alignment), _SEARCH_STEPS)
    required = arena_size(ranges, placement)
    if capacity is not None and required > capacity:
        raise AllocationError(
            f"memory '{memory}': buffers need {required} bytes but its capacity is "
            f"{capacity} bytes"
        )
    return placement


def _placement(
    ranges: list[LiveRange], alignment: int, enough: int, steps: int, thorough: bool = True
) -> dict[str, int]:
    """`allocate`'s placement of validated `ranges` sorted by name, stopping once its arena is at most
    `enough` bytes (the bound: the smallest; `fits`: the capacity, any placement within it): first fit
    in each order, `_PROMOTIONS` moves (`_promote_top`) from each order (not `thorough`: only
    `_FIT_PROMOTIONS` from the best one), then the search within `steps` first-fit offsets from the
    best order.

    Fewer moves or steps only stop earlier on the same paths (the moves from
    an order and the search are deterministic, and a better placement found
    before the search only prunes it more): `fits`' shorter runs end no
    lower than `allocate`'s."""
    buffers = _Buffers(ranges, alignment)
    orders = buffers.orders()
    best, best_order = buffers.first_fit(orders[0]), orders[0]
    for order in orders[1:]:
        if buffers.arena(best) <= enough:
            break
        offsets = buffers.first_fit(order)
        if buffers.arena(offsets) < buffers.arena(best):
            best, best_order = offsets, order
    for order in orders if thorough else [best_order]:
        if buffers.arena(best) <= enough:
            break
        offsets = _promote_top(buffers, order, enough, _PROMOTIONS if thorough else _FIT_PROMOTIONS)
        if buffers.arena(offsets) < buffers.arena(best):
            best = offsets
    if buffers.arena(best) > enough:
        best = _search_placement(buffers, best_order, best, enough, steps)
    return {buffer.name: int(offset) for buffer, offset in zip(ranges, best)}


def _promote_top(buffers: _Buffers, order: np.ndarray, enough: int, moves: int) -> np.ndarray:
    """The smallest first-fit placement found by moving, again and again (at most `moves` times), the
    buffer that ends highest to just before the first buffer it conflicts with in the order; stops once
    the arena is at most `enough` bytes.

    First fit stacks a buffer above every conflicting buffer placed before it
    that leaves no gap for it: the highest buffer is too late in the order. Placed
    before the buffers it conflicts with, it takes the lowest slot of its own
    time and the others fit around it (MobileNetV2 at 384 KiB: 381,792 bytes ->
    the peak-live bound, 352,752).
    """
    offsets = buffers.first_fit(order)
    best = offsets
    for _ in range(moves):
        if buffers.arena(best) <= enough:
            break
        top = int(np.argmax(offsets + buffers.sizes))
        rest = order[order != top]
        conflicting = np.nonzero(np.isin(rest, buffers.conflicts[top]))[0]
        at = int(conflicting[0]) if conflicting.size else 0
        moved = np.concatenate((rest[:at], [top], rest[at:]))
        if np.array_equal(moved, order):
            break  # the highest buffer is already first among those it conflicts with
        order, offsets = moved, buffers.first_fit(moved)
        if buffers.arena(offsets) < buffers.arena(best):
            best = offsets
    return best


_PROMOTIONS = 16
"""How many moves `_promote_top` makes from each first-fit order at most (`allocate`)."""

_FIT_PROMOTIONS = 4
"""How many `fits` makes: npu-schedule asks it many times (a yes is still a promise, see `_placement`)."""

_SEARCH_STEPS = 4_000
"""How many first-fit offsets `allocate`'s search may compute (about 30 microseconds
each, so 2,000 buffers place in well under half a second): enough to be exhaustive
on small memories; on large ones the search is a bounded improvement."""

_FIT_STEPS = _SEARCH_STEPS // 8
"""How many `fits` may compute: npu-schedule asks it many times, and a placement its shorter search
finds `allocate`'s finds too (so a yes is still a promise; a no only stages less)."""


def _search_placement(
    buffers: _Buffers, preferred: np.ndarray, incumbent: np.ndarray, bound: int, steps: int
) -> np.ndarray:
    """The smallest placement a depth-first branch and bound over placement orders finds.

    Every placement can be lowered, without growing its arena, to one that
    first fit reproduces when it places the buffers by increasing offset (ties
    by rank): placing in that order, each buffer's first-fit offset is at most
    its offset in the placement, so repeating converges to such a fixpoint. The
    search therefore only extends an order with a buffer whose first-fit offset
    is at least the previous one's (equal offsets: a higher rank), trying the
    lowest offsets first, and prunes a branch once a buffer still to place
    would end at or above the best arena found (offsets only grow as buffers
    are added). Ties go by rank in the `preferred` order. Exhaustive within
    `steps` first-fit offsets; stops at `bound`.
    """
    sizes = buffers.sizes
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[preferred] = np.arange(len(sizes))
    best, best_arena = incumbent, buffers.arena(incumbent)
    placed = sizes == 0  # empty buffers stay at 0
    offsets = np.zeros_like(sizes)
    lowest = np.zeros_like(sizes)  # first-fit offset of each unplaced buffer

    def candidates(floor: int, last_rank: int, arena: int) -> list[int]:
        remaining = np.nonzero(~placed)[0]
        ends = lowest[remaining] + sizes[remaining]
        if max(arena, int(ends.max())) >= best_arena:  # remaining is never empty here
            return []
        low = lowest[remaining]
        allowed = remaining[(low > floor) | ((low == floor) & (rank[remaining] > last_rank))]
        return [int(i) for i in allowed[np.lexsort((rank[allowed], lowest[allowed]))]]

    # A frame: its candidates, the next one to try, the arena before it and the last placement to undo.
    frames: list[tuple[list[int], list[int], int]] = [(candidates(-1, -1, 0), [0], 0)]
    undo: list[tuple[int, np.ndarray, np.ndarray]] = []
    budget = steps
    while frames and budget > 0 and best_arena > bound:
        options, position, arena = frames[-1]
        if len(undo) == len(frames):
            index, neighbours, saved = undo.pop()
            placed[index] = False
            lowest[neighbours] = saved
        if position[0] == len(options):
            frames.pop()
            continue
        index = options[position[0]]
        position[0] += 1
        offset = int(lowest[index])
        offsets[index] = offset
        placed[index] = True
        neighbours = buffers.conflicts[index]
        neighbours = neighbours[~placed[neighbours]]
        # Only neighbours whose lowest slot the new buffer covers move up.
        neighbours = neighbours[(lowest[neighbours] < offset + sizes[index]) & (lowest[neighbours] + sizes[neighbours] > offset)]
        undo.append((index, neighbours, lowest[neighbours].copy()))
        budget -= 1 + len(neighbours)
        for neighbour in neighbours:
            lowest[neighbour] = buffers.lowest_offset(int(neighbour), placed, offsets)
        arena_here = max(arena, offset + int(sizes[index]))
        if placed.all():
            if arena_here < best_arena:
                best, best_arena = offsets.copy(), arena_here
        else:
            frames.append((candidates(offset, int(rank[index]), arena_here), [0], arena_here))
    return best


class _Buffers:
    """The buffers of one memory as arrays, with the pairs that are live at the same time.

    Buffers are numbered in the order given (`allocate` sorts them by name, so
    its result does not depend on the input order). Empty buffers conflict
    with nothing and sit at offset 0.
    """

    def __init__(self, ranges: list[LiveRange], alignment: int) -> None:
        self.alignment = alignment
        self.starts = np.array([r.start for r in ranges], dtype=np.int64)
        self.ends = np.array([r.end for r in ranges], dtype=np.int64)
        self.sizes = np.array([r.size for r in ranges], dtype=np.int64)
        occupied = self.sizes > 0
        self.conflicts = [
            np.nonzero(occupied & (self.starts <= end) & (self.ends >= start) & (np.arange(len(ranges)) != index))[0]
            for index, (start, end) in enumerate(zip(self.starts, self.ends))
        ]

    def orders(self) -> list[np.ndarray]:
        """The buffer orders first fit tries, best on the shared models first (all ties by name)."""
        conflicting_bytes = np.array([self.sizes[c].sum() for c in self.conflicts], dtype=np.int64)
        names = np.arange(len(self.sizes))
        area = self.sizes * (self.ends - self.starts + 1)
        return [
            np.lexsort((names, -self.sizes)),
            np.lexsort((names, -self.starts, -self.sizes)),
            np.lexsort((names, -self.sizes, -conflicting_bytes)),
            np.lexsort((names, -area)),
        ]

    def first_fit(self, order: np.ndarray) -> np.ndarray:
        """Offsets from placing the buffers in `order`, each at its lowest free aligned offset."""
        offsets = np.zeros_like(self.sizes)
        placed = np.zeros(len(self.sizes), dtype=bool)
        for index in order:
            offsets[index] = self.lowest_offset(index, placed, offsets)
            placed[index] = True
        return offsets

    def lowest_offset(self, index: int, placed: np.ndarray, offsets: np.ndarray) -> int:
        """The lowest aligned offset where buffer `index` overlaps no placed conflicting buffer."""
        size = self.sizes[index]
        neighbours = self.conflicts[index]
        neighbours = neighbours[placed[neighbours]]
        if size == 0 or not neighbours.size:
            return 0
        by_offset = np.argsort(offsets[neighbours], kind="stable")
        lows = offsets[neighbours][by_offset]
        highs = lows + self.sizes[neighbours][by_offset]
        # Candidate k sits above the k lowest neighbours; it fits if it ends below neighbour k.
        candidates = np.concatenate(([0], _align_up(np.maximum.accumulate(highs), self.alignment)))
        below_next = candidates[:-1] + size <= lows
        return int(candidates[np.argmax(below_next)] if below_next.any() else candidates[-1])

    def arena(self, offsets: np.ndarray) -> int:
        """Bytes a placement spans."""
        return int((offsets + self.sizes).max(initial=0))


def fits(ranges: Iterable[LiveRange], alignment: int, capacity: int) -> bool:
    """Whether `allocate` places `ranges` within `capacity` bytes.

    Skips the allocation when the aligned sizes sum to at most `capacity`
    (first fit never places a buffer past the aligned sizes of the buffers
    before it, and `allocate` keeps a first-fit arena unless it finds a
    smaller one) and when `peak_live_bytes` exceeds it (no placement can);
    otherwise runs `allocate`'s placement only until an arena fits, its
    moves shortened to `_FIT_PROMOTIONS` from the best first-fit order and
    its search to `_FIT_STEPS`:
    both are deterministic, so `allocate`, which goes on for a smaller one,
    ends at most there.
    """
    ranges = sorted(_validated(ranges, alignment), key=lambda r: r.name)
    if sum(_align_up(r.size, alignment) for r in ranges) <= capacity:
        return True
    bound = peak_live_bytes(ranges, alignment)
    if bound > capacity:
        return False
    placement = _placement(ranges, alignment, max(bound, capacity), _FIT_STEPS, thorough=False)
    return arena_size(ranges, placement) <= capacity


def arena_size(ranges: Iterable[LiveRange], offsets: Mapping[str, int]) -> int:
    """Bytes a placement spans: the largest `offset + size` over all buffers (0 if none)."""
    return max((offsets[r.name] + r.size for r in ranges), default=0)


def bytes_per_position(ranges: Iterable[LiveRange], positions: int, first: int = 0) -> list[int]:
    """Bytes of `ranges` live at each of `positions` schedule positions from `first` on (a range adds its
    size where it starts and takes it back after it ends: the running sum is the live bytes)."""
    changes = [0] * (positions + 1)
    for live_range in ranges:
        changes[live_range.start - first] += live_range.size
        changes[live_range.end - first + 1] -= live_range.size
    return list(itertools.accumulate(changes[:positions]))


def peak_live_bytes(ranges: Iterable[LiveRange], alignment: int) -> int:
    """The lower bound on any placement's arena: the most bytes live at one schedule position.

    The buffers live at one position are pairwise live at the same time, so they
    occupy disjoint byte intervals; each starts at an aligned offset, so every
    one but the highest is followed by at least its size rounded up to
    `alignment`. At a position the bound is therefore the sum of the live
    buffers' aligned sizes less the largest rounding among them (the highest
    buffer needs only its own bytes), and the bound is its maximum over all
    positions.
    """
    ranges = _validated(ranges, alignment)
    if not ranges:
        return 0
    first = min(r.start for r in ranges)
    positions = max(r.end for r in ranges) - first + 1
    aligned_live = np.zeros(positions + 1, dtype=np.int64)
    largest_rounding = np.zeros(positions, dtype=np.int64)
    for r in ranges:
        aligned = _align_up(r.size, alignment)
        aligned_live[r.start - first] += aligned
        aligned_live[r.end - first + 1] -= aligned
        live = largest_rounding[r.start - first : r.end - first + 1]
        np.maximum(live, aligned - r.size, out=live)
    return int((np.cumsum(aligned_live[:-1]) - largest_rounding).max())


def check_placement(
    ranges: Iterable[LiveRange],
    offsets: Mapping[str, int],
    capacity: int | None = None,
    alignment: int = 1,
    memory: str = "",
) -> None:
    """Verify a placement independently of how it was made.

    Every buffer must have a non-negative offset that is a multiple of
    `alignment` and end within `capacity`; any two buffers with intersecting
    live ranges and non-zero sizes must occupy disjoint byte intervals. Raises
    `AllocationError` naming the offending buffer(s) on the first violation.
    """
    ranges = _validated(ranges, alignment)
    where = f" in memory '{memory}'" if memory else ""
    for r in ranges:
        if r.name not in offsets:
            raise AllocationError(f"buffer '{r.name}' has no offset{where}")
        offset = offsets[r.name]
        if offset < 0 or offset % alignment:
            raise AllocationError(
                f"buffer '{r.name}' at offset {offset}{where} is not a non-negative "
                f"multiple of the alignment {alignment}"
            )
        if capacity is not None and offset + r.size > capacity:
            raise AllocationError(
                f"buffer '{r.name}' at [{offset}, {offset + r.size}){where} exceeds "
                f"the capacity of {capacity} bytes"
            )

    occupied = [r for r in ranges if r.size > 0]
    starts = np.array([r.start for r in occupied], dtype=np.int64)
    ends = np.array([r.end for r in occupied], dtype=np.int64)
    lows = np.array([offsets[r.name] for r in occupied], dtype=np.int64)
    highs = lows + np.array([r.size for r in occupied], dtype=np.int64)
    for i, first in enumerate(occupied):
        later = i + 1
        clashes = np.nonzero(
            (starts[later:] <= first.end)
            & (ends[later:] >= first.start)
            & (lows[later:] < highs[i])
            & (highs[later:] > lows[i])
        )[0]
        if clashes.size:
            second = occupied[later + int(clashes[0])]
            raise AllocationError(
                f"buffers {_describe(first, offsets)} and {_describe(second, offsets)} "
                f"are live at the same time and overlap{where}"
            )


def _describe(buffer: LiveRange, offsets: Mapping[str, int]) -> str:
    """A buffer's name, live range and address interval, for error messages."""
    low = offsets[buffer.name]
    return (
        f"'{buffer.name}' (live {buffer.start}..{buffer.end}, "
        f"bytes [{low}, {low + buffer.size}))"
    )


def _validated(ranges: Iterable[LiveRange], alignment: int) -> list[LiveRange]:
    """The ranges as a list, after rejecting malformed input with `AllocationError`."""
    ranges = list(ranges)
    if alignment < 1:
        raise AllocationError(f"alignment must be at least 1, got {alignment}")
    seen: set[str] = set()
    for r in ranges:
        if r.name in seen:
            raise AllocationError(f"buffer '{r.name}' is listed more than once")
        seen.add(r.name)
        if r.start > r.end:
            raise AllocationError(
                f"buffer '{r.name}' has live range {r.start}..{r.end} that ends before it starts"
            )
        if r.size < 0:
            raise AllocationError(f"buffer '{r.name}' has negative size {r.size}")
    return ranges


def _align_up(value, alignment: int):
    """`value` rounded up to a multiple of `alignment`."""
    return -(-value // alignment) * alignment
