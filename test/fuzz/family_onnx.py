"""Structure-aware ONNX mutations: bad attributes, input counts, initializers, names, opsets, outputs.

Each case is a small model built from `seeds.conv_model` (or a few nodes of
its own) with one thing wrong; onnxruntime decides whether it is invalid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fuzz.case import Case
from fuzz.family_bytes import model_case
from fuzz.seeds import CONV_INPUT, conv_model, graph_model

INT_EDGES = (0, -1, -3, 2**31 - 1, 2**63 - 1)
"""Integer attribute values that are out of range for every window attribute."""

ISSUE_CASES = frozenset({
    "conv-group-0", "conv-group-string", "conv-inputs-5", "relu-inputs-2", "input-name-empty",
    "weight-dims-negative", "opset-99", "output-unproduced", "weight-raw-short", "weight-no-data",
    "weight-type-undefined", "weight-type-string", "weight-type-unknown", "external-no-location",
    "external-absolute", "external-parent", "node-name-newline", "quantize-add-0d",
    "quantize-batchnorm-negative-variance", "quantize-output-initializer", "qdq-scale-0", "qdq-scale-negative",
    "qdq-scale-nan",
})  # fmt: skip
"""The cases issue 14 names."""


def cases(seed: int) -> Iterator[Case]:
    """Every structure-aware ONNX case (`seed` is unused: the cases are enumerated, not drawn)."""
    del seed
    for name, build in _mutants():
        model = build()
        files = model if isinstance(model, dict) else {"model.onnx": model.SerializeToString()}
        yield model_case("onnx-structure", name, files, issue=name in ISSUE_CASES)


def _mutants() -> Iterator[tuple[str, Callable[[], onnx.ModelProto | dict[str, bytes]]]]:
    yield from _attribute_mutants()
    yield from _arity_mutants()
    yield from _initializer_mutants()
    yield from _name_and_version_mutants()
    yield from _other_op_mutants()
    yield from _quantizer_mutants()
    yield from _qdq_mutants()


def _attribute_mutants():
    for value in (*INT_EDGES, 2, 3, "1", 1.5, [1, 1]):
        yield f"conv-group-{_label(value)}", lambda value=value: conv_model(group=value)
    for attribute in ("strides", "kernel_shape", "dilations"):
        for value in (*INT_EDGES, 2):
            yield f"conv-{attribute}-{_label(value)}", lambda a=attribute, v=value: conv_model(**{a: [v, 1]})
        yield f"conv-{attribute}-rank1", lambda a=attribute: conv_model(**{a: [1]})
        yield f"conv-{attribute}-rank3", lambda a=attribute: conv_model(**{a: [1, 1, 1]})
        yield f"conv-{attribute}-string", lambda a=attribute: conv_model(**{a: "1"})
    for value in (-1, 2**31 - 1, 100):
        yield f"conv-pads-{_label(value)}", lambda v=value: conv_model(pads=[v, 0, v, 0])
    yield "conv-pads-rank2", lambda: conv_model(pads=[1, 1])
    yield "conv-auto-pad-unknown", lambda: conv_model(auto_pad="FOO")
    yield "conv-auto-pad-with-pads", lambda: conv_model(auto_pad="SAME_UPPER")
    yield "conv-unknown-attribute", lambda: conv_model(foo=1)


def _arity_mutants():
    for count in (1, 4, 5):
        yield f"conv-inputs-{count}", lambda count=count: _with_node_inputs(conv_model(), 0, count)
    yield "relu-inputs-2", lambda: _with_node_inputs(conv_model(), 1, 2)
    yield "relu-inputs-0", lambda: _with_node_inputs(conv_model(), 1, 0)
    yield "conv-outputs-0", lambda: _with_node_outputs(conv_model(), 0, [])
    yield "conv-outputs-2", lambda: _with_node_outputs(conv_model(), 0, ["conv", "extra"])
    yield "conv-input-missing", lambda: _renamed_input(conv_model(), 0, 0, "nowhere")
    yield "conv-input-empty", lambda: _renamed_input(conv_model(), 0, 0, "")


def _initializer_mutants():
    yield "weight-raw-short", lambda: _with_weight(lambda w: setattr(w, "raw_data", w.raw_data[:20]))
    yield "weight-raw-long", lambda: _with_weight(lambda w: setattr(w, "raw_data", w.raw_data * 2))
    yield "weight-no-data", lambda: _with_weight(lambda w: w.ClearField("raw_data"))
    for code, label in ((TensorProto.UNDEFINED, "undefined"), (TensorProto.STRING, "string"), (99, "unknown"),
                        (TensorProto.INT8, "int8"), (TensorProto.FLOAT16, "float16"),
                        (TensorProto.COMPLEX64, "complex64"), (TensorProto.BOOL, "bool")):
        yield f"weight-type-{label}", lambda code=code: _with_weight(lambda w: setattr(w, "data_type", code))
    for dims, label in (([-8], "negative"), ([4, 3, 3, -3], "negative-last"), ([0, 3, 3, 3], "zero"),
                        ([4, 3, 3], "rank3"), ([1 << 40, 3, 3, 3], "huge"), ([4, 3, 3, 3, 1], "rank5")):
        yield f"weight-dims-{label}", lambda dims=dims: _with_weight(lambda w: _set_dims(w, dims))
    yield "weight-float-data-short", lambda: _with_weight(_float_data_short)
    yield "bias-segment", lambda: _with_initializer(1, lambda b: b.segment.__setattr__("begin", 1))
    yield "external-no-location", lambda: _external([])
    yield "external-absolute", lambda: _external([("location", "/etc/hostname")])
    yield "external-parent", lambda: _external([("location", "../weights.bin")])
    yield "external-missing-file", lambda: _external([("location", "missing.bin")])
    yield "external-offset-beyond", lambda: _external([("location", "weights.bin"), ("offset", "1000000")])
    yield "external-length-short", lambda: _external([("location", "weights.bin"), ("length", "8")])
    yield "external-offset-negative", lambda: _external([("location", "weights.bin"), ("offset", "-4")])
    yield "external-offset-text", lambda: _external([("location", "weights.bin"), ("offset", "x")])
    yield "external-location-directory", lambda: _external([("location", ".")])
    yield "duplicate-initializer", lambda: _duplicate_initializer(conv_model())


def _name_and_version_mutants():
    yield "input-name-empty", lambda: _renamed_graph_input(conv_model(), "")
    yield "input-name-newline", lambda: _renamed_graph_input(conv_model(), "in\nput")
    yield "node-name-newline", lambda: _renamed_node(conv_model(auto_pad="FOO"), 0, "conv\nlayer\r\x1b[31m")
    yield "node-name-long", lambda: _renamed_node(conv_model(), 0, "c" * 10_000)
    yield "node-name-empty", lambda: _renamed_node(conv_model(), 0, "")
    yield "output-name-newline", lambda: _renamed_output(conv_model(), "out\nput")
    yield "duplicate-node-output", lambda: _with_node_outputs(conv_model(), 1, ["conv"])
    for opset in (99, 0, 1, 6):
        yield f"opset-{opset}", lambda opset=opset: _with_opset(conv_model(), opset)
    yield "opset-missing", lambda: _without_opsets(conv_model())
    yield "ir-version-99", lambda: _with_ir_version(conv_model(), 99)
    yield "ir-version-0", lambda: _with_ir_version(conv_model(), 0)
    yield "unknown-domain", lambda: _with_domain(conv_model(), "com.example")
    yield "unknown-op", lambda: _with_op_type(conv_model(), 1, "Frobnicate")
    yield "output-unproduced", lambda: _with_extra_output(conv_model(), "nothing")
    yield "output-is-input", lambda: _with_extra_output(conv_model(), "input")
    yield "no-outputs", lambda: _without_outputs(conv_model())
    yield "no-nodes", lambda: _without_nodes(conv_model())
    yield "cycle", lambda: _renamed_input(conv_model(), 0, 0, "output")
    for dims, label in (((1, 3, 0, 8), "zero"), ((1, 3, -8, 8), "negative"), ((1, 3, 8), "rank3"),
                        ((1, 3, 1, 1, 1, 8, 8), "rank7"), ((2**31 - 1, 3, 8, 8), "huge-batch")):
        yield f"input-shape-{label}", lambda dims=dims: _with_input_shape(conv_model(), dims)
    for code, label in ((TensorProto.STRING, "string"), (TensorProto.INT64, "int64"), (0, "undefined")):
        yield f"input-type-{label}", lambda code=code: _with_input_type(conv_model(), code)


def _other_op_mutants():
    shape = (1, 2, 4, 4)
    for op_type, attributes, extra, label in (
        ("MaxPool", {"kernel_shape": [0, 0]}, (), "maxpool-kernel-0"),
        ("MaxPool", {"kernel_shape": [2, 2], "strides": [0, 0]}, (), "maxpool-strides-0"),
        ("MaxPool", {"kernel_shape": [9, 9]}, (), "maxpool-kernel-beyond"),
        ("AveragePool", {"kernel_shape": [-2, 2]}, (), "avgpool-kernel-negative"),
        ("AveragePool", {"kernel_shape": [2, 2], "pads": [5, 5, 5, 5]}, (), "avgpool-pads-beyond-kernel"),
        ("Softmax", {"axis": 10}, (), "softmax-axis-10"),
        ("Flatten", {"axis": -9}, (), "flatten-axis-negative"),
        ("Concat", {"axis": 7}, ("x",), "concat-axis-7"),
        ("Concat", {}, ("x",), "concat-no-axis"),
        ("Transpose", {"perm": [0, 0, 1, 2]}, (), "transpose-perm-repeat"),
        ("Transpose", {"perm": [0, 1]}, (), "transpose-perm-short"),
        ("LeakyRelu", {"alpha": float("nan")}, (), "leakyrelu-alpha-nan"),
        ("Clip", {}, ("lo", "hi"), "clip-reversed"),
        ("DepthToSpace", {"blocksize": 0}, (), "depthtospace-block-0"),
        ("SpaceToDepth", {"blocksize": 3}, (), "spacetodepth-block-3"),
        ("Split", {"axis": 1}, ("sizes",), "split-sizes-mismatch"),
        ("Gather", {"axis": 1}, ("index",), "gather-index-beyond"),
        ("Reshape", {}, ("newshape",), "reshape-two-minus-one"),
        ("Slice", {}, ("starts", "ends", "axes", "steps"), "slice-step-0"),
        ("ReduceMean", {"axes": [9]}, (), "reducemean-axis-9"),
        ("LRN", {"size": 0}, (), "lrn-size-0"),
    ):
        yield label, lambda o=op_type, a=attributes, e=extra: _single_op(o, a, e, shape)


SINGLE_OP_CONSTANTS: dict[str, np.ndarray] = {
    "x": np.zeros((1, 2, 4, 4), np.float32),
    "lo": np.array(6.0, np.float32),
    "hi": np.array(-6.0, np.float32),
    "sizes": np.array([3, 3], np.int64),
    "index": np.array([5], np.int64),
    "newshape": np.array([-1, -1], np.int64),
    "starts": np.array([0], np.int64),
    "ends": np.array([4], np.int64),
    "axes": np.array([2], np.int64),
    "steps": np.array([0], np.int64),
}
"""The constant extra inputs `_other_op_mutants` gives an operator, by name."""


def _single_op(op_type: str, attributes: dict, extra: tuple[str, ...], shape) -> onnx.ModelProto:
    """`op_type` on one input of `shape`, with constant extra inputs, opset 11 for old-style attributes."""
    node = helper.make_node(op_type, ["input", *extra], ["output"], name=op_type.lower(), **attributes)
    initializers = [numpy_helper.from_array(SINGLE_OP_CONSTANTS[name], name) for name in extra]
    opset = 11 if op_type in ("ReduceMean", "Split") else 13
    if op_type == "Split":
        node = helper.make_node(op_type, ["input"], ["out0", "out1"], name="split", axis=1, split=[3, 3])
        initializers = []
        outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("out0", "out1")]
    else:
        outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)]
    return graph_model([node], [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)], outputs,
                       initializers, opset)


def _quantizer_mutants():
    yield "quantize-add-0d", lambda: _scalar_add()
    yield "quantize-batchnorm-negative-variance", lambda: _batch_norm(variance=-1.0)
    yield "quantize-batchnorm-nan-mean", lambda: _batch_norm(mean=float("nan"))
    yield "quantize-output-initializer", lambda: _with_extra_output(conv_model(), "bias")
    yield "quantize-weights-nan", lambda: _with_weight(lambda w: _fill(w, float("nan")))
    yield "quantize-weights-inf", lambda: _with_weight(lambda w: _fill(w, float("inf")))
    yield "quantize-weights-zero", lambda: _with_weight(lambda w: _fill(w, 0.0))
    yield "quantize-weights-huge", lambda: _with_weight(lambda w: _fill(w, 3e38))


def _qdq_mutants():
    yield "qdq-valid", lambda: _qdq_model()
    for scale, label in ((0.0, "0"), (-0.05, "negative"), (float("nan"), "nan"), (float("inf"), "inf"),
                         (1e-45, "subnormal")):
        yield f"qdq-scale-{label}", lambda scale=scale: _qdq_model(scale=scale)
    yield "qdq-zero-point-int32", lambda: _qdq_model(zero_point=np.array(300, np.int32))
    yield "qdq-zero-point-vector", lambda: _qdq_model(zero_point=np.array([0, 0], np.int8))


def _qdq_model(scale: float = 0.05, zero_point: np.ndarray | None = None) -> onnx.ModelProto:
    """input -> Q/DQ (`scale`, `zero_point`) -> Relu -> Q/DQ (0.05, 0) -> output: a QDQ model."""
    zero_point = np.array(0, np.int8) if zero_point is None else zero_point
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "scale", "zero_point"], ["q"], name="quantize"),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero_point"], ["dq"], name="dequantize"),
        helper.make_node("Relu", ["dq"], ["relu"], name="relu"),
        helper.make_node("QuantizeLinear", ["relu", "out_scale", "out_zero_point"], ["q2"], name="quantize_out"),
        helper.make_node("DequantizeLinear", ["q2", "out_scale", "out_zero_point"], ["output"], name="dequantize_out"),
    ]
    initializers = [numpy_helper.from_array(np.array(scale, np.float32), "scale"),
                    numpy_helper.from_array(zero_point, "zero_point"),
                    numpy_helper.from_array(np.array(0.05, np.float32), "out_scale"),
                    numpy_helper.from_array(np.array(0, np.int8), "out_zero_point")]
    return graph_model(nodes, [helper.make_tensor_value_info("input", TensorProto.FLOAT, CONV_INPUT)],
                       [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], initializers)


def _label(value) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    return {2**31 - 1: "int32-max", 2**63 - 1: "int64-max"}.get(value, str(value).replace("-", "minus"))


def _with_node_inputs(model: onnx.ModelProto, node: int, count: int) -> onnx.ModelProto:
    inputs = list(model.graph.node[node].input)
    while len(inputs) < count:
        inputs.append(inputs[-1] if inputs else "input")
    del model.graph.node[node].input[:]
    model.graph.node[node].input.extend(inputs[:count])
    return model


def _with_node_outputs(model: onnx.ModelProto, node: int, outputs: list[str]) -> onnx.ModelProto:
    del model.graph.node[node].output[:]
    model.graph.node[node].output.extend(outputs)
    return model


def _renamed_input(model: onnx.ModelProto, node: int, position: int, name: str) -> onnx.ModelProto:
    model.graph.node[node].input[position] = name
    return model


def _initializer(model: onnx.ModelProto, index: int) -> onnx.TensorProto:
    return model.graph.initializer[index]


def _with_initializer(index: int, change) -> onnx.ModelProto:
    model = conv_model()
    change(_initializer(model, index))
    return model


def _with_weight(change) -> onnx.ModelProto:
    return _with_initializer(0, change)


def _set_dims(tensor: onnx.TensorProto, dims: list[int]) -> None:
    del tensor.dims[:]
    tensor.dims.extend(dims)


def _float_data_short(tensor: onnx.TensorProto) -> None:
    tensor.ClearField("raw_data")
    tensor.float_data.extend([1.0, 2.0])


def _fill(tensor: onnx.TensorProto, value: float) -> None:
    array = numpy_helper.to_array(tensor)
    tensor.raw_data = np.full_like(array, value).tobytes()


def _external(entries: list[tuple[str, str]]) -> dict[str, bytes]:
    """The conv model with its weight in external data described by `entries`, and `weights.bin` beside it."""
    model = conv_model()
    weight = _initializer(model, 0)
    data = weight.raw_data
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in entries:
        weight.external_data.add(key=key, value=value)
    return {"model.onnx": model.SerializeToString(), "weights.bin": data}


def _duplicate_initializer(model: onnx.ModelProto) -> onnx.ModelProto:
    copy = model.graph.initializer.add()
    copy.CopyFrom(model.graph.initializer[1])
    copy.raw_data = copy.raw_data[:4]
    del copy.dims[:]
    copy.dims.append(1)
    return model


def _renamed_graph_input(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    model.graph.input[0].name = name
    model.graph.node[0].input[0] = name
    return model


def _renamed_node(model: onnx.ModelProto, node: int, name: str) -> onnx.ModelProto:
    model.graph.node[node].name = name
    return model


def _renamed_output(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    model.graph.output[0].name = name
    model.graph.node[-1].output[0] = name
    return model


def _with_opset(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    model.opset_import[0].version = opset
    return model


def _without_opsets(model: onnx.ModelProto) -> onnx.ModelProto:
    del model.opset_import[:]
    return model


def _with_ir_version(model: onnx.ModelProto, version: int) -> onnx.ModelProto:
    model.ir_version = version
    return model


def _with_domain(model: onnx.ModelProto, domain: str) -> onnx.ModelProto:
    model.graph.node[1].domain = domain
    return model


def _with_op_type(model: onnx.ModelProto, node: int, op_type: str) -> onnx.ModelProto:
    model.graph.node[node].op_type = op_type
    return model


def _with_extra_output(model: onnx.ModelProto, name: str) -> onnx.ModelProto:
    model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return model


def _without_outputs(model: onnx.ModelProto) -> onnx.ModelProto:
    del model.graph.output[:]
    return model


def _without_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    del model.graph.node[:]
    return model


def _with_input_shape(model: onnx.ModelProto, dims) -> onnx.ModelProto:
    model.graph.input[0].CopyFrom(helper.make_tensor_value_info("input", TensorProto.FLOAT, dims))
    return model


def _with_input_type(model: onnx.ModelProto, code: int) -> onnx.ModelProto:
    model.graph.input[0].type.tensor_type.elem_type = code
    return model


def _scalar_add() -> onnx.ModelProto:
    """A 0-D Add of the input and a constant, then Relu (issue 14: the quantizer's ValueError)."""
    nodes = [helper.make_node("Add", ["input", "one"], ["sum"], name="add"),
             helper.make_node("Relu", ["sum"], ["output"], name="relu")]
    return graph_model(nodes, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ())],
                       [helper.make_tensor_value_info("output", TensorProto.FLOAT, ())],
                       [numpy_helper.from_array(np.array(1.0, np.float32), "one")])


def _batch_norm(variance: float = 1.0, mean: float = 0.0) -> onnx.ModelProto:
    """The conv model's input through a BatchNormalization with the given variance and mean."""
    channels = CONV_INPUT[1]
    parameters = {"scale": 1.0, "shift": 0.0, "mean": mean, "variance": variance}
    nodes = [helper.make_node("BatchNormalization", ["input", *parameters], ["output"], name="batch_norm")]
    initializers = [numpy_helper.from_array(np.full(channels, value, np.float32), name)
                    for name, value in parameters.items()]
    return graph_model(nodes, [helper.make_tensor_value_info("input", TensorProto.FLOAT, CONV_INPUT)],
                       [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], initializers)
