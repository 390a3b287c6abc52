"""Exact placements that pin which first-fit orders `allocate` tries, and how `fits` bounds its search.

Each instance below is small; the expected offsets are those of the documented
procedure (first fit in the `_Buffers.orders` orders, keeping the first
smallest arena, ties by name; then the highest buffer moved earlier,
`_promote_top`), so a change to an order, to where the loop over orders
starts, to how a buffer moves or to how `lowest_offset` fills a gap moves
some buffer.
"""

import pytest

from npuc.backend import allocation
from npuc.backend.allocation import (
    LiveRange,
    allocate,
    arena_size,
    check_placement,
    fits,
    peak_live_bytes,
)
from npuc.errors import AllocationError

from support.allocation import searched


def _ranges(*specs):
    return [LiveRange(name, start, end, size) for name, start, end, size in specs]


CASES = [
    # Largest first (orders[0]) already reaches the bound: the first order is used.
    ("largest-first", 4, [("t0", 0, 6, 16), ("t4", 4, 5, 16)], {"t0": 0, "t4": 16}),
    # The second order (by size, later starts first) is the first to reach the bound.
    (
        "later-first",
        1,
        [("t0", 4, 4, 34), ("t4", 6, 6, 20), ("t5", 4, 6, 16), ("t7", 6, 6, 16)],
        {"t0": 0, "t4": 0, "t5": 36, "t7": 20},
    ),
    (
        "later-first-2",
        1,
        [("t2", 5, 6, 32), ("t4", 0, 4, 26), ("t5", 3, 3, 16), ("t6", 0, 5, 32)],
        {"t2": 32, "t4": 48, "t5": 32, "t6": 0},
    ),
    # The third order (most conflicting bytes first, then largest).
    (
        "conflicting-first",
        8,
        [("t2", 0, 1, 16), ("t3", 2, 2, 16), ("t5", 2, 3, 23), ("t6", 1, 2, 32)],
        {"t2": 32, "t3": 32, "t5": 48, "t6": 0},
    ),
    (
        "conflicting-first-2",
        16,
        [("t3", 6, 6, 7), ("t4", 4, 6, 22), ("t5", 6, 6, 8)],
        {"t3": 0, "t4": 32, "t5": 16},
    ),
    # lowest_offset: a buffer that fits a gap exactly goes into it (candidate + size <= next low).
    (
        "exact-gap",
        8,
        [("t1", 0, 1, 32), ("t3", 1, 4, 32), ("t5", 4, 6, 32)],
        {"t1": 0, "t3": 32, "t5": 0},
    ),
    # lowest_offset: a gap below the lowest neighbour is taken before the top of the stack.
    (
        "gap-below",
        1,
        [("t3", 5, 5, 11), ("t5", 0, 5, 16), ("t6", 4, 4, 32)],
        {"t3": 0, "t5": 32, "t6": 0},
    ),
]


@pytest.mark.parametrize(
    ("alignment", "specs", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_allocate_places_exactly_as_documented(alignment, specs, expected):
    ranges = _ranges(*specs)
    placement = allocate(ranges, alignment)
    assert placement == expected
    check_placement(ranges, placement, alignment=alignment)


def test_the_highest_buffer_moves_before_those_it_conflicts_with():
    # Peak live bytes is 73 but every first-fit order ends at 80; moving the highest buffer (t6, at 64)
    # before t1 and t4 puts it at 0, and then t4 (the highest, at 48) before t1: the bound.
    ranges = _ranges(("t1", 3, 4, 25), ("t4", 3, 5, 32), ("t6", 4, 6, 16))
    assert peak_live_bytes(ranges, 16) == 73
    assert allocate(ranges, 16) == {"t1": 48, "t4": 16, "t6": 0}


def test_fits_runs_its_search_with_a_step_budget():
    # Peak live bytes is 81 but no first-fit order, moved or not, reaches it (82): fits searches (with
    # _FIT_STEPS steps).
    ranges = _ranges(("t0", 2, 3, 17), ("t1", 5, 6, 31), ("t2", 2, 4, 2), ("t3", 1, 5, 35))
    assert allocate(ranges, 16) == {"t0": 64, "t1": 48, "t2": 48, "t3": 0}
    assert fits(ranges, 16, 81)
    assert not fits(ranges, 16, 80)


def test_allocate_names_an_unnamed_memory_as_empty():
    ranges = _ranges(("a", 0, 1, 8), ("b", 1, 2, 8))
    with pytest.raises(
        AllocationError,
        match=r"^memory '': buffers need 16 bytes but its capacity is 15 bytes$",
    ):
        allocate(ranges, 1, capacity=15)


def test_peak_live_bytes_counts_in_exact_integers():
    # 2**53 + 1 is not a float64: the counts must stay int64.
    huge = 2**53 + 1
    assert peak_live_bytes([LiveRange("a", 0, 0, huge)], 1) == huge
    assert (
        peak_live_bytes([LiveRange("a", 0, 1, huge), LiveRange("b", 1, 1, 3)], 4)
        == huge + 4
    )  # aligned sizes (huge + 3) + 4, less the larger rounding 3


def test_search_reaches_a_smaller_arena_within_its_steps():
    # First fit by size ends above 124 here; the search from it finds 124 within _SEARCH_STEPS only if it
    # re-computes (and counts) just the neighbours whose lowest slot the placed buffer covers. (allocate's
    # first fit by size times lifetime lands at 123, the peak-live bound, at once.)
    ranges = _ranges(
        ("t0", 4, 7, 16), ("t1", 5, 5, 32), ("t10", 8, 8, 32), ("t2", 8, 8, 16),
        ("t3", 4, 4, 24), ("t4", 7, 8, 32), ("t5", 2, 2, 24), ("t6", 7, 7, 20),
        ("t7", 6, 7, 8), ("t8", 3, 7, 23), ("t9", 4, 8, 24),
    )  # fmt: skip
    placement = searched(ranges, 4, allocation._SEARCH_STEPS)
    check_placement(ranges, placement, alignment=4)
    assert arena_size(ranges, placement) == 124
    assert placement == {
        "t0": 76, "t1": 0, "t10": 32, "t2": 64, "t3": 0, "t4": 0,
        "t5": 0, "t6": 56, "t7": 116, "t8": 32, "t9": 92,
    }  # fmt: skip
    assert arena_size(ranges, allocate(ranges, 4)) == peak_live_bytes(ranges, 4) == 123


def test_equal_first_fit_arenas_keep_the_earlier_order():
    # Every first-fit order ends at 60 (peak 57), conflicting bytes first in another placement; moving
    # the highest buffer and a one-step search find nothing smaller, so the placement is the first
    # order's (largest first).
    ranges = _ranges(("t0", 2, 2, 17), ("t1", 4, 5, 20), ("t2", 2, 2, 4), ("t3", 0, 5, 29))
    assert peak_live_bytes(ranges, 8) == 57
    assert allocation._placement(ranges, 8, 57, 1) == {"t0": 32, "t1": 32, "t2": 56, "t3": 0}


