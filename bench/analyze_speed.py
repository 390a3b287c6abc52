"""Wall time of `npuc analyze` (a subprocess, default reports) for every shared model.

Limits (issue 7): under 2 s per model, MobileNetV2 under 5 s. Float ONNX
models are analysed with their calib.npy.

    python bench/analyze_speed.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def limit(model: Path) -> float:
    """Seconds `npuc analyze` may take on `model`."""
    return 5.0 if "mobilenet" in model.parent.name else 2.0


def time_analyze(model: Path) -> float:
    """Wall seconds of one `npuc analyze` run (raises if it fails)."""
    extra = ["--calibration", str(model.parent / "calib.npy")] if model.suffix == ".onnx" else []
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tools.npuc_main", "analyze", str(model), *extra, "-o", out],
                       check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1])
        return time.perf_counter() - start


def main() -> int:
    """Time every model; exit 1 if one is over its limit."""
    ok = True
    for model in sorted([*SHARED_MODELS.glob("*/model.tflite"), *SHARED_MODELS.glob("*/model_float.onnx")]):
        seconds = time_analyze(model)
        over = seconds > limit(model)
        ok &= not over
        print(f"{model.parent.name:22s} {model.name:18s} {seconds:6.2f} s  (limit {limit(model):.0f} s){'  OVER' if over else ''}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
