"""Layer bases with weights or a window, shared by the `graph` and `quantized` dialects.

Convolution, depthwise convolution, transposed convolution, fully connected
and pooling hold their operands, window properties, shape rules and textual
format here once (the other layer bases are in `npuc.dialects.common`).
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    DenseArrayBase,
    IntegerAttr,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
)
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.common import (
    LayerOp,
    Window,
    array_values,
    check_activation,
    check_window_props,
    expect_shape,
    int_array,
    tensor_shape,
)


class WeightedLayerBase(LayerOp):
    """A layer reading an ifm, constant weights and a bias, writing one ofm, with a fused activation."""

    ifm = operand_def(TensorType)
    weights = operand_def(TensorType)
    bias = operand_def(TensorType)
    ofm = result_def(TensorType)
    activation = prop_def(StringAttr)

    assembly_format = (
        "$ifm `,` $weights `,` $bias attr-dict `:` "
        "functional-type(operands, results)"
    )


class Conv2dBase(WeightedLayerBase):
    """2-D convolution: NHWC ifm, OHWI weights, per-output-channel bias.

    With `groups` G (absent: 1) the input and output channels split into G
    groups and output group g reads input group g alone: the weights are
    [O, KH, KW, I/G], as TFLite's CONV_2D and ONNX's Conv (group > 1) hold
    them. Kept as one op until npu-legalize, where it becomes one
    convolution per group (`npuc.backend.grouped`).
    """

    strides = prop_def(DenseArrayBase)
    dilations = prop_def(DenseArrayBase)
    padding = prop_def(DenseArrayBase)
    groups = opt_prop_def(IntegerAttr)

    def __init__(
        self,
        ifm: SSAValue,
        weights: SSAValue,
        bias: SSAValue,
        ofm_type: Attribute,
        strides: Sequence[int] = (1, 1),
        dilations: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0, 0, 0),
        activation: str = "none",
        groups: int = 1,
    ):
        properties: dict[str, Attribute] = {
            "strides": int_array(strides),
            "dilations": int_array(dilations),
            "padding": int_array(padding),
            "activation": StringAttr(activation),
        }
        if groups != 1:
            properties["groups"] = IntegerAttr(groups, 64)
        super().__init__(operands=[ifm, weights, bias], result_types=[ofm_type], properties=properties)

    def group_count(self) -> int:
        """How many channel groups the convolution has (1 without `groups`)."""
        return 1 if self.groups is None else self.groups.value.data

    def window(self) -> Window:
        """The convolution's window (kernel from the weights)."""
        return Window.of(
            self.kernel_shape(),
            array_values(self.strides),
            array_values(self.dilations),
            array_values(self.padding),
        )

    def kernel_shape(self) -> tuple[int, int]:
        """Kernel (height, width)."""
        shape = tensor_shape(self.weights, "weights")
        return shape[1], shape[2]

    def expected_ofm_channels(self, ifm_channels: int, weights_shape: Sequence[int]) -> int:
        """OFM depth implied by the weights; checks the weights and groups against the ifm."""
        groups = self.group_count()
        if groups < 1:
            raise VerifyException(f"groups must be >= 1, got {groups}")
        if weights_shape[3] * groups != ifm_channels:
            in_groups = f" times {groups} groups" if groups > 1 else ""
            raise VerifyException(
                f"weights input depth {weights_shape[3]}{in_groups} does not match ifm depth {ifm_channels}"
            )
        if weights_shape[0] % groups:
            raise VerifyException(f"{groups} groups do not divide the {weights_shape[0]} output channels")
        return weights_shape[0]

    def verify_shapes(self) -> None:
        check_window_props(self, ("strides", "dilations", "padding"))
        check_activation(self)
        ifm = tensor_shape(self.ifm, "ifm")
        weights = tensor_shape(self.weights, "weights")
        bias = tensor_shape(self.bias, "bias")
        ofm = tensor_shape(self.ofm, "ofm")
        if len(ifm) != 4 or len(weights) != 4 or len(ofm) != 4:
            raise VerifyException("ifm, weights and ofm must be 4-D (NHWC, OHWI)")
        depth = self.expected_ofm_channels(ifm[3], weights)
        expect_shape("bias", bias, [depth])
        height, width = self.window().output_size(ifm[1], ifm[2])
        if height < 1 or width < 1:
            raise VerifyException("kernel is larger than the padded ifm")
        expect_shape("ofm", ofm, [ifm[0], height, width, depth])


class DepthwiseConv2dBase(Conv2dBase):
    """Depthwise 2-D convolution: weights are 1 x KH x KW x (C * depth multiplier)."""

    def depth_multiplier(self) -> int:
        """How many output channels each input channel feeds."""
        return tensor_shape(self.weights, "weights")[3] // tensor_shape(self.ifm, "ifm")[3]

    def expected_ofm_channels(self, ifm_channels: int, weights_shape: Sequence[int]) -> int:
        if self.groups is not None:
            raise VerifyException("a depthwise convolution has no groups (its depth multiplier says how it groups)")
        if weights_shape[0] != 1 or weights_shape[3] % ifm_channels != 0:
            raise VerifyException(
                f"depthwise weights must be 1xKHxKWx(C*M) with C={ifm_channels}, "
                f"got {list(weights_shape)}"
            )
        return weights_shape[3]


class FullyConnectedBase(WeightedLayerBase):
    """Fully connected layer: ifm [N, K], weights [O, K], bias [O], ofm [N, O]."""

    def __init__(
        self,
        ifm: SSAValue,
        weights: SSAValue,
        bias: SSAValue,
        ofm_type: Attribute,
        activation: str = "none",
    ):
        super().__init__(
            operands=[ifm, weights, bias],
            result_types=[ofm_type],
            properties={"activation": StringAttr(activation)},
        )

    def verify_shapes(self) -> None:
        check_activation(self)
        ifm = tensor_shape(self.ifm, "ifm")
        weights = tensor_shape(self.weights, "weights")
        bias = tensor_shape(self.bias, "bias")
        ofm = tensor_shape(self.ofm, "ofm")
        if len(ifm) != 2 or len(weights) != 2:
            raise VerifyException("fully connected ifm and weights must be 2-D")
        if weights[1] != ifm[1]:
            raise VerifyException(
                f"weights input size {weights[1]} does not match ifm size {ifm[1]}"
            )
        expect_shape("bias", bias, [weights[0]])
        expect_shape("ofm", ofm, [ifm[0], weights[0]])


class TransposeConv2dBase(WeightedLayerBase):
    """Transposed 2-D convolution (ONNX ConvTranspose, TFLite TRANSPOSE_CONV).

    Weights are OHWI; `padding` crops [top, left, bottom, right] from the full
    output and `output_padding` adds rows/columns at the bottom/right, so the
    output extent is (in - 1) * stride + dilated kernel - crop + output padding.
    """

    strides = prop_def(DenseArrayBase)
    dilations = prop_def(DenseArrayBase)
    padding = prop_def(DenseArrayBase)
    output_padding = prop_def(DenseArrayBase)

    def __init__(
        self,
        ifm: SSAValue,
        weights: SSAValue,
        bias: SSAValue,
        ofm_type: Attribute,
        strides: Sequence[int] = (1, 1),
        dilations: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0, 0, 0),
        output_padding: Sequence[int] = (0, 0),
        activation: str = "none",
    ):
        super().__init__(
            operands=[ifm, weights, bias],
            result_types=[ofm_type],
            properties={
                "strides": int_array(strides),
                "dilations": int_array(dilations),
                "padding": int_array(padding),
                "output_padding": int_array(output_padding),
                "activation": StringAttr(activation),
            },
        )

    def window(self) -> Window:
        """The transposed convolution's window (kernel from the weights; `padding` crops the output)."""
        weights = tensor_shape(self.weights, "weights")
        return Window.of(
            (weights[1], weights[2]),
            array_values(self.strides),
            array_values(self.dilations),
            array_values(self.padding),
        )

    def output_extra(self) -> tuple[int, int]:
        """The rows and columns `output_padding` adds at the bottom and the right."""
        extra = array_values(self.output_padding)
        return extra[0], extra[1]

    def verify_shapes(self) -> None:
        check_window_props(self, ("strides", "dilations", "padding", "output_padding"))
        check_activation(self)
        ifm = tensor_shape(self.ifm, "ifm")
        weights = tensor_shape(self.weights, "weights")
        if len(ifm) != 4 or len(weights) != 4:
            raise VerifyException("ifm and weights must be 4-D (NHWC, OHWI)")
        if weights[3] != ifm[3]:
            raise VerifyException(
                f"weights input depth {weights[3]} does not match ifm depth {ifm[3]}"
            )
        expect_shape("bias", tensor_shape(self.bias, "bias"), [weights[0]])
        strides = array_values(self.strides)
        dilations = array_values(self.dilations)
        padding = array_values(self.padding)
        extra = array_values(self.output_padding)
        sizes = [
            (ifm[1 + axis] - 1) * strides[axis]
            + dilations[axis] * (weights[1 + axis] - 1)
            + 1
            - padding[axis]
            - padding[axis + 2]
            + extra[axis]
            for axis in (0, 1)
        ]
        if min(sizes) < 1:
            raise VerifyException("padding crops the whole output")
        expect_shape("ofm", tensor_shape(self.ofm, "ofm"), [ifm[0], *sizes, weights[0]])


class Pool2dBase(LayerOp):
    """2-D pooling window over an NHWC feature map."""

    ifm = operand_def(TensorType)
    ofm = result_def(TensorType)
    kernel = prop_def(DenseArrayBase)
    strides = prop_def(DenseArrayBase)
    padding = prop_def(DenseArrayBase)
    activation = prop_def(StringAttr)

    assembly_format = "$ifm attr-dict `:` functional-type(operands, results)"

    def __init__(
        self,
        ifm: SSAValue,
        ofm_type: Attribute,
        kernel: Sequence[int],
        strides: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0, 0, 0),
        activation: str = "none",
    ):
        super().__init__(
            operands=[ifm],
            result_types=[ofm_type],
            properties={
                "kernel": int_array(kernel),
                "strides": int_array(strides),
                "padding": int_array(padding),
                "activation": StringAttr(activation),
            },
        )

    def window(self) -> Window:
        """The pooling window (unit dilations)."""
        return Window.of(array_values(self.kernel), array_values(self.strides), (1, 1), array_values(self.padding))

    def verify_shapes(self) -> None:
        check_window_props(self, ("kernel", "strides", "padding"))
        check_activation(self)
        ifm = tensor_shape(self.ifm, "ifm")
        ofm = tensor_shape(self.ofm, "ofm")
        if len(ifm) != 4:
            raise VerifyException("pooling ifm must be 4-D (NHWC)")
        window = self.window()
        kernel, padding = window.kernel, window.padding
        if padding[0] >= kernel[0] or padding[2] >= kernel[0] or padding[1] >= kernel[1] or padding[3] >= kernel[1]:
            raise VerifyException("pooling padding must be smaller than the kernel")
        height, width = window.output_size(ifm[1], ifm[2])
        if height < 1 or width < 1:
            raise VerifyException("kernel is larger than the padded ifm")
        expect_shape("ofm", ofm, [ifm[0], height, width, ifm[3]])
