"""npuc's own mlw encoder: the Ethos-U weight-stream format, coded in as few bytes as it finds.

The NPU's weight decoder reads a stream of slices. A slice header holds, as
LSB-first bit fields: `ZDIV` (3 bits: the divisor of the zero runs, 6 for
none, 7 ends the stream), `SLICELEN` (15 bits: the slice's values less
one), `WDIV` (3 bits: the divisor of the values, 7 for uncompressed),
`WTRUNC` (1 bit: quotients of at most 2, coded shorter) and `NEWPAL` (1
bit), then with a new palette `DIROFS` (5 bits), `PALSIZE` (5 bits: the
entries less one, 0 for none: a palette has two entries at least),
`PALBITS` (3 bits: the entry width less two) and the entries. A weight w is
coded as an index: its palette position, or after the palette its palval
(2|w|, plus one if w < 0; zero is one) less `DIROFS`. With zero runs the
zeros are left out of the values, and the run of zeros before each value
(the first slice's) or after it is coded in a stream of its own.

Each index is a quotient and a remainder (`Coding`): the quotient in unary
positions, one bit each saying "more" and, for a value, a second bit "more
than one", a position taking two off the quotient (three when truncated);
the remainder in `divisor` bits. Uncompressed indices are their bits alone.
The two streams interleave chunk by chunk (`_write_chunks`): a value chunk
is 12 positions' first bits then their second bits, a zero-run chunk 12
positions (8 with a divisor of 3), and a chunk's remainders follow the next
chunk's unary bits. The stream ends with `ZDIV` = 7 and is padded with one
bits to 16 bytes.

`encode_shorter` prices every coding of a stream (zero runs or not, a
palette or not, each divisor) from its bit counts and writes the shortest
when it is shorter than the bytes given (Vela's codec's, in
`npuc.emit.ethos_u.weights.compress`). This encoder is Python: a stream
longer than `MAX_WRITTEN` values, or with zeros under `ZERO_SHARE` of it,
keeps the given bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SLICE_VALUES = (1 << 15) - 1
"""Most values a slice holds (as Vela's encoders cut them; `SLICELEN` holds the count less one)."""

PALETTE_ENTRIES = 32
"""Most palette entries."""

INDEX_LIMIT = 512
"""Indices are below this."""

ZDIV_NONE, ZDIV_END = 6, 7
"""`ZDIV` of a slice without zero runs, and the end-of-stream marker."""

WDIV_UNCOMPRESSED = 7
"""`WDIV` of a slice of uncompressed values."""

CHUNK, SHORT_CHUNK = 12, 8
"""Positions of a chunk; of a zero-run chunk with divisor 3 and an uncompressed value chunk of more than
5-bit indices, `SHORT_CHUNK`."""

HEADER_BITS = 3 + 15 + 3 + 1 + 1
PALETTE_HEADER_BITS = 5 + 5 + 3
END_BITS = 3
STREAM_ALIGNMENT = 16
"""Bytes a stream is padded to."""

MAX_WRITTEN = 1 << 16
"""Longest stream `encode_shorter` writes (a Python loop per chunk)."""

ZERO_SHARE = 0.25
"""The share of zeros below which `encode_shorter` keeps the given bytes unpriced: it wins on zero runs
(MobileNetV2's streams with fewer zeros: 4 of 62 shorter, by 304 of 3.5 M bytes, for 0.2 s of pricing)."""


@dataclass(frozen=True)
class Coding:
    """How a slice codes its numbers: Golomb-Rice with `divisor` remainder bits, quotients `truncated`
    to at most 2, or `uncompressed` (`divisor` bits each)."""

    divisor: int
    truncated: bool = False
    uncompressed: bool = False

    def bits(self, numbers: np.ndarray, chunk: int, second_bits: bool) -> int | None:
        """Bits of `numbers` in this coding, in chunks of `chunk` positions (`second_bits`: values, whose
        positions carry a second bit); None if it cannot code them all."""
        remainders = numbers.size * self.divisor
        if self.uncompressed or numbers.size == 0:
            return remainders
        quotients = numbers >> self.divisor
        if not second_bits:  # zero runs: plain unary, a position per unit of the quotient and one to end it
            return -(-int((quotients + 1).sum()) // chunk) * chunk + remainders
        if int(quotients.max()) > (2 if self.truncated else 31):
            return None
        if self.truncated:
            positions, seconds = numbers.size, int(np.count_nonzero(quotients))
        else:
            per_value = quotients // 2 + 1
            positions = int(per_value.sum())
            seconds = positions - int(np.count_nonzero(quotients % 2 == 0))
        return -(-positions // chunk) * chunk + seconds + remainders

    def step(self) -> int:
        """How much of the quotient one value position takes."""
        return 3 if self.truncated else 2


VALUE_CODINGS = (*(Coding(d) for d in range(6)), *(Coding(d, truncated=True) for d in range(6)))
ZERO_RUN_CODINGS = tuple(Coding(d) for d in range(4))


@dataclass(frozen=True)
class Palette:
    """A stream's palette: `entries` (palvals, most frequent first), `direct_offset`, the entry width
    `bits` (without entries: the width of the largest index, for uncompressed slices) and whether every
    value is in it (`complete`)."""

    entries: tuple[int, ...]
    direct_offset: int
    bits: int
    complete: bool

    def indices(self, values: np.ndarray) -> np.ndarray:
        """The index coding each weight of `values`."""
        table = len(self.entries) + np.arange(INDEX_LIMIT) - self.direct_offset
        table[list(self.entries)] = np.arange(len(self.entries))
        return table[palval(values)]

    def uncompressed_width(self) -> int | None:
        """Bits of an uncompressed index: the palette position's when every value is in it, `bits` without
        a palette; None when indices of both kinds occur."""
        if not self.entries:
            return self.bits
        return max(1, (len(self.entries) - 1).bit_length()) if self.complete else None

    def header_bits(self) -> int:
        return PALETTE_HEADER_BITS + len(self.entries) * self.bits


def palval(values: np.ndarray) -> np.ndarray:
    """Each weight's palette value: 2|w| + (w < 0); 1 for zero."""
    values = values.astype(np.int64)
    result = 2 * np.abs(values) + (values < 0)
    result[values == 0] = 1
    return result


@dataclass(frozen=True)
class Plan:
    """One way to code a stream: its palette, zero runs or not, and each slice's codings."""

    palette: Palette
    zero_runs: bool
    slices: tuple[tuple[np.ndarray, np.ndarray | None, Coding, Coding | None], ...]
    """Per slice: its indices, its zero runs (None without), their codings."""
    bits: int


def encode_shorter(stream: np.ndarray, given: bytes) -> bytes:
    """The stream `stream` (weights in -255..255) as the fewest bytes this encoder finds, if fewer than
    `given` (and the stream at most `MAX_WRITTEN` values); else `given`."""
    values = np.asarray(stream, dtype=np.int64)
    if values.size == 0 or values.size > MAX_WRITTEN or np.count_nonzero(values == 0) < ZERO_SHARE * values.size:
        return given
    plan = min(_plans(values), key=lambda plan: plan.bits)
    if _stream_bytes(plan.bits) >= len(given):
        return given
    return _write(plan)


def _stream_bytes(bits: int) -> int:
    return -(-(bits + END_BITS) // (8 * STREAM_ALIGNMENT)) * STREAM_ALIGNMENT


def _plans(values: np.ndarray) -> Iterator[Plan]:
    """Every plan tried: with and without zero runs (where both zeros and other values occur), with and
    without a palette, each slice in its best codings."""
    has_zeros, has_others = bool((values == 0).any()), bool((values != 0).any())
    for zero_runs in (False, True) if has_zeros and has_others else (False,):
        coded = values[values != 0] if zero_runs else values
        for palette in _palettes(coded):
            yield _plan(values, palette, zero_runs)


def _palettes(coded: np.ndarray) -> list[Palette]:
    """No palette, and the most frequent palvals as one (when there are two at least and the indices
    past it stay below `INDEX_LIMIT`)."""
    palvals = palval(coded)
    found, counts = np.unique(palvals, return_counts=True)
    largest = int(found.max())
    offset = min(int(found.min()), 31)
    options = [Palette((), offset, max(2, (largest - offset).bit_length()), False)]
    if len(found) >= 2:
        entries = tuple(int(found[i]) for i in np.argsort(-counts, kind="stable")[:PALETTE_ENTRIES])
        left = np.setdiff1d(found, entries)
        offset = min(int(left.min()), 31) if left.size else 0
        if not left.size or len(entries) + int(left.max()) - offset < INDEX_LIMIT:
            options.append(Palette(entries, offset, max(2, max(entries).bit_length()), not left.size))
    return options


def _plan(values: np.ndarray, palette: Palette, zero_runs: bool) -> Plan:
    """`values` coded with `palette`, zero runs or not, each slice in the codings taking fewest bits."""
    if zero_runs:
        nonzero = np.flatnonzero(values)
        indices = palette.indices(values[nonzero])
        runs: np.ndarray | None = np.diff(np.concatenate(([-1], nonzero, [values.size]))) - 1
    else:
        indices, runs = palette.indices(values), None
    width = palette.uncompressed_width()
    value_codings = VALUE_CODINGS if width is None else (*VALUE_CODINGS, Coding(width, uncompressed=True))
    slices = []
    bits = palette.header_bits()
    for first in range(0, indices.size, SLICE_VALUES):
        last = min(first + SLICE_VALUES, indices.size)
        slice_indices = indices[first:last]
        slice_runs = None if runs is None else runs[first if first == 0 else first + 1 : last + 1]
        value_coding, value_bits = _cheapest(slice_indices, value_codings, True)
        run_coding, run_bits = (None, 0) if slice_runs is None else _cheapest(slice_runs, ZERO_RUN_CODINGS, False)
        slices.append((slice_indices, slice_runs, value_coding, run_coding))
        bits += HEADER_BITS + value_bits + run_bits
    return Plan(palette, zero_runs, tuple(slices), bits)


def _cheapest(numbers: np.ndarray, codings: tuple[Coding, ...], values: bool) -> tuple[Coding, int]:
    """The coding of `numbers` taking the fewest bits, and its bits."""
    priced = []
    for coding in codings:
        chunk = _chunk(coding, values)
        count = coding.bits(numbers, chunk, values)
        if count is not None:
            priced.append((count, coding))
    count, coding = min(priced, key=lambda item: item[0])
    return coding, count


def _chunk(coding: Coding, values: bool) -> int:
    """Positions per chunk of `coding`'s stream (`CHUNK`, or `SHORT_CHUNK`)."""
    if values:
        return SHORT_CHUNK if coding.uncompressed and coding.divisor > 5 else CHUNK
    return SHORT_CHUNK if coding.divisor >= 3 else CHUNK


class _Bits:
    """An LSB-first bit writer."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.pending = 0  # bits not yet in whole bytes, and how many
        self.pending_count = 0
        self.count = 0

    def put(self, width: int, value: int) -> None:
        self.pending |= (value & ((1 << width) - 1)) << self.pending_count
        self.pending_count += width
        self.count += width
        while self.pending_count >= 8:
            self.written.append(self.pending & 0xFF)
            self.pending >>= 8
            self.pending_count -= 8

    def finish(self) -> bytes:
        """The bits, the end-of-stream marker and one bits up to `STREAM_ALIGNMENT` bytes."""
        size = _stream_bytes(self.count)
        self.put(END_BITS, ZDIV_END)
        if self.pending_count:
            self.put(8 - self.pending_count, 0xFF)
        return bytes(self.written) + b"\xff" * (size - len(self.written))


def _write(plan: Plan) -> bytes:
    bits = _Bits()
    for number, (indices, runs, value_coding, run_coding) in enumerate(plan.slices):
        bits.put(3, ZDIV_NONE if run_coding is None else run_coding.divisor)
        bits.put(15, indices.size - 1)
        bits.put(3, WDIV_UNCOMPRESSED if value_coding.uncompressed else value_coding.divisor)
        bits.put(1, int(value_coding.truncated))
        bits.put(1, int(number == 0))
        if number == 0:
            palette = plan.palette
            bits.put(5, palette.direct_offset)
            bits.put(5, max(0, len(palette.entries) - 1))
            bits.put(3, palette.bits - 2)
            for entry in palette.entries:
                bits.put(palette.bits, entry)
        _write_chunks(bits, indices.tolist(), value_coding, None if runs is None else runs.tolist(), run_coding)
    assert bits.count == plan.bits, "the bits written are the bits priced"
    return bits.finish()


class _Chunker:
    """One number stream cut into chunks of unary positions, with the remainders each chunk completes."""

    def __init__(self, numbers: list[int], coding: Coding, chunk: int, second_bits: bool) -> None:
        self.numbers, self.coding, self.chunk, self.second_bits = numbers, coding, chunk, second_bits
        self.position = 0  # numbers completed
        self.quotient = -1  # of the number under way (-1: none)
        self.remainder = -1

    def done(self) -> bool:
        return self.position >= len(self.numbers)

    def next(self) -> tuple[int, int, int, list[int]]:
        """The next chunk: its first bits, its second bits and their count, and the remainders it completes."""
        first = second = seconds = 0
        remainders: list[int] = []
        mask, step = (1 << self.coding.divisor) - 1, self.coding.step() if self.second_bits else 1
        position = 0
        while position < self.chunk:
            if self.quotient < 0:
                if self.position < len(self.numbers):
                    number = self.numbers[self.position]
                    self.quotient, self.remainder = number >> self.coding.divisor, number & mask
                else:
                    self.quotient, self.remainder = 0, -1  # padding to the chunk's end
            while self.quotient >= 0 and position < self.chunk:
                if self.quotient > 0:
                    first |= 1 << position
                    if self.second_bits:
                        second |= int(self.quotient > 1) << seconds
                        seconds += 1
                position += 1
                self.quotient -= step
            if self.quotient < 0 and self.remainder >= 0:
                remainders.append(self.remainder)
                self.position += 1
        return first, second, seconds, remainders


def _write_chunks(
    bits: _Bits, indices: list[int], value_coding: Coding, runs: list[int] | None, run_coding: Coding | None
) -> None:
    """A slice's value and zero-run chunks, interleaved as the decoder reads them: a value chunk runs at
    most 8 values ahead of the zero runs, a zero-run chunk never ahead of the values."""
    values = _Chunker(indices, value_coding, _chunk(value_coding, True), True)
    zeros = _Chunker(runs or [], run_coding or ZERO_RUN_CODINGS[0], _chunk(run_coding or ZERO_RUN_CODINGS[0], False), False)
    value_pending: list[int] | None = None
    zero_pending: list[int] | None = None
    while True:
        ahead = values.position - zeros.position if runs is not None else 0
        value_chunk = values.next() if ahead < 8 and not values.done() else None
        zero_chunk = zeros.next() if runs is not None and ahead >= 0 and not zeros.done() else None
        if value_chunk is not None and not value_coding.uncompressed:
            bits.put(CHUNK, value_chunk[0])
        if zero_chunk is not None:
            bits.put(zeros.chunk, zero_chunk[0])
        if value_chunk is not None and not value_coding.uncompressed:
            bits.put(value_chunk[2], value_chunk[1])
        for remainder in value_pending or []:
            bits.put(value_coding.divisor, remainder)
        if run_coding is not None and run_coding.divisor:
            for remainder in zero_pending or []:
                bits.put(run_coding.divisor, remainder)
        if value_pending is None and zero_pending is None and value_chunk is None and zero_chunk is None:
            return
        value_pending = None if value_chunk is None else value_chunk[3]
        zero_pending = None if zero_chunk is None else zero_chunk[3]
