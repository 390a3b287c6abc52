"""The npuc command stream: a binary form of lowered `npu` IR, and its decoder.

`encode` turns a module of npu commands into a `CommandStream`: the stream
(header, string table, one record per command) and the blob (the image of the
constant memory: every `npu.constant`'s bytes at its offset). `decode` rebuilds
the identical module from both. The byte layout is specified in
`docs/command-stream.md`; this module and that page change together.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from io import StringIO

from xdsl.dialects.builtin import (
    ArrayAttr,
    BytesAttr,
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    UnitAttr,
    i32,
)
from xdsl.ir import Attribute, Operation
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError, VerifyException

from npuc.dialects import npu
from npuc.dialects.common import LAYER_ATTR, array_values, int_array
from npuc.dialects.quantized import UniformQuantizedType
from npuc.errors import ModelFormatError, ModelVerificationError

MAGIC = b"NPUC"
VERSION = 3
NONE = 0xFFFFFFFF
"""String index meaning "absent" (an optional string field)."""

_HEADER = struct.Struct("<4sHHIIIIII")
_RECORD = struct.Struct("<HHII")

OPCODES: dict[type[Operation], int] = {
    npu.ConstantOp: 1,
    npu.InputOp: 2,
    npu.OutputOp: 3,
    npu.DmaOp: 4,
    npu.Conv2dOp: 5,
    npu.DepthwiseConv2dOp: 6,
    npu.FullyConnectedOp: 7,
    npu.PoolOp: 8,
    npu.ElementwiseOp: 9,
    npu.CpuOp: 10,
}
"""Record opcode of each command."""

_OP_TYPES = {code: op_type for op_type, code in OPCODES.items()}


@dataclass(frozen=True)
class CommandStream:
    """An encoded program: the command records and the constant-memory image."""

    stream: bytes
    blob: bytes


class _Writer:
    """Little-endian fields into a growing byte string, strings into a shared table."""

    def __init__(self, strings: dict[str, int]):
        self.data = bytearray()
        self.strings = strings

    def pack(self, fmt: str, *values: int | float) -> None:
        try:
            self.data += struct.pack("<" + fmt, *values)
        except struct.error:
            raise ModelVerificationError(
                f"command stream: value out of range in {values}"
            ) from None

    def string(self, text: str | None) -> None:
        self.pack("I", _intern(self.strings, text))

    def ints(self, values: tuple[int, ...]) -> None:
        self.pack(f"{len(values)}I", *values)

    def buffer(self, buffer: npu.BufferAttr) -> None:
        self.string(buffer.region.data)
        self.pack("II", buffer.offset.data, buffer.size.data)

    def feature_map(self, fm: npu.FeatureMapAttr) -> None:
        shape, strides, qtype = fm.shape_values(), fm.stride_values(), fm.element_type
        self.string(fm.region.data)
        self.pack("IBBhid", fm.offset.data, len(shape), qtype.bits, fm.wrap.data, qtype.zero_point, qtype.scale)
        self.ints(shape)
        self.ints(strides)
        if fm.wrap.data:
            self.pack("I", fm.wrap_offset.data)


def _intern(strings: dict[str, int], text: str | None) -> int:
    """The string-table index of `text` (added if new), or `NONE` for None."""
    return NONE if text is None else strings.setdefault(text, len(strings))


def _optional_string_at(strings: list[str], index: int, what: str) -> str | None:
    """The string at a table index, or None for `NONE`."""
    return None if index == NONE else _string_at(strings, index, what)


def _string_at(strings: list[str], index: int, what: str) -> str:
    """The string at a table index (a required field: `NONE` does not exist either)."""
    if index >= len(strings):
        raise ModelFormatError(f"command stream: {what} names string {index}, which does not exist")
    return strings[index]


class _Reader:
    """Bounds-checked little-endian reads; any overrun is a `ModelFormatError`."""

    def __init__(self, data: bytes, strings: list[str], what: str):
        self.data = data
        self.position = 0
        self.strings = strings
        self.what = what

    def unpack(self, fmt: str) -> tuple:
        layout = struct.Struct("<" + fmt)
        end = self.position + layout.size
        if end > len(self.data):
            raise ModelFormatError(f"command stream: {self.what} is truncated")
        values = layout.unpack_from(self.data, self.position)
        self.position = end
        return values

    def u32(self) -> int:
        return self.unpack("I")[0]

    def optional_string(self) -> str | None:
        return _optional_string_at(self.strings, self.u32(), self.what)

    def string(self) -> str:
        return _string_at(self.strings, self.u32(), self.what)

    def ints(self, count: int) -> tuple[int, ...]:
        return self.unpack(f"{count}I")

    def buffer(self) -> npu.BufferAttr:
        region = self.string()
        offset, size = self.unpack("II")
        return npu.BufferAttr(region, offset, size)

    def feature_map(self) -> npu.FeatureMapAttr:
        region = self.string()
        offset, rank, bits, wrap, zero_point, scale = self.unpack("IBBhid")
        shape, strides = self.ints(rank), self.ints(rank)
        wrap_offset = self.u32() if wrap else 0
        qtype = UniformQuantizedType(IntegerType(bits), [scale], [zero_point])
        return npu.FeatureMapAttr(region, offset, shape, strides, qtype, wrap, wrap_offset)


# Encoding.


def encode(module: ModuleOp) -> CommandStream:
    """The command stream and constant blob of a lowered module (see docs/command-stream.md).

    Raises `ModelVerificationError` if the module is not npu commands only
    (e.g. npu-lower has not run) or holds a value the format cannot carry.
    """
    target = module.attributes.get(npu.TARGET_ATTR)
    if not isinstance(target, StringAttr):
        raise ModelVerificationError(
            f"command stream: module has no {npu.TARGET_ATTR} attribute: run npu-lower first"
        )
    strings: dict[str, int] = {}
    target_index = _intern(strings, target.data)
    attributes_index = _intern(strings, _print(lambda printer: printer.print_attr_dict(module.attributes)))
    records = bytearray()
    constants: list[npu.ConstantOp] = []
    for op in module.ops:
        opcode = OPCODES.get(type(op))
        if opcode is None:
            raise ModelVerificationError(
                f"command stream: '{op.name}' is not an npu command: run npu-lower first"
            )
        if isinstance(op, npu.ConstantOp):
            constants.append(op)
        records += _record(op, opcode, strings)
    blob = _blob(constants)
    table = b"".join(struct.pack("<I", len(encoded)) + encoded for encoded in (s.encode() for s in strings))
    header = _HEADER.pack(
        MAGIC, VERSION, 0, target_index, attributes_index, len(strings), len(table),
        len(module.ops), len(blob),
    )
    return CommandStream(header + table + bytes(records), blob)


def _record(op: Operation, opcode: int, strings: dict[str, int]) -> bytes:
    extra = set(op.attributes) - {LAYER_ATTR}
    if extra:
        raise ModelVerificationError(
            f"command stream: {op.name} carries attributes the format has no field for: {sorted(extra)}"
        )
    layer = op.attributes.get(LAYER_ATTR)
    writer = _Writer(strings)
    _encode_fields(writer, op)
    layer_index = _intern(strings, layer.data if isinstance(layer, StringAttr) else None)
    return _RECORD.pack(opcode, 0, layer_index, len(writer.data)) + bytes(writer.data)


def _blob(constants: list[npu.ConstantOp]) -> bytes:
    """The constant memory image: each constant's bytes at its buffer offset."""
    regions = {op.buffer.region.data for op in constants}
    if len(regions) > 1:
        raise ModelVerificationError(
            f"command stream: constants span several memories ({', '.join(sorted(regions))}); "
            "the blob images one"
        )
    image = bytearray(max((op.buffer.end for op in constants), default=0))
    for op in constants:
        image[op.buffer.offset.data : op.buffer.end] = _constant_bytes(op)
    return bytes(image)


def _constant_bytes(op: npu.ConstantOp) -> bytes:
    data = op.value.data.data
    size = op.buffer.size.data
    if len(data) == size:
        return data
    # A splat stores one element; the memory holds it repeated.
    return data * (size // len(data))


def _encode_constant(writer: _Writer, op: npu.ConstantOp) -> None:
    value_type = op.value.type
    assert isinstance(value_type, TensorType)  # verified
    if not isinstance(value_type.element_type, IntegerType):
        raise ModelVerificationError(
            f"command stream: npu.constant of {value_type.element_type} elements: "
            "the format holds integer constants only"
        )
    writer.buffer(op.buffer)
    shape = tuple(value_type.get_shape())
    writer.pack("BBH", value_type.element_type.width.data, len(shape), 0)
    writer.ints(shape)


def _encode_interface(writer: _Writer, op: npu.InterfaceOp) -> None:
    writer.string(op.tensor.data)
    writer.feature_map(op.fm)
    writer.string(op.host_conversion.data if op.host_conversion is not None else None)
    writer.string(op.layout.data if op.layout is not None else None)


def _encode_dma(writer: _Writer, op: npu.DmaOp) -> None:
    writer.buffer(op.src)
    writer.buffer(op.dst)


def _encode_compute(writer: _Writer, op: npu.ComputeOp) -> None:
    writer.feature_map(op.ifm)
    writer.feature_map(op.ofm)
    writer.pack("ii", op.act_min.value.data, op.act_max.value.data)
    writer.ints(array_values(op.block))
    writer.pack("I", op.lut is not None)
    if op.lut is not None:
        writer.buffer(op.lut)


def _encode_window(writer: _Writer, op: npu.WindowedOp) -> None:
    writer.ints(array_values(op.kernel))
    writer.ints(array_values(op.strides))
    writer.ints(array_values(op.padding))


def _encode_weighted(writer: _Writer, op: npu.WeightedOp | npu.FullyConnectedOp) -> None:
    _encode_compute(writer, op)
    writer.buffer(op.weights)
    writer.buffer(op.scale_bias)
    if isinstance(op, npu.WeightedOp):
        _encode_window(writer, op)
        writer.ints(array_values(op.dilations))
    encoding = op.encoding
    if encoding is not None:  # optional trailing field: the record is longer
        weights, scales = encoding.weight_stream_lengths(), encoding.scale_stream_lengths()
        writer.string(encoding.traversal.data)
        writer.pack("II", len(weights), encoding.wide.data)
        writer.ints(weights)
        writer.ints(scales)


def _encode_pool(writer: _Writer, op: npu.PoolOp) -> None:
    _encode_compute(writer, op)
    writer.string(op.kind.data)
    _encode_window(writer, op)


_IFM2, _SCALAR, _REVERSED, _RESCALE = 1, 2, 4, 8
"""Flag bits of an elementwise record: which optional fields follow (16, the lut of version 2, is in
the compute part since version 3)."""


def _encode_elementwise(writer: _Writer, op: npu.ElementwiseOp) -> None:
    _encode_compute(writer, op)
    writer.string(op.kind.data)
    present = [
        (_IFM2, op.ifm2), (_SCALAR, op.scalar), (_REVERSED, op.reversed),
        (_RESCALE, op.rescale),
    ]  # fmt: skip
    writer.pack("I", sum(flag for flag, value in present if value is not None))
    if op.ifm2 is not None:
        writer.feature_map(op.ifm2)
    if op.scalar is not None:
        writer.pack("i", op.scalar.value.data)
    if op.rescale is not None and op.rounding is not None:
        writer.pack("iI", *array_values(op.rescale))
        writer.string(op.rounding.data)


def _encode_cpu(writer: _Writer, op: npu.CpuOp) -> None:
    for fms in (op.inputs.data, op.outputs.data):
        writer.pack("I", len(fms))
        for fm in fms:
            writer.feature_map(fm)
    writer.string(op.reason.data if op.reason is not None else None)
    writer.string(_print(lambda printer: printer.print_region(op.body)))


def _encode_fields(writer: _Writer, op: Operation) -> None:
    """The fields of a command's record, by its class (one of `OPCODES`)."""
    match op:
        case npu.ConstantOp():
            _encode_constant(writer, op)
        case npu.InputOp() | npu.OutputOp():
            _encode_interface(writer, op)
        case npu.DmaOp():
            _encode_dma(writer, op)
        case npu.Conv2dOp() | npu.DepthwiseConv2dOp() | npu.FullyConnectedOp():
            _encode_weighted(writer, op)
        case npu.PoolOp():
            _encode_pool(writer, op)
        case npu.ElementwiseOp():
            _encode_elementwise(writer, op)
        case npu.CpuOp():
            _encode_cpu(writer, op)
        case _:
            raise KeyError(type(op))


def _print(write: Callable[[Printer], None]) -> str:
    text = StringIO()
    write(Printer(stream=text))
    return text.getvalue()


# Decoding.


def decode(stream: bytes, blob: bytes) -> ModuleOp:
    """The npu module a stream and blob encode; prints identically to the encoded one.

    Raises `ModelFormatError` for anything that is not a well-formed stream of
    this format version (wrong magic, unknown version, truncation, a blob of
    the wrong size, a decoded program that does not verify).
    """
    if len(stream) < _HEADER.size:
        raise ModelFormatError("command stream: shorter than its header")
    magic, version, _, target, attributes, string_count, table_size, command_count, blob_size = (
        _HEADER.unpack_from(stream)
    )
    if magic != MAGIC:
        raise ModelFormatError(f"command stream: bad magic {magic!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise ModelFormatError(f"command stream: format version {version} is not supported (expected {VERSION})")
    if blob_size != len(blob):
        raise ModelFormatError(f"command stream: blob is {len(blob)} bytes, the stream expects {blob_size}")
    table_end = _HEADER.size + table_size
    strings = _strings(stream[_HEADER.size : table_end], string_count)
    _string_at(strings, target, "header")
    module_attributes = _parse(
        _string_at(strings, attributes, "header"), "module attributes",
        lambda parser: parser.parse_optional_attr_dict(),
    )
    records = _Reader(stream[table_end:], strings, "command records")
    ops = [_decode_record(records, blob) for _ in range(command_count)]
    if records.position != len(records.data):
        raise ModelFormatError("command stream: trailing bytes after the last command")
    module = ModuleOp(ops)
    module.attributes.update(module_attributes)
    try:
        module.verify()
    except VerifyException as error:
        raise ModelFormatError(f"command stream: decoded program does not verify: {error}") from None
    return module


def _strings(table: bytes, count: int) -> list[str]:
    reader = _Reader(table, [], "string table")
    strings = []
    for _ in range(count):
        length = reader.u32()
        try:
            strings.append(reader.unpack(f"{length}s")[0].decode())
        except UnicodeDecodeError:
            raise ModelFormatError("command stream: string table holds invalid UTF-8") from None
    if reader.position != len(table):
        raise ModelFormatError("command stream: string table size does not match its strings")
    return strings


def _decode_record(records: _Reader, blob: bytes) -> Operation:
    opcode, _, layer_index, size = records.unpack("HHII")
    start = records.position
    payload = _Reader(bytes(records.unpack(f"{size}s")[0]), records.strings, f"record at byte {start}")
    op_type = _OP_TYPES.get(opcode)
    if op_type is None:
        raise ModelFormatError(f"command stream: unknown opcode {opcode} at byte {start}")
    try:
        op = _DECODERS[op_type](payload, blob)
    except (VerifyException, ValueError) as error:
        raise ModelFormatError(f"command stream: record at byte {start} is invalid: {error}") from None
    if payload.position != size:
        raise ModelFormatError(f"command stream: record at byte {start} has {size - payload.position} extra bytes")
    layer = _optional_string_at(records.strings, layer_index, f"record at byte {start}")
    if layer is not None:
        op.attributes[LAYER_ATTR] = StringAttr(layer)
    return op


def _decode_constant(reader: _Reader, blob: bytes) -> Operation:
    buffer = reader.buffer()
    bits, rank, _ = reader.unpack("BBH")
    shape = reader.ints(rank)
    if buffer.end > len(blob):
        raise ModelFormatError(f"command stream: constant at {buffer.offset.data} lies outside the blob")
    data = blob[buffer.offset.data : buffer.end]
    value = DenseIntOrFPElementsAttr(TensorType(IntegerType(bits), shape), BytesAttr(data))
    return npu.ConstantOp(buffer, value)


def _decode_interface(op_type: type[npu.InterfaceOp], reader: _Reader, blob: bytes) -> Operation:
    tensor, fm = reader.string(), reader.feature_map()
    return op_type(tensor, fm, reader.optional_string(), reader.optional_string())


def _decode_dma(reader: _Reader, blob: bytes) -> Operation:
    return npu.build_command(npu.DmaOp, {"src": reader.buffer(), "dst": reader.buffer()})


def _compute(reader: _Reader) -> dict[str, Attribute]:
    ifm, ofm = reader.feature_map(), reader.feature_map()
    act_min, act_max = reader.unpack("ii")
    properties: dict[str, Attribute] = {
        "ifm": ifm,
        "ofm": ofm,
        "act_min": IntegerAttr(act_min, i32),
        "act_max": IntegerAttr(act_max, i32),
        "block": int_array(reader.ints(3)),
    }
    (has_lut,) = reader.unpack("I")
    if has_lut:
        properties["lut"] = reader.buffer()
    return properties


def _window(reader: _Reader) -> dict[str, Attribute]:
    return {
        "kernel": int_array(reader.ints(2)),
        "strides": int_array(reader.ints(2)),
        "padding": int_array(reader.ints(4)),
    }


def _decode_weighted(
    op_type: type[npu.WeightedOp | npu.FullyConnectedOp], reader: _Reader, blob: bytes
) -> Operation:
    properties = _compute(reader) | {"weights": reader.buffer(), "scale_bias": reader.buffer()}
    if op_type is not npu.FullyConnectedOp:
        properties |= _window(reader) | {"dilations": int_array(reader.ints(2))}
    if reader.position < len(reader.data):
        traversal = reader.string()
        cores, wide = reader.unpack("II")
        properties["encoding"] = npu.EncodedWeightsAttr(traversal, reader.ints(cores), reader.ints(cores), bool(wide))
    return npu.build_command(op_type, properties)


def _decode_pool(reader: _Reader, blob: bytes) -> Operation:
    properties = _compute(reader) | {"kind": StringAttr(reader.string())} | _window(reader)
    return npu.build_command(npu.PoolOp, properties)


def _decode_elementwise(reader: _Reader, blob: bytes) -> Operation:
    properties = _compute(reader) | {"kind": StringAttr(reader.string())}
    (flags,) = reader.unpack("I")
    if flags & _IFM2:
        properties["ifm2"] = reader.feature_map()
    if flags & _SCALAR:
        properties["scalar"] = IntegerAttr(reader.unpack("i")[0], i32)
    if flags & _REVERSED:
        properties["reversed"] = UnitAttr()
    if flags & _RESCALE:
        properties["rescale"] = int_array(reader.unpack("iI"))
        properties["rounding"] = StringAttr(reader.string())
    return npu.build_command(npu.ElementwiseOp, properties)


def _decode_cpu(reader: _Reader, blob: bytes) -> Operation:
    properties: dict[str, Attribute] = {}
    for key in ("inputs", "outputs"):
        (count,) = reader.unpack("I")
        properties[key] = ArrayAttr([reader.feature_map() for _ in range(count)])
    reason = reader.optional_string()
    if reason is not None:
        properties["reason"] = StringAttr(reason)
    body = _parse(reader.string(), "cpu_op body", lambda parser: parser.parse_region())
    return npu.build_command(npu.CpuOp, properties, regions=[body])


# The op type is bound with partial, not by a closure built here: the decoder
# functions are looked up when a record is decoded (mutation testing swaps them).
_DECODERS: dict[type[Operation], Callable[[_Reader, bytes], Operation]] = {
    npu.ConstantOp: _decode_constant,
    npu.InputOp: partial(_decode_interface, npu.InputOp),
    npu.OutputOp: partial(_decode_interface, npu.OutputOp),
    npu.DmaOp: _decode_dma,
    npu.Conv2dOp: partial(_decode_weighted, npu.Conv2dOp),
    npu.DepthwiseConv2dOp: partial(_decode_weighted, npu.DepthwiseConv2dOp),
    npu.FullyConnectedOp: partial(_decode_weighted, npu.FullyConnectedOp),
    npu.PoolOp: _decode_pool,
    npu.ElementwiseOp: _decode_elementwise,
    npu.CpuOp: _decode_cpu,
}


def _parse(text: str, what: str, parse: Callable[[Parser], object]):
    from npuc.context import npuc_context

    try:
        return parse(Parser(npuc_context(), text, "command stream"))
    except ParseError as error:
        raise ModelFormatError(f"command stream: {what} does not parse: {error}") from None
