"""The integer reference interpreter: kernels wiring, rescale parameters, TFLite, accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import tflite
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    IntegerType,
    ModuleOp,
    TensorType,
    f32,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

import npuc
from npuc.dialects import graph, npu, quantized
from npuc.dialects.quantized import UniformQuantizedType
from npuc.errors import InputDataError, UnsupportedOperatorError
from npuc.reference import (
    fixed_point,
    int_elementwise,
    int_kernels,
    int_softmax,
    int_tensor_ops,
)
from npuc.reference.graph_interpreter import run_graph
from npuc.reference.int_handlers import QUANTIZED_HANDLERS
from npuc.reference.int_parameters import activation_bounds, rescale_parameters
from npuc.reference.quantized_interpreter import (
    run_block,
    run_quantized,
)

from tflite_models.builder import TensorSpec, build_model, run_model


def uniform(
    scales: Sequence[float], zero_points: Sequence[int], axis: int = -1, bits: int = 8
) -> UniformQuantizedType:
    return UniformQuantizedType(IntegerType(bits), scales, zero_points, axis)


def qtensor(qtype: UniformQuantizedType, *shape: int) -> TensorType:
    return TensorType(qtype, shape)


class FunctionBuilder:
    """Appends ops to `@main` and wraps it in a verified module."""

    def __init__(self, *arg_types: Attribute):
        self.block = Block(arg_types=arg_types)

    def add(self, op: Operation) -> SSAValue:
        self.block.add_op(op)
        return op.results[0]

    def constant(self, stored: np.ndarray, element_type: Attribute | None = None) -> SSAValue:
        storage = IntegerType(stored.dtype.itemsize * 8)
        data = BytesAttr(stored.tobytes())
        attr = DenseIntOrFPElementsAttr(TensorType(storage, stored.shape), data)
        result_type = TensorType(element_type, stored.shape) if element_type else None
        return self.add(quantized.ConstantOp(attr, result_type))

    def module(self, *results: SSAValue) -> ModuleOp:
        self.block.add_op(ReturnOp(*results))
        function_type = ([a.type for a in self.block.args], [r.type for r in results])
        module = ModuleOp([FuncOp("main", function_type, Region(self.block))])
        module.verify()
        return module


def f32s(*values: float) -> list[float]:
    return [float(np.float32(v)) for v in values]


# --- a conv + add + pool network against the int kernels ---------------------

X_TYPE = uniform(f32s(0.05), [-3])
Y_TYPE = uniform(f32s(0.02), [2])
CONV_TYPE = uniform(f32s(0.08), [-128])
ADD_TYPE = uniform(f32s(0.03), [-100])
W_SCALES = f32s(0.011, 0.004, 0.02, 0.007)


def conv_add_pool(rng: np.random.Generator) -> tuple[ModuleOp, np.ndarray, np.ndarray]:
    """int8 interface; the weights are staged to SRAM as npu-schedule would."""
    weights = rng.integers(-20, 21, size=(4, 3, 3, 3), dtype=np.int8)
    bias = rng.integers(-2000, 2000, size=4, dtype=np.int32)
    b = FunctionBuilder(qtensor(X_TYPE, 1, 6, 6, 3), qtensor(Y_TYPE, 1, 6, 6, 4))
    x, y = b.block.args
    staged = b.add(npu.StageOp(b.constant(weights, uniform(W_SCALES, [0] * 4, axis=0)), "sram"))
    conv = b.add(
        quantized.Conv2dOp(
            x, staged, b.constant(bias), qtensor(CONV_TYPE, 1, 6, 6, 4),
            padding=(1, 1, 1, 1), activation="relu",
        )
    )  # fmt: skip
    added = b.add(quantized.AddOp(conv, y, qtensor(ADD_TYPE, 1, 6, 6, 4), activation="relu6"))
    pooled = b.add(quantized.MaxPool2dOp(added, qtensor(ADD_TYPE, 1, 3, 3, 4), (2, 2), (2, 2)))
    return b.module(pooled), weights, bias


def expected_conv_add_pool(x, y, weights, bias):
    real = np.float64(X_TYPE.scale) * np.array(W_SCALES, np.float64) / np.float64(CONV_TYPE.scale)
    multiplier, shift = fixed_point.quantize_multipliers(real)
    conv_min, conv_max = fixed_point.activation_range("relu", 0.08, -128, -128, 127)
    conv = int_kernels.conv2d(
        x, -3, weights, bias, multiplier, shift, -128, conv_min, conv_max,
        (1, 1), (1, 1), (1, 1, 1, 1),
    )  # fmt: skip
    add_min, add_max = fixed_point.activation_range("relu6", ADD_TYPE.scale, -100, -128, 127)
    added = int_elementwise.add(
        conv, -128, CONV_TYPE.scale, y, 2, Y_TYPE.scale, -100, ADD_TYPE.scale, add_min, add_max
    )
    return int_kernels.max_pool2d(added, (2, 2), (2, 2), (0, 0, 0, 0), -128, 127)


def random_int8(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def test_conv_add_pool_matches_int_kernels():
    rng = np.random.default_rng(0)
    module, weights, bias = conv_add_pool(rng)
    x, y = random_int8(rng, 1, 6, 6, 3), random_int8(rng, 1, 6, 6, 4)
    (actual,) = run_quantized(module, [x, y]).outputs
    assert actual.dtype == np.int8 and actual.shape == (1, 3, 3, 4)
    np.testing.assert_array_equal(actual, expected_conv_add_pool(x, y, weights, bias))
    assert len(np.unique(actual)) > 10  # neither saturated nor constant


def test_batch_of_n_equals_n_separate_runs():
    rng = np.random.default_rng(1)
    module, _, _ = conv_add_pool(rng)
    x, y = random_int8(rng, 4, 6, 6, 3), random_int8(rng, 4, 6, 6, 4)
    (batched,) = run_quantized(module, [x, y]).outputs
    separate = [run_quantized(module, [x[i : i + 1], y[i : i + 1]]).outputs[0] for i in range(4)]
    np.testing.assert_array_equal(batched, np.concatenate(separate))


def test_integer_argument_rejects_float_data():
    module, _, _ = conv_add_pool(np.random.default_rng(2))
    floats = [np.zeros((1, 6, 6, 3), np.float32), np.zeros((1, 6, 6, 4), np.int8)]
    with pytest.raises(InputDataError, match="input 'argument 0' is quantized"):
        run_quantized(module, floats)


# --- rescale parameters: TFLite's formulas ----------------------------------


def fully_connected_module(in_type, w_type, out_type, weights, bias, activation) -> ModuleOp:
    n, k, o = 2, weights.shape[1], weights.shape[0]
    b = FunctionBuilder(qtensor(in_type, n, k))
    fc = b.add(
        quantized.FullyConnectedOp(
            b.block.args[0], b.constant(weights, w_type), b.constant(bias),
            qtensor(out_type, n, o), activation,
        )
    )  # fmt: skip
    return b.module(fc)


FC_SCALES = (0.06405920535326004, 0.027708884328603745, 0.005056378897279501)
"""ifm, weight and ofm scales whose float32 and double products give different multipliers."""


def test_fully_connected_multiplier_uses_double_scale_product():
    in_scale, w_scale, out_scale = FC_SCALES
    module = fully_connected_module(
        uniform([in_scale], [0]), uniform([w_scale], [0]), uniform([out_scale], [0]),
        np.ones((3, 4), np.int8), np.zeros(3, np.int32), "none",
    )  # fmt: skip
    fc = next(op for op in module.walk() if isinstance(op, quantized.FullyConnectedOp))
    multiplier, shift = rescale_parameters(fc)
    double_real = (
        float(np.float32(in_scale)) * float(np.float32(w_scale)) / float(np.float32(out_scale))
    )
    float32_real = float(np.float32(in_scale) * np.float32(w_scale)) / float(np.float32(out_scale))
    expected = fixed_point.quantize_multiplier(double_real)
    assert (multiplier.tolist(), shift.tolist()) == ([expected[0]] * 3, [expected[1]] * 3)
    assert fixed_point.quantize_multiplier(float32_real) != expected


def test_fully_connected_matches_tflite_next_to_rounding_ties():
    """TFLite's reference FULLY_CONNECTED rounds acc * real_scale in double.

    The accumulators below put acc * real_scale within 2^-20 of a .5 tie, where
    the fixed-point multiplier would round the other way.
    """
    rng = np.random.default_rng(3)
    in_scale, w_scale, out_scale = FC_SCALES
    weights = rng.integers(-127, 128, size=(6, 20), dtype=np.int8)
    bias = rng.integers(-5000, 5000, size=6, dtype=np.int32)
    module = fully_connected_module(
        uniform([in_scale], [5]), uniform([w_scale], [0]), uniform([out_scale], [-7]),
        weights, bias, "relu",
    )  # fmt: skip
    bias_scale = float(np.float32(in_scale) * np.float32(w_scale))
    model = build_model(
        "FULLY_CONNECTED",
        [
            TensorSpec((400, 20), np.int8, [in_scale], [5]),
            TensorSpec((6, 20), np.int8, [w_scale], [0], 0, weights),
            TensorSpec((6,), np.int32, [bias_scale], [0], 0, bias),
            TensorSpec((400, 6), np.int8, [out_scale], [-7]),
        ],
        [0, 1, 2],
        [3],
        "FullyConnectedOptions",
        FusedActivationFunction=tflite.ActivationFunctionType.RELU,
    )
    ifm = random_int8(rng, 400, 20)
    fc = next(op for op in module.walk() if isinstance(op, quantized.FullyConnectedOp))
    multiplier, shift = rescale_parameters(fc)
    acc = (ifm.astype(np.int64) - 5) @ weights.astype(np.int64).T + bias
    fixed = fixed_point.multiply_by_quantized_multiplier(acc, multiplier, shift)
    exact = fixed_point.round_half_away_from_zero(acc * (in_scale * w_scale / out_scale))
    assert np.count_nonzero(fixed != exact) > 0  # the data reaches the ties
    np.testing.assert_array_equal(run_quantized(module, [ifm]).outputs[0], run_model(model, ifm)[0])


def test_per_channel_depthwise_matches_tflite():
    rng = np.random.default_rng(4)
    channels, multiplier = 3, 2
    in_type, out_type = uniform(f32s(0.04), [10]), uniform(f32s(0.03), [-20])
    scales = f32s(*rng.uniform(0.002, 0.02, size=channels * multiplier))
    weights = rng.integers(-127, 128, size=(1, 3, 3, channels * multiplier), dtype=np.int8)
    bias = rng.integers(-3000, 3000, size=channels * multiplier, dtype=np.int32)
    b = FunctionBuilder(qtensor(in_type, 1, 7, 7, channels))
    depthwise = b.add(
        quantized.DepthwiseConv2dOp(
            b.block.args[0], b.constant(weights, uniform(scales, [0] * 6, axis=3)),
            b.constant(bias), qtensor(out_type, 1, 4, 4, 6),
            strides=(2, 2), padding=(1, 1, 1, 1), activation="relu6",
        )
    )  # fmt: skip
    module = b.module(depthwise)
    model = build_model(
        "DEPTHWISE_CONV_2D",
        [
            TensorSpec((1, 7, 7, channels), np.int8, [in_type.scale], [10]),
            TensorSpec(weights.shape, np.int8, scales, [0] * 6, 3, weights),
            TensorSpec((6,), np.int32, np.float32(in_type.scale) * np.float32(scales), [0] * 6,
                       0, bias),
            TensorSpec((1, 4, 4, 6), np.int8, [out_type.scale], [-20]),
        ],
        [0, 1, 2],
        [3],
        "DepthwiseConv2DOptions",
        Padding=tflite.Padding.SAME, StrideH=2, StrideW=2, DilationHFactor=1, DilationWFactor=1,
        DepthMultiplier=multiplier, FusedActivationFunction=tflite.ActivationFunctionType.RELU6,
    )  # fmt: skip
    ifm = random_int8(rng, 1, 7, 7, channels)
    np.testing.assert_array_equal(run_quantized(module, [ifm]).outputs[0], run_model(model, ifm)[0])


def test_activation_bounds_quantize_the_fused_range():
    b = FunctionBuilder(qtensor(uniform([0.05], [-10]), 1, 8))
    x = b.block.args[0]
    relu6 = b.add(quantized.AddOp(x, x, qtensor(uniform([0.05], [-10]), 1, 8), "relu6"))
    plain = b.add(quantized.AddOp(relu6, x, qtensor(uniform([0.05], [-10]), 1, 8), "none"))
    b.module(plain)
    assert activation_bounds(relu6.owner) == (-10, 110)
    assert activation_bounds(plain.owner) == (-128, 127)


# --- float interface: quantized model tracks the float model ----------------


def activation_type(values: np.ndarray) -> UniformQuantizedType:
    low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    scale = float(np.float32((high - low) / 255))
    return uniform([scale], [int(np.clip(round(-128 - low / scale), -128, 127))])


def float_const(b: FunctionBuilder, array: np.ndarray) -> SSAValue:
    attr = DenseIntOrFPElementsAttr(TensorType(f32, array.shape), BytesAttr(array.tobytes()))
    return b.add(graph.ConstantOp(attr))


def float_and_quantized_models(rng: np.random.Generator, calibration: np.ndarray):
    """conv+relu -> avg pool -> flatten -> FC in float, and its hand-quantized twin.

    Returns both modules and the ofm scale of the quantized FC.
    """
    conv_w = rng.normal(size=(6, 3, 3, 2)).astype(np.float32) * 0.3
    conv_b = rng.normal(size=6).astype(np.float32) * 0.1
    fc_w = rng.normal(size=(4, 24)).astype(np.float32) * 0.2
    fc_b = rng.normal(size=4).astype(np.float32) * 0.1

    fb = FunctionBuilder(TensorType(f32, (1, 4, 4, 2)))
    conv = fb.add(
        graph.Conv2dOp(
            fb.block.args[0], float_const(fb, conv_w), float_const(fb, conv_b),
            TensorType(f32, (1, 4, 4, 6)), padding=(1, 1, 1, 1), activation="relu",
        )
    )  # fmt: skip
    pool = fb.add(graph.AvgPool2dOp(conv, TensorType(f32, (1, 2, 2, 6)), (2, 2), (2, 2)))
    flat = fb.add(graph.ReshapeOp(pool, TensorType(f32, (1, 24))))
    fc = fb.add(
        graph.FullyConnectedOp(
            flat, float_const(fb, fc_w), float_const(fb, fc_b), TensorType(f32, (1, 4))
        )
    )
    float_module = fb.module(fc)

    values = run_graph(float_module, [calibration], keep_values=True).values
    x_type, conv_type, fc_type = (activation_type(values[v]) for v in (fb.block.args[0], conv, fc))
    conv_stored, conv_scales = quantize_per_channel(conv_w)
    fc_stored, fc_scales = quantize_per_channel(fc_w)

    qb = FunctionBuilder(TensorType(f32, (1, 4, 4, 2)))
    x = qb.add(quantized.QuantizeOp(qb.block.args[0], qtensor(x_type, 1, 4, 4, 2)))
    qconv = qb.add(
        quantized.Conv2dOp(
            x, qb.constant(conv_stored, uniform(conv_scales, [0] * 6, 0)),
            qb.constant(quantize_bias(conv_b, x_type.scale, conv_scales)),
            qtensor(conv_type, 1, 4, 4, 6), padding=(1, 1, 1, 1), activation="relu",
        )
    )  # fmt: skip
    qpool = qb.add(quantized.AvgPool2dOp(qconv, qtensor(conv_type, 1, 2, 2, 6), (2, 2), (2, 2)))
    qflat = qb.add(quantized.ReshapeOp(qpool, qtensor(conv_type, 1, 24)))
    qfc = qb.add(
        quantized.FullyConnectedOp(
            qflat, qb.constant(fc_stored, uniform(fc_scales, [0] * 4, 0)),
            qb.constant(quantize_bias(fc_b, conv_type.scale, fc_scales)), qtensor(fc_type, 1, 4),
        )
    )  # fmt: skip
    return float_module, qb.module(qb.add(quantized.DequantizeOp(qfc))), fc_type.scale


def quantize_per_channel(weights: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Symmetric int8 weights per output channel (axis 0) and their scales."""
    peak = np.max(np.abs(weights), axis=tuple(range(1, weights.ndim)))
    scales = (peak / 127).astype(np.float32)
    stored = fixed_point.quantize(weights, scales, 0, -127, 127, axis=0)
    return stored, [float(s) for s in scales]


def quantize_bias(bias: np.ndarray, ifm_scale: float, scales: Sequence[float]) -> np.ndarray:
    return np.round(bias / (ifm_scale * np.array(scales))).astype(np.int32)


def test_quantized_model_tracks_float_model():
    rng = np.random.default_rng(5)
    calibration = rng.normal(size=(64, 4, 4, 2)).astype(np.float32)
    float_module, quantized_module, ofm_scale = float_and_quantized_models(rng, calibration)
    test = rng.normal(size=(16, 4, 4, 2)).astype(np.float32)
    expected = npuc.run(float_module, [test])[0]
    actual = npuc.run(quantized_module, [test])[0]
    assert actual.dtype == np.float32 and actual.shape == (16, 4)
    # quantization noise: about one output step on average, 33 dB SQNR here
    noise = actual - expected
    assert np.mean(np.abs(noise)) <= 1.5 * ofm_scale
    assert 10 * np.log10(np.sum(expected**2) / np.sum(noise**2)) >= 30.0


# --- handlers: every op, 16x8, several results, TFLite's resize rules -----------

def test_every_quantized_op_has_a_handler():
    handled = {op.name for op in QUANTIZED_HANDLERS}
    assert {op.name for op in quantized.Quantized.operations} <= handled


def test_16x8_conv_uses_int16_activations_and_int64_bias():
    rng = np.random.default_rng(6)
    in_type, out_type = uniform(f32s(3e-4), [0], bits=16), uniform(f32s(5e-4), [0], bits=16)
    scales = f32s(*rng.uniform(0.002, 0.02, size=4))
    weights = rng.integers(-127, 128, size=(4, 3, 3, 2), dtype=np.int8)
    bias = rng.integers(-(2**20), 2**20, size=4).astype(np.int64)
    b = FunctionBuilder(qtensor(in_type, 1, 5, 5, 2))
    conv = b.add(
        quantized.Conv2dOp(
            b.block.args[0], b.constant(weights, uniform(scales, [0] * 4, axis=0)),
            b.constant(bias), qtensor(out_type, 1, 5, 5, 4), padding=(1, 1, 1, 1),
        )
    )  # fmt: skip
    module = b.module(conv)
    ifm = rng.integers(-(2**15), 2**15, size=(3, 5, 5, 2)).astype(np.int16)
    (ofm,) = run_quantized(module, [ifm]).outputs
    multiplier, shift = rescale_parameters(conv.owner)
    expected = int_kernels.conv2d(
        ifm, 0, weights, bias, multiplier, shift, 0, -(2**15), 2**15 - 1,
        (1, 1), (1, 1), (1, 1, 1, 1),
    )  # fmt: skip
    assert ofm.dtype == np.int16
    np.testing.assert_array_equal(ofm, expected)


def test_split_gives_every_piece_of_every_sample():
    qtype = uniform([0.1], [3])
    b = FunctionBuilder(qtensor(qtype, 1, 2, 5))
    split = quantized.SplitOp(
        b.block.args[0], [qtensor(qtype, 1, 2, 2), qtensor(qtype, 1, 2, 3)], 2
    )
    b.block.add_op(split)
    module = b.module(*split.results)
    x = np.arange(40, dtype=np.int8).reshape(4, 2, 5)
    first, second = run_quantized(module, [x]).outputs
    np.testing.assert_array_equal(first, x[..., :2])
    np.testing.assert_array_equal(second, x[..., 2:])


def resize_module(mode: str, coordinates: str, nearest: str) -> ModuleOp:
    qtype = uniform([0.1], [0])
    b = FunctionBuilder(qtensor(qtype, 1, 4, 5, 2))
    resize = b.add(
        quantized.ResizeOp(b.block.args[0], qtensor(qtype, 1, 7, 9, 2), mode, coordinates, nearest)
    )
    return b.module(resize)


@pytest.mark.parametrize(
    "mode,coordinates,nearest,flags",
    [
        ("nearest", "asymmetric", "floor", (False, False)),
        ("nearest", "align_corners", "round_prefer_ceil", (True, False)),
        ("nearest", "half_pixel", "round_prefer_ceil", (False, True)),
        ("linear", "asymmetric", "floor", (False, False)),
        ("linear", "align_corners", "floor", (True, False)),
        ("linear", "pytorch_half_pixel", "floor", (False, True)),
    ],
)
def test_resize_runs_tflite_resize_with_matching_flags(mode, coordinates, nearest, flags):
    x = np.random.default_rng(7).integers(-128, 128, size=(2, 4, 5, 2), dtype=np.int8)
    (ofm,) = run_quantized(resize_module(mode, coordinates, nearest), [x]).outputs
    function = (
        int_tensor_ops.resize_nearest if mode == "nearest" else int_tensor_ops.resize_bilinear
    )
    np.testing.assert_array_equal(ofm, function(x, (7, 9), *flags))


def test_resize_without_tflite_counterpart_is_rejected():
    module = resize_module("nearest", "half_pixel", "floor")
    with pytest.raises(UnsupportedOperatorError, match="no TFLite resize"):
        run_quantized(module, [np.zeros((1, 4, 5, 2), np.int8)])


def test_softmax_along_an_inner_axis():
    in_type, out_type = uniform([0.1], [5]), uniform([1 / 256], [-128])
    b = FunctionBuilder(qtensor(in_type, 1, 6, 3))
    softmax = b.add(quantized.SoftmaxOp(b.block.args[0], qtensor(out_type, 1, 6, 3), 1))
    x = np.random.default_rng(8).integers(-128, 128, size=(2, 6, 3), dtype=np.int8)
    (ofm,) = run_quantized(b.module(softmax), [x]).outputs
    expected = int_softmax.softmax(np.ascontiguousarray(x.transpose(0, 2, 1)), 0.1, 1.0)
    np.testing.assert_array_equal(ofm, expected.transpose(0, 2, 1))


def test_sub_broadcasts_a_constant_over_a_batch():
    a_type, out_type = uniform([0.05], [2]), uniform([0.08], [-4])
    b = FunctionBuilder(qtensor(a_type, 1, 3, 4))
    constant = b.constant(np.arange(4, dtype=np.int8), uniform([0.02], [1]))
    sub = b.add(quantized.SubOp(b.block.args[0], constant, qtensor(out_type, 1, 3, 4), "relu"))
    x = np.random.default_rng(9).integers(-128, 128, size=(5, 3, 4), dtype=np.int8)
    (ofm,) = run_quantized(b.module(sub), [x]).outputs
    bounds = fixed_point.activation_range("relu", 0.08, -4, -128, 127)
    expected = int_elementwise.sub(
        x, 2, 0.05, np.arange(4, dtype=np.int8), 1, 0.02, -4, 0.08, *bounds
    )
    np.testing.assert_array_equal(ofm, expected)


# --- run_block and run_module dispatch ---------------------------------------


def test_run_block_executes_a_cpu_op_body():
    qtype = uniform([0.1], [0])
    block = Block(arg_types=[qtensor(qtype, 1, 4)])
    clamp = quantized.ClampOp(block.args[0], -5, 5)
    block.add_ops([clamp, npu.YieldOp(clamp.output)])
    (result,) = run_block(block, [np.array([[-100, -3, 4, 100]], np.int8)])
    np.testing.assert_array_equal(result, [[-5, -3, 4, 5]])
    assert result.dtype == np.int8


def test_softmax_outside_tflite_output_format_is_rejected():
    b = FunctionBuilder(qtensor(uniform([0.1], [5]), 1, 6))
    output = qtensor(uniform([1 / 128], [0]), 1, 6)
    softmax = b.add(quantized.SoftmaxOp(b.block.args[0], output, 1))
    with pytest.raises(UnsupportedOperatorError, match="output scale 1/256 and zero point -128"):
        run_quantized(b.module(softmax), [np.zeros((1, 6), np.int8)])
