"""The `npu` dialect: commands on addressed memory.

After scheduling and allocation a model is a flat, ordered list of commands at
module level. Commands name memory through two attributes,
`#npu.buf<region, offset, size>` and `#npu.fm<region, offset, shape, strides,
type>` (`npuc.dialects.npu_memory`).

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

import numpy as np
from xdsl.dialects.builtin import (
    I32,
    ArrayAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.ir import Attribute, Dialect, Region, SSAValue
from xdsl.irdl import (
    BaseAttr,
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import HasParent, IsTerminator
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.common import (
    LAYER_ATTR,
    UNIT_WINDOW,
    Window,
    array_values,
    check_window_props,
    int_array,
)
from npuc.dialects.npu_memory import BufferAttr, EncodedWeightsAttr, FeatureMapAttr


def scale_bias_entry(wide: bool) -> np.dtype:
    """One output channel's entry of a scale/bias table, little-endian: bias, multiplier, shift.

    The bias is int32, or int64 in a wide table (int16 feature maps, TFLite's
    16x8 mode with an int64 bias); a wide table also selects TFLite's int64
    rescale of the accumulator. Multiplier and shift are int32.
    """
    return np.dtype([("bias", "<i8" if wide else "<i4"), ("multiplier", "<i4"), ("shift", "<i4")])


SCALE_BIAS_ENTRY_BYTES = scale_bias_entry(wide=False).itemsize
"""Bytes per output channel of a scale/bias table (12)."""

WIDE_SCALE_BIAS_ENTRY_BYTES = scale_bias_entry(wide=True).itemsize
"""Bytes per output channel of a wide scale/bias table (16)."""

BLOCK_ATTR = "npu.block"
STRIPE_ATTR = "npu.stripe"
CASCADE_ATTR = "npu.cascade"
ROLLING_ROWS_ATTR = "npu.rolling_rows"
SLOTS_ATTR = "npu.slots"
"""On an `npu.stage` of weights streamed in OFM-depth slices: the slots of its buffer, each as large as the
layer's largest slice; slice k is copied into slot k mod slots (docs/ir.md)."""
CASCADES_ATTR = "npu.cascades"
"""Module attribute after npu-lower: the layers of each cascade, `[["conv1", "pool1"], ...]` (reports)."""
MEMORY_ATTR = "npu.memory"
OFFSET_ATTR = "npu.offset"
PLACEMENT_ATTR = "npu.placement"
CPU_REASON_ATTR = "npu.cpu_reason"
TARGET_ATTR = "npu.target"
SCRATCH_MEMORY_ATTR = "npu.scratch_memory"
SCRATCH_OFFSET_ATTR = "npu.scratch_offset"
MEMORY_USAGE_ATTR = "npu.memory_usage"
"""The planning annotations (docs/ir.md); `npu.memory_usage` is the module's bytes per memory, `{sram = N : i64, ...}`."""


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
        if not isinstance(value_type, TensorType):
            raise VerifyException(f"constant value must be a tensor, not {value_type}")
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


def _activation_range(op: ComputeOp) -> None:
    low, high = op.act_min.value.data, op.act_max.value.data
    if not op.ofm.element_type.qmin <= low <= high <= op.ofm.element_type.qmax:
        raise VerifyException(
            f"activation range [{low}, {high}] is outside the ofm storage range"
        )


def _check_scale_bias(op: WeightedOp | FullyConnectedOp, depth: int) -> None:
    """A scale/bias table of one entry per output channel, wide only for int16 feature maps."""
    sizes = [depth * SCALE_BIAS_ENTRY_BYTES]
    if op.ifm.element_type.bits == 16:
        sizes.append(depth * WIDE_SCALE_BIAS_ENTRY_BYTES)
    if op.scale_bias.size.data not in sizes:
        expected = " or ".join(str(size) for size in sizes)
        raise VerifyException(f"scale/bias buffer is {op.scale_bias.size.data} bytes, expected {expected}")


def _check_constants(op: WeightedOp | FullyConnectedOp, raw_weight_bytes: int, depth: int) -> None:
    """Raw weights and table (`_check_scale_bias`), or buffers exactly holding the encoded streams."""
    encoding = op.encoding
    if encoding is None:
        if op.weights.size.data != raw_weight_bytes:
            raise VerifyException(f"weights buffer is {op.weights.size.data} bytes, expected {raw_weight_bytes}")
        _check_scale_bias(op, depth)
        return
    weights, scales = encoding.weight_stream_lengths(), encoding.scale_stream_lengths()
    if sum(weights) != op.weights.size.data or sum(scales) != op.scale_bias.size.data:
        raise VerifyException(
            f"encoded streams of {sum(weights)} weight and {sum(scales)} scale bytes do not fill the weights "
            f"({op.weights.size.data} bytes) and scale/bias ({op.scale_bias.size.data} bytes) buffers"
        )
    if len(weights) > depth:
        raise VerifyException(f"{len(weights)} core streams for {depth} output channels")
    if encoding.wide.data and op.ifm.element_type.bits != 16:
        raise VerifyException("wide scale records need int16 feature maps")
    if encoding.traversal.data != "depth_first" and isinstance(op, DepthwiseConv2dOp):
        raise VerifyException(f"{op.name} weights are traversed depth first")


def _check_lut(op: ComputeOp) -> None:
    """A table of one OFM element per int8 value, indexed by a clamp within the int8 range."""
    assert op.lut is not None
    low, high = op.act_min.value.data, op.act_max.value.data
    if low < -LUT_ENTRIES // 2 or high >= LUT_ENTRIES // 2:
        raise VerifyException("a lut needs act_min/act_max within the int8 range")
    size = LUT_ENTRIES * op.ofm.element_type.bits // 8
    if op.lut.size.data != size:
        raise VerifyException(f"lut buffer is {op.lut.size.data} bytes, expected {size}")


def _check_block(op: ComputeOp) -> None:
    block = array_values(op.block)
    if len(block) != 3 or any(v <= 0 for v in block):
        raise VerifyException("block must be three positive extents (height, width, depth)")


class ComputeOp(CommandOp):
    """A command that reads IFM(s) and writes an OFM through the MAC/elementwise units.

    With a `lut`, each clamped output value v is replaced by `lut[v + 128]`
    (256 entries of the OFM's storage type): a lookup-table activation,
    fused into the command.
    """

    ifm = prop_def(FeatureMapAttr)
    ofm = prop_def(FeatureMapAttr)
    act_min = prop_def(IntegerAttr[I32])
    act_max = prop_def(IntegerAttr[I32])
    lut = opt_prop_def(BufferAttr)
    block = prop_def(DenseArrayBase)

    def verify_(self) -> None:
        _activation_range(self)
        _check_block(self)
        if self.lut is not None:
            _check_lut(self)
        self.verify_geometry()

    def verify_geometry(self) -> None:
        """Shape relations between the feature maps of the command."""

    def window(self) -> Window:
        """The command's kernel window (`UNIT_WINDOW` for commands without a kernel)."""
        return UNIT_WINDOW

    def block_shape(self) -> tuple[int, int, int]:
        """The OFM block (height, width, depth) the command computes at once."""
        height, width, depth = array_values(self.block)
        return height, width, depth


WINDOW_PROPERTIES = ("kernel", "strides", "dilations", "padding")
"""The window properties a windowed command may have (pools have no dilations)."""


class WindowedOp(ComputeOp):
    """A compute command with a kernel window (convolution, pooling)."""

    kernel = prop_def(DenseArrayBase)
    strides = prop_def(DenseArrayBase)
    padding = prop_def(DenseArrayBase)

    def ofm_depth(self, ifm_depth: int) -> int:
        """OFM depth the command produces from an IFM of the given depth."""
        return ifm_depth

    def window(self) -> Window:
        return Window.of(array_values(self.kernel), array_values(self.strides), (1, 1), array_values(self.padding))

    def verify_geometry(self) -> None:
        check_window_props(self, [name for name in WINDOW_PROPERTIES if name in self.properties])
        ifm = self.ifm.shape_values()
        ofm = self.ofm.shape_values()
        if len(ifm) != 4 or len(ofm) != 4:
            raise VerifyException("ifm and ofm must be 4-D NHWC feature maps")
        expected = [ifm[0], *self.window().output_size(ifm[1], ifm[2]), self.ofm_depth(ifm[3])]
        if list(ofm) != expected:
            raise VerifyException(f"ofm shape is {list(ofm)}, expected {expected}")


class WeightedOp(WindowedOp):
    """A convolution-like command with weights and a per-channel scale/bias table.

    With `encoding` the two buffers hold encoded streams (`EncodedWeightsAttr`).
    """

    weights = prop_def(BufferAttr)
    scale_bias = prop_def(BufferAttr)
    encoding = opt_prop_def(EncodedWeightsAttr)
    dilations = prop_def(DenseArrayBase)

    def window(self) -> Window:
        return Window.of(
            array_values(self.kernel), array_values(self.strides), array_values(self.dilations), array_values(self.padding)
        )

    def weight_bytes(self) -> int:
        """Bytes of the weights as int8 values (their raw form; encoded streams differ)."""
        kernel = array_values(self.kernel)
        return self.ofm.shape_values()[3] * kernel[0] * kernel[1] * self.ifm.shape_values()[3]

    def verify_geometry(self) -> None:
        super().verify_geometry()
        _check_constants(self, self.weight_bytes(), self.ofm.shape_values()[3])


@irdl_op_definition
class Conv2dOp(WeightedOp):
    """Convolution: OHWI int8 weights, per-channel rescale, fused clamp."""

    name = "npu.conv2d"

    def ofm_depth(self, ifm_depth: int) -> int:
        if self.encoding is not None:  # the encoded size says nothing of the shape
            return self.ofm.shape_values()[3]
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
    encoding = opt_prop_def(EncodedWeightsAttr)

    def weight_bytes(self) -> int:
        """Bytes of the weights as int8 values (their raw form; encoded streams differ)."""
        return self.ifm.shape_values()[1] * self.ofm.shape_values()[1]

    def verify_geometry(self) -> None:
        ifm = self.ifm.shape_values()
        ofm = self.ofm.shape_values()
        if len(ifm) != 2 or len(ofm) != 2 or ifm[0] != ofm[0]:
            raise VerifyException("fully connected ifm and ofm must be [N, K] and [N, O]")
        _check_constants(self, self.weight_bytes(), ofm[1])


POOL_KINDS = ("max", "avg", "reduce_sum")
ELEMENTWISE_KINDS = ("add", "sub", "mul", "shl", "asr", "clz")
QUANTIZED_ELEMENTWISE_KINDS = ("add", "sub", "mul")
"""Kinds that, without an explicit rescale, follow TFLite's quantized ADD, SUB and MUL."""
ROUNDING_MODES = ("half_up", "half_away", "truncate", "double")
"""How an integer elementwise command rounds a right shift: ties toward +inf,
ties away from zero, toward zero, or `double`: TFLite's rescale by a Q31
multiplier (gemmlowp's doubling high multiply, ties toward +inf at bit 31,
then its rounding divide by the rest of the shift, ties away from zero; a
shift of 31 or less rounds once, ties toward +inf)."""
LUT_ENTRIES = 256
"""Entries of an elementwise command's lookup table: one per int8 output value."""


@irdl_op_definition
class PoolOp(WindowedOp):
    """Pooling: `max`/`avg` over the kernel window, `reduce_sum` over the depth.

    Average pooling divides by the valid element count. `reduce_sum` (1x1
    window, unit stride, no padding) writes one channel: the exact sum over
    the IFM depth of `ifm - ifm zero point`, plus the OFM zero point, clamped
    to [act_min, act_max].
    """

    name = "npu.pool"
    kind = prop_def(StringAttr)

    def ofm_depth(self, ifm_depth: int) -> int:
        return 1 if self.kind.data == "reduce_sum" else ifm_depth

    def verify_geometry(self) -> None:
        if self.kind.data not in POOL_KINDS:
            raise VerifyException(f"unknown pool kind '{self.kind.data}'")
        unit = (array_values(self.kernel), array_values(self.strides), array_values(self.padding))
        if self.kind.data == "reduce_sum" and unit != ((1, 1), (1, 1), (0, 0, 0, 0)):
            raise VerifyException("reduce_sum needs a 1x1 kernel, unit strides and no padding")
        super().verify_geometry()


@irdl_op_definition
class ElementwiseOp(ComputeOp):
    """An elementwise command: quantized add/sub/mul, or integer arithmetic with an explicit rescale.

    Without `rescale`, kinds `add`, `sub` and `mul` are TFLite's quantized
    ADD, SUB and MUL of `ifm` and `ifm2` (broadcast), rescaled from the three
    feature maps' scales. With
    `rescale = array<i64: multiplier, shift>` and `rounding` the command is
    integer arithmetic (docs/ir.md): `a = ifm - zp`, `b = ifm2 - zp2` or the
    `scalar`, swapped when `reversed`; `t = a op b` exactly (add, sub, mul,
    shl, asr rounding with `rounding`, or clz of `a` alone); then
    `round(t * multiplier / 2^shift) + ofm zp` clamped to [act_min, act_max]
    and, with a `lut`, replaced by `lut[value + 128]`.
    """

    name = "npu.elementwise"
    kind = prop_def(StringAttr)
    ifm2 = opt_prop_def(FeatureMapAttr)
    scalar = opt_prop_def(IntegerAttr[I32])
    reversed = opt_prop_def(UnitAttr)
    rescale = opt_prop_def(DenseArrayBase)
    rounding = opt_prop_def(StringAttr)

    def verify_geometry(self) -> None:
        if self.kind.data not in ELEMENTWISE_KINDS:
            raise VerifyException(f"unknown elementwise kind '{self.kind.data}'")
        if (self.rescale is None) != (self.rounding is None):
            raise VerifyException("rescale and rounding go together (integer elementwise)")
        if self.rescale is None:
            self.verify_quantized()
        else:
            self.verify_integer()
        first, ofm = self.ifm.shape_values(), self.ofm.shape_values()
        second = self.ifm2.shape_values() if self.ifm2 is not None else (1,) * len(ofm)
        if len(first) != len(ofm) or len(second) != len(ofm):
            raise VerifyException("elementwise feature maps must have the same rank")
        for a, b, out in zip(first, second, ofm):
            if out != max(a, b) or (a != b and 1 not in (a, b)):
                raise VerifyException(f"shapes {list(first)} and {list(second)} do not give {list(ofm)}")

    def verify_quantized(self) -> None:
        """Without a rescale: TFLite ADD, SUB or MUL of two feature maps."""
        if self.kind.data not in QUANTIZED_ELEMENTWISE_KINDS or self.ifm2 is None:
            raise VerifyException(
                f"elementwise '{self.kind.data}' without rescale must be add, sub or mul of ifm and ifm2"
            )
        if self.scalar is not None or self.reversed is not None or self.lut is not None:
            raise VerifyException("scalar, reversed and lut need an integer elementwise (rescale)")

    def verify_integer(self) -> None:
        """Operands, rescale, rounding and table of an integer elementwise."""
        assert self.rescale is not None and self.rounding is not None
        operands = (self.ifm2 is not None) + (self.scalar is not None)
        if self.kind.data == "clz" and (operands or self.reversed is not None):
            raise VerifyException("clz reads the ifm only")
        if self.kind.data != "clz" and operands != 1:
            raise VerifyException(f"elementwise '{self.kind.data}' needs exactly one of ifm2 and scalar")
        rescale = array_values(self.rescale)
        if len(rescale) != 2 or not -(1 << 31) <= rescale[0] < (1 << 31) or not 0 <= rescale[1] <= 63:
            raise VerifyException("rescale must be [multiplier (int32), shift (0..63)]")
        if self.rounding.data not in ROUNDING_MODES:
            raise VerifyException(f"unknown rounding '{self.rounding.data}'")


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
    "ifm", "ifm2", "scalar", "reversed", "ofm", "weights", "scale_bias", "encoding", "kernel", "strides",
    "dilations", "padding", "act_min", "act_max", "rescale", "rounding", "lut", "block",
    "inputs", "outputs", "reason",
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
    [BufferAttr, FeatureMapAttr, EncodedWeightsAttr],
)
