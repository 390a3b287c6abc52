"""Memory live bytes over time: the JSON `memory_timeline`, the summary line and the HTML chart.

The numbers are read by hand off the lowered digits CNN on ethos-u55-128
(`npuc analyze ... -o` and `model.npu.mlir`): the input (256 B) sits in SRAM,
two DMAs stage the first convolution's scale/bias (160 B) and weights
(240 B: npuc's mlw encoder codes their zero padding shorter than Vela's
codec, 272 B), the convolution writes a 16x16x16 OFM (4,096 B), then a DMA
stages the second convolution's scale/bias (320 B) while the first
convolution's inputs are dead. The 8,976 B of constants stay in flash
throughout.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from npuc.api import analyze_model
from npuc.backend.weight_staging import FITS
from npuc.cost.model import commands
from npuc.dialects.common import layer_name
from npuc.dialects.npu import CASCADES_ATTR, ComputeOp
from npuc.report.document import build_report
from npuc.report.figures import memory_figure
from npuc.report.html import TABS, report_html
from npuc.report.tables import report_json, summary_text
from npuc.report.usage import live_ranges

from support.paths import MODELS


@pytest.fixture(scope="module")
def analysis():
    return analyze_model(MODELS / "digits_cnn.tflite", "ethos-u55-128", weight_staging=FITS)


@pytest.fixture(scope="module")
def document(analysis):
    return analysis.report()


def test_sram_live_bytes_at_the_first_commands_match_the_ir(document):
    live = [entry["live_bytes"] for entry in document["memory_timeline"]["sram"]["live"]]
    assert live[:4] == [
        256 + 160,              # input, first scale/bias staged
        256 + 160 + 240,        # and the weights
        256 + 160 + 240 + 4096,  # the convolution writes its OFM
        4096 + 320,             # its inputs are dead; the next scale/bias arrives
    ]


def test_flash_holds_its_constants_throughout(document):
    flash = document["memory_timeline"]["flash"]
    assert {entry["live_bytes"] for entry in flash["live"]} == {8976}
    assert flash["arena"] == flash["peak_live_bytes"] == 8976


def test_arena_and_peak_bound_the_live_bytes(document):
    for memory, timeline in document["memory_timeline"].items():
        assert timeline["arena"] == document["summary"]["peak_memory"][memory]
        assert max(entry["live_bytes"] for entry in timeline["live"]) <= timeline["peak_live_bytes"]
        assert timeline["peak_live_bytes"] <= timeline["arena"]
    # The allocator reaches the bound on this network.
    assert document["memory_timeline"]["sram"]["peak_live_bytes"] == 10560


def test_json_section_has_the_documented_keys_and_the_commands_cycles(document):
    report = json.loads(report_json(document))
    timelines = report["memory_timeline"]
    assert list(timelines) == list(report["summary"]["memories"])
    for timeline in timelines.values():
        assert set(timeline) == {"arena", "peak_live_bytes", "live"}
        assert [set(entry) for entry in timeline["live"]] == [
            {"command", "layer", "start", "end", "live_bytes"}] * len(report["commands"])
        assert [(e["command"], e["layer"], e["start"], e["end"]) for e in timeline["live"]] == [
            (c["index"], c["layer"], c["start"], c["end"]) for c in report["commands"]]


def test_staging_usage_is_the_staging_memory_timeline(document):
    live = {e["command"]: e["live_bytes"] for e in document["memory_timeline"]["sram"]["live"]}
    for layer in document["layers"]:
        own = [c["index"] for c in document["commands"] if c["layer"] == layer["name"]]
        assert layer["staging_usage"] == max(live[index] for index in own)


def test_summary_text_has_one_arena_line_per_memory(document):
    lines = [line.strip() for line in summary_text(document).splitlines() if "peak live" in line]
    assert lines == [
        "arena 10,560 B, peak live 10,560 B (the least any placement needs)",
        "arena 8,976 B, peak live 8,976 B (the least any placement needs)",
    ]


def test_memory_figure_steps_through_the_live_bytes_with_the_arena(document):
    figure = memory_figure(document)
    assert [trace["name"] for trace in figure["data"]] == ["sram live", "sram arena", "flash live", "flash arena"]
    live, arena = figure["data"][:2]
    assert live["line"]["shape"] == "hv"
    assert live["x"] == sorted(live["x"]) and live["x"][-1] == document["summary"]["total_cycles"]
    assert max(live["y"]) == 10560 and arena["y"] == [10560, 10560]
    assert "sequential_1/max_pooling2d_1/MaxPool2d" in "".join(live["hovertext"])


def test_html_has_a_memory_tab_with_the_chart(document):
    page = report_html(document)
    assert "memory" in TABS
    assert 'id="plot-memory"' in page
    assert '"name":"sram live"' in page and '"name":"sram arena"' in page


def test_without_the_lowered_module_there_is_no_timeline(analysis):
    document = build_report(analysis.cost, analysis.target)
    assert document["memory_timeline"] == {}
    assert memory_figure(document)["data"] == []
    assert "peak live" not in summary_text(document)


def test_a_cascade_ops_stripes_are_one_value_from_its_first_stripe():
    # ic_resnet8 under Size: its cascades' ops compute in stripes into rolling buffers and the cascade's
    # OFM; each op's stripes fill one buffer, so they are one value (the bound is one on placing buffers).
    module = analyze_model(MODELS / "ic_resnet8.tflite", "ethos-u55-128", optimise="Size").module
    ops = commands(module)
    cascaded = {name.data for names in module.attributes[CASCADES_ATTR].data for name in names.data}
    stripes = Counter(layer_name(op) for op in ops if isinstance(op, ComputeOp) and layer_name(op) in cascaded)
    assert cascaded and all(count > 1 for count in stripes.values())
    written = Counter(
        layer_name(ops[live.start]) for live in live_ranges(module, "sram")
        if live.name.startswith("value") and isinstance(ops[live.start], ComputeOp)
    )  # fmt: skip
    assert all(written[layer] == 1 for layer in cascaded)
