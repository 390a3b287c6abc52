"""The `graph` dialect: framework-neutral float tensor operations.

Activations are NHWC `tensor<...xf32>`, convolution weights OHWI, depthwise
weights 1 x KH x KW x (C * M) and fully connected weights [O, K], as in TFLite
and on the NPU. Importers convert other layouts at the boundary. A function
argument or result whose model interface is NCHW carries
`graph.layout = "NCHW"` in its argument/result attributes so drivers can
convert user data.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import Float32Type, FloatAttr, StringAttr, TensorType
from xdsl.ir import Attribute, Dialect, SSAValue
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
    ConstantBase,
    Conv2dBase,
    DepthwiseConv2dBase,
    FullyConnectedBase,
    LayerOp,
    Pool2dBase,
    ReshapeBase,
    TransposeBase,
)

NAME_ATTR = "graph.name"
"""Argument/result attribute: the tensor's name in the original model."""

LAYOUT_ATTR = "graph.layout"
"""Argument/result attribute: the layout of the model's own interface."""


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


def layout_of(attributes: dict[str, Attribute] | None) -> str:
    """The interface layout recorded in an argument or result attribute dict."""
    attr = (attributes or {}).get(LAYOUT_ATTR)
    return attr.data if isinstance(attr, StringAttr) else "NHWC"


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
    ],
)
