"""The graph rewrite passes keep numerics: every pass on small ONNX models, before vs after.

The models mirror what tf2onnx and PyTorch exports contain (transpose pairs
around a conv, a BatchNorm the importer cannot fold, Pad before Conv,
ReduceMean over H and W, Clip after elementwise ops). Each pass runs alone
and as part of the pipeline; the float reference must agree within 1e-5
relative, the module must verify, and every layer op must keep a `layer`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from onnx import helper
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

import npuc
from npuc.context import npuc_context
from npuc.dialects import graph
from npuc.dialects.common import LAYER_ATTR, layer_name
from npuc.importers.onnx.importer import import_onnx_bytes
from npuc.ir import main_function
from npuc.passes import GRAPH_OPTIMISATION_PIPELINE
from npuc.reference.graph_interpreter import run_graph

from support.onnx_models import make_model

PIPELINE = GRAPH_OPTIMISATION_PIPELINE
TOLERANCE = 1e-5
rng = np.random.default_rng(11)


def weights(*shape: int, scale: float = 0.5) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _tf2onnx_conv() -> bytes:
    """NHWC input transposed to NCHW, Conv, BatchNorm, Relu, transposed back (tf2onnx's form)."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "t", "m", "v"], ["n"], name="bn"),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("Transpose", ["r"], ["y"], name="to_nhwc", perm=[0, 2, 3, 1]),
    ]
    initializers = {
        "w": weights(4, 3, 3, 3), "b": weights(4), "s": weights(4) + 1, "t": weights(4),
        "m": weights(4), "v": np.abs(weights(4)) + 0.5,
    }
    return make_model(nodes, {"x": [1, 6, 6, 3]}, {"y": [1, 6, 6, 4]}, initializers)


def _batch_norm_after_relu() -> bytes:
    """Conv, Relu, then a BatchNorm the importer cannot fold into the conv."""
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("BatchNormalization", ["r", "s", "t", "m", "v"], ["n"], name="bn"),
        helper.make_node("Conv", ["n", "w2", "b2"], ["c2"], name="conv2"),
        helper.make_node("Mul", ["c2", "k"], ["y"], name="scale"),
    ]
    initializers = {
        "w": weights(4, 2, 1, 1), "b": weights(4), "s": weights(4) + 1, "t": weights(4),
        "m": weights(4), "v": np.abs(weights(4)) + 0.5, "w2": weights(3, 4, 3, 3), "b2": weights(3),
        "k": weights(1, 3, 1, 1) + 1,
    }
    return make_model(nodes, {"x": [1, 2, 5, 5]}, {"y": None}, initializers)


def _pad_before_conv() -> bytes:
    """Explicit zero Pad before a Conv and a depthwise Conv, Clip(0, 6) after (PyTorch's form)."""
    pads = np.array([0, 0, 1, 2, 0, 0, 1, 0], dtype=np.int64)
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], name="pad", mode="constant"),
        helper.make_node("Conv", ["p", "w", "b"], ["c"], name="conv", strides=[2, 2]),
        helper.make_node("Pad", ["c", "pads"], ["q"], name="pad2", mode="constant"),
        helper.make_node("Conv", ["q", "dw", "db"], ["d"], name="dw", group=4),
        helper.make_node("Clip", ["d", "lo", "hi"], ["y"], name="relu6"),
    ]
    initializers = {
        "pads": pads, "w": weights(4, 3, 3, 3), "b": weights(4), "dw": weights(4, 1, 3, 3),
        "db": weights(4), "lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32),
    }
    return make_model(nodes, {"x": [1, 3, 8, 8]}, {"y": None}, initializers)


def _reduce_mean_head() -> bytes:
    """ReduceMean over H and W (keepdims 0), then Gemm and a Sub/Max/Min tail with Relu."""
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
        helper.make_node("ReduceMean", ["c"], ["m"], name="gap", axes=[2, 3], keepdims=0),
        helper.make_node("Gemm", ["m", "f", "g"], ["fc"], name="fc", transB=1),
        helper.make_node("Sub", ["fc", "k"], ["s"], name="sub"),
        helper.make_node("Relu", ["s"], ["r"], name="relu"),
        helper.make_node("Max", ["r", "k"], ["mx"], name="max"),
        helper.make_node("Min", ["mx", "fc"], ["y"], name="min"),
    ]
    initializers = {"w": weights(4, 2, 3, 3), "b": weights(4), "f": weights(5, 4), "g": weights(5), "k": weights(5)}
    return make_model(nodes, {"x": [1, 2, 6, 6]}, {"y": None}, initializers)


MODELS = {
    "tf2onnx_conv": _tf2onnx_conv,
    "batch_norm_after_relu": _batch_norm_after_relu,
    "pad_before_conv": _pad_before_conv,
    "reduce_mean_head": _reduce_mean_head,
}

TRANSPOSES = """
func.func @main(%x: tensor<1x2x3x4xf32>, %y: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %t = graph.transpose %x {layer = "t", perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %s = graph.sigmoid %t {layer = "s"} : tensor<1x4x2x3xf32> -> tensor<1x4x2x3xf32>
  %c = graph.constant dense<[[[0.5]], [[-1.0]], [[2.0]], [[3.0]]]> : tensor<4x1x1xf32>
  %m = graph.mul %s, %c {layer = "m", activation = "none"} : (tensor<1x4x2x3xf32>, tensor<4x1x1xf32>) -> tensor<1x4x2x3xf32>
  %u = graph.transpose %y {layer = "u", perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %a = graph.sub %m, %u {layer = "a", activation = "none"} : (tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>) -> tensor<1x4x2x3xf32>
  %b = graph.transpose %a {layer = "b", perm = array<i64: 0, 2, 3, 1>} : tensor<1x4x2x3xf32> -> tensor<1x2x3x4xf32>
  func.return %b : tensor<1x2x3x4xf32>
}
"""


def build(name: str) -> ModuleOp:
    if name == "transposes":
        module = Parser(npuc_context(), TRANSPOSES).parse_module()
        module.verify()
        return module
    return import_onnx_bytes(MODELS[name](), name)


def random_inputs(module: ModuleOp) -> list[np.ndarray]:
    return [
        rng.standard_normal(argument.type.get_shape()).astype(np.float32)
        for argument in main_function(module).body.block.args
    ]


def relative_difference(after: list[np.ndarray], before: list[np.ndarray]) -> float:
    scale = max(float(np.max(np.abs(b))) for b in before)
    return max(float(np.max(np.abs(a - b))) for a, b in zip(after, before)) / scale


def op_counts(module: ModuleOp) -> Counter[str]:
    return Counter(op.name for op in main_function(module).body.block.ops)


def assert_layers_kept(module: ModuleOp) -> None:
    unnamed = [
        op.name
        for op in main_function(module).body.block.ops
        if op.name not in ("graph.constant", "func.return") and LAYER_ATTR not in op.attributes
    ]
    assert not unnamed


ALL_MODELS = [*MODELS, "transposes"]


@pytest.mark.parametrize("pass_name", PIPELINE)
@pytest.mark.parametrize("model", ALL_MODELS)
def test_pass_keeps_numerics(model: str, pass_name: str) -> None:
    module = build(model)
    inputs = random_inputs(module)
    before = run_graph(module, inputs).outputs
    npuc.run_pipeline(module, pass_name)
    assert relative_difference(run_graph(module, inputs).outputs, before) <= TOLERANCE
    assert_layers_kept(module)


@pytest.mark.parametrize("model", ALL_MODELS)
def test_pipeline_keeps_numerics_and_leaves_no_standalone_ops(model: str) -> None:
    module = build(model)
    inputs = random_inputs(module)
    before = run_graph(module, inputs).outputs
    npuc.run_pipeline(module, ",".join(PIPELINE))
    assert relative_difference(run_graph(module, inputs).outputs, before) <= TOLERANCE
    assert_layers_kept(module)
    counts = op_counts(module)
    for name in ("graph.transpose", "graph.pad", "graph.reduce", "graph.relu", "graph.clip"):
        assert counts[name] == 0, (name, counts)


def test_batch_norm_after_conv_folds_into_it() -> None:
    module = build("batch_norm_after_relu")
    npuc.run_pipeline(module, "graph-fold-scale")
    counts = op_counts(module)
    # The BatchNorm after the relu stays (mul, add); the Mul after conv2 folds.
    assert (counts["graph.mul"], counts["graph.add"], counts["graph.conv2d"]) == (1, 1, 2)


def test_transpose_sinking_removes_every_transpose() -> None:
    module = build("transposes")
    npuc.run_pipeline(module, "graph-canonicalize")
    assert op_counts(module)["graph.transpose"] == 0


def _pads_before_max_pools() -> bytes:
    """Two pads before 2x2 max pools over mostly negative values: one of zeros, one of -FLT_MAX."""
    pads = np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64)
    nodes = [
        helper.make_node("Sub", ["x", "shift"], ["s"], name="shift"),
        helper.make_node("Pad", ["s", "pads", "zero"], ["z"], name="zero_pad", mode="constant"),
        helper.make_node("MaxPool", ["z"], ["y"], name="zero_pool", kernel_shape=[2, 2]),
        helper.make_node("Pad", ["s", "pads", "lowest"], ["n"], name="lowest_pad", mode="constant"),
        helper.make_node("MaxPool", ["n"], ["y2"], name="lowest_pool", kernel_shape=[2, 2]),
    ]
    initializers = {
        "shift": np.array(3.0, np.float32), "pads": pads, "zero": np.array(0.0, np.float32),
        "lowest": np.array(np.finfo(np.float32).min, np.float32),
    }
    return make_model(nodes, {"x": [1, 2, 4, 4]}, {"y": None, "y2": None}, initializers)


def test_only_a_lowest_value_pad_folds_into_a_max_pool() -> None:
    # Max pooling pads with the lowest value: a zero pad folded into the pool's padding
    # would turn the border maxima of negative values into 0.
    module = import_onnx_bytes(_pads_before_max_pools(), "pads.onnx")
    inputs = random_inputs(module)
    before = run_graph(module, inputs).outputs
    assert (before[0] == 0).any() and (before[1] < 0).all()
    npuc.run_pipeline(module, "graph-fuse-pad")
    assert relative_difference(run_graph(module, inputs).outputs, before) == 0
    pads = [op for op in main_function(module).body.ops if isinstance(op, graph.PadOp)]
    assert [layer_name(op) for op in pads] == ["zero_pad"]
