"""Layout handling of the ONNX importer: NCHW tensors held as NHWC IR values.

Every 4-D ONNX tensor lives in the IR as its NHWC transpose; other tensors
keep their ONNX shape and row-major element order. The converters here are
the ones whose result depends on that element order: Flatten and Reshape
(which must reproduce ONNX's NCHW order) and Add (whose broadcasting aligns
shapes from the right in NCHW).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from xdsl.dialects.builtin import TensorType, f32
from xdsl.ir import SSAValue

from npuc.data import NCHW_TO_NHWC
from npuc.dialects.graph import AddOp
from npuc.importers.onnx_ops import Unsupported

if TYPE_CHECKING:
    from npuc.importers.onnx import OnnxGraph, OnnxNode


def f32_tensor(shape: Sequence[int]) -> TensorType:
    """`tensor<shape x f32>`."""
    return TensorType(f32, list(shape))


def nhwc_shape(onnx_shape: Sequence[int]) -> tuple[int, ...]:
    """The IR shape of an ONNX tensor: 4-D NCHW becomes NHWC, others are kept."""
    if len(onnx_shape) == 4:
        return tuple(onnx_shape[axis] for axis in NCHW_TO_NHWC)
    return tuple(onnx_shape)


def keeps_row_major_order(shape: Sequence[int], perm: Sequence[int]) -> bool:
    """Whether transposing `shape` by `perm` leaves the flat element order unchanged.

    True when the non-unit axes keep their relative order, so a reshape can
    stand in for the transpose.
    """
    return [axis for axis in perm if shape[axis] != 1] == [
        axis for axis in range(len(shape)) if shape[axis] != 1
    ]


def convert_add(graph: OnnxGraph, node: OnnxNode) -> None:
    """Add -> graph.add; a lower-rank operand of a 4-D sum is broadcast in NHWC."""
    output = node.outputs[0]
    rank = len(graph.shape(output))
    first, second = (_broadcast_operand(graph, name, rank) for name in node.inputs[:2])
    graph.bind(output, graph.emit(AddOp(first, second, graph.ir_type(output))).results[0])


def _broadcast_operand(graph: OnnxGraph, name: str, rank: int) -> SSAValue:
    """An Add operand as an IR value that broadcasts against the NHWC result.

    ONNX aligns shapes from the right ([C,1,1] against NCHW); the operand is
    first extended to 4-D with leading ones, then put in NHWC like the result.
    """
    shape = graph.shape(name)
    if rank != 4 or len(shape) == 4:
        return graph.value(name)
    full_shape = (1,) * (4 - len(shape)) + shape
    array = graph.constant(name)
    if array is not None:
        return graph.emit_constant(array.reshape(full_shape).transpose(NCHW_TO_NHWC))
    return graph.from_row_major(graph.value(name), full_shape)


def convert_flatten(graph: OnnxGraph, node: OnnxNode) -> None:
    """Flatten -> graph.reshape to [prod(dims[:axis]), prod(dims[axis:])]."""
    in_shape = graph.shape(node.inputs[0])
    axis = int(node.attrs.get("axis", 1))  # type: ignore[arg-type]
    if axis < 0:
        axis += len(in_shape)
    _emit_reshape(graph, node, (math.prod(in_shape[:axis]), math.prod(in_shape[axis:])))


def convert_reshape(graph: OnnxGraph, node: OnnxNode) -> None:
    """Reshape by a constant shape -> graph.reshape (0 copies a dim, -1 is inferred)."""
    in_shape = graph.shape(node.inputs[0])
    target = [int(v) for v in graph.require_constant(node, 1, "the shape").reshape(-1)]
    if node.attrs.get("allowzero", 0) and 0 in target:
        raise Unsupported("allowzero=1 with a zero dimension is not supported")
    target = [in_shape[i] if extent == 0 else extent for i, extent in enumerate(target)]
    if target.count(-1) > 1:
        raise Unsupported("the shape has more than one -1")
    if -1 in target:
        known = math.prod(extent for extent in target if extent != -1)
        target[target.index(-1)] = math.prod(in_shape) // known if known else 0
    _emit_reshape(graph, node, tuple(target))


def _emit_reshape(graph: OnnxGraph, node: OnnxNode, out_shape: tuple[int, ...]) -> None:
    """Reshape with ONNX's element order, undoing the NHWC layout of 4-D tensors.

    A feature map flattened to [N, C*H*W] whose only users are fully connected
    layers with constant weights stays in NHWC order; those layers permute
    their weights' K axis instead (exact, and no transpose to run).
    """
    source, output = node.inputs[0], node.outputs[0]
    in_shape = graph.shape(source)
    if (
        len(in_shape) == 4
        and not keeps_row_major_order(in_shape, NCHW_TO_NHWC)
        and out_shape == (in_shape[0], math.prod(in_shape[1:]))
        and graph.feeds_only(output, lambda user, position: _is_fc_input(graph, user, position))
    ):
        _, channels, height, width = in_shape
        nchw_index = np.arange(channels * height * width).reshape(channels, height, width)
        graph.k_orders[output] = nchw_index.transpose(1, 2, 0).reshape(-1)
        graph.bind(output, graph.reshape(graph.value(source), f32_tensor(out_shape)))
    else:
        graph.bind(output, graph.from_row_major(graph.row_major(source), out_shape))


def _is_fc_input(graph: OnnxGraph, user: OnnxNode, position: int) -> bool:
    """Whether `user` reads its input `position` as the ifm of a constant-weight FC."""
    return (
        position == 0
        and user.op_type in ("Gemm", "MatMul")
        and not user.attrs.get("transA", 0)
        and graph.constant(user.input(1)) is not None
    )
