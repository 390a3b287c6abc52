"""npuc's passes, one per module, registered by name with lazy factories.

Importing this package imports no pass: `get_all_passes` maps each pass name
to a function that imports its module on first use, so `npuc-opt` and the xDSL
universe start quickly.
"""

from collections.abc import Callable
from importlib import import_module

from xdsl.passes import ModulePass

PASS_MODULES: dict[str, tuple[str, str]] = {
    "graph-fold-constants": ("fold_constants", "FoldConstantsPass"),
    "graph-canonicalize": ("canonicalize", "CanonicalizePass"),
    "graph-fold-scale": ("fold_scale", "FoldScalePass"),
    "graph-fuse-pad": ("fuse_pad", "FusePadPass"),
    "graph-mean-to-pool": ("mean_to_pool", "MeanToPoolPass"),
    "graph-fuse-activation": ("fuse_activation", "FuseActivationPass"),
    "layer-cse": ("layer_cse", "LayerCsePass"),
    "layer-dce": ("layer_dce", "LayerDcePass"),
    "quantize": ("quantize", "QuantizePass"),
    "quantized-canonicalize": ("quantized_canonicalize", "QuantizedCanonicalizePass"),
    "quantized-fuse-pad": ("quantized_fuse_pad", "QuantizedFusePadPass"),
    "quantized-concat-requantize": ("concat_requantize", "ConcatRequantizePass"),
    "quantized-requantize-to-depthwise": ("requantize_to_depthwise", "RequantizeToDepthwisePass"),
    "quantized-mean-to-depthwise": ("mean_to_depthwise", "MeanToDepthwisePass"),
    "npu-legalize": ("legalize", "LegalizePass"),
    "npu-tile": ("tile", "TilePass"),
    "npu-schedule": ("schedule", "SchedulePass"),
    "npu-allocate": ("allocate", "AllocatePass"),
    "npu-lower": ("lower", "LowerPass"),
    "npu-cost-model": ("cost_model", "CostModelPass"),
}
"""Pass name -> (module in npuc.passes, class name)."""

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


def _factory(module: str, class_name: str) -> Callable[[], type[ModulePass]]:
    def load() -> type[ModulePass]:
        return getattr(import_module(f"npuc.passes.{module}"), class_name)

    return load


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Every npuc pass name with a factory returning its class."""
    return {name: _factory(*where) for name, where in PASS_MODULES.items()}
