"""CNN forms PyTorch exports, built here with onnx.helper: a 1-D keyword-spotting CNN and a grouped convolution.

Each imports, runs in float as onnxruntime does, and after quantization for
ethos-u55-128 keeps its activations fused into the layers (so the NPU runs them).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import npuc.api
from npuc.importers.onnx.importer import import_onnx_bytes
from npuc.passes import GRAPH_OPTIMISATION_PIPELINE

from support.onnx_import import layer_ops, op_names
from support.onnx_models import make_model, max_error_against_onnxruntime

rng = np.random.default_rng(16)


def normal(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def kws_cnn(pool: str) -> bytes:
    """Conv1d, BatchNorm1d, ReLU, Conv1d, ReLU, a global pool over time (`pool`), Linear; input 1x40x49."""
    initializers = {
        "w1": normal(16, 40, 3, scale=0.2), "b1": normal(16), "w2": normal(16, 16, 3, scale=0.2), "b2": normal(16),
        "gamma": np.abs(normal(16)) + 0.5, "beta": normal(16), "mean": normal(16, scale=0.1),
        "var": np.abs(normal(16)) + 0.5, "fc_w": normal(16, 12, scale=0.3), "fc_b": normal(12),
        "time": np.array([2], np.int64), "flat": np.array([1, 16], np.int64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1]),
        helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["n1"], name="bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", strides=[2]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node(pool, ["r2", "time"] if pool == "ReduceMean" else ["r2"], ["p"], name="pool"),
        helper.make_node("Reshape", ["p", "flat"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], name="fc"),
    ]
    if pool != "ReduceMean":
        del initializers["time"]
    return make_model(nodes, {"x": (1, 40, 49)}, {"y": (1, 12)}, initializers, opset=18)


def grouped_block(batch_norm: bool) -> bytes:
    """A RegNet-like block: conv, relu, grouped 3x3 conv (2 groups), [batch norm,] relu, 1x1 conv.

    torch.onnx.export folds the batch norm into the convolution; the dynamo exporter keeps it."""
    initializers = {
        "w0": normal(16, 3, 3, 3, scale=0.3), "b0": normal(16), "w1": normal(16, 8, 3, 3, scale=0.2),
        "b1": normal(16), "w2": normal(8, 16, 1, 1, scale=0.3), "b2": normal(8),
        "gamma": np.abs(normal(16)) + 0.5, "beta": normal(16), "mean": normal(16, scale=0.1),
        "var": np.abs(normal(16)) + 0.5,
    }
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c0"], ["r0"], name="stem_relu"),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], name="grouped", group=2, pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "gamma", "beta", "mean", "var"], ["n1"], name="bn"),
        helper.make_node("Relu", ["n1" if batch_norm else "c1"], ["r1"], name="grouped_relu"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["y"], name="project"),
    ]
    if not batch_norm:
        del nodes[3]
    return make_model(nodes, {"x": (1, 3, 16, 16)}, {"y": (1, 8, 16, 16)}, initializers)


def optimised_ops(model: bytes) -> list[str]:
    """The op names of @main after the graph passes a compile runs."""
    module = import_onnx_bytes(model, "model.onnx")
    npuc.api.run_pipeline(module, ",".join(GRAPH_OPTIMISATION_PIPELINE))
    return op_names(module)


def cpu_operators(model: bytes, calibration: np.ndarray) -> list[str]:
    """The operators `npuc analyze` leaves on the CPU of ethos-u55-128."""
    analysis = npuc.api.analyze_model(import_onnx_bytes(model, "model.onnx"), "ethos-u55-128", [calibration])
    return [operation["operator"] for operation in analysis.report()["summary"]["cpu_operations"]]


POOLS = ["GlobalAveragePool", "GlobalMaxPool", "ReduceMean"]


@pytest.mark.parametrize("pool", POOLS)
def test_kws_cnn_matches_onnxruntime(pool: str) -> None:
    model = kws_cnn(pool)
    for passes in ("", ",".join(GRAPH_OPTIMISATION_PIPELINE)):
        assert max_error_against_onnxruntime(model, {"x": normal(1, 40, 49)}, passes) <= 1e-4


@pytest.mark.parametrize("pool", POOLS)
def test_kws_cnn_batch_norm_and_relus_fold_into_the_lifted_convolutions(pool: str) -> None:
    ops = optimised_ops(kws_cnn(pool))
    assert ops.count("graph.conv2d") == 2
    assert not {"graph.relu", "graph.mul", "graph.add", "graph.reduce"} & set(ops), ops


@pytest.mark.parametrize("pool", POOLS)
def test_kws_cnn_runs_on_the_npu(pool: str) -> None:
    # the 1x40x49 input put time-major for the first convolution is a strided copy on the NPU
    assert cpu_operators(kws_cnn(pool), normal(8, 40, 49)) == []


@pytest.mark.parametrize("batch_norm", [False, True])
def test_grouped_convolution_folds_the_batch_norm_and_fuses_the_relu(batch_norm: bool) -> None:
    model = grouped_block(batch_norm)
    pipeline = ",".join(GRAPH_OPTIMISATION_PIPELINE)
    assert max_error_against_onnxruntime(model, {"x": normal(1, 3, 16, 16)}, pipeline) <= 1e-4
    module = import_onnx_bytes(model, "model.onnx")
    npuc.api.run_pipeline(module, pipeline)
    assert op_names(module) == ["graph.conv2d"] * 3
    grouped = [op for op in layer_ops(module) if op.attributes["layer"].data == "grouped"]
    assert [(op.group_count(), op.activation.data) for op in grouped] == [(2, "relu")]
    assert cpu_operators(model, normal(8, 16, 16, 3)) == []
