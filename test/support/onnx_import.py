"""Helpers of the ONNX importer tests: one-node models, IR queries, the onnxruntime comparison."""

from __future__ import annotations

import numpy as np
from onnx import helper

from npuc.dialects import graph
from npuc.dialects.common import constant_value
from npuc.importers.onnx.importer import import_onnx_bytes
from npuc.ir import main_function

from support.onnx_models import make_model, max_error_against_onnxruntime

TOLERANCE = 1e-4
rng = np.random.default_rng(7)
"""The random stream of `random`: the tests draw from it in order."""


def random(*shape: int) -> np.ndarray:
    """Standard-normal float32 values of `shape` from the shared stream."""
    return rng.standard_normal(shape).astype(np.float32)


def layer_ops(module) -> list:
    """The ops of @main except constants and the return."""
    return [
        op for op in main_function(module).body.block.ops if op.name not in ("graph.constant", "func.return")
    ]


def op_names(module) -> list[str]:
    """The names of `layer_ops`."""
    return [op.name for op in layer_ops(module)]


def weights_of(op: graph.ConstantOp) -> np.ndarray:
    """The data of a graph constant."""
    return constant_value(op.value)


def shape_of(value) -> list[int]:
    """The shape of a tensor value."""
    return list(value.type.get_shape())


def assert_matches_onnxruntime(model: bytes, inputs: dict[str, np.ndarray]) -> None:
    """Import, run the IR with the float reference, compare with onnxruntime."""
    assert max_error_against_onnxruntime(model, inputs) <= TOLERANCE


def single_node(
    op_type: str, initializers=None, in_shape=(1, 3, 6, 6), out_shape=None, opset=13, extra_inputs=(), **attrs
) -> bytes:
    """A serialized model of one node `op_type` reading `x` (and `extra_inputs`) and writing `y`."""
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
