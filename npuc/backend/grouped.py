"""A grouped convolution as the NPU runs it: one convolution per group, between memory views.

An Ethos-U convolution reads every IFM channel for every OFM channel, so a
`quantized.conv2d` with `groups` G > 1 runs as G convolutions: a split of
its IFM into G channel slices (each read in place, strided), one
convolution per group with its rows of the weights, bias, scales and
explicit rescale, and a concat of the G results (each written straight
into its channel slice of the OFM). The split and the concat are memory
views (`npuc.backend.views`), so the NPU moves no data for them, and the
activation stays fused into every group's command. npu-legalize makes
this rewrite first; each group's convolution then meets the target's
`conv2d` rule, or runs on the CPU with its reason, as any convolution.
A grouped convolution the NPU cannot run is split all the same: its
groups run on the CPU as plain CONV_2Ds, which any TFLite runtime runs
(a grouped CONV_2D needs a kernel that groups a filter shallower than
its input, and the CPU's runtime is not npuc's to choose).

The rewrite is exact: output channel o of group g sums over the input
channels of group g alone in both forms, with the same integers and the
same per-channel rescale.
"""

from __future__ import annotations

from xdsl.dialects.builtin import DenseArrayBase, IntegerType, TensorType, i32
from xdsl.dialects.func import FuncOp
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from npuc.dialects.common import array_values, constant_value, dense, value_shape
from npuc.dialects.quantized import (
    ConcatOp,
    ConstantOp,
    Conv2dOp,
    SplitOp,
    UniformQuantizedType,
    quant_type,
)


def split_grouped_convolutions(func: FuncOp) -> None:
    """Replace every grouped `quantized.conv2d` of `func` by split -> one conv2d per group -> concat."""
    for op in list(func.body.ops):
        if isinstance(op, Conv2dOp) and op.group_count() > 1:
            _split(op)


def _split(op: Conv2dOp) -> None:
    groups = op.group_count()
    channels = value_shape(op.ifm)[3]
    ofm_type = op.ofm.type
    assert isinstance(ofm_type, TensorType)
    *ofm_nhw, out_channels = value_shape(op.ofm)
    per_group = out_channels // groups
    split = SplitOp(op.ifm, [_with_depth(op.ifm, channels // groups)] * groups, 3)
    new_ops: list[Operation] = [split]
    results: list[SSAValue] = []
    for group, piece in enumerate(split.outputs):
        rows = slice(group * per_group, (group + 1) * per_group)
        weights, bias = _constant_rows(op.weights, rows), _constant_rows(op.bias, rows)
        conv = Conv2dOp(
            piece, weights.output, bias.output, TensorType(ofm_type.element_type, [*ofm_nhw, per_group]),
            array_values(op.strides), array_values(op.dilations), array_values(op.padding), op.activation.data,
        )  # fmt: skip
        if op.rescale is not None:
            conv.properties["rescale"] = _rescale_rows(op.rescale, rows)
        conv.attributes.update(op.attributes)
        new_ops += [weights, bias, conv]
        results.append(conv.ofm)
    concat = ConcatOp(results, ofm_type, 3)
    split.attributes.update(op.attributes)
    concat.attributes.update(op.attributes)
    new_ops.append(concat)
    Rewriter.insert_op(new_ops, InsertPoint.before(op))
    old_constants = [value.owner for value in (op.weights, op.bias)]
    Rewriter.replace_op(op, [], [concat.output])
    for constant in old_constants:
        if isinstance(constant, Operation) and not any(result.uses for result in constant.results):
            Rewriter.erase_op(constant)


def _with_depth(value: SSAValue, depth: int) -> Attribute:
    """`value`'s tensor type with its last extent `depth`."""
    value_type = value.type
    assert isinstance(value_type, TensorType)
    return TensorType(value_type.element_type, [*value_shape(value)[:-1], depth])


def _constant_rows(value: SSAValue, rows: slice) -> ConstantOp:
    """A constant of the rows `rows` (first axis) of constant `value`, its per-axis scales with them."""
    constant = value.owner
    assert isinstance(constant, ConstantOp), "npu-legalize: a convolution's weights and bias are constants"
    data = constant_value(constant.value)[rows]
    value_type = value.type
    assert isinstance(value_type, TensorType)
    element = value_type.element_type
    qtype = quant_type(value)
    if qtype is not None and qtype.is_per_axis:
        element = UniformQuantizedType(
            qtype.storage_type,
            [scale.data for scale in qtype.scales.data[rows]],
            [zero_point.data for zero_point in qtype.zero_points.data[rows]],
            qtype.axis.data,
        )
    storage = qtype.storage_type if qtype is not None else element
    assert isinstance(storage, IntegerType)
    piece = ConstantOp(dense(data, storage), TensorType(element, list(data.shape)))
    piece.attributes.update(constant.attributes)
    return piece


def _rescale_rows(rescale: DenseArrayBase, rows: slice) -> DenseArrayBase:
    """An explicit rescale of (multiplier, shift) pairs for the output channels `rows` (one pair: unchanged)."""
    pairs = array_values(rescale)
    if len(pairs) == 2:
        return rescale
    return DenseArrayBase.from_list(i32, pairs[2 * rows.start : 2 * rows.stop])
