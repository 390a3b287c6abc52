"""Record Vela 5.2's cycles for the cost-model agreement test (test data).

Writes `test/unit/cost/data/vela_5_2_cycles.json`, which
`test/unit/cost/test_vela_agreement.py` reads:
- `op_cycles`: the per-layer "Op Cycles" of the test's one-layer models
  (built by the test, on u55-128 Shared_Sram and u65-256 Dedicated_Sram; the
  DRAM-bound strided convolutions on u65-256), from a live run of the
  installed `vela` with npuc's `systems.ini` (the same sections as Vela's
  own `vela.ini`);
- `networks`: per shared model committed in `test/models` and per config,
  Vela's network total and its per-layer rows matched to npuc's layers as
  `vela_compare.py` matches them (name, the kind `vela_compare.KINDS` gives
  the TFLite operator or null, cycles), copied
  from `../shared/bench/vela_baseline.json` (Vela 5.2.0 with its own
  `vela.ini`, the settings `vela_compare.py` uses).

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
sys.path.insert(0, str(ROOT / "bench"))

from unit.cost.test_vela_agreement import CONFIGS, FIGURES, NETWORKS, models  # noqa: E402
from vela_compare import KINDS, SHARED, vela_layers  # noqa: E402

from npuc.api import analyze_model  # noqa: E402

from support.paths import MODELS  # noqa: E402

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


def network_figures() -> dict[str, dict[str, dict]]:
    """Per shared model and config: Vela's total and its rows matched to npuc's layers (from the baseline)."""
    baseline = json.loads((SHARED / "bench" / "vela_baseline.json").read_text())
    figures: dict[str, dict[str, dict]] = {}
    for name in NETWORKS:
        figures[name] = {}
        for config in CONFIGS:
            vela = baseline["models"][name][config]
            layers = {layer.layer for layer in analyze_model(MODELS / f"{name}.tflite", CONFIGS[config]).cost.layers}
            figures[name][config] = {
                "total": int(vela["summary"]["cycles_total"]),
                "layers": [
                    [layer, KINDS.get(operator), cycles]
                    for layer, operator, cycles in vela_layers(vela["layers"], layers)
                ],
            }
    return figures


def main() -> int:
    """Run Vela on every one-layer model and config of the test, copy the network figures; write them."""
    figures: dict[str, dict[str, list[int]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, path, configs in models(Path(folder)):
            figures[name] = {config: vela_cycles(path, config) for config in configs}
    document = {
        "vela": "5.2.0",
        "op_cycles_source": "live `vela --verbose-performance` with npuc's systems.ini (bench/vela_figures.py)",
        "op_cycles": figures,
        "networks_source": "../shared/bench/vela_baseline.json (Vela 5.2.0, its own vela.ini), rows matched as"
                           " bench/vela_compare.py matches them",
        "networks": network_figures(),
    }
    FIGURES.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
