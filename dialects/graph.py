"""The `graph` dialect: framework-neutral float tensor operations.

Activations are NHWC `tensor<...xf32>`, convolution weights OHWI, depthwise
weights 1 x KH x KW x (C * M) and fully connected weights [O, K], as in TFLite
and on the NPU. Importers convert other layouts at the boundary. A function
argument or result whose model interface is NCHW carries
`graph.layout = "NCHW"` in its argument/result attributes so drivers can
convert user data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    BaseAttr,
    VarConstraint,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
)
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.common import (
    AddBase,
    BatchMatMulBase,
    BinaryBase,
    ConstantBase,
    GeluBase,
    HardSigmoidBase,
    LayerOp,
    PReluBase,
    ReduceBase,
    ReshapeBase,
    SoftmaxBase,
    TransposeBase,
    UnaryBase,
    constant_value,
    int_array,
    keep_layer,
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
from npuc.dialects.window_layers import (
    Conv2dBase,
    DepthwiseConv2dBase,
    FullyConnectedBase,
    Pool2dBase,
    TransposeConv2dBase,
)


class FloatLayerOp(LayerOp):
    """A layer op whose tensors are all f32."""

    def verify_element_types(self) -> None:
        for value in (*self.operands, *self.results):
            assert isinstance(value.type, TensorType)
            if not isinstance(value.type.element_type, Float32Type):
                raise VerifyException(
                    f"graph ops take f32 tensors, got {value.type.element_type}"
                )


@irdl_op_definition
class ConstantOp(ConstantBase):
    """A float constant (weights, bias) held inline."""

    name = "graph.constant"


@irdl_op_definition
class Conv2dOp(FloatLayerOp, Conv2dBase):
    """2-D convolution with a fused activation."""

    name = "graph.conv2d"


@irdl_op_definition
class DepthwiseConv2dOp(FloatLayerOp, DepthwiseConv2dBase):
    """Depthwise 2-D convolution with a fused activation."""

    name = "graph.depthwise_conv2d"


@irdl_op_definition
class FullyConnectedOp(FloatLayerOp, FullyConnectedBase):
    """Fully connected layer with a fused activation."""

    name = "graph.fully_connected"


@irdl_op_definition
class AddOp(FloatLayerOp, AddBase):
    """Elementwise addition with broadcasting and a fused activation."""

    name = "graph.add"


@irdl_op_definition
class MaxPool2dOp(FloatLayerOp, Pool2dBase):
    """Max pooling; padded positions never win."""

    name = "graph.max_pool2d"


@irdl_op_definition
class AvgPool2dOp(FloatLayerOp, Pool2dBase):
    """Average pooling over the valid (unpadded) elements of each window."""

    name = "graph.avg_pool2d"


@irdl_op_definition
class ReshapeOp(FloatLayerOp, ReshapeBase):
    """Reshape (row-major element order unchanged)."""

    name = "graph.reshape"


@irdl_op_definition
class TransposeOp(FloatLayerOp, TransposeBase):
    """Axis permutation."""

    name = "graph.transpose"


@irdl_op_definition
class ReluOp(FloatLayerOp):
    """Standalone ReLU: max(x, 0). Fused into its producer by graph-fuse-activation."""

    name = "graph.relu"
    T: ClassVar = VarConstraint("T", BaseAttr(TensorType))
    input = operand_def(T)
    output = result_def(T)

    assembly_format = "$input attr-dict `:` type($output)"

    def __init__(self, input: SSAValue):
        super().__init__(operands=[input], result_types=[input.type])


@irdl_op_definition
class ClipOp(FloatLayerOp):
    """Standalone clamp to [min, max] (ONNX Clip, ReLU6)."""

    name = "graph.clip"
    T: ClassVar = VarConstraint("T", BaseAttr(TensorType))
    input = operand_def(T)
    output = result_def(T)
    min = prop_def(FloatAttr)
    max = prop_def(FloatAttr)

    assembly_format = "$input attr-dict `:` type($output)"

    def __init__(self, input: SSAValue, minimum: float, maximum: float):
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={"min": FloatAttr(minimum, 32), "max": FloatAttr(maximum, 32)},
        )

    def verify_shapes(self) -> None:
        if self.min.value.data > self.max.value.data:
            raise VerifyException("clip min must not exceed max")


@irdl_op_definition
class TransposeConv2dOp(FloatLayerOp, TransposeConv2dBase):
    """Transposed convolution (ONNX ConvTranspose) with OHWI weights."""

    name = "graph.transpose_conv2d"


@irdl_op_definition
class BatchMatMulOp(FloatLayerOp, BatchMatMulBase):
    """Matrix product of the last two axes, leading axes broadcast (ONNX MatMul)."""

    name = "graph.batch_matmul"


@irdl_op_definition
class SubOp(FloatLayerOp, BinaryBase):
    """Elementwise subtraction ifm - ifm2."""

    name = "graph.sub"


@irdl_op_definition
class MulOp(FloatLayerOp, BinaryBase):
    """Elementwise multiplication."""

    name = "graph.mul"


@irdl_op_definition
class DivOp(FloatLayerOp, BinaryBase):
    """Elementwise division ifm / ifm2."""

    name = "graph.div"


@irdl_op_definition
class MaximumOp(FloatLayerOp, BinaryBase):
    """Elementwise maximum."""

    name = "graph.maximum"


@irdl_op_definition
class MinimumOp(FloatLayerOp, BinaryBase):
    """Elementwise minimum."""

    name = "graph.minimum"


@irdl_op_definition
class PowOp(FloatLayerOp, BinaryBase):
    """Elementwise power ifm ** ifm2 (ONNX Pow; the exponent is usually constant)."""

    name = "graph.pow"


@irdl_op_definition
class PReluOp(FloatLayerOp, PReluBase):
    """Parametric ReLU with a slope tensor."""

    name = "graph.prelu"


@irdl_op_definition
class SigmoidOp(FloatLayerOp, UnaryBase):
    """1 / (1 + exp(-x))."""

    name = "graph.sigmoid"


@irdl_op_definition
class TanhOp(FloatLayerOp, UnaryBase):
    """Hyperbolic tangent."""

    name = "graph.tanh"


@irdl_op_definition
class HardSwishOp(FloatLayerOp, UnaryBase):
    """x * relu6(x + 3) / 6."""

    name = "graph.hard_swish"


@irdl_op_definition
class SqrtOp(FloatLayerOp, UnaryBase):
    """Square root."""

    name = "graph.sqrt"


@irdl_op_definition
class RsqrtOp(FloatLayerOp, UnaryBase):
    """Reciprocal square root 1 / sqrt(x) (TFLite RSQRT; a layer norm's normaliser)."""

    name = "graph.rsqrt"


@irdl_op_definition
class SquaredDifferenceOp(FloatLayerOp, BinaryBase):
    """Elementwise (ifm - ifm2)^2 (TFLite SQUARED_DIFFERENCE; a layer norm's variance terms)."""

    name = "graph.squared_difference"


class AlphaUnaryOp(FloatLayerOp, UnaryBase):
    """A unary op with one float parameter `alpha`."""

    alpha = prop_def(FloatAttr)

    def __init__(self, input: SSAValue, alpha: float):
        super().__init__(input, input.type, {"alpha": FloatAttr(alpha, 32)})


@irdl_op_definition
class LeakyReluOp(AlphaUnaryOp):
    """x where x >= 0, else alpha * x."""

    name = "graph.leaky_relu"


@irdl_op_definition
class EluOp(AlphaUnaryOp):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    name = "graph.elu"


@irdl_op_definition
class HardSigmoidOp(FloatLayerOp, HardSigmoidBase):
    """max(0, min(1, alpha * x + beta))."""

    name = "graph.hard_sigmoid"

    def __init__(self, input: SSAValue, alpha: float, beta: float):
        super().__init__(input, input.type, alpha, beta)


@irdl_op_definition
class GeluOp(FloatLayerOp, GeluBase):
    """GELU, exact (erf) or its tanh approximation (`approximate`)."""

    name = "graph.gelu"

    def __init__(self, input: SSAValue, approximate: bool = False):
        super().__init__(input, input.type, approximate)


@irdl_op_definition
class SoftmaxOp(FloatLayerOp, SoftmaxBase):
    """Softmax along one axis."""

    name = "graph.softmax"


@irdl_op_definition
class LrnOp(FloatLayerOp, UnaryBase):
    """Local response normalisation across channels (ONNX LRN on NHWC).

    y = x / (bias + alpha / size * sum of x^2 over `size` neighbouring channels) ^ beta
    """

    name = "graph.lrn"
    size = prop_def(IntegerAttr)
    alpha = prop_def(FloatAttr)
    beta = prop_def(FloatAttr)
    bias = prop_def(FloatAttr)

    def __init__(self, input: SSAValue, size: int, alpha: float, beta: float, bias: float):
        super().__init__(
            input,
            input.type,
            {
                "size": IntegerAttr(size, 64),
                "alpha": FloatAttr(alpha, 32),
                "beta": FloatAttr(beta, 32),
                "bias": FloatAttr(bias, 32),
            },
        )

    def verify_shapes(self) -> None:
        super().verify_shapes()
        if self.size.value.data < 1:
            raise VerifyException(f"size {self.size.value.data} must be at least 1")


@irdl_op_definition
class ReduceOp(FloatLayerOp, ReduceBase):
    """Mean, sum, max or min over axes."""

    name = "graph.reduce"


@irdl_op_definition
class ConcatOp(FloatLayerOp, ConcatBase):
    """Concatenation along an axis."""

    name = "graph.concat"


@irdl_op_definition
class SplitOp(FloatLayerOp, SplitBase):
    """Split along an axis into the result shapes."""

    name = "graph.split"


@irdl_op_definition
class SliceOp(FloatLayerOp, SliceBase):
    """Strided slice."""

    name = "graph.slice"


@irdl_op_definition
class PadOp(FloatLayerOp, PadBase):
    """Padding; constant mode fills with `value`."""

    name = "graph.pad"
    value = prop_def(FloatAttr)

    def __init__(
        self, input: SSAValue, output_type: Attribute, paddings: Sequence[int], mode: str, value: float = 0.0
    ):
        super().__init__(
            operands=[input],
            result_types=[output_type],
            properties={
                "paddings": int_array(paddings),
                "mode": StringAttr(mode),
                "value": FloatAttr(value, 32),
            },
        )

    def fill_value(self) -> float:
        return self.value.value.data


@irdl_op_definition
class ResizeOp(FloatLayerOp, ResizeBase):
    """Nearest or bilinear resize of height and width."""

    name = "graph.resize"


@irdl_op_definition
class DepthToSpaceOp(FloatLayerOp, DepthToSpaceBase):
    """Channels to spatial blocks."""

    name = "graph.depth_to_space"


@irdl_op_definition
class SpaceToDepthOp(FloatLayerOp, SpaceToDepthBase):
    """Spatial blocks to channels."""

    name = "graph.space_to_depth"


def defining_constant(value: SSAValue) -> ConstantOp | None:
    """The `graph.constant` that defines `value`, or None."""
    owner = value.owner
    return owner if isinstance(owner, ConstantOp) else None


def constant_array(value: SSAValue) -> np.ndarray | None:
    """The data of `value` when a `graph.constant` defines it, else None."""
    constant = defining_constant(value)
    return None if constant is None else constant_value(constant.value)


def float_constant(array: np.ndarray, like: Operation | None = None) -> ConstantOp:
    """A `graph.constant` holding `array` as f32, with the `layer` of `like` if it has one."""
    data = np.ascontiguousarray(array, dtype="<f4")
    attr = DenseIntOrFPElementsAttr(TensorType(f32, list(data.shape)), BytesAttr(data.tobytes()))
    constant = ConstantOp(attr)
    if like is not None:
        keep_layer(like, constant)
    return constant


Graph = Dialect(
    "graph",
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
        ReluOp,
        ClipOp,
        TransposeConv2dOp,
        BatchMatMulOp,
        SubOp,
        MulOp,
        DivOp,
        MaximumOp,
        MinimumOp,
        PowOp,
        PReluOp,
        SigmoidOp,
        TanhOp,
        HardSwishOp,
        SqrtOp,
        RsqrtOp,
        SquaredDifferenceOp,
        LeakyReluOp,
        EluOp,
        HardSigmoidOp,
        GeluOp,
        SoftmaxOp,
        LrnOp,
        ReduceOp,
        ConcatOp,
        SplitOp,
        SliceOp,
        PadOp,
        ResizeOp,
        DepthToSpaceOp,
        SpaceToDepthOp,
    ],
)
