"""QDQ ONNX import: a model quantized by onnxruntime's `quantize_static` becomes quantized IR.

A QDQ model holds float operators between QuantizeLinear/DequantizeLinear
pairs. Import runs in two steps:

- here, on the ONNX graph: every DequantizeLinear of a constant becomes a
  float initializer (its stored integers, scales and zero points are kept in
  `QdqPlan.constants`), every QuantizeLinear -> DequantizeLinear pair on an
  activation is removed and its parameters recorded for the tensor
  (`QdqPlan.activations`). What is left is a float model, which the float
  importer (`importer.OnnxGraph`) turns into graph IR with its layout handling;
- `qdq_lower` then rewrites that graph IR into quantized ops whose types
  are the recorded parameters (not calibrated ones).

uint8 activations map to int8 storage with the zero point shifted by -128:
(q - zp) * scale is unchanged, so this is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from npuc.errors import ModelVerificationError, UnsupportedOperatorError
from npuc.importers.common import quantization_count_problem, quantization_value_problem
from npuc.importers.onnx.node import node_name

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")

MOVEMENT_OPS = ("Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten")
"""Float operators that only move values: quantization commutes with them."""

UINT8_ZERO_POINT_SHIFT = -128

STORAGE_BITS = 8
"""QDQ activations and weights import as int8 (uint8 shifted)."""


@dataclass(frozen=True)
class Activation:
    """Per-tensor int8 parameters of an activation (uint8 already shifted)."""

    scale: float
    zero_point: int


@dataclass(frozen=True)
class QuantizedConstant:
    """A DequantizeLinear'd initializer: its stored integers and parameters.

    `scales` and `zero_points` are 1-D (one entry when per tensor); `axis` is
    the ONNX axis of a per-axis constant, else None.
    """

    data: np.ndarray
    scales: np.ndarray
    zero_points: np.ndarray
    axis: int | None


@dataclass
class QdqPlan:
    """What stripping the QDQ nodes recorded, keyed by ONNX tensor name."""

    activations: dict[str, Activation] = field(default_factory=dict)
    constants: dict[str, QuantizedConstant] = field(default_factory=dict)


def is_qdq(model: onnx.ModelProto) -> bool:
    """Whether `model` holds QuantizeLinear/DequantizeLinear nodes."""
    return any(node.op_type in QDQ_OPS for node in model.graph.node)


def _activation(scale: np.ndarray, zero_point: np.ndarray) -> Activation:
    """Per-tensor parameters, uint8 moved to int8 storage."""
    shift = UINT8_ZERO_POINT_SHIFT if zero_point.dtype == np.uint8 else 0
    return Activation(float(np.float32(scale.reshape(-1)[0])), int(zero_point.reshape(-1)[0]) + shift)


def strip_qdq(model: onnx.ModelProto, source: str) -> tuple[onnx.ModelProto, QdqPlan]:
    """A float copy of `model` without QDQ nodes, and the parameters they carried."""
    model_copy = onnx.ModelProto()
    model_copy.CopyFrom(model)
    graph = model_copy.graph
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    plan = QdqPlan()
    problems: list[tuple[str, str, str]] = []
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {value.name for value in graph.output}
    renames: dict[str, str] = {}
    kept: list[onnx.NodeProto] = []
    float_constants: dict[str, np.ndarray] = {}

    def where(node: onnx.NodeProto) -> str:
        return f"{source}: node '{node.name or node.op_type}' ({node.op_type})"

    def parameters(node: onnx.NodeProto, axis_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The node's constant scale and zero point, checked (`axis_size`: of a per-axis constant)."""
        scale = initializers.get(node.input[1])
        zero_point = initializers.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if scale is None:
            raise ModelVerificationError(f"{where(node)}: scale must be a constant")
        if zero_point is None:
            zero_point = np.zeros(scale.shape, np.uint8)
        problem = quantization_count_problem(scale.size, zero_point.size, axis_size) or (
            quantization_value_problem(scale.reshape(-1).tolist(), [], STORAGE_BITS)
        )
        if problem is not None:
            raise ModelVerificationError(f"{where(node)}: quantization with {problem}")
        return scale, zero_point

    def activation_of(node: onnx.NodeProto) -> Activation:
        """The node's per-tensor parameters as int8 ones, checked."""
        result = _activation(*parameters(node))
        problem = quantization_value_problem([result.scale], [result.zero_point], STORAGE_BITS)
        if problem is not None:
            raise ModelVerificationError(f"{where(node)}: quantization with {problem}")
        return result

    for index, node in enumerate(graph.node):
        name = node_name(node, index)
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers:
            data = initializers[node.input[0]]
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1) % max(data.ndim, 1)
            scale, zero_point = parameters(node, data.shape[axis] if data.ndim else 1)
            if scale.size == 1:
                axis = None
            shape = [1] * data.ndim
            if axis is not None:
                shape[axis] = -1
            dequantized = (data.astype(np.float32) - zero_point.astype(np.float32).reshape(shape)) * (
                scale.astype(np.float32).reshape(shape)
            )
            float_constants[node.output[0]] = dequantized.astype(np.float32)
            plan.constants[node.output[0]] = QuantizedConstant(
                data, scale.reshape(-1), zero_point.reshape(-1), axis
            )
        elif node.op_type == "QuantizeLinear":
            scale, _ = parameters(node)
            if scale.size > 1:
                problems.append((name, node.op_type, "per-axis activation quantization"))
                continue
            users = consumers.get(node.output[0], [])
            if node.output[0] in outputs or any(u.op_type != "DequantizeLinear" for u in users):
                problems.append((name, node.op_type, "integer model outputs are not supported"))
                continue
            activation = activation_of(node)
            tensor = node.input[0]
            for dequantize in users:
                if activation_of(dequantize) != activation:
                    problems.append(
                        (name, node.op_type, "a DequantizeLinear with other parameters follows it")
                    )
                if dequantize.output[0] in outputs:
                    renames[tensor] = dequantize.output[0]
                else:
                    renames[dequantize.output[0]] = tensor
            target = renames.get(tensor, tensor)
            previous = plan.activations.setdefault(target, activation)
            if previous != activation:
                problems.append((name, node.op_type, f"tensor '{tensor}' is quantized twice"))
        elif node.op_type == "DequantizeLinear":
            if node.input[0] not in renames.values() and not any(
                q.op_type == "QuantizeLinear" and node.input[0] in q.output for q in graph.node
            ):
                problems.append((name, node.op_type, "dequantizes a computed integer tensor"))
        else:
            kept.append(node)
    if problems:
        raise UnsupportedOperatorError(source, problems)
    for node in kept:
        for position, name in enumerate(node.input):
            node.input[position] = renames.get(name, name)
        for position, name in enumerate(node.output):
            node.output[position] = renames.get(name, name)
    _propagate_through_movement(kept, plan, float_constants)
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in kept for name in node.input}
    float_constants.update({k: v for k, v in initializers.items() if k in used and k not in float_constants})
    del graph.initializer[:]
    graph.initializer.extend(
        numpy_helper.from_array(array, name) for name, array in float_constants.items() if name in used
    )
    del graph.value_info[:]
    return model_copy, plan


def _propagate_through_movement(
    nodes: list[onnx.NodeProto], plan: QdqPlan, constants: dict[str, np.ndarray]
) -> None:
    """Give the float input of a movement node its quantized output's parameters.

    ORT quantizes after a Reshape/Transpose of a model input (tf2onnx's NHWC
    input); moving the quantization before the movement is exact.
    """
    for node in reversed(nodes):
        if node.op_type not in MOVEMENT_OPS or not node.input:
            continue
        source, result = node.input[0], node.output[0]
        if result in plan.activations and source not in plan.activations and source not in constants:
            plan.activations[source] = plan.activations[result]
