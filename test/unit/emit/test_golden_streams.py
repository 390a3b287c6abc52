"""Golden command streams, read field by field as docs/command-stream.md lays them out.

Each program below is encoded and compared byte for byte with its committed
`golden/<name>.bin`; the golden bytes themselves are read here by a reader
written from the document alone (not npuc's decoder), and every field is
compared with the program it encodes. A layout change that the encoder and
the decoder make together (say kernel and strides swapped in both) fails
here. Regenerate after a deliberate format change (and update the document):

    python test/unit/emit/test_golden_streams.py
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from npuc.context import npuc_context
from npuc.emit.command_stream import encode

GOLDEN = Path(__file__).resolve().parent / "golden"
I8 = "!quantized.uniform<i8:f32, 0.5:-3>"
I32 = "!quantized.uniform<i32:f32, 1.0:0>"

PROGRAMS = {
    "conv_pool_fc": f"""
builtin.module attributes {{npu.target = "ethos-u55-128"}} {{
  npu.constant {{buffer = #npu.buf<flash, 0, 24>, value = dense<"0x0102030405060708090A0B0C0D0E0F101112131415161718"> : tensor<2x3x1x4xi8>}}
  npu.constant {{buffer = #npu.buf<flash, 32, 24>, value = dense<[[7, 1073741824, 3], [-7, 1518500250, 5]]> : tensor<2x3xi32>}}
  npu.constant {{buffer = #npu.buf<flash, 64, 256>, value = dense<-5> : tensor<256xi8>}}
  npu.input {{tensor = "image", fm = #npu.fm<sram, 0, [1, 5, 4, 4], [80, 16, 4, 1], {I8}>, host_conversion = "quantize", layout = "NCHW"}}
  npu.dma {{layer = "conv", src = #npu.buf<flash, 0, 24>, dst = #npu.buf<sram, 96, 24>}}
  npu.conv2d {{layer = "conv", ifm = #npu.fm<sram, 0, [1, 5, 4, 4], [80, 16, 4, 1], {I8}>, ofm = #npu.fm<sram, 128, [1, 2, 4, 2], [16, 8, 2, 1], {I8}>, weights = #npu.buf<sram, 96, 24>, scale_bias = #npu.buf<flash, 32, 24>, kernel = array<i64: 3, 1>, strides = array<i64: 2, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 0, 0, 0>, act_min = -3 : i32, act_max = 127 : i32, lut = #npu.buf<flash, 64, 256>, block = array<i64: 2, 4, 8>}}
  npu.pool {{layer = "pool", kind = "max", ifm = #npu.fm<sram, 128, [1, 2, 4, 2], [16, 8, 2, 1], {I8}>, ofm = #npu.fm<sram, 160, [1, 1, 2, 2], [4, 4, 2, 1], {I8}>, kernel = array<i64: 2, 3>, strides = array<i64: 1, 2>, padding = array<i64: 0, 1, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 1, 2, 8>}}
  npu.output {{tensor = "pooled", fm = #npu.fm<sram, 160, [1, 1, 2, 2], [4, 4, 2, 1], {I8}>}}
}}
""",
    "elementwise_flags": f"""
builtin.module attributes {{npu.target = "ethos-u65-256"}} {{
  npu.constant {{buffer = #npu.buf<flash, 0, 1024>, value = dense<9> : tensor<256xi32>}}
  npu.input {{tensor = "x", fm = #npu.fm<sram, 0, [1, 2, 1, 3], [6, 3, 3, 1], {I8}>}}
  npu.input {{tensor = "y", fm = #npu.fm<sram, 8, [1, 2, 1, 3], [6, 3, 3, 1], {I8}>}}
  npu.elementwise {{layer = "add", kind = "add", ifm = #npu.fm<sram, 0, [1, 2, 1, 3], [6, 3, 3, 1], {I8}>, ifm2 = #npu.fm<sram, 8, [1, 2, 1, 3], [6, 3, 3, 1], {I8}>, ofm = #npu.fm<sram, 16, [1, 2, 1, 3], [6, 3, 3, 1], {I8}>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 2, 1, 16>}}
  npu.elementwise {{layer = "exp", kind = "sub", ifm = #npu.fm<sram, 16, [1, 2, 1, 3], [6, 3, 3, 1], {I8}>, scalar = 35 : i32, reversed, ofm = #npu.fm<sram, 32, [1, 2, 1, 3], [24, 12, 12, 4], {I32}>, act_min = -128 : i32, act_max = 127 : i32, rescale = array<i64: 1073741824, 31>, rounding = "half_up", lut = #npu.buf<flash, 0, 1024>, block = array<i64: 2, 1, 8>}}
  npu.output {{tensor = "e", fm = #npu.fm<sram, 32, [1, 2, 1, 3], [24, 12, 12, 4], {I32}>}}
}}
""",
}
"""Small lowered programs: every record kind but the CPU op, each window axis different."""


def program(name: str) -> ModuleOp:
    module = Parser(npuc_context(), PROGRAMS[name]).parse_module()
    module.verify()
    return module


class DocumentReader:
    """Reads a stream by docs/command-stream.md: little-endian, strings by table index."""

    def __init__(self, data: bytes):
        self.data, self.position, self.strings = data, 0, []

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.position)
        self.position += struct.calcsize("<" + fmt)
        return values

    def u32(self) -> int:
        return self.take("I")[0]

    def string(self) -> str | None:
        index = self.u32()
        return None if index == 0xFFFFFFFF else self.strings[index]

    def buffer(self) -> tuple:
        return (self.string(), *self.take("II"))

    def feature_map(self) -> tuple:
        region = self.string()
        offset, rank, bits, reserved, zero_point, scale = self.take("IBBhid")
        assert reserved == 0
        return (region, offset, bits, zero_point, scale, self.take(f"{rank}I"), self.take(f"{rank}I"))

    def compute(self) -> dict:
        fields = {"ifm": self.feature_map(), "ofm": self.feature_map(), "act": self.take("ii"), "block": self.take("3I")}
        if self.u32():
            fields["lut"] = self.buffer()
        return fields

    def window(self) -> dict:
        return {"kernel": self.take("2I"), "strides": self.take("2I"), "padding": self.take("4I")}


def read_document_layout(data: bytes) -> tuple[dict, list[tuple[int, str | None, dict]]]:
    """(header fields, [(opcode, layer, fields)]) of a stream, as the document describes it."""
    reader = DocumentReader(data)
    magic, version, reserved, target, attributes, count, table_size, records, blob = reader.take("4sHHIIIIII")
    assert (magic, version, reserved) == (b"NPUC", 3, 0)
    table_start = reader.position
    for _ in range(count):
        (length,) = reader.take("I")
        reader.strings.append(data[reader.position : reader.position + length].decode())
        reader.position += length
    assert reader.position - table_start == table_size
    header = {"target": reader.strings[target], "attributes": reader.strings[attributes], "blob": blob}
    commands = []
    for _ in range(records):
        opcode, reserved, layer, size = reader.take("HHII")
        assert reserved == 0
        end = reader.position + size
        layer_name = None if layer == 0xFFFFFFFF else reader.strings[layer]
        commands.append((opcode, layer_name, _payload(reader, opcode)))
        assert reader.position == end, f"opcode {opcode}: payload not consumed exactly"
    assert reader.position == len(data)
    return header, commands


def _payload(reader: DocumentReader, opcode: int) -> dict:
    if opcode == 1:
        buffer = reader.buffer()
        bits, rank, reserved = reader.take("BBH")
        return {"buffer": buffer, "bits": bits, "shape": reader.take(f"{rank}I")}
    if opcode in (2, 3):
        return {"tensor": reader.string(), "fm": reader.feature_map(), "conversion": reader.string(), "layout": reader.string()}
    if opcode == 4:
        return {"src": reader.buffer(), "dst": reader.buffer()}
    if opcode in (5, 6):
        fields = reader.compute() | {"weights": reader.buffer(), "scale_bias": reader.buffer()}
        return fields | reader.window() | {"dilations": reader.take("2I")}
    if opcode == 8:
        return reader.compute() | {"kind": reader.string()} | reader.window()
    if opcode == 9:
        fields = reader.compute() | {"kind": reader.string()}
        (flags,) = reader.take("I")
        fields["flags"] = flags
        if flags & 1:
            fields["ifm2"] = reader.feature_map()
        if flags & 2:
            fields["scalar"] = reader.take("i")[0]
        if flags & 8:
            fields["rescale"] = (*reader.take("iI"), reader.string())
        return fields
    raise AssertionError(f"opcode {opcode} is not in these programs")


def fm(region: str, offset: int, shape: tuple, strides: tuple, bits: int = 8, zero_point: int = -3, scale: float = 0.5):
    return (region, offset, bits, zero_point, scale, shape, strides)


EXPECTED = {
    "conv_pool_fc": [
        (1, None, {"buffer": ("flash", 0, 24), "bits": 8, "shape": (2, 3, 1, 4)}),
        (1, None, {"buffer": ("flash", 32, 24), "bits": 32, "shape": (2, 3)}),
        (1, None, {"buffer": ("flash", 64, 256), "bits": 8, "shape": (256,)}),
        (2, None, {"tensor": "image", "fm": fm("sram", 0, (1, 5, 4, 4), (80, 16, 4, 1)), "conversion": "quantize", "layout": "NCHW"}),
        (4, "conv", {"src": ("flash", 0, 24), "dst": ("sram", 96, 24)}),
        (5, "conv", {
            "ifm": fm("sram", 0, (1, 5, 4, 4), (80, 16, 4, 1)), "ofm": fm("sram", 128, (1, 2, 4, 2), (16, 8, 2, 1)),
            "act": (-3, 127), "block": (2, 4, 8), "lut": ("flash", 64, 256),
            "weights": ("sram", 96, 24), "scale_bias": ("flash", 32, 24),
            "kernel": (3, 1), "strides": (2, 1), "padding": (1, 0, 0, 0), "dilations": (1, 1),
        }),
        (8, "pool", {
            "ifm": fm("sram", 128, (1, 2, 4, 2), (16, 8, 2, 1)), "ofm": fm("sram", 160, (1, 1, 2, 2), (4, 4, 2, 1)),
            "act": (-128, 127), "block": (1, 2, 8), "kind": "max",
            "kernel": (2, 3), "strides": (1, 2), "padding": (0, 1, 0, 0),
        }),
        (3, None, {"tensor": "pooled", "fm": fm("sram", 160, (1, 1, 2, 2), (4, 4, 2, 1)), "conversion": None, "layout": None}),
    ],
    "elementwise_flags": [
        (1, None, {"buffer": ("flash", 0, 1024), "bits": 32, "shape": (256,)}),
        (2, None, {"tensor": "x", "fm": fm("sram", 0, (1, 2, 1, 3), (6, 3, 3, 1)), "conversion": None, "layout": None}),
        (2, None, {"tensor": "y", "fm": fm("sram", 8, (1, 2, 1, 3), (6, 3, 3, 1)), "conversion": None, "layout": None}),
        (9, "add", {
            "ifm": fm("sram", 0, (1, 2, 1, 3), (6, 3, 3, 1)), "ofm": fm("sram", 16, (1, 2, 1, 3), (6, 3, 3, 1)),
            "act": (-128, 127), "block": (2, 1, 16), "kind": "add", "flags": 1,
            "ifm2": fm("sram", 8, (1, 2, 1, 3), (6, 3, 3, 1)),
        }),
        (9, "exp", {
            "ifm": fm("sram", 16, (1, 2, 1, 3), (6, 3, 3, 1)),
            "ofm": fm("sram", 32, (1, 2, 1, 3), (24, 12, 12, 4), bits=32, zero_point=0, scale=1.0),
            "act": (-128, 127), "block": (2, 1, 8), "kind": "sub", "flags": 2 | 4 | 8,
            "scalar": 35, "rescale": (1073741824, 31, "half_up"), "lut": ("flash", 0, 1024),
        }),
        (3, None, {"tensor": "e", "fm": fm("sram", 32, (1, 2, 1, 3), (24, 12, 12, 4), bits=32, zero_point=0, scale=1.0), "conversion": None, "layout": None}),
    ],
}
"""Per program, the records the document says its stream holds."""


@pytest.mark.parametrize("name", PROGRAMS)
def test_stream_is_the_golden_bytes(name: str) -> None:
    assert encode(program(name)).stream == (GOLDEN / f"{name}.bin").read_bytes()


@pytest.mark.parametrize("name", PROGRAMS)
def test_golden_bytes_follow_the_document(name: str) -> None:
    header, commands = read_document_layout((GOLDEN / f"{name}.bin").read_bytes())
    target = "ethos-u55-128" if name == "conv_pool_fc" else "ethos-u65-256"
    assert header["target"] == target
    assert header["attributes"] == f'{{npu.target = "{target}"}}'
    assert commands == EXPECTED[name]


def test_blob_is_the_constant_memory_image() -> None:
    blob = encode(program("conv_pool_fc")).blob
    assert blob[:24] == bytes(range(1, 25)) and blob[24:32] == bytes(8)
    assert struct.unpack("<6i", blob[32:56]) == (7, 1073741824, 3, -7, 1518500250, 5)


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for golden_name in PROGRAMS:
        (GOLDEN / f"{golden_name}.bin").write_bytes(encode(program(golden_name)).stream)
    sys.exit(0)
