"""Converters of TFLite's arithmetic operators into `quantized` ops.

Each converter reads one `TfliteOperator` through the `TfliteGraph` state,
emits quantized ops and binds the operator's outputs. A form the dialect
cannot express raises `Unsupported` with the reason; the importer collects
those and reports them all at once. Data-movement operators live in
`movement`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import tflite
from xdsl.dialects.builtin import Float32Type, TensorType
from xdsl.ir import Operation, SSAValue

from npuc.dialects import quantized
from npuc.dialects.common import BinaryBase
from npuc.dialects.quantized import quant_type
from npuc.dialects.window_layers import Conv2dBase, Pool2dBase

if TYPE_CHECKING:
    from npuc.importers.tflite.importer import TfliteGraph
    from npuc.importers.tflite.model import TfliteOperator


class Unsupported(Exception):
    """A TFLite operator form the quantized dialect cannot express; the message says why."""


class Malformed(Exception):
    """An operator no TFLite runtime accepts (missing inputs, corrupt options); the message says why."""


FUSED_ACTIVATIONS = {
    tflite.ActivationFunctionType.NONE: "none",
    tflite.ActivationFunctionType.RELU: "relu",
    tflite.ActivationFunctionType.RELU_N1_TO_1: "relu_n1_to_1",
    tflite.ActivationFunctionType.RELU6: "relu6",
}
"""TFLite fused activation codes the dialect's `activation` property expresses."""


def option(operator: TfliteOperator, getter: str, default: object = None) -> object:
    """A field of the operator's builtin options, or `default` when it has none.

    Options of another operator's kind, or a table reaching past the end of
    the file, are `Malformed`.
    """
    if operator.options is None:
        return default
    read = getattr(operator.options, getter, None)
    if read is None:
        kind = type(operator.options).__name__
        raise Malformed(f"its builtin options are {kind}, which have no {getter}")
    try:
        return read()
    except struct.error:
        raise Malformed(f"its builtin options table is corrupt (reading {getter})") from None


def int_option(operator: TfliteOperator, getter: str, default: int) -> int:
    """An integer (or enum) field of the operator's builtin options, or `default`."""
    value = option(operator, getter, default)
    assert isinstance(value, int), f"{operator.op_type} option {getter} is {value!r}"
    return value


def float_option(operator: TfliteOperator, getter: str, default: float) -> float:
    """A finite float field of the operator's builtin options, or `default`."""
    value = option(operator, getter, default)
    assert isinstance(value, float), f"{operator.op_type} option {getter} is {value!r}"
    if not math.isfinite(value):
        raise Malformed(f"option {getter} is {value}")
    return value


@dataclass(frozen=True)
class Arity:
    """How many operands an operator has in TFLite's kernels (LiteRT refuses other counts when it prepares).

    The first `required` inputs must be present (not -1); there are at most
    `most_inputs` inputs (None: any number, CONCATENATION and PACK) and
    exactly `outputs` outputs (None: as many as an option says, which the
    converter checks: SPLIT, SPLIT_V, UNPACK).
    """

    required: int = 1
    most_inputs: int | None = 1
    outputs: int | None = 1


UNARY = Arity()
"""One data input and one output: the operators `ARITIES` does not list."""


def check_arity(operator: TfliteOperator, arity: Arity) -> None:
    """Raise `Malformed` unless the operator's input and output counts are ones `arity` allows."""
    inputs = list(operator.inputs)
    present = [index >= 0 for index in inputs[: arity.required]]
    if len(present) < arity.required or not all(present):
        raise Malformed(f"inputs {inputs}: the first {arity.required} must be present")
    if arity.most_inputs is not None and len(inputs) > arity.most_inputs:
        raise Malformed(f"inputs {inputs}: {len(inputs)} inputs, TFLite takes at most {arity.most_inputs}")
    if not operator.outputs:
        raise Malformed("no outputs")
    if arity.outputs is not None and len(operator.outputs) != arity.outputs:
        raise Malformed(f"outputs {list(operator.outputs)}: {len(operator.outputs)} outputs, TFLite takes {arity.outputs}")


def fused_activation(operator: TfliteOperator) -> str:
    """The operator's fused activation as the dialect's `activation` property."""
    code = option(operator, "FusedActivationFunction", tflite.ActivationFunctionType.NONE)
    if code not in FUSED_ACTIVATIONS:
        names = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
        raise Unsupported(f"fused activation {names.get(code, code)} is not supported")
    return FUSED_ACTIVATIONS[code]


DATA_INPUT = {"SPLIT": 1, "TRANSPOSE_CONV": 2}
"""Operators whose data (feature map) input is not input 0."""


def data_input(operator: TfliteOperator) -> int:
    """The tensor index of the operator's data (feature map) input."""
    return operator.inputs[DATA_INPUT.get(operator.op_type, 0)]


def input_index(operator: TfliteOperator, position: int) -> int:
    """The tensor index of input `position`, or -1 when the input is absent."""
    return operator.inputs[position] if position < len(operator.inputs) else -1


def is_integer_form(graph: TfliteGraph, operator: TfliteOperator) -> bool:
    """Whether the operator works on quantized integers (else it stays external).

    QUANTIZE takes float or integers to integers, DEQUANTIZE per-tensor
    integers to float32; every other operator needs per-tensor quantized
    results and data input.
    """
    position = DATA_INPUT.get(operator.op_type, 0)
    if input_index(operator, position) < 0:
        return False
    first = graph.tensor(operator.inputs[position])
    outputs = [graph.tensor(index) for index in operator.outputs]
    if operator.op_type == "DEQUANTIZE":
        return first.is_per_tensor and outputs[0].type_code == tflite.TensorType.FLOAT32
    if not all(tensor.is_per_tensor for tensor in outputs):
        return False
    if operator.op_type == "QUANTIZE" and first.type_code == tflite.TensorType.FLOAT32:
        return True
    return first.is_per_tensor


def window_padding(
    padding: int,
    ifm_hw: Sequence[int],
    kernel_hw: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int] = (1, 1),
) -> list[int]:
    """[top, left, bottom, right] of TFLite SAME/VALID padding (ComputePaddingWithOffset).

    SAME pads `total = max((out - 1) * stride + dilated_kernel - in, 0)` with
    `total // 2` before; VALID pads nothing.
    """
    if padding == tflite.Padding.VALID:
        return [0, 0, 0, 0]
    if padding != tflite.Padding.SAME:
        raise Malformed(f"padding {padding} is neither SAME nor VALID")
    before, after = [], []
    for size, kernel, stride, dilation in zip(ifm_hw, kernel_hw, strides, dilations):
        out = (size + stride - 1) // stride
        total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    return [before[0], before[1], after[0], after[1]]


def _pair(
    operator: TfliteOperator, prefix: str, suffixes: tuple[str, str] = ("H", "W")
) -> tuple[int, int]:
    """A (height, width) option pair such as StrideH/StrideW; both must be positive."""
    pair = (int_option(operator, prefix + suffixes[0], 1), int_option(operator, prefix + suffixes[1], 1))
    if min(pair) < 1:
        raise Unsupported(f"{prefix.lower()} {list(pair)} (must be positive)")
    return pair


def _dilations(operator: TfliteOperator) -> tuple[int, int]:
    return _pair(operator, "Dilation", ("HFactor", "WFactor"))


def _constant_weights(graph: TfliteGraph, index: int) -> SSAValue:
    tensor = graph.tensor(index)
    if tensor.data is None:
        raise Unsupported("weights must be a constant")
    if tensor.type_code != tflite.TensorType.INT8 or not tensor.is_quantized:
        raise Unsupported(f"weights of type {tensor.type_name} (npuc needs quantized int8)")
    return graph.value(index)


def _bias(graph: TfliteGraph, operator: TfliteOperator, position: int, channels: int) -> SSAValue:
    """The bias input, or a zero bias (i32; i64 for 16-bit activations) when absent."""
    index = input_index(operator, position)
    if index >= 0:
        if graph.tensor(index).data is None:
            raise Unsupported("bias must be a constant")
        return graph.value(index)
    ifm = quant_type(graph.ir_type(operator.inputs[0]))
    dtype = np.int64 if ifm is not None and ifm.bits == 16 else np.int32
    element = quantized.storage_of(64 if dtype is np.int64 else 32)
    return graph.emit_constant(np.zeros(channels, dtype), TensorType(element, [channels]))


def _bind_result(graph: TfliteGraph, operator: TfliteOperator, op) -> None:
    graph.emit(op)
    graph.bind(operator.outputs[0], op.results[0])


def convert_conv2d(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """CONV_2D -> quantized.conv2d (SAME/VALID padding made explicit).

    A filter whose depth divides the ifm's into G > 1 parts makes a grouped
    convolution (LiteRT's kernels group it so): `groups` G, as the ONNX
    importer gives a Conv with `group` G.
    """
    weights_shape = graph.tensor(operator.inputs[1]).shape
    ifm_shape = graph.tensor(operator.inputs[0]).shape
    if len(ifm_shape) != 4 or len(weights_shape) != 4:
        raise Unsupported(f"CONV_2D of a {len(ifm_shape)}-D ifm and {len(weights_shape)}-D weights (both must be 4-D)")
    if weights_shape[3] < 1 or ifm_shape[3] % weights_shape[3] or weights_shape[0] % (ifm_shape[3] // weights_shape[3]):
        raise Malformed(
            f"filter depth {weights_shape[3]} does not divide the ifm depth {ifm_shape[3]} into groups "
            f"of the {weights_shape[0]} output channels"
        )
    _convolution(graph, operator, quantized.Conv2dOp, weights_shape[0], ifm_shape[3] // weights_shape[3])


def convert_depthwise_conv2d(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """DEPTHWISE_CONV_2D -> quantized.depthwise_conv2d (multiplier from the weights)."""
    _convolution(graph, operator, quantized.DepthwiseConv2dOp, graph.tensor(operator.inputs[1]).shape[3])


def _convolution(
    graph: TfliteGraph, operator: TfliteOperator, op_class: type[Conv2dBase], channels: int, groups: int = 1
) -> None:
    """A conv-like op over inputs (ifm, weights, optional bias) with its window options."""
    ifm, weights_index = operator.inputs[0], operator.inputs[1]
    weights = _constant_weights(graph, weights_index)
    strides, dilations = _pair(operator, "Stride"), _dilations(operator)
    padding = window_padding(
        int_option(operator, "Padding", tflite.Padding.VALID), graph.tensor(ifm).shape[1:3],
        graph.tensor(weights_index).shape[1:3], strides, dilations,
    )  # fmt: skip
    op = op_class(
        graph.value(ifm), weights, _bias(graph, operator, 2, channels),
        graph.ir_type(operator.outputs[0]), strides, dilations, padding, fused_activation(operator), groups,
    )  # fmt: skip
    _bind_result(graph, operator, op)


def convert_fully_connected(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """FULLY_CONNECTED -> quantized.fully_connected on [N, K], reshaping around it.

    TFLite flattens the input to [size / K, K]; the result is reshaped to the
    output tensor's shape (keep_num_dims keeps the input's leading axes).
    """
    if option(operator, "WeightsFormat", tflite.FullyConnectedOptionsWeightsFormat.DEFAULT):
        raise Unsupported("shuffled weights format")
    ifm_index, weights_index = operator.inputs[0], operator.inputs[1]
    weights = _constant_weights(graph, weights_index)
    outputs, depth = graph.tensor(weights_index).shape
    ifm_size = int(np.prod(graph.tensor(ifm_index).shape))
    if ifm_size % depth:
        raise Unsupported(f"input of {ifm_size} elements does not flatten to rows of {depth}")
    ifm = reshape(graph, graph.value(ifm_index), (ifm_size // depth, depth))
    ofm_type = graph.ir_type(operator.outputs[0])
    matrix_type = TensorType(ofm_type.element_type, [ifm_size // depth, outputs])
    op = quantized.FullyConnectedOp(
        ifm, weights, _bias(graph, operator, 2, outputs), matrix_type, fused_activation(operator)
    )
    graph.emit(op)
    graph.bind(operator.outputs[0], reshape(graph, op.ofm, ofm_type.get_shape()))


def reshape(graph: TfliteGraph, value: SSAValue, shape: Sequence[int]) -> SSAValue:
    """`quantized.reshape` of `value` to `shape`, or `value` itself when it has that shape."""
    assert isinstance(value.type, TensorType)
    if tuple(value.type.get_shape()) == tuple(shape):
        return value
    op = quantized.ReshapeOp(value, TensorType(value.type.element_type, list(shape)))
    return graph.emit(op).results[0]


def convert_transpose_conv(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """TRANSPOSE_CONV -> quantized.transpose_conv2d.

    TFLite places input pixel i at output row `i * stride - pad_top` with
    `pad_top` the SAME padding of the *output* size; rows past the declared
    output are cropped at the bottom/right, and a declared output larger than
    the full result becomes `output_padding`.
    """
    weights_index, ifm_index = operator.inputs[1], operator.inputs[2]
    weights = _constant_weights(graph, weights_index)
    weights_shape = graph.tensor(weights_index).shape
    ifm_shape = graph.tensor(ifm_index).shape
    ofm_type = graph.ir_type(operator.outputs[0])
    ofm_shape = ofm_type.get_shape()
    strides = _pair(operator, "Stride")
    pad = window_padding(
        int_option(operator, "Padding", tflite.Padding.VALID), ofm_shape[1:3], weights_shape[1:3], strides
    )
    crop, extra = [pad[0], pad[1], 0, 0], [0, 0]
    for axis in (0, 1):
        full = (ifm_shape[1 + axis] - 1) * strides[axis] + weights_shape[1 + axis]
        remainder = full - pad[axis] - ofm_shape[1 + axis]
        crop[2 + axis], extra[axis] = max(remainder, 0), max(-remainder, 0)
    op = quantized.TransposeConv2dOp(
        graph.value(ifm_index), weights, _bias(graph, operator, 3, weights_shape[0]), ofm_type,
        strides, (1, 1), crop, extra, fused_activation(operator),
    )  # fmt: skip
    _bind_result(graph, operator, op)


def _binary(op_class: type[BinaryBase], with_activation: bool) -> Callable[[TfliteGraph, TfliteOperator], None]:
    def convert(graph: TfliteGraph, operator: TfliteOperator) -> None:
        activation = fused_activation(operator) if with_activation else "none"
        if operator.op_type in ("ADD", "SUB"):
            _check_int16_scaling(graph, operator)
        first, second = (graph.value(index) for index in operator.inputs[:2])
        op = op_class(first, second, graph.ir_type(operator.outputs[0]), activation)
        _bind_result(graph, operator, op)

    convert.__doc__ = f"{op_class.name} with numpy broadcasting."
    return convert


def _check_int16_scaling(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """TFLite's power-of-two int16 ADD/SUB path rounds differently from the general one."""
    tensors = [graph.tensor(i) for i in (*operator.inputs[:2], operator.outputs[0])]
    if tensors[2].type_code != tflite.TensorType.INT16 or not option(operator, "PotScaleInt16", True):
        return
    if all(np.log2(float(t.scales[0])).is_integer() for t in tensors):
        raise Unsupported("int16 power-of-two scaling (pot_scale_int16) is not supported")


def _pool(op_class: type[Pool2dBase]) -> Callable[[TfliteGraph, TfliteOperator], None]:
    def convert(graph: TfliteGraph, operator: TfliteOperator) -> None:
        kernel = _pair(operator, "Filter", ("Height", "Width"))
        strides = _pair(operator, "Stride")
        ifm = operator.inputs[0]
        padding = window_padding(
            int_option(operator, "Padding", tflite.Padding.VALID), graph.tensor(ifm).shape[1:3], kernel, strides
        )
        require_same_quantization(graph, operator)
        op = op_class(
            graph.value(ifm), graph.ir_type(operator.outputs[0]), kernel, strides, padding,
            fused_activation(operator),
        )  # fmt: skip
        _bind_result(graph, operator, op)

    convert.__doc__ = f"{op_class.name} with explicit padding."
    return convert


def require_same_quantization(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """Ops that copy stored values need the output's parameters to be the input's."""
    source = graph.ir_type(data_input(operator)).element_type
    for index in operator.outputs:
        if graph.ir_type(index).element_type != source:
            raise Unsupported("output quantization differs from the input's")


def _reduce(kind: str) -> Callable[[TfliteGraph, TfliteOperator], None]:
    def convert(graph: TfliteGraph, operator: TfliteOperator) -> None:
        rank = len(graph.tensor(operator.inputs[0]).shape)
        axes = graph.require_constant(operator.inputs[1], "reduction axes").reshape(-1)
        normalised = sorted({int(a) % rank for a in axes if -rank <= int(a) < rank})
        if not normalised or len(normalised) != len({int(a) for a in axes}):
            raise Unsupported(f"reduction axes {axes.tolist()} for a rank-{rank} input")
        op = quantized.ReduceOp(
            graph.value(operator.inputs[0]), graph.ir_type(operator.outputs[0]), kind, normalised
        )
        _bind_result(graph, operator, op)

    convert.__doc__ = f"{kind} over constant axes -> quantized.reduce."
    return convert


def _unary(build: Callable[[SSAValue, TensorType, TfliteOperator], object]):
    def convert(graph: TfliteGraph, operator: TfliteOperator) -> None:
        op = build(graph.value(operator.inputs[0]), graph.ir_type(operator.outputs[0]), operator)
        _bind_result(graph, operator, op)

    return convert


def convert_batch_matmul(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """BATCH_MATMUL of two tensors without adjoints -> quantized.batch_matmul."""
    if int_option(operator, "AdjX", 0) or int_option(operator, "AdjY", 0):
        raise Unsupported("adjoint (transposed) operands are not supported")
    lhs, rhs = (graph.value(index) for index in operator.inputs[:2])
    _bind_result(graph, operator, quantized.BatchMatMulOp(lhs, rhs, graph.ir_type(operator.outputs[0])))


def convert_prelu(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """PRELU -> quantized.prelu; the slope keeps its own quantization."""
    source, slope = (graph.value(index) for index in operator.inputs[:2])
    _bind_result(graph, operator, quantized.PReluOp(source, slope, graph.ir_type(operator.outputs[0])))


def convert_quantize(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """QUANTIZE: float -> quantized.quantize; integers -> quantized.requantize."""
    source = graph.value(operator.inputs[0])
    result_type = graph.ir_type(operator.outputs[0])
    assert isinstance(source.type, TensorType)
    op: Operation
    if isinstance(source.type.element_type, Float32Type):
        op = quantized.QuantizeOp(source, result_type)
    else:
        op = quantized.RequantizeOp(source, result_type)
    _bind_result(graph, operator, op)


def convert_dequantize(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """DEQUANTIZE of per-tensor integers -> quantized.dequantize."""
    _bind_result(graph, operator, quantized.DequantizeOp(graph.value(operator.inputs[0])))


def _relu(kind: str):
    return _unary(lambda source, result, _: quantized.ReluOp(source, result, kind))


CONVERTERS = {
    "CONV_2D": convert_conv2d,
    "DEPTHWISE_CONV_2D": convert_depthwise_conv2d,
    "FULLY_CONNECTED": convert_fully_connected,
    "TRANSPOSE_CONV": convert_transpose_conv,
    "ADD": _binary(quantized.AddOp, with_activation=True),
    "SUB": _binary(quantized.SubOp, with_activation=True),
    "MUL": _binary(quantized.MulOp, with_activation=True),
    "DIV": _binary(quantized.DivOp, with_activation=True),
    "SQUARED_DIFFERENCE": _binary(quantized.SquaredDifferenceOp, with_activation=False),
    "BATCH_MATMUL": convert_batch_matmul,
    "MAXIMUM": _binary(quantized.MaximumOp, with_activation=False),
    "MINIMUM": _binary(quantized.MinimumOp, with_activation=False),
    "AVERAGE_POOL_2D": _pool(quantized.AvgPool2dOp),
    "MAX_POOL_2D": _pool(quantized.MaxPool2dOp),
    "MEAN": _reduce("mean"),
    "SUM": _reduce("sum"),
    "REDUCE_MAX": _reduce("max"),
    "REDUCE_MIN": _reduce("min"),
    "SOFTMAX": _unary(
        lambda source, result, operator: quantized.SoftmaxOp(
            source, result, len(result.get_shape()) - 1, float_option(operator, "Beta", 1.0)
        )
    ),
    "LOGISTIC": _unary(lambda source, result, _: quantized.LogisticOp(source, result)),
    "TANH": _unary(lambda source, result, _: quantized.TanhOp(source, result)),
    "RSQRT": _unary(lambda source, result, _: quantized.RsqrtOp(source, result)),
    "HARD_SWISH": _unary(lambda source, result, _: quantized.HardSwishOp(source, result)),
    "LEAKY_RELU": _unary(
        lambda source, result, operator: quantized.LeakyReluOp(
            source, result, float_option(operator, "Alpha", 0.2)
        )
    ),
    "GELU": _unary(
        lambda source, result, operator: quantized.GeluOp(source, result, bool(option(operator, "Approximate", False)))
    ),
    "RELU": _relu("relu"),
    "RELU6": _relu("relu6"),
    "RELU_N1_TO_1": _relu("relu_n1_to_1"),
    "RELU_0_TO_1": _relu("relu_0_to_1"),
    "PRELU": convert_prelu,
    "QUANTIZE": convert_quantize,
    "DEQUANTIZE": convert_dequantize,
}
"""TFLite builtin name -> converter of the arithmetic operators."""

ARITIES = {
    # LiteRT's CONV_2D needs its bias ("optimized versions require 'bias'"); the others' is optional
    "CONV_2D": Arity(required=3, most_inputs=3),
    **dict.fromkeys(("DEPTHWISE_CONV_2D", "FULLY_CONNECTED"), Arity(required=2, most_inputs=3)),
    "TRANSPOSE_CONV": Arity(required=3, most_inputs=4),
    **dict.fromkeys(
        ("ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "PRELU", "SQUARED_DIFFERENCE", "BATCH_MATMUL"),
        Arity(required=2, most_inputs=2),
    ),
    **dict.fromkeys(("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN"), Arity(required=2, most_inputs=2)),
}
"""Operand counts of the arithmetic operators with more than one input (`UNARY` when not listed)."""
