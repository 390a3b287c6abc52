"""The allocator's placement search run alone, from first fit by decreasing size."""

from __future__ import annotations

from npuc.backend import allocation
from npuc.backend.allocation import LiveRange, peak_live_bytes


def searched(ranges: list[LiveRange], alignment: int, steps: int) -> dict[str, int]:
    """`_search_placement` from first fit by decreasing size (`allocate`'s first order), towards the bound."""
    ranges = sorted(ranges, key=lambda r: r.name)
    buffers = allocation._Buffers(ranges, alignment)
    by_size = buffers.orders()[0]
    offsets = allocation._search_placement(
        buffers, by_size, buffers.first_fit(by_size), peak_live_bytes(ranges, alignment), steps
    )
    return {r.name: int(offset) for r, offset in zip(ranges, offsets)}
