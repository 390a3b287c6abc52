"""The self-contained HTML report: one file, plotly.js inlined, no network access needed.

Tabs: Summary (network numbers, advice, the layers with most cycles),
Layers (the per-layer table, sortable by clicking a heading), Bandwidth
(per memory, read and write, over time), Memory (live bytes per memory over
time, with its arena), Timeline (one lane per engine) and
Graph (the network coloured by cycles). `?tab=NAME` or `#NAME` in the URL
opens a tab. Figures come from `npuc.report.figures`; plotly.js is read from
the `plotly` Python package's data files (the Python package itself is not
imported, which keeps `npuc analyze` fast). Once drawn, the page sets
`data-status` on `<body>` to `ok` or to the JavaScript errors it caught.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from importlib import resources
from typing import Any

from npuc.report.figures import (
    bandwidth_figure,
    graph_figure,
    memory_figure,
    timeline_figure,
)
from npuc.report.tables import GB, layer_columns, layer_values, memory_names

TABS = {"summary": "Summary", "layers": "Layers", "bandwidth": "Bandwidth over time",
        "memory": "Memory over time", "timeline": "Timeline", "graph": "Graph"}
"""Tab ids (for `?tab=`) and titles, in display order."""
TOP_LAYERS_CHART = 15
TEXT_COLUMNS = ("original_operator", "npu_operators", "bound", "name")
"""Per-layer table columns sorted as text; the others sort as numbers."""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #212121; background: #fafafa; }
header { background: #263238; color: #fff; padding: 12px 20px; }
header h1 { font-size: 20px; margin: 0 0 4px 0; }
nav { display: flex; gap: 4px; padding: 8px 20px 0 20px; border-bottom: 1px solid #cfd8dc; }
nav button { border: 1px solid #cfd8dc; border-bottom: none; background: #eceff1; padding: 8px 14px;
             cursor: pointer; font-size: 14px; border-radius: 4px 4px 0 0; }
nav button.active { background: #fff; font-weight: 600; }
section { padding: 16px 20px; background: #fff; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #e0e0e0; padding: 3px 8px; }
th { background: #eceff1; position: sticky; top: 0; }
table.sortable th { cursor: pointer; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
ul.advice li { margin: 4px 0; }
.plot { width: 100%; min-height: 480px; }
"""

SORTABLE_SCRIPT = """
function npucSortBy(table, column, heading) {
  var descending = heading.getAttribute("data-order") !== "descending";
  table.querySelectorAll("th").forEach(function (th) { th.removeAttribute("data-order"); });
  heading.setAttribute("data-order", descending ? "descending" : "ascending");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[column].getAttribute("data-value"), y = b.cells[column].getAttribute("data-value");
    var order = (x !== null && y !== null) ? Number(x) - Number(y)
      : a.cells[column].textContent.localeCompare(b.cells[column].textContent);
    return descending ? -order : order;
  });
  rows.forEach(function (row) { body.appendChild(row); });
}
function npucSortable() {
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (heading, column) {
      heading.addEventListener("click", function () { npucSortBy(table, column, heading); });
    });
  });
}
"""
"""`npucSortable()`: a click on a heading of a `table.sortable` sorts its rows by that column, again to reverse
(numerically by the cells' `data-value`, as text without one)."""

SCRIPT = SORTABLE_SCRIPT + """
(function () {
  var figures = JSON.parse(document.getElementById("npuc-figures").textContent);
  var tabs = %(tabs)s;
  var drawn = {};
  function finish() {
    document.body.setAttribute("data-status", window.npucErrors.length ? window.npucErrors.join("; ") : "ok");
  }
  function show(tab) {
    if (tabs.indexOf(tab) < 0) { tab = tabs[0]; }
    tabs.forEach(function (t) {
      document.getElementById("tab-" + t).hidden = t !== tab;
      document.getElementById("button-" + t).classList.toggle("active", t === tab);
    });
    var figure = figures[tab];
    if (figure && !drawn[tab]) {
      drawn[tab] = true;
      Plotly.newPlot("plot-" + tab, figure.data, figure.layout, {responsive: true, displaylogo: false})
        .then(finish, function (error) { window.npucErrors.push(String(error)); finish(); });
    } else {
      finish();
    }
  }
  function requested() {
    return new URLSearchParams(window.location.search).get("tab") || window.location.hash.slice(1);
  }
  document.querySelectorAll("nav button").forEach(function (button) {
    button.addEventListener("click", function () {
      window.history.replaceState(null, "", "#" + button.getAttribute("data-tab"));
      show(button.getAttribute("data-tab"));
    });
  });
  npucSortable();
  window.addEventListener("hashchange", function () { show(window.location.hash.slice(1)); });
  show(requested());
})();
"""


def plotly_js() -> str:
    """The plotly.js bundle shipped in the `plotly` Python package."""
    bundle = resources.files("plotly") / "package_data" / "plotly.min.js"
    return bundle.read_text(encoding="utf-8")


def _script_data(value: Any) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).replace("</", "<\\/")


def table_cell(value: Any, numeric: bool) -> str:
    """A `<td>`: text, or a right-aligned number (ints with thousands separators) carrying `data-value` to sort by."""
    if not numeric:
        return f"<td>{escape(str(value))}</td>"
    shown = f"{value:,}" if isinstance(value, int) else str(value)
    return f'<td class="number" data-value="{value}">{shown}</td>'


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in pairs)


def _summary_pairs(summary: Mapping[str, Any], timelines: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs = [(key, str(summary[key])) for key in ("model", "target") if key in summary]
    if summary["system_config"]:
        pairs += [("accelerator", summary["accelerator"]), ("system config", summary["system_config"]),
                  ("memory mode", summary["memory_mode"])]
    pairs += [
        ("clock", f"{summary['clock_hz'] / 1e6:g} MHz"),
        ("total cycles", f"{summary['total_cycles']:,} = NPU {summary['npu_cycles']:,} "
                         f"+ CPU {summary['cpu_cycles']:,} (estimate)"),
        ("host CPU", f"{summary['host_cpu']['core']} at {summary['host_cpu']['clock_hz'] / 1e6:g} MHz"),
        ("inference time", f"{summary['inference_time_s'] * 1e3:.3f} ms"),
        ("inferences per second", f"{summary['inferences_per_second']:,.1f}"),
        ("MACs", f"{summary['macs']:,} (utilisation {summary['utilisation_percent']:.1f} %)"),
        ("operations", f"{summary['operations']:,} ({summary['operations_per_second'] / 1e12:.3f} TOPS achieved)"),
    ]
    for name, memory in summary["memories"].items():
        pairs += [
            (f"{name} ({', '.join(memory['roles'])})",
             f"{memory['port'] or 'port n/a'}, design peak {memory['peak_bandwidth_bytes_per_s'] / GB:.2f} GB/s, "
             f"average {summary['average_bandwidth_bytes_per_s'][name] / GB:.2f} GB/s"),
            (f"{name} traffic per inference",
             f"{summary['bytes_read'][name]:,} B read, {summary['bytes_written'][name]:,} B written"),
            (f"{name} used", f"{summary['peak_memory'][name]:,} B of {memory['size']:,} B"),
        ]
        if name in timelines:
            pairs.append((f"{name} peak live", f"{timelines[name]['peak_live_bytes']:,} B "
                                               "(the least any placement needs)"))
    pairs += [
        ("staging peak", f"{summary['staging_peak']:,} B live"),
        ("weights", f"{summary['weight_bytes']:,} B of constants; layer weights "
                    f"{summary['original_weight_bytes']:,} B original, {summary['encoded_weight_bytes']:,} B encoded"),
        ("operators", f"{summary['npu_operators']} on NPU, {summary['cpu_operators']} on CPU"),
        ("note", summary["cpu_estimate_note"]),
    ]
    return pairs


def top_layers_figure(document: Mapping[str, Any]) -> dict[str, Any]:
    """The layers with the most cycles as horizontal bars, most at the top."""
    ranked = sorted(document["layers"], key=lambda layer: -layer["cycles"])[:TOP_LAYERS_CHART]
    ranked.reverse()
    return {
        "data": [{
            "type": "bar", "orientation": "h",
            "x": [layer["cycles"] for layer in ranked],
            "y": [escape(layer["name"]) for layer in ranked],
            "hovertext": [f"{layer['cycles']:,} cycles, {layer['network_percent']:.1f} %, bound {layer['bound']}"
                          for layer in ranked],
            "hoverinfo": "text", "marker": {"color": "#d84315"},
        }],
        "layout": {"title": {"text": "Layers with the most cycles"}, "xaxis": {"title": {"text": "cycles"}},
                   "yaxis": {"automargin": True}, "margin": {"t": 50},
                   "height": 160 + 24 * len(ranked)},
    }


def _layers_table(document: Mapping[str, Any]) -> str:
    memories = memory_names(document)
    headings = "".join(f"<th title=\"{escape(column)}\">{escape(heading)}</th>"
                       for column, heading in layer_columns(memories))
    numeric = [column not in TEXT_COLUMNS for column, _ in layer_columns(memories)]
    rows = "\n".join(
        "<tr>" + "".join(table_cell(value, is_number) for value, is_number in zip(layer_values(layer, memories), numeric))
        + "</tr>"
        for layer in document["layers"]
    )
    return f'<table class="sortable"><thead><tr>{headings}</tr></thead><tbody>\n{rows}\n</tbody></table>'


def report_html(document: Mapping[str, Any]) -> str:
    """The whole HTML page for a report document."""
    summary = document["summary"]
    figures = {
        "summary": top_layers_figure(document),
        "bandwidth": bandwidth_figure(document),
        "memory": memory_figure(document),
        "timeline": timeline_figure(document),
        "graph": graph_figure(document),
    }
    title = f"npuc report: {summary.get('model', 'model')} on {summary['target']}"
    nav = "".join(f'<button id="button-{tab}" data-tab="{tab}">{name}</button>' for tab, name in TABS.items())
    advice = "".join(f"<li>{escape(line)}</li>" for line in document["advice"])
    timelines = document.get("memory_timeline", {})
    sections = {
        "summary": f'<table>{_rows(_summary_pairs(summary, timelines))}</table>'
                   f'<h3>Advice</h3><ul class="advice">{advice}</ul><div class="plot" id="plot-summary"></div>',
        "layers": _layers_table(document),
        "bandwidth": '<div class="plot" id="plot-bandwidth"></div>',
        "memory": '<div class="plot" id="plot-memory"></div>',
        "timeline": '<div class="plot" id="plot-timeline"></div>',
        "graph": '<div class="plot" id="plot-graph"></div>',
    }
    body = "\n".join(f'<section id="tab-{tab}" hidden>{sections[tab]}</section>' for tab in TABS)
    header = (f"{summary['total_cycles']:,} cycles (NPU {summary['npu_cycles']:,}\n"
              f"+ CPU {summary['cpu_cycles']:,}, an estimate),\n"
              f"{summary['inference_time_s'] * 1e3:.3f} ms per inference")
    return html_page(title, header, f"<nav>{nav}</nav>\n{body}", figures, SCRIPT % {"tabs": json.dumps(list(TABS))})


def html_page(title: str, header: str, body: str, figures: Mapping[str, Any], script: str, style: str = STYLE) -> str:
    """A self-contained page: plotly.js inlined, `title` in a header followed by the HTML `header`, then `body`.

    `figures` (plotly figures by name) are placed as JSON in the element
    `npuc-figures`, for `script` to draw; errors the page raises are
    collected in `window.npucErrors` from the start.
    """
    library = plotly_js().replace("</script", "<\\/script")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>{style}</style>
<script>window.npucErrors = []; window.addEventListener("error", function (e) {{ window.npucErrors.push(String(e.message)); }});</script>
<script>{library}</script>
</head>
<body data-status="loading">
<header><h1>{escape(title)}</h1>{header}</header>
{body}
<script type="application/json" id="npuc-figures">{_script_data(figures)}</script>
<script>{script}</script>
</body>
</html>
"""
