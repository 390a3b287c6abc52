"""quantized-mean-to-depthwise: a spatial MEAN becomes a depthwise conv the NPU runs."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)

from npuc.dialects import quantized
from npuc.dialects.common import array_values, keep_layer
from npuc.dialects.quantized import ones_depthwise, quant_type
from npuc.ir import rewrite_integer_module
from npuc.reference.int_tensor_ops import mean_rescale

SPATIAL_AXES = (1, 2)
"""H and W of an NHWC tensor."""


class MeanToDepthwise(RewritePattern):
    """reduce mean over H and W -> depthwise conv (ones, zero bias, explicit rescale) [+ reshape]."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: quantized.ReduceOp, rewriter: PatternRewriter) -> None:
        source_type = op.input.type
        assert isinstance(source_type, TensorType)
        shape = source_type.get_shape()
        if op.kind.data != "mean" or len(shape) != 4 or array_values(op.axes) != SPATIAL_AXES:
            return
        ifm, ofm = quant_type(op.input), quant_type(op.output)
        assert ifm is not None and ofm is not None, "verified: per-tensor quantized"
        batch, height, width, channels = shape
        pooled_type = TensorType(ofm, [batch, 1, 1, channels])
        rescale = mean_rescale(ifm.scale, ofm.scale, height * width)
        new_ops = ones_depthwise(op.input, pooled_type, (height, width), rescale, op)
        if pooled_type != op.output.type:
            reshape = quantized.ReshapeOp(new_ops[-1].results[0], op.output.type)
            keep_layer(op, reshape)
            new_ops.append(reshape)
        rewriter.replace(op, new_ops, [new_ops[-1].results[0]])


@dataclass(frozen=True)
class MeanToDepthwisePass(ModulePass):
    """Rewrite `quantized.reduce` mean over H and W of a 4-D NHWC map as a depthwise conv.

    The depthwise kernel covers the whole H x W extent with weights 1 (int8,
    scale 1), bias 0, stride 1 and no padding, so its accumulator is
    `sum(x) - zp * count`, TFLite MEAN's; the explicit `rescale` is MEAN's
    multiplier pre-divided by the count (`mean_rescale`). The result is bit
    for bit the reference MEAN (int8 and int16), and the NPU runs it as a
    depthwise conv. A reshape follows when the mean drops the reduced axes;
    every new op keeps the reduce's `layer`. Target independent: npu-legalize
    sends a kernel the target cannot run to the CPU, with the reason.

    A module with `quantized.rounding = "onnxruntime"` is left unchanged (the
    onnxruntime-rounding conv reference rescales from the scales).
    """

    name = "quantized-mean-to-depthwise"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_integer_module(op, MeanToDepthwise())
