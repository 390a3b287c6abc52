"""quantized-canonicalize: normal forms of quantized ops that change no result."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from npuc.backend.operators import npu_operator
from npuc.backend.planning import tensor_hwc, window
from npuc.backend.views import needs_dense
from npuc.dialects.common import array_values, int_array, keep_layer, value_shape
from npuc.dialects.quantized import (
    ONNXRUNTIME_ROUNDING,
    ConcatOp,
    SliceOp,
    SplitOp,
    quant_type,
    rounding_mode,
)
from npuc.dialects.window_layers import Conv2dBase, Pool2dBase
from npuc.reference.int_tensor_ops import parameters_differ


@dataclass(frozen=True)
class QuantizedCanonicalizePass(ModulePass):
    """Give each quantized window the smallest stride that keeps its ofm, on axes with one window position.

    Along an axis where the ofm extent is 1 the window sits only at the
    start, so the stride is never applied: TFLite exports a global average
    pool as a pool whose stride equals its kernel (8x8 stride 8 over 8x8,
    24x5 stride 24 over 25x5), which a target limiting strides would
    otherwise send to the CPU. The new stride is `padded extent - dilated
    kernel + 1` (1 when the kernel covers the whole padded input), the
    smallest that still gives one position; the ofm shape and every value
    are unchanged (bit-exact by construction). Works on convolutions and
    pools of the `quantized` dialect anywhere in the module.

    A slice with unit steps that cuts one axis, whose readers all have an
    NPU form (`npuc.backend.operators`) and none needs dense data
    (`npuc.backend.views.needs_dense`; a concat quantized otherwise than
    the slice does not, unless the module follows onnxruntime's rounding:
    quantized-concat-requantize puts a requantize before it, which reads
    the piece in place), becomes the piece of a
    `split` of that axis (into the elements before, in and after it): the
    NPU runs such a split as a memory view, its readers address the piece
    in place, where a slice would be a copy.

    Conversely, a split's piece read by an op that needs it dense (a
    concat of the same quantization, a reshape, another split, the
    function's return) is read through a slice of the split's input: the
    NPU runs that slice as a strided copy (writing into its slice of a
    concat's buffer), where the split would have to go to the CPU. A concat
    quantized otherwise keeps the piece (its requantize reads it in place).
    The dynamo
    exporter spells ShuffleNet's `chunk` as a Split whose first piece
    goes straight into the next concat.
    """

    name = "quantized-canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        requantizes = rounding_mode(op) != ONNXRUNTIME_ROUNDING
        for inner in list(op.walk()):
            canonicalize_window(inner)
            if isinstance(inner, SliceOp):
                slice_as_split(inner, requantizes)
            elif isinstance(inner, SplitOp):
                dense_pieces_as_slices(inner, requantizes)


def canonicalize_window(op: Operation) -> None:
    """Lower the stride of `op` along each axis with one window position (see the pass)."""
    if not op.name.startswith("quantized.") or not isinstance(op, (Conv2dBase, Pool2dBase)):
        return
    op_window = window(op)
    assert op_window is not None
    height, width, _ = tensor_hwc(op.operands[0])
    top, left, bottom, right = op_window.padding
    padded = (height + top + bottom, width + left + right)
    strides = tuple(
        min(stride, extent - kernel + 1) if extent - kernel < stride else stride
        for kernel, extent, stride in zip(op_window.dilated_kernel, padded, op_window.strides)
    )
    if strides != op_window.strides:
        op.properties["strides"] = int_array(strides)


def slice_as_split(op: SliceOp, requantizes: bool) -> None:
    """Replace `op` by a piece of a `split` when it cuts one axis with unit steps for readers that
    address a strided view (see the pass; `requantizes`: whether a differently quantized concat
    will read its inputs through requantize ops, `reads_dense`)."""
    shape = value_shape(op.input)
    begin, end, steps = array_values(op.begin), array_values(op.end), array_values(op.strides)
    cut = [axis for axis, extent in enumerate(shape) if (begin[axis], end[axis]) != (0, extent)]
    readers = [use.operation for use in op.output.uses]
    in_place = all(
        not reads_dense(reader, op.output, requantizes) and npu_operator(reader) is not None for reader in readers
    )
    if any(step != 1 for step in steps) or len(cut) != 1 or not in_place:
        return
    (axis,) = cut
    assert isinstance(op.output.type, TensorType)
    extents = [extent for extent in (begin[axis], end[axis] - begin[axis], shape[axis] - end[axis]) if extent]
    types = [TensorType(op.output.type.element_type, [*shape[:axis], extent, *shape[axis + 1 :]]) for extent in extents]
    split = SplitOp(op.input, types, axis)
    keep_layer(op, split)
    assert op.parent is not None
    op.parent.insert_op_before(split, op)
    op.output.replace_all_uses_with(split.outputs[1 if begin[axis] else 0])
    op.detach()
    op.erase()


def dense_pieces_as_slices(op: SplitOp, requantizes: bool) -> None:
    """Give the readers of each piece of `op` that need it dense (`reads_dense`) a slice of the
    split's input instead (see the pass); the split goes when no piece has a reader left."""
    shape = value_shape(op.input)
    axis = op.axis.value.data % len(shape)
    start = 0
    for piece in op.outputs:
        extent = value_shape(piece)[axis]
        readers = [use.operation for use in piece.uses if reads_dense(use.operation, piece, requantizes)]
        if readers:
            begin = [start if index == axis else 0 for index in range(len(shape))]
            end = [start + extent if index == axis else full for index, full in enumerate(shape)]
            dense = SliceOp(op.input, piece.type, begin, end, [1] * len(shape))
            keep_layer(op, dense)
            assert op.parent is not None
            op.parent.insert_op_after(dense, op)
            for reader in readers:
                reader.operands = [dense.output if operand is piece else operand for operand in reader.operands]
        start += extent
    if not any(piece.uses for piece in op.outputs):
        op.detach()
        op.erase()


def reads_dense(reader: Operation, value: SSAValue, requantizes: bool) -> bool:
    """Whether `reader` needs `value` dense (`npuc.backend.views.needs_dense`), counting a concat
    quantized otherwise than `value` out when `requantizes`: quantized-concat-requantize then
    puts a requantize before it, which reads `value` in place."""
    if not needs_dense(reader):
        return False
    if not requantizes or not isinstance(reader, ConcatOp):
        return True
    value_type, concat_type = quant_type(value), quant_type(reader.output)
    assert value_type is not None and concat_type is not None, "verified: per-tensor quantized"
    return not parameters_differ((value_type.scale, value_type.zero_point), (concat_type.scale, concat_type.zero_point))
