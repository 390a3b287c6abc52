"""The integer elementwise and depth-reduction semantics of npu commands (docs/ir.md).

An integer `npu.elementwise` (one with `rescale`) and `npu.pool` of kind
`reduce_sum` compute on raw stored integers: zero points are subtracted, the
operation is exact, and one output stage rescales (multiplier and right shift
with the command's rounding), adds the OFM zero point, clamps to the
activation range and optionally looks the result up in a 256-entry table.
Products and shifts exceed int64, so values are Python integers in object
arrays: exact, and fast enough for the row-sized tensors these commands see.
"""

from __future__ import annotations

import numpy as np

from npuc.errors import NpucError
from npuc.reference.fixed_point import count_leading_zeros

_MAX_SHIFT = 63
"""Largest shift amount `shl`/`asr` accept (and the largest rescale shift)."""
_DOUBLE_ROUNDING_BITS = 31
"""Bits the first rounding of `double` drops: a Q31 multiplier's fraction."""


def exact(values: np.ndarray | int) -> np.ndarray:
    """`values` as Python integers in an object array (no overflow)."""
    return np.asarray(values, dtype=np.int64).astype(object)


def shift_right(values: np.ndarray, amount: np.ndarray | int, rounding: str) -> np.ndarray:
    """`values / 2^amount` rounded: `half_up` (ties to +inf), `half_away`, `truncate`, or `double`
    (half up by up to 31 bits, then half away by the rest: `npuc.dialects.npu.ROUNDING_MODES`).

    `amount` (scalar or broadcasting array) must lie in 0..63.
    """
    amount = _checked_shift(exact(amount))
    if rounding == "double":
        first = np.minimum(amount, _DOUBLE_ROUNDING_BITS)
        return shift_right(shift_right(values, first, "half_up"), amount - first, "half_away")
    half = (1 << amount) >> 1
    if rounding == "half_up":
        return (values + half) >> amount
    magnitude = np.abs(values)
    rounded = (magnitude + half) >> amount if rounding == "half_away" else magnitude >> amount
    return np.where(values < 0, -rounded, rounded)


def _checked_shift(amount: np.ndarray) -> np.ndarray:
    """`amount`, after checking every shift lies in 0..63."""
    if np.any(amount < 0) or np.any(amount > _MAX_SHIFT):
        raise NpucError(f"shift amount outside 0..{_MAX_SHIFT}")
    return amount


def operate(kind: str, first: np.ndarray, second: np.ndarray | None, rounding: str) -> np.ndarray:
    """`first kind second` exactly, on object arrays (`second` is None for clz)."""
    if kind == "clz":
        return exact(count_leading_zeros(first.astype(np.int64) & 0xFFFFFFFF))
    assert second is not None, f"elementwise '{kind}' needs a second operand"
    if kind == "add":
        return first + second
    if kind == "sub":
        return first - second
    if kind == "mul":
        return first * second
    if kind == "shl":
        return first << _checked_shift(second)
    if kind == "asr":
        return shift_right(first, second, rounding)
    raise NpucError(f"unknown elementwise kind '{kind}'")


def output_stage(
    values: np.ndarray,
    multiplier: int,
    shift: int,
    rounding: str,
    zero_point: int,
    act_min: int,
    act_max: int,
    lut: np.ndarray | None = None,
) -> np.ndarray:
    """Rescale, add the OFM zero point, clamp, and look up: int64 results."""
    scaled = shift_right(values * multiplier, shift, rounding) + zero_point
    clamped = np.clip(scaled, act_min, act_max).astype(np.int64)
    return clamped if lut is None else lut[clamped + lut.size // 2].astype(np.int64)


def reduce_sum(ifm: np.ndarray, zero_point: int) -> np.ndarray:
    """Exact sum over the last (depth) axis of `ifm - zero_point`, keeping the axis."""
    return (exact(ifm) - zero_point).sum(axis=-1, keepdims=True)
