"""Operation structure shared by the `graph` and `quantized` dialects.

Both dialects describe the same layer operations (NHWC feature maps, OHWI
weights); they differ only in element types and in what a verifier checks
about them. The base classes here hold the operands, properties, shape rules
and the textual format once; `graph` and `quantized` subclass them with their
own names and element-type checks.

Every layer op may carry a discardable `layer` string attribute: the name of the
original model node it came from, kept through every pass for reports.

Layer ops and constants are `Pure`: their results depend on their operands and
properties only, so xDSL's `cse` merges identical ones and `dce` (and every
greedy rewrite) erases unused ones. An op whose effects npuc cannot know (an
opaque CPU operator) derives from `LayerOpBase` instead and is never removed.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FixedBitwidthType,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

ACTIVATIONS = ("none", "relu", "relu6", "relu_n1_to_1")
"""Fused activations, with TFLite's meaning: clamp to [0, inf), [0, 6], [-1, 1]."""

LAYER_ATTR = "layer"
"""Discardable attribute naming the model node an op came from."""

NAME_ATTR = "graph.name"
"""Argument/result attribute: the tensor's name in the original model."""

LAYOUT_ATTR = "graph.layout"
"""Argument/result attribute: the layout of the model's own interface.

Both interface attributes keep their `graph.` names but live here, with
`layout_of`: quantized models carry them too, and reading them must not
load the float dialect (analyzing a TFLite model never does)."""


def layout_of(attributes: dict[str, Attribute] | None) -> str:
    """The interface layout recorded in an argument or result attribute dict."""
    attr = (attributes or {}).get(LAYOUT_ATTR)
    return attr.data if isinstance(attr, StringAttr) else "NHWC"


def int_array(values: Sequence[int]) -> DenseArrayBase:
    """An `array<i64: ...>` property from Python ints.

    Attributes are immutable values: one instance per distinct array serves
    every op (the back end builds the same strides, shapes and blocks for
    thousands of commands, and building one verifies it).
    """
    return _int_array(tuple(values))


@lru_cache(maxsize=4096)
def _int_array(values: tuple[int, ...]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


def array_values(attr: DenseArrayBase) -> tuple[int, ...]:
    """The Python ints of an `array<i64: ...>` property.

    `get_values` is typed per element type only; the element type unpacks the same bytes.
    The back end reads the same few arrays thousands of times (shapes, strides,
    blocks): i64 arrays are unpacked once per distinct byte string.
    """
    if attr.elt_type is i64:
        return _i64_values(attr.data.data)
    return tuple(int(v) for v in attr.elt_type.unpack(attr.data.data, len(attr)))


@lru_cache(maxsize=4096)
def _i64_values(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(data) // 8}q", data)


AttributeT = TypeVar("AttributeT", bound=Attribute)


def property_of(op: Operation, name: str, kind: type[AttributeT]) -> AttributeT:
    """Property `name` of an op whose definition gives it as `kind` (the verifier checked it)."""
    attr = op.properties[name]
    assert isinstance(attr, kind), f"{op.name} property '{name}' is {attr}, expected {kind.__name__}"
    return attr


def array_property(op: Operation, name: str) -> tuple[int, ...]:
    """The Python ints of an op's `array<i64: ...>` property."""
    return array_values(property_of(op, name, DenseArrayBase))


def conv_output_size(
    size: int, kernel: int, stride: int, dilation: int, pad_before: int, pad_after: int
) -> int:
    """Output extent of a convolution or pooling window along one axis."""
    effective_kernel = dilation * (kernel - 1) + 1
    return (size + pad_before + pad_after - effective_kernel) // stride + 1


@dataclass(frozen=True)
class Window:
    """The window of a convolution or pooling op (any dialect), as (height, width) pairs.

    `padding` is (top, left, bottom, right). Pools have unit dilations; ops
    without a kernel (fully connected, elementwise) have `UNIT_WINDOW`.
    """

    kernel: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    dilations: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)

    @classmethod
    def of(
        cls,
        kernel: Sequence[int],
        strides: Sequence[int],
        dilations: Sequence[int],
        padding: Sequence[int],
    ) -> Window:
        """A window from property values (the verifier checked their lengths)."""
        return cls(
            (kernel[0], kernel[1]),
            (strides[0], strides[1]),
            (dilations[0], dilations[1]),
            (padding[0], padding[1], padding[2], padding[3]),
        )

    @property
    def dilated_kernel(self) -> tuple[int, int]:
        """Kernel extent the hardware sees: `dilation * (kernel - 1) + 1`."""
        return (
            self.dilations[0] * (self.kernel[0] - 1) + 1,
            self.dilations[1] * (self.kernel[1] - 1) + 1,
        )

    @property
    def elements(self) -> int:
        """Kernel taps per output element (dilation adds no taps)."""
        return self.kernel[0] * self.kernel[1]

    @property
    def pad_before(self) -> tuple[int, int]:
        """Padding at the top and the left."""
        return self.padding[0], self.padding[1]

    def reached_padding(self, height: int, width: int) -> tuple[int, int, int, int]:
        """The padding (top, left, bottom, right) the windows over a `height` x `width` input reach.

        A stride can leave rows or columns of bottom or right padding that no
        window covers (ONNX pads [1, 1, 1, 1] with stride 2 over an even
        extent); hardware that derives the input extent from the output size
        and the padding needs the padding the windows reach, not more.
        """
        out_height, out_width = self.output_size(height, width)
        top, left, bottom, right = self.padding
        dilated_height, dilated_width = self.dilated_kernel
        reached_bottom = (out_height - 1) * self.strides[0] + dilated_height - height - top
        reached_right = (out_width - 1) * self.strides[1] + dilated_width - width - left
        return top, left, min(bottom, max(0, reached_bottom)), min(right, max(0, reached_right))

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the output over an input of `height` x `width`."""
        top, left, bottom, right = self.padding
        return (
            conv_output_size(height, self.kernel[0], self.strides[0], self.dilations[0], top, bottom),
            conv_output_size(width, self.kernel[1], self.strides[1], self.dilations[1], left, right),
        )


UNIT_WINDOW = Window((1, 1))
"""The window of ops that map each input element to one output element (fully connected, elementwise)."""


def tensor_shape(value: SSAValue, what: str) -> tuple[int, ...]:
    """The static shape of a ranked tensor value, or a verify error naming it."""
    if not isinstance(value.type, TensorType):
        raise VerifyException(f"{what} must be a tensor, got {value.type}")
    return tuple(value.type.get_shape())


def value_shape(value: SSAValue) -> tuple[int, ...]:
    """The static shape of a tensor value of verified IR (layer operands and results are tensors)."""
    assert isinstance(value.type, TensorType), f"expected a tensor, got {value.type}"
    return tuple(value.type.get_shape())


def layer_name(op: Operation) -> str:
    """The model node name an op came from, or its op name when it has none."""
    attr = op.attributes.get(LAYER_ATTR)
    return attr.data if isinstance(attr, StringAttr) else op.name


def check_activation(op: IRDLOperation) -> None:
    """Verify that the op's `activation` property names a known fused activation."""
    activation = op.properties["activation"]
    assert isinstance(activation, StringAttr)
    if activation.data not in ACTIVATIONS:
        raise VerifyException(
            f"unknown fused activation '{activation.data}' "
            f"(expected one of {', '.join(ACTIVATIONS)})"
        )


def check_window_props(op: IRDLOperation, names: Sequence[str]) -> None:
    """Verify the lengths and minimums of window properties (strides, dilations: 2 values >= 1; padding: 4 >= 0)."""
    lengths = {"padding": 4}
    minimums = {"padding": 0, "output_padding": 0}
    for prop in names:
        values = array_property(op, prop)
        expected = lengths.get(prop, 2)
        if len(values) != expected:
            raise VerifyException(f"'{prop}' must have {expected} values, got {len(values)}")
        minimum = minimums.get(prop, 1)
        if any(v < minimum for v in values):
            raise VerifyException(f"'{prop}' values must be >= {minimum}, got {list(values)}")


def expect_shape(what: str, actual: Sequence[int], expected: Sequence[int]) -> None:
    """Fail verification, naming `what`, unless `actual` equals `expected`."""
    if tuple(actual) != tuple(expected):
        raise VerifyException(
            f"{what} shape is {list(actual)}, expected {list(expected)}"
        )


class LayerOpBase(IRDLOperation):
    """Base of the layer ops: properties live in the attribute dictionary; no traits."""

    irdl_options = (ParsePropInAttrDict(),)

    def verify_element_types(self) -> None:
        """Dialect-specific checks of element types and quantization."""

    def verify_(self) -> None:
        self.verify_shapes()
        self.verify_element_types()

    def verify_shapes(self) -> None:
        """Shape rules of the op."""


class LayerOp(LayerOpBase):
    """A layer op without side effects (`Pure`): cse may merge it, dce may erase it."""

    traits = traits_def(Pure())


class BinaryBase(LayerOp):
    """Elementwise binary op with numpy-style broadcasting and a fused activation."""

    ifm = operand_def(TensorType)
    ifm2 = operand_def(TensorType)
    ofm = result_def(TensorType)
    activation = prop_def(StringAttr)

    assembly_format = "$ifm `,` $ifm2 attr-dict `:` functional-type(operands, results)"

    def __init__(
        self, ifm: SSAValue, ifm2: SSAValue, ofm_type: Attribute, activation: str = "none"
    ):
        super().__init__(
            operands=[ifm, ifm2],
            result_types=[ofm_type],
            properties={"activation": StringAttr(activation)},
        )

    def verify_shapes(self) -> None:
        check_activation(self)
        first = tensor_shape(self.ifm, "ifm")
        second = tensor_shape(self.ifm2, "ifm2")
        ofm = tensor_shape(self.ofm, "ofm")
        expect_shape("ofm", ofm, broadcast_shape(first, second))


class AddBase(BinaryBase):
    """Elementwise addition."""


class PReluBase(LayerOp):
    """Parametric ReLU: x where x >= 0, else slope * x (slope broadcast to x)."""

    input = operand_def(TensorType)
    slope = operand_def(TensorType)
    output = result_def(TensorType)

    assembly_format = "$input `,` $slope attr-dict `:` functional-type(operands, results)"

    def __init__(self, input: SSAValue, slope: SSAValue, output_type: Attribute):
        super().__init__(operands=[input, slope], result_types=[output_type])

    def verify_shapes(self) -> None:
        source = tensor_shape(self.input, "input")
        slope = tensor_shape(self.slope, "slope")
        if broadcast_shape(source, slope) != source:
            raise VerifyException(f"slope shape {list(slope)} does not broadcast to {list(source)}")
        expect_shape("output", tensor_shape(self.output, "output"), source)


class BatchMatMulBase(LayerOp):
    """Matrix product of the last two axes of two computed tensors, leading axes broadcast."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)

    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue, output_type: Attribute):
        super().__init__(operands=[lhs, rhs], result_types=[output_type])

    def verify_shapes(self) -> None:
        lhs = tensor_shape(self.lhs, "lhs")
        rhs = tensor_shape(self.rhs, "rhs")
        if len(lhs) < 2 or len(rhs) < 2 or lhs[-1] != rhs[-2]:
            raise VerifyException(f"cannot multiply {list(lhs)} by {list(rhs)}")
        expected = [*broadcast_shape(lhs[:-2], rhs[:-2]), lhs[-2], rhs[-1]]
        output = list(tensor_shape(self.output, "output"))
        if output != expected:
            raise VerifyException(f"output shape is {output}, expected {expected}")


class UnaryBase(LayerOp):
    """Elementwise op of one tensor; the result has the input's shape."""

    input = operand_def(TensorType)
    output = result_def(TensorType)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(
        self, input: SSAValue, output_type: Attribute, properties: dict[str, Attribute] | None = None
    ):
        super().__init__(operands=[input], result_types=[output_type], properties=properties or {})

    def verify_shapes(self) -> None:
        expect_shape("output", tensor_shape(self.output, "output"), tensor_shape(self.input, "input"))


class HardSigmoidBase(UnaryBase):
    """max(0, min(1, alpha * x + beta)) (ONNX HardSigmoid; PyTorch's is alpha 1/6, beta 1/2)."""

    alpha = prop_def(FloatAttr)
    beta = prop_def(FloatAttr)

    def __init__(self, input: SSAValue, output_type: Attribute, alpha: float, beta: float):
        super().__init__(input, output_type, {"alpha": FloatAttr(alpha, 32), "beta": FloatAttr(beta, 32)})


class GeluBase(UnaryBase):
    """GELU: 0.5 * x * (1 + erf(x / sqrt(2))), or with `approximate` its tanh form
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))) (TFLite GELU's option)."""

    approximate = opt_prop_def(UnitAttr)

    def __init__(self, input: SSAValue, output_type: Attribute, approximate: bool = False):
        super().__init__(input, output_type, {"approximate": UnitAttr()} if approximate else {})

    @property
    def is_approximate(self) -> bool:
        """Whether this is the tanh approximation."""
        return self.approximate is not None


class SoftmaxBase(UnaryBase):
    """Softmax along `axis`, of `beta * x` (TFLite's beta; 1 from ONNX)."""

    axis = prop_def(IntegerAttr)
    beta = prop_def(FloatAttr)

    def __init__(self, input: SSAValue, output_type: Attribute, axis: int, beta: float = 1.0):
        super().__init__(
            input,
            output_type,
            {"axis": IntegerAttr(axis, 64), "beta": FloatAttr(beta, 32)},
        )

    def verify_shapes(self) -> None:
        super().verify_shapes()
        rank = len(tensor_shape(self.input, "input"))
        if not 0 <= self.axis.value.data < rank:
            raise VerifyException(f"axis {self.axis.value.data} is outside 0..{rank - 1}")
        if not self.beta.value.data > 0:  # also refuses nan
            raise VerifyException(f"beta {self.beta.value.data} must be positive")


REDUCTIONS = ("mean", "sum", "max", "min")


class ReduceBase(LayerOp):
    """Reduces `axes` with `kind`; the result keeps them as extent 1 or drops them."""

    input = operand_def(TensorType)
    output = result_def(TensorType)
    kind = prop_def(StringAttr)
    axes = prop_def(DenseArrayBase)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, output_type: Attribute, kind: str, axes: Sequence[int]):
        super().__init__(
            operands=[input],
            result_types=[output_type],
            properties={"kind": StringAttr(kind), "axes": int_array(sorted(axes))},
        )

    def keeps_dims(self) -> bool:
        """Whether reduced axes stay in the result as extent 1."""
        return len(tensor_shape(self.output, "output")) == len(tensor_shape(self.input, "input"))

    def verify_shapes(self) -> None:
        if self.kind.data not in REDUCTIONS:
            raise VerifyException(f"unknown reduction '{self.kind.data}'")
        source = tensor_shape(self.input, "input")
        axes = array_values(self.axes)
        if not axes or len(set(axes)) != len(axes) or any(not 0 <= a < len(source) for a in axes):
            raise VerifyException(f"axes {list(axes)} must be distinct axes of a rank-{len(source)} input")
        kept = [1 if i in axes else extent for i, extent in enumerate(source)]
        dropped = [extent for i, extent in enumerate(source) if i not in axes]
        output = list(tensor_shape(self.output, "output"))
        if output not in (kept, dropped):
            raise VerifyException(f"output shape is {output}, expected {kept} or {dropped}")


def broadcast_shape(first: Sequence[int], second: Sequence[int]) -> tuple[int, ...]:
    """Numpy broadcasting of two static shapes, or a verify error."""
    rank = max(len(first), len(second))
    a = (1,) * (rank - len(first)) + tuple(first)
    b = (1,) * (rank - len(second)) + tuple(second)
    result = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise VerifyException(f"shapes {list(first)} and {list(second)} do not broadcast")
        result.append(max(x, y))
    return tuple(result)


class ReshapeBase(LayerOp):
    """Reinterprets a tensor's shape; the element count and order are unchanged."""

    input = operand_def(TensorType)
    output = result_def(TensorType)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, output_type: Attribute):
        super().__init__(operands=[input], result_types=[output_type])

    def verify_shapes(self) -> None:
        source = tensor_shape(self.input, "input")
        target = tensor_shape(self.output, "output")
        if _product(source) != _product(target):
            raise VerifyException(
                f"reshape from {list(source)} to {list(target)} changes the element count"
            )


class TransposeBase(LayerOp):
    """Permutes the axes of a tensor: output axis i is input axis perm[i]."""

    input = operand_def(TensorType)
    output = result_def(TensorType)
    perm = prop_def(DenseArrayBase)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(self, input: SSAValue, output_type: Attribute, perm: Sequence[int]):
        super().__init__(
            operands=[input], result_types=[output_type], properties={"perm": int_array(perm)}
        )

    def verify_shapes(self) -> None:
        source = tensor_shape(self.input, "input")
        target = tensor_shape(self.output, "output")
        perm = array_values(self.perm)
        if sorted(perm) != list(range(len(source))):
            raise VerifyException(f"perm {list(perm)} is not a permutation of {len(source)} axes")
        expect_shape("output", target, [source[p] for p in perm])


def _product(shape: Sequence[int]) -> int:
    result = 1
    for extent in shape:
        result *= extent
    return result


def constant_value(attr: DenseIntOrFPElementsAttr) -> np.ndarray:
    """The data of a dense constant as a numpy array of its element type (no copy)."""
    element = attr.type.element_type
    assert isinstance(element, FixedBitwidthType), f"no fixed-width storage for {element}"
    kind = "float" if isinstance(element, Float32Type) else "int"
    dtype = np.dtype(f"{kind}{element.bitwidth}")
    return np.frombuffer(attr.data.data, dtype=dtype).reshape(attr.type.get_shape())


def dense(array: np.ndarray, element_type: IntegerType | Float32Type) -> DenseIntOrFPElementsAttr:
    """A dense attribute of `array`'s bytes with the given element type."""
    return DenseIntOrFPElementsAttr(
        TensorType(element_type, list(array.shape)), BytesAttr(array.tobytes())
    )


def keep_layer(source: Operation, target: Operation) -> None:
    """Copy the `layer` attribute of `source` (if any) onto `target`."""
    if LAYER_ATTR in source.attributes:
        target.attributes[LAYER_ATTR] = source.attributes[LAYER_ATTR]


class ConstantBase(IRDLOperation):
    """A constant tensor held inline as a dense attribute (weights, biases); `Pure`."""

    value = prop_def(DenseIntOrFPElementsAttr)
    traits = traits_def(Pure())
    output = result_def(TensorType)

    def __init__(self, value: DenseIntOrFPElementsAttr, output_type: Attribute | None = None):
        super().__init__(
            properties={"value": value},
            result_types=[output_type if output_type is not None else value.type],
        )

    @classmethod
    def parse(cls, parser: Parser) -> ConstantBase:
        attributes = parser.parse_optional_attr_dict()
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr):
            parser.raise_error("expected a dense elements attribute")
        output_type: Attribute | None = None
        if parser.parse_optional_punctuation("->") is not None:
            output_type = parser.parse_type()
        op = cls(value, output_type)
        op.attributes.update(attributes)
        return op

    def print(self, printer: Printer) -> None:
        if self.attributes:
            printer.print_string(" ")
            printer.print_attr_dict(self.attributes)
        printer.print_string(" ")
        printer.print_attribute(self.value)
        if self.output.type != self.value.type:
            printer.print_string(" -> ")
            printer.print_attribute(self.output.type)

    def verify_(self) -> None:
        value_type = self.value.type
        output_type = self.output.type
        assert isinstance(output_type, TensorType) and isinstance(value_type, TensorType)
        expect_shape("constant result", output_type.get_shape(), value_type.get_shape())
