"""Int8 activations run on the NPU as one elementwise command with a 256-entry lookup table.

The table is the layer's integer reference on every int8 input
(`npuc.backend.lookup_tables`); here it is checked against LiteRT's
BUILTIN_REF kernels on all 256 inputs of each per-operator model, and the
compiled models are checked to place the activation on the NPU as one
table command (their outputs are compared with LiteRT in both simulators by
test/unit/sim/test_tflite_models_compiled.py and
test/unit/emit/ethos_u/test_tflite_package.py).
"""

from __future__ import annotations

from math import prod

import numpy as np
import pytest
from xdsl.parser import Parser

import npuc
from npuc.backend.lookup_tables import LOOKUP_TABLE_OPS, activation_table
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.emit.ethos_u.emitter import emit_program
from npuc.ir import main_function
from npuc.sim.simulator import simulate_sample

from support.ethos_u_layers import convolution, lower
from support.ethos_u_run import run_program
from support.paths import TFLITE_MODELS
from tflite_models.builder import run_model

TABLE_MODELS = [
    "logistic_int8", "logistic_int8_wide", "tanh_int8", "tanh_int8_wide", "hard_swish_int8",
    "hard_swish_int8_wide", "leaky_relu_int8", "leaky_relu_int8_rescale", "prelu_scalar_slope",
    "gelu_int8", "gelu_int8_approximate", "rsqrt_int8", "rsqrt_int8_wide",
]  # fmt: skip
TARGETS = ["ethos-u55-128", "ethos-u65-256"]


def _activation(name: str):
    module = npuc.import_model(TFLITE_MODELS / f"{name}.tflite")
    (op,) = [op for op in main_function(module).body.ops if isinstance(op, LOOKUP_TABLE_OPS)]
    return op


@pytest.mark.parametrize("name", TABLE_MODELS)
def test_the_table_is_what_litert_computes_for_every_int8_input(name: str) -> None:
    model = (TFLITE_MODELS / f"{name}.tflite").read_bytes()
    op = _activation(name)
    shape = [dim for dim in op.operands[0].type.get_shape()]
    elements = prod(shape)
    inputs = np.resize(np.arange(-128, 128, dtype=np.int8), -(-256 // elements) * elements)
    litert = np.concatenate([
        run_model(model, chunk.reshape(shape))[0].reshape(-1) for chunk in inputs.reshape(-1, elements)
    ])  # fmt: skip
    np.testing.assert_array_equal(activation_table(op), litert[:256])


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", TABLE_MODELS)
def test_the_activation_is_one_npu_command_with_a_table(name: str, target: str) -> None:
    program = npuc.compile_model(npuc.import_model(TFLITE_MODELS / f"{name}.tflite"), target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    (command,) = [op for op in program.ops if isinstance(op, npu.ComputeOp)]
    assert isinstance(command, npu.ElementwiseOp) and command.lut is not None
    assert command.lut.size.data == 256


def test_a_prelu_with_a_slope_per_channel_runs_on_the_cpu_saying_why() -> None:
    program = npuc.compile_model(npuc.import_model(TFLITE_MODELS / "prelu_channel_slope.tflite"), "ethos-u55-128")
    (cpu,) = [op for op in program.module.ops if isinstance(op, npu.CpuOp)]
    assert cpu.reason is not None and cpu.reason.data.startswith("its 3 slopes differ")


@pytest.mark.parametrize("name", ["logistic_16x8", "tanh_16x8", "leaky_relu_16x8", "prelu_16x8"])
def test_int16_activations_stay_on_the_cpu(name: str) -> None:
    program = npuc.compile_model(npuc.import_model(TFLITE_MODELS / f"{name}.tflite"), "ethos-u55-128")
    (cpu,) = [op for op in program.module.ops if isinstance(op, npu.CpuOp)]
    assert cpu.reason is not None and cpu.reason.data == "ofm data type int16 not in int8"


def _with_activation(convolution_text: str, activation: str, result_type: str) -> str:
    """`convolution_text` (`@main` returning %layer) with `activation` of %layer as the result."""
    body, _, _ = convolution_text.rpartition("  func.return")
    header, _, rest = body.partition(") -> ")
    layer_type = rest.split(" {", 1)[0]
    body = header + ") -> " + result_type + " {" + rest.split(" {", 1)[1]
    return (
        f"{body}  %y = quantized.{activation} %layer {{layer = \"act\"}} : {layer_type} -> {result_type}\n"
        f"  func.return %y : {result_type}\n}}"
    )


SIGMOID_OUT = "tensor<1x6x6x16x!quantized.uniform<i8:f32, 0.00390625:-128>>"
FUSED = {
    "conv": _with_activation(convolution((6, 6, 8), 16, (3, 3), padding=(1, 1, 1, 1)), "logistic", SIGMOID_OUT),
    "depthwise": _with_activation(
        convolution((6, 6, 16), 16, (3, 3), padding=(1, 1, 1, 1), depthwise=True), "hard_swish",
        "tensor<1x6x6x16x!quantized.uniform<i8:f32, 0.05:-20>>",
    ),
}  # fmt: skip
"""A convolution and a depthwise convolution each read only by a lookup-table activation."""


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(FUSED))
def test_an_activation_after_a_convolution_is_fused_into_its_command(name: str, target: str) -> None:
    text = FUSED[name]
    module = lower(text, target)
    (command,) = [op for op in module.ops if isinstance(op, npu.ComputeOp)]
    assert isinstance(command, npu.WeightedOp) and command.lut is not None
    rng = np.random.default_rng(0)
    inputs = [rng.integers(-128, 128, (1, 6, 6, 8 if name == "conv" else 16), dtype=np.int8)]
    reference = npuc.run(Parser(npuc_context(), text).parse_module(), inputs)
    for outputs in (simulate_sample(module, inputs), run_program(module, emit_program(module), inputs)):
        np.testing.assert_array_equal(outputs[0], reference[0])


X = "tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-3>>"
C = "tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:5>>"
S = "tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>"
W = "tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>"
CONCAT = f"""
func.func @main(%x: {X}) -> tensor<1x4x4x16x!quantized.uniform<i8:f32, 0.00390625:-128>> {{
  %w = quantized.constant dense<[[[[1, -2, 3, 4, -5, 6, 7, -8]]], [[[2, 3, -4, 5, 6, -7, 8, 9]]], [[[-3, 4, 5, -6, 7, 8, -9, 1]]],
      [[[4, -5, 6, 7, -8, 9, 1, 2]]], [[[5, 6, -7, 8, 9, -1, 2, 3]]], [[[-6, 7, 8, -9, 1, 2, -3, 4]]],
      [[[7, -8, 9, 1, -2, 3, 4, -5]]], [[[8, 9, -1, 2, 3, -4, 5, 6]]]]> : tensor<8x1x1x8xi8> -> {W}
  %b = quantized.constant dense<[5, -3, 2, 0, 7, -9, 1, 4]> : tensor<8xi32>
  %b2 = quantized.constant dense<[5, -3, 2, 0, 7, -9, 1, 4]> : tensor<8xi32>
  %first = quantized.conv2d %x, %w, %b2 {{layer = "first", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
      padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({X}, {W}, tensor<8xi32>) -> {S}
  %c = quantized.conv2d %x, %w, %b {{layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
      padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({X}, {W}, tensor<8xi32>) -> {C}
  %s = quantized.logistic %c {{layer = "sigmoid"}} : {C} -> {S}
  %y = quantized.concat %first, %s {{layer = "concat", axis = 3 : i64}} : ({S}, {S}) -> tensor<1x4x4x16x!quantized.uniform<i8:f32, 0.00390625:-128>>
  func.return %y : tensor<1x4x4x16x!quantized.uniform<i8:f32, 0.00390625:-128>>
}}"""
"""A sigmoid fused into the convolution before it, writing its slice of a concat."""


@pytest.mark.parametrize("target", TARGETS)
def test_a_fused_activation_writes_its_slice_of_a_concat(target: str) -> None:
    module = lower(CONCAT, target)
    commands = [op for op in module.ops if isinstance(op, npu.ComputeOp)]
    assert [(type(op), op.lut is not None) for op in commands] == [(npu.Conv2dOp, False), (npu.Conv2dOp, True)]
    inputs = [np.random.default_rng(1).integers(-128, 128, (1, 4, 4, 8), dtype=np.int8)]
    reference = npuc.run(Parser(npuc_context(), CONCAT).parse_module(), inputs)
    for outputs in (simulate_sample(module, inputs), run_program(module, emit_program(module), inputs)):
        np.testing.assert_array_equal(outputs[0], reference[0])
