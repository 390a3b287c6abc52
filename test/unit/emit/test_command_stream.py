"""Command stream: encode/decode round trips exactly, and bad streams are rejected."""

from __future__ import annotations

import struct

import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.emit import CommandStream, decode, encode
from npuc.errors import ModelFormatError, ModelVerificationError

from support.npu_text import lowered
from support.paths import FILECHECK

OPS_FILE = FILECHECK / "dialects" / "npu" / "ops.mlir"


def parse(text: str) -> ModuleOp:
    """A verified module from IR text."""
    module = Parser(npuc_context(), text).parse_module()
    module.verify()
    return module


@pytest.fixture(scope="module")
def ops_module() -> ModuleOp:
    """Every npu command, from the dialect's round-trip test."""
    return parse(OPS_FILE.read_text())


@pytest.fixture(scope="module")
def encoded(ops_module: ModuleOp) -> CommandStream:
    return encode(ops_module)


def test_ops_file_round_trips_to_identical_text(ops_module, encoded):
    assert str(decode(encoded.stream, encoded.blob)) == str(ops_module)


def test_lowered_module_round_trips_to_identical_text():
    module = lowered()
    program = encode(module)
    assert str(decode(program.stream, program.blob)) == str(module)


def test_scales_round_trip_bit_exactly():
    scale = 0.1 + 2.0**-40  # not representable in float32
    text = OPS_FILE.read_text().replace("0.5:-1", f"{scale!r}:-1")
    module = parse(text)
    program = encode(module)
    decoded = decode(program.stream, program.blob)
    fm = next(op for op in decoded.ops if isinstance(op, npu.InputOp)).fm
    assert fm.element_type.scale == scale


def test_blob_is_the_constant_memory_image(ops_module, encoded):
    constants = [op for op in ops_module.ops if isinstance(op, npu.ConstantOp)]
    assert len(encoded.blob) == max(op.buffer.end for op in constants)
    weights = encoded.blob[0:32]
    assert weights == bytes([1]) * 32
    table = struct.unpack("<12i", encoded.blob[32:80])
    assert table == (0, 1 << 30, -1, 1, 1 << 30, -1, 2, 1 << 30, -1, 3, 1 << 30, -1)
    assert encoded.blob[80:116] == bytes([0xFD]) * 36


def test_header_fields(ops_module, encoded):
    magic, version, *_, commands, blob_size = struct.unpack_from("<4sHHIIIIII", encoded.stream)
    assert (magic, version) == (b"NPUC", 2)
    assert commands == len(ops_module.ops)
    assert blob_size == len(encoded.blob)


def test_wrong_magic_is_rejected(encoded):
    with pytest.raises(ModelFormatError, match="bad magic"):
        decode(b"ONNX" + encoded.stream[4:], encoded.blob)


def test_unknown_version_is_rejected(encoded):
    stream = encoded.stream[:4] + struct.pack("<H", 99) + encoded.stream[6:]
    with pytest.raises(ModelFormatError, match="format version 99 is not supported"):
        decode(stream, encoded.blob)


def test_every_truncation_is_rejected(encoded):
    for length in range(0, len(encoded.stream), 7):
        with pytest.raises(ModelFormatError):
            decode(encoded.stream[:length], encoded.blob)


def test_blob_of_the_wrong_size_is_rejected(encoded):
    with pytest.raises(ModelFormatError, match="blob is"):
        decode(encoded.stream, encoded.blob[:-1])


def test_unknown_opcode_is_rejected(encoded):
    header = struct.Struct("<4sHHIIIIII")
    table_size = header.unpack_from(encoded.stream)[6]
    first_record = header.size + table_size
    stream = encoded.stream[:first_record] + struct.pack("<H", 77) + encoded.stream[first_record + 2 :]
    with pytest.raises(ModelFormatError, match="unknown opcode 77"):
        decode(stream, encoded.blob)


def test_module_that_is_not_lowered_cannot_be_encoded():
    module = parse('builtin.module attributes {npu.target = "t"} { func.func @main() { func.return } }')
    with pytest.raises(ModelVerificationError, match="'func.func' is not an npu command: run npu-lower first"):
        encode(module)
