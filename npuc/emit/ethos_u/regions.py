"""Which Ethos-U region (base pointer) each byte range of npuc's memories is addressed through.

An Ethos-U command addresses memory as a region number plus an offset; the
driver sets each region's base pointer from the `ethos-u` operator's
tensors, in order: the read-only data (weights, scale records, lookup
tables), the scratch arena and the fast scratch arena (the shared
`ethos-u-format.md`). npuc's buffers map onto them by what they hold, as
Vela's tensors do by their purpose:

| region | tensor | npuc buffers |
| --- | --- | --- |
| 0 | read-only data | the `npu.constant`s (all in the weights memory) |
| 1 | scratch | everything else in the arena memory (activations, the model's inputs and outputs) |
| 2 | scratch_fast | everything in the staging memory, when it is not the arena memory (Dedicated_Sram) |

With the staging memory being the arena memory (Shared_Sram, Sram_Only)
staged weights and feature maps are in region 1 and region 2 is unused.
Addresses are the IR's offsets in each memory: when one memory holds both
constants and scratch buffers (Dedicated_Sram puts the constants and the
arena in DRAM) the read-only tensor and the scratch tensor each stand for
that memory from offset 0, and each leaves the other's bytes unused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from npuc.dialects.npu_memory import BufferAttr
from npuc.errors import CommandStreamError
from npuc.targets import Target

READ_ONLY_REGION = 0
"""Region of the read-only data tensor (the ethos-u operator's second input)."""
SCRATCH_REGION = 1
"""Region of the scratch arena tensor (third input)."""
FAST_SCRATCH_REGION = 2
"""Region of the fast scratch arena tensor (fourth input)."""


@dataclass(frozen=True)
class RegionMap:
    """The region of every byte range a target's command stream addresses (see the module docstring).

    `constants` are the `npu.constant` buffers; `scratch` maps the arena
    memory, and the staging memory when it is another, to their regions.
    """

    weights_memory: str
    constants: tuple[tuple[int, int], ...]
    scratch: dict[str, int]

    def region(self, memory: str, start: int, end: int, where: str) -> int:
        """The region of bytes [start, end) of `memory`; CommandStreamError naming `where` if there is none."""
        if memory == self.weights_memory and any(low <= start and end <= high for low, high in self.constants):
            return READ_ONLY_REGION
        if memory in self.scratch:
            return self.scratch[memory]
        raise CommandStreamError(
            f"{where}: bytes {start}..{end} of memory '{memory}' are neither a constant nor in a scratch memory "
            f"({', '.join(self.scratch)})"
        )

    def buffer_region(self, buffer: BufferAttr, where: str) -> int:
        """The region of a buffer."""
        return self.region(buffer.region.data, buffer.offset.data, buffer.end, where)


def region_map(target: Target, constants: Iterable[BufferAttr]) -> RegionMap:
    """The regions of `target`'s memories for a program with `constants` (its `npu.constant` buffers)."""
    scratch = {target.arena_memory: SCRATCH_REGION}
    if target.staging_memory != target.arena_memory:
        scratch[target.staging_memory] = FAST_SCRATCH_REGION
    spans = tuple((buffer.offset.data, buffer.end) for buffer in constants if buffer.region.data == target.weights_memory)
    return RegionMap(target.weights_memory, spans, scratch)
