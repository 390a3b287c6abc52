"""The report document and its writers: columns, totals, live bytes, advice, figures, trace, determinism."""

from __future__ import annotations

import csv
import io
import json

import pytest

from npuc.cost.model import estimate
from npuc.report.document import VERSION, build_report
from npuc.report.figures import bandwidth_series, graph_positions, timeline_figure
from npuc.report.html import report_html
from npuc.report.tables import (
    layer_table_csv,
    layer_table_text,
    report_json,
    summary_text,
)
from npuc.report.trace import trace_events, trace_json
from npuc.report.usage import live_bytes
from npuc.targets import load_target

from support.npu_text import conv, cpu_op, dma, fully_connected, program
from support.paths import TFLITE_MODELS

TARGET = load_target("ethos-u55-128")


def network_module():
    """Two convs (the second with a weight DMA), a CPU layer, a flash-bound FC."""
    return program(
        conv("conv_a", (1, 32, 32, 16), 16, kernel=3),
        dma("conv_b", ("flash", 1024), ("sram", 4_100_000), 2304),
        conv("conv_b", (1, 32, 32, 16), 16, kernel=3, weights=("sram", 4_100_000),
             ifm_offset=2_000_000, ofm_offset=0),
        cpu_op("reshape", (1, 8)),
        fully_connected("fc", 512, 100, "flash"),
    )


def document():
    module = network_module()
    return build_report(estimate(module, TARGET), TARGET, module, extra={"model": "net.onnx"})


def test_csv_has_vela_columns_and_one_row_per_layer():
    rows = list(csv.DictReader(io.StringIO(layer_table_csv(document()))))
    assert [row["name"] for row in rows] == ["conv_a", "conv_b", "reshape", "fc"]
    assert list(rows[0]) == [
        "original_operator", "npu_operators", "staging_usage", "staging_peak_percent", "op_cycles",
        "network_percent", "npu_cycles", "cpu_cycles", "sram_access_cycles", "flash_access_cycles", "macs",
        "mac_network_percent", "utilisation_percent", "sram_read_bytes", "sram_written_bytes",
        "flash_read_bytes", "flash_written_bytes", "bound", "stripes", "cascade", "name",
    ]
    assert [(row["stripes"], row["cascade"]) for row in rows] == [("1", ""), ("1", ""), ("0", ""), ("1", "")]
    assert rows[1]["npu_operators"] == "dma+conv2d"
    assert rows[3]["bound"] == "flash"
    assert abs(sum(float(row["network_percent"]) for row in rows) - 100.0) < 0.05
    assert abs(sum(float(row["mac_network_percent"]) for row in rows) - 100.0) < 0.05


def test_json_summary_totals_equal_the_sum_of_layers():
    report = json.loads(report_json(document()))
    assert (report["schema"], report["version"]) == ("npuc-report", VERSION)
    summary, layers = report["summary"], report["layers"]
    assert summary["total_cycles"] == sum(layer["cycles"] for layer in layers)
    assert summary["macs"] == sum(layer["macs"] for layer in layers)
    assert summary["operations"] == 2 * summary["macs"]
    for memory in ("sram", "flash"):
        assert summary["bytes_read"][memory] == sum(layer["bytes_read"][memory] for layer in layers)
        moved = summary["bytes_read"][memory] + summary["bytes_written"][memory]
        assert summary["average_bandwidth_bytes_per_s"][memory] == pytest.approx(
            moved / summary["inference_time_s"], rel=1e-5)
    assert summary["memories"]["flash"]["peak_bandwidth_bytes_per_s"] == 0.5e9
    assert summary["memories"]["sram"]["roles"] == ["arena", "staging"]
    assert (summary["npu_operators"], summary["cpu_operators"], summary["model"]) == (3, 1, "net.onnx")
    assert [c["lane"] for c in report["commands"]] == ["mac", "dma_in", "mac", "cpu", "mac"]


def test_access_cycles_count_compute_access_and_dma_copies():
    report = document()
    conv_b = report["layers"][1]
    copy, compute = report["commands"][1], report["commands"][2]
    assert conv_b["access_cycles"]["flash"] == copy["cycles"] + compute["access_cycles"].get("flash", 0)
    assert conv_b["access_cycles"]["sram"] == copy["cycles"] + compute["access_cycles"]["sram"]


def test_live_bytes_follow_writes_and_last_reads():
    # conv_a: ifm [0, 16384) -> ofm [2 MB, +16384); conv_b reads that and writes [0, 16384) again.
    module = program(
        conv("conv_a", (1, 32, 32, 16), 16),
        conv("conv_b", (1, 32, 32, 16), 16, ifm_offset=2_000_000, ofm_offset=0),
    )
    # conv_a's IFM and both weights are not written by the module (no npu.input or
    # npu.constant), so only the OFMs are values: conv_a's lives while conv_b writes its own.
    assert live_bytes(module, "sram") == [16384, 2 * 16384]
    assert live_bytes(module, "flash") == [0, 0]


def test_staging_usage_and_peak_percent():
    layers = document()["layers"]
    peak = max(layer["staging_usage"] for layer in layers)
    assert document()["summary"]["staging_peak"] == peak
    assert max(layer["staging_peak_percent"] for layer in layers) == 100.0


def test_advice_names_top_layers_with_their_bound():
    report = document()
    ranked = sorted(report["layers"], key=lambda layer: -layer["cycles"])
    assert report["advice"][0].startswith(f"{ranked[0]['name']} (")
    assert "bound by flash bandwidth" in next(line for line in report["advice"] if line.startswith("fc "))


@pytest.mark.parametrize("depth, block_depth, free", [(90, 8, 96), (90, 16, 96), (90, 64, 128), (96, 16, None)])
def test_free_output_channels(depth, block_depth, free):
    module = program(conv("wide", (1, 64, 64, 16), depth, kernel=3, block=(8, 8, block_depth)))
    report = build_report(estimate(module, TARGET), TARGET, module)
    assert report["layers"][0]["bound"] == "compute"
    lines = [line for line in report["advice"] if "output channels" in line]
    if free is None:
        assert lines == []
    else:
        assert lines == [f"wide: {depth} output channels take the same compute cycles as {free} "
                         f"(OFM depth is computed in blocks of {min(block_depth, 96)} on ethos-u55-128)"]


def test_free_channels_really_are_free():
    def compute_cycles(depth):
        return estimate(program(conv("c", (1, 64, 64, 32), depth, kernel=3, block=(4, 4, 16))), TARGET).commands[0]

    assert compute_cycles(90).compute_cycles == compute_cycles(96).compute_cycles
    assert compute_cycles(97).compute_cycles > compute_cycles(96).compute_cycles


def test_bandwidth_series_conserves_bytes():
    report = document()
    starts, series = bandwidth_series(report, bins=50)
    width = starts[1] - starts[0]
    seconds_per_bin = width / report["summary"]["clock_hz"]
    for memory in ("sram", "flash"):
        for direction, table in (("read", "bytes_read"), ("write", "bytes_written")):
            total = sum(value * 1e9 * seconds_per_bin for value in series[f"{memory} {direction}"])
            assert total == pytest.approx(report["summary"][table][memory], rel=1e-4)


def test_timeline_has_a_lane_per_engine():
    figure = timeline_figure(document())
    assert [trace["name"] for trace in figure["data"]] == ["DMA in", "DMA out", "MAC", "Elementwise", "CPU"]
    mac = figure["data"][2]
    assert len(mac["base"]) == 3 and mac["base"][0] == 0


def test_graph_positions_put_a_node_below_its_deepest_input():
    positions = graph_positions(["in", "a", "b", "add", "out"],
                                [["in", "a"], ["a", "b"], ["a", "add"], ["b", "add"], ["add", "out"]])
    assert [positions[name][1] for name in ("in", "a", "b", "add", "out")] == [0, 1, 2, 3, 4]


def test_trace_events_are_complete_events_in_microseconds():
    report = document()
    events = trace_events(report)
    complete = [event for event in events if event["ph"] == "X"]
    assert len(complete) == len(report["commands"])
    last = report["commands"][-1]
    assert complete[-1]["ts"] == pytest.approx(last["start"] / 500.0, rel=1e-5)  # 500 cycles per microsecond
    names = {event["args"]["name"] for event in events if event["name"] == "thread_name"}
    assert names == {"DMA in", "DMA out", "MAC", "Elementwise", "CPU (Cortex-M55, estimated)"}
    assert json.loads(trace_json(report))["traceEvents"] == events


def test_writers_are_byte_identical_across_runs():
    first, second = document(), document()
    for writer in (report_json, layer_table_csv, summary_text, layer_table_text, trace_json):
        assert writer(first) == writer(second)


def test_summary_text_lists_totals_memories_and_advice():
    report = document()
    text = summary_text(report)
    assert f"total cycles         {report['summary']['total_cycles']:,}" in text
    assert "system config        Ethos_U55_High_End_Embedded" in text
    assert "flash                weights; design peak 0.50 GB/s" in text
    assert "1 on CPU" in text and "3 on NPU" in text
    assert text.split("advice:\n")[1].splitlines()[0].strip() == report["advice"][0]


def test_text_table_aligns_columns():
    lines = layer_table_text(document()).splitlines()
    assert lines[0].startswith("Original Operator") and lines[0].endswith("Name")
    assert len(lines) == 2 + 4
    assert set(lines[1]) == {"-", " "}


def test_layer_operator_skips_the_reshape_a_fully_connected_imports_with():
    """TFLite FULLY_CONNECTED on a 4-D input imports as reshape + fully_connected under one layer name."""

    import npuc

    model = TFLITE_MODELS / "fully_connected_4d_input.tflite"
    layers = npuc.analyze_model(model, "ethos-u55-128").report()["layers"]
    assert [layer["original_operator"] for layer in layers] == ["fully_connected"]


def test_cpu_time_is_in_the_totals_and_marked_as_an_estimate():
    # The CPU layer's reshape: 8 output elements at the Cortex-M55's 0.25 cycles each.
    report = document()
    summary = report["summary"]
    assert summary["cpu_cycles"] == 2
    assert summary["total_cycles"] == summary["npu_cycles"] + summary["cpu_cycles"]
    assert summary["host_cpu"] == {"core": "Cortex-M55", "clock_hz": 500e6}
    assert summary["cpu_estimate_note"].startswith("CPU cycles are an estimate: the Cortex-M55 at 500 MHz")
    cpu_layer = next(layer for layer in report["layers"] if layer["on_cpu"])
    assert (cpu_layer["name"], cpu_layer["cycles"], cpu_layer["cpu_cycles"], cpu_layer["npu_cycles"]) == (
        "reshape", 2, 2, 0)
    assert [c["estimated"] for c in report["commands"]] == [False, False, False, True, False]
    rows = list(csv.DictReader(io.StringIO(layer_table_csv(report))))
    assert [row["cpu_cycles"] for row in rows] == ["0", "0", "2", "0"]
    assert "CPU (est.)" in layer_table_text(report).splitlines()[0]
    text = summary_text(report)
    assert (f"total cycles         {summary['total_cycles']:,} = NPU {summary['npu_cycles']:,} + CPU 2 (estimate)\n"
            in text)
    assert "host CPU             Cortex-M55 at 500 MHz\n" in text
    assert f"note                 {summary['cpu_estimate_note']}\n" in text
    page = report_html(report)
    assert f"NPU {summary['npu_cycles']:,} + CPU 2 (estimate)" in page
    assert "<th>host CPU</th><td>Cortex-M55 at 500 MHz</td>" in page
    cpu_event = next(e for e in trace_events(report) if e["ph"] == "X" and e["cat"] == "cpu")
    assert cpu_event["args"]["estimated"] and cpu_event["dur"] == pytest.approx(2 / 500.0)
