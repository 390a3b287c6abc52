"""The engine timeline: the DMA engine and the compute engine run in parallel, the host between them.

Commands are issued in program order. Each engine runs its own commands one
after the other; a command starts when its engine is free and every earlier
command of the other engine it depends on has ended. Dependence is buffer
overlap: a command waits for an earlier one that writes bytes it reads or
writes, or that reads bytes it writes. So a weight DMA overlaps the compute
command before it (double buffering) and the compute command that reads the
DMA'd weights waits for the copy, while a DMA into a buffer still being read
waits for its reader. A CPU command is a barrier: the host runs it once both
engines are idle (its inputs are written), for its estimated cycles, and both
engines wait for its end (its outputs are read after it).

Weights stream: a compute command consumes its weights one OFM depth slice
(`ofm_block_depth` channels, the granule weights are encoded in) at a time
(`weight_slices`), so when its only dependence on a DMA is that
the DMA writes its weights (`streamed`), it starts once the first slice has
arrived and ends no earlier than the DMA's end plus one slice of its own
work (Vela's double-buffered weight streaming).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from npuc.dialects.npu import BufferAttr

DMA_ENGINE = "dma"
COMPUTE_ENGINE = "npu"
CPU = "cpu"


@dataclass(frozen=True)
class Job:
    """One command on the timeline: its engine, duration and the bytes it touches.

    `streamed` are the read buffers (DMA'd weights) consumed in
    `weight_slices` slices, see the module docstring.
    """

    engine: str
    cycles: int
    reads: tuple[BufferAttr, ...]
    writes: tuple[BufferAttr, ...]
    streamed: tuple[BufferAttr, ...] = ()
    weight_slices: int = 1


def _overlap(first: tuple[BufferAttr, ...], second: tuple[BufferAttr, ...]) -> bool:
    return any(
        a.region.data == b.region.data and a.offset.data < b.end and b.offset.data < a.end
        for a in first
        for b in second
    )


def depends(later: Job, earlier: Job) -> bool:
    """Whether `later` must wait for `earlier` (read-after-write, write-after-read/write)."""
    return (
        _overlap(earlier.writes, later.reads)
        or _overlap(earlier.writes, later.writes)
        or _overlap(earlier.reads, later.writes)
    )


def streams_from(later: Job, earlier: Job) -> bool:
    """Whether `later` depends on `earlier` only by reading weights `earlier` writes, slice by slice."""
    others = tuple(buffer for buffer in later.reads if buffer not in later.streamed)
    return (
        later.weight_slices > 1
        and _overlap(earlier.writes, later.streamed)
        and not _overlap(earlier.writes, others)
        and not _overlap(earlier.writes, later.writes)
        and not _overlap(earlier.reads, later.writes)
    )


def schedule(jobs: list[Job]) -> list[tuple[int, int]]:
    """Start and end cycle of every job, in order.

    Only commands of the other engine that end after this engine is free can
    delay a job, so each engine keeps a list of such pending commands.
    """
    free = {DMA_ENGINE: 0, COMPUTE_ENGINE: 0}
    pending: dict[str, list[tuple[Job, int, int]]] = {DMA_ENGINE: [], COMPUTE_ENGINE: []}
    times = []
    for job in jobs:
        if job.engine == CPU:
            start = max(free.values())
            free = dict.fromkeys(free, start + job.cycles)
            pending = {engine: [] for engine in pending}
            times.append((start, start + job.cycles))
            continue
        other = DMA_ENGINE if job.engine == COMPUTE_ENGINE else COMPUTE_ENGINE
        start = tail = free[job.engine]
        waiting = [(earlier, begin, end) for earlier, begin, end in pending[other] if end > start]
        for earlier, begin, end in waiting:
            if streams_from(job, earlier):
                start = max(start, begin + ceil((end - begin) / job.weight_slices))
                tail = max(tail, end + ceil(job.cycles / job.weight_slices))
            elif depends(job, earlier):
                start = max(start, end)
        pending[other] = waiting
        end = max(start + job.cycles, tail)
        free[job.engine] = end
        pending[job.engine].append((job, start, end))
        times.append((start, end))
    return times
