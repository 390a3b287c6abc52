"""Quantized ops in forms TFLite names otherwise, and ops TFLite cannot express.

Each exported model runs in LiteRT's reference kernels with the outputs of
npuc's integer reference on the IR (the oracle), and the operators written
are read back with the `tflite` package.
"""

from __future__ import annotations

import numpy as np
import pytest
import tflite
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, i32
from xdsl.parser import Parser

import npuc
from npuc.api import QUANTIZED_REWRITES
from npuc.context import npuc_context
from npuc.emit.tflite.export import export_tflite
from npuc.errors import UnsupportedOperatorError

from support.paths import TFLITE_MODELS
from tflite_models.builder import reference_interpreter

CODES = {value: name for name, value in vars(tflite.BuiltinOperator).items() if not name.startswith("_")}


def q(shape: str, scale: float = 0.05, zero_point: int = -3, bits: int = 8) -> str:
    """A per-tensor quantized tensor type."""
    return f"tensor<{shape}x!quantized.uniform<i{bits}:f32, {scale}:{zero_point}>>"


def parse(body: str, arguments: str, results: str) -> ModuleOp:
    """`@main(arguments) -> results` around `body` (IR text, returning %y)."""
    text = f"func.func @main({arguments}) -> {results} {{\n{body}\n  func.return %y : {results}\n}}"
    module = Parser(npuc_context(), text).parse_module()
    module.verify()
    return module


def operator_codes(model: bytes) -> list[str]:
    """The operators of the main subgraph, in order, by builtin name."""
    flatbuffer = tflite.Model.GetRootAsModel(model, 0)
    subgraph = flatbuffer.Subgraphs(0)
    return [CODES[flatbuffer.OperatorCodes(subgraph.Operators(i).OpcodeIndex()).BuiltinCode()]
            for i in range(subgraph.OperatorsLength())]


def assert_litert_computes_the_reference(module: ModuleOp, model: bytes) -> None:
    """LiteRT (BUILTIN_REF) on `model` equals npuc's reference on `module`, byte for byte, on random inputs."""
    interpreter = reference_interpreter(model)
    rng = np.random.default_rng(0)
    for _ in range(3):
        inputs = []
        for detail in interpreter.get_input_details():
            info = np.iinfo(detail["dtype"])
            inputs.append(rng.integers(info.min, info.max, detail["shape"], dtype=detail["dtype"], endpoint=True))
            interpreter.set_tensor(detail["index"], inputs[-1])
        interpreter.invoke()
        for want, detail in zip(npuc.run(module, inputs), interpreter.get_output_details(), strict=True):
            np.testing.assert_array_equal(interpreter.get_tensor(detail["index"]), want)


WEIGHTS = "dense<[[[[1, -2], [3, 4]], [[-5, 6], [7, -8]]], [[[9, 10], [-11, 12]], [[13, -14], [15, 16]]]]>"


def test_convolution_padding_that_is_neither_same_nor_valid_is_a_pad_of_the_zero_point_first() -> None:
    weights_type = "tensor<2x2x2x2x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0}>>"
    module = parse(f"""
  %w = quantized.constant {WEIGHTS} : tensor<2x2x2x2xi8> -> {weights_type}
  %b = quantized.constant dense<[100, -200]> : tensor<2xi32>
  %y = quantized.conv2d %x, %w, %b {{layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
      padding = array<i64: 1, 0, 0, 2>, activation = "none"}} : ({q("1x5x5x2")}, {weights_type}, tensor<2xi32>)
      -> {q("1x5x6x2", 0.1, 7)}""", f"%x: {q('1x5x5x2')}", q("1x5x6x2", 0.1, 7))
    model = export_tflite(module)
    assert operator_codes(model) == ["PAD", "CONV_2D"]
    assert_litert_computes_the_reference(module, model)


def test_max_pool_padding_that_is_neither_same_nor_valid_pads_the_storage_minimum() -> None:
    module = parse(f"""
  %y = quantized.max_pool2d %x {{layer = "pool", kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>,
      padding = array<i64: 2, 0, 0, 1>, activation = "none"}} : ({q("1x6x6x3")}) -> {q("1x3x3x3")}""",
        f"%x: {q('1x6x6x3')}", q("1x3x3x3"))
    model = export_tflite(module)
    assert operator_codes(model) == ["PADV2", "MAX_POOL_2D"]
    assert_litert_computes_the_reference(module, model)


def test_average_pool_padding_that_is_neither_same_nor_valid_has_no_tflite_form() -> None:
    module = parse(f"""
  %y = quantized.avg_pool2d %x {{layer = "pool", kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>,
      padding = array<i64: 2, 0, 0, 1>, activation = "none"}} : ({q("1x6x6x3")}) -> {q("1x3x3x3")}""",
        f"%x: {q('1x6x6x3')}", q("1x3x3x3"))
    with pytest.raises(UnsupportedOperatorError, match=r"pool \(quantized.avg_pool2d\): padding \[2, 0, 0, 1\]"):
        export_tflite(module)


@pytest.mark.parametrize(("model", "code"), [("mean_hw", "MEAN"), ("quantize_int8_to_int8", "QUANTIZE")])
def test_a_depthwise_of_ones_with_an_explicit_rescale_is_the_operator_it_was_rewritten_from(model, code) -> None:
    module = npuc.import_model(TFLITE_MODELS / f"{model}.tflite")
    npuc.run_pipeline(module, ",".join(QUANTIZED_REWRITES))
    assert any(op.name == "quantized.depthwise_conv2d" for op in module.walk())
    exported = export_tflite(module)
    assert code in operator_codes(exported)
    assert_litert_computes_the_reference(module, exported)


def test_an_explicit_rescale_tflite_would_not_derive_has_no_tflite_form() -> None:
    module = npuc.import_model(TFLITE_MODELS / "quantize_int8_to_int8.tflite")
    npuc.run_pipeline(module, ",".join(QUANTIZED_REWRITES))
    (depthwise,) = [op for op in module.walk() if op.name == "quantized.depthwise_conv2d"]
    depthwise.properties["rescale"] = DenseArrayBase.from_list(i32, [1 << 30, 0])  # one half: not the scale ratio
    with pytest.raises(UnsupportedOperatorError, match="not TFLite's QUANTIZE or MEAN"):
        export_tflite(module)


def test_a_clamp_is_a_maximum_and_a_minimum_of_stored_values() -> None:
    module = parse('  %y = quantized.clamp %x {layer = "clamp", min = -20 : i64, max = 90 : i64} : '
                   f'{q("1x4x4x3")} -> {q("1x4x4x3")}', f"%x: {q('1x4x4x3')}", q("1x4x4x3"))
    model = export_tflite(module)
    assert operator_codes(model) == ["MAXIMUM", "MINIMUM"]
    assert_litert_computes_the_reference(module, model)


def test_a_reflect_pad_is_a_mirror_pad() -> None:
    module = parse(f"""
  %y = quantized.pad %x {{layer = "pad", paddings = array<i64: 0, 0, 1, 2, 2, 1, 0, 0>, mode = "reflect",
      value = 0 : i64}} : {q("1x4x5x3")} -> {q("1x7x8x3")}""", f"%x: {q('1x4x5x3')}", q("1x7x8x3"))
    model = export_tflite(module)
    assert operator_codes(model) == ["MIRROR_PAD"]
    assert_litert_computes_the_reference(module, model)


def test_a_concatenation_input_with_other_parameters_is_requantized_first() -> None:
    module = parse(f"""
  %y = quantized.concat %x, %z {{layer = "concat", axis = 3 : i64}} : ({q("1x2x3x4")}, {q("1x2x3x2", 0.09, 11)})
      -> {q("1x2x3x6")}""", f"%x: {q('1x2x3x4')}, %z: {q('1x2x3x2', 0.09, 11)}", q("1x2x3x6"))
    model = export_tflite(module)
    assert operator_codes(model) == ["QUANTIZE", "CONCATENATION"]
    assert_litert_computes_the_reference(module, model)


def test_every_op_without_a_tflite_form_is_named_with_its_layer_at_once() -> None:
    module = parse(f"""
  %p = quantized.pad %x {{layer = "edge_pad", paddings = array<i64: 0, 0, 1, 1, 0, 0>, mode = "edge",
      value = 0 : i64}} : {q("2x4x5")} -> {q("2x6x5")}
  %s = quantized.softmax %p {{layer = "softmax_h", axis = 1 : i64, beta = 1.0 : f32}} : {q("2x6x5")} -> {q("2x6x5")}
  %g = quantized.external %x {{layer = "custom", op_type = "MyOp"}} : ({q("2x4x5")}) -> {q("2x4x5")}
  %y = quantized.external %g {{layer = "gather", op_type = "GATHER"}} : ({q("2x4x5")}) -> {q("2x4x5")}""",
        f"%x: {q('2x4x5')}", q("2x4x5"))
    with pytest.raises(UnsupportedOperatorError) as error:
        export_tflite(module, "model.tflite")
    assert [(name, reason.split(":")[0]) for name, _, reason in error.value.problems] == [
        ("edge_pad", "edge padding"), ("custom", "custom operator 'MyOp'"),
    ]
    assert str(error.value).startswith("model.tflite: TFLite export: 2 unsupported node(s): edge_pad (quantized.pad)")


def test_a_builtin_kept_opaque_is_written_back_when_it_has_no_options() -> None:
    module = parse(f'  %y = quantized.external %x {{layer = "abs", op_type = "ABS"}} : ({q("1x4x4x3")}) -> '
                   f'{q("1x4x4x3")}', f"%x: {q('1x4x4x3')}", q("1x4x4x3"))
    assert operator_codes(export_tflite(module)) == ["ABS"]
    gather = parse(f'  %y = quantized.external %x {{layer = "gather", op_type = "GATHER"}} : ({q("1x4x4x3")}) -> '
                   f'{q("1x4x4x3")}', f"%x: {q('1x4x4x3')}", q("1x4x4x3"))
    with pytest.raises(UnsupportedOperatorError, match="GATHER: its GatherOptions are not kept in the IR"):
        export_tflite(gather)


def test_an_int16_form_tflite_has_no_kernel_for_is_refused() -> None:
    module = parse(f'  %y = quantized.hard_swish %x {{layer = "swish"}} : {q("1x4x4x3", 0.001, 0, 16)} -> '
                   f'{q("1x4x4x3", 0.001, 0, 16)}', f"%x: {q('1x4x4x3', 0.001, 0, 16)}", q("1x4x4x3", 0.001, 0, 16))
    with pytest.raises(UnsupportedOperatorError, match="swish .*TFLite's HARD_SWISH has no int16 kernel"):
        export_tflite(module)
