"""The sweep's grid and the CLI's lists: every combination once, model-major; budgets with `unlimited`."""

from __future__ import annotations

import argparse

import pytest

from npuc.dse.executor import calibration_files
from npuc.dse.grid import SweepPoint, expand_grid
from npuc.errors import NpucError
from npuc.tools.npuc_main import _byte_counts, _goals


def test_the_grid_is_every_combination_model_major_each_value_once():
    points = expand_grid(["a.tflite", "b.tflite", "a.tflite"], ["ethos-u55-64", "ethos-u65-256"],
                         [131072, None, 131072], ["Performance", "Size"], memory_mode="Shared_Sram")
    assert len(points) == 2 * 2 * 2 * 2
    assert points[0] == SweepPoint("a.tflite", "ethos-u55-64", 131072, "Performance", memory_mode="Shared_Sram")
    assert points[1].optimise == "Size" and points[2].budget is None and points[4].target == "ethos-u65-256"
    assert {point.model for point in points[:8]} == {"a.tflite"}
    assert len(set(points)) == len(points)


def test_a_point_spec_carries_the_vela_parts_but_not_the_budget():
    point = SweepPoint("m.tflite", "ethos-u55-128", 4096, "Size", "Ethos_U55_High_End_Embedded", "Shared_Sram")
    assert point.spec == "ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram"


def test_budgets_are_byte_counts_or_unlimited():
    assert _byte_counts("128K, 512k,unlimited,1M,4096") == [131072, 524288, None, 1 << 20, 4096]
    for bad in ("12Q", ",", "lots"):
        with pytest.raises(argparse.ArgumentTypeError):
            _byte_counts(bad)


def test_goals_are_performance_and_size():
    assert _goals("Performance,size") == ["Performance", "Size"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown optimise goal 'Fast'"):
        _goals("Performance,Fast")


def test_calibration_files_go_to_the_models_quantized_in_the_sweep():
    models = ["a.tflite", "b.onnx", "c.mlir"]
    assert calibration_files(models, []) == {"a.tflite": None, "b.onnx": None, "c.mlir": None}
    assert calibration_files(models, ["x.npy"]) == {"a.tflite": None, "b.onnx": "x.npy", "c.mlir": "x.npy"}
    assert calibration_files(models, ["x.npy", "y.npy"]) == {"a.tflite": None, "b.onnx": "x.npy", "c.mlir": "y.npy"}
    with pytest.raises(NpucError, match="given 3 times for 2"):
        calibration_files(models, ["x.npy", "y.npy", "z.npy"])
