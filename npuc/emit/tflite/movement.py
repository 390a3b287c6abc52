"""Exporters of the `quantized` dialect's data-movement ops as TFLite builtin operators.

The inverse of `npuc.importers.tflite.movement`: reshape, transpose,
concatenation, split, slice, pad, resize and the depth/space rearrangements.
Shape arguments (new shapes, permutations, axes, begin/end/strides,
paddings, sizes) become constant int32 tensors, as TFLite reads them.

- A concatenation input quantized otherwise than the output is requantized
  first (a QUANTIZE): npuc's concat rescales its inputs as TFLite's QUANTIZE
  does, while TFLite's int8 CONCATENATION refuses other parameters and its
  int16 one copies without rescaling.
- A slice with unit strides is a SLICE, any other a STRIDED_SLICE; an end of
  -1 with a negative stride (past the front) is that axis's end mask.
- A constant pad filling with the zero point is a PAD, with another value a
  PADV2; a reflect pad is a MIRROR_PAD (REFLECT mode); an edge pad has no
  TFLite form.
- Resize: TFLite's flags are the coordinate modes the importer maps them to
  (align_corners, half_pixel_centers, neither: asymmetric), with the nearest
  rounding each implies for nearest sampling; ONNX's other modes have no
  TFLite form. Depth to space is TFLite's DCR order only.
"""

from __future__ import annotations

import tflite
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation

from npuc.dialects import quantized
from npuc.dialects.common import array_values, layer_name, value_shape
from npuc.dialects.quantized import quant_type
from npuc.emit.tflite.flatbuffer import Options
from npuc.emit.tflite.graph import GraphWriter, NoTfliteForm
from npuc.emit.tflite.layers import Exporter, check_storage, per_tensor, scalar_like


def export_reshape(writer: GraphWriter, op: quantized.ReshapeOp) -> None:
    """RESHAPE to the result's shape (a constant shape input)."""
    inputs = [writer.tensor(op.input), writer.parameter(value_shape(op.output), "shape")]
    writer.operator("RESHAPE", inputs, [writer.result(op.output, layer_name(op))])


def export_transpose(writer: GraphWriter, op: quantized.TransposeOp) -> None:
    """TRANSPOSE by a constant permutation."""
    inputs = [writer.tensor(op.input), writer.parameter(array_values(op.perm), "perm")]
    writer.operator("TRANSPOSE", inputs, [writer.result(op.output, layer_name(op))])


def export_concat(writer: GraphWriter, op: quantized.ConcatOp) -> None:
    """CONCATENATION; inputs with other parameters than the output's are requantized first."""
    output_type = quant_type(op.output)
    inputs = []
    for position, value in enumerate(op.inputs):
        index = writer.tensor(value)
        if quant_type(value) != output_type:
            assert isinstance(value.type, TensorType) and output_type is not None
            requantized = writer.intermediate(TensorType(output_type, value.type.get_shape()),
                                              f"{layer_name(op)}/requantized{position}")
            writer.operator("QUANTIZE", [index], [requantized])
            index = requantized
        inputs.append(index)
    options = Options("ConcatenationOptions", {"Axis": op.axis.value.data})
    writer.operator("CONCATENATION", inputs, [writer.result(op.output, layer_name(op))], options)


def export_split(writer: GraphWriter, op: quantized.SplitOp) -> None:
    """SPLIT into equal pieces, else SPLIT_V with the pieces' sizes."""
    axis = op.axis.value.data
    sizes = [value_shape(result)[axis] for result in op.outputs]
    name = layer_name(op)
    outputs = [writer.result(result, name if position == 0 else f"{name}:{position}")
               for position, result in enumerate(op.outputs)]
    source = writer.tensor(op.input)
    if len(set(sizes)) == 1:
        inputs = [writer.parameter(axis, "axis"), source]
        writer.operator("SPLIT", inputs, outputs, Options("SplitOptions", {"NumSplits": len(sizes)}))
    else:
        inputs = [source, writer.parameter(sizes, "size_splits"), writer.parameter(axis, "axis")]
        writer.operator("SPLIT_V", inputs, outputs, Options("SplitVOptions", {"NumSplits": len(sizes)}))


def export_slice(writer: GraphWriter, op: quantized.SliceOp) -> None:
    """SLICE for unit strides, else STRIDED_SLICE (an end of -1 with a negative stride as the end mask)."""
    begin, end, strides = array_values(op.begin), array_values(op.end), array_values(op.strides)
    source = writer.tensor(op.input)
    output = writer.result(op.output, layer_name(op))
    if all(stride == 1 for stride in strides):
        sizes = [last - first for first, last in zip(begin, end)]
        writer.operator("SLICE", [source, writer.parameter(begin, "begin"), writer.parameter(sizes, "size")],
                        [output])
        return
    end_mask = sum(1 << axis for axis, (last, stride) in enumerate(zip(end, strides)) if last == -1 and stride < 0)
    ends = [0 if end_mask & (1 << axis) else last for axis, last in enumerate(end)]
    inputs = [source, writer.parameter(begin, "begin"), writer.parameter(ends, "end"),
              writer.parameter(strides, "strides")]
    writer.operator("STRIDED_SLICE", inputs, [output], Options("StridedSliceOptions", {"EndMask": end_mask}))


def export_pad(writer: GraphWriter, op: quantized.PadOp) -> None:
    """PAD (fill: the zero point), PADV2 (another fill value) or MIRROR_PAD (reflect)."""
    paddings = array_values(op.paddings)
    pairs = [[paddings[2 * axis], paddings[2 * axis + 1]] for axis in range(len(paddings) // 2)]
    inputs = [writer.tensor(op.input), writer.parameter(pairs, "paddings")]
    output = writer.result(op.output, layer_name(op))
    mode = op.mode.data
    if mode == "reflect":
        options = Options("MirrorPadOptions", {"Mode": tflite.MirrorPadMode.REFLECT})
        writer.operator("MIRROR_PAD", inputs, [output], options)
    elif mode != "constant":
        raise NoTfliteForm(f"{mode} padding")
    elif op.fill_value() == per_tensor(op.output).zero_point:
        writer.operator("PAD", inputs, [output])
    else:
        fill = writer.add_tensor(scalar_like(op.input, op.fill_value(), "constant_values"))
        writer.operator("PADV2", [*inputs, fill], [output])


RESIZE_FLAGS = {
    "align_corners": (True, False, "round_prefer_ceil"),
    "half_pixel": (False, True, "round_prefer_ceil"),
    "asymmetric": (False, False, "floor"),
}
"""Coordinate mode -> TFLite's (align_corners, half_pixel_centers) and the nearest rounding they imply."""


def export_resize(writer: GraphWriter, op: quantized.ResizeOp) -> None:
    """RESIZE_NEAREST_NEIGHBOR or RESIZE_BILINEAR to the result's height and width, with TFLite's flags.

    Bilinear sampling ignores the nearest rounding.
    """
    nearest = op.mode.data == "nearest"
    flags = RESIZE_FLAGS.get(op.coordinate_mode.data)
    if flags is None or (nearest and op.nearest_mode.data != flags[2]):
        rounding = f" and rounding {op.nearest_mode.data}" if nearest else ""
        raise NoTfliteForm(f"{op.mode.data} resize with coordinate mode {op.coordinate_mode.data}{rounding}")
    code, table = ("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions") if nearest else (
        "RESIZE_BILINEAR", "ResizeBilinearOptions")
    inputs = [writer.tensor(op.input), writer.parameter(op.output_hw(), "size")]
    options = Options(table, {"AlignCorners": flags[0], "HalfPixelCenters": flags[1]})
    writer.operator(code, inputs, [writer.result(op.output, layer_name(op))], options)


def export_depth_to_space(writer: GraphWriter, op: quantized.DepthToSpaceOp) -> None:
    """DEPTH_TO_SPACE (TFLite's DCR order)."""
    if op.mode.data != "DCR":
        raise NoTfliteForm(f"depth to space in {op.mode.data} order (TFLite's is DCR)")
    check_storage("DEPTH_TO_SPACE", op.input)
    options = Options("DepthToSpaceOptions", {"BlockSize": op.block_size.value.data})
    writer.operator("DEPTH_TO_SPACE", [writer.tensor(op.input)], [writer.result(op.output, layer_name(op))], options)


def export_space_to_depth(writer: GraphWriter, op: quantized.SpaceToDepthOp) -> None:
    """SPACE_TO_DEPTH."""
    check_storage("SPACE_TO_DEPTH", op.input)
    options = Options("SpaceToDepthOptions", {"BlockSize": op.block_size.value.data})
    writer.operator("SPACE_TO_DEPTH", [writer.tensor(op.input)], [writer.result(op.output, layer_name(op))], options)


EXPORTERS: dict[type[Operation], Exporter] = {
    quantized.ReshapeOp: export_reshape,
    quantized.TransposeOp: export_transpose,
    quantized.ConcatOp: export_concat,
    quantized.SplitOp: export_split,
    quantized.SliceOp: export_slice,
    quantized.PadOp: export_pad,
    quantized.ResizeOp: export_resize,
    quantized.DepthToSpaceOp: export_depth_to_space,
    quantized.SpaceToDepthOp: export_space_to_depth,
}
"""Data-movement op class -> its exporter."""
