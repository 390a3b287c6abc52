"""Transformer forms PyTorch exports, built here with onnx.helper: LayerNormalization and attention.

Each imports and runs in float as onnxruntime does; quantized, it is TFLite's
integer sequence (MEAN, SQUARED_DIFFERENCE, RSQRT, ..., BATCH_MATMUL,
SOFTMAX), and the quantized module exported as a .tflite runs bit-exactly in
LiteRT's reference kernels as in npuc's integer reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import npuc.api
from npuc.emit.tflite.export import export_tflite
from npuc.importers.onnx.importer import import_onnx_bytes

from support.onnx_import import op_names
from support.onnx_models import make_model, max_error_against_onnxruntime
from tflite_models.builder import reference_interpreter

rng = np.random.default_rng(17)


def normal(*shape: int, scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape) + offset).astype(np.float32)


def layer_norm(shape: tuple[int, ...], axis: int = -1, with_bias: bool = True) -> bytes:
    """One LayerNormalization (opset 17) over the axes from `axis` on."""
    normalized = shape[axis:]
    initializers = {"gamma": normal(*normalized, scale=0.5, offset=1.0), "beta": normal(*normalized, scale=0.2)}
    inputs = ["x", "gamma", "beta"] if with_bias else ["x", "gamma"]
    if not with_bias:
        del initializers["beta"]
    node = helper.make_node("LayerNormalization", inputs, ["y"], name="norm", axis=axis, epsilon=1e-5)
    return make_model([node], {"x": shape}, {"y": shape}, initializers, opset=17)


def attention(tokens: int = 6, width: int = 8) -> bytes:
    """softmax(q k^T / sqrt(d)) v of three computed [1, T, D] projections of the input."""
    initializers = {name: normal(width, width, scale=0.4) for name in ("wq", "wk", "wv")}
    initializers["root"] = np.array(np.sqrt(width), np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"], name="q"),
        helper.make_node("MatMul", ["x", "wk"], ["k"], name="k"),
        helper.make_node("MatMul", ["x", "wv"], ["v"], name="v"),
        helper.make_node("Transpose", ["k"], ["kt"], name="kt", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"], name="scores"),
        helper.make_node("Div", ["scores", "root"], ["scaled"], name="scaled"),
        helper.make_node("Softmax", ["scaled"], ["weights"], name="weights", axis=-1),
        helper.make_node("MatMul", ["weights", "v"], ["y"], name="context"),
    ]
    return make_model(nodes, {"x": (1, tokens, width)}, {"y": (1, tokens, width)}, initializers, opset=17)


def quantized(model: bytes, samples: np.ndarray):
    """The model imported and quantized on `samples` (IR layout); the module and the float module."""
    float_module = import_onnx_bytes(model, "model.onnx")
    module = float_module.clone()
    npuc.api.quantize(module, [samples], report_samples=0)
    return module, float_module


def sqnr_db(reference: np.ndarray, actual: np.ndarray) -> float:
    noise = np.sum((reference.astype(np.float64) - actual) ** 2)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / noise))


def assert_litert_runs_it_bit_exactly(module, sample: np.ndarray) -> None:
    """The module exported as a .tflite (QUANTIZE ... DEQUANTIZE) gives in LiteRT's reference kernels npuc's results."""
    interpreter = reference_interpreter(export_tflite(module))
    (detail,) = interpreter.get_input_details()
    interpreter.set_tensor(detail["index"], sample)
    interpreter.invoke()
    (expected,) = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
    (actual,) = npuc.run(module, [sample])
    assert np.array_equal(actual, expected), f"{np.count_nonzero(actual != expected)} values differ"


def integer_ops(module) -> list[str]:
    """The quantized layer ops of @main: no constants, quantize or dequantize."""
    boundary = ("quantized.constant", "quantized.quantize", "quantized.dequantize")
    return [name for name in op_names(module) if name not in boundary]


LAYER_NORM_SEQUENCE = [
    "quantized.reduce", "quantized.squared_difference", "quantized.reduce", "quantized.add",
    "quantized.rsqrt", "quantized.sub", "quantized.mul", "quantized.mul", "quantized.add",
]  # fmt: skip


@pytest.mark.parametrize(
    "shape, axis, with_bias", [((1, 6, 16), -1, True), ((2, 5, 12), 2, False), ((1, 3, 4, 8), -2, True)]
)
def test_layer_norm_matches_onnxruntime(shape, axis, with_bias) -> None:
    model = layer_norm(shape, axis, with_bias)
    assert max_error_against_onnxruntime(model, {"x": normal(*shape, scale=3.0, offset=1.0)}) <= 1e-4


def test_layer_norm_quantizes_to_tflites_sequence_bit_exactly() -> None:
    samples = normal(8, 6, 16, scale=3.0, offset=1.0)
    module, float_module = quantized(layer_norm((1, 6, 16)), samples)
    assert integer_ops(module) == LAYER_NORM_SEQUENCE
    (expected,) = npuc.run(float_module, [samples[:1]])
    (actual,) = npuc.run(module, [samples[:1]])
    assert sqnr_db(expected, actual) >= 25
    assert_litert_runs_it_bit_exactly(module, samples[:1])


def test_attention_quantizes_to_batch_matmuls_and_a_softmax_bit_exactly() -> None:
    model = attention()
    assert max_error_against_onnxruntime(model, {"x": normal(1, 6, 8)}) <= 1e-4
    samples = normal(8, 6, 8)
    module, float_module = quantized(model, samples)
    names = integer_ops(module)
    assert names.count("quantized.batch_matmul") == 2 and "quantized.softmax" in names, names
    (expected,) = npuc.run(float_module, [samples[:1]])
    (actual,) = npuc.run(module, [samples[:1]])
    assert sqnr_db(expected, actual) >= 20
    assert_litert_runs_it_bit_exactly(module, samples[:1])


def test_division_by_a_computed_tensor_quantizes_to_tflites_div_bit_exactly() -> None:
    nodes = [
        helper.make_node("Sigmoid", ["x"], ["gate"], name="gate"),
        helper.make_node("Add", ["gate", "one"], ["divisor"], name="divisor"),
        helper.make_node("Div", ["x", "divisor"], ["y"], name="quotient"),
    ]
    model = make_model(nodes, {"x": (1, 4, 8)}, {"y": (1, 4, 8)}, {"one": np.array(1.0, np.float32)}, opset=17)
    samples = normal(8, 4, 8, scale=2.0)
    module, float_module = quantized(model, samples)
    assert "quantized.div" in integer_ops(module)
    (expected,) = npuc.run(float_module, [samples[:1]])
    (actual,) = npuc.run(module, [samples[:1]])
    assert sqnr_db(expected, actual) >= 25
    assert_litert_runs_it_bit_exactly(module, samples[:1])
