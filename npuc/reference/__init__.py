"""Numpy reference execution of npuc IR: float graph IR, integer quantized IR
and (through the simulator) lowered npu programs.

`run_module` picks the interpreter from the dialects a module uses. The
interpreters themselves live in `graph_interpreter` and `quantized_interpreter`
and are imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

_SCHEDULE_OPS = ("npu.stage",)
"""npu ops that annotate quantized IR before lowering; the interpreter runs them."""


def run_module(module: ModuleOp, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Execute `@main` on NHWC inputs and return its outputs.

    Graph IR runs in float32, quantized IR (possibly with scheduling
    annotations) in integers with TFLite semantics, and a module lowered to
    npu commands in the simulator (`npuc.sim`), which executes the program on
    its memories.
    """
    dialects = {op.name.split(".")[0] for op in module.walk() if op.name not in _SCHEDULE_OPS}
    if "npu" in dialects:
        from npuc.sim.simulator import simulate

        return simulate(module, inputs)
    if "quantized" in dialects:
        from npuc.reference.quantized_interpreter import run_quantized

        return run_quantized(module, inputs).outputs
    from npuc.reference.graph_interpreter import run_graph

    return run_graph(module, inputs).outputs
