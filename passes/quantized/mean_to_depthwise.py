"""quantized-mean-to-depthwise: a MEAN over adjacent axes becomes a depthwise conv the NPU runs."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation
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
    """reduce mean -> [reshape] depthwise conv (ones, zero bias, explicit rescale) [+ reshape].

    Over H and W of a 4-D map the kernel is H x W. Over another run of
    adjacent axes the input reads, unmoved, as [1, outer, reduced, inner]
    (the axes before, in and after the run), and a 1 x reduced kernel
    computes the means (over the channels of NHWC: [1, N*H*W, C, 1]).
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: quantized.ReduceOp, rewriter: PatternRewriter) -> None:
        source_type = op.input.type
        assert isinstance(source_type, TensorType)
        shape = source_type.get_shape()
        axes = array_values(op.axes)
        if op.kind.data != "mean" or list(axes) != list(range(axes[0], axes[-1] + 1)):
            return
        ifm, ofm = quant_type(op.input), quant_type(op.output)
        assert ifm is not None and ofm is not None, "verified: per-tensor quantized"
        new_ops: list[Operation] = []
        source = op.input
        if len(shape) == 4 and axes == SPATIAL_AXES:
            batch, height, width, channels = shape
            kernel, pooled_shape = (height, width), [batch, 1, 1, channels]
        else:
            outer, reduced, inner = prod(shape[: axes[0]]), prod(shape[axes[0] : axes[-1] + 1]), prod(shape[axes[-1] + 1 :])
            kernel, pooled_shape = (1, reduced), [1, outer, 1, inner]
            reshape = quantized.ReshapeOp(source, TensorType(ifm, [1, outer, reduced, inner]))
            keep_layer(op, reshape)
            new_ops.append(reshape)
            source = reshape.output
        pooled_type = TensorType(ofm, pooled_shape)
        rescale = mean_rescale(ifm.scale, ofm.scale, prod(kernel))
        new_ops += ones_depthwise(source, pooled_type, kernel, rescale, op)
        if pooled_type != op.output.type:
            reshape = quantized.ReshapeOp(new_ops[-1].results[0], op.output.type)
            keep_layer(op, reshape)
            new_ops.append(reshape)
        rewriter.replace(op, new_ops, [new_ops[-1].results[0]])


@dataclass(frozen=True)
class MeanToDepthwisePass(ModulePass):
    """Rewrite `quantized.reduce` mean over adjacent axes as a depthwise conv (see `MeanToDepthwise`).

    Over H and W of a 4-D NHWC map the kernel covers H x W; over another run
    of adjacent axes (the channels, say) the input is reshaped in place to
    [1, outer, reduced, inner] and the kernel is 1 x reduced, as Vela
    lowers a MEAN over the last axis (a depthwise convolution).

    The depthwise kernel covers the whole reduced extent with weights 1 (int8,
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
