"""`quantize_module`: post-training quantization of graph IR, composed from its parts.

One calibration and rewrite (`quantizer.quantize_once`) with npuc's
precision policy (`policy.apply_policy`: a classifier head and layer norms
16x8 unless `precision = "uniform"`) and, unless `bias_correction` is off,
conv biases corrected for the rounding of their weights
(`bias_correction`), preceded when the options ask for it by the strategy
search (`search.choose_strategy`, for `activation_strategy = "auto"`) and
the int16 promotion to a target SQNR (`mixed.promote_layers`), each of
which measures trial quantizations of copies of the module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp

from npuc.dialects.common import value_shape
from npuc.errors import InputDataError
from npuc.ir import arg_attributes, main_function, tensor_name
from npuc.quantization.calibration import Statistics
from npuc.quantization.control import LayerControl
from npuc.quantization.mixed import promote_layers
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.policy import apply_policy
from npuc.quantization.quantizer import (
    gather_statistics,
    layer_names,
    load_control,
    quantize_once,
)
from npuc.quantization.rules import check_supported
from npuc.quantization.search import choose_strategy


def quantize_module(
    module: ModuleOp,
    samples: Sequence[np.ndarray],
    activation_bits: int = 8,
    options: QuantizationOptions | None = None,
    statistics: Statistics | None = None,
    control: LayerControl | None = None,
) -> ModuleOp:
    """Quantize the graph IR of `module` in place, calibrated on `samples`.

    `samples` holds one array per @main argument in IR layout (N samples on
    axis 0, see `npuc.data.load_samples`); `statistics`, if given, are used
    instead of calibrating; `control`, if given, instead of `options.layers`
    (it records the settings used, and `control.promotion` what the
    `target_sqnr` search did). Raises `NpucError` subclasses for unsupported
    ops, non-constant weights and unusable calibration data.
    """
    options = options or QuantizationOptions(activation_bits=activation_bits)
    options.check()
    if control is None:
        control = load_control(options)
    block = main_function(module).body.block
    if not any(op.dialect_name() == "graph" for op in block.ops):
        return module  # already quantized: nothing to do
    check_supported(block)
    _check_inputs(main_function(module))
    control.check_layers(layer_names(main_function(module)))
    apply_policy(main_function(module), options, control)
    if options.activation_strategy == "auto":
        options, statistics = choose_strategy(module, samples, options, statistics)
    if options.target_sqnr:
        if statistics is None:
            statistics = gather_statistics(module, samples, options)
        control.promotion = promote_layers(module, samples, options, statistics, control)
    quantize_once(module, samples, options, statistics, control)
    if options.save_layers:
        control.activation_bits = options.activation_bits
        control.save(options.save_layers)
    return module


def _check_inputs(func: FuncOp) -> None:
    """`InputDataError` naming an input calibration cannot measure: 0-D (no axis to stack samples on) or empty."""
    for index, (argument, attributes) in enumerate(zip(func.body.block.args, arg_attributes(func))):
        name, shape = tensor_name(attributes, f"arg{index}"), value_shape(argument)
        if not shape:
            raise InputDataError(
                f"quantize: input '{name}' is 0-D (a scalar); calibration stacks samples on axis 0, "
                "so quantize needs inputs with at least one axis"
            )
        if 0 in shape:
            raise InputDataError(f"quantize: input '{name}' has no elements (shape {list(shape)}): nothing to calibrate")
