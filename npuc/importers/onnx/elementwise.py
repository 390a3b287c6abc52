"""Elementwise, activation, softmax, LRN, layer norm and reduction converters of the ONNX importer.

Elementwise ops work in whatever layout their input is held in (see
`layout`): unary ops keep it, broadcasting ops bring every operand to
the layout of their first full-rank activation operand. Variadic Sum, Mean,
Max and Min become chains of binary ops (Mean then multiplies by 1/n).
Softmax and Reduce* remap their ONNX axes through the input's layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import onnx
from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Operation, SSAValue

from npuc.dialects.common import LAYER_ATTR, BinaryBase, broadcast_shape, value_shape
from npuc.dialects.graph import (
    AddOp,
    ClipOp,
    DivOp,
    EluOp,
    GeluOp,
    HardSigmoidOp,
    HardSwishOp,
    LeakyReluOp,
    LrnOp,
    MaximumOp,
    MinimumOp,
    MulOp,
    PowOp,
    PReluOp,
    ReduceOp,
    ReluOp,
    RsqrtOp,
    SigmoidOp,
    SoftmaxOp,
    SqrtOp,
    SquaredDifferenceOp,
    SubOp,
    TanhOp,
)
from npuc.importers.onnx.layout import (
    broadcast_operands,
    f32_tensor,
    identity,
    permute,
    without_axes,
)
from npuc.importers.onnx.node import (
    Unsupported,
    float_param,
    ints_param,
    normalized_axes,
)

if TYPE_CHECKING:
    from npuc.importers.onnx.importer import OnnxGraph
    from npuc.importers.onnx.node import OnnxNode

Converter = Callable[["OnnxGraph", "OnnxNode"], None]


# -- unary --------------------------------------------------------------------


def _unary(make: Callable[[SSAValue, OnnxNode], Operation]) -> Converter:
    """A converter applying `make(value, node)` in the input's layout."""

    def convert(graph: OnnxGraph, node: OnnxNode) -> None:
        value, perm = graph.stored(node.inputs[0])
        graph.bind(node.outputs[0], graph.emit(make(value, node)).results[0], perm)

    return convert


def _gelu_approximation(node: OnnxNode) -> bool:
    """Whether a Gelu node (opset 20, or a fused pattern: `npuc.importers.onnx.gelu`) is the tanh form."""
    approximate = node.attrs.get("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise Unsupported(f"approximate '{approximate}' (ONNX defines 'none' and 'tanh')")
    return approximate == "tanh"


def _clip(value: SSAValue, node: OnnxNode, graph: OnnxGraph) -> ClipOp:
    lowest, highest = float(np.finfo(np.float32).min), float(np.finfo(np.float32).max)
    minimum = float_param(graph, node, 1, "min", lowest, "clip bound")
    maximum = float_param(graph, node, 2, "max", highest, "clip bound")
    return ClipOp(value, max(minimum, lowest), min(maximum, highest))


def convert_clip(graph: OnnxGraph, node: OnnxNode) -> None:
    """Clip -> graph.clip; bounds are attributes before opset 11, constant inputs after."""
    _unary(lambda value, node: _clip(value, node, graph))(graph, node)


def convert_identity(graph: OnnxGraph, node: OnnxNode) -> None:
    """Identity, inference-mode Dropout and Cast to float: the output is the input."""
    if any(graph.is_used(name) for name in node.outputs[1:]):
        raise Unsupported("the mask output is not supported")
    if node.op_type == "Cast" and node.int_attr("to", 0) != onnx.TensorProto.FLOAT:
        raise Unsupported("only casts to float of computed tensors are supported")
    training = node.op_type == "Dropout" and node.input(2)
    if training and bool(graph.require_constant(node, 2, "training_mode").reshape(-1)[0]):
        raise Unsupported("training-mode Dropout is not supported")
    value, perm = graph.stored(node.inputs[0])
    graph.bind(node.outputs[0], value, perm)


def _negated(graph: OnnxGraph, value: SSAValue) -> SSAValue:
    rank = len(value_shape(value))
    minus_one = graph.emit_constant(np.full((1,) * rank, -1.0, np.float32))
    return graph.emit(MulOp(value, minus_one, value.type)).results[0]


def convert_neg(graph: OnnxGraph, node: OnnxNode) -> None:
    """Neg -> graph.mul by -1."""
    value, perm = graph.stored(node.inputs[0])
    graph.bind(node.outputs[0], _negated(graph, value), perm)


def convert_abs(graph: OnnxGraph, node: OnnxNode) -> None:
    """Abs -> graph.maximum of x and -x."""
    value, perm = graph.stored(node.inputs[0])
    maximum = MaximumOp(value, _negated(graph, value), value.type)
    graph.bind(node.outputs[0], graph.emit(maximum).results[0], perm)


# -- broadcasting -------------------------------------------------------------


def _variadic(op_class: type[BinaryBase], mean: bool = False) -> Converter:
    """A converter folding its inputs left to right with a broadcasting binary op."""

    def convert(graph: OnnxGraph, node: OnnxNode) -> None:
        out_shape = graph.shape(node.outputs[0])
        values, perm = broadcast_operands(graph, [name for name in node.inputs if name], out_shape)
        result = values[0]
        for value in values[1:]:
            shape = broadcast_shape(value_shape(result), value_shape(value))
            op = op_class(result, value, f32_tensor(shape))
            result = graph.emit(op).results[0]
        if mean and len(values) > 1:
            factor = graph.emit_constant(np.full((1,) * len(out_shape), 1 / len(values), np.float32))
            result = graph.emit(MulOp(result, factor, result.type)).results[0]
        graph.bind(node.outputs[0], result, perm)

    return convert


def convert_prelu(graph: OnnxGraph, node: OnnxNode) -> None:
    """PRelu -> graph.prelu with the slope broadcast to the input's layout."""
    shape = graph.shape(node.inputs[0])
    (value, slope), perm = broadcast_operands(graph, node.inputs[:2], shape)
    graph.bind(node.outputs[0], graph.emit(PReluOp(value, slope, value.type)).results[0], perm)


# -- softmax, LRN and reductions ---------------------------------------------


def convert_softmax(graph: OnnxGraph, node: OnnxNode) -> None:
    """Softmax -> graph.softmax along the mapped axis.

    Before opset 13 Softmax normalises over all axes from `axis` on: unless
    those after `axis` are all 1, the input is flattened to 2-D first.
    """
    shape = graph.shape(node.inputs[0])
    rank = len(shape)
    axis = normalized_axes([node.int_attr("axis", -1 if graph.opset >= 13 else 1)], rank)[0]
    if graph.opset >= 13 or all(extent == 1 for extent in shape[axis + 1 :]):
        value, perm = graph.stored(node.inputs[0])
        softmax = SoftmaxOp(value, value.type, perm.index(axis))
        graph.bind(node.outputs[0], graph.emit(softmax).results[0], perm)
        return
    rows = int(np.prod(shape[:axis]))
    flat_type = f32_tensor((rows, int(np.prod(shape[axis:]))))
    flat = graph.reshape(graph.value(node.inputs[0], identity(rank)), flat_type)
    normalised = graph.emit(SoftmaxOp(flat, flat_type, 1)).results[0]
    graph.bind(node.outputs[0], graph.reshape(normalised, f32_tensor(shape)), identity(rank))


def convert_lrn(graph: OnnxGraph, node: OnnxNode) -> None:
    """LRN across channels of a 4-D feature map -> graph.lrn (on NHWC)."""
    rank = len(graph.shape(node.inputs[0]))
    if rank != 4:
        raise Unsupported(f"LRN of a rank-{rank} tensor is not supported (only 4-D)")
    value = graph.value(node.inputs[0])
    lrn = LrnOp(
        value, node.int_attr("size", 1), node.float_attr("alpha", 1e-4),
        node.float_attr("beta", 0.75), node.float_attr("bias", 1.0),
    )
    graph.bind(node.outputs[0], graph.emit(lrn).results[0])


def convert_layer_normalization(graph: OnnxGraph, node: OnnxNode) -> None:
    """LayerNormalization -> the graph ops TFLite computes a layer norm with.

    Over the ONNX axes from `axis` on: mean, squared difference from it,
    mean (the variance), add epsilon, rsqrt, then (x - mean) times that,
    times Scale, plus B; so `quantize` gives TFLite's int8 sequence (MEAN,
    SQUARED_DIFFERENCE, MEAN, ADD, RSQRT, SUB, MUL, MUL, ADD). Scale and B
    must be constants; the Mean and InvStdDev outputs are not supported.
    Each step but the last has its own layer name `<node>/<step>`, so that
    calibration gives it its own range.
    """
    if any(graph.is_used(name) for name in node.outputs[1:]):
        raise Unsupported("the Mean and InvStdDev outputs are not supported")
    shape = graph.shape(node.inputs[0])
    rank = len(shape)
    first = normalized_axes([node.int_attr("axis", -1)], rank)[0]
    value, perm = graph.stored(node.inputs[0])
    axes = [perm.index(axis) for axis in range(first, rank)]
    reduced_type = f32_tensor([1 if axis in axes else extent for axis, extent in enumerate(value_shape(value))])

    def emit(op: Operation, step: str) -> SSAValue:
        """Emit a step under its own layer name `<node>/<step>`: each is calibrated on its own."""
        result = graph.emit(op).results[0]
        op.attributes[LAYER_ATTR] = StringAttr(f"{node.name}/{step}")
        return result

    def constant(array: np.ndarray) -> SSAValue:
        full = np.asarray(array, np.float32).reshape((1,) * (rank - np.ndim(array)) + np.shape(array))
        return graph.emit_constant(full.transpose(perm))

    mean = emit(ReduceOp(value, reduced_type, "mean", axes), "mean")
    squares = emit(SquaredDifferenceOp(value, mean, value.type), "squared_difference")
    variance = emit(ReduceOp(squares, reduced_type, "mean", axes), "variance")
    epsilon = constant(np.full((1,) * rank, node.float_attr("epsilon", 1e-5), np.float32))
    shifted = emit(AddOp(variance, epsilon, reduced_type), "add_epsilon")
    normaliser = emit(RsqrtOp(shifted, reduced_type), "rsqrt")
    centred = emit(SubOp(value, mean, value.type), "centred")
    normalised = emit(MulOp(centred, normaliser, value.type), "normalised")
    scaled: MulOp | AddOp = MulOp(normalised, constant(graph.require_constant(node, 1, "Scale")), value.type)
    if node.input(2):
        bias = constant(graph.require_constant(node, 2, "B"))
        scaled = AddOp(emit(scaled, "scaled"), bias, value.type)
    result = graph.emit(scaled).results[0]
    graph.bind(node.outputs[0], result, perm)


def _reduce(kind: str) -> Converter:
    """A converter of Reduce<kind>: axes from the attribute or (newer opsets) the input."""

    def convert(graph: OnnxGraph, node: OnnxNode) -> None:
        shape = graph.shape(node.inputs[0])
        value, perm = graph.stored(node.inputs[0])
        axes = ints_param(graph, node, 1, "axes", "axes")
        if not axes:
            if node.int_attr("noop_with_empty_axes", 0):
                graph.bind(node.outputs[0], value, perm)
                return
            axes = list(range(len(shape)))
        axes = normalized_axes(axes, len(shape))
        out_perm = perm if node.int_attr("keepdims", 1) else without_axes(perm, axes)
        out_type = f32_tensor(permute(graph.shape(node.outputs[0]), out_perm))
        reduce = ReduceOp(value, out_type, kind, [perm.index(axis) for axis in axes])
        graph.bind(node.outputs[0], graph.emit(reduce).results[0], out_perm)

    return convert


CONVERTERS: dict[str, Converter] = {
    "Identity": convert_identity,
    "Dropout": convert_identity,
    "Cast": convert_identity,
    "Relu": _unary(lambda value, node: ReluOp(value)),
    "Clip": convert_clip,
    "Sigmoid": _unary(lambda value, node: SigmoidOp(value, value.type)),
    "Tanh": _unary(lambda value, node: TanhOp(value, value.type)),
    "HardSwish": _unary(lambda value, node: HardSwishOp(value, value.type)),
    "Sqrt": _unary(lambda value, node: SqrtOp(value, value.type)),
    "LeakyRelu": _unary(lambda value, node: LeakyReluOp(value, node.float_attr("alpha", 0.01))),
    "Elu": _unary(lambda value, node: EluOp(value, node.float_attr("alpha", 1.0))),
    "Gelu": _unary(lambda value, node: GeluOp(value, _gelu_approximation(node))),
    "HardSigmoid": _unary(
        lambda value, node: HardSigmoidOp(
            value, node.float_attr("alpha", 0.2), node.float_attr("beta", 0.5)
        )
    ),
    "Neg": convert_neg,
    "Abs": convert_abs,
    "Add": _variadic(AddOp),
    "Sub": _variadic(SubOp),
    "Mul": _variadic(MulOp),
    "Div": _variadic(DivOp),
    "Pow": _variadic(PowOp),
    "Max": _variadic(MaximumOp),
    "Min": _variadic(MinimumOp),
    "Sum": _variadic(AddOp),
    "Mean": _variadic(AddOp, mean=True),
    "PRelu": convert_prelu,
    "Softmax": convert_softmax,
    "LRN": convert_lrn,
    "LayerNormalization": convert_layer_normalization,
    "ReduceMean": _reduce("mean"),
    "ReduceSum": _reduce("sum"),
    "ReduceMax": _reduce("max"),
    "ReduceMin": _reduce("min"),
}
