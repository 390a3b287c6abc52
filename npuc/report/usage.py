"""Bytes live in one memory while each command runs (Vela's per-layer "Staging Usage").

Lowered `npu` IR has addresses but no live ranges, so they are recovered
from the command order: a buffer comes alive when a command (or the host,
for an input) writes it and stays alive until the last command that reads
bytes of it before they are written again; constants placed in the memory
are alive throughout, and model outputs until the end. The ranges are the
allocator's `LiveRange`s over command positions, so the allocator's
`peak_live_bytes` bound applies to them as it does in npu-allocate (whose
`@main` is gone once lowered).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from npuc.backend.allocation import LiveRange, bytes_per_position
from npuc.cost.model import cascade_of_layer, commands
from npuc.cost.traffic import property_spans
from npuc.dialects.common import layer_name
from npuc.dialects.npu import (
    BufferAttr,
    ComputeOp,
    ConstantOp,
    CpuOp,
    DmaOp,
    InputOp,
    OutputOp,
)

READ_OPERANDS = ("ifm", "ifm2", "weights", "scale_bias")


@dataclass
class _Live:
    """One buffer value: its byte range, the command writing it and the last reading it."""

    offset: int
    end: int
    born: int
    last_read: int

    def overlaps(self, buffer: BufferAttr) -> bool:
        return self.offset < buffer.end and buffer.offset.data < self.end

    def within(self, buffer: BufferAttr) -> bool:
        return buffer.offset.data <= self.offset and self.end <= buffer.end


def _spans(op: Operation) -> tuple[list[BufferAttr], list[BufferAttr]]:
    """(read, written) byte ranges of a command."""
    if isinstance(op, DmaOp):
        return [op.src], [op.dst]
    if isinstance(op, CpuOp):
        return [fm.buffer() for fm in op.inputs.data], [fm.buffer() for fm in op.outputs.data]
    assert isinstance(op, ComputeOp)
    return list(property_spans(op, READ_OPERANDS)), [op.ofm.buffer()]


def _in(memory: str, buffers: Iterable[BufferAttr]) -> list[BufferAttr]:
    return [buffer for buffer in buffers if buffer.region.data == memory]


def live_ranges(module: ModuleOp, memory: str) -> list[LiveRange]:
    """The buffer values of `memory`, live over positions in `npuc.cost.model.commands(module)`.

    Constants come first (named `constant N`, live throughout), then the
    values in the order they are written (`value N`; a host input is born at
    command 0), each live from the command writing it to the last command
    reading it, both inclusive; a value a command reads last and wholly
    writes over (an elementwise command computing in place) hands its bytes
    to the new value there, so they count once. The stripes an op of a
    cascade (the module's `npu.cascades`) writes are one value, spanning
    the bytes they cover, from its first stripe to the last read of any of
    them: they fill one buffer, a rolling buffer holding its rows in turn
    (row y at row y mod its rows) or the cascade's whole OFM, whose bytes no
    other buffer can take while rows of it are live. So the bound
    (`peak_live_bytes`) is one on placing the schedule's buffers, the
    allocator's problem, and not one on placing each stripe anywhere.
    Empty without commands.
    """
    ops = commands(module)
    last = len(ops)
    if not last:
        return []
    ranges = [
        LiveRange(f"constant {number}", 0, last - 1, constant.buffer.size.data)
        for number, constant in enumerate(
            op for op in module.ops if isinstance(op, ConstantOp) and op.buffer.region.data == memory
        )
    ]
    values: list[_Live] = []
    current: list[_Live] = []  # values whose bytes have not been overwritten yet
    for op in module.ops:
        if isinstance(op, InputOp) and op.fm.region.data == memory:
            buffer = op.fm.buffer()
            current.append(_Live(buffer.offset.data, buffer.end, 0, 0))
    values.extend(current)
    cascaded = cascade_of_layer(module)
    rings: dict[str, _Live] = {}  # the value of each cascade op's OFM, by its layer
    for index, op in enumerate(ops):
        reads, writes = _spans(op)
        for buffer in _in(memory, reads):
            for value in current:
                if value.overlaps(buffer):
                    value.last_read = index
        layer = layer_name(op) if isinstance(op, ComputeOp) else None  # a DMA carries its consumer's layer
        for buffer in _in(memory, writes):
            for value in current:
                if value.last_read == index > value.born and value.within(buffer):
                    value.last_read = index - 1
            ring = rings.get(layer) if layer is not None else None
            current = [value for value in current if value is ring or not value.overlaps(buffer)]
            if ring is not None:
                ring.offset, ring.end = min(ring.offset, buffer.offset.data), max(ring.end, buffer.end)
                continue
            value = _Live(buffer.offset.data, buffer.end, index, index)
            if layer in cascaded:
                rings[layer] = value
            current.append(value)
            values.append(value)
    for op in module.ops:
        if isinstance(op, OutputOp) and op.fm.region.data == memory:
            for value in current:
                if value.overlaps(op.fm.buffer()):
                    value.last_read = last
    ranges += [
        LiveRange(f"value {number}", value.born, min(value.last_read, last - 1), value.end - value.offset)
        for number, value in enumerate(values)
    ]
    return ranges


def live_bytes(module: ModuleOp, memory: str) -> list[int]:
    """Bytes of `memory` alive during each command of `npuc.cost.model.commands(module)`."""
    return bytes_per_position(live_ranges(module, memory), len(commands(module)))
