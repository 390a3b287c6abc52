"""Bit-exactness of the int8 reference kernels against TFLite's reference kernels.

Each case builds a one-operator TFLite model (see ``tflite_builder``), runs
it with the BUILTIN_REF op resolver and compares with npuc's numpy kernels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tflite
from hypothesis import given
from hypothesis import strategies as st

from npuc.reference import fixed_point, int_kernels
from npuc.reference.float_kernels import output_hw
from tflite_builder import (
    TensorSpec,
    add_options,
    build_model,
    conv2d_options,
    depthwise_options,
    fully_connected_options,
    pool2d_options,
    quantize_options,
    run_model,
)

QMIN, QMAX = -128, 127
ACTIVATIONS = {
    "none": tflite.ActivationFunctionType.NONE,
    "relu": tflite.ActivationFunctionType.RELU,
    "relu6": tflite.ActivationFunctionType.RELU6,
    "relu_n1_to_1": tflite.ActivationFunctionType.RELU_N1_TO_1,
}
PADDINGS = {"same": tflite.Padding.SAME, "valid": tflite.Padding.VALID}


def explicit_padding(padding, in_hw, kernel, strides, dilations=(1, 1)):
    """TFLite SAME/VALID as explicit (top, left, bottom, right); extra goes bottom/right."""
    if padding == "valid":
        return (0, 0, 0, 0)
    before, after = [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dilations):
        out = math.ceil(size / s)
        total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    return (before[0], before[1], after[0], after[1])


def random_int8(rng, shape):
    return rng.integers(QMIN, QMAX + 1, size=shape, dtype=np.int8)


def f32(x):
    return float(np.float32(x))


CONV_CASES = [
    # (n, h, w, c, o, kernel, strides, dilations, padding, activation)
    (1, 7, 6, 3, 4, (3, 3), (1, 1), (1, 1), "same", "none"),
    (2, 9, 8, 5, 6, (3, 2), (2, 2), (1, 1), "same", "relu"),
    (1, 10, 9, 4, 3, (3, 3), (1, 2), (2, 1), "valid", "relu6"),
    (1, 6, 6, 8, 5, (1, 1), (1, 1), (1, 1), "valid", "relu_n1_to_1"),
    (1, 8, 7, 2, 7, (5, 4), (3, 2), (1, 2), "same", "none"),
]


@pytest.mark.parametrize("n,h,w,c,o,kernel,strides,dilations,padding,activation", CONV_CASES)
def test_conv2d_matches_tflite(n, h, w, c, o, kernel, strides, dilations, padding, activation):
    rng = np.random.default_rng(h * 1000 + w * 100 + c * 10 + o)
    ifm = random_int8(rng, (n, h, w, c))
    weights = rng.integers(-127, 128, size=(o, *kernel, c), dtype=np.int8)
    in_scale, in_zp = f32(rng.uniform(0.01, 0.1)), int(rng.integers(-30, 30))
    w_scales = rng.uniform(0.002, 0.02, size=o).astype(np.float32)
    out_scale, out_zp = f32(rng.uniform(0.05, 0.5)), int(rng.integers(-20, 20))
    bias = rng.integers(-3000, 3000, size=o, dtype=np.int32)
    tensors = [
        TensorSpec((n, h, w, c), np.int8, [in_scale], [in_zp]),
        TensorSpec(weights.shape, np.int8, w_scales, [0] * o, 0, weights),
        TensorSpec((o,), np.int32, w_scales * np.float32(in_scale), [0] * o, 0, bias),
        TensorSpec((n, 0, 0, o), np.int8, [out_scale], [out_zp]),
    ]
    pads = explicit_padding(padding, (h, w), kernel, strides, dilations)
    tensors[3].shape = (n, *output_hw((h, w), kernel, strides, dilations, pads), o)
    model = build_model(
        tflite.BuiltinOperator.CONV_2D,
        tflite.BuiltinOptions.Conv2DOptions,
        conv2d_options(strides, dilations, PADDINGS[padding], ACTIVATIONS[activation]),
        tensors,
        [0, 1, 2],
        [3],
    )
    expected = run_model(model, ifm)

    real = in_scale * w_scales.astype(np.float64) / out_scale
    multiplier, shift = fixed_point.quantize_multipliers(real)
    act_min, act_max = fixed_point.activation_range(activation, out_scale, out_zp, QMIN, QMAX)
    ofm = int_kernels.conv2d(
        ifm, in_zp, weights, bias, multiplier, shift, out_zp, act_min, act_max,
        strides, dilations, pads,
    )
    assert ofm.dtype == np.int8
    np.testing.assert_array_equal(ofm, expected)


DEPTHWISE_CASES = [
    # (n, h, w, c, multiplier, kernel, strides, dilations, padding, activation)
    (1, 7, 6, 3, 1, (3, 3), (1, 1), (1, 1), "same", "none"),
    (2, 9, 8, 4, 2, (3, 3), (2, 2), (1, 1), "same", "relu6"),
    (1, 10, 9, 2, 3, (2, 3), (1, 2), (2, 2), "valid", "relu"),
    (1, 5, 5, 6, 1, (5, 5), (1, 1), (1, 1), "same", "relu_n1_to_1"),
]


@pytest.mark.parametrize("n,h,w,c,m,kernel,strides,dilations,padding,activation", DEPTHWISE_CASES)
def test_depthwise_conv2d_matches_tflite(
    n, h, w, c, m, kernel, strides, dilations, padding, activation
):
    rng = np.random.default_rng(h * 1000 + w * 100 + c * 10 + m)
    channels = c * m
    ifm = random_int8(rng, (n, h, w, c))
    weights = rng.integers(-127, 128, size=(1, *kernel, channels), dtype=np.int8)
    in_scale, in_zp = f32(rng.uniform(0.01, 0.1)), int(rng.integers(-30, 30))
    w_scales = rng.uniform(0.005, 0.05, size=channels).astype(np.float32)
    out_scale, out_zp = f32(rng.uniform(0.05, 0.3)), int(rng.integers(-20, 20))
    bias = rng.integers(-3000, 3000, size=channels, dtype=np.int32)
    pads = explicit_padding(padding, (h, w), kernel, strides, dilations)
    out_shape = (n, *output_hw((h, w), kernel, strides, dilations, pads), channels)
    tensors = [
        TensorSpec((n, h, w, c), np.int8, [in_scale], [in_zp]),
        TensorSpec(weights.shape, np.int8, w_scales, [0] * channels, 3, weights),
        TensorSpec((channels,), np.int32, w_scales * np.float32(in_scale), [0] * channels, 0, bias),
        TensorSpec(out_shape, np.int8, [out_scale], [out_zp]),
    ]
    model = build_model(
        tflite.BuiltinOperator.DEPTHWISE_CONV_2D,
        tflite.BuiltinOptions.DepthwiseConv2DOptions,
        depthwise_options(strides, dilations, PADDINGS[padding], ACTIVATIONS[activation], m),
        tensors,
        [0, 1, 2],
        [3],
    )
    expected = run_model(model, ifm)

    real = in_scale * w_scales.astype(np.float64) / out_scale
    multiplier, shift = fixed_point.quantize_multipliers(real)
    act_min, act_max = fixed_point.activation_range(activation, out_scale, out_zp, QMIN, QMAX)
    ofm = int_kernels.depthwise_conv2d(
        ifm, in_zp, weights, bias, multiplier, shift, out_zp, act_min, act_max,
        strides, dilations, pads, m,
    )
    np.testing.assert_array_equal(ofm, expected)


@pytest.mark.parametrize(
    "n,k,o,activation", [(1, 16, 8, "none"), (3, 37, 11, "relu"), (2, 5, 20, "relu6")]
)
def test_fully_connected_matches_tflite(n, k, o, activation):
    rng = np.random.default_rng(n * 100 + k + o)
    ifm = random_int8(rng, (n, k))
    weights = rng.integers(-127, 128, size=(o, k), dtype=np.int8)
    in_scale, in_zp = f32(rng.uniform(0.01, 0.1)), int(rng.integers(-30, 30))
    w_scale = f32(rng.uniform(0.002, 0.02))
    out_scale, out_zp = f32(rng.uniform(0.05, 0.5)), int(rng.integers(-20, 20))
    bias_scale = np.float32(in_scale) * np.float32(w_scale)
    bias = rng.integers(-3000, 3000, size=o, dtype=np.int32)
    tensors = [
        TensorSpec((n, k), np.int8, [in_scale], [in_zp]),
        TensorSpec((o, k), np.int8, [w_scale], [0], 0, weights),
        TensorSpec((o,), np.int32, [bias_scale], [0], 0, bias),
        TensorSpec((n, o), np.int8, [out_scale], [out_zp]),
    ]
    model = build_model(
        tflite.BuiltinOperator.FULLY_CONNECTED,
        tflite.BuiltinOptions.FullyConnectedOptions,
        fully_connected_options(ACTIVATIONS[activation]),
        tensors,
        [0, 1, 2],
        [3],
    )
    expected = run_model(model, ifm)

    # TFLite GetQuantizedConvolutionMultipler: float32 product of scales, then double.
    multiplier, shift = fixed_point.quantize_multiplier(float(bias_scale) / out_scale)
    act_min, act_max = fixed_point.activation_range(activation, out_scale, out_zp, QMIN, QMAX)
    ofm = int_kernels.fully_connected(
        ifm, in_zp, weights, bias, multiplier, shift, out_zp, act_min, act_max
    )
    np.testing.assert_array_equal(ofm, expected)


ADD_CASES = [
    # (a shape, b shape, a_scale, b_scale, out_scale, activation)
    ((1, 4, 5, 3), (1, 4, 5, 3), 0.05, 0.08, 0.1, "none"),
    ((2, 3, 4, 6), (1, 1, 4, 6), 0.2, 0.02, 0.15, "relu"),
    ((1, 6, 6, 4), (4,), 0.01, 0.01, 0.03, "relu6"),
    ((1, 5, 7, 2), (1, 5, 1, 2), 0.1, 0.07, 0.004, "relu_n1_to_1"),
]


@pytest.mark.parametrize("a_shape,b_shape,a_scale,b_scale,out_scale,activation", ADD_CASES)
def test_add_matches_tflite(a_shape, b_shape, a_scale, b_scale, out_scale, activation):
    rng = np.random.default_rng(len(a_shape) + len(b_shape) + int(out_scale * 1000))
    a, b = random_int8(rng, a_shape), random_int8(rng, b_shape)
    a_zp, b_zp, out_zp = (int(z) for z in rng.integers(-40, 40, size=3))
    out_shape = np.broadcast_shapes(a_shape, b_shape)
    tensors = [
        TensorSpec(a_shape, np.int8, [a_scale], [a_zp]),
        TensorSpec(b_shape, np.int8, [b_scale], [b_zp]),
        TensorSpec(out_shape, np.int8, [out_scale], [out_zp]),
    ]
    model = build_model(
        tflite.BuiltinOperator.ADD,
        tflite.BuiltinOptions.AddOptions,
        add_options(ACTIVATIONS[activation]),
        tensors,
        [0, 1],
        [2],
    )
    expected = run_model(model, a, b)

    act_min, act_max = fixed_point.activation_range(activation, out_scale, out_zp, QMIN, QMAX)
    ofm = int_kernels.add(
        a, a_zp, a_scale, b, b_zp, b_scale, out_zp, out_scale, act_min, act_max
    )
    np.testing.assert_array_equal(ofm, expected)


POOL_CASES = [
    # (shape, kernel, strides, padding, activation)
    ((1, 7, 6, 3), (3, 3), (1, 1), "same", "none"),
    ((2, 9, 8, 4), (3, 3), (2, 2), "same", "relu"),
    ((1, 10, 9, 2), (2, 3), (2, 2), "valid", "relu6"),
    ((1, 8, 8, 5), (4, 4), (3, 3), "same", "relu_n1_to_1"),
]


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("shape,kernel,strides,padding,activation", POOL_CASES)
def test_pool2d_matches_tflite(op, shape, kernel, strides, padding, activation):
    rng = np.random.default_rng(sum(shape) + kernel[0])
    ifm = random_int8(rng, shape)
    scale, zp = f32(rng.uniform(0.01, 0.1)), int(rng.integers(-30, 30))
    pads = explicit_padding(padding, shape[1:3], kernel, strides)
    out_shape = (shape[0], *output_hw(shape[1:3], kernel, strides, (1, 1), pads), shape[3])
    tensors = [
        TensorSpec(shape, np.int8, [scale], [zp]),
        TensorSpec(out_shape, np.int8, [scale], [zp]),
    ]
    opcode = {
        "max": tflite.BuiltinOperator.MAX_POOL_2D,
        "avg": tflite.BuiltinOperator.AVERAGE_POOL_2D,
    }
    model = build_model(
        opcode[op],
        tflite.BuiltinOptions.Pool2DOptions,
        pool2d_options(kernel, strides, PADDINGS[padding], ACTIVATIONS[activation]),
        tensors,
        [0],
        [1],
    )
    expected = run_model(model, ifm)

    act_min, act_max = fixed_point.activation_range(activation, scale, zp, QMIN, QMAX)
    kernel_fn = {"max": int_kernels.max_pool2d, "avg": int_kernels.avg_pool2d}[op]
    ofm = kernel_fn(ifm, kernel, strides, pads, act_min, act_max)
    np.testing.assert_array_equal(ofm, expected)


def test_avg_pool2d_rounds_half_away_from_zero():
    ifm = np.array([1, 2, -1, -2], dtype=np.int8).reshape(1, 2, 2, 1)
    ofm = int_kernels.avg_pool2d(ifm, (1, 2), (1, 2), (0, 0, 0, 0), QMIN, QMAX)
    # means 1.5 -> 2 and -1.5 -> -2
    np.testing.assert_array_equal(ofm.ravel(), [2, -2])


@pytest.mark.parametrize(
    "in_scale,in_zp,out_scale,out_zp",
    [(0.05, 3, 0.1, -7), (0.02, -10, 0.013, 5), (0.3, 0, 0.02, 1)],
)
def test_requantize_matches_tflite(in_scale, in_zp, out_scale, out_zp):
    q = np.arange(QMIN, QMAX + 1, dtype=np.int8).reshape(1, 256)
    tensors = [
        TensorSpec(q.shape, np.int8, [in_scale], [in_zp]),
        TensorSpec(q.shape, np.int8, [out_scale], [out_zp]),
    ]
    model = build_model(
        tflite.BuiltinOperator.QUANTIZE, tflite.BuiltinOptions.QuantizeOptions,
        quantize_options, tensors, [0], [1],
    )
    expected = run_model(model, q)
    ofm = int_kernels.requantize(q, in_scale, in_zp, out_scale, out_zp, QMIN, QMAX)
    np.testing.assert_array_equal(ofm, expected)


def test_quantize_matches_tflite_including_ties():
    scale, zp = 0.05, -3
    ties = (np.arange(-40, 40) + 0.5).astype(np.float32) * np.float32(scale)
    rng = np.random.default_rng(0)
    x = np.concatenate([ties, rng.uniform(-8, 8, 176).astype(np.float32)]).reshape(1, 256)
    tensors = [TensorSpec(x.shape, np.float32), TensorSpec(x.shape, np.int8, [scale], [zp])]
    model = build_model(
        tflite.BuiltinOperator.QUANTIZE, tflite.BuiltinOptions.QuantizeOptions,
        quantize_options, tensors, [0], [1],
    )
    expected = run_model(model, x)
    np.testing.assert_array_equal(fixed_point.quantize(x, scale, zp, QMIN, QMAX), expected)


def test_per_axis_quantize_dequantize_round_trip():
    scales = np.array([0.1, 0.02, 0.5], dtype=np.float32)
    zero_points = np.array([0, 3, -2])
    q = np.arange(-4, 5, dtype=np.int8).reshape(3, 3).T
    x = fixed_point.dequantize(q, scales, zero_points, axis=1)
    np.testing.assert_allclose(x[1], (q[1] - zero_points) * scales, rtol=1e-6)
    requantized = fixed_point.quantize(x, scales, zero_points, QMIN, QMAX, axis=1)
    np.testing.assert_array_equal(requantized, q)


@pytest.mark.parametrize(
    "activation,expected",
    [("none", (-128, 127)), ("relu", (-5, 127)), ("relu6", (-5, 55)), ("relu_n1_to_1", (-15, 5))],
)
def test_activation_range(activation, expected):
    assert fixed_point.activation_range(activation, 0.1, -5, QMIN, QMAX) == expected


def test_fixed_point_edge_cases():
    int32_min = -(2**31)
    assert fixed_point.saturating_rounding_doubling_high_mul(int32_min, int32_min) == 2**31 - 1
    np.testing.assert_array_equal(
        fixed_point.rounding_divide_by_pot(np.array([5, -5, 6, -6, 7, -7]), 1),
        [3, -3, 3, -3, 4, -4],
    )
    assert fixed_point.quantize_multiplier(0.0) == (0, 0)
    assert fixed_point.quantize_multiplier(1.0 - 2.0**-40) == (2**30, 1)
    assert fixed_point.quantize_multiplier(2.0**-40) == (0, 0)
    assert fixed_point.quantize_multiplier(0.75) == (3 * 2**29, 0)


@given(st.floats(min_value=2.0**-31, max_value=2.0**20))
def test_quantize_multiplier_precision(real):
    multiplier, shift = fixed_point.quantize_multiplier(real)
    assert 2**30 <= multiplier < 2**31
    assert abs(multiplier * 2.0 ** (shift - 31) - real) <= real * 2.0**-31


@given(
    st.integers(min_value=-(2**20), max_value=2**20),
    st.floats(min_value=2.0**-20, max_value=2.0**8),
)
def test_multiply_by_quantized_multiplier_close_to_real_product(x, real):
    multiplier, shift = fixed_point.quantize_multiplier(real)
    result = int(fixed_point.multiply_by_quantized_multiplier(np.int64(x), multiplier, shift))
    assert abs(result - round(x * real)) <= 1
