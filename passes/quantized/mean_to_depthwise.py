"""quantized-mean-to-depthwise: a MEAN over adjacent axes becomes a depthwise conv the NPU runs."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerType, ModuleOp, TensorType
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)

from npuc.backend.planning import target_or_fail
from npuc.dialects import quantized
from npuc.dialects.common import array_values, keep_layer, value_shape
from npuc.dialects.quantized import ones_depthwise, quant_type
from npuc.dialects.quantized_type import UniformQuantizedType
from npuc.ir import rewrite_integer_module
from npuc.reference.int_kernels import requantize_rescale
from npuc.reference.int_tensor_ops import mean_rescale
from npuc.targets.description import KernelRule

SPATIAL_AXES = (1, 2)
"""H and W of an NHWC tensor."""

DEPTHWISE = "depthwise_conv2d"
"""The target operator whose kernel rule bounds the depthwise convs."""

PARTIAL_SUM_TYPE = IntegerType(16)
"""Storage of the partial sums of a split mean: int8 inputs less their zero point, summed exactly."""


def _fits(rule: KernelRule | None, kernel: tuple[int, int]) -> bool:
    """Whether a depthwise kernel of `kernel` (height, width) satisfies `rule` (`None`: no limit)."""
    height, width = kernel
    return rule is None or (height in rule.height and width in rule.width and height * width <= rule.area_max)


def _split_row(count: int, span: int, rule: KernelRule | None) -> int | None:
    """The largest row length k dividing `count` whose 1 x k and 1 x count/k kernels fit `rule`, k
    summing at most `span` inputs exactly in a partial sum; `None` if there is none."""
    for row in range(min(count, span), 1, -1):
        if count % row == 0 and _fits(rule, (1, row)) and _fits(rule, (1, count // row)):
            return row
    return None


class MeanToDepthwise(RewritePattern):
    """reduce mean -> [reshape] depthwise conv (ones, zero bias, explicit rescale) [+ reshape].

    Over H and W of a 4-D map the kernel is H x W. Over another run of
    adjacent axes the input reads, unmoved, as [1, outer, reduced, inner]
    (the axes before, in and after the run), and a 1 x reduced kernel
    computes the means (over the channels of NHWC: [1, N*H*W, C, 1]).

    An H x W kernel outside the depthwise `rule` reads the map as one row
    ([1, 1, H*W, C], 1 x H*W kernel) when that fits, as Vela does; else an
    int8 mean over n = H*W becomes two depthwise convs (`split_mean`).
    """

    def __init__(self, rule: KernelRule | None) -> None:
        super().__init__()
        self.rule = rule

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
            if batch == 1 and not _fits(self.rule, kernel):
                if _fits(self.rule, (1, height * width)):
                    kernel = (1, height * width)
                    reshape = quantized.ReshapeOp(source, TensorType(ifm, [1, 1, height * width, channels]))
                    keep_layer(op, reshape)
                    new_ops.append(reshape)
                    source = reshape.output
                elif (split := self.split_mean(op)) is not None:
                    rewriter.replace(op, split, [split[-1].results[0]])
                    return
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

    def split_mean(self, op: quantized.ReduceOp) -> list[Operation] | None:
        """The ops of an int8 mean over H x W (n = H*W) as two depthwise convs of 1 x k and 1 x n/k kernels.

        The map reads as [1, n/k, k, C]; the first conv sums each row of k
        inputs less the zero point exactly into int16 (k x 255 <= 32767;
        rescale 1, zero point 0, the input's scale); the second, over those
        n/k sums read as [1, 1, n/k, C], accumulates sum(x - zp) over the
        whole map, TFLite MEAN's int32 accumulator, and applies MEAN's rescale
        (`mean_rescale` with the count n) once: bit for bit the reference MEAN.
        `None` when the input is not int8 or no k fits the rule (then the
        one H x W kernel stays, and npu-legalize sends it to the CPU).
        """
        ifm, ofm = quant_type(op.input), quant_type(op.output)
        assert ifm is not None and ofm is not None, "verified: per-tensor quantized"
        if ifm.storage_type != IntegerType(8):
            return None
        partial = UniformQuantizedType(PARTIAL_SUM_TYPE, [ifm.scale], [0])
        _, height, width, channels = value_shape(op.input)
        count = height * width
        row = _split_row(count, partial.qmax // (ifm.qmax - ifm.qmin), self.rule)
        if row is None:
            return None
        rows = quantized.ReshapeOp(op.input, TensorType(ifm, [1, count // row, row, channels]))
        sums = ones_depthwise(
            rows.output, TensorType(partial, [1, count // row, 1, channels]), (1, row),
            requantize_rescale(ifm.scale, ifm.scale), op,
        )  # fmt: skip
        row_of_sums = quantized.ReshapeOp(sums[-1].results[0], TensorType(partial, [1, 1, count // row, channels]))
        mean = ones_depthwise(
            row_of_sums.output, TensorType(ofm, [1, 1, 1, channels]), (1, count // row),
            mean_rescale(ifm.scale, ofm.scale, count), op,
        )  # fmt: skip
        new_ops = [rows, *sums, row_of_sums, *mean]
        if mean[-1].results[0].type != op.output.type:
            new_ops.append(quantized.ReshapeOp(mean[-1].results[0], op.output.type))
        for new_op in (rows, row_of_sums, new_ops[-1]):
            keep_layer(op, new_op)
        return new_ops


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

    Given a `target`, a kernel over H and W outside its depthwise kernel
    rule becomes one 1 x H*W row or, for int8, two depthwise convs whose
    int16 partial sums are exact (`MeanToDepthwise.split_mean`), as Vela
    splits a large MEAN; the result is still bit for bit TFLite's.

    A module with `quantized.rounding = "onnxruntime"` is left unchanged (the
    onnxruntime-rounding conv reference rescales from the scales).
    """

    name = "quantized-mean-to-depthwise"

    target: str = ""
    """Built-in target name or target TOML file whose depthwise kernel rule the convs must meet
    (empty: no rule, one H x W kernel)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rule = None
        if self.target:
            operator = target_or_fail(self.target, self.name).operator_rule(DEPTHWISE)
            rule = operator.kernel if operator is not None else None
        rewrite_integer_module(op, MeanToDepthwise(rule))
