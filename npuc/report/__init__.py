"""Performance reports over the cost model's estimate.

`document.build_report` makes the versioned report document; `tables`
writes it as text, CSV and JSON, `html` as a self-contained interactive page
(with `figures`), `trace` as a Chrome/Perfetto trace; `advice` and `usage`
compute what the document adds to the estimate, `network` the layer graph.
`write_reports` writes the chosen formats into a directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from npuc.errors import OutputError, writing

REPORT_FORMATS = ("text", "csv", "json", "html", "trace")
"""Report formats, as `--report` names them."""

REPORT_FILES = {
    "text": "report.txt",
    "csv": "layers.csv",
    "json": "report.json",
    "html": "report.html",
    "trace": "trace.json",
}
"""The file each format is written to."""


def _writer(report_format: str) -> Callable[[Mapping[str, Any]], str]:
    """The function rendering `report_format` (imported on use: HTML pulls in plotly.js)."""
    if report_format == "html":
        from npuc.report.html import report_html

        return report_html
    if report_format == "trace":
        from npuc.report.trace import trace_json

        return trace_json
    from npuc.report import tables

    return {"text": tables.report_text, "csv": tables.layer_table_csv, "json": tables.report_json}[report_format]


def check_output_directory(directory: str | Path) -> Path:
    """`directory` as a path; `OutputError` if a file is in the way (checked before long work, again when writing)."""
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: cannot write the outputs there: it is a file, not a directory")
    return out


def output_directory(directory: str | Path) -> Path:
    """`directory`, created with its parents if missing; `OutputError` if a file is in the way or it cannot be made."""
    out = check_output_directory(directory)
    with writing(out, "the output directory"):
        out.mkdir(parents=True, exist_ok=True)
    return out


def write_reports(document: Mapping[str, Any], directory: str | Path, formats: Iterable[str] = REPORT_FORMATS) -> list[Path]:
    """Write `document` in each of `formats` into `directory`; the paths written, in `formats` order.

    A directory or file that cannot be written raises `OutputError` naming it.
    """
    out = output_directory(directory)
    written = []
    for report_format in formats:
        path = out / REPORT_FILES[report_format]
        text = _writer(report_format)(document)
        with writing(path, f"the {report_format} report"):
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
