"""The library surface of npuc: what `import npuc` offers another program.

Each function works on xDSL `ModuleOp`s so another compiler can embed npuc:
import a model, run named passes or whole pipelines, execute IR with the
reference interpreters, compile to a command stream with its report as data.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException

from npuc.errors import NpucError, PipelineError

DEFAULT_TARGET = "ethos-u55-128"

BACKEND_PASSES = ("npu-legalize", "npu-tile", "npu-schedule", "npu-allocate", "npu-lower")
"""The passes `compile_model` runs after quantization, each given the target."""


def import_model(path: str | Path) -> ModuleOp:
    """Import an ONNX model (or parse a `.mlir` file) into a verified module."""
    from npuc.importers import import_model as import_by_extension

    return import_by_extension(str(path))


def run_pipeline(module: ModuleOp, pipeline: str, context: Context | None = None) -> ModuleOp:
    """Run a pass pipeline given as `npuc-opt -p` text (e.g. `"npu-tile{target=X}"`).

    The module is changed in place, verified after every pass, and returned.
    A pass that rejects the module raises `PipelineError` with its message.
    """
    from npuc.context import npuc_context
    from npuc.passes import get_all_passes

    context = context or npuc_context()

    def verify_between(_previous, module: ModuleOp, _next) -> None:
        module.verify()

    try:
        passes = PassPipeline.parse_spec(get_all_passes(), pipeline, verify_between)
    except (ValueError, TypeError, ArgSpecParseError) as error:
        message = " ".join(str(error).split())
        raise PipelineError(f"bad pass pipeline '{pipeline}': {message}") from error
    try:
        passes.apply(context, module)
    except DiagnosticException as error:
        raise PipelineError(str(error).strip().splitlines()[0]) from error
    return module


def run(module: ModuleOp, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Execute graph IR in float or quantized IR in integers (IR layout, NHWC)."""
    from npuc.reference import run_module

    return run_module(module, inputs)


def quantize(module: ModuleOp, samples: Sequence[np.ndarray]) -> ModuleOp:
    """Fuse activations and quantize a graph module in place, calibrated on `samples`.

    `samples` holds one array per model input in IR layout, N samples stacked
    on axis 0 (see `npuc.data.load_samples`).
    """
    from npuc.quantization import quantize_module

    run_pipeline(module, "graph-fuse-activation")
    quantize_module(module, list(samples))
    module.verify()
    return module


@dataclasses.dataclass
class CompileResult:
    """Everything `compile_model` produces, as data.

    `module` is the lowered npu IR; `command_stream` and `weights` are the
    emitted binary and the constant-memory image; `cost` the cost model's
    network estimate (see `npuc.cost`).
    """

    module: ModuleOp
    command_stream: bytes
    weights: bytes
    cost: object
    target: object
    source: str

    def report_json(self) -> str:
        """The JSON report (schema in docs/report-format.md)."""
        from npuc.report.tables import report_json

        return report_json(self.cost, self.target, {"model": self.source})

    def layer_table_csv(self) -> str:
        """The per-layer CSV table."""
        from npuc.report.tables import layer_table_csv

        return layer_table_csv(self.cost)

    def summary(self) -> str:
        """The summary text `npuc compile` prints."""
        from npuc.report.tables import summary_text

        return summary_text(self.cost, self.target)

    def write(self, directory: str | Path) -> list[Path]:
        """Write stream, weights, IR and reports into `directory`; return the paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "command_stream.bin": self.command_stream,
            "weights.bin": self.weights,
            "model.npu.mlir": str(self.module) + "\n",
            "layers.csv": self.layer_table_csv(),
            "report.json": self.report_json(),
        }
        written = []
        for name, content in files.items():
            path = out / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
            written.append(path)
        return written


def is_float_module(module: ModuleOp) -> bool:
    """Whether the module still holds float `graph` ops (it needs quantization)."""
    return any(op.name.startswith("graph.") for op in module.walk())


def compile_model(
    model: str | Path | ModuleOp,
    target: str = DEFAULT_TARGET,
    calibration: Sequence[np.ndarray] | None = None,
) -> CompileResult:
    """Compile a model (path or module) for `target` down to a command stream.

    A float model needs `calibration` samples (one array per input, IR layout,
    N samples stacked on axis 0); an already quantized module does not.
    """
    from npuc.cost.model import estimate
    from npuc.emit.command_stream import encode
    from npuc.targets import load_target

    target_description = load_target(target)
    source = str(model) if not isinstance(model, ModuleOp) else "<module>"
    module = import_model(model) if not isinstance(model, ModuleOp) else model
    if is_float_module(module):
        if calibration is None:
            raise NpucError(
                f"{source}: a float model needs calibration data to be quantized"
            )
        quantize(module, calibration)
    pipeline = ",".join(f"{name}{{target={json.dumps(target)}}}" for name in BACKEND_PASSES)
    run_pipeline(module, pipeline)
    cost = estimate(module, target_description)
    stream = encode(module)
    return CompileResult(module, stream.stream, stream.blob, cost, target_description, source)
