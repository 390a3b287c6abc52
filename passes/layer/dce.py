"""layer-dce: xDSL's dead-code elimination over graph and quantized IR."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.transforms.dead_code_elimination import region_dce


@dataclass(frozen=True)
class LayerDcePass(ModulePass):
    """Erase the ops whose results nothing live uses (xDSL's `dce`, under npuc's name).

    Only `Pure` ops go: the layer ops and constants of `graph` and
    `quantized`. `@main` and its results, and ops with effects
    (`quantized.external`, `npu` commands), stay. Registered under its own
    name so that npuc's pipelines can run it (`npuc.passes.get_all_passes`
    holds npuc's passes only) without clashing with xDSL's `dce`.
    """

    name = "layer-dce"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        region_dce(op.body)
