"""Concat and split as memory views: no commands, strided slices, bit-exact results.

The model splits a convolution's output along channels, runs each half
through its own convolution, concatenates those (channels) with a third
convolution's output, and ends in a convolution reading the concat. The
split and the concat must emit no command: the convolutions read the split's
slices in place and write straight into the concat's slices. A second model
concatenates a graph input, which no NPU command writes, so that concat goes
to the CPU with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import StringAttr
from xdsl.parser import Parser

import npuc
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.emit.ethos_u.emitter import emit_program
from npuc.sim.simulator import simulate

from support.ethos_u_run import run_program

A = "!quantized.uniform<i8:f32, 0.05:-3>"
B = "!quantized.uniform<i8:f32, 0.1:2>"
W = "!quantized.uniform<i8:f32, 0.02:0>"
WINDOW = 'strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>'


def _constants(name: str, out: int, ifm: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    weights = rng.integers(-127, 128, size=(out, 1, 1, ifm), dtype=np.int8)
    bias = ", ".join(str(v) for v in rng.integers(-300, 300, size=out))
    return (
        f'  %w{name} = quantized.constant dense<"0x{weights.tobytes().hex().upper()}"> '
        f": tensor<{out}x1x1x{ifm}xi8> -> tensor<{out}x1x1x{ifm}x{W}>\n"
        f"  %b{name} = quantized.constant dense<[{bias}]> : tensor<{out}xi32>\n"
    )


def _conv(name: str, ifm: str, ifm_type: str, out: int, in_depth: int, out_type: str, seed: int) -> str:
    return _constants(name, out, in_depth, seed) + (
        f'  %{name} = quantized.conv2d %{ifm}, %w{name}, %b{name} {{layer = "{name}", {WINDOW}, '
        f'activation = "none"}} : (tensor<1x5x3x{in_depth}x{ifm_type}>, tensor<{out}x1x1x{in_depth}x{W}>, '
        f"tensor<{out}xi32>) -> tensor<1x5x3x{out}x{out_type}>\n"
    )


VIEWS = (
    f"func.func @main(%x: tensor<1x5x3x4x{A}>) -> tensor<1x5x3x3x{A}> {{\n"
    + _conv("c0", "x", A, 6, 4, B, 1)
    + f'  %s:2 = quantized.split %c0 {{layer = "split", axis = 3 : i64}} : (tensor<1x5x3x6x{B}>) '
    f"-> (tensor<1x5x3x2x{B}>, tensor<1x5x3x4x{B}>)\n"
    + _conv("c1", "s#0", B, 5, 2, A, 2)
    + _conv("c2", "s#1", B, 3, 4, A, 3)
    + _conv("c3", "x", A, 2, 4, A, 4)
    + f'  %cat = quantized.concat %c1, %c2, %c3 {{layer = "concat", axis = 3 : i64}} : '
    f"(tensor<1x5x3x5x{A}>, tensor<1x5x3x3x{A}>, tensor<1x5x3x2x{A}>) -> tensor<1x5x3x10x{A}>\n"
    + _conv("c4", "cat", A, 3, 10, A, 5)
    + f"  func.return %c4 : tensor<1x5x3x3x{A}>\n}}\n"
)

INPUT_CONCAT = (
    f"func.func @main(%x: tensor<1x5x3x4x{A}>) -> tensor<1x5x3x3x{A}> {{\n"
    + _conv("c1", "x", A, 2, 4, A, 6)
    + f'  %cat = quantized.concat %x, %c1 {{layer = "concat", axis = 3 : i64}} : '
    f"(tensor<1x5x3x4x{A}>, tensor<1x5x3x2x{A}>) -> tensor<1x5x3x6x{A}>\n"
    + _conv("c2", "cat", A, 3, 6, A, 7)
    + f"  func.return %c2 : tensor<1x5x3x3x{A}>\n}}\n"
)


def _module(text: str):
    module = Parser(npuc_context(), text).parse_module()
    module.verify()
    return module


@pytest.fixture(scope="module")
def inputs() -> list[np.ndarray]:
    return [np.random.default_rng(0).integers(-128, 128, size=(2, 5, 3, 4), dtype=np.int8)]


@pytest.fixture(scope="module")
def views():
    return npuc.compile_model(_module(VIEWS), "ethos-u55-128")


def _convs(module) -> dict[str, npu.Conv2dOp]:
    return {op.attributes["layer"].data: op for op in module.ops if isinstance(op, npu.Conv2dOp)}


def test_concat_and_split_emit_no_command(views) -> None:
    layers = [op.attributes["layer"].data for op in views.module.ops if "layer" in op.attributes]
    assert "split" not in layers and "concat" not in layers
    assert not [op for op in views.module.ops if isinstance(op, npu.CpuOp)]
    assert views.report()["summary"]["cpu_operators"] == 0


def test_producers_write_into_the_concat_slices(views) -> None:
    convs = _convs(views.module)
    whole = convs["c4"].ifm
    assert whole.shape_values() == (1, 5, 3, 10)
    for name, channel in (("c1", 0), ("c2", 5), ("c3", 8)):
        ofm = convs[name].ofm
        assert ofm.region == whole.region
        assert ofm.offset.data == whole.offset.data + channel
        assert ofm.stride_values() == whole.stride_values()


def test_readers_address_the_split_slices(views) -> None:
    convs = _convs(views.module)
    source = convs["c0"].ofm
    assert convs["c1"].ifm.offset.data == source.offset.data
    assert convs["c2"].ifm.offset.data == source.offset.data + 2
    assert convs["c2"].ifm.stride_values() == source.stride_values() == (90, 18, 6, 1)


def test_views_are_bit_exact(views, inputs) -> None:
    reference = npuc.run(_module(VIEWS), inputs)
    np.testing.assert_array_equal(simulate(views.module, inputs)[0], reference[0])


def test_concat_of_an_input_runs_on_the_cpu(inputs) -> None:
    result = npuc.compile_model(_module(INPUT_CONCAT), "ethos-u55-128")
    assert result.report()["summary"]["cpu_operations"] == [
        {"layer": "concat", "operator": "concat", "reason": "input 0 is not written by an NPU command"}
    ]
    reference = npuc.run(_module(INPUT_CONCAT), inputs)
    np.testing.assert_array_equal(simulate(result.module, inputs)[0], reference[0])


NESTED = (
    f"func.func @main(%x: tensor<1x5x3x4x{A}>) -> (tensor<1x5x3x3x{A}>, tensor<1x5x3x2x{A}>) {{\n"
    + _conv("c1", "x", A, 2, 4, A, 8)
    + _conv("c2", "x", A, 3, 4, A, 9)
    + f'  %inner = quantized.concat %c1, %c2 {{layer = "inner", axis = 3 : i64}} : '
    f"(tensor<1x5x3x2x{A}>, tensor<1x5x3x3x{A}>) -> tensor<1x5x3x5x{A}>\n"
    + _conv("c5", "inner", A, 2, 5, A, 10)
    + _conv("c3", "x", A, 4, 4, A, 11)
    + f'  %outer = quantized.concat %inner, %c3 {{layer = "outer", axis = 3 : i64}} : '
    f"(tensor<1x5x3x5x{A}>, tensor<1x5x3x4x{A}>) -> tensor<1x5x3x9x{A}>\n"
    + _conv("c4", "outer", A, 3, 9, A, 12)
    + f"  func.return %c4, %c5 : tensor<1x5x3x3x{A}>, tensor<1x5x3x2x{A}>\n}}\n"
)


def test_a_concat_nests_in_another_and_other_readers_read_its_slice(inputs) -> None:
    """DenseNet's pattern: the inner concat lives in the outer one's buffer; c5 reads it there."""
    result = npuc.compile_model(_module(NESTED), "ethos-u55-128")
    assert result.report()["summary"]["cpu_operators"] == 0
    convs = _convs(result.module)
    whole = convs["c4"].ifm
    assert whole.shape_values() == (1, 5, 3, 9)
    starts = {name: convs[name].ofm.offset.data - whole.offset.data for name in ("c1", "c2", "c3")}
    assert starts == {"c1": 0, "c2": 2, "c3": 5}
    assert {convs[name].ofm.stride_values() for name in ("c1", "c2", "c3")} == {whole.stride_values()}
    assert (convs["c5"].ifm.offset.data, convs["c5"].ifm.stride_values()) == (whole.offset.data, whole.stride_values())
    reference = npuc.run(_module(NESTED), inputs)
    for got, want in zip(simulate(result.module, inputs), reference, strict=True):
        np.testing.assert_array_equal(got, want)


def _cpu_reason(text: str, layer: str) -> str | None:
    """The reason npu-legalize gives for running `layer` on the CPU (None: it runs on the NPU)."""
    module = npuc.run_pipeline(_module(text), "npu-legalize{target=ethos-u55-128}")
    op = next(op for op in module.walk() if op.attributes.get("layer") == StringAttr(layer))
    reason = op.attributes.get("npu.cpu_reason")
    return reason.data if isinstance(reason, StringAttr) else None


def _returns(values: str, types: str, body: str) -> str:
    return f"func.func @main(%x: tensor<1x5x3x4x{A}>) -> ({types}) {{\n{body}  func.return {values} : {types}\n}}\n"


def test_a_value_concatenated_twice_is_not_a_view() -> None:
    text = _returns(
        "%cat", f"tensor<1x5x3x4x{A}>",
        _conv("c1", "x", A, 2, 4, A, 13)
        + f'  %cat = quantized.concat %c1, %c1 {{layer = "concat", axis = 3 : i64}} : '
        f"(tensor<1x5x3x2x{A}>, tensor<1x5x3x2x{A}>) -> tensor<1x5x3x4x{A}>\n",
    )
    assert _cpu_reason(text, "concat") == "input 0 is concatenated more than once"


def test_a_concat_input_the_host_also_reads_is_not_a_view() -> None:
    text = _returns(
        "%cat, %c2", f"tensor<1x5x3x5x{A}>, tensor<1x5x3x3x{A}>",
        _conv("c1", "x", A, 2, 4, A, 14)
        + _conv("c2", "x", A, 3, 4, A, 15)
        + f'  %cat = quantized.concat %c1, %c2 {{layer = "concat", axis = 3 : i64}} : '
        f"(tensor<1x5x3x2x{A}>, tensor<1x5x3x3x{A}>) -> tensor<1x5x3x5x{A}>\n",
    )
    assert _cpu_reason(text, "concat") == (
        "input 1 is also read by func.return, which needs it dense, not a slice of the concat"
    )


def test_a_split_output_the_host_reads_is_not_a_view() -> None:
    text = _returns(
        "%s#0, %s#1", f"tensor<1x5x3x2x{B}>, tensor<1x5x3x4x{B}>",
        _conv("c0", "x", A, 6, 4, B, 16)
        + f'  %s:2 = quantized.split %c0 {{layer = "split", axis = 3 : i64}} : (tensor<1x5x3x6x{B}>) '
        f"-> (tensor<1x5x3x2x{B}>, tensor<1x5x3x4x{B}>)\n",
    )
    assert _cpu_reason(text, "split") == "output 0 feeds func.return, which needs a dense tensor, not a strided slice"


def _class_token(reshaped: bool, channels: int = 16) -> str:
    """A constant [1, 1, 3, C] (a class token) concatenated on axis 1 before a convolution's
    [1, 4, 3, C] output, or, `reshaped`, a [1, 1, C] one before the output reshaped to [1, 12, C]."""
    c = channels
    values = np.random.default_rng(13).integers(-128, 128, size=c if reshaped else 3 * c, dtype=np.int8)
    token = f'"0x{values.tobytes().hex().upper()}"'
    conv = _conv("c1", "x", A, c, 4, A, 14).replace("1x5x3", "1x4x3")
    if not reshaped:
        return (
            f"func.func @main(%x: tensor<1x4x3x4x{A}>) -> tensor<1x5x3x{c}x{A}> {{\n"
            + conv
            + f"  %t = quantized.constant dense<{token}> : tensor<1x1x3x{c}xi8> -> tensor<1x1x3x{c}x{A}>\n"
            + f'  %cat = quantized.concat %t, %c1 {{layer = "concat", axis = 1 : i64}} : '
            f"(tensor<1x1x3x{c}x{A}>, tensor<1x4x3x{c}x{A}>) -> tensor<1x5x3x{c}x{A}>\n"
            + f"  func.return %cat : tensor<1x5x3x{c}x{A}>\n}}\n"
        )
    return (
        f"func.func @main(%x: tensor<1x4x3x4x{A}>) -> tensor<1x13x{c}x{A}> {{\n"
        + conv
        + f"  %r = quantized.reshape %c1 : tensor<1x4x3x{c}x{A}> -> tensor<1x12x{c}x{A}>\n"
        + f"  %t = quantized.constant dense<{token}> : tensor<1x1x{c}xi8> -> tensor<1x1x{c}x{A}>\n"
        + f'  %cat = quantized.concat %t, %r {{layer = "concat", axis = 1 : i64}} : '
        f"(tensor<1x1x{c}x{A}>, tensor<1x12x{c}x{A}>) -> tensor<1x13x{c}x{A}>\n"
        + f"  func.return %cat : tensor<1x13x{c}x{A}>\n}}\n"
    )


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
@pytest.mark.parametrize("reshaped", [False, True])
def test_a_constant_input_is_copied_into_its_slice_bit_exactly(target: str, reshaped: bool) -> None:
    """A ViT's class token: one DMA copies the constant from the weights memory into its slice;
    the convolution writes its output (through reshapes, dense) into the rest; no CPU operation."""
    text = _class_token(reshaped)
    program = npuc.compile_model(_module(text), target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    (copy,) = [op for op in program.ops if isinstance(op, npu.DmaOp) and op.attributes["layer"].data == "concat"]
    (conv,) = [op for op in program.ops if isinstance(op, npu.Conv2dOp)]
    (output,) = [op.fm for op in program.ops if isinstance(op, npu.OutputOp)]
    token_bytes = 16 if reshaped else 48
    assert copy.src.region.data == npuc.targets.load_target(target).weights_memory
    assert (copy.dst.region.data, copy.dst.offset.data, copy.dst.size.data) == (
        output.region.data, output.offset.data, token_bytes
    )
    assert conv.ofm.offset.data == output.offset.data + token_bytes
    codes = np.random.default_rng(15).integers(-128, 128, size=(3, 1, 4, 3, 4), dtype=np.int8)
    for sample in codes:
        (expected,) = npuc.run(_module(text), [sample])
        np.testing.assert_array_equal(simulate(program, [sample])[0], expected)
        (stored,) = run_program(program, emit_program(program), [sample])
        np.testing.assert_array_equal(stored, expected)


def test_a_constant_whose_slice_is_strided_is_not_a_view() -> None:
    token = '"0x' + "01" * 30 + '"'
    body = (
        _conv("c1", "x", A, 6, 4, A, 16)
        + f"  %t = quantized.constant dense<{token}> : tensor<1x5x3x2xi8> -> tensor<1x5x3x2x{A}>\n"
        + f'  %cat = quantized.concat %t, %c1 {{layer = "concat", axis = 3 : i64}} : '
        f"(tensor<1x5x3x2x{A}>, tensor<1x5x3x6x{A}>) -> tensor<1x5x3x8x{A}>\n"
    )
    assert _cpu_reason(_returns("%cat", f"tensor<1x5x3x8x{A}>", body), "concat") == (
        "input 0 is a constant and its slice is not contiguous (the axes before axis 3 have [5, 3] elements)"
    )


def test_a_constant_whose_slice_is_not_dma_aligned_is_not_a_view() -> None:
    module = npuc.run_pipeline(_module(_class_token(True, channels=6)), "npu-legalize{target=ethos-u55-128}")
    (concat,) = [op for op in module.walk() if op.attributes.get("layer") == StringAttr("concat")]
    assert concat.attributes["npu.cpu_reason"] == StringAttr(
        "input 0 is a constant and its slice (bytes 0..6) is not aligned to the DMA's 16 bytes"
    )
