"""One point of a sweep: a full `analyze_model` run, as one row of the sweep table.

A point that does not compile (any `NpucError`: a schedule that does not
fit the budget, a configuration the target rejects) is a row with status
`error` and the one-line message; the other fields stay empty. An exception
npuc did not foresee is a bug and propagates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from npuc.dse.grid import SweepPoint
from npuc.dse.models import PreparedModel, module_for
from npuc.errors import ArenaBudgetError, NpucError

if TYPE_CHECKING:
    from npuc.api import Analysis

OK, ERROR = "ok", "error"
"""Row statuses."""

POINT_FIELDS = ("model", "target", "system_config", "memory_mode", "budget_bytes", "optimise")
"""The row fields that say which point it is."""

RESULT_FIELDS = (
    "total_cycles", "npu_cycles", "cpu_cycles", "inference_time_ms", "peak_sram_bytes", "flash_dram_bytes",
    "offchip_traffic_bytes", "mac_utilisation_percent", "macs_per_cycle", "npu_operators", "cpu_operators",
)
"""The row fields of a point that compiled (None on an error row)."""


def analyze_point(point: SweepPoint, model: PreparedModel) -> dict[str, Any]:
    """Analyze `point` on `model` (the module of `point.model`): its row (`POINT_FIELDS`, `RESULT_FIELDS`,
    status and error)."""
    from npuc.api import analyze_model
    from npuc.targets import load_target

    row = point_fields(point)
    try:
        analysis = analyze_model(module_for(model), point.spec, arena_cache_size=point.budget, optimise=point.optimise)
    except NpucError as error:
        try:  # the configuration the target chose, if it is one
            description = load_target(point.spec)
            row["system_config"], row["memory_mode"] = description.system_config, description.memory_mode
        except NpucError:
            pass
        return error_row(row, error.with_source(point.model) if isinstance(error, ArenaBudgetError) else error)
    row["system_config"], row["memory_mode"] = analysis.target.system_config, analysis.target.memory_mode
    return {**row, **result_fields(analysis), "status": OK, "error": "",
            "channel_variants": channel_rows(point, model, analysis) if "channels" in point.variants else []}


def channel_rows(point: SweepPoint, model: PreparedModel, analysis: Analysis) -> list[dict[str, Any]]:
    """The channel what-if at `point` (`npuc.api.channel_what_if`): per channel group its flat row
    (`ChannelWhatIf.row`) and its advice line."""
    from npuc.api import channel_what_if

    what_ifs = channel_what_if(module_for(model), point.spec, arena_cache_size=point.budget,
                               optimise=point.optimise, original=analysis.measurement())
    return [{**what_if.row(), "advice": what_if.advice()} for what_if in what_ifs]


def point_fields(point: SweepPoint) -> dict[str, Any]:
    """The `POINT_FIELDS` of `point`, as requested (None: the target's default, or no budget)."""
    return {"model": point.model, "target": point.target, "system_config": point.system_config,
            "memory_mode": point.memory_mode, "budget_bytes": point.budget, "optimise": point.optimise}


def error_row(fields: dict[str, Any], error: NpucError) -> dict[str, Any]:
    """The row of a point with `POINT_FIELDS` `fields` that did not compile: status `error`, the message on one line."""
    return {**fields, **dict.fromkeys(RESULT_FIELDS), "status": ERROR, "error": " ".join(str(error).split()),
            "channel_variants": []}


def result_fields(analysis: Analysis) -> dict[str, Any]:
    """The `RESULT_FIELDS` of an analysis (the figures of its report's summary, docs/report-format.md).

    The peak SRAM is that of the memory the budget caps (the SRAM of the
    arena and cache on Shared_Sram and Sram_Only, of the cache on
    Dedicated_Sram); flash/DRAM bytes the highest addresses used in the other
    memories (constants, and the arena where it is off-chip); off-chip
    traffic the bytes read and written there per inference.
    """
    from npuc.report.document import number

    cost = analysis.cost
    budgeted = analysis.target.budget_memory
    others = [memory for memory in cost.memories if memory != budgeted]
    read, written = cost.bytes_read, cost.bytes_written
    return {
        "total_cycles": cost.total_cycles,
        "npu_cycles": cost.npu_cycles,
        "cpu_cycles": cost.cpu_cycles,
        "inference_time_ms": number(cost.inference_time_s * 1e3),
        "peak_sram_bytes": cost.peak_memory.get(budgeted, 0),
        "flash_dram_bytes": sum(cost.peak_memory.get(memory, 0) for memory in others),
        "offchip_traffic_bytes": sum(read[memory] + written[memory] for memory in others),
        "mac_utilisation_percent": number(100.0 * cost.utilisation),
        "macs_per_cycle": cost.macs_per_cycle,
        "npu_operators": cost.npu_operators,
        "cpu_operators": cost.cpu_operators,
    }
