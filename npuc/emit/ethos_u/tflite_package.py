"""A lowered program for an Ethos-U target as a deployable `.tflite`, in Vela's layout.

`write_package` writes what TFLite Micro and the Ethos-U driver run
(docs/ethos-u.md, "What npuc writes"): one subgraph whose operators are, in
program order,

- one `ethos-u` custom operator per NPU segment (`emitter.Segment`), custom
  options `01 04 01`, inputs: its command stream (a uint8 constant holding
  the COP1 payload), the read-only data (the image of every `npu.constant`:
  region 0), the scratch arena (region 1), the fast scratch arena (region 2:
  the staging memory on Dedicated_Sram, else the scratch tensor again), then
  its IFMs; outputs: its OFMs. Every operator shares the read-only and
  scratch tensors, as Vela's do;
- the `npu.cpu_op` bodies as TFLite builtin operators
  (`npuc.emit.tflite.export`);
- QUANTIZE / DEQUANTIZE (and TRANSPOSE for an NCHW interface) where the host
  converts the model's float interface.

Every tensor the program keeps in the arena memory is pinned there by the
`OfflineMemoryAllocation` metadata (`[0, 1, n_tensors, offset or -1 per
tensor]`): the scratch tensor at 0, each IFM, OFM and CPU operand at the
offset npu-allocate gave it, so TFLite Micro places them where the command
streams read and write them. Tensors no command addresses (a float
interface, a CPU op's intermediates) are left to TFLite Micro's planner; the
fast scratch tensor is pinned at 0 as Vela pins it (the driver points base
pointer 2 at its fast memory).

Which tensor carries which bytes follows the writes: a read (a command's
IFM or DMA source, a CPU op's input, a model output) is served by the last
writer of its bytes. A tensor the model's input or a CPU op wrote is passed
as it is (a segment may read any part of it; a CPU op or an output reading
the same bytes in another shape gets a RESHAPE copy, in place). Bytes a
segment wrote leave it as an OFM in the shape the reader reads them, so
each operator's tensors are the ones its readers need, and the segments'
tensors are what TFLite Micro keeps alive between operators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import tflite
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, TensorType, f32
from xdsl.ir import Attribute, Operation

from npuc.data import NCHW_TO_NHWC, NHWC_TO_NCHW
from npuc.dialects import npu
from npuc.dialects.common import layer_name
from npuc.dialects.npu_memory import BufferAttr, FeatureMapAttr
from npuc.emit.ethos_u.emitter import EthosUProgram, driver_payload
from npuc.emit.ethos_u.package import CUSTOM_CODE, CUSTOM_OPTIONS, OFFLINE_ALLOCATION
from npuc.emit.ethos_u.regions import READ_ONLY_REGION
from npuc.emit.tflite.export import export_ops
from npuc.emit.tflite.flatbuffer import Model, Operator, Tensor, serialize
from npuc.emit.tflite.graph import GraphWriter, tensor_for
from npuc.errors import UnsupportedOperatorError

COMMAND_STREAM_NAME = "ethos_u_command_stream"
READ_ONLY_NAME = "read_only"
SCRATCH_NAME = "scratch"
FAST_SCRATCH_NAME = "scratch_fast"
"""Vela 5.2's names of the ethos-u operator's first four inputs."""
MAX_BASE_POINTERS = 8
"""Base pointers the Ethos-U driver takes: the operator's tensors after the command stream."""


@dataclass
class _Segment:
    """An ethos-u operator being assembled: its segment, its place among the operators, its tensors so far."""

    number: int
    position: int
    ifms: list[int] = field(default_factory=list)
    ofms: dict[tuple[int, int, FeatureMapAttr | None], int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Write:
    """Bytes [start, end) of `memory` written by a command of segment `segment`, or held by tensor `tensor`.

    `sequence` orders the writes; `layer` names the writer.
    """

    memory: str
    start: int
    end: int
    sequence: int
    layer: str
    tensor: int | None = None
    segment: int | None = None


def write_package(module: ModuleOp, program: EthosUProgram, read_only: bytes, source: str = "<module>") -> bytes:
    """The `.tflite` bytes of a lowered module for an Ethos-U target (see the module docstring).

    `program` is the module's `emit_program`, `read_only` the image of its
    constant memory (`npuc.emit.command_stream.encode(module).blob`).
    UnsupportedOperatorError names each CPU op without a TFLite form, or a
    read the layout cannot carry.
    """
    return serialize(_Package(module, program, read_only, source).model())


class _Package:
    """The state of one package while the program's ops are read in order."""

    def __init__(self, module: ModuleOp, program: EthosUProgram, read_only: bytes, source: str):
        self.program, self.source = program, source
        self.arena, self.staging = program.target.arena_memory, program.target.staging_memory
        self.writer = GraphWriter()
        self.offsets: dict[int, int] = {}
        self.sequence: dict[int, int] = {}
        """Tensor -> the write it holds, so an operator's IFMs are placed oldest first."""
        self.writes: list[_Write] = []
        self.segments: list[_Segment] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        sizes = _memory_usage(module)
        self.read_only = self._uint8(READ_ONLY_NAME, len(read_only), read_only or None)
        self.scratch = self._uint8(SCRATCH_NAME, sizes.get(self.arena, 0))
        self.offsets[self.scratch] = 0
        self.scratch_fast = self.scratch
        if self.staging != self.arena:
            self.scratch_fast = self._uint8(FAST_SCRATCH_NAME, sizes.get(self.staging, 0))
            self.offsets[self.scratch_fast] = 0
        self.segment_of = {id(command): number for number, segment in enumerate(program.segments)
                           for command in segment.commands}
        for op in module.ops:
            self._read(op)

    def model(self) -> Model:
        """The package as a flatbuffer model record."""
        for segment in self.segments:
            self.writer.operators[segment.position] = self._ethos_u_operator(segment)
        count = len(self.writer.tensors)
        plan = np.array([0, 1, count, *(self.offsets.get(index, -1) for index in range(count))], dtype="<i4")
        return self.writer.model(self.inputs, self.outputs, f"npuc package for {self.program.target.name}",
                                 [(OFFLINE_ALLOCATION, plan.tobytes())])

    # -- the program, op by op ----------------------------------------------------------------------------

    def _read(self, op: Operation) -> None:
        if isinstance(op, npu.InputOp):
            self._model_input(op)
        elif isinstance(op, npu.OutputOp):
            self._model_output(op)
        elif isinstance(op, npu.CpuOp):
            self._cpu_op(op)
        elif isinstance(op, (npu.DmaOp, npu.ComputeOp)):
            self._command(op)

    def _model_input(self, op: npu.InputOp) -> None:
        """A subgraph input; a float (NCHW) interface is quantized (then transposed) into the planned tensor."""
        name = op.tensor.data
        converted = op.host_conversion is not None or op.layout is not None
        pinned = self._pinned(op.fm, f"{name}/npu" if converted else name, f"model input '{name}'")
        value = pinned
        steps: list[tuple[str, list[int], int]] = []  # the conversions, written from the planned tensor back
        if op.layout is not None:
            nchw = self.writer.intermediate(_fm_type(op.fm, NHWC_TO_NCHW), f"{name}/nchw")
            steps.append(("TRANSPOSE", [nchw, self.writer.parameter(NCHW_TO_NHWC, "perm")], value))
            value = nchw
        if op.host_conversion is not None:
            floats = self.writer.intermediate(_fm_type(op.fm, NHWC_TO_NCHW if op.layout else None, f32), name)
            steps.append(("QUANTIZE", [floats], value))
            value = floats
        for code, inputs, output in reversed(steps):
            self.writer.operator(code, inputs, [output])
        self.writer.tensors[value] = _renamed(self.writer.tensors[value], name)
        self.inputs.append(value)
        self._record(op.fm.buffer(), name, tensor=pinned)

    def _model_output(self, op: npu.OutputOp) -> None:
        """A subgraph output: the bytes the program leaves there, (transposed and) dequantized for a float one."""
        name = op.tensor.data
        value = self._dense_read(op.fm, f"model output '{name}'", name)
        if value in self.inputs:
            copy = self._pinned(op.fm, name, f"model output '{name}'")
            self._reshape(value, copy)
            value = copy
        if op.layout is not None:
            transposed = self.writer.intermediate(_fm_type(op.fm, NHWC_TO_NCHW), f"{name}/nchw")
            self.writer.operator("TRANSPOSE", [value, self.writer.parameter(NHWC_TO_NCHW, "perm")], [transposed])
            value = transposed
        if op.host_conversion is not None:
            dequantized = self.writer.intermediate(_fm_type(op.fm, NHWC_TO_NCHW if op.layout else None, f32), name)
            self.writer.operator("DEQUANTIZE", [value], [dequantized])
            value = dequantized
        self.writer.tensors[value] = _renamed(self.writer.tensors[value], name)
        self.outputs.append(value)

    def _cpu_op(self, op: npu.CpuOp) -> None:
        """The body's ops as builtin operators, reading the tensors of its inputs, results pinned at its outputs."""
        layer = layer_name(op)
        where = f"layer '{layer}'"
        block = op.body.block
        for argument, fm in zip(block.args, op.inputs.data):
            self.writer.bind(argument, self._dense_read(fm, where, layer))
        export_ops(self.writer, list(block.ops)[:-1], self.source)
        terminator = block.last_op
        assert isinstance(terminator, npu.YieldOp), "verified: the body ends in npu.yield"
        for value, fm in zip(terminator.values, op.outputs.data):
            index = self.writer.tensor(value)
            expected = self._pinnable(fm, layer, where)
            if index in self.offsets or not _same_layout(self.writer.tensors[index], expected):  # pinned elsewhere
                copy = self._pinned(fm, layer, where)
                self._reshape(index, copy)
                index = copy
            self.offsets[index] = fm.offset.data
            self._record(fm.buffer(), layer, tensor=index)

    def _command(self, op: npu.DmaOp | npu.ComputeOp) -> None:
        """A segment's command: the ethos-u operator's place (at its first command), what it reads, what it writes."""
        number = self.segment_of[id(op)]
        if len(self.segments) == number:  # segments are runs in program order
            self.segments.append(_Segment(number, len(self.writer.operators)))
            self.writer.operators.append(Operator(CUSTOM_CODE, (), (), custom=True))  # completed by `model`
        segment = self.segments[-1]
        where = f"layer '{layer_name(op)}' ({op.name})"
        for memory, start, end, fm in self._command_reads(op, where):
            writes, _ = self._writers(memory, start, end)  # a strided map's range may span bytes it skips
            for write in writes:
                if write.segment == number:
                    continue
                handed = fm if len(writes) == 1 and fm is not None and _is_dense(fm) else None
                self._add_ifm(segment, self._tensor_of(write, max(start, write.start), min(end, write.end), handed,
                                                       where))
        written = op.dst if isinstance(op, npu.DmaOp) else op.ofm.buffer()
        self._record(written, layer_name(op), segment=number)

    # -- reads and writes --------------------------------------------------------------------------------

    def _command_reads(self, op: npu.DmaOp | npu.ComputeOp, where: str
                       ) -> list[tuple[str, int, int, FeatureMapAttr | None]]:
        """(memory, start, end, feature map or None) of each buffer a command reads outside the read-only data."""
        buffers: list[tuple[BufferAttr, FeatureMapAttr | None]]
        if isinstance(op, npu.DmaOp):
            buffers = [(op.src, None)]
        else:
            maps = [op.ifm, op.ifm2] if isinstance(op, npu.ElementwiseOp) and op.ifm2 is not None else [op.ifm]
            buffers = [(fm.buffer(), fm) for fm in maps]
            if isinstance(op, (npu.WeightedOp, npu.FullyConnectedOp)):
                buffers += [(op.weights, None), (op.scale_bias, None)]
        return [(buffer.region.data, buffer.offset.data, buffer.end, fm) for buffer, fm in buffers
                if self.program.regions.buffer_region(buffer, where) != READ_ONLY_REGION]

    def _record(self, buffer: BufferAttr, layer: str, tensor: int | None = None, segment: int | None = None) -> None:
        write = _Write(buffer.region.data, buffer.offset.data, buffer.end, len(self.writes), layer, tensor, segment)
        self.writes.append(write)
        if tensor is not None:
            self.sequence[tensor] = write.sequence

    def _writers(self, memory: str, start: int, end: int) -> tuple[list[_Write], list[tuple[int, int]]]:
        """The writes that last wrote some byte of [start, end) of `memory`, latest first; the ranges none wrote."""
        missing = [(start, end)]
        found = []
        for write in reversed(self.writes):
            if not missing:
                break
            if write.memory == memory and any(low < write.end and write.start < high for low, high in missing):
                found.append(write)
                missing = [piece for low, high in missing for piece in _subtract(low, high, write.start, write.end)]
        return found, missing

    # -- tensors ------------------------------------------------------------------------------------------

    def _dense_read(self, fm: FeatureMapAttr, where: str, reader: str) -> int:
        """The tensor holding exactly `fm`, for a reader that needs it whole and dense (a CPU op, a model output).

        Bytes a segment wrote last come out of it as an OFM of `fm`'s shape
        (with the other writers' bytes as its IFMs); a tensor written by the
        model's input or a CPU op serves as it is, or through a RESHAPE into
        `fm`'s shape.
        """
        memory, start, end = fm.region.data, fm.offset.data, fm.buffer().end
        expected = self._pinnable(fm, reader, where)
        writes, missing = self._writers(memory, start, end)
        if missing:
            raise self._error(where, f"reads bytes {missing[0][0]}..{missing[0][1]} of {memory} that nothing wrote")
        last = writes[0]
        if last.segment is not None:
            segment = self.segments[last.segment]
            for write in writes[1:]:
                if write.segment != last.segment:
                    self._add_ifm(segment, self._tensor_of(write, max(start, write.start), min(end, write.end), None,
                                                           where))
            return self._tensor_of(last, start, end, fm, where)
        assert last.tensor is not None
        if len(writes) > 1 or (last.start, last.end) != (start, end):
            raise self._error(where, f"reads {list(fm.shape_values())} at {start} of {memory}, part of a tensor")
        if _same_layout(self.writer.tensors[last.tensor], expected):
            return last.tensor
        copy = self._pinned(fm, reader, where)
        self._reshape(last.tensor, copy)
        self._record(fm.buffer(), reader, tensor=copy)
        return copy

    def _tensor_of(self, write: _Write, start: int, end: int, fm: FeatureMapAttr | None, where: str) -> int:
        """The tensor carrying bytes [start, end) of `write` to a reader: the tensor that wrote them, or an OFM of
        the segment that did (typed as `fm` when given, else raw bytes)."""
        if write.tensor is not None:
            return write.tensor
        assert write.segment is not None
        segment = self.segments[write.segment]
        key = (start, end, fm)
        if key not in segment.ofms:
            if write.memory != self.arena:
                raise self._error(where, f"reads bytes of {write.memory} that another NPU segment wrote: only the "
                                         f"arena memory ({self.arena}) keeps them between operators")
            if fm is not None:
                index = self.writer.add_tensor(self._pinnable(fm, write.layer, where))
            else:
                index = self.writer.add_tensor(Tensor(f"{write.layer}/bytes_{start}", (end - start,),
                                                      tflite.TensorType.INT8))
            self.offsets[index] = start
            self.sequence[index] = write.sequence
            segment.ofms[key] = index
        return segment.ofms[key]

    def _add_ifm(self, segment: _Segment, tensor: int) -> None:
        if tensor not in segment.ifms:
            segment.ifms.append(tensor)

    def _pinnable(self, fm: FeatureMapAttr, name: str, where: str) -> Tensor:
        """The tensor of a feature map a TFLite operator reads or writes: dense, in the arena memory."""
        if fm.region.data != self.arena:
            raise self._error(where, f"its feature map is in {fm.region.data}, outside the arena memory {self.arena}")
        if not _is_dense(fm):
            raise self._error(where, f"its feature map {list(fm.shape_values())} has strides "
                                     f"{list(fm.stride_values())}: a TFLite tensor is dense")
        return tensor_for(_fm_type(fm), name)

    def _pinned(self, fm: FeatureMapAttr, name: str, where: str) -> int:
        """A new tensor for `fm`, planned at its offset."""
        index = self.writer.add_tensor(self._pinnable(fm, name, where))
        self.offsets[index] = fm.offset.data
        return index

    def _reshape(self, source: int, destination: int) -> None:
        shape = self.writer.parameter(self.writer.tensors[destination].shape, "shape")
        self.writer.operator("RESHAPE", [source, shape], [destination])

    def _uint8(self, name: str, size: int, data: bytes | None = None) -> int:
        return self.writer.add_tensor(Tensor(name, (size,), tflite.TensorType.UINT8, None, data))

    def _ethos_u_operator(self, segment: _Segment) -> Operator:
        """The ethos-u operator of a segment: command stream, read-only data, the arenas, IFMs; OFMs."""
        stream = driver_payload(self.program, self.program.segments[segment.number])
        command_stream = self._uint8(COMMAND_STREAM_NAME, len(stream), stream)
        ifms = sorted(segment.ifms, key=lambda index: self.sequence[index])
        ofms = list(segment.ofms.values())
        where = f"NPU segment {segment.number}"
        if not ofms:
            raise self._error(where, "writes nothing the rest of the program reads")
        if 3 + len(ifms) + len(ofms) > MAX_BASE_POINTERS:
            raise self._error(where, f"needs {len(ifms)} IFM and {len(ofms)} OFM tensors: with the read-only and "
                                     f"two scratch tensors more than the driver's {MAX_BASE_POINTERS} base pointers")
        inputs = (command_stream, self.read_only, self.scratch, self.scratch_fast, *ifms)
        return Operator(CUSTOM_CODE, inputs, tuple(ofms), custom=True, custom_options=CUSTOM_OPTIONS)

    def _error(self, where: str, problem: str) -> UnsupportedOperatorError:
        return UnsupportedOperatorError(f"{self.source}: Ethos-U package", [(where, "", problem)])


def _memory_usage(module: ModuleOp) -> dict[str, int]:
    """Bytes used per memory (`npu.memory_usage`)."""
    usage = module.attributes.get(npu.MEMORY_USAGE_ATTR)
    if not isinstance(usage, DictionaryAttr):
        return {}
    return {name: value.value.data for name, value in usage.data.items() if isinstance(value, IntegerAttr)}


def _fm_type(fm: FeatureMapAttr, permutation: Sequence[int] | None = None, element: Attribute | None = None
             ) -> TensorType:
    """The tensor type of a feature map (its axes permuted, another element type)."""
    shape = fm.shape_values()
    if permutation is not None:
        shape = tuple(shape[axis] for axis in permutation)
    return TensorType(element or fm.element_type, shape)


def _is_dense(fm: FeatureMapAttr) -> bool:
    return fm == FeatureMapAttr.dense(fm.region.data, fm.offset.data, fm.shape_values(), fm.element_type)


def _same_layout(first: Tensor, second: Tensor) -> bool:
    return (first.shape, first.type_code, first.quantization) == (second.shape, second.type_code, second.quantization)


def _renamed(tensor: Tensor, name: str) -> Tensor:
    return Tensor(name, tensor.shape, tensor.type_code, tensor.quantization, tensor.data)


def _subtract(low: int, high: int, start: int, end: int) -> list[tuple[int, int]]:
    """[low, high) without [start, end)."""
    return [(a, b) for a, b in ((low, min(high, start)), (max(low, end), high)) if a < b]
