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
from npuc.dialects.quantized import ones_depthwise, quant_type
from npuc.ir import rewrite_integer_module
from npuc.reference.int_kernels import requantize_rescale


class RequantizeToDepthwise(RewritePattern):
    """requantize of a 4-D map within one storage type -> 1x1 depthwise conv (ones, explicit rescale)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: quantized.RequantizeOp, rewriter: PatternRewriter) -> None:
        ifm, ofm = quant_type(op.input), quant_type(op.output)
        assert ifm is not None and ofm is not None, "verified: per-tensor quantized"
        assert isinstance(op.output.type, TensorType)
        if ifm.storage_type != ofm.storage_type or len(op.output.type.get_shape()) != 4:
            return
        rescale = requantize_rescale(ifm.scale, ofm.scale)
        new_ops = ones_depthwise(op.input, op.output.type, (1, 1), rescale, op)
        rewriter.replace(op, new_ops, [new_ops[-1].results[0]])


@dataclass(frozen=True)
class RequantizeToDepthwisePass(ModulePass):
    """Rewrite `quantized.requantize` of a 4-D NHWC map as a 1x1 depthwise conv with weights 1.

    With bias 0 and the explicit `rescale` of QUANTIZE (`requantize_rescale`)
    the conv computes `MultiplyByQuantizedMultiplier(x - in zp) + out zp`,
    clamped to the storage range: TFLite's integer QUANTIZE, bit for bit
    (int8 and int16). The NPU runs it as a depthwise conv. Requantizes that
    change the storage type (int8 <-> int16) or are not 4-D stay. The new ops
    keep the requantize's `layer`. Modules with onnxruntime rounding are left
    unchanged.
    """

    name = "quantized-requantize-to-depthwise"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_integer_module(op, RequantizeToDepthwise())
