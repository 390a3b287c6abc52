"""The float reference interpreter against onnxruntime, batching, and activation fusion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region, SSAValue

from npuc.context import npuc_context
from npuc.dialects import graph, npu
from npuc.dialects.common import LAYER_ATTR, constant_value
from npuc.errors import InputDataError, UnsupportedOperatorError
from npuc.passes.graph.fuse_activation import FuseActivationPass
from npuc.reference.graph_interpreter import run_graph


class FunctionBuilder:
    """Appends ops to the body of `@main` and wraps it in a verified module."""

    def __init__(self, *arg_shapes: Sequence[int]):
        self.block = Block(arg_types=[TensorType(f32, shape) for shape in arg_shapes])

    @property
    def args(self) -> tuple[SSAValue, ...]:
        return self.block.args

    def add(self, op: Operation, layer: str | None = None) -> SSAValue:
        if layer is not None:
            op.attributes[LAYER_ATTR] = StringAttr(layer)
        self.block.add_op(op)
        return op.results[0]

    def constant(self, array: np.ndarray) -> SSAValue:
        array = np.ascontiguousarray(array, dtype=np.float32)
        attr = DenseIntOrFPElementsAttr(TensorType(f32, array.shape), BytesAttr(array.tobytes()))
        return self.add(graph.ConstantOp(attr))

    def module(self, *results: SSAValue) -> ModuleOp:
        self.block.add_op(ReturnOp(*results))
        function_type = ([a.type for a in self.block.args], [r.type for r in results])
        module = ModuleOp([FuncOp("main", function_type, Region(self.block))])
        module.verify()
        return module


def f32_tensor(*shape: int) -> TensorType:
    return TensorType(f32, shape)


def conv_net(rng: np.random.Generator) -> tuple[ModuleOp, dict[str, np.ndarray]]:
    """conv+relu, depthwise+clip6, add, max/avg pool, NCHW flatten, FC+clip(-1,1).

    Returns the NHWC graph module and the (ONNX-layout) weights it was built from.
    """
    weights = {
        "conv_w": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
        "conv_b": rng.normal(size=4).astype(np.float32),
        "dw_w": rng.normal(size=(8, 1, 3, 3)).astype(np.float32),
        "dw_b": rng.normal(size=8).astype(np.float32),
        "add_c": rng.normal(size=(1, 8, 1, 1)).astype(np.float32),
        "fc_w": (0.03 * rng.normal(size=(10, 32))).astype(np.float32),
        "fc_b": (0.3 * rng.normal(size=10)).astype(np.float32),
    }
    b = FunctionBuilder((1, 8, 8, 3))
    conv = b.add(
        graph.Conv2dOp(
            b.args[0],
            b.constant(weights["conv_w"].transpose(0, 2, 3, 1)),
            b.constant(weights["conv_b"]),
            f32_tensor(1, 8, 8, 4),
            padding=(1, 1, 1, 1),
        ),
        "conv",
    )
    relu = b.add(graph.ReluOp(conv), "relu")
    depthwise = b.add(
        graph.DepthwiseConv2dOp(
            relu,
            b.constant(weights["dw_w"].transpose(1, 2, 3, 0)),
            b.constant(weights["dw_b"]),
            f32_tensor(1, 4, 4, 8),
            strides=(2, 2),
            padding=(1, 1, 0, 0),
        ),
        "dw",
    )
    clip6 = b.add(graph.ClipOp(depthwise, 0.0, 6.0), "relu6")
    added = b.add(
        graph.AddOp(
            clip6, b.constant(weights["add_c"].transpose(0, 2, 3, 1)), f32_tensor(1, 4, 4, 8)
        ),
        "add",
    )
    pooled = b.add(graph.MaxPool2dOp(added, f32_tensor(1, 2, 2, 8), (2, 2), (2, 2)), "max")
    averaged = b.add(
        graph.AvgPool2dOp(pooled, f32_tensor(1, 2, 2, 8), (3, 3), padding=(1, 1, 1, 1)), "avg"
    )
    nchw = b.add(graph.TransposeOp(averaged, f32_tensor(1, 8, 2, 2), (0, 3, 1, 2)), "to_nchw")
    flat = b.add(graph.ReshapeOp(nchw, f32_tensor(1, 32)), "flatten")
    fc = b.add(
        graph.FullyConnectedOp(
            flat, b.constant(weights["fc_w"]), b.constant(weights["fc_b"]), f32_tensor(1, 10)
        ),
        "fc",
    )
    clip1 = b.add(graph.ClipOp(fc, -1.0, 1.0), "clip")
    return b.module(clip1), weights


def onnx_conv_net(weights: dict[str, np.ndarray]) -> onnxruntime.InferenceSession:
    """The same network as `conv_net` in ONNX (NCHW), for onnxruntime."""
    nodes = [
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node(
            "Conv", ["r", "dw_w", "dw_b"], ["d"], group=4, strides=[2, 2], pads=[1, 1, 0, 0]
        ),
        helper.make_node("Clip", ["d", "zero", "six"], ["d6"]),
        helper.make_node("Add", ["d6", "add_c"], ["a"]),
        helper.make_node("MaxPool", ["a"], ["m"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node(
            "AveragePool", ["m"], ["v"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0
        ),
        helper.make_node("Flatten", ["v"], ["f"]),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["g"], transB=1),
        helper.make_node("Clip", ["g", "minus_one", "one"], ["y"]),
    ]
    scalars = {"zero": 0.0, "six": 6.0, "minus_one": -1.0, "one": 1.0}
    initializers = [numpy_helper.from_array(v, k) for k, v in weights.items()] + [
        numpy_helper.from_array(np.array(v, np.float32), k) for k, v in scalars.items()
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "net",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
            initializers,
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    onnx.checker.check_model(model)
    return onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def test_matches_onnxruntime():
    rng = np.random.default_rng(0)
    module, weights = conv_net(rng)
    session = onnx_conv_net(weights)
    nchw = rng.normal(size=(4, 3, 8, 8)).astype(np.float32)
    expected = np.concatenate([session.run(None, {"x": sample[None]})[0] for sample in nchw])
    (actual,) = run_graph(module, [nchw.transpose(0, 2, 3, 1)]).outputs
    assert actual.dtype == np.float32 and actual.shape == (4, 10)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
    # the final clip(-1, 1) both clamps and passes values through
    assert np.any(np.abs(expected) == 1.0) and np.any(np.abs(expected) < 0.9)


def test_batch_of_n_equals_n_separate_runs():
    rng = np.random.default_rng(1)
    module, _ = conv_net(rng)
    batch = rng.normal(size=(5, 8, 8, 3)).astype(np.float32)
    (batched,) = run_graph(module, [batch]).outputs
    assert batched.shape == (5, 10)
    separate = np.concatenate([run_graph(module, [sample[None]]).outputs[0] for sample in batch])
    np.testing.assert_allclose(batched, separate, rtol=1e-6, atol=1e-6)


def test_keep_values_records_every_value_of_main():
    rng = np.random.default_rng(2)
    module, _ = conv_net(rng)
    batch = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    execution = run_graph(module, [batch], keep_values=True)
    func = module.ops.first
    assert isinstance(func, FuncOp)
    body = func.body.block
    expected = {*body.args, *(op.results[0] for op in body.ops if op.results)}
    assert set(execution.values) == expected
    relu = next(op for op in body.ops if isinstance(op, graph.ReluOp))
    assert execution.values[relu.output].shape == (2, 8, 8, 4)
    assert execution.values[relu.output].min() == 0.0
    assert run_graph(module, [batch]).values == {}


def test_constant_value_decodes_without_copy():
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    attr = DenseIntOrFPElementsAttr(TensorType(f32, [2, 3]), BytesAttr(data.tobytes()))
    decoded = constant_value(attr)
    np.testing.assert_array_equal(decoded, data)
    assert decoded.dtype == np.float32 and not decoded.flags.owndata


def test_wrong_input_shape_names_the_input():
    module, _ = conv_net(np.random.default_rng(3))
    with pytest.raises(InputDataError, match=r"input 'argument 0' has shape \[1, 8, 8, 4\]"):
        run_graph(module, [np.zeros((1, 8, 8, 4), np.float32)])
    with pytest.raises(InputDataError, match="takes 1 input"):
        run_graph(module, [])


def test_op_without_reference_names_op_and_layer():
    b = FunctionBuilder((1, 4))
    staged = b.add(npu.StageOp(b.args[0], "sram"), "copy_in")
    module = b.module(staged)
    with pytest.raises(UnsupportedOperatorError, match=r"copy_in \(npu.stage\)"):
        run_graph(module, [np.zeros((1, 4), np.float32)])


# --- graph-fuse-activation keeps results ------------------------------------


def fusable_net(rng: np.random.Generator) -> ModuleOp:
    """Every fusing op followed by a standalone clamp, plus chains and a shared producer."""
    b = FunctionBuilder((1, 6, 6, 3), (1, 6, 6, 4))
    x, y = b.args
    conv = b.add(
        graph.Conv2dOp(
            x,
            b.constant(rng.normal(size=(4, 3, 3, 3))),
            b.constant(rng.normal(size=4)),
            f32_tensor(1, 6, 6, 4),
            padding=(1, 1, 1, 1),
        ),
        "conv",
    )
    relu = b.add(graph.ReluOp(conv), "relu")
    relu6 = b.add(graph.ClipOp(relu, 0.0, 6.0), "relu6")  # composes into relu6
    depthwise = b.add(
        graph.DepthwiseConv2dOp(
            relu6,
            b.constant(rng.normal(size=(1, 3, 3, 4))),
            b.constant(rng.normal(size=4)),
            f32_tensor(1, 6, 6, 4),
            padding=(1, 1, 1, 1),
        ),
        "dw",
    )
    dw_clip = b.add(graph.ClipOp(depthwise, -1.0, 1.0), "dw_clip")
    added = b.add(graph.AddOp(dw_clip, y, f32_tensor(1, 6, 6, 4)), "add")
    add_relu = b.add(graph.ClipOp(added, 0.0, float("inf")), "add_relu")
    pooled = b.add(graph.MaxPool2dOp(add_relu, f32_tensor(1, 3, 3, 4), (2, 2), (2, 2)), "max")
    pool_relu = b.add(graph.ReluOp(pooled), "max_relu")
    averaged = b.add(
        graph.AvgPool2dOp(pool_relu, f32_tensor(1, 3, 3, 4), (3, 3), padding=(1, 1, 1, 1)), "avg"
    )
    shared = b.add(graph.ReluOp(averaged), "shared_relu")  # averaged has two users
    flat = b.add(graph.ReshapeOp(averaged, f32_tensor(1, 36)), "flatten")
    fc = b.add(
        graph.FullyConnectedOp(
            flat, b.constant(rng.normal(size=(5, 36))), b.constant(rng.normal(size=5)),
            f32_tensor(1, 5),
        ),
        "fc",
    )  # fmt: skip
    fc_clip = b.add(graph.ClipOp(fc, 0.0, 5.0), "clip05")  # not an activation
    return b.module(shared, fc_clip)


def test_fusion_preserves_results():
    rng = np.random.default_rng(4)
    module = fusable_net(rng)
    inputs = [
        rng.normal(size=(3, 6, 6, 3)).astype(np.float32),
        rng.normal(size=(3, 6, 6, 4)).astype(np.float32),
    ]
    before = run_graph(module, inputs).outputs
    FuseActivationPass().apply(npuc_context(), module)
    module.verify()
    after = run_graph(module, inputs).outputs
    for expected, actual in zip(before, after, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)

    activations = {
        op.attributes[LAYER_ATTR].data: op.activation.data
        for op in module.walk()
        if hasattr(op, "activation")
    }
    assert activations == {
        "conv": "relu6",
        "dw": "relu_n1_to_1",
        "add": "relu",
        "max": "relu",
        "avg": "none",
        "fc": "none",
    }
    standalone = [
        op.attributes[LAYER_ATTR].data
        for op in module.walk()
        if isinstance(op, graph.ReluOp | graph.ClipOp)
    ]
    assert standalone == ["shared_relu", "clip05"]
