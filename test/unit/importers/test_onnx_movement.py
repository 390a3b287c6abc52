"""The ONNX importer: data movement, layouts, flatten and reshape."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from npuc.dialects import graph
from npuc.dialects.common import array_values
from npuc.errors import (
    UnsupportedOperatorError,
)
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
)
from support.onnx_models import (
    make_model,
)

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
