"""The ONNX importer: constant folding, model forms (opsets, external data, dynamic shapes), errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from npuc.dialects import graph
from npuc.errors import (
    ModelFormatError,
    ModelVerificationError,
    UnsupportedOperatorError,
)
from npuc.importers import import_model
from npuc.importers.onnx.importer import import_onnx, import_onnx_bytes
from npuc.ir import main_function, result_attributes

from support.onnx_import import (
    assert_matches_onnxruntime,
    layer_ops,
    op_names,
    random,
    shape_of,
    single_node,
    weights_of,
)
from support.onnx_models import (
    make_model,
    make_model_proto,
)
from support.paths import EXAMPLES

EXAMPLE = EXAMPLES / "tiny_cnn.onnx"


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
    import npuc

    expected = np.where(x >= 0, x, x * np.array([0.1, 0.2, 0.3], np.float32)[:, None])
    (result,) = npuc.run(module, [x])
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
