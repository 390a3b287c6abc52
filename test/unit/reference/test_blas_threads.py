"""The float reference runs its matrix products on one BLAS thread and restores the count after."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import npuc
from npuc.reference import graph_interpreter
from npuc.reference.float_kernels import conv2d


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_one_thread_inside_and_the_count_restored_after(monkeypatch):
    if not blas_threads():
        pytest.skip("numpy's BLAS reports no thread pool to threadpoolctl")
    seen: list[list[int]] = []
    handler = graph_interpreter.run_function

    def counting(*args, **kwargs):
        seen.append(blas_threads())
        return handler(*args, **kwargs)

    monkeypatch.setattr(graph_interpreter, "run_function", counting)
    module = npuc.import_model("examples/tiny_cnn.onnx")
    with threadpool_limits(limits=2, user_api="blas"):
        npuc.run(module, [np.zeros((1, 16, 16, 1), np.float32)])
        assert seen and all(threads == [1] * len(threads) for threads in seen)
        assert blas_threads() == [2] * len(blas_threads())


def test_a_convolution_is_the_same_on_one_thread():
    rng = np.random.default_rng(0)
    ifm = rng.standard_normal((2, 14, 14, 64)).astype(np.float32)
    weights = rng.standard_normal((64, 3, 3, 16)).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32)
    expected = conv2d(ifm, weights, bias, (1, 1), (1, 1), (1, 1, 1, 1), groups=4)
    with threadpool_limits(limits=1, user_api="blas"):
        actual = conv2d(ifm, weights, bias, (1, 1), (1, 1), (1, 1, 1, 1), groups=4)
    np.testing.assert_array_equal(actual, expected)
