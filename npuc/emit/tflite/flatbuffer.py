"""Writing a TFLite flatbuffer: tensors, operators, one subgraph, buffers and metadata.

`serialize` turns a `Model` record into the bytes of a `.tflite` file through
the generated builder functions of the `tflite` package (schema version 3).
The records are plain data: a `Tensor` (shape, element type, per-tensor or
per-axis quantization, constant bytes), an `Operator` (a builtin by its
`BuiltinOperator` name with its options table, or a custom operator with its
options bytes), a `Subgraph` (tensors, operators, inputs and outputs; the
first one is the model's main subgraph), and metadata (name -> bytes, each in
a buffer of its own).

The layout is the TFLite converter's: buffer 0 is the empty buffer every
activation points at, each constant has a buffer of its own (16-byte
aligned), operator codes are listed in first-use order with version 1 (the
version every registered kernel accepts) and the deprecated int8 code for
older readers. Options are named as in the schema: the table
(`Conv2DOptions`) and its fields by the suffix of the generated adders
(`Conv2DOptionsAddStrideH` -> `StrideH`), written in the order given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import flatbuffers
import numpy as np
import tflite

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
OPERATOR_VERSION = 1
BUFFER_ALIGNMENT = 16
"""Constant data starts on this boundary, so readers may map it as any element type."""
DEPRECATED_CODE_LIMIT = 127
"""`deprecated_builtin_code` is an int8: codes above it are written as PLACEHOLDER_FOR_GREATER_OP_CODES."""


@dataclass(frozen=True)
class Quantization:
    """Scales and zero points: one pair per tensor, or one per slice along `dimension`."""

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    dimension: int = 0


@dataclass(frozen=True)
class Tensor:
    """One tensor: `type_code` is a `tflite.TensorType`; `data` holds a constant's bytes (None: an activation)."""

    name: str
    shape: tuple[int, ...]
    type_code: int
    quantization: Quantization | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class Options:
    """A builtin options table by its schema name, with the fields to set (in writing order)."""

    table: str
    fields: Mapping[str, int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Operator:
    """One operator: `code` is a `BuiltinOperator` name, or the custom code when `custom`.

    `inputs` and `outputs` index the model's tensors (-1: an absent optional
    input). A builtin takes `options`; a custom operator `custom_options`.
    """

    code: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Options | None = None
    custom: bool = False
    custom_options: bytes | None = None


@dataclass(frozen=True)
class Subgraph:
    """One subgraph: its tensors, operators in execution order and interface (indices into its tensors)."""

    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    name: str = "main"


@dataclass(frozen=True)
class Model:
    """A model: its subgraphs (the first is the one interpreters run), description and metadata."""

    subgraphs: tuple[Subgraph, ...]
    description: str = ""
    metadata: tuple[tuple[str, bytes], ...] = ()


def serialize(model: Model) -> bytes:
    """The `.tflite` bytes of `model`."""
    builder = flatbuffers.Builder(1024)
    buffers = [_buffer(builder, None)]
    codes = list(dict.fromkeys((operator.code, operator.custom) for subgraph in model.subgraphs
                               for operator in subgraph.operators))
    subgraphs = [_subgraph(builder, subgraph, buffers, codes) for subgraph in model.subgraphs]
    metadata_buffers = []
    for _, data in model.metadata:
        buffers.append(_buffer(builder, data))
        metadata_buffers.append(len(buffers) - 1)
    operator_codes = [_operator_code(builder, code, custom) for code, custom in codes]
    metadata = [_metadata(builder, name, buffer) for (name, _), buffer in zip(model.metadata, metadata_buffers)]
    subgraph_vector = _offset_vector(builder, subgraphs)
    code_vector = _offset_vector(builder, operator_codes)
    buffer_vector = _offset_vector(builder, buffers)
    metadata_vector = _offset_vector(builder, metadata) if metadata else None
    description = builder.CreateString(model.description)
    tflite.ModelStart(builder)
    tflite.ModelAddVersion(builder, SCHEMA_VERSION)
    tflite.ModelAddOperatorCodes(builder, code_vector)
    tflite.ModelAddSubgraphs(builder, subgraph_vector)
    tflite.ModelAddDescription(builder, description)
    tflite.ModelAddBuffers(builder, buffer_vector)
    if metadata_vector is not None:
        tflite.ModelAddMetadata(builder, metadata_vector)
    builder.Finish(tflite.ModelEnd(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def _subgraph(builder: flatbuffers.Builder, subgraph: Subgraph, buffers: list[int], codes: list[tuple[str, bool]]
              ) -> int:
    """A subgraph table; its constants' buffers are appended to `buffers`, its operators index `codes`."""
    tensors = []
    for index, tensor in enumerate(subgraph.tensors):
        buffer_index = 0
        if tensor.data is not None:
            buffers.append(_buffer(builder, tensor.data))
            buffer_index = len(buffers) - 1
        tensors.append(_tensor(builder, tensor, index, buffer_index))
    operators = [_operator(builder, operator, codes.index((operator.code, operator.custom)))
                 for operator in subgraph.operators]
    graph_inputs = _int_vector(builder, subgraph.inputs)
    graph_outputs = _int_vector(builder, subgraph.outputs)
    tensor_vector = _offset_vector(builder, tensors)
    operator_vector = _offset_vector(builder, operators)
    name = builder.CreateString(subgraph.name)
    tflite.SubGraphStart(builder)
    tflite.SubGraphAddTensors(builder, tensor_vector)
    tflite.SubGraphAddInputs(builder, graph_inputs)
    tflite.SubGraphAddOutputs(builder, graph_outputs)
    tflite.SubGraphAddOperators(builder, operator_vector)
    tflite.SubGraphAddName(builder, name)
    return tflite.SubGraphEnd(builder)


def _int_vector(builder: flatbuffers.Builder, values: Sequence[int]) -> int:
    return builder.CreateNumpyVector(np.asarray(values, dtype=np.int32))


def _offset_vector(builder: flatbuffers.Builder, offsets: Sequence[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _bytes_vector(builder: flatbuffers.Builder, data: bytes, alignment: int) -> int:
    """A ubyte vector holding `data`, its first byte on an `alignment` boundary."""
    builder.StartVector(1, len(data), alignment)
    builder.head -= len(data)
    builder.Bytes[builder.head : builder.head + len(data)] = data
    return builder.EndVector()


def _buffer(builder: flatbuffers.Builder, data: bytes | None) -> int:
    payload = _bytes_vector(builder, data, BUFFER_ALIGNMENT) if data is not None else None
    tflite.BufferStart(builder)
    if payload is not None:
        tflite.BufferAddData(builder, payload)
    return tflite.BufferEnd(builder)


def _quantization(builder: flatbuffers.Builder, quantization: Quantization) -> int:
    scale = builder.CreateNumpyVector(np.asarray(quantization.scales, dtype=np.float32))
    zero_point = builder.CreateNumpyVector(np.asarray(quantization.zero_points, dtype=np.int64))
    tflite.QuantizationParametersStart(builder)
    tflite.QuantizationParametersAddScale(builder, scale)
    tflite.QuantizationParametersAddZeroPoint(builder, zero_point)
    tflite.QuantizationParametersAddQuantizedDimension(builder, quantization.dimension)
    return tflite.QuantizationParametersEnd(builder)


def _tensor(builder: flatbuffers.Builder, tensor: Tensor, index: int, buffer: int) -> int:
    name = builder.CreateString(tensor.name or f"t{index}")
    shape = _int_vector(builder, tensor.shape)
    quantization = _quantization(builder, tensor.quantization) if tensor.quantization is not None else None
    tflite.TensorStart(builder)
    tflite.TensorAddShape(builder, shape)
    tflite.TensorAddType(builder, tensor.type_code)
    tflite.TensorAddBuffer(builder, buffer)
    tflite.TensorAddName(builder, name)
    if quantization is not None:
        tflite.TensorAddQuantization(builder, quantization)
    return tflite.TensorEnd(builder)


def _options(builder: flatbuffers.Builder, options: Options) -> int:
    """An options table through `tflite.<table>Start/Add<Field>/End`."""
    getattr(tflite, f"{options.table}Start")(builder)
    for name, value in options.fields.items():
        getattr(tflite, f"{options.table}Add{name}")(builder, value)
    return getattr(tflite, f"{options.table}End")(builder)


def _operator(builder: flatbuffers.Builder, operator: Operator, code_index: int) -> int:
    options = _options(builder, operator.options) if operator.options is not None else None
    custom_options = None
    if operator.custom_options is not None:
        custom_options = _bytes_vector(builder, operator.custom_options, 1)
    inputs = _int_vector(builder, operator.inputs)
    outputs = _int_vector(builder, operator.outputs)
    tflite.OperatorStart(builder)
    tflite.OperatorAddOpcodeIndex(builder, code_index)
    tflite.OperatorAddInputs(builder, inputs)
    tflite.OperatorAddOutputs(builder, outputs)
    if options is not None:
        assert operator.options is not None
        tflite.OperatorAddBuiltinOptionsType(builder, getattr(tflite.BuiltinOptions, operator.options.table))
        tflite.OperatorAddBuiltinOptions(builder, options)
    if custom_options is not None:
        tflite.OperatorAddCustomOptions(builder, custom_options)
    return tflite.OperatorEnd(builder)


def _operator_code(builder: flatbuffers.Builder, code: str, custom: bool) -> int:
    custom_code = builder.CreateString(code) if custom else None
    builtin = tflite.BuiltinOperator.CUSTOM if custom else getattr(tflite.BuiltinOperator, code)
    tflite.OperatorCodeStart(builder)
    tflite.OperatorCodeAddBuiltinCode(builder, builtin)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(builder, min(builtin, DEPRECATED_CODE_LIMIT))
    if custom_code is not None:
        tflite.OperatorCodeAddCustomCode(builder, custom_code)
    tflite.OperatorCodeAddVersion(builder, OPERATOR_VERSION)
    return tflite.OperatorCodeEnd(builder)


def _metadata(builder: flatbuffers.Builder, name: str, buffer: int) -> int:
    name_offset = builder.CreateString(name)
    tflite.MetadataStart(builder)
    tflite.MetadataAddName(builder, name_offset)
    tflite.MetadataAddBuffer(builder, buffer)
    return tflite.MetadataEnd(builder)
