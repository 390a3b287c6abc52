"""Report writers over a `NetworkCost`: the per-layer CSV table, the JSON report, the summary.

Every writer is deterministic (the same estimate gives the same bytes): rows
follow program order, JSON keys are sorted and floats are rounded to a fixed
number of significant digits. The formats are documented in
docs/report-format.md; change that page and `VERSION` with the schema.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from npuc.cost.model import CommandCost, LayerCost, NetworkCost
from npuc.targets import Target

SCHEMA = "npuc-report"
VERSION = 1
TOP_LAYERS = 5
"""How many layers `summary_text` lists, by cycles."""


def _number(value: float) -> float:
    """A float rounded to 6 significant digits, so its JSON text is stable."""
    return float(f"{value:.6g}")


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def layer_table_csv(cost: NetworkCost) -> str:
    """One CSV row per original layer, in program order.

    Columns: layer, npu_operators (command kinds joined by `+`), cycles,
    network_percent, macs, utilisation_percent, `<memory>_read_bytes` and
    `<memory>_written_bytes` per target memory, bound.
    """
    memory_columns = [f"{m}_{d}_bytes" for m in cost.memories for d in ("read", "written")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["layer", "npu_operators", "cycles", "network_percent", "macs",
                     "utilisation_percent", *memory_columns, "bound"])
    for layer in cost.layers:
        traffic = [table[m] for m in cost.memories for table in (layer.bytes_read, layer.bytes_written)]
        writer.writerow([
            layer.layer,
            "+".join(layer.operators),
            layer.cycles,
            f"{_percent(layer.cycles, cost.total_cycles):.2f}",
            layer.macs,
            f"{100.0 * layer.utilisation:.2f}",
            *traffic,
            layer.bound,
        ])
    return out.getvalue()


def _summary(cost: NetworkCost, target: Target) -> dict[str, Any]:
    return {
        "target": cost.target,
        "clock_hz": _number(cost.clock_hz),
        "total_cycles": cost.total_cycles,
        "inference_time_s": _number(cost.inference_time_s),
        "inferences_per_second": _number(cost.inferences_per_second),
        "macs": cost.macs,
        "utilisation_percent": _number(100.0 * cost.utilisation),
        "bytes_read": cost.bytes_read,
        "bytes_written": cost.bytes_written,
        "peak_memory": dict(cost.peak_memory),
        "memory_size": {memory.name: memory.size for memory in target.memories},
        "weight_bytes": cost.weight_bytes,
        "npu_operators": cost.npu_operators,
        "cpu_operators": cost.cpu_operators,
    }


def _layer(layer: LayerCost, total_cycles: int) -> dict[str, Any]:
    return {
        "layer": layer.layer,
        "operators": list(layer.operators),
        "cycles": layer.cycles,
        "network_percent": _number(_percent(layer.cycles, total_cycles)),
        "npu_cycles": layer.npu_cycles,
        "dma_cycles": layer.dma_cycles,
        "macs": layer.macs,
        "utilisation_percent": _number(100.0 * layer.utilisation),
        "bytes_read": dict(layer.bytes_read),
        "bytes_written": dict(layer.bytes_written),
        "bound": layer.bound,
        "on_cpu": layer.on_cpu,
    }


def _command(command: CommandCost) -> dict[str, Any]:
    return {
        "index": command.index,
        "layer": command.layer,
        "kind": command.kind,
        "engine": command.engine,
        "macs": command.macs,
        "compute_cycles": command.compute_cycles,
        "dma_cycles": command.dma_cycles,
        "access_cycles": dict(command.access_cycles),
        "bytes_read": dict(command.bytes_read),
        "bytes_written": dict(command.bytes_written),
        "cycles": command.cycles,
        "bound": command.bound,
        "start": command.start,
        "end": command.end,
    }


def report_json(cost: NetworkCost, target: Target, extra: Mapping[str, Any]) -> str:
    """The JSON report: schema name and version, network summary, layers, commands.

    `extra` (e.g. `{"model": path}`) is added to the summary; its keys must
    not clash with the summary's own.
    """
    summary = _summary(cost, target)
    clashes = sorted(set(summary) & set(extra))
    if clashes:
        raise ValueError(f"extra report fields clash with summary fields: {', '.join(clashes)}")
    document = {
        "schema": SCHEMA,
        "version": VERSION,
        "summary": {**summary, **extra},
        "layers": [_layer(layer, cost.total_cycles) for layer in cost.layers],
        "commands": [_command(command) for command in cost.commands],
    }
    return json.dumps(document, sort_keys=True, indent=1) + "\n"


def summary_text(cost: NetworkCost, target: Target) -> str:
    """The network summary `npuc compile` prints, ending with the top layers by cycles."""
    lines = [
        f"Performance estimate for {cost.target} at {cost.clock_hz / 1e6:g} MHz",
        f"  total cycles         {cost.total_cycles:,}",
        f"  inference time       {cost.inference_time_s * 1e3:.3f} ms "
        f"({cost.inferences_per_second:,.1f} inferences/s)",
        f"  MACs                 {cost.macs:,} (utilisation {100.0 * cost.utilisation:.1f} %)",
    ]
    read, written = cost.bytes_read, cost.bytes_written
    for memory in target.memories:
        name = memory.name
        lines.append(f"  {name + ' traffic':<20} {read[name]:,} B read, {written[name]:,} B written")
    for memory in target.memories:
        lines.append(
            f"  {'peak ' + memory.name:<20} {cost.peak_memory[memory.name]:,} B of {memory.size:,} B"
        )
    lines.append(f"  weights              {cost.weight_bytes:,} B")
    lines.append(f"  operators            {cost.npu_operators} on NPU, {cost.cpu_operators} on CPU")
    ranked = sorted(cost.layers, key=lambda layer: -layer.cycles)[:TOP_LAYERS]
    if ranked:
        lines.append("  top layers by cycles:")
        width = max(len(layer.layer) for layer in ranked)
        for layer in ranked:
            share = _percent(layer.cycles, cost.total_cycles)
            lines.append(
                f"    {layer.layer:<{width}}  {layer.cycles:>12,} cycles  {share:5.1f} %  {layer.bound}"
            )
    return "\n".join(lines) + "\n"
