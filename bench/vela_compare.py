"""Compare npuc's cost model with Vela 5.2 per layer and per network (issue 7, "Done when").

For every /work/shared/models/*/model.tflite and the configs `u55-128` and
`u65-256` of /work/shared/bench/vela_baseline.json, compiles with npuc for the
same accelerator, system config and memory mode, and prints npuc's cycles per
layer next to Vela's "Op Cycles" (layers matched by name: Vela's is the TFLite
output tensor, npuc's `layer` attribute the operator's first output), the
ratio, the median absolute difference per operator kind and the network
totals. Vela lists some operators as several rows (a MEAN as a depthwise
convolution and a multiply, a softmax as about 30 steps, a fused activation
as a row of its own): the rows of one operator before the row npuc's layer
is named after are added to it, and repeated rows of a compared layer are
skipped. Layers npuc runs on the CPU while Vela runs them on the NPU are
listed apart with the Vela cycles they leave out of npuc's total, which is
npuc's NPU figure (`npu_cycles`: Vela prices no CPU operation, so the host's
estimate is left out).

npuc stages weights where that makes a layer faster, Vela wherever they
fit; to compare the cost models on the same schedules npuc stages as Vela
does here (`--weight-staging fits`, the default); `--weight-staging pays`
compares npuc's own schedules (faster where weights stay in place: digits_cnn
on u65-256 -8 %). Likewise npuc makes Vela's other choices here
(`like_vela`: no strided first layer's input columns folded into channels,
every block from Vela's search) unless given `--npuc-choices`.

With `--blocks`, it instead runs the installed `vela --verbose-schedule` and
compares the OFM block Vela chose for every NPU operation with npuc's
`block` (operations matched in order per kind and OFM shape).

    python bench/vela_compare.py [--models a,b] [--quiet] [--blocks] [--weight-staging fits|pays] [--npuc-choices]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path

from npuc.api import analyze_model
from npuc.backend.weight_staging import FITS, STAGING_RULES
from npuc.cost.model import commands
from npuc.dialects.common import array_values
from npuc.dialects.npu import ComputeOp

SHARED = Path(__file__).resolve().parents[2] / "shared"
CONFIGS = {
    "u55-128": "ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram",
    "u65-256": "ethos-u65-256:Ethos_U65_High_End:Dedicated_Sram",
}
KINDS = {
    "Conv2D": "conv", "DepthwiseConv2D": "depthwise", "FullyConnected": "fully connected",
    "MaxPool": "pooling", "AvgPool": "pooling", "Add": "elementwise", "Sub": "elementwise",
    "Mul": "elementwise",
}
LIMIT = 0.05
"""Issue 13, point 7: every per-kind median |difference| and every network total within 5 % of Vela."""
SYSTEMS_INI = Path(__file__).resolve().parents[1] / "npuc" / "targets" / "data" / "systems.ini"
VELA_KINDS = {
    "Conv2D": "conv2d", "DepthwiseConv2D": "depthwise_conv2d", "FullyConnected": "fully_connected",
    "MaxPool": "pool", "AvgPool": "pool", "ReduceSum": "pool",
    "Add": "elementwise", "Sub": "elementwise", "Mul": "elementwise",
}
"""Vela's operation names in --verbose-schedule -> npuc command names (without `npu.`)."""
VELA_OPERATION = re.compile(r"\d+: Operation (\w+)\s+- OFM ([\d, ]+) .*?OFM Block=\[([\d, ]+)\]", re.DOTALL)


def vela_blocks(model: Path, config: str) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """(npuc command name, OFM [h, w, c], block [h, w, c]) of every operation in Vela's schedule."""
    accelerator, system, mode = CONFIGS[config].split(":")
    with tempfile.TemporaryDirectory() as output:
        text = subprocess.run(
            ["vela", str(model), "--accelerator-config", accelerator, "--config", str(SYSTEMS_INI),
             "--system-config", system, "--memory-mode", mode, "--verbose-schedule", "--output-dir", output],
            capture_output=True, text=True, check=True,
        ).stdout

    def numbers(text: str) -> tuple[int, ...]:
        return tuple(int(value) for value in text.split(","))[-3:]

    return [(VELA_KINDS.get(kind, kind), numbers(ofm), numbers(block))
            for kind, ofm, block in VELA_OPERATION.findall(text)]


def compare_blocks(model: str, config: str) -> tuple[int, int]:
    """Print the operations whose block differs from Vela's; return (same, compared)."""
    path = SHARED / "models" / model / "model.tflite"
    analysis = analyze_model(path, CONFIGS[config])
    ours: dict[tuple[str, tuple[int, ...]], list[tuple[tuple[int, ...], str]]] = defaultdict(list)
    for op in commands(analysis.module):
        if isinstance(op, ComputeOp):
            ofm = (1, 1, 1, *op.ofm.shape_values())[-3:]
            ours[(op.name.removeprefix("npu."), ofm)].append((tuple(array_values(op.block)), op.attributes["layer"].data))
    same = compared = 0
    for kind, ofm, block in vela_blocks(path, config):
        candidates = ours.get((kind, ofm))
        if not candidates:
            continue  # a helper row npuc folds into another command (a MEAN's multiply)
        mine, layer = candidates.pop(0)
        compared += 1
        same += mine == block
        if mine != block:
            print(f"   {model} {config} {kind} OFM {list(ofm)}: vela {list(block)} npuc {list(mine)} {layer[-40:]}")
    print(f"== {model} {config}: {same} of {compared} blocks as Vela's")
    return same, compared


def vela_layers(rows: list[dict[str, str]], layers: Collection[str]) -> list[tuple[str, str, int]]:
    """(name, original operator, Op Cycles) of Vela's rows as npuc's `layers` name them.

    The rows of one operator before the row npuc's layer is named after are
    added to it (a MEAN's or softmax's steps), repeated rows of a layer
    (a fused activation) are skipped and so are zero-cycle rows npuc has no
    layer for.
    """
    matched: list[tuple[str, str, int]] = []
    seen: set[str] = set()
    pending = 0
    for index, row in enumerate(rows):
        cycles, name = int(row["Op Cycles"]), row["Name"]
        if name in seen:
            continue
        following = rows[index + 1] if index + 1 < len(rows) else None
        if name not in layers and following and following["Original Operator"] == row["Original Operator"]:
            pending += cycles
            continue
        cycles, pending = cycles + pending, 0
        if cycles == 0 and name not in layers:
            continue
        seen.add(name)
        matched.append((name, row["Original Operator"], cycles))
    return matched


def compare(
    model: str, config: str, vela: dict, quiet: bool, weight_staging: str, like_vela: bool
) -> tuple[dict[str, list[float]], int, int, int]:
    """Print one model/config comparison; return per-kind relative differences and the totals."""
    analysis = analyze_model(
        SHARED / "models" / model / "model.tflite", CONFIGS[config], weight_staging=weight_staging,
        like_vela=like_vela,
    )  # fmt: skip
    ours = {layer.layer: layer for layer in analysis.cost.layers}
    differences: dict[str, list[float]] = defaultdict(list)
    cpu_only = 0
    print(f"== {model} {config}")
    for name, operator, vela_cycles in vela_layers(vela["layers"], ours):
        layer = ours.get(name)
        if layer is None or layer.on_cpu:
            cpu_only += vela_cycles
            note = "npu in Vela, cpu in npuc" if layer is not None else "not a layer in npuc"
            if not quiet:
                print(f"   {operator:15s} vela {vela_cycles:9d}  ({note}) {name[-50:]}")
            continue
        ratio = layer.cycles / vela_cycles if vela_cycles else float("inf")
        kind = KINDS.get(operator)
        if kind and vela_cycles:
            differences[kind].append(abs(ratio - 1))
        if not quiet:
            print(f"   {operator:15s} vela {vela_cycles:9d} npuc {layer.cycles:9d} x{ratio:5.2f} {layer.bound:8s} {name[-50:]}")
    total_vela = int(vela["summary"]["cycles_total"])
    total = analysis.cost.npu_cycles  # Vela prices no CPU operation: compare the NPU's figure
    print(f"   total: npuc {total} vela {total_vela} ({total / total_vela - 1:+.1%}); Vela NPU cycles of layers"
          f" npuc runs on the CPU: {cpu_only} ({cpu_only / total_vela:.1%} of Vela's total)")
    return differences, total, total_vela, cpu_only


def main() -> int:
    """Run every comparison, print the per-kind medians and totals; exit 1 if a limit is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated model directories (default: all)")
    parser.add_argument("--quiet", action="store_true", help="only the summaries")
    parser.add_argument("--blocks", action="store_true", help="compare npuc's blocks with vela --verbose-schedule")
    parser.add_argument("--weight-staging", choices=STAGING_RULES, default=FITS,
                        help="npuc's weight-staging rule (default fits: Vela's, like with like)")
    parser.add_argument("--npuc-choices", action="store_true",
                        help="npuc's own folds and blocks where Vela makes other choices (default: Vela's)")
    args = parser.parse_args()
    baseline = json.loads((SHARED / "bench" / "vela_baseline.json").read_text())
    models = args.models.split(",") if args.models else sorted(baseline["models"])
    if args.blocks:
        results = [compare_blocks(model, config) for config in CONFIGS for model in models]
        return 0 if all(same == compared for same, compared in results) else 1
    ok = True
    for config in CONFIGS:
        kinds: dict[str, list[float]] = defaultdict(list)
        totals = []
        for model in models:
            differences, total, total_vela, cpu_only = compare(model, config, baseline["models"][model][config], args.quiet, args.weight_staging, not args.npuc_choices)
            for kind, values in differences.items():
                kinds[kind].extend(values)
            totals.append((model, total, total_vela, cpu_only))
        print(f"\n## {config}: median |npuc/vela - 1| per kind (limit {LIMIT:.0%})")
        for kind in ("conv", "depthwise", "fully connected", "pooling", "elementwise"):
            values = kinds.get(kind, [])
            median = statistics.median(values) if values else None
            ok &= median is None or median <= LIMIT
            print(f"   {kind:16s} " + (f"{median:6.1%} over {len(values)} layers" if values else "no layers"))
        print(f"## {config}: network totals (limit ±{LIMIT:.0%})")
        for model, total, total_vela, cpu_only in totals:
            off = total / total_vela - 1
            ok &= abs(off) <= LIMIT
            print(f"   {model:22s} npuc {total:10d} vela {total_vela:10d} {off:+7.1%}"
                  f"  (vela minus npuc-CPU layers: {total_vela - cpu_only}, {total / (total_vela - cpu_only) - 1:+.1%})")
        print()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
