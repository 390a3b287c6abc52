"""Memory traffic of NPU compute commands: bytes per memory, the cycles to move them, and one block's memory time.

What a command reads and writes, as Vela 5.2 counts it (Regor's
MeasureElementAccess; `geometry` has the block order):
- IFM of a convolution, fully connected or reduce sum: the IFM block
  (`ifm_blocks`; clipped to the IFM, all its channels) once per OFM block,
  depth blocks included, and per sub-kernel; of a depthwise convolution or a
  pool once per height/width block position (the depth blocks of a position
  share it). An elementwise command reads OFM-sized IFMs (a broadcast
  operand is read expanded); a one-element second IFM once.
- weights: the whole weight buffer once per height/width block position,
  from the memory the command reads them (the staged copy if a DMA made
  one: the copy is a command of its own);
- scale/bias table: once per height/width block position;
- lookup table of an elementwise command: once (nothing if a DMA staged it);
- OFM: written once.
Feature maps take their stored size (`bursts.stored_depth`: bricks round the
depth up), and a transfer in runs shorter than its memory's burst costs
whole bursts (`bursts.run_bytes`, `bursts.moved_bytes`). Streams on
different memories run in parallel; streams on the same memory share its
bandwidth: `access_cycles` = moved bytes / bandwidth per memory.

Latency: the access cycles are bandwidth only (outstanding transactions
hide the latency). The wait for a block's first IFM and last OFM bytes is
in the compute cycles (`command_memory`: latency and transfer of one IFM and
one OFM block, and each block's scale/bias fetch). A DMA pays its source's
read latency once (`dma_time`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from math import ceil, prod

from xdsl.ir import Operation

from npuc.cost.block_memory import ScaleTable, block_memory
from npuc.cost.bursts import PlacedMap
from npuc.cost.compute import (
    DEPTH_SUMMING,
    ELEMENTWISE,
    CommandMemory,
    CommandShape,
    command_shape,
)
from npuc.cost.geometry import BlockGeometry, as_batch_hwc
from npuc.cost.ifm_blocks import fetched_ifm_block
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
    """Bytes one command moves in one direction on one memory.

    `moved` is the bandwidth the transfer takes, in bytes: `bytes`, more if
    it moves in runs shorter than the memory's burst. An untimed transfer
    (`timed` false) counts in bytes but not in access cycles.
    """

    memory: str
    write: bool
    bytes: int
    moved: float
    timed: bool = True


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


@dataclass(frozen=True)
class BufferRoles:
    """The buffers whose role changes how a compute command accesses them.

    `copies`: (memory, offset) of every DMA destination (a lookup table
    found there was staged by a DMA). `plain`: the feature maps the host or
    a CPU operation exchanges (the model's inputs and outputs, a CPU
    operation's inputs and outputs), kept in plain NHWC; every other feature
    map is stored in bricks where the target has them (`bursts`).
    """

    copies: frozenset[tuple[str, int]] = frozenset()
    plain: frozenset[FeatureMapAttr] = frozenset()

    @cached_property
    def _plain_places(self) -> frozenset[tuple[str, int]]:
        """(memory, offset) of the `plain` maps: a map elsewhere is not one of them, known without
        hashing the whole attribute."""
        return frozenset(_key(fm) for fm in self.plain)

    def is_plain(self, fm: FeatureMapAttr) -> bool:
        """Whether `fm` is one of the `plain` maps."""
        return _key(fm) in self._plain_places and fm in self.plain

    def placed(self, fm: FeatureMapAttr, target: Target, layer: str) -> PlacedMap:
        """`fm` as the memory rules see it."""
        memory = target_memory(target, fm.region.data, layer)
        return PlacedMap(memory, as_batch_hwc(fm.shape_values()), fm.element_type.bits // 8, not self.is_plain(fm))


@dataclass(frozen=True)
class PlacedCommand:
    """A compute command's shape and feature maps as the memory rules see them, taken once per
    command (the traffic and the block memory rules both read them)."""

    shape: CommandShape
    ifms: tuple[PlacedMap, ...]
    ofm: PlacedMap


def placed_command(op: ComputeOp, target: Target, roles: BufferRoles, layer: str) -> PlacedCommand:
    """The `PlacedCommand` of a lowered compute command."""
    ifms = tuple(roles.placed(fm, target, layer) for fm in _ifms(op))
    return PlacedCommand(command_shape(op), ifms, roles.placed(op.ofm, target, layer))


def _key(buffer: BufferAttr | FeatureMapAttr) -> tuple[str, int]:
    return (buffer.region.data, buffer.offset.data)


def _ifms(op: ComputeOp) -> list[FeatureMapAttr]:
    """The IFM of a command, and the second IFM of an elementwise command that has one."""
    if isinstance(op, ElementwiseOp) and op.ifm2 is not None:
        return [op.ifm, op.ifm2]
    return [op.ifm]


def compute_transfers(
    op: ComputeOp, placed: PlacedCommand, geometry: BlockGeometry, target: Target, roles: BufferRoles
) -> list[Transfer]:
    """The transfers of a compute command (rules in the module docstring); `placed` is its `placed_command`."""
    reads, write = feature_map_transfers(placed.shape, geometry, placed.ifms, placed.ofm, target)
    transfers = list(reads)
    if op.lut is not None:
        lut = op.lut
        transfers.append(Transfer(lut.region.data, False, lut.size.data, lut.size.data, _key(lut) not in roles.copies))
    if isinstance(op, (WeightedOp, FullyConnectedOp)):
        for table in (op.weights, op.scale_bias):
            size = table.size.data * geometry.hw_positions
            transfers.append(Transfer(table.region.data, False, size, size))
    transfers.append(write)
    return transfers


def feature_map_transfers(
    shape: CommandShape, geometry: BlockGeometry, ifms: Sequence[PlacedMap], ofm: PlacedMap, target: Target
) -> tuple[list[Transfer], Transfer]:
    """The IFM reads and the OFM write of a compute command of `shape` (rules in the module docstring), its
    feature maps placed as `ifms` and `ofm`: a lowered command's (`compute_transfers`) or one still to be
    lowered (`npuc.backend.estimates`)."""
    ifm_block = fetched_ifm_block(shape, geometry.block, target)
    reads = []
    for ifm in ifms:
        if shape.kind == ELEMENTWISE:
            read = ifm.stored_bytes(ifm.extent if prod(ifm.extent) == 1 else ofm.extent, target)
        else:
            read = _ifm_fetch_bytes(ifm, shape, geometry, ifm_block, target)
        reads.append(Transfer(ifm.memory.name, False, read, ifm.moved_bytes(read, ifm_block, False, target)))
    written = ofm.stored_bytes(ofm.extent, target)
    return reads, Transfer(ofm.memory.name, True, written, ofm.moved_bytes(written, geometry.block, True, target))


def _ifm_fetch_bytes(
    ifm: PlacedMap, shape: CommandShape, geometry: BlockGeometry, ifm_block: tuple[int, int, int], target: Target
) -> int:
    """IFM bytes a windowed command reads: the IFM block's box (clipped to the IFM, all stored
    channels) per sub-kernel, once per OFM block (depth-summing commands) or block position."""
    _, height, width, depth = ifm.extent
    box = ifm.stored_bytes((1, min(height, ifm_block[0]), min(width, ifm_block[1]), depth), target)
    kernel = shape.window.kernel
    sub_kernels = ceil(kernel[0] / target.sub_kernel_max[0]) * ceil(kernel[1] / target.sub_kernel_max[1])
    blocks = geometry.block_count if shape.kind in DEPTH_SUMMING else geometry.hw_positions
    return box * sub_kernels * blocks


def access_cycles(transfers: Iterable[Transfer], target: Target, layer: str) -> dict[str, int]:
    """Per memory: the bandwidth the timed transfers take (`Transfer.moved`) over the memory's bandwidth."""
    times: dict[str, float] = defaultdict(float)
    for transfer in transfers:
        if transfer.bytes == 0 or not transfer.timed:
            continue
        memory = target_memory(target, transfer.memory, layer)
        times[memory.name] += transfer.moved / memory.bandwidth
    return {memory: ceil(time) for memory, time in times.items()}


def command_memory(op: ComputeOp, placed: PlacedCommand, geometry: BlockGeometry, target: Target, layer: str) -> CommandMemory:
    """The `CommandMemory` of a lowered command (`block_memory.block_memory`); `placed` is its `placed_command`."""
    scales = None
    if isinstance(op, (WeightedOp, FullyConnectedOp)):
        table = op.scale_bias
        scales = ScaleTable(table.size.data, target_memory(target, table.region.data, layer))
    return block_memory(placed.shape, geometry, target, placed.ifms, placed.ofm, scales)


def dma_time(op: DmaOp, target: Target, layer: str) -> AccessTime:
    """A DMA copy (`copy_time`) of its bytes between its memories."""
    source = target_memory(target, op.src.region.data, layer)
    return copy_time(op.src.size.data, source, target_memory(target, op.dst.region.data, layer))


def copy_time(size: int, source: Memory, destination: Memory) -> AccessTime:
    """Copying `size` bytes: over the slower memory's bandwidth, plus the source's read latency."""
    return AccessTime(size / min(source.bandwidth, destination.bandwidth), source.read_latency)


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
