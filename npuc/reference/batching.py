"""The batch convention of the reference interpreters.

Interpreters accept inputs whose leading extent is `N` times the IR's (the IR
says 1 for a feature map; calibration runs a whole batch of `N` samples at
once). Every value then holds `N` samples one after another along its leading
axis: an IR shape `[L, ...]` is computed as `[N * L, ...]`, while constants
keep their IR shape (one copy shared by all samples).

Most kernels compute per sample along axis 0 already (convolutions, pooling,
elementwise ops between a feature map and a constant of leading extent 1).
Ops that act on axis 0 itself (concat, split, slice, pad, reduce, softmax,
transpose, matmul of rank-2 tensors) instead run on `batch_views`: every
operand seen as `[N, *ir_shape]`, the kernel applied with its axes shifted by
one, and the result folded back by `merge_batch`. The same functions serve
the float and the integer interpreter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation, SSAValue

from npuc.dialects.common import layer_name, value_shape
from npuc.errors import InputDataError, ModelVerificationError, check_memory


def samples(value: SSAValue, array: np.ndarray) -> int:
    """How many samples `array` holds for `value`: 1 for constants and rank-0 values."""
    shape = value_shape(value)
    if not shape or shape[0] == 0:
        return 1
    return array.shape[0] // shape[0]


def batch_size(op: Operation, operands: Sequence[np.ndarray]) -> int:
    """The number of samples an op computes: the largest among its operands."""
    return max((samples(v, a) for v, a in zip(op.operands, operands)), default=1)


def batch_views(
    op: Operation, operands: Sequence[np.ndarray], rank: int | None = None
) -> list[np.ndarray]:
    """Every operand as `[N, *ir_shape]` for the op's batch size `N`.

    Operands without a batch (constants) are broadcast to all samples without
    a copy. With `rank`, operands of a lower IR rank are first given leading
    unit axes up to `rank`, so numpy broadcasting (elementwise ops, matmul)
    still lines up the trailing axes after the batch axis is added.
    """
    batch = batch_size(op, operands)
    views = []
    for value, array in zip(op.operands, operands):
        shape = value_shape(value)
        if rank is not None:
            shape = (1,) * (rank - len(shape)) + shape
        count = samples(value, array)
        view = array.reshape(count, *shape)
        views.append(view if count == batch else np.broadcast_to(view, (batch, *shape)))
    return views


def merge_batch(op: Operation, array: np.ndarray) -> np.ndarray:
    """Fold a per-sample result `[N, *ir_shape]` back into the `[N * L, ...]` convention."""
    if array.ndim > 1:
        return array.reshape(array.shape[0] * array.shape[1], *array.shape[2:])
    if array.shape[0] != 1:
        raise InputDataError(
            f"layer '{layer_name(op)}' ({op.name}) has a rank-0 result and cannot run "
            f"on a batch of {array.shape[0]} samples; run them one at a time"
        )
    return array.reshape(())


KERNEL_ELEMENT_BYTES = 8
"""Bytes a kernel may hold per result element: results and accumulators in float64 or int64 at widest."""


def check_result_memory(op: Operation, batch: int) -> None:
    """`MemoryLimitError` naming `op` if one of its results, `batch` samples of it, is too large to compute.

    Checked before the kernel runs: a result's size comes from the IR (a Pad
    to 60,004 x 60,004, a Resize by 10,000), and allocating it would end in
    numpy's `MemoryError` after trying.
    """
    for result in op.results:
        if not isinstance(result.type, TensorType):
            continue
        shape = value_shape(result)
        expected = (shape[0] * batch, *shape[1:]) if shape else ()
        check_memory(
            math.prod(expected) * KERNEL_ELEMENT_BYTES,
            f"reference interpreter: layer '{layer_name(op)}' ({op.name}) result of shape {list(expected)}",
        )


def check_result(op: Operation, value: SSAValue, array: np.ndarray, batch: int) -> None:
    """Raise unless a computed result has its IR shape scaled by the batch size.

    A safety net: a kernel that mixed the samples of a batch, or produced a
    shape its op does not verify, stops the run instead of passing on
    something wrong.
    """
    shape = value_shape(value)
    expected = (shape[0] * batch, *shape[1:]) if shape else ()
    if array.shape != expected:
        batch_note = f" for a batch of {batch}" if batch > 1 else ""
        raise ModelVerificationError(
            f"reference interpreter: layer '{layer_name(op)}' ({op.name}) computed shape "
            f"{list(array.shape)}, expected {list(expected)}{batch_note}"
        )
