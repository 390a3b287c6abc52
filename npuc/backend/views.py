"""Concatenation and split as memory views: the NPU moves no data for them.

A concat whose inputs are all written by NPU commands needs no copy: each
producer writes its OFM straight into its slice of the concat's buffer (a
strided feature map with the concat's strides), the way an NPU reshape
reinterprets its input's buffer. A split is the mirror image: each output is
a strided slice of the input's buffer, and its readers address it in place.

`view_problem` says why an op cannot be a view (npu-legalize then places it
on the CPU with that reason); `memory_views` gives, for a legalized function,
every value that lives inside another value's buffer, which npu-allocate
(through `npuc.backend.planning.buffers`) and npu-lower use.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.func import FuncOp
from xdsl.ir import BlockArgument, Operation, SSAValue

from npuc.dialects.common import value_shape
from npuc.dialects.quantized import ConcatOp, ReshapeOp, SplitOp, quant_type

VIEW_OPS = (ConcatOp, SplitOp)
"""Quantized ops the NPU runs as memory views."""


@dataclass(frozen=True)
class View:
    """`value` is the slice of `base`'s buffer starting at element `start` along `axis`."""

    base: SSAValue
    axis: int
    start: int


def view_axis(op: ConcatOp | SplitOp) -> int:
    """The op's non-negative concatenation or split axis."""
    rank = len(value_shape(op.output if isinstance(op, ConcatOp) else op.input))
    return op.axis.value.data % rank


def view_problem(op: Operation, on_npu: set[Operation]) -> str | None:
    """Why `op` (a concat or split) cannot be a memory view, or None if it can.

    `on_npu` holds the ops already placed on the NPU that write memory
    themselves (compute commands) or through their own slices (concat
    views, which then nest): only they can write into a concat's slice.
    Every slice must have the quantization of the whole tensor, as no
    rescale happens. Other readers of a slice address it in place, strided,
    unless they need dense data (`needs_dense`).
    """
    if isinstance(op, ConcatOp):
        return _concat_problem(op, on_npu)
    assert isinstance(op, SplitOp)
    return _split_problem(op)


def needs_dense(reader: Operation) -> bool:
    """Whether `reader` cannot address a strided slice: a reshape, a concat or split, the host."""
    return isinstance(reader, (ReshapeOp, *VIEW_OPS)) or reader.name == "func.return"


def _concat_problem(op: ConcatOp, on_npu: set[Operation]) -> str | None:
    for index, value in enumerate(op.inputs):
        where = f"input {index}"
        if quant_type(value) != quant_type(op.output):
            return f"{where} is quantized differently from the output (a rescale, not a view)"
        if isinstance(value, BlockArgument) or value.owner not in on_npu:
            return f"{where} is not written by an NPU command"
        if list(op.inputs).count(value) > 1:
            return f"{where} is concatenated more than once"
        dense = [use.operation.name for use in value.uses if use.operation is not op and needs_dense(use.operation)]
        if dense:
            return f"{where} is also read by {dense[0]}, which needs it dense, not a slice of the concat"
    return None


def _split_problem(op: SplitOp) -> str | None:
    for index, value in enumerate(op.outputs):
        if quant_type(value) != quant_type(op.input):
            return f"output {index} is quantized differently from the input (a rescale, not a view)"
        for use in value.uses:
            if needs_dense(use.operation):
                return (
                    f"output {index} feeds {use.operation.name}, which needs a dense tensor, "
                    "not a strided slice"
                )
    return None


def memory_views(func: FuncOp, is_view: set[Operation]) -> dict[SSAValue, View]:
    """Every value of `func` that lives inside another's buffer, for the view ops `is_view`."""
    views: dict[SSAValue, View] = {}
    for op in func.body.ops:
        if op not in is_view:
            continue
        assert isinstance(op, VIEW_OPS)
        axis = view_axis(op)
        base: SSAValue
        if isinstance(op, ConcatOp):
            base, slices = op.output, list(op.inputs)
        else:
            base, slices = op.input, list(op.outputs)
        start = 0
        for value in slices:
            views[value] = View(base, axis, start)
            start += value_shape(value)[axis]
    return views
