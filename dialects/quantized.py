"""The `quantized` dialect: integer layer ops with TFLite's integer semantics.

Quantization parameters live in the element type (`npuc.dialects.quantized_type`),
MLIR `quant.uniform` style:

    !quantized.uniform<i8:f32, 0.0235:-128>             per tensor (scale:zero point)
    !quantized.uniform<i8:f32:0, {0.01:0, 0.02:0}>      per axis (axis 0 here)

A real value is `scale * (q - zero_point)`. Activations are per-tensor
(asymmetric int8 or symmetric int16), weights symmetric (zero point 0) per
tensor or per output channel (axis 0 of OHWI / [O, K]; axis 3 for depthwise
weights), and biases plain `i32` tensors whose implied scale is
`ifm_scale * weight_scale`. Rescale multipliers and shifts are derived from the
scales when needed (see `npuc.reference.fixed_point`), never stored twice, unless
a conv-like op carries an explicit `rescale` (see `QuantizedConvLike`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    DenseArrayBase,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
    i8,
    i32,
)
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.common import (
    AddBase,
    BatchMatMulBase,
    BinaryBase,
    ConstantBase,
    GeluBase,
    HardSigmoidBase,
    LayerOpBase,
    PReluBase,
    ReduceBase,
    ReshapeBase,
    SoftmaxBase,
    TransposeBase,
    UnaryBase,
    dense,
    int_array,
    keep_layer,
    tensor_shape,
)
from npuc.dialects.movement import (
    ConcatBase,
    DepthToSpaceBase,
    PadBase,
    ResizeBase,
    SliceBase,
    SpaceToDepthBase,
    SplitBase,
)
from npuc.dialects.quantized_layers import (
    AllSameQuantizationLayerOp,
    PerTensorLayerOp,
    QuantizedConvLike,
    SameQuantizationLayerOp,
    check_same_storage,
    per_tensor,
)
from npuc.dialects.quantized_type import UniformQuantizedType, quant_type
from npuc.dialects.window_layers import (
    Conv2dBase,
    DepthwiseConv2dBase,
    FullyConnectedBase,
    Pool2dBase,
    TransposeConv2dBase,
)


@irdl_op_definition
class ConstantOp(ConstantBase):
    """Quantized constant: stored integers in `value`, the quantized type as result."""

    name = "quantized.constant"

    def verify_(self) -> None:
        super().verify_()
        output_type = self.output.type
        assert isinstance(output_type, TensorType)
        qtype = quant_type(output_type)
        storage = qtype.storage_type if qtype is not None else output_type.element_type
        if self.value.type.element_type != storage:
            raise VerifyException(
                f"constant data is {self.value.type.element_type}, storage type is {storage}"
            )
        if qtype is not None and qtype.is_per_axis:
            extent = output_type.get_shape()[qtype.axis.data]
            if len(qtype.scales.data) != extent:
                raise VerifyException(
                    f"per-axis type has {len(qtype.scales.data)} scales for an axis of {extent}"
                )


@irdl_op_definition
class Conv2dOp(QuantizedConvLike, Conv2dBase):
    """Integer 2-D convolution (TFLite CONV_2D)."""

    name = "quantized.conv2d"


@irdl_op_definition
class DepthwiseConv2dOp(QuantizedConvLike, DepthwiseConv2dBase):
    """Integer depthwise convolution (TFLite DEPTHWISE_CONV_2D)."""

    name = "quantized.depthwise_conv2d"
    WEIGHT_AXIS: ClassVar[int] = 3


@irdl_op_definition
class FullyConnectedOp(QuantizedConvLike, FullyConnectedBase):
    """Integer fully connected layer (TFLite FULLY_CONNECTED)."""

    name = "quantized.fully_connected"


@irdl_op_definition
class AddOp(PerTensorLayerOp, AddBase):
    """Integer addition with rescaling of both inputs (TFLite ADD)."""

    name = "quantized.add"


@irdl_op_definition
class MaxPool2dOp(SameQuantizationLayerOp, Pool2dBase):
    """Integer max pooling (TFLite MAX_POOL_2D)."""

    name = "quantized.max_pool2d"


@irdl_op_definition
class AvgPool2dOp(SameQuantizationLayerOp, Pool2dBase):
    """Integer average pooling with TFLite's rounding (AVERAGE_POOL_2D)."""

    name = "quantized.avg_pool2d"


@irdl_op_definition
class ReshapeOp(SameQuantizationLayerOp, ReshapeBase):
    """Reshape of quantized data."""

    name = "quantized.reshape"


@irdl_op_definition
class TransposeOp(SameQuantizationLayerOp, TransposeBase):
    """Axis permutation of quantized data."""

    name = "quantized.transpose"


@irdl_op_definition
class QuantizeOp(IRDLOperation):
    """Float to integer at a model boundary (TFLite QUANTIZE from float)."""

    name = "quantized.quantize"
    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())
    input = operand_def(TensorType)
    output = result_def(TensorType)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, output_type: Attribute):
        super().__init__(operands=[input], result_types=[output_type])

    def verify_(self) -> None:
        source = self.input.type
        assert isinstance(source, TensorType)
        if not isinstance(source.element_type, Float32Type):
            raise VerifyException("quantize input must be f32")
        per_tensor(self.output, "quantize result")
        if tensor_shape(self.input, "input") != tensor_shape(self.output, "output"):
            raise VerifyException("quantize must not change the shape")


@irdl_op_definition
class DequantizeOp(IRDLOperation):
    """Integer to float at a model boundary (TFLite DEQUANTIZE)."""

    name = "quantized.dequantize"
    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())
    input = operand_def(TensorType)
    output = result_def(TensorType)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue):
        source = input.type
        assert isinstance(source, TensorType)
        super().__init__(
            operands=[input], result_types=[TensorType(f32, source.get_shape())]
        )

    def verify_(self) -> None:
        per_tensor(self.input, "dequantize input")
        target = self.output.type
        assert isinstance(target, TensorType)
        if not isinstance(target.element_type, Float32Type):
            raise VerifyException("dequantize result must be f32")
        if tensor_shape(self.input, "input") != tensor_shape(self.output, "output"):
            raise VerifyException("dequantize must not change the shape")


@irdl_op_definition
class ClampOp(SameQuantizationLayerOp):
    """Clamp stored integers to [min, max] (a standalone activation, TFLite RELU*)."""

    name = "quantized.clamp"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    min = prop_def(IntegerAttr)
    max = prop_def(IntegerAttr)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, minimum: int, maximum: int):
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={"min": IntegerAttr(minimum, 64), "max": IntegerAttr(maximum, 64)},
        )

    def verify_shapes(self) -> None:
        if self.min.value.data > self.max.value.data:
            raise VerifyException("clamp min must not exceed max")


@irdl_op_definition
class TransposeConv2dOp(QuantizedConvLike, TransposeConv2dBase):
    """Integer transposed convolution (TFLite TRANSPOSE_CONV)."""

    name = "quantized.transpose_conv2d"


@irdl_op_definition
class SubOp(PerTensorLayerOp, BinaryBase):
    """Integer subtraction with rescaling (TFLite SUB)."""

    name = "quantized.sub"


@irdl_op_definition
class MulOp(PerTensorLayerOp, BinaryBase):
    """Integer multiplication with rescaling (TFLite MUL)."""

    name = "quantized.mul"


@irdl_op_definition
class DivOp(PerTensorLayerOp, BinaryBase):
    """Integer division with rescaling (TFLite DIV): by a computed tensor (a constant becomes a mul)."""

    name = "quantized.div"


@irdl_op_definition
class SquaredDifferenceOp(PerTensorLayerOp, BinaryBase):
    """Integer (ifm - ifm2)^2 with rescaling (TFLite SQUARED_DIFFERENCE, int8)."""

    name = "quantized.squared_difference"


@irdl_op_definition
class BatchMatMulOp(PerTensorLayerOp, BatchMatMulBase):
    """Integer matrix product of two computed tensors with rescaling (TFLite BATCH_MATMUL)."""

    name = "quantized.batch_matmul"


@irdl_op_definition
class MaximumOp(AllSameQuantizationLayerOp, BinaryBase):
    """Elementwise maximum of stored values (TFLite MAXIMUM)."""

    name = "quantized.maximum"


@irdl_op_definition
class MinimumOp(AllSameQuantizationLayerOp, BinaryBase):
    """Elementwise minimum of stored values (TFLite MINIMUM)."""

    name = "quantized.minimum"


@irdl_op_definition
class PReluOp(PReluBase):
    """Integer parametric ReLU (TFLite PRELU); the slope has its own quantization."""

    name = "quantized.prelu"

    def verify_element_types(self) -> None:
        source = per_tensor(self.input, "input")
        check_same_storage(source, per_tensor(self.output, "output"))
        if quant_type(self.slope) is None:
            raise VerifyException("slope must have a !quantized.uniform element type")


@irdl_op_definition
class LogisticOp(PerTensorLayerOp, UnaryBase):
    """Integer sigmoid (TFLite LOGISTIC)."""

    name = "quantized.logistic"


@irdl_op_definition
class RsqrtOp(PerTensorLayerOp, UnaryBase):
    """Integer reciprocal square root (TFLite RSQRT, int8)."""

    name = "quantized.rsqrt"


@irdl_op_definition
class TanhOp(PerTensorLayerOp, UnaryBase):
    """Integer hyperbolic tangent (TFLite TANH)."""

    name = "quantized.tanh"


@irdl_op_definition
class HardSwishOp(PerTensorLayerOp, UnaryBase):
    """Integer hard swish (TFLite HARD_SWISH)."""

    name = "quantized.hard_swish"


@irdl_op_definition
class LeakyReluOp(PerTensorLayerOp, UnaryBase):
    """Integer leaky ReLU (TFLite LEAKY_RELU)."""

    name = "quantized.leaky_relu"
    alpha = prop_def(FloatAttr)

    def __init__(self, input: SSAValue, output_type: Attribute, alpha: float):
        super().__init__(input, output_type, {"alpha": FloatAttr(alpha, 32)})


@irdl_op_definition
class HardSigmoidOp(PerTensorLayerOp, HardSigmoidBase):
    """Integer hard sigmoid. TFLite has no such builtin: int8 is a 256-entry table filled
    from the float function as TFLite fills its int8 LOGISTIC and GELU tables
    (`npuc.reference.int_activations.hard_sigmoid`)."""

    name = "quantized.hard_sigmoid"


@irdl_op_definition
class GeluOp(PerTensorLayerOp, GeluBase):
    """Integer GELU (TFLite GELU: int8 through a table filled from the float function)."""

    name = "quantized.gelu"


RELU_KINDS = ("relu", "relu6", "relu_n1_to_1", "relu_0_to_1")


@irdl_op_definition
class ReluOp(PerTensorLayerOp, UnaryBase):
    """Requantize then clamp to a ReLU range (TFLite RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1)."""

    name = "quantized.relu"
    kind = prop_def(StringAttr)

    def __init__(self, input: SSAValue, output_type: Attribute, kind: str):
        super().__init__(input, output_type, {"kind": StringAttr(kind)})

    def verify_shapes(self) -> None:
        super().verify_shapes()
        if self.kind.data not in RELU_KINDS:
            raise VerifyException(f"'kind' must be one of {', '.join(RELU_KINDS)}")


@irdl_op_definition
class SoftmaxOp(PerTensorLayerOp, SoftmaxBase):
    """Integer softmax along the last axis (TFLite SOFTMAX)."""

    name = "quantized.softmax"


@irdl_op_definition
class RequantizeOp(UnaryBase):
    """Integer to integer with new parameters or storage (TFLite QUANTIZE of integers)."""

    name = "quantized.requantize"

    def verify_element_types(self) -> None:
        per_tensor(self.input, "input")
        per_tensor(self.output, "output")


@irdl_op_definition
class ReduceOp(PerTensorLayerOp, ReduceBase):
    """Integer mean or sum over axes with rescaling (TFLite MEAN, SUM)."""

    name = "quantized.reduce"


@irdl_op_definition
class ConcatOp(PerTensorLayerOp, ConcatBase):
    """Concatenation; inputs are rescaled to the output's parameters (TFLite CONCATENATION)."""

    name = "quantized.concat"


@irdl_op_definition
class SplitOp(SameQuantizationLayerOp, SplitBase):
    """Split along an axis (TFLite SPLIT, SPLIT_V, UNPACK)."""

    name = "quantized.split"


@irdl_op_definition
class SliceOp(SameQuantizationLayerOp, SliceBase):
    """Strided slice (TFLite SLICE, STRIDED_SLICE)."""

    name = "quantized.slice"


@irdl_op_definition
class PadOp(SameQuantizationLayerOp, PadBase):
    """Padding; constant mode fills with the stored value `value` (TFLite PAD, PADV2)."""

    name = "quantized.pad"
    value = prop_def(IntegerAttr)

    def __init__(
        self, input: SSAValue, output_type: Attribute, paddings: Sequence[int], mode: str, value: int
    ):
        super().__init__(
            operands=[input],
            result_types=[output_type],
            properties={
                "paddings": int_array(paddings),
                "mode": StringAttr(mode),
                "value": IntegerAttr(value, 64),
            },
        )

    def fill_value(self) -> int:
        return self.value.value.data


@irdl_op_definition
class ResizeOp(SameQuantizationLayerOp, ResizeBase):
    """Nearest or bilinear resize (TFLite RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR)."""

    name = "quantized.resize"


@irdl_op_definition
class DepthToSpaceOp(SameQuantizationLayerOp, DepthToSpaceBase):
    """Channels to spatial blocks (TFLite DEPTH_TO_SPACE)."""

    name = "quantized.depth_to_space"


@irdl_op_definition
class SpaceToDepthOp(SameQuantizationLayerOp, SpaceToDepthBase):
    """Spatial blocks to channels (TFLite SPACE_TO_DEPTH)."""

    name = "quantized.space_to_depth"


@irdl_op_definition
class ExternalOp(LayerOpBase):
    """An operator npuc does not model, kept opaque so the CPU can run it.

    A float operator inside an integer model, a TFLite builtin without a
    quantized counterpart, or a custom operator: `op_type` names the TFLite
    builtin (`GATHER`) or the custom code. Operands and results are tensors of
    any element type. There is no reference implementation; npu-legalize
    places it on the CPU, and the reports name it. Its effects are unknown, so
    it is not `Pure`: cse and dce leave it alone.
    """

    name = "quantized.external"
    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    op_type = prop_def(StringAttr)

    assembly_format = "$inputs attr-dict `:` functional-type($inputs, $outputs)"

    def __init__(
        self, inputs: Sequence[SSAValue], output_types: Sequence[Attribute], op_type: str
    ):
        super().__init__(
            operands=[list(inputs)],
            result_types=[list(output_types)],
            properties={"op_type": StringAttr(op_type)},
        )

    def verify_shapes(self) -> None:
        if not self.op_type.data:
            raise VerifyException("external op needs a non-empty 'op_type'")
        if not self.outputs:
            raise VerifyException("external op needs at least one result")


def channel_constant(value: SSAValue, data: np.ndarray, axis: int, pick: Callable[[list], list]) -> ConstantOp:
    """A constant holding `data`, the values of the constant `value` with other channels along `axis`:
    `value`'s storage and quantized type, per-axis scales and zero points along `axis` as `pick` chooses
    them from their lists (a grouped conv's rows, a channel count's what-if)."""
    constant = value.owner
    assert isinstance(constant, ConstantOp), "a constant operand"
    value_type = value.type
    assert isinstance(value_type, TensorType)
    element = value_type.element_type
    qtype = quant_type(value)
    if qtype is not None and qtype.is_per_axis and qtype.axis.data == axis:
        element = UniformQuantizedType(
            qtype.storage_type, pick([scale.data for scale in qtype.scales.data]),
            pick([zero_point.data for zero_point in qtype.zero_points.data]), axis,
        )
    storage = constant.value.type.element_type
    return ConstantOp(dense(np.ascontiguousarray(data), storage), TensorType(element, list(data.shape)))


def storage_of(bits: int) -> IntegerType:
    """The signless integer storage type of the given width."""
    return IntegerType(bits)


ROUNDING_ATTRIBUTE = "quantized.rounding"
"""Module attribute naming the arithmetic that defines the quantized ops' results."""

ONNXRUNTIME_ROUNDING = "onnxruntime"
"""`quantized.rounding` value of a QDQ ONNX import: onnxruntime's CPU arithmetic."""


def rounding_mode(module: ModuleOp) -> str:
    """The module's `quantized.rounding` ("onnxruntime"), or "tflite" when it has none."""
    rounding = module.attributes.get(ROUNDING_ATTRIBUTE)
    return rounding.data if isinstance(rounding, StringAttr) else "tflite"



def ones_depthwise(
    ifm: SSAValue, ofm_type: TensorType, kernel: tuple[int, int], rescale: tuple[int, int], like: Operation
) -> list[Operation]:
    """[weights, bias, depthwise conv] over `ifm` (NHWC) with a `kernel` of ones and `rescale`.

    A depthwise conv with weights 1, bias 0, no padding and an explicit
    `rescale` computes `MultiplyByQuantizedMultiplier(sum of (x - zp) over
    its window, multiplier, shift) + ofm zp`, clamped to the storage range:
    TFLite's MEAN over the window, or its integer QUANTIZE (requantize) with
    a 1 x 1 window. The NPU runs it like any depthwise conv, so rewrites use
    it to put those operators on the NPU, bit for bit.

    Every new op keeps the `layer` of `like`.
    """
    channels = ofm_type.get_shape()[-1]
    weights = ConstantOp(
        dense(np.ones((1, *kernel, channels), dtype=np.int8), i8),
        TensorType(UniformQuantizedType(i8, [1.0], [0]), [1, *kernel, channels]),
    )
    bias = ConstantOp(dense(np.zeros(channels, dtype=np.int32), i32))
    conv = DepthwiseConv2dOp(ifm, weights.output, bias.output, ofm_type)
    conv.properties["rescale"] = DenseArrayBase.from_list(i32, list(rescale))
    new_ops: list[Operation] = [weights, bias, conv]
    for new_op in new_ops:
        keep_layer(like, new_op)
    return new_ops


Quantized = Dialect(
    "quantized",
    [
        ConstantOp,
        Conv2dOp,
        DepthwiseConv2dOp,
        FullyConnectedOp,
        AddOp,
        MaxPool2dOp,
        AvgPool2dOp,
        ReshapeOp,
        TransposeOp,
        QuantizeOp,
        DequantizeOp,
        ClampOp,
        TransposeConv2dOp,
        SubOp,
        MulOp,
        DivOp,
        SquaredDifferenceOp,
        BatchMatMulOp,
        MaximumOp,
        MinimumOp,
        PReluOp,
        LogisticOp,
        RsqrtOp,
        TanhOp,
        HardSwishOp,
        LeakyReluOp,
        HardSigmoidOp,
        GeluOp,
        ReluOp,
        SoftmaxOp,
        RequantizeOp,
        ReduceOp,
        ConcatOp,
        SplitOp,
        SliceOp,
        PadOp,
        ResizeOp,
        DepthToSpaceOp,
        SpaceToDepthOp,
        ExternalOp,
    ],
    [UniformQuantizedType],
)
