"""When a command must wait: DMA and kernel waits, and the BLOCKDEP of a kernel.

The NPU runs DMAs and kernels (convolution, pooling, elementwise) in
parallel and lets a kernel start before the previous kernel has finished,
so the stream says where it must not:

- OP_DMA_WAIT n before a kernel that touches bytes an issued DMA writes
  (its weights, a lookup table) or reads: wait until at most n DMAs are
  outstanding, the n issued after the conflicting one;
- OP_KERNEL_WAIT n before a DMA that touches bytes an issued kernel reads
  or writes (a staging buffer's earlier weights still read, a lookup table
  slot the kernel's accumulators may use);
- BLOCKDEP, the previous kernel's jobs that may still run when a kernel
  starts (at most `MAX_BLOCKDEP`): a job is one OFM block (for a
  convolution, one IFM depth block of it), the hardware works through
  blocks depth first, then along x, then down y. Job f of the kernel may
  start once the previous kernel's last jobs no longer touch what it reads
  (its IFM box, kernel halo included) or writes (its OFM block), so
  BLOCKDEP is the least, over the kernel's first jobs f, of f plus the
  previous kernel's trailing jobs that job f can overlap. A kernel whose
  shared-buffer areas reach into the lookup table the previous kernel
  reads waits for it entirely (0); so does the first kernel of a stream.

Only the last `max_outstanding_dma` DMAs and `max_outstanding_kernels`
kernels can be in flight (the NPU holds a new one back until an old one
finishes), so older operations need no wait; a wait retires the operation
waited for and every older one. Accesses are byte ranges per region, plus
the shared buffer (`SHRAM`), which kernels write and lookup-table DMAs fill.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from npuc.dialects.common import Window
from npuc.emit.ethos_u.feature_maps import FeatureMap
from npuc.emit.ethos_u.registers import MAX_BLOCKDEP

SHRAM = -1
"""The region number of the NPU's shared buffer in accesses (no base pointer addresses it)."""


@dataclass(frozen=True)
class Span:
    """Bytes [start, end) of one region (or of the shared buffer, `SHRAM`)."""

    region: int
    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        """Whether the two spans share a byte."""
        return self.region == other.region and self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Accesses:
    """The bytes an operation reads and writes."""

    reads: tuple[Span, ...]
    writes: tuple[Span, ...]

    def conflicts(self, other: Accesses) -> bool:
        """Whether one of the two writes bytes the other reads or writes."""
        return _any_overlap(self.writes, other.reads + other.writes) or _any_overlap(self.reads, other.writes)


def _any_overlap(first: Sequence[Span], second: Sequence[Span]) -> bool:
    return any(a.overlaps(b) for a in first for b in second)


@dataclass(frozen=True)
class Input:
    """A feature map a kernel reads (IFM or IFM2) with what selects the elements an OFM block needs.

    `window` maps OFM rows and columns to input ones (UNIT for elementwise);
    `channel_divisor` maps OFM channels to input ones (a depthwise channel
    multiplier); `depth_step` > 0 marks an input read over its whole depth,
    in jobs of that many channels (convolution, fully connected, reduce
    sum). Axes of extent 1 are broadcast.
    """

    fm: FeatureMap
    window: Window
    channel_divisor: int = 1
    depth_step: int = 0


@dataclass(frozen=True)
class Kernel:
    """What BLOCKDEP needs of one kernel operation: its OFM, block, inputs and shared-buffer use."""

    ofm: FeatureMap
    block: tuple[int, int, int]
    inputs: tuple[Input, ...]
    shram_writes: Span
    lut_reads: Span | None = None

    def blocks(self) -> Iterator[tuple[range, range, range]]:
        """The OFM blocks (rows, columns, channels) in the order the NPU computes them."""
        height, width, depth = self.block
        for y in range(0, self.ofm.height, height):
            for x in range(0, self.ofm.width, width):
                for c in range(0, self.ofm.depth, depth):
                    yield (range(y, min(y + height, self.ofm.height)), range(x, min(x + width, self.ofm.width)),
                           range(c, min(c + depth, self.ofm.depth)))

    def depth_steps(self) -> int:
        """Jobs per OFM block: the IFM depth blocks of a depth-summing input, else 1."""
        return max((-(-source.fm.depth // source.depth_step) for source in self.inputs if source.depth_step), default=1)

    def jobs(self) -> Iterator[tuple[tuple[range, range, range], int]]:
        """(OFM block, IFM depth step) of every job, in order."""
        steps = self.depth_steps()
        for block in self.blocks():
            for step in range(steps):
                yield block, step

    def block_reads(self, block: tuple[range, range, range]) -> list[Span]:
        """The input bytes all jobs of one OFM block read."""
        return [span for step in range(self.depth_steps()) for span in self.job_reads(block, step)]

    def job_reads(self, block: tuple[range, range, range], step: int) -> list[Span]:
        """The input bytes one job reads (a superset: whole rows of each box)."""
        rows, columns, channels = block
        spans = []
        for source in self.inputs:
            fm, window = source.fm, source.window
            ifm_rows = _window_range(rows, window.strides[0], window.padding[0], window.dilated_kernel[0], fm.height)
            ifm_columns = _window_range(columns, window.strides[1], window.padding[1], window.dilated_kernel[1], fm.width)
            if source.depth_step:
                ifm_channels = range(step * source.depth_step, min((step + 1) * source.depth_step, fm.depth))
            elif fm.depth == 1:
                ifm_channels = range(1)
            else:
                ifm_channels = range(channels.start // source.channel_divisor, (channels.stop - 1) // source.channel_divisor + 1)
            spans += [Span(fm.region, start, end) for start, end in fm.box_ranges(ifm_rows, ifm_columns, ifm_channels)]
        return spans

    def block_writes(self, block: tuple[range, range, range]) -> list[Span]:
        """The OFM bytes one block writes (a superset: whole rows)."""
        return [Span(self.ofm.region, start, end) for start, end in self.ofm.box_ranges(*block)]


def _window_range(outputs: range, stride: int, padding_before: int, extent: int, size: int) -> range:
    """The input rows (columns) outputs `outputs` read, clipped to the input's `size` (1: broadcast)."""
    if size == 1:
        return range(1)
    start = max(0, outputs.start * stride - padding_before)
    stop = min(size, (outputs.stop - 1) * stride - padding_before + extent)
    return range(start, max(start, stop))


def block_dependency(previous: Kernel | None, current: Kernel) -> int:
    """The BLOCKDEP of `current` after the kernel `previous` (None: the first of its stream)."""
    if previous is None:
        return 0
    if previous.lut_reads is not None and current.shram_writes.overlaps(previous.lut_reads):
        return 0
    trailing = list(previous.blocks())[-MAX_BLOCKDEP:][::-1]  # the last block first
    dependency = MAX_BLOCKDEP
    for elapsed, (block, step) in enumerate(current.jobs()):
        if elapsed >= MAX_BLOCKDEP:
            break
        reads, writes = current.job_reads(block, step), current.block_writes(block)
        outstanding = 0
        for earlier in trailing:
            if _any_overlap(reads + writes, previous.block_writes(earlier)) or _any_overlap(
                writes, previous.block_reads(earlier)
            ):
                break
            outstanding += 1
        dependency = min(dependency, elapsed + outstanding)
    return dependency


@dataclass
class Outstanding:
    """DMAs and kernels issued and not yet waited for, newest last, at most the NPU's queue depths."""

    max_dma: int
    max_kernels: int
    dmas: list[Accesses] = field(default_factory=list)
    kernels: list[Accesses] = field(default_factory=list)

    def dma_wait(self, kernel: Accesses) -> int | None:
        """OP_DMA_WAIT's count before a kernel with these accesses (None: no wait); records the kernel."""
        wait = _wait(self.dmas, kernel)
        self.kernels = (self.kernels + [kernel])[-self.max_kernels :]
        return wait

    def kernel_wait(self, dma: Accesses) -> int | None:
        """OP_KERNEL_WAIT's count before a DMA with these accesses (None: no wait); records the DMA."""
        wait = _wait(self.kernels, dma)
        self.dmas = (self.dmas + [dma])[-self.max_dma :]
        return wait


def _wait(issued: list[Accesses], accesses: Accesses) -> int | None:
    """The count of operations issued after the newest one conflicting with `accesses` (None if none
    does); that one and every older one are retired from `issued`."""
    for newer, index in enumerate(range(len(issued) - 1, -1, -1)):
        if issued[index].conflicts(accesses):
            del issued[: index + 1]
            return newer
    return None
