"""Record Vela 5.2's per-layer "Op Cycles" of the cost-model agreement test's models (test data).

Runs the installed `vela` on every model of `test/unit/cost/test_vela_agreement.py`
(per-operator TFLite models of `test/tflite_models` on u55-128 Shared_Sram and
u65-256 Dedicated_Sram; the DRAM-bound strided convolutions it builds, on
u65-256) and writes their per-layer cycles to
`test/unit/cost/data/vela_5_2_cycles.json`, which the test reads.

    python bench/vela_figures.py
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test"))

from unit.cost.test_vela_agreement import CONFIGS, FIGURES, models  # noqa: E402

SYSTEMS_INI = ROOT / "npuc" / "targets" / "data" / "systems.ini"


def vela_cycles(model: Path, config: str) -> list[int]:
    """Vela's "Op Cycles" of every row of its per-layer CSV for `model` on `config`."""
    accelerator, system, mode = CONFIGS[config].split(":")
    with tempfile.TemporaryDirectory() as output:
        subprocess.run(
            ["vela", str(model), "--accelerator-config", accelerator, "--config", str(SYSTEMS_INI),
             "--system-config", system, "--memory-mode", mode, "--output-dir", output, "--verbose-performance"],
            capture_output=True, text=True, check=True,
        )
        rows = [row for path in Path(output).glob("*per-layer.csv") for row in csv.DictReader(path.open())]
    return [int(float(row["Op Cycles"])) for row in rows]


def main() -> int:
    """Run Vela on every model and config of the test; write the figures."""
    figures: dict[str, dict[str, list[int]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, path, configs in models(Path(folder)):
            figures[name] = {config: vela_cycles(path, config) for config in configs}
    FIGURES.write_text(json.dumps({"vela": "5.2.0", "op_cycles": figures}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
