"""Ethos-U weight streams against Vela's own encoder (`ethosu.vela.api`, a test-only oracle).

Vela's `npu_encode_weights` reorders with its C reorder and compresses with
the same mlw codec npuc calls, so the streams must be equal byte for byte;
each test compares the decoded values first, so a failure shows which
weights moved.
"""

from __future__ import annotations

import numpy as np
import pytest
from ethosu import mlw_codec
from ethosu.vela.api import (
    NpuAccelerator,
    NpuBlockTraversal,
    npu_encode_bias,
    npu_encode_weights,
)
from ethosu.vela.architecture_features import Accelerator, ArchitectureFeatures
from ethosu.vela.scaling import quantise_scale
from hypothesis import given, settings
from hypothesis import strategies as st

from npuc.emit.ethos_u.weights import (
    CONV2D,
    DEPTHWISE_CONV2D,
    FULLY_CONNECTED,
    LayerWeights,
    Traversal,
    brick_order,
    choose_traversal,
    compress,
    encode_layer,
)
from npuc.reference.fixed_point import quantize_multipliers
from npuc.targets import Target, load_target

pytestmark = pytest.mark.usefixtures("velas_codec")  # byte-for-byte with Vela's streams

ETHOS_U = ("ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u65-512")
TARGETS = {name: load_target(name) for name in ETHOS_U}


def vela_accelerator(target: Target) -> NpuAccelerator:
    return NpuAccelerator[target.accelerator.replace("ethos-u", "Ethos_U").replace("-", "_")]


def vela_weights(
    target: Target, volume: np.ndarray, kind: str, traversal: Traversal, block_depth: int, ifm_bits: int,
    dilation: tuple[int, int] = (1, 1),
) -> bytes:
    """Vela's stream of an OHWI volume; Vela takes dilation as (x, y)."""
    vela_traversal = NpuBlockTraversal.PART_KERNEL_FIRST if traversal == Traversal.PART_KERNEL_FIRST else NpuBlockTraversal.DEPTH_FIRST
    return bytes(npu_encode_weights(
        vela_accelerator(target), np.ascontiguousarray(volume, dtype=np.int16), (dilation[1], dilation[0]), ifm_bits, block_depth,
        kind == DEPTHWISE_CONV2D, vela_traversal,
    ))  # fmt: skip


def assert_same_stream(ours: bytes, theirs: bytes) -> None:
    assert mlw_codec.decode(bytearray(ours)) == mlw_codec.decode(bytearray(theirs))
    assert ours == theirs


def random_volume(shape: tuple[int, int, int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-127, 128, shape).astype(np.int16)


def test_targets_have_velas_micro_blocks_sub_kernel_and_cores():
    for target in TARGETS.values():
        vela = ArchitectureFeatures.accelerator_configs[Accelerator(target.accelerator)]
        assert (target.ofm_ublock.depth, target.ifm_ublock.depth, target.cores) == (
            vela.ofm_ublock.depth, vela.ifm_ublock.depth, vela.cores
        )
        assert target.sub_kernel_max == (ArchitectureFeatures.SubKernelMax.height, ArchitectureFeatures.SubKernelMax.width)


SHAPES = {
    # name: (kind, traversal, OHWI shape, dilation (h, w))
    "conv 3x3 depth first": (CONV2D, Traversal.DEPTH_FIRST, (20, 3, 3, 40), (1, 1)),
    "conv 3x3 part-kernel first": (CONV2D, Traversal.PART_KERNEL_FIRST, (20, 3, 3, 21), (1, 1)),
    "conv 10x4 depth first": (CONV2D, Traversal.DEPTH_FIRST, (9, 10, 4, 35), (1, 1)),
    "conv 10x4 part-kernel first": (CONV2D, Traversal.PART_KERNEL_FIRST, (9, 10, 4, 3), (1, 1)),
    "conv 9x11 sub-kernels, dilated rows": (CONV2D, Traversal.PART_KERNEL_FIRST, (12, 9, 11, 5), (2, 1)),
    "conv 5x9 sub-kernels, dilated columns": (CONV2D, Traversal.DEPTH_FIRST, (12, 5, 9, 17), (1, 2)),
    "depthwise 3x3": (DEPTHWISE_CONV2D, Traversal.DEPTH_FIRST, (37, 3, 3, 1), (1, 1)),
    "depthwise 10x4": (DEPTHWISE_CONV2D, Traversal.DEPTH_FIRST, (13, 10, 4, 1), (1, 1)),
    "fully connected": (FULLY_CONNECTED, Traversal.DEPTH_FIRST, (30, 1, 1, 70), (1, 1)),
}


@pytest.mark.parametrize("target_name", ETHOS_U)
@pytest.mark.parametrize("shape_name", SHAPES)
@pytest.mark.parametrize("ifm_bits", [8, 16])
def test_brick_order_equals_velas(target_name: str, shape_name: str, ifm_bits: int):
    target = TARGETS[target_name]
    kind, traversal, shape, dilation = SHAPES[shape_name]
    volume = random_volume(shape)
    for block_depth in (8, 16, 24, 64):
        ours = compress(brick_order(volume, kind, traversal, block_depth, ifm_bits, dilation, target))
        assert_same_stream(ours, vela_weights(target, volume, kind, traversal, block_depth, ifm_bits, dilation))


@settings(max_examples=150, deadline=None)
@given(
    target_name=st.sampled_from(ETHOS_U),
    form=st.sampled_from([(CONV2D, Traversal.DEPTH_FIRST), (CONV2D, Traversal.PART_KERNEL_FIRST), (DEPTHWISE_CONV2D, Traversal.DEPTH_FIRST)]),
    ofm_depth=st.integers(1, 40),
    kernel=st.tuples(st.integers(1, 11), st.integers(1, 11)),
    ifm_depth=st.integers(1, 50),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    ifm_bits=st.sampled_from([8, 16]),
    block_ublocks=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_any_small_layer_encodes_as_velas(target_name, form, ofm_depth, kernel, ifm_depth, dilation, ifm_bits, block_ublocks, seed):
    target = TARGETS[target_name]
    kind, traversal = form
    volume = random_volume((ofm_depth, *kernel, 1 if kind == DEPTHWISE_CONV2D else ifm_depth), seed)
    block_depth = block_ublocks * target.ofm_ublock.depth
    ours = compress(brick_order(volume, kind, traversal, block_depth, ifm_bits, dilation, target))
    assert_same_stream(ours, vela_weights(target, volume, kind, traversal, block_depth, ifm_bits, dilation))


def vela_traversal_rule(ifm_depth: int, kernel_elements: int, ifm_bits: int) -> Traversal:
    """Vela 5.2's choice for a convolution, restated from weight_compressor.py with its own numbers."""
    def round_up(value: int, multiple: int) -> int:
        return (value + multiple - 1) // multiple * multiple

    depth = ifm_depth / round_up(ifm_depth, 32 if ifm_bits == 8 else 16)
    part_kernel = (ifm_depth / round_up(ifm_depth, 8)) * (kernel_elements / round_up(kernel_elements, 4 if ifm_bits == 8 else 2))
    return Traversal.PART_KERNEL_FIRST if part_kernel >= depth or ifm_depth <= 8 else Traversal.DEPTH_FIRST


@settings(max_examples=300, deadline=None)
@given(
    target_name=st.sampled_from(ETHOS_U),
    ifm_depth=st.integers(1, 300),
    kernel_elements=st.integers(1, 100),
    ifm_bits=st.sampled_from([8, 16]),
)
def test_convolution_traversal_is_velas(target_name, ifm_depth, kernel_elements, ifm_bits):
    chosen = choose_traversal(CONV2D, ifm_depth, kernel_elements, ifm_bits, TARGETS[target_name])
    assert chosen == vela_traversal_rule(ifm_depth, kernel_elements, ifm_bits)


@pytest.mark.parametrize(
    ("kind", "ifm_depth", "kernel_elements", "ifm_bits", "expected"),
    [
        (CONV2D, 3, 9, 8, Traversal.PART_KERNEL_FIRST),  # an RGB input: at most one dot product deep
        (CONV2D, 64, 9, 8, Traversal.DEPTH_FIRST),  # 64 fills two IFM blocks; 9 elements leave 3 of 12 idle
        (CONV2D, 16, 2, 8, Traversal.PART_KERNEL_FIRST),  # a tie (both half used): part-kernel first
        (CONV2D, 48, 9, 16, Traversal.DEPTH_FIRST),  # 16-bit: 48 fills three 16-deep IFM blocks
        (CONV2D, 40, 9, 8, Traversal.PART_KERNEL_FIRST),  # 40/64 deep against 1 x 9/12
        (DEPTHWISE_CONV2D, 3, 9, 8, Traversal.DEPTH_FIRST),
        (FULLY_CONNECTED, 8, 1, 8, Traversal.PART_KERNEL_FIRST),  # as Vela's default core: at most 8 deep
        (FULLY_CONNECTED, 8, 1, 16, Traversal.PART_KERNEL_FIRST),
        (FULLY_CONNECTED, 9, 1, 8, Traversal.DEPTH_FIRST),
        (FULLY_CONNECTED, 9, 1, 16, Traversal.DEPTH_FIRST),
    ],
)
def test_traversal_choice(kind, ifm_depth, kernel_elements, ifm_bits, expected):
    assert choose_traversal(kind, ifm_depth, kernel_elements, ifm_bits, TARGETS["ethos-u55-128"]) == expected


def rescale(channels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real scales and their TFLite (multiplier, shift)."""
    real = np.random.default_rng(seed).uniform(1e-4, 0.9, channels)
    multiplier, shift = quantize_multipliers(real)
    return real, multiplier, shift


def vela_records(bias: np.ndarray, real: np.ndarray) -> bytes:
    return b"".join(bytes(npu_encode_bias(np.int64(b), *quantise_scale(r))) for b, r in zip(bias, real, strict=True))


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 16)


def layer(kind: str, weights: np.ndarray, channels: int, ifm_bits: int = 8, zero_point: int | np.ndarray = 0, seed: int = 0):
    real, multiplier, shift = rescale(channels, seed)
    bias = np.random.default_rng(seed).integers(-(2**31), 2**31, channels).astype(np.int32)
    return LayerWeights("conv_1", kind, weights.astype(np.int8), zero_point, bias, multiplier, shift, ifm_bits), real


def test_single_core_blob_is_records_then_weights():
    target = TARGETS["ethos-u55-128"]
    weights = random_volume((13, 3, 3, 21))
    layer_weights, real = layer(CONV2D, weights, 13)
    encoded = encode_layer(layer_weights, 16, target)
    assert encoded.traversal == Traversal.PART_KERNEL_FIRST
    records = vela_records(layer_weights.bias, real)
    stream = vela_weights(target, weights, CONV2D, encoded.traversal, 16, 8)
    assert encoded.blob == padded(records) + stream
    (core,) = encoded.cores
    assert (core.scale_offset, core.scale_length) == (0, 144)  # 13 records of 10 bytes, padded to 16
    assert (core.weight_offset, core.weight_length) == (144, len(stream))


def test_two_cores_take_alternate_output_channels():
    target = TARGETS["ethos-u65-512"]
    weights = random_volume((21, 3, 3, 64))
    layer_weights, real = layer(CONV2D, weights, 21)
    encoded = encode_layer(layer_weights, 24, target)
    assert encoded.traversal == Traversal.DEPTH_FIRST
    assert len(encoded.cores) == 2
    for core, streams in enumerate(encoded.cores):
        scales = encoded.blob[streams.scale_offset : streams.scale_offset + streams.scale_length]
        assert scales == padded(vela_records(layer_weights.bias[core::2], real[core::2]))
        stream = encoded.blob[streams.weight_offset : streams.weight_offset + streams.weight_length]
        assert_same_stream(stream, vela_weights(target, weights[core::2], CONV2D, encoded.traversal, 12, 8))
    assert encoded.cores[1].scale_offset == encoded.cores[0].weight_offset + encoded.cores[0].weight_length
    assert len(encoded.blob) == encoded.cores[1].weight_offset + encoded.cores[1].weight_length


def test_a_single_output_channel_uses_one_core():
    weights = random_volume((1, 1, 1, 16))
    encoded = encode_layer(layer(CONV2D, weights, 1)[0], 16, TARGETS["ethos-u65-512"])
    assert len(encoded.cores) == 1


def test_weight_zero_point_is_subtracted_per_channel():
    target = TARGETS["ethos-u55-64"]
    weights = random_volume((4, 2, 2, 9))
    zero_points = np.array([0, 1, -3, 100])
    encoded = encode_layer(layer(CONV2D, weights, 4, zero_point=zero_points)[0], 8, target)
    (core,) = encoded.cores
    expected = vela_weights(target, weights - zero_points.reshape(4, 1, 1, 1), CONV2D, encoded.traversal, 8, 8)
    assert_same_stream(encoded.blob[core.weight_offset :], expected)


@pytest.mark.parametrize(
    ("kind", "ir_shape", "to_ohwi", "ifm_bits", "traversal"),
    [
        # depthwise: TFLite's [1, KH, KW, C], one kernel per output channel
        (DEPTHWISE_CONV2D, (1, 3, 5, 19), lambda weights: weights.transpose(3, 1, 2, 0), 16, Traversal.DEPTH_FIRST),
        # fully connected: [O, K], a 1x1 kernel; K <= 8 runs part-kernel first (as Vela's default core)
        (FULLY_CONNECTED, (10, 6), lambda weights: weights.reshape(10, 1, 1, 6), 8, Traversal.PART_KERNEL_FIRST),
        (FULLY_CONNECTED, (10, 40), lambda weights: weights.reshape(10, 1, 1, 40), 8, Traversal.DEPTH_FIRST),
    ],
)
def test_ir_weight_layouts_encode_as_velas_ohwi_volumes(kind, ir_shape, to_ohwi, ifm_bits, traversal):
    target = TARGETS["ethos-u65-256"]
    weights = np.random.default_rng(0).integers(-127, 128, ir_shape).astype(np.int16)
    encoded = encode_layer(layer(kind, weights, to_ohwi(weights).shape[0], ifm_bits)[0], 16, target)
    assert encoded.traversal == traversal
    (core,) = encoded.cores
    expected = vela_weights(target, to_ohwi(weights), kind, traversal, 16, ifm_bits)
    assert_same_stream(encoded.blob[core.weight_offset :], expected)
