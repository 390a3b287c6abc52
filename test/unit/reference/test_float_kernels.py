"""Float32 reference kernels against onnxruntime on one-node ONNX models.

The ONNX models are NCHW/OIHW; the tests transpose to npuc's NHWC/OHWI
layouts and back.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from npuc.reference import float_kernels

TOLERANCE = 1e-5


def run_onnx_node(op_type, inputs, attributes, output_rank):
    """Run a single ONNX node on float32 ``inputs`` with onnxruntime."""
    names = [f"in{i}" for i in range(len(inputs))]
    node = helper.make_node(op_type, names, ["out"], **attributes)
    graph = helper.make_graph(
        [node],
        "single_node",
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, x.shape)
            for name, x in zip(names, inputs)
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None] * output_rank)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip(names, inputs)))[0]


def nchw_to_nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def assert_close(actual, expected):
    assert actual.dtype == np.float32
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert float(np.max(np.abs(actual - expected))) <= TOLERANCE * scale


CONV_CASES = [
    # (n, c, h, w, o, kernel, strides, dilations, pads); ONNX pads [top, left, bottom, right]
    # use the same order as npuc's explicit padding.
    (1, 3, 7, 6, 4, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
    (2, 5, 9, 8, 6, (3, 2), (2, 2), (1, 1), (0, 1, 2, 0)),
    (1, 4, 10, 9, 3, (3, 3), (1, 2), (2, 1), (0, 0, 0, 0)),
    (1, 2, 8, 7, 7, (5, 4), (3, 2), (1, 2), (2, 3, 1, 2)),
]


@pytest.mark.parametrize("n,c,h,w,o,kernel,strides,dilations,pads", CONV_CASES)
def test_conv2d_matches_onnxruntime(n, c, h, w, o, kernel, strides, dilations, pads):
    rng = np.random.default_rng(h * 100 + w * 10 + o)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weights = rng.standard_normal((o, c, *kernel)).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32)
    expected = run_onnx_node(
        "Conv", [x, weights, bias],
        {"strides": list(strides), "dilations": list(dilations), "pads": list(pads)}, 4,
    )
    ofm = float_kernels.conv2d(
        nchw_to_nhwc(x), weights.transpose(0, 2, 3, 1), bias, strides, dilations, pads
    )
    assert_close(ofm, nchw_to_nhwc(expected))


@pytest.mark.parametrize("n,c,h,w,o,kernel,strides,dilations,pads", CONV_CASES)
@pytest.mark.parametrize("depth_multiplier", [1, 2])
def test_depthwise_conv2d_matches_onnxruntime(
    n, c, h, w, o, kernel, strides, dilations, pads, depth_multiplier
):
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    channels = c * depth_multiplier
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weights = rng.standard_normal((channels, 1, *kernel)).astype(np.float32)
    bias = rng.standard_normal(channels).astype(np.float32)
    expected = run_onnx_node(
        "Conv", [x, weights, bias],
        {"group": c, "strides": list(strides), "dilations": list(dilations), "pads": list(pads)},
        4,
    )
    # ONNX grouped conv: output channel g*M + m reads input channel g, like TFLite.
    tflite_weights = weights.transpose(1, 2, 3, 0)
    ofm = float_kernels.depthwise_conv2d(
        nchw_to_nhwc(x), tflite_weights, bias, strides, dilations, pads, depth_multiplier
    )
    assert_close(ofm, nchw_to_nhwc(expected))


@pytest.mark.parametrize("n,k,o", [(1, 16, 8), (3, 37, 11)])
def test_fully_connected_matches_onnxruntime(n, k, o):
    rng = np.random.default_rng(n + k + o)
    x = rng.standard_normal((n, k)).astype(np.float32)
    weights = rng.standard_normal((o, k)).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32)
    expected = run_onnx_node("Gemm", [x, weights, bias], {"transB": 1}, 2)
    assert_close(float_kernels.fully_connected(x, weights, bias), expected)


POOL_CASES = [
    # (shape NCHW, kernel, strides, pads)
    ((1, 3, 7, 6), (3, 3), (1, 1), (1, 1, 1, 1)),
    ((2, 4, 9, 8), (3, 3), (2, 2), (1, 0, 1, 2)),
    ((1, 2, 10, 9), (2, 3), (2, 2), (0, 0, 0, 0)),
    ((1, 5, 8, 8), (4, 4), (3, 3), (2, 1, 1, 2)),
]


@pytest.mark.parametrize("shape,kernel,strides,pads", POOL_CASES)
def test_max_pool2d_matches_onnxruntime(shape, kernel, strides, pads):
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    # all-negative input: a padded zero must never win
    x = -np.abs(x) - 1.0
    expected = run_onnx_node(
        "MaxPool",
        [x],
        {"kernel_shape": list(kernel), "strides": list(strides), "pads": list(pads)},
        4,
    )
    ofm = float_kernels.max_pool2d(nchw_to_nhwc(x), kernel, strides, pads)
    assert_close(ofm, nchw_to_nhwc(expected))


@pytest.mark.parametrize("shape,kernel,strides,pads", POOL_CASES)
def test_avg_pool2d_matches_onnxruntime(shape, kernel, strides, pads):
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    attributes = {
        "kernel_shape": list(kernel), "strides": list(strides),
        "pads": list(pads), "count_include_pad": 0,
    }
    expected = run_onnx_node("AveragePool", [x], attributes, 4)
    ofm = float_kernels.avg_pool2d(nchw_to_nhwc(x), kernel, strides, pads)
    assert_close(ofm, nchw_to_nhwc(expected))


@pytest.mark.parametrize(
    "a_shape,b_shape",
    [((1, 4, 5, 3), (1, 4, 5, 3)), ((2, 3, 4, 6), (1, 1, 4, 6)), ((1, 6, 6, 4), (4,))],
)
def test_add_matches_onnxruntime(a_shape, b_shape):
    rng = np.random.default_rng(len(b_shape))
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    expected = run_onnx_node("Add", [a, b], {}, len(a_shape))
    assert_close(float_kernels.add(a, b), expected)


def test_clamp_with_open_bounds():
    x = np.array([-3.0, -0.5, 0.5, 7.0], dtype=np.float32)
    np.testing.assert_array_equal(float_kernels.clamp(x, 0.0, 6.0), [0.0, 0.0, 0.5, 6.0])
    np.testing.assert_array_equal(float_kernels.clamp(x, None, 0.0), [-3.0, -0.5, 0.0, 0.0])
    np.testing.assert_array_equal(float_kernels.clamp(x, -1.0, None), [-1.0, -0.5, 0.5, 7.0])
    np.testing.assert_array_equal(float_kernels.clamp(x, None, None), x)


def test_shape_mismatches_raise_value_error():
    ifm = np.zeros((1, 5, 5, 3), dtype=np.float32)
    with pytest.raises(ValueError):
        float_kernels.conv2d(ifm, np.zeros((4, 3, 3, 2)), np.zeros(4), (1, 1), (1, 1), (0, 0, 0, 0))
    with pytest.raises(ValueError):
        float_kernels.conv2d(ifm, np.zeros((4, 3, 3, 3)), np.zeros(5), (1, 1), (1, 1), (0, 0, 0, 0))
    with pytest.raises(ValueError):
        float_kernels.depthwise_conv2d(
            ifm, np.zeros((1, 3, 3, 4)), np.zeros(4), (1, 1), (1, 1), (0, 0, 0, 0), 2
        )
    with pytest.raises(ValueError):
        float_kernels.fully_connected(np.zeros((2, 4)), np.zeros((3, 5)), np.zeros(3))
    with pytest.raises(ValueError):
        float_kernels.max_pool2d(ifm, (7, 7), (1, 1), (0, 0, 0, 0))
    with pytest.raises(ValueError):
        float_kernels.avg_pool2d(ifm, (2, 2), (1, 1), (3, 0, 0, 0))
