"""Truncated and mutated textual IR (graph, quantized and npu stages), read as `npuc run FILE.mlir` reads it.

Random cases cut a seed at a random point of a random line or change one
token or line; the fixed ones are issue 14's: an unterminated string
literal (xDSL's lexer backtracks exponentially on it), stride or kernel 0
and unknown memory names in npu IR, bad quantization parameters in types.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from fuzz.case import MAY_ACCEPT, MUST_REJECT, Case
from fuzz.drive import exercise_model
from fuzz.seeds import ir_seeds

TRUNCATIONS_PER_SEED = 20
TOKEN_MUTANTS_PER_SEED = 40

INTEGER = re.compile(r"(?<![\w.])-?\d+(?![\w.])")
EDGE_INTEGERS = ("0", "-1", "2147483648", "-9223372036854775809", "99999999999999999999999")

UNTERMINATED_HEX_DIGITS = 30
"""Hex digits after an unterminated `dense<"0x`: at 26 xDSL 0.74 already takes 8 s (issue 14)."""

NESTING = 5_000
"""Depth of the nested-modules case."""

ISSUE_CASES = frozenset({
    "string-unterminated-dense", "npu-strides-0", "npu-kernel-0", "npu-memory-unknown", "type-scale-0",
    "type-scale-nan", "type-scale-negative", "type-zero-point-200", "layer-name-newline",
})  # fmt: skip
"""The cases issue 14 names."""


def cases(seed: int) -> Iterator[Case]:
    """Seeded truncations and token mutations of every IR seed, then the fixed cases."""
    for stage, text in ir_seeds().items():
        rng = random.Random(f"{seed}/ir/{stage}")
        for index in range(TRUNCATIONS_PER_SEED):
            yield _case(f"{stage}-truncated-{index}", _truncate(text, rng).encode())
        for index in range(TOKEN_MUTANTS_PER_SEED):
            mutation = TOKEN_MUTATIONS[index % len(TOKEN_MUTATIONS)]
            yield _case(f"{stage}-{mutation.__name__.strip('_')}-{index}", mutation(text, rng))
    yield from _fixed_cases()


def _case(name: str, content: bytes, expect: str = MAY_ACCEPT) -> Case:
    return Case("ir", name, functools.partial(_exercise, content), expect, issue=name in ISSUE_CASES)


def _exercise(content: bytes, directory: Path) -> object:
    path = directory / "model.mlir"
    path.write_bytes(content)
    return exercise_model(path)


def _truncate(text: str, rng: random.Random) -> str:
    """The text cut in a random line (lines drawn uniformly, so long constants are no likelier)."""
    lines = text.splitlines(keepends=True)
    line = rng.randrange(len(lines))
    return "".join(lines[:line]) + lines[line][: rng.randrange(len(lines[line]) + 1)]


def _integer(text: str, rng: random.Random) -> bytes:
    """A random integer literal replaced by an edge value."""
    matches = list(INTEGER.finditer(text))
    match = rng.choice(matches)
    return (text[: match.start()] + rng.choice(EDGE_INTEGERS) + text[match.end() :]).encode()


def _line_deleted(text: str, rng: random.Random) -> bytes:
    lines = text.splitlines(keepends=True)
    del lines[rng.randrange(len(lines))]
    return "".join(lines).encode()


def _line_duplicated(text: str, rng: random.Random) -> bytes:
    lines = text.splitlines(keepends=True)
    index = rng.randrange(len(lines))
    lines.insert(index, lines[index])
    return "".join(lines).encode()


def _lines_swapped(text: str, rng: random.Random) -> bytes:
    lines = text.splitlines(keepends=True)
    first, second = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[first], lines[second] = lines[second], lines[first]
    return "".join(lines).encode()


def _character(text: str, rng: random.Random) -> bytes:
    """A random character replaced by punctuation, a quote, a NUL, or a byte that is not UTF-8."""
    position = rng.randrange(len(text))
    replacement = rng.choice((b"{", b"}", b"<", b">", b'"', b"%", b"\x00", b"\xff", b"\\"))
    data = text.encode()
    return data[:position] + replacement + data[position + 1 :]


def _type_changed(text: str, rng: random.Random) -> bytes:
    """One element type or quantization spelled otherwise."""
    old, new = rng.choice((("i8", "i7"), ("i8", "f16"), ("f32", "i32"), ("i32", "i1"), ("x", "xx"),
                           ("tensor<", "memref<"), (":f32", ":f64")))
    occurrences = [match.start() for match in re.finditer(re.escape(old), text)] or [0]
    position = rng.choice(occurrences)
    return (text[:position] + text[position:].replace(old, new, 1)).encode()


TOKEN_MUTATIONS: tuple[Callable[[str, random.Random], bytes], ...] = (
    _integer, _line_deleted, _line_duplicated, _lines_swapped, _character, _type_changed,
)
"""The token and line mutations, drawn in turn."""


def _fixed_cases() -> Iterator[Case]:
    seeds = ir_seeds()
    quantized, npu = seeds["quantized"], seeds["npu"]
    start = quantized.index('dense<"0x') + len('dense<"0x')
    yield _case("string-unterminated-dense", quantized[: start + UNTERMINATED_HEX_DIGITS].encode(), MUST_REJECT)
    name_start = quantized.index('layer = "') + len('layer = "')
    yield _case("string-unterminated-name", quantized[: name_start + 3].encode(), MUST_REJECT)
    for name, old, new in (
        ("npu-strides-0", "strides = array<i64: 1, 1>", "strides = array<i64: 0, 0>"),
        ("npu-strides-negative", "strides = array<i64: 1, 1>", "strides = array<i64: -1, 1>"),
        ("npu-kernel-0", "kernel = array<i64: 3, 3>", "kernel = array<i64: 0, 0>"),
        ("npu-kernel-huge", "kernel = array<i64: 3, 3>", "kernel = array<i64: 4096, 4096>"),
        ("npu-dilations-0", "dilations = array<i64: 1, 1>", "dilations = array<i64: 0, 0>"),
        ("npu-fm-memory-unknown", "#npu.fm<sram,", "#npu.fm<nowhere,"),
        ("npu-buffer-beyond-memory", "#npu.buf<flash, 0, 176>", "#npu.buf<flash, 4294967295, 176>"),
        ("npu-buffer-size-negative", "#npu.buf<flash, 0, 176>", "#npu.buf<flash, 0, -176>"),
        ("npu-fm-shape-negative", "[1, 8, 8, 3], [192, 24, 3, 1]", "[1, -8, 8, 3], [192, 24, 3, 1]"),
        ("npu-fm-strides-0", "[1, 8, 8, 3], [192, 24, 3, 1]", "[1, 8, 8, 3], [0, 0, 0, 0]"),
        ("npu-block-0", "block = array<i64: 8, 8, 8>", "block = array<i64: 0, 0, 0>"),
        ("npu-padding-huge", "padding = array<i64: 1, 1, 1, 1>", "padding = array<i64: 99999, 1, 1, 1>"),
        ("npu-act-range-reversed", "act_min = 2 : i32, act_max = 127", "act_min = 127 : i32, act_max = 2"),
    ):
        yield _case(name, _replaced(npu, old, new), MUST_REJECT)
    yield _case("npu-memory-unknown", npu.replace("flash", "nowhere").encode(), MUST_REJECT)
    for name, old, new in (
        ("quantized-strides-0", "strides = array<i64: 1, 1>", "strides = array<i64: 0, 0>"),
        ("quantized-dilations-0", "dilations = array<i64: 1, 1>", "dilations = array<i64: 0, 0>"),
        ("quantized-padding-negative", "padding = array<i64: 1, 1, 1, 1>", "padding = array<i64: -1, 1, 1, 1>"),
        ("quantized-activation-unknown", 'activation = "relu"', 'activation = "gelu"'),
        ("type-scale-0", "0.05000000074505806:-3", "0.0:-3"),
        ("type-scale-nan", "0.05000000074505806:-3", "0x7FC00000:-3"),
        ("type-scale-negative", "0.05000000074505806:-3", "-0.05000000074505806:-3"),
        ("type-zero-point-200", "0.05000000074505806:-3", "0.05000000074505806:200"),
        ("type-axis-5", "i8:f32:0,", "i8:f32:5,"),
        ("layer-name-newline", 'layer = "output", strides = array<i64: 1, 1>',
         'layer = "out\\nput\\1B[31m", strides = array<i64: 0, 0>'),
    ):
        yield _case(name, _replaced(quantized, old, new), MUST_REJECT)
    yield _case("empty", b"", MUST_REJECT)
    yield _case("whitespace", b" \n\t\n", MUST_REJECT)
    yield _case("binary", bytes(range(256)), MUST_REJECT)
    yield _case("byte-order-mark", b"\xef\xbb\xbf" + quantized.encode())
    yield _case("crlf", quantized.replace("\n", "\r\n").encode())
    yield _case("nesting-deep", ("builtin.module {\n" * NESTING + "}\n" * NESTING).encode(), MUST_REJECT)
    yield _case("two-modules", (quantized + quantized).encode(), MUST_REJECT)


def _replaced(text: str, old: str, new: str) -> bytes:
    assert old in text, f"IR seed lacks {old!r}"
    return text.replace(old, new, 1).encode()
