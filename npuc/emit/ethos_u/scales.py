"""Ethos-U scale/bias records: one 10-byte record per output channel of a conv-like layer.

The NPU adds the bias to each accumulator and rescales it with the record of
the output channel: `(acc + bias) * scale >> shift`, rounded (the OFM
rounding mode). A layer's records sit back to back in its scale stream
(`SCALE_BASE`, `SCALE_LENGTH`), which the layer blob pads to the target's
alignment (`npuc.emit.ethos_u.weights`). A record, little-endian:

| bytes | bits | field | |
| --- | --- | --- | --- |
| 0-4 | 40 | bias | two's complement |
| 5-8 | 32 | scale | unsigned |
| 9 | 6 (bits 7-6 zero) | shift | unsigned, a right shift |

(Vela 5.2, `ethosu/vela/weight_compressor.py`, `encode_bias`.)

npuc keeps TFLite's rescale (`npuc.reference`): a Q31 multiplier `m` and a
left-shift exponent `e`, real scale `m * 2^(e - 31)`. As a record that is
scale `m`, shift `31 - e`. A conv or depthwise layer with an int64 bias
(16x8, TFLite's default) rescales as TFLite's int64 kernels do, with the multiplier rounded
to 15 bits: scale `(m + 2^15) >> 16` (saturating at `2^15 - 1`), shift
`15 - e`. This matches Vela's `quantise_scale` and `reduced_quantise_scale`
except where TFLite itself differs from them (a multiplier that rounds to
2^31 is halved, a real scale below 2^-32 flushes to zero), where npuc
follows TFLite.
"""

from __future__ import annotations

import numpy as np

from npuc.errors import TargetError

BIAS_BITS = 40
"""Width of a record's two's-complement bias."""

SCALE_BITS = 32
"""Width of a record's unsigned scale."""

SHIFT_BITS = 6
"""Width of a record's right shift."""

RECORD_DTYPE = np.dtype(
    [("bias_low", "<u4"), ("bias_high", "<i1"), ("scale", "<u4"), ("shift", "<u1")]
)
"""One record as numpy lays it out: the 40-bit bias as its low 32 bits and its sign-carrying high byte."""

RECORD_BYTES = RECORD_DTYPE.itemsize
"""Bytes per output channel of a scale stream (10)."""

MULTIPLIER_FRACTION_BITS = 31
"""Fraction bits of TFLite's quantized multiplier (Q31)."""

REDUCED_MULTIPLIER_BITS = 15
"""Bits TFLite's int64 rescale (16x8 with an int64 bias) keeps of the multiplier."""


def record_scales(multiplier: np.ndarray, shift: np.ndarray, reduced: bool) -> tuple[np.ndarray, np.ndarray]:
    """The records' (scale, right shift) for TFLite's per-channel (multiplier, left-shift exponent).

    `reduced` selects the 15-bit multiplier of TFLite's int64 rescale (a
    layer with an int64 bias). Values are int64 arrays, not yet range-checked.
    """
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if not reduced:
        return multiplier, MULTIPLIER_FRACTION_BITS - shift
    dropped = MULTIPLIER_FRACTION_BITS - REDUCED_MULTIPLIER_BITS
    largest = (1 << REDUCED_MULTIPLIER_BITS) - 1
    rounded = (multiplier + (1 << (dropped - 1))) >> dropped
    scale = np.where(multiplier < largest << dropped, rounded, largest)
    return scale, REDUCED_MULTIPLIER_BITS - shift


def scale_bias_records(
    layer: str, bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, reduced: bool
) -> bytes:
    """The records of a layer's output channels, in channel order (`RECORD_BYTES` each, unpadded).

    `bias` is the layer's int32 or int64 bias; `multiplier` and `shift` are
    TFLite's per channel; `reduced` selects TFLite's 15-bit int64 rescale
    (see the module docstring). A value that does not fit its field raises
    `TargetError` naming the layer and the channel.
    """
    scale, right_shift = record_scales(multiplier, shift, reduced)
    bias = np.asarray(bias).astype(np.int64)
    _check_field(layer, "bias", bias, -(1 << (BIAS_BITS - 1)), (1 << (BIAS_BITS - 1)) - 1)
    _check_field(layer, "scale", scale, 0, (1 << SCALE_BITS) - 1)
    _check_field(layer, "shift", right_shift, 0, (1 << SHIFT_BITS) - 1)
    records = np.zeros(len(bias), dtype=RECORD_DTYPE)
    records["bias_low"] = bias & 0xFFFFFFFF
    records["bias_high"] = bias >> 32
    records["scale"] = scale
    records["shift"] = right_shift
    return records.tobytes()


def _check_field(layer: str, field: str, values: np.ndarray, low: int, high: int) -> None:
    """`TargetError` for the first channel whose `values` entry is outside [low, high]."""
    outside = np.flatnonzero((values < low) | (values > high))
    if outside.size:
        channel = int(outside[0])
        raise TargetError(
            f"layer '{layer}': output channel {channel}'s {field} {int(values[channel])} does not fit "
            f"the Ethos-U scale record (range [{low}, {high}])"
        )
