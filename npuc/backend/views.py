"""Concatenation and split as memory views: the NPU moves no data for them.

A concat whose inputs are all written by NPU commands needs no copy: each
producer writes its OFM straight into its slice of the concat's buffer (a
strided feature map with the concat's strides), the way an NPU reshape
reinterprets its input's buffer. A constant input (a ViT's class token)
stays in the weights memory: one DMA copies it into its slice, which must
then be contiguous bytes (`constant_slices`). An input made by NPU reshapes
of a command's result (a ViT's patch embedding) is written by that command,
dense, into its slice, which must again be contiguous (`reshaped_writer`).
A split is the mirror image: each output is a strided slice of the input's
buffer, and its readers address it in place.

`view_problem` says why an op cannot be a view (npu-legalize then places it
on the CPU with that reason); `memory_views` gives, for a legalized function,
every value that lives inside another value's buffer, which npu-allocate
(through `npuc.backend.planning.buffers`) and npu-lower use.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from xdsl.dialects.func import FuncOp
from xdsl.ir import BlockArgument, Operation, OpResult, SSAValue

from npuc.dialects.common import value_shape
from npuc.dialects.quantized import ConcatOp, ConstantOp, ReshapeOp, SplitOp, quant_type

VIEW_OPS = (ConcatOp, SplitOp)
"""Quantized ops the NPU runs as memory views."""


@dataclass(frozen=True)
class View:
    """`value` is the slice of `base`'s buffer starting at element `start` along `axis`."""

    base: SSAValue
    axis: int
    start: int
    dense: bool = False
    """Whether `value` is stored dense in the slice's bytes (the slice is contiguous): a command's
    result that NPU reshapes make the slice's value."""


def view_axis(op: ConcatOp | SplitOp) -> int:
    """The op's non-negative concatenation or split axis."""
    rank = len(value_shape(op.output if isinstance(op, ConcatOp) else op.input))
    return op.axis.value.data % rank


def view_problem(op: Operation, on_npu: set[Operation], alignment: int) -> str | None:
    """Why `op` (a concat or split) cannot be a memory view, or None if it can.

    `on_npu` holds the ops already placed on the NPU that write memory
    themselves (compute commands) or through their own slices (concat
    views, which then nest): only they, or a DMA from a constant whose
    slice is contiguous and its bytes aligned to the DMA's `alignment`
    (`constant_problem`), can write into a concat's slice.
    Every slice must have the quantization of the whole tensor, as no
    rescale happens. Other readers of a slice address it in place, strided,
    unless they need dense data (`needs_dense`).
    """
    if isinstance(op, ConcatOp):
        return _concat_problem(op, on_npu, alignment)
    assert isinstance(op, SplitOp)
    return _split_problem(op)


def needs_dense(reader: Operation) -> bool:
    """Whether `reader` cannot address a strided slice: a reshape, a concat or split, the host."""
    return isinstance(reader, (ReshapeOp, *VIEW_OPS)) or reader.name == "func.return"


def _concat_problem(op: ConcatOp, on_npu: set[Operation], alignment: int) -> str | None:
    starts = dict(constant_slices(op))
    for index, value in enumerate(op.inputs):
        where = f"input {index}"
        if quant_type(value) != quant_type(op.output):
            return f"{where} is quantized differently from the output (a rescale, not a view)"
        if isinstance(value.owner, ConstantOp):
            problem = constant_problem(op, value.owner, starts[value.owner], alignment)
            if problem:
                return f"{where} is a constant and {problem}"
            continue  # it stays in the weights memory, whoever else reads it
        if isinstance(value.owner, ReshapeOp):
            writer = reshaped_writer(value)
            if writer is None or writer.owner not in on_npu or isinstance(writer.owner, ConcatOp):
                return f"{where} is a reshape of a value not written by an NPU command alone"
            problem = contiguity_problem(op)
            if problem:
                return f"{where} is a reshape and {problem}"
            continue
        if isinstance(value, BlockArgument) or value.owner not in on_npu:
            return f"{where} is not written by an NPU command"
        if list(op.inputs).count(value) > 1:
            return f"{where} is concatenated more than once"
        dense = [use.operation.name for use in value.uses if use.operation is not op and needs_dense(use.operation)]
        if dense:
            return f"{where} is also read by {dense[0]}, which needs it dense, not a slice of the concat"
    return None


def contiguity_problem(op: ConcatOp) -> str | None:
    """Why a slice of `op`'s buffer may not be contiguous bytes, or None.

    It is when every axis before the concatenation axis has one element and
    the concat's buffer is dense, not itself a slice of an enclosing concat.
    """
    shape = value_shape(op.output)
    outer = [extent for extent in shape[: view_axis(op)] if extent != 1]
    if outer:
        return f"its slice is not contiguous (the axes before axis {view_axis(op)} have {outer} elements)"
    if any(isinstance(use.operation, ConcatOp) for use in op.output.uses):
        return "the output is concatenated again (its slice may not be contiguous)"
    return None


def constant_problem(op: ConcatOp, constant: ConstantOp, start: int, alignment: int) -> str | None:
    """Why one DMA cannot copy `constant` into its slice of `op`'s buffer (from element `start` on
    the axis), or None: the DMA copies contiguous bytes (Ethos-U55 has no strided DMA), starting
    and ending on multiples of `alignment` bytes (the concat's buffer starts on one)."""
    problem = contiguity_problem(op)
    if problem:
        return problem
    qtype = quant_type(op.output)
    assert qtype is not None  # a view's values are quantized
    shape = value_shape(op.output)
    element_bytes = qtype.bits // 8
    first = start * prod(shape[view_axis(op) + 1 :]) * element_bytes
    size = prod(value_shape(constant.output)) * element_bytes
    if first % alignment or size % alignment:
        return f"its slice (bytes {first}..{first + size}) is not aligned to the DMA's {alignment} bytes"
    return None


def reshaped_writer(value: SSAValue) -> OpResult | None:
    """The op result that the chain of reshapes ending in `value` reshapes, if each reshape and
    that result have one reader (the next in the chain), so it may be stored in a concat's slice."""
    while isinstance(value.owner, ReshapeOp):
        if not value.has_one_use():
            return None
        value = value.owner.input
    if not isinstance(value, OpResult) or not value.has_one_use():
        return None
    return value


def constant_slices(op: ConcatOp) -> list[tuple[ConstantOp, int]]:
    """Each constant input of a concat view with the element where its slice starts along the axis."""
    return [(value.owner, start) for value, start in _slices(op) if isinstance(value.owner, ConstantOp)]


def _slices(op: ConcatOp | SplitOp) -> list[tuple[SSAValue, int]]:
    """Each input of a concat (output of a split) with the element where its slice starts along the axis."""
    axis = view_axis(op)
    values = list(op.inputs) if isinstance(op, ConcatOp) else list(op.outputs)
    starts = [0]
    for value in values:
        starts.append(starts[-1] + value_shape(value)[axis])
    return list(zip(values, starts))


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
    """Every value of `func` that lives inside another's buffer, for the view ops `is_view`.

    A constant input of a concat is not one: it stays in the weights memory
    and a DMA copies it (`constant_slices`). An input made by reshapes is,
    and so is the command result it reshapes, dense in the slice's bytes.
    """
    views: dict[SSAValue, View] = {}
    for op in func.body.ops:
        if op not in is_view:
            continue
        assert isinstance(op, VIEW_OPS)
        base = op.output if isinstance(op, ConcatOp) else op.input
        for value, start in _slices(op):
            if isinstance(value.owner, ConstantOp):
                continue
            views[value] = View(base, view_axis(op), start)
            if isinstance(op, ConcatOp) and isinstance(value.owner, ReshapeOp):
                writer = reshaped_writer(value)
                assert writer is not None, "npu-legalize made this concat a view"
                views[writer] = View(base, view_axis(op), start, dense=True)
    return views
