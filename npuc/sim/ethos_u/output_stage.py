"""The output unit: accumulators to OFM elements (scale, round, zero point, clip, lookup table).

Per output channel (per-channel mode: from the 10-byte scale records, with
the bias added to the accumulator first) or for the whole operation (global
mode: the OFM_SCALE register), a value v becomes `round(v * scale / 2^shift)`
under the rounding mode OFM_PRECISION selects:

- NATURAL rounds half up: `floor((p + 2^(shift-1)) / 2^shift)` for the exact product p.
- TRUNCATE rounds toward zero.
- DBL is TensorFlow Lite's double rounding. TFLite multiplies by a Q31
  multiplier with `SaturatingRoundingDoublingHighMul` (round half up at bit
  31 of the product) and then `RoundingDivideByPOT` (round half away from
  zero); with shift = 31 + n that is the product rounded half up at bit 31,
  then half away from zero at n more bits. A shift of 31 or less (a real
  multiplier of one or more) rounds once, half up.

The OFM zero point is added, the result clipped to ACTIVATION_MIN/MAX and to
the clip range (the OFM's storage type, or a forced 8/16-bit range), and,
for a TABLE_n activation, looked up in the lookup table of slot n.
"""

from __future__ import annotations

import numpy as np

from npuc.emit.ethos_u.registers import ActivationFunction, ClipRange, RoundMode
from npuc.errors import CommandStreamError
from npuc.reference.fixed_point import INT64_SAFE, exact_product


def shift_round(product: np.ndarray, shift: np.ndarray | int, mode: RoundMode) -> np.ndarray:
    """`product / 2^shift` rounded as `mode` says (shift >= 0), as int64.

    A result beyond 62 bits saturates there: it is far outside every OFM range
    the output stage clips to next.
    """
    shift = np.asarray(shift)
    if mode is RoundMode.DBL:
        first = np.minimum(shift, 31)
        result = _half_away(_half_up(product, first), shift - first)
    elif mode is RoundMode.NATURAL:
        result = _half_up(product, shift)
    else:
        floor = product >> shift
        result = np.where((product < 0) & (product != floor << shift), floor + 1, floor)
    return np.clip(result, -INT64_SAFE, INT64_SAFE).astype(np.int64)


def _half_up(values: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """floor((v + 2^(s-1)) / 2^s), and v itself where s is 0."""
    half = np.where(shift > 0, (np.ones_like(values) << np.maximum(shift - 1, 0)), 0)
    return (values + half) >> shift


def _half_away(values: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """v / 2^s rounded half away from zero, and v itself where s is 0."""
    magnitude = _half_up(np.abs(values), shift)
    return np.where(values < 0, -magnitude, magnitude)


def rescale(values: np.ndarray, scale: np.ndarray | int, shift: np.ndarray | int, mode: RoundMode) -> np.ndarray:
    """round(values * scale / 2^shift) in `mode`; scale and shift broadcast over the last axis."""
    product = exact_product(np.asarray(values), np.asarray(scale))
    return shift_round(product, shift, mode)


_STORAGE_RANGES = {
    (8, True): (-128, 127), (8, False): (0, 255), (16, True): (-32768, 32767), (16, False): (0, 65535),
    (32, True): (-(1 << 31), (1 << 31) - 1), (32, False): (0, (1 << 32) - 1),
}
_FORCED_RANGES = {ClipRange.FORCE_UINT8: (0, 255), ClipRange.FORCE_INT8: (-128, 127),
                  ClipRange.FORCE_INT16: (-32768, 32767)}


def storage_range(bits: int, signed: bool) -> tuple[int, int]:
    """The smallest and largest value an element of this storage holds."""
    return _STORAGE_RANGES[(bits, signed)]


def clip(values: np.ndarray, clip_min: int, clip_max: int, clip_range: ClipRange, bits: int,
         signed: bool) -> np.ndarray:
    """Clip to the clip range (OFM storage unless forced) and ACTIVATION_MIN/MAX.

    The 16-bit ACTIVATION_MIN/MAX bound 8- and 16-bit results only: a 32-bit
    result is clipped by them only when the clip range forces 8 or 16 bits.
    """
    forced = _FORCED_RANGES.get(clip_range)
    low, high = forced or storage_range(bits, signed)
    if bits == 32 and forced is None:
        return np.clip(values, low, high)
    return np.clip(values, max(low, clip_min), min(high, clip_max))


def lookup(values: np.ndarray, function: ActivationFunction, table_bytes: bytes, bits: int, signed: bool,
           where: str) -> np.ndarray:
    """Map clipped values through lookup table slot `function - TABLE_0`.

    8-bit values (or a 32-bit OFM clipped to 8 bits) index a 256-entry table
    of OFM elements (int8 for an 8-bit OFM, 32-bit for a 32-bit OFM), signed
    values from -128 up. 16-bit values use the 512-entry interpolating table:
    each 32-bit entry holds a base (low half) and a slope (high half);
    index `(v + 32768) >> 7`, fraction `v & 127`, result
    `base + (slope * fraction + 64) >> 7`.
    """
    if bits == 16:
        table = np.frombuffer(table_bytes, "<i4", 512).astype(np.int64)
        base = (table << 48) >> 48
        slope = (table - base) >> 16
        index = _table_index((values + 32768) >> 7, 512, where)
        return base[index] + ((slope[index] * (values & 0x7F) + 64) >> 7)
    entry = {8: "i1" if signed else "u1", 32: "<i4"}.get(bits)
    if entry is None:
        raise CommandStreamError(f"{where}: a lookup table cannot produce {bits}-bit OFM elements")
    table = np.frombuffer(table_bytes, entry, 256).astype(np.int64)
    return table[_table_index(values + (128 if signed or bits == 32 else 0), 256, where)]


def _table_index(index: np.ndarray, entries: int, where: str) -> np.ndarray:
    """`index`, or CommandStreamError when a value falls outside the table (a clip range the table does not fit)."""
    if index.size and (int(index.min()) < 0 or int(index.max()) >= entries):
        raise CommandStreamError(f"{where}: a value falls outside the {entries}-entry lookup table "
                                 "(the clip range does not match the table)")
    return index
