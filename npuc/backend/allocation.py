"""Liveness-based placement of buffers in one memory, and an independent checker.

Buffers whose live ranges do not intersect may share addresses, so the arena a
schedule needs is far smaller than the sum of its buffers. `allocate` places
buffers greedily (largest first, first fit into the gaps left by buffers it
conflicts with), as TFLite Micro's greedy memory planner does. `check_placement`
verifies any placement from scratch, without trusting the allocator.
"""

from __future__ import annotations

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

    Buffers are placed by decreasing size (ties by name, so the result is
    deterministic); each goes at the lowest aligned offset that fits between
    the already placed buffers whose live ranges intersect its own. Raises
    `AllocationError` if the resulting arena exceeds `capacity` bytes of
    `memory`.
    """
    ranges = _validated(ranges, alignment)
    order = sorted(ranges, key=lambda r: (-r.size, r.name))
    starts = np.array([r.start for r in order], dtype=np.int64)
    ends = np.array([r.end for r in order], dtype=np.int64)
    sizes = np.array([r.size for r in order], dtype=np.int64)
    offsets = np.zeros_like(sizes)

    for index, buffer in enumerate(order):
        conflicting = np.nonzero((starts[:index] <= buffer.end) & (ends[:index] >= buffer.start))[0]
        candidate = 0
        # By offset; the order of equal offsets does not matter: the candidate moves past all of them.
        for other in conflicting[np.argsort(offsets[conflicting])]:
            if candidate + buffer.size <= offsets[other]:
                break
            candidate = max(candidate, _align_up(int(offsets[other] + sizes[other]), alignment))
        offsets[index] = candidate

    placement = {buffer.name: int(offset) for buffer, offset in zip(order, offsets)}
    required = arena_size(ranges, placement)
    if capacity is not None and required > capacity:
        raise AllocationError(
            f"memory '{memory}': buffers need {required} bytes but its capacity is "
            f"{capacity} bytes"
        )
    return placement


def fits(ranges: Iterable[LiveRange], alignment: int, capacity: int) -> bool:
    """Whether `allocate` places `ranges` within `capacity` bytes.

    Skips the allocation when the aligned sizes sum to at most `capacity`:
    first fit never places a buffer past the aligned sizes of the buffers
    before it.
    """
    ranges = list(ranges)
    if sum(_align_up(r.size, alignment) for r in ranges) <= capacity:
        return True
    try:
        allocate(ranges, alignment, capacity)
    except AllocationError:
        return False
    return True


def arena_size(ranges: Iterable[LiveRange], offsets: Mapping[str, int]) -> int:
    """Bytes a placement spans: the largest `offset + size` over all buffers (0 if none)."""
    return max((offsets[r.name] + r.size for r in ranges), default=0)


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


def _align_up(value: int, alignment: int) -> int:
    """`value` rounded up to a multiple of `alignment`."""
    return -(-value // alignment) * alignment
