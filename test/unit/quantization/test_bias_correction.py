"""Bias correction of weight rounding (npuc.quantization.bias_correction), on by default."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import (
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.ir import Block, Operation

import npuc
from npuc.data import load_samples, model_interface
from npuc.dialects import graph, quantized
from npuc.dialects.common import LAYER_ATTR, constant_value
from npuc.dialects.quantized import quant_type
from npuc.errors import InputDataError
from npuc.ir import main_function
from npuc.passes import GRAPH_OPTIMISATION_PIPELINE
from npuc.quantization.bias_correction import weight_error_mean
from npuc.quantization.calibration import Statistics
from npuc.quantization.driver import quantize_module
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.params import quantize_weights, sqnr_db
from npuc.quantization.quantizer import gather_statistics
from npuc.reference.graph_interpreter import run_graph
from npuc.tools import npuc_main

from support.graph_models import (
    build_small_cnn,
    calibration_samples,
    float_constant,
    main_module,
)
from support.paths import EXAMPLES


def _named(op: Operation, name: str) -> Operation:
    op.attributes[LAYER_ATTR] = StringAttr(name)
    return op


def _single_conv(kind: str, weights: np.ndarray, channels: int, groups: int = 1) -> tuple[ModuleOp, Operation]:
    """A 5x5xchannels input through one unpadded conv (or depthwise conv) of `weights`, zero bias."""
    block = Block(arg_types=[TensorType(f32, [1, 5, 5, channels])])
    w = float_constant(weights, "w")
    outputs = weights.shape[0] if kind == "conv" else weights.shape[3]
    b = float_constant(np.zeros(outputs), "b")
    ofm = TensorType(f32, [1, 3, 3, outputs])
    if kind == "conv":
        conv = graph.Conv2dOp(block.args[0], w.output, b.output, ofm, groups=groups)
    else:
        conv = graph.DepthwiseConv2dOp(block.args[0], w.output, b.output, ofm)
    return main_module(block, [w, b, _named(conv, "conv")]), conv


@pytest.mark.parametrize(
    ("kind", "shape", "channels", "groups"),
    [("conv", (6, 3, 3, 4), 4, 1), ("conv", (6, 3, 3, 2), 4, 2), ("depthwise", (1, 3, 3, 8), 4, 1)],
)
def test_weight_error_mean_is_the_conv_of_the_weight_error_over_a_constant_input(kind, shape, channels, groups):
    """Each output channel reads its own inputs: a conv of the weight error over an input holding each
    channel's mean everywhere gives, at every position, what `weight_error_mean` predicts."""
    rng = np.random.default_rng(0)
    weights = rng.standard_normal(shape).astype(np.float32)
    restored = (weights + rng.standard_normal(shape) * 0.01).astype(np.float32)
    mean = rng.standard_normal(channels)
    module, conv = _single_conv(kind, (restored - weights).astype(np.float32), channels, groups)
    constant = np.broadcast_to(mean.astype(np.float32), (1, 5, 5, channels))
    shifted = run_graph(module, [constant]).outputs[0]
    expected = weight_error_mean(conv, weights, restored, mean)
    assert expected is not None and expected.shape == (shape[0] if kind == "conv" else shape[3],)
    np.testing.assert_allclose(shifted.reshape(-1, expected.shape[0]), np.broadcast_to(expected, (9, len(expected))), rtol=1e-4, atol=1e-6)


def test_fully_connected_layers_are_not_corrected():
    weights = np.ones((3, 4))
    fc = graph.FullyConnectedOp(
        float_constant(np.zeros((1, 4)), "x").output, float_constant(weights, "w").output,
        float_constant(np.zeros(3), "b").output, TensorType(f32, [1, 3]),
    )  # fmt: skip
    assert weight_error_mean(fc, weights, weights * 1.01, np.ones(4)) is None


def build_conv_head(seed: int = 0) -> ModuleOp:
    """x[1,8,8,16] -> 1x1 conv to 32 channels -> global average pool: a classifier head, where the
    conv's random error averages away over the 64 positions and its weight rounding's mean does not."""
    rng = np.random.default_rng(seed)
    weights = float_constant(rng.standard_normal((32, 1, 1, 16)) / 4, "conv_w")
    bias = float_constant(rng.standard_normal(32) * 0.1, "conv_b")
    block = Block(arg_types=[TensorType(f32, [1, 8, 8, 16])])
    conv = _named(graph.Conv2dOp(block.args[0], weights.output, bias.output, TensorType(f32, [1, 8, 8, 32])), "conv")
    pool = _named(graph.AvgPool2dOp(conv.results[0], TensorType(f32, [1, 1, 1, 32]), (8, 8), (8, 8)), "pool")
    return main_module(block, [weights, bias, conv, pool])


def _head_samples(count: int, seed: int) -> list[np.ndarray]:
    """Inputs with per-channel means of their own (post-ReLU-like features: the weight error has a mean to act on)."""
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(99).uniform(0.5, 2.0, 16)
    return [(means + 0.5 * rng.standard_normal((count, 8, 8, 16))).astype(np.float32)]


def _head_sqnr(correct: bool, calibration: list[np.ndarray], test: list[np.ndarray]) -> float:
    float_module = build_conv_head()
    module = float_module.clone()
    quantize_module(module, calibration, options=QuantizationOptions(bias_correction=correct, precision="uniform"))
    module.verify()
    return sqnr_db(npuc.run(float_module, test)[0], npuc.run(module, test)[0])


def test_correction_lifts_a_pooled_heads_sqnr_on_held_out_inputs():
    calibration, held_out = _head_samples(16, seed=1), _head_samples(16, seed=2)
    plain, corrected = _head_sqnr(False, calibration, held_out), _head_sqnr(True, calibration, held_out)
    assert corrected > plain + 3.0


def test_the_quantized_bias_is_the_float_bias_less_the_expected_weight_error():
    calibration = _head_samples(16, seed=1)
    module = build_conv_head()
    statistics = gather_statistics(module, calibration, QuantizationOptions())
    conv = next(op for op in main_function(module).body.block.ops if isinstance(op, graph.Conv2dOp))
    weights, bias = (constant_value(conv.operands[i].owner.value) for i in (1, 2))
    stored, scales = quantize_weights(weights, 0)
    restored = stored * scales.reshape(-1, 1, 1, 1)
    shift = weight_error_mean(conv, weights, restored, calibration[0].reshape(-1, 16).mean(axis=0))
    quantize_module(module, calibration, options=QuantizationOptions(precision="uniform"), statistics=statistics)
    (qconv,) = [op for op in main_function(module).body.block.ops if isinstance(op, quantized.Conv2dOp)]
    bias_scales = quant_type(qconv.ifm).scale * scales
    stored_bias = constant_value(qconv.bias.owner.value)
    np.testing.assert_allclose(stored_bias * bias_scales, bias - shift, atol=0.5 * bias_scales.max() + 1e-7)
    assert np.abs(stored_bias * bias_scales - bias).max() > 2 * bias_scales.max()  # a visible correction


def test_correction_reduces_the_mean_output_error_of_a_small_cnn():
    float_module, samples = build_small_cnn(0), calibration_samples(64, seed=0)
    reference = npuc.run(float_module, samples)[0]
    mean_errors = []
    for correct in (False, True):
        module = float_module.clone()
        quantize_module(module, samples, options=QuantizationOptions(bias_correction=correct))
        module.verify()
        mean_errors.append(np.abs((npuc.run(module, samples)[0] - reference).mean(axis=0)).mean())
    assert mean_errors[1] < 0.8 * mean_errors[0]


def test_statistics_keep_the_channel_means_through_save_and_load(tmp_path):
    module, samples = build_small_cnn(0), calibration_samples(8, seed=0)
    statistics = gather_statistics(module, samples, QuantizationOptions())
    np.testing.assert_allclose(statistics.tensors["x"].channel_mean, samples[0].reshape(-1, 3).mean(axis=0, dtype=np.float64), rtol=1e-9)
    statistics.save(tmp_path / "stats.npz")
    loaded = Statistics.load(tmp_path / "stats.npz")
    for name, stats in statistics.tensors.items():
        np.testing.assert_array_equal(loaded.tensors[name].channel_mean, stats.channel_mean)


def test_statistics_without_channel_means_quantize_uncorrected(tmp_path):
    """Statistics saved before channel means were recorded still load; the biases stay as they are."""
    module, samples = build_small_cnn(0), calibration_samples(8, seed=0)
    statistics = gather_statistics(module, samples, QuantizationOptions())
    for stats in statistics.tensors.values():
        stats.channel_mean = None
    results = []
    for options in (QuantizationOptions(), QuantizationOptions(bias_correction=False)):
        copy = module.clone()
        quantize_module(copy, samples, options=options, statistics=statistics)
        results.append(npuc.run(copy, samples)[0])
    np.testing.assert_array_equal(results[0], results[1])


def test_a_bad_saved_channel_mean_is_refused_by_name(tmp_path):
    path = tmp_path / "stats.npz"
    np.savez(path, **{"x|range": np.array([0.0, 1.0, 0.0, 1.0]), "x|channel_mean": np.array([np.nan, 1.0])})
    with pytest.raises(InputDataError, match=r"'x\|channel_mean'.*finite channel means"):
        Statistics.load(path)
    np.savez(path, **{"y|channel_mean": np.array([1.0])})
    with pytest.raises(InputDataError, match=r"'y\|channel_mean' has no 'y\|range'"):
        Statistics.load(path)


def test_channel_means_of_the_wrong_length_are_refused_by_layer():
    module, samples = build_small_cnn(0), calibration_samples(8, seed=0)
    statistics = gather_statistics(module, samples, QuantizationOptions())
    statistics.tensors["x"].channel_mean = np.zeros(5)
    with pytest.raises(InputDataError, match="input of 'conv1' 5 channel means, it has 3 channels"):
        quantize_module(module, samples, statistics=statistics)

TINY_CNN = EXAMPLES / "tiny_cnn.onnx"
TINY_CNN_CALIBRATION = EXAMPLES / "tiny_cnn_calib.npy"


@pytest.mark.parametrize(("flags", "corrected"), [((), True), (("--no-bias-correction",), False)])
def test_npuc_quantize_corrects_biases_as_the_api_does(tmp_path, flags, corrected):
    """`npuc quantize` has the API's default (on) and `--no-bias-correction` turns it off."""
    written = tmp_path / "q.mlir"
    npuc_main.main(["quantize", str(TINY_CNN), "--calibration", str(TINY_CNN_CALIBRATION), "--report", "0",
                    *flags, "-o", str(written)])  # fmt: skip
    module = npuc.import_model(TINY_CNN)
    npuc.run_pipeline(module, ",".join(GRAPH_OPTIMISATION_PIPELINE))
    samples = load_samples(str(TINY_CNN_CALIBRATION), model_interface(module))
    npuc.quantize(module, samples, QuantizationOptions(bias_correction=corrected))
    assert written.read_text().strip() == str(module).strip()
