"""Converters of TFLite's data-movement operators into `quantized` ops.

Reshapes, slices, splits, packs, pads, transposes, concatenation and resizes.
Shape arguments (paddings, begin/end, permutations) must be constant tensors;
result shapes are the output tensors' declared shapes, which the op verifiers
check against the arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from xdsl.dialects.builtin import TensorType

from npuc.dialects import quantized
from npuc.dialects.movement import DepthToSpaceBase, SpaceToDepthBase
from npuc.importers.tflite.ops import (
    Arity,
    Malformed,
    Unsupported,
    fused_activation,
    input_index,
    int_option,
    option,
    require_same_quantization,
    reshape,
)

if TYPE_CHECKING:
    from npuc.importers.tflite.importer import TfliteGraph
    from npuc.importers.tflite.model import TfliteOperator


def _axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise Unsupported(f"axis {axis} outside a rank-{rank} tensor")
    return axis % rank


def convert_reshape(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """RESHAPE, SQUEEZE, EXPAND_DIMS -> quantized.reshape to the output tensor's shape.

    A RESHAPE's requested shape, when constant, must be the output tensor's.
    """
    require_same_quantization(graph, operator)
    output_shape = graph.tensor(operator.outputs[0]).shape
    if operator.op_type == "RESHAPE":
        _check_new_shape(_new_shape(graph, operator), graph.tensor(operator.inputs[0]).shape, output_shape)
    source = graph.value(operator.inputs[0])
    graph.bind(operator.outputs[0], reshape(graph, source, output_shape))


def _new_shape(graph: TfliteGraph, operator: TfliteOperator) -> list[int] | None:
    """RESHAPE's requested shape: its constant shape input, else its NewShape option (None: neither)."""
    index = input_index(operator, 1)
    if index >= 0:
        array = graph.constant(index)
        return None if array is None else [int(extent) for extent in array.reshape(-1)]
    if not option(operator, "NewShapeLength", 0):
        return None
    return [int(extent) for extent in np.asarray(option(operator, "NewShapeAsNumpy")).reshape(-1)]


def _check_new_shape(
    new_shape: list[int] | None, source_shape: Sequence[int], output_shape: Sequence[int]
) -> None:
    """Raise `Malformed` unless `new_shape` (at most one -1, inferred) is `output_shape`, as TFLite requires."""
    if new_shape is None:
        return
    inferred = [extent for extent in new_shape if extent == -1]
    if len(inferred) > 1 or any(extent < -1 for extent in new_shape):
        raise Malformed(f"new shape {new_shape} (at most one -1, no other negative extent)")
    known = math.prod(extent for extent in new_shape if extent != -1)
    size = math.prod(source_shape)
    resolved = [size // known if extent == -1 and known else extent for extent in new_shape]
    if list(resolved) != list(output_shape):
        raise Malformed(f"new shape {new_shape} of a {list(source_shape)} input is not the output's {list(output_shape)}")


def convert_concatenation(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """CONCATENATION -> quantized.concat (inputs are rescaled to the output's parameters)."""
    if fused_activation(operator) != "none":
        raise Unsupported("fused activation on CONCATENATION is not supported")
    output_type = graph.ir_type(operator.outputs[0])
    axis = _axis(int_option(operator, "Axis", 0), len(output_type.get_shape()))
    inputs = [graph.value(index) for index in operator.inputs]
    graph.emit(op := quantized.ConcatOp(inputs, output_type, axis))
    graph.bind(operator.outputs[0], op.output)


def convert_pad(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """PAD / PADV2 -> constant quantized.pad.

    PAD fills with the output zero point (a real 0); PADV2 with its constant
    value input, a stored integer of the same quantization.
    """
    require_same_quantization(graph, operator)
    paddings = graph.require_constant(operator.inputs[1], "paddings").reshape(-1)
    output_type = graph.ir_type(operator.outputs[0])
    qtype = quantized.quant_type(output_type)
    assert qtype is not None
    fill = qtype.zero_point
    value_index = input_index(operator, 2)
    if value_index >= 0:
        fill_array = graph.require_constant(value_index, "pad value")
        if fill_array.size != 1:
            raise Unsupported("pad value must be a scalar")
        fill = int(fill_array.reshape(-1)[0])
    op = quantized.PadOp(
        graph.value(operator.inputs[0]), output_type, [int(p) for p in paddings], "constant", fill
    )
    graph.emit(op)
    graph.bind(operator.outputs[0], op.output)


def convert_slice(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """SLICE (begin, size with -1 = to the end) -> quantized.slice with unit strides."""
    require_same_quantization(graph, operator)
    shape = graph.tensor(operator.inputs[0]).shape
    begin = [int(b) for b in graph.require_constant(operator.inputs[1], "slice begin").reshape(-1)]
    size = [int(s) for s in graph.require_constant(operator.inputs[2], "slice size").reshape(-1)]
    end = [extent if s == -1 else b + s for b, s, extent in zip(begin, size, shape)]
    _emit_slice(graph, operator, begin, end, [1] * len(shape))


def convert_strided_slice(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """STRIDED_SLICE -> quantized.slice on normalised bounds, then a reshape.

    The masks are resolved here as TFLite's strided_slice_logic does; the
    reshape drops shrunk axes and inserts new ones (the output tensor's shape).
    """
    require_same_quantization(graph, operator)
    if option(operator, "Offset", False):
        raise Unsupported("STRIDED_SLICE with offset is not supported")
    shape = graph.tensor(operator.inputs[0]).shape
    first, last, steps = (
        [int(v) for v in graph.require_constant(operator.inputs[i], what).reshape(-1)]
        for i, what in ((1, "begin"), (2, "end"), (3, "strides"))
    )
    masks = [
        int_option(operator, name, 0)
        for name in ("BeginMask", "EndMask", "EllipsisMask", "NewAxisMask", "ShrinkAxisMask")
    ]
    begin, end, strides = resolve_strided_slice(shape, first, last, steps, *masks)
    _emit_slice(graph, operator, begin, end, strides)


def resolve_strided_slice(
    shape: Sequence[int],
    begin: Sequence[int],
    end: Sequence[int],
    strides: Sequence[int],
    begin_mask: int,
    end_mask: int,
    ellipsis_mask: int,
    new_axis_mask: int,
    shrink_axis_mask: int,
) -> tuple[list[int], list[int], list[int]]:
    """Per-axis begin/end/stride of a strided slice with TFLite's mask semantics.

    The ellipsis expands to full ranges over the axes the other entries leave;
    new axes consume no input axis; a shrunk axis keeps one element; negative
    indices count from the end and bounds are clamped (StartForAxis/StopForAxis).
    """
    rank = len(shape)
    real_entries = sum(
        1 for i in range(len(begin)) if not (ellipsis_mask | new_axis_mask) & (1 << i)
    )
    entries: list[tuple[int, int, int, bool, bool, bool]] = []
    for i in range(len(begin)):
        bit = 1 << i
        if ellipsis_mask & bit:
            entries += [(0, 0, 1, True, True, False)] * (rank - real_entries)
            ellipsis_mask = 0  # only the first ellipsis counts
        elif not new_axis_mask & bit:
            entries.append(
                (begin[i], end[i], strides[i], bool(begin_mask & bit), bool(end_mask & bit),
                 bool(shrink_axis_mask & bit))
            )  # fmt: skip
    entries += [(0, 0, 1, True, True, False)] * (rank - len(entries))
    if len(entries) != rank:
        raise Unsupported(f"slice spec of {len(begin)} entries for a rank-{rank} input")
    starts, stops, steps = [], [], []
    for extent, (first, last, stride, full_begin, full_end, shrink) in zip(shape, entries):
        if stride == 0:
            raise Unsupported("zero stride")
        low, high = (0, extent) if stride > 0 else (-1, extent - 1)
        start = (low if stride > 0 else high) if full_begin else _clamp_index(first, low, high, extent)
        if shrink:
            if not 0 <= start < extent:
                raise Unsupported(f"index {first} outside an axis of {extent}")
            stop, stride = start + 1, 1
        else:
            stop = (high if stride > 0 else low) if full_end else _clamp_index(last, low, high, extent)
        if not range(start, stop, stride):
            raise Unsupported("the slice is empty")
        starts.append(start)
        stops.append(stop)
        steps.append(stride)
    return starts, stops, steps


def _clamp_index(index: int, low: int, high: int, extent: int) -> int:
    """A slice bound counted from the end when negative, clamped to [low, high]."""
    return min(max(index + extent if index < 0 else index, low), high)


def _emit_slice(
    graph: TfliteGraph,
    operator: TfliteOperator,
    begin: Sequence[int],
    end: Sequence[int],
    strides: Sequence[int],
) -> None:
    source = graph.value(operator.inputs[0])
    assert isinstance(source.type, TensorType)
    shape = [len(range(b, e, s)) for b, e, s in zip(begin, end, strides)]
    if any(extent == 0 for extent in shape):
        raise Unsupported("the slice is empty")
    sliced_type = TensorType(source.type.element_type, shape)
    graph.emit(op := quantized.SliceOp(source, sliced_type, begin, end, strides))
    graph.bind(operator.outputs[0], reshape(graph, op.output, graph.tensor(operator.outputs[0]).shape))


def _emit_split(graph: TfliteGraph, operator: TfliteOperator, source_index: int, axis: int) -> None:
    """quantized.split of tensor `source_index` along `axis` into the operator's outputs.

    TFLite requires `num_splits` (0 without options) to count the outputs.
    """
    splits = int_option(operator, "NumSplits", 0)
    if splits != len(operator.outputs):
        raise Malformed(f"num_splits {splits} but {len(operator.outputs)} outputs")
    source = graph.value(source_index)
    rank = len(graph.tensor(source_index).shape)
    output_types = [graph.ir_type(index) for index in operator.outputs]
    graph.emit(op := quantized.SplitOp(source, output_types, _axis(axis, rank)))
    for index, result in zip(operator.outputs, op.results):
        graph.bind(index, result)


def convert_split(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """SPLIT (axis, input) -> quantized.split into equal pieces."""
    require_same_quantization(graph, operator)
    axis = graph.require_constant(operator.inputs[0], "split axis").reshape(-1)
    _emit_split(graph, operator, operator.inputs[1], int(axis[0]))


def convert_split_v(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """SPLIT_V (input, size_splits, axis) -> quantized.split into the outputs' sizes."""
    require_same_quantization(graph, operator)
    axis = graph.require_constant(operator.inputs[2], "split axis").reshape(-1)
    _emit_split(graph, operator, operator.inputs[0], int(axis[0]))


def convert_unpack(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """UNPACK -> quantized.split into unit slices, each reshaped to drop the axis."""
    require_same_quantization(graph, operator)
    source = graph.value(operator.inputs[0])
    shape = list(graph.tensor(operator.inputs[0]).shape)
    axis = _axis(int_option(operator, "Axis", 0), len(shape))
    assert isinstance(source.type, TensorType)
    if len(operator.outputs) != shape[axis]:
        raise Malformed(f"{len(operator.outputs)} outputs for the {shape[axis]} slices along axis {axis}")
    piece_type = TensorType(source.type.element_type, [*shape[:axis], 1, *shape[axis + 1 :]])
    graph.emit(op := quantized.SplitOp(source, [piece_type] * shape[axis], axis))
    for index, piece in zip(operator.outputs, op.results):
        graph.bind(index, reshape(graph, piece, graph.tensor(index).shape))


def convert_pack(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """PACK -> each input reshaped with a unit axis, then quantized.concat along it.

    TFLite requires `values_count` (0 without options) to count the inputs,
    and the inputs to have the output's quantization.
    """
    count = int_option(operator, "ValuesCount", 0)
    if count != len(operator.inputs):
        raise Malformed(f"values_count {count} but {len(operator.inputs)} inputs")
    output_type = graph.ir_type(operator.outputs[0])
    if any(graph.ir_type(index).element_type != output_type.element_type for index in operator.inputs):
        raise Malformed("an input's quantization differs from the output's")
    axis = _axis(int_option(operator, "Axis", 0), len(output_type.get_shape()))
    pieces = []
    for index in operator.inputs:
        shape = list(graph.tensor(index).shape)
        pieces.append(reshape(graph, graph.value(index), [*shape[:axis], 1, *shape[axis:]]))
    graph.emit(op := quantized.ConcatOp(pieces, output_type, axis))
    graph.bind(operator.outputs[0], op.output)


def convert_transpose(graph: TfliteGraph, operator: TfliteOperator) -> None:
    """TRANSPOSE (constant permutation) -> quantized.transpose."""
    require_same_quantization(graph, operator)
    perm = graph.require_constant(operator.inputs[1], "permutation").reshape(-1)
    op = quantized.TransposeOp(
        graph.value(operator.inputs[0]), graph.ir_type(operator.outputs[0]), [int(p) for p in perm]
    )
    graph.emit(op)
    graph.bind(operator.outputs[0], op.output)


def _resize(mode: str):
    def convert(graph: TfliteGraph, operator: TfliteOperator) -> None:
        require_same_quantization(graph, operator)
        align_corners = bool(option(operator, "AlignCorners", False))
        half_pixel = bool(option(operator, "HalfPixelCenters", False))
        op = quantized.ResizeOp(
            graph.value(operator.inputs[0]), graph.ir_type(operator.outputs[0]), mode,
            *resize_modes(mode, align_corners, half_pixel),
        )  # fmt: skip
        graph.emit(op)
        graph.bind(operator.outputs[0], op.output)

    convert.__doc__ = f"RESIZE ({mode}) -> quantized.resize with TFLite's coordinate rule."
    return convert


def resize_modes(mode: str, align_corners: bool, half_pixel_centers: bool) -> tuple[str, str]:
    """(coordinate_mode, nearest_mode) reproducing TFLite's resize flags.

    Nearest: align_corners rounds `x * (in - 1) / (out - 1)` half away from
    zero; half_pixel_centers floors `(x + 0.5) * in / out`, which is
    half_pixel's `(x + 0.5) * scale - 0.5` rounded half up; neither floors
    `x * in / out` (asymmetric). Bilinear uses the same coordinate modes.
    """
    if align_corners and half_pixel_centers:
        raise Unsupported("align_corners together with half_pixel_centers")
    if align_corners:
        return "align_corners", "round_prefer_ceil"
    if half_pixel_centers:
        return "half_pixel", "round_prefer_ceil"
    return "asymmetric", "floor"


def _block_rearrange(op_class: type[DepthToSpaceBase | SpaceToDepthBase]):
    def convert(graph: TfliteGraph, operator: TfliteOperator) -> None:
        require_same_quantization(graph, operator)
        op = op_class(
            graph.value(operator.inputs[0]), graph.ir_type(operator.outputs[0]),
            int_option(operator, "BlockSize", 1),
        )  # fmt: skip
        graph.emit(op)
        graph.bind(operator.outputs[0], op.output)

    convert.__doc__ = f"-> {op_class.name}."
    return convert


CONVERTERS = {
    "RESHAPE": convert_reshape,
    "SQUEEZE": convert_reshape,
    "EXPAND_DIMS": convert_reshape,
    "CONCATENATION": convert_concatenation,
    "PAD": convert_pad,
    "PADV2": convert_pad,
    "SLICE": convert_slice,
    "STRIDED_SLICE": convert_strided_slice,
    "SPLIT": convert_split,
    "SPLIT_V": convert_split_v,
    "PACK": convert_pack,
    "UNPACK": convert_unpack,
    "TRANSPOSE": convert_transpose,
    "RESIZE_BILINEAR": _resize("linear"),
    "RESIZE_NEAREST_NEIGHBOR": _resize("nearest"),
    "DEPTH_TO_SPACE": _block_rearrange(quantized.DepthToSpaceOp),
    "SPACE_TO_DEPTH": _block_rearrange(quantized.SpaceToDepthOp),
}
"""TFLite builtin name -> converter of the data-movement operators."""

ARITIES = {
    "RESHAPE": Arity(most_inputs=2),
    **dict.fromkeys(("EXPAND_DIMS", "TRANSPOSE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"),
                    Arity(required=2, most_inputs=2)),
    **dict.fromkeys(("PAD", "PADV2"), Arity(required=2, most_inputs=3)),
    "SLICE": Arity(required=3, most_inputs=3),
    "STRIDED_SLICE": Arity(required=4, most_inputs=4),
    "SPLIT": Arity(required=2, most_inputs=2, outputs=None),
    "SPLIT_V": Arity(required=3, most_inputs=3, outputs=None),
    **dict.fromkeys(("CONCATENATION", "PACK"), Arity(most_inputs=None)),
    "UNPACK": Arity(outputs=None),
}  # fmt: skip
"""Operand counts of the data-movement operators (`ops.UNARY` when not listed)."""
