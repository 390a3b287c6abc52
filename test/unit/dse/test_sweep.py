"""`run_sweep`: every point a full analysis, error rows for points that do not compile, the per-point
cache, the local process pool, and the rows against `analyze_model` and its report on one point."""

from __future__ import annotations

import csv
import io
import json

import pytest

from npuc.api import analyze_model
from npuc.dse import executor
from npuc.dse.cache import PointCache
from npuc.dse.executor import run_sweep
from npuc.dse.grid import expand_grid
from npuc.dse.table import ROW_FIELDS, sweep_csv, sweep_document, sweep_json

from support.paths import EXAMPLES, MODELS

KWS = str(MODELS / "kws_dscnn.tflite")
DIGITS = str(MODELS / "digits_cnn.tflite")


@pytest.fixture(scope="module")
def grid():
    """Two models x two targets x a budget that fits and one that does not x both goals."""
    return expand_grid([KWS, DIGITS], ["ethos-u55-64", "ethos-u65-256"], [None, 1024], ["Performance", "Size"])


@pytest.fixture(scope="module")
def in_process(grid):
    return run_sweep(grid)


def test_points_that_do_not_fit_are_error_rows_with_their_line(in_process, grid):
    assert len(in_process.rows) == len(grid) and in_process.analyzed == len(grid)
    for row, point in zip(in_process.rows, grid):
        assert (row["model"], row["target"], row["budget_bytes"], row["optimise"]) == (
            point.model, point.target, point.budget, point.optimise)
        if point.budget is None:
            assert row["status"] == "ok" and row["error"] == "" and row["total_cycles"] > 0
    failed = [row for row in in_process.rows if row["status"] == "error"]
    assert failed, "a 1 KiB arena fits neither model on the U55"
    for row in failed:
        assert row["error"].startswith(f"{row['model']}: arena budget 1024 bytes: layer '")
        assert "\n" not in row["error"] and row["total_cycles"] is None


def test_a_row_holds_the_figures_of_analyze_and_its_report(in_process, grid):
    index = next(i for i, point in enumerate(grid) if point.target == "ethos-u55-64" and point.budget is None)
    point = grid[index]
    analysis = analyze_model(point.model, point.target, optimise=point.optimise)
    summary = analysis.report()["summary"]
    document = sweep_document(in_process.rows)
    row = json.loads(sweep_json(document))["rows"][index]
    csv_row = list(csv.DictReader(io.StringIO(sweep_csv(document))))[index]
    assert (row["system_config"], row["memory_mode"]) == (summary["system_config"], summary["memory_mode"])
    assert row["total_cycles"] == summary["total_cycles"] == int(csv_row["total_cycles"])
    assert row["npu_cycles"] == summary["npu_cycles"] and row["cpu_cycles"] == summary["cpu_cycles"]
    assert row["inference_time_ms"] == pytest.approx(summary["inference_time_s"] * 1e3, rel=1e-5)
    assert row["peak_sram_bytes"] == summary["peak_memory"]["sram"] == int(csv_row["peak_sram_bytes"])
    assert row["flash_dram_bytes"] == summary["peak_memory"]["flash"]
    assert row["offchip_traffic_bytes"] == summary["bytes_read"]["flash"] + summary["bytes_written"]["flash"]
    assert row["mac_utilisation_percent"] == summary["utilisation_percent"]
    assert (row["npu_operators"], row["cpu_operators"]) == (summary["npu_operators"], summary["cpu_operators"])
    assert csv_row["budget_bytes"] == "unlimited" and list(csv_row) == list(ROW_FIELDS)


def test_a_second_run_is_served_from_the_cache_and_analyzes_nothing(tmp_path, monkeypatch, grid, in_process):
    cache = PointCache(tmp_path / "cache")
    first = run_sweep(grid[:4], cache=cache)
    assert (first.analyzed, first.cached) == (4, 0)
    partial = run_sweep(grid[:6], cache=cache)  # an interrupted sweep resumes: only the new points run
    assert (partial.analyzed, partial.cached) == (2, 4)

    def no_analysis(*_args):
        raise AssertionError("a cached point was analyzed")

    monkeypatch.setattr(executor, "analyze_point", no_analysis)
    monkeypatch.setattr(executor, "prepare_model", no_analysis)
    again = run_sweep(grid[:6], cache=cache)
    assert (again.analyzed, again.cached) == (0, 6)
    assert again.rows == in_process.rows[:6]


def test_the_cache_key_follows_the_model_bytes_and_the_options(tmp_path, grid):
    cache = PointCache(tmp_path)
    point = grid[0]
    keys = {cache.key(point, "a"), cache.key(point, "b"), cache.key(grid[1], "a"), cache.key(grid[2], "a")}
    assert len(keys) == 4
    copy = tmp_path / "copy.tflite"
    copy.write_bytes(open(point.model, "rb").read())
    run_sweep(grid[:1], cache=cache)
    moved = run_sweep([type(point)(str(copy), point.target, point.budget, point.optimise)], cache=cache)
    assert moved.cached == 1 and moved.rows[0]["model"] == str(copy)


def test_the_process_pool_gives_the_in_process_rows(in_process, grid):
    pooled = run_sweep(grid, jobs=2)
    assert pooled.rows == in_process.rows and pooled.analyzed == len(grid)


def test_a_float_model_is_quantized_once_for_all_its_points(monkeypatch):
    quantized = []
    original = executor.prepare_model
    monkeypatch.setattr(executor, "prepare_model", lambda *args: quantized.append(args[0]) or original(*args))
    points = expand_grid([str(EXAMPLES / "tiny_cnn.onnx")], ["ethos-u55-64", "ethos-u55-128"], [None], ["Performance"])
    run = run_sweep(points, [str(EXAMPLES / "tiny_cnn_calib.npy")])
    assert quantized == [points[0].model]
    assert [row["status"] for row in run.rows] == ["ok", "ok"]
    assert run.rows[0]["total_cycles"] > run.rows[1]["total_cycles"]


def test_a_model_that_cannot_be_read_or_quantized_makes_error_rows(tmp_path):
    points = expand_grid([str(tmp_path / "missing.tflite"), str(EXAMPLES / "tiny_cnn.onnx")], ["ethos-u55-64"],
                         [None], ["Performance"])
    run = run_sweep(points)
    assert [row["status"] for row in run.rows] == ["error", "error"]
    assert run.rows[0]["error"].endswith("missing.tflite: no such file")
    assert "needs --calibration" in run.rows[1]["error"]


def test_an_unknown_target_is_an_error_row():
    run = run_sweep(expand_grid([DIGITS], ["ethos-u99"], [None], ["Size"]))
    assert run.rows[0]["status"] == "error" and "unknown target 'ethos-u99'" in run.rows[0]["error"]
