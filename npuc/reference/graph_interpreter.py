"""Float reference interpreter of graph IR.

`run_graph` executes `@main` op by op with the handlers of
`npuc.reference.graph_handlers`. Inputs are in IR layout (NHWC); their
leading (batch) extent may be N times the IR's, so calibration can run a
whole batch at once (`npuc.reference.batching` states the convention).
The op-independent machinery lives in `npuc.reference.interpreter`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from npuc.reference.graph_handlers import GRAPH_HANDLERS
from npuc.reference.interpreter import Execution, run_function


def _as_float(argument: SSAValue, array: np.ndarray, name: str) -> np.ndarray:
    return array.astype(np.float32, copy=False)


def run_graph(
    module: ModuleOp, inputs: Sequence[np.ndarray], keep_values: bool = False
) -> Execution:
    """Execute graph IR in float32 on NHWC inputs (any batch size N).

    With `keep_values`, the returned `Execution.values` holds the array of
    every value of `@main`, arguments and constants included.

    Arithmetic is IEEE float32 as in ONNX Runtime: an overflow gives an
    infinity and an invalid operation a NaN, silently (numpy's warnings for
    them are off here only), and the caller judges the values (calibration
    refuses a non-finite range by name). Matrix products run on one BLAS
    thread: they are small (a layer's output positions by its channels), so
    BLAS worker threads cost more than they save, many times more on a
    busy machine (regnet_x_400mf's calibration convolutions: 0.76 s on 2
    OpenBLAS threads, 0.07 s on one); threads split a product's rows and
    columns, not its sums, so the results are the same.
    """
    blas = threadpool_limits(limits=1, user_api="blas")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), blas:
        return run_function(module, inputs, GRAPH_HANDLERS, _as_float, keep_values)
