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


def test_histograms_from_one_float_run_equal_those_from_two(monkeypatch):
    """Samples in one batch fill the histograms from the first float run's values; in several batches a
    second run fills them: the statistics are the same either way."""
    from npuc.ir import main_function
    from npuc.quantization import calibration
    from npuc.quantization.quantizer import value_names

    from support.graph_models import build_small_cnn, calibration_samples

    module, samples = build_small_cnn(), calibration_samples(8, seed=3)
    names = value_names(main_function(module))
    runs = []
    original_run = calibration.run_graph
    monkeypatch.setattr(calibration, "run_graph", lambda *args, **kwargs: runs.append(1) or original_run(*args, **kwargs))
    one_batch = calibration.collect_statistics(module, samples, names, histograms=True)
    assert len(runs) == 1
    monkeypatch.setattr(calibration, "CALIBRATION_BATCH", 3)
    batches = calibration.collect_statistics(module, samples, names, histograms=True)
    assert len(runs) == 1 + 3 * 2
    assert one_batch.tensors.keys() == batches.tensors.keys()
    for name, stats in one_batch.tensors.items():
        other = batches.tensors[name]
        assert (stats.minimum, stats.maximum) == (other.minimum, other.maximum)
        assert stats.histogram is not None and other.histogram is not None
        assert np.array_equal(stats.histogram, other.histogram), name
