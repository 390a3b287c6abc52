"""The explicit `rescale` of quantized conv-like ops: parsed, printed, and used by the reference."""

from __future__ import annotations

import numpy as np
from xdsl.parser import Parser

from npuc.context import npuc_context
from npuc.dialects import quantized
from npuc.reference.int_kernels import conv_rescale
from npuc.reference.int_parameters import rescale_parameters
from npuc.reference.quantized_interpreter import run_quantized

Q_IN = "!quantized.uniform<i8:f32, 0.02:-128>"
Q_W = "!quantized.uniform<i8:f32, 0.01:0>"
Q_OUT = "!quantized.uniform<i8:f32, 0.05:-128>"


def conv_module(rescale: str) -> str:
    """`@main` with one 1x1 conv of two output channels, `rescale` spliced into its properties."""
    return f"""
func.func @main(%x: tensor<1x2x2x2x{Q_IN}>) -> tensor<1x2x2x2x{Q_OUT}> {{
  %w = quantized.constant dense<[[[[1, 2]]], [[[3, -4]]]]> : tensor<2x1x1x2xi8> -> tensor<2x1x1x2x{Q_W}>
  %b = quantized.constant dense<[5, -6]> : tensor<2xi32>
  %c = quantized.conv2d %x, %w, %b {{strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
    padding = array<i64: 0, 0, 0, 0>, activation = "none"{rescale}}}
    : (tensor<1x2x2x2x{Q_IN}>, tensor<2x1x1x2x{Q_W}>, tensor<2xi32>) -> tensor<1x2x2x2x{Q_OUT}>
  func.return %c : tensor<1x2x2x2x{Q_OUT}>
}}"""


def parse(text: str):
    module = Parser(npuc_context(), text).parse_module()
    module.verify()
    return module


def the_conv(module) -> quantized.Conv2dOp:
    (conv,) = [op for op in module.walk() if isinstance(op, quantized.Conv2dOp)]
    return conv


def test_per_channel_rescale_round_trips_and_replaces_the_scales():
    module = parse(conv_module(", rescale = array<i32: 1073741824, 0, 1500000000, -3>"))
    conv = the_conv(module)
    assert "rescale = array<i32: 1073741824, 0, 1500000000, -3>" in str(module)
    multiplier, shift = rescale_parameters(conv)
    assert multiplier.tolist() == [1073741824, 1500000000] and shift.tolist() == [0, -3]
    assert str(parse(str(module))) == str(module)


def test_per_tensor_rescale_applies_to_every_channel():
    conv = the_conv(parse(conv_module(", rescale = array<i32: 1073741824, -1>")))
    multiplier, shift = rescale_parameters(conv)
    assert multiplier.tolist() == [1073741824] * 2 and shift.tolist() == [-1] * 2


def test_the_scales_rescale_written_explicitly_gives_the_same_results():
    implicit = parse(conv_module(""))
    multiplier, shift = conv_rescale(0.02, np.array([0.01, 0.01]), 0.05)
    pairs = ", ".join(f"{m}, {s}" for m, s in zip(multiplier, shift))
    explicit = parse(conv_module(f", rescale = array<i32: {pairs}>"))
    data = np.random.default_rng(0).integers(-128, 128, size=(1, 2, 2, 2)).astype(np.int8)
    np.testing.assert_array_equal(
        run_quantized(explicit, [data]).outputs[0], run_quantized(implicit, [data]).outputs[0]
    )
