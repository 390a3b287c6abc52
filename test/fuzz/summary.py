"""Fuzz results as tables: counts per family and outcome, and the distinct failure signatures by area."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from fuzz.runner import FOREIGN, GARBAGE, HANG, OK, OUTCOMES, Result

AREAS = {
    "importers/dialects/IR parser": ("npuc/importers/", "dialects/", "npuc/ir.py", "npuc/context.py", "passes/graph/",
                                     "passes/layer/", "passes/quantized/", "xdsl/"),
    "data/config/reference/quantizer/CLI": ("npuc/data.py", "npuc/targets/", "npuc/reference/", "npuc/quantization/",
                                            "tools/", "npuc/api.py", "zipfile", "numpy/", "json/", "configparser"),
    "back-end/planning": ("npuc/backend/", "passes/npu/", "npuc/cost/", "npuc/emit/", "npuc/sim/", "npuc/report/"),
}
"""Who fixes a failure, by the path of the frame that let it out (first match wins)."""

FAMILY_AREAS = {
    "onnx-bytes": "importers/dialects/IR parser", "onnx-structure": "importers/dialects/IR parser",
    "tflite-bytes": "importers/dialects/IR parser", "tflite-structure": "importers/dialects/IR parser",
    "ir": "importers/dialects/IR parser", "pipeline": "importers/dialects/IR parser",
    "data": "data/config/reference/quantizer/CLI", "config": "data/config/reference/quantizer/CLI",
    "resource": "back-end/planning", "cli": "data/config/reference/quantizer/CLI",
}  # fmt: skip
"""The area of a failure without a frame (accepted garbage, a killed hang): its family's."""


def area(result: Result) -> str:
    """The area a failing result belongs to (a command line's is the CLI's, which must catch it)."""
    if result.family == "cli":
        return FAMILY_AREAS["cli"]
    where = result.signature.split(" at ", 1)[-1].split(" (in ")[0] if " at " in result.signature else ""
    for name, prefixes in AREAS.items():
        if any(prefix in where for prefix in prefixes):
            return name
    return FAMILY_AREAS[result.family]


def signature(result: Result) -> str:
    """How failures group: the exception signature (after the outcome unless it is a foreign exception), or the
    outcome and family when there is none (accepted garbage, a hang killed from outside)."""
    if result.outcome == GARBAGE or not result.signature:
        return f"{result.outcome} ({result.family})"
    if result.outcome == HANG and " at " not in result.signature:
        return f"hang, killed ({result.family})"
    if result.outcome in (FOREIGN, HANG):
        return result.signature
    return f"{result.outcome}: {result.signature}"


def counts_table(results: Sequence[Result]) -> str:
    """Cases per family and outcome, with totals."""
    families = sorted({result.family for result in results})
    counts = Counter((result.family, result.outcome) for result in results)
    header = ["family", "cases", *OUTCOMES]
    rows = [[family, str(sum(counts[family, outcome] for outcome in OUTCOMES)),
             *(str(counts[family, outcome]) for outcome in OUTCOMES)] for family in families]
    rows.append(["total", str(len(results)), *(str(sum(counts[f, outcome] for f in families)) for outcome in OUTCOMES)])
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in [header, *rows]]
    return "\n".join(lines)


def signatures_by_area(results: Sequence[Result]) -> str:
    """Each distinct failure signature, grouped by area: how many cases, and one example with its message."""
    grouped: dict[str, dict[str, list[Result]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        if result.outcome != OK:
            grouped[area(result)][signature(result)].append(result)
    lines = []
    for name in AREAS:
        if name not in grouped:
            continue
        lines.append(f"== {name}: {len(grouped[name])} signature(s)")
        for key, members in sorted(grouped[name].items(), key=lambda item: -len(item[1])):
            example = members[0]
            message = f": {example.message[:120]}" if example.message else ""
            lines.append(f"  {len(members):4d}  {key}  e.g. {example.key}{message}")
    return "\n".join(lines)


def describe(result: Result) -> str:
    """One line for an assertion message."""
    parts = [result.key, result.outcome, f"({result.expect})", result.signature, result.message[:200]]
    return " ".join(part for part in parts if part)
