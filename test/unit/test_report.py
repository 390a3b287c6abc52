"""The report writers: CSV columns, JSON schema and totals, deterministic bytes, summary text."""

from __future__ import annotations

import csv
import io
import json

from test_cost_model import TARGET, conv, cpu_op, dma, fully_connected, lowered

from npuc.cost.model import NetworkCost, estimate
from npuc.report.tables import layer_table_csv, report_json, summary_text


def network() -> NetworkCost:
    """A small network: two convs with a weight DMA, a CPU layer, a flash-bound FC."""
    module = lowered(
        conv("conv_a", (1, 32, 32, 16), 16, kernel=3),
        dma("conv_b", ("flash", 1024), ("sram", 4_100_000), 2304),
        conv("conv_b", (1, 32, 32, 16), 16, kernel=3, weights=("sram", 4_100_000),
             ifm_offset=2_000_000, ofm_offset=0),
        cpu_op("reshape", (1, 8)),
        fully_connected("fc", 512, 100, "flash"),
    )
    return estimate(module, TARGET)


def test_csv_has_one_row_per_layer_with_memory_columns():
    rows = list(csv.DictReader(io.StringIO(layer_table_csv(network()))))
    assert [row["layer"] for row in rows] == ["conv_a", "conv_b", "reshape", "fc"]
    assert list(rows[0]) == [
        "layer", "npu_operators", "cycles", "network_percent", "macs", "utilisation_percent",
        "sram_read_bytes", "sram_written_bytes", "flash_read_bytes", "flash_written_bytes", "bound",
    ]
    assert rows[1]["npu_operators"] == "dma+conv2d"
    assert rows[3]["bound"] == "flash"
    assert abs(sum(float(row["network_percent"]) for row in rows) - 100.0) < 0.05


def test_json_schema_and_totals_equal_the_sum_of_layers():
    cost = network()
    report = json.loads(report_json(cost, TARGET, {"model": "net.onnx"}))
    assert (report["schema"], report["version"]) == ("npuc-report", 1)
    summary = report["summary"]
    assert set(summary) >= {
        "total_cycles", "inference_time_s", "inferences_per_second", "macs", "bytes_read",
        "bytes_written", "peak_memory", "weight_bytes", "npu_operators", "cpu_operators",
        "target", "clock_hz", "model",
    }
    layers = report["layers"]
    assert summary["total_cycles"] == sum(layer["cycles"] for layer in layers) == cost.total_cycles
    assert summary["macs"] == sum(layer["macs"] for layer in layers)
    for memory in ("sram", "flash"):
        assert summary["bytes_read"][memory] == sum(layer["bytes_read"][memory] for layer in layers)
        assert summary["bytes_written"][memory] == sum(layer["bytes_written"][memory] for layer in layers)
    assert (summary["npu_operators"], summary["cpu_operators"]) == (3, 1)
    assert [c["kind"] for c in report["commands"]] == ["conv2d", "dma", "conv2d", "cpu_op", "fully_connected"]
    assert all(c["start"] <= c["end"] <= summary["total_cycles"] for c in report["commands"])


def test_reports_are_byte_identical_across_runs():
    first, second = network(), network()
    assert report_json(first, TARGET, {"model": "m"}) == report_json(second, TARGET, {"model": "m"})
    assert layer_table_csv(first) == layer_table_csv(second)
    assert summary_text(first, TARGET) == summary_text(second, TARGET)


def test_summary_text_lists_totals_and_top_layers():
    cost = network()
    text = summary_text(cost, TARGET)
    assert f"total cycles         {cost.total_cycles:,}" in text
    assert "peak sram" in text and "1 on CPU" in text and "3 on NPU" in text
    top = text.split("top layers by cycles:\n")[1].splitlines()
    ranked = sorted(cost.layers, key=lambda layer: -layer.cycles)
    assert top[0].split()[0] == ranked[0].layer
    assert top[0].split()[-1] == ranked[0].bound
