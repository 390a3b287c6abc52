"""npuc's own mlw encoder against the format's reference decoder (`ethosu.mlw_codec.decode`, Vela's, as
the simulator runs it).

Every way the encoder can code a stream (zero runs or not, a palette or
not, each slice's best divisors) must decode to the stream, in exactly the
bits it priced; the stream it keeps is never longer than Vela's codec's,
and on the zero-padded streams of shallow fully connected layers it is
shorter (ad_autoencoder's 8-input layer: 1,472 bytes, as Vela 5.2's own
encoder, against the codec's 1,648).
"""

from __future__ import annotations

import numpy as np
from ethosu import mlw_codec
from hypothesis import given, settings
from hypothesis import strategies as st

from npuc.emit.ethos_u import mlw_encoder
from npuc.emit.ethos_u.mlw_encoder import MAX_WRITTEN, encode_shorter
from npuc.emit.ethos_u.weights import FULLY_CONNECTED, Traversal, brick_order, compress
from npuc.sim.ethos_u.mlw import decode_weights
from npuc.targets import load_target


def codec(stream: np.ndarray) -> bytes:
    return bytes(mlw_codec.encode(stream.tolist()))


def decoded(data: bytes) -> list[int]:
    """The decoder's values of `data` (in the simulator's helper process: a malformed stream would end
    this one)."""
    return decode_weights(data, "the stream").tolist()


@st.composite
def streams(draw) -> np.ndarray:
    """Weight streams as brick orders make them: random, narrow (a palette's), sparse, zero-padded."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(1, 5000))
    kind = draw(st.sampled_from(["uniform", "normal", "few", "sparse", "padded"]))
    if kind == "uniform":
        return rng.integers(-255, 256, size)
    if kind == "normal":
        return np.round(rng.normal(0, draw(st.floats(0.3, 60)), size)).clip(-255, 255).astype(np.int64)
    if kind == "few":
        return rng.choice(rng.integers(-255, 256, draw(st.integers(1, 40))), size)
    if kind == "sparse":
        return rng.integers(-9, 10, size) * (rng.random(size) < draw(st.floats(0.01, 0.5)))
    group = draw(st.integers(1, 64))
    blocks = rng.integers(-127, 128, (-(-size // (4 * group)), group))
    return np.concatenate([blocks, np.zeros((blocks.shape[0], 3 * group), np.int64)], axis=1).ravel()[:size]


@settings(max_examples=150, deadline=None)
@given(streams())
def test_every_coding_decodes_to_the_stream_in_the_bits_it_priced(stream):
    for plan in mlw_encoder._plans(stream):
        data = mlw_encoder._write(plan)  # asserts the bits written are the bits priced
        assert len(data) % 16 == 0 and len(data) == mlw_encoder._stream_bytes(plan.bits)
        assert decoded(data) == stream.tolist()


@settings(max_examples=60, deadline=None)
@given(streams())
def test_the_stream_kept_is_never_longer_than_the_codecs(stream):
    given_bytes = codec(stream)
    kept = encode_shorter(stream, given_bytes)
    assert len(kept) <= len(given_bytes)
    assert decoded(kept) == stream.tolist()


def test_a_shallow_fully_connected_layers_padded_stream_is_shorter():
    # 8 inputs, 128 outputs, part-kernel first: each 8 x 8 weights brick is followed by 192 zeros of
    # kernel-element padding. Zero runs of divisor 1 code them in 2 bits per run of none and 98 per run
    # of 192; the codec's one zero-run coding takes more.
    weights = np.random.default_rng(7).integers(-127, 128, (128, 1, 1, 8)).astype(np.int16)
    stream = brick_order(weights, FULLY_CONNECTED, Traversal.PART_KERNEL_FIRST, 16, 8, (1, 1),
                         load_target("ethos-u55-128"))
    assert np.count_nonzero(stream == 0) >= 3 * np.count_nonzero(stream)
    ours = compress(stream)
    assert decoded(ours) == stream.tolist()
    assert len(ours) <= 0.92 * len(codec(stream))


def test_a_stream_longer_than_the_encoder_writes_keeps_the_codecs_bytes():
    stream = np.zeros(MAX_WRITTEN + 1, np.int64)
    stream[::4] = 3
    assert encode_shorter(stream, b"given") == b"given"
