"""Post-training quantization: graph IR (f32) to quantized IR (TFLite int8).

The scheme is TFLite's full-integer one, so a quantized module runs bit-exactly
on TFLite's reference kernels and on the NPU:

- Activations: asymmetric int8 per tensor (or symmetric int16, zero point 0,
  scale = max(|min|, |max|) / 32767: TFLite's 16x8 scheme with int64 bias). The calibrated range [min, max] is
  widened to include 0, scale = (max - min) / 255 (stored as a float32 value)
  and zero point = round(qmin - min / scale), clamped to [-128, 127], so that
  0.0 is exactly representable (zero padding, ReLU).
- Weights: symmetric int8 per output channel (zero point 0, values in
  [-127, 127]), scale_c = max|w_c| / 127; an all-zero channel gets scale 1.
- Bias: int32, round(b / (ifm_scale * weight_scale_c)), saturated.
- Activation ranges come from `npuc.quantization.calibration` (strategy per
  `QuantizationOptions`: MSE-optimal clipping by default, min/max for model
  outputs and softmax inputs). The op families (same quantization, own range,
  fixed TFLite output ranges, concat sharing) are in `npuc.quantization.rules`.
- The float interface stays: a `quantized.quantize` follows each f32 argument
  and a `quantized.dequantize` precedes each f32 result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, SSAValue

from npuc.quantization.calibration import (
    HISTOGRAM_STRATEGIES,
    STRATEGIES,
    Statistics,
    choose_range,
    collect_statistics,
    quantization_error,
)
from npuc.dialects import graph
from npuc.dialects.common import layer_name
from npuc.dialects.quantized import UniformQuantizedType, storage_of
from npuc.errors import InputDataError, NpucError
from npuc.ir import arg_attributes, main_function, tensor_name
from npuc.quantization.control import LayerControl
from npuc.quantization.rules import (
    CONV_LIKE,
    FOLLOW_INPUT,
    OWN_RANGE,
    Quantizer,
    check_supported,
    quantize_bias,
    require_finite,
)
from npuc.reference import fixed_point

SUPPORTED_ACTIVATION_BITS = (8, 16)

MIN_SCALE = 1e-9
"""Scale used for a range of (nearly) zero width, which has no natural scale."""

WEIGHT_QMAX = 127
"""Symmetric int8 weights use [-127, 127] (TFLite's narrow range)."""

WEIGHT_STRATEGIES = ("minmax", "mse")

ACTIVATION_STRATEGIES = (*STRATEGIES, "auto")
"""Activation range strategies: calibration's, plus `auto` (`npuc.quantization.search`)."""

Range = tuple[float, float]

__all__ = [
    "QuantizationOptions", "activation_params", "activation_type", "calibrate",
    "gather_statistics", "quantize_bias", "quantize_module", "quantize_weights", "sqnr_db", "weight_scales",
]  # fmt: skip


@dataclass(frozen=True)
class QuantizationOptions:
    """How `quantize_module` quantizes; the defaults are npuc's recommended settings.

    - `activation_bits`: 8 (asymmetric int8) or 16 (symmetric int16, 16x8).
    - `activation_strategy`: range choice for activations (`npuc.quantization.calibration.STRATEGIES`,
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
    - `bias_correction`: shift each conv-like bias by the mean error of its
      output on the calibration set (`npuc.quantization.mixed.correct_biases`).
    """

    activation_bits: int = 8
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
    bias_correction: bool = False

    def check(self) -> None:
        """`NpucError` naming the first option with an unsupported value."""
        if self.activation_bits not in SUPPORTED_ACTIVATION_BITS:
            raise NpucError(
                f"quantize supports {', '.join(map(str, SUPPORTED_ACTIVATION_BITS))}-bit "
                f"activations, not {self.activation_bits}"
            )
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
        if self.target_sqnr < 0:
            raise NpucError(f"target_sqnr must be >= 0 dB (0: off), not {self.target_sqnr}")
        if not 50.0 < self.percentile <= 100.0:
            raise NpucError(f"percentile must be in (50, 100], not {self.percentile}")


def activation_params(minimum: float, maximum: float, bits: int = 8) -> tuple[float, int]:
    """(scale, zero point) of `bits`-bit quantization of [min, max].

    8 bits: asymmetric; the range is nudged to include 0 so that 0.0
    quantizes exactly. 16 bits: symmetric (zero point 0) over max(|min|, |max|),
    as TFLite's 16x8 kernels require. The scale is rounded to float32 as
    TFLite stores it.
    """
    if not (np.isfinite(minimum) and np.isfinite(maximum)):
        raise ValueError(f"range [{minimum}, {maximum}] is not finite")
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if bits == 16:
        peak = max(abs(minimum), abs(maximum))
        return float(np.float32(max(peak / qmax, MIN_SCALE))), 0
    low, high = min(minimum, 0.0), max(maximum, 0.0)
    scale = float(np.float32(max((high - low) / (qmax - qmin), MIN_SCALE)))
    zero_point = int(fixed_point.round_half_away_from_zero(qmin - low / scale))
    return scale, int(np.clip(zero_point, qmin, qmax))


def activation_type(minimum: float, maximum: float, bits: int = 8) -> UniformQuantizedType:
    """The per-tensor quantized element type of a calibrated activation range."""
    scale, zero_point = activation_params(minimum, maximum, bits)
    return UniformQuantizedType(storage_of(bits), [scale], [zero_point])


def _channel_peaks(weights: np.ndarray, axis: int | None) -> np.ndarray:
    if axis is None:
        return np.array([np.max(np.abs(weights))], dtype=np.float64)
    reduce_axes = tuple(a for a in range(weights.ndim) if a != axis)
    return np.max(np.abs(weights), axis=reduce_axes).astype(np.float64)


def _mse_peaks(weights: np.ndarray, axis: int | None, peaks: np.ndarray) -> np.ndarray:
    """Per channel, the clipping of max|w| minimising the squared rounding+clipping error."""
    channels = weights.reshape(1, -1) if axis is None else np.moveaxis(weights, axis, 0)
    flat = channels.reshape(len(peaks), -1).astype(np.float64)
    factors = np.linspace(0.5, 1.0, 51)
    best = peaks.copy()
    for index, (row, peak) in enumerate(zip(flat, peaks)):
        if peak > 0:
            errors = quantization_error(
                row, np.ones_like(row), -peak * factors, peak * factors, 2 * WEIGHT_QMAX + 1
            )
            best[index] = peak * factors[int(np.argmin(errors))]
    return best


def weight_scales(
    weights: np.ndarray, axis: int | None, strategy: str = "minmax"
) -> np.ndarray:
    """Symmetric scales (float32) per channel along `axis` (one if None): peak / 127.

    The peak is max|w_c| (`minmax`) or its squared-error-optimal clipping (`mse`).
    """
    peaks = _channel_peaks(weights, axis)
    if strategy == "mse":
        peaks = _mse_peaks(weights, axis, peaks)
    scales = np.where(peaks > 0, peaks / WEIGHT_QMAX, 1.0)
    return scales.astype(np.float32)


def quantize_weights(
    weights: np.ndarray, axis: int, per_channel: bool = True, strategy: str = "minmax"
) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weights, float32 scales) of symmetric per-channel (or per-tensor) quantization."""
    scales = weight_scales(weights, axis if per_channel else None, strategy)
    stored = fixed_point.quantize(
        weights, scales if per_channel else scales[0], 0, -WEIGHT_QMAX, WEIGHT_QMAX,
        axis=axis if per_channel else None,
    )  # fmt: skip
    return stored, scales


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of `test` against `reference`, in dB.

    Infinite when they are equal; the usual figure of merit of a quantized
    model against its float original (25 dB and above is a good int8 model).
    """
    reference = np.asarray(reference, dtype=np.float64)
    noise = float(np.sum((reference - np.asarray(test, dtype=np.float64)) ** 2))
    signal = float(np.sum(reference**2))
    if noise == 0.0:
        return float("inf")
    return 10.0 * float(np.log10(signal / noise)) if signal > 0 else float("-inf")


def value_names(func: FuncOp) -> dict[SSAValue, str]:
    """A stable name per calibrated value: argument tensor names, op layer names.

    Results of multi-result ops get `#index`; these names key saved
    statistics and the per-layer report.
    """
    block = func.body.block
    names: dict[SSAValue, str] = {
        argument: tensor_name(attrs, f"arg{index}")
        for index, (argument, attrs) in enumerate(zip(block.args, arg_attributes(func)))
    }
    for op in block.ops:
        if op.dialect_name() != "graph" or isinstance(op, graph.ConstantOp):
            continue
        for index, result in enumerate(op.results):
            suffix = f"#{index}" if len(op.results) > 1 else ""
            names[result] = f"{layer_name(op)}{suffix}"
    return names


def _output_like(block: Block) -> set[SSAValue]:
    """Values whose clipping costs most: model results and softmax inputs."""
    values: set[SSAValue] = set()
    for op in block.ops:
        if isinstance(op, ReturnOp | graph.SoftmaxOp):
            values.update(op.operands)
    return values


def _share_concat_ranges(block: Block, ranges: dict[SSAValue, Range]) -> None:
    """Give a concat's inputs its range when nothing else reads them (no requantize)."""
    for op in block.ops:
        if not isinstance(op, graph.ConcatOp) or op.output not in ranges:
            continue
        for value in op.inputs:
            producer = value.owner
            sole_use = value.has_one_use()
            if sole_use and type(producer) in (*CONV_LIKE, *OWN_RANGE) and value in ranges:
                ranges[value] = ranges[op.output]


def gather_statistics(
    module: ModuleOp,
    samples: Sequence[np.ndarray],
    options: QuantizationOptions,
    histograms: bool | None = None,
) -> Statistics:
    """The statistics `options` asks for: loaded from `options.statistics` or collected.

    Histograms are collected when a strategy needs them (or when `histograms`
    says so); `options.save_statistics` receives what was gathered.
    """
    if options.statistics:
        statistics = Statistics.load(options.statistics)
    else:
        if not samples or len(samples[0]) == 0:
            raise InputDataError("quantize needs at least one calibration sample")
        if histograms is None:
            histograms = any(
                strategy in (*HISTOGRAM_STRATEGIES, "auto")
                for strategy in (options.activation_strategy, options.output_strategy)
            )
        statistics = collect_statistics(module, samples, value_names(main_function(module)), histograms)
    if options.save_statistics:
        statistics.save(options.save_statistics)
    return statistics


def calibrate(
    module: ModuleOp,
    samples: Sequence[np.ndarray],
    options: QuantizationOptions | None = None,
    statistics: Statistics | None = None,
    control: LayerControl | None = None,
) -> dict[SSAValue, Range]:
    """Run @main in float over `samples` and choose each value's (low, high) range.

    `samples` holds one array per argument in IR layout, N samples stacked on
    axis 0; the range choice follows `options.activation_strategy` (or
    `output_strategy`), overridden per layer by `control`, which records the
    strategy used for each value. Given `statistics` are used as they are.
    """
    options = options or QuantizationOptions()
    control = control if control is not None else LayerControl()
    func = main_function(module)
    names = value_names(func)
    if statistics is None:
        statistics = gather_statistics(module, samples, options)
    outputs = _output_like(func.body.block)
    ranges = {}
    for value, name in names.items():
        if name in statistics.tensors:
            default = options.output_strategy if value in outputs else options.activation_strategy
            strategy = control.setting(name, "strategy", default)
            bits = control.settings.get(name, {}).get("bits", options.activation_bits)
            ranges[value] = choose_range(statistics.tensors[name], strategy, bits, options.percentile)
    _share_concat_ranges(func.body.block, ranges)
    return ranges


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
        control = LayerControl.load(options.layers) if options.layers else LayerControl()
    func = main_function(module)
    block = func.body.block
    if not any(op.dialect_name() == "graph" for op in block.ops):
        return module  # already quantized: nothing to do
    check_supported(block)
    if options.activation_strategy == "auto":
        from npuc.quantization.search import choose_strategy

        options, statistics = choose_strategy(module, samples, options, statistics)
    if options.target_sqnr or options.bias_correction:
        from npuc.quantization.mixed import correct_biases, promote_layers

        if statistics is None:
            statistics = gather_statistics(module, samples, options)
        if options.target_sqnr:
            control.promotion = promote_layers(module, samples, options, statistics, control)
        if options.bias_correction:
            correct_biases(module, samples, options, statistics, control)
    ranges = calibrate(module, samples, options, statistics, control)
    bits = options.activation_bits

    def range_type(value: SSAValue, what: str, width: int) -> UniformQuantizedType:
        low, high = require_finite(ranges.get(value, (float("nan"),) * 2), what)
        return activation_type(low, high, width)

    def constant_type(data: np.ndarray, width: int) -> UniformQuantizedType:
        return activation_type(float(data.min()), float(data.max()), width)

    def layer_bits(op: Operation) -> int | None:
        return control.settings.get(layer_name(op), {}).get("bits")

    def weights(data: np.ndarray, axis: int, op: Operation) -> tuple[np.ndarray, np.ndarray]:
        per_channel = control.setting(layer_name(op), "per_channel", options.per_channel)
        return quantize_weights(data, axis, per_channel, options.weight_strategy)

    quantizer = Quantizer(block, range_type, constant_type, weights, bits, layer_bits)
    old_ops = list(block.ops)
    names = [tensor_name(attrs, f"arg{i}") for i, attrs in enumerate(arg_attributes(func))]
    quantizer.quantize_arguments(names, [control.settings.get(name, {}).get("bits") for name in names])
    for op in old_ops:
        if isinstance(op, ReturnOp):
            quantizer.dequantize_results(op)
        elif op.dialect_name() == "graph":
            quantizer.rewrite(op)
    for op, width in quantizer.bits_used.items():
        explicit = "bits" in control.settings.get(layer_name(op), {})
        if explicit or not isinstance(op, FOLLOW_INPUT):
            control.used.setdefault(layer_name(op), {})["bits"] = width
    for op in reversed(old_ops):
        if op.dialect_name() == "graph":
            block.erase_op(op)
    if options.save_layers:
        control.activation_bits = bits
        control.save(options.save_layers)
    return module
