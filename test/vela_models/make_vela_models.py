"""Compile the per-operator TFLite test models with Vela: the Ethos-U simulator's test inputs.

Usage: ``python test/vela_models/make_vela_models.py`` (from the repository
root, in the test environment, with the ``vela`` of the pinned
ethos-u-vela). For every ``test/tflite_models/*.tflite``, and for
``npu_cpu_npu.tflite`` (written here: ADD, DEPTH_TO_SPACE, ADD, so that
Vela's output has an operator on the CPU between two ethos-u operators), and
each configuration of `CONFIGS`, runs Vela's default core with npuc's copy of
Vela's system configurations and writes ``<model>.<config>_vela.tflite`` here
when Vela places at least one operator on the NPU. ``manifest.json`` records
per model and configuration the file written, or the reason there is none
(Vela's own words: the operator it leaves on the CPU and the constraint it
names, or its error). Stale files are removed. Vela is deterministic, so
re-running changes no file unless Vela or a model changed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from npuc.emit.tflite.flatbuffer import Model, Operator, Options, Subgraph, serialize

from tflite_models.builder import TensorSpec, run_model, to_tensor

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "tflite_models"
SYSTEMS_INI = HERE.parents[1] / "npuc" / "targets" / "data" / "systems.ini"
MANIFEST = HERE / "manifest.json"
MIXED = HERE / "npu_cpu_npu.tflite"
CONFIGS = {
    "u55-128": ("ethos-u55-128", "Ethos_U55_High_End_Embedded", "Shared_Sram"),
    "u65-256": ("ethos-u65-256", "Ethos_U65_High_End", "Dedicated_Sram"),
}
"""Configuration name -> (accelerator, system config, memory mode)."""
CPU_PLACEMENT = re.compile(r"Warning: (.+?) (?:is not supported on the NPU|are not supported on the NPU)[^\n]*\n"
                           r"((?:\s+ - .*\n)*)")


def npu_cpu_npu_model() -> bytes:
    """ADD(x, x) -> DEPTH_TO_SPACE (which Vela leaves on the CPU) -> ADD(y, y), int8."""
    tensors = [
        TensorSpec([1, 3, 2, 8], np.int8, [0.05], [-3], name="input"),
        TensorSpec([1, 3, 2, 8], np.int8, [0.1], [-6], name="sum"),
        TensorSpec([1, 6, 4, 2], np.int8, [0.1], [-6], name="moved"),
        TensorSpec([1, 6, 4, 2], np.int8, [0.2], [-12], name="output"),
    ]
    operators = (
        Operator("ADD", (0, 0), (1,)),
        Operator("DEPTH_TO_SPACE", (1,), (2,), Options("DepthToSpaceOptions", {"BlockSize": 2})),
        Operator("ADD", (2, 2), (3,)),
    )
    subgraph = Subgraph(tuple(to_tensor(spec) for spec in tensors), operators, (0,), (3,))
    return serialize(Model((subgraph,)))


def compile_model(model: Path, config: str, output: Path) -> tuple[bytes | None, str]:
    """Vela's output for one model and configuration, or None and the reason it placed nothing on the NPU."""
    accelerator, system, memory_mode = CONFIGS[config]
    result = subprocess.run(
        ["vela", str(model), "--accelerator-config", accelerator, "--config", str(SYSTEMS_INI),
         "--system-config", system, "--memory-mode", memory_mode, "--output-dir", str(output)],
        capture_output=True, text=True,
    )
    if result.returncode:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        return None, f"Vela fails: {lines[-1] if lines else f'exit status {result.returncode}'}"
    data = (output / f"{model.stem}_vela.tflite").read_bytes()
    if b"ethos-u" not in data:
        found = CPU_PLACEMENT.search(result.stdout)
        reason = " ".join(found.group(0).split()) if found else "no operator placed on the NPU"
        return None, f"Vela leaves it on the CPU: {reason}"
    return data, ""


def main() -> None:
    """Compile every model for every configuration, write the outputs and the manifest, drop stale files."""
    manifest: dict[str, dict[str, str]] = {}
    written: set[Path] = set()
    MIXED.write_bytes(npu_cpu_npu_model())
    run_model(MIXED.read_bytes(), np.zeros((1, 3, 2, 8), np.int8))  # TFLite must accept it
    with tempfile.TemporaryDirectory() as scratch:
        for model in [*sorted(MODELS.glob("*.tflite")), MIXED]:
            manifest[model.stem] = {}
            for config in CONFIGS:
                output = Path(scratch) / f"{model.stem}.{config}"
                data, reason = compile_model(model, config, output)
                if data is None:
                    manifest[model.stem][config] = reason
                    continue
                path = HERE / f"{model.stem}.{config}_vela.tflite"
                path.write_bytes(data)
                written.add(path)
                manifest[model.stem][config] = path.name
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    for stale in set(HERE.glob("*_vela.tflite")) - written:
        stale.unlink()
    total = sum(path.stat().st_size for path in written)
    print(f"wrote {len(written)} Vela outputs ({total / 1024:.0f} KiB) to {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
