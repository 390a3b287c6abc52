"""Malformed ONNX models: each is refused with one `NpucError` line naming the file and the culprit.

Where the case claims onnxruntime refuses the model too, an
`InferenceSession` is created first and must fail, so npuc is never stricter
than the runtime by accident.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from npuc.errors import ModelFormatError, ModelVerificationError, NpucError
from npuc.importers.common import MAX_TENSOR_ELEMENTS
from npuc.importers.onnx.importer import import_onnx, import_onnx_bytes

OPSET = 13
X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])
WEIGHTS = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")


def model(nodes, initializers=(), inputs=(X,), outputs=(Y,), opset: int = OPSET) -> onnx.ModelProto:
    """A model of `nodes` (not checked: the point is that it may be invalid)."""
    graph = helper.make_graph(list(nodes), "bad", list(inputs), list(outputs), list(initializers))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = 8
    return proto


def conv(weights: onnx.TensorProto = WEIGHTS, inputs=("x", "w"), **attrs) -> onnx.ModelProto:
    """A Conv of `x` by `weights`."""
    return model([helper.make_node("Conv", list(inputs), ["y"], name="conv", **attrs)], [weights])


def raw_tensor(dims, data_type: int, raw_data: bytes) -> onnx.TensorProto:
    """An initializer `w` with exactly these fields (onnx.helper would refuse some)."""
    tensor = TensorProto(name="w", data_type=data_type, raw_data=raw_data)
    tensor.dims.extend(dims)
    return tensor


def onnxruntime_refuses(proto: onnx.ModelProto) -> bool:
    """Whether onnxruntime fails to load the model."""
    try:
        ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - onnxruntime raises its own exception types
        return True
    return False


def refuse(proto: onnx.ModelProto, error: type[NpucError], match: str) -> str:
    """Import `proto`, expect `error` matching `match` on one line; return the message."""
    with pytest.raises(error, match=match) as caught:
        import_onnx_bytes(proto.SerializeToString(), "bad.onnx")
    message = str(caught.value)
    assert message.startswith("bad.onnx: ") and "\n" not in message
    return message


def test_the_base_model_is_valid() -> None:
    import_onnx_bytes(conv().SerializeToString(), "good.onnx")
    assert not onnxruntime_refuses(conv())


RUNTIME_REFUSES = {
    "conv with 5 inputs": (
        model([helper.make_node("Conv", ["x", "w", "", "w", "w"], ["y"], name="conv")], [WEIGHTS]),
        ModelVerificationError, r"node 'conv' \(Conv\): .*input size 5 not in range",
    ),
    "relu with 2 inputs": (
        model([helper.make_node("Relu", ["x", "x"], ["y"], name="relu")]),
        ModelVerificationError, r"node 'relu' \(Relu\): .*input size 2 not in range",
    ),
    "an empty graph-input name": (
        model([helper.make_node("Relu", [""], ["y"])], inputs=[helper.make_tensor_value_info("", TensorProto.FLOAT, [1])]),
        ModelFormatError, "a graph input has an empty name",
    ),
    "group as a string": (conv(group="1"), ModelVerificationError, "Mismatched attribute type in 'conv : group'"),
    "dims [-8]": (conv(raw_tensor([-8], TensorProto.FLOAT, b"")), ModelFormatError, "initializer 'w': Negative dimension"),
    "opset 99": (conv(), ModelFormatError, "opset 99 is newer than the newest ONNX opset"),
    "short raw_data": (
        conv(raw_tensor([4, 3, 3, 3], TensorProto.FLOAT, bytes(10))), ModelFormatError,
        r"initializer 'w': .*raw_data size \(10 bytes\) is too small",
    ),
    "no data": (conv(raw_tensor([4, 3, 3, 3], TensorProto.FLOAT, b"")), ModelFormatError, "initializer 'w': .*one value field"),
    "UNDEFINED data": (conv(raw_tensor([4], TensorProto.UNDEFINED, bytes(16))), ModelFormatError, "data type UNDEFINED"),
    "STRING data": (conv(raw_tensor([4], TensorProto.STRING, bytes(16))), ModelFormatError, "initializer 'w': STRING data"),
    "unknown data type": (conv(raw_tensor([4], 77, bytes(16))), ModelFormatError, r"data type 77 \(unknown\)"),
    "Add of float and int32": (
        model([helper.make_node("Add", ["x", "c"], ["y"], name="add")], [numpy_helper.from_array(np.ones(6, np.int32), "c")],
              outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 6, 6])]),
        ModelVerificationError, "shape inference failed: .*inconsistent type tensor\\(int32\\)",
    ),
    "an output nothing produces": (
        model([helper.make_node("Relu", ["x"], ["r"])], outputs=[helper.make_tensor_value_info("z", TensorProto.FLOAT, [1])]),
        ModelFormatError, "graph output 'z' is not produced by any node",
    ),
    "opset 1 (Relu-1)": (
        model([helper.make_node("Relu", ["x"], ["y"], name="relu")], outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 6, 6])], opset=1),
        ModelFormatError, "opset 1 is older than opset 6, the oldest npuc reads",
    ),
    "IR version 99": (conv(), ModelFormatError, "IR version 99 is newer than the newest ONNX IR version"),
    "Conv with auto_pad and pads": (
        conv(auto_pad="VALID", pads=[0, 0, 0, 0]), ModelVerificationError,
        r"node 'conv' \(Conv\): auto_pad 'VALID' and pads \[0, 0, 0, 0\] are both set",
    ),
    "LRN of size 0": (
        model([helper.make_node("LRN", ["x"], ["y"], name="lrn", size=0)],
              outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 6, 6])]),
        ModelVerificationError, r"node 'lrn' \(LRN\): size 0 must be at least 1",
    ),
}  # fmt: skip
"""Models onnxruntime refuses to load: (model, the npuc error, its message)."""
RUNTIME_REFUSES["opset 99"][0].opset_import[0].version = 99
RUNTIME_REFUSES["IR version 99"][0].ir_version = 99


@pytest.mark.parametrize("case", sorted(RUNTIME_REFUSES))
def test_what_onnxruntime_refuses_is_refused(case: str) -> None:
    proto, error, match = RUNTIME_REFUSES[case]
    assert onnxruntime_refuses(proto)
    refuse(proto, error, match)


def test_a_transpose_whose_perm_is_too_short_is_refused() -> None:
    """onnxruntime loads it and fails when it runs; npuc's layout choice for the input must not read past `perm`."""
    transpose = helper.make_node("Transpose", ["x"], ["y"], name="transpose", perm=[0, 1])
    refuse(model([transpose], outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]),
           ModelVerificationError, r"node 'transpose' \(Transpose\): perm \[0, 1\] is not a permutation of the 4 axes")  # fmt: skip


def test_conv_with_group_zero_is_refused() -> None:
    refuse(conv(group=0), ModelVerificationError, r"node 'conv' \(Conv\): group 0 does not divide 3 inputs")


@pytest.mark.parametrize(("variance", "epsilon"), [(-1.0, 1e-5), (0.0, 0.0), (float("nan"), 1e-5)])
def test_a_batch_norm_without_a_square_root_is_refused_without_a_warning(variance: float, epsilon: float) -> None:
    """numpy's sqrt of a negative variance would print a RuntimeWarning: the importer refuses it before."""
    parameters = [numpy_helper.from_array(np.array([1.0, 1.0, variance], np.float32), name)
                  for name in ("gamma", "beta", "mean", "variance")]  # fmt: skip
    parameters[2] = numpy_helper.from_array(np.zeros(3, np.float32), "mean")
    norm = helper.make_node("BatchNormalization", ["x", "gamma", "beta", "mean", "variance"], ["y"], name="norm",
                            epsilon=epsilon)
    proto = model([norm], parameters, outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 6, 6])])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refuse(proto, ModelVerificationError,
               r"node 'norm' \(BatchNormalization\): variance \+ epsilon is .* in channel 2, not positive")  # fmt: skip


def test_a_huge_constant_of_shape_is_refused_before_it_is_built() -> None:
    extent = 50_000
    fill = helper.make_node("ConstantOfShape", ["shape"], ["y"], name="fill",
                            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))  # fmt: skip
    shape = numpy_helper.from_array(np.array([extent, extent], np.int64), "shape")
    big = helper.make_tensor_value_info("y", TensorProto.FLOAT, [extent, extent])
    start = time.perf_counter()
    refuse(model([fill], [shape], outputs=[big]), ModelVerificationError,
           rf"node 'fill' \(ConstantOfShape\): result of shape \[50000, 50000\] .* limit of {MAX_TENSOR_ELEMENTS}")
    assert time.perf_counter() - start < 5


def test_a_name_with_a_newline_stays_on_one_line() -> None:
    message = refuse(model([helper.make_node("Foo", ["x"], ["y"], name="bad\nname")]), NpucError, "bad")
    assert "bad\\nname (Foo)" in message


# -- external data ---------------------------------------------------------------------


def _external_model(tmp_path: Path, entries: dict[str, str]) -> str:
    """A Conv model file whose weights point to external data described by `entries`."""
    proto = conv()
    weights = proto.graph.initializer[0]
    weights.ClearField("raw_data")
    weights.data_location = TensorProto.EXTERNAL
    for key, value in entries.items():
        weights.external_data.add(key=key, value=value)
    path = tmp_path / "model.onnx"
    path.write_bytes(proto.SerializeToString())
    return str(path)


def test_external_data_without_a_location_is_refused(tmp_path: Path) -> None:
    path = _external_model(tmp_path, {"offset": "0"})
    with pytest.raises(ModelFormatError, match="weights 'w' are external data without a location"):
        import_onnx(path)


@pytest.mark.parametrize("location", ["/etc/hostname", "../model.onnx"])
def test_external_data_outside_the_model_directory_is_refused(tmp_path: Path, location: str) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    path = _external_model(inner, {"location": location})
    with pytest.raises(ModelFormatError, match="not a relative path inside the model's directory"):
        import_onnx(path)


# -- QDQ models --------------------------------------------------------------------------


def _qdq(scale: float, zero_point: np.ndarray) -> onnx.ModelProto:
    """x -> QuantizeLinear -> DequantizeLinear -> Relu -> QuantizeLinear -> DequantizeLinear -> y."""
    parameters = [numpy_helper.from_array(np.array(scale, np.float32), "s"), numpy_helper.from_array(zero_point, "z")]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="quantize"),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"], name="dequantize"),
        helper.make_node("Relu", ["d"], ["r"], name="relu"),
        helper.make_node("QuantizeLinear", ["r", "s", "z"], ["rq"], name="quantize_relu"),
        helper.make_node("DequantizeLinear", ["rq", "s", "z"], ["y"], name="dequantize_relu"),
    ]
    return model(nodes, parameters, outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 6, 6])])


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan")])
def test_a_qdq_scale_that_is_not_positive_is_refused(scale: float) -> None:
    refuse(_qdq(scale, np.array(0, np.int8)), ModelVerificationError,
           rf"node 'quantize' \(QuantizeLinear\): quantization with scale {scale} ")  # fmt: skip


def test_a_qdq_zero_point_outside_int8_is_refused() -> None:
    refuse(_qdq(0.5, np.array(1000, np.int16)), ModelVerificationError, "zero point 1000 outside the int8 range")


def test_a_valid_qdq_model_imports() -> None:
    import_onnx_bytes(_qdq(0.5, np.array(3, np.int8)).SerializeToString(), "qdq.onnx")


def test_a_name_that_is_not_utf8_is_refused() -> None:
    """protobuf hands such a string over as bytes, which onnx's checker cannot take."""
    data = model([helper.make_node("Relu", ["x"], ["y"], name="relu")]).SerializeToString().replace(b"Relu", b"R\xf9lu")
    with pytest.raises(UnicodeDecodeError):  # onnxruntime refuses it too (in its error message's decoding)
        ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    with pytest.raises(ModelFormatError, match="^bad.onnx: not a valid ONNX model \\(a 'op_type' field is not UTF-8 text\\)$"):
        import_onnx_bytes(data, "bad.onnx")
