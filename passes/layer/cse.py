"""layer-cse: xDSL's common-subexpression elimination over graph and quantized IR."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntAttr, ModuleOp
from xdsl.ir import Attribute, Operation
from xdsl.passes import ModulePass
from xdsl.transforms.common_subexpression_elimination import cse

from npuc.dialects import quantized
from npuc.dialects.common import LAYER_ATTR

KEEP_APART_ATTR = "npuc.cse_keep_apart"
"""Temporary attribute that makes an op unlike any other while xDSL's CSE runs."""


@dataclass(frozen=True)
class LayerCsePass(ModulePass):
    """Merge ops that compute the same value: same name, operands, properties, types.

    xDSL's CSE over the whole module (ops must be `Pure`, which the layer ops
    and constants of `graph` and `quantized` are; ops with effects, such as
    `quantized.external`, and `@main`'s results stay). Unlike xDSL's `cse`,
    the `layer` attribute does not make two ops different: like an MLIR
    location it only names where an op came from, and the op kept (the first)
    keeps its own. A quantized constant used as the bias of a conv-like op is
    never merged: npu-lower builds one scale/bias table per bias constant,
    with its layer's rescale, so each layer keeps its own.
    """

    name = "layer-cse"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        eliminate_common_subexpressions(op)


def eliminate_common_subexpressions(module: ModuleOp) -> None:
    """Run xDSL's CSE on `module` ignoring `layer` names and keeping bias constants apart."""
    names: dict[Operation, Attribute] = {}
    kept_apart: list[Operation] = []
    for op in module.walk():
        if LAYER_ATTR in op.attributes:
            names[op] = op.attributes.pop(LAYER_ATTR)
        if _is_conv_bias(op):
            op.attributes[KEEP_APART_ATTR] = IntAttr(len(kept_apart))
            kept_apart.append(op)
    try:
        cse(module)
    finally:
        for op in kept_apart:
            del op.attributes[KEEP_APART_ATTR]
        for op, name in names.items():
            op.attributes[LAYER_ATTR] = name


def _is_conv_bias(op: Operation) -> bool:
    """Whether `op` is a quantized constant some conv-like op reads as its bias."""
    return isinstance(op, quantized.ConstantOp) and any(
        isinstance(use.operation, quantized.QuantizedConvLike) and use.index == 2
        for use in op.output.uses
    )
