"""Command stream: encode/decode round trips exactly, and bad streams are rejected."""

from __future__ import annotations

import struct

import pytest
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    i8,
)
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
    assert (magic, version) == (b"NPUC", 3)
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


HEADER = struct.Struct("<4sHHIIIIII")
RECORD = struct.Struct("<HHII")


def header_field(stream: bytes, index: int) -> int:
    return HEADER.unpack_from(stream)[index]


def with_header_field(stream: bytes, index: int, value: int) -> bytes:
    fields = list(HEADER.unpack_from(stream))
    fields[index] = value
    return HEADER.pack(*fields) + stream[HEADER.size :]


def records(stream: bytes) -> list[tuple[int, int]]:
    """(offset of the record in the stream, opcode) of every record, walking the documented layout."""
    position = HEADER.size + header_field(stream, 6)
    found = []
    while position < len(stream):
        opcode, _, _, size = RECORD.unpack_from(stream, position)
        found.append((position, opcode))
        position += RECORD.size + size
    return found


def record_at(stream: bytes, opcode: int) -> int:
    """Offset of the first record with `opcode` (see `OPCODES`)."""
    return next(offset for offset, code in records(stream) if code == opcode)


def payload_start(stream: bytes, record: int) -> int:
    """Where the decoder's messages say a record is: its payload's offset among the records."""
    return record + RECORD.size - (HEADER.size + header_field(stream, 6))


def rejected(stream: bytes, blob: bytes) -> str:
    with pytest.raises(ModelFormatError) as error:
        decode(stream, blob)
    return str(error.value)


DMA = 4
CPU = 10


def test_a_program_without_constants_has_an_empty_blob():
    module = parse(
        'builtin.module attributes {npu.target = "t"} {\n'
        '  npu.input {tensor = "x", fm = #npu.fm<sram, 0, [1, 4], [4, 1], !quantized.uniform<i8:f32, 0.5:-1>>}\n'
        "}"
    )
    program = encode(module)
    assert program.blob == b""
    assert str(decode(program.stream, program.blob)) == str(module)


def test_constants_in_two_memories_cannot_be_imaged():
    module = parse(
        'builtin.module attributes {npu.target = "t"} {\n'
        "  npu.constant {buffer = #npu.buf<sram, 0, 4>, value = dense<1> : tensor<4xi8>}\n"
        "  npu.constant {buffer = #npu.buf<flash, 0, 4>, value = dense<1> : tensor<4xi8>}\n"
        "}"
    )
    with pytest.raises(ModelVerificationError) as error:
        encode(module)
    assert str(error.value) == "command stream: constants span several memories (flash, sram); the blob images one"


def test_offsets_and_sizes_above_2_gib_round_trip():
    fm = "#npu.fm<sram, 2147483664, [1, 4], [4, 1], !quantized.uniform<i8:f32, 0.5:-1>>"
    module = parse(
        'builtin.module attributes {npu.target = "t"} {\n'
        f'  npu.input {{tensor = "x", fm = {fm}}}\n'
        '  npu.dma {src = #npu.buf<dram, 2147483648, 2147483648>, dst = #npu.buf<sram, 0, 2147483648>}\n'
        "}"
    )
    program = encode(module)
    assert str(decode(program.stream, program.blob)) == str(module)


def test_a_negative_rescale_multiplier_round_trips():
    module = parse(OPS_FILE.read_text().replace("rescale = array<i64: 1, 0>", "rescale = array<i64: -5, 3>"))
    program = encode(module)
    assert str(decode(program.stream, program.blob)) == str(module)


def test_a_value_the_format_cannot_hold_is_named():
    fm = "#npu.fm<sram, 4294967296, [1, 4], [4, 1], !quantized.uniform<i8:f32, 0.5:-1>>"
    module = parse(f'builtin.module attributes {{npu.target = "t"}} {{\n  npu.input {{tensor = "x", fm = {fm}}}\n}}')
    with pytest.raises(ModelVerificationError, match=r"^command stream: value out of range in \(4294967296, 2, 8, 0, -1, 0\.5\)$"):
        encode(module)


def test_attributes_the_format_has_no_field_for_are_refused():
    module = parse(OPS_FILE.read_text().replace('npu.dma {layer = "conv"', 'npu.dma {layer = "conv", note = 1, tag = 2'))
    with pytest.raises(ModelVerificationError) as error:
        encode(module)
    assert str(error.value) == "command stream: npu.dma carries attributes the format has no field for: ['note', 'tag']"


def test_a_module_without_a_target_is_refused():
    with pytest.raises(ModelVerificationError) as error:
        encode(ModuleOp([]))
    assert str(error.value) == "command stream: module has no npu.target attribute: run npu-lower first"


def test_a_stream_shorter_than_its_header_is_named(encoded):
    assert rejected(encoded.stream[: HEADER.size - 1], encoded.blob) == "command stream: shorter than its header"


def test_a_header_without_its_string_table_is_a_truncated_table(encoded):
    assert rejected(encoded.stream[: HEADER.size], encoded.blob) == "command stream: string table is truncated"


def test_a_string_table_longer_than_its_strings_is_refused(encoded):
    table_end = HEADER.size + header_field(encoded.stream, 6)
    stream = with_header_field(encoded.stream, 6, header_field(encoded.stream, 6) + 4)
    stream = stream[:table_end] + bytes(4) + stream[table_end:]
    assert rejected(stream, encoded.blob) == "command stream: string table size does not match its strings"


def test_a_string_that_is_not_utf8_is_refused(encoded):
    stream = encoded.stream.replace(b"ethos-u55-128", b"\xffthos-u55-128")
    assert rejected(stream, encoded.blob) == "command stream: string table holds invalid UTF-8"


@pytest.mark.parametrize("field", [3, 4], ids=["target", "attributes"])
def test_a_header_naming_a_missing_string_is_refused(encoded, field):
    count = header_field(encoded.stream, 5)
    stream = with_header_field(encoded.stream, field, count)
    assert rejected(stream, encoded.blob) == f"command stream: header names string {count}, which does not exist"


def test_module_attributes_that_do_not_parse_are_named(encoded):
    stream = encoded.stream.replace(b'"ethos-u55-128"}', b'"ethos-u55-128")')
    assert rejected(stream, encoded.blob).startswith(
        "command stream: module attributes does not parse: command stream:1:30"
    )


def test_a_stream_cut_inside_its_last_record_is_truncated(encoded):
    assert rejected(encoded.stream[:-3], encoded.blob) == "command stream: command records is truncated"


def test_bytes_after_the_last_record_are_refused(encoded):
    assert rejected(encoded.stream + b"\0", encoded.blob) == "command stream: trailing bytes after the last command"


def test_a_record_longer_than_its_fields_is_refused(encoded):
    dma = record_at(encoded.stream, DMA)
    opcode, flags, layer, size = RECORD.unpack_from(encoded.stream, dma)
    end = dma + RECORD.size + size
    stream = encoded.stream[:dma] + RECORD.pack(opcode, flags, layer, size + 4) + encoded.stream[dma + RECORD.size : end]
    stream += bytes(4) + encoded.stream[end:]
    start = payload_start(encoded.stream, dma)
    assert rejected(stream, encoded.blob) == f"command stream: record at byte {start} has 4 extra bytes"


def test_a_record_shorter_than_its_fields_is_truncated(encoded):
    dma = record_at(encoded.stream, DMA)
    opcode, flags, layer, size = RECORD.unpack_from(encoded.stream, dma)
    end = dma + RECORD.size + size
    stream = encoded.stream[:dma] + RECORD.pack(opcode, flags, layer, size - 4) + encoded.stream[dma + RECORD.size : end - 4]
    stream += encoded.stream[end:]
    start = payload_start(encoded.stream, dma)
    assert rejected(stream, encoded.blob) == f"command stream: record at byte {start} is truncated"


def test_a_record_naming_a_missing_string_is_refused(encoded):
    dma = record_at(encoded.stream, DMA)
    count = header_field(encoded.stream, 5)
    start = payload_start(encoded.stream, dma)
    expected = f"command stream: record at byte {start} names string {count}, which does not exist"
    layer = encoded.stream[:dma + 4] + struct.pack("<I", count) + encoded.stream[dma + 8 :]
    assert rejected(layer, encoded.blob) == expected
    source_region = dma + RECORD.size
    region = encoded.stream[:source_region] + struct.pack("<I", count) + encoded.stream[source_region + 4 :]
    assert rejected(region, encoded.blob) == expected


def test_a_record_of_invalid_fields_is_named(encoded):
    # The first input's element width (after tensor and region indices, offset, rank) becomes 7 bits.
    record = records(encoded.stream)[4][0]
    bits = record + RECORD.size + 13
    assert encoded.stream[bits] == 8
    stream = encoded.stream[:bits] + bytes([7]) + encoded.stream[bits + 1 :]
    start = payload_start(encoded.stream, record)
    assert rejected(stream, encoded.blob).startswith(f"command stream: record at byte {start} is invalid: ")


def test_a_decoded_program_that_does_not_verify_is_named(encoded):
    stream = encoded.stream.replace(b"\x03\x00\x00\x00avg", b"\x03\x00\x00\x00avx")
    assert rejected(stream, encoded.blob).startswith("command stream: decoded program does not verify: ")


def test_a_cpu_body_that_does_not_parse_is_named(encoded):
    stream = encoded.stream.replace(b"npu.yield", b"npu.yiel!")
    assert rejected(stream, encoded.blob).startswith("command stream: cpu_op body does not parse: command stream:")


def test_a_cpu_feature_map_count_beyond_its_record_is_truncated(encoded):
    cpu = record_at(encoded.stream, CPU)
    count = cpu + RECORD.size
    stream = encoded.stream[:count] + struct.pack("<I", 0xFFFFFFFF) + encoded.stream[count + 4 :]
    start = payload_start(encoded.stream, cpu)
    assert rejected(stream, encoded.blob) == f"command stream: record at byte {start} is truncated"


def test_a_constant_outside_the_blob_is_refused(encoded):
    stream = with_header_field(encoded.stream, 8, 100)
    assert rejected(stream, encoded.blob[:100]) == "command stream: constant at 80 lies outside the blob"


CONSTANT = 1
INPUT = 2
FULLY_CONNECTED = 7


def payload(stream: bytes, record: int) -> bytes:
    """The payload bytes of the record at offset `record`."""
    size = RECORD.unpack_from(stream, record)[3]
    return stream[record + RECORD.size : record + RECORD.size + size]


def with_u32(stream: bytes, position: int, value: int) -> bytes:
    return stream[:position] + struct.pack("<I", value) + stream[position + 4 :]


def test_a_splat_constant_fills_its_whole_buffer():
    # A splat built through the xDSL API stores one element; the memory holds it repeated.
    splat = DenseIntOrFPElementsAttr(TensorType(i8, [8]), BytesAttr(b"\x07"))
    module = ModuleOp([npu.ConstantOp(npu.BufferAttr("flash", 4, 8), splat)])
    module.attributes[npu.TARGET_ATTR] = StringAttr("t")
    module.verify()
    program = encode(module)
    assert program.blob == bytes(4) + bytes([7]) * 8
    assert str(decode(program.stream, program.blob)) == str(module)


def test_a_constant_record_is_laid_out_as_documented_up_to_rank_255():
    # u8 element bits, u8 rank (128 does not fit an i8), u16 reserved 0, rank x u32 shape.
    ones = "x".join(["1"] * 128)
    module = parse(
        'builtin.module attributes {npu.target = "t"} {\n'
        f"  npu.constant {{buffer = #npu.buf<flash, 4, 2>, value = dense<5> : tensor<{ones}x2xi8>}}\n"
        "}"
    )
    program = encode(module)
    fields = payload(program.stream, record_at(program.stream, CONSTANT))
    region = struct.unpack_from("<I", fields)[0]
    assert fields == struct.pack("<III", region, 4, 2) + bytes([8, 129, 0, 0]) + struct.pack("<129I", *[1] * 128, 2)
    assert str(decode(program.stream, program.blob)) == str(module)


def test_a_constant_that_is_not_of_integers_is_refused():
    module = parse(
        'builtin.module attributes {npu.target = "t"} {\n'
        "  npu.constant {buffer = #npu.buf<flash, 0, 8>, value = dense<1.5> : tensor<2xf32>}\n"
        "}"
    )
    with pytest.raises(ModelVerificationError) as error:
        encode(module)
    assert str(error.value) == (
        "command stream: npu.constant of f32 elements: the format holds integer constants only"
    )


def test_a_constant_rank_beyond_its_record_is_truncated(encoded):
    constant = record_at(encoded.stream, CONSTANT)
    rank = constant + RECORD.size + 13  # after the buffer (12 bytes) and the element bits
    stream = encoded.stream[:rank] + bytes([0xFF]) + encoded.stream[rank + 1 :]
    start = payload_start(encoded.stream, constant)
    assert rejected(stream, encoded.blob) == f"command stream: record at byte {start} is truncated"


def test_a_dangling_optional_string_of_a_record_is_named(encoded):
    # The first input: string tensor, a feature map of 24 + 8 x 4 bytes, then its host_conversion string.
    record = record_at(encoded.stream, INPUT)
    assert len(payload(encoded.stream, record)) == 4 + (24 + 8 * 4) + 4 + 4
    assert payload(encoded.stream, record)[60:64] != struct.pack("<I", 0xFFFFFFFF)
    count = header_field(encoded.stream, 5)
    stream = with_u32(encoded.stream, record + RECORD.size + 60, count)
    start = payload_start(encoded.stream, record)
    assert rejected(stream, encoded.blob) == f"command stream: record at byte {start} names string {count}, which does not exist"


INT16 = "!quantized.uniform<i16:f32, 0.5:0>"
WIDE_FC = parse(
    'builtin.module attributes {npu.target = "t"} {\n'
    f'  npu.fully_connected {{layer = "fc", ifm = #npu.fm<sram, 0, [1, 4], [8, 2], {INT16}>, '
    f"ofm = #npu.fm<sram, 64, [1, 2], [4, 2], {INT16}>, weights = #npu.buf<flash, 0, 16>, "
    "scale_bias = #npu.buf<flash, 16, 32>, "
    "encoding = #npu.encoded<depth_first, weights [7, 9], scales [16, 16], wide>, "
    "act_min = -32768 : i32, act_max = 32767 : i32, block = array<i64: 1, 2, 8>}\n"
    "}"
)


def test_a_wide_encoding_is_the_documented_trailing_field_and_round_trips():
    program = encode(WIDE_FC)
    fields = payload(program.stream, record_at(program.stream, FULLY_CONNECTED))
    traversal = struct.unpack_from("<I", fields, len(fields) - 28)[0]
    # string traversal, u32 core count, u32 wide (1), weight stream lengths, scale stream lengths.
    assert fields[-28:] == struct.pack("<7I", traversal, 2, 1, 7, 9, 16, 16)
    decoded = decode(program.stream, program.blob)
    [fc] = decoded.ops
    assert isinstance(fc, npu.FullyConnectedOp) and fc.encoding is not None and fc.encoding.wide.data == 1
    assert str(decoded) == str(WIDE_FC)


def test_an_encoding_core_count_beyond_its_record_is_truncated():
    program = encode(WIDE_FC)
    record = record_at(program.stream, FULLY_CONNECTED)
    end = record + RECORD.size + len(payload(program.stream, record))
    stream = with_u32(program.stream, end - 24, 0xFFFFFFFF)
    start = payload_start(program.stream, record)
    assert rejected(stream, program.blob) == f"command stream: record at byte {start} is truncated"
