"""The self-contained HTML page of a sweep (`npuc sweep`'s sweep.html), from its `npuc-sweep` document.

One figure per model: inference time against peak SRAM, a trace per target
(time rather than cycles: targets run at different clocks), the Pareto
front as a step line, the latency target as a dashed line (in the title
instead when every point meets it) and the cheapest configuration meeting
it as a star. Below, the table of every point,
sortable by a click on a heading, the cheapest rows highlighted and the
points that did not compile with their error, and the channel what-if's
advice lines when the sweep measured them. Like the analysis report
(`npuc.report.html`) it inlines plotly.js and sets `data-status` on `<body>`
to `ok` or the JavaScript errors it caught once every figure is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from npuc.report.html import SORTABLE_SCRIPT, STYLE, html_page, table_cell

KIB = 1024

COLUMNS = (
    ("model", "Model"), ("target", "Target"), ("system_config", "System config"), ("memory_mode", "Memory mode"),
    ("budget_bytes", "Budget (B)"), ("optimise", "Optimise"), ("status", "Status"),
    ("total_cycles", "Cycles"), ("npu_cycles", "NPU cycles"), ("inference_time_ms", "Time (ms)"),
    ("peak_sram_bytes", "Peak SRAM (B)"), ("flash_dram_bytes", "Flash/DRAM (B)"),
    ("offchip_traffic_bytes", "Off-chip traffic (B)"), ("mac_utilisation_percent", "MAC util %"),
    ("cpu_operators", "CPU ops"), ("pareto_front", "Pareto front"), ("error", "Error"),
)
"""(sweep row field, heading) of the table's columns, in order."""

SWEEP_STYLE = STYLE + """
tr.cheapest td { background: #fff59d; font-weight: 600; }
tr.error td { color: #b71c1c; }
.plot { min-height: 420px; }
"""

SWEEP_SCRIPT = SORTABLE_SCRIPT + """
(function () {
  var figures = JSON.parse(document.getElementById("npuc-figures").textContent);
  function finish() {
    document.body.setAttribute("data-status", window.npucErrors.length ? window.npucErrors.join("; ") : "ok");
  }
  npucSortable();
  Promise.all(Object.keys(figures).map(function (name) {
    var figure = figures[name];
    return Plotly.newPlot(name, figure.data, figure.layout, {responsive: true, displaylogo: false});
  })).then(finish, function (error) { window.npucErrors.push(String(error)); finish(); });
})();
"""

OPTIMISE_SYMBOLS = {"Performance": "circle", "Size": "square"}


def _budget(row: Mapping[str, Any]) -> str:
    return "unlimited" if row["budget_bytes"] is None else f"{row['budget_bytes'] // KIB}K"


def _hover(row: Mapping[str, Any]) -> str:
    return escape(f"{row['target']}, budget {_budget(row)}, {row['optimise']}: {row['total_cycles']:,} cycles, "
                  f"{row['inference_time_ms']:g} ms, peak SRAM {row['peak_sram_bytes']:,} B")


def _points(rows: Sequence[Mapping[str, Any]], name: str, **style: Any) -> dict[str, Any]:
    return {
        "type": "scatter", "mode": "markers", "name": escape(name),
        "x": [row["peak_sram_bytes"] / KIB for row in rows], "y": [row["inference_time_ms"] for row in rows],
        "hovertext": [_hover(row) for row in rows], "hoverinfo": "text", **style,
    }


def model_figure(model: str, rows: Sequence[Mapping[str, Any]], latency_ms: float | None) -> dict[str, Any]:
    """Time against peak SRAM of one model's compiled rows: a trace per target, the front, the cheapest."""
    compiled = [row for row in rows if row["status"] == "ok"]
    data = []
    for target in dict.fromkeys(row["target"] for row in compiled):
        mine = [row for row in compiled if row["target"] == target]
        symbols = [OPTIMISE_SYMBOLS.get(row["optimise"], "diamond") for row in mine]
        data.append(_points(mine, target, marker={"size": 9, "symbol": symbols}))
    front = sorted((row for row in compiled if row["pareto_front"]), key=lambda row: row["peak_sram_bytes"])
    data.append({**_points(front, "Pareto front", line={"shape": "hv", "dash": "dot", "color": "#37474f"}),
                 "mode": "lines", "hoverinfo": "skip"})
    chosen = [row for row in compiled if row["cheapest"]]
    if chosen:
        data.append(_points(chosen, f"cheapest within {latency_ms:g} ms",
                            marker={"size": 18, "symbol": "star", "color": "#fbc02d", "line": {"width": 1}}))
    slowest = max((row["inference_time_ms"] for row in compiled), default=0.0)
    title = model if latency_ms is None or latency_ms <= slowest else f"{model} (every point within {latency_ms:g} ms)"
    layout: dict[str, Any] = {
        "title": {"text": escape(title)}, "height": 420, "margin": {"t": 50},
        "xaxis": {"title": {"text": "peak SRAM (KiB)"}}, "yaxis": {"title": {"text": "inference time (ms)"}},
        "legend": {"title": {"text": "circle: Performance, square: Size"}},
    }
    if latency_ms is not None and latency_ms <= slowest:  # a line far above the points would squash them
        layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": latency_ms, "y1": latency_ms,
                             "line": {"dash": "dash", "color": "#c62828"}}]
    return {"data": data, "layout": layout}


def _row_html(row: Mapping[str, Any]) -> str:
    cells = []
    for field, _ in COLUMNS:
        value = row[field]
        if field == "budget_bytes" and value is None:
            cells.append(table_cell("unlimited", False))
        elif isinstance(value, bool):
            cells.append(table_cell("yes" if value else "", False))
        elif isinstance(value, int | float):
            cells.append(table_cell(value, True))
        else:
            cells.append(table_cell("" if value is None else value, False))
    kind = "cheapest" if row["cheapest"] else "error" if row["status"] != "ok" else ""
    return f'<tr class="{kind}">' + "".join(cells) + "</tr>"


CHANNEL_COLUMNS = (("model", "Model"), ("target", "Target"), ("budget_bytes", "Budget (B)"),
                   ("optimise", "Optimise"), ("advice", "Channel what-if"))
"""(field, heading) of the channel what-if table's columns: a point's fields, then one group's advice line."""


def _channels_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """The channel what-if's section (sortable, one line per point and channel group), or nothing."""
    lines = [{**row, **variant} for row in rows for variant in row["channel_variants"]]
    if not lines:
        return ""
    headings = "".join(f"<th>{escape(heading)}</th>" for _, heading in CHANNEL_COLUMNS)
    body = "\n".join(
        "<tr>" + "".join(table_cell("unlimited" if line[field] is None else line[field], False)
                         for field, _ in CHANNEL_COLUMNS) + "</tr>"
        for line in lines
    )
    return (f'\n<section><h3>Channel what-if</h3><table class="sortable"><thead><tr>{headings}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table></section>")


def sweep_html(document: Mapping[str, Any]) -> str:
    """The whole page for an `npuc-sweep` document."""
    rows = document["rows"]
    latency = document["latency_ms"]
    models = list(dict.fromkeys(row["model"] for row in rows))
    figures = {f"plot-{index}": model_figure(model, [row for row in rows if row["model"] == model], latency)
               for index, model in enumerate(models)}
    compiled = sum(row["status"] == "ok" for row in rows)
    header = (f"{len(rows)} points: {compiled} compiled, {len(rows) - compiled} did not"
              + (f"; latency target {latency:g} ms" if latency is not None else ""))
    plots = "".join(f'<div class="plot" id="{name}"></div>' for name in figures)
    headings = "".join(f"<th>{escape(heading)}</th>" for _, heading in COLUMNS)
    table = (f'<table class="sortable"><thead><tr>{headings}</tr></thead><tbody>\n'
             + "\n".join(_row_html(row) for row in rows) + "\n</tbody></table>")
    body = f"<section>{plots}</section>\n<section><h3>Points</h3>{table}</section>" + _channels_html(rows)
    return html_page(f"npuc sweep: {', '.join(models)}", escape(header), body, figures, SWEEP_SCRIPT,
                     style=SWEEP_STYLE)
