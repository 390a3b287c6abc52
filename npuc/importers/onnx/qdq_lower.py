"""Graph IR of a stripped QDQ model -> quantized IR with the model's own parameters.

`qdq.strip_qdq` recorded, per ONNX tensor, the parameters of its
QuantizeLinear (and, per constant, its stored integers); the float importer
built graph IR from what was left. This module rewrites each graph op into
its quantized counterpart in place of the float one, typing every result with
the recorded parameters of its tensor:

- conv, depthwise and fully connected take their int8 weights from the
  DequantizeLinear'd initializer (per-axis scales follow the output channel
  into the IR's weight axis) and their int32 bias as stored (a missing bias
  is zero);
- other constant operands (a BatchNormalization's Mul/Add factors) take their
  recorded parameters, or their own range when they were never quantized;
- ops that only move values keep their input's parameters (a requantize
  follows when the model quantized the result differently), as do IR-only
  layout conversions;
- softmax takes the model's output parameters (onnxruntime's QLinearSoftmax).

The module is marked `quantized.rounding = "onnxruntime"`: the quantized
interpreter then rounds as onnxruntime's CPU kernels do, which define a QDQ
model's results (the NPU path keeps TFLite's fixed-point arithmetic).

A float op whose result has no QuantizeLinear cannot be represented (the
quantized dialect does not mix float and integer ops): it is reported as an
`UnsupportedOperatorError` naming the node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    i32,
)
from xdsl.dialects.func import ReturnOp
from xdsl.ir import Operation, SSAValue
from xdsl.utils.exceptions import VerifyException

if TYPE_CHECKING:
    from npuc.importers.onnx.importer import OnnxGraph

from npuc.dialects import graph, quantized
from npuc.dialects.common import constant_value, layer_name, value_shape
from npuc.dialects.quantized import (
    ONNXRUNTIME_ROUNDING,
    ROUNDING_ATTRIBUTE,
    UniformQuantizedType,
    quant_type,
    storage_of,
)
from npuc.dialects.quantized_layers import QuantizedConvLike
from npuc.errors import ModelVerificationError, UnsupportedOperatorError
from npuc.importers.common import first_line
from npuc.importers.onnx.node import OnnxNode
from npuc.importers.onnx.qdq import Activation, QdqPlan, QuantizedConstant
from npuc.ir import main_function
from npuc.quantization.params import activation_type, quantize_bias
from npuc.reference import fixed_point

_CONV_LIKE: dict[type[Operation], type[QuantizedConvLike]] = {
    graph.Conv2dOp: quantized.Conv2dOp,
    graph.DepthwiseConv2dOp: quantized.DepthwiseConv2dOp,
    graph.FullyConnectedOp: quantized.FullyConnectedOp,
}
_RENAMED = {"graph.sigmoid": "quantized.logistic"}
_MOVERS = (graph.ReshapeOp, graph.TransposeOp)
_QUANTIZED_OPS: dict[str, type[Operation]] = {op.name: op for op in quantized.Quantized.operations}


class Unrepresentable(Exception):
    """A graph op that has no quantized form here; the message is the reason."""


def _int8_type(activation: Activation) -> UniformQuantizedType:
    return UniformQuantizedType(storage_of(8), [activation.scale], [activation.zero_point])


def _dense(array: np.ndarray, element_type) -> DenseIntOrFPElementsAttr:
    return DenseIntOrFPElementsAttr(
        TensorType(element_type, list(array.shape)), BytesAttr(np.ascontiguousarray(array).tobytes())
    )


class QdqLowering:
    """Rewrites @main's graph ops into quantized ops typed by a `QdqPlan`."""

    def __init__(self, module: ModuleOp, onnx_graph: OnnxGraph, plan: QdqPlan):
        self.block = main_function(module).body.block
        self.plan = plan
        self.nodes: dict[str, OnnxNode] = {node.name: node for node in onnx_graph.nodes}
        self.names: dict[SSAValue, str] = {value: name for name, value in onnx_graph.values.items()}
        self.values: dict[SSAValue, SSAValue] = {}

    # -- parameters ------------------------------------------------------

    def recorded(self, value: SSAValue) -> Activation | None:
        """The parameters recorded for `value`'s tensor, looking through IR-only moves."""
        while value not in self.names:
            users = list(value.uses)
            if len(users) != 1 or not isinstance(users[0].operation, _MOVERS):
                return None
            value = users[0].operation.results[0]
        return self.plan.activations.get(self.names[value])

    def result_type(self, op: Operation) -> UniformQuantizedType:
        activation = self.recorded(op.results[0])
        if activation is None:
            raise Unrepresentable("its result has no QuantizeLinear (a float op outside QDQ)")
        return _int8_type(activation)

    def onnx_constant(self, op: Operation, position: int) -> QuantizedConstant | None:
        """The quantized constant ONNX input `position` of `op`'s node, if it is one."""
        node = self.nodes.get(layer_name(op))
        if node is None or position >= len(node.inputs):
            return None
        return self.plan.constants.get(node.inputs[position])

    # -- operands --------------------------------------------------------

    def insert(self, new_op: Operation, before: Operation) -> Operation:
        self.block.insert_op_before(new_op, before)
        return new_op

    def operand(self, value: SSAValue, user: Operation) -> SSAValue:
        """The quantized form of an activation operand; constants are quantized here."""
        if value in self.values:
            return self.values[value]
        owner = value.owner
        if not isinstance(owner, graph.ConstantOp):
            raise Unrepresentable("an operand is not quantized")
        data = constant_value(owner.value)
        stored_constants = [
            c for c in (self.onnx_constant(user, i) for i in range(2)) if c is not None and c.axis is None
        ]
        if len(stored_constants) == 1:
            (stored,) = stored_constants
            zero_point = int(stored.zero_points[0]) + (-128 if stored.data.dtype == np.uint8 else 0)
            qtype = _int8_type(Activation(float(stored.scales[0]), zero_point))
        else:
            qtype = activation_type(float(data.min()), float(data.max()))
        integers = fixed_point.quantize(data, qtype.scale, qtype.zero_point, qtype.qmin, qtype.qmax)
        constant = quantized.ConstantOp(_dense(integers, storage_of(8)), TensorType(qtype, list(data.shape)))
        constant.attributes.update(owner.attributes)
        return self.insert(constant, user).results[0]

    def weights(self, op: Operation, axis: int) -> tuple[SSAValue, np.ndarray]:
        """The int8 weights constant of a conv-like op (IR layout) and its scales."""
        stored = self.onnx_constant(op, 1)
        if stored is None:
            raise Unrepresentable("its weights are not quantized (no DequantizeLinear)")
        if np.any(stored.zero_points != 0) or stored.data.dtype != np.int8:
            raise Unrepresentable("weights must be int8 with zero points 0 (symmetric)")
        weights = _float_constant(op.operands[1])
        channels = weights.shape[axis]
        scales = np.broadcast_to(stored.scales.astype(np.float32), (channels,))
        integers = fixed_point.quantize(weights, scales, 0, -128, 127, axis=axis)
        weights_type = UniformQuantizedType(
            storage_of(8), [float(s) for s in scales], [0] * channels, axis
        )
        constant = quantized.ConstantOp(
            _dense(integers, storage_of(8)), TensorType(weights_type, list(integers.shape))
        )
        return self.insert(constant, op).results[0], scales

    def bias(self, op: Operation, ifm_scale: float, scales: np.ndarray) -> SSAValue:
        """int32 bias: the stored integers of a quantized bias, else the float one quantized."""
        stored = self.onnx_constant(op, 2)
        if stored is not None and stored.data.dtype == np.int32:
            integers = stored.data.reshape(-1).astype(np.int32)
        else:
            bias = _float_constant(op.operands[2])
            integers = quantize_bias(bias, ifm_scale, scales)
        return self.insert(quantized.ConstantOp(_dense(integers, i32)), op).results[0]

    # -- ops -------------------------------------------------------------

    def rebuild(
        self, op: Operation, target: type[Operation], operands: Sequence[SSAValue],
        element_type: UniformQuantizedType,
    ) -> Operation:
        """`op` as a `target` op on quantized operands: properties and attributes kept."""
        new_op = target.create(
            operands=list(operands),
            result_types=[
                TensorType(element_type, value_shape(result))
                for result in op.results
            ],
            properties=dict(op.properties),
            attributes=dict(op.attributes),
        )
        return self.insert(new_op, op)

    def requantize(self, op: Operation, new_op: Operation, wanted: UniformQuantizedType) -> Operation:
        """`new_op`, followed by a requantize to `wanted` when its result has other parameters."""
        if quant_type(new_op.results[0]) == wanted:
            return new_op
        shape = value_shape(new_op.results[0])
        requantize = quantized.RequantizeOp.create(
            operands=[new_op.results[0]], result_types=[TensorType(wanted, shape)],
            attributes=dict(op.attributes),
        )
        return self.insert(requantize, op)

    def lower(self, op: Operation) -> Operation:
        """Insert the quantized form of graph op `op`; the op whose results replace its own."""
        if type(op) in _CONV_LIKE:
            conv = _CONV_LIKE[type(op)]
            ifm = self.operand(op.operands[0], op)
            ifm_type = quant_type(ifm)
            assert ifm_type is not None
            weights, scales = self.weights(op, conv.WEIGHT_AXIS)
            bias = self.bias(op, ifm_type.scale, scales)
            return self.rebuild(op, conv, [ifm, weights, bias], self.result_type(op))
        operands = [self.operand(value, op) for value in op.operands]
        if isinstance(op, graph.ReluOp | graph.ClipOp):
            return self.requantize(op, self.clamp(op, operands[0]), self.result_type(op))
        if isinstance(op, graph.SoftmaxOp):  # onnxruntime's QLinearSoftmax: any output parameters
            return self.rebuild(op, quantized.SoftmaxOp, operands, self.result_type(op))
        target = _QUANTIZED_OPS.get(_RENAMED.get(op.name, op.name.replace("graph.", "quantized.", 1)))
        if target is None or target is quantized.ExternalOp:
            raise Unrepresentable("no quantized form")
        if issubclass(target, quantized.SameQuantizationLayerOp):
            recorded = self.recorded(op.results[0])
            source = quant_type(operands[0])
            assert source is not None
            new_op = self.rebuild(op, target, operands, source)
            if isinstance(op, graph.PadOp):
                new_op.properties["value"] = IntegerAttr(self.stored_value(op.fill_value(), operands[0]), 64)
            return new_op if recorded is None else self.requantize(op, new_op, _int8_type(recorded))
        return self.rebuild(op, target, operands, self.result_type(op))

    def stored_value(self, value: float, like: SSAValue) -> int:
        """`value` quantized with the parameters of `like`."""
        qtype = quant_type(like)
        assert qtype is not None
        return int(fixed_point.quantize(np.float32(value), qtype.scale, qtype.zero_point, qtype.qmin, qtype.qmax))

    def clamp(self, op: graph.ReluOp | graph.ClipOp, ifm: SSAValue) -> Operation:
        """A standalone ReLU or Clip as `quantized.clamp` on the input's parameters."""
        qtype = quant_type(ifm)
        assert qtype is not None
        bounds = [qtype.qmin, qtype.qmax]
        limits = (0.0, None) if isinstance(op, graph.ReluOp) else (op.min.value.data, op.max.value.data)
        for index, bound in enumerate(limits):
            if bound is not None:
                bounds[index] = self.stored_value(bound, ifm)
        new_op = quantized.ClampOp(ifm, bounds[0], bounds[1])
        new_op.attributes.update(op.attributes)
        return self.insert(new_op, op)


def _float_constant(value: SSAValue) -> np.ndarray:
    """The data of a float operand that ONNX gave as a constant (weights, bias)."""
    owner = value.owner
    assert isinstance(owner, graph.ConstantOp), "a recorded constant is imported as a graph.constant"
    return constant_value(owner.value)


def lower_to_quantized(
    module: ModuleOp, onnx_graph: OnnxGraph, plan: QdqPlan, source: str
) -> ModuleOp:
    """Rewrite the graph IR `module` (built by `onnx_graph`) into quantized IR, in place.

    Raises `UnsupportedOperatorError` listing every node that cannot be
    represented, before the module is returned.
    """
    lowering = QdqLowering(module, onnx_graph, plan)
    block = lowering.block
    first = block.first_op
    assert first is not None
    problems: list[tuple[str, str, str]] = []
    for argument in block.args:
        activation = lowering.recorded(argument)
        if activation is None:
            problems.append((lowering.names.get(argument, "input"), "input", "not followed by a QuantizeLinear"))
            continue
        shape = value_shape(argument)
        quantize = quantized.QuantizeOp(argument, TensorType(_int8_type(activation), shape))
        lowering.values[argument] = lowering.insert(quantize, first).results[0]
    old_ops = list(block.ops)
    for op in old_ops:
        if isinstance(op, ReturnOp):
            if not problems:
                dequantized = [
                    lowering.insert(quantized.DequantizeOp(lowering.values[value]), op).results[0]
                    for value in op.operands
                ]
                op.operands = dequantized
        elif op.dialect_name() == "graph" and not isinstance(op, graph.ConstantOp):
            try:
                new_op = lowering.lower(op)
            except Unrepresentable as reason:
                node = lowering.nodes.get(layer_name(op))
                problems.append((layer_name(op), node.op_type if node else op.name, str(reason)))
                continue
            for old, new in zip(op.results, new_op.results):
                lowering.values[old] = new
    if problems:
        raise UnsupportedOperatorError(source, problems)
    for op in reversed(old_ops):
        if op.dialect_name() == "graph":
            block.erase_op(op)
    module.attributes[ROUNDING_ATTRIBUTE] = StringAttr(ONNXRUNTIME_ROUNDING)
    try:
        module.verify()
    except VerifyException as error:
        raise ModelVerificationError(f"{source}: {first_line(error)}") from None
    return module
