"""Textual IR as a model: parse an npuc `.mlir` file with every dialect loaded, then verify it.

Every failure is one line naming the file, and the line and column where
parsing stopped: a syntax error (`ModelFormatError`), a type or attribute
that does not verify as it is built, or an op that does not verify
(`ModelVerificationError`).

The text is scanned before xDSL's parser sees it (`check_text`) for what
would hang it or exhaust memory: an unterminated string literal (the string
regex of xDSL 0.74's lexer, `MLIRLexer._unescaped_characters_regex`,
backtracks exponentially on one, so a truncated `dense<"0x...` constant
would hang), an integer type wider than MLIR allows (xDSL computes its
bounds as Python integers), a dense constant of more than
`MAX_TENSOR_ELEMENTS` elements, or a literal splat of more than
`MAX_LITERAL_SPLAT_ELEMENTS` (xDSL expands a splat), and brackets nested
deeper than `MAX_NESTING` (xDSL's parser recurses per level).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException

from npuc.context import npuc_context
from npuc.dialects.common import layer_name
from npuc.errors import ModelFormatError, ModelVerificationError, printable
from npuc.importers.common import (
    TensorTooLarge,
    check_element_count,
    first_line,
    read_file,
)

TOKENS = re.compile(
    r'(?=[/"dtvmsui{}()<>\[\]])'  # the first characters of the tokens below, tested first for speed
    r"(?://[^\n]*"  # a comment: its text is not scanned
    r'|"[^"\\\n\v\f]*(?:\\(?:["nt\\]|[0-9A-Fa-f]{2})[^"\\\n\v\f]*)*"'  # a complete string literal
    r'|(?P<quote>")'  # a quote that starts no complete literal
    r'|(?P<dense>\bdense<(?P<dense_value>[^<>"]*(?:"[^"\n]*"[^<>"]*)*)>\s*:\s*(?:tensor|vector)<)'  # a dense constant,
    r"(?P<dense_dims>(?:[0-9?]+x)*)(?:[su]?i(?P<dense_width>[0-9]+)\b)?"  # its type (open)
    r"|(?P<shaped>\b(?:tensor|vector|memref)<)(?:[0-9?]+x)*(?:[su]?i(?P<element_width>[0-9]+)\b)?"  # a shaped type
    r"|(?<![\w%^@#$.-])[su]?i(?P<width>[0-9]+)\b"  # an integer type
    r"|(?P<open>[{(<\[])|(?P<close>[})\]]|(?<!-)>))"  # a bracket (not the `>` of `->`)
)
"""What `check_text` looks at: the lexer's string literal (same characters and escapes)
in a linear form, comments, dense constants with their type, shaped types, integer types and brackets."""

MAX_NESTING = 64
"""Deepest nesting of brackets (`{`, `(`, `[`, `<`) `check_text` lets through: xDSL's parser and verifier
recurse about six Python frames per level (regions, attributes, types), and Python stops at 1000."""

XDSL_BUILD_ERRORS = (ArithmeticError, NotImplementedError, ValueError)
"""What xDSL's attribute constructors raise, past the parser's checks, on values they cannot hold."""

MAX_LITERAL_SPLAT_ELEMENTS = 1 << 20
"""Most elements of a constant written as one literal (`dense<0> : tensor<...>`).

xDSL expands such a splat element by element in Python (about a microsecond
each); hex data (`dense<"0x...">`) is expanded as bytes and only counts
against `MAX_TENSOR_ELEMENTS`.
"""

MAX_INTEGER_WIDTH = (1 << 24) - 1
"""MLIR's widest integer type (`IntegerType::kMaxWidth`)."""


def parse_mlir(path: str) -> ModuleOp:
    """Parse an npuc IR file with every npuc dialect loaded, then verify it."""
    try:
        text = read_file(path).decode()
    except UnicodeDecodeError:
        raise ModelFormatError(f"{printable(path)}: not a text IR file") from None
    return parse_mlir_text(text, path)


def parse_mlir_text(text: str, source: str) -> ModuleOp:
    """Parse and verify npuc IR `text`; `source` names it in the one-line error messages."""
    check_text(text, source)
    module = _parse(text, source)
    try:
        module.verify()
    except VerifyException as error:
        raise ModelVerificationError(f"{source}: {_verify_error_line(module, error)}") from None
    return module


def _parse(text: str, source: str) -> ModuleOp:
    """The module `text` holds, or a one-line error at the line and column where parsing stopped."""
    try:
        parser = Parser(npuc_context(), text, source)  # lexes the first token already
    except ParseError as error:
        raise ModelFormatError(f"{error.span.get_location()}: {error.msg}") from None
    try:
        return parser.parse_module()
    except ParseError as error:
        raise ModelFormatError(f"{error.span.get_location()}: {error.msg}") from None
    except DiagnosticException as error:  # an attribute or type that does not verify as it is built
        raise ModelVerificationError(f"{_location(text, source, parser.pos)}: {first_line(error)}") from None
    except XDSL_BUILD_ERRORS as error:  # xDSL cannot hold the value it parsed (`array<i0: ...>`, an `i65536` constant)
        raise ModelFormatError(f"{_location(text, source, parser.pos)}: not valid IR ({first_line(error)})") from None


def checked_frontend(
    parse: Callable[[IO[bytes]], ModuleOp], source: Callable[[], str]
) -> Callable[[IO[bytes]], ModuleOp]:
    """xDSL opt's IR frontend `parse`, run only on input that passes `check_text` (for `npuc-opt`).

    `source()` names the input. xDSL's own parse and verification errors
    (and its `--parsing-diagnostics`) are left as they are.
    """

    def parse_checked(stream: IO[bytes]) -> ModuleOp:
        data = stream.read()
        check_text(data.decode(errors="replace"), source())
        return parse(io.BytesIO(data))

    return parse_checked


def check_text(text: str, source: str) -> None:
    """Raise ModelFormatError at the first token that would hang xDSL's parser or exhaust memory.

    A string literal ends on its line; its escapes are `\\"`, `\\n`, `\\t`,
    `\\\\` and two hex digits, as in xDSL's lexer. Brackets may nest
    `MAX_NESTING` deep (a dense constant's or shaped type's `<` counts as it opens).
    """
    depth = 0
    for match in TOKENS.finditer(text):
        if match["open"] or match["dense"] or match["shaped"]:
            depth += 1
            if depth > MAX_NESTING:
                raise ModelFormatError(
                    f"{_location(text, source, match.start())}: brackets nested more than {MAX_NESTING} deep"
                )
        elif match["close"]:
            depth -= 1
        problem = _token_problem(match)
        if problem is not None:
            raise ModelFormatError(f"{_location(text, source, match.start())}: {problem}")


def _token_problem(match: re.Match[str]) -> str | None:
    """What is wrong with one token of `TOKENS`, or None."""
    if match["quote"]:
        return "string literal not closed on its line (or holding an invalid escape)"
    width = match["width"] or match["element_width"] or match["dense_width"]
    if width and int(width) > MAX_INTEGER_WIDTH:
        return f"integer type i{width} is wider than {MAX_INTEGER_WIDTH} bits"
    if match["dense_dims"]:
        extents = [int(extent) for extent in match["dense_dims"].split("x") if extent.isdigit()]
        try:
            check_element_count(extents, "dense constant")
        except TensorTooLarge as error:
            return str(error)
        if _is_literal_splat(match["dense_value"]) and math.prod(extents) > MAX_LITERAL_SPLAT_ELEMENTS:
            return (
                f"splat constant of shape {extents} has more than {MAX_LITERAL_SPLAT_ELEMENTS} elements "
                "(write its data in hex)"
            )
    return None


def _is_literal_splat(value: str) -> bool:
    """Whether a dense constant's text is one number or boolean (not a list, not hex data)."""
    return not any(mark in value for mark in '[,"')


def _location(text: str, source: str, position: int) -> str:
    """`SOURCE:LINE:COLUMN` of character `position` of `text` (both counted from 1)."""
    line_start = text.rfind("\n", 0, position) + 1
    line = text.count("\n", 0, position) + 1
    return f"{source}:{line}:{position - line_start + 1}"


def _verify_error_line(module: ModuleOp, error: Exception) -> str:
    """The verifier's message, prefixed with the failing leaf op and its layer name."""
    for op in module.walk():
        if op.regions:
            continue
        try:
            op.verify()
        except VerifyException as op_error:
            message = first_line(op_error)
            name = layer_name(op)
            return f"{op.name} '{name}': {message}" if name != op.name else f"{op.name}: {message}"
    return first_line(error)
