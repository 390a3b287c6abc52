"""Interpreter handlers for data-movement ops, shared by both interpreters.

Split, slice, pad and the depth/space rearrangements copy elements without
arithmetic, so one handler serves the `graph` op and its `quantized` twin:
the properties they read are defined once in `npuc.dialects.movement`.
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import Operation

from npuc.dialects.common import array_values, value_shape
from npuc.dialects.movement import (
    BlockRearrangeBase,
    DepthToSpaceBase,
    PadBase,
    SliceBase,
    SplitBase,
)
from npuc.reference import movement_kernels
from npuc.reference.batching import batch_views, merge_batch


def split(op: Operation, operands: list[np.ndarray]) -> list[np.ndarray]:
    """Pieces along the op's axis, sized by the result types."""
    assert isinstance(op, SplitBase)
    axis = op.axis.value.data
    extents = [value_shape(result)[axis] for result in op.results]
    pieces = movement_kernels.split(batch_views(op, operands)[0], extents, axis + 1)
    return [merge_batch(op, np.ascontiguousarray(piece)) for piece in pieces]


def slice_(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """Strided slice of every sample."""
    assert isinstance(op, SliceBase)
    (source,) = batch_views(op, operands)
    begin, end, strides = (array_values(attr) for attr in (op.begin, op.end, op.strides))
    sliced = movement_kernels.strided_slice(
        source, (0, *begin), (source.shape[0], *end), (1, *strides)
    )
    return merge_batch(op, np.ascontiguousarray(sliced))


def pad(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """Padding of every sample; constant mode fills with the op's `value`."""
    assert isinstance(op, PadBase)
    (source,) = batch_views(op, operands)
    paddings = (0, 0, *array_values(op.paddings))
    return merge_batch(op, movement_kernels.pad(source, paddings, op.mode.data, op.fill_value()))


def depth_to_space(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """Channels to spatial blocks, DCR or CRD."""
    assert isinstance(op, DepthToSpaceBase)
    return movement_kernels.depth_to_space(operands[0], op.block_size.value.data, op.mode.data)


def space_to_depth(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """Spatial blocks to channels."""
    assert isinstance(op, BlockRearrangeBase)
    return movement_kernels.space_to_depth(operands[0], op.block_size.value.data)
