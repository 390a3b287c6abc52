"""Tests for post-training quantization: parameter math, the rewrite, accuracy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import (
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.ir import Operation
from xdsl.utils.exceptions import PassFailedException

from npuc.context import npuc_context
from npuc.dialects import graph, quantized
from npuc.dialects.common import LAYER_ATTR, LayerOp, constant_value
from npuc.dialects.quantized import quant_type
from npuc.errors import InputDataError, UnsupportedOperatorError
from npuc.ir import main_function
from npuc.passes.quantized.quantize import QuantizePass
from npuc.quantization.driver import quantize_module
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.params import (
    activation_params,
    quantize_bias,
    quantize_weights,
    sqnr_db,
)
from npuc.reference.fixed_point import dequantize, quantize
from npuc.reference.graph_interpreter import run_graph
from npuc.reference.quantized_interpreter import run_quantized

from support.graph_models import build_small_cnn, calibration_samples

# --- parameter math -------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high"), [(0.5, 3.0), (-4.0, -1.0), (-1.0, 1.0), (0.0, 6.0), (0.0, 0.0)]
)
def test_activation_range_includes_zero_exactly(low, high):
    scale, zero_point = activation_params(low, high)
    assert -128 <= zero_point <= 127
    assert scale > 0 and np.float32(scale) == scale
    assert quantize(np.float32(0.0), scale, zero_point, -128, 127) == zero_point


def test_activation_params_of_relu6_range():
    scale, zero_point = activation_params(0.0, 6.0)
    assert scale == pytest.approx(6.0 / 255)
    assert zero_point == -128


def test_activation_params_of_symmetric_range():
    scale, zero_point = activation_params(-2.0, 2.0)
    assert scale == pytest.approx(4.0 / 255)
    assert zero_point == -1  # round(-128 + 127.50000754)


@pytest.mark.parametrize(("low", "zero_point"), [(-7.96875, -1), (-8.03125, 1)])
def test_zero_point_ties_round_half_away_from_zero(low, zero_point):
    # A span of 255 / 16 gives the exact scale 1/16, so -128 - low / scale is exactly
    # -0.5 or 0.5: std::round (TFLite) gives -1 and 1, where round-half-even gives 0
    # for both and floor(x + 0.5) gives 0 for the first.
    scale, actual = activation_params(low, low + 255 / 16)
    assert scale == 1 / 16 and -128 - low / scale in (-0.5, 0.5)
    assert actual == zero_point


@given(
    low=st.floats(-1e3, 1e3, allow_nan=False, width=32),
    span=st.floats(2**-10, 1e3, allow_nan=False, width=32),
    fractions=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=16),
)
@settings(max_examples=200, deadline=None)
def test_round_trip_within_half_a_step(low, span, fractions):
    high = low + span
    scale, zero_point = activation_params(low, high)
    values = np.array([low + f * span for f in fractions], dtype=np.float32)
    restored = dequantize(quantize(values, scale, zero_point, -128, 127), scale, zero_point)
    # Half a step, plus float32 rounding of values of this magnitude.
    tolerance = 0.5 * scale * (1 + 1e-4) + 4 * np.spacing(np.float32(max(abs(low), abs(high))))
    assert np.all(np.abs(restored - values) <= tolerance)


def test_symmetric_weights_reproduce_within_half_a_step():
    weights = np.random.default_rng(0).standard_normal((4, 3, 3, 2)).astype(np.float32)
    weights[2] *= 50  # channels of very different magnitude keep their precision
    stored, scales = quantize_weights(weights, axis=0)
    assert stored.dtype == np.int8 and scales.dtype == np.float32
    assert np.abs(stored).max() == 127 and stored.min() >= -127
    restored = dequantize(stored, scales, 0, axis=0)
    steps = scales.reshape(4, 1, 1, 1)
    assert np.all(np.abs(restored - weights) <= 0.5 * steps * (1 + 1e-5))


def test_zero_weight_channel_gets_a_valid_scale():
    weights = np.zeros((1, 1, 1, 3), np.float32)
    weights[..., 1] = [0.5]
    stored, scales = quantize_weights(weights, axis=3)
    assert list(scales) == [1.0, np.float32(0.5 / 127), 1.0]
    assert list(stored.ravel()) == [0, 127, 0]


def test_bias_uses_ifm_times_weight_scale_and_saturates():
    bias = np.array([1.0, -2.0, 1e9], np.float32)
    stored = quantize_bias(bias, 0.5, np.array([0.01, 0.02, 0.01], np.float32))
    assert stored.dtype == np.int32
    assert list(stored[:2]) == [200, -200]
    assert stored[2] == 2**31 - 1


def test_sqnr():
    reference = np.array([1.0, -1.0, 2.0, -2.0])
    assert sqnr_db(reference, reference) == float("inf")
    assert sqnr_db(reference, reference * 1.1) == pytest.approx(20.0)


# --- the rewrite on a small CNN ------------------------------------------


@pytest.fixture(scope="module")
def quantized_cnn() -> ModuleOp:
    module = build_small_cnn()
    quantize_module(module, calibration_samples(64, seed=1))
    module.verify()
    return module


def _ops(module: ModuleOp) -> list[Operation]:
    return list(main_function(module).body.block.ops)


def test_rewrite_leaves_no_graph_ops_and_keeps_layers(quantized_cnn):
    ops = _ops(quantized_cnn)
    assert not [op for op in ops if op.dialect_name() == "graph"]
    layers = [op.attributes[LAYER_ATTR].data for op in ops if isinstance(op, LayerOp)]
    assert layers == ["conv1", "pool", "conv2a", "conv2b", "add", "relu", "flatten", "fc"]
    assert isinstance(ops[0], quantized.QuantizeOp)
    assert isinstance(ops[-2], quantized.DequantizeOp)


def test_float_interface_and_its_attributes_are_kept(quantized_cnn):
    func = main_function(quantized_cnn)
    assert func.function_type.inputs.data == (TensorType(f32, [1, 8, 8, 3]),)
    assert func.function_type.outputs.data == (TensorType(f32, [1, 10]),)
    assert func.arg_attrs.data[0].data["graph.name"] == StringAttr("x")
    assert func.res_attrs.data[0].data["graph.name"] == StringAttr("logits")


def test_value_moving_ops_and_clamp_keep_their_input_quantization(quantized_cnn):
    for op in _ops(quantized_cnn):
        if isinstance(op, (quantized.MaxPool2dOp, quantized.ReshapeOp, quantized.ClampOp)):
            assert quant_type(op.results[0]) == quant_type(op.operands[0])


def test_standalone_relu_clamps_at_the_zero_point(quantized_cnn):
    (clamp,) = [op for op in _ops(quantized_cnn) if isinstance(op, quantized.ClampOp)]
    qtype = quant_type(clamp.input)
    assert (clamp.min.value.data, clamp.max.value.data) == (qtype.zero_point, 127)


def test_weights_are_per_channel_and_bias_is_at_ifm_times_weight_scale():
    module = build_small_cnn()  # uncorrected: the bias is the float bias at its scale
    quantize_module(module, calibration_samples(64, seed=1), options=QuantizationOptions(bias_correction=False))
    conv = next(op for op in _ops(module) if isinstance(op, quantized.Conv2dOp))
    weights_type = quant_type(conv.weights)
    assert weights_type.axis.data == 0 and len(weights_type.scales.data) == 8
    assert conv.activation.data == "relu"
    bias_op = conv.bias.owner
    bias = np.frombuffer(bias_op.value.data.data, np.int32)
    reference = build_small_cnn()
    float_bias = next(
        constant_value(op.value)
        for op in _ops(reference)
        if op.attributes.get(LAYER_ATTR) == StringAttr("conv1_b")
    )
    bias_scales = quant_type(conv.ifm).scale * weights_type.scale_array()
    np.testing.assert_allclose(bias * bias_scales, float_bias, atol=0.5 * bias_scales.max())


def test_quantized_model_tracks_the_float_model(quantized_cnn):
    held_out = calibration_samples(32, seed=7)
    expected = run_graph(build_small_cnn(), held_out).outputs[0]
    actual = run_quantized(quantized_cnn, held_out).outputs[0]
    assert actual.dtype == np.float32
    assert sqnr_db(expected, actual) >= 25.0


def test_non_constant_weights_are_rejected_before_any_change():
    module = build_small_cnn()
    conv = next(op for op in _ops(module) if isinstance(op, graph.Conv2dOp))
    weights = conv.weights.owner
    # Weights computed at run time (here: a reshape) cannot be quantized per channel.
    reshaped = graph.ReshapeOp(weights.output, weights.output.type)
    main_function(module).body.block.insert_op_after(reshaped, weights)
    conv.operands = [conv.ifm, reshaped.output, conv.bias]
    message = "conv1 \\(graph.conv2d\\): weights are not a constant"
    with pytest.raises(UnsupportedOperatorError, match=message):
        quantize_module(module, calibration_samples(4, seed=1))
    assert not any(op.dialect_name() == "quantized" for op in _ops(module))  # left as it was


def test_pass_requires_calibration_and_supported_bits(tmp_path):
    module = build_small_cnn()
    message = 'quantize needs calibration data: quantize{calibration="FILE.npy"}'
    with pytest.raises(PassFailedException, match=message):
        QuantizePass().apply(npuc_context(), module)
    with pytest.raises(PassFailedException, match="supports 8, 16-bit activations, not 12"):
        QuantizePass(calibration="x.npy", activation_bits=12).apply(npuc_context(), module)
    with pytest.raises(PassFailedException, match="missing.npy: cannot read"):
        QuantizePass(calibration=str(tmp_path / "missing.npy")).apply(npuc_context(), module)


def test_pass_reads_calibration_file(tmp_path):
    path = tmp_path / "calib.npy"
    np.save(path, calibration_samples(8, seed=3)[0])
    module = build_small_cnn()
    QuantizePass(calibration=str(path)).apply(npuc_context(), module)
    module.verify()
    assert any(isinstance(op, quantized.FullyConnectedOp) for op in _ops(module))


def test_non_finite_calibration_data_names_the_input():
    samples = calibration_samples(4, seed=1)
    samples[0][2, 0, 0, 0] = np.nan
    with pytest.raises(InputDataError, match="calibration gave no finite range for input 'x'"):
        quantize_module(build_small_cnn(), samples)
