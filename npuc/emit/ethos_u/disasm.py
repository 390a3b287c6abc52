"""Disassembly of Ethos-U output: a `.tflite` with `ethos-u` operators, or a raw COP1 payload.

One line per command, as `vela --verbose-register-command-stream` prints
them: byte offset in the register command stream, payload word (cmd1 only),
parameter and code in hex, the command's name, the parameter in decimal and
every field decoded (enumerated fields by name, addresses in hex). Before the
commands: the operator's tensors by region, the payload's CONFIG (product,
MACs, SHRAM, versions) and each command-stream action's place in the payload.
"""

from __future__ import annotations

from npuc.emit.ethos_u.package import EthosUOperator, read_package
from npuc.emit.ethos_u.payload import FOURCC, DriverPayload, parse_payload
from npuc.emit.ethos_u.registers import (
    CMD1_FLAG,
    Command,
    Product,
    decode_commands,
    is_address_command,
    mnemonic,
    param_fields,
)
from npuc.errors import ModelFormatError

HEADER = f"  Offset: Payload Param Code - {'Command':30} Param, Fields"


def format_command(command: Command) -> str:
    """One command as a disassembly line."""
    code = command.opcode | (CMD1_FLAG if command.data is not None else 0)
    payload = f"{command.data:08x}" if command.data is not None else " " * 8
    fields = []
    if is_address_command(command.opcode):
        fields.append(f"addr = {command.value:#x}")
    else:
        for field in param_fields(command.opcode):
            value = field.extract(command.param)
            if field.kind is not None and value in field.kind._value2member_map_:
                fields.append(f"{field.name} = {field.kind(value).name}")
            else:
                fields.append(f"{field.name} = {value}")
        if command.data is not None:
            fields.append(f"{'length' if 'LENGTH' in command.opcode.name else 'scale'} = {command.data}")
    described = f", {', '.join(fields)}" if fields else ""
    return (f"{command.offset:#08x}: {payload} {command.param:04x} {code:04x} - "
            f"{mnemonic(command.opcode):30} {command.param:5}{described}")


def payload_lines(payload: DriverPayload, size: int, source: str) -> list[str]:
    """The header and every command of a parsed payload of `size` bytes (`source` names it in errors)."""
    config = payload.config
    product = "Ethos-U55" if config.product is Product.ETHOS_U55 else "Ethos-U65"
    lines = [
        f"COP1 payload, {size} bytes: {product}, {config.macs_per_cycle} MACs/cycle, {config.shram_kib} KiB SHRAM, "
        f"command stream version {config.cmd_stream_version}, architecture "
        f"{'.'.join(map(str, config.architecture))}, release {payload.release} patch {payload.patch}"
    ]
    for stream in payload.streams:
        commands = decode_commands(stream.words, source)
        lines.append(f"command stream at payload offset {stream.offset:#x}: {len(stream.words)} words, "
                     f"{len(commands)} commands")
        lines.append(HEADER)
        lines.extend(format_command(command) for command in commands)
    return lines


def _operator_lines(operator: EthosUOperator, number: int) -> list[str]:
    lines = [f"ethos-u operator {number} '{operator.name}' (operator {operator.position} of the subgraph)"]
    roles = ["read-only data", "scratch", "fast scratch", *(f"IFM {i}" for i in range(len(operator.ifms))),
             *(f"OFM {i}" for i in range(len(operator.ofms)))]
    for region, (tensor, role) in enumerate(zip(operator.region_tensors(), roles)):
        planned = f", arena offset {tensor.arena_offset:#x}" if tensor.arena_offset is not None else ""
        lines.append(f"  region {region}: {role} '{tensor.name}', {tensor.nbytes} bytes{planned}")
    return lines


def disassemble(data: bytes, source: str) -> list[str]:
    """The disassembly of a `.tflite` with ethos-u operators, or of a raw COP1 payload."""
    if len(data) >= 4 and int.from_bytes(data[:4], "little") == FOURCC:
        return payload_lines(parse_payload(data, source), len(data), source)
    package = read_package(data, source)
    if not package.ethos_u:
        raise ModelFormatError(f"{source}: has no ethos-u operator (and is not a COP1 payload)")
    lines = []
    for number, operator in enumerate(package.ethos_u):
        stream = operator.command_stream.data or b""
        where = f"{source}: ethos-u operator '{operator.name}'"
        lines += _operator_lines(operator, number)
        lines += payload_lines(parse_payload(stream, where), len(stream), where)
    return lines
