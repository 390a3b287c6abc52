"""npuc's own deployable files, run by npuc's Ethos-U simulator, against TFLite's reference kernels.

For every shared `model.tflite` and each configuration of `CONFIGS`, runs
`npuc compile` (which writes `model_npuc.tflite`: an `ethos-u` operator per
NPU segment, CPU operations as TFLite builtins), `npuc disasm` on it (every
command must decode) and `npuc run` on it for int8 inputs from N seeds (one
.npy, the samples stacked), and compares the outputs with `ai_edge_litert`'s
BUILTIN_REF kernels on the original model. The simulator checks each stream
for hazards as it runs it (a hazard fails the run).

The configurations are those of `vela_output_bitexact.py` (u55-256 with
`--optimise Size`: every chain cascaded for the smallest arena), and
u55-128 under a 384 KiB `--arena-cache-size`, where MobileNetV2 runs
cascades (its rolling buffers addressed as feature-map tiles).

Per model and configuration it prints the ethos-u operators, the commands
disassembled, the output bytes that differ (the criterion: 0), and npuc's
compile and run seconds; it exits non-zero when any row differs or fails.

    python bench/npuc_output_bitexact.py [--models a,b] [--seeds N] [--configs u55-128,...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models"
CONFIGS = {
    "u55-128": ("ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram",),
    "u65-256": ("ethos-u65-256:Ethos_U65_High_End:Dedicated_Sram",),
    "u55-256-size": ("ethos-u55-256:Ethos_U55_High_End_Embedded:Shared_Sram", "--optimise", "Size"),
    "u55-128-384k": ("ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram", "--arena-cache-size", "384K"),
    "u55-128-512k": ("ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram", "--arena-cache-size", "512K"),
}
"""Configuration -> npuc target spec (accelerator:system config:memory mode) and further `npuc compile` options."""


def npuc(*arguments: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the npuc driver; its result and seconds."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "npuc.tools.npuc_main", *arguments], capture_output=True, text=True)
    return result, time.perf_counter() - start


def reference(model: Path, seeds: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Stacked random int8 inputs of the (one-input) model and LiteRT's stacked outputs."""
    interpreter = Interpreter(model_path=str(model), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    (detail,) = interpreter.get_input_details()
    inputs, outputs = [], []
    for seed in range(seeds):
        info = np.iinfo(detail["dtype"])
        array = np.random.default_rng(seed).integers(info.min, info.max + 1, detail["shape"], dtype=detail["dtype"])
        interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()
        inputs.append(array)
        outputs.append([interpreter.get_tensor(output["index"]) for output in interpreter.get_output_details()])
    return np.concatenate(inputs), [np.concatenate(arrays) for arrays in zip(*outputs)]


def check(model: Path, config: tuple[str, ...], inputs: np.ndarray, expected: list[np.ndarray], scratch: Path
          ) -> tuple[int, int, int, float, float, str]:
    """(ethos-u operators, commands, differing output bytes, compile and run seconds, error line or '')."""
    out = scratch / "compiled"
    target, *options = config
    compiled, compile_seconds = npuc("compile", str(model), "--target", target, *options, "--report", "", "-o", str(out))
    if compiled.returncode:
        return 0, 0, -1, compile_seconds, 0.0, compiled.stderr.strip()
    package = out / f"{model.stem}_npuc.tflite"
    listing, _ = npuc("disasm", str(package))
    if listing.returncode:
        return 0, 0, -1, compile_seconds, 0.0, listing.stderr.strip()
    operators = sum(line.startswith("ethos-u operator") for line in listing.stdout.splitlines())
    commands = sum(1 for line in listing.stdout.splitlines() if line.startswith("0x"))
    np.save(scratch / "input.npy", inputs)
    ran, run_seconds = npuc("run", str(package), "--input", str(scratch / "input.npy"), "-o", str(scratch / "out.npy"))
    if ran.returncode:
        return operators, commands, -1, compile_seconds, run_seconds, ran.stderr.strip()
    actual = [np.load(scratch / "out.npy")]
    differing = sum(int(np.count_nonzero(want.reshape(got.shape).view(np.uint8) != got.view(np.uint8)))
                    for want, got in zip(expected, actual, strict=True))
    return operators, commands, differing, compile_seconds, run_seconds, ""


def main() -> None:
    """Compile, disassemble and run every model for every configuration; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated model folders (default: all shared models)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configurations")
    parser.add_argument("--seeds", type=int, default=10, help="random inputs per model (default 10)")
    args = parser.parse_args()
    models = args.models.split(",") if args.models else sorted(
        path.parent.name for path in SHARED.glob("*/model.tflite")
    )
    failed = 0
    print(f"{'model':22} {'config':12} {'ethos-u':>7} {'commands':>8} {'differing':>9} {'compile s':>9} {'run s':>7}")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for model in models:
            original = SHARED / model / "model.tflite"
            inputs, expected = reference(original, args.seeds)
            for config in args.configs.split(","):
                operators, commands, differing, compile_seconds, run_seconds, error = check(
                    original, CONFIGS[config], inputs, expected, scratch
                )
                failed += differing != 0
                shown = "error" if differing < 0 else str(differing)
                print(f"{model:22} {config:12} {operators:7} {commands:8} {shown:>9} {compile_seconds:9.2f} "
                      f"{run_seconds:7.2f}  {error}", flush=True)
    if failed:
        raise SystemExit(f"{failed} model/config row(s) differ from TFLite or fail")


if __name__ == "__main__":
    main()
