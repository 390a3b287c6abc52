"""The ONNX importer: matrix products, batch normalization and elementwise operators."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from npuc.api import run_pipeline
from npuc.dialects import graph
from npuc.dialects.common import array_values
from npuc.importers.onnx.importer import import_onnx_bytes

from support.onnx_import import (
    TOLERANCE,
    assert_matches_onnxruntime,
    check_single_node,
    layer_ops,
    op_names,
    random,
    shape_of,
    weights_of,
)
from support.onnx_models import (
    make_model,
    max_error_against_onnxruntime,
)

# -- matrix products and batch normalization ---------------------------------


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_weights_become_o_by_k(trans_b: int) -> None:
    matrix = random(5, 8) if trans_b else random(8, 5)
    module = check_single_node(
        "Gemm", {"w": matrix, "c": random(5)}, in_shape=(2, 8), extra_inputs=["w", "c"], transB=trans_b
    )
    (fc,) = layer_ops(module)
    assert isinstance(fc, graph.FullyConnectedOp)
    assert np.array_equal(weights_of(fc.weights.owner), matrix if trans_b else matrix.T)


def test_gemm_alpha_and_beta_scale_weights_and_bias() -> None:
    module = check_single_node(
        "Gemm",
        {"w": random(8, 5), "c": random(1, 5)},
        in_shape=(2, 8),
        extra_inputs=["w", "c"],
        alpha=2.0,
        beta=0.5,
    )
    assert op_names(module) == ["graph.fully_connected"]


def test_gemm_of_two_activations_is_a_batch_matmul() -> None:
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="gemm", transA=1, alpha=0.5, beta=2.0)]
    model = make_model(nodes, {"a": (4, 2), "b": (4, 3)}, {"y": None}, {"c": random(2, 3)})
    assert op_names(import_onnx_bytes(model, "gemm.onnx")) == [
        "graph.transpose",
        "graph.batch_matmul",
        "graph.mul",
        "graph.add",
    ]
    assert_matches_onnxruntime(model, {"a": random(4, 2), "b": random(4, 3)})


@pytest.mark.parametrize(
    "lhs, rhs, constant",
    [((2, 3, 4), (2, 4, 5), False), ((3, 4), (4,), False), ((2, 3, 4), (4, 6), True)],
    ids=["batched", "vector", "rows_by_constant"],
)
def test_matmul_forms(lhs: tuple, rhs: tuple, constant: bool) -> None:
    nodes = [helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")]
    inputs = {"a": random(*lhs), "b": random(*rhs)}
    if constant:
        model = make_model(nodes, {"a": lhs}, {"y": None}, {"b": inputs.pop("b")})
        assert "graph.fully_connected" in op_names(import_onnx_bytes(model, "mm.onnx"))
    else:
        model = make_model(nodes, {"a": lhs, "b": rhs}, {"y": None})
    assert_matches_onnxruntime(model, inputs)


def batch_norm_model(producer: str, second_user: bool = False) -> bytes:
    channels = 4
    params = {
        "gamma": random(channels),
        "beta": random(channels),
        "mean": random(channels),
        "var": np.abs(random(channels)) + 0.5,
    }
    if producer == "Conv":
        first = helper.make_node("Conv", ["x", "w", "b"], ["h"], name="conv", pads=[1, 1, 1, 1])
        params.update(w=random(channels, 3, 3, 3), b=random(channels))
        in_shape: tuple = (1, 3, 5, 5)
    else:
        first = helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc")
        params.update(w=random(6, channels), b=random(channels))
        in_shape = (1, 6)
    nodes = [
        first,
        helper.make_node(
            "BatchNormalization", ["h", "gamma", "beta", "mean", "var"], ["y"], name="bn", epsilon=1e-3
        ),
    ]
    outputs: dict = {"y": None}
    if second_user:
        nodes.append(helper.make_node("Relu", ["h"], ["z"], name="relu"))
        outputs["z"] = None
    return make_model(nodes, {"x": in_shape}, outputs, params)


@pytest.mark.parametrize("producer", ["Conv", "Gemm"])
def test_batch_norm_is_a_channel_mul_and_add_that_graph_fold_scale_folds(producer: str) -> None:
    model = batch_norm_model(producer)
    module = import_onnx_bytes(model, "bn.onnx")
    linear = "graph.conv2d" if producer == "Conv" else "graph.fully_connected"
    assert op_names(module) == [linear, "graph.mul", "graph.add"]
    run_pipeline(module, "graph-fold-scale")
    (layer,) = layer_ops(module)
    assert layer.attributes["layer"].data == ("conv" if producer == "Conv" else "fc")
    shape = (1, 3, 5, 5) if producer == "Conv" else (1, 6)
    assert max_error_against_onnxruntime(model, {"x": random(*shape)}, "graph-fold-scale") <= TOLERANCE


def test_batch_norm_after_a_shared_conv_stays_a_channel_mul_and_add() -> None:
    model = batch_norm_model("Conv", second_user=True)
    module = import_onnx_bytes(model, "bn.onnx")
    run_pipeline(module, "graph-fold-scale")
    assert op_names(module) == ["graph.conv2d", "graph.mul", "graph.add", "graph.relu"]
    assert shape_of(layer_ops(module)[1].ifm2) == [1, 1, 1, 4]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 5, 5)})


# -- elementwise --------------------------------------------------------------


@pytest.mark.parametrize("op_type", ["Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "PRelu"])
def test_binary_op_broadcasts_a_channel_constant_in_nhwc(op_type: str) -> None:
    module = check_single_node(
        op_type, {"c": np.abs(random(3, 1, 1)) + 0.5}, extra_inputs=["c"], positive=op_type == "Pow"
    )
    (op,) = layer_ops(module)
    assert shape_of(op.operands[1]) == [1, 1, 1, 3]


def test_binary_op_of_a_feature_map_and_a_vector() -> None:
    nodes = [helper.make_node("Mul", ["a", "b"], ["y"], name="mul")]
    model = make_model(nodes, {"a": (2, 3, 4, 5), "b": (5,)}, {"y": None})
    assert_matches_onnxruntime(model, {"a": random(2, 3, 4, 5), "b": random(5)})


@pytest.mark.parametrize("op_type", ["Sum", "Mean", "Max", "Min"])
def test_variadic_ops_chain_binary_ops(op_type: str) -> None:
    nodes = [helper.make_node(op_type, ["a", "b", "c"], ["y"], name="many")]
    model = make_model(nodes, {"a": (1, 3, 4, 4), "b": (1, 3, 4, 4), "c": (3, 1, 1)}, {"y": None})
    names = [name for name in op_names(import_onnx_bytes(model, "many.onnx")) if name != "graph.reshape"]
    assert len(names) == (3 if op_type == "Mean" else 2)
    assert_matches_onnxruntime(
        model, {"a": random(1, 3, 4, 4), "b": random(1, 3, 4, 4), "c": random(3, 1, 1)}
    )


@pytest.mark.parametrize(
    "op_type, attrs, graph_op",
    [
        ("Relu", {}, graph.ReluOp),
        ("Sigmoid", {}, graph.SigmoidOp),
        ("Tanh", {}, graph.TanhOp),
        ("HardSwish", {}, graph.HardSwishOp),
        ("Sqrt", {}, graph.SqrtOp),
        ("LeakyRelu", {"alpha": 0.2}, graph.LeakyReluOp),
        ("Elu", {"alpha": 0.7}, graph.EluOp),
        ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, graph.HardSigmoidOp),
        ("Neg", {}, graph.MulOp),
        ("Abs", {}, graph.MaximumOp),
    ],
)
def test_unary_op(op_type: str, attrs: dict, graph_op: type) -> None:
    module = check_single_node(op_type, opset=14, positive=op_type == "Sqrt", **attrs)
    assert isinstance(layer_ops(module)[-1], graph_op)


def test_relu_and_clip_from_inputs() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Clip", ["r", "lo", "hi"], ["y"], name="clip"),
    ]
    model = make_model(
        nodes,
        {"x": (1, 3, 4, 4)},
        {"y": None},
        {"lo": np.array(0.5, np.float32), "hi": np.array(2.0, np.float32)},
    )
    relu, clip = layer_ops(import_onnx_bytes(model, "clip.onnx"))
    assert isinstance(relu, graph.ReluOp) and isinstance(clip, graph.ClipOp)
    assert (clip.min.value.data, clip.max.value.data) == (0.5, 2.0)
    assert shape_of(clip.output) == [1, 4, 4, 3]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 4, 4)})


def test_clip_from_attributes_before_opset_11() -> None:
    (clip,) = layer_ops(check_single_node("Clip", opset=6, min=0.0, max=6.0))
    assert (clip.min.value.data, clip.max.value.data) == (0.0, 6.0)


def test_clip_with_only_a_maximum() -> None:
    nodes = [helper.make_node("Clip", ["x", "", "hi"], ["y"], name="clip")]
    model = make_model(nodes, {"x": (1, 4)}, {"y": None}, {"hi": np.array(1.0, np.float32)})
    (clip,) = layer_ops(import_onnx_bytes(model, "clip.onnx"))
    assert clip.min.value.data == float(np.finfo(np.float32).min)
    assert_matches_onnxruntime(model, {"x": random(1, 4) * 3})


@pytest.mark.parametrize(
    "opset, in_shape, axis, flattened",
    [(13, (1, 3, 4, 5), 1, False), (11, (2, 3, 4), 1, True), (11, (2, 5, 1, 1), 1, False), (13, (2, 6, 7), -1, False)],
    ids=["opset13_channels", "opset11_coerced", "opset11_trailing_ones", "opset13_last_axis_3d"],
)
def test_softmax(opset: int, in_shape: tuple, axis: int, flattened: bool) -> None:
    module = check_single_node("Softmax", in_shape=in_shape, opset=opset, axis=axis)
    softmax = next(op for op in layer_ops(module) if isinstance(op, graph.SoftmaxOp))
    assert (shape_of(softmax.input) == [2, 12]) == flattened
    if len(in_shape) == 4:
        assert softmax.axis.value.data == 3
    if axis == -1:  # attention weights: the last axis of a row-major [B, T, T] tensor, no transpose
        assert softmax.axis.value.data == len(in_shape) - 1 and "graph.transpose" not in op_names(module)


def test_lrn_across_channels() -> None:
    check_single_node("LRN", in_shape=(1, 6, 4, 4), size=3, alpha=0.01, beta=0.6, bias=2.0)


@pytest.mark.parametrize(
    "op_type, opset, axes, keepdims, ir_axes",
    [
        ("ReduceMean", 13, [2, 3], 1, (1, 2)),
        ("ReduceSum", 13, [1], 0, (3,)),
        ("ReduceMax", 18, [-1], 1, (2,)),
        ("ReduceMin", 13, [0, 1], 0, (0, 3)),
    ],
)
def test_reduce_maps_axes(op_type: str, opset: int, axes: list, keepdims: int, ir_axes: tuple) -> None:
    as_input = opset >= 18 or (op_type == "ReduceSum" and opset >= 13)
    if as_input:
        module = check_single_node(
            op_type, {"axes": np.array(axes, np.int64)}, opset=opset, extra_inputs=["axes"], keepdims=keepdims
        )
    else:
        module = check_single_node(op_type, opset=opset, axes=axes, keepdims=keepdims)
    (reduce,) = layer_ops(module)
    assert array_values(reduce.axes) == ir_axes
