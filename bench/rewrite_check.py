"""Before/after check of the graph rewrite passes on the shared benchmark models.

For every `model_float.onnx` under the shared models folder, imports the
model, runs it in the float reference on (up to `--samples` of) its
`calib.npy` samples, then applies the graph passes one after the other in
pipeline order. After each pass it prints the maximum relative difference to
the unrewritten model's outputs (max |after - before| / max |before|; the
acceptance criterion is 1e-5) and the counts of the ops the passes should
remove: transposes, per-channel constant mul/add/sub (an unfolded
BatchNorm), pads, mean reductions, standalone activations (relu, clip), and
the layer ops and constants layer-cse and layer-dce merge or erase.

    python bench/rewrite_check.py [--models DIR] [--samples N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp

import npuc
from npuc.data import load_samples, model_interface
from npuc.dialects import graph
from npuc.passes import GRAPH_OPTIMISATION_PIPELINE

DEFAULT_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
PIPELINE = GRAPH_OPTIMISATION_PIPELINE
LIMIT = 1e-5


def op_counts(module: ModuleOp) -> Counter[str]:
    """How many ops of each kind the rewrites target remain in `module`."""
    counts: Counter[str] = Counter()
    for op in module.walk():
        if isinstance(op, graph.TransposeOp):
            counts["transpose"] += 1
        elif isinstance(op, graph.MulOp | graph.AddOp | graph.SubOp) and any(
            isinstance(operand.owner, graph.ConstantOp) for operand in op.operands
        ):
            counts["scale"] += 1
        elif isinstance(op, graph.PadOp):
            counts["pad"] += 1
        elif isinstance(op, graph.ReduceOp) and op.kind.data == "mean":
            counts["mean"] += 1
        elif isinstance(op, graph.ReluOp | graph.ClipOp):
            counts["activation"] += 1
        if isinstance(op, graph.ConstantOp):
            counts["constants"] += 1
        elif op.name.startswith("graph."):
            counts["ops"] += 1
    return counts


def relative_difference(after: list[np.ndarray], before: list[np.ndarray]) -> float:
    """max |after - before| / max |before| over all outputs."""
    scale = max(float(np.max(np.abs(b))) for b in before) or 1.0
    return max(float(np.max(np.abs(a - b))) for a, b in zip(after, before)) / scale


COLUMNS = ("ops", "constants", "transpose", "scale", "pad", "mean", "activation")


def check_model(path: Path, sample_count: int) -> float:
    """Print one row per pass for one model; return its worst relative difference."""
    module = npuc.import_model(path)
    samples = load_samples(str(path.parent / "calib.npy"), model_interface(module))
    samples = [array[:sample_count] for array in samples]
    reference = npuc.run(module, samples)
    counts = op_counts(module)
    print(f"{path.parent.name:22} {'(imported)':22} {'':>9} {'':>6} " + " ".join(f"{counts[c]:>10}" for c in COLUMNS))
    worst = 0.0
    for name in PIPELINE:
        start = time.perf_counter()
        npuc.run_pipeline(module, name)
        elapsed = time.perf_counter() - start
        difference = relative_difference(npuc.run(module, samples), reference)
        worst = max(worst, difference)
        counts = op_counts(module)
        print(f"{'':22} {name:22} {difference:9.1e} {elapsed:6.2f} " + " ".join(f"{counts[c]:>10}" for c in COLUMNS))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    print(f"{'model':22} {'after pass':22} {'max rel':>9} {'pass s':>6} " + " ".join(f"{c:>10}" for c in COLUMNS))
    worst = 0.0
    for folder in sorted(path for path in args.models.iterdir() if (path / "model_float.onnx").is_file()):
        worst = max(worst, check_model(folder / "model_float.onnx", args.samples))
    verdict = "PASS" if worst <= LIMIT else "FAIL"
    print(f"{verdict}: worst relative difference {worst:.1e} (limit {LIMIT:g})")
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
