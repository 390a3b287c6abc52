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

from operator import itemgetter

from xdsl.dialects.builtin import TensorType
from xdsl.dialects.func import FuncOp
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from npuc.dialects.common import array_values, constant_value, value_shape
from npuc.dialects.quantized import (
    ConcatOp,
    ConstantOp,
    Conv2dOp,
    SplitOp,
    channel_constant,
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
        rows = itemgetter(slice(group * per_group, (group + 1) * per_group))
        weights, bias = (_constant_rows(value, rows) for value in (op.weights, op.bias))
        conv = Conv2dOp(
            piece, weights.output, bias.output, TensorType(ofm_type.element_type, [*ofm_nhw, per_group]),
            array_values(op.strides), array_values(op.dilations), array_values(op.padding), op.activation.data,
        )  # fmt: skip
        rescale = op.channel_rescale(rows)
        if rescale is not None:
            conv.properties["rescale"] = rescale
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


def _constant_rows(value: SSAValue, rows: itemgetter) -> ConstantOp:
    """A constant of the rows `rows` picks (first axis) of constant `value`, its per-axis scales with them."""
    constant = value.owner
    assert isinstance(constant, ConstantOp), "npu-legalize: a convolution's weights and bias are constants"
    piece = channel_constant(value, rows(constant_value(constant.value)), 0, rows)
    piece.attributes.update(constant.attributes)
    return piece
