"""quantized-requantize-to-depthwise: an integer requantize becomes a 1x1 depthwise conv the NPU runs."""

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
from npuc.dialects.common import keep_layer
from npuc.dialects.quantized import ones_depthwise, quant_type
from npuc.ir import rewrite_integer_module
from npuc.reference.int_kernels import requantize_rescale

_NHWC_RANK = 4


class RequantizeToDepthwise(RewritePattern):
    """requantize of a map of rank 4 or less (int8 or int16 on either side) -> 1x1 depthwise conv (ones,
    explicit rescale), between reshapes to and from NHWC for a lower rank."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: quantized.RequantizeOp, rewriter: PatternRewriter) -> None:
        ifm, ofm = quant_type(op.input), quant_type(op.output)
        assert ifm is not None and ofm is not None, "verified: per-tensor quantized"
        assert isinstance(op.output.type, TensorType)
        shape = list(op.output.type.get_shape())
        if len(shape) > _NHWC_RANK:
            return
        nhwc = [1] * (_NHWC_RANK - len(shape)) + shape
        rescale = requantize_rescale(ifm.scale, ofm.scale)
        if len(shape) == _NHWC_RANK:
            new_ops = ones_depthwise(op.input, op.output.type, (1, 1), rescale, op)
            rewriter.replace(op, new_ops, [new_ops[-1].results[0]])
            return
        into = quantized.ReshapeOp(op.input, TensorType(ifm, nhwc))
        depthwise = ones_depthwise(into.output, TensorType(ofm, nhwc), (1, 1), rescale, op)
        back = quantized.ReshapeOp(depthwise[-1].results[0], op.output.type)
        for new_op in (into, back):
            keep_layer(op, new_op)
        rewriter.replace(op, [into, *depthwise, back], [back.output])


@dataclass(frozen=True)
class RequantizeToDepthwisePass(ModulePass):
    """Rewrite `quantized.requantize` of a 4-D NHWC map as a 1x1 depthwise conv with weights 1.

    With bias 0 and the explicit `rescale` of QUANTIZE (`requantize_rescale`)
    the conv computes `MultiplyByQuantizedMultiplier(x - in zp) + out zp`,
    clamped to the output's storage range: TFLite's integer QUANTIZE, bit
    for bit (int8 and int16, also between them: the conv reads one width and
    writes the other, as Vela runs such a QUANTIZE as a pool). The NPU runs
    it as a depthwise conv. A map of lower rank is reshaped to NHWC (leading
    1s) and back around the conv; the reshapes are memory views on the NPU.
    Requantizes of more than 4 dimensions stay. The new ops
    keep the requantize's `layer`. Modules with onnxruntime rounding are left
    unchanged.
    """

    name = "quantized-requantize-to-depthwise"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_integer_module(op, RequantizeToDepthwise())
