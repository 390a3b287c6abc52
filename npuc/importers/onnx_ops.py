"""Per-operator converters of the ONNX importer.

Each converter takes the conversion state (`OnnxGraph`) and one decoded node,
emits `graph` ops and binds the node's outputs. A node form npuc cannot
express raises `Unsupported` with the reason; the importer collects those and
reports every unsupported node at once. The converters whose result depends
on element order (Flatten, Reshape, Add) are in `onnx_layout`.

Converters see ONNX shapes (NCHW for 4-D tensors) through `graph.shape` and
IR values (NHWC for 4-D tensors) through `graph.value`; weights are rearranged
in numpy into the IR layouts (OHWI, 1xKHxKWx(C*M), [O, K]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from onnx import numpy_helper
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation, SSAValue

from npuc.dialects.graph import (
    AvgPool2dOp,
    ClipOp,
    Conv2dOp,
    DepthwiseConv2dOp,
    FullyConnectedOp,
    MaxPool2dOp,
    ReluOp,
)

if TYPE_CHECKING:
    from npuc.importers.onnx import OnnxGraph, OnnxNode

FOLDABLE_PRODUCERS = ("Conv", "Gemm", "MatMul")
"""Op types whose weights and bias absorb a following BatchNormalization."""


class Unsupported(Exception):
    """A node form npuc cannot convert; the message is the reason users read."""


# -- constants and pass-through ---------------------------------------------


def constant_node_value(node: OnnxNode) -> np.ndarray | None:
    """The array of a Constant node, or None for forms npuc does not read (sparse)."""
    attrs = node.attrs
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key, dtype in (
        ("value_float", np.float32),
        ("value_floats", np.float32),
        ("value_int", np.int64),
        ("value_ints", np.int64),
    ):
        if key in attrs:
            return np.array(attrs[key], dtype=dtype)
    return None


def convert_constant(graph: OnnxGraph, node: OnnxNode) -> None:
    """Constant: read when the graph was loaded; only reject unreadable forms."""
    if node.outputs[0] not in graph.constants:
        raise Unsupported("only dense tensor and number constants are supported")


def convert_identity(graph: OnnxGraph, node: OnnxNode) -> None:
    """Identity and inference-mode Dropout: the output is the input."""
    if len(node.used_outputs()) > 1:
        raise Unsupported("the mask output is not supported")
    source, output = node.inputs[0], node.outputs[0]
    array = graph.constant(source)
    if array is not None:
        graph.constants[output] = array
    else:
        graph.bind(output, graph.value(source))


# -- elementwise ------------------------------------------------------------


def convert_relu(graph: OnnxGraph, node: OnnxNode) -> None:
    """Relu -> graph.relu."""
    graph.bind(node.outputs[0], graph.emit(ReluOp(graph.value(node.inputs[0]))).results[0])


def convert_clip(graph: OnnxGraph, node: OnnxNode) -> None:
    """Clip -> graph.clip; bounds are inputs from opset 11, attributes before."""
    lowest, highest = float(np.finfo(np.float32).min), float(np.finfo(np.float32).max)
    if graph.opset >= 11:
        bounds = [
            float(graph.require_constant(node, index, "clip bound")) if node.input(index) else None
            for index in (1, 2)
        ]
    else:
        bounds = [node.attrs.get("min"), node.attrs.get("max")]
    minimum = lowest if bounds[0] is None else max(float(bounds[0]), lowest)
    maximum = highest if bounds[1] is None else min(float(bounds[1]), highest)
    clip = ClipOp(graph.value(node.inputs[0]), minimum, maximum)
    graph.bind(node.outputs[0], graph.emit(clip).results[0])


# -- windows: convolution and pooling ---------------------------------------


def _pair(node: OnnxNode, key: str) -> tuple[int, int]:
    values = tuple(int(v) for v in node.attrs.get(key, (1, 1)))  # type: ignore[union-attr]
    if len(values) != 2:
        raise Unsupported(f"'{key}' must have 2 values for a 2-D window, got {list(values)}")
    return values  # type: ignore[return-value]


def explicit_padding(
    node: OnnxNode,
    in_hw: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> tuple[int, int, int, int]:
    """Padding (top, left, bottom, right) from `pads` or `auto_pad`.

    ONNX `pads` are [H_begin, W_begin, H_end, W_end], the IR's order already.
    SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
    """
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    if auto_pad == "NOTSET":
        pads = tuple(int(v) for v in node.attrs.get("pads", (0, 0, 0, 0)))  # type: ignore[union-attr]
        if len(pads) != 4:
            raise Unsupported(f"'pads' must have 4 values for a 2-D window, got {list(pads)}")
        return pads  # type: ignore[return-value]
    if auto_pad == "VALID":
        return (0, 0, 0, 0)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise Unsupported(f"auto_pad '{auto_pad}' is not supported")
    before, after = [], []
    for size, k, stride, dilation in zip(in_hw, kernel, strides, dilations):
        output = -(-size // stride)
        total = max((output - 1) * stride + (k - 1) * dilation + 1 - size, 0)
        small, large = total // 2, total - total // 2
        before.append(small if auto_pad == "SAME_UPPER" else large)
        after.append(large if auto_pad == "SAME_UPPER" else small)
    return (before[0], before[1], after[0], after[1])


def convert_conv(graph: OnnxGraph, node: OnnxNode) -> None:
    """Conv -> graph.conv2d (group 1) or graph.depthwise_conv2d (group == C_in)."""
    weights = graph.require_constant(node, 1, "weights")
    if weights.ndim != 4:
        raise Unsupported(f"only 2-D convolution is supported, got a {weights.ndim - 2}-D kernel")
    in_shape = graph.shape(node.inputs[0])
    out_channels, group_channels, kernel_h, kernel_w = weights.shape
    bias = _optional_bias(graph, node, 2, out_channels)
    strides, dilations = _pair(node, "strides"), _pair(node, "dilations")
    padding = explicit_padding(node, in_shape[2:], (kernel_h, kernel_w), strides, dilations)
    group = int(node.attrs.get("group", 1))  # type: ignore[arg-type]
    if group == 1:
        op_class, weights, channel_axis = Conv2dOp, weights.transpose(0, 2, 3, 1), 0
    elif group == in_shape[1] and group_channels == 1:
        op_class, weights, channel_axis = DepthwiseConv2dOp, weights.transpose(1, 2, 3, 0), 3
    else:
        raise Unsupported(
            f"grouped convolution with {group} groups over {in_shape[1]} channels "
            "(only group 1 and depthwise are supported)"
        )

    def make(ifm: SSAValue, weights: SSAValue, bias: SSAValue, ofm_type: TensorType) -> Operation:
        return op_class(ifm, weights, bias, ofm_type, strides, dilations, padding)

    emit_weighted(graph, node, make, graph.value(node.inputs[0]), weights, bias, channel_axis)


def _pool_window(
    graph: OnnxGraph, node: OnnxNode
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]]:
    """(kernel, strides, padding) of a MaxPool/AveragePool node, checking ceil_mode."""
    in_shape = graph.shape(node.inputs[0])
    if len(in_shape) != 4:
        raise Unsupported("only 2-D pooling is supported")
    kernel, strides = _pair(node, "kernel_shape"), _pair(node, "strides")
    padding = explicit_padding(node, in_shape[2:], kernel, strides, (1, 1))
    if node.attrs.get("ceil_mode", 0):
        for axis in (0, 1):
            size, before = in_shape[2 + axis], padding[axis]
            span = size + before + padding[axis + 2] - kernel[axis]
            floor_size = span // strides[axis] + 1
            ceil_size = -(-span // strides[axis]) + 1
            if (ceil_size - 1) * strides[axis] >= size + before:
                ceil_size -= 1  # ONNX drops a last window that starts in the end padding
            if ceil_size != floor_size:
                raise Unsupported(
                    f"ceil_mode=1 changes the output size ({ceil_size} instead of {floor_size})"
                )
    return kernel, strides, padding


def _emit_pool(
    graph: OnnxGraph,
    node: OnnxNode,
    op_class: type[MaxPool2dOp] | type[AvgPool2dOp],
    kernel: Sequence[int],
    strides: Sequence[int],
    padding: Sequence[int],
) -> None:
    output = node.outputs[0]
    pool = op_class(graph.value(node.inputs[0]), graph.ir_type(output), kernel, strides, padding)
    graph.bind(output, graph.emit(pool).results[0])


def convert_max_pool(graph: OnnxGraph, node: OnnxNode) -> None:
    """MaxPool -> graph.max_pool2d."""
    if len(node.used_outputs()) > 1:
        raise Unsupported("the Indices output is not supported")
    if any(d != 1 for d in node.attrs.get("dilations", (1, 1))):  # type: ignore[union-attr]
        raise Unsupported("dilated pooling is not supported")
    _emit_pool(graph, node, MaxPool2dOp, *_pool_window(graph, node))


def convert_average_pool(graph: OnnxGraph, node: OnnxNode) -> None:
    """AveragePool -> graph.avg_pool2d (which averages over valid elements only)."""
    kernel, strides, padding = _pool_window(graph, node)
    if node.attrs.get("count_include_pad", 0) and any(padding):
        raise Unsupported("count_include_pad=1 with nonzero padding is not supported")
    _emit_pool(graph, node, AvgPool2dOp, kernel, strides, padding)


def convert_global_average_pool(graph: OnnxGraph, node: OnnxNode) -> None:
    """GlobalAveragePool -> graph.avg_pool2d with the whole feature map as kernel."""
    in_shape = graph.shape(node.inputs[0])
    if len(in_shape) != 4:
        raise Unsupported("only 2-D pooling is supported")
    _emit_pool(graph, node, AvgPool2dOp, in_shape[2:], (1, 1), (0, 0, 0, 0))


# -- fully connected --------------------------------------------------------


def convert_gemm(graph: OnnxGraph, node: OnnxNode) -> None:
    """Gemm (alpha = beta = 1, transA = 0) -> graph.fully_connected."""
    if node.attrs.get("alpha", 1.0) != 1.0 or node.attrs.get("beta", 1.0) != 1.0:
        raise Unsupported("alpha and beta must be 1")
    if node.attrs.get("transA", 0):
        raise Unsupported("transA=1 is not supported")
    matrix = graph.require_constant(node, 1, "B (the weights)")
    weights = matrix if node.attrs.get("transB", 0) else matrix.T
    bias = _optional_bias(graph, node, 2, weights.shape[0])
    _emit_fully_connected(graph, node, weights, bias)


def convert_matmul(graph: OnnxGraph, node: OnnxNode) -> None:
    """MatMul by a constant 2-D matrix -> graph.fully_connected with zero bias."""
    matrix = graph.require_constant(node, 1, "the right operand")
    if matrix.ndim != 2:
        raise Unsupported(f"the right operand must be 2-D, got rank {matrix.ndim}")
    _emit_fully_connected(graph, node, matrix.T, np.zeros(matrix.shape[1], np.float32))


def _emit_fully_connected(
    graph: OnnxGraph, node: OnnxNode, weights: np.ndarray, bias: np.ndarray
) -> None:
    source = node.inputs[0]
    rank = len(graph.shape(source))
    if rank != 2:
        raise Unsupported(f"the input must be 2-D, got rank {rank}")
    k_order = graph.k_orders.get(source)
    if k_order is not None:
        weights = weights[:, k_order]  # the input was flattened in NHWC order

    emit_weighted(graph, node, FullyConnectedOp, graph.value(source), weights, bias, 0)


def _optional_bias(graph: OnnxGraph, node: OnnxNode, index: int, channels: int) -> np.ndarray:
    """The per-output-channel bias input `index`, zeros when it is absent."""
    if not node.input(index):
        return np.zeros(channels, np.float32)
    bias = graph.require_constant(node, index, "bias")
    try:
        return np.broadcast_to(bias, (1, channels))[0]
    except ValueError:
        raise Unsupported(f"bias of shape {list(bias.shape)} is not one value per output") from None


def emit_weighted(
    graph: OnnxGraph,
    node: OnnxNode,
    make: Callable[[SSAValue, SSAValue, SSAValue, TensorType], Operation],
    ifm: SSAValue,
    weights: np.ndarray,
    bias: np.ndarray,
    channel_axis: int,
) -> None:
    """Emit a conv/FC op built by `make(ifm, weights, bias, ofm_type)`.

    `weights` are in IR layout with output channels on `channel_axis`. When a
    BatchNormalization was planned to fold into this node, its scale and shift
    go into the weights and bias here, and the op defines the BN's output.
    """
    output = node.outputs[0]
    batch_norm = graph.folds.get(output)
    if batch_norm is not None:
        weights, bias = _fold_batch_norm(graph, batch_norm, weights, bias, channel_axis)
        output = batch_norm.outputs[0]
    op = make(ifm, graph.emit_constant(weights), graph.emit_constant(bias), graph.ir_type(output))
    graph.bind(output, graph.emit(op).results[0])


# -- batch normalization ----------------------------------------------------


def plan_batch_norm_folds(graph: OnnxGraph) -> tuple[dict[str, OnnxNode], dict[str, str]]:
    """Decide, before conversion, which BatchNormalization nodes fold into their producer.

    Returns (producer output name -> BN node, BN node name -> reason it cannot fold).
    """
    producers = {name: node for node in graph.nodes for name in node.used_outputs()}
    folds: dict[str, OnnxNode] = {}
    problems: dict[str, str] = {}
    for node in graph.nodes:
        if node.op_type != "BatchNormalization":
            continue
        source = node.inputs[0]
        producer = producers.get(source)
        if len(node.used_outputs()) > 1 or node.attrs.get("training_mode", 0):
            problems[node.name] = "training-mode BatchNormalization is not supported"
        elif any(graph.constant(node.input(index)) is None for index in range(1, 5)):
            problems[node.name] = "scale, bias, mean and variance must be constants"
        elif producer is None or producer.op_type not in FOLDABLE_PRODUCERS:
            problems[node.name] = "its input is not produced by a Conv or Gemm, so it cannot be folded"
        elif len(graph.consumers[source]) > 1 or source in graph.graph_outputs:
            problems[node.name] = (
                f"the producing {producer.op_type} '{producer.name}' has other users, "
                "so it cannot be folded"
            )
        else:
            folds[source] = node
    return folds, problems


def _fold_batch_norm(
    graph: OnnxGraph, batch_norm: OnnxNode, weights: np.ndarray, bias: np.ndarray, channel_axis: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and bias of `conv -> BN`: w * s, (b - mean) * s + beta, s = gamma / sqrt(var + eps)."""
    scale, shift, mean, variance = (
        graph.constant(batch_norm.inputs[index]).astype(np.float64).reshape(-1)  # type: ignore[union-attr]
        for index in range(1, 5)
    )
    channels = weights.shape[channel_axis]
    if not scale.size == shift.size == mean.size == variance.size == channels:
        raise Unsupported(
            f"BatchNormalization '{batch_norm.name}' parameters do not have {channels} channels"
        )
    factor = scale / np.sqrt(variance + float(batch_norm.attrs.get("epsilon", 1e-5)))  # type: ignore[arg-type]
    broadcast = [1] * weights.ndim
    broadcast[channel_axis] = channels
    return weights * factor.reshape(broadcast), (bias - mean) * factor + shift


def convert_batch_norm(graph: OnnxGraph, node: OnnxNode) -> None:
    """BatchNormalization: folded by its producer's converter, or unsupported."""
    if node.name in graph.fold_problems:
        raise Unsupported(graph.fold_problems[node.name])
