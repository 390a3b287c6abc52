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
from npuc.importers.onnx.importer import import_onnx_bytes
from npuc.quantization.options import QuantizationOptions

from support.litert import assert_litert_runs_it_bit_exactly
from support.onnx_import import op_names
from support.onnx_models import make_model, max_error_against_onnxruntime

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


def vit_block(width: int = 32, heads: int = 2) -> bytes:
    """A ViT block as the dynamo exporter writes it (opset 18): patch conv, shape arithmetic on the
    static shapes (Shape, Gather, Unsqueeze, Concat into Reshape and Expand), class token, layer
    norm, fused QKV projection split by a 5-D reshape, transpose and Gather, attention, residual."""

    def ints(*values: int) -> np.ndarray:
        return np.array(values, np.int64)

    initializers = {
        "patch_w": normal(width, 3, 8, 8, scale=0.2), "patch_b": normal(width, scale=0.2),
        "cls": normal(1, 1, width, scale=0.2), "pos": normal(1, 5, width, scale=0.2),
        "gamma": normal(width, scale=0.2, offset=1.0), "beta": normal(width, scale=0.2),
        "w_qkv": normal(width, 3 * width, scale=0.2), "b_qkv": normal(3 * width, scale=0.2),
        "w_out": normal(width, width, scale=0.2), "b_out": normal(width, scale=0.2),
        "zero": ints(0), "one": ints(1), "minus_one": ints(-1), "three": ints(3), "heads": ints(heads),
        "head_width": ints(width // heads), "width": ints(width), "root": np.array(np.sqrt(width // heads), np.float32),
        **{f"index{i}": np.array(i, np.int64) for i in range(3)},
    }  # fmt: skip
    node = helper.make_node
    nodes = [
        node("Conv", ["x", "patch_w", "patch_b"], ["patches"], name="patch", strides=[8, 8], kernel_shape=[8, 8]),
        node("Shape", ["patches"], ["patch_shape"], name="patch_shape"),
        node("Gather", ["patch_shape", "index0"], ["batch"], name="batch", axis=0),
        node("Unsqueeze", ["batch", "zero"], ["batch1"], name="batch1"),
        node("Concat", ["batch1", "width", "minus_one"], ["flat_shape"], name="flat_shape", axis=0),
        node("Reshape", ["patches", "flat_shape"], ["flat"], name="flat"),
        node("Transpose", ["flat"], ["tokens"], name="tokens", perm=[0, 2, 1]),
        node("Concat", ["batch1", "one", "width"], ["cls_shape"], name="cls_shape", axis=0),
        node("Expand", ["cls", "cls_shape"], ["cls_batch"], name="cls_batch"),
        node("Concat", ["cls_batch", "tokens"], ["sequence"], name="sequence", axis=1),
        node("Add", ["sequence", "pos"], ["hidden"], name="position"),
        node("LayerNormalization", ["hidden", "gamma", "beta"], ["normed"], name="norm", axis=-1),
        node("MatMul", ["normed", "w_qkv"], ["qkv_product"], name="qkv"),
        node("Add", ["qkv_product", "b_qkv"], ["qkv"], name="qkv_bias"),
        node("Concat", ["batch1", "minus_one", "three", "heads", "head_width"], ["qkv_shape"], name="qkv_shape", axis=0),
        node("Reshape", ["qkv", "qkv_shape"], ["qkv5"], name="qkv5"),
        node("Transpose", ["qkv5"], ["qkv_heads"], name="qkv_heads", perm=[2, 0, 3, 1, 4]),
        node("Gather", ["qkv_heads", "index0"], ["q"], name="q", axis=0),
        node("Gather", ["qkv_heads", "index1"], ["k"], name="k", axis=0),
        node("Gather", ["qkv_heads", "index2"], ["v"], name="v", axis=0),
        node("Transpose", ["k"], ["kt"], name="kt", perm=[0, 1, 3, 2]),
        node("MatMul", ["q", "kt"], ["scores"], name="scores"),
        node("Div", ["scores", "root"], ["scaled"], name="scaled"),
        node("Softmax", ["scaled"], ["weights"], name="weights", axis=-1),
        node("MatMul", ["weights", "v"], ["context"], name="context"),
        node("Transpose", ["context"], ["context_tokens"], name="context_tokens", perm=[0, 2, 1, 3]),
        node("Concat", ["batch1", "minus_one", "width"], ["merged_shape"], name="merged_shape", axis=0),
        node("Reshape", ["context_tokens", "merged_shape"], ["merged"], name="merged"),
        node("MatMul", ["merged", "w_out"], ["projected"], name="out"),
        node("Add", ["projected", "b_out"], ["attended"], name="out_bias"),
        node("Add", ["hidden", "attended"], ["residual"], name="residual"),
        node("Gather", ["residual", "index0"], ["y"], name="cls_out", axis=1),
    ]
    return make_model(nodes, {"x": (1, 3, 16, 16)}, {"y": (1, width)}, initializers, opset=18)


def quantized(model: bytes, samples: np.ndarray, bits: int = 8, precision: str = "mixed"):
    """The model imported and quantized on `samples` (IR layout, `bits`-bit activations, `precision`); the
    module and the float module."""
    float_module = import_onnx_bytes(model, "model.onnx")
    module = float_module.clone()
    options = QuantizationOptions(activation_bits=bits, precision=precision)
    npuc.api.quantize(module, [samples], options, report_samples=0)
    return module, float_module


def sqnr_db(reference: np.ndarray, actual: np.ndarray) -> float:
    noise = np.sum((reference.astype(np.float64) - actual) ** 2)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / noise))




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


@pytest.mark.parametrize(
    "bits, precision, requantizes, min_sqnr", [(8, "uniform", 0, 25), (8, "mixed", 3, 35), (16, "mixed", 5, 40)]
)
def test_layer_norm_quantizes_to_tflites_sequence_bit_exactly(
    bits: int, precision: str, requantizes: int, min_sqnr: float
) -> None:
    samples = normal(8, 6, 16, scale=3.0, offset=1.0)
    module, float_module = quantized(layer_norm((1, 6, 16)), samples, bits, precision)
    ops = integer_ops(module)
    # 16x8: SQUARED_DIFFERENCE and RSQRT have int8 kernels only, so requantizes surround them; npuc's
    # default policy (mixed) quantizes the centring and normalisation 16x8, the variance branch int8
    assert [name for name in ops if name != "quantized.requantize"] == LAYER_NORM_SEQUENCE
    assert ops.count("quantized.requantize") == requantizes
    (expected,) = npuc.run(float_module, [samples[:1]])
    (actual,) = npuc.run(module, [samples[:1]])
    assert sqnr_db(expected, actual) >= min_sqnr
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


def test_vit_block_as_the_dynamo_exporter_writes_it() -> None:
    model = vit_block()
    assert max_error_against_onnxruntime(model, {"x": normal(1, 3, 16, 16)}) <= 1e-4
    module = import_onnx_bytes(model, "vit.onnx")
    ops = op_names(module)
    # the shape arithmetic folded at import; the patches flattened to tokens need no transpose
    # (their NHWC order is the tokens' order), nor do the projections of the residual stream
    assert not {"graph.shape", "graph.gather", "graph.expand"} & set(ops)
    assert ops[: ops.index("graph.fully_connected")].count("graph.transpose") == 0, ops
    samples = normal(8, 16, 16, 3)
    quantized_module, float_module = quantized(model, samples)
    (expected,) = npuc.run(float_module, [samples[:1]])
    (actual,) = npuc.run(quantized_module, [samples[:1]])
    assert sqnr_db(expected, actual) >= 15
    assert_litert_runs_it_bit_exactly(quantized_module, samples[:1])


def test_layer_norm_of_nearly_constant_rows_gets_a_representable_squared_difference() -> None:
    # x - mean is almost 0: the calibrated output scale of the squared difference would make
    # TFLite's rescale (2 * max input scale)^2 / (2^14 * output scale) exceed 1; it is widened instead
    samples = np.full((8, 6, 16), 2.0, np.float32)
    samples[:, :, 0] += 1e-4
    module, _ = quantized(layer_norm((1, 6, 16)), samples)
    assert_litert_runs_it_bit_exactly(module, samples[:1])


def test_attention_on_ethos_u55_runs_entirely_on_the_npu() -> None:
    # the projections are fully connected layers, the key transpose a strided copy, the softmax over
    # the last axis of the [1, T, T] scores its command chain and both products of two activations
    # copies, per-row MUL and REDUCE_SUM commands and a rescale (npuc.backend.batch_matmul), as Vela 5.2 runs them
    analysis = npuc.api.analyze_model(import_onnx_bytes(attention(), "attention.onnx"), "ethos-u55-128",
                                      [normal(8, 6, 8)])
    assert analysis.report()["summary"]["cpu_operations"] == []
