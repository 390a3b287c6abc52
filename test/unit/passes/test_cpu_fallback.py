"""CPU fallback: a model with layers the target cannot run compiles, runs bit-exactly and is reported.

The model mixes NPU layers with a convolution whose kernel is taller than the
Ethos-U allows, a TANH (an NPU lookup table after the CPU convolution) and a
slice reversing the width (feature-map strides are positive), and ends in a global
average pool exported with stride = kernel, which legalization normalises to
stride 1 so that it stays on the NPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.parser import Parser

import npuc
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.sim.simulator import simulate

IFM = "!quantized.uniform<i8:f32, 0.05:-3>"
MID = "!quantized.uniform<i8:f32, 0.1:2>"
TANH = "!quantized.uniform<i8:f32, 0.0078125:0>"
W = "!quantized.uniform<i8:f32, 0.02:0>"


def _weights(shape: tuple[int, ...], seed: int) -> str:
    values = np.random.default_rng(seed).integers(-127, 128, size=shape, dtype=np.int8)
    return f'dense<"0x{values.tobytes().hex().upper()}"> : tensor<{"x".join(map(str, shape))}xi8>'


MODEL = f"""
func.func @main(%x: tensor<1x70x4x2x{IFM}>) -> tensor<1x1x1x2x{TANH}> {{
  %w1 = quantized.constant {_weights((2, 1, 1, 2), 1)} -> tensor<2x1x1x2x{W}>
  %b1 = quantized.constant dense<[5, -7]> : tensor<2xi32>
  %pre = quantized.conv2d %x, %w1, %b1 {{layer = "pre", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"}} : (tensor<1x70x4x2x{IFM}>, tensor<2x1x1x2x{W}>, tensor<2xi32>) -> tensor<1x70x4x2x{IFM}>
  %w2 = quantized.constant {_weights((2, 65, 1, 2), 2)} -> tensor<2x65x1x2x{W}>
  %b2 = quantized.constant dense<[100, -100]> : tensor<2xi32>
  %big = quantized.conv2d %pre, %w2, %b2 {{layer = "big", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : (tensor<1x70x4x2x{IFM}>, tensor<2x65x1x2x{W}>, tensor<2xi32>) -> tensor<1x6x4x2x{MID}>
  %t = quantized.tanh %big {{layer = "tanh"}} : tensor<1x6x4x2x{MID}> -> tensor<1x6x4x2x{TANH}>
  %p = quantized.slice %t {{layer = "mirror", begin = array<i64: 0, 0, 3, 0>, end = array<i64: 1, 6, -1, 2>, strides = array<i64: 1, 1, -1, 1>}} : tensor<1x6x4x2x{TANH}> -> tensor<1x6x4x2x{TANH}>
  %g = quantized.avg_pool2d %p {{layer = "gap", kernel = array<i64: 6, 4>, strides = array<i64: 6, 4>, padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : (tensor<1x6x4x2x{TANH}>) -> tensor<1x1x1x2x{TANH}>
  func.return %g : tensor<1x1x1x2x{TANH}>
}}
"""

EXPECTED_CPU = [
    {"layer": "big", "operator": "conv2d", "reason": "kernel height 65 outside 1..64"},
    {"layer": "mirror", "operator": "slice",
     "reason": "slice reverses axis 2 (a negative stride; feature-map strides are positive)"},
]


def _module():
    module = Parser(npuc_context(), MODEL).parse_module()
    module.verify()
    return module


@pytest.fixture(scope="module")
def compiled():
    """The model's reference outputs on random inputs and its compile result."""
    inputs = [np.random.default_rng(0).integers(-128, 128, size=(3, 70, 4, 2), dtype=np.int8)]
    reference = npuc.run(_module(), inputs)
    return inputs, reference, npuc.compile_model(_module(), "ethos-u55-128")


def test_unsupported_layers_become_cpu_commands(compiled) -> None:
    _, _, result = compiled
    cpu = [op for op in result.module.ops if isinstance(op, npu.CpuOp)]
    assert [op.attributes["layer"].data for op in cpu] == ["big", "mirror"]
    pools = [op for op in result.module.ops if isinstance(op, npu.PoolOp)]
    assert [(op.attributes["layer"].data, list(op.strides.get_values())) for op in pools] == [("gap", [1, 1])]


def test_simulated_output_is_bit_exact(compiled) -> None:
    inputs, reference, result = compiled
    np.testing.assert_array_equal(simulate(result.module, inputs)[0], reference[0])


def test_report_names_each_cpu_operation(compiled) -> None:
    _, _, result = compiled
    summary = result.report()["summary"]
    assert (summary["npu_operators"], summary["cpu_operators"]) == (3, 2)
    assert summary["cpu_operations"] == EXPECTED_CPU
    assert "    CPU big (conv2d): kernel height 65 outside 1..64\n" in result.summary()


def test_report_json_is_byte_identical_across_compiles(compiled) -> None:
    _, _, result = compiled
    assert npuc.compile_model(_module(), "ethos-u55-128").report_json() == result.report_json()
