"""Vela's own output, run by npuc's Ethos-U simulator, against TFLite's reference kernels.

For every shared `model.tflite` and each configuration of `CONFIGS`, runs
`vela` (the default core, then `--debug-force-legacy-core`) with npuc's copy
of Vela's system configurations, disassembles the output with `npuc disasm`
(every command must decode), runs `npuc run` on Vela's `_vela.tflite` for
int8 inputs from N seeds (one .npy, the samples stacked) and compares the
outputs with `ai_edge_litert`'s BUILTIN_REF kernels on the original model.

Per model, configuration and core it prints the commands disassembled, the
output bytes that differ (the criterion: 0), Vela's and npuc's seconds, and
a note where Vela's output is known not to be TFLite's computation
(`KNOWN`). It exits non-zero when any other row differs or fails.

    python bench/vela_output_bitexact.py [--models a,b] [--seeds N] [--configs u55-128,...]
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
SYSTEMS_INI = Path(__file__).resolve().parents[1] / "npuc" / "targets" / "data" / "systems.ini"
CONFIGS = {
    "u55-128": ["--accelerator-config", "ethos-u55-128", "--system-config", "Ethos_U55_High_End_Embedded",
                "--memory-mode", "Shared_Sram"],
    "u65-256": ["--accelerator-config", "ethos-u65-256", "--system-config", "Ethos_U65_High_End",
                "--memory-mode", "Dedicated_Sram"],
    "u55-256-size": ["--accelerator-config", "ethos-u55-256", "--system-config", "Ethos_U55_High_End_Embedded",
                     "--memory-mode", "Shared_Sram", "--optimise", "Size"],
}
CORES = {"default": [], "legacy": ["--debug-force-legacy-core"]}
KNOWN = {
    ("ad_autoencoder", None): "Vela rescales FULLY_CONNECTED as TFLite Micro does (fixed point, two roundings); "
                              "LiteRT's reference FC rounds once in double precision (docs/ethos-u.md)",
    ("kws_dscnn", "legacy"): "Vela's legacy core turns the average pool into a 24x1 convolution over 320 IFM "
                             "channels whose weight stream holds 12288 of the 491520 weights; the simulator "
                             "refuses it",
}
"""(model, core or None for both) -> why Vela's output differs from TFLite there."""


def vela(model: Path, config: str, core: str, output: Path) -> tuple[Path, float]:
    """Compile with Vela; the output file and Vela's seconds."""
    start = time.perf_counter()
    subprocess.run(["vela", str(model), "--config", str(SYSTEMS_INI), *CONFIGS[config], *CORES[core],
                    "--output-dir", str(output)], check=True, capture_output=True)
    return output / f"{model.stem}_vela.tflite", time.perf_counter() - start


def npuc(*arguments: str) -> subprocess.CompletedProcess:
    """Run the npuc driver."""
    return subprocess.run([sys.executable, "-m", "npuc.tools.npuc_main", *arguments], capture_output=True, text=True)


def reference(model: Path, seeds: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Stacked random inputs (one array per model input) and LiteRT's stacked outputs."""
    interpreter = Interpreter(model_path=str(model), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    inputs: list[list[np.ndarray]] = [[] for _ in interpreter.get_input_details()]
    outputs: list[list[np.ndarray]] = [[] for _ in interpreter.get_output_details()]
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        for index, detail in enumerate(interpreter.get_input_details()):
            info = np.iinfo(detail["dtype"])
            array = rng.integers(info.min, info.max + 1, detail["shape"], dtype=detail["dtype"])
            interpreter.set_tensor(detail["index"], array)
            inputs[index].append(array)
        interpreter.invoke()
        for index, detail in enumerate(interpreter.get_output_details()):
            outputs[index].append(interpreter.get_tensor(detail["index"]))
    return [np.concatenate(arrays) for arrays in inputs], [np.concatenate(arrays) for arrays in outputs]


def check(vela_model: Path, inputs: list[np.ndarray], expected: list[np.ndarray], scratch: Path
          ) -> tuple[int, int, float, str]:
    """(commands disassembled, differing output bytes, npuc run seconds, error line or '')."""
    listing = npuc("disasm", str(vela_model))
    if listing.returncode:
        return 0, -1, 0.0, listing.stderr.strip()
    commands = sum(1 for line in listing.stdout.splitlines() if line.startswith("0x"))
    assert len(inputs) == 1, "the shared models have one input"
    np.save(scratch / "input.npy", inputs[0])
    start = time.perf_counter()
    result = npuc("run", str(vela_model), "--input", str(scratch / "input.npy"), "-o", str(scratch / "output.npy"))
    seconds = time.perf_counter() - start
    if result.returncode:
        return commands, -1, seconds, result.stderr.strip()
    actual = [np.load(scratch / "output.npy")]
    differing = sum(int(np.count_nonzero(want.reshape(got.shape).view(np.uint8) != got.view(np.uint8)))
                    for want, got in zip(expected, actual, strict=True))
    return commands, differing, seconds, ""


def main() -> None:
    """Compile, disassemble and run every model for every configuration and core; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated model folders (default: all shared models)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configurations")
    parser.add_argument("--seeds", type=int, default=10, help="random inputs per model (default 10)")
    args = parser.parse_args()
    models = args.models.split(",") if args.models else sorted(path.parent.name for path in SHARED.glob("*/model.tflite"))
    unexpected = 0
    print(f"{'model':22} {'config':13} {'core':8} {'commands':>8} {'differing':>9} {'vela s':>7} {'npuc s':>7}  note")
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for model in models:
            original = SHARED / model / "model.tflite"
            inputs, expected = reference(original, args.seeds)
            for config in args.configs.split(","):
                for core in CORES:
                    output, vela_seconds = vela(original, config, core, scratch / f"{model}.{config}.{core}")
                    commands, differing, npuc_seconds, error = check(output, inputs, expected, scratch)
                    note = (KNOWN.get((model, core)) or KNOWN.get((model, None)) or "") if differing else ""
                    if differing and not note:
                        unexpected += 1
                    shown = "error" if differing < 0 else str(differing)
                    print(f"{model:22} {config:13} {core:8} {commands:8} {shown:>9} {vela_seconds:7.2f} "
                          f"{npuc_seconds:7.2f}  {note or error}", flush=True)
                    if error and note:
                        print(f"{'':22} {error}")
    if unexpected:
        raise SystemExit(f"{unexpected} model/config/core row(s) differ from TFLite without a known reason")


if __name__ == "__main__":
    main()
