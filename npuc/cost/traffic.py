"""Memory traffic of NPU commands: bytes per memory and the cycles to move them.

A command's operands are streamed in burst groups: back-to-back bursts of one
operand for one block. Each group pays its memory's latency once (the first
burst waits, the rest are pipelined behind it) and is rounded up to whole
bursts of `burst_length` bytes (a partial burst costs a full one). The model's
input and output feature maps, kept in plain NHWC, are also accessed in
shorter contiguous runs when a block does not span their full depth; a run
shorter than a burst costs a whole burst (`read_run`, `write_run`). Streams on
different memories run in parallel; streams on the same memory share its
bandwidth.

What is read how often (see `geometry` for the block order):
- IFM: the box of every height/width block position, kernel halo included,
  once per position (all depth blocks of the position share it; Vela counts
  a re-read per depth block, which npuc's shallow blocks would make dominate);
- weights: the whole weight buffer once per height/width position, in groups
  of `ofm_block_depth` output channels. Weights a DMA copied (into the
  staging memory) are read there without a bus transfer of their own (the
  copy is what costs), so they are counted in bytes but not in cycles;
- scale/bias table: once per command, and so is the lookup table of an
  elementwise command (the softmax exp table, read into the shared buffer);
- second IFM of an elementwise command (if it has one): like the IFM;
- OFM: written once, one group per block.

Latency: a compute command's access cycles are bandwidth only. The NPU keeps
enough transactions in flight that bursts hide the latency; what remains is
the wait for a block's first IFM and last OFM bytes, which the compute model
charges (`block_transfer_cycles`: in the per-block floor, and once per
command for the pipeline fill, as Vela does). A DMA pays its source's read latency once (`dma_time`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from math import ceil, prod

from xdsl.ir import Operation

from npuc.cost.compute import DEPTH_SUMMING, CommandShape, command_shape
from npuc.cost.geometry import (
    BlockGeometry,
    as_batch_hwc,
    ceil_to,
    ifm_box_elements,
)
from npuc.dialects.common import Window
from npuc.dialects.npu import (
    BufferAttr,
    ComputeOp,
    DmaOp,
    ElementwiseOp,
    FeatureMapAttr,
    FullyConnectedOp,
    WeightedOp,
)
from npuc.errors import TargetError
from npuc.targets import Memory, Target


@dataclass(frozen=True)
class Transfer:
    """Bytes one command moves in one direction on one memory, as `groups` burst groups.

    An untimed transfer (`timed` false) counts in bytes but not in access
    cycles. `run` is the bytes the NPU accesses contiguously (0: whole
    bursts); a run shorter than the memory's burst costs a whole burst.
    """

    memory: str
    write: bool
    bytes: int
    groups: int
    timed: bool = True
    run: int = 0


@dataclass(frozen=True)
class AccessTime:
    """Cycles a DMA keeps its memories busy: bandwidth part and latency part."""

    transfer: float
    latency: int

    @property
    def cycles(self) -> int:
        """Total access cycles, rounded up."""
        return ceil(self.transfer + self.latency)


def target_memory(target: Target, name: str, layer: str) -> Memory:
    """The target memory called `name`, or a `TargetError` naming the layer that uses it."""
    try:
        return target.memory(name)
    except TargetError as error:
        raise TargetError(f"layer '{layer}': {error}") from None


def _fm_bytes(fm: FeatureMapAttr, elements: int) -> int:
    return elements * fm.element_type.bits // 8


@dataclass(frozen=True)
class BufferRoles:
    """The buffers whose role changes how a compute command accesses them.

    `copies`: (memory, offset) of every DMA destination (weights found
    there were buffered by a DMA). `interface`: the model's input and output
    feature maps, which the host reads and writes in plain NHWC; Vela stores
    every other feature map in 16-channel bricks (NHCWB16), read and written
    in full bursts, and the model follows it there.
    """

    copies: frozenset[tuple[str, int]] = frozenset()
    interface: frozenset[FeatureMapAttr] = frozenset()


def _key(buffer: BufferAttr | FeatureMapAttr) -> tuple[str, int]:
    return (buffer.region.data, buffer.offset.data)


def compute_transfers(
    op: ComputeOp, geometry: BlockGeometry, window: Window, target: Target, roles: BufferRoles
) -> list[Transfer]:
    """The transfers of a compute command (rules in the module docstring)."""
    positions = geometry.hw_positions
    ifm = op.ifm
    ifm_elements = ifm_box_elements(ifm, op, geometry, window)
    depth = ifm_block_depth(command_shape(op), geometry, target)
    width = (geometry.block[1] - 1) * window.strides[1] + window.dilations[1] * (window.kernel[1] - 1) + 1

    def run(fm: FeatureMapAttr) -> int:
        return read_run(fm, depth, width) if fm in roles.interface else 0

    transfers = [Transfer(ifm.region.data, False, _fm_bytes(ifm, ifm_elements), positions, run=run(ifm))]
    if isinstance(op, ElementwiseOp) and op.ifm2 is not None:
        second = op.ifm2
        elements = ifm_box_elements(second, op, geometry, window)
        transfers.append(Transfer(second.region.data, False, _fm_bytes(second, elements), positions, run=run(second)))
    if isinstance(op, ElementwiseOp) and op.lut is not None:
        lut = op.lut
        transfers.append(Transfer(lut.region.data, False, lut.size.data, 1, _key(lut) not in roles.copies))
    if isinstance(op, (WeightedOp, FullyConnectedOp)):
        weights, scale_bias = op.weights, op.scale_bias
        slices = ceil(geometry.ofm[2] / target.throughput.ofm_block_depth)
        weight_bytes = weights.size.data * positions
        transfers.append(
            Transfer(weights.region.data, False, weight_bytes, slices * positions, _key(weights) not in roles.copies)
        )
        transfers.append(
            Transfer(scale_bias.region.data, False, scale_bias.size.data, 1, _key(scale_bias) not in roles.copies)
        )
    ofm = op.ofm
    ofm_bytes = _fm_bytes(ofm, prod(ofm.shape_values()))
    written = write_run(ofm, geometry, target.throughput.ofm_block_depth) if ofm in roles.interface else 0
    transfers.append(Transfer(ofm.region.data, True, ofm_bytes, geometry.block_count, run=written))
    return transfers


def ifm_block_depth(shape: CommandShape, geometry: BlockGeometry, target: Target) -> int:
    """IFM channels the NPU fetches per block: the OFM block depth for per-channel commands; for a
    command summing over the IFM depth (`DEPTH_SUMMING`) up to `depth_first_ifm_depth_step`, rounded up
    to the IFM micro-block."""
    if shape.kind not in DEPTH_SUMMING:
        return geometry.block[2]
    return ceil_to(min(shape.ifm[3], target.throughput.depth_first_ifm_depth_step), target.ifm_ublock.depth)


def read_run(fm: FeatureMapAttr, block_depth: int, block_width: int) -> int:
    """Contiguous bytes of one IFM read (NHWC): whole block rows when the block spans the full
    depth, otherwise one block depth per pixel (Vela's transfer-efficiency rule)."""
    depth = as_batch_hwc(fm.shape_values())[3]
    row = block_depth * block_width if depth == block_depth else block_depth
    return _fm_bytes(fm, row)


def write_run(fm: FeatureMapAttr, geometry: BlockGeometry, granule: int) -> int:
    """Contiguous bytes of one OFM write (NHWC): whole block rows when a block of at most
    `granule` channels spans the full depth, otherwise at most `granule` channels per pixel."""
    block_depth = geometry.block[2]
    if block_depth <= granule and geometry.ofm[2] == block_depth:
        return _fm_bytes(fm, block_depth * geometry.block[1])
    return _fm_bytes(fm, min(granule, block_depth))


def access_cycles(transfers: Iterable[Transfer], target: Target, layer: str) -> dict[str, int]:
    """Per memory: timed bytes over bandwidth, rounded up.

    Bytes are rounded to whole bursts per group, and scaled by burst /
    run for runs shorter than a burst, whichever moves more.
    """
    times: dict[str, float] = defaultdict(float)
    for transfer in transfers:
        if transfer.bytes == 0 or not transfer.timed:
            continue
        memory = target_memory(target, transfer.memory, layer)
        burst = memory.burst_length
        moved: float = transfer.groups * ceil_to(ceil(transfer.bytes / transfer.groups), burst)
        if transfer.run:
            moved = max(moved, transfer.bytes * burst / min(burst, transfer.run))
        times[memory.name] += moved / memory.bandwidth
    return {memory: ceil(time) for memory, time in times.items()}


def block_memory_cycles(op: ComputeOp, geometry: BlockGeometry, window: Window, target: Target, layer: str) -> float:
    """`block_transfer_cycles` of a lowered command, with its IFM and OFM memories and element sizes."""
    ifm, ofm = op.ifm, op.ofm
    return block_transfer_cycles(
        command_shape(op), geometry, target,
        (target_memory(target, ifm.region.data, layer), ifm.element_type.bits // 8),
        (target_memory(target, ofm.region.data, layer), ofm.element_type.bits // 8),
    )


def block_transfer_cycles(
    shape: CommandShape, geometry: BlockGeometry, target: Target,
    source: tuple[Memory, int], destination: tuple[Memory, int],
) -> float:
    """Cycles to fetch one IFM block and write one OFM block, latencies included.

    `source` and `destination` are (memory, bytes per element) of the IFM and
    OFM. The IFM block is the box one OFM block needs,
    `depth_first_ifm_depth_step` channels deep at most (the depth the NPU
    fetches at a time).
    """
    window = shape.window
    height, width, depth = geometry.block
    rows = (min(height, geometry.ofm[0]) - 1) * window.strides[0] + window.dilations[0] * (window.kernel[0] - 1) + 1
    cols = (min(width, geometry.ofm[1]) - 1) * window.strides[1] + window.dilations[1] * (window.kernel[1] - 1) + 1
    fetched = shape.ifm[3] if shape.kind in DEPTH_SUMMING else depth
    ifm_bytes = rows * cols * min(fetched, target.throughput.depth_first_ifm_depth_step) * source[1]
    ofm_bytes = min(height, geometry.ofm[0]) * min(width, geometry.ofm[1]) * min(depth, geometry.ofm[2]) * destination[1]
    return (
        source[0].read_latency + ifm_bytes / source[0].bandwidth
        + destination[0].write_latency + ofm_bytes / destination[0].bandwidth
    )


def dma_time(op: DmaOp, target: Target, layer: str) -> AccessTime:
    """A DMA copy: bytes over the slower memory's bandwidth, plus the source's read latency."""
    source = target_memory(target, op.src.region.data, layer)
    destination = target_memory(target, op.dst.region.data, layer)
    bandwidth = min(source.bandwidth, destination.bandwidth)
    return AccessTime(op.src.size.data / bandwidth, source.read_latency)


def dma_bound(op: DmaOp, target: Target, layer: str) -> str:
    """The memory that limits a DMA: the one with the lower bandwidth (the source on a tie)."""
    source = target_memory(target, op.src.region.data, layer)
    destination = target_memory(target, op.dst.region.data, layer)
    return destination.name if destination.bandwidth < source.bandwidth else source.name


def byte_span(attr: BufferAttr | FeatureMapAttr) -> BufferAttr:
    """The byte range of a buffer or feature map."""
    return attr if isinstance(attr, BufferAttr) else attr.buffer()


def property_spans(op: Operation, names: Iterable[str]) -> tuple[BufferAttr, ...]:
    """The byte ranges of a command's buffer and feature-map properties `names` it has."""
    spans = []
    for name in names:
        attr = op.properties.get(name)
        if attr is not None:
            assert isinstance(attr, BufferAttr | FeatureMapAttr), f"{op.name} property '{name}' is {attr}"
            spans.append(byte_span(attr))
    return tuple(spans)
