"""The `npu` dialect: commands on addressed memory.

After scheduling and allocation a model is a flat, ordered list of commands at
module level. Commands name memory through two attributes:

    #npu.buf<flash, 0, 2304>                                   region, offset, size in bytes
    #npu.fm<sram, 1024, [1, 28, 28, 8], [6272, 224, 8, 1], !quantized.uniform<i8:f32, 0.1:-3>>
                    region, offset, NHWC shape, byte strides, element type

`npu.constant` ops give the contents of the constant memory (weights, scale and
bias tables), `npu.input`/`npu.output` the interface feature maps, and the
commands (DMA, convolution, pooling, elementwise, CPU fallback) run in program
order. Compute commands carry their OFM block shape (`block`), the unit the
hardware computes at once.

Before lowering, the scheduling passes annotate `quantized` ops with
attributes in this dialect's namespace (`npu.block`, `npu.stripe`,
`npu.memory`, `npu.offset`) and stage constants with `npu.stage`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, TypeVar

from xdsl.dialects.builtin import (
    I32,
    ArrayAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, Region, SSAValue
from xdsl.irdl import (
    BaseAttr,
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsTerminator
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.common import LAYER_ATTR, array_values, conv_output_size, int_array
from npuc.dialects.quantized import UniformQuantizedType

SCALE_BIAS_ENTRY_BYTES = 12
"""Bytes per output channel of a scale/bias table: int32 bias, multiplier, shift."""

BLOCK_ATTR = "npu.block"
STRIPE_ATTR = "npu.stripe"
MEMORY_ATTR = "npu.memory"
OFFSET_ATTR = "npu.offset"
PLACEMENT_ATTR = "npu.placement"
CPU_REASON_ATTR = "npu.cpu_reason"
TARGET_ATTR = "npu.target"


def _parse_int_list(parser: AttrParser) -> list[int]:
    return parser.parse_comma_separated_list(
        parser.Delimiter.SQUARE, lambda: parser.parse_integer(allow_boolean=False)
    )


def _print_int_list(printer: Printer, values: Sequence[int]) -> None:
    printer.print_string("[" + ", ".join(str(v) for v in values) + "]")


@irdl_attr_definition
class BufferAttr(ParametrizedAttribute):
    """A byte range in one memory region: weights, tables, DMA endpoints."""

    name = "npu.buf"

    region: StringAttr
    offset: IntAttr
    size: IntAttr

    def __init__(self, region: str, offset: int, size: int):
        super().__init__(StringAttr(region), IntAttr(offset), IntAttr(size))

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.offset.data + self.size.data

    def verify(self) -> None:
        if self.offset.data < 0 or self.size.data <= 0:
            raise VerifyException("buffer offset must be >= 0 and size > 0")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        parser.parse_punctuation("<")
        region = parser.parse_identifier()
        parser.parse_punctuation(",")
        offset = parser.parse_integer(allow_boolean=False)
        parser.parse_punctuation(",")
        size = parser.parse_integer(allow_boolean=False)
        parser.parse_punctuation(">")
        return [StringAttr(region), IntAttr(offset), IntAttr(size)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.region.data}, {self.offset.data}, {self.size.data}>")


@irdl_attr_definition
class FeatureMapAttr(ParametrizedAttribute):
    """An NHWC feature map in memory: where it is, its shape, byte strides and type."""

    name = "npu.fm"

    region: StringAttr
    offset: IntAttr
    shape: ArrayAttr[IntAttr]
    strides: ArrayAttr[IntAttr]
    element_type: UniformQuantizedType

    def __init__(
        self,
        region: str,
        offset: int,
        shape: Sequence[int],
        strides: Sequence[int],
        element_type: UniformQuantizedType,
    ):
        super().__init__(
            StringAttr(region),
            IntAttr(offset),
            ArrayAttr([IntAttr(v) for v in shape]),
            ArrayAttr([IntAttr(v) for v in strides]),
            element_type,
        )

    @staticmethod
    def dense(
        region: str, offset: int, shape: Sequence[int], element_type: UniformQuantizedType
    ) -> FeatureMapAttr:
        """A feature map stored contiguously in row-major (NHWC) order."""
        element_bytes = element_type.bits // 8
        strides = [element_bytes] * len(shape)
        for axis in range(len(shape) - 2, -1, -1):
            strides[axis] = strides[axis + 1] * shape[axis + 1]
        return FeatureMapAttr(region, offset, shape, strides, element_type)

    def shape_values(self) -> tuple[int, ...]:
        """The shape as Python ints."""
        return tuple(v.data for v in self.shape.data)

    def stride_values(self) -> tuple[int, ...]:
        """Byte strides as Python ints."""
        return tuple(v.data for v in self.strides.data)

    def byte_extent(self) -> int:
        """Bytes from the base address to one past the last element."""
        element_bytes = self.element_type.bits // 8
        return element_bytes + sum(
            (extent - 1) * stride for extent, stride in zip(self.shape_values(), self.stride_values())
        )

    def buffer(self) -> BufferAttr:
        """The byte range the feature map occupies."""
        return BufferAttr(self.region.data, self.offset.data, self.byte_extent())

    def verify(self) -> None:
        if len(self.shape.data) != len(self.strides.data) or not self.shape.data:
            raise VerifyException("feature map needs one stride per dimension")
        if self.offset.data < 0 or any(v.data <= 0 for v in self.shape.data):
            raise VerifyException("feature map offset must be >= 0 and extents > 0")
        if self.element_type.is_per_axis:
            raise VerifyException("feature maps are quantized per tensor")
        if any(v.data <= 0 for v in self.strides.data):
            raise VerifyException("feature map strides must be positive")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        parser.parse_punctuation("<")
        region = parser.parse_identifier()
        parser.parse_punctuation(",")
        offset = parser.parse_integer(allow_boolean=False)
        parser.parse_punctuation(",")
        shape = _parse_int_list(parser)
        parser.parse_punctuation(",")
        strides = _parse_int_list(parser)
        parser.parse_punctuation(",")
        element_type = parser.parse_type()
        parser.parse_punctuation(">")
        return [
            StringAttr(region),
            IntAttr(offset),
            ArrayAttr([IntAttr(v) for v in shape]),
            ArrayAttr([IntAttr(v) for v in strides]),
            element_type,
        ]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.region.data}, {self.offset.data}, ")
        _print_int_list(printer, self.shape_values())
        printer.print_string(", ")
        _print_int_list(printer, self.stride_values())
        printer.print_string(", ")
        printer.print_attribute(self.element_type)
        printer.print_string(">")


class CommandOp(IRDLOperation):
    """Base of all npu ops: properties are printed in the attribute dictionary."""

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "attr-dict"


@irdl_op_definition
class ConstantOp(CommandOp):
    """Initial contents of a buffer in constant memory (weights, scale/bias tables)."""

    name = "npu.constant"
    buffer = prop_def(BufferAttr)
    value = prop_def(DenseIntOrFPElementsAttr)

    def __init__(self, buffer: BufferAttr, value: DenseIntOrFPElementsAttr):
        super().__init__(properties={"buffer": buffer, "value": value})

    def verify_(self) -> None:
        value_type = self.value.type
        assert isinstance(value_type, TensorType)
        element = value_type.element_type
        width = getattr(getattr(element, "width", None), "data", 32)
        size = value_type.element_count() * width // 8
        if size != self.buffer.size.data:
            raise VerifyException(
                f"constant holds {size} bytes but its buffer is {self.buffer.size.data} bytes"
            )


class InterfaceOp(CommandOp):
    """A feature map of the model's interface, by its model tensor name.

    `host_conversion` (optional) says the model's own interface tensor is f32
    and the host converts it: `"quantize"` on an input (the host quantizes the
    user's data into `fm`), `"dequantize"` on an output (the host dequantizes
    `fm`). `layout` (optional) is `"NCHW"` when the model's own interface is
    NCHW (the host transposes user data; `fm` is always NHWC), as
    `graph.layout` says on the function before lowering.
    """

    tensor = prop_def(StringAttr)
    fm = prop_def(FeatureMapAttr)
    host_conversion = opt_prop_def(StringAttr)
    layout = opt_prop_def(StringAttr)

    HOST_CONVERSION: ClassVar[str] = ""

    def __init__(
        self,
        tensor: str,
        fm: FeatureMapAttr,
        host_conversion: str | None = None,
        layout: str | None = None,
    ):
        properties: dict[str, Attribute] = {"tensor": StringAttr(tensor), "fm": fm}
        if host_conversion is not None:
            properties["host_conversion"] = StringAttr(host_conversion)
        if layout is not None:
            properties["layout"] = StringAttr(layout)
        super().__init__(properties=properties)

    def verify_(self) -> None:
        if self.host_conversion is not None and self.host_conversion.data != self.HOST_CONVERSION:
            raise VerifyException(
                f"{self.name} host_conversion must be '{self.HOST_CONVERSION}', "
                f"got '{self.host_conversion.data}'"
            )
        if self.layout is not None and self.layout.data != "NCHW":
            raise VerifyException(f"interface layout must be 'NCHW', got '{self.layout.data}'")


@irdl_op_definition
class InputOp(InterfaceOp):
    """Where the host writes a model input before running the command stream."""

    name = "npu.input"
    HOST_CONVERSION: ClassVar[str] = "quantize"


@irdl_op_definition
class OutputOp(InterfaceOp):
    """Where the host reads a model output after the command stream."""

    name = "npu.output"
    HOST_CONVERSION: ClassVar[str] = "dequantize"


@irdl_op_definition
class DmaOp(CommandOp):
    """Copy bytes between memories (weights to SRAM, spilled feature maps)."""

    name = "npu.dma"
    src = prop_def(BufferAttr)
    dst = prop_def(BufferAttr)

    def __init__(self, src: BufferAttr, dst: BufferAttr, layer: str):
        super().__init__(properties={"src": src, "dst": dst}, attributes={"layer": StringAttr(layer)})

    def verify_(self) -> None:
        if self.src.size.data != self.dst.size.data:
            raise VerifyException("dma source and destination sizes differ")


def _activation_range(op: IRDLOperation) -> None:
    fm = op.properties["ofm"]
    assert isinstance(fm, FeatureMapAttr)
    low = op.properties["act_min"].value.data  # type: ignore[union-attr]
    high = op.properties["act_max"].value.data  # type: ignore[union-attr]
    if not fm.element_type.qmin <= low <= high <= fm.element_type.qmax:
        raise VerifyException(
            f"activation range [{low}, {high}] is outside the ofm storage range"
        )


def _check_block(op: IRDLOperation) -> None:
    block = array_values(op.properties["block"])  # type: ignore[arg-type]
    if len(block) != 3 or any(v <= 0 for v in block):
        raise VerifyException("block must be three positive extents (height, width, depth)")


class ComputeOp(CommandOp):
    """A command that reads IFM(s) and writes an OFM through the MAC/elementwise units."""

    ifm = prop_def(FeatureMapAttr)
    ofm = prop_def(FeatureMapAttr)
    act_min = prop_def(IntegerAttr[I32])
    act_max = prop_def(IntegerAttr[I32])
    block = prop_def(DenseArrayBase)

    def verify_(self) -> None:
        _activation_range(self)
        _check_block(self)
        self.verify_geometry()

    def verify_geometry(self) -> None:
        """Shape relations between the feature maps of the command."""


class WindowedOp(ComputeOp):
    """A compute command with a kernel window (convolution, pooling)."""

    kernel = prop_def(DenseArrayBase)
    strides = prop_def(DenseArrayBase)
    padding = prop_def(DenseArrayBase)

    DILATED: ClassVar[bool] = False

    def ofm_depth(self, ifm_depth: int) -> int:
        """OFM depth the command produces from an IFM of the given depth."""
        return ifm_depth

    def verify_geometry(self) -> None:
        ifm = self.ifm.shape_values()
        ofm = self.ofm.shape_values()
        kernel = array_values(self.kernel)
        strides = array_values(self.strides)
        padding = array_values(self.padding)
        dilations = array_values(self.properties["dilations"]) if self.DILATED else (1, 1)  # type: ignore[arg-type]
        if len(ifm) != 4 or len(ofm) != 4:
            raise VerifyException("ifm and ofm must be 4-D NHWC feature maps")
        expected = [
            ifm[0],
            conv_output_size(ifm[1], kernel[0], strides[0], dilations[0], padding[0], padding[2]),
            conv_output_size(ifm[2], kernel[1], strides[1], dilations[1], padding[1], padding[3]),
            self.ofm_depth(ifm[3]),
        ]
        if list(ofm) != expected:
            raise VerifyException(f"ofm shape is {list(ofm)}, expected {expected}")


class WeightedOp(WindowedOp):
    """A convolution-like command with weights and a per-channel scale/bias table."""

    weights = prop_def(BufferAttr)
    scale_bias = prop_def(BufferAttr)
    dilations = prop_def(DenseArrayBase)

    DILATED: ClassVar[bool] = True

    def weight_bytes(self) -> int:
        """Bytes of int8 weights the command reads."""
        kernel = array_values(self.kernel)
        return self.ofm.shape_values()[3] * kernel[0] * kernel[1] * self.ifm.shape_values()[3]

    def verify_geometry(self) -> None:
        super().verify_geometry()
        if self.weights.size.data != self.weight_bytes():
            raise VerifyException(
                f"weights buffer is {self.weights.size.data} bytes, expected {self.weight_bytes()}"
            )
        depth = self.ofm.shape_values()[3]
        if self.scale_bias.size.data != depth * SCALE_BIAS_ENTRY_BYTES:
            raise VerifyException(
                f"scale/bias buffer is {self.scale_bias.size.data} bytes, "
                f"expected {depth * SCALE_BIAS_ENTRY_BYTES}"
            )


@irdl_op_definition
class Conv2dOp(WeightedOp):
    """Convolution: OHWI int8 weights, per-channel rescale, fused clamp."""

    name = "npu.conv2d"

    def ofm_depth(self, ifm_depth: int) -> int:
        return self.weights.size.data // (
            array_values(self.kernel)[0] * array_values(self.kernel)[1] * ifm_depth
        )


@irdl_op_definition
class DepthwiseConv2dOp(WeightedOp):
    """Depthwise convolution: each OFM channel reads IFM channel (c // multiplier)."""

    name = "npu.depthwise_conv2d"

    def ofm_depth(self, ifm_depth: int) -> int:
        return self.ofm.shape_values()[3] if self.ofm.shape_values()[3] % ifm_depth == 0 else -1

    def weight_bytes(self) -> int:
        kernel = array_values(self.kernel)
        return self.ofm.shape_values()[3] * kernel[0] * kernel[1]


@irdl_op_definition
class FullyConnectedOp(ComputeOp):
    """Fully connected layer: [N, K] ifm, [O, K] weights, per-channel rescale."""

    name = "npu.fully_connected"
    weights = prop_def(BufferAttr)
    scale_bias = prop_def(BufferAttr)

    def verify_geometry(self) -> None:
        ifm = self.ifm.shape_values()
        ofm = self.ofm.shape_values()
        if len(ifm) != 2 or len(ofm) != 2 or ifm[0] != ofm[0]:
            raise VerifyException("fully connected ifm and ofm must be [N, K] and [N, O]")
        if self.weights.size.data != ifm[1] * ofm[1]:
            raise VerifyException(
                f"weights buffer is {self.weights.size.data} bytes, expected {ifm[1] * ofm[1]}"
            )
        if self.scale_bias.size.data != ofm[1] * SCALE_BIAS_ENTRY_BYTES:
            raise VerifyException("scale/bias buffer does not match the ofm depth")


POOL_KINDS = ("max", "avg")
ELEMENTWISE_KINDS = ("add",)


@irdl_op_definition
class PoolOp(WindowedOp):
    """Max or average pooling; average pooling divides by the valid element count."""

    name = "npu.pool"
    kind = prop_def(StringAttr)

    def verify_geometry(self) -> None:
        if self.kind.data not in POOL_KINDS:
            raise VerifyException(f"unknown pool kind '{self.kind.data}'")
        super().verify_geometry()


@irdl_op_definition
class ElementwiseOp(ComputeOp):
    """Binary elementwise operation with broadcasting of ifm2 (TFLite ADD semantics)."""

    name = "npu.elementwise"
    kind = prop_def(StringAttr)
    ifm2 = prop_def(FeatureMapAttr)

    def verify_geometry(self) -> None:
        if self.kind.data not in ELEMENTWISE_KINDS:
            raise VerifyException(f"unknown elementwise kind '{self.kind.data}'")
        first, second, ofm = (
            self.ifm.shape_values(),
            self.ifm2.shape_values(),
            self.ofm.shape_values(),
        )
        if len(first) != len(ofm) or len(second) != len(ofm):
            raise VerifyException("elementwise feature maps must have the same rank")
        for a, b, out in zip(first, second, ofm):
            if out != max(a, b) or (a != b and 1 not in (a, b)):
                raise VerifyException(f"shapes {list(first)} and {list(second)} do not give {list(ofm)}")


@irdl_op_definition
class CpuOp(CommandOp):
    """A layer the NPU cannot run: the host executes the body between NPU commands.

    The body holds the original `quantized` op(s); block arguments are the
    `inputs` feature maps and the `npu.yield` operands are written to `outputs`.
    """

    name = "npu.cpu_op"
    inputs = prop_def(ArrayAttr[FeatureMapAttr])
    outputs = prop_def(ArrayAttr[FeatureMapAttr])
    reason = opt_prop_def(StringAttr)
    body = region_def("single_block")
    assembly_format = "attr-dict-with-keyword $body"

    def verify_(self) -> None:
        block = self.body.block
        if len(block.args) != len(self.inputs.data):
            raise VerifyException("cpu_op body needs one argument per input feature map")
        terminator = block.last_op
        if not isinstance(terminator, YieldOp) or len(terminator.values) != len(self.outputs.data):
            raise VerifyException("cpu_op body must yield one value per output feature map")


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends an `npu.cpu_op` body with the values written to its outputs."""

    name = "npu.yield"
    values = var_operand_def()
    traits = traits_def(IsTerminator(), HasParent(CpuOp))
    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, *values: SSAValue):
        super().__init__(operands=[list(values)])


@irdl_op_definition
class StageOp(IRDLOperation):
    """Schedule-level copy of a tensor into another memory before its use (a DMA).

    Inserted by npu-schedule ahead of lowering; lowering turns it into `npu.dma`.
    """

    name = "npu.stage"
    irdl_options = (ParsePropInAttrDict(),)
    T: ClassVar = VarConstraint("T", BaseAttr(TensorType))
    input = operand_def(T)
    output = result_def(T)
    memory = prop_def(StringAttr)
    assembly_format = "$input `to` $memory attr-dict `:` type($input)"

    def __init__(self, input: SSAValue, memory: str):
        super().__init__(
            operands=[input], result_types=[input.type], properties={"memory": StringAttr(memory)}
        )


PROPERTY_ORDER = (
    "buffer", "value", "tensor", "fm", "host_conversion", "layout", "src", "dst", "kind",
    "ifm", "ifm2", "ofm", "weights", "scale_bias", "kernel", "strides", "dilations",
    "padding", "act_min", "act_max", "block", "inputs", "outputs", "reason",
)
"""The order in which `build_command` stores (and so prints) command properties."""

CommandT = TypeVar("CommandT", bound=IRDLOperation)


def build_command(
    op_type: type[CommandT],
    properties: Mapping[str, Attribute],
    layer: str | None = None,
    regions: Sequence[Region] = (),
) -> CommandT:
    """A command with its properties in `PROPERTY_ORDER` and its `layer` attribute.

    Printing keeps property insertion order, so building every command through
    this function makes equal commands print equally, whoever built them (the
    lowering, the command-stream decoder).
    """
    ordered = {key: properties[key] for key in PROPERTY_ORDER if key in properties}
    assert len(ordered) == len(properties), f"unknown properties {set(properties) - set(ordered)}"
    attributes = {} if layer is None else {LAYER_ATTR: StringAttr(layer)}
    return op_type.create(properties=ordered, attributes=attributes, regions=list(regions))


def block_attr(block: Sequence[int]) -> DenseArrayBase:
    """The `array<i64: h, w, c>` form of a block or stripe shape."""
    return int_array(block)


NPU = Dialect(
    "npu",
    [
        ConstantOp,
        InputOp,
        OutputOp,
        DmaOp,
        Conv2dOp,
        DepthwiseConv2dOp,
        FullyConnectedOp,
        PoolOp,
        ElementwiseOp,
        CpuOp,
        YieldOp,
        StageOp,
    ],
    [BufferAttr, FeatureMapAttr],
)
