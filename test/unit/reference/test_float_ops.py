"""Float reference of the arithmetic graph ops against onnxruntime, one-node models.

4-D ONNX tensors are NCHW (OIHW weights) and are transposed to npuc's NHWC
(OHWI); other ranks are layout-free.
"""

from __future__ import annotations

import numpy as np
import pytest

from npuc.dialects import graph
from npuc.dialects.graph import Graph
from npuc.reference.fixed_point import ACTIVATION_BOUNDS
from npuc.reference.graph_handlers import GRAPH_HANDLERS

from support.one_op import assert_close, nhwc, normal, run_onnx_node, run_op, tensor


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


TRANSPOSE_CONV_CASES = [
    # (channels, height, width, out_channels, kernel, strides, dilations, pads t/l/b/r, output_padding)
    (3, 4, 5, 2, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), (0, 0)),
    (4, 3, 4, 5, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), (1, 1)),
    (2, 5, 3, 3, (2, 3), (2, 1), (1, 2), (0, 1, 1, 0), (1, 0)),
    (3, 3, 3, 4, (4, 4), (3, 2), (2, 1), (2, 1, 0, 2), (2, 1)),
]


@pytest.mark.parametrize("case", TRANSPOSE_CONV_CASES)
def test_transpose_conv2d_matches_conv_transpose(rng, case):
    channels, height, width, depth, kernel, strides, dilations, pads, output_padding = case
    x = normal(rng, 2, channels, height, width)
    weights = normal(rng, channels, depth, *kernel)  # ONNX: [C_in, C_out, KH, KW]
    bias = normal(rng, depth)
    (expected,) = run_onnx_node(
        "ConvTranspose",
        {"x": x},
        {"w": weights, "b": bias},
        strides=list(strides),
        dilations=list(dilations),
        pads=[pads[0], pads[1], pads[2], pads[3]],
        output_padding=list(output_padding),
    )
    (actual,) = run_op(
        lambda ifm, w, b: graph.TransposeConv2dOp(
            ifm, w, b, tensor(nhwc(expected).shape), strides, dilations, pads, output_padding
        ),
        [nhwc(x)],
        [weights.transpose(1, 2, 3, 0), bias],
    )
    assert_close(actual, nhwc(expected))


def test_transpose_conv2d_fuses_its_activation(rng):
    x = normal(rng, 1, 3, 4, 4)
    weights, bias = normal(rng, 3, 2, 3, 3), normal(rng, 2)
    (expected,) = run_onnx_node("ConvTranspose", {"x": x}, {"w": weights, "b": bias})
    (actual,) = run_op(
        lambda ifm, w, b: graph.TransposeConv2dOp(
            ifm, w, b, tensor(nhwc(expected).shape), activation="relu6"
        ),
        [nhwc(x)],
        [weights.transpose(1, 2, 3, 0), bias],
    )
    assert_close(actual, np.clip(nhwc(expected), 0, 6))


@pytest.mark.parametrize(
    "lhs_shape, rhs_shape",
    [((3, 4), (4, 5)), ((2, 3, 5), (5, 6)), ((4, 5), (2, 5, 3)), ((2, 1, 3, 4), (3, 4, 2))],
)
def test_batch_matmul_matches_matmul(rng, lhs_shape, rhs_shape):
    lhs, rhs = normal(rng, *lhs_shape), normal(rng, *rhs_shape)
    (expected,) = run_onnx_node("MatMul", {"a": lhs, "b": rhs})
    (actual,) = run_op(lambda a, b: graph.BatchMatMulOp(a, b, tensor(expected.shape)), [lhs, rhs])
    assert_close(actual, expected)


BINARY_OPS = [
    ("Add", graph.AddOp),
    ("Sub", graph.SubOp),
    ("Mul", graph.MulOp),
    ("Div", graph.DivOp),
    ("Max", graph.MaximumOp),
    ("Min", graph.MinimumOp),
    ("Pow", graph.PowOp),
]


@pytest.mark.parametrize("op_type, op_class", BINARY_OPS)
@pytest.mark.parametrize(
    "shapes", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((3, 1, 5), (1, 4, 1)), ((5,), (2, 1, 5))]
)
def test_binary_op_broadcasts_like_onnx(rng, op_type, op_class, shapes):
    first, second = normal(rng, *shapes[0]), normal(rng, *shapes[1])
    if op_type == "Pow":
        first = np.abs(first) + np.float32(0.5)
    if op_type == "Div":
        second = np.where(np.abs(second) < 0.1, np.float32(0.5), second)
    (expected,) = run_onnx_node(op_type, {"a": first, "b": second})
    (actual,) = run_op(lambda a, b: op_class(a, b, tensor(expected.shape)), [first, second])
    assert_close(actual, expected)


@pytest.mark.parametrize("activation", sorted(ACTIVATION_BOUNDS))
def test_binary_op_applies_its_fused_activation(rng, activation):
    first, second = normal(rng, 2, 8, scale=4), normal(rng, 8, scale=4)
    (expected,) = run_onnx_node("Mul", {"a": first, "b": second})
    lower, upper = ACTIVATION_BOUNDS[activation]
    (actual,) = run_op(
        lambda a, b: graph.MulOp(a, b, tensor(expected.shape), activation), [first, second]
    )
    assert_close(actual, np.clip(expected, lower, upper))


def test_pow_with_a_constant_exponent(rng):
    x = normal(rng, 1, 3, 4, 4)
    exponent = np.array([2.0], np.float32)
    (expected,) = run_onnx_node("Pow", {"x": x}, {"e": exponent})
    (actual,) = run_op(
        lambda a, e: graph.PowOp(a, e, tensor((1, 4, 4, 3))), [nhwc(x)], [exponent]
    )
    assert_close(actual, nhwc(expected))


@pytest.mark.parametrize("x_shape, slope_shape", [((1, 3, 4, 4), (3, 1, 1)), ((2, 3, 4, 4), (1,))])
def test_prelu_broadcasts_its_slope_over_channels(rng, x_shape, slope_shape):
    x, slope = normal(rng, *x_shape), normal(rng, *slope_shape)
    (expected,) = run_onnx_node("PRelu", {"x": x}, {"slope": slope})
    ir_slope = slope.reshape(1, 1, 1, -1) if len(slope_shape) == 3 else slope
    (actual,) = run_op(
        lambda a, s: graph.PReluOp(a, s, tensor(nhwc(x).shape)), [nhwc(x)], [ir_slope]
    )
    assert_close(actual, nhwc(expected))


UNARY_OPS = [
    # (ONNX op, its attributes, graph op from the input value, input scale, positive inputs only)
    ("Sigmoid", {}, lambda x: graph.SigmoidOp(x, x.type), 30.0, False),
    ("Tanh", {}, lambda x: graph.TanhOp(x, x.type), 5.0, False),
    ("HardSwish", {}, lambda x: graph.HardSwishOp(x, x.type), 5.0, False),
    ("Sqrt", {}, lambda x: graph.SqrtOp(x, x.type), 5.0, True),
    ("LeakyRelu", {"alpha": 0.15}, lambda x: graph.LeakyReluOp(x, 0.15), 3.0, False),
    ("Elu", {"alpha": 0.7}, lambda x: graph.EluOp(x, 0.7), 40.0, False),
    (
        "HardSigmoid",
        {"alpha": 0.3, "beta": 0.4},
        lambda x: graph.HardSigmoidOp(x, 0.3, 0.4),
        5.0,
        False,
    ),
]


@pytest.mark.parametrize("op_type, attributes, make_op, scale, positive", UNARY_OPS)
def test_unary_op_matches_onnx(rng, op_type, attributes, make_op, scale, positive):
    x = normal(rng, 2, 5, 7, scale=scale)
    if positive:
        x = np.abs(x)
    (expected,) = run_onnx_node(op_type, {"x": x}, opset=14, **attributes)
    (actual,) = run_op(make_op, [x])
    assert_close(actual, expected)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_softmax_along_each_axis_is_stable(rng, axis):
    x = normal(rng, 2, 3, 5, scale=50.0)
    (expected,) = run_onnx_node("Softmax", {"x": x}, axis=axis)
    (actual,) = run_op(lambda v: graph.SoftmaxOp(v, v.type, axis), [x])
    assert_close(actual, expected)
    assert np.all(np.isfinite(actual))


def test_softmax_beta_scales_the_input(rng):
    x = normal(rng, 3, 6)
    (expected,) = run_onnx_node("Softmax", {"x": np.float32(0.25) * x}, axis=1)
    (actual,) = run_op(lambda v: graph.SoftmaxOp(v, v.type, 1, beta=0.25), [x])
    assert_close(actual, expected)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn_sums_squares_across_channels(rng, size):
    x = normal(rng, 2, 7, 3, 3, scale=3.0)
    attributes = {"size": size, "alpha": 0.2, "beta": 0.75, "bias": 1.5}
    (expected,) = run_onnx_node("LRN", {"x": x}, **attributes)
    (actual,) = run_op(lambda v: graph.LrnOp(v, size, 0.2, 0.75, 1.5), [nhwc(x)])
    assert_close(actual, nhwc(expected))


@pytest.mark.parametrize("size", [2, 4])
def test_lrn_even_size_takes_one_more_channel_after(rng, size):
    """onnxruntime rejects even sizes (and ONNX's reference evaluator sums the wrong
    axis), so the ONNX formula is written out per channel here."""
    x = normal(rng, 1, 3, 3, 6, scale=3.0)
    squares = x.astype(np.float64) ** 2
    expected = np.empty_like(x)
    for c in range(6):
        window = squares[..., max(0, c - (size - 1) // 2) : c + size // 2 + 1]
        expected[..., c] = x[..., c] / (1.5 + 0.2 / size * window.sum(axis=-1)) ** 0.75
    (actual,) = run_op(lambda v: graph.LrnOp(v, size, 0.2, 0.75, 1.5), [x])
    assert_close(actual, expected)


@pytest.mark.parametrize("kind, onnx_op", [("mean", "ReduceMean"), ("sum", "ReduceSum"), ("max", "ReduceMax"), ("min", "ReduceMin")])
@pytest.mark.parametrize("axes, keepdims", [((1, 2), 1), ((1, 2), 0), ((3,), 0), ((0, 3), 1)])
def test_reduce_matches_onnx(rng, kind, onnx_op, axes, keepdims):
    x = normal(rng, 2, 3, 4, 5)
    if onnx_op == "ReduceSum":  # opset 13 takes ReduceSum's axes as an input
        (expected,) = run_onnx_node(
            onnx_op, {"x": x}, {"axes": np.array(axes, np.int64)}, keepdims=keepdims
        )
    else:
        (expected,) = run_onnx_node(onnx_op, {"x": x}, axes=list(axes), keepdims=keepdims)
    (actual,) = run_op(lambda v: graph.ReduceOp(v, tensor(expected.shape), kind, axes), [x])
    assert_close(actual, expected)


def test_every_graph_op_has_a_reference_handler():
    assert [op.name for op in Graph.operations if op not in GRAPH_HANDLERS] == []
