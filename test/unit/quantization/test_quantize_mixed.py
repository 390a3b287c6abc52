"""Tests for per-layer bits, the `target_sqnr` int16 promotion search and bias correction."""

import json

import numpy as np
import pytest
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

import npuc
from npuc.dialects import graph, quantized
from npuc.dialects.common import LAYER_ATTR
from npuc.dialects.quantized import quant_type
from npuc.errors import InputDataError
from npuc.ir import main_function
from npuc.quantization.control import LayerControl
from npuc.quantization.driver import quantize_module
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.search import output_sqnr

from support.graph_models import build_small_cnn, calibration_samples, float_constant


def build_wide_range_mlp(seed: int = 0) -> ModuleOp:
    """x[1,16] -> fc1(relu) -> fc2 -> fc3; fc2's channel 0 sits near 200, the rest near 0.

    fc3 ignores channel 0, so the small channels carry the output: one int8
    scale over fc2's wide range loses them, 16 bits keep them.
    """
    rng = np.random.default_rng(seed)
    block = Block(arg_types=[TensorType(f32, [1, 16])])
    ops, value = [], block.args[0]
    for name, (rows, cols), bias_offset, activation in (
        ("fc1", (16, 16), 0.0, "relu"), ("fc2", (16, 16), 200.0, "none"), ("fc3", (4, 16), 0.0, "none"),
    ):  # fmt: skip
        weights = rng.standard_normal((rows, cols)) / 4
        bias = rng.standard_normal(rows) * 0.1
        bias[0] += bias_offset
        if name == "fc3":
            weights[:, 0] = 0.0
        constants = [float_constant(weights, f"{name}_w"), float_constant(bias, f"{name}_b")]
        op = graph.FullyConnectedOp(
            value, constants[0].output, constants[1].output, TensorType(f32, [1, rows]), activation=activation
        )
        op.attributes[LAYER_ATTR] = StringAttr(name)
        ops += [*constants, op]
        value = op.results[0]
    ops.append(ReturnOp(value))
    block.add_ops(ops)
    func = FuncOp("main", ([block.args[0].type], [value.type]), Region(block))
    func.arg_attrs = ArrayAttr([DictionaryAttr({"graph.name": StringAttr("x")})])
    func.res_attrs = ArrayAttr([DictionaryAttr({"graph.name": StringAttr("y")})])
    return ModuleOp([func])


def _mlp_samples(count: int, seed: int) -> list[np.ndarray]:
    return [np.random.default_rng(seed).standard_normal((count, 16)).astype(np.float32)]


def _ops(module: ModuleOp) -> list:
    return list(main_function(module).body.block.ops)


def test_per_layer_bits_requantize_at_the_boundaries_and_run(tmp_path):
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"layers": {"conv2a": {"bits": 16}}}))
    float_module = build_small_cnn(0)
    module = float_module.clone()
    quantize_module(module, calibration_samples(16, seed=0), options=QuantizationOptions(layers=str(path), save_layers=str(path)))
    module.verify()
    ops = _ops(module)
    conv = next(op for op in ops if op.attributes.get(LAYER_ATTR) == StringAttr("conv2a") and isinstance(op, quantized.Conv2dOp))
    assert quant_type(conv.operands[0]).bits == 16 and quant_type(conv.results[0]).bits == 16
    assert conv.operands[2].type.element_type.width.data == 64
    widths = [(quant_type(op.operands[0]).bits, quant_type(op.results[0]).bits) for op in ops if isinstance(op, quantized.RequantizeOp)]
    assert sorted(widths) == [(8, 16), (16, 8)]  # into conv2a, out of it into the int8 add
    assert output_sqnr(float_module, module, calibration_samples(8, seed=3)) > 20
    written = json.loads(path.read_text())["layers"]
    assert written["conv2a"]["bits"] == 16 and written["conv2b"]["bits"] == 8
    assert "bits" not in written["pool"]  # follows its input unless set


def test_bad_bits_name_the_layer(tmp_path):
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"layers": {"fc": {"bits": 4}}}))
    with pytest.raises(InputDataError, match="layer 'fc': bits must be 8 or 16"):
        quantize_module(build_small_cnn(0), calibration_samples(4, seed=0), options=QuantizationOptions(layers=str(path)))


def test_search_reaches_the_target_with_few_int16_layers(tmp_path):
    float_module, samples = build_wide_range_mlp(), _mlp_samples(64, seed=0)
    plain = float_module.clone()
    quantize_module(plain, samples)
    assert output_sqnr(float_module, plain, samples) < 30
    module, control, path = float_module.clone(), LayerControl(), tmp_path / "layers.json"
    options = QuantizationOptions(target_sqnr=30, save_layers=str(path))
    quantize_module(module, samples, options=options, control=control)
    promotion = control.promotion
    assert promotion.output_sqnr >= 30 and not promotion.note
    assert 1 <= len(promotion.promoted) <= 2 and "fc1" not in promotion.promoted
    assert output_sqnr(float_module, module, samples) >= 30
    layers = json.loads(path.read_text())["layers"]
    assert {name for name, entry in layers.items() if entry.get("bits") == 16} == set(promotion.promoted)


def test_search_says_when_the_target_is_out_of_reach():
    control = LayerControl()
    quantize_module(build_wide_range_mlp(), _mlp_samples(16, seed=0), options=QuantizationOptions(target_sqnr=200), control=control)
    assert "not reached" in control.promotion.note and "float" in control.promotion.note


def test_api_quantize_returns_the_layer_report_and_the_promotion():

    report = npuc.quantize(build_wide_range_mlp(), _mlp_samples(32, seed=0), QuantizationOptions(target_sqnr=30))
    assert not [op for op in _ops(report.module) if op.dialect_name() == "graph"]
    assert {error.layer for error in report.layers} == {"fc1", "fc2", "fc3"}
    assert [e.sqnr_db for e in report.layers] == sorted(e.sqnr_db for e in report.layers)
    assert report.promotion.promoted and report.control[report.promotion.promoted[0]]["bits"] == 16


def test_cli_quantize_prints_the_promoted_layers(tmp_path, capsys):
    from npuc.tools.npuc_main import main

    model, calibration = tmp_path / "mlp.mlir", tmp_path / "calib.npy"
    model.write_text(str(build_wide_range_mlp()))
    np.save(calibration, _mlp_samples(32, seed=0)[0])
    main(["quantize", str(model), "--calibration", str(calibration), "--target-sqnr", "30", "-o", str(tmp_path / "q.mlir")])
    err = capsys.readouterr().err
    assert "int16 layers for 30 dB: " in err and "SQNR dB" in err
