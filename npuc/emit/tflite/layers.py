"""Exporters of the `quantized` dialect's arithmetic ops as TFLite builtin operators.

Each exporter writes one op (the inverse of `npuc.importers.tflite.ops`):
convolutions, fully connected, transposed convolution, binary elementwise
ops, pools, reductions, activations, softmax and the (re/de)quantize ops,
with their options as TFLite defines them:

- explicit padding becomes SAME or VALID when one of them pads alike
  (TFLite's `ComputePaddingWithOffset`); other padding of a convolution or
  max pool becomes a PAD (the input zero point, which adds nothing after
  subtraction) or PADV2 (the storage minimum, which no maximum picks) before
  a VALID window; an average pool, which divides by the real elements only,
  has no such form;
- biases carry TFLite's implied quantization (`ifm scale x weight scale`);
  a 16x8 op with an int32 bias says so (`quantized_bias_type`), int16 ADD
  and SUB take the general scaling path (`pot_scale_int16` false), as the
  importer requires;
- a depthwise convolution of ones with an explicit `rescale` is what
  quantized-requantize-to-depthwise and quantized-mean-to-depthwise made of
  a QUANTIZE or a MEAN: it is written back as that operator, after checking
  that the rescale is the one TFLite derives; any other explicit rescale has
  no TFLite form;
- `quantized.clamp` on stored integers is a MAXIMUM and a MINIMUM with
  scalar constants of the input's quantization.

Exporters raise `NoTfliteForm` naming the form TFLite cannot express.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tflite
from xdsl.dialects.builtin import StringAttr, TensorType, i8, i32
from xdsl.ir import Operation, SSAValue

from npuc.dialects import quantized
from npuc.dialects.common import (
    Window,
    array_values,
    constant_value,
    layer_name,
    property_of,
    value_shape,
)
from npuc.dialects.quantized import UniformQuantizedType, quant_type
from npuc.emit.tflite.flatbuffer import Options, Quantization, Tensor
from npuc.emit.tflite.graph import GraphWriter, NoTfliteForm, tensor_for
from npuc.reference.int_kernels import requantize_rescale
from npuc.reference.int_tensor_ops import mean_rescale

FUSED_ACTIVATIONS = {
    "none": tflite.ActivationFunctionType.NONE,
    "relu": tflite.ActivationFunctionType.RELU,
    "relu6": tflite.ActivationFunctionType.RELU6,
    "relu_n1_to_1": tflite.ActivationFunctionType.RELU_N1_TO_1,
}
"""The dialect's `activation` property as TFLite's fused activation."""

Exporter = Callable[[GraphWriter, Any], None]
"""Writes one op of a given class into the subgraph."""


def per_tensor(value: SSAValue) -> UniformQuantizedType:
    """The per-tensor quantized type of a verified layer operand or result."""
    qtype = quant_type(value)
    assert qtype is not None and not qtype.is_per_axis, "verified: per-tensor quantized"
    return qtype


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """(before, after) of TFLite's SAME padding along one axis: the odd element after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def padding_code(window: Window, ifm_hw: tuple[int, int]) -> int | None:
    """VALID or SAME when TFLite's padding of that kind is `window`'s; None when neither is."""
    if window.padding == (0, 0, 0, 0):
        return tflite.Padding.VALID
    (top, bottom), (left, right) = (
        same_padding(ifm_hw[axis], window.kernel[axis], window.strides[axis], window.dilations[axis])
        for axis in (0, 1)
    )
    return tflite.Padding.SAME if (top, left, bottom, right) == window.padding else None


def _windowed_input(writer: GraphWriter, op: Operation, window: Window, pad_value: int | None) -> tuple[int, int]:
    """(ifm tensor, padding code) of a window op: its IFM with SAME/VALID, else the IFM padded explicitly.

    `pad_value` is the stored value an explicit pad may fill with (None: none may).
    """
    ifm = op.operands[0]
    shape = value_shape(ifm)
    code = padding_code(window, (shape[1], shape[2]))
    if code is not None:
        return writer.tensor(ifm), code
    if pad_value is None:
        raise NoTfliteForm(f"padding {list(window.padding)} is neither SAME nor VALID")
    top, left, bottom, right = window.padding
    assert isinstance(ifm.type, TensorType)
    padded_type = TensorType(ifm.type.element_type, [shape[0], shape[1] + top + bottom, shape[2] + left + right,
                                                     shape[3]])
    padded = writer.intermediate(padded_type, f"{layer_name(op)}/padded")
    paddings = writer.parameter([[0, 0], [top, bottom], [left, right], [0, 0]], "paddings")
    if pad_value == per_tensor(ifm).zero_point:
        writer.operator("PAD", [writer.tensor(ifm), paddings], [padded])
    else:
        fill = writer.add_tensor(scalar_like(ifm, pad_value, "pad_value"))
        writer.operator("PADV2", [writer.tensor(ifm), paddings, fill], [padded])
    return padded, tflite.Padding.VALID


def scalar_like(value: SSAValue, stored: int, name: str) -> Tensor:
    """A scalar constant tensor of `value`'s quantization holding the stored integer `stored`."""
    qtype = per_tensor(value)
    data = np.asarray(stored, dtype=f"<i{qtype.bits // 8}").tobytes()
    return tensor_for(TensorType(qtype, []), name, data)


def _bias(writer: GraphWriter, op: quantized.QuantizedConvLike) -> int:
    """The bias tensor, quantized with TFLite's implied scale `ifm scale x weight scale` per channel."""
    bias = op.operands[2]
    if writer.is_bound(bias):
        return writer.tensor(bias)
    weights = quant_type(op.operands[1])
    assert weights is not None, "verified: quantized weights"
    channels = value_shape(bias)[0]
    scales = np.broadcast_to(np.float32(per_tensor(op.operands[0]).scale) * weights.scale_array().astype(np.float32),
                             (channels,))
    quantization = Quantization(tuple(float(s) for s in scales), (0,) * channels, 0)
    return writer.constant_with(bias, quantization, "bias")


def _bias_type_fields(op: quantized.QuantizedConvLike) -> dict[str, int]:
    """`QuantizedBiasType` INT32 for 16-bit activations with an int32 bias (TFLite's default there is int64)."""
    bias_type = op.operands[2].type
    assert isinstance(bias_type, TensorType)
    if per_tensor(op.operands[0]).bits == 16 and bias_type.element_type == i32:
        return {"QuantizedBiasType": tflite.TensorType.INT32}
    return {}


def _activation(op: Operation) -> int:
    """The op's `activation` property as a TFLite fused activation."""
    return FUSED_ACTIVATIONS[property_of(op, "activation", StringAttr).data]


def export_conv2d(writer: GraphWriter, op: quantized.Conv2dOp) -> None:
    """CONV_2D (a PAD before it for padding TFLite cannot name); a grouped one's filter is its [O, KH, KW, C/G]."""
    _no_explicit_rescale(op)
    window = op.window()
    ifm, padding = _windowed_input(writer, op, window, per_tensor(op.ifm).zero_point)
    fields = {
        "Padding": padding, "StrideH": window.strides[0], "StrideW": window.strides[1],
        "DilationHFactor": window.dilations[0], "DilationWFactor": window.dilations[1],
        "FusedActivationFunction": _activation(op), **_bias_type_fields(op),
    }  # fmt: skip
    inputs = [ifm, writer.tensor(op.weights), _bias(writer, op)]
    writer.operator("CONV_2D", inputs, [writer.result(op.ofm, layer_name(op))], Options("Conv2DOptions", fields))


def export_depthwise_conv2d(writer: GraphWriter, op: quantized.DepthwiseConv2dOp) -> None:
    """DEPTHWISE_CONV_2D (multiplier from the weights); with an explicit rescale, the QUANTIZE or MEAN it stands for."""
    if op.rescale is not None:
        _export_ones_depthwise(writer, op)
        return
    window = op.window()
    ifm, padding = _windowed_input(writer, op, window, per_tensor(op.ifm).zero_point)
    fields = {
        "Padding": padding, "StrideH": window.strides[0], "StrideW": window.strides[1],
        "DilationHFactor": window.dilations[0], "DilationWFactor": window.dilations[1],
        "DepthMultiplier": op.depth_multiplier(), "FusedActivationFunction": _activation(op),
    }  # fmt: skip
    inputs = [ifm, writer.tensor(op.weights), _bias(writer, op)]
    writer.operator("DEPTHWISE_CONV_2D", inputs, [writer.result(op.ofm, layer_name(op))],
                    Options("DepthwiseConv2DOptions", fields))


def export_fully_connected(writer: GraphWriter, op: quantized.FullyConnectedOp) -> None:
    """FULLY_CONNECTED on [N, K]."""
    _no_explicit_rescale(op)
    fields = {"FusedActivationFunction": _activation(op), **_bias_type_fields(op)}
    inputs = [writer.tensor(op.ifm), writer.tensor(op.weights), _bias(writer, op)]
    writer.operator("FULLY_CONNECTED", inputs, [writer.result(op.ofm, layer_name(op))],
                    Options("FullyConnectedOptions", fields))


def export_transpose_conv2d(writer: GraphWriter, op: quantized.TransposeConv2dOp) -> None:
    """TRANSPOSE_CONV: SAME or VALID, whichever crops and extends the output as the op does.

    TFLite places input pixel i at output `i * stride - pad`, with `pad` the
    padding of its kind computed on the *output* size, crops what falls past
    the output's end and leaves uncovered rows at the end empty (the op's
    `output_padding`).
    """
    _no_explicit_rescale(op)
    window = op.window()
    if window.dilations != (1, 1):
        raise NoTfliteForm("dilated transposed convolution")
    ifm_shape, ofm_shape = value_shape(op.ifm), value_shape(op.ofm)
    wanted = (window.padding, op.output_extra())
    padding = next((code for code in (tflite.Padding.VALID, tflite.Padding.SAME)
                    if _transpose_conv_window(code, ifm_shape, ofm_shape, window) == wanted), None)
    if padding is None:
        raise NoTfliteForm(f"cropping {list(window.padding)} with output padding {list(op.output_extra())} "
                           "is neither SAME nor VALID")
    fields = {"Padding": padding, "StrideH": window.strides[0], "StrideW": window.strides[1],
              "FusedActivationFunction": _activation(op)}
    inputs = [writer.parameter(ofm_shape, "output_shape"), writer.tensor(op.weights), writer.tensor(op.ifm),
              _bias(writer, op)]
    writer.operator("TRANSPOSE_CONV", inputs, [writer.result(op.ofm, layer_name(op))],
                    Options("TransposeConvOptions", fields))


def _transpose_conv_window(code: int, ifm_shape: tuple[int, ...], ofm_shape: tuple[int, ...], window: Window
                           ) -> tuple[tuple[int, int, int, int], tuple[int, int]] | None:
    """(crop [top, left, bottom, right], output padding) of a TRANSPOSE_CONV with padding `code`, or None when
    TFLite refuses the input size for that padding (its `ComputeOutSize` of the output must give it)."""
    crop, extra = [0, 0, 0, 0], [0, 0]
    for axis in (0, 1):
        kernel, stride = window.kernel[axis], window.strides[axis]
        output = ofm_shape[1 + axis]
        expected_input = (output + stride - 1 if code == tflite.Padding.SAME else output + stride - kernel) // stride
        if expected_input != ifm_shape[1 + axis]:
            return None
        before = same_padding(ofm_shape[1 + axis], kernel, stride, 1)[0] if code == tflite.Padding.SAME else 0
        remainder = (ifm_shape[1 + axis] - 1) * stride + kernel - before - ofm_shape[1 + axis]
        crop[axis], crop[2 + axis], extra[axis] = before, max(remainder, 0), max(-remainder, 0)
    return (crop[0], crop[1], crop[2], crop[3]), (extra[0], extra[1])


def _no_explicit_rescale(op: quantized.QuantizedConvLike) -> None:
    if op.rescale is not None:
        raise NoTfliteForm("an explicit rescale (TFLite derives the rescale from the scales)")


def _export_ones_depthwise(writer: GraphWriter, op: quantized.DepthwiseConv2dOp) -> None:
    """A depthwise conv of ones with an explicit rescale: the QUANTIZE (1 x 1) or MEAN (whole H x W) it computes.

    quantized-requantize-to-depthwise and quantized-mean-to-depthwise make
    these; the op is that operator when its weights are ones (scale 1), its
    bias zero, it has no padding or activation and its rescale is the one
    TFLite derives for the operator from the two scales.
    """
    ifm, ofm = per_tensor(op.ifm), per_tensor(op.ofm)
    multipliers, shifts = op.explicit_rescale() or ((), ())
    shape = value_shape(op.ifm)
    window = op.window()
    weights = op.weights.owner
    bias = op.bias.owner
    plain = (
        isinstance(weights, quantized.ConstantOp) and isinstance(bias, quantized.ConstantOp)
        and bool(np.all(constant_value(weights.value) == 1)) and not np.any(constant_value(bias.value))
        and quant_type(op.weights) == UniformQuantizedType(i8, [1.0], [0])
        and op.depth_multiplier() == 1 and window.padding == (0, 0, 0, 0) and window.dilations == (1, 1)
        and op.activation.data == "none" and len(multipliers) == 1
    )  # fmt: skip
    rescale = (multipliers[0], shifts[0]) if plain else None
    if rescale is not None and window.kernel == window.strides == (1, 1) and rescale == requantize_rescale(
        ifm.scale, ofm.scale
    ):
        writer.operator("QUANTIZE", [writer.tensor(op.ifm)], [writer.result(op.ofm, layer_name(op))])
        return
    count = shape[1] * shape[2]
    if rescale is not None and window.kernel == (shape[1], shape[2]) and rescale == mean_rescale(
        ifm.scale, ofm.scale, count
    ):
        inputs = [writer.tensor(op.ifm), writer.parameter([1, 2], "axes")]
        options = Options("ReducerOptions", {"KeepDims": True})
        writer.operator("MEAN", inputs, [writer.result(op.ofm, layer_name(op))], options)
        return
    raise NoTfliteForm("an explicit rescale that is not TFLite's QUANTIZE or MEAN")


BINARY_OPERATORS = {
    quantized.AddOp: ("ADD", "AddOptions"),
    quantized.SubOp: ("SUB", "SubOptions"),
    quantized.MulOp: ("MUL", "MulOptions"),
    quantized.DivOp: ("DIV", "DivOptions"),
    quantized.MaximumOp: ("MAXIMUM", None),
    quantized.MinimumOp: ("MINIMUM", None),
    quantized.SquaredDifferenceOp: ("SQUARED_DIFFERENCE", None),
}
"""Binary op -> (TFLite builtin, its options table; None: it has no fused activation)."""


def export_binary(writer: GraphWriter, op: quantized.AddOp | quantized.SubOp | quantized.MulOp
                  | quantized.DivOp | quantized.MaximumOp | quantized.MinimumOp
                  | quantized.SquaredDifferenceOp) -> None:
    """ADD, SUB, MUL, DIV (fused activation; int16 ADD/SUB on the general scaling path), MAXIMUM, MINIMUM,
    SQUARED_DIFFERENCE (int8)."""
    code, table = BINARY_OPERATORS[type(op)]
    options = None
    if table is not None:
        fields: dict[str, int | bool] = {"FusedActivationFunction": _activation(op)}
        if code in ("ADD", "SUB") and per_tensor(op.ofm).bits == 16:
            fields["PotScaleInt16"] = False
        options = Options(table, fields)
    elif op.activation.data != "none":
        raise NoTfliteForm(f"{code} takes no fused activation")
    check_storage(code, op.ofm)
    inputs = [writer.tensor(op.ifm), writer.tensor(op.ifm2)]
    writer.operator(code, inputs, [writer.result(op.ofm, layer_name(op))], options)


def export_batch_matmul(writer: GraphWriter, op: quantized.BatchMatMulOp) -> None:
    """BATCH_MATMUL without adjoints."""
    inputs = [writer.tensor(op.lhs), writer.tensor(op.rhs)]
    options = Options("BatchMatMulOptions", {"AdjX": False, "AdjY": False})
    writer.operator("BATCH_MATMUL", inputs, [writer.result(op.output, layer_name(op))], options)


def export_pool(writer: GraphWriter, op: quantized.MaxPool2dOp | quantized.AvgPool2dOp) -> None:
    """MAX_POOL_2D (a PADV2 of the storage minimum before it for other padding) or AVERAGE_POOL_2D."""
    window = op.window()
    is_max = isinstance(op, quantized.MaxPool2dOp)
    ifm, padding = _windowed_input(writer, op, window, per_tensor(op.ifm).qmin if is_max else None)
    fields = {
        "Padding": padding, "StrideH": window.strides[0], "StrideW": window.strides[1],
        "FilterHeight": window.kernel[0], "FilterWidth": window.kernel[1],
        "FusedActivationFunction": _activation(op),
    }  # fmt: skip
    code = "MAX_POOL_2D" if is_max else "AVERAGE_POOL_2D"
    writer.operator(code, [ifm], [writer.result(op.ofm, layer_name(op))], Options("Pool2DOptions", fields))


REDUCE_OPERATORS = {"mean": "MEAN", "sum": "SUM", "max": "REDUCE_MAX", "min": "REDUCE_MIN"}
"""`quantized.reduce` kind -> TFLite builtin."""


def export_reduce(writer: GraphWriter, op: quantized.ReduceOp) -> None:
    """MEAN, SUM, REDUCE_MAX, REDUCE_MIN over constant axes, keeping the reduced axes or not."""
    inputs = [writer.tensor(op.input), writer.parameter(array_values(op.axes), "axes")]
    writer.operator(REDUCE_OPERATORS[op.kind.data], inputs, [writer.result(op.output, layer_name(op))],
                    Options("ReducerOptions", {"KeepDims": op.keeps_dims()}))


RELU_OPERATORS = {"relu": "RELU", "relu6": "RELU6", "relu_n1_to_1": "RELU_N1_TO_1", "relu_0_to_1": "RELU_0_TO_1"}
"""`quantized.relu` kind -> TFLite builtin."""


INT8_ONLY = frozenset({
    "RELU_N1_TO_1", "RELU_0_TO_1", "HARD_SWISH", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "SQUARED_DIFFERENCE", "RSQRT",
})
"""Builtins TFLite has no int16 kernel for (it refuses the model)."""


def check_storage(code: str, value: SSAValue) -> None:
    """NoTfliteForm when `code` is int8-only in TFLite and `value` is not int8."""
    if code in INT8_ONLY and per_tensor(value).bits != 8:
        raise NoTfliteForm(f"TFLite's {code} has no int{per_tensor(value).bits} kernel")


def _unary(code: str, options: Callable[[Any], Options | None] = lambda op: None) -> Exporter:
    def export(writer: GraphWriter, op: Any) -> None:
        check_storage(code, op.input)
        writer.operator(code, [writer.tensor(op.input)], [writer.result(op.output, layer_name(op))], options(op))

    export.__doc__ = f"{code}: one input, one output."
    return export


def export_relu(writer: GraphWriter, op: quantized.ReluOp) -> None:
    """RELU, RELU6, RELU_N1_TO_1 or RELU_0_TO_1 (TFLite requantizes, then clamps)."""
    _unary(RELU_OPERATORS[op.kind.data])(writer, op)


def export_softmax(writer: GraphWriter, op: quantized.SoftmaxOp) -> None:
    """SOFTMAX with its beta, along the last axis (TFLite's only one)."""
    if op.axis.value.data != len(value_shape(op.input)) - 1:
        raise NoTfliteForm(f"softmax along axis {op.axis.value.data}, not the last")
    _unary("SOFTMAX", lambda op: Options("SoftmaxOptions", {"Beta": op.beta.value.data}))(writer, op)


def export_prelu(writer: GraphWriter, op: quantized.PReluOp) -> None:
    """PRELU; the slope keeps its own quantization."""
    inputs = [writer.tensor(op.input), writer.tensor(op.slope)]
    writer.operator("PRELU", inputs, [writer.result(op.output, layer_name(op))])


def export_clamp(writer: GraphWriter, op: quantized.ClampOp) -> None:
    """MAXIMUM with the lower bound, then MINIMUM with the upper: scalars of the input's quantization.

    Both compare stored values, so the result is the clamp of the stored
    integers whatever the scale.
    """
    low, high = op.min.value.data, op.max.value.data
    source = writer.tensor(op.input)
    output = writer.result(op.output, layer_name(op))
    floor = writer.intermediate(op.input.type, f"{layer_name(op)}/at_least_min")
    writer.operator("MAXIMUM", [source, writer.add_tensor(scalar_like(op.input, low, "min"))], [floor])
    writer.operator("MINIMUM", [floor, writer.add_tensor(scalar_like(op.input, high, "max"))], [output])


EXPORTERS: dict[type[Operation], Exporter] = {
    quantized.Conv2dOp: export_conv2d,
    quantized.DepthwiseConv2dOp: export_depthwise_conv2d,
    quantized.FullyConnectedOp: export_fully_connected,
    quantized.TransposeConv2dOp: export_transpose_conv2d,
    **{op_class: export_binary for op_class in BINARY_OPERATORS},
    quantized.MaxPool2dOp: export_pool,
    quantized.AvgPool2dOp: export_pool,
    quantized.ReduceOp: export_reduce,
    quantized.ReluOp: export_relu,
    quantized.ClampOp: export_clamp,
    quantized.SoftmaxOp: export_softmax,
    quantized.PReluOp: export_prelu,
    quantized.LogisticOp: _unary("LOGISTIC"),
    quantized.TanhOp: _unary("TANH"),
    quantized.HardSwishOp: _unary("HARD_SWISH"),
    quantized.GeluOp: _unary("GELU", lambda op: Options("GeluOptions", {"Approximate": op.is_approximate})),
    quantized.RsqrtOp: _unary("RSQRT"),
    quantized.BatchMatMulOp: export_batch_matmul,
    quantized.LeakyReluOp: _unary("LEAKY_RELU", lambda op: Options("LeakyReluOptions", {"Alpha": op.alpha.value.data})),
    quantized.QuantizeOp: _unary("QUANTIZE"),
    quantized.RequantizeOp: _unary("QUANTIZE"),
    quantized.DequantizeOp: _unary("DEQUANTIZE"),
}
"""Arithmetic op class -> its exporter."""
