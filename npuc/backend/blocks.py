"""OFM block choice: the block search npu-tile runs for every NPU command.

The rule is Vela's (Regor's) block search, so that npuc computes in the
blocks Vela would and the cost model prices the same work:

1. Candidates are every multiple of the OFM micro-block up to the OFM (rounded
   up to the micro-block) and `ofm_block_max`. Depths are visited from
   `ofm_block_depth` (or the OFM depth, if smaller) in micro-block steps, each
   rounded up to `ofm_block_depth` while below the OFM depth; within a depth,
   heights then widths ascend.
2. A candidate must fit the shared buffer (`fits_shram`): its IFM block and
   its accumulators, both double-buffered and rounded to banks
   (`npuc.emit.ethos_u.shared_buffer`, whose layout the Ethos-U registers
   program).
3. Each fitting candidate costs the IFM and weight elements fetched per OFM
   element (`fetch_cost`); the cheapest wins, the first visited on a tie
   (costs within `TIE` of each other), except that a block of at most 4 x 4
   replaces an equally cheap one when its IFM block covers at least as much
   of the IFM.

Everything is in elements of the command's shapes; the IFM element width
only sizes the shared-buffer areas.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from math import ceil, inf

from npuc.cost import ifm_blocks
from npuc.cost.compute import (
    CONV,
    DEPTH_SUMMING,
    DEPTHWISE,
    ELEMENTWISE,
    CommandShape,
)
from npuc.cost.geometry import ceil_to
from npuc.emit.ethos_u import shared_buffer
from npuc.emit.ethos_u.weights import Traversal
from npuc.targets import Target

TIE = 1e-9
"""Relative difference below which two costs are equal. Costs are ratios of integers: two that are
equal in exact arithmetic may differ in their last bits as floats, and must tie as they do in Vela."""

SMALL_BLOCK = 4
"""Blocks of at most this height and width win cost ties by IFM coverage (Vela's rule)."""


@dataclass(frozen=True)
class SearchInput:
    """What the search needs of a command, derived once from its `CommandShape` (`search_input`).

    `traversal` is the weight traversal the search assumes (part-kernel
    first for a convolution that runs kernel first), `kernel` the dilated
    kernel extent [h, w], `ifm_repeats` the sub-kernels the kernel splits
    into.
    """

    shape: CommandShape
    traversal: Traversal
    kernel: tuple[int, int]
    ifm_repeats: int

    @property
    def ofm(self) -> tuple[int, int, int]:
        """The OFM [h, w, c] (batch left out)."""
        return self.shape.ofm[1:]


@lru_cache(maxsize=4096)
def choose_block(shape: CommandShape, target: Target) -> tuple[int, int, int] | None:
    """The OFM block ([h, w, c]) Vela's search picks for `shape` on `target` (None if none fits).

    A function of its arguments alone, and the costliest step of npu-tile:
    cached per process, so compiling for one target again (another memory
    budget or goal, a sweep's next point) searches no shape twice.
    """
    command = search_input(shape, target)
    best: tuple[int, int, int] | None = None
    best_cost, best_coverage = inf, inf
    for block in candidate_blocks(command, target):
        cost = fetch_cost(command, block, target)
        if cost < best_cost * (1 - TIE):
            best, best_cost, best_coverage = block, cost, inf
        elif cost <= best_cost * (1 + TIE) and max(block[0], block[1]) <= SMALL_BLOCK:
            coverage = _coverage(command, block, target)
            if coverage <= best_coverage:
                best, best_coverage = block, coverage
    return best


def candidate_blocks(command: SearchInput, target: Target) -> Iterator[tuple[int, int, int]]:
    """The blocks the search weighs, in its order: the candidates of rule 1 that fit the shared buffer
    (rule 2), none larger than the OFM rounded up to the micro-block (as `planning.clip_block` leaves
    them). Any of them is a block the hardware runs the command in."""
    ublock, limit = target.ofm_ublock, target.ofm_block_max
    height, width, depth = command.ofm
    space = (
        min(ceil_to(height, ublock.height), limit.height),
        min(ceil_to(width, ublock.width), limit.width),
        min(ceil_to(depth, ublock.depth), limit.depth),
    )
    for block_depth in _depths(depth, space[2], target):
        too_big: set[tuple[int, int]] = set()
        for block_height in range(ublock.height, space[0] + 1, ublock.height):
            widths = range(ublock.width, space[1] + 1, ublock.width)
            for block_width in widths:
                if (block_height, block_width) in too_big:
                    continue
                block = (block_height, block_width, block_depth)
                if not fits_shram(command, block, target):
                    # Its transpose would not fit either; nor would a wider block (its IFM block and
                    # accumulators only grow with the width): none is tried, each transpose is marked.
                    too_big.update((width, block_height) for width in widths if width >= block_width)
                    break
                yield block


def search_input(shape: CommandShape, target: Target) -> SearchInput:
    """The `SearchInput` of `shape` on `target`: traversal, dilated kernel and sub-kernel count."""
    traversal = Traversal.PART_KERNEL_FIRST if ifm_blocks.runs_kernel_first(shape, target) else Traversal.DEPTH_FIRST
    kernel = shape.window.dilated_kernel
    repeats = ceil(kernel[0] / target.sub_kernel_max[0]) * ceil(kernel[1] / target.sub_kernel_max[1])
    return SearchInput(shape, traversal, kernel, repeats)


def _depths(ofm_depth: int, deepest: int, target: Target) -> list[int]:
    """Candidate block depths in search order (rule 1 of the module docstring)."""
    split, step = target.throughput.ofm_block_depth, target.ofm_ublock.depth
    depths: list[int] = []
    depth = max(step, min(deepest, split))
    while True:
        if depth < ofm_depth:
            depth = ceil_to(depth, split)
        if depth > deepest:
            return depths
        depths.append(depth)
        depth += step


def ifm_block(command: SearchInput, block: tuple[int, int, int], target: Target) -> tuple[int, int, int]:
    """The IFM block ([h, w, c]) that feeds OFM block `block` (`ifm_blocks.ifm_block`)."""
    depth = shared_buffer.ifm_depth(command.shape, block[2], command.traversal, target)
    return ifm_blocks.ifm_block(command.shape, block, depth, target)


def fits_shram(command: SearchInput, block: tuple[int, int, int], target: Target) -> bool:
    """Whether the double-buffered IFM block(s) and accumulators of `block` fit the shared buffer
    (`shared_buffer.layout`)."""
    return shared_buffer.layout(command.shape, block, command.traversal, target) is not None


def fetch_cost(command: SearchInput, block: tuple[int, int, int], target: Target) -> float:
    """IFM and weight elements fetched per OFM element when computing in `block`.

    The IFM block is fetched once per block position (fractional positions
    count by their fraction), per sub-kernel and, unless the command is per
    channel, per OFM depth block; a convolution's weights (whole kernel x
    IFM depth, times the OFM depth for a full convolution) once per block
    position. An elementwise command costs its block count instead. A block
    whose IFM block holds half the IFM or more costs half (both buffers hold
    the whole IFM).
    """
    shape = command.shape
    _, ifm_height, ifm_width, ifm_depth = shape.ifm
    ofm = command.ofm
    ofm_elements = ofm[0] * ofm[1] * ofm[2]
    fitted = (1 if ofm[0] == 1 and command.kernel[0] == 1 else block[0], block[1], block[2])
    fetched_block = ifm_block(command, block, target)
    if shape.kind == ELEMENTWISE:
        cost = max(ofm_elements / (block[0] * block[1] * block[2]), 1.0)
    else:
        fractions = [size / extent for size, extent in zip(ofm, fitted)]
        whole = [ceil(fraction) for fraction in fractions]
        ifm_fetch = fetched_block[0] * fetched_block[1] * ifm_depth * command.ifm_repeats * fractions[0] * fractions[1]
        weight_fetch = 0.0
        if shape.kind in (CONV, DEPTHWISE):
            weight_fetch = command.kernel[0] * command.kernel[1] * ifm_depth * whole[0] * whole[1]
        if shape.kind in DEPTH_SUMMING:
            ifm_fetch *= whole[2]
        if shape.kind == CONV:
            weight_fetch *= fitted[2] * fractions[2]
        cost = (ifm_fetch + weight_fetch) / ofm_elements
    if ifm_height * ifm_width * ifm_depth < 2 * fetched_block[0] * fetched_block[1] * fetched_block[2]:
        cost /= 2
    return cost


def _coverage(command: SearchInput, block: tuple[int, int, int], target: Target) -> float:
    """IFM area over the part of it one IFM block covers (lower covers more)."""
    _, ifm_height, ifm_width, _ = command.shape.ifm
    fetched = ifm_block(command, block, target)
    return ifm_height * ifm_width / (min(ifm_height, fetched[0]) * min(ifm_width, fetched[1]))
