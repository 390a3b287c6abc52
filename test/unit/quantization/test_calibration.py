"""Tests for calibration range strategies and saved statistics."""

import numpy as np
import pytest

from npuc.quantization.calibration import (
    HISTOGRAM_BINS,
    STRATEGIES,
    Statistics,
    TensorStatistics,
    _accumulate_histogram,
    choose_range,
)


def _stats(values: np.ndarray) -> TensorStatistics:
    stats = TensorStatistics(float(values.min()), float(values.max()), 0.0, 0.0)
    _accumulate_histogram(stats, values)
    return stats


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_stays_inside_the_observed_range(strategy):
    values = np.random.default_rng(0).standard_normal(10_000)
    stats = _stats(values)
    low, high = choose_range(stats, strategy)
    assert stats.minimum <= low <= high <= stats.maximum or strategy == "moving_average"


def test_mse_and_percentile_clip_a_lone_outlier():
    values = np.concatenate([np.random.default_rng(1).uniform(-1, 1, 100_000), [50.0]])
    stats = _stats(values)
    assert choose_range(stats, "minmax")[1] == 50.0
    assert choose_range(stats, "percentile", percentile=99.9)[1] < 2.0
    assert choose_range(stats, "mse")[1] < 50.0


def test_statistics_round_trip_through_npz(tmp_path):
    stats = _stats(np.arange(10.0))
    path = tmp_path / "stats.npz"
    Statistics({"conv1": stats}).save(path)
    loaded = Statistics.load(path).tensors["conv1"]
    assert (loaded.minimum, loaded.maximum) == (0.0, 9.0)
    assert loaded.histogram is not None and loaded.histogram.sum() == 10
    assert len(loaded.histogram) == HISTOGRAM_BINS
