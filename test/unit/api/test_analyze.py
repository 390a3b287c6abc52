"""`npuc analyze` and `npuc compile` reports on MobileNet-like models built here with onnx.helper."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import npuc.api
from npuc.report import REPORT_FILES
from npuc.targets import available_targets

from support.mobilenet import mobilenet_v2_like


@pytest.fixture(scope="module")
def small_mobilenet(tmp_path_factory) -> tuple[Path, Path]:
    """A narrow 64x64 MobileNetV2-like model and one calibration sample."""
    folder = tmp_path_factory.mktemp("mobilenet")
    model, calibration = folder / "mobilenet.onnx", folder / "calib.npy"
    mobilenet_v2_like(model, size=64, width=0.35, classes=100)
    np.save(calibration, np.random.default_rng(1).uniform(0, 1, (2, 3, 64, 64)).astype(np.float32))
    return model, calibration


def run_npuc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "npuc.tools.npuc_main", *args],
                          capture_output=True, text=True, check=False)


def test_analyze_writes_every_report(small_mobilenet, tmp_path):
    model, calibration = small_mobilenet
    out = tmp_path / "reports"
    result = run_npuc("analyze", str(model), "--target", "ethos-u55-128", "--calibration", str(calibration),
                      "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in out.iterdir()) == sorted(REPORT_FILES.values())
    report = json.loads((out / "report.json").read_text())
    summary = report["summary"]
    assert summary["total_cycles"] == sum(layer["cycles"] for layer in report["layers"]) > 0
    assert (summary["system_config"], summary["memory_mode"]) == ("Ethos_U55_High_End_Embedded", "Shared_Sram")
    assert f"total cycles         {summary['total_cycles']:,}" in result.stdout
    rows = list(csv.DictReader(io.StringIO((out / "layers.csv").read_text())))
    assert [row["name"] for row in rows] == [layer["name"] for layer in report["layers"]]
    operators = {row["name"]: row["original_operator"] for row in rows}
    assert (operators["Conv1"], operators["block_1_depthwise"], operators["block_2_add"]) == (
        "conv2d", "depthwise_conv2d", "add")
    # The graph keeps the residual: block_2_add reads block_1's output and block_2's projection.
    edges = {tuple(edge) for edge in report["graph"]["edges"]}
    assert {("block_1_project", "block_2_add"), ("block_2_project", "block_2_add")} <= edges
    assert any(line.startswith(summary_top := max(report["layers"], key=lambda layer: layer["cycles"])["name"])
               for line in report["advice"]), summary_top


def test_analyze_json_is_byte_identical_across_runs(small_mobilenet, tmp_path):
    model, calibration = small_mobilenet
    texts = []
    for run in range(2):
        out = tmp_path / f"run{run}"
        result = run_npuc("analyze", str(model), "--calibration", str(calibration), "--report", "json,trace",
                          "-o", str(out))
        assert result.returncode == 0, result.stderr
        assert sorted(path.name for path in out.iterdir()) == ["report.json", "trace.json"]
        texts.append(((out / "report.json").read_bytes(), (out / "trace.json").read_bytes()))
    assert texts[0] == texts[1]


def test_system_config_and_memory_mode_from_a_user_vela_ini(small_mobilenet, tmp_path):
    model, calibration = small_mobilenet
    ini = tmp_path / "board.ini"
    ini.write_text("[System_Config.Slow]\ncore_clock=100e6\naxi0_port=Sram\naxi1_port=OffChipFlash\n"
                   "OffChipFlash_clock_scale=0.125\n[Memory_Mode.Shared]\ninherit=Memory_Mode.Base\n"
                   "[Memory_Mode.Base]\nconst_mem_area=Axi1\narena_mem_area=Axi0\ncache_mem_area=Axi0\n")
    out = tmp_path / "reports"
    result = run_npuc("analyze", str(model), "--target", "ethos-u55-64", "--config", str(ini),
                      "--system-config", "Slow", "--memory-mode", "Shared", "--calibration", str(calibration),
                      "--report", "json", "-o", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "report.json").read_text())["summary"]
    assert summary["target"] == f"ethos-u55-64:Slow:Shared@{ini}"
    assert summary["clock_hz"] == 100e6
    assert summary["memories"]["flash"]["peak_bandwidth_bytes_per_s"] == 100e6


def test_float_model_without_calibration_is_one_line_error(small_mobilenet):
    model, _ = small_mobilenet
    result = run_npuc("analyze", str(model))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"npuc: error: {model}: a float model needs --calibration CALIB.npy to be quantized"]


def test_unknown_report_format_is_one_line_error(small_mobilenet):
    model, calibration = small_mobilenet
    result = run_npuc("analyze", str(model), "--calibration", str(calibration), "--report", "json,pdf")
    assert result.returncode == 1
    assert "unknown report format 'pdf'" in result.stderr


def test_unknown_system_config_is_one_line_error(small_mobilenet):
    model, calibration = small_mobilenet
    result = run_npuc("analyze", str(model), "--calibration", str(calibration), "--system-config", "Nope")
    assert result.returncode == 1
    assert "no system config 'Nope'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("target", available_targets())
def test_every_builtin_target_runs_the_back_end(small_mobilenet, target):
    model, calibration = small_mobilenet
    samples = [np.load(calibration)[:1].transpose(0, 2, 3, 1)]
    analysis = npuc.api.analyze_model(model, target, samples)
    report = analysis.report()
    assert report["summary"]["target"] == target
    assert report["summary"]["total_cycles"] > 0
    assert report["summary"]["npu_operators"] > 0


def test_compile_writes_binaries_and_reports(small_mobilenet, tmp_path):
    model, calibration = small_mobilenet
    out = tmp_path / "compiled"
    result = run_npuc("compile", str(model), "--calibration", str(calibration), "--report", "text,csv,json",
                      "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in out.iterdir()) == [
        "command_stream.bin", "layers.csv", "mobilenet_npuc.tflite", "model.npu.mlir", "report.json", "report.txt",
        "weights.bin"]
    assert "advice:" in (out / "report.txt").read_text()
