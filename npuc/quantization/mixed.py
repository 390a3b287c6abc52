"""Mixed precision: int16 promotion to a target SQNR.

`promote_layers` measures trial quantizations of the float module against
the float module on (up to `npuc.quantization.search.AUTO_SAMPLES` of) the
calibration samples and then changes what the real quantization does: the
`target_sqnr` option. Starting from the per-layer control, layers are
promoted to 16-bit activations one at a time, each time the one whose own
SQNR drop (its inputs' SQNR minus its output's) is the largest, with the
layers producing its inputs (an int16 layer fed by an int8 one only sees a
requantized int8 tensor), re-measuring the output SQNR after each
promotion, until the target is reached or no layer with a 16x8 TFLite
kernel is left. The dialects do not mix float and quantized ops, so a layer
cannot be left float on the CPU instead: a target out of reach is reported
as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from npuc.dialects import graph
from npuc.dialects.common import layer_name
from npuc.ir import main_function
from npuc.quantization.calibration import Statistics
from npuc.quantization.control import LayerControl
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.quantizer import quantize_once, value_names
from npuc.quantization.rules import CONV_LIKE
from npuc.quantization.search import (
    AUTO_SAMPLES,
    layer_errors,
    output_sqnr,
)

SIXTEEN_BIT_OPS: tuple[type[Operation], ...] = (
    *CONV_LIKE, graph.AddOp, graph.SubOp, graph.MulOp, graph.ConcatOp, graph.SoftmaxOp,
    graph.SigmoidOp, graph.TanhOp, graph.MaxPool2dOp, graph.AvgPool2dOp, graph.ReshapeOp,
)  # fmt: skip
"""Graph ops that TFLite's 16x8 kernels cover: the candidates for promotion."""

UNKNOWN_INPUT_SQNR = 60.0
"""SQNR (dB) assumed for an operand the report does not cover (a model input)."""


@dataclass
class Promotion:
    """What the mixed-precision search did: layers promoted, the SQNR reached, a note."""

    promoted: list[str] = field(default_factory=list)
    output_sqnr: float = float("nan")
    target: float = 0.0
    note: str = ""


def _trial(
    module: ModuleOp,
    samples: Sequence[np.ndarray],
    options: QuantizationOptions,
    statistics: Statistics,
    control: LayerControl,
) -> ModuleOp:
    """A quantized copy of `module` with `control`'s settings and no search or correction."""
    copy = module.clone()
    quantize_once(copy, samples, options, statistics, control)
    return copy


def _with_bits(settings: dict[str, dict], layers: Sequence[str]) -> LayerControl:
    copied = {name: dict(entry) for name, entry in settings.items()}
    for name in layers:
        copied.setdefault(name, {})["bits"] = 16
    return LayerControl(settings=copied)


def promote_layers(
    module: ModuleOp,
    samples: Sequence[np.ndarray],
    options: QuantizationOptions,
    statistics: Statistics,
    control: LayerControl,
) -> Promotion:
    """Promote few layers to int16 (greedy, see the module docstring) until the output SQNR reaches `options.target_sqnr`.

    `control.settings` receives `bits = 16` for each promoted layer.
    """
    func = main_function(module)
    names = value_names(func)
    candidates = {
        layer_name(op): op
        for op in func.body.block.ops
        if isinstance(op, SIXTEEN_BIT_OPS) and control.settings.get(layer_name(op), {}).get("bits") is None
    }
    scoring = [sample[:AUTO_SAMPLES] for sample in samples]
    result = Promotion(target=options.target_sqnr)
    while True:
        trial = _trial(module, samples, options, statistics, _with_bits(control.settings, result.promoted))
        result.output_sqnr = output_sqnr(module, trial, scoring)
        left = [name for name in candidates if name not in result.promoted]
        if result.output_sqnr >= options.target_sqnr or not left:
            break
        sqnr = {error.layer: error.sqnr_db for error in layer_errors(module, trial, scoring)}

        def drop(name: str, sqnr: dict[str, float] = sqnr) -> float:
            inputs = [sqnr.get(names.get(value, ""), UNKNOWN_INPUT_SQNR) for value in candidates[name].operands
                      if not isinstance(value.owner, graph.ConstantOp)]  # fmt: skip
            return min(inputs, default=UNKNOWN_INPUT_SQNR) - sqnr.get(name, UNKNOWN_INPUT_SQNR)

        chosen = max(left, key=drop)
        producers = [value.owner for value in candidates[chosen].operands]
        result.promoted += [chosen] + [
            layer_name(op) for op in producers
            if isinstance(op, SIXTEEN_BIT_OPS) and layer_name(op) in left and layer_name(op) != chosen
        ]  # fmt: skip
    if result.output_sqnr < options.target_sqnr:
        result.note = (
            f"target {options.target_sqnr:g} dB not reached ({result.output_sqnr:.2f} dB) with every "
            "16x8-capable layer promoted; leaving layers float on the CPU is not supported "
            "(the dialects do not mix float and quantized ops)"
        )
    control.settings = _with_bits(control.settings, result.promoted).settings
    return result
