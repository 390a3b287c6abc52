"""Layout handling of the ONNX importer: which IR layout holds each ONNX tensor.

Every ONNX activation is held in the IR as a transpose of itself: the IR value
of tensor `x` is `x.transpose(perm)` for a per-tensor `perm` the importer
records (`OnnxGraph.layout`). Feature-map ops need NCHW tensors in NHWC,
their *canonical* layout (`canonical_perm`: (0, 2, 3, 1) for rank 4, the
identity otherwise); other ops work in whatever layout their input has and
remap their axes through `perm`. Layouts are converted lazily, only where a
consumer needs a different one, so:

- a Transpose node emits nothing: its output is the same IR value under a
  composed permutation, and the NHWC<->NCHW Transpose pairs of tf2onnx
  exports cancel;
- reshapes (Reshape, Flatten, Squeeze, Unsqueeze) choose an output layout
  with the input's element order when one exists, so no transpose is needed;
- a flatten feeding only fully connected layers keeps the NHWC order and
  those layers permute their weights instead (`OnnxGraph.k_layouts`).

The converters here are the ones whose result depends on element order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from xdsl.dialects.builtin import Float32Type, TensorType, f32
from xdsl.ir import SSAValue

from npuc.data import NCHW_TO_NHWC
from npuc.importers.onnx.node import Invalid, Unsupported, ints_param, normalized_axes

if TYPE_CHECKING:
    from npuc.importers.onnx.importer import OnnxGraph
    from npuc.importers.onnx.node import OnnxNode

Perm = tuple[int, ...]
"""IR value = ONNX tensor.transpose(perm)."""


def f32_tensor(shape: Sequence[int]) -> TensorType[Float32Type]:
    """`tensor<shape x f32>`."""
    return TensorType(f32, list(shape))


def identity(rank: int) -> Perm:
    """The layout that keeps the ONNX shape and order."""
    return tuple(range(rank))


def canonical_perm(rank: int) -> Perm:
    """The layout feature-map ops read: NCHW as NHWC for rank 4, row-major otherwise."""
    return tuple(NCHW_TO_NHWC) if rank == 4 else identity(rank)


def permute(shape: Sequence[int], perm: Perm) -> tuple[int, ...]:
    """The IR shape of an ONNX shape held in layout `perm`."""
    return tuple(shape[axis] for axis in perm)


def relayout_perm(stored: Perm, target: Perm) -> Perm:
    """The transpose taking a value in layout `stored` to layout `target`."""
    return tuple(stored.index(axis) for axis in target)


def keeps_row_major_order(shape: Sequence[int], perm: Sequence[int]) -> bool:
    """Whether transposing `shape` by `perm` leaves the flat element order unchanged.

    True when the non-unit axes keep their relative order, so a reshape can
    stand in for the transpose.
    """
    return [axis for axis in perm if shape[axis] != 1] == [
        axis for axis in range(len(shape)) if shape[axis] != 1
    ]


def same_element_order(
    shape: Sequence[int], perm: Perm, other_shape: Sequence[int], other_perm: Perm
) -> bool:
    """Whether two layouts of row-major-equal ONNX tensors hold their elements in one order.

    Then one IR value is a plain reshape of the other.
    """
    if keeps_row_major_order(shape, perm) and keeps_row_major_order(other_shape, other_perm):
        return True
    flat = np.arange(math.prod(shape), dtype=np.int64)
    return bool(
        np.array_equal(
            flat.reshape(shape).transpose(perm).reshape(-1),
            flat.reshape(other_shape).transpose(other_perm).reshape(-1),
        )
    )


def without_axes(perm: Perm, axes: Sequence[int]) -> Perm:
    """The layout of a tensor held in `perm` once its ONNX `axes` are dropped.

    The IR keeps the other axes in their order, so a reshape gives it.
    """
    return tuple(axis - sum(dropped < axis for dropped in axes) for axis in perm if axis not in axes)


# -- operands of broadcasting ops ---------------------------------------------


def broadcast_operands(
    graph: OnnxGraph, names: Sequence[str], out_shape: Sequence[int]
) -> tuple[list[SSAValue], Perm]:
    """IR values of broadcasting operands, all in one layout, and that layout.

    ONNX aligns shapes from the right; each operand is first extended to the
    result's rank with leading ones, then held in the layout of the first
    activation operand of full rank (the canonical one when there is none).
    """
    rank = len(out_shape)
    perm = next(
        (
            graph.layout(name)
            for name in names
            if graph.constant(name) is None and len(graph.shape(name)) == rank
        ),
        canonical_perm(rank),
    )
    values = []
    for name in names:
        shape = graph.shape(name)
        full_shape = (1,) * (rank - len(shape)) + tuple(shape)
        array = graph.constant(name)
        if array is not None:
            values.append(graph.emit_constant(array.reshape(full_shape).transpose(perm)))
        elif len(shape) == rank:
            values.append(graph.value(name, perm))
        else:
            row_major = graph.value(name, identity(len(shape)))
            if keeps_row_major_order(full_shape, perm):
                values.append(graph.reshape(row_major, f32_tensor(permute(full_shape, perm))))
            else:
                extended = graph.reshape(row_major, f32_tensor(full_shape))
                values.append(graph.relayout(extended, full_shape, identity(rank), perm))
    return values, perm


# -- layout-only ops ----------------------------------------------------------


def convert_transpose(graph: OnnxGraph, node: OnnxNode) -> None:
    """Transpose: no op, the output is the input's IR value under a composed layout."""
    source, output = node.inputs[0], node.outputs[0]
    rank = len(graph.shape(source))
    order = tuple(node.ints_attr("perm") or reversed(range(rank)))
    if sorted(order) != list(range(rank)):
        raise Invalid(f"perm {list(order)} is not a permutation of the {rank} axes")
    value, perm = graph.stored(source)
    graph.bind(output, value, tuple(order.index(axis) for axis in perm))


def convert_flatten(graph: OnnxGraph, node: OnnxNode) -> None:
    """Flatten -> graph.reshape to [prod(dims[:axis]), prod(dims[axis:])]."""
    in_shape = graph.shape(node.inputs[0])
    axis = node.int_attr("axis", 1)
    if axis < 0:
        axis += len(in_shape)
    emit_reshape(graph, node, (math.prod(in_shape[:axis]), math.prod(in_shape[axis:])))


def convert_reshape(graph: OnnxGraph, node: OnnxNode) -> None:
    """Reshape by a constant shape -> graph.reshape (0 copies a dim, -1 is inferred)."""
    in_shape = graph.shape(node.inputs[0])
    target = [int(v) for v in graph.require_constant(node, 1, "the shape").reshape(-1)]
    if node.int_attr("allowzero", 0) and 0 in target:
        raise Unsupported("allowzero=1 with a zero dimension is not supported")
    target = [in_shape[i] if extent == 0 else extent for i, extent in enumerate(target)]
    if -1 in target:
        known = math.prod(extent for extent in target if extent != -1)
        target[target.index(-1)] = math.prod(in_shape) // known if known else 0
    emit_reshape(graph, node, tuple(target), (channels_last(len(target)),))


def channels_last(rank: int) -> Perm:
    """The layout holding axis 1 (channels) last: a feature map [N, C, H, W] flattened to
    [N, C, H*W] keeps its NHWC element order as [N, H*W, C] (a ViT's patch tokens)."""
    return (0, *range(2, rank), 1) if rank >= 3 else identity(rank)


def convert_squeeze(graph: OnnxGraph, node: OnnxNode) -> None:
    """Squeeze -> graph.reshape dropping unit axes (attribute or input `axes`)."""
    in_shape = graph.shape(node.inputs[0])
    axes = ints_param(graph, node, 1, "axes", "axes")
    if axes is None:
        squeezed = [axis for axis, extent in enumerate(in_shape) if extent == 1]
    else:
        squeezed = normalized_axes(axes, len(in_shape))
    _, perm = graph.stored(node.inputs[0])
    out_shape = tuple(extent for axis, extent in enumerate(in_shape) if axis not in squeezed)
    emit_reshape(graph, node, out_shape, (without_axes(perm, squeezed),))


def convert_unsqueeze(graph: OnnxGraph, node: OnnxNode) -> None:
    """Unsqueeze -> graph.reshape inserting unit axes (attribute or input `axes`)."""
    in_shape = graph.shape(node.inputs[0])
    axes = ints_param(graph, node, 1, "axes", "axes") or []
    rank = len(in_shape) + len(axes)
    inserted = normalized_axes(axes, rank)
    kept = [axis for axis in range(rank) if axis not in inserted]
    out_shape = [1] * rank
    for axis, extent in zip(kept, in_shape):
        out_shape[axis] = extent
    _, perm = graph.stored(node.inputs[0])
    derived = tuple(kept[axis] for axis in perm) + tuple(sorted(inserted))
    emit_reshape(graph, node, tuple(out_shape), (derived,))


def emit_reshape(
    graph: OnnxGraph, node: OnnxNode, out_shape: tuple[int, ...], candidates: Sequence[Perm] = ()
) -> None:
    """Bind the node's output to its input reshaped to `out_shape` in ONNX element order.

    The output takes the first layout among the canonical, the row-major one
    and `candidates` whose element order equals the input's IR order, so a
    single `graph.reshape` suffices; otherwise the input is put in row-major
    order first. A feature map flattened to [N, rest] whose only users are
    fully connected layers with constant weights keeps its IR order: those
    layers permute their weights' K axis instead (`OnnxGraph.k_layouts`).
    """
    source, output = node.inputs[0], node.outputs[0]
    in_shape = graph.shape(source)
    value, perm = graph.stored(source)
    rank = len(out_shape)
    for out_perm in (canonical_perm(rank), identity(rank), *candidates):
        if same_element_order(in_shape, perm, out_shape, out_perm):
            result = graph.reshape(value, f32_tensor(permute(out_shape, out_perm)))
            graph.bind(output, result, out_perm)
            return
    if (
        perm[0] == 0
        and out_shape == (in_shape[0], math.prod(in_shape[1:]))
        and graph.feeds_only(output, lambda user, position: _is_fc_input(graph, user, position))
    ):
        graph.k_layouts[output] = (tuple(in_shape[1:]), tuple(axis - 1 for axis in perm[1:]))
        graph.bind(output, graph.reshape(value, f32_tensor(out_shape)), identity(rank))
        return
    row_major = graph.value(source, identity(len(in_shape)))
    graph.bind(output, graph.reshape(row_major, f32_tensor(out_shape)), identity(rank))


def is_fully_connected(graph: OnnxGraph, node: OnnxNode) -> bool:
    """Whether a Gemm/MatMul node becomes one `graph.fully_connected`.

    That needs a constant 2-D right operand, a 2-D left one that is not
    transposed, and (Gemm) a C that is absent or one constant per output.
    """
    matrix = graph.constant(node.input(1))
    if matrix is None or matrix.ndim != 2 or len(graph.shape(node.inputs[0])) != 2:
        return False
    if node.op_type == "MatMul":
        return True
    outputs = matrix.shape[0] if node.int_attr("transB", 0) else matrix.shape[1]
    c = graph.constant(node.input(2)) if node.input(2) else np.zeros(())
    per_output = c is not None and (c.ndim == 0 or (c.size == c.shape[-1] and c.size in (1, outputs)))
    return not node.int_attr("transA", 0) and per_output


def _is_fc_input(graph: OnnxGraph, user: OnnxNode, position: int) -> bool:
    """Whether `user` reads its input `position` as the ifm of a `graph.fully_connected`."""
    return position == 0 and user.op_type in ("Gemm", "MatMul") and is_fully_connected(graph, user)


RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")
"""Operators that only reshape: their input is best held in row-major order."""

CONVERTERS = {
    "Transpose": convert_transpose,
    "Flatten": convert_flatten,
    "Reshape": convert_reshape,
    "Squeeze": convert_squeeze,
    "Unsqueeze": convert_unsqueeze,
}
