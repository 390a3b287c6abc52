"""The stream's synchronisation, checked: a command may not touch bytes an unfinished operation writes.

DMA and kernels (OP_CONV, OP_DEPTHWISE, OP_POOL, OP_ELEMENTWISE) run
asynchronously. A started DMA is *in flight* until an `OP_DMA_WAIT k` leaves
at most k DMAs in flight, or until the DMA queue is full (one DMA on the
Ethos-U55, two on the Ethos-U65) and a newer one has to wait for it; kernels
likewise with `OP_KERNEL_WAIT n` and a queue of two. A DMA and a kernel in
flight together must not touch the same bytes where either writes them:
`Hazards` raises `StreamHazardError` when a new operation conflicts with one
in flight of the other kind.

Kernels run in order, but a kernel may start while the last BLOCKDEP jobs
(OFM blocks) of the kernel before it still run. Its job j (its OFM blocks
in the hardware's order: depth fastest, then x, then y) may start while
the previous kernel's last BLOCKDEP - j jobs run, so the IFM and IFM2 bytes
job j reads must not be among the OFM bytes those jobs write.

A feature map's bytes are taken per row and tile side, from the first to the
last byte of the row;
weights, scales and DMA streams are their byte ranges; a kernel uses the
shared buffer below the lookup tables (all of it, on 16-bank accelerators,
unless it uses a table itself) and reads the table slots it looks up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np

from npuc.emit.ethos_u.registers import Cmd0, ElementwiseMode, PoolingMode, UpscaleMode
from npuc.errors import StreamHazardError
from npuc.sim.ethos_u.memory import FeatureMap, Memory, element_addresses, grid
from npuc.sim.ethos_u.operation import KernelOperation

SUB_KERNEL_SPAN = 8
"""IFM positions a sub-kernel spans in each direction at most."""


@dataclass(frozen=True)
class Access:
    """Byte ranges [starts[i], ends[i]) of one backing buffer (by identity) that an operation reads or writes."""

    buffer: int
    starts: np.ndarray
    ends: np.ndarray
    write: bool
    what: str


def span(buffer: np.ndarray, start: int, end: int, write: bool, what: str) -> Access:
    """One contiguous byte range of a buffer."""
    return Access(id(buffer), np.array([start]), np.array([end]), write, what)


@dataclass(frozen=True)
class InFlight:
    """An operation that may still run: the command that started it (`offset 0x.. (NPU_OP_..)`), its accesses."""

    label: str
    accesses: tuple[Access, ...]


def _overlap(first: Access, second: Access) -> tuple[int, int] | None:
    """A byte range both touch, if any (intervals sorted by start, prefix maximum of the ends)."""
    order = np.argsort(second.starts, kind="stable")
    starts, reach = second.starts[order], np.maximum.accumulate(second.ends[order])
    before = np.searchsorted(starts, first.ends, side="left")
    hits = np.nonzero((before > 0) & (reach[np.maximum(before - 1, 0)] > first.starts))[0]
    if not hits.size:
        return None
    return int(first.starts[hits[0]]), int(first.ends[hits[0]])


def _conflict(new: tuple[Access, ...], old: tuple[Access, ...]) -> tuple[Access, Access, tuple[int, int]] | None:
    for first in new:
        for second in old:
            if (first.write or second.write) and first.buffer == second.buffer:
                overlap = _overlap(first, second)
                if overlap:
                    return first, second, overlap
    return None


def fm_accesses(memory: Memory, fm: FeatureMap, box: tuple[range, range, range], write: bool, what: str,
                where: str) -> list[Access]:
    """The bytes of `box` of a feature map, as one range per row and tile side (first to last byte)."""
    region = memory.region(fm.region, where)
    ys, xs, cs = grid(*box)
    addresses = element_addresses(fm, ys, xs, cs)
    if addresses.size == 0:
        return []
    starts, ends = [], []
    right = xs[0, :, 0] >= fm.width0
    for side in (~right, right):
        if side.any():
            part = addresses[:, side, :]
            starts.append(part.min(axis=(1, 2)))
            ends.append(part.max(axis=(1, 2)) + fm.element_size)
    return [Access(id(region.buffer), region.start + np.concatenate(starts), region.start + np.concatenate(ends),
                   write, what)]


def _ifm_box(op: KernelOperation, ofm_box: tuple[range, range, range], taps_y: range | None = None,
             taps_x: range | None = None) -> tuple[range, range, range]:
    """The IFM elements an OFM box reads through kernel taps `taps_y` x `taps_x` (all by default), clipped."""
    rows, columns, channels = ofm_box
    kernel, padding = op.kernel, op.padding
    taps_y = taps_y or range(kernel.height)
    taps_x = taps_x or range(kernel.width)
    first_y = rows.start * kernel.stride_y - padding.top + taps_y.start * kernel.dilation_y
    last_y = (rows.stop - 1) * kernel.stride_y - padding.top + (taps_y.stop - 1) * kernel.dilation_y + 1
    first_x = columns.start * kernel.stride_x - padding.left + taps_x.start * kernel.dilation_x
    last_x = (columns.stop - 1) * kernel.stride_x - padding.left + (taps_x.stop - 1) * kernel.dilation_x + 1
    if op.upscale is not UpscaleMode.NONE:
        first_y, last_y, first_x, last_x = first_y // 2, (last_y + 1) // 2, first_x // 2, (last_x + 1) // 2
    height, width, depth = op.ifm.shape
    all_channels = op.opcode is Cmd0.OP_CONV or op.mode is PoolingMode.REDUCE_SUM
    return (
        range(max(first_y, 0), min(last_y, height)),
        range(max(first_x, 0), min(last_x, width)),
        range(depth) if all_channels else channels,
    )


def _ifm2_box(op: KernelOperation, ofm_box: tuple[range, range, range]) -> tuple[range, range, range]:
    assert op.ifm2 is not None
    (height, width, depth), (rows, columns, channels) = op.ifm2.shape, ofm_box
    return (range(1) if height == 1 else rows, range(1) if width == 1 else columns,
            range(1) if depth == 1 else channels)


def kernel_reads(op: KernelOperation, memory: Memory, ofm_box: tuple[range, range, range],
                 where: str) -> list[Access]:
    """The IFM and IFM2 bytes that computing `ofm_box` of the OFM reads."""
    accesses = fm_accesses(memory, op.ifm, _ifm_box(op, ofm_box), False, "IFM", where)
    if op.ifm2 is not None and op.scalar is None and op.mode not in (ElementwiseMode.CLZ,):
        accesses += fm_accesses(memory, op.ifm2, _ifm2_box(op, ofm_box), False, "IFM2", where)
    return accesses


def ofm_blocks(op: KernelOperation) -> list[tuple[range, range, range]]:
    """The OFM blocks of an operation in the order the hardware runs them (depth, then x, then y)."""
    height, width, depth = op.ofm.shape
    block_h, block_w, block_d = op.block
    return [
        (range(y, min(y + block_h, height)), range(x, min(x + block_w, width)), range(z, min(z + block_d, depth)))
        for y in range(0, height, block_h)
        for x in range(0, width, block_w)
        for z in range(0, depth, block_d)
    ]


def _sub_kernels(op: KernelOperation) -> list[tuple[range, range]]:
    """The kernel's taps in sub-kernels of at most 8x8 positions (4x4 taps when dilated), row by row."""
    kernel = op.kernel
    step_y, step_x = SUB_KERNEL_SPAN // kernel.dilation_y, SUB_KERNEL_SPAN // kernel.dilation_x
    return [
        (range(y, min(y + step_y, kernel.height)), range(x, min(x + step_x, kernel.width)))
        for y in range(0, kernel.height, step_y)
        for x in range(0, kernel.width, step_x)
    ]


def _jobs(op: KernelOperation) -> Iterator[tuple[tuple[range, range, range], tuple[range, range] | None]]:
    """(OFM block, IFM channels, sub-kernel taps) of every job, in the order the hardware runs them.

    Per OFM block: for a convolution and a reduce sum (which read every IFM
    channel) each IFM depth block (32 channels of 8 bits, 16 of 16 bits, 8 of
    32 bits), and within it each sub-kernel; elementwise operations have one
    job per block.
    """
    ifm_depth = op.ifm.shape[2]
    depth_blocked = op.opcode is Cmd0.OP_CONV or op.mode is PoolingMode.REDUCE_SUM
    depth_block = min(256 // op.ifm.element_bits, -(-ifm_depth // 8) * 8)
    elementwise = op.opcode is Cmd0.OP_ELEMENTWISE
    sub_kernels = _sub_kernels(op)
    for block in ofm_blocks(op):
        depths = [range(z, min(z + depth_block, ifm_depth)) for z in range(0, ifm_depth, depth_block)] \
            if depth_blocked else [block[2]]
        for channels in depths:
            if elementwise:
                yield (block[0], block[1], channels), None
                continue
            for taps in sub_kernels:
                yield (block[0], block[1], channels), taps


def first_job_reads(op: KernelOperation, memory: Memory, count: int, where: str) -> list[list[Access]]:
    """The IFM and IFM2 bytes each of the operation's first `count` jobs (`_jobs`) reads."""
    reads = []
    for (rows, columns, channels), taps in islice(_jobs(op), count):
        if taps is None:
            reads.append(kernel_reads(op, memory, (rows, columns, channels), where))
            continue
        ifm_rows, ifm_columns, all_channels = _ifm_box(op, (rows, columns, channels), *taps)
        depth_blocked = op.opcode is Cmd0.OP_CONV or op.mode is PoolingMode.REDUCE_SUM
        box = (ifm_rows, ifm_columns, channels if depth_blocked else all_channels)
        reads.append(fm_accesses(memory, op.ifm, box, False, "IFM", where))
    return reads


class Hazards:
    """DMAs and kernels in flight, and the previous kernel's last jobs, against each new operation."""

    def __init__(self, max_dma: int, max_kernels: int = 2):
        self.dma: deque[InFlight] = deque()
        self.kernels: deque[InFlight] = deque()
        self.max_dma = max_dma
        self.max_kernels = max_kernels
        self.previous: tuple[KernelOperation, str] | None = None

    def wait_dma(self, remaining: int) -> None:
        """OP_DMA_WAIT: all but the newest `remaining` DMAs have finished."""
        while len(self.dma) > remaining:
            self.dma.popleft()

    def wait_kernels(self, remaining: int) -> None:
        """OP_KERNEL_WAIT: all but the newest `remaining` kernels have finished."""
        while len(self.kernels) > remaining:
            self.kernels.popleft()
        if not self.kernels:
            self.previous = None

    def start_dma(self, accesses: tuple[Access, ...], where: str, label: str) -> None:
        """A DMA starts: it must not touch what an unfinished kernel touches.

        `where` starts error messages; `label` names the command in later ones.
        """
        _check(accesses, self.kernels, where, "kernel")
        self.dma.append(InFlight(label, accesses))
        if len(self.dma) > self.max_dma:
            self.dma.popleft()

    def start_kernel(self, op: KernelOperation, accesses: tuple[Access, ...], memory: Memory, where: str,
                     label: str) -> None:
        """A kernel starts: no conflict with DMAs in flight, and its BLOCKDEP respects the previous kernel."""
        _check(accesses, self.dma, where, "DMA")
        if self.previous is not None and op.blockdep > 0:
            self._check_blockdep(op, memory, where)
        self.kernels.append(InFlight(label, accesses))
        if len(self.kernels) > self.max_kernels:
            self.kernels.popleft()
        self.previous = (op, label)

    def _check_blockdep(self, op: KernelOperation, memory: Memory, where: str) -> None:
        assert self.previous is not None
        previous, previous_label = self.previous
        previous_blocks = ofm_blocks(previous)
        for job, reads in enumerate(first_job_reads(op, memory, op.blockdep, where)):
            running = previous_blocks[max(len(previous_blocks) - (op.blockdep - job), 0):]
            for previous_block in running:
                writes = tuple(fm_accesses(memory, previous.ofm, previous_block, True, "OFM", where))
                found = _conflict(tuple(reads), writes)
                if found:
                    first, last = found[2]
                    raise StreamHazardError(
                        f"{where}: BLOCKDEP {op.blockdep} lets job {job} read {found[0].what} bytes "
                        f"{first:#x}-{last:#x} while the kernel at {previous_label} may still write its OFM there"
                    )


def _check(accesses: tuple[Access, ...], in_flight: deque[InFlight], where: str, kind: str) -> None:
    for other in in_flight:
        found = _conflict(accesses, other.accesses)
        if found:
            new, old, (first, last) = found
            raise StreamHazardError(
                f"{where}: {'writes' if new.write else 'reads'} {new.what} bytes {first:#x}-{last:#x} "
                f"that the {kind} at {other.label} {'writes' if old.write else 'reads'} ({old.what}) "
                f"without a wait for it"
            )
