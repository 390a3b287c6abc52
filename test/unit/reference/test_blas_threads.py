"""one_blas_thread: the float reference's matrix products on one OpenBLAS thread, the count restored after."""

from __future__ import annotations

import numpy as np
import pytest

from npuc.reference.blas_threads import _openblas_thread_count, one_blas_thread
from npuc.reference.float_kernels import conv2d


def test_one_thread_inside_and_the_count_restored_after():
    controls = _openblas_thread_count()
    if controls is None:
        pytest.skip("numpy uses no OpenBLAS this finds")
    get_threads, set_threads = controls
    before = get_threads()
    set_threads(2)
    try:
        with one_blas_thread():
            assert get_threads() == 1
        assert get_threads() == 2
        with pytest.raises(RuntimeError), one_blas_thread():
            raise RuntimeError("the count is restored when the body fails too")
        assert get_threads() == 2
    finally:
        set_threads(before)


def test_a_convolution_is_the_same_on_one_thread():
    rng = np.random.default_rng(0)
    ifm = rng.standard_normal((2, 14, 14, 64)).astype(np.float32)
    weights = rng.standard_normal((64, 3, 3, 16)).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32)
    expected = conv2d(ifm, weights, bias, (1, 1), (1, 1), (1, 1, 1, 1), groups=4)
    with one_blas_thread():
        actual = conv2d(ifm, weights, bias, (1, 1), (1, 1), (1, 1, 1, 1), groups=4)
    np.testing.assert_array_equal(actual, expected)
