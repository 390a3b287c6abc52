"""The ONNX importer: the bundled example, convolutions and pooling."""

from __future__ import annotations

import numpy as np
import pytest

from npuc.dialects import graph
from npuc.dialects.common import Window, array_values
from npuc.errors import UnsupportedOperatorError
from npuc.importers import import_model
from npuc.importers.onnx.importer import import_onnx_bytes
from npuc.ir import arg_attributes, main_function, result_attributes

from support.onnx_import import (
    assert_matches_onnxruntime,
    check_single_node,
    layer_ops,
    op_names,
    random,
    shape_of,
    single_node,
    weights_of,
)
from support.paths import EXAMPLES

EXAMPLE = EXAMPLES / "tiny_cnn.onnx"


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


@pytest.mark.parametrize("groups, strides", [(2, [1, 1]), (4, [2, 2])])
def test_grouped_conv_is_one_conv_with_its_groups(groups: int, strides: list[int]) -> None:
    module = check_single_node(
        "Conv",
        {"w": random(8, 8 // groups, 3, 3), "b": random(8)},
        in_shape=(1, 8, 7, 7),
        extra_inputs=["w", "b"],
        group=groups,
        pads=[1, 0, 1, 1],
        strides=strides,
    )
    (conv,) = layer_ops(module)
    assert isinstance(conv, graph.Conv2dOp) and conv.group_count() == groups
    assert shape_of(conv.weights) == [8, 3, 3, 8 // groups]


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


@pytest.mark.parametrize("op_type", ["GlobalAveragePool", "GlobalMaxPool"])
def test_1d_global_pools_run_as_2d_of_height_one(op_type: str) -> None:
    module = check_single_node(op_type, in_shape=(2, 4, 11))
    pool = next(op for op in layer_ops(module) if isinstance(op, (graph.AvgPool2dOp, graph.MaxPool2dOp)))
    assert array_values(pool.kernel) == (1, 11) and shape_of(pool.ofm) == [2, 1, 1, 4]


def test_3d_global_pool_is_refused_by_name() -> None:
    model = single_node("GlobalAveragePool", in_shape=(1, 2, 3, 4, 5))
    with pytest.raises(UnsupportedOperatorError, match=r"3-D pooling is not supported \(only 1-D and 2-D\)"):
        import_onnx_bytes(model, "pool3d.onnx")
