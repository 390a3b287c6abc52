"""Bit-exactness of the compiled command stream against the integer reference.

For every `model.tflite` under the shared models folder (or those named),
compiles the model for a target, encodes the lowered program as npuc's
command stream (for an Ethos-U target `npuc compile` writes the Ethos-U
driver payload instead: docs/ethos-u-stream.md), decodes it, runs it
in the simulator on int8 inputs from N random seeds and compares with
`npuc.run` on the imported model (the reference interpreter, itself bit-exact
with TFLite's reference kernels: see `tflite_bitexact.py`). Prints, per
model, the number of CPU commands and how many output bytes differ.
The acceptance criterion is 0 differing bytes for every model.

    python bench/simulate_bitexact.py [--models DIR] [--target T] [--seeds N] [NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import npuc
from npuc.data import model_interface
from npuc.dialects import npu
from npuc.emit.command_stream import decode, encode
from npuc.sim.simulator import simulate_sample

DEFAULT_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def random_inputs(module, seed: int) -> list[np.ndarray]:
    """Uniformly random int8 samples of every model input (IR shapes)."""
    rng = np.random.default_rng(seed)
    return [
        rng.integers(-128, 128, size=spec.ir_shape).astype(np.int8)
        for spec in model_interface(module).inputs
    ]


def check(path: Path, target: str, seeds: int) -> tuple[int, int, int, float]:
    """(CPU commands, differing output bytes, total output bytes, seconds) of one model."""
    start = time.perf_counter()
    reference = npuc.import_model(path)
    result = npuc.compile_model(npuc.import_model(path), target)
    encoded = encode(result.module)
    program = decode(encoded.stream, encoded.blob)
    differing = total = 0
    for seed in range(seeds):
        inputs = random_inputs(reference, seed)
        expected = npuc.run(reference, inputs)
        actual = simulate_sample(program, inputs)
        for want, got in zip(expected, actual, strict=True):
            differing += int(np.count_nonzero(want != got))
            total += want.size
    cpu_ops = sum(isinstance(op, npu.CpuOp) for op in program.ops)
    return cpu_ops, differing, total, time.perf_counter() - start


def main() -> int:
    """Check every selected model; non-zero exit if any output byte differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="model folder names (default: all)")
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--target", default="ethos-u55-128")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(args.models.glob("*/model.tflite"))
    if args.names:
        paths = [path for path in paths if path.parent.name in args.names]
    print(f"{'model':<24} {'cpu ops':>7} {'differing':>10} {'of bytes':>10} {'seconds':>8}")
    failed = False
    for path in paths:
        cpu_ops, differing, total, seconds = check(path, args.target, args.seeds)
        failed |= differing != 0
        print(f"{path.parent.name:<24} {cpu_ops:>7} {differing:>10} {total:>10} {seconds:>8.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
