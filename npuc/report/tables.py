"""Text, CSV and JSON writers of the report document (`npuc.report.document`).

The per-layer table has the columns Vela users know from
`--verbose-performance` (original operator, NPU operator, staging usage and
peak %, op cycles and network %, NPU cycles, the host's estimated CPU
cycles, access cycles per memory, MAC
count, network % and utilisation %, name), followed by npuc's bytes per
memory and bound. Every writer is deterministic; formats are documented in
docs/report-format.md.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

GB = 1e9
"""Bytes per (decimal) gigabyte: bandwidths print in GB/s = 10^9 bytes/s."""


def report_json(document: Mapping[str, Any]) -> str:
    """The JSON report: keys sorted, one-space indentation, trailing newline."""
    return json.dumps(document, sort_keys=True, indent=1) + "\n"


def memory_names(document: Mapping[str, Any]) -> list[str]:
    """The target's memories, in the order every per-memory column uses."""
    return list(document["summary"]["memories"])


def layer_columns(memories: list[str]) -> list[tuple[str, str]]:
    """(CSV column, text heading) pairs of the per-layer table, in order."""
    return [
        ("original_operator", "Original Operator"),
        ("npu_operators", "NPU Operator"),
        ("staging_usage", "Staging Usage"),
        ("staging_peak_percent", "Peak%"),
        ("op_cycles", "Op Cycles"),
        ("network_percent", "Network%"),
        ("npu_cycles", "NPU"),
        ("cpu_cycles", "CPU (est.)"),
        *((f"{m}_access_cycles", f"{m} AC") for m in memories),
        ("macs", "MAC Count"),
        ("mac_network_percent", "Network%"),
        ("utilisation_percent", "Util%"),
        *((f"{m}_{d}_bytes", f"{m} {d[0].upper()}") for m in memories for d in ("read", "written")),
        ("bound", "Bound"),
        ("stripes", "Stripes"),
        ("cascade", "Cascade"),
        ("name", "Name"),
    ]


def layer_values(layer: Mapping[str, Any], memories: list[str]) -> list[Any]:
    """The cells of one layer's row, in `layer_columns` order (percentages as 2-decimal text)."""
    return [
        layer["original_operator"],
        "+".join(layer["operators"]),
        layer["staging_usage"],
        f"{layer['staging_peak_percent']:.2f}",
        layer["cycles"],
        f"{layer['network_percent']:.2f}",
        layer["npu_cycles"],
        layer["cpu_cycles"],
        *(layer["access_cycles"][m] for m in memories),
        layer["macs"],
        f"{layer['mac_percent']:.2f}",
        f"{layer['utilisation_percent']:.2f}",
        *(layer[f"bytes_{d}"][m] for m in memories for d in ("read", "written")),
        layer["bound"],
        layer["stripes"],
        "" if layer["cascade"] is None else layer["cascade"],
        layer["name"],
    ]


def layer_table_csv(document: Mapping[str, Any]) -> str:
    """One CSV row per original layer, in program order (columns: `layer_columns`)."""
    memories = memory_names(document)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([column for column, _ in layer_columns(memories)])
    for layer in document["layers"]:
        writer.writerow(layer_values(layer, memories))
    return out.getvalue()


def layer_table_text(document: Mapping[str, Any]) -> str:
    """The per-layer table as aligned text, Vela style (numbers right-aligned, names last)."""
    memories = memory_names(document)
    headings = [heading for _, heading in layer_columns(memories)]
    rows = [[f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
             for v in layer_values(layer, memories)] for layer in document["layers"]]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headings)]
    left = {0, 1, len(headings) - 2, len(headings) - 1}

    def line(cells: list[str]) -> str:
        return " ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headings), line(["-" * w for w in widths]), *(line(row) for row in rows)]) + "\n"


def summary_text(document: Mapping[str, Any]) -> str:
    """The network summary `npuc compile` and `npuc analyze` print, ending with the advice."""
    s = document["summary"]
    lines = [f"Performance estimate for {s['target']}"]
    if s["system_config"]:
        lines.append(f"  accelerator          {s['accelerator']}")
        lines.append(f"  system config        {s['system_config']}")
        lines.append(f"  memory mode          {s['memory_mode']}")
    lines += [
        f"  clock                {s['clock_hz'] / 1e6:g} MHz",
        f"  total cycles         {s['total_cycles']:,} = NPU {s['npu_cycles']:,} + CPU {s['cpu_cycles']:,} (estimate)",
        f"  host CPU             {s['host_cpu']['core']} at {s['host_cpu']['clock_hz'] / 1e6:g} MHz",
        f"  inference time       {s['inference_time_s'] * 1e3:.3f} ms "
        f"({s['inferences_per_second']:,.1f} inferences/s)",
        f"  MACs                 {s['macs']:,} (utilisation {s['utilisation_percent']:.1f} %)",
        f"  operations           {s['operations']:,} ({s['operations_per_second'] / 1e12:.3f} TOPS achieved)",
    ]
    for name, memory in s["memories"].items():
        lines.append(
            f"  {name:<20} {', '.join(memory['roles'])}; design peak "
            f"{memory['peak_bandwidth_bytes_per_s'] / GB:.2f} GB/s, average {s['average_bandwidth_bytes_per_s'][name] / GB:.2f} GB/s"
        )
        lines.append(
            f"  {'':<20} {s['bytes_read'][name]:,} B read, {s['bytes_written'][name]:,} B written per inference, "
            f"{s['peak_memory'][name]:,} B used"
        )
        timeline = document.get("memory_timeline", {}).get(name)
        if timeline is not None:
            lines.append(f"  {'':<20} arena {timeline['arena']:,} B, peak live {timeline['peak_live_bytes']:,} B "
                         "(the least any placement needs)")
    lines.append(f"  staging peak         {s['staging_peak']:,} B live")
    lines.append(f"  weights              {s['weight_bytes']:,} B of constants; layer weights "
                 f"{s['original_weight_bytes']:,} B original, {s['encoded_weight_bytes']:,} B encoded")
    lines.append(f"  operators            {s['npu_operators']} on NPU, {s['cpu_operators']} on CPU")
    for cpu in s.get("cpu_operations", ()):
        lines.append(f"    CPU {cpu['layer']} ({cpu['operator']}): {cpu['reason']}")
    lines.append(f"  note                 {s['cpu_estimate_note']}")
    if "rounding_note" in s:
        lines.append(f"  rounding             {s['rounding_note']}")
    if document["advice"]:
        lines.append("advice:")
        lines += [f"  {line}" for line in document["advice"]]
    return "\n".join(lines) + "\n"


def report_text(document: Mapping[str, Any]) -> str:
    """The text report file: the summary, then the per-layer table."""
    return summary_text(document) + "\n" + layer_table_text(document)
