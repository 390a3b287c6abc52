"""Build single-operator TFLite flatbuffers and run them with TFLite's reference kernels.

Test helper: `build_model` serialises one operator with its tensors through
the generated builder functions of the ``tflite`` package; `run_model` runs a
model with ``ai_edge_litert`` and the BUILTIN_REF op resolver, so results come
from ``tensorflow/lite/kernels/internal/reference``.

Operators and their options are named as in the TFLite schema: the operator
by its ``BuiltinOperator`` name (``"CONV_2D"``), the options by their table
name (``"Conv2DOptions"``) and fields by the suffix of the generated adder
functions (``Conv2DOptionsAddStrideH`` -> ``StrideH``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import flatbuffers
import numpy as np
import tflite
from ai_edge_litert.interpreter import Interpreter, OpResolverType

_TENSOR_TYPES = {
    np.dtype(np.float32): tflite.TensorType.FLOAT32,
    np.dtype(np.int64): tflite.TensorType.INT64,
    np.dtype(np.int32): tflite.TensorType.INT32,
    np.dtype(np.int16): tflite.TensorType.INT16,
    np.dtype(np.int8): tflite.TensorType.INT8,
}


@dataclass
class TensorSpec:
    """One tensor of the model: a constant when ``data`` is given.

    ``scale``/``zero_point`` hold one value per tensor or, with
    ``quantized_dimension``, one per slice along that axis.
    """

    shape: Sequence[int]
    dtype: type
    scale: Sequence[float] | None = None
    zero_point: Sequence[int] | None = None
    quantized_dimension: int = 0
    data: np.ndarray | None = None
    name: str | None = None


def _int_vector(builder: flatbuffers.Builder, values: Sequence[int]) -> int:
    return builder.CreateNumpyVector(np.asarray(values, dtype=np.int32))


def _quantization(builder: flatbuffers.Builder, spec: TensorSpec) -> int:
    scale = builder.CreateNumpyVector(np.asarray(spec.scale, dtype=np.float32))
    zero_point = builder.CreateNumpyVector(np.asarray(spec.zero_point, dtype=np.int64))
    tflite.QuantizationParametersStart(builder)
    tflite.QuantizationParametersAddScale(builder, scale)
    tflite.QuantizationParametersAddZeroPoint(builder, zero_point)
    tflite.QuantizationParametersAddQuantizedDimension(builder, spec.quantized_dimension)
    return tflite.QuantizationParametersEnd(builder)


def _tensor(builder: flatbuffers.Builder, spec: TensorSpec, index: int, buffer: int) -> int:
    name = builder.CreateString(spec.name or f"t{index}")
    shape = _int_vector(builder, spec.shape)
    quantization = _quantization(builder, spec) if spec.scale is not None else None
    tflite.TensorStart(builder)
    tflite.TensorAddShape(builder, shape)
    tflite.TensorAddType(builder, _TENSOR_TYPES[np.dtype(spec.dtype)])
    tflite.TensorAddBuffer(builder, buffer)
    tflite.TensorAddName(builder, name)
    if quantization is not None:
        tflite.TensorAddQuantization(builder, quantization)
    return tflite.TensorEnd(builder)


def _buffer(builder: flatbuffers.Builder, data: np.ndarray | None) -> int:
    payload = None
    if data is not None:
        raw = np.ascontiguousarray(data).tobytes()
        builder.StartVector(1, len(raw), 16)
        builder.head -= len(raw)
        builder.Bytes[builder.head : builder.head + len(raw)] = raw
        payload = builder.EndVector()
    tflite.BufferStart(builder)
    if payload is not None:
        tflite.BufferAddData(builder, payload)
    return tflite.BufferEnd(builder)


def _offset_vector(builder: flatbuffers.Builder, offsets: Sequence[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _options(builder: flatbuffers.Builder, table: str, fields: dict[str, float]) -> int:
    """Serialise an options table through ``tflite.<table>Start/Add<Field>/End``."""
    getattr(tflite, f"{table}Start")(builder)
    for field, value in fields.items():
        getattr(tflite, f"{table}Add{field}")(builder, value)
    return getattr(tflite, f"{table}End")(builder)


def build_model(
    operator: str,
    tensors: Sequence[TensorSpec],
    inputs: Sequence[int],
    outputs: Sequence[int],
    options: str | None = None,
    **fields: float,
) -> bytes:
    """Serialise a model holding one ``operator`` (a BuiltinOperator name).

    ``inputs``/``outputs`` index ``tensors`` (-1 marks an absent optional
    input); the model's inputs are the operator inputs without data.
    ``options`` names the builtin options table, ``fields`` its values.
    """
    opcode = getattr(tflite.BuiltinOperator, operator)
    builder = flatbuffers.Builder(1024)
    buffers = [_buffer(builder, None)]
    tensor_offsets = []
    for index, spec in enumerate(tensors):
        buffer_index = 0
        if spec.data is not None:
            buffers.append(_buffer(builder, spec.data))
            buffer_index = len(buffers) - 1
        tensor_offsets.append(_tensor(builder, spec, index, buffer_index))
    options_offset = _options(builder, options, fields) if options else None
    op_inputs = _int_vector(builder, inputs)
    op_outputs = _int_vector(builder, outputs)
    tflite.OperatorStart(builder)
    tflite.OperatorAddOpcodeIndex(builder, 0)
    tflite.OperatorAddInputs(builder, op_inputs)
    tflite.OperatorAddOutputs(builder, op_outputs)
    if options_offset is not None:
        tflite.OperatorAddBuiltinOptionsType(builder, getattr(tflite.BuiltinOptions, options))
        tflite.OperatorAddBuiltinOptions(builder, options_offset)
    operator_offset = tflite.OperatorEnd(builder)

    graph_inputs = _int_vector(builder, [i for i in inputs if i >= 0 and tensors[i].data is None])
    graph_outputs = _int_vector(builder, outputs)
    tensor_vector = _offset_vector(builder, tensor_offsets)
    operator_vector = _offset_vector(builder, [operator_offset])
    subgraph_name = builder.CreateString("main")
    tflite.SubGraphStart(builder)
    tflite.SubGraphAddTensors(builder, tensor_vector)
    tflite.SubGraphAddInputs(builder, graph_inputs)
    tflite.SubGraphAddOutputs(builder, graph_outputs)
    tflite.SubGraphAddOperators(builder, operator_vector)
    tflite.SubGraphAddName(builder, subgraph_name)
    subgraph = tflite.SubGraphEnd(builder)

    tflite.OperatorCodeStart(builder)
    tflite.OperatorCodeAddBuiltinCode(builder, opcode)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(builder, min(opcode, 127))
    tflite.OperatorCodeAddVersion(builder, 1)
    operator_code = tflite.OperatorCodeEnd(builder)

    subgraphs = _offset_vector(builder, [subgraph])
    operator_codes = _offset_vector(builder, [operator_code])
    buffer_vector = _offset_vector(builder, buffers)
    description = builder.CreateString(f"npuc single-operator test model: {operator}")
    tflite.ModelStart(builder)
    tflite.ModelAddVersion(builder, 3)
    tflite.ModelAddOperatorCodes(builder, operator_codes)
    tflite.ModelAddSubgraphs(builder, subgraphs)
    tflite.ModelAddDescription(builder, description)
    tflite.ModelAddBuffers(builder, buffer_vector)
    builder.Finish(tflite.ModelEnd(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


OPTIMIZED_KERNEL_OPERATORS = frozenset({"SUM"})
"""Operators whose BUILTIN_REF kernel is wrong in ai_edge_litert 2.3 for int8/int16.

Its SUM reads int8 and int16 data as uint8; the default BUILTIN resolver's
kernel (the one TFLite runs in practice) is the reference for these.
"""


def reference_interpreter(model: bytes, operator: str | None = None) -> Interpreter:
    """An allocated ai_edge_litert interpreter using TFLite's reference kernels.

    For an ``operator`` of OPTIMIZED_KERNEL_OPERATORS it uses the default
    BUILTIN kernels instead.
    """
    resolver = OpResolverType.BUILTIN_REF
    if operator in OPTIMIZED_KERNEL_OPERATORS:
        resolver = OpResolverType.BUILTIN
    interpreter = Interpreter(model_content=model, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return interpreter


def run_model(model: bytes, *inputs: np.ndarray, operator: str | None = None) -> list[np.ndarray]:
    """Run a model with TFLite's reference kernels; return every output in order."""
    interpreter = reference_interpreter(model, operator)
    for detail, value in zip(interpreter.get_input_details(), inputs, strict=True):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
