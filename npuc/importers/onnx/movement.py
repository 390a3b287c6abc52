"""Data-movement converters of the ONNX importer.

Concat, Split, Slice, Pad and Gather (of a computed tensor by constant
indices) work in their input's layout and remap their ONNX axes through it
(see `layout`). Resize, Upsample, DepthToSpace and SpaceToDepth act on
NHWC feature maps. Parameters that moved from attributes to inputs across
opsets are read in both forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from xdsl.ir import SSAValue

from npuc.dialects.graph import (
    ConcatOp,
    DepthToSpaceOp,
    PadOp,
    ResizeOp,
    SliceOp,
    SpaceToDepthOp,
    SplitOp,
)
from npuc.dialects.movement import COORDINATE_MODES
from npuc.importers.onnx.layout import (
    Perm,
    broadcast_operands,
    f32_tensor,
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


def convert_concat(graph: OnnxGraph, node: OnnxNode) -> None:
    """Concat -> graph.concat along the mapped axis (empty inputs dropped)."""
    out_shape = graph.shape(node.outputs[0])
    axis = normalized_axes([node.int_attr("axis", 0)], len(out_shape))[0]
    names = [name for name in node.inputs if name and graph.shape(name)[axis] != 0]
    values, perm = broadcast_operands(graph, names, out_shape)
    concat = ConcatOp(values, graph.tensor_type(node.outputs[0], perm), perm.index(axis))
    graph.bind(node.outputs[0], graph.emit(concat).results[0], perm)


def convert_split(graph: OnnxGraph, node: OnnxNode) -> None:
    """Split -> graph.split along the mapped axis; sizes from `split` (attribute or input)."""
    shape = graph.shape(node.inputs[0])
    axis = normalized_axes([node.int_attr("axis", 0)], len(shape))[0]
    value, perm = graph.stored(node.inputs[0])
    pieces = [graph.shape(name) for name in node.outputs if name]
    if len(pieces) != len(node.outputs):
        sizes = ints_param(graph, node, 1, "split", "split sizes") or _even_split(
            shape[axis], len(node.outputs)
        )
        pieces = [tuple(size if i == axis else extent for i, extent in enumerate(shape)) for size in sizes]
    types = [f32_tensor(permute(piece, perm)) for piece in pieces]
    split = graph.emit(SplitOp(value, types, perm.index(axis)))
    for name, result in zip(node.outputs, split.results):
        if name:
            graph.bind(name, result, perm)


def _even_split(extent: int, count: int) -> list[int]:
    size = -(-extent // count)
    return [min(size, extent - index * size) for index in range(count)]


def convert_slice(graph: OnnxGraph, node: OnnxNode) -> None:
    """Slice with constant starts/ends/axes/steps -> graph.slice in the input's layout."""
    shape = graph.shape(node.inputs[0])
    rank = len(shape)
    starts = ints_param(graph, node, 1, "starts", "starts") or []
    ends = ints_param(graph, node, 2, "ends", "ends") or []
    axes = normalized_axes(ints_param(graph, node, 3, "axes", "axes") or range(len(starts)), rank)
    steps = ints_param(graph, node, 4, "steps", "steps") or [1] * len(starts)
    begin, end, stride = [0] * rank, list(shape), [1] * rank
    for first, last, axis, step in zip(starts, ends, axes, steps):
        begin[axis], end[axis], stride[axis] = _slice_bounds(first, last, step, shape[axis])
    value, perm = graph.stored(node.inputs[0])
    result = _slice(graph, value, perm, graph.shape(node.outputs[0]), begin, end, stride)
    graph.bind(node.outputs[0], result, perm)


def _slice_bounds(first: int, last: int, step: int, extent: int) -> tuple[int, int, int]:
    """ONNX's clamping of one axis' slice to graph.slice's [begin, end) with stride."""
    if step == 0:
        raise Unsupported("a slice step of 0 is invalid")
    first += extent if first < 0 else 0
    last += extent if last < 0 else 0
    if step > 0:
        return min(max(first, 0), extent), min(max(last, 0), extent), step
    return min(max(first, 0), extent - 1), min(max(last, -1), extent - 1), step


def _slice(
    graph: OnnxGraph, value: SSAValue, perm: Perm, out_shape: Sequence[int],
    begin: Sequence[int], end: Sequence[int], stride: Sequence[int],
) -> SSAValue:
    """graph.slice of `value` (layout `perm`) with bounds on ONNX axes; result in `perm`."""
    op = SliceOp(
        value, f32_tensor(permute(out_shape, perm)),
        permute(begin, perm), permute(end, perm), permute(stride, perm),
    )
    return graph.emit(op).results[0]


def convert_gather(graph: OnnxGraph, node: OnnxNode) -> None:
    """Gather of a computed tensor by constant indices -> graph.slice (and concat).

    A scalar index selects one slice and drops the axis (a reshape); a
    1-D arithmetic progression of indices is one strided slice; other 1-D
    indices concatenate one slice per index.
    """
    shape = graph.shape(node.inputs[0])
    axis = normalized_axes([node.int_attr("axis", 0)], len(shape))[0]
    indices = graph.require_constant(node, 1, "the indices").astype(np.int64)
    if indices.ndim > 1:
        raise Unsupported(f"indices of rank {indices.ndim} are not supported (only 0 or 1)")
    indices = np.where(indices < 0, indices + shape[axis], indices)
    value, perm = graph.stored(node.inputs[0])
    output, unit = node.outputs[0], [1] * len(shape)
    one_shape = tuple(1 if i == axis else extent for i, extent in enumerate(shape))

    def pick(index: int) -> SSAValue:
        return _slice(graph, value, perm, one_shape, _at(shape, axis, index),
                      _at(shape, axis, index + 1, end=True), unit)

    if indices.ndim == 0:
        out_perm = without_axes(perm, [axis])
        graph.bind(output, graph.reshape(pick(int(indices)), graph.tensor_type(output, out_perm)), out_perm)
        return
    steps = np.diff(indices)
    if len(indices) == 1 or (steps[0] != 0 and np.all(steps == steps[0])):
        step = int(steps[0]) if len(indices) > 1 else 1
        last = int(indices[-1]) + (1 if step > 0 else -1)
        stride = [step if i == axis else 1 for i in range(len(shape))]
        result = _slice(graph, value, perm, graph.shape(output), _at(shape, axis, int(indices[0])),
                        _at(shape, axis, last, end=True), stride)
        graph.bind(output, result, perm)
        return
    concat = ConcatOp([pick(int(index)) for index in indices], graph.tensor_type(output, perm),
                      perm.index(axis))
    graph.bind(output, graph.emit(concat).results[0], perm)


def _at(shape: Sequence[int], axis: int, index: int, end: bool = False) -> list[int]:
    """Bounds selecting `index` on `axis` (begin, or `end` bounds) and everything elsewhere."""
    return [index if i == axis else (extent if end else 0) for i, extent in enumerate(shape)]


def convert_tile(graph: OnnxGraph, node: OnnxNode) -> None:
    """Tile of a computed tensor by constant repeats -> graph.concat of copies per axis."""
    repeats = [int(r) for r in graph.require_constant(node, 1, "the repeats").reshape(-1)]
    value, perm = graph.stored(node.inputs[0])
    shape = list(graph.shape(node.inputs[0]))
    for axis, repeat in enumerate(repeats):
        if repeat != 1:
            shape[axis] *= repeat
            concat = ConcatOp([value] * repeat, f32_tensor(permute(shape, perm)), perm.index(axis))
            value = graph.emit(concat).results[0]
    graph.bind(node.outputs[0], value, perm)


def convert_pad(graph: OnnxGraph, node: OnnxNode) -> None:
    """Pad (constant, reflect, edge) -> graph.pad with the pads mapped to the input's layout."""
    shape = graph.shape(node.inputs[0])
    mode = str(node.attrs.get("mode", "constant"))
    if mode not in ("constant", "reflect", "edge"):
        raise Unsupported(f"pad mode '{mode}' is not supported")
    pads = ints_param(graph, node, 1, "pads", "pads")
    if pads is None:
        pads = node.ints_attr("paddings", [])  # opset 1
    axes = normalized_axes(ints_param(graph, node, 3, "axes", "axes") or range(len(shape)), len(shape))
    if len(pads) != 2 * len(axes):
        raise Unsupported(f"{len(pads)} pads for {len(axes)} axes")
    if any(p < 0 for p in pads):
        raise Unsupported("negative pads (cropping) are not supported")
    before, after = [0] * len(shape), [0] * len(shape)
    for position, axis in enumerate(axes):
        before[axis], after[axis] = pads[position], pads[position + len(axes)]
    constant = float_param(graph, node, 2, "value", 0.0, "the pad value") if mode == "constant" else 0.0
    value, perm = graph.stored(node.inputs[0])
    paddings = [extent for axis in perm for extent in (before[axis], after[axis])]
    pad = PadOp(value, graph.tensor_type(node.outputs[0], perm), paddings, mode, constant)
    graph.bind(node.outputs[0], graph.emit(pad).results[0], perm)


# -- feature-map rearrangements ----------------------------------------------


def convert_resize(graph: OnnxGraph, node: OnnxNode) -> None:
    """Resize and Upsample (nearest, linear) of H and W -> graph.resize.

    Upsample and opset-10 Resize sample asymmetrically (nearest rounds down
    when upsampling); from opset 11 the node's coordinate and rounding modes
    apply. A scale must equal output / input size, since graph.resize
    derives its coordinates from the sizes.
    """
    in_shape, out_shape = graph.shape(node.inputs[0]), graph.shape(node.outputs[0])
    if len(in_shape) != 4 or tuple(in_shape[:2]) != tuple(out_shape[:2]):
        raise Unsupported("only resizing the H and W axes of a 4-D tensor is supported")
    mode = str(node.attrs.get("mode", "nearest"))
    mode = "linear" if mode == "bilinear" else mode  # Upsample-7's name for it
    if mode not in ("nearest", "linear"):
        raise Unsupported(f"mode '{mode}' is not supported (only nearest and linear)")
    modern = node.op_type == "Resize" and graph.opset >= 11
    scales = _scales(graph, node, modern)
    if modern:
        coordinate_mode = str(node.attrs.get("coordinate_transformation_mode", "half_pixel"))
        nearest_mode = str(node.attrs.get("nearest_mode", "round_prefer_floor"))
        if coordinate_mode not in COORDINATE_MODES:
            raise Unsupported(f"coordinate_transformation_mode '{coordinate_mode}' is not supported")
        if node.int_attr("antialias", 0) and any(o < i for i, o in zip(in_shape, out_shape)):
            raise Unsupported("antialiased downsampling is not supported")
        if str(node.attrs.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
            raise Unsupported("keep_aspect_ratio_policy other than 'stretch' is not supported")
    else:
        coordinate_mode = "asymmetric"
        nearest_mode = "ceil" if any(o < i for i, o in zip(in_shape, out_shape)) else "floor"
    if scales is not None and coordinate_mode != "align_corners":
        for size, out, scale in zip(in_shape[2:], out_shape[2:], scales[2:]):
            if not np.isclose(scale, out / size, rtol=1e-6, atol=0.0):
                raise Unsupported(f"scale {scale} is not output/input size {out}/{size}")
    resize = ResizeOp(graph.value(node.inputs[0]), graph.tensor_type(node.outputs[0]),
                      mode, coordinate_mode, nearest_mode)
    graph.bind(node.outputs[0], graph.emit(resize).results[0])


def _scales(graph: OnnxGraph, node: OnnxNode, modern: bool) -> list[float] | None:
    """The per-axis scales of a Resize/Upsample node, or None when sizes are given."""
    if "scales" in node.attrs:
        return node.floats_attr("scales")
    index = 2 if modern else 1
    if modern and node.input(3):
        return None
    array = graph.require_constant(node, index, "scales")
    if not array.size:
        return None
    scales = [1.0] * len(graph.shape(node.inputs[0]))
    axes = node.ints_attr("axes") or range(len(scales))  # opset 18 scales only the listed axes
    for axis, scale in zip(normalized_axes(axes, len(scales)), array.reshape(-1)):
        scales[axis] = float(scale)
    return scales


def convert_depth_to_space(graph: OnnxGraph, node: OnnxNode) -> None:
    """DepthToSpace (DCR or CRD) -> graph.depth_to_space on NHWC."""
    mode = str(node.attrs.get("mode", "DCR"))
    op = DepthToSpaceOp(graph.value(node.inputs[0]), graph.tensor_type(node.outputs[0]),
                        node.int_attr("blocksize", 1), mode)
    graph.bind(node.outputs[0], graph.emit(op).results[0])


def convert_space_to_depth(graph: OnnxGraph, node: OnnxNode) -> None:
    """SpaceToDepth -> graph.space_to_depth on NHWC."""
    op = SpaceToDepthOp(graph.value(node.inputs[0]), graph.tensor_type(node.outputs[0]),
                        node.int_attr("blocksize", 1))
    graph.bind(node.outputs[0], graph.emit(op).results[0])


CONVERTERS = {
    "Concat": convert_concat,
    "Split": convert_split,
    "Slice": convert_slice,
    "Gather": convert_gather,
    "Tile": convert_tile,
    "Pad": convert_pad,
    "Resize": convert_resize,
    "Upsample": convert_resize,
    "DepthToSpace": convert_depth_to_space,
    "SpaceToDepth": convert_space_to_depth,
}
