"""Bounds checks of a `.tflite` flatbuffer before anything reads it.

Python's `flatbuffers` package follows offsets without checking them and has
no verifier, so a truncated file or one with bytes inserted may read as a
model of garbage. `verify_flatbuffer` does what flatbuffers' C++ `Verifier`
does in TFLite's loader: every table, its vtable, every vector and string
lies inside the file, aligned, with non-zero offsets, for every field of the
model, its subgraphs, tensors, operators, buffers, metadata and signatures.
The fields of builtin options tables (a schema per operator kind), sparsity
and custom quantization details are not followed: their tables' vtables
are checked, and npuc reads options fields with bounds checks (`ops.option`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from npuc.errors import ModelFormatError

UOFFSET_SIZE = 4
"""Bytes of a flatbuffer offset to a table, vector or string (and of a vector's length)."""

VOFFSET_SIZE = 2
"""Bytes of a vtable entry."""

VTABLE_HEADER = 2 * VOFFSET_SIZE
"""A vtable starts with its own size and its table's size."""

MAX_SIGNED_OFFSET = 2**31 - 1
"""Flatbuffer offsets are unsigned but must stay below 2 GiB (the format's size limit)."""


@dataclass(frozen=True)
class Scalar:
    """A fixed-size field stored inline in its table."""

    size: int


@dataclass(frozen=True)
class Vector:
    """An offset to a vector of `element_size`-byte scalars."""

    element_size: int


@dataclass(frozen=True)
class String:
    """An offset to a zero-terminated byte string."""


@dataclass(frozen=True)
class Table:
    """An offset to a table; `fields` maps a field's id (its vtable slot) to its kind."""

    name: str
    fields: dict[int, FieldKind]


@dataclass(frozen=True)
class TableVector:
    """An offset to a vector of offsets to tables."""

    table: Table


FieldKind = Scalar | Vector | String | Table | TableVector

ANY_TABLE = Table("table", {})
"""A table whose fields are not followed: a builtin options table of any kind, sparsity, details."""

INT_VECTOR = Vector(4)
BYTE_VECTOR = Vector(1)
QUANTIZATION = Table(
    "QuantizationParameters",
    {0: INT_VECTOR, 1: INT_VECTOR, 2: INT_VECTOR, 3: Vector(8), 4: Scalar(1), 5: ANY_TABLE, 6: Scalar(4)},
)
VARIANT_SUBTYPE = Table("VariantSubType", {0: INT_VECTOR, 1: Scalar(1), 2: Scalar(1)})
TENSOR = Table(
    "Tensor",
    {
        0: INT_VECTOR, 1: Scalar(1), 2: Scalar(4), 3: String(), 4: QUANTIZATION, 5: Scalar(1),
        6: ANY_TABLE, 7: INT_VECTOR, 8: Scalar(1), 9: TableVector(VARIANT_SUBTYPE),
    },
)  # fmt: skip
OPERATOR = Table(
    "Operator",
    {
        0: Scalar(4), 1: INT_VECTOR, 2: INT_VECTOR, 3: Scalar(1), 4: ANY_TABLE, 5: BYTE_VECTOR, 6: Scalar(1),
        7: BYTE_VECTOR, 8: INT_VECTOR, 9: Scalar(8), 10: Scalar(8), 11: Scalar(1), 12: ANY_TABLE, 13: Scalar(4),
    },
)  # fmt: skip
SUBGRAPH = Table(
    "SubGraph",
    {0: TableVector(TENSOR), 1: INT_VECTOR, 2: INT_VECTOR, 3: TableVector(OPERATOR), 4: String(), 5: Scalar(4)},
)
OPERATOR_CODE = Table("OperatorCode", {0: Scalar(1), 1: String(), 2: Scalar(4), 3: Scalar(4)})
BUFFER = Table("Buffer", {0: BYTE_VECTOR, 1: Scalar(8), 2: Scalar(8)})
METADATA = Table("Metadata", {0: String(), 1: Scalar(4)})
TENSOR_MAP = Table("TensorMap", {0: String(), 1: Scalar(4)})
SIGNATURE_DEF = Table(
    "SignatureDef", {0: TableVector(TENSOR_MAP), 1: TableVector(TENSOR_MAP), 2: String(), 4: Scalar(4)}
)
MODEL = Table(
    "Model",
    {
        0: Scalar(4), 1: TableVector(OPERATOR_CODE), 2: TableVector(SUBGRAPH), 3: String(),
        4: TableVector(BUFFER), 5: INT_VECTOR, 6: TableVector(METADATA), 7: TableVector(SIGNATURE_DEF),
    },
)  # fmt: skip
"""The TFLite schema (`schema.fbs`), field ids as there, down to the tables whose fields are not followed."""


class FlatbufferError(Exception):
    """A bounds or alignment violation; the message names the object and its byte offset."""


def verify_flatbuffer(data: bytes, source: str) -> None:
    """Raise ModelFormatError unless every object npuc reads lies inside `data`."""
    try:
        verifier = _Verifier(data)
        verifier.table(verifier.offset_target(0, "root offset"), MODEL)
    except FlatbufferError as error:
        raise ModelFormatError(f"{source}: not a valid TFLite model (truncated or corrupt: {error})") from None


class _Verifier:
    """Reads little-endian scalars of `data`, checking each lies inside it and is aligned."""

    def __init__(self, data: bytes):
        self.data = data

    def check(self, position: int, size: int, alignment: int, what: str) -> None:
        """Raise unless `size` bytes at `position` are inside the buffer and aligned."""
        if position < 0 or position + size > len(self.data):
            raise FlatbufferError(f"{what} at byte {position} reaches outside the file")
        if position % alignment:
            raise FlatbufferError(f"{what} at byte {position} is not {alignment}-byte aligned")

    def unsigned(self, position: int, size: int, what: str) -> int:
        """The unsigned `size`-byte integer at `position`."""
        self.check(position, size, size, what)
        return int.from_bytes(self.data[position : position + size], "little")

    def offset_target(self, position: int, what: str) -> int:
        """Where the offset stored at `position` points (offsets are relative and forward)."""
        offset = self.unsigned(position, UOFFSET_SIZE, what)
        if offset == 0 or offset > MAX_SIGNED_OFFSET:
            raise FlatbufferError(f"{what} at byte {position} is {offset}")
        return position + offset

    def table(self, position: int, schema: Table) -> None:
        """Check a table, its vtable and the fields of `schema` it has."""
        what = f"{schema.name} table"
        self.check(position, UOFFSET_SIZE, UOFFSET_SIZE, what)
        vtable = position - struct.unpack_from("<i", self.data, position)[0]
        vtable_size = self.unsigned(vtable, VOFFSET_SIZE, f"{what}'s vtable")
        if vtable_size < VTABLE_HEADER or vtable_size % VOFFSET_SIZE:
            raise FlatbufferError(f"{what}'s vtable at byte {vtable} has size {vtable_size}")
        self.check(vtable, vtable_size, VOFFSET_SIZE, f"{what}'s vtable")
        for slot, kind in schema.fields.items():
            entry = vtable + VTABLE_HEADER + slot * VOFFSET_SIZE
            field = self.unsigned(entry, VOFFSET_SIZE, what) if entry < vtable + vtable_size else 0
            if field:
                self.field(position + field, kind, f"{schema.name} field {slot}")

    def field(self, position: int, kind: FieldKind, what: str) -> None:
        """Check a present field at `position` and what it points to."""
        if isinstance(kind, Scalar):
            self.check(position, kind.size, kind.size, what)
            return
        target = self.offset_target(position, what)
        if isinstance(kind, Table):
            self.table(target, kind)
        elif isinstance(kind, TableVector):
            for index in range(self.vector(target, UOFFSET_SIZE, what)):
                element = target + UOFFSET_SIZE + index * UOFFSET_SIZE
                self.table(self.offset_target(element, f"{what}[{index}]"), kind.table)
        elif isinstance(kind, String):
            end = target + UOFFSET_SIZE + self.vector(target, 1, what)
            if self.data[end : end + 1] != b"\0":
                raise FlatbufferError(f"{what} at byte {target} is not zero-terminated")
        else:
            self.vector(target, kind.element_size, what)

    def vector(self, position: int, element_size: int, what: str) -> int:
        """The length of the vector at `position`, after checking its elements lie inside the file."""
        length = self.unsigned(position, UOFFSET_SIZE, what)
        self.check(position + UOFFSET_SIZE, length * element_size, 1, what)
        return length
