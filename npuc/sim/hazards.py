"""Memory hazards of a lowered program, found from its commands alone.

The back end decides where every buffer lives (npu-schedule, npu-allocate)
from live ranges it computes on the quantized IR. This checker does not use
any of that: it replays the lowered program in order, byte by byte, and
records which command last wrote each byte. Every command reads its operands
(IFMs, weights, scale/bias table, lookup table, DMA source, CPU-op inputs;
the host reads the outputs after the last command), then writes its results.
A program is wrong when

- a command reads a byte nothing wrote before (no constant, input or
  command put a value there);
- a command writes bytes it also reads: the NPU streams its OFM out block by
  block while it still reads its IFM, so an OFM over its own IFM corrupts
  the IFM before the last blocks read it (the functional simulator would not
  notice: it reads a whole IFM before writing). Except in place: an
  elementwise command whose OFM lies exactly on one of its IFMs (same
  place, shape, strides and element size) writes each element where it
  read it, after its block was read (a residual add over its input, as
  Vela computes it);
- a read sees bytes of more than one result in a way no producer explains.
  A read is of one producer's result (its whole footprint, or a slice of it:
  a split) or of several producers that wrote disjoint slices of it (a
  concat). When a result's footprint covers the whole read and yet another
  result owns some of its bytes, the later one overwrote data that was
  still to be read: the first buffer's live range ended too early. Results
  that straddle the read's edge, or whose slices overlap, are the same bug.

A result is what one layer's commands wrote: one command's OFM, or the OFM
stripes of a layer computed by several commands (`npuc.backend.stripes`):
the OFM writes of one layer with the same strides and element type, which
are row views of one feature map; a read's halo may span stripes. In a
cascade the stripes rewrite the rows of a rolling buffer
(`npuc.backend.cascades`): whether a row is still held when it is read
depends on which row a command wants, dataflow this check does not see
(the simulators' bit-exact runs do). A layer's OFM write of other strides
or type starts a new result of its own (a softmax chain's steps).

A later buffer that replaces another one's bytes exactly (same place, same
size) before its last read is beyond any check without the program's
dataflow: the reader then sees one writer, as in a correct program.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation

from npuc.dialects import npu
from npuc.dialects.common import LAYER_ATTR
from npuc.errors import MemoryHazardError, TargetError, check_memory

if TYPE_CHECKING:
    from npuc.targets import Target

OWNER_DTYPE = np.int32
"""What the checker keeps per byte of a region: the index of the result that last wrote it."""

OWNER_BYTES = np.dtype(OWNER_DTYPE).itemsize
"""Bytes of an `OWNER_DTYPE`."""

Location = npu.FeatureMapAttr | npu.BufferAttr
"""What a command reads or writes: a feature map (strided) or a buffer (contiguous bytes)."""


@dataclass(frozen=True)
class Access:
    """One operand of a command: its role (`ifm`, `weights`, ...) and its location."""

    role: str
    location: Location

    @property
    def region(self) -> str:
        """The memory region the operand lives in."""
        return self.location.region.data

    def addresses(self) -> np.ndarray:
        """The byte addresses the operand covers, in its region (sorted, unique)."""
        return byte_addresses(self.location)


def byte_addresses(location: Location) -> np.ndarray:
    """Every byte of a buffer, or of each element of a strided feature map (both pieces of one that wraps)."""
    if isinstance(location, npu.BufferAttr):
        return np.arange(location.offset.data, location.end, dtype=np.int64)
    element_bytes = location.element_type.bits // 8
    pieces = []
    for piece in location.pieces():
        addresses = np.arange(element_bytes, dtype=np.int64) + piece.offset.data
        for extent, stride in zip(piece.shape_values(), piece.stride_values()):
            addresses = (np.arange(extent, dtype=np.int64) * stride)[:, None] + addresses.ravel()[None, :]
        pieces.append(addresses.ravel())
    return np.unique(np.concatenate(pieces))


def end_of(location: Location) -> int:
    """The byte after the last one a location covers."""
    if isinstance(location, npu.BufferAttr):
        return location.end
    return location.byte_span()[1]


def accesses(op: Operation) -> tuple[list[Access], list[Access]]:
    """(reads, writes) of one program op, by the npu dialect's operand roles."""
    if isinstance(op, npu.ConstantOp):
        return [], [Access("constant", op.buffer)]
    if isinstance(op, npu.InputOp):
        return [], [Access("input", op.fm)]
    if isinstance(op, npu.OutputOp):
        return [Access("output", op.fm)], []
    if isinstance(op, npu.DmaOp):
        return [Access("src", op.src)], [Access("dst", op.dst)]
    if isinstance(op, npu.CpuOp):
        return _listed("input", op.inputs.data), _listed("output", op.outputs.data)
    if isinstance(op, npu.ComputeOp):
        reads = [
            Access(role, location)
            for role in ("ifm", "ifm2", "weights", "scale_bias", "lut")
            if isinstance(location := op.properties.get(role), npu.FeatureMapAttr | npu.BufferAttr)
        ]
        return reads, [Access("ofm", op.ofm)]
    raise MemoryHazardError(f"hazard check: '{op.name}' is not an npu program command")


def _listed(role: str, locations: Sequence[npu.FeatureMapAttr]) -> list[Access]:
    """The feature maps of a CPU op's inputs or outputs, numbered."""
    return [Access(f"{role} {index}", location) for index, location in enumerate(locations)]


def _map_of(location: Location) -> tuple[object, ...]:
    """What the views of one feature map share: strides and element type."""
    if isinstance(location, npu.BufferAttr):
        return ()
    return location.stride_values(), location.element_type


@dataclass
class Result:
    """Bytes of one region written as one result: by one command, or by the OFM stripes of one layer.

    `command` names the first command that wrote it and `location` what it
    wrote; `addresses` are the bytes written so far (sorted, unique).
    """

    command: str
    region: str
    location: Location
    addresses: np.ndarray

    def takes_stripe(self, write: Access) -> bool:
        """Whether `write`, an OFM of this result's layer, is another stripe of it: a view of the same map."""
        return write.region == self.region and _map_of(write.location) == _map_of(self.location)


def describe(op: Operation, position: int) -> str:
    """How messages name a program op: its position, layer and name."""
    layer = op.attributes.get(LAYER_ATTR)
    name = f"{layer.data} ({op.name})" if isinstance(layer, StringAttr) else op.name
    return f"command {position}, {name}"


def _in_place(op: Operation, read: Access, write: Access) -> bool:
    """Whether `op` is an elementwise command writing its OFM element for element over the IFM `read`."""
    first, second = read.location, write.location
    return (
        isinstance(op, npu.ElementwiseOp) and isinstance(first, npu.FeatureMapAttr)
        and isinstance(second, npu.FeatureMapAttr) and first.region == second.region
        and first.offset == second.offset and first.shape_values() == second.shape_values()
        and first.stride_values() == second.stride_values()
        and first.element_type.bits == second.element_type.bits
        and (first.wrap, first.wrap_offset) == (second.wrap, second.wrap_offset)
    )  # fmt: skip


def _span(addresses: np.ndarray) -> str:
    return f"[{int(addresses.min())}, {int(addresses.max()) + 1})"


class HazardChecker:
    """Replays a program's accesses in order, keeping the result that last wrote every byte."""

    def __init__(self, sizes: dict[str, int]):
        self.owner = {region: np.full(size, -1, dtype=OWNER_DTYPE) for region, size in sizes.items()}
        self.results: list[Result] = []
        self.open: dict[str, int] = {}
        """Layer -> the result of its latest OFM write, which further OFM stripes of the layer join."""

    def step(self, op: Operation, position: int) -> None:
        """Check one op's reads against the memory state, then record its writes."""
        command = describe(op, position)
        layer_attr = op.attributes.get(LAYER_ATTR)
        layer = layer_attr.data if isinstance(layer_attr, StringAttr) else None
        reads, writes = accesses(op)
        for access in reads:
            self.check_read(command, access)
        for write in writes:
            self.check_not_reading_while_writing(command, write, [r for r in reads if not _in_place(op, r, write)])
        for write in writes:
            self.record(command, layer, write)

    def record(self, command: str, layer: str | None, write: Access) -> None:
        """Make `write`'s bytes owned by its result: its layer's open result if it is a further stripe, else a new one."""
        addresses = write.addresses()
        stripe_of = layer if layer is not None and write.role == "ofm" else None
        index = self.open.get(stripe_of, -1) if stripe_of is not None else -1
        if index >= 0 and self.results[index].takes_stripe(write):
            result = self.results[index]
            result.addresses = np.union1d(result.addresses, addresses)
        else:
            index = len(self.results)
            self.results.append(Result(command, write.region, write.location, addresses))
            if stripe_of is not None:
                self.open[stripe_of] = index
        self.owner[write.region][addresses] = index

    def check_read(self, command: str, access: Access) -> None:
        """The bytes `access` reads were written, by one producer or by disjoint slices of it."""
        read = access.addresses()
        owners = self.owner[access.region][read]
        if (owners < 0).any():
            unwritten = read[owners < 0]
            raise MemoryHazardError(
                f"{command} reads its {access.role} at {access.region} {_span(read)}, "
                f"but nothing wrote {access.region} {_span(unwritten)} before"
            )
        writers = [int(index) for index in np.unique(owners)]
        if len(writers) == 1:
            return
        footprints = {index: self.results[index].addresses for index in writers}
        for index, footprint in footprints.items():
            if np.isin(read, footprint, assume_unique=True).all():
                others = [self.results[other].command for other in writers if other != index]
                raise MemoryHazardError(
                    f"{command} reads its {access.role} at {access.region} {_span(read)}, the result of "
                    f"{self.results[index].command}, but {'; '.join(others)} overwrote part of it before"
                )
            if not np.isin(footprint, read, assume_unique=True).all():
                raise MemoryHazardError(
                    f"{command} reads its {access.role} at {access.region} {_span(read)}, which "
                    f"{self.results[index].command} wrote only in part: it was overwritten in between"
                )
        total = sum(len(footprint) for footprint in footprints.values())
        if total != len(np.unique(np.concatenate(list(footprints.values())))):
            names = "; ".join(self.results[index].command for index in writers)
            raise MemoryHazardError(
                f"{command} reads its {access.role} at {access.region} {_span(read)}, gathered from "
                f"slices that overwrite each other ({names})"
            )

    def check_not_reading_while_writing(self, command: str, write: Access, reads: list[Access]) -> None:
        """A command's result must not land on bytes it still reads."""
        written = write.addresses()
        for access in reads:
            if access.region != write.region:
                continue
            shared = np.intersect1d(written, access.addresses(), assume_unique=True)
            if len(shared):
                raise MemoryHazardError(
                    f"{command} writes its {write.role} at {write.region} {_span(written)} over its "
                    f"{access.role} at {access.region} {_span(access.addresses())} "
                    f"({write.region} {_span(shared)}), which it is still reading"
                )


def region_sizes(module: ModuleOp, target: Target | None = None) -> dict[str, int]:
    """Bytes each region needs: the end of the furthest location a command names.

    Before anything maps them, naming the command: a region so large that
    its map here (`OWNER_BYTES` per byte) passes npuc's memory limit is a
    `MemoryLimitError` (`check_memory`); with the program's `target`, a
    region that is none of its memories, or a location past the end of one,
    is a `TargetError`.
    """
    sizes: dict[str, int] = {}
    for position, op in enumerate(module.ops):
        reads, writes = accesses(op)
        for access in reads + writes:
            end, region = end_of(access.location), access.region
            if target is not None:
                _check_in_memory(describe(op, position), access, end, target)
            if end > sizes.get(region, 0):
                check_memory(end * OWNER_BYTES, f"{describe(op, position)}: its {access.role} ends at {region} byte "
                                                f"{end}, and mapping {region} that far")  # fmt: skip
                sizes[region] = end
    return sizes


def _check_in_memory(command: str, access: Access, end: int, target: Target) -> None:
    """`TargetError` unless `access` (ending at byte `end`) lies inside a memory of `target`."""
    region = access.region
    memory = next((memory for memory in target.memories if memory.name == region), None)
    if memory is None:
        raise TargetError(
            f"{command}: its {access.role} is in memory '{region}', which target '{target.name}' does not have "
            f"(it has: {', '.join(memory.name for memory in target.memories)})"
        )
    if end > memory.size:
        raise TargetError(
            f"{command}: its {access.role} ends at {region} byte {end}, past the end of the "
            f"{memory.size}-byte {region} of target '{target.name}'"
        )


def check_program(module: ModuleOp, target: Target | None = None) -> None:
    """Raise `MemoryHazardError` for the first hazard of a lowered program, in program order.

    With the program's `target`, its memories bound the regions (`region_sizes`).
    """
    checker = HazardChecker(region_sizes(module, target))
    for position, op in enumerate(module.ops):
        checker.step(op, position)
