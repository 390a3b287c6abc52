"""The ONNX importer: IR structure per op form, numerics against onnxruntime, model forms, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from npuc.api import run_pipeline
from npuc.dialects import graph
from npuc.dialects.common import Window, array_values, constant_value
from npuc.errors import (
    ModelFormatError,
    ModelVerificationError,
    UnsupportedOperatorError,
)
from npuc.importers import import_model
from npuc.importers.onnx.importer import import_onnx, import_onnx_bytes
from npuc.ir import arg_attributes, main_function, result_attributes

from support.onnx_models import (
    make_model,
    make_model_proto,
    max_error_against_onnxruntime,
)
from support.paths import EXAMPLES

EXAMPLE = EXAMPLES / "tiny_cnn.onnx"
TOLERANCE = 1e-4
rng = np.random.default_rng(7)


def random(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def layer_ops(module) -> list:
    """The ops of @main except constants and the return."""
    return [
        op for op in main_function(module).body.block.ops if op.name not in ("graph.constant", "func.return")
    ]


def op_names(module) -> list[str]:
    return [op.name for op in layer_ops(module)]


def weights_of(op: graph.ConstantOp) -> np.ndarray:
    return constant_value(op.value)


def shape_of(value) -> list[int]:
    return list(value.type.get_shape())


def assert_matches_onnxruntime(model: bytes, inputs: dict[str, np.ndarray]) -> None:
    """Import, run the IR with the float reference, compare with onnxruntime."""
    assert max_error_against_onnxruntime(model, inputs) <= TOLERANCE


def single_node(
    op_type: str, initializers=None, in_shape=(1, 3, 6, 6), out_shape=None, opset=13, extra_inputs=(), **attrs
) -> bytes:
    node = helper.make_node(op_type, ["x", *extra_inputs], ["y"], name="node", **attrs)
    return make_model([node], {"x": in_shape}, {"y": out_shape}, initializers, opset)


def check_single_node(
    op_type: str, initializers=None, in_shape=(1, 3, 6, 6), opset=13, extra_inputs=(), positive=False, **attrs
):
    """Import a one-node model, compare it with onnxruntime and return the module."""
    model = single_node(op_type, initializers, in_shape, None, opset, extra_inputs, **attrs)
    x = random(*in_shape)
    assert_matches_onnxruntime(model, {"x": np.abs(x) + 0.1 if positive else x})
    return import_onnx_bytes(model, "node.onnx")


# -- the bundled example ------------------------------------------------------


def test_example_structure() -> None:
    module = import_model(str(EXAMPLE))
    assert op_names(module) == [
        "graph.conv2d",
        "graph.relu",
        "graph.max_pool2d",
        "graph.conv2d",
        "graph.relu",
        "graph.reshape",
        "graph.fully_connected",
    ]
    layers = [op.attributes["layer"].data for op in layer_ops(module)]
    assert layers == ["conv1", "relu1", "pool1", "conv2", "relu2", "flatten", "fc"]
    func = main_function(module)
    assert shape_of(func.body.block.args[0]) == [1, 16, 16, 1]
    assert {k: v.data for k, v in arg_attributes(func)[0].items()} == {
        "graph.name": "input",
        "graph.layout": "NCHW",
    }
    assert {k: v.data for k, v in result_attributes(func)[0].items()} == {"graph.name": "logits"}
    assert shape_of(layer_ops(module)[3].ofm) == [1, 4, 4, 16]


def test_example_matches_onnxruntime() -> None:
    model = EXAMPLE.read_bytes()
    samples = np.load(EXAMPLE.with_name("tiny_cnn_test.npy"))
    assert samples.shape == (16, 1, 16, 16) and samples.dtype == np.float32
    for sample in samples[:4]:
        assert_matches_onnxruntime(model, {"input": sample[None]})


# -- convolution --------------------------------------------------------------


def test_conv_weights_become_ohwi() -> None:
    weights = random(4, 3, 3, 2)
    model = single_node(
        "Conv",
        {"w": weights},
        in_shape=(1, 3, 7, 6),
        extra_inputs=["w"],
        strides=[2, 1],
        pads=[1, 0, 0, 1],
    )
    module = import_onnx_bytes(model, "conv.onnx")
    (conv,) = layer_ops(module)
    assert isinstance(conv, graph.Conv2dOp)
    assert np.array_equal(weights_of(conv.weights.owner), weights.transpose(0, 2, 3, 1))
    assert np.array_equal(weights_of(conv.bias.owner), np.zeros(4))
    assert conv.window() == Window((3, 2), (2, 1), (1, 1), (1, 0, 0, 1))
    assert shape_of(conv.ofm) == [1, 3, 6, 4]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 7, 6)})


def test_conv_same_upper_padding() -> None:
    module = check_single_node(
        "Conv",
        {"w": random(2, 3, 3, 3), "b": random(2)},
        extra_inputs=["w", "b"],
        strides=[2, 2],
        auto_pad="SAME_UPPER",
    )
    (conv,) = layer_ops(module)
    assert array_values(conv.padding) == (0, 0, 1, 1)


def test_depthwise_conv_with_multiplier() -> None:
    module = check_single_node(
        "Conv",
        {"w": random(6, 1, 3, 3), "b": random(6)},
        extra_inputs=["w", "b"],
        group=3,
        pads=[1, 1, 1, 1],
        dilations=[2, 1],
    )
    (conv,) = layer_ops(module)
    assert isinstance(conv, graph.DepthwiseConv2dOp)
    assert shape_of(conv.weights) == [1, 3, 3, 6]


def test_grouped_conv_is_split_convolved_and_concatenated() -> None:
    module = check_single_node(
        "Conv",
        {"w": random(6, 2, 3, 3), "b": random(6)},
        in_shape=(1, 4, 6, 6),
        extra_inputs=["w", "b"],
        group=2,
        pads=[1, 1, 1, 1],
    )
    assert op_names(module) == ["graph.split", "graph.conv2d", "graph.conv2d", "graph.concat"]
    assert {op.attributes["layer"].data for op in layer_ops(module)} == {"node"}


def test_1d_conv_runs_as_2d_of_height_one() -> None:
    module = check_single_node(
        "Conv",
        {"w": random(5, 3, 3)},
        in_shape=(2, 3, 9),
        extra_inputs=["w"],
        strides=[2],
        pads=[1, 0],
    )
    conv = next(op for op in layer_ops(module) if isinstance(op, graph.Conv2dOp))
    assert shape_of(conv.weights) == [5, 1, 3, 3] and shape_of(conv.ofm) == [2, 1, 4, 5]


@pytest.mark.parametrize(
    "attrs",
    [
        {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
        {"strides": [2, 3], "auto_pad": "SAME_UPPER"},
        {"strides": [2, 2], "output_shape": [9, 10]},
    ],
    ids=["pads", "same_upper", "output_shape"],
)
def test_conv_transpose(attrs: dict) -> None:
    module = check_single_node(
        "ConvTranspose",
        {"w": random(3, 4, 3, 3), "b": random(4)},
        in_shape=(1, 3, 4, 5),
        extra_inputs=["w", "b"],
        **attrs,
    )
    (op,) = layer_ops(module)
    assert isinstance(op, graph.TransposeConv2dOp) and shape_of(op.weights) == [4, 3, 3, 3]


# -- pooling ------------------------------------------------------------------


def test_max_pool_with_padding() -> None:
    module = check_single_node(
        "MaxPool", in_shape=(1, 3, 7, 7), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]
    )
    (pool,) = layer_ops(module)
    assert isinstance(pool, graph.MaxPool2dOp)
    assert pool.window() == Window((3, 3), (2, 2), (1, 1), (1, 1, 1, 1))


def test_average_pool_excluding_padding() -> None:
    (pool,) = layer_ops(check_single_node("AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    assert isinstance(pool, graph.AvgPool2dOp)


def test_average_pool_counting_padding_pads_explicitly() -> None:
    module = check_single_node("AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    pad, pool = layer_ops(module)
    assert isinstance(pad, graph.PadOp) and array_values(pad.paddings) == (0, 0, 1, 1, 1, 1, 0, 0)
    assert array_values(pool.padding) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "op_type, attrs",
    [
        ("MaxPool", {}),
        ("AveragePool", {}),
        ("AveragePool", {"count_include_pad": 1, "pads": [1, 1, 1, 1]}),
    ],
    ids=["max", "avg", "avg_count_pad"],
)
def test_ceil_mode_adds_bottom_right_padding(op_type: str, attrs: dict) -> None:
    module = check_single_node(
        op_type, in_shape=(1, 3, 8, 8), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, **attrs
    )
    pool = layer_ops(module)[-1]
    assert shape_of(pool.ofm)[1:3] == [4, 4] if not attrs else [5, 5]
    assert array_values(pool.padding)[2:] == ((1, 1) if not attrs else (1, 1))


def test_ceil_mode_drops_a_window_starting_in_the_padding() -> None:
    """onnxruntime (like PyTorch) drops it; ONNX shape inference does not."""
    model = single_node(
        "MaxPool", in_shape=(1, 3, 7, 7), kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1
    )
    (pool,) = layer_ops(import_onnx_bytes(model, "pool.onnx"))
    assert shape_of(pool.ofm) == [1, 4, 4, 3]


def test_dilated_max_pool_slices_then_pools() -> None:
    module = check_single_node(
        "MaxPool",
        in_shape=(1, 2, 20, 21),
        kernel_shape=[3, 2],
        strides=[4, 2],
        dilations=[2, 2],
        pads=[1, 1, 1, 0],
    )
    assert op_names(module) == ["graph.slice", "graph.max_pool2d"]


def test_global_pools_use_the_whole_feature_map() -> None:
    for op_type in ("GlobalAveragePool", "GlobalMaxPool"):
        (pool,) = layer_ops(check_single_node(op_type, in_shape=(1, 3, 5, 4)))
        assert array_values(pool.kernel) == (5, 4) and shape_of(pool.ofm) == [1, 1, 1, 3]


def test_1d_pooling() -> None:
    check_single_node("MaxPool", in_shape=(1, 4, 11), kernel_shape=[3], strides=[2], pads=[1, 1])
    check_single_node("AveragePool", in_shape=(1, 4, 11), kernel_shape=[2], strides=[2])


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
    [(13, (1, 3, 4, 5), 1, False), (11, (2, 3, 4), 1, True), (11, (2, 5, 1, 1), 1, False)],
    ids=["opset13_channels", "opset11_coerced", "opset11_trailing_ones"],
)
def test_softmax(opset: int, in_shape: tuple, axis: int, flattened: bool) -> None:
    module = check_single_node("Softmax", in_shape=in_shape, opset=opset, axis=axis)
    softmax = next(op for op in layer_ops(module) if isinstance(op, graph.SoftmaxOp))
    assert (shape_of(softmax.input) == [2, 12]) == flattened
    if len(in_shape) == 4:
        assert softmax.axis.value.data == 3


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


# -- data movement ------------------------------------------------------------


def test_concat_of_feature_maps_is_on_the_channel_axis() -> None:
    nodes = [helper.make_node("Concat", ["a", "b"], ["y"], name="cat", axis=1)]
    model = make_model(nodes, {"a": (1, 2, 3, 4), "b": (1, 3, 3, 4)}, {"y": None})
    (concat,) = layer_ops(import_onnx_bytes(model, "cat.onnx"))
    assert concat.axis.value.data == 3
    assert_matches_onnxruntime(model, {"a": random(1, 2, 3, 4), "b": random(1, 3, 3, 4)})


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_split_forms(opset: int) -> None:
    outputs = ["y0", "y1", "y2"]
    if opset == 11:
        node = helper.make_node("Split", ["x"], outputs, axis=1, split=[1, 2, 3])
        initializers = None
    elif opset == 13:
        node = helper.make_node("Split", ["x", "s"], outputs, axis=1)
        initializers = {"s": np.array([1, 2, 3], np.int64)}
    else:
        node = helper.make_node("Split", ["x"], outputs, axis=-1, num_outputs=3)
        initializers = None
    model = make_model([node], {"x": (1, 6, 4, 5)}, dict.fromkeys(outputs), initializers, opset)
    (split,) = layer_ops(import_onnx_bytes(model, "split.onnx"))
    assert split.axis.value.data == (3 if opset < 18 else 2)
    assert_matches_onnxruntime(model, {"x": random(1, 6, 4, 5)})


@pytest.mark.parametrize("opset", [9, 13])
def test_slice_forms(opset: int) -> None:
    starts, ends, axes, steps = [-1, 1], [-100, 5], [3, 1], [-2, 2]
    if opset == 9:
        module = check_single_node(
            "Slice", in_shape=(1, 6, 4, 5), opset=9, starts=[1, 0], ends=[5, -1], axes=[1, 3]
        )
    else:
        arrays = {n: np.array(v, np.int64) for n, v in zip(("s", "e", "a", "t"), (starts, ends, axes, steps))}
        module = check_single_node("Slice", arrays, in_shape=(1, 6, 4, 5), extra_inputs=list(arrays))
    (op,) = layer_ops(module)
    assert isinstance(op, graph.SliceOp)


@pytest.mark.parametrize(
    "opset, mode, extra",
    [
        (9, "reflect", {}),
        (13, "edge", {}),
        (13, "constant", {"value": 1.5}),
        (18, "constant", {"axes": [2, 3]}),
    ],
)
def test_pad_forms(opset: int, mode: str, extra: dict) -> None:
    pads = [0, 0, 1, 2, 0, 0, 2, 1]
    if opset < 11:
        module = check_single_node("Pad", opset=opset, mode=mode, pads=pads)
    else:
        arrays = {"p": np.array(pads if "axes" not in extra else [1, 2, 2, 1], np.int64)}
        names = ["p"]
        if "value" in extra:
            arrays["v"], names = np.array(extra["value"], np.float32), ["p", "v"]
        if "axes" in extra:
            arrays["v"], arrays["a"] = np.array(0.0, np.float32), np.array(extra["axes"], np.int64)
            names = ["p", "v", "a"]
        module = check_single_node("Pad", arrays, opset=opset, extra_inputs=names, mode=mode)
    (pad,) = layer_ops(module)
    assert array_values(pad.paddings) == (0, 0, 1, 2, 2, 1, 0, 0)


@pytest.mark.parametrize(
    "opset, attrs, inputs",
    [
        (10, {"mode": "nearest"}, {"scales": [1, 1, 2, 3]}),
        (11, {"mode": "linear"}, {"roi": [], "scales": [1, 1, 2, 2]}),
        (
            13,
            {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
            {"roi": [], "scales": [], "sizes": [1, 3, 12, 9]},
        ),
        (
            13,
            {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
            {"roi": [], "scales": [1, 1, 2, 2]},
        ),
        (
            19,
            {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
            {"roi": [], "scales": [1, 1, 0.5, 0.5]},
        ),
    ],
    ids=["opset10_nearest", "half_pixel_linear", "sizes_nearest_floor", "align_corners", "downsample"],
)
def test_resize_forms(opset: int, attrs: dict, inputs: dict) -> None:
    arrays = {
        name: np.array(values, np.int64 if name == "sizes" else np.float32) for name, values in inputs.items()
    }
    module = check_single_node("Resize", arrays, opset=opset, extra_inputs=list(arrays), **attrs)
    assert op_names(module) == ["graph.resize"]


@pytest.mark.parametrize("opset", [7, 9])
def test_upsample_forms(opset: int) -> None:
    if opset == 7:
        check_single_node("Upsample", opset=7, mode="nearest", scales=[1.0, 1.0, 2.0, 2.0])
    else:
        check_single_node(
            "Upsample", {"s": np.array([1, 1, 2, 2], np.float32)}, opset=9, extra_inputs=["s"], mode="linear"
        )


def test_resize_with_a_scale_that_is_not_the_size_ratio_is_unsupported() -> None:
    model = single_node(
        "Resize",
        {"r": np.array([], np.float32), "s": np.array([1, 1, 1.5, 1.5], np.float32)},
        in_shape=(1, 3, 5, 5),
        extra_inputs=["r", "s"],
        mode="linear",
    )
    with pytest.raises(UnsupportedOperatorError, match=r"scale 1\.5 is not output/input size 7/5"):
        import_onnx_bytes(model, "resize.onnx")


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_and_back(mode: str) -> None:
    nodes = [
        helper.make_node("DepthToSpace", ["x"], ["d"], blocksize=2, mode=mode),
        helper.make_node("SpaceToDepth", ["d"], ["y"], blocksize=2),
    ]
    model = make_model(nodes, {"x": (1, 8, 3, 4)}, {"y": None})
    assert op_names(import_onnx_bytes(model, "d2s.onnx")) == ["graph.depth_to_space", "graph.space_to_depth"]
    assert_matches_onnxruntime(model, {"x": random(1, 8, 3, 4)})


@pytest.mark.parametrize(
    "indices, names",
    [
        (np.array(2), ["graph.slice", "graph.reshape"]),
        (np.array([0, 2, 4]), ["graph.slice"]),
        (np.array([3, -1, 0]), ["graph.slice"] * 3 + ["graph.concat"]),
    ],
    ids=["scalar", "progression", "arbitrary"],
)
def test_gather_of_a_feature_map_by_constant_indices(indices: np.ndarray, names: list) -> None:
    module = check_single_node(
        "Gather", {"i": indices.astype(np.int64)}, in_shape=(1, 6, 3, 4), extra_inputs=["i"], axis=1
    )
    assert op_names(module) == names


@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_and_unsqueeze_are_reshapes(opset: int) -> None:
    if opset == 11:
        nodes = [
            helper.make_node("Squeeze", ["x"], ["s"], axes=[2]),
            helper.make_node("Unsqueeze", ["s"], ["y"], axes=[0]),
        ]
        initializers = None
    else:
        nodes = [
            helper.make_node("Squeeze", ["x", "a"], ["s"]),
            helper.make_node("Unsqueeze", ["s", "b"], ["y"]),
        ]
        initializers = {"a": np.array([2], np.int64), "b": np.array([0], np.int64)}
    model = make_model(nodes, {"x": (1, 3, 1, 5)}, {"y": None}, initializers, opset)
    assert set(op_names(import_onnx_bytes(model, "sq.onnx"))) <= {"graph.reshape"}
    assert_matches_onnxruntime(model, {"x": random(1, 3, 1, 5)})


def test_tile_concatenates_copies() -> None:
    module = check_single_node(
        "Tile", {"r": np.array([1, 2, 1, 3], np.int64)}, in_shape=(1, 2, 3, 2), extra_inputs=["r"]
    )
    assert op_names(module) == ["graph.concat", "graph.concat"]


# -- layouts, flatten and reshape ---------------------------------------------


def test_nhwc_model_from_tf2onnx_needs_no_transposes() -> None:
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Transpose", ["r"], ["y"], perm=[0, 2, 3, 1]),
    ]
    model = make_model(nodes, {"x": (1, 6, 5, 3)}, {"y": None}, {"w": random(4, 3, 3, 3)})
    module = import_onnx_bytes(model, "nhwc.onnx")
    assert op_names(module) == ["graph.conv2d", "graph.relu"]
    func = main_function(module)
    assert "graph.layout" not in arg_attributes(func)[0] and "graph.layout" not in result_attributes(func)[0]
    assert shape_of(func.body.block.args[0]) == [1, 6, 5, 3]
    assert_matches_onnxruntime(model, {"x": random(1, 6, 5, 3)})


def test_transpose_of_a_feature_map_to_rank_3_math() -> None:
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["t", "s"], ["r"]),
        helper.make_node("Softmax", ["r"], ["y"], axis=-1),
    ]
    model = make_model(nodes, {"x": (1, 3, 4, 5)}, {"y": None}, {"s": np.array([1, 20, 3], np.int64)})
    module = import_onnx_bytes(model, "t.onnx")
    assert "graph.transpose" not in op_names(module)
    assert_matches_onnxruntime(model, {"x": random(1, 3, 4, 5)})


def flatten_gemm_model(extra_user: bool) -> bytes:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w"], ["y"], name="fc", transB=1),
    ]
    outputs: dict = {"y": None}
    if extra_user:
        nodes.append(helper.make_node("Sigmoid", ["f"], ["z"], name="sigmoid"))
        outputs["z"] = None
    return make_model(nodes, {"x": (1, 3, 2, 4)}, outputs, {"w": random(5, 24)})


def test_flatten_into_gemm_permutes_the_weights() -> None:
    model = flatten_gemm_model(extra_user=False)
    assert op_names(import_onnx_bytes(model, "flat.onnx")) == [
        "graph.relu",
        "graph.reshape",
        "graph.fully_connected",
    ]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 2, 4)})


def test_flatten_into_a_gemm_adding_a_bias_matrix_transposes_to_nchw() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "w", "c"], ["y"], transB=1),
    ]
    model = make_model(nodes, {"x": (2, 3, 2, 4)}, {"y": None}, {"w": random(5, 24), "c": random(2, 5)})
    assert "graph.transpose" in op_names(import_onnx_bytes(model, "flat.onnx"))
    assert_matches_onnxruntime(model, {"x": random(2, 3, 2, 4)})


def test_flatten_with_another_user_transposes_to_nchw() -> None:
    model = flatten_gemm_model(extra_user=True)
    transpose = layer_ops(import_onnx_bytes(model, "flat.onnx"))[1]
    assert isinstance(transpose, graph.TransposeOp) and array_values(transpose.perm) == (0, 3, 1, 2)
    assert_matches_onnxruntime(model, {"x": random(1, 3, 2, 4)})


def test_input_only_reshaped_keeps_its_own_layout() -> None:
    model = single_node(
        "Reshape", {"s": np.array([0, -1, 4], np.int64)}, in_shape=(2, 3, 2, 4), extra_inputs=["s"]
    )
    module = import_onnx_bytes(model, "reshape.onnx")
    assert op_names(module) == ["graph.reshape"]
    assert "graph.layout" not in arg_attributes(main_function(module))[0]
    assert_matches_onnxruntime(model, {"x": random(2, 3, 2, 4)})


def test_reshape_to_a_feature_map_feeding_a_conv_returns_to_nhwc() -> None:
    nodes = [
        helper.make_node("Reshape", ["x", "s"], ["r"]),
        helper.make_node("Conv", ["r", "w"], ["y"]),
    ]
    model = make_model(
        nodes, {"x": (1, 24)}, {"y": None}, {"s": np.array([1, 2, 3, 4], np.int64), "w": random(2, 2, 1, 1)}
    )
    assert op_names(import_onnx_bytes(model, "reshape.onnx")) == [
        "graph.reshape",
        "graph.transpose",
        "graph.conv2d",
    ]
    assert_matches_onnxruntime(model, {"x": random(1, 24)})


# -- constant folding ---------------------------------------------------------


def test_shape_computations_are_folded() -> None:
    """PyTorch's dynamic flatten and friends: Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "index"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "zero_axis"], ["batch_1d"]),
        helper.make_node("Concat", ["batch_1d", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("Range", ["zero_f", "ten", "one_f"], ["ramp"]),
        helper.make_node(
            "ConstantOfShape", ["ramp_shape"], ["ones"], value=numpy_helper.from_array(np.ones(1, np.float32))
        ),
        helper.make_node("Expand", ["ramp", "ramp_shape_2d"], ["ramp_2d"]),
        helper.make_node("Greater", ["ramp_2d", "five"], ["mask"]),
        helper.make_node("Where", ["mask", "ramp_2d", "ones"], ["offsets"]),
        helper.make_node("Cast", ["offsets"], ["offsets_f"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Tile", ["offsets_f", "reps"], ["tiled"]),
        helper.make_node("Slice", ["tiled", "zero", "six", "one"], ["bias"]),
        helper.make_node("Add", ["flat", "bias"], ["y"]),
    ]
    constants = {
        "index": np.array(0, np.int64),
        "zero": np.array([0], np.int64),
        "zero_axis": np.array([0], np.int64),
        "minus_one": np.array([-1], np.int64),
        "zero_f": np.array(0, np.float32),
        "ten": np.array(10, np.float32),
        "one_f": np.array(1, np.float32),
        "ramp_shape": np.array([10], np.int64),
        "ramp_shape_2d": np.array([1, 10], np.int64),
        "five": np.array(5, np.float32),
        "reps": np.array([1, 2], np.int64),
        "six": np.array([6], np.int64),
        "one": np.array([1], np.int64),
    }
    model = make_model(nodes, {"x": ("N", 2, 3)}, {"y": None}, constants)
    assert op_names(import_onnx_bytes(model, "fold.onnx")) == ["graph.reshape", "graph.add"]
    assert_matches_onnxruntime(model, {"x": random(1, 2, 3)})


def test_other_operators_of_constants_are_folded_by_the_reference_evaluator() -> None:
    nodes = [
        helper.make_node("Exp", ["c"], ["e"]),
        helper.make_node("Softplus", ["e"], ["s"]),
        helper.make_node("Mul", ["x", "s"], ["y"]),
    ]
    model = make_model(nodes, {"x": (2, 3)}, {"y": None}, {"c": random(3)})
    (mul,) = layer_ops(import_onnx_bytes(model, "fold.onnx"))
    assert isinstance(mul, graph.MulOp)
    assert_matches_onnxruntime(model, {"x": random(2, 3)})


def test_identity_dropout_and_constant_pass_through() -> None:
    nodes = [
        helper.make_node("Constant", [], ["c"], value_floats=[1.0, 2.0, 3.0]),
        helper.make_node("Identity", ["x"], ["i"]),
        helper.make_node("Dropout", ["i"], ["d", "unused_mask"]),
        helper.make_node("Add", ["d", "c"], ["y"]),
    ]
    model = make_model(nodes, {"x": (2, 3)}, {"y": None})
    (add,) = layer_ops(import_onnx_bytes(model, "id.onnx"))
    assert add.attributes["layer"].data == "Add_3"
    assert_matches_onnxruntime(model, {"x": random(2, 3)})


# -- model forms --------------------------------------------------------------


def small_cnn(opset: int) -> bytes:
    clip = (
        helper.make_node("Clip", ["c", "lo", "hi"], ["r"])
        if opset >= 11
        else helper.make_node("Clip", ["c"], ["r"], min=0.0, max=6.0)
    )
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        clip,
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ]
    initializers = {
        "w": random(4, 3, 3, 3),
        "b": random(4),
        "fw": random(5, 36),
        "fb": random(5),
        "lo": np.array(0.0, np.float32),
        "hi": np.array(6.0, np.float32),
    }
    return make_model(nodes, {"x": (1, 3, 6, 6)}, {"y": None}, initializers, opset)


@pytest.mark.parametrize("opset", [7, 9, 11, 13, 17, 21])
def test_opsets(opset: int) -> None:
    assert_matches_onnxruntime(small_cnn(opset), {"x": random(1, 3, 6, 6)})


def test_opset_6_is_upgraded_with_per_channel_prelu_slopes() -> None:
    nodes = [
        helper.make_node("PRelu", ["x", "slope"], ["p"]),
        helper.make_node("Add", ["p", "c"], ["y"], broadcast=1),
    ]
    model = make_model(
        nodes,
        {"x": (2, 3, 4)},
        {"y": None},
        {"slope": np.array([0.1, 0.2, 0.3], np.float32), "c": random(4)},
        opset=6,
    )
    x = random(2, 3, 4)
    module = import_onnx_bytes(model, "old.onnx")
    from npuc.api import run as run_module

    expected = np.where(x >= 0, x, x * np.array([0.1, 0.2, 0.3], np.float32)[:, None])
    (result,) = run_module(module, [x])
    c = weights_of(layer_ops(module)[1].ifm2.owner).reshape(-1)
    assert np.allclose(result, expected + c, atol=1e-6)


def test_weights_in_an_external_data_file(tmp_path: Path) -> None:
    proto = make_model_proto(
        [helper.make_node("Conv", ["x", "w"], ["y"])],
        {"x": (1, 3, 4, 4)},
        {"y": None},
        {"w": random(8, 3, 3, 3)},
    )
    path = tmp_path / "model.onnx"
    onnx.save_model(proto, str(path), save_as_external_data=True, location="weights.bin", size_threshold=0)
    (conv,) = layer_ops(import_onnx(str(path)))
    assert shape_of(conv.weights) == [8, 3, 3, 3]
    with pytest.raises(ModelFormatError, match="external data file; import the model from its file path"):
        import_onnx_bytes(path.read_bytes(), "model.onnx")
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(
        ModelFormatError, match="external data file 'weights.bin', which is not next to the model"
    ):
        import_onnx(str(path))


def test_symbolic_batch_becomes_one() -> None:
    model = single_node("Relu", in_shape=("N", 3, 4, 4), out_shape=("N", 3, 4, 4))
    func = main_function(import_onnx_bytes(model, "relu.onnx"))
    assert shape_of(func.body.block.args[0]) == [1, 4, 4, 3]
    assert list(func.function_type.outputs.data[0].get_shape()) == [1, 4, 4, 3]
    assert result_attributes(func)[0]["graph.layout"].data == "NCHW"


def test_dynamic_spatial_size_names_the_tensor() -> None:
    model = single_node("Relu", in_shape=(1, 3, "H", 4))
    with pytest.raises(ModelVerificationError, match=r"tensor 'x' has a dynamic shape \(\[1, 3, \?, 4\]\)"):
        import_onnx_bytes(model, "relu.onnx")


# -- errors -------------------------------------------------------------------


def test_text_file_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "x.onnx"
    path.write_text("this is not a model\n")
    with pytest.raises(ModelFormatError, match=r"x\.onnx: not a valid ONNX model \("):
        import_model(str(path))


def test_truncated_model(tmp_path: Path) -> None:
    data = EXAMPLE.read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match=r"cut\.onnx: not a valid ONNX model"):
        import_onnx(str(path))


def test_every_unsupported_node_is_reported_at_once() -> None:
    nodes = [
        helper.make_node("Exp", ["x"], ["e"], name="exp"),
        helper.make_node("Relu", ["e"], ["r"], name="relu"),
        helper.make_node("Where", ["cond", "x", "x"], ["w"], name="where"),
        helper.make_node("Conv", ["v", "w3"], ["c"], name="conv3d"),
        helper.make_node("Cast", ["x"], ["i"], name="cast", to=onnx.TensorProto.INT64),
    ]
    model = make_model(
        nodes,
        {"x": (1, 4), "v": (1, 2, 3, 3, 3)},
        {"r": None, "w": None, "c": None},
        {"cond": np.array([True, False, True, False]), "w3": random(2, 2, 1, 1, 1)},
    )
    with pytest.raises(UnsupportedOperatorError) as caught:
        import_onnx_bytes(model, "many.onnx")
    assert caught.value.problems == [
        ("exp", "Exp", "operator not supported"),
        ("where", "Where", "supported only on constant inputs (folded at import)"),
        ("conv3d", "Conv", "3-D convolution is not supported (only 1-D and 2-D)"),
        ("cast", "Cast", "only casts to float of computed tensors are supported"),
    ]
    assert str(caught.value).startswith("many.onnx: 4 unsupported node(s): exp (Exp)")


def test_import_model_dispatches_on_the_extension(tmp_path: Path) -> None:
    mlir = tmp_path / "m.mlir"
    mlir.write_text(
        "func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {\n"
        "  %y = graph.relu %x : tensor<1x4xf32>\n  func.return %y : tensor<1x4xf32>\n}\n"
    )
    assert op_names(import_model(str(mlir))) == ["graph.relu"]
    (tmp_path / "m.pb").write_bytes(b"")
    with pytest.raises(ModelFormatError, match=r"unknown model format '\.pb'"):
        import_model(str(tmp_path / "m.pb"))
    with pytest.raises(ModelFormatError, match="absent.onnx: no such file"):
        import_model(str(tmp_path / "absent.onnx"))


def test_bad_mlir_names_the_line_and_the_failing_op(tmp_path: Path) -> None:
    bad_syntax = tmp_path / "syntax.mlir"
    bad_syntax.write_text("func.func @main() {\n  %0 = graph.nope\n}\n")
    with pytest.raises(ModelFormatError, match=r"syntax\.mlir:\d+:\d+: .*graph\.nope"):
        import_model(str(bad_syntax))
    bad_shape = tmp_path / "shape.mlir"
    bad_shape.write_text(
        "func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {\n"
        '  %y = graph.reshape %x {layer = "r1"} : tensor<1x4xf32> -> tensor<1x5xf32>\n'
        "  func.return %x : tensor<1x4xf32>\n}\n"
    )
    with pytest.raises(ModelVerificationError, match="graph.reshape 'r1': reshape from"):
        import_model(str(bad_shape))


def test_operator_of_an_unknown_domain_is_unsupported() -> None:
    nodes = [helper.make_node("FusedThing", ["x"], ["y"], name="custom", domain="com.example")]
    with pytest.raises(UnsupportedOperatorError, match=r"custom \(com\.example\.FusedThing\)"):
        import_onnx_bytes(make_model(nodes, {"x": (1, 4)}, {"y": None}), "custom.onnx")


def test_node_failing_a_verifier_is_named() -> None:
    model = single_node("MaxPool", kernel_shape=[2, 2], pads=[2, 2, 2, 2])
    with pytest.raises(
        ModelVerificationError, match=r"node 'node' \(MaxPool\): pooling padding must be smaller"
    ):
        import_onnx_bytes(model, "pool.onnx")
