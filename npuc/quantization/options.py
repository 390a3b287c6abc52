"""The options of post-training quantization (`quantize` pass, `npuc quantize`, `npuc.quantize`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from npuc.errors import NpucError

STRATEGIES = ("minmax", "moving_average", "percentile", "entropy", "mse")
"""Calibration's range strategies (`npuc.quantization.calibration.choose_range`); named here, beside the
options that take them, so the CLI builds its parser without importing calibration (numpy, xDSL)."""

SUPPORTED_ACTIVATION_BITS = (8, 16)

WEIGHT_STRATEGIES = ("minmax", "mse")

PRECISIONS = ("mixed", "uniform")
"""The `precision` option: `mixed` applies npuc's 16x8 policy (`npuc.quantization.policy`), `uniform`
quantizes every layer at `activation_bits` (pure int8 by default)."""

ACTIVATION_STRATEGIES = (*STRATEGIES, "auto")
"""Activation range strategies: calibration's, plus `auto` (`npuc.quantization.search`)."""


@dataclass(frozen=True)
class QuantizationOptions:
    """How `quantize_module` quantizes; the defaults are npuc's recommended settings.

    - `activation_bits`: 8 (asymmetric int8) or 16 (symmetric int16, 16x8).
    - `precision`: `mixed` (default) quantizes a classifier head and a layer
      norm 16x8 and the rest at `activation_bits`
      (`npuc.quantization.policy`); `uniform` every layer at `activation_bits`.
    - `activation_strategy`: range choice for activations (`STRATEGIES`,
      or `auto`: each candidate strategy is tried and the one with the best
      output SQNR on the calibration set kept, see `npuc.quantization.search`).
    - `output_strategy`: range choice for the model's outputs and the inputs
      of softmax, where clipping costs most (logits, scores).
    - `weight_strategy`: `minmax` (max|w| per channel) or `mse` (clipping that
      minimises each channel's squared error).
    - `per_channel`: symmetric int8 weights per output channel, else per tensor.
    - `percentile`: the percentile the `percentile` strategy keeps.
    - `statistics`: a `.npz` of saved statistics to use instead of running
      calibration (samples may then be empty); `save_statistics`: where to
      write the statistics gathered.
    - `layers`: a per-layer control JSON (`npuc.quantization.control`) that
      sets `strategy` and `per_channel` per layer name; `save_layers`: where
      to write the choices made, in the same format (`bits` per layer: 8 or 16).
    - `target_sqnr`: output SQNR (dB) to reach by promoting the fewest layers
      to 16-bit activations (`npuc.quantization.mixed.promote_layers`); 0: off.
    - `bias_correction`: subtract from each conv and depthwise conv bias the
      mean shift of its output that rounding its weights causes on the
      calibrated input (`npuc.quantization.bias_correction`); on by default.
    """

    activation_bits: int = 8
    precision: str = "mixed"
    activation_strategy: str = "mse"
    output_strategy: str = "minmax"
    weight_strategy: str = "minmax"
    per_channel: bool = True
    percentile: float = 99.999
    statistics: str = ""
    save_statistics: str = ""
    layers: str = ""
    save_layers: str = ""
    target_sqnr: float = 0.0
    bias_correction: bool = True

    def check(self) -> None:
        """`NpucError` naming the first option with an unsupported value."""
        if self.activation_bits not in SUPPORTED_ACTIVATION_BITS:
            raise NpucError(
                f"quantize supports {', '.join(map(str, SUPPORTED_ACTIVATION_BITS))}-bit "
                f"activations, not {self.activation_bits}"
            )
        if self.precision not in PRECISIONS:
            raise NpucError(f"unknown precision '{self.precision}' (known: {', '.join(PRECISIONS)})")
        for what, strategy, known in (
            ("activation", self.activation_strategy, ACTIVATION_STRATEGIES),
            ("output", self.output_strategy, STRATEGIES),
        ):
            if strategy not in known:
                raise NpucError(
                    f"unknown {what} strategy '{strategy}' (known: {', '.join(known)})"
                )
        if self.weight_strategy not in WEIGHT_STRATEGIES:
            raise NpucError(
                f"unknown weight strategy '{self.weight_strategy}' "
                f"(known: {', '.join(WEIGHT_STRATEGIES)})"
            )
        if not math.isfinite(self.target_sqnr):
            raise NpucError(f"target_sqnr must be a finite number of dB, not {self.target_sqnr}")
        if self.target_sqnr < 0:
            raise NpucError(f"target_sqnr must be >= 0 dB (0: off), not {self.target_sqnr}")
        if not 50.0 < self.percentile <= 100.0:
            raise NpucError(f"percentile must be in (50, 100], not {self.percentile}")
