"""Numpy reference execution of npuc IR: float graph IR and integer quantized IR.

`run_module` picks the interpreter from the dialects a module uses. The
interpreters themselves live in `graph_interpreter` and `quantized_interpreter`
and are imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from npuc.errors import NpucError

_SCHEDULE_OPS = ("npu.stage",)
"""npu ops that annotate quantized IR before lowering; the interpreter runs them."""


def run_module(module: ModuleOp, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Execute `@main` on NHWC inputs and return its outputs.

    Graph IR runs in float32, quantized IR (possibly with scheduling
    annotations) in integers with TFLite semantics. A module lowered to npu
    commands cannot run here.
    """
    dialects = {op.name.split(".")[0] for op in module.walk() if op.name not in _SCHEDULE_OPS}
    if "npu" in dialects:
        raise NpucError("running npu command streams needs the simulator, not yet available")
    if "quantized" in dialects:
        from npuc.reference.quantized_interpreter import run_quantized

        return run_quantized(module, inputs).outputs
    from npuc.reference.graph_interpreter import run_graph

    return run_graph(module, inputs).outputs
