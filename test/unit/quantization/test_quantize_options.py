"""Tests for quantization options: 16x8, `auto`, per-layer control, layer report, properties."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npuc.dialects import quantized
from npuc.dialects.quantized import quant_type
from npuc.errors import InputDataError
from npuc.ir import main_function
from npuc.quantization.calibration import (
    TensorStatistics,
    _accumulate_histogram,
    choose_range,
)
from npuc.quantization.driver import quantize_module
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.params import quantize_weights
from npuc.quantization.search import layer_errors, output_sqnr
from npuc.reference.fixed_point import quantize_multipliers

from support.graph_models import build_small_cnn, calibration_samples


def _quantized(options: QuantizationOptions, seed: int = 0):
    float_module = build_small_cnn(seed)
    module = float_module.clone()
    quantize_module(module, calibration_samples(16, seed=seed), options=options)
    module.verify()
    return float_module, module


def test_sixteen_bit_activations_are_symmetric_with_int64_bias():
    _, module = _quantized(QuantizationOptions(activation_bits=16))
    ops = list(main_function(module).body.block.ops)
    activations = [quant_type(op.results[0]) for op in ops if isinstance(op, quantized.QuantizeOp)]
    assert all(t.bits == 16 and t.zero_point == 0 for t in activations)
    conv = next(op for op in ops if isinstance(op, quantized.Conv2dOp))
    assert conv.operands[2].type.element_type.width.data == 64


def test_sixteen_bits_track_the_float_model_closer_than_eight():
    samples = calibration_samples(16, seed=5)
    figures = []
    for bits in (8, 16):
        float_module, module = _quantized(QuantizationOptions(activation_bits=bits))
        figures.append(output_sqnr(float_module, module, samples))
    assert figures[1] > figures[0] > 20


def test_auto_is_at_least_as_good_as_each_candidate_on_calibration_data():
    samples = calibration_samples(16, seed=0)
    auto = output_sqnr(*_quantized(QuantizationOptions(activation_strategy="auto")), samples)
    for strategy in ("minmax", "mse"):
        single = output_sqnr(*_quantized(QuantizationOptions(activation_strategy=strategy)), samples)
        assert auto >= single - 1e-9


def test_layer_control_is_written_back_and_applied(tmp_path):
    written = tmp_path / "layers.json"
    _quantized(QuantizationOptions(save_layers=str(written)))
    document = json.loads(written.read_text())
    assert document["activation_bits"] == 8
    conv_layer = next(name for name, entry in document["layers"].items() if "per_channel" in entry)
    document["layers"][conv_layer]["per_channel"] = False
    written.write_text(json.dumps(document))
    _, module = _quantized(QuantizationOptions(layers=str(written)))
    convs = [op for op in main_function(module).body.block.ops if type(op).__name__.endswith("Conv2dOp")]
    assert any(len(quant_type(op.operands[1]).scales.data) == 1 for op in convs)


def test_bad_layer_control_names_the_layer(tmp_path):
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"layers": {"conv1": {"strategy": "kl"}}}))
    with pytest.raises(InputDataError, match="layer 'conv1': unknown strategy 'kl'"):
        _quantized(QuantizationOptions(layers=str(path)))


def test_layer_report_is_worst_first_with_cosines_near_one():
    float_module, module = _quantized(QuantizationOptions())
    errors = layer_errors(float_module, module, calibration_samples(8, seed=2))
    assert len(errors) >= 3
    assert [e.sqnr_db for e in errors] == sorted(e.sqnr_db for e in errors)
    assert all(0.99 < e.cosine <= 1.0 + 1e-9 for e in errors)


def test_entropy_keeps_most_of_a_relu_range():
    values = np.maximum(np.random.default_rng(0).standard_normal(100_000), 0.0)
    stats = TensorStatistics(float(values.min()), float(values.max()), 0.0, 0.0)
    _accumulate_histogram(stats, values)
    low, high = choose_range(stats, "entropy")
    assert low == 0.0 and 0.5 * stats.maximum < high <= stats.maximum


@settings(max_examples=50, deadline=None)
@given(st.floats(1e-6, 1e3))
def test_rescale_multiplier_reproduces_the_real_scale(scale):
    real = float(np.float32(scale))  # rescales ifm * weight / ofm live in this range
    multiplier, shift = quantize_multipliers([real])
    reproduced = int(multiplier[0]) * 2.0 ** (int(shift[0]) - 31)
    # TFLite's QuantizeMultiplier keeps a Q31 significand: relative error <= 2^-31.
    assert abs(reproduced - real) <= real * 2.0**-31 + 1e-300


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8), st.floats(1.0, 100.0))
def test_per_channel_is_never_worse_than_per_tensor(seed, channels, spread):
    """Per channel, the worst rounding error never exceeds the per-tensor one's bound."""
    rng = np.random.default_rng(seed)
    gains = np.exp(rng.uniform(0.0, np.log(spread), (channels, 1, 1, 1)))
    weights = (rng.standard_normal((channels, 3, 3, 4)) * gains).astype(np.float32)
    stored, scales = quantize_weights(weights, 0, per_channel=True)
    per_channel_error = np.abs(stored * scales.reshape(-1, 1, 1, 1) - weights)
    stored, scale = quantize_weights(weights, 0, per_channel=False)
    per_tensor_error = np.abs(stored * scale[0] - weights)
    bound = scale[0] / 2 * (1 + 1e-5)
    assert per_channel_error.max() <= bound and per_tensor_error.max() <= bound
    assert np.all(scales <= scale[0] * (1 + 1e-6))
