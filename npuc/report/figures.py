"""Plotly figures of the HTML report, as plain JSON-ready dicts built from the report document.

The figures are data (`{"data": [...], "layout": {...}}` in plotly.js's
schema), so the page only hands them to `Plotly.newPlot` and the numbers
can be tested here:
- bandwidth over time: per memory and direction, the bytes of every command
  spread evenly over its duration, summed in equal time bins, in GB/s;
- memory over time: per memory, the bytes live while each command runs, as
  a step line over the commands' start cycles, with the arena as a dashed
  line;
- timeline: one lane per engine (DMA in, DMA out, MAC, elementwise, and CPU
  when the network has CPU layers), one bar per command from start to end
  (CPU bars for the host's estimated time);
- graph: the layer graph drawn top-down by depth, layers coloured by cycles.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from npuc.report.document import LANES, number
from npuc.report.network import LAYER

BANDWIDTH_BINS = 200
"""Time bins of the bandwidth chart (fewer when the network has fewer cycles)."""
LANE_COLOURS = {"dma_in": "#1f77b4", "dma_out": "#17becf", "mac": "#d62728", "elementwise": "#ff7f0e", "cpu": "#7f7f7f"}
GRAPH_ROW_PX = 42
SKIP_BEND = 0.45
"""How far (in node spacings) an edge that skips rows bends to the right."""
LABEL_CHARACTERS = 28


def bandwidth_series(document: Mapping[str, Any], bins: int = BANDWIDTH_BINS) -> tuple[list[float], dict[str, list[float]]]:
    """Bin start cycles and, per `"<memory> read"` / `"<memory> write"`, GB/s in each bin."""
    summary = document["summary"]
    total = summary["total_cycles"]
    count = max(1, min(bins, total))
    width = total / count if total else 1.0
    bytes_per_bin = {
        f"{memory} {direction}": [0.0] * count for memory in summary["memories"] for direction in ("read", "write")
    }
    for command in document["commands"]:
        start, end = command["start"], command["end"]
        if end <= start:
            continue
        first, last = int(start // width), min(count - 1, int((end - 1e-9) // width))
        for table, direction in ((command["bytes_read"], "read"), (command["bytes_written"], "write")):
            for memory, moved in table.items():
                series = bytes_per_bin[f"{memory} {direction}"]
                for index in range(first, last + 1):
                    overlap = min(end, (index + 1) * width) - max(start, index * width)
                    series[index] += moved * overlap / (end - start)
    seconds_per_bin = width / summary["clock_hz"]
    gigabytes_per_s = {
        name: [number(moved / seconds_per_bin / 1e9) for moved in series] for name, series in bytes_per_bin.items()
    }
    return [number(index * width) for index in range(count)], gigabytes_per_s


def bandwidth_figure(document: Mapping[str, Any]) -> dict[str, Any]:
    """Step lines of GB/s over cycles, one per memory and direction (writes dashed)."""
    starts, series = bandwidth_series(document)
    data = [
        {"type": "scatter", "mode": "lines", "name": name, "x": starts, "y": values,
         "line": {"shape": "hv", "dash": "dot" if name.endswith("write") else "solid"}}
        for name, values in series.items()
    ]
    layout = {
        "title": {"text": "Memory bandwidth over time"},
        "xaxis": {"title": {"text": "cycle"}},
        "yaxis": {"title": {"text": "GB/s"}, "rangemode": "tozero"},
        "legend": {"orientation": "h"},
        "margin": {"t": 50},
    }
    return {"data": data, "layout": layout}


def memory_figure(document: Mapping[str, Any]) -> dict[str, Any]:
    """Live bytes over cycles per memory holding buffers (step line), and its arena (dashed line).

    Each command's live bytes (`memory_timeline`) hold from its start cycle
    until the next command (by start) begins; DMA and compute commands run
    at once, so this reads the schedule position by position along time.
    """
    total = document["summary"]["total_cycles"]
    data: list[dict[str, Any]] = []
    for memory, timeline in document.get("memory_timeline", {}).items():
        if not timeline["arena"]:
            continue
        entries = sorted(timeline["live"], key=lambda entry: (entry["start"], entry["command"]))
        data.append({
            "type": "scatter", "mode": "lines", "name": f"{memory} live", "line": {"shape": "hv"},
            "x": [entry["start"] for entry in entries] + [total],
            "y": [entry["live_bytes"] for entry in entries] + [entries[-1]["live_bytes"] if entries else 0],
            "hovertext": [f"{escape(entry['layer'])}<br>{entry['live_bytes']:,} B live in {memory} "
                          f"(command {entry['command']}, cycles {entry['start']:,} to {entry['end']:,})"
                          for entry in entries] + [""],
            "hoverinfo": "text",
        })
        data.append({
            "type": "scatter", "mode": "lines", "name": f"{memory} arena", "x": [0, total],
            "y": [timeline["arena"]] * 2, "line": {"dash": "dash"},
            "hovertext": [f"{memory} arena: {timeline['arena']:,} B (peak live bound "
                          f"{timeline['peak_live_bytes']:,} B)"] * 2,
            "hoverinfo": "text",
        })
    layout = {
        "title": {"text": "Memory live bytes over time"},
        "xaxis": {"title": {"text": "cycle"}},
        "yaxis": {"title": {"text": "bytes"}, "rangemode": "tozero"},
        "legend": {"orientation": "h"},
        "margin": {"t": 50},
    }
    return {"data": data, "layout": layout}


def _hover(command: Mapping[str, Any]) -> str:
    moved = ", ".join(f"{m} {b:,} B read" for m, b in command["bytes_read"].items())
    written = ", ".join(f"{m} {b:,} B written" for m, b in command["bytes_written"].items())
    estimate = " (estimate)" if command["estimated"] else ""
    return (f"{escape(command['layer'])}<br>{command['kind']}: {command['cycles']:,} cycles{estimate} "
            f"({command['start']:,} to {command['end']:,}), bound {command['bound']}"
            f"<br>{'; '.join(part for part in (moved, written) if part)}")


def timeline_figure(document: Mapping[str, Any]) -> dict[str, Any]:
    """Horizontal bars from start to end cycle, one lane per engine."""
    present = {command["lane"] for command in document["commands"]}
    lanes = [lane for lane in LANES if lane != "cpu" or "cpu" in present]
    data = []
    for lane in lanes:
        members = [c for c in document["commands"] if c["lane"] == lane]
        data.append({
            "type": "bar", "orientation": "h", "name": LANES[lane],
            "y": [LANES[lane]] * len(members),
            "base": [c["start"] for c in members],
            # A zero-length command still gets a visible sliver.
            "x": [max(c["end"] - c["start"], 1) for c in members],
            "hovertext": [_hover(c) for c in members], "hoverinfo": "text",
            "marker": {"color": LANE_COLOURS[lane], "line": {"width": 0.5, "color": "#ffffff"}},
        })
    layout = {
        "title": {"text": "Engine timeline"},
        "barmode": "overlay",
        "xaxis": {"title": {"text": "cycle"}},
        "yaxis": {"categoryorder": "array", "categoryarray": [LANES[lane] for lane in reversed(lanes)]},
        "showlegend": False,
        "margin": {"t": 50, "l": 110},
    }
    return {"data": data, "layout": layout}


def graph_positions(names: list[str], edges: list[list[str]]) -> dict[str, tuple[float, int]]:
    """(x, row) of each node: row = longest path from a source, x centred within the row.

    `names` must be in a topological order (program order is one).
    """
    predecessors: dict[str, list[str]] = {name: [] for name in names}
    for source, target in edges:
        predecessors[target].append(source)
    row: dict[str, int] = {}
    for name in names:
        row[name] = 1 + max((row[p] for p in predecessors[name]), default=-1)
    members: dict[int, list[str]] = {}
    for name in names:
        members.setdefault(row[name], []).append(name)
    positions = {}
    for level, level_names in members.items():
        for index, name in enumerate(level_names):
            positions[name] = (index - (len(level_names) - 1) / 2, level)
    return positions


def graph_figure(document: Mapping[str, Any]) -> dict[str, Any]:
    """The layer graph, top to bottom, layers coloured by cycles; hover gives the numbers."""
    nodes = document["graph"]["nodes"]
    edges = document["graph"]["edges"]
    positions = graph_positions([node["name"] for node in nodes], edges)
    layers = {layer["name"]: layer for layer in document["layers"]}
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for source, target in edges:
        (x0, y0), (x1, y1) = positions[source], positions[target]
        # An edge skipping rows bends aside so it does not hide behind the nodes between.
        bend = [(x0 + x1) / 2 + SKIP_BEND, -(y0 + y1) / 2] if y1 - y0 > 1 else []
        edge_x += [x0, *bend[:1], x1, None]
        edge_y += [-y0, *bend[1:], -y1, None]
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "x": edge_x, "y": edge_y, "hoverinfo": "skip",
         "line": {"color": "#9e9e9e", "width": 1}, "showlegend": False},
    ]
    for is_layer in (False, True):
        chosen = [node for node in nodes if (node["kind"] == LAYER) == is_layer]
        cycles = [layers.get(node["name"], {}).get("cycles", 0) for node in chosen]
        hover = [_node_hover(node, layers.get(node["name"])) for node in chosen]
        marker: dict[str, Any] = {"size": 16, "symbol": "circle" if is_layer else "square",
                                  "line": {"width": 1, "color": "#424242"}}
        if is_layer:
            marker.update({"color": cycles, "colorscale": "YlOrRd", "reversescale": True, "cmin": 0, "showscale": True,
                           "colorbar": {"title": {"text": "cycles"}, "lenmode": "pixels", "len": 320,
                                        "y": 1, "yanchor": "top"}})
        else:
            marker["color"] = "#bdbdbd"
        data.append({
            "type": "scatter", "mode": "markers+text", "showlegend": False,
            "x": [positions[node["name"]][0] for node in chosen],
            "y": [-positions[node["name"]][1] for node in chosen],
            "text": [_label(node["name"]) for node in chosen], "textposition": "middle right",
            "hovertext": hover, "hoverinfo": "text", "marker": marker,
        })
    rows = 1 + max((row for _, row in positions.values()), default=0)
    xs = [x for x, _ in positions.values()] or [0.0]
    layout = {
        "title": {"text": "Network graph (colour: cycles)"},
        "height": 120 + GRAPH_ROW_PX * rows,
        # Room on the right of the rightmost node for its label.
        "xaxis": {"visible": False, "range": [min(xs) - 0.6, max(xs) + 2.5]},
        "yaxis": {"visible": False, "range": [-(rows - 1) - 0.6, 0.6]},
        "margin": {"t": 50, "l": 20, "r": 20},
        "hovermode": "closest",
    }
    return {"data": data, "layout": layout}


def _label(name: str) -> str:
    """A node label short enough to sit beside the marker (long names keep their end)."""
    return escape(name if len(name) <= LABEL_CHARACTERS else "…" + name[-(LABEL_CHARACTERS - 1):])


def _node_hover(node: Mapping[str, Any], layer: Mapping[str, Any] | None) -> str:
    shape = "x".join(str(extent) for extent in node["shape"])
    text = f"{escape(node['name'])}<br>{node['operator']} {shape}"
    if layer is not None:
        text += (f"<br>{layer['cycles']:,} cycles ({layer['network_percent']:.1f} %), "
                 f"{layer['macs']:,} MACs, bound {layer['bound']}")
    return text
