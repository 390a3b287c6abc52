"""quantized-conv-patches: a ViT's patch embedding (kernel = stride = 16) runs on the NPU, bit-exactly.

The stride of 16 is beyond an Ethos-U's 1..3: without the rewrite the
convolution runs on the CPU. Rewritten as reshapes around a 16x1 convolution
with unit strides, it compiles with no CPU operation on ethos-u55-128 and
ethos-u65-256, and the npu-IR simulator and the Ethos-U register-stream
simulator give the quantized reference's bytes of the original layer.
"""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.parser import Parser

import npuc
from npuc.context import npuc_context
from npuc.dialects import npu

from support.ethos_u_run import assert_both_simulators_give

IMAGE = "tensor<1x32x48x3x!quantized.uniform<i8:f32, 0.03:-4>>"
WEIGHTS = "tensor<8x16x16x3x!quantized.uniform<i8:f32:0, {0.002:0, 0.003:0, 0.001:0, 0.004:0, 0.002:0, 0.005:0, 0.003:0, 0.002:0}>>"
TOKENS = "tensor<1x2x3x8x!quantized.uniform<i8:f32, 0.05:9>>"


def patch_embedding() -> str:
    """A 16x16 stride-16 convolution of a 32x48x3 image into 2x3 patches of 8 channels, random weights."""
    rng = np.random.default_rng(4)
    weights = rng.integers(-127, 128, (8, 16, 16, 3)).tolist()
    bias = rng.integers(-2000, 2000, 8).tolist()
    return f"""
func.func @main(%x: {IMAGE}) -> {TOKENS} {{
  %w = quantized.constant dense<{weights}> : tensor<8x16x16x3xi8> -> {WEIGHTS}
  %b = quantized.constant dense<{bias}> : tensor<8xi32>
  %y = quantized.conv2d %x, %w, %b {{layer = "embed", strides = array<i64: 16, 16>, dilations = array<i64: 1, 1>,
      padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({IMAGE}, {WEIGHTS}, tensor<8xi32>) -> {TOKENS}
  func.return %y : {TOKENS}
}}"""


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
def test_the_patch_embedding_runs_on_the_npu_as_the_reference_computes_it(target: str) -> None:
    text = patch_embedding()
    inputs = [np.random.default_rng(5).integers(-128, 128, (1, 32, 48, 3), dtype=np.int8)]
    expected = npuc.run(Parser(npuc_context(), text).parse_module(), inputs)[0]
    program = npuc.compile_model(Parser(npuc_context(), text).parse_module(), target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    (conv,) = [op for op in program.ops if isinstance(op, npu.ComputeOp)]
    assert isinstance(conv, npu.Conv2dOp)
    assert_both_simulators_give(program, inputs, [expected])
