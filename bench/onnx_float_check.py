"""Float check of the ONNX importer on the shared benchmark models.

For every `model_float.onnx` under the shared models folder, imports the
model with npuc, runs it on its `calib.npy` samples as `npuc run` does
(`load_samples` -> `npuc.run` -> `to_interface`) and runs the same samples
through onnxruntime. Prints, per model, the maximum relative error (the
largest absolute difference divided by the largest reference magnitude; the
acceptance criterion is below 1e-4) and, for information, the largest
elementwise relative difference over reference values above 1 % of that
magnitude. The latter measures onnxruntime's float32 rounding as much as
npuc's: npuc accumulates convolutions and matrix products in float64.

    python bench/onnx_float_check.py [--models DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime

import npuc
from npuc.data import load_samples, model_interface, to_interface

DEFAULT_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
LIMIT = 1e-4


def onnxruntime_outputs(path: Path, samples: np.ndarray) -> np.ndarray:
    """The first output of the model for each sample, run one at a time (batch 1 models)."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: samples[i : i + 1]})[0] for i in range(len(samples))])


def relative_errors(actual: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(max |a - r| / max |r|, max |a - r| / |r| over |r| > 1 % of max |r|)."""
    scale = float(np.max(np.abs(reference)))
    difference = np.abs(actual - reference)
    significant = np.abs(reference) > 0.01 * scale
    elementwise = float(np.max(difference[significant] / np.abs(reference[significant])))
    return float(np.max(difference)) / scale, elementwise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    args = parser.parse_args()
    worst = 0.0
    print(f"{'model':24} {'samples':>7} {'import s':>8} {'run s':>7} {'max rel err':>12} {'elementwise':>12}")
    for folder in sorted(path for path in args.models.iterdir() if (path / "model_float.onnx").is_file()):
        path = folder / "model_float.onnx"
        start = time.perf_counter()
        module = npuc.import_model(path)
        imported = time.perf_counter()
        interface = model_interface(module)
        samples = load_samples(str(folder / "calib.npy"), interface)
        (output,) = to_interface(npuc.run(module, samples), interface)
        ran = time.perf_counter()
        reference = onnxruntime_outputs(path, np.load(folder / "calib.npy"))
        normalised, elementwise = relative_errors(output, reference)
        worst = max(worst, normalised)
        print(
            f"{folder.name:24} {len(samples[0]):7d} {imported - start:8.2f} {ran - imported:7.2f} "
            f"{normalised:12.2e} {elementwise:12.2e}"
        )
    verdict = "PASS" if worst < LIMIT else "FAIL"
    print(f"{verdict}: worst relative error {worst:.2e} (limit {LIMIT:g})")
    return 0 if worst < LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
