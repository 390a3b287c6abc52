"""Running an `ethos-u` operator: its memories laid out as TFLite Micro and the driver lay them out.

Base pointer r is the r-th tensor of `EthosUOperator.region_tensors()`: the
read-only data (a constant, read-only here), the scratch arena, the fast
scratch arena, the IFMs and the OFMs. Tensors with an arena offset
(`OfflineMemoryAllocation`) share one arena buffer at those offsets, so an
IFM planned inside the scratch tensor is where the stream reads it. A fast
scratch tensor distinct from the scratch tensor is the driver's fast memory
(the Ethos-U driver points base pointer 2 at it): a buffer of its own. Each
region may address its own tensor's bytes only.

`simulate_operator` places the IFM bytes, runs every command-stream action
of the payload in order and returns the OFM bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from npuc.emit.ethos_u.package import EthosUOperator, PackageTensor
from npuc.emit.ethos_u.payload import NpuConfig, check_accelerator, parse_payload
from npuc.emit.ethos_u.registers import decode_commands
from npuc.errors import InputDataError
from npuc.sim.ethos_u.execute import Accelerator
from npuc.sim.ethos_u.machine import Machine
from npuc.sim.ethos_u.memory import Memory, Region

MAX_REGIONS = 8
"""Base pointers the driver passes to the NPU."""


class _Buffers:
    """The backing store of every tensor of one operator: the arena, constants, own buffers."""

    def __init__(self, operator: EthosUOperator):
        self.operator = operator
        planned = [tensor for tensor in operator.region_tensors() if self._in_arena(tensor)]
        size = max((tensor.arena_offset + tensor.nbytes for tensor in planned if tensor.arena_offset is not None),
                   default=0)
        self.arena = np.zeros(size, dtype=np.uint8)
        self.own: dict[int, np.ndarray] = {}

    def _in_arena(self, tensor: PackageTensor) -> bool:
        fast = self.operator.scratch_fast
        separate_fast = tensor.index == fast.index and fast.index != self.operator.scratch.index
        return tensor.arena_offset is not None and tensor.data is None and not separate_fast

    def region(self, tensor: PackageTensor, role: str) -> Region:
        """The region of one tensor."""
        name = f"{role} '{tensor.name}'"
        if self._in_arena(tensor):
            assert tensor.arena_offset is not None
            return Region(name, self.arena, tensor.arena_offset, tensor.nbytes, True)
        if tensor.index not in self.own:
            if tensor.data is not None:
                self.own[tensor.index] = np.frombuffer(tensor.data, dtype=np.uint8).copy()
            else:
                self.own[tensor.index] = np.zeros(tensor.nbytes, dtype=np.uint8)
        return Region(name, self.own[tensor.index], 0, tensor.nbytes, tensor.data is None)


def simulate_operator(operator: EthosUOperator, ifms: Sequence[bytes], source: str = "",
                      expected: NpuConfig | None = None) -> list[bytes]:
    """Run an ethos-u operator on the bytes of its IFMs; the bytes of its OFMs.

    `source` (the file, if any) and the operator's name start every error
    message; `expected`, when given, is the accelerator the payload must be
    built for.
    """
    where = f"{source + ': ' if source else ''}ethos-u operator '{operator.name}'"
    if len(ifms) != len(operator.ifms):
        raise InputDataError(f"{where} takes {len(operator.ifms)} IFM(s), got {len(ifms)}")
    payload = parse_payload(operator.command_stream.data or b"", f"{where}, command stream")
    if expected is not None:
        check_accelerator(payload, expected, f"{where}, command stream")
    buffers = _Buffers(operator)
    roles = ["read-only data", "scratch", "fast scratch"]
    roles += [f"IFM {index}" for index in range(len(operator.ifms))]
    roles += [f"OFM {index}" for index in range(len(operator.ofms))]
    regions = {
        number: buffers.region(tensor, role)
        for number, (tensor, role) in enumerate(zip(operator.region_tensors(), roles))
        if number < MAX_REGIONS
    }
    for index, (tensor, data) in enumerate(zip(operator.ifms, ifms)):
        if len(data) != tensor.nbytes:
            raise InputDataError(f"{where}: IFM {index} '{tensor.name}' takes {tensor.nbytes} bytes, got {len(data)}")
        region = buffers.region(tensor, "IFM")
        region.view()[:] = np.frombuffer(data, dtype=np.uint8)
    config = payload.config
    accelerator = Accelerator(config.macs_per_cycle, config.cores, config.shram_kib * 1024 // config.cores)
    machine = Machine(Memory(regions, accelerator.shram_bytes), accelerator, config.product)
    for number, stream in enumerate(payload.streams):
        stream_where = where if len(payload.streams) == 1 else f"{where}, command stream {number}"
        machine.run(decode_commands(stream.words, stream_where), stream_where)
    return [buffers.region(tensor, "OFM").view().tobytes() for tensor in operator.ofms]
