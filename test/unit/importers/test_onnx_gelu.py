"""GELU from ONNX: the exporters' Erf and Tanh patterns and opset 20's Gelu become graph.gelu.

Each model is built with onnx.helper in the node orders PyTorch's exporters
write (the TorchScript exporter at opset 17, the dynamo exporter at opset
18); the imported graph holds one graph.gelu and its float run matches
onnxruntime's. A pattern whose inner result is read elsewhere is left as it
is, and a lone Erf is an unsupported operator named by its node. After
quantization, GELU and HardSigmoid run on the NPU as lookup tables.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import helper

import npuc
from npuc.dialects import graph, npu
from npuc.errors import UnsupportedOperatorError
from npuc.importers.onnx.importer import import_onnx_bytes

from support.onnx_import import layer_ops, random
from support.onnx_models import make_model, max_error_against_onnxruntime

SHAPE = (1, 8, 5, 5)
TOLERANCE = 1e-5


def _mul(a: str, b: str, out: str):
    return helper.make_node("Mul", [a, b], [out], name=out)


def erf_nodes(order: str) -> tuple[list, dict]:
    """0.5 * x * (1 + erf(x / sqrt 2)) with the products in the order `order` names."""
    nodes = [
        helper.make_node("Div", ["x", "sqrt2"], ["scaled"], name="scaled"),
        helper.make_node("Erf", ["scaled"], ["erf"], name="erf"),
        helper.make_node("Add", ["erf", "one"], ["one_plus"], name="one_plus"),
    ]
    if order == "torchscript":  # (x * (1 + erf)) * 0.5
        nodes += [_mul("x", "one_plus", "product"), _mul("product", "half", "y")]
    elif order == "dynamo":  # 0.5 * (x * (1 + erf))
        nodes += [_mul("x", "one_plus", "product"), _mul("half", "product", "y")]
    elif order == "half_x_first":  # (x * 0.5) * (1 + erf)
        nodes += [_mul("x", "half", "half_x"), _mul("half_x", "one_plus", "y")]
    else:  # ((1 + erf) * 0.5) * x
        nodes += [_mul("one_plus", "half", "halved"), _mul("halved", "x", "y")]
    constants = {"sqrt2": np.float32(math.sqrt(2)), "one": np.float32(1), "half": np.float32(0.5)}
    return nodes, constants


def tanh_nodes(cube: str) -> tuple[list, dict]:
    """0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), the cube as Pow or as products."""
    if cube == "pow":
        nodes = [helper.make_node("Pow", ["x", "three"], ["cube"], name="cube")]
    else:
        nodes = [_mul("x", "x", "square"), _mul("x", "square", "cube")]
    nodes += [
        _mul("kappa", "cube", "term"),
        helper.make_node("Add", ["x", "term"], ["inner"], name="inner"),
        _mul("beta", "inner", "argument"),
        helper.make_node("Tanh", ["argument"], ["tanh"], name="tanh"),
        helper.make_node("Add", ["one", "tanh"], ["one_plus"], name="one_plus"),
        _mul("x", "one_plus", "product"),
        _mul("half", "product", "y"),
    ]
    constants = {
        "three": np.float32(3), "kappa": np.float32(0.044715), "beta": np.float32(math.sqrt(2 / math.pi)),
        "one": np.float32(1), "half": np.float32(0.5),
    }  # fmt: skip
    return nodes, constants


def _model(nodes: list, constants: dict, opset: int) -> bytes:
    return make_model(nodes, {"x": SHAPE}, {"y": SHAPE}, constants, opset)


def _gelus(model: bytes) -> list[graph.GeluOp]:
    ops = layer_ops(import_onnx_bytes(model, "gelu.onnx"))
    return [op for op in ops if isinstance(op, graph.GeluOp)]


@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("order", ["torchscript", "dynamo", "half_x_first", "halved_first"])
def test_the_erf_pattern_is_one_exact_gelu(order: str, opset: int) -> None:
    model = _model(*erf_nodes(order), opset)
    (gelu,) = _gelus(model)
    assert not gelu.is_approximate
    assert [op.name for op in layer_ops(import_onnx_bytes(model, "gelu.onnx"))] == ["graph.gelu"]
    assert max_error_against_onnxruntime(model, {"x": random(*SHAPE) * 3}) <= TOLERANCE


@pytest.mark.parametrize("cube", ["pow", "products"])
def test_the_tanh_pattern_is_one_approximate_gelu(cube: str) -> None:
    model = _model(*tanh_nodes(cube), 18)
    (gelu,) = _gelus(model)
    assert gelu.is_approximate
    assert max_error_against_onnxruntime(model, {"x": random(*SHAPE) * 3}) <= TOLERANCE


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_opset_20_gelu(approximate: str) -> None:
    node = helper.make_node("Gelu", ["x"], ["y"], name="gelu", approximate=approximate)
    model = _model([node], {}, 20)
    (gelu,) = _gelus(model)
    assert gelu.is_approximate == (approximate == "tanh")
    assert max_error_against_onnxruntime(model, {"x": random(*SHAPE) * 3}) <= TOLERANCE


def test_a_pattern_whose_erf_is_read_elsewhere_is_not_fused() -> None:
    nodes, constants = erf_nodes("torchscript")
    model = make_model(nodes, {"x": SHAPE}, {"y": SHAPE, "erf": SHAPE}, constants, 17)
    with pytest.raises(UnsupportedOperatorError, match=r"erf \(Erf\): operator not supported"):
        import_onnx_bytes(model, "gelu.onnx")


def test_a_lone_erf_is_unsupported_by_name() -> None:
    node = helper.make_node("Erf", ["x"], ["y"], name="lonely")
    with pytest.raises(UnsupportedOperatorError, match=r"lonely \(Erf\): operator not supported"):
        import_onnx_bytes(_model([node], {}, 17), "erf.onnx")


@pytest.mark.parametrize("activation", ["gelu", "hard_sigmoid"])
def test_quantized_gelu_and_hard_sigmoid_run_on_the_npu_as_lookup_tables(activation: str) -> None:
    if activation == "gelu":
        nodes, constants = erf_nodes("dynamo")
    else:
        nodes, constants = [helper.make_node("HardSigmoid", ["x"], ["y"], name="y", alpha=1 / 6)], {}
    module = import_onnx_bytes(make_model(nodes, {"x": (2, 32)}, {"y": (2, 32)}, constants, 18), "act.onnx")
    reference = module.clone()
    samples = random(16, 32) * 3
    report = npuc.quantize(module, [samples])
    quantized = report.module
    program = npuc.compile_model(quantized.clone(), "ethos-u55-128").module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    (table,) = [op for op in program.ops if isinstance(op, npu.ElementwiseOp)]
    assert table.lut is not None
    got, expected = npuc.run(quantized, [samples[:2]])[0], npuc.run(reference, [samples[:2]])[0]
    (layer,) = [op for op in layer_ops(quantized) if op.name == f"quantized.{activation}"]
    output_step = layer.results[0].type.element_type.scale
    assert np.max(np.abs(got - expected)) <= 2 * output_step  # input and output rounding
