"""quantized-concat-requantize: a concat's differently quantized inputs get explicit requantize ops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from npuc.dialects import quantized
from npuc.dialects.common import constant_value, dense, keep_layer
from npuc.dialects.quantized import quant_type
from npuc.ir import rewrite_integer_module
from npuc.reference.int_tensor_ops import parameters_differ


class ConcatRequantize(RewritePattern):
    """concat(x, ...) with x quantized otherwise than the result -> concat(requantize(x), ...)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: quantized.ConcatOp, rewriter: PatternRewriter) -> None:
        out = quant_type(op.output)
        assert out is not None, "verified: per-tensor quantized"
        for index, value in enumerate(op.inputs):
            qtype = quant_type(value)
            assert qtype is not None and isinstance(value.type, TensorType)
            if not parameters_differ((qtype.scale, qtype.zero_point), (out.scale, out.zero_point)):
                continue
            requantize = quantized.RequantizeOp(value, TensorType(out, value.type.get_shape()))
            new_op = _folded(requantize) or requantize
            keep_layer(op, new_op)
            rewriter.insert(new_op, InsertPoint.before(op))
            op.operands[index] = new_op.results[0]
            rewriter.notify_op_modified(op)


def _folded(requantize: quantized.RequantizeOp) -> quantized.ConstantOp | None:
    """The constant `requantize` computes when its input is a constant (by the integer reference), else None."""
    source = requantize.input.owner
    if not isinstance(source, quantized.ConstantOp):
        return None
    # The interpreter's handlers: compiling loads them only to fold a constant.
    from npuc.reference.int_handlers import QUANTIZED_HANDLERS

    (values,) = [QUANTIZED_HANDLERS[quantized.RequantizeOp](requantize, [constant_value(source.value)])]
    qtype = quant_type(requantize.output)
    assert qtype is not None
    stored = np.asarray(values).astype(qtype.numpy_dtype())
    return quantized.ConstantOp(dense(stored, qtype.storage_type), requantize.output.type)


@dataclass(frozen=True)
class ConcatRequantizePass(ModulePass):
    """Make the requantization inside a concat explicit, one `quantized.requantize` per input.

    TFLite's concatenation converts an input whose (float32) scale or zero
    point differs from the output's exactly as an integer QUANTIZE would
    (`npuc.reference.int_tensor_ops.concatenate`), so the rewrite is bit
    exact. Afterwards every input has the output's quantization, which a
    concat needs to be a memory view on the NPU; quantized-requantize-to-
    depthwise then puts the requantize ops on the NPU. A constant input
    (a ViT's class token) becomes a constant of the output's quantization
    instead, computed by the integer reference. The new ops keep the
    concat's `layer`. Modules with onnxruntime rounding are left unchanged.
    """

    name = "quantized-concat-requantize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        rewrite_integer_module(op, ConcatRequantize())
