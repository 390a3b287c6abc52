"""Data-movement operation structure shared by the `graph` and `quantized` dialects.

These ops move or replicate elements without arithmetic on them (concat,
split, slice, pad, resize, depth/space rearrangements, reductions aside). As
in `common.py`, the bases hold operands, properties, shape rules and textual
format; each dialect subclasses them with its names and element-type checks.
Axes are always axes of the IR tensor (NHWC for feature maps): importers map
the model's own axes.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, StringAttr, TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import operand_def, prop_def, result_def, var_operand_def, var_result_def
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.common import LayerOp, array_values, int_array, tensor_shape

PAD_MODES = ("constant", "reflect", "edge")
RESIZE_MODES = ("nearest", "linear")
COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
DEPTH_TO_SPACE_MODES = ("DCR", "CRD")


def _check_choice(op: LayerOp, prop: str, choices: Sequence[str]) -> None:
    value = op.properties[prop]
    assert isinstance(value, StringAttr)
    if value.data not in choices:
        raise VerifyException(f"'{prop}' must be one of {', '.join(choices)}, got '{value.data}'")


def _axis(op: LayerOp, rank: int) -> int:
    axis = op.properties["axis"]
    assert isinstance(axis, IntegerAttr)
    value = axis.value.data
    if not 0 <= value < rank:
        raise VerifyException(f"axis {value} is outside 0..{rank - 1}")
    return value


def _shapes_agree_except(shapes: Sequence[Sequence[int]], axis: int, what: str) -> None:
    first = shapes[0]
    for shape in shapes[1:]:
        if len(shape) != len(first) or any(
            a != b for index, (a, b) in enumerate(zip(shape, first)) if index != axis
        ):
            raise VerifyException(
                f"{what} shapes {[list(s) for s in shapes]} differ outside axis {axis}"
            )


class ConcatBase(LayerOp):
    """Joins tensors along `axis`."""

    inputs = var_operand_def(TensorType)
    output = result_def(TensorType)
    axis = prop_def(IntegerAttr)

    assembly_format = "$inputs attr-dict `:` functional-type($inputs, results)"

    def __init__(self, inputs: Sequence[SSAValue], output_type: Attribute, axis: int):
        super().__init__(
            operands=[list(inputs)],
            result_types=[output_type],
            properties={"axis": IntegerAttr(axis, 64)},
        )

    def verify_shapes(self) -> None:
        if not self.inputs:
            raise VerifyException("concat needs at least one input")
        shapes = [tensor_shape(value, "input") for value in self.inputs]
        output = tensor_shape(self.output, "output")
        axis = _axis(self, len(output))
        _shapes_agree_except([*shapes, output], axis, "concat")
        total = sum(shape[axis] for shape in shapes)
        if output[axis] != total:
            raise VerifyException(f"output extent {output[axis]} along axis {axis} is not {total}")


class SplitBase(LayerOp):
    """Cuts a tensor along `axis` into consecutive pieces (the result shapes)."""

    input = operand_def(TensorType)
    outputs = var_result_def(TensorType)
    axis = prop_def(IntegerAttr)

    assembly_format = "$input attr-dict `:` functional-type(operands, $outputs)"

    def __init__(self, input: SSAValue, output_types: Sequence[Attribute], axis: int):
        super().__init__(
            operands=[input],
            result_types=[list(output_types)],
            properties={"axis": IntegerAttr(axis, 64)},
        )

    def verify_shapes(self) -> None:
        if not self.outputs:
            raise VerifyException("split needs at least one result")
        source = tensor_shape(self.input, "input")
        shapes = [tensor_shape(value, "result") for value in self.outputs]
        axis = _axis(self, len(source))
        _shapes_agree_except([source, *shapes], axis, "split")
        total = sum(shape[axis] for shape in shapes)
        if source[axis] != total:
            raise VerifyException(f"results cover {total} of {source[axis]} along axis {axis}")


class SliceBase(LayerOp):
    """Strided slice: per axis, elements `begin, begin + stride, ...` before `end`.

    `begin` is in [0, extent] for a positive stride and in [0, extent - 1]
    for a negative one (the first element read must exist); `end` is in
    [-1, extent] (-1 is "past the front" for a negative stride); a stride is
    non-zero. The result extent along an axis is `len(range(begin, end,
    stride))`, Python's rule.
    """

    input = operand_def(TensorType)
    output = result_def(TensorType)
    begin = prop_def(DenseArrayBase)
    end = prop_def(DenseArrayBase)
    strides = prop_def(DenseArrayBase)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(
        self,
        input: SSAValue,
        output_type: Attribute,
        begin: Sequence[int],
        end: Sequence[int],
        strides: Sequence[int],
    ):
        super().__init__(
            operands=[input],
            result_types=[output_type],
            properties={
                "begin": int_array(begin),
                "end": int_array(end),
                "strides": int_array(strides),
            },
        )

    def verify_shapes(self) -> None:
        source = tensor_shape(self.input, "input")
        begin, end, strides = (array_values(self.begin), array_values(self.end), array_values(self.strides))
        if not len(begin) == len(end) == len(strides) == len(source):
            raise VerifyException("begin, end and strides need one value per input axis")
        expected = []
        for extent, first, last, stride in zip(source, begin, end, strides):
            last_begin = extent if stride > 0 else extent - 1
            if stride == 0 or not 0 <= first <= last_begin or not -1 <= last <= extent:
                raise VerifyException(
                    f"slice [{first}:{last}:{stride}] is invalid for an axis of {extent}"
                )
            expected.append(len(range(first, last, stride)))
        output = tensor_shape(self.output, "output")
        if list(output) != expected:
            raise VerifyException(f"output shape is {list(output)}, expected {expected}")


class PadBase(LayerOp):
    """Pads each axis: `paddings` is [before_0, after_0, before_1, after_1, ...].

    `mode` is `constant` (the dialect's `value`), `reflect` (mirror without
    the edge) or `edge` (repeat the edge).
    """

    input = operand_def(TensorType)
    output = result_def(TensorType)
    paddings = prop_def(DenseArrayBase)
    mode = prop_def(StringAttr)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def fill_value(self) -> float:
        """The value constant mode pads with (each dialect defines the `value` property)."""
        raise NotImplementedError

    def verify_shapes(self) -> None:
        _check_choice(self, "mode", PAD_MODES)
        source = tensor_shape(self.input, "input")
        paddings = array_values(self.paddings)
        if len(paddings) != 2 * len(source) or any(p < 0 for p in paddings):
            raise VerifyException("paddings need a non-negative before/after pair per axis")
        if self.mode.data == "reflect" and any(
            max(paddings[2 * i], paddings[2 * i + 1]) >= extent
            for i, extent in enumerate(source)
            if paddings[2 * i] or paddings[2 * i + 1]
        ):
            raise VerifyException("reflect padding must be smaller than the padded axis")
        expected = [
            extent + paddings[2 * i] + paddings[2 * i + 1] for i, extent in enumerate(source)
        ]
        output = tensor_shape(self.output, "output")
        if list(output) != expected:
            raise VerifyException(f"output shape is {list(output)}, expected {expected}")


class ResizeBase(LayerOp):
    """Resizes the H and W axes of an NHWC feature map to the result's extents.

    `mode` nearest or linear (bilinear); `coordinate_mode` maps an output
    coordinate to the input as ONNX's coordinate_transformation_mode does;
    `nearest_mode` rounds for nearest sampling.
    """

    input = operand_def(TensorType)
    output = result_def(TensorType)
    mode = prop_def(StringAttr)
    coordinate_mode = prop_def(StringAttr)
    nearest_mode = prop_def(StringAttr)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def __init__(
        self,
        input: SSAValue,
        output_type: Attribute,
        mode: str,
        coordinate_mode: str,
        nearest_mode: str = "round_prefer_floor",
    ):
        super().__init__(
            operands=[input],
            result_types=[output_type],
            properties={
                "mode": StringAttr(mode),
                "coordinate_mode": StringAttr(coordinate_mode),
                "nearest_mode": StringAttr(nearest_mode),
            },
        )

    def output_hw(self) -> tuple[int, int]:
        """The (height, width) the input is resized to."""
        shape = self.output.type.get_shape()
        return shape[1], shape[2]

    def verify_shapes(self) -> None:
        _check_choice(self, "mode", RESIZE_MODES)
        _check_choice(self, "coordinate_mode", COORDINATE_MODES)
        _check_choice(self, "nearest_mode", NEAREST_MODES)
        source = tensor_shape(self.input, "input")
        output = tensor_shape(self.output, "output")
        if len(source) != 4 or len(output) != 4:
            raise VerifyException("resize works on 4-D NHWC feature maps")
        if (source[0], source[3]) != (output[0], output[3]):
            raise VerifyException("resize changes only the height and width")


class BlockRearrangeBase(LayerOp):
    """Moves `block_size` x `block_size` spatial blocks to or from the channels (NHWC)."""

    input = operand_def(TensorType)
    output = result_def(TensorType)
    block_size = prop_def(IntegerAttr)

    assembly_format = "$input attr-dict `:` type($input) `->` type($output)"

    def expected_output(self, shape: Sequence[int], block: int) -> list[int]:
        """The result shape for an input shape."""
        raise NotImplementedError

    def verify_shapes(self) -> None:
        source = tensor_shape(self.input, "input")
        block = self.block_size.value.data
        if len(source) != 4 or block < 1:
            raise VerifyException("needs a 4-D NHWC input and a positive block size")
        expected = self.expected_output(source, block)
        output = tensor_shape(self.output, "output")
        if list(output) != expected:
            raise VerifyException(f"output shape is {list(output)}, expected {expected}")


class DepthToSpaceBase(BlockRearrangeBase):
    """Channels to spatial blocks; `mode` DCR (TFLite's order) or CRD (ONNX's other order)."""

    mode = prop_def(StringAttr)

    def __init__(self, input: SSAValue, output_type: Attribute, block_size: int, mode: str = "DCR"):
        super().__init__(
            operands=[input],
            result_types=[output_type],
            properties={"block_size": IntegerAttr(block_size, 64), "mode": StringAttr(mode)},
        )

    def expected_output(self, shape: Sequence[int], block: int) -> list[int]:
        _check_choice(self, "mode", DEPTH_TO_SPACE_MODES)
        if shape[3] % (block * block):
            raise VerifyException(f"depth {shape[3]} is not a multiple of {block * block}")
        return [shape[0], shape[1] * block, shape[2] * block, shape[3] // (block * block)]


class SpaceToDepthBase(BlockRearrangeBase):
    """Spatial blocks to channels (the inverse of DCR depth-to-space)."""

    def __init__(self, input: SSAValue, output_type: Attribute, block_size: int):
        super().__init__(
            operands=[input],
            result_types=[output_type],
            properties={"block_size": IntegerAttr(block_size, 64)},
        )

    def expected_output(self, shape: Sequence[int], block: int) -> list[int]:
        if shape[1] % block or shape[2] % block:
            raise VerifyException(f"height and width must be multiples of {block}")
        return [shape[0], shape[1] // block, shape[2] // block, shape[3] * block * block]
