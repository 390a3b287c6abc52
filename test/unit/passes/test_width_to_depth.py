"""quantized-width-to-depth: a strided first convolution over a shallow input, its columns folded into
channels, computes the same bytes, and the NPU runs it in fewer cycles.

The fold's arithmetic (kernel columns at their folded positions, padding in
whole folded columns) is checked against the integer reference on random
convolutions, the cost-model decision left aside; a kws_dscnn-like first
layer (10x4 kernel, stride 2, one input channel, SAME padding) and a
ResNet-like one (7x7, stride 2, padding 3, three channels) compile to the
folded convolution, both simulators give the reference's bytes of the
original layer, and the estimate is lower than without the fold.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.parser import Parser

import npuc
from npuc.api import backend_pipeline, quantized_rewrites
from npuc.context import npuc_context
from npuc.cost.model import estimate
from npuc.dialects import npu, quantized
from npuc.dialects.common import array_values
from npuc.passes.quantized import width_to_depth
from npuc.passes.quantized.width_to_depth import Fold
from npuc.targets import load_target

from support.ethos_u_run import assert_both_simulators_give

IFM_QUANT = "!quantized.uniform<i8:f32, 0.05:-7>"
OFM_QUANT = "!quantized.uniform<i8:f32, 0.3:4>"

KWS_STEM = ((49, 10, 1), (10, 4), 8, (2, 2), (4, 1, 5, 1))
"""kws_dscnn's first layer, narrower: a 10x4 kernel, stride 2, over a 49x10 one-channel spectrogram."""


def conv_module(
    ifm: tuple[int, int, int], kernel: tuple[int, int], outputs: int, strides: tuple[int, int],
    padding: tuple[int, int, int, int], seed: int,
) -> str:
    """`@main`: one int8 conv2d of the model's input, random weights (per-channel scales) and bias."""
    height, width, channels = ifm
    rng = np.random.default_rng(seed)
    weights = rng.integers(-127, 128, (outputs, *kernel, channels)).tolist()
    bias = rng.integers(-3000, 3000, outputs).tolist()
    scales = ", ".join(f"{scale:.4f}:0" for scale in rng.uniform(0.002, 0.01, outputs))
    out_h = (height + padding[0] + padding[2] - kernel[0]) // strides[0] + 1
    out_w = (width + padding[1] + padding[3] - kernel[1]) // strides[1] + 1
    ifm_type = f"tensor<1x{height}x{width}x{channels}x{IFM_QUANT}>"
    weights_type = f"tensor<{outputs}x{kernel[0]}x{kernel[1]}x{channels}x!quantized.uniform<i8:f32:0, {{{scales}}}>>"
    ofm_type = f"tensor<1x{out_h}x{out_w}x{outputs}x{OFM_QUANT}>"
    return f"""
func.func @main(%x: {ifm_type}) -> {ofm_type} {{
  %w = quantized.constant dense<{weights}> : tensor<{outputs}x{kernel[0]}x{kernel[1]}x{channels}xi8> -> {weights_type}
  %b = quantized.constant dense<{bias}> : tensor<{outputs}xi32>
  %y = quantized.conv2d %x, %w, %b {{layer = "stem", strides = array<i64: {strides[0]}, {strides[1]}>,
      dilations = array<i64: 1, 1>, padding = array<i64: {", ".join(map(str, padding))}>, activation = "relu"}}
      : ({ifm_type}, {weights_type}, tensor<{outputs}xi32>) -> {ofm_type}
  func.return %y : {ofm_type}
}}"""


def parse(text: str):
    return Parser(npuc_context(), text).parse_module()


@st.composite
def strided_convs(draw) -> tuple[str, tuple[int, int, int]]:
    """A conv2d with column stride 2 or 3 over an input whose width the stride divides, any padding
    below the kernel."""
    stride = draw(st.integers(2, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 6)))
    padding = (
        draw(st.integers(0, kernel[0] - 1)), draw(st.integers(0, kernel[1] - 1)),
        draw(st.integers(0, kernel[0] - 1)), draw(st.integers(0, kernel[1] - 1)),
    )  # fmt: skip
    ifm = (draw(st.integers(kernel[0], 7)), stride * draw(st.integers(max(1, kernel[1] // stride + 1), 5)),
           draw(st.integers(1, 4)))
    strides = (draw(st.integers(1, 2)), stride)
    return conv_module(ifm, kernel, draw(st.integers(1, 3)), strides, padding, draw(st.integers(0, 99))), ifm


@settings(max_examples=60, deadline=None)
@given(strided_convs(), st.integers(0, 2**31))
def test_the_folded_convolution_computes_the_reference_bytes(case, seed) -> None:
    text, ifm = case
    module = parse(text)
    inputs = [np.random.default_rng(seed).integers(-128, 128, (1, *ifm), dtype=np.int8)]
    expected = npuc.run(module, inputs)[0]
    with pytest.MonkeyPatch.context() as patch:  # every fold the NPU runs, paying or not: the arithmetic
        patch.setattr(width_to_depth.WidthToDepth, "_pays", lambda self, op, conv, weights: True)
        npuc.run_pipeline(module, "quantized-width-to-depth,layer-dce")
    (conv,) = [op for op in module.walk() if isinstance(op, quantized.Conv2dOp)]
    assert array_values(conv.strides)[1] == 1, "folded"
    np.testing.assert_array_equal(npuc.run(module, inputs)[0], expected)


def test_the_fold_of_a_kws_stem() -> None:
    # 10x4 kernel, stride 2, one column of padding each side: kernel column kx is folded column
    # ox + floor((kx - 1) / 2), offsets -1..1, with one folded column of padding each side.
    (conv,) = [op for op in parse(conv_module(*KWS_STEM, seed=0)).walk() if isinstance(op, quantized.Conv2dOp)]
    assert Fold.of(conv) == Fold(stride=2, first=-1, width=3, left=1, right=1)


RESNET_STEM = ((32, 32, 3), (7, 7), 16, (2, 2), (3, 3, 3, 3))
"""A ResNet's first layer, smaller: a 7x7 kernel, stride 2, padding 3, over a 3-channel image."""


@pytest.mark.parametrize("stem", [KWS_STEM, RESNET_STEM], ids=["kws", "resnet"])
@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
def test_a_stem_runs_folded_on_the_npu_as_the_reference_computes_it(target: str, stem) -> None:
    text = conv_module(*stem, seed=3)
    (height, width, channels), stride = stem[0], stem[3][1]
    inputs = [np.random.default_rng(5).integers(-128, 128, (1, height, width, channels), dtype=np.int8)]
    expected = npuc.run(parse(text), inputs)[0]
    folded = npuc.compile_model(parse(text), target)
    (conv,) = [op for op in folded.module.ops if isinstance(op, npu.ComputeOp)]
    assert isinstance(conv, npu.Conv2dOp) and conv.ifm.shape_values()[-1] == stride * channels
    assert_both_simulators_give(folded.module, inputs, [expected])
    unfolded = parse(text)
    npuc.run_pipeline(unfolded, ",".join([*quantized_rewrites(target, like_vela=True), backend_pipeline(target)]))
    assert folded.cost.total_cycles < 0.95 * estimate(unfolded, load_target(target)).total_cycles
