"""The sweep table: rows marked with their Pareto front and cheapest configuration, as JSON and CSV.

`sweep_document` makes the versioned `npuc-sweep` document (docs/sweep.md)
every output is written from: `sweep_json`, `sweep_csv`, the HTML page
(`npuc.report.sweep`) and the summary lines `npuc sweep` prints.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from npuc.dse.cache import npuc_version
from npuc.dse.point import OK, POINT_FIELDS, RESULT_FIELDS
from npuc.errors import writing

SCHEMA = "npuc-sweep"
VERSION = 2

ROW_FIELDS = (*POINT_FIELDS, "status", *RESULT_FIELDS, "pareto_front", "cheapest", "error")
"""The columns of the sweep table, in order."""

VARIANT_ROWS = "channel_variants"
"""The document rows' field holding the channel what-if at the point (`channels.csv`)."""

UNLIMITED = "unlimited"
"""How a point without a budget of its own (the memory mode's arena cache size) is written."""


def pareto_front(rows: Sequence[Mapping[str, Any]]) -> list[bool]:
    """Per row: whether it compiled and no other compiled row of its model needs no more peak SRAM and no
    more inference time, and less of one of them (the fastest configuration for its SRAM)."""
    compiled = [row for row in rows if row["status"] == OK]

    def dominated(row: Mapping[str, Any]) -> bool:
        return any(
            other["model"] == row["model"]
            and other["peak_sram_bytes"] <= row["peak_sram_bytes"]
            and other["inference_time_ms"] <= row["inference_time_ms"]
            and (other["peak_sram_bytes"], other["inference_time_ms"])
            != (row["peak_sram_bytes"], row["inference_time_ms"])
            for other in compiled
        )

    return [row["status"] == OK and not dominated(row) for row in rows]


def cheapest(rows: Sequence[Mapping[str, Any]], latency_ms: float | None) -> list[bool]:
    """Per row: whether it is its model's cheapest configuration meeting `latency_ms` (all False if None).

    The cheapest is the one on the smallest accelerator (MACs per cycle),
    then with the least peak SRAM, then the fastest, then the first in grid order.
    """
    chosen: dict[str, int] = {}
    if latency_ms is not None:
        for index, row in enumerate(rows):
            if row["status"] != OK or row["inference_time_ms"] > latency_ms:
                continue
            best = chosen.get(row["model"])
            if best is None or _price(row) < _price(rows[best]):
                chosen[row["model"]] = index
    picked = set(chosen.values())
    return [index in picked for index in range(len(rows))]


def _price(row: Mapping[str, Any]) -> tuple[int, int, float]:
    return row["macs_per_cycle"], row["peak_sram_bytes"], row["inference_time_ms"]


def sweep_document(rows: Sequence[Mapping[str, Any]], latency_ms: float | None = None) -> dict[str, Any]:
    """The `npuc-sweep` document: the rows in grid order, each with `ROW_FIELDS` and its `channel_variants`
    (the channel what-if's rows, `npuc.dse.point.channel_rows`; empty unless the sweep measured them)."""
    marked = [
        {field: {**row, "pareto_front": front, "cheapest": chosen}[field] for field in (*ROW_FIELDS, VARIANT_ROWS)}
        for row, front, chosen in zip(rows, pareto_front(rows), cheapest(rows, latency_ms))
    ]
    return {"schema": SCHEMA, "version": VERSION, "npuc_version": npuc_version(), "latency_ms": latency_ms,
            "rows": marked}


def sweep_json(document: Mapping[str, Any]) -> str:
    """The JSON file: keys sorted, one-space indentation, trailing newline."""
    return json.dumps(document, sort_keys=True, indent=1) + "\n"


def sweep_csv(document: Mapping[str, Any]) -> str:
    """The CSV file: a header of `ROW_FIELDS`, one line per point; no budget is `unlimited`, an empty
    figure (a point that did not compile) an empty cell, flags `true`/`false`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROW_FIELDS)
    for row in document["rows"]:
        writer.writerow(_csv_cell(field, row[field]) for field in ROW_FIELDS)
    return out.getvalue()


def channels_csv(document: Mapping[str, Any]) -> str:
    """The channel what-if as CSV: per point and channel group, the point's `POINT_FIELDS` and the group's
    row (layers, channel counts, the original's and each rounding's cycles and SRAM bytes, the advice)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    lines = [(row, variant) for row in document["rows"] for variant in row[VARIANT_ROWS]]
    if lines:
        header = (*POINT_FIELDS, *lines[0][1])
        writer.writerow(header)
        for row, variant in lines:
            values = {**row, **variant}
            writer.writerow(_csv_cell(field, values[field]) for field in header)
    return out.getvalue()


def _csv_cell(field: str, value: Any) -> str:
    if value is None:
        return UNLIMITED if field == "budget_bytes" else ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def summary_lines(document: Mapping[str, Any]) -> list[str]:
    """What `npuc sweep` prints: each model's cheapest configuration meeting the latency target, if any."""
    latency = document["latency_ms"]
    if latency is None:
        return []
    rows = document["rows"]
    lines = []
    for model in dict.fromkeys(row["model"] for row in rows):
        chosen = [row for row in rows if row["model"] == model and row["cheapest"]]
        if not chosen:
            lines.append(f"{model}: no configuration meets {latency:g} ms")
            continue
        row = chosen[0]
        budget = UNLIMITED if row["budget_bytes"] is None else f"{row['budget_bytes']} bytes"
        lines.append(f"{model}: cheapest within {latency:g} ms: {row['target']}, budget {budget}, "
                     f"{row['optimise']}: {row['inference_time_ms']:g} ms, peak SRAM {row['peak_sram_bytes']:,} B")
    return lines


SWEEP_FILES = ("sweep.csv", "sweep.json", "sweep.html")
"""The files `write_sweep` writes."""

CHANNELS_FILE = "channels.csv"
"""The file `write_sweep` adds when the sweep measured the channel what-if."""


def write_sweep(document: Mapping[str, Any], directory: str | Path) -> list[Path]:
    """Write the document as `SWEEP_FILES` (and `CHANNELS_FILE`) into `directory` (created if missing); the
    paths written.

    A directory or file that cannot be written raises `OutputError` naming it.
    """
    from npuc.report import output_directory
    from npuc.report.sweep import sweep_html

    out = output_directory(directory)
    written = []
    files = list(zip(SWEEP_FILES, (sweep_csv, sweep_json, sweep_html)))
    if any(row[VARIANT_ROWS] for row in document["rows"]):
        files.append((CHANNELS_FILE, channels_csv))
    for name, render in files:
        path = out / name
        text = render(document)
        with writing(path, "the sweep table"):
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
