"""PyTorch models as a new user exports them, through npuc: import, float, quantize, analyze (issue 16).

Exports torchvision's resnet18, mobilenet_v2, mobilenet_v3_small,
efficientnet_b0, squeezenet1_1, shufflenet_v2_x0_5, regnet_x_400mf and
mnasnet0_5 (1x3x224x224), a 1-D keyword-spotting CNN (1x40x49) and a small
ViT (1x3x64x64), random weights from a fixed seed, with both of torch's ONNX
exporters (`bench/torch_export.py`, opset 17 and the dynamo exporter's 18),
and caches the files in `build/torch_models/` (`--cache`). The export runs in
a separate process with `--torch-python` (default: this Python), so this half
needs no torch once the cache holds the files. Then, for every model and
exporter, on 8 standard-normal samples from a fixed seed:

- import: `npuc.import_model`;
- float: `npuc.run` against onnxruntime, max |difference| / max |reference|
  (limit 1e-5);
- analyze: `npuc.quantize` calibrated on the 8 samples and
  `npuc.analyze_model` for ethos-u55-128, the wall time of import, quantize
  and analysis (`npuc analyze` also schedules for Size, for its advice, and
  writes the reports), the NPU and total cycles of the report (total only
  when the report prices CPU work apart), its CPU operations by kind;
- SQNR: npuc's quantized model (integer reference) and onnxruntime's
  `quantize_static` (QDQ, per-channel int8, calibrated on the same 8 samples)
  against onnxruntime's float output on those samples; npuc must not be lower.

It prints one table, a row per model and exporter; a step that fails ends its
row with the one-line error (the steps after it are left blank). Exits 1 when
a row fails a limit or a step. torch is not an npuc dependency; to install it
without touching npuc's environment, see `INSTALL_TORCH` (printed when the
exports are missing and torch is not found).

    python bench/torch_models.py [--cache DIR] [--torch-python PY] [--models a,b]
                                 [--exporters torchscript,dynamo] [--reexport]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from onnx_float_check import onnxruntime_outputs, relative_errors
from ptq import ort_quantized

import npuc
from npuc.data import model_interface, to_interface
from npuc.quantization.params import sqnr_db

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / "build" / "torch_models"
EXPORT_SCRIPT = Path(__file__).resolve().parent / "torch_export.py"
MODELS = (
    "resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "squeezenet1_1",
    "shufflenet_v2_x0_5", "regnet_x_400mf", "mnasnet0_5", "kws_cnn", "small_vit",
)  # fmt: skip
TRANSFORMERS = ("small_vit",)
"""The models whose CPU operations may be those a target rule forbids; every other one must have none."""
EXPORTERS = ("torchscript", "dynamo")
TARGET = "ethos-u55-128"
SAMPLES = 8
SEED = 0
FLOAT_LIMIT = 1e-5
INSTALL_TORCH = """torch is not installed here. Install it in an environment of its own (npuc's stays clean), then
pass its Python with --torch-python:
    python3 -m venv /work/torchenv
    /work/torchenv/bin/pip install torch torchvision onnx onnxscript
On Linux x86-64 PyPI's torch wheel is built against CUDA and does not import without the nvidia-* packages
it pulls in (about 5 GB; `pip install --no-deps torch` fails with "libcudnn.so.9: cannot open shared object
file"); the CPU-only wheels are on PyTorch's own index, not on PyPI. onnxscript is for the dynamo exporter:
without it the dynamo rows say so."""


@dataclass
class Row:
    """One model and exporter through every step; `error` is the first failure, with its step."""

    model: str
    exporter: str
    imported: bool = False
    float_error: float | None = None
    sqnr_npuc: float | None = None
    sqnr_ort: float | None = None
    ort_note: str = ""
    cpu_kinds: Counter = field(default_factory=Counter)
    npu_cycles: int | None = None
    total_cycles: int | None = None
    seconds: float | None = None
    error: str = ""

    def failed(self) -> bool:
        """Whether a step failed or a limit was missed: a float error above `FLOAT_LIMIT`, npuc's SQNR
        below onnxruntime's, or a CNN (any model but the ViT) with CPU operations."""
        low_sqnr = self.sqnr_npuc is not None and self.sqnr_ort is not None and self.sqnr_npuc < self.sqnr_ort
        cpu = self.model not in TRANSFORMERS and bool(self.cpu_kinds)
        return bool(self.error) or low_sqnr or cpu or (self.float_error is not None and self.float_error > FLOAT_LIMIT)


def one_line(error: BaseException) -> str:
    """An exception as one short line: its type and first message line."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:300]


def export_missing(cache: Path, models: list[str], exporters: list[str], torch_python: str, force: bool) -> None:
    """Run `torch_export.py` in `torch_python` for the exports the cache lacks (all with `force`)."""
    missing = [m for m in models if force or any(not (cache / f"{m}.{e}.onnx").is_file() for e in exporters)]
    if not missing:
        return
    probe = subprocess.run([torch_python, "-c", "import torch, torchvision"], capture_output=True)
    if probe.returncode != 0:
        print(INSTALL_TORCH, file=sys.stderr)
        return
    command = [torch_python, str(EXPORT_SCRIPT), str(cache), "--models", ",".join(missing),
               "--exporters", ",".join(exporters)] + (["--force"] if force else [])  # fmt: skip
    subprocess.run(command, check=False)


def samples_for(path: Path) -> np.ndarray:
    """`SAMPLES` standard-normal inputs of the model's (batch 1) input shape, from `SEED`."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {tensor.name for tensor in graph.initializer}
    (first,) = [value for value in graph.input if value.name not in initializers]
    shape = [dim.dim_value for dim in first.type.tensor_type.shape.dim]
    rng = np.random.default_rng(SEED)
    return rng.standard_normal((SAMPLES, *shape[1:])).astype(np.float32)


def npuc_outputs(module, samples: np.ndarray) -> np.ndarray:
    """The first output of `module` on interface-layout `samples`, in interface layout."""
    interface = model_interface(module)
    outputs = npuc.run(module, [interface.inputs[0].to_ir_layout(samples)])
    return to_interface(outputs, interface)[0]


def measure(path: Path, row: Row) -> None:
    """Fill `row` step by step for the model at `path`; the first failing step raises."""
    samples = samples_for(path)
    reference = onnxruntime_outputs(path, samples)
    row.sqnr_ort, row.ort_note = ort_sqnr(path, samples, reference)
    start = time.perf_counter()
    module = npuc.import_model(path)
    import_seconds = time.perf_counter() - start
    row.imported = True
    float_module = module.clone()
    actual = npuc_outputs(float_module, samples)
    row.float_error = relative_errors(actual.reshape(reference.shape), reference)[0]
    ir_samples = [model_interface(module).inputs[0].to_ir_layout(samples)]
    start = time.perf_counter()
    npuc.quantize(module, ir_samples, report_samples=0)
    quantize_seconds = time.perf_counter() - start
    quantized = module.clone()
    start = time.perf_counter()
    analysis = npuc.analyze_model(module, TARGET)
    report = analysis.report()["summary"]
    row.seconds = import_seconds + quantize_seconds + time.perf_counter() - start
    row.cpu_kinds = Counter(op["operator"] for op in report["cpu_operations"])
    row.total_cycles = report["total_cycles"]
    row.npu_cycles = report.get("npu_cycles", row.total_cycles)
    row.sqnr_npuc = sqnr_db(reference, npuc_outputs(quantized, samples).reshape(reference.shape))


def ort_sqnr(path: Path, samples: np.ndarray, reference: np.ndarray) -> tuple[float | None, str]:
    """onnxruntime's `quantize_static` SQNR on `samples` against `reference`, or None and why not."""
    with tempfile.TemporaryDirectory() as directory:
        try:
            quantized = ort_quantized(path, samples, Path(directory))
            return sqnr_db(reference, onnxruntime_outputs(quantized, samples).reshape(reference.shape)), ""
        except Exception as error:  # onnxruntime refusing a model is a note in the row, not a failure of npuc
            return None, f"ORT quantize_static: {one_line(error)}"


def row_for(cache: Path, model: str, exporter: str) -> Row:
    """The row of one model and exporter: the export's error if it has none, else every step measured."""
    row = Row(model, exporter)
    path = cache / f"{model}.{exporter}.onnx"
    if not path.is_file():
        error = path.with_suffix(".error")
        row.error = f"export: {error.read_text().strip()}" if error.is_file() else "export: not in the cache"
        return row
    try:
        measure(path, row)
    except Exception as error:  # every failure becomes the row's one-line error
        row.error = one_line(error)
    return row


def number(value: float | int | None, form: str) -> str:
    """`value` formatted, or `-` when the step did not get that far."""
    return "-" if value is None else format(value, form)


def print_table(rows: list[Row]) -> None:
    """The table: one line per row, its error (if any) on the next, then the CPU operator kinds."""
    header = (f"{'model':<20} {'exporter':<11} {'import':<6} {'float err':>9} {'SQNR npuc':>9} {'SQNR ORT':>8} "
              f"{'CPU ops':>7} {'NPU cycles':>11} {'total cyc':>11} {'analyze s':>9}  CPU operator kinds")
    print(header)
    print("-" * len(header))
    for row in rows:
        kinds = ", ".join(f"{count} {kind}" for kind, count in row.cpu_kinds.most_common())
        cpu = "-" if row.npu_cycles is None else str(sum(row.cpu_kinds.values()))
        total = row.total_cycles if row.total_cycles != row.npu_cycles else None
        print(f"{row.model:<20} {row.exporter:<11} {'ok' if row.imported else 'FAIL':<6} "
              f"{number(row.float_error, '.1e'):>9} {number(row.sqnr_npuc, '.2f'):>9} "
              f"{number(row.sqnr_ort, '.2f'):>8} {cpu:>7} {number(row.npu_cycles, ','):>11} "
              f"{number(total, ','):>11} {number(row.seconds, '.2f'):>9}  {kinds}")
        for note in (row.error, row.ort_note):
            if note:
                print(f"{'':<20} {'':<11} {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--torch-python", default=sys.executable, help="a Python with torch and torchvision")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--exporters", default=",".join(EXPORTERS))
    parser.add_argument("--reexport", action="store_true", help="export again even when the cache has the files")
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime.quantization's advice on every model
    models, exporters = args.models.split(","), args.exporters.split(",")
    export_missing(args.cache, models, exporters, args.torch_python, args.reexport)
    rows = []
    for model in models:
        for exporter in exporters:
            rows.append(row_for(args.cache, model, exporter))
            print(f"... {model} {exporter}: {rows[-1].error or 'done'}", file=sys.stderr, flush=True)
    print_table(rows)
    failed = [f"{row.model}/{row.exporter}" for row in rows if row.failed()]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} rows within limits"
          + (f"; not: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
