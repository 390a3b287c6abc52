"""Calibration: activation statistics from the float reference, and range choice.

`collect_statistics` runs @main in float over the calibration samples in
batches and records, per value (by its name: the producing op's `layer`
attribute, the argument's tensor name), the overall min/max, the mean of the
per-sample min/max, the mean of each channel (last axis: what bias
correction reads, `npuc.quantization.bias_correction`) and, when a histogram
strategy needs it, a histogram of `HISTOGRAM_BINS` bins over [min, max] (a
second pass). Statistics save to and
load from a `.npz` file keyed by those names, so they can be reused.

`choose_range` turns statistics into the clipping range [low, high]:

- `minmax`: the observed extremes (TFLite converter, onnxruntime default);
- `moving_average`: the mean over samples of each sample's min and max;
- `percentile`: the `percentile`-th and (100 - `percentile`)-th percentiles;
- `entropy`: the threshold minimising the KL divergence between the clipped
  histogram and its quantized form (TensorRT's method), on |x|;
- `mse`: the shrink factor of [min, max] minimising the expected squared
  quantization error (rounding plus clipping) over the histogram.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from npuc.data import read_arrays
from npuc.dialects import graph
from npuc.errors import InputDataError, writing
from npuc.quantization.options import STRATEGIES
from npuc.reference.graph_interpreter import run_graph

CALIBRATION_BATCH = 32
"""Samples run at once while calibrating: bounds the memory kept per value."""

HISTOGRAM_BINS = 2048
"""Bins of the histograms the `percentile`, `entropy` and `mse` strategies read."""

RANGE_FIELDS = 4
"""The numbers a saved `NAME|range` array holds: minimum, maximum, mean minimum, mean maximum."""

HISTOGRAM_STRATEGIES = ("percentile", "entropy", "mse")

Range = tuple[float, float]


@dataclass
class TensorStatistics:
    """What calibration saw of one value: extremes, per-sample means, per-channel means, histogram.

    `channel_mean` holds the mean of each channel (the last axis) over every
    sample and position; None in statistics saved without it.
    """

    minimum: float
    maximum: float
    mean_minimum: float
    mean_maximum: float
    histogram: np.ndarray | None = None
    channel_mean: np.ndarray | None = None

    def bin_centers(self) -> np.ndarray:
        """Centre of each histogram bin over [minimum, maximum]."""
        assert self.histogram is not None
        edges = np.linspace(self.minimum, self.maximum, len(self.histogram) + 1)
        return 0.5 * (edges[:-1] + edges[1:])


@dataclass
class Statistics:
    """Statistics of every calibrated value, keyed by value name."""

    tensors: dict[str, TensorStatistics] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Write to a `.npz` file (one array per name and field)."""
        arrays = {}
        for name, stats in self.tensors.items():
            arrays[f"{name}|range"] = np.array(
                [stats.minimum, stats.maximum, stats.mean_minimum, stats.mean_maximum]
            )
            if stats.histogram is not None:
                arrays[f"{name}|histogram"] = stats.histogram
            if stats.channel_mean is not None:
                arrays[f"{name}|channel_mean"] = stats.channel_mean
        with writing(path, "calibration statistics"):
            np.savez(path, allow_pickle=True, **arrays)  # explicit: no array name can pass for the flag

    @classmethod
    def load(cls, path: str | Path) -> Statistics:
        """Read statistics written by `save`; `InputDataError` naming the file and the array at fault."""
        where = str(path)
        archive = read_arrays(str(path))
        if not isinstance(archive, dict):
            raise InputDataError(f"{where}: calibration statistics are an .npz archive (as --save-statistics writes)")
        tensors: dict[str, TensorStatistics] = {}
        for key, array in archive.items():
            name, _, kind = key.rpartition("|")
            if kind == "range":
                tensors[name] = TensorStatistics(*_range_statistics(array, f"{where}: '{key}'"))
            elif kind not in ("histogram", "channel_mean"):
                raise InputDataError(
                    f"{where}: unexpected array '{key}' (expected NAME|range, NAME|histogram, NAME|channel_mean)"
                )
        for key, array in archive.items():
            name, _, kind = key.rpartition("|")
            if kind in ("histogram", "channel_mean") and name not in tensors:
                raise InputDataError(f"{where}: '{key}' has no '{name}|range'")
            if kind == "histogram":
                tensors[name].histogram = _histogram(array, f"{where}: '{key}'")
            elif kind == "channel_mean":
                tensors[name].channel_mean = _channel_mean(array, f"{where}: '{key}'")
        return cls(tensors)


def _range_statistics(array: np.ndarray, where: str) -> tuple[float, float, float, float]:
    """A saved `NAME|range`: minimum, maximum, mean minimum, mean maximum, finite and ordered."""
    if array.shape != (RANGE_FIELDS,) or array.dtype.kind not in "iuf" or not np.isfinite(array).all():
        raise InputDataError(f"{where}: expected {RANGE_FIELDS} finite numbers, got {array.dtype} {list(array.shape)}")
    minimum, maximum, mean_minimum, mean_maximum = (float(value) for value in array)
    if minimum > maximum or mean_minimum > mean_maximum:
        raise InputDataError(f"{where}: minimum above maximum ({minimum} > {maximum} or {mean_minimum} > {mean_maximum})")
    return minimum, maximum, mean_minimum, mean_maximum


def _histogram(array: np.ndarray, where: str) -> np.ndarray:
    """A saved `NAME|histogram`: a non-empty vector of non-negative integer counts."""
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iu" or (array < 0).any():
        raise InputDataError(f"{where}: expected a vector of bin counts, got {array.dtype} {list(array.shape)}")
    return array.astype(np.int64)


def _channel_mean(array: np.ndarray, where: str) -> np.ndarray:
    """A saved `NAME|channel_mean`: a non-empty vector of finite numbers."""
    if array.ndim != 1 or array.size == 0 or array.dtype.kind not in "iuf" or not np.isfinite(array).all():
        raise InputDataError(f"{where}: expected a vector of finite channel means, got {array.dtype} {list(array.shape)}")
    return array.astype(np.float64)


def _batches(samples: Sequence[np.ndarray]):
    count = len(samples[0]) if samples else 0
    for start in range(0, count, CALIBRATION_BATCH):
        yield [sample[start : start + CALIBRATION_BATCH] for sample in samples]


def _calibrated_values(module: ModuleOp, batch, names: dict[SSAValue, str]):
    """(name, array) of every named non-constant value of one batch's float run."""
    execution = run_graph(module, batch, keep_values=True)
    for value, array in execution.values.items():
        if isinstance(value.owner, graph.ConstantOp) or array.size == 0 or value not in names:
            continue
        yield names[value], array


def collect_statistics(
    module: ModuleOp,
    samples: Sequence[np.ndarray],
    names: dict[SSAValue, str],
    histograms: bool = False,
) -> Statistics:
    """Run @main in float over `samples` and gather statistics of the named values.

    `samples` holds one array per argument, N samples on axis 0. With
    `histograms`, a second pass fills a histogram per value over its range
    (over the first pass's values when the samples are one batch: the float
    run is the costly part, and a batch's values are all held at once anyway).
    """
    extremes: dict[str, list[np.ndarray]] = {}
    channel_sums: dict[str, tuple[np.ndarray, int]] = {}
    batches = list(_batches(samples))
    kept: list[tuple[str, np.ndarray]] | None = [] if histograms and len(batches) == 1 else None
    for batch in batches:
        for name, array in _calibrated_values(module, batch, names):
            flat = array.reshape(len(array), -1) if array.ndim > 1 else array.reshape(1, -1)
            extremes.setdefault(name, []).append(np.stack([flat.min(axis=1), flat.max(axis=1)]))
            channels = array.reshape(-1, array.shape[-1] if array.ndim else 1)
            total, rows = channel_sums.get(name, (0.0, 0))
            channel_sums[name] = (total + channels.sum(axis=0, dtype=np.float64), rows + len(channels))
            if kept is not None:
                kept.append((name, array))
    statistics = Statistics()
    for name, parts in extremes.items():
        lows, highs = np.concatenate(parts, axis=1).astype(np.float64)
        finite = bool(np.isfinite(lows).all() and np.isfinite(highs).all())
        # A non-finite value has no usable range (quantization refuses it by name): no means to take.
        mean_low, mean_high = (float(lows.mean()), float(highs.mean())) if finite else (np.nan, np.nan)
        statistics.tensors[name] = TensorStatistics(float(lows.min()), float(highs.max()), mean_low, mean_high)
        if finite:
            total, rows = channel_sums[name]
            statistics.tensors[name].channel_mean = total / rows
    if histograms:
        values = kept if kept is not None else (
            value for batch in batches for value in _calibrated_values(module, batch, names)
        )
        for name, array in values:
            _accumulate_histogram(statistics.tensors[name], array)
    return statistics


def _accumulate_histogram(stats: TensorStatistics, array: np.ndarray) -> None:
    if stats.histogram is None:
        stats.histogram = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    width = stats.maximum - stats.minimum
    if not np.isfinite(width):
        return  # no usable range: quantization reports it by name
    if width <= 0:
        stats.histogram[0] += array.size
        return
    position = (array.reshape(-1).astype(np.float64) - stats.minimum) * (HISTOGRAM_BINS / width)
    index = np.clip(position.astype(np.int64), 0, HISTOGRAM_BINS - 1)
    stats.histogram += np.bincount(index, minlength=HISTOGRAM_BINS)


def _percentile_range(stats: TensorStatistics, percentile: float) -> Range:
    counts = stats.histogram
    assert counts is not None
    cumulative = np.cumsum(counts) / max(int(counts.sum()), 1)
    edges = np.linspace(stats.minimum, stats.maximum, len(counts) + 1)
    tail = (100.0 - percentile) / 100.0
    low = edges[int(np.searchsorted(cumulative, tail, side="left"))]
    high = edges[min(int(np.searchsorted(cumulative, 1.0 - tail, side="left")) + 1, len(counts))]
    return float(low), float(high)


def quantization_error(
    centers: np.ndarray, counts: np.ndarray, lows: np.ndarray, highs: np.ndarray, levels: int
) -> np.ndarray:
    """Expected squared error of uniform `levels`-level quantization over candidate ranges.

    `lows`/`highs` are K candidate ranges; the histogram (`centers`, `counts`)
    is quantized with each one (clipping included) and the weighted squared
    error summed: one figure per candidate.
    """
    scale = np.maximum((highs - lows) / (levels - 1), 1e-12)[:, None]
    clipped = np.clip(centers[None, :], lows[:, None], highs[:, None])
    restored = np.round((clipped - lows[:, None]) / scale) * scale + lows[:, None]
    return ((restored - centers[None, :]) ** 2 * counts[None, :]).sum(axis=1)


def _mse_range(stats: TensorStatistics, levels: int) -> Range:
    counts = stats.histogram
    assert counts is not None
    factors = np.linspace(0.8, 1.0, 41)
    lows, highs = min(stats.minimum, 0.0) * factors, max(stats.maximum, 0.0) * factors
    errors = quantization_error(stats.bin_centers(), counts.astype(np.float64), lows, highs, levels)
    best = int(np.argmin(errors))
    return float(lows[best]), float(highs[best])


def _kl_divergence(reference: np.ndarray, candidate: np.ndarray) -> float:
    mask = reference > 0
    p = reference[mask] / reference.sum()
    q = np.maximum(candidate[mask] / max(candidate.sum(), 1e-12), 1e-12)
    return float(np.sum(p * np.log(p / q)))


def _entropy_range(stats: TensorStatistics, levels: int) -> Range:
    """TensorRT's KL-divergence threshold on the histogram of |x|.

    Each candidate threshold (from the number of quantized levels up, in
    steps of bins/128) clips the histogram, folds the outliers into its last
    bin (P), and spreads each of `target` level's mass uniformly over its
    non-empty bins (Q); the threshold minimising KL(P || Q) wins.
    """
    counts = stats.histogram
    assert counts is not None
    centers = stats.bin_centers()
    peak = max(abs(stats.minimum), abs(stats.maximum))
    if peak == 0:
        return 0.0, 0.0
    bins = len(counts)
    magnitude = np.bincount(
        np.minimum((np.abs(centers) / peak * bins).astype(np.int64), bins - 1),
        weights=counts.astype(np.float64), minlength=bins,
    )  # fmt: skip
    # The spike of exact zeros (ReLU outputs, padding) is quantized exactly
    # whatever the threshold; left in, it dominates the divergence and
    # drives the threshold far too low.
    magnitude[0] = magnitude[1] if bins > 1 else magnitude[0]
    # A one-sided distribution (ReLU outputs) gets all levels of the
    # asymmetric range on [0, threshold]; a two-sided one half of them.
    one_sided = stats.minimum >= 0 or stats.maximum <= 0
    target = max(levels if one_sided else levels // 2, 2)
    best, best_divergence = bins, float("inf")
    for threshold in range(target, bins + 1, max(bins // 128, 1)):
        reference = magnitude[:threshold].copy()
        reference[-1] += magnitude[threshold:].sum()
        starts = np.linspace(0, threshold, target + 1).astype(np.int64)[:-1]
        chunk = magnitude[:threshold]
        sums = np.add.reduceat(chunk, starts)
        nonzero = np.add.reduceat((chunk > 0).astype(np.float64), starts)
        per_bin = np.repeat(sums / np.maximum(nonzero, 1), np.diff(np.append(starts, threshold)))
        candidate = np.where(chunk > 0, per_bin, 0.0)
        divergence = _kl_divergence(reference, candidate)
        if divergence < best_divergence:
            best, best_divergence = threshold, divergence
    limit = peak * best / bins
    return max(stats.minimum, -limit), min(stats.maximum, limit)


def choose_range(
    stats: TensorStatistics, strategy: str, bits: int = 8, percentile: float = 99.999
) -> Range:
    """The clipping range `strategy` picks from `stats` for `bits`-bit quantization.

    Statistics without a finite range give their extremes, which quantization
    refuses naming the value (`npuc.quantization.rules.require_finite`).
    """
    finite = np.isfinite(stats.minimum) and np.isfinite(stats.maximum)
    if strategy == "minmax" or not finite or (strategy in HISTOGRAM_STRATEGIES and stats.histogram is None):
        return stats.minimum, stats.maximum
    if strategy == "moving_average":
        return stats.mean_minimum, stats.mean_maximum
    levels = 1 << bits
    choosers: dict[str, Callable[[], Range]] = {
        "percentile": lambda: _percentile_range(stats, percentile),
        "entropy": lambda: _entropy_range(stats, levels),
        "mse": lambda: _mse_range(stats, levels),
    }
    if strategy not in choosers:
        raise InputDataError(
            f"unknown calibration strategy '{strategy}' (known: {', '.join(STRATEGIES)})"
        )
    return choosers[strategy]()
