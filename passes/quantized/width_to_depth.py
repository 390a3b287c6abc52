"""quantized-width-to-depth: a strided convolution over a shallow input reads its columns folded into channels."""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import BlockArgument, Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)

from npuc.backend.blocks import choose_block
from npuc.backend.estimates import command_cycles
from npuc.backend.planning import element_bytes, is_host_conversion, target_or_fail
from npuc.cost.compute import CONV, CommandShape
from npuc.cost.geometry import as_batch_hwc
from npuc.dialects import quantized
from npuc.dialects.common import array_values, constant_value, keep_layer, value_shape
from npuc.dialects.quantized import channel_constant, quant_type
from npuc.ir import rewrite_integer_module
from npuc.passes.npu.legalize import cpu_reason
from npuc.targets import Target


@dataclass(frozen=True)
class Fold:
    """How a convolution with column stride `stride` reads its input folded by that stride.

    Input column x = ox * stride - pad + kx (output column ox, kernel column
    kx, `pad` columns of padding on the left) is folded column
    ox + floor((kx - pad) / stride), at phase (kx - pad) mod stride: the
    folded kernel spans `width` folded columns from offset `first` (<= 0),
    with `left` and `right` folded columns of padding. The last output
    column's window ends in folded column OW - 1 + floor((kw - 1 - pad) /
    stride), never before the last one (floor(a / s) + floor((-1 - a) / s)
    = -1 for any integer a, and the stride divides the width), so `right` is
    never negative.
    """

    stride: int
    first: int
    width: int
    left: int
    right: int

    @classmethod
    def of(cls, op: quantized.Conv2dOp) -> Fold | None:
        """The fold of `op`'s columns; None without a column stride or if the stride does not divide the width."""
        _, kernel_width = op.kernel_shape()
        _, stride = array_values(op.strides)
        _, pad, _, _ = array_values(op.padding)
        _, _, width, _ = value_shape(op.ifm)
        _, _, ofm_width, _ = value_shape(op.ofm)
        if stride == 1 or width % stride:
            return None
        first, last = -pad // stride, (kernel_width - 1 - pad) // stride
        return cls(stride, first, last - first + 1, -first, ofm_width + last - width // stride)

    def weights(self, values: np.ndarray, pad_left: int) -> np.ndarray:
        """OHWI `values` [O, kh, kw, C] as the folded kernel's [O, kh, width, stride x C]: kernel column
        kx at folded column j, channels phase x C onwards; zeros where no kernel column falls."""
        outputs, height, kernel_width, channels = values.shape
        folded = np.zeros((outputs, height, self.width, self.stride * channels), values.dtype)
        for column in range(self.width):
            for phase in range(self.stride):
                kx = (column + self.first) * self.stride + phase + pad_left
                if 0 <= kx < kernel_width:
                    folded[:, :, column, phase * channels : (phase + 1) * channels] = values[:, :, kx, :]
        return folded


def _written_by_host(op: quantized.Conv2dOp) -> bool:
    """Whether `op`'s input is the model's input, or its quantization on the host."""
    producer = op.ifm.owner
    return isinstance(op.ifm, BlockArgument) or (isinstance(producer, Operation) and is_host_conversion(producer))


def _cycles(op: quantized.Conv2dOp, shape: CommandShape, weight_count: int, target: Target) -> float | None:
    """The cost model's cycles of `op` computing `shape`, its `weight_count` weights read from the weights
    memory, in the block npu-tile would choose (None if no block fits)."""
    block = choose_block(shape, target)
    if block is None:
        return None
    weights = target.memory(target.weights_memory)
    return command_cycles(op, shape, target, weights, weight_count * element_bytes(op.weights), block=block)


class WidthToDepth(RewritePattern):
    """conv2d with column stride s over a shallow model input -> reshape [N, H, W/s, s x C], conv2d with
    column stride 1 (the folded kernel), when the target runs it faster (see `WidthToDepthPass`)."""

    def __init__(self, target: Target) -> None:
        super().__init__()
        self.target = target

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: quantized.Conv2dOp, rewriter: PatternRewriter) -> None:
        weights = op.weights.owner
        if (
            tuple(array_values(op.dilations)) != (1, 1)
            or not isinstance(weights, quantized.ConstantOp)
            or op.explicit_rescale() is not None
            or op.group_count() != 1
            or not _written_by_host(op)
            or (fold := Fold.of(op)) is None
            or cpu_reason(op, self.target) is not None
        ):
            return
        batch, height, width, channels = value_shape(op.ifm)
        ifm_type = quant_type(op.ifm)
        assert ifm_type is not None, "verified: a per-tensor quantized ifm"
        top, pad_left, bottom, _ = array_values(op.padding)
        folded_input = quantized.ReshapeOp(
            op.ifm, TensorType(ifm_type, [batch, height, width // fold.stride, fold.stride * channels])
        )
        values = fold.weights(constant_value(weights.value), pad_left)
        folded_weights = channel_constant(op.weights, values, 0, lambda per_channel: per_channel)
        conv = quantized.Conv2dOp(
            folded_input.output, folded_weights.output, op.bias, op.ofm.type,
            strides=(array_values(op.strides)[0], 1), padding=(top, fold.left, bottom, fold.right),
            activation=op.activation.data,
        )  # fmt: skip
        new_ops = [folded_input, folded_weights, conv]
        if not self._pays(op, conv, values.size):
            for new_op in reversed(new_ops):
                new_op.drop_all_references()
            return
        for new_op in new_ops:
            keep_layer(op, new_op)
        rewriter.replace(op, new_ops, [conv.ofm])

    def _pays(self, op: quantized.Conv2dOp, conv: quantized.Conv2dOp, folded_weights: int) -> bool:
        """Whether the NPU runs the folded `conv` and in fewer cycles than `op`."""
        if cpu_reason(conv, self.target) is not None:
            return False
        bits = element_bytes(op.ifm) * 8
        ofm = as_batch_hwc(value_shape(op.ofm))
        shapes = [
            CommandShape(CONV, as_batch_hwc(value_shape(layer.ifm)), ofm, layer.window(), ifm_bits=bits)
            for layer in (op, conv)
        ]
        before = _cycles(op, shapes[0], prod(value_shape(op.weights)), self.target)
        after = _cycles(op, shapes[1], folded_weights, self.target)
        return before is not None and after is not None and after < before


@dataclass(frozen=True)
class WidthToDepthPass(ModulePass):
    """Fold the columns of a strided convolution's shallow input into its channels, where that is faster.

    A first layer reads an input of a few channels (an image's 3, a
    spectrogram's 1), and the NPU's data path takes a whole step of input
    channels (8 on an Ethos-U55) for each group of kernel elements: a
    1-channel input fills an eighth of it. With column stride s, the input
    [N, H, W, C] reshaped to [N, H, W/s, s x C] (the same bytes, W divisible
    by s) holds s adjacent columns as s x C channels, and a convolution with
    column stride 1 over it computes the same sums: input column
    ox x s - left + kx is folded column ox + floor((kx - left) / s), channels
    ((kx - left) mod s) x C onwards (`Fold`). Its kernel columns are the
    folded columns the original kernel touches, its weights the original
    ones at their folded positions and zeros elsewhere, its padding whole
    folded columns (a padded input column only ever falls in a padded folded
    column, since s divides W). Bias, per-channel scales, activation and
    output are unchanged: bit for bit the same convolution, with fewer
    kernel elements over deeper input (kws_dscnn's 10 x 4 kernel over one
    channel becomes 10 x 3 over two: 8 data-path steps instead of 10).

    Only where it pays on `target`: the input is the model's input (shallow
    inputs are first layers'; and a reshape between an NPU command and its
    reader would end a cascade, whose links read their producer's OFM
    directly), the target runs both convolutions on the NPU, and the cost
    model's cycles of the folded one (its weights read from the weights
    memory, in the block npu-tile would choose) are lower. Rows are not
    folded: adjacent rows are not adjacent bytes, so that would move data. Convolutions with dilation,
    groups or an explicit rescale are left as they are, as are modules with
    onnxruntime rounding (the conv reference rescales from the scales there).
    Run after quantized-canonicalize (an axis with one output position has
    no stride to fold) and quantized-fuse-pad (its padding joins the conv's).
    """

    name = "quantized-width-to-depth"

    target: str = "ethos-u55-128"
    """Built-in target name or path of a target TOML file whose NPU the folded convolutions must suit."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_integer_module(op, WidthToDepth(target_or_fail(self.target, self.name)))
