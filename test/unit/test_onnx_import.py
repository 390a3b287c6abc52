"""The ONNX importer: IR structure per op form, numerics against onnxruntime, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from npuc.data import NHWC_TO_NCHW
from npuc.ir import arg_attributes, result_attributes
from npuc.dialects import graph
from npuc.dialects.common import array_values
from npuc.errors import ModelFormatError, ModelVerificationError, UnsupportedOperatorError
from npuc.importers import import_model
from npuc.importers.onnx import import_onnx, import_onnx_bytes
from npuc.ir import main_function
from npuc.reference.graph_interpreter import constant_value, run_graph

from onnx_models import make_model, run_onnxruntime, to_ir_layout

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny_cnn.onnx"
TOLERANCE = 1e-4
rng = np.random.default_rng(7)


def random(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def layer_ops(module) -> list:
    """The ops of @main except constants and the return."""
    return [
        op
        for op in main_function(module).body.block.ops
        if op.name not in ("graph.constant", "func.return")
    ]


def op_names(module) -> list[str]:
    return [op.name for op in layer_ops(module)]


def weights_of(op: graph.ConstantOp) -> np.ndarray:
    return constant_value(op.value)


def shape_of(value) -> list[int]:
    return list(value.type.get_shape())


def assert_matches_onnxruntime(model: bytes, inputs: dict[str, np.ndarray]) -> None:
    """Import, run the IR with the float kernels, compare with onnxruntime."""
    module = import_onnx_bytes(model, "model.onnx")
    expected = run_onnxruntime(model, inputs)
    actual = run_graph(module, [to_ir_layout(x) for x in inputs.values()]).outputs
    assert len(actual) == len(expected)
    for ours, theirs in zip(actual, expected):
        if theirs.ndim == 4:
            ours = ours.transpose(NHWC_TO_NCHW)
        assert ours.shape == theirs.shape
        assert float(np.max(np.abs(ours - theirs))) <= TOLERANCE


def single_node(op_type: str, initializers=None, in_shape=(1, 3, 6, 6), out_shape=None, opset=13, extra_inputs=(), **attrs) -> bytes:
    node = helper.make_node(op_type, ["x", *extra_inputs], ["y"], name="node", **attrs)
    return make_model([node], {"x": in_shape}, {"y": out_shape}, initializers, opset)


# -- the bundled example ------------------------------------------------------


def test_example_structure() -> None:
    module = import_model(str(EXAMPLE))
    assert op_names(module) == [
        "graph.conv2d", "graph.relu", "graph.max_pool2d", "graph.conv2d",
        "graph.relu", "graph.reshape", "graph.fully_connected",
    ]
    layers = [op.attributes["layer"].data for op in layer_ops(module)]
    assert layers == ["conv1", "relu1", "pool1", "conv2", "relu2", "flatten", "fc"]
    func = main_function(module)
    assert shape_of(func.body.block.args[0]) == [1, 16, 16, 1]
    assert {k: v.data for k, v in arg_attributes(func)[0].items()} == {
        "graph.name": "input", "graph.layout": "NCHW"
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
        "Conv", {"w": weights}, in_shape=(1, 3, 7, 6), extra_inputs=["w"],
        strides=[2, 1], pads=[1, 0, 0, 1],
    )
    module = import_onnx_bytes(model, "conv.onnx")
    (conv,) = layer_ops(module)
    assert isinstance(conv, graph.Conv2dOp)
    assert np.array_equal(weights_of(conv.weights.owner), weights.transpose(0, 2, 3, 1))
    assert np.array_equal(weights_of(conv.bias.owner), np.zeros(4))
    assert conv.window() == ((2, 1), (1, 1), (1, 0, 0, 1))
    assert shape_of(conv.ofm) == [1, 3, 6, 4]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 7, 6)})


def test_conv_same_upper_padding() -> None:
    model = single_node(
        "Conv", {"w": random(2, 3, 3, 3), "b": random(2)}, extra_inputs=["w", "b"],
        strides=[2, 2], auto_pad="SAME_UPPER",
    )
    (conv,) = layer_ops(import_onnx_bytes(model, "conv.onnx"))
    assert array_values(conv.padding) == (0, 0, 1, 1)
    assert_matches_onnxruntime(model, {"x": random(1, 3, 6, 6)})


def test_depthwise_conv_with_multiplier() -> None:
    weights = random(6, 1, 3, 3)  # 3 channels x multiplier 2
    model = single_node(
        "Conv", {"w": weights, "b": random(6)}, extra_inputs=["w", "b"], group=3, pads=[1, 1, 1, 1]
    )
    (conv,) = layer_ops(import_onnx_bytes(model, "dw.onnx"))
    assert isinstance(conv, graph.DepthwiseConv2dOp)
    assert shape_of(conv.weights) == [1, 3, 3, 6]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 6, 6)})


def test_grouped_conv_is_unsupported() -> None:
    model = single_node("Conv", {"w": random(4, 2, 3, 3)}, in_shape=(1, 4, 6, 6), extra_inputs=["w"], group=2)
    with pytest.raises(UnsupportedOperatorError, match=r"node \(Conv\): grouped convolution with 2 groups"):
        import_onnx_bytes(model, "g.onnx")


# -- activations and add ------------------------------------------------------


def test_relu_and_clip_from_inputs() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Clip", ["r", "lo", "hi"], ["y"], name="clip"),
    ]
    model = make_model(
        nodes, {"x": (1, 3, 4, 4)}, {"y": None},
        {"lo": np.array(0.5, np.float32), "hi": np.array(2.0, np.float32)},
    )
    module = import_onnx_bytes(model, "clip.onnx")
    relu, clip = layer_ops(module)
    assert isinstance(relu, graph.ReluOp) and isinstance(clip, graph.ClipOp)
    assert (clip.min.value.data, clip.max.value.data) == (0.5, 2.0)
    assert shape_of(clip.output) == [1, 4, 4, 3]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 4, 4)})


def test_clip_from_attributes_before_opset_11() -> None:
    model = single_node("Clip", opset=6, min=0.0, max=6.0)
    (clip,) = layer_ops(import_onnx_bytes(model, "clip.onnx"))
    assert (clip.min.value.data, clip.max.value.data) == (0.0, 6.0)


def test_clip_with_only_a_maximum() -> None:
    nodes = [helper.make_node("Clip", ["x", "", "hi"], ["y"], name="clip")]
    model = make_model(nodes, {"x": (1, 4)}, {"y": None}, {"hi": np.array(1.0, np.float32)})
    (clip,) = layer_ops(import_onnx_bytes(model, "clip.onnx"))
    assert clip.min.value.data == float(np.finfo(np.float32).min)
    assert_matches_onnxruntime(model, {"x": random(1, 4) * 3})


def test_add_broadcasts_a_channel_constant_in_nhwc() -> None:
    model = single_node("Add", {"c": random(3, 1, 1)}, extra_inputs=["c"])
    (add,) = layer_ops(import_onnx_bytes(model, "add.onnx"))
    assert shape_of(add.ifm2) == [1, 1, 1, 3]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 6, 6)})


def test_add_of_two_feature_maps() -> None:
    nodes = [helper.make_node("Add", ["a", "b"], ["y"], name="add")]
    model = make_model(nodes, {"a": (1, 2, 3, 4), "b": (1, 2, 3, 4)}, {"y": None})
    module = import_onnx_bytes(model, "add.onnx")
    assert op_names(module) == ["graph.add"]
    assert_matches_onnxruntime(model, {"a": random(1, 2, 3, 4), "b": random(1, 2, 3, 4)})


# -- pooling ------------------------------------------------------------------


def test_max_pool_with_padding() -> None:
    model = single_node("MaxPool", in_shape=(1, 3, 7, 7), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    (pool,) = layer_ops(import_onnx_bytes(model, "pool.onnx"))
    assert isinstance(pool, graph.MaxPool2dOp)
    assert pool.window() == ((3, 3), (2, 2), (1, 1, 1, 1))
    assert_matches_onnxruntime(model, {"x": random(1, 3, 7, 7)})


def test_average_pool_excluding_padding() -> None:
    model = single_node("AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    (pool,) = layer_ops(import_onnx_bytes(model, "pool.onnx"))
    assert isinstance(pool, graph.AvgPool2dOp)
    assert_matches_onnxruntime(model, {"x": random(1, 3, 6, 6)})


def test_average_pool_counting_padding_is_unsupported() -> None:
    model = single_node("AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    with pytest.raises(UnsupportedOperatorError, match="count_include_pad=1"):
        import_onnx_bytes(model, "pool.onnx")


def test_ceil_mode_that_changes_nothing_is_accepted() -> None:
    model = single_node("MaxPool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    (pool,) = layer_ops(import_onnx_bytes(model, "pool.onnx"))
    assert shape_of(pool.ofm) == [1, 3, 3, 3]


def test_ceil_mode_that_changes_the_output_is_unsupported() -> None:
    model = single_node("MaxPool", in_shape=(1, 3, 7, 7), kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    with pytest.raises(UnsupportedOperatorError, match=r"ceil_mode=1 changes the output size \(4 instead of 3\)"):
        import_onnx_bytes(model, "pool.onnx")


def test_global_average_pool() -> None:
    model = single_node("GlobalAveragePool", in_shape=(1, 3, 5, 4))
    (pool,) = layer_ops(import_onnx_bytes(model, "gap.onnx"))
    assert array_values(pool.kernel) == (5, 4)
    assert shape_of(pool.ofm) == [1, 1, 1, 3]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 5, 4)})


# -- fully connected ----------------------------------------------------------


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_weights_become_o_by_k(trans_b: int) -> None:
    matrix = random(5, 8) if trans_b else random(8, 5)
    model = single_node(
        "Gemm", {"w": matrix, "c": random(5)}, in_shape=(2, 8), extra_inputs=["w", "c"], transB=trans_b
    )
    (fc,) = layer_ops(import_onnx_bytes(model, "gemm.onnx"))
    assert isinstance(fc, graph.FullyConnectedOp)
    assert np.array_equal(weights_of(fc.weights.owner), matrix if trans_b else matrix.T)
    assert_matches_onnxruntime(model, {"x": random(2, 8)})


def test_gemm_without_bias_and_matmul_get_zero_bias() -> None:
    nodes = [
        helper.make_node("Gemm", ["x", "w"], ["h"], name="gemm"),
        helper.make_node("MatMul", ["h", "m"], ["y"], name="matmul"),
    ]
    model = make_model(nodes, {"x": (1, 8)}, {"y": None}, {"w": random(8, 6), "m": random(6, 3)})
    gemm, matmul = layer_ops(import_onnx_bytes(model, "fc.onnx"))
    assert not weights_of(gemm.bias.owner).any() and not weights_of(matmul.bias.owner).any()
    assert shape_of(matmul.weights) == [3, 6]
    assert_matches_onnxruntime(model, {"x": random(1, 8)})


def test_gemm_with_alpha_is_unsupported() -> None:
    model = single_node("Gemm", {"w": random(8, 5)}, in_shape=(1, 8), extra_inputs=["w"], alpha=2.0)
    with pytest.raises(UnsupportedOperatorError, match="alpha and beta must be 1"):
        import_onnx_bytes(model, "gemm.onnx")


# -- flatten and reshape -----------------------------------------------------


def flatten_gemm_model(extra_user: bool) -> bytes:
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w"], ["y"], name="fc", transB=1),
    ]
    outputs: dict = {"y": None}
    if extra_user:
        nodes.append(helper.make_node("Relu", ["f"], ["z"], name="relu"))
        outputs["z"] = None
    return make_model(nodes, {"x": (1, 3, 2, 4)}, outputs, {"w": random(5, 24)})


def test_flatten_into_gemm_permutes_the_weights() -> None:
    model = flatten_gemm_model(extra_user=False)
    module = import_onnx_bytes(model, "flat.onnx")
    assert op_names(module) == ["graph.reshape", "graph.fully_connected"]
    assert_matches_onnxruntime(model, {"x": random(1, 3, 2, 4)})


def test_flatten_with_another_user_transposes_to_nchw() -> None:
    model = flatten_gemm_model(extra_user=True)
    module = import_onnx_bytes(model, "flat.onnx")
    transpose, *_ = layer_ops(module)
    assert isinstance(transpose, graph.TransposeOp)
    assert array_values(transpose.perm) == (0, 3, 1, 2)
    assert_matches_onnxruntime(model, {"x": random(1, 3, 2, 4)})


def test_flatten_of_a_single_channel_is_a_plain_reshape() -> None:
    model = single_node("Flatten", in_shape=(1, 1, 4, 4))
    assert op_names(import_onnx_bytes(model, "flat.onnx")) == ["graph.reshape"]


def test_reshape_resolves_zero_and_minus_one() -> None:
    model = single_node("Reshape", {"s": np.array([0, -1, 4], np.int64)}, in_shape=(2, 3, 2, 4), extra_inputs=["s"])
    module = import_onnx_bytes(model, "reshape.onnx")
    assert op_names(module) == ["graph.transpose", "graph.reshape"]
    assert shape_of(layer_ops(module)[-1].output) == [2, 6, 4]
    assert_matches_onnxruntime(model, {"x": random(2, 3, 2, 4)})


def test_reshape_to_a_feature_map_returns_to_nhwc() -> None:
    model = single_node("Reshape", {"s": np.array([1, 2, 3, 4], np.int64)}, in_shape=(1, 24), extra_inputs=["s"])
    module = import_onnx_bytes(model, "reshape.onnx")
    assert op_names(module) == ["graph.reshape", "graph.transpose"]
    assert_matches_onnxruntime(model, {"x": random(1, 24)})


# -- batch normalization ------------------------------------------------------


def batch_norm_model(producer: str, second_user: bool = False) -> bytes:
    channels = 4
    params = {
        "gamma": random(channels), "beta": random(channels),
        "mean": random(channels), "var": np.abs(random(channels)) + 0.5,
    }
    if producer == "Conv":
        first = helper.make_node("Conv", ["x", "w", "b"], ["h"], name="conv", pads=[1, 1, 1, 1])
        params.update(w=random(channels, 3, 3, 3), b=random(channels))
        in_shape: tuple = (1, 3, 5, 5)
    else:
        first = helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc")
        params.update(w=random(6, channels), b=random(channels))
        in_shape = (1, 6)
    nodes = [first, helper.make_node("BatchNormalization", ["h", "gamma", "beta", "mean", "var"], ["y"], name="bn", epsilon=1e-3)]
    outputs: dict = {"y": None}
    if second_user:
        nodes.append(helper.make_node("Relu", ["h"], ["z"], name="relu"))
        outputs["z"] = None
    return make_model(nodes, {"x": in_shape}, outputs, params)


@pytest.mark.parametrize("producer", ["Conv", "Gemm"])
def test_batch_norm_folds_into_its_producer(producer: str) -> None:
    model = batch_norm_model(producer)
    module = import_onnx_bytes(model, "bn.onnx")
    (layer,) = layer_ops(module)
    assert layer.attributes["layer"].data == ("conv" if producer == "Conv" else "fc")
    shape = (1, 3, 5, 5) if producer == "Conv" else (1, 6)
    assert_matches_onnxruntime(model, {"x": random(*shape)})


def test_batch_norm_after_a_shared_conv_is_unsupported() -> None:
    model = batch_norm_model("Conv", second_user=True)
    with pytest.raises(UnsupportedOperatorError, match=r"bn \(BatchNormalization\): the producing Conv 'conv' has other users"):
        import_onnx_bytes(model, "bn.onnx")


# -- pass-through, names and shapes -------------------------------------------


def test_identity_dropout_and_constant_pass_through() -> None:
    nodes = [
        helper.make_node("Constant", [], ["c"], value_floats=[1.0, 2.0, 3.0]),
        helper.make_node("Identity", ["x"], ["i"]),
        helper.make_node("Dropout", ["i"], ["d"]),
        helper.make_node("Add", ["d", "c"], ["y"]),
    ]
    model = make_model(nodes, {"x": (2, 3)}, {"y": None})
    (add,) = layer_ops(import_onnx_bytes(model, "id.onnx"))
    assert add.attributes["layer"].data == "Add_3"
    assert_matches_onnxruntime(model, {"x": random(2, 3)})


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
        helper.make_node("Sigmoid", ["x"], ["s"], name="gate"),
        helper.make_node("Relu", ["s"], ["r"], name="relu"),
        helper.make_node("Softmax", ["r"], ["y"], name="probs"),
    ]
    model = make_model(nodes, {"x": (1, 4)}, {"y": None})
    with pytest.raises(UnsupportedOperatorError) as caught:
        import_onnx_bytes(model, "two.onnx")
    assert caught.value.problems == [
        ("gate", "Sigmoid", "operator not supported"),
        ("probs", "Softmax", "operator not supported"),
    ]
    assert str(caught.value).startswith("two.onnx: 2 unsupported node(s): gate (Sigmoid)")


def test_import_model_dispatches_on_the_extension(tmp_path: Path) -> None:
    mlir = tmp_path / "m.mlir"
    mlir.write_text(
        "func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {\n"
        "  %y = graph.relu %x : tensor<1x4xf32>\n  func.return %y : tensor<1x4xf32>\n}\n"
    )
    assert op_names(import_model(str(mlir))) == ["graph.relu"]
    (tmp_path / "m.tflite").write_bytes(b"")
    with pytest.raises(ModelFormatError, match="TFLite import is not implemented yet"):
        import_model(str(tmp_path / "m.tflite"))
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
    with pytest.raises(ModelVerificationError, match=r"node 'node' \(MaxPool\): pooling padding must be smaller"):
        import_onnx_bytes(model, "pool.onnx")
