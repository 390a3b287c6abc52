"""Helpers shared by the quantized-IR rewrites: the all-ones depthwise conv and the pass driver.

Not a pass. A depthwise conv with weights 1, bias 0, no padding and an
explicit `rescale` computes `MultiplyByQuantizedMultiplier(sum of (x - zp)
over its window, multiplier, shift) + ofm zp`, clamped to the storage range:
TFLite's MEAN over the window, or its integer QUANTIZE (requantize) with a
1 x 1 window. The NPU runs it like any depthwise conv, so rewrites use it to
put those operators on the NPU, bit for bit.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, TensorType, i8, i32
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriteWalker,
    RewritePattern,
)

from npuc.dialects import quantized
from npuc.dialects.quantized import (
    ONNXRUNTIME_ROUNDING,
    UniformQuantizedType,
    rounding_mode,
)
from npuc.passes.graph.rewriting import keep_layer
from npuc.quantization.rules import dense


def ones_depthwise(
    ifm: SSAValue, ofm_type: TensorType, kernel: tuple[int, int], rescale: tuple[int, int], like: Operation
) -> list[Operation]:
    """[weights, bias, depthwise conv] over `ifm` (NHWC) with a `kernel` of ones and `rescale`.

    Every new op keeps the `layer` of `like`.
    """
    channels = ofm_type.get_shape()[-1]
    weights = quantized.ConstantOp(
        dense(np.ones((1, *kernel, channels), dtype=np.int8), i8),
        TensorType(UniformQuantizedType(i8, [1.0], [0]), [1, *kernel, channels]),
    )
    bias = quantized.ConstantOp(dense(np.zeros(channels, dtype=np.int32), i32))
    conv = quantized.DepthwiseConv2dOp(ifm, weights.output, bias.output, ofm_type)
    conv.properties["rescale"] = DenseArrayBase.from_list(i32, list(rescale))
    new_ops: list[Operation] = [weights, bias, conv]
    for new_op in new_ops:
        keep_layer(like, new_op)
    return new_ops


def rewrite_integer_module(module: ModuleOp, pattern: RewritePattern) -> None:
    """Apply `pattern` to a quantized module, unless it follows onnxruntime's rounding.

    The onnxruntime-rounding references (QDQ models) rescale convolutions
    from their scales, so an explicit rescale has no meaning there.
    """
    if rounding_mode(module) == ONNXRUNTIME_ROUNDING:
        return
    PatternRewriteWalker(GreedyRewritePatternApplier([pattern], dce_enabled=False)).rewrite_module(module)
