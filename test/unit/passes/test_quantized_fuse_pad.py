"""quantized-fuse-pad keeps the integer reference's results bit for bit.

A pad (random spatial paddings; its value the zero point, the storage
minimum or another value) in front of a conv, a depthwise conv or a max
pool, run by the reference before and after the pass on random int8 data,
in TFLite's and onnxruntime's rounding.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from xdsl.parser import Parser

from npuc.api import run_pipeline
from npuc.context import npuc_context
from npuc.reference.quantized_interpreter import run_quantized

WINDOW = 'strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"'


def padded_module(consumer: str, zero_point: int, value: int, paddings: tuple[int, ...], ort: bool) -> str:
    """`@main(x)`: pad x (1x5x4x3) with `value`, then `consumer` (conv, depthwise or max_pool)."""
    q = f"!quantized.uniform<i8:f32, 0.1:{zero_point}>"
    top, bottom, left, right = paddings
    height, width = 5 + top + bottom, 4 + left + right
    padded = f"tensor<1x{height}x{width}x3x{q}>"
    out = f"tensor<1x{height - 2}x{width - 2}x3x{q}>"
    rng = np.random.default_rng(sum(paddings))
    if consumer == "max_pool":
        body = f"%y = quantized.max_pool2d %p {{kernel = array<i64: 3, 3>, {WINDOW}}} : ({padded}) -> {out}"
    else:
        op, shape = ("conv2d", (3, 3, 3, 3)) if consumer == "conv" else ("depthwise_conv2d", (1, 3, 3, 3))
        weights = rng.integers(-127, 128, size=shape, dtype=np.int8).tobytes().hex().upper()
        w = f"tensor<{'x'.join(map(str, shape))}x!quantized.uniform<i8:f32, 0.02:0>>"
        body = (
            f'%w = quantized.constant dense<"0x{weights}"> : tensor<{"x".join(map(str, shape))}xi8> -> {w}\n'
            f"  %b = quantized.constant dense<[3, -40, 7]> : tensor<3xi32>\n"
            f"  %y = quantized.{op} %p, %w, %b {{{WINDOW}}} : ({padded}, {w}, tensor<3xi32>) -> {out}"
        )
    attributes = ' attributes {quantized.rounding = "onnxruntime"}' if ort else ""
    return (
        f"builtin.module{attributes} {{\nfunc.func @main(%x: tensor<1x5x4x3x{q}>) -> {out} {{\n"
        f"  %p = quantized.pad %x {{paddings = array<i64: 0, 0, {top}, {bottom}, {left}, {right}, 0, 0>, "
        f'mode = "constant", value = {value} : i64}} : (tensor<1x5x4x3x{q}>) -> {padded}\n'
        f"  {body}\n  func.return %y : {out}\n}}\n}}"
    ).replace(f"(tensor<1x5x4x3x{q}>) -> {padded}", f"tensor<1x5x4x3x{q}> -> {padded}")


@settings(max_examples=40, deadline=None)
@given(
    consumer=st.sampled_from(["conv", "depthwise", "max_pool"]),
    zero_point=st.integers(-128, 127),
    value_kind=st.sampled_from(["zero_point", "minimum", "other"]),
    paddings=st.tuples(*[st.integers(0, 3)] * 4),
    ort=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
# A storage-minimum pad as deep as the 3x3 max pool: a window of padding only would
# give -128 where the folded pool has no element, so the pad stays.
@example(consumer="max_pool", zero_point=5, value_kind="minimum", paddings=(3, 0, 1, 0), ort=False, seed=1)
def test_reference_unchanged_by_the_rewrite(consumer, zero_point, value_kind, paddings, ort, seed):
    value = {"zero_point": zero_point, "minimum": -128, "other": (zero_point + 1) % 128}[value_kind]
    module = Parser(npuc_context(), padded_module(consumer, zero_point, value, paddings, ort)).parse_module()
    module.verify()
    data = np.random.default_rng(seed).integers(-128, 128, size=(1, 5, 4, 3)).astype(np.int8)
    before = run_quantized(module, [data]).outputs[0]
    run_pipeline(module, "quantized-fuse-pad")
    folded = "quantized.pad" not in [op.name for op in module.walk()]
    expected_fold = (consumer != "max_pool" and value == zero_point) or (
        consumer == "max_pool" and value == -128 and max(paddings) < 3
    )
    assert folded == expected_fold
    np.testing.assert_array_equal(run_quantized(module, [data]).outputs[0], before)
