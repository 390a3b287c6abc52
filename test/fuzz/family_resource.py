"""Resource abuse: models whose tensors are far too large to allocate, and a long layer chain.

The shapes are valid, so npuc must check sizes against a limit before it
allocates (issue 14: `npuc run` on a Pad to 60,004 squared tried 14 GiB);
the runner's address-space cap turns an attempt into a `MemoryError`. The
1,000-layer chain must compile in about linear time (a longer alarm).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from npuc.emit.tflite.flatbuffer import Model, Operator, Options, Subgraph, serialize

from fuzz.case import Case
from fuzz.family_bytes import model_case
from fuzz.seeds import graph_model
from tflite_models.builder import TensorSpec, to_tensor

HUGE_SIDE = 50_000
"""Height and width of the huge tensors (2.5e9 elements)."""

PAD = 30_000
"""Padding on each side of the padded 4x4 map: 60,004 squared (issue 14)."""

RESIZE_SCALE = 10_000.0

CHAIN_LAYERS = 1_000
CHAIN_TIMEOUT = 20.0
"""Seconds the 1,000-layer chain may take (issue 14's goal is 10 s; twice that on a loaded machine)."""

CHAIN_CHANNELS = 8

ISSUE_CASES = frozenset({"onnx-constant-of-shape-huge", "onnx-pad-60004", "onnx-resize-10000", "tflite-conv-chain-1000"})
"""The cases issue 14 names."""


def cases(seed: int) -> Iterator[Case]:
    """Every resource case (`seed` is unused: the cases are enumerated)."""
    del seed
    for name, model in _onnx_models():
        yield model_case("resource", name, {"model.onnx": model.SerializeToString()}, issue=name in ISSUE_CASES)
    yield model_case("resource", "tflite-conv-chain-1000", {"model.tflite": _conv_chain(CHAIN_LAYERS)},
                     issue=True, timeout=CHAIN_TIMEOUT)


def _onnx_models() -> Iterator[tuple[str, onnx.ModelProto]]:
    huge = [1, 1, HUGE_SIDE, HUGE_SIDE]
    yield "onnx-constant-of-shape-huge", _unary_model(
        [helper.make_node("ConstantOfShape", ["shape"], ["filled"], name="fill",
                          value=numpy_helper.from_array(np.array([1.0], np.float32))),
         helper.make_node("Mul", ["input", "filled"], ["output"], name="mul")],
        (1, 1, 1, 1), [numpy_helper.from_array(np.array(huge, np.int64), "shape")])
    yield "onnx-pad-60004", _unary_model(
        [helper.make_node("Pad", ["input", "pads"], ["output"], name="pad")], (1, 1, 4, 4),
        [numpy_helper.from_array(np.array([0, 0, PAD, PAD, 0, 0, PAD, PAD], np.int64), "pads")])
    yield "onnx-resize-10000", _unary_model(
        [helper.make_node("Resize", ["input", "", "scales"], ["output"], name="resize", mode="nearest")],
        (1, 1, 8, 8), [numpy_helper.from_array(np.array([1, 1, RESIZE_SCALE, RESIZE_SCALE], np.float32), "scales")])
    yield "onnx-tile-huge", _unary_model(
        [helper.make_node("Tile", ["input", "repeats"], ["output"], name="tile")], (1, 1, 2, 2),
        [numpy_helper.from_array(np.array([1, 1, HUGE_SIDE, HUGE_SIDE], np.int64), "repeats")])
    yield "onnx-expand-huge", _unary_model(
        [helper.make_node("Expand", ["input", "shape"], ["output"], name="expand")], (1, 1, 1, 1),
        [numpy_helper.from_array(np.array(huge, np.int64), "shape")])
    yield "onnx-conv-transpose-stride-huge", _unary_model(
        [helper.make_node("ConvTranspose", ["input", "weight"], ["output"], name="deconv",
                          strides=[HUGE_SIDE, HUGE_SIDE])], (1, 1, 4, 4),
        [numpy_helper.from_array(np.ones((1, 1, 2, 2), np.float32), "weight")])
    yield "onnx-range-huge", _unary_model(
        [helper.make_node("Range", ["start", "limit", "delta"], ["range"], name="range"),
         helper.make_node("Add", ["input", "range"], ["output"], name="add")], (1,),
        [numpy_helper.from_array(np.array(value, np.float32), name)
         for name, value in (("start", 0.0), ("limit", 1e12), ("delta", 1.0))])
    yield "onnx-gemm-huge", _unary_model(
        [helper.make_node("Gemm", ["input", "weight"], ["output"], name="gemm")], (1, 4),
        [numpy_helper.from_array(np.ones((4, 1), np.float32), "weight")], output_shape=None,
        replace_weight_dims=[4, 1 << 33])


def _unary_model(nodes, input_shape, initializers, output_shape=None, replace_weight_dims=None) -> onnx.ModelProto:
    """One float input `input`, one output `output`; `replace_weight_dims` forges the initializer `weight`'s dims."""
    model = graph_model(nodes, [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
                        [helper.make_tensor_value_info("output", TensorProto.FLOAT, output_shape)], initializers)
    if replace_weight_dims is not None:
        weight = next(tensor for tensor in model.graph.initializer if tensor.name == "weight")
        del weight.dims[:]
        weight.dims.extend(replace_weight_dims)
    return model


def _conv_chain(layers: int) -> bytes:
    """`layers` int8 1x1 CONV_2Ds in a chain on a 1x8x8x8 map."""
    shape = (1, 8, 8, CHAIN_CHANNELS)
    weights = np.eye(CHAIN_CHANNELS, dtype=np.int8).reshape(CHAIN_CHANNELS, 1, 1, CHAIN_CHANNELS) * 64
    tensors = [to_tensor(TensorSpec(shape, np.int8, [0.1], [0], name="input"))]
    operators = []
    options = Options("Conv2DOptions", {"Padding": 1, "StrideH": 1, "StrideW": 1,
                                        "DilationHFactor": 1, "DilationWFactor": 1})
    for layer in range(layers):
        first = len(tensors)
        tensors += [
            to_tensor(TensorSpec(weights.shape, np.int8, [0.01] * CHAIN_CHANNELS, [0] * CHAIN_CHANNELS, 0, weights,
                                 f"weights{layer}")),
            to_tensor(TensorSpec((CHAIN_CHANNELS,), np.int32, [0.001] * CHAIN_CHANNELS, [0] * CHAIN_CHANNELS, 0,
                                 np.zeros(CHAIN_CHANNELS, np.int32), f"bias{layer}")),
            to_tensor(TensorSpec(shape, np.int8, [0.1], [0], name=f"conv{layer}")),
        ]
        operators.append(Operator("CONV_2D", (first - 1, first, first + 1), (first + 2,), options))
    subgraph = Subgraph(tuple(tensors), tuple(operators), (0,), (len(tensors) - 1,))
    return serialize(Model((subgraph,), "npuc fuzz: conv chain"))
