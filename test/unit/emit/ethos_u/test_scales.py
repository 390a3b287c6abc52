"""Ethos-U scale/bias records against Vela's (`npu_encode_bias`, `quantise_scale`: test-only oracles)."""

from __future__ import annotations

import numpy as np
import pytest
from ethosu.vela.api import npu_encode_bias
from ethosu.vela.scaling import quantise_scale, reduced_quantise_scale
from hypothesis import given, settings
from hypothesis import strategies as st

from npuc.emit.ethos_u.scales import RECORD_BYTES, record_scales, scale_bias_records
from npuc.errors import TargetError
from npuc.reference.fixed_point import (
    multiply_by_quantized_multiplier_int64,
    quantize_multipliers,
)

BIAS_40 = st.integers(-(2**39), 2**39 - 1)
REAL_SCALES = st.floats(2.0**-30, 1.99)


def vela_record(bias: int, real_scale: float, reduced: bool) -> bytes:
    scale, shift = (reduced_quantise_scale if reduced else quantise_scale)(real_scale)
    return bytes(npu_encode_bias(np.int64(bias), scale, shift))


def ours(bias: np.ndarray, real_scales: list[float]) -> bytes:
    multiplier, shift = quantize_multipliers(real_scales)
    return scale_bias_records("conv_1", bias, multiplier, shift, reduced=bias.dtype == np.int64)


def not_rounding_to_one(real_scale: float) -> bool:
    """TFLite halves a Q31 significand that rounds to 2^31 (Vela does not): the one known difference."""
    return round(np.frexp(real_scale)[0] * 2**31) != 2**31


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**31), 2**31 - 1), REAL_SCALES.filter(not_rounding_to_one)), min_size=1, max_size=8))
def test_int32_bias_records_equal_velas(channels):
    bias = np.array([b for b, _ in channels], dtype=np.int32)
    real = [r for _, r in channels]
    assert ours(bias, real) == b"".join(vela_record(b, r, reduced=False) for b, r in channels)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(BIAS_40, REAL_SCALES.filter(not_rounding_to_one)), min_size=1, max_size=8))
def test_int64_bias_records_take_velas_reduced_scale(channels):
    bias = np.array([b for b, _ in channels], dtype=np.int64)
    real = [r for _, r in channels]
    assert ours(bias, real) == b"".join(vela_record(b, r, reduced=True) for b, r in channels)


def test_a_multiplier_rounding_to_2_pow_31_follows_tflite():
    real = 1 - 2.0**-40  # Q31 significand rounds to 2^31: TFLite halves it, Vela keeps it
    record = ours(np.zeros(1, dtype=np.int32), [real])
    assert record == bytes(npu_encode_bias(np.int64(0), 2**30, 30))


@settings(max_examples=200, deadline=None)
@given(
    accumulator=st.integers(-(2**39), 2**39 - 1),
    real_scale=REAL_SCALES,
)
def test_reduced_record_rescales_as_tflites_int64_kernels(accumulator, real_scale):
    multiplier, shift = quantize_multipliers([real_scale])
    scale, right_shift = record_scales(multiplier, shift, reduced=True)
    hardware = (accumulator * int(scale[0]) + (1 << (int(right_shift[0]) - 1))) >> int(right_shift[0])
    assert hardware == multiply_by_quantized_multiplier_int64(np.int64(accumulator), multiplier[0], shift[0])


def test_one_record_per_channel():
    records = ours(np.arange(7, dtype=np.int32), [0.5] * 7)
    assert len(records) == 7 * RECORD_BYTES == 70


@pytest.mark.parametrize("bias", [2**39, -(2**39) - 1])
def test_a_bias_beyond_40_bits_names_the_layer_and_channel(bias):
    with pytest.raises(TargetError, match=r"layer 'conv_1': output channel 1's bias .* does not fit the Ethos-U scale record"):
        ours(np.array([0, bias], dtype=np.int64), [0.5, 0.5])


def test_the_widest_40_bit_biases_fit():
    bias = np.array([2**39 - 1, -(2**39)], dtype=np.int64)
    assert ours(bias, [0.5, 0.5]) == vela_record(2**39 - 1, 0.5, True) + vela_record(-(2**39), 0.5, True)


def test_a_left_shift_beyond_the_record_names_the_layer():
    # An explicit rescale with real scale 2^32: a right shift of -1.
    with pytest.raises(TargetError, match=r"layer 'conv_1': output channel 0's shift -1 does not fit"):
        scale_bias_records("conv_1", np.zeros(1, dtype=np.int32), np.array([2**30]), np.array([32]), False)
