"""Lowered npu IR for an Ethos-U target -> register command streams, one per NPU segment.

The host runs `npu.cpu_op`s between NPU work, so a program is cut into
*segments*: the maximal runs of NPU commands (`npu.dma` and the compute
commands) between CPU operations. Each segment is one register command
stream, for one `ethos-u` operator of a deployable model:

- the stream starts with PARALLEL_MODE on an Ethos-U65 (every core runs
  every command), then, per command, the registers it reads that do not
  already hold its values (`operations`, `feature_maps`, `output_scaling`),
  BLOCKDEP and the waits it needs (`dependencies`), and its operation word;
  it ends with OP_STOP, and the driver waits for the NPU to finish before
  the host goes on;
- a command on maps with a batch is one operation per batch element;
- an elementwise command with a lookup table is preceded by the DMA that
  copies the table into the shared buffer, unless it is still there
  (`lookup_tables`);
- memories are addressed through regions: the constants are region 0,
  the arena region 1, a staging memory other than the arena region 2
  (`regions`); addresses are the IR's offsets.

`emit_program` gives the segments with their streams and the feature maps
each reads from and leaves to the rest of the program, which a packager
turns into the operator's IFM and OFM tensors (`Segment`); `driver_payload`
wraps a segment's stream for the driver (docs/ethos-u-stream.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation

from npuc.cost.compute import command_shape
from npuc.dialects import npu
from npuc.dialects.common import UNIT_WINDOW, layer_name
from npuc.emit.ethos_u.command_writer import CommandWriter
from npuc.emit.ethos_u.dependencies import (
    SHRAM,
    Accesses,
    Input,
    Kernel,
    Outstanding,
    Span,
    block_dependency,
)
from npuc.emit.ethos_u.feature_maps import batches
from npuc.emit.ethos_u.lookup_tables import TableSlots
from npuc.emit.ethos_u.operations import (
    KernelOperation,
    kernel_operation,
    write_registers,
)
from npuc.emit.ethos_u.payload import NpuConfig, build_payload
from npuc.emit.ethos_u.regions import RegionMap, region_map
from npuc.emit.ethos_u.registers import (
    PARAM_MASK,
    Cmd0,
    Cmd1,
    Product,
    RegionMode,
    pack_param,
)
from npuc.emit.ethos_u.shared_buffer import ifm_depth
from npuc.errors import CommandStreamError
from npuc.targets import Target, load_target

STOP_PARAM = PARAM_MASK
"""OP_STOP's parameter: every bit set, as Vela writes it."""
DMA_CHANNEL_PARAM = 0
"""OP_DMA_START's parameter: channel 0 (the user channel), external mode."""
ETHOS_U65 = "ethos-u65"
"""The product whose streams set PARALLEL_MODE."""
PRODUCTS = {"ethos-u55": Product.ETHOS_U55, ETHOS_U65: Product.ETHOS_U65}
"""The CONFIG register's product of each `EthosU.product`."""
KIB = 1024
"""Bytes per KiB: the payload states the shared buffer of all cores in KiB."""


@dataclass(frozen=True)
class Segment:
    """A run of NPU commands between CPU operations and its register command stream.

    `words` ends with OP_STOP. Which feature maps a segment takes from the
    rest of the program and leaves to it is data flow through memory,
    which the packager follows byte by byte (`tflite_package`).
    """

    commands: tuple[Operation, ...]
    words: tuple[int, ...]


@dataclass(frozen=True)
class EthosUProgram:
    """A lowered module as Ethos-U streams: its target, the regions of its memories, its segments."""

    target: Target
    regions: RegionMap
    segments: tuple[Segment, ...]


def emit_program(module: ModuleOp, target: Target | None = None) -> EthosUProgram:
    """The segments of a lowered module and their streams, for the Ethos-U `target` it was lowered for
    (default: the target its `npu.target` names)."""
    if target is None:
        target_name = module.attributes.get(npu.TARGET_ATTR)
        if not isinstance(target_name, StringAttr):
            raise CommandStreamError(f"the module has no {npu.TARGET_ATTR}: run npu-lower first")
        target = load_target(target_name.data)
    if target.ethos_u is None:
        raise CommandStreamError(f"target {target.name} is not an Ethos-U: it has no register command stream")
    ops = list(module.ops)
    regions = region_map(target, [op.buffer for op in ops if isinstance(op, npu.ConstantOp)])
    runs = _runs(ops)
    segments = []
    for run in runs:
        words = emit_stream(run, target, regions)
        segments.append(Segment(tuple(run), tuple(words)))
    return EthosUProgram(target, regions, tuple(segments))


def driver_payload(program: EthosUProgram, segment: Segment) -> bytes:
    """The COP1 payload of one segment: the `ethos-u` operator's command-stream tensor (`payload.py`)."""
    target = program.target
    assert target.ethos_u is not None, "programs are emitted for Ethos-U targets"
    config = NpuConfig(PRODUCTS[target.ethos_u.product], target.throughput.macs_per_cycle,
                       target.shram_bytes * target.cores // KIB)
    return build_payload(segment.words, config)


def _runs(ops: Sequence[Operation]) -> list[list[Operation]]:
    """The maximal runs of DMA and compute commands between CPU operations, in program order."""
    runs: list[list[Operation]] = [[]]
    for op in ops:
        if isinstance(op, npu.CpuOp):
            runs.append([])
        elif isinstance(op, (npu.DmaOp, npu.ComputeOp)):
            runs[-1].append(op)
    return [run for run in runs if run]


def emit_stream(commands: Sequence[Operation], target: Target, regions: RegionMap) -> list[int]:
    """The register command stream of one segment's commands (DMAs and compute commands), ending in OP_STOP."""
    assert target.ethos_u is not None, "streams are emitted for Ethos-U targets"
    stream = _Stream(target, regions)
    if target.ethos_u.product == ETHOS_U65:
        stream.writer.set(Cmd0.SET_PARALLEL_MODE, pack_param(Cmd0.SET_PARALLEL_MODE, parallel_mode=target.cores - 1))
    for op in commands:
        if isinstance(op, npu.DmaOp):
            where = f"layer '{layer_name(op)}' (npu.dma)"
            source = Span(regions.buffer_region(op.src, where), op.src.offset.data, op.src.end)
            destination = Span(regions.buffer_region(op.dst, where), op.dst.offset.data, op.dst.end)
            stream.dma(source, destination, RegionMode.EXTERNAL, where)
        elif isinstance(op, npu.ComputeOp):
            stream.kernel(op)
        else:
            raise CommandStreamError(f"'{op.name}' is not an NPU command of a segment")
    stream.writer.operation(Cmd0.OP_STOP, STOP_PARAM)
    return stream.writer.words


class _Stream:
    """The state of one stream while its commands are emitted: registers, operations in flight, tables."""

    def __init__(self, target: Target, regions: RegionMap):
        assert target.ethos_u is not None
        self.target, self.regions = target, regions
        self.writer = CommandWriter()
        self.outstanding = Outstanding(target.ethos_u.max_outstanding_dma, target.ethos_u.max_outstanding_kernels)
        self.previous: Kernel | None = None
        self.tables = TableSlots(target)

    def dma(self, source: Span, destination: Span, destination_mode: RegionMode, where: str) -> None:
        """A DMA copy (to the shared buffer in the internal region mode): registers, wait, OP_DMA_START."""
        alignment = self.target.alignment
        if source.start % alignment or destination.start % alignment or (source.end - source.start) % alignment:
            raise CommandStreamError(f"{where}: DMA addresses and length must be multiples of {alignment} bytes")
        writer = self.writer
        writer.set(Cmd0.SET_DMA0_SRC_REGION, pack_param(Cmd0.SET_DMA0_SRC_REGION, region=source.region))
        writer.set_address(Cmd1.SET_DMA0_SRC, source.start)
        destination_region = destination.region
        if destination_mode is RegionMode.INTERNAL:
            assert self.target.ethos_u is not None
            destination_region = self.target.ethos_u.shram_dma_region
        writer.set(Cmd0.SET_DMA0_DST_REGION, pack_param(
            Cmd0.SET_DMA0_DST_REGION, region=destination_region, region_mode=destination_mode,
        ))  # fmt: skip
        writer.set_address(Cmd1.SET_DMA0_DST, destination.start)
        writer.set_address(Cmd1.SET_DMA0_LEN, source.end - source.start)
        wait = self.outstanding.kernel_wait(Accesses((source,), (destination,)))
        if wait is not None:
            writer.operation(Cmd0.OP_KERNEL_WAIT, wait)
        writer.operation(Cmd0.OP_DMA_START, DMA_CHANNEL_PARAM)

    def kernel(self, op: npu.ComputeOp) -> None:
        """A compute command: one operation per batch element (after its lookup table's DMA, if the
        table is not in place)."""
        for batch in range(batches(op.ofm)):
            self.operation(op, batch)

    def operation(self, op: npu.ComputeOp, batch: int) -> None:
        """The operation of one batch element of a compute command."""
        where = f"layer '{layer_name(op)}' ({op.name})"
        table = None
        if op.lut is not None:
            table = self.tables.place(op.lut, where)
            if table.copy:
                source = Span(self.regions.buffer_region(op.lut, where), op.lut.offset.data, op.lut.end)
                self.dma(source, table.span, RegionMode.INTERNAL, where)
        kernel = kernel_operation(op, self.regions, self.target, table.slot if table is not None else None, batch)
        shram_writes = Span(SHRAM, 0, kernel.layout.lut_start * self.target.shram.bank_bytes)
        current = self._blockdep_view(kernel, shram_writes, table.span if table is not None else None)
        write_registers(self.writer, kernel, self.target)
        self.writer.set(Cmd0.SET_BLOCKDEP, block_dependency(self.previous, current))
        wait = self.outstanding.dma_wait(self._accesses(kernel, current))
        if wait is not None:
            self.writer.operation(Cmd0.OP_DMA_WAIT, wait)
        self.writer.operation(kernel.opcode, kernel.mode)
        self.tables.overwritten(shram_writes)
        self.previous = current

    def _blockdep_view(self, kernel: KernelOperation, shram_writes: Span, table: Span | None) -> Kernel:
        """The kernel as `dependencies` sees it: OFM, block, inputs with their windows, shared buffer."""
        op = kernel.op
        shape = command_shape(op)
        window = op.window() if isinstance(op, npu.WindowedOp) else UNIT_WINDOW
        depth_step = 0
        if isinstance(op, (npu.Conv2dOp, npu.FullyConnectedOp)) or (isinstance(op, npu.PoolOp) and op.kind.data == "reduce_sum"):
            depth_step = ifm_depth(shape, op.block_shape()[2], kernel.traversal, self.target)
        divisor = kernel.ofm.depth // kernel.ifm.depth if isinstance(op, npu.DepthwiseConv2dOp) else 1
        inputs = [Input(kernel.ifm, window, divisor, depth_step)]
        if kernel.ifm2 is not None:
            inputs.append(Input(kernel.ifm2, UNIT_WINDOW))
        return Kernel(kernel.ofm, op.block_shape(), tuple(inputs), shram_writes, table)

    def _accesses(self, kernel: KernelOperation, view: Kernel) -> Accesses:
        """Everything a kernel reads and writes, for the DMA waits."""
        reads = [Span(fm.region, *span) for fm in (kernel.ifm, kernel.ifm2) if fm is not None for span in fm.byte_ranges()]
        op = kernel.op
        if isinstance(op, (npu.WeightedOp, npu.FullyConnectedOp)):
            weights_region, scales_region = kernel.stream_regions
            reads += [Span(weights_region, op.weights.offset.data, op.weights.end),
                      Span(scales_region, op.scale_bias.offset.data, op.scale_bias.end)]
        if view.lut_reads is not None:
            reads.append(view.lut_reads)
        writes = (*(Span(kernel.ofm.region, *span) for span in kernel.ofm.byte_ranges()), view.shram_writes)
        return Accesses(tuple(reads), writes)
