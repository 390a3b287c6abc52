"""The simulator reads weights and scale records as Vela's encoder writes them.

The oracle is Vela's C reorder-and-encode (`mlw_codec.reorder_encode`, the
brick order the hardware reads) and `encode_bias`; the simulator decodes the
stream and inverts the brick order on its own.
"""

from __future__ import annotations

import numpy as np
import pytest
from ethosu import mlw_codec
from ethosu.vela.weight_compressor import encode_bias
from hypothesis import given, settings
from hypothesis import strategies as st

from npuc.errors import CommandStreamError
from npuc.sim.ethos_u.mlw import decode_weights
from npuc.sim.ethos_u.weight_stream import BrickLayout, scale_records, unbrick


@st.composite
def layouts(draw) -> BrickLayout:
    depthwise = draw(st.booleans())
    return BrickLayout(
        ofm_depth=draw(st.integers(1, 40)),
        kernel_height=draw(st.integers(1, 10)),
        kernel_width=draw(st.integers(1, 10)),
        ifm_depth=1 if depthwise else draw(st.integers(1, 70)),
        ofm_block_depth=draw(st.sampled_from([8, 16, 32, 64])),
        depthwise=depthwise,
        part_kernel_first=not depthwise and draw(st.booleans()),
        ifm_bits=draw(st.sampled_from([8, 16])),
        ofm_micro_block=draw(st.sampled_from([4, 8])),
        dilation_y=draw(st.integers(1, 2)),
        dilation_x=draw(st.integers(1, 2)),
    )


@settings(max_examples=40, deadline=None)
@given(layouts(), st.integers(0, 2**32 - 1))
def test_unbrick_inverts_vela_s_brick_order(layout: BrickLayout, seed: int):
    shape = (layout.ofm_depth, layout.kernel_height, layout.kernel_width, layout.ifm_depth)
    weights = np.random.default_rng(seed).integers(-127, 128, shape).astype(np.int16)
    encoded, _ = mlw_codec.reorder_encode(
        8, layout.ofm_micro_block, weights, layout.ofm_block_depth, layout.depthwise, layout.part_kernel_first,
        layout.ifm_bits, 8 // layout.dilation_y, 8 // layout.dilation_x,
    )
    assert np.array_equal(unbrick(decode_weights(bytes(encoded), "test"), layout, "test"), weights)


def test_a_truncated_weight_stream_is_an_error_not_an_exit():
    encoded = bytes(mlw_codec.encode(list(range(-60, 60))))
    with pytest.raises(CommandStreamError, match="command at 0x40: the weight stream does not decode"):
        decode_weights(encoded[:8], "command at 0x40")
    assert list(decode_weights(encoded, "after")) == list(range(-60, 60))  # a new helper takes over


def test_scale_records_read_vela_s_bias_scale_and_shift():
    cases = [(-(1 << 39), 0, 0), ((1 << 39) - 1, (1 << 32) - 1, 63), (-123456789, 1 << 30, 38)]
    raw = b"".join(bytes(encode_bias(np.int64(bias), scale, shift)) for bias, scale, shift in cases)
    bias, scale, shift = scale_records(raw, len(cases), "test")
    assert list(zip(bias, scale, shift)) == cases
