"""Seeded byte-level mutations of a file: truncations, flips, insertions, deletions, overwritten words.

Each mutation is a pure function of the seed bytes and a `random.Random`,
so a case name plus the suite's seed reproduces the same bytes.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable

INTERESTING_WORDS = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
"""32-bit values that reach edge cases when they land on a length, an offset or an index."""

MAX_INSERT = 64
"""Most bytes an insertion adds."""


def truncate(data: bytes, rng: random.Random) -> bytes:
    """The file cut at a random length (empty included)."""
    return data[: rng.randrange(len(data))]


def flip_bits(data: bytes, rng: random.Random) -> bytes:
    """One to eight random bits inverted."""
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(mutated))
        mutated[position] ^= 1 << rng.randrange(8)
    return bytes(mutated)


def set_byte(data: bytes, rng: random.Random) -> bytes:
    """A random byte set to an edge value."""
    mutated = bytearray(data)
    mutated[rng.randrange(len(mutated))] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFF))
    return bytes(mutated)


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    """Random bytes inserted at a random position."""
    position = rng.randrange(len(data) + 1)
    inserted = bytes(rng.randrange(256) for _ in range(rng.randint(1, MAX_INSERT)))
    return data[:position] + inserted + data[position:]


def delete_span(data: bytes, rng: random.Random) -> bytes:
    """A random span removed."""
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, max(1, len(data) // 8)) :]


def duplicate_span(data: bytes, rng: random.Random) -> bytes:
    """A random span repeated in place."""
    start = rng.randrange(len(data))
    span = data[start : start + rng.randint(1, max(1, len(data) // 8))]
    return data[:start] + span + data[start:]


def overwrite_word(data: bytes, rng: random.Random) -> bytes:
    """An aligned little-endian 32-bit word replaced by an edge value (a length, offset or index)."""
    if len(data) < 4:
        return flip_bits(data, rng)
    position = rng.randrange(len(data) // 4) * 4
    return data[:position] + struct.pack("<I", rng.choice(INTERESTING_WORDS)) + data[position + 4 :]


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncate": truncate,
    "flip": flip_bits,
    "byte": set_byte,
    "insert": insert_bytes,
    "delete": delete_span,
    "duplicate": duplicate_span,
    "word": overwrite_word,
}
"""Every byte mutation by name."""
