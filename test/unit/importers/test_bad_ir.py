"""Malformed textual IR: one `NpucError` line naming the file (and line:column), fast, without allocating.

xDSL 0.74's lexer backtracks exponentially on an unterminated string
literal (26 hex digits took 8 s, each more doubles it); npuc scans the text
first (`npuc.importers.mlir.check_text`).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from xdsl.parser import Parser

from npuc.context import npuc_context
from npuc.errors import ModelFormatError, ModelVerificationError, NpucError
from npuc.importers.mlir import (
    MAX_NESTING,
    checked_frontend,
    parse_mlir,
    parse_mlir_text,
)

FAST = 1.0
"""Seconds a refusal may take (the parser needs well under that for these texts)."""


def constant(value: str, type_text: str = "tensor<30xi8>") -> str:
    """A module holding one `quantized.constant` of `value`."""
    return (
        "builtin.module {\n"
        f'  %0 = "quantized.constant"() {{value = {value} : {type_text}}} : () -> {type_text}\n'
        "}\n"
    )


def refuse(text: str, error: type[NpucError], match: str) -> str:
    """Parse `text` as `bad.mlir`; expect `error` matching `match`, one line, in under `FAST` seconds."""
    start = time.perf_counter()
    with pytest.raises(error, match=match) as caught:
        parse_mlir_text(text, "bad.mlir")
    assert time.perf_counter() - start < FAST
    message = str(caught.value)
    assert message.startswith("bad.mlir:") and "\n" not in message
    return message


def test_an_unterminated_string_literal_returns_at_once() -> None:
    text = constant('dense<"0x' + "0102" * 15)  # 60 hex digits, no closing quote
    refuse(text, ModelFormatError, r"^bad.mlir:2:46: string literal not closed on its line")


def test_a_string_literal_with_an_invalid_escape_returns_at_once() -> None:
    text = '"quantized.external"() {name = "' + "ab" * 30 + '\\q"} : () -> ()\n'
    refuse(text, ModelFormatError, "string literal not closed on its line")


def test_quotes_in_comments_and_strings_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.mlir"
    path.write_text('// a comment with a " quote\n' + constant('dense<"0x0102">', "tensor<2xi8>"))
    parse_mlir(str(path))


def test_a_huge_integer_type_is_refused_before_xdsl_computes_its_bounds() -> None:
    refuse(constant("dense<1>", "tensor<4xi2147483648>"), ModelFormatError, "integer type i2147483648 is wider than")


def test_a_huge_splat_constant_is_refused_before_it_is_expanded() -> None:
    refuse(constant("dense<1>", "tensor<100000x100000xi8>"), ModelFormatError,
           r"^bad.mlir:2:.*dense constant of shape \[100000, 100000\] has 10000000000 elements")  # fmt: skip


def test_a_literal_splat_xdsl_would_expand_for_seconds_is_refused() -> None:
    refuse(constant("dense<1>", "tensor<8x3x3x65536xi8>"), ModelFormatError,
           r"splat constant of shape \[8, 3, 3, 65536\] has more than 1048576 elements \(write its data in hex\)")  # fmt: skip


def _nested_modules(depth: int) -> str:
    return "builtin.module {\n" * depth + "}\n" * depth


def test_nesting_deeper_than_the_limit_is_refused_before_xdsl_recurses() -> None:
    """xDSL's parser recurses per level: 5000 nested modules would exhaust Python's stack."""
    refuse(_nested_modules(5000), ModelFormatError,
           rf"^bad.mlir:{MAX_NESTING + 1}:16: brackets nested more than {MAX_NESTING} deep")  # fmt: skip


def test_nesting_up_to_the_limit_parses() -> None:
    parse_mlir_text(_nested_modules(MAX_NESTING), "deep.mlir")
    parse_mlir_text("builtin.module attributes {a = " + "[" * (MAX_NESTING - 2) + "]" * (MAX_NESTING - 2) + "} {\n}\n",
                    "deep.mlir")  # fmt: skip


def test_the_arrow_of_a_function_type_closes_no_bracket() -> None:
    """Were the `>` of each `->` a closing bracket, the arrows before would hide the nesting after."""
    arrows = ", ".join(f"f{index} = () -> ()" for index in range(MAX_NESTING))
    text = f"builtin.module attributes {{{arrows}}} {{\n" + _nested_modules(MAX_NESTING) + "}\n"
    refuse(text, ModelFormatError, f"brackets nested more than {MAX_NESTING} deep")


def test_a_huge_tensor_type_alone_parses() -> None:
    """Only constants are materialised: a type describes a tensor without allocating it."""
    element = "tensor<1x32768x32768x4xi8>"
    parse_mlir_text(f"func.func @main(%x: {element}) -> {element} {{\n  func.return %x : {element}\n}}\n", "big.mlir")




@pytest.mark.parametrize(("pair", "match"), [("0.0:0", "scales must be positive"), ("0.5:300", "zero point outside")])
def test_a_quantized_type_that_does_not_verify_names_line_and_column(pair: str, match: str) -> None:
    element = f"!quantized.uniform<i8:f32, {pair}>"
    text = f"func.func @main(%x: tensor<4x{element}>) -> tensor<4x{element}> {{\n  func.return %x : tensor<4x{element}>\n}}\n"
    refuse(text, ModelVerificationError, rf"^bad.mlir:1:\d+: .*{match}")


NPU_POOL = (
    'npu.pool {{layer = "avg", kind = "avg", '
    "ifm = #npu.fm<sram, 0, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, "
    "ofm = #npu.fm<sram, 64, [1, 2, 2, 4], [16, 8, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, "
    "kernel = array<i64: {kernel}>, strides = array<i64: {strides}>, padding = array<i64: 0, 0, 0, 0>, "
    "act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 2, 2, 4>}}"
)
"""An npu pooling command over a 4x4 map."""


def test_a_valid_npu_pool_parses() -> None:
    parse_mlir_text(NPU_POOL.format(kernel="2, 2", strides="2, 2"), "pool.mlir")


@pytest.mark.parametrize(("kernel", "strides", "name"), [("2, 2", "0, 2", "strides"), ("0, 2", "2, 2", "kernel")])
def test_an_npu_window_of_zero_fails_verification(kernel: str, strides: str, name: str) -> None:
    text = NPU_POOL.format(kernel=kernel, strides=strides)
    refuse(text, ModelVerificationError, rf"npu.pool 'avg': '{name}' values must be >= 1")


@pytest.mark.parametrize(("value_type", "match"), [
    ("memref<4xi8>", "constant value must be a tensor, not memref<4xi8>"),
    ("tensor<4xi8>", "constant holds 4 bytes but its buffer is 8 bytes"),
])  # fmt: skip
def test_an_npu_constant_that_does_not_fill_a_tensor_buffer_fails_verification(value_type: str, match: str) -> None:
    text = f"npu.constant {{buffer = #npu.buf<flash, 0, 8>, value = dense<[1, 2, 3, 4]> : {value_type}}}\n"
    refuse(text, ModelVerificationError, rf"npu.constant: {match}")


def test_a_value_xdsl_cannot_hold_is_a_format_error() -> None:
    text = NPU_POOL.format(kernel="2, 2", strides="2, 2").replace("array<i64: 0, 0, 0, 0>", "array<i0: 0, 0, 0, 0>")
    refuse(text, ModelFormatError, r"^bad.mlir:1:\d+: not valid IR \(integer modulo by zero\)")


def test_a_syntax_error_is_one_line_with_its_position() -> None:
    refuse("builtin.module {\n  npu.dma {{\n}\n", ModelFormatError, r"^bad.mlir:2:12: ")


def _xdsl_frontend(stream: io.BytesIO):
    """What xDSL's opt main does with IR input (`CommandLineTool.register_all_frontends`)."""
    return Parser(npuc_context(), stream.read(), "bad.mlir").parse_module()


def test_npuc_opt_can_check_its_input_before_xdsl_parses_it() -> None:
    """`checked_frontend` around an opt main's IR frontend (xDSL's parser) refuses the hanging literal."""
    frontend = checked_frontend(_xdsl_frontend, lambda: "bad.mlir")
    start = time.perf_counter()
    with pytest.raises(ModelFormatError, match="^bad.mlir:2:46: string literal not closed"):
        frontend(io.BytesIO(constant('dense<"0x' + "0102" * 15).encode()))
    assert time.perf_counter() - start < FAST
    assert frontend(io.BytesIO(constant('dense<"0x0102">', "tensor<2xi8>").encode())).ops.first is not None


def test_a_bad_first_token_is_one_line() -> None:
    """xDSL's parser lexes its first token as it is built."""
    refuse("@// not a symbol\n", ModelFormatError, r"^bad.mlir:1:1: @ identifier expected")
