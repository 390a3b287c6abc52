"""quantized-conv-patches: a convolution over non-overlapping patches becomes one with unit strides."""

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
from npuc.dialects.common import (
    array_values,
    constant_value,
    dense,
    keep_layer,
    value_shape,
)
from npuc.dialects.quantized import quant_type
from npuc.ir import rewrite_integer_module


class ConvPatches(RewritePattern):
    """conv2d with kernel = stride over an input the patches tile -> reshape, (kh x 1) conv, reshape."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: quantized.Conv2dOp, rewriter: PatternRewriter) -> None:
        kernel, strides = op.kernel_shape(), tuple(array_values(op.strides))
        weights = op.weights.owner
        if (
            kernel != strides
            or strides == (1, 1)
            or any(array_values(op.padding))
            or tuple(array_values(op.dilations)) != (1, 1)
            or not isinstance(weights, quantized.ConstantOp)
            or op.explicit_rescale() is not None
            or op.group_count() != 1
        ):
            return
        batch, height, width, channels = value_shape(op.ifm)
        (patch_height, patch_width), outputs = kernel, value_shape(op.weights)[0]
        if height % patch_height or width % patch_width:
            return
        rows, columns = height // patch_height, width // patch_width
        ifm_type, weights_type, ofm_type = quant_type(op.ifm), quant_type(op.weights), quant_type(op.ofm)
        assert ifm_type is not None and weights_type is not None and ofm_type is not None
        patches = quantized.ReshapeOp(
            op.ifm, TensorType(ifm_type, [batch * rows, patch_height, columns, patch_width * channels])
        )
        folded = [outputs, patch_height, 1, patch_width * channels]
        values = constant_value(weights.value).reshape(folded)
        new_weights = quantized.ConstantOp(dense(values, weights_type.storage_type), TensorType(weights_type, folded))
        conv = quantized.Conv2dOp(
            patches.output, new_weights.output, op.bias, TensorType(ofm_type, [batch * rows, 1, columns, outputs]),
            activation=op.activation.data,
        )  # fmt: skip
        result = quantized.ReshapeOp(conv.results[0], op.ofm.type)
        new_ops = [patches, new_weights, conv, result]
        for new_op in new_ops:
            keep_layer(op, new_op)
        rewriter.replace(op, new_ops, [result.output])


@dataclass(frozen=True)
class ConvPatchesPass(ModulePass):
    """Rewrite a convolution over non-overlapping patches (a ViT's patch embedding) with unit strides.

    A conv2d whose kernel equals its stride (not 1x1), without padding or
    dilation, over an input whose height and width the patches tile exactly,
    reads every input element once: patch row r, column c sums over the
    kernel rows i, the kernel columns j and the channels. The input
    [N, H, W, C] reshaped to [N x H/kh, kh, W/kw, kw x C] (the same bytes)
    holds patch row r as batch element r, kernel row i as row i and, at
    column c, the kernel columns and channels as kw x C channels; the weights
    [O, kh, kw, C] reshaped to [O, kh, 1, kw x C] (the same order). A kh x 1
    convolution with unit strides then computes the same sums with the same
    bias, per-channel scales and activation (bit-exact by construction), and
    the [N x H/kh, 1, W/kw, O] result reshapes to the original output. A
    stride of 16 (a ViT's) is beyond an Ethos-U's 1..3; the new convolution
    has none. A layer with an explicit rescale is left as it is. Run it
    before quantized-canonicalize (which lowers the stride of an axis with
    one output position). Modules with onnxruntime rounding are left
    unchanged.
    """

    name = "quantized-conv-patches"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_integer_module(op, ConvPatches())
