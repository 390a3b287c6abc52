"""Measuring a quantized module against its float original, and choosing by it.

- `layer_errors`: per layer, the SQNR and cosine similarity between the float
  activations and the dequantized integer ones on the same inputs, worst
  first: where a quantized model loses its accuracy.
- `choose_strategy`: the `auto` activation strategy. Each candidate of
  `AUTO_CANDIDATES` quantizes a copy of the module (statistics gathered once)
  and the one whose output SQNR on (up to `AUTO_SAMPLES` of) the calibration
  samples is best is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from npuc.dialects import quantized
from npuc.dialects.common import layer_name
from npuc.ir import main_function
from npuc.quantization.calibration import CALIBRATION_BATCH, Statistics
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.params import sqnr_db
from npuc.quantization.quantizer import (
    gather_statistics,
    load_control,
    quantize_once,
    unique_names,
    value_names,
)
from npuc.reference.graph_interpreter import run_graph
from npuc.reference.quantized_interpreter import run_quantized

AUTO_CANDIDATES = ("minmax", "percentile", "mse", "entropy")
"""The activation strategies `auto` tries, in order (a tie keeps the first)."""

AUTO_SAMPLES = 64
"""At most this many calibration samples score each `auto` candidate."""

_NOT_LAYERS = (quantized.ConstantOp, quantized.QuantizeOp, quantized.DequantizeOp, quantized.RequantizeOp)


@dataclass
class QuantizationReport:
    """What `npuc.api.quantize` did, as data.

    `module` is the quantized module; `layers` the per-layer `LayerError`s,
    worst first (empty when not asked for); `promotion` what the
    `target_sqnr` search did (`npuc.quantization.mixed.Promotion`, None
    when off); `control` the per-layer settings used (as `save_layers`
    writes them).
    """

    module: ModuleOp
    layers: list
    promotion: object = None
    control: dict | None = None


@dataclass(frozen=True)
class LayerError:
    """Float vs quantized activations of one layer over a set of inputs."""

    layer: str
    sqnr_db: float
    cosine: float


def dequantized_layers(module: ModuleOp, batch: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Every quantized layer's output on `batch`, dequantized, by the names `value_names` gave its graph value.

    The quantizer rewrites each graph op into one quantized op, in order, so
    the names (`unique_names` of the layer names) are the float values' names.
    """
    values = run_quantized(module, batch, keep_values=True).values
    results, bases = [], []
    for op in main_function(module).body.block.ops:
        if op.dialect_name() != "quantized" or isinstance(op, _NOT_LAYERS):
            continue
        for index, result in enumerate(op.results):
            results.append(result)
            bases.append(f"{layer_name(op)}{f'#{index}' if len(op.results) > 1 else ''}")
    layers = {}
    for name, result in zip(unique_names(bases), results, strict=True):
        qtype = quantized.quant_type(result)
        if qtype is not None and result in values:
            stored = values[result].astype(np.float64)
            layers[name] = (stored - qtype.zero_point) * qtype.scale
    return layers


def float_layers(module: ModuleOp, batch: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Every value of a graph module on `batch`, by the calibration's value names."""
    values = run_graph(module, batch, keep_values=True).values
    names = value_names(main_function(module))
    return {name: values[value] for value, name in names.items() if value in values}


def layer_errors(
    float_module: ModuleOp, quantized_module: ModuleOp, samples: Sequence[np.ndarray]
) -> list[LayerError]:
    """Per layer of both modules, SQNR (dB) and cosine similarity on `samples`, worst first.

    `samples` holds one array per input (IR layout, N on axis 0); they run
    in batches and the sums accumulate, so the figures cover all samples.
    """
    sums: dict[str, np.ndarray] = {}  # signal, noise, dot, quantized energy
    for start in range(0, len(samples[0]), CALIBRATION_BATCH):
        batch = [sample[start : start + CALIBRATION_BATCH] for sample in samples]
        reference = float_layers(float_module, batch)
        for name, test in dequantized_layers(quantized_module, batch).items():
            if name not in reference or reference[name].shape != test.shape:
                continue
            ref = reference[name].astype(np.float64)
            figures = np.array(
                [np.sum(ref**2), np.sum((ref - test) ** 2), np.sum(ref * test), np.sum(test**2)]
            )
            sums[name] = sums.get(name, 0) + figures
    errors = []
    for name, (signal, noise, dot, energy) in sums.items():
        sqnr = float("inf") if noise == 0 else 10 * np.log10(max(signal, 1e-300) / noise)
        norms = np.sqrt(signal * energy)
        cosine = float(dot / norms) if norms > 0 else float(signal == energy)
        errors.append(LayerError(name, float(sqnr), cosine))
    return sorted(errors, key=lambda error: error.sqnr_db)


def format_layer_errors(errors: Sequence[LayerError], limit: int | None = None) -> str:
    """The per-layer table `npuc quantize` prints (worst `limit` layers)."""
    shown = list(errors)[:limit] if limit else list(errors)
    width = max([5, *(len(error.layer) for error in shown)])
    lines = [f"{'layer':{width}}  {'SQNR dB':>8}  {'cosine':>8}"]
    lines += [f"{e.layer:{width}}  {e.sqnr_db:8.2f}  {e.cosine:8.5f}" for e in shown]
    return "\n".join(lines)


def output_sqnr(float_module: ModuleOp, quantized_module: ModuleOp, samples: Sequence[np.ndarray]) -> float:
    """SQNR (dB) of the quantized module's outputs against the float module's, all outputs joined."""
    reference = run_graph(float_module, samples).outputs
    test = run_quantized(quantized_module, samples).outputs
    join = lambda arrays: np.concatenate([np.ravel(a) for a in arrays])  # noqa: E731
    return sqnr_db(join(reference), join(test))


def choose_strategy(
    module: ModuleOp, samples: Sequence[np.ndarray], options: QuantizationOptions, statistics: Statistics | None
) -> tuple[QuantizationOptions, Statistics]:
    """(options with the best concrete activation strategy, the statistics used) for `auto`."""
    if statistics is None:
        statistics = gather_statistics(module, samples, options, histograms=True)
    scoring = [sample[:AUTO_SAMPLES] for sample in samples]
    best, best_sqnr = None, -float("inf")
    for strategy in AUTO_CANDIDATES:
        candidate = dataclasses.replace(
            options, activation_strategy=strategy, save_statistics="", save_layers="",
            target_sqnr=0.0,
        )  # fmt: skip
        copy = module.clone()
        quantize_once(copy, samples, candidate, statistics, load_control(candidate))
        sqnr = output_sqnr(module, copy, scoring)
        if best is None or sqnr > best_sqnr:
            best, best_sqnr = candidate, sqnr
    assert best is not None
    kept = {key: getattr(options, key) for key in ("save_statistics", "save_layers", "target_sqnr")}
    return dataclasses.replace(best, **kept), statistics
