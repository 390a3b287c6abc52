"""Helpers every importer shares: closing a built block into a verified module, error lines,
the checks of quantization parameters and tensor sizes done before building anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue
from xdsl.utils.exceptions import VerifyException

from npuc.errors import (
    MEMORY_LIMIT_BYTES,
    ModelFormatError,
    ModelVerificationError,
    printable,
)

WIDEST_ELEMENT_BYTES = 8
"""Bytes of the widest element an importer materialises (float64 folding, int64 biases)."""

MAX_TENSOR_ELEMENTS = MEMORY_LIMIT_BYTES // WIDEST_ELEMENT_BYTES
"""Most elements of a tensor an importer or parser materialises: npuc's per-tensor memory limit
(`npuc.errors.MEMORY_LIMIT_BYTES`) in the widest elements an importer holds (float64, int64).

A constant folded at import, a filled or zeroed tensor and a constant's
declared shape are checked against it before any memory is allocated, so a
hostile model gets one error line instead of a `MemoryError`.
"""


def main_module(
    block: Block,
    results: Sequence[SSAValue],
    arg_attrs: Sequence[DictionaryAttr],
    res_attrs: Sequence[DictionaryAttr],
    source: str,
) -> ModuleOp:
    """Close `block` with a return of `results` into a verified module with `@main`.

    Importers build the body ops directly; a module that does not verify is the
    model's fault and raises `ModelVerificationError` naming `source`.
    """
    block.add_op(ReturnOp(*results))
    function = FuncOp(
        "main",
        ([arg.type for arg in block.args], [result.type for result in results]),
        Region(block),
        arg_attrs=ArrayAttr(list(arg_attrs)),
        res_attrs=ArrayAttr(list(res_attrs)),
    )
    module = ModuleOp([function])
    try:
        module.verify()
    except VerifyException as error:
        raise ModelVerificationError(f"{source}: {first_line(error)}") from None
    return module


def first_line(error: BaseException) -> str:
    """The first non-blank line of an error's message (xDSL's are multi-line)."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def read_file(path: str) -> bytes:
    """The bytes of the model file at `path`, or a ModelFormatError naming it."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelFormatError(f"{printable(path)}: no such file") from None
    except OSError as error:
        raise ModelFormatError(f"{printable(path)}: cannot read ({error.strerror})") from None


class TensorTooLarge(Exception):
    """A tensor would hold more than `MAX_TENSOR_ELEMENTS`; the message gives its shape."""


def check_element_count(shape: Sequence[int], what: str) -> None:
    """Raise `TensorTooLarge` when a tensor of `shape` would exceed `MAX_TENSOR_ELEMENTS`."""
    count = math.prod(max(int(extent), 0) for extent in shape)
    if count > MAX_TENSOR_ELEMENTS:
        raise TensorTooLarge(
            f"{what} of shape {[int(extent) for extent in shape]} has {count} elements, "
            f"more than npuc's limit of {MAX_TENSOR_ELEMENTS}"
        )


def quantization_count_problem(scales: int, zero_points: int, axis_size: int | None) -> str | None:
    """Why `scales` scales and `zero_points` zero points cannot quantize a tensor, or None.

    One zero point per scale and, per axis (`axis_size` is the extent of the
    quantized axis, None per tensor), one scale or one per slice.
    """
    if scales != zero_points:
        return f"{scales} scales but {zero_points} zero points"
    if axis_size is not None and scales not in (1, axis_size):
        return f"{scales} scales for an axis of {axis_size}"
    return None


def quantization_value_problem(scales: Sequence[float], zero_points: Sequence[int], bits: int) -> str | None:
    """Why these parameters cannot type `bits`-bit signed storage, or None when they can.

    Scales must be finite and positive, zero points inside the storage range.
    """
    bad_scale = next((scale for scale in scales if not (math.isfinite(scale) and scale > 0)), None)
    if bad_scale is not None:
        return f"scale {bad_scale} (scales must be finite and positive)"
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    bad_zero_point = next((zero for zero in zero_points if not low <= zero <= high), None)
    if bad_zero_point is not None:
        return f"zero point {bad_zero_point} outside the int{bits} range [{low}, {high}]"
    return None
