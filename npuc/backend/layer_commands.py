"""The compute command of a whole NPU layer: its class and properties, per command kind.

A conv, depthwise conv or fully connected layer reads its feature maps and
constant buffers (on a target that encodes weights, with the encoding of
their streams); a pool its window; an elementwise add, sub or mul its two
operands, broadcast numpy-style; a lookup-table activation adds 0 and looks
the sum up in its table. Each gets the clamp of the quantized reference
(`act_min`/`act_max`) and the block npu-tile chose. Where the table of the
activation reading a layer's result can be fused into the layer's command
(`absorb_activation`), the activation gets no command of its own.

How the command is then split (height stripes, cascades, OFM-depth slices)
is for `npuc.backend.striped_layers` and `npuc.backend.weight_slices`.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects.builtin import IntegerAttr, StringAttr, i32
from xdsl.ir import Attribute, Operation
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.addresses import Addresses
from npuc.backend.constant_pool import ConstantPool
from npuc.backend.lookup_tables import LOOKUP_TABLE_OPS, activation_table
from npuc.backend.operators import BINARY_OPS, npu_operator
from npuc.backend.planning import absorbing_layer, describe, require
from npuc.backend.weight_encoding import (
    BIAS_OPERAND,
    WEIGHTS_OPERAND,
    layer_streams,
    runs_as_convolution,
)
from npuc.cost.compute import (
    AVG_POOL,
    CONV,
    DEPTHWISE,
    ELEMENTWISE,
    FULLY_CONNECTED,
    MAX_POOL,
)
from npuc.dialects import npu, quantized
from npuc.dialects.common import int_array
from npuc.dialects.quantized_type import UniformQuantizedType
from npuc.emit.ethos_u.operations import fits_with_table
from npuc.reference.int_parameters import activation_bounds


class LayerCommands:
    """The compute commands of the layers of one lowering, their feature maps at `addresses`, their
    tables in `constants`."""

    def __init__(self, addresses: Addresses, constants: ConstantPool):
        self.addresses = addresses
        self.constants = constants
        self.absorbed: set[Operation] = set()
        """Lookup-table activations fused into their producer's command (`absorb_activation`)."""

    def compute(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """The compute command of a whole NPU layer: its class and properties."""
        operator = npu_operator(op)
        build = _COMPUTE.get(operator.command) if operator and operator.command else None
        if isinstance(op, LOOKUP_TABLE_OPS):
            build = LayerCommands.lookup_activation
        if build is None:
            raise PassFailedException(f"{self.addresses.pass_name}: {describe(op)} has no NPU command; place it on the CPU")
        block = require(op, npu.BLOCK_ATTR, "npu-tile", self.addresses.pass_name)
        act_min, act_max = _activation_bounds(op)
        op_type, properties = build(self, op)
        properties |= {
            "act_min": IntegerAttr(act_min, i32),
            "act_max": IntegerAttr(act_max, i32),
            "block": block,
        }
        return op_type, properties

    def absorb_activation(
        self, op: Operation, op_type: type[npu.ComputeOp], properties: dict[str, Attribute]
    ) -> dict[str, Attribute]:
        """`properties` with the lookup-table activation reading `op`'s result fused in, when it can be.

        As Vela does (TABLE_LOOKUP on the convolution), the layer
        `absorbing_layer` names writes the activation's OFM through the table;
        its OFM descriptor keeps the layer's own quantization, so the clamped
        layer output indexes the table. npu-allocate kept that OFM live from
        the layer on; a buffer overlapping one the command reads, or a block
        the lowered weights' traversal leaves no room for the table, keeps
        the two commands apart (still correct, only slower).
        """
        target = self.addresses.target
        result = op.results[0]
        activation = next((use.operation for use in result.uses), None)
        if activation is None or absorbing_layer(activation, target) is not op:
            return properties
        ofm = self.addresses.feature_map(activation.results[0])
        reads = [properties[name] for name in ("ifm", "weights", "scale_bias") if name in properties]
        if any(_overlap(ofm, read) for read in reads):
            return properties
        fused = properties | {
            "ofm": _retyped(ofm, self.addresses.feature_map(result).element_type),
            "lut": self.constants.table(activation_table(activation)),
        }
        if target.ethos_u is not None and not fits_with_table(npu.build_command(op_type, fused), target):
            return properties
        self.absorbed.add(activation)
        return fused

    # The command kinds: (command class, properties without act_min/act_max/block).

    def weighted(self, op: Operation) -> dict[str, Attribute]:
        """Feature maps and constant buffers shared by conv, depthwise and fc (with the encoding of
        their streams on a target that encodes weights)."""
        addresses = self.addresses
        weights, bias = op.operands[WEIGHTS_OPERAND], op.operands[BIAS_OPERAND]
        properties: dict[str, Attribute] = {
            "ifm": addresses.feature_map(op.operands[0]),
            "ofm": addresses.feature_map(op.results[0]),
            "weights": addresses.buffer(weights),
            "scale_bias": addresses.buffer(bias),
        }
        # A layer streamed in depth slices: its first slice's (`depth_slice_commands`).
        if addresses.target.encodes_weights:
            streams = layer_streams(op, addresses.target)
            first = streams.slices[0]
            properties["encoding"] = npu.EncodedWeightsAttr(
                streams.traversal.name.lower(), first.weight_lengths, first.scale_lengths, streams.wide
            )
        return properties

    def convolution(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.conv2d` or `npu.depthwise_conv2d` with the layer's window.

        A depthwise layer with a channel multiplier is an `npu.conv2d` on a
        target that encodes weights (`runs_as_convolution`).
        """
        assert isinstance(op, quantized.Conv2dOp | quantized.DepthwiseConv2dOp)
        window = op.window()
        properties = {
            "kernel": int_array(window.kernel),
            "strides": int_array(window.strides),
            "dilations": int_array(window.dilations),
            "padding": int_array(window.padding),
        }
        depthwise = isinstance(op, quantized.DepthwiseConv2dOp) and not runs_as_convolution(op, self.addresses.target)
        return (npu.DepthwiseConv2dOp if depthwise else npu.Conv2dOp), self.weighted(op) | properties

    def fully_connected(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.fully_connected`: [N, K] ifm, [O, K] weights."""
        return npu.FullyConnectedOp, self.weighted(op)

    def pool(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.pool` of kind max or avg."""
        assert isinstance(op, quantized.MaxPool2dOp | quantized.AvgPool2dOp)
        window = op.window()
        return npu.PoolOp, {
            "kind": StringAttr("max" if isinstance(op, quantized.MaxPool2dOp) else "avg"),
            "ifm": self.addresses.feature_map(op.ifm),
            "ofm": self.addresses.feature_map(op.ofm),
            "kernel": int_array(window.kernel),
            "strides": int_array(window.strides),
            "padding": int_array(window.padding),
        }

    def binary(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.elementwise` add, sub or mul (TFLite semantics); inputs of lower rank are described
        with leading 1s (numpy broadcasting)."""
        assert isinstance(op, BINARY_OPS)
        ofm = self.addresses.feature_map(op.ofm)
        rank = len(ofm.shape_values())
        return npu.ElementwiseOp, {
            "kind": StringAttr(op.name.removeprefix("quantized.")),
            "ifm": self.addresses.ranked_feature_map(op.ifm, rank),
            "ifm2": self.addresses.ranked_feature_map(op.ifm2, rank),
            "ofm": ofm,
        }

    def lookup_activation(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.elementwise` adding the scalar 0 to the raw IFM, then looking the sum up in the op's table
        (`npuc.backend.lookup_tables`). The OFM is described with the IFM's zero point, so that the
        integer output stage (`ifm - zp + ofm zp`) hands the stored input value itself to the table."""
        ifm, ofm = self.addresses.feature_map(op.operands[0]), self.addresses.feature_map(op.results[0])
        ofm_type = ofm.element_type
        indexed = UniformQuantizedType(ofm_type.storage_type, [ofm_type.scale], [ifm.element_type.zero_point])
        return npu.ElementwiseOp, {
            "kind": StringAttr("add"),
            "ifm": ifm,
            "scalar": IntegerAttr(0, i32),
            "rescale": int_array((1, 0)),
            "rounding": StringAttr("half_up"),
            "ofm": _retyped(ofm, indexed),
            "lut": self.constants.table(activation_table(op)),
        }


_COMPUTE: dict[str, Callable[[LayerCommands, Operation], tuple[type[npu.ComputeOp], dict[str, Attribute]]]] = {
    CONV: LayerCommands.convolution,
    DEPTHWISE: LayerCommands.convolution,
    FULLY_CONNECTED: LayerCommands.fully_connected,
    MAX_POOL: LayerCommands.pool,
    AVG_POOL: LayerCommands.pool,
    ELEMENTWISE: LayerCommands.binary,
}
"""Command kind (`NpuOperator.command`) -> the method giving the NPU command and its properties."""


def _activation_bounds(op: Operation) -> tuple[int, int]:
    """(act_min, act_max) of a layer, as the quantized reference clamps: its OFM's range without a
    fused activation property (a lookup-table activation)."""
    if "activation" not in op.properties:
        ofm = quantized.quant_type(op.results[0])
        assert ofm is not None, "an NPU layer's result is quantized (verified)"
        return ofm.qmin, ofm.qmax
    low, high = activation_bounds(op)
    return int(low), int(high)


def _retyped(fm: npu.FeatureMapAttr, element_type: UniformQuantizedType) -> npu.FeatureMapAttr:
    """Feature map `fm` (the same bytes, wrap included) described with another quantization."""
    return npu.FeatureMapAttr(
        fm.region.data, fm.offset.data, fm.shape_values(), fm.stride_values(), element_type,
        fm.wrap.data, fm.wrap_offset.data,
    )


def _span(memory: npu.FeatureMapAttr | Attribute) -> tuple[str, int, int]:
    """(region, first byte, end) of a buffer, or of a feature map from its first element to past its last."""
    if isinstance(memory, npu.FeatureMapAttr):
        start = memory.offset.data
        last = sum((extent - 1) * stride for extent, stride in zip(memory.shape_values(), memory.stride_values()))
        return memory.region.data, start, start + last + memory.element_type.bits // 8
    assert isinstance(memory, npu.BufferAttr)
    return memory.region.data, memory.offset.data, memory.end


def _overlap(first: Attribute, second: Attribute) -> bool:
    """Whether two buffers or feature maps may share bytes."""
    (region, start, end), (other, other_start, other_end) = _span(first), _span(second)
    return region == other and start < other_end and other_start < end
