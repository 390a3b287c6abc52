"""Matrix-product and normalisation converters of the ONNX importer.

Gemm and MatMul by a constant matrix become `graph.fully_connected` (weights
[O, K]); products of two computed tensors become `graph.batch_matmul`, with
Gemm's alpha, beta and C as `graph.mul`/`graph.add`. An inference-mode
BatchNormalization becomes a per-channel `graph.mul` and `graph.add`, which
graph-fold-scale folds into the producing conv or fully connected layer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from xdsl.ir import SSAValue

from npuc.dialects.graph import (
    AddOp,
    BatchMatMulOp,
    FullyConnectedOp,
    MulOp,
    TransposeOp,
)
from npuc.importers.onnx.layout import (
    broadcast_operands,
    f32_tensor,
    identity,
    is_fully_connected,
)
from npuc.importers.onnx.node import Invalid, Unsupported

if TYPE_CHECKING:
    from npuc.importers.onnx.importer import OnnxGraph
    from npuc.importers.onnx.node import OnnxNode


def optional_bias(graph: OnnxGraph, node: OnnxNode, index: int, channels: int) -> np.ndarray:
    """The per-output-channel bias input `index`, zeros when it is absent."""
    if not node.input(index):
        return np.zeros(channels, np.float32)
    bias = graph.require_constant(node, index, "bias")
    try:
        return np.broadcast_to(bias.reshape(-1) if bias.size == channels else bias, (1, channels))[0]
    except ValueError:
        raise Unsupported(f"bias of shape {list(bias.shape)} is not one value per output") from None


# -- fully connected ----------------------------------------------------------


def convert_gemm(graph: OnnxGraph, node: OnnxNode) -> None:
    """Gemm -> graph.fully_connected, or batch_matmul with mul/add for alpha, beta and C."""
    alpha, beta = node.float_attr("alpha", 1.0), node.float_attr("beta", 1.0)
    if is_fully_connected(graph, node):
        matrix = graph.require_constant(node, 1, "B")
        weights = matrix if node.int_attr("transB", 0) else matrix.T
        if alpha != 1.0:
            weights = weights * np.float32(alpha)
        bias = optional_bias(graph, node, 2, weights.shape[0]) * np.float32(beta)
        _emit_fully_connected(graph, node, weights, bias)
        return
    lhs = _transposed(graph, node.inputs[0], node.int_attr("transA", 0))
    rhs = _transposed(graph, node.inputs[1], node.int_attr("transB", 0))
    out_shape = graph.shape(node.outputs[0])
    product = graph.emit(BatchMatMulOp(lhs, rhs, f32_tensor(out_shape))).results[0]
    if alpha != 1.0:
        scale = graph.emit_constant(np.full((1, 1), alpha, np.float32))
        product = graph.emit(MulOp(product, scale, product.type)).results[0]
    if node.input(2) and beta != 0.0:
        c = graph.constant(node.input(2))
        if c is not None:
            addend = graph.emit_constant((c * np.float32(beta)).reshape((1,) * (2 - c.ndim) + c.shape))
        elif beta == 1.0:
            addend = broadcast_operands(graph, [node.input(2)], out_shape)[0][0]
        else:
            raise Unsupported("beta must be 1 when C is computed")
        product = graph.emit(AddOp(product, addend, product.type)).results[0]
    graph.bind(node.outputs[0], product)


def _transposed(graph: OnnxGraph, name: str, transpose: int) -> SSAValue:
    """The 2-D operand `name`, transposed when `transpose` is set."""
    array = graph.constant(name)
    if array is not None:
        return graph.emit_constant(array.T if transpose else array)
    value = graph.value(name)
    if not transpose:
        return value
    rows, columns = graph.shape(name)
    return graph.emit(TransposeOp(value, f32_tensor((columns, rows)), (1, 0))).results[0]


def convert_matmul(graph: OnnxGraph, node: OnnxNode) -> None:
    """MatMul -> graph.fully_connected for a constant matrix, else graph.batch_matmul."""
    if is_fully_connected(graph, node):
        matrix = graph.require_constant(node, 1, "the right operand")
        _emit_fully_connected(graph, node, matrix.T, np.zeros(matrix.shape[1], np.float32))
        return
    lhs_shape, rhs_shape = graph.shape(node.inputs[0]), graph.shape(node.inputs[1])
    out_shape = graph.shape(node.outputs[0])
    right = graph.constant(node.input(1))
    if right is not None and right.ndim == 2:
        # [..., K] x [K, O]: rows of the left operand through one fully connected layer
        rows = math.prod(lhs_shape[:-1])
        flat = graph.reshape(graph.value(node.inputs[0], identity(len(lhs_shape))),
                             f32_tensor((rows, lhs_shape[-1])))
        fc = FullyConnectedOp(flat, graph.emit_constant(right.T),
                              graph.emit_constant(np.zeros(right.shape[1], np.float32)),
                              f32_tensor((rows, right.shape[1])))
        result = graph.reshape(graph.emit(fc).results[0], f32_tensor(out_shape))
        graph.bind(node.outputs[0], result, identity(len(out_shape)))
        return
    # numpy promotes 1-D operands to a row (left) or a column (right) matrix
    lhs_2d = (1, *lhs_shape) if len(lhs_shape) == 1 else lhs_shape
    rhs_2d = (*rhs_shape, 1) if len(rhs_shape) == 1 else rhs_shape
    lhs = graph.reshape(graph.value(node.inputs[0], identity(len(lhs_shape))), f32_tensor(lhs_2d))
    rhs = graph.reshape(graph.value(node.inputs[1], identity(len(rhs_shape))), f32_tensor(rhs_2d))
    batch = np.broadcast_shapes(tuple(lhs_2d[:-2]), tuple(rhs_2d[:-2]))
    product_type = f32_tensor((*batch, lhs_2d[-2], rhs_2d[-1]))
    product = graph.emit(BatchMatMulOp(lhs, rhs, product_type)).results[0]
    graph.bind(node.outputs[0], graph.reshape(product, f32_tensor(out_shape)), identity(len(out_shape)))


def _emit_fully_connected(
    graph: OnnxGraph, node: OnnxNode, weights: np.ndarray, bias: np.ndarray
) -> None:
    source = node.inputs[0]
    k_layout = graph.k_layouts.get(source)
    if k_layout is not None:  # the input was flattened in its IR order: permute K to match
        feature_shape, order = k_layout
        outputs = weights.shape[0]
        weights = weights.reshape(outputs, *feature_shape).transpose(0, *(1 + axis for axis in order))
        weights = np.ascontiguousarray(weights).reshape(outputs, -1)
    output = node.outputs[0]
    op = FullyConnectedOp(graph.value(source), graph.emit_constant(weights),
                          graph.emit_constant(bias), graph.tensor_type(output))
    graph.bind(output, graph.emit(op).results[0])


# -- batch normalization ------------------------------------------------------


def _inference_mode(graph: OnnxGraph, node: OnnxNode) -> bool:
    """No training outputs are read and training_mode is off."""
    training_outputs = any(graph.is_used(name) for name in node.outputs[1:])
    return not training_outputs and not node.int_attr("training_mode", 0)


def _scale_and_shift(graph: OnnxGraph, node: OnnxNode) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (scale, shift) of an inference BN: y = x * scale + shift.

    A variance plus epsilon that is not positive (or NaN) has no square root
    to divide by: `Invalid`, naming the first such channel.
    """
    gamma, beta, mean, variance = (
        graph.require_constant(node, index, "scale, bias, mean and variance").astype(np.float64).reshape(-1)
        for index in range(1, 5)
    )
    denominator = variance + node.float_attr("epsilon", 1e-5)
    not_positive = np.flatnonzero(~(denominator > 0))
    if not_positive.size:
        channel = int(not_positive[0])
        raise Invalid(f"variance + epsilon is {denominator[channel]:g} in channel {channel}, not positive")
    scale = gamma / np.sqrt(denominator)
    return scale, beta - mean * scale


def convert_batch_norm(graph: OnnxGraph, node: OnnxNode) -> None:
    """BatchNormalization -> per-channel graph.mul and graph.add (graph-fold-scale folds them)."""
    if not _inference_mode(graph, node):
        raise Unsupported("training-mode BatchNormalization is not supported")
    if not node.int_attr("spatial", 1):
        raise Unsupported("spatial=0 is not supported")
    scale, shift = _scale_and_shift(graph, node)
    value, perm = graph.stored(node.inputs[0])
    rank = len(perm)
    channel_shape = (1, scale.size) + (1,) * (rank - 2)

    def per_channel(array: np.ndarray) -> SSAValue:
        return graph.emit_constant(array.reshape(channel_shape).transpose(perm))

    scaled = graph.emit(MulOp(value, per_channel(scale), value.type)).results[0]
    shifted = graph.emit(AddOp(scaled, per_channel(shift), value.type)).results[0]
    graph.bind(node.outputs[0], shifted, perm)


CONVERTERS = {
    "Gemm": convert_gemm,
    "MatMul": convert_matmul,
    "BatchNormalization": convert_batch_norm,
}
