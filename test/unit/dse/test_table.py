"""The sweep table's marks: the Pareto front per model and the cheapest configuration within a latency."""

from __future__ import annotations

from npuc.dse.point import RESULT_FIELDS
from npuc.dse.table import cheapest, pareto_front, summary_lines, sweep_document


def row(model: str, target: str, sram: int | None, ms: float | None, macs: int = 128) -> dict:
    fields = dict.fromkeys(RESULT_FIELDS)
    status = "ok"
    if sram is None:
        status = "error"
    else:
        fields.update(peak_sram_bytes=sram, inference_time_ms=ms, macs_per_cycle=macs)
    return {"model": model, "target": target, "system_config": None, "memory_mode": None, "budget_bytes": None,
            "optimise": "Performance", **fields, "status": status, "error": "" if status == "ok" else "no fit",
            "channel_variants": []}


ROWS = [
    row("a", "u55-64", 100, 5.0, 64),
    row("a", "u55-128", 100, 3.0),   # dominates the first
    row("a", "u55-128", 50, 4.0),    # less SRAM, slower: on the front
    row("a", "u55-128", 60, 4.0),    # dominated by the one before
    row("a", "u55-256", None, None),  # did not compile
    row("b", "u55-64", 500, 9.0, 64),  # another model: its own front
    row("b", "u55-128", 500, 9.0),   # a tie: both on the front
]


def test_the_pareto_front_is_per_model_and_keeps_ties():
    assert pareto_front(ROWS) == [False, True, True, False, False, True, True]


def test_the_cheapest_within_the_latency_is_on_the_smallest_accelerator_then_has_the_least_sram():
    assert cheapest(ROWS, None) == [False] * len(ROWS)
    assert cheapest(ROWS, 10.0)[:5] == [True, False, False, False, False]
    assert cheapest(ROWS, 4.0) == [False, False, True, False, False, False, False]
    assert cheapest(ROWS, 3.5) == [False, True, False, False, False, False, False]
    assert cheapest(ROWS, 10.0)[5:] == [True, False]


def test_the_summary_names_each_models_choice_or_says_none_fits():
    lines = summary_lines(sweep_document(ROWS, 3.5))
    assert lines[0] == "a: cheapest within 3.5 ms: u55-128, budget unlimited, Performance: 3 ms, peak SRAM 100 B"
    assert lines[1] == "b: no configuration meets 3.5 ms"
    assert summary_lines(sweep_document(ROWS)) == []
