"""npuc's passes, one per module in the folder of the dialect it rewrites, registered by name.

Importing this package imports no pass: `get_all_passes` maps each pass name
to a function that imports its module on first use, so `npuc-opt` and the xDSL
universe start quickly.
"""

from collections.abc import Callable
from importlib import import_module

from xdsl.passes import ModulePass

PASS_CLASSES: dict[str, str] = {
    "graph-fold-constants": "FoldConstantsPass",
    "graph-canonicalize": "CanonicalizePass",
    "graph-fold-scale": "FoldScalePass",
    "graph-fuse-pad": "FusePadPass",
    "graph-mean-to-pool": "MeanToPoolPass",
    "graph-fuse-activation": "FuseActivationPass",
    "layer-cse": "LayerCsePass",
    "layer-dce": "LayerDcePass",
    "quantize": "QuantizePass",
    "quantized-canonicalize": "QuantizedCanonicalizePass",
    "quantized-fuse-pad": "QuantizedFusePadPass",
    "quantized-concat-requantize": "ConcatRequantizePass",
    "quantized-requantize-to-depthwise": "RequantizeToDepthwisePass",
    "quantized-mean-to-depthwise": "MeanToDepthwisePass",
    "quantized-conv-patches": "ConvPatchesPass",
    "quantized-width-to-depth": "WidthToDepthPass",
    "npu-legalize": "LegalizePass",
    "npu-tile": "TilePass",
    "npu-schedule": "SchedulePass",
    "npu-allocate": "AllocatePass",
    "npu-lower": "LowerPass",
    "npu-cost-model": "CostModelPass",
}
"""Pass name -> the name of its class, in `pass_module(name)`."""


def pass_module(name: str) -> str:
    """The module holding pass `name`: its folder is the dialect prefix, its file the rest.

    `graph-fuse-pad` lives in `npuc.passes.graph.fuse_pad`, `layer-cse` in
    `npuc.passes.layer.cse`; `quantize` (graph -> quantized) in
    `npuc.passes.quantized.quantize`.
    """
    if name == "quantize":
        return "npuc.passes.quantized.quantize"
    folder, _, rest = name.partition("-")
    return f"npuc.passes.{folder}.{rest.replace('-', '_')}"


GRAPH_OPTIMISATION_PIPELINE = (
    "graph-fold-constants",
    "graph-canonicalize",
    "graph-fold-scale",
    "graph-fuse-pad",
    "graph-mean-to-pool",
    "graph-fuse-activation",
    "layer-cse",
    "layer-dce",
)
"""The graph passes in the order a compile runs them, before `quantize`."""


def _factory(name: str) -> Callable[[], type[ModulePass]]:
    def load() -> type[ModulePass]:
        return getattr(import_module(pass_module(name)), PASS_CLASSES[name])

    return load


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Every npuc pass name with a factory returning its class."""
    return {name: _factory(name) for name in PASS_CLASSES}
