"""Small float graph-IR models built in code, and calibration samples for them."""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    BytesAttr,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region, SSAValue

from npuc.dialects import graph
from npuc.dialects.common import LAYER_ATTR


def float_constant(array: np.ndarray, name: str) -> graph.ConstantOp:
    array = np.ascontiguousarray(array, dtype=np.float32)
    attr = DenseIntOrFPElementsAttr(
        TensorType(f32, list(array.shape)), BytesAttr(array.tobytes())
    )
    op = graph.ConstantOp(attr)
    op.attributes[LAYER_ATTR] = StringAttr(name)
    return op


def build_small_cnn(seed: int = 0) -> ModuleOp:
    """x[1,8,8,3] -> conv(relu) -> maxpool -> two convs -> add -> relu -> reshape -> fc."""
    rng = np.random.default_rng(seed)
    block = Block(arg_types=[TensorType(f32, [1, 8, 8, 3])])
    ops: list[Operation] = []

    def layer(op: Operation, name: str) -> SSAValue:
        op.attributes[LAYER_ATTR] = StringAttr(name)
        ops.append(op)
        return op.results[0]

    def conv(ifm: SSAValue, depth: int, name: str, activation: str) -> SSAValue:
        channels = ifm.type.get_shape()[3]
        weights = float_constant(rng.standard_normal((depth, 3, 3, channels)) / 3, f"{name}_w")
        bias = float_constant(rng.standard_normal(depth) * 0.1, f"{name}_b")
        ops.extend([weights, bias])
        shape = [*ifm.type.get_shape()[:3], depth]
        return layer(
            graph.Conv2dOp(
                ifm, weights.output, bias.output, TensorType(f32, shape),
                padding=(1, 1, 1, 1), activation=activation,
            ),
            name,
        )

    first = conv(block.args[0], 8, "conv1", "relu")
    pooled = layer(graph.MaxPool2dOp(first, TensorType(f32, [1, 4, 4, 8]), (2, 2), (2, 2)), "pool")
    left = conv(pooled, 8, "conv2a", "none")
    right = conv(pooled, 8, "conv2b", "none")
    summed = layer(graph.AddOp(left, right, TensorType(f32, [1, 4, 4, 8])), "add")
    rectified = layer(graph.ReluOp(summed), "relu")
    flat = layer(graph.ReshapeOp(rectified, TensorType(f32, [1, 128])), "flatten")
    fc_weights = float_constant(rng.standard_normal((10, 128)) / 8, "fc_w")
    fc_bias = float_constant(rng.standard_normal(10) * 0.1, "fc_b")
    ops.extend([fc_weights, fc_bias])
    layer(
        graph.FullyConnectedOp(flat, fc_weights.output, fc_bias.output, TensorType(f32, [1, 10])),
        "fc",
    )
    return main_module(block, ops, "logits")


def main_module(block: Block, ops: list[Operation], output: str = "y") -> ModuleOp:
    """A verified module whose @main runs `ops` in `block` (one argument, named `x`) and returns the
    last op's result, named `output`."""
    result = ops[-1].results[0]
    block.add_ops([*ops, ReturnOp(result)])
    func = FuncOp("main", ([block.args[0].type], [result.type]), Region(block))
    func.arg_attrs = ArrayAttr([DictionaryAttr({"graph.name": StringAttr("x")})])
    func.res_attrs = ArrayAttr([DictionaryAttr({"graph.name": StringAttr(output)})])
    module = ModuleOp([func])
    module.verify()
    return module


def calibration_samples(count: int, seed: int) -> list[np.ndarray]:
    """`count` standard-normal samples for `build_small_cnn`'s input."""
    return [np.random.default_rng(seed).standard_normal((count, 8, 8, 3)).astype(np.float32)]
