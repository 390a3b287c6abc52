"""The COP1 driver payload: the bytes of an `ethos-u` operator's command-stream tensor.

The Ethos-U core driver reads the payload as little-endian 32-bit words: the
fourcc `COP1`, then *driver actions*, each a word with the action in bits
[7:0], a reserved byte [15:8] and a 16-bit parameter [31:16]:

| action | words | meaning |
| --- | --- | --- |
| CONFIG (1) | 3 | param = (patch << 4) \\| release; then the CONFIG and ID register images the stream was built for |
| COMMAND_STREAM (2) | 1 + n | n = param \\| reserved byte << 16 words of register commands follow |
| READ_APB (3), DUMP_SHRAM (4) | 1 | debug actions, skipped |
| NOP (5) | 1 | padding |

The CONFIG image holds log2(MACs per cycle) [3:0], the command-stream
version [7:4], the SHRAM size in KiB [15:8] and the product [31:28]; the ID
image the architecture version (major [31:28], minor [27:20], patch
[19:16]). The driver refuses a payload for another product, MAC count or
stream version, an architecture of another major or a newer minor version,
and a command stream that does not start on a 16-byte boundary: NOPs pad the
header. `build_payload` writes what Vela writes; `parse_payload` checks all of
the above and returns the register streams with their offsets.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from npuc.emit.ethos_u.registers import ARCHITECTURE_VERSION, WORD_BYTES, Product
from npuc.errors import CommandStreamError

FOURCC = 0x31504F43
"""`COP1` as a little-endian word."""
STREAM_ALIGNMENT = 16
"""Bytes: a register command stream starts on this boundary of the payload."""
COMMAND_STREAM_VERSION = 0
MAX_STREAM_WORDS = (1 << 24) - 1
"""The longest command stream an action can announce (24-bit word count)."""

PRODUCT_MACS = {Product.ETHOS_U55: (32, 64, 128, 256), Product.ETHOS_U65: (256, 512)}
"""MACs per cycle each product is built with."""


class DriverAction(IntEnum):
    """The driver action in bits [7:0] of an action word."""

    RESERVED = 0
    CONFIG = 1
    COMMAND_STREAM = 2
    READ_APB = 3
    DUMP_SHRAM = 4
    NOP = 5


def action_word(action: DriverAction, param: int = 0, reserved: int = 0) -> int:
    """One driver-action word."""
    return action | (reserved & 0xFF) << 8 | (param & 0xFFFF) << 16


@dataclass(frozen=True)
class NpuConfig:
    """The accelerator a payload is built for, as the CONFIG and ID register images state it.

    `shram_kib` counts every core's shared buffer (96 on the two-core
    Ethos-U65-512); `architecture` is (major, minor, patch).
    """

    product: Product
    macs_per_cycle: int
    shram_kib: int
    cmd_stream_version: int = COMMAND_STREAM_VERSION
    architecture: tuple[int, int, int] = ARCHITECTURE_VERSION

    @property
    def cores(self) -> int:
        """Cores of the accelerator: two on the Ethos-U65 with 512 MACs."""
        return 2 if self.product is Product.ETHOS_U65 and self.macs_per_cycle == 512 else 1

    def config_word(self) -> int:
        """The CONFIG register image."""
        log2_macs = self.macs_per_cycle.bit_length() - 1
        return log2_macs | self.cmd_stream_version << 4 | self.shram_kib << 8 | self.product << 28

    def id_word(self) -> int:
        """The ID register image: the architecture version only, as Vela writes it."""
        major, minor, patch = self.architecture
        return major << 28 | minor << 20 | patch << 16

    @classmethod
    def from_words(cls, config: int, identity: int, offset: int = 8) -> NpuConfig:
        """The configuration the two register images state; CommandStreamError for another product."""
        product = config >> 28
        if product not in Product._value2member_map_:
            raise CommandStreamError(
                f"payload offset {offset:#x}: CONFIG word {config:#010x} is for product {product}, "
                "not an Ethos-U55 (0) or Ethos-U65 (1)"
            )
        macs = 1 << (config & 0xF)
        if macs not in PRODUCT_MACS[Product(product)]:
            raise CommandStreamError(
                f"payload offset {offset:#x}: CONFIG word {config:#010x}: {Product(product).name} "
                f"has no {macs}-MAC configuration"
            )
        architecture = (identity >> 28, (identity >> 20) & 0xFF, (identity >> 16) & 0xF)
        return cls(Product(product), macs, (config >> 8) & 0xFF, (config >> 4) & 0xF, architecture)


@dataclass(frozen=True)
class RegisterStream:
    """One command-stream action: its register command words and their byte offset in the payload."""

    offset: int
    words: tuple[int, ...]


@dataclass(frozen=True)
class DriverPayload:
    """A parsed payload: the configuration, the CONFIG action's release and patch, the register streams."""

    config: NpuConfig
    release: int
    patch: int
    streams: tuple[RegisterStream, ...]


def build_payload(words: Sequence[int], config: NpuConfig, release: int = 0, patch: int = 1) -> bytes:
    """The payload of one register command stream: COP1, CONFIG, NOPs to 16 bytes, the stream action, the words."""
    if len(words) > MAX_STREAM_WORDS:
        raise CommandStreamError(f"a command stream of {len(words)} words is longer than the driver's limit")
    header = [
        FOURCC,
        action_word(DriverAction.CONFIG, patch << 4 | release),
        config.config_word(),
        config.id_word(),
    ]
    header += [action_word(DriverAction.NOP)] * (STREAM_ALIGNMENT // WORD_BYTES - (len(header) + 1) % 4)
    header.append(action_word(DriverAction.COMMAND_STREAM, len(words) & 0xFFFF, len(words) >> 16))
    return struct.pack(f"<{len(header) + len(words)}I", *header, *words)


def parse_payload(data: bytes, source: str = "payload") -> DriverPayload:
    """The configuration and register streams of a payload, checked as the driver checks them.

    Every problem is a CommandStreamError naming `source` and the byte offset.
    """
    if len(data) < 2 * WORD_BYTES or len(data) % WORD_BYTES:
        raise CommandStreamError(f"{source}: {len(data)} bytes is not a driver payload (a whole number of words)")
    words = struct.unpack(f"<{len(data) // WORD_BYTES}I", data)
    if words[0] != FOURCC:
        raise CommandStreamError(f"{source}: offset 0x0: fourcc {words[0]:#010x} is not COP1")
    config: NpuConfig | None = None
    release = patch = 0
    streams: list[RegisterStream] = []
    index = 1
    while index < len(words):
        offset = index * WORD_BYTES
        word = words[index]
        action = word & 0xFF
        param = word >> 16
        if action == DriverAction.CONFIG:
            if index + 2 >= len(words):
                raise CommandStreamError(f"{source}: offset {offset:#x}: CONFIG action is cut off")
            config = NpuConfig.from_words(words[index + 1], words[index + 2], offset + WORD_BYTES)
            _check_config(config, source, offset)
            release, patch = param & 0xF, param >> 4
            index += 3
        elif action == DriverAction.COMMAND_STREAM:
            length = param | ((word >> 8) & 0xFF) << 16
            start = index + 1
            if (start * WORD_BYTES) % STREAM_ALIGNMENT:
                raise CommandStreamError(
                    f"{source}: offset {offset:#x}: command stream starts at {start * WORD_BYTES:#x}, "
                    f"not on a {STREAM_ALIGNMENT}-byte boundary"
                )
            if start + length > len(words):
                raise CommandStreamError(
                    f"{source}: offset {offset:#x}: command stream of {length} words runs past the "
                    f"payload's end ({len(words) - start} words left)"
                )
            streams.append(RegisterStream(start * WORD_BYTES, words[start : start + length]))
            index = start + length
        elif action in (DriverAction.NOP, DriverAction.READ_APB, DriverAction.DUMP_SHRAM):
            index += 1
        else:
            raise CommandStreamError(f"{source}: offset {offset:#x}: unknown driver action {action:#x} (word {word:#010x})")
    if config is None:
        raise CommandStreamError(f"{source}: no CONFIG action: the driver cannot check the accelerator")
    if not streams:
        raise CommandStreamError(f"{source}: no command-stream action")
    return DriverPayload(config, release, patch, tuple(streams))


def _check_config(config: NpuConfig, source: str, offset: int) -> None:
    """The driver's version checks on a parsed CONFIG action."""
    major, minor, _ = config.architecture
    if config.cmd_stream_version != COMMAND_STREAM_VERSION:
        raise CommandStreamError(
            f"{source}: offset {offset:#x}: command-stream version {config.cmd_stream_version} "
            f"(this reader knows version {COMMAND_STREAM_VERSION})"
        )
    if major != ARCHITECTURE_VERSION[0] or minor > ARCHITECTURE_VERSION[1]:
        raise CommandStreamError(
            f"{source}: offset {offset:#x}: architecture {'.'.join(map(str, config.architecture))} "
            f"is not compatible with {'.'.join(map(str, ARCHITECTURE_VERSION))}"
        )


def check_accelerator(payload: DriverPayload, expected: NpuConfig, source: str = "payload") -> None:
    """CommandStreamError unless the payload was built for `expected`'s product, MACs and SHRAM."""
    found = payload.config
    if (found.product, found.macs_per_cycle, found.shram_kib) != (
        expected.product, expected.macs_per_cycle, expected.shram_kib
    ):
        raise CommandStreamError(
            f"{source}: offset 0x8: header is for {_describe(found)}, not {_describe(expected)}"
        )


def _describe(config: NpuConfig) -> str:
    product = "Ethos-U55" if config.product is Product.ETHOS_U55 else "Ethos-U65"
    return f"{product} with {config.macs_per_cycle} MACs and {config.shram_kib} KiB SHRAM"
