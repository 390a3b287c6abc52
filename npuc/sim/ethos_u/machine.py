"""The register state machine: decoded commands in, memory effects out.

`Machine.run` walks a register command stream: SET_* commands update the
register file; OP_DMA_START copies bytes; OP_CONV, OP_DEPTHWISE, OP_POOL and
OP_ELEMENTWISE run a kernel on the current registers; OP_DMA_WAIT and
OP_KERNEL_WAIT retire operations in flight (`hazards`); OP_IRQ and
OP_PMU_MASK have no effect on memory; OP_STOP ends the stream. Every error
names the payload offset of the command at fault.

The lookup tables are tracked byte by byte: a DMA into the table area of the
shared buffer defines them, a kernel that uses the whole shared buffer (on
16-bank accelerators, one without a table of its own) destroys them, and a
table activation that reads undefined bytes is a `StreamHazardError`.
"""

from __future__ import annotations

import numpy as np

from npuc.emit.ethos_u.registers import (
    KERNEL_OPERATIONS,
    ActivationFunction,
    Cmd0,
    Command,
    Product,
    mnemonic,
)
from npuc.errors import CommandStreamError, StreamHazardError
from npuc.sim.ethos_u.execute import (
    LUT_SLOT_BYTES,
    Accelerator,
    run_kernel,
    stream_bytes,
)
from npuc.sim.ethos_u.hazards import Access, Hazards, fm_accesses, span
from npuc.sim.ethos_u.memory import LUT_BYTES, SHRAM_REGION, Memory, full_box
from npuc.sim.ethos_u.operation import (
    KernelOperation,
    RegisterFile,
    Stream,
    dma_operation,
    kernel_operation,
)

SHRAM_BANK_BYTES = 1024
MAX_ELEMENTS = 1 << 26
"""The largest feature map the simulator allocates (64 Mi elements); a bigger one is a corrupt stream."""
MAX_KERNEL_TAPS = 1 << 16
"""The most kernel positions the simulator walks (256 x 256); a bigger kernel is a corrupt stream."""


class Machine:
    """One NPU: registers, memories and the operations in flight."""

    def __init__(self, memory: Memory, accelerator: Accelerator, product: Product):
        self.memory = memory
        self.accelerator = accelerator
        self.registers = RegisterFile()
        self.hazards = Hazards(max_dma=1 if product is Product.ETHOS_U55 else 2)
        self.table_defined = np.zeros(LUT_BYTES, dtype=bool)

    def run(self, commands: list[Command], source: str) -> None:
        """Execute the commands up to OP_STOP."""
        for command in commands:
            label = f"offset {command.offset:#x} ({mnemonic(command.opcode)})"
            where = f"{source}: command at {label}"
            opcode = command.opcode
            if opcode is Cmd0.OP_STOP:
                return
            if opcode.name.startswith("SET_"):
                self.registers.set(command)
            elif opcode is Cmd0.OP_DMA_START:
                self._dma(where, label)
            elif opcode is Cmd0.OP_DMA_WAIT:
                self.hazards.wait_dma(command.fields()["k"])
            elif opcode is Cmd0.OP_KERNEL_WAIT:
                self.hazards.wait_kernels(command.fields()["n"])
            elif opcode in KERNEL_OPERATIONS:
                self._kernel(command, where, label)
        raise CommandStreamError(f"{source}: the command stream ends without NPU_OP_STOP")

    def _dma(self, where: str, label: str) -> None:
        dma = dma_operation(self.registers, where)
        data = stream_bytes(self.memory, dma.source, "DMA source", where)
        destination = self._region(dma.destination.region, where)
        self.memory.check(destination, dma.destination.address, dma.destination.address + len(data),
                          "DMA destination", where, write=True)
        accesses = (self._stream_access(dma.source, False, "DMA source", where),
                    self._stream_access(dma.destination, True, "DMA destination", where))
        self.hazards.start_dma(accesses, where, label)
        view = destination.view()
        view[dma.destination.address : dma.destination.address + len(data)] = np.frombuffer(data, np.uint8)
        if dma.destination.region == SHRAM_REGION:
            self._define_tables(dma.destination.address, dma.destination.address + len(data))

    def _region(self, number: int, where: str):
        return self.memory.regions[SHRAM_REGION] if number == SHRAM_REGION else self.memory.region(number, where)

    def _stream_access(self, stream: Stream, write: bool, what: str, where: str) -> Access:
        region = self._region(stream.region, where)
        start = region.start + stream.address
        return span(region.buffer, start, start + stream.length, write, what)

    def _define_tables(self, start: int, end: int) -> None:
        table_start = self.accelerator.lut_start
        first, last = max(start, table_start), min(end, table_start + LUT_BYTES)
        if first < last:
            self.table_defined[first - table_start : last - table_start] = True

    def _kernel(self, command: Command, where: str, label: str) -> None:
        op = kernel_operation(self.registers, command, where)
        for name, fm in (("OFM", op.ofm), ("IFM", op.ifm)):
            elements = int(np.prod(fm.shape, dtype=np.int64))
            if elements > MAX_ELEMENTS:
                raise CommandStreamError(f"{where}: the {name} of {' x '.join(map(str, fm.shape))} elements is "
                                         "larger than any Ethos-U feature map")
        if op.kernel.height * op.kernel.width > MAX_KERNEL_TAPS:
            raise CommandStreamError(f"{where}: a {op.kernel.height} x {op.kernel.width} kernel is larger than any "
                                     "Ethos-U kernel")
        table = self._table_range(op, where)
        self.hazards.start_kernel(op, self._kernel_accesses(op, table, where), self.memory, where, label)
        run_kernel(op, self.memory, self.accelerator, where)
        shram_used = self._shram_used(table is not None)
        if shram_used > self.accelerator.lut_start:
            self.table_defined[: shram_used - self.accelerator.lut_start] = False

    def _table_range(self, op: KernelOperation, where: str) -> tuple[int, int] | None:
        """SHRAM bytes of the lookup table the operation reads, checked to hold a loaded table."""
        if op.output.function < ActivationFunction.TABLE_0:
            return None
        slot = op.output.function - ActivationFunction.TABLE_0
        size = {8: 256, 16: 2048, 32: 1024}[op.ofm.element_bits]
        first = slot * LUT_SLOT_BYTES
        if first + size > LUT_BYTES:
            raise CommandStreamError(f"{where}: a {size}-byte table does not fit at lookup-table slot {slot}")
        if not self.table_defined[first : first + size].all():
            raise StreamHazardError(
                f"{where}: lookup-table slot {slot} holds no table (never loaded by DMA, or overwritten by a "
                "kernel that used the whole shared buffer)"
            )
        return self.accelerator.lut_start + first, self.accelerator.lut_start + first + size

    def _shram_used(self, uses_table: bool) -> int:
        """SHRAM bytes a kernel overwrites: all banks but the reserved ones (and the table banks it reads)."""
        banks = self.accelerator.shram_bytes // SHRAM_BANK_BYTES
        reserved = 2 if banks > 16 else 0
        if uses_table and not reserved:
            reserved = LUT_BYTES // SHRAM_BANK_BYTES
        return (banks - reserved) * SHRAM_BANK_BYTES

    def _kernel_accesses(self, op: KernelOperation, table: tuple[int, int] | None, where: str
                         ) -> tuple[Access, ...]:
        memory = self.memory
        accesses = fm_accesses(memory, op.ifm, full_box(op.ifm), False, "IFM", where)
        if op.ifm2 is not None and op.scalar is None:
            accesses += fm_accesses(memory, op.ifm2, full_box(op.ifm2), False, "IFM2", where)
        accesses += fm_accesses(memory, op.ofm, full_box(op.ofm), True, "OFM", where)
        if op.opcode in (Cmd0.OP_CONV, Cmd0.OP_DEPTHWISE):
            accesses += [self._stream_access(stream, False, "weights", where) for stream in op.weights]
            accesses += [self._stream_access(stream, False, "scales", where) for stream in op.scales]
        shram = memory.regions[SHRAM_REGION].buffer
        accesses.append(span(shram, 0, self._shram_used(table is not None), True, "shared buffer"))
        if table is not None:
            accesses.append(span(shram, table[0], table[1], False, "lookup table"))
        return tuple(accesses)
