"""Build single-operator TFLite flatbuffers and run them with TFLite's reference kernels.

Test helper only: it serialises one operator with its tensors via the
generated builder functions of the ``tflite`` package, then runs it with
``ai_edge_litert`` using the BUILTIN_REF op resolver so the result comes
from ``tensorflow/lite/kernels/internal/reference``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import flatbuffers
import numpy as np
import tflite
from ai_edge_litert.interpreter import Interpreter, OpResolverType

_TENSOR_TYPES = {
    np.dtype(np.float32): tflite.TensorType.FLOAT32,
    np.dtype(np.int32): tflite.TensorType.INT32,
    np.dtype(np.int8): tflite.TensorType.INT8,
}


@dataclass
class TensorSpec:
    """One tensor of the model: constant when ``data`` is given."""

    shape: Sequence[int]
    dtype: type
    scale: Sequence[float] | None = None
    zero_point: Sequence[int] | None = None
    quantized_dimension: int = 0
    data: np.ndarray | None = None


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
    name = builder.CreateString(f"t{index}")
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
        raw = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
        builder.StartVector(1, raw.size, 16)
        builder.head -= raw.size
        builder.Bytes[builder.head : builder.head + raw.size] = raw.tobytes()
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


def build_model(
    opcode: int,
    options_type: int,
    build_options: Callable[[flatbuffers.Builder], int],
    tensors: Sequence[TensorSpec],
    inputs: Sequence[int],
    outputs: Sequence[int],
) -> bytes:
    """Serialise a one-operator model; ``inputs`` index ``tensors`` (-1 = absent)."""
    builder = flatbuffers.Builder(1024)
    buffers = [_buffer(builder, None)]
    tensor_offsets = []
    for index, spec in enumerate(tensors):
        buffer_index = 0
        if spec.data is not None:
            buffers.append(_buffer(builder, spec.data))
            buffer_index = len(buffers) - 1
        tensor_offsets.append(_tensor(builder, spec, index, buffer_index))
    options = build_options(builder)
    op_inputs = _int_vector(builder, inputs)
    op_outputs = _int_vector(builder, outputs)
    tflite.OperatorStart(builder)
    tflite.OperatorAddOpcodeIndex(builder, 0)
    tflite.OperatorAddInputs(builder, op_inputs)
    tflite.OperatorAddOutputs(builder, op_outputs)
    tflite.OperatorAddBuiltinOptionsType(builder, options_type)
    tflite.OperatorAddBuiltinOptions(builder, options)
    operator = tflite.OperatorEnd(builder)

    graph_inputs = _int_vector(builder, [i for i in inputs if i >= 0 and tensors[i].data is None])
    graph_outputs = _int_vector(builder, outputs)
    tensor_vector = _offset_vector(builder, tensor_offsets)
    operator_vector = _offset_vector(builder, [operator])
    tflite.SubGraphStart(builder)
    tflite.SubGraphAddTensors(builder, tensor_vector)
    tflite.SubGraphAddInputs(builder, graph_inputs)
    tflite.SubGraphAddOutputs(builder, graph_outputs)
    tflite.SubGraphAddOperators(builder, operator_vector)
    subgraph = tflite.SubGraphEnd(builder)

    tflite.OperatorCodeStart(builder)
    tflite.OperatorCodeAddBuiltinCode(builder, opcode)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(builder, min(opcode, 127))
    tflite.OperatorCodeAddVersion(builder, 1)
    operator_code = tflite.OperatorCodeEnd(builder)

    subgraphs = _offset_vector(builder, [subgraph])
    operator_codes = _offset_vector(builder, [operator_code])
    buffer_vector = _offset_vector(builder, buffers)
    tflite.ModelStart(builder)
    tflite.ModelAddVersion(builder, 3)
    tflite.ModelAddOperatorCodes(builder, operator_codes)
    tflite.ModelAddSubgraphs(builder, subgraphs)
    tflite.ModelAddBuffers(builder, buffer_vector)
    builder.Finish(tflite.ModelEnd(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run_model(model: bytes, *inputs: np.ndarray) -> np.ndarray:
    """Run a one-operator model with TFLite's reference kernels; return output 0."""
    interpreter = Interpreter(
        model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF
    )
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def conv2d_options(stride, dilation, padding: int, activation: int) -> Callable:
    """Builder of Conv2DOptions (padding: tflite.Padding, activation: ActivationFunctionType)."""

    def build(builder: flatbuffers.Builder) -> int:
        tflite.Conv2DOptionsStart(builder)
        tflite.Conv2DOptionsAddPadding(builder, padding)
        tflite.Conv2DOptionsAddStrideH(builder, stride[0])
        tflite.Conv2DOptionsAddStrideW(builder, stride[1])
        tflite.Conv2DOptionsAddDilationHFactor(builder, dilation[0])
        tflite.Conv2DOptionsAddDilationWFactor(builder, dilation[1])
        tflite.Conv2DOptionsAddFusedActivationFunction(builder, activation)
        return tflite.Conv2DOptionsEnd(builder)

    return build


def depthwise_options(stride, dilation, padding: int, activation: int, multiplier: int) -> Callable:
    """Builder of DepthwiseConv2DOptions."""

    def build(builder: flatbuffers.Builder) -> int:
        tflite.DepthwiseConv2DOptionsStart(builder)
        tflite.DepthwiseConv2DOptionsAddPadding(builder, padding)
        tflite.DepthwiseConv2DOptionsAddStrideH(builder, stride[0])
        tflite.DepthwiseConv2DOptionsAddStrideW(builder, stride[1])
        tflite.DepthwiseConv2DOptionsAddDilationHFactor(builder, dilation[0])
        tflite.DepthwiseConv2DOptionsAddDilationWFactor(builder, dilation[1])
        tflite.DepthwiseConv2DOptionsAddDepthMultiplier(builder, multiplier)
        tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(builder, activation)
        return tflite.DepthwiseConv2DOptionsEnd(builder)

    return build


def fully_connected_options(activation: int) -> Callable:
    """Builder of FullyConnectedOptions (default weights format)."""

    def build(builder: flatbuffers.Builder) -> int:
        tflite.FullyConnectedOptionsStart(builder)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(builder, activation)
        return tflite.FullyConnectedOptionsEnd(builder)

    return build


def add_options(activation: int) -> Callable:
    """Builder of AddOptions."""

    def build(builder: flatbuffers.Builder) -> int:
        tflite.AddOptionsStart(builder)
        tflite.AddOptionsAddFusedActivationFunction(builder, activation)
        return tflite.AddOptionsEnd(builder)

    return build


def pool2d_options(kernel, stride, padding: int, activation: int) -> Callable:
    """Builder of Pool2DOptions (MAX_POOL_2D / AVERAGE_POOL_2D)."""

    def build(builder: flatbuffers.Builder) -> int:
        tflite.Pool2DOptionsStart(builder)
        tflite.Pool2DOptionsAddPadding(builder, padding)
        tflite.Pool2DOptionsAddStrideH(builder, stride[0])
        tflite.Pool2DOptionsAddStrideW(builder, stride[1])
        tflite.Pool2DOptionsAddFilterHeight(builder, kernel[0])
        tflite.Pool2DOptionsAddFilterWidth(builder, kernel[1])
        tflite.Pool2DOptionsAddFusedActivationFunction(builder, activation)
        return tflite.Pool2DOptionsEnd(builder)

    return build


def quantize_options(builder: flatbuffers.Builder) -> int:
    """Builder of the (empty) QuantizeOptions table."""
    tflite.QuantizeOptionsStart(builder)
    return tflite.QuantizeOptionsEnd(builder)
