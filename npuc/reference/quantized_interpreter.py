"""Integer reference interpreter of quantized IR.

`run_quantized` executes `@main` with TFLite's integer semantics
(`int_handlers.QUANTIZED_HANDLERS`), or with onnxruntime's rounding
(`ort_handlers.ORT_HANDLERS`) for a module imported from a QDQ ONNX model
(`quantized.rounding = "onnxruntime"`). Scheduling annotations are ignored,
so annotated IR runs as well; `run_block` runs the body of an NPU program's
CPU operation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue

from npuc.dialects.quantized import ONNXRUNTIME_ROUNDING, quant_type, rounding_mode
from npuc.errors import InputDataError
from npuc.reference.int_handlers import QUANTIZED_HANDLERS
from npuc.reference.interpreter import Execution, Handler, interpret_block, run_function
from npuc.reference.ort_handlers import ORT_HANDLERS


def handlers_for(module: ModuleOp) -> dict[type[Operation], Handler]:
    """TFLite's integer handlers, or onnxruntime's when the module says so."""
    if rounding_mode(module) != ONNXRUNTIME_ROUNDING:
        return QUANTIZED_HANDLERS
    return ORT_HANDLERS


def _as_interface_type(argument: SSAValue, array: np.ndarray, name: str) -> np.ndarray:
    """f32 arguments take floats; quantized arguments take stored integers."""
    qtype = quant_type(argument)
    if qtype is None:
        return array.astype(np.float32, copy=False)
    if not np.issubdtype(array.dtype, np.integer):
        raise InputDataError(
            f"input '{name}' is quantized ({qtype.storage_type}); pass integer data, "
            f"got {array.dtype.name}"
        )
    return array.astype(qtype.numpy_dtype(), copy=False)


def run_quantized(
    module: ModuleOp,
    inputs: Sequence[np.ndarray],
    keep_values: bool = False,
    handlers: dict[type[Operation], Handler] | None = None,
) -> Execution:
    """Execute quantized IR on NHWC inputs (any batch N).

    TFLite's integer semantics, or onnxruntime's rounding for a module marked
    `quantized.rounding = "onnxruntime"` (`handlers_for`); `handlers`, when
    given, replace those (a caller adding handlers for opaque operators).
    """
    table = handlers if handlers is not None else handlers_for(module)
    return run_function(module, inputs, table, _as_interface_type, keep_values)


def run_block(block: Block, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Execute a block of quantized ops (an `npu.cpu_op` body) on stored integers.

    The rounding is its enclosing module's (`handlers_for`): a CPU op of a QDQ
    model computes as onnxruntime does.
    """
    values: dict[SSAValue, np.ndarray] = dict(zip(block.args, map(np.asarray, inputs), strict=True))
    parent = block.parent_op()
    while parent is not None and not isinstance(parent, ModuleOp):
        parent = parent.parent_op()
    handlers = handlers_for(parent) if parent is not None else QUANTIZED_HANDLERS
    return interpret_block(block, values, handlers)
