"""The single-shot quantizer: calibrate graph IR once and rewrite it into quantized IR.

`quantize_once` runs `@main` in float over the calibration samples, chooses
each value's range (`npuc.quantization.calibration`, strategy per
`QuantizationOptions` and per-layer control) and rewrites every graph op
into its quantized form (`npuc.quantization.rules`) with the parameters of
`npuc.quantization.params`. The float interface stays: a
`quantized.quantize` follows each f32 argument and a `quantized.dequantize`
precedes each f32 result. The searches (`search`, `mixed`) call it on trial
copies; `driver.quantize_module` composes them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, SSAValue

from npuc.dialects import graph
from npuc.dialects.common import layer_name
from npuc.dialects.quantized import UniformQuantizedType
from npuc.errors import InputDataError
from npuc.ir import arg_attributes, main_function, tensor_name
from npuc.quantization.calibration import (
    HISTOGRAM_STRATEGIES,
    Range,
    Statistics,
    choose_range,
    collect_statistics,
)
from npuc.quantization.control import LayerControl
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.params import activation_type, quantize_weights
from npuc.quantization.rules import (
    CONV_LIKE,
    FOLLOW_INPUT,
    OWN_RANGE,
    SAME_QUANTIZATION,
    Quantizer,
    require_finite,
)


def unique_names(bases: Sequence[str]) -> list[str]:
    """`bases` made unique: a name several values share stays on the last, the earlier get `@0`, `@1`, ...

    The importer and the graph passes give every op they make for one source
    node that node's layer name (the transpose and reshape lifting a 1-D conv,
    the per-group convs before their concat), so the last is the layer's output.
    """
    remaining = Counter(bases)
    seen: Counter = Counter()
    names = []
    for base in bases:
        remaining[base] -= 1
        names.append(base if remaining[base] == 0 else f"{base}@{seen[base]}")
        seen[base] += 1
    return names


def value_names(func: FuncOp) -> dict[SSAValue, str]:
    """A unique, stable name per calibrated value: argument tensor names, op layer names.

    Results of multi-result ops get `#index`; values sharing a layer name are told
    apart by `unique_names`. These names key saved statistics, the per-layer
    control and the per-layer report: two values under one name would share
    one range (a conv's output calibrated together with its input).
    """
    block = func.body.block
    values: list[SSAValue] = list(block.args)
    bases = [tensor_name(attrs, f"arg{index}") for index, attrs in enumerate(arg_attributes(func))]
    for op in block.ops:
        if op.dialect_name() != "graph" or isinstance(op, graph.ConstantOp):
            continue
        for index, result in enumerate(op.results):
            values.append(result)
            bases.append(f"{layer_name(op)}{f'#{index}' if len(op.results) > 1 else ''}")
    return dict(zip(values, unique_names(bases), strict=True))


def layer_names(func: FuncOp) -> set[str]:
    """Every name a per-layer control file may set: the `value_names` and the graph ops' layer names."""
    ops = [op for op in func.body.block.ops if op.dialect_name() == "graph" and not isinstance(op, graph.ConstantOp)]
    return {*value_names(func).values(), *(layer_name(op) for op in ops)}


def _shaped_from(value: SSAValue, sole_use: bool) -> list[SSAValue]:
    """`value` and the values single-result ops of `SAME_QUANTIZATION` (reshape, transpose, ...) made it of,
    nearest first; with `sole_use`, only through values nothing else reads."""
    chain = [value]
    owner = value.owner
    while (
        isinstance(owner, Operation)
        and type(owner) in SAME_QUANTIZATION
        and len(owner.results) == 1
        and (not sole_use or chain[-1].has_one_use())
    ):
        chain.append(owner.operands[0])
        owner = chain[-1].owner
    return chain


def _output_like(block: Block) -> set[SSAValue]:
    """Values whose clipping costs most: model results and softmax inputs.

    A result that a reshape (or another op of `SAME_QUANTIZATION`) makes of
    a value has that value's quantization: the value counts as well.
    """
    values: set[SSAValue] = set()
    for op in block.ops:
        if isinstance(op, ReturnOp | graph.SoftmaxOp):
            for value in op.operands:
                values.update(_shaped_from(value, sole_use=False))
    return values


def _share_concat_ranges(block: Block, ranges: dict[SSAValue, Range]) -> None:
    """Give a concat's inputs its range when nothing else reads them (no requantize).

    An input a reshape or transpose (`SAME_QUANTIZATION`) makes of a value
    only it reads passes the range on to that value: the patch embedding of a
    ViT, reshaped and transposed before the class token joins it.
    """
    for op in block.ops:
        if not isinstance(op, graph.ConcatOp) or op.output not in ranges:
            continue
        for value in op.inputs:
            value = _shaped_from(value, sole_use=True)[-1]
            if value.has_one_use() and type(value.owner) in (*CONV_LIKE, *OWN_RANGE) and value in ranges:
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
        missing = [name for name in value_names(main_function(module)).values() if name not in statistics.tensors]
        if missing:
            raise InputDataError(
                f"{options.statistics}: no statistics for '{missing[0]}' "
                f"({len(missing)} value(s) of the model missing: saved for another model?)"
            )
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


def load_control(options: QuantizationOptions) -> LayerControl:
    """The per-layer control `options.layers` names, or an empty one."""
    return LayerControl.load(options.layers) if options.layers else LayerControl()


def quantize_once(
    module: ModuleOp,
    samples: Sequence[np.ndarray],
    options: QuantizationOptions,
    statistics: Statistics | None,
    control: LayerControl,
) -> ModuleOp:
    """Quantize the graph IR of `module` in place with one calibration, no search.

    `options.activation_strategy` must be a concrete strategy (the driver
    resolves `auto`); `statistics`, if given, are used instead of
    calibrating; `control` sets per-layer strategy, scheme and bits and
    records the settings used. A module already quantized is left as it is.
    """
    func = main_function(module)
    block = func.body.block
    if not any(op.dialect_name() == "graph" for op in block.ops):
        return module
    if statistics is None:
        statistics = gather_statistics(module, samples, options)
    ranges = calibrate(module, samples, options, statistics, control)
    bits = options.activation_bits
    value_keys = value_names(func)

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

    def input_mean(value: SSAValue) -> np.ndarray | None:
        stats = statistics.tensors.get(value_keys.get(value, ""))
        return stats.channel_mean if options.bias_correction and stats is not None else None

    quantizer = Quantizer(block, range_type, constant_type, weights, bits, layer_bits, input_mean)
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
    return module
