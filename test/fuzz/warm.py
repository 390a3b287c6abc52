"""Import, once in the runner, what every case would otherwise import again in its forked child."""

from __future__ import annotations

import importlib

MODULES = (
    "onnx",
    "onnxruntime",
    "ai_edge_litert.interpreter",
    "npuc.importers.onnx.importer",
    "npuc.importers.onnx.qdq_lower",
    "npuc.importers.tflite.importer",
    "npuc.importers.mlir",
    "npuc.reference.graph_interpreter",
    "npuc.reference.quantized_interpreter",
    "npuc.sim.simulator",
    "npuc.quantization.driver",
    "npuc.emit.ethos_u.emitter",
    "npuc.emit.ethos_u.tflite_package",
    "npuc.cost.model",
    "npuc.report.network",
)
"""Modules the cases reach (importing onnx alone costs 0.3 s a child would pay each time)."""


def warm_up() -> None:
    """Import `MODULES` and compile the seeds once, so forked children start with them loaded."""
    for name in MODULES:
        importlib.import_module(name)
    from fuzz.seeds import ir_seeds

    ir_seeds()
