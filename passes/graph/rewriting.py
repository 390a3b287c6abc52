"""Helpers shared by the graph rewrite passes: float constants and layer names.

Not a pass. The graph passes that fold arithmetic into weights or evaluate
ops at compile time read `graph.constant` data as numpy arrays and build new
constants from the results; every op they create takes the `layer` of the op
it replaces. Graph ops are `Pure`, so the rewrite driver erases what a
rewrite leaves unused.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import BytesAttr, DenseIntOrFPElementsAttr, TensorType, f32
from xdsl.ir import Operation, SSAValue

from npuc.dialects import graph
from npuc.dialects.common import LAYER_ATTR, constant_value


def defining_constant(value: SSAValue) -> graph.ConstantOp | None:
    """The `graph.constant` that defines `value`, or None."""
    owner = value.owner
    return owner if isinstance(owner, graph.ConstantOp) else None


def constant_array(value: SSAValue) -> np.ndarray | None:
    """The data of `value` when a `graph.constant` defines it, else None."""
    constant = defining_constant(value)
    return None if constant is None else constant_value(constant.value)


def float_constant(array: np.ndarray, like: Operation | None = None) -> graph.ConstantOp:
    """A `graph.constant` holding `array` as f32, with the `layer` of `like` if it has one."""
    data = np.ascontiguousarray(array, dtype="<f4")
    attr = DenseIntOrFPElementsAttr(TensorType(f32, list(data.shape)), BytesAttr(data.tobytes()))
    constant = graph.ConstantOp(attr)
    if like is not None:
        keep_layer(like, constant)
    return constant


def keep_layer(source: Operation, target: Operation) -> None:
    """Copy the `layer` attribute of `source` (if any) onto `target`."""
    if LAYER_ATTR in source.attributes:
        target.attributes[LAYER_ATTR] = source.attributes[LAYER_ATTR]
