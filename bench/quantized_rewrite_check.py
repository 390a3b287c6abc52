"""Bit-exactness of the quantized-IR rewrites on the shared TFLite models.

For every `model.tflite` under the shared models folder, imports the model,
runs the integer reference on (up to `--samples` of) its `calib.npy`
samples (float, quantized with the model input's parameters), applies each
quantized-IR rewrite pass of `npuc.api.QUANTIZED_REWRITES` in turn and runs
the reference again: the outputs must be identical, bit for bit. It prints,
per pass, how many ops it removed and added (op texts before and after,
compared as multisets: a changed op counts once in each column), the
number of differing output elements and the pass time, and ends with PASS
or FAIL.

    python bench/quantized_rewrite_check.py [--models DIR] [--samples N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

import npuc
from npuc.api import QUANTIZED_REWRITES
from npuc.dialects.quantized import quant_type
from npuc.ir import main_function
from npuc.reference.fixed_point import quantize

DEFAULT_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
PASSES = QUANTIZED_REWRITES
"""The quantized-IR rewrites checked, in pipeline order."""


def op_texts(module) -> Counter[str]:
    """How often each op text occurs, to count the ops a pass removed and added."""
    return Counter(str(op) for op in module.walk() if op.name.startswith("quantized."))


def integer_samples(module, path: Path, sample_count: int) -> list[np.ndarray]:
    """The first `sample_count` float calibration samples, quantized like the model's single input."""
    qtype = quant_type(main_function(module).body.block.args[0])
    floats = np.load(path).astype(np.float32)[:sample_count]
    return [quantize(floats, qtype.scale, qtype.zero_point, qtype.qmin, qtype.qmax, dtype=qtype.numpy_dtype())]


def check_model(path: Path, sample_count: int) -> int:
    """Print one row per pass for one model; return its count of differing output elements."""
    module = npuc.import_model(path)
    samples = integer_samples(module, path.parent / "calib.npy", sample_count)
    reference = npuc.run(module, samples)
    differing = 0
    for name in PASSES:
        before = op_texts(module)
        start = time.perf_counter()
        npuc.run_pipeline(module, name)
        elapsed = time.perf_counter() - start
        after = op_texts(module)
        removed, added = (before - after).total(), (after - before).total()
        outputs = npuc.run(module, samples)
        wrong = sum(int(np.count_nonzero(a != b)) for a, b in zip(outputs, reference))
        differing += wrong
        print(f"{path.parent.name:22} {name:28} {removed:>8} {added:>6} {wrong:>10} {elapsed:7.3f}")
    return differing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    print(f"{'model':22} {'pass':28} {'removed':>8} {'added':>6} {'differing':>10} {'pass s':>7}")
    differing = 0
    for folder in sorted(path for path in args.models.iterdir() if (path / "model.tflite").is_file()):
        differing += check_model(folder / "model.tflite", args.samples)
    print(f"{'PASS' if differing == 0 else 'FAIL'}: {differing} differing output elements")
    return 0 if differing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
