"""Reading a deployable `.tflite`: its `ethos-u` custom operators and the tensors they address.

Vela's layout (and npuc's): the NPU part of the graph is a CUSTOM operator
with custom code `ethos-u` whose inputs are, in order, the command stream (a
constant uint8 tensor holding the COP1 driver payload), the read-only data
(weights, scale records, LUTs), the scratch arena, the fast scratch arena and
then the IFMs; its outputs are the OFMs. Its custom options are the
flexbuffer of the int8 value 1 (`01 04 01`). The driver gets the operator's
inputs after the command stream, then its outputs, as base pointers: region r
of the register stream is `region_tensors()[r]`.

IFMs and OFMs live inside the scratch arena: the model metadata
`OfflineMemoryAllocation` (int32 `[version 0, subgraph, n_tensors, offset or
-1 per tensor]`) pins every arena tensor's offset, so TFLite Micro puts them
where the stream expects them. `read_package` returns the records; it reads
the flatbuffer with the `tflite` package and checks the layout, raising
`ModelFormatError` naming the file, the operator and the problem.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tflite

from npuc.errors import ModelFormatError

CUSTOM_CODE = "ethos-u"
CUSTOM_OPTIONS = b"\x01\x04\x01"
"""The flexbuffer encoding of int8 1, which TFLite Micro's Ethos-U kernel checks."""
OFFLINE_ALLOCATION = "OfflineMemoryAllocation"
ARENA_OFFSETS_ATTR = "tflite.arena_offsets"
"""Attribute of an imported custom operator: the arena offset of each operand, then each result (-1: none)."""
FIXED_INPUTS = ("command stream", "read-only data", "scratch", "scratch_fast")
"""The roles of an ethos-u operator's first four inputs."""

_ELEMENT_BYTES = {
    tflite.TensorType.FLOAT32: 4, tflite.TensorType.FLOAT16: 2, tflite.TensorType.INT32: 4,
    tflite.TensorType.UINT8: 1, tflite.TensorType.INT8: 1, tflite.TensorType.INT16: 2,
    tflite.TensorType.UINT16: 2, tflite.TensorType.INT64: 8, tflite.TensorType.BOOL: 1,
}


@dataclass(frozen=True)
class PackageTensor:
    """A tensor of the main subgraph: shape, size in bytes, constant data and planned arena offset.

    `data` holds a constant's bytes (None for a tensor the runtime
    allocates); `arena_offset` is its offset in the arena by
    `OfflineMemoryAllocation`, None when it has none.
    """

    index: int
    name: str
    shape: tuple[int, ...]
    type_code: int
    nbytes: int
    data: bytes | None
    arena_offset: int | None


@dataclass(frozen=True)
class EthosUOperator:
    """One `ethos-u` operator: its position in the subgraph and its tensors by role."""

    position: int
    command_stream: PackageTensor
    read_only: PackageTensor
    scratch: PackageTensor
    scratch_fast: PackageTensor
    ifms: tuple[PackageTensor, ...]
    ofms: tuple[PackageTensor, ...]

    @property
    def name(self) -> str:
        """The operator's name: its first OFM's tensor name, as npuc names TFLite operators."""
        return self.ofms[0].name

    def region_tensors(self) -> tuple[PackageTensor, ...]:
        """The tensor each base pointer (region) points at: the inputs after the command stream, then the outputs."""
        return (self.read_only, self.scratch, self.scratch_fast, *self.ifms, *self.ofms)


@dataclass(frozen=True)
class Package:
    """A `.tflite` read as a deployable file: every tensor, the operators' codes and the ethos-u operators."""

    source: str
    tensors: tuple[PackageTensor, ...]
    operator_codes: tuple[str, ...]
    ethos_u: tuple[EthosUOperator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def read_package(model: str | Path | bytes, source: str | None = None) -> Package:
    """Read a `.tflite` (a path or its bytes) and its ethos-u operators; ModelFormatError when malformed."""
    if isinstance(model, (str, Path)):
        source = source or str(model)
        try:
            data = Path(model).read_bytes()
        except OSError as error:
            raise ModelFormatError(f"{source}: cannot read ({error.strerror})") from None
    else:
        data, source = model, source or "<bytes>"
    if len(data) < 8 or not tflite.Model.ModelBufferHasIdentifier(data, 0):
        raise ModelFormatError(f"{source}: not a TFLite model (no TFL3 file identifier)")
    try:
        flatbuffer = tflite.Model.GetRootAsModel(data, 0)
        subgraph = flatbuffer.Subgraphs(0)
        offsets = _planned_offsets(flatbuffer, data, subgraph.TensorsLength(), source)
        tensors = tuple(
            _tensor(flatbuffer, data, subgraph.Tensors(index), index, offsets.get(index))
            for index in range(subgraph.TensorsLength())
        )
        codes: list[str] = []
        ethos_u: list[EthosUOperator] = []
        for position in range(subgraph.OperatorsLength()):
            operator = subgraph.Operators(position)
            code = flatbuffer.OperatorCodes(operator.OpcodeIndex())
            custom = code.CustomCode()
            codes.append(custom.decode(errors="replace") if custom else f"BUILTIN_{code.BuiltinCode()}")
            if custom == CUSTOM_CODE.encode():
                ethos_u.append(_ethos_u_operator(operator, position, tensors, source))
        inputs = tuple(int(i) for i in subgraph.InputsAsNumpy()) if subgraph.InputsLength() else ()
        outputs = tuple(int(i) for i in subgraph.OutputsAsNumpy()) if subgraph.OutputsLength() else ()
    except (IndexError, struct.error, ValueError, AttributeError, TypeError):
        raise ModelFormatError(f"{source}: not a valid TFLite model (truncated or corrupt)") from None
    return Package(source, tensors, tuple(codes), tuple(ethos_u), inputs, outputs)


def arena_offsets(data: bytes, source: str) -> dict[int, int]:
    """Tensor index -> planned arena offset of a `.tflite`'s main subgraph (`OfflineMemoryAllocation`).

    Empty when the model has no such metadata; ModelFormatError when it is malformed.
    """
    try:
        flatbuffer = tflite.Model.GetRootAsModel(data, 0)
        return _planned_offsets(flatbuffer, data, flatbuffer.Subgraphs(0).TensorsLength(), source)
    except (IndexError, struct.error, ValueError, AttributeError, TypeError):
        raise ModelFormatError(f"{source}: not a valid TFLite model (truncated or corrupt)") from None


def _planned_offsets(flatbuffer: tflite.Model, data: bytes, tensor_count: int, source: str) -> dict[int, int]:
    """Tensor index -> planned arena offset, from the `OfflineMemoryAllocation` metadata (empty if absent)."""
    for index in range(flatbuffer.MetadataLength()):
        metadata = flatbuffer.Metadata(index)
        if metadata.Name() != OFFLINE_ALLOCATION.encode():
            continue
        raw = _buffer_bytes(flatbuffer, metadata.Buffer(), data) or b""
        values = np.frombuffer(raw[: len(raw) // 4 * 4], "<i4")
        if len(values) < 3 or values[0] != 0 or values[2] != len(values) - 3 or values[2] > tensor_count:
            raise ModelFormatError(
                f"{source}: {OFFLINE_ALLOCATION} metadata is not [0, subgraph, n, n offsets] for {tensor_count} tensors"
            )
        return {tensor: int(offset) for tensor, offset in enumerate(values[3:]) if offset >= 0}
    return {}


def _buffer_bytes(flatbuffer: tflite.Model, index: int, data: bytes) -> bytes | None:
    """The bytes of buffer `index` (inline or, for large models, after the flatbuffer); None if empty."""
    if index <= 0 or index >= flatbuffer.BuffersLength():
        return None
    buffer = flatbuffer.Buffers(index)
    if buffer.Offset() > 1:
        end = buffer.Offset() + buffer.Size()
        if end > len(data):
            raise IndexError("buffer beyond the end of the file")
        return data[buffer.Offset() : end]
    return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else None


def _tensor(flatbuffer: tflite.Model, data: bytes, tensor: tflite.Tensor, index: int,
            arena_offset: int | None) -> PackageTensor:
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    element = _ELEMENT_BYTES.get(tensor.Type(), 1)
    return PackageTensor(
        index=index,
        name=tensor.Name().decode(errors="replace") if tensor.Name() else f"tensor_{index}",
        shape=shape,
        type_code=tensor.Type(),
        nbytes=int(np.prod(shape, dtype=np.int64)) * element,
        data=_buffer_bytes(flatbuffer, tensor.Buffer(), data),
        arena_offset=arena_offset,
    )


def _ethos_u_operator(operator: tflite.Operator, position: int, tensors: tuple[PackageTensor, ...],
                      source: str) -> EthosUOperator:
    """The operator's tensors by role, after checking Vela's layout."""
    where = f"{source}: ethos-u operator {position}"
    inputs = [int(i) for i in operator.InputsAsNumpy()] if operator.InputsLength() else []
    outputs = [int(i) for i in operator.OutputsAsNumpy()] if operator.OutputsLength() else []
    if len(inputs) < len(FIXED_INPUTS) or not outputs:
        raise ModelFormatError(
            f"{where}: has {len(inputs)} inputs and {len(outputs)} outputs; it needs the "
            f"{', '.join(FIXED_INPUTS)} inputs and an output"
        )
    if any(not 0 <= index < len(tensors) for index in (*inputs, *outputs)):
        raise ModelFormatError(f"{where}: refers to a tensor index outside the subgraph")
    options = operator.CustomOptionsAsNumpy().tobytes() if operator.CustomOptionsLength() else b""
    if options != CUSTOM_OPTIONS:
        raise ModelFormatError(f"{where}: custom options {options.hex() or 'none'} are not {CUSTOM_OPTIONS.hex()}")
    command_stream, read_only = tensors[inputs[0]], tensors[inputs[1]]
    for role, tensor in zip(FIXED_INPUTS[:2], (command_stream, read_only)):
        if tensor.type_code != tflite.TensorType.UINT8 or (tensor.data is None and tensor.nbytes):
            raise ModelFormatError(f"{where}: the {role} '{tensor.name}' is not a constant uint8 tensor")
    if command_stream.data is None:
        raise ModelFormatError(f"{where}: the command stream '{command_stream.name}' is empty")
    return EthosUOperator(
        position,
        command_stream,
        read_only,
        tensors[inputs[2]],
        tensors[inputs[3]],
        tuple(tensors[index] for index in inputs[4:]),
        tuple(tensors[index] for index in outputs),
    )
