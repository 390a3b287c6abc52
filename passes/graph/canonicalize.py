"""graph-canonicalize: remove no-op reshapes and transposes, collapse chains, sink transposes and reshapes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from npuc.dialects import graph
from npuc.dialects.common import (
    BinaryBase,
    array_values,
    constant_value,
    keep_layer,
    value_shape,
)
from npuc.dialects.graph import defining_constant, float_constant

ELEMENTWISE_UNARY = (
    graph.ReluOp,
    graph.ClipOp,
    graph.SigmoidOp,
    graph.TanhOp,
    graph.HardSwishOp,
    graph.SqrtOp,
    graph.LeakyReluOp,
    graph.EluOp,
    graph.HardSigmoidOp,
    graph.GeluOp,
)
"""Ops applying one function to every element (not softmax or LRN): a transpose commutes with them."""


def _with_shape(value: SSAValue, shape: Sequence[int]) -> TensorType:
    assert isinstance(value.type, TensorType)
    return TensorType(value.type.element_type, list(shape))


def _inverse(perm: Sequence[int]) -> list[int]:
    inverse = [0] * len(perm)
    for axis, source in enumerate(perm):
        inverse[source] = axis
    return inverse


def _before_transpose(value: SSAValue, perm: Sequence[int]) -> TensorType:
    """The type `value` has before a transpose by `perm` gives it its own."""
    shape = value_shape(value)
    return _with_shape(value, [shape[axis] for axis in _inverse(perm)])


def _reshape(op: Operation, source: SSAValue, result: SSAValue, rewriter: PatternRewriter) -> None:
    """Replace `op` by a reshape of `source` to the type of `result`, or by `source` itself."""
    if source.type == result.type:
        rewriter.replace(op, [], [source])
        return
    reshape = graph.ReshapeOp(source, result.type)
    keep_layer(op, reshape)
    rewriter.replace(op, [reshape], [reshape.output])


class FoldReshape(RewritePattern):
    """A reshape to its input's type disappears; a reshape of a reshape reads the first's input."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ReshapeOp, rewriter: PatternRewriter) -> None:
        producer = op.input.owner
        if isinstance(producer, graph.ReshapeOp):
            _reshape(op, producer.input, op.output, rewriter)
        elif op.input.type == op.output.type:
            rewriter.replace(op, [], [op.input])


class FoldTranspose(RewritePattern):
    """Transposes that keep the element order become reshapes; transpose pairs compose.

    A permutation that leaves the non-unit axes in order (the identity
    included) moves no element: it is a reshape. Two consecutive transposes
    are one, which is a reshape (or nothing) when they cancel.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.TransposeOp, rewriter: PatternRewriter) -> None:
        perm = array_values(op.perm)
        source = value_shape(op.input)
        moved = [axis for axis in perm if source[axis] != 1]
        if moved == sorted(moved):
            _reshape(op, op.input, op.output, rewriter)
            return
        producer = op.input.owner
        if isinstance(producer, graph.TransposeOp):
            inner = array_values(producer.perm)
            transpose = graph.TransposeOp(producer.input, op.output.type, [inner[axis] for axis in perm])
            keep_layer(op, transpose)
            rewriter.replace(op, [transpose], [transpose.output])


TO_NCHW = (0, 3, 1, 2)
"""The permutation from an NHWC tensor to its NCHW form."""
TO_NHWC = (0, 2, 3, 1)
"""Its inverse."""


CUTS = (graph.SliceOp, graph.SplitOp)
"""Ops cutting pieces out of a tensor: a transpose all of whose users are cuts sinks below them."""

SINKS_TRANSPOSES = (*CUTS, graph.ConcatOp, graph.TransposeOp)
"""Users through which (or into which) a transpose to NCHW sinks."""


class FoldPermutationChain(RewritePattern):
    """A chain of reshapes and transposes with two or more transposes -> reshape, one transpose, reshape.

    Such a chain only moves elements: the element each output position
    reads (an index permutation, computed on `arange`) is the output of one
    transpose of the input read as a few merged axes (`permutation_axes`).
    An NHWC model exported from NCHW spells a channel shuffle as transpose
    to NCHW, reshape, transpose, reshape, transpose back to NHWC: one
    transpose of [H*W, groups, C/groups] does it. A chain from a 4-D tensor
    to the NCHW shape of that tensor, read by slices, splits, concats or transposes,
    ends in a transpose to NCHW after the chain in NHWC, so that the
    transpose can sink towards the transpose back
    to NHWC that cancels it (through slices, splits and concats:
    ShuffleNet's blocks). The chain is folded at its end; intermediate results must
    have no other user.
    """

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        chain = _permutation_chain(op)
        if sum(isinstance(link, graph.TransposeOp) for link in chain) < 2 or _continues(op):
            return
        source, result = chain[0].operands[0], op.results[0]
        order = np.arange(int(np.prod(value_shape(source)))).reshape(value_shape(source))
        for link in chain:
            if isinstance(link, graph.TransposeOp):
                order = order.transpose(array_values(link.perm))
            else:
                order = order.reshape(value_shape(link.results[0]))
        source_shape = list(value_shape(source))
        to_nchw = (
            len(source_shape) == 4
            and list(value_shape(result)) == [source_shape[axis] for axis in TO_NCHW]
            and bool(result.uses)
            and all(isinstance(use.operation, SINKS_TRANSPOSES) for use in result.uses)
        )
        shape = source_shape if to_nchw else value_shape(result)
        new_ops = _one_transpose(source, order.transpose(TO_NHWC) if to_nchw else order, _with_shape(source, shape))
        if new_ops is None:
            return
        if to_nchw:
            new_ops.append(graph.TransposeOp(new_ops[-1].results[0] if new_ops else source, result.type, TO_NCHW))
        if not new_ops:
            rewriter.replace(op, [], [source])
            return
        if _signature(new_ops) == _signature(chain):
            for new_op in reversed(new_ops):
                new_op.erase()
            return
        for new_op in new_ops:
            keep_layer(op, new_op)
        rewriter.replace(op, new_ops, [new_ops[-1].results[0]])


def _continues(op: Operation) -> bool:
    """Whether the reshape/transpose chain through `op` goes on: its only user is a reshape or transpose."""
    uses = list(op.results[0].uses)
    return len(uses) == 1 and isinstance(uses[0].operation, (graph.ReshapeOp, graph.TransposeOp))


def _one_transpose(source: SSAValue, order: np.ndarray, result_type: TensorType) -> list[Operation] | None:
    """[reshape] transpose [reshape] of `source` giving `result_type` whose element at each position
    is `order`'s there (fewer ops when some are identities), or None if no transpose does it."""
    axes = permutation_axes(order.reshape(-1))
    if axes is None:
        return None
    new_ops: list[Operation] = []
    value = source
    if len(axes) >= 2:
        by_stride = sorted(range(len(axes)), key=lambda axis: -axes[axis][1])
        input_shape = [axes[axis][0] for axis in by_stride]
        if list(value_shape(value)) != input_shape:
            new_ops.append(graph.ReshapeOp(value, _with_shape(value, input_shape)))
            value = new_ops[-1].results[0]
        perm = [by_stride.index(axis) for axis in range(len(axes))]
        new_ops.append(graph.TransposeOp(value, _with_shape(value, [extent for extent, _ in axes]), perm))
        value = new_ops[-1].results[0]
    if value.type != result_type:
        new_ops.append(graph.ReshapeOp(value, result_type))
    return new_ops


def _signature(ops: Sequence[Operation]) -> list[tuple]:
    """What tells reshape/transpose sequences apart: each op's name, result shape and permutation."""
    return [
        (op.name, tuple(value_shape(op.results[0])), array_values(op.perm) if isinstance(op, graph.TransposeOp) else None)
        for op in ops
    ]


def _cut_transpose(value: SSAValue) -> graph.TransposeOp | None:
    """The transpose defining `value` if every user of it is a slice or split (`CUTS`), else None."""
    transpose = value.owner
    if not isinstance(transpose, graph.TransposeOp):
        return None
    return transpose if all(isinstance(use.operation, CUTS) for use in transpose.output.uses) else None


class SinkTransposeThroughSlice(RewritePattern):
    """slice(transpose(x)) -> transpose(slice(x)) when every user of the transpose is a slice or split.

    The slice's begin, end and strides move to the axes of `x` they cut;
    the transposes, one per slice, sink on towards transposes that cancel
    them.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.SliceOp, rewriter: PatternRewriter) -> None:
        transpose = _cut_transpose(op.input)
        if transpose is None:
            return
        perm = array_values(transpose.perm)
        inverse = _inverse(perm)
        begin, end, strides = array_values(op.begin), array_values(op.end), array_values(op.strides)
        moved = graph.SliceOp(
            transpose.input,
            _before_transpose(op.output, perm),
            [begin[axis] for axis in inverse],
            [end[axis] for axis in inverse],
            [strides[axis] for axis in inverse],
        )
        after = graph.TransposeOp(moved.output, op.output.type, perm)
        keep_layer(op, moved)
        keep_layer(op, after)
        rewriter.replace(op, [moved, after], [after.output])


class SinkTransposeThroughSplit(RewritePattern):
    """split(transpose(x)) -> transpose of each piece of split(x) when every user of the transpose is a cut.

    The split axis becomes the axis of `x` it was transposed from. The
    dynamo exporter spells ShuffleNet's `chunk` as one Split (the
    TorchScript exporter as two Slices): its pieces' transposes sink on
    like the slices' towards transposes that cancel them.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.SplitOp, rewriter: PatternRewriter) -> None:
        transpose = _cut_transpose(op.input)
        if transpose is None:
            return
        perm = array_values(transpose.perm)
        pieces = [_before_transpose(piece, perm) for piece in op.outputs]
        moved = graph.SplitOp(transpose.input, pieces, perm[op.axis.value.data])
        afters = [graph.TransposeOp(piece, result.type, perm) for piece, result in zip(moved.outputs, op.outputs)]
        keep_layer(op, moved)
        for after in afters:
            keep_layer(op, after)
        rewriter.replace(op, [moved, *afters], [after.output for after in afters])


class SinkTransposeThroughConcat(RewritePattern):
    """concat(transpose(a), transpose(b), ...) with one permutation -> transpose(concat(a, b, ...)).

    Each transpose must have no other user; the concat axis becomes the
    axis it was transposed from.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: graph.ConcatOp, rewriter: PatternRewriter) -> None:
        transposes = [_single_use_transpose(value) for value in op.inputs]
        perms = {array_values(t.perm) for t in transposes if t is not None}
        if None in transposes or len(perms) != 1:
            return
        (perm,) = perms
        joined = graph.ConcatOp(
            [t.input for t in transposes if t is not None],
            _before_transpose(op.output, perm),
            perm[op.axis.value.data],
        )
        after = graph.TransposeOp(joined.output, op.output.type, perm)
        keep_layer(op, joined)
        keep_layer(op, after)
        rewriter.replace(op, [joined, after], [after.output])


def _permutation_chain(op: Operation) -> list[Operation]:
    """The reshapes and transposes ending at `op`, first first, each feeding only the next."""
    chain: list[Operation] = []
    while isinstance(op, (graph.ReshapeOp, graph.TransposeOp)):
        chain.insert(0, op)
        producer = op.operands[0].owner
        if not op.operands[0].has_one_use() or not isinstance(producer, Operation):
            break
        op = producer
    return chain


def permutation_axes(order: np.ndarray) -> list[tuple[int, int]] | None:
    """`order` (output position -> input element) as axes (extent, input stride), outermost first, or None.

    Innermost first, each axis is the longest run of positions whose
    elements step evenly; None when the axes' strides are not those of an
    input read as a dense tensor (a mixed radix), which a chain of reshapes
    and transposes never gives.
    """
    axes: list[tuple[int, int]] = []
    rest = order
    while rest.size > 1:
        step = int(rest[1] - rest[0])
        extent = next(
            extent
            for extent in range(rest.size, 1, -1)
            if rest.size % extent == 0
            and bool(np.all(rest.reshape(-1, extent) - rest.reshape(-1, extent)[:, :1] == np.arange(extent) * step))
        ) if step > 0 else 0
        if not extent:
            return None
        axes.insert(0, (extent, step))
        rest = rest[::extent]
    strides = sorted(axes, key=lambda axis: -axis[1])
    expected = 1
    for extent, stride in reversed(strides):
        if stride != expected:
            return None
        expected *= extent
    return axes


def _single_use_transpose(value: SSAValue) -> graph.TransposeOp | None:
    owner = value.owner
    return owner if isinstance(owner, graph.TransposeOp) and value.has_one_use() else None


def _sunk(
    op: Operation,
    operands: Sequence[SSAValue],
    perm: Sequence[int],
    rewriter: PatternRewriter,
    constants: Sequence[Operation] = (),
) -> None:
    """Recreate `op` on `operands` in the pre-transpose order and transpose its result after.

    `constants` are new ops (permuted constants) that `operands` use.
    """
    result = op.results[0]
    moved = type(op).create(
        operands=list(operands),
        result_types=[_before_transpose(result, perm)],
        properties=dict(op.properties),
        attributes=dict(op.attributes),
    )
    transpose = graph.TransposeOp(moved.results[0], result.type, perm)
    keep_layer(op, transpose)
    rewriter.replace(op, [*constants, moved, transpose], [transpose.output])


class SinkTransposeThroughUnary(RewritePattern):
    """unary(transpose(x)) -> transpose(unary(x)) when the transpose has no other user.

    Moving transposes towards their consumers lets pairs meet and cancel.
    """

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, ELEMENTWISE_UNARY):
            return
        transpose = _single_use_transpose(op.operands[0])
        if transpose is not None:
            _sunk(op, [transpose.input], array_values(transpose.perm), rewriter)


class SinkTransposeThroughBinary(RewritePattern):
    """binary(transpose(x), transpose(y)) with one permutation -> transpose(binary(x, y)).

    A constant operand instead of the second transpose is permuted at compile
    time. Each transpose must have no other user and the rank of the result.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: BinaryBase, rewriter: PatternRewriter) -> None:
        if not op.name.startswith("graph."):
            return
        rank = len(value_shape(op.ofm))
        transposes = [_single_use_transpose(operand) for operand in op.operands]
        perms = {array_values(t.perm) for t in transposes if t is not None}
        if len(perms) != 1 or any(len(value_shape(t.input)) != rank for t in transposes if t):
            return
        (perm,) = perms
        new_ops: list[Operation] = []
        operands: list[SSAValue] = []
        for operand, transpose in zip(op.operands, transposes):
            if transpose is not None:
                operands.append(transpose.input)
                continue
            source = defining_constant(operand)
            if source is None:
                return
            array = constant_value(source.value)
            full = array.reshape((1,) * (rank - array.ndim) + array.shape)
            constant = float_constant(np.transpose(full, _inverse(perm)), like=source)
            new_ops.append(constant)
            operands.append(constant.output)
        _sunk(op, operands, perm, rewriter, new_ops)


def _non_unit_axes(shape: Sequence[int]) -> list[int]:
    return [axis for axis, extent in enumerate(shape) if extent != 1]


def _unit_axes_reshape(value: SSAValue) -> graph.ReshapeOp | None:
    """The reshape defining `value` if it has no other user and only inserts or drops unit axes.

    Other reshapes stay where they are: sinking one that merges axes could
    leave an elementwise op on a tensor of higher rank than the NPU takes.
    """
    owner = value.owner
    if not isinstance(owner, graph.ReshapeOp) or not value.has_one_use():
        return None
    before, after = value_shape(owner.input), value_shape(owner.output)
    same_extents = [before[axis] for axis in _non_unit_axes(before)] == [after[axis] for axis in _non_unit_axes(after)]
    return owner if same_extents else None


def _sunk_reshape(
    op: Operation, operands: Sequence[SSAValue], reshape: graph.ReshapeOp, rewriter: PatternRewriter,
    constants: Sequence[Operation] = (),
) -> None:
    """Recreate `op` on `operands` in the reshape's input shape and reshape its result after."""
    moved = type(op).create(
        operands=list(operands),
        result_types=[reshape.input.type],
        properties=dict(op.properties),
        attributes=dict(op.attributes),
    )
    after = graph.ReshapeOp(moved.results[0], op.results[0].type)
    keep_layer(op, after)
    rewriter.replace(op, [*constants, moved, after], [after.output])


class SinkReshapeThroughUnary(RewritePattern):
    """unary(reshape(x)) -> reshape(unary(x)) for a single-use reshape of unit axes.

    An elementwise function does not care about the shape; moving reshapes
    towards their consumers lets a lifted 1-D layer's reshape pair meet and
    vanish, so the activation after it reaches the layer and fuses.
    """

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, ELEMENTWISE_UNARY):
            return
        reshape = _unit_axes_reshape(op.operands[0])
        if reshape is not None:
            _sunk_reshape(op, [reshape.input], reshape, rewriter)


class SinkReshapeThroughBinary(RewritePattern):
    """binary(reshape(x), constant) -> reshape(binary(x, constant')) for a reshape of unit axes (either order).

    The reshape must only insert or drop unit axes and have no other user, and
    the constant must not broadcast the result beyond the reshape's: then the
    constant keeps its extents on the matching axes of x (its elements in the
    same order), e.g. the per-channel scale of a batch norm after a lifted
    1-D convolution, which graph-fold-scale can then fold.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: BinaryBase, rewriter: PatternRewriter) -> None:
        if not op.name.startswith("graph."):
            return
        reshaped = 0 if _unit_axes_reshape(op.ifm) is not None else 1
        reshape = _unit_axes_reshape(op.operands[reshaped])
        source = defining_constant(op.operands[1 - reshaped])
        if reshape is None or source is None or op.ofm.type != reshape.output.type:
            return
        before, after = value_shape(reshape.input), value_shape(reshape.output)
        before_axes, after_axes = _non_unit_axes(before), _non_unit_axes(after)
        array = constant_value(source.value)
        full = array.reshape((1,) * (len(after) - array.ndim) + array.shape)
        shape = [1] * len(before)
        for before_axis, after_axis in zip(before_axes, after_axes):
            shape[before_axis] = full.shape[after_axis]
        constant = float_constant(full.reshape(shape), like=source)
        operands = [reshape.input, constant.output] if reshaped == 0 else [constant.output, reshape.input]
        _sunk_reshape(op, operands, reshape, rewriter, [constant])


@dataclass(frozen=True)
class CanonicalizePass(ModulePass):
    """Simplify reshapes and transposes of graph IR.

    Removes reshapes to the same type and transposes that move no element
    (identity or unit-axis permutations become reshapes), collapses reshape
    chains and consecutive transposes (pairs that cancel disappear), folds
    chains of reshapes and transposes into one transpose between reshapes
    (`FoldPermutationChain`: a channel shuffle exported from NCHW), sinks
    transposes through the slices and splits that are their only users and
    through concats, and sinks single-use transposes through elementwise ops
    (towards a transpose that cancels them) and single-use reshapes that only insert or drop unit axes
    through unary elementwise ops and binary ones with a constant operand
    (towards a reshape they collapse with: a lifted 1-D layer's activation
    then meets the layer). Every new op keeps the `layer` of the
    op it replaces.
    """

    name = "graph-canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        patterns = [
            FoldReshape(),
            FoldTranspose(),
            FoldPermutationChain(),
            SinkTransposeThroughUnary(),
            SinkTransposeThroughBinary(),
            SinkTransposeThroughSlice(),
            SinkTransposeThroughSplit(),
            SinkTransposeThroughConcat(),
            SinkReshapeThroughUnary(),
            SinkReshapeThroughBinary(),
        ]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns)).rewrite_module(op)
