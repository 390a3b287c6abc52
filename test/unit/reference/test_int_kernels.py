"""Unit tests of TFLite's integer arithmetic and of kernel details the models cannot pin down.

Bit-exactness of every kernel against TFLite's reference kernels is tested on
the per-operator models in ``test_int_kernels_tflite.py``; this file checks
the fixed-point building blocks (edge cases, properties) and a few behaviours
chosen on purpose (rounding ties, saturation, NPU-style rescale).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npuc.reference import (
    fixed_point,
    fixed_point_math,
    int_activations,
    int_kernels,
    int_softmax,
    int_tensor_ops,
)

from tflite_models.builder import TensorSpec, build_model, run_model

QMIN, QMAX = -128, 127


def test_avg_pool2d_rounds_half_away_from_zero():
    ifm = np.array([1, 2, -1, -2], dtype=np.int8).reshape(1, 2, 2, 1)
    ofm = int_kernels.avg_pool2d(ifm, (1, 2), (1, 2), (0, 0, 0, 0), QMIN, QMAX)
    # means 1.5 -> 2 and -1.5 -> -2
    np.testing.assert_array_equal(ofm.ravel(), [2, -2])


def test_quantize_matches_tflite_including_ties():
    scale, zp = 0.05, -3
    ties = (np.arange(-40, 40) + 0.5).astype(np.float32) * np.float32(scale)
    rng = np.random.default_rng(0)
    x = np.concatenate([ties, rng.uniform(-8, 8, 176).astype(np.float32)]).reshape(1, 256)
    tensors = [TensorSpec(x.shape, np.float32), TensorSpec(x.shape, np.int8, [scale], [zp])]
    (expected,) = run_model(build_model("QUANTIZE", tensors, [0], [1], "QuantizeOptions"), x)
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
    assert (
        fixed_point.saturating_rounding_doubling_high_mul(-(2**15), -(2**15), bits=16) == 2**15 - 1
    )
    np.testing.assert_array_equal(
        fixed_point.rounding_divide_by_pot(np.array([5, -5, 6, -6, 7, -7]), 1),
        [3, -3, 3, -3, 4, -4],
    )
    assert fixed_point.quantize_multiplier(0.0) == (0, 0)
    assert fixed_point.quantize_multiplier(1.0 - 2.0**-40) == (2**30, 1)
    assert fixed_point.quantize_multiplier(2.0**-40) == (0, 0)
    assert fixed_point.quantize_multiplier(0.75) == (3 * 2**29, 0)


def test_int64_multiplier_rounds_ties_up_with_a_15_bit_multiplier():
    multiplier, shift = fixed_point.quantize_multiplier(0.5)  # 2^30, 0 -> reduced 2^14
    np.testing.assert_array_equal(
        fixed_point.multiply_by_quantized_multiplier_int64(
            np.array([3, -3, 5, -5]), multiplier, shift
        ),
        [2, -1, 3, -2],  # 1.5 -> 2 but -1.5 -> -1: arithmetic shift after +half
    )
    saturated, _ = fixed_point.quantize_multiplier(1.0 - 2.0**-20)
    assert fixed_point.multiply_by_quantized_multiplier_int64(2**20, saturated, 0) == 2**20 - 32


def test_saturating_pot_multiply_and_leading_zeros():
    x = np.array([2**28, -(2**28) - 5, 3, -3])
    np.testing.assert_array_equal(
        fixed_point.saturating_rounding_multiply_by_pot(x, 3), [2**31 - 1, -(2**31), 24, -24]
    )
    np.testing.assert_array_equal(
        fixed_point.count_leading_zeros(np.array([0, 1, 2**31, 3])), [32, 31, 0, 30]
    )


def test_checked_log2_accepts_powers_of_two_only():
    assert fixed_point.checked_log2(2.0**-12) == (True, -12)
    assert fixed_point.checked_log2(1 / 32768) == (True, -15)
    assert fixed_point.checked_log2(0.0003)[0] is False


def test_input_radius():
    assert fixed_point.calculate_input_radius(5, 0) == 31 * 2**26
    assert fixed_point.calculate_input_radius(4, 20, 15) == 0


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


@given(st.floats(min_value=-31.9, max_value=0.0))
def test_fixed_point_exp_is_close_to_exp(x):
    raw = round(x * 2**26)  # Q5.26
    result = fixed_point_math.exp_on_negative_values(np.array([raw]), 5)[0] / 2**31
    assert abs(result - np.exp(raw / 2**26)) < 5e-7


@given(st.integers(min_value=1, max_value=2**31 - 1))
def test_fixed_point_reciprocal_is_close_to_reciprocal(x):
    scale, bits_over_unit = fixed_point_math.reciprocal(np.array([x]), 12)
    value = x / 2**19  # Q12.19
    assert abs(scale[0] / 2**31 * 2.0 ** -bits_over_unit[0] * value - 1) <= 1e-8


def test_fully_connected_rounds_the_fixed_point_product_once():
    """TFLite rounds acc * real_scale in double: one rounding, not two."""
    rng = np.random.default_rng(1)
    ifm = rng.integers(-128, 128, size=(2000, 12), dtype=np.int8)
    weights = rng.integers(-127, 128, size=(7, 12), dtype=np.int8)
    bias = rng.integers(-800, 800, size=7, dtype=np.int32)
    real = int_kernels.conv_real_scale(0.05, rng.uniform(0.005, 0.02, size=7), 0.7)
    multiplier, shift = fixed_point.quantize_multipliers(real)
    ofm = int_kernels.fully_connected(ifm, 3, weights, bias, multiplier, shift, 0, QMIN, QMAX)
    acc = (ifm.astype(np.int64) - 3) @ weights.astype(np.int64).T + bias
    exact = np.clip(fixed_point.round_half_away_from_zero(acc * real), QMIN, QMAX)
    np.testing.assert_array_equal(ofm, exact)
    twice_rounded = np.clip(
        fixed_point.multiply_by_quantized_multiplier(acc, multiplier, shift), QMIN, QMAX
    )
    assert np.count_nonzero(twice_rounded != ofm) > 0  # the data reaches the near-ties


def test_int8_lookup_table_is_indexed_by_value():
    lut = int_activations.int8_lut(0.1, 0, 0.1, 0, lambda x: x)
    np.testing.assert_array_equal(lut, np.arange(-128, 128))


def test_int16_lut_interpolates_between_entries():
    lut = int_softmax.int16_lut(1.0 / 65535, -32768, 2.0 / 65535, lambda v: v)  # identity on [0, 1]
    values = np.array([-32768, -1, 0, 32767])
    np.testing.assert_allclose(
        int_softmax.int16_lut_lookup(values, lut), [0, 16383, 16384, 32767], atol=1
    )


def test_softmax_rows_sum_to_one():
    rng = np.random.default_rng(2)
    int8 = int_softmax.softmax(rng.integers(-128, 128, size=(5, 30), dtype=np.int8), 0.1, 1.0)
    int16 = int_softmax.softmax(
        rng.integers(-32768, 32768, size=(5, 30), dtype=np.int16), 3e-4, 1.0
    )
    np.testing.assert_allclose((int8.astype(int) + 128).sum(axis=1) / 256, 1.0, atol=0.06)
    np.testing.assert_allclose(int16.astype(int).sum(axis=1) / 32768, 1.0, atol=0.002)


@pytest.mark.parametrize("in_scale", [2.0**-12, 3e-4])
def test_int16_logistic_and_tanh_track_the_float_functions(in_scale):
    x = np.arange(-32768, 32768, 7, dtype=np.int16)
    real = x * in_scale
    sigmoid = int_activations.logistic(x, 0, in_scale, 0, 2.0**-15) / 32768
    tanh = int_activations.tanh(x, 0, in_scale, 0, 2.0**-15) / 32768
    assert np.max(np.abs(sigmoid - 1 / (1 + np.exp(-real)))) < 2e-4
    assert np.max(np.abs(tanh - np.tanh(real))) < 4e-4


def test_concatenate_requantizes_inputs_with_other_parameters():
    a = np.array([[10, -10]], np.int8)
    b = np.array([[10, -10]], np.int8)
    joined = int_tensor_ops.concatenate([a, b], [(0.1, 0), (0.2, 0)], (0.1, 0), axis=1)
    np.testing.assert_array_equal(joined, [[10, -10, 20, -20]])


def test_mean_folds_the_count_into_the_multiplier():
    x = np.arange(-60, 60, dtype=np.int8).reshape(1, 4, 5, 6)
    mean = int_tensor_ops.mean(x, [1, 2], True, (0.1, 0), (0.1, 0))
    np.testing.assert_array_equal(mean.ravel(), np.round(x.astype(float).mean(axis=(1, 2)).ravel()))
