"""Window converters of the ONNX importer: convolutions and pooling.

Each converter takes the conversion state (`OnnxGraph`) and one decoded node,
emits `graph` ops and binds the node's outputs; a node form npuc cannot
express raises `Unsupported` with the reason. Converters see ONNX shapes
(NCHW) through `graph.shape` and NHWC IR values through `graph.value`;
weights are rearranged in numpy into the IR layouts (OHWI, 1xKHxKWx(C*M)).

Forms the graph ops do not have are decomposed exactly: AveragePool counting
its padding into an explicit zero `graph.pad`; ceil_mode into extra
bottom/right padding; MaxPool dilated by a divisor of its stride into a
strided slice and a plain pool. 1-D windows (global pools included) run
as 2-D ones of height 1 (`lifted`); 3-D ones are rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from xdsl.ir import SSAValue

from npuc.dialects.common import value_shape
from npuc.dialects.graph import (
    AvgPool2dOp,
    Conv2dOp,
    DepthwiseConv2dOp,
    MaxPool2dOp,
    PadOp,
    SliceOp,
    TransposeConv2dOp,
)
from npuc.importers.onnx.layout import f32_tensor
from npuc.importers.onnx.linear import optional_bias
from npuc.importers.onnx.node import Invalid, OnnxNode, Unsupported

if TYPE_CHECKING:
    from npuc.importers.onnx.importer import OnnxGraph

Pair = tuple[int, int]
Padding = tuple[int, int, int, int]


def _pair(node: OnnxNode, key: str, default: int = 1) -> Pair:
    values = node.ints_attr(key, [default, default])
    if len(values) != 2:
        raise Unsupported(f"'{key}' must have 2 values for a 2-D window, got {values}")
    return values[0], values[1]


def _window_rank_check(what: str, rank: int) -> None:
    """Refuse a window over other than a 2-D map; 1-D ones were lifted to 2-D before (`lifted`)."""
    if rank > 4:
        raise Unsupported(f"{rank - 2}-D {what} is not supported (only 1-D and 2-D)")
    if rank != 4:
        raise Unsupported(f"{what} of a rank-{rank} tensor is not supported (only 1-D and 2-D feature maps)")


ONE_D_WINDOW_ATTRS = {"kernel_shape": 1, "strides": 1, "dilations": 1, "output_padding": 0}
"""Per-axis window attributes of a 1-D node and their value on the added H axis."""


def lifted(convert_2d: Callable[[OnnxGraph, OnnxNode], None]) -> Callable[[OnnxGraph, OnnxNode], None]:
    """A window converter that also takes 1-D nodes, run as 2-D ones of height 1.

    The [N, C, L] input becomes an NHWC [N, 1, L, C] feature map, the weights
    [O, I, K] become [O, I, 1, K], the window attributes gain a unit H axis,
    and the [N, 1, L', O] result is held as the [N, O, L'] output in layout (0, 2, 1).
    """

    def convert(graph: OnnxGraph, node: OnnxNode) -> None:
        if len(graph.shape(node.inputs[0])) != 3:
            convert_2d(graph, node)
            return
        source, output = node.inputs[0], node.outputs[0]
        batch, channels, length = graph.shape(source)
        out_batch, out_channels, out_length = graph.shape(output)
        inputs, outputs = [f"{source}:2d", *node.inputs[1:]], [f"{output}:2d", *node.outputs[1:]]
        graph.shapes[inputs[0]] = (batch, channels, 1, length)
        graph.shapes[outputs[0]] = (out_batch, out_channels, 1, out_length)
        graph.bind(inputs[0], graph.reshape(graph.value(source, (0, 2, 1)), graph.tensor_type(inputs[0])))
        weights = graph.constant(node.input(1)) if node.op_type.startswith("Conv") else None
        if weights is not None:
            inputs[1] = f"{node.inputs[1]}:2d"
            graph.constants[inputs[1]] = weights[:, :, None, :]
            graph.shapes[inputs[1]] = graph.constants[inputs[1]].shape
        attrs = dict(node.attrs)
        for key, unit in ONE_D_WINDOW_ATTRS.items():
            if key in attrs:
                attrs[key] = [unit, *node.ints_attr(key, [])]
        if "pads" in attrs:
            pads = node.ints_attr("pads", [])
            attrs["pads"] = [0, pads[0], 0, pads[1]]
        convert_2d(graph, OnnxNode(node.name, node.op_type, inputs, outputs, attrs))
        result = graph.reshape(graph.values[outputs[0]], graph.tensor_type(output, (0, 2, 1)))
        graph.bind(output, result, (0, 2, 1))

    return convert


def explicit_padding(
    node: OnnxNode, in_hw: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
    dilations: Sequence[int],
) -> Padding:
    """Padding (top, left, bottom, right) from `pads` or `auto_pad`.

    ONNX `pads` are [H_begin, W_begin, H_end, W_end], the IR's order already.
    SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
    """
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    if auto_pad == "NOTSET":
        pads = node.ints_attr("pads", [0, 0, 0, 0])
        if len(pads) != 4:
            raise Unsupported(f"'pads' must have 4 values for a 2-D window, got {pads}")
        return pads[0], pads[1], pads[2], pads[3]
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
    return before[0], before[1], after[0], after[1]


# -- convolution --------------------------------------------------------------


def _check_conv_padding(node: OnnxNode) -> None:
    """Raise `Invalid` when a Conv has both `auto_pad` and `pads`.

    ONNX says they cannot be used together and onnxruntime refuses such a
    convolution; ONNX shape inference refuses such a ConvTranspose already,
    and onnxruntime's pools take both and ignore `pads`, so those are not checked.
    """
    if node.attrs.get("auto_pad", "NOTSET") != "NOTSET" and "pads" in node.attrs:
        raise Invalid(f"auto_pad '{node.attrs['auto_pad']}' and pads {node.ints_attr('pads', [])} are both set")


def convert_conv(graph: OnnxGraph, node: OnnxNode) -> None:
    """Conv -> graph.depthwise_conv2d (group == C_in, one input channel per group), else graph.conv2d with its groups."""
    _check_conv_padding(node)
    weights = graph.require_constant(node, 1, "weights")
    _window_rank_check("convolution", weights.ndim)
    in_shape = graph.shape(node.inputs[0])
    out_channels, group_channels, kernel_h, kernel_w = weights.shape
    bias = optional_bias(graph, node, 2, out_channels)
    strides, dilations = _pair(node, "strides"), _pair(node, "dilations")
    padding = explicit_padding(node, in_shape[2:], (kernel_h, kernel_w), strides, dilations)
    group = node.int_attr("group", 1)
    if group < 1 or in_shape[1] % group or out_channels % group:
        raise Invalid(f"group {group} does not divide {in_shape[1]} inputs and {out_channels} outputs")
    output = node.outputs[0]
    ifm, ofm_type = graph.value(node.inputs[0]), graph.tensor_type(output)
    window = (strides, dilations, padding)
    if group == in_shape[1] and group_channels == 1 and group > 1:
        depthwise = DepthwiseConv2dOp(ifm, graph.emit_constant(weights.transpose(1, 2, 3, 0)),
                                      graph.emit_constant(bias), ofm_type, *window)
        graph.bind(output, graph.emit(depthwise).results[0])
    else:
        op = Conv2dOp(ifm, graph.emit_constant(weights.transpose(0, 2, 3, 1)),
                      graph.emit_constant(bias), ofm_type, *window, groups=group)
        graph.bind(output, graph.emit(op).results[0])


def convert_conv_transpose(graph: OnnxGraph, node: OnnxNode) -> None:
    """ConvTranspose (group 1) -> graph.transpose_conv2d with OHWI weights.

    The output size is ONNX's inferred one: padding comes from `pads`, or from
    `auto_pad`/`output_shape` as ONNX splits it, and any remaining difference
    becomes output padding at the bottom/right.
    """
    weights = graph.require_constant(node, 1, "weights")
    _window_rank_check("transposed convolution", weights.ndim)
    if node.int_attr("group", 1) != 1:
        raise Unsupported("grouped transposed convolution is not supported")
    in_shape, out_shape = graph.shape(node.inputs[0]), graph.shape(node.outputs[0])
    strides, dilations = _pair(node, "strides"), _pair(node, "dilations")
    output_padding = _pair(node, "output_padding", 0)
    padding = list(node.ints_attr("pads", [0, 0, 0, 0]) or [])
    full = [
        (in_shape[2 + axis] - 1) * strides[axis] + (weights.shape[2 + axis] - 1) * dilations[axis]
        + 1 + output_padding[axis]
        for axis in (0, 1)
    ]
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    if auto_pad != "NOTSET" or "output_shape" in node.attrs:
        for axis in (0, 1):
            total = max(full[axis] - out_shape[2 + axis], 0)
            small, large = total // 2, total - total // 2
            upper = auto_pad == "SAME_UPPER"
            padding[axis], padding[axis + 2] = (small, large) if upper else (large, small)
    extra = [out_shape[2 + axis] - (full[axis] - padding[axis] - padding[axis + 2]) for axis in (0, 1)]
    for axis in (0, 1):
        if extra[axis] < 0:
            padding[axis + 2] -= extra[axis]
    final_output_padding = [output_padding[axis] + max(extra[axis], 0) for axis in (0, 1)]
    bias = optional_bias(graph, node, 2, weights.shape[1])
    op = TransposeConv2dOp(
        graph.value(node.inputs[0]), graph.emit_constant(weights.transpose(1, 2, 3, 0)),
        graph.emit_constant(bias), graph.tensor_type(node.outputs[0]),
        strides, dilations, padding, final_output_padding,
    )
    graph.bind(node.outputs[0], graph.emit(op).results[0])


# -- pooling ------------------------------------------------------------------


def _pool_window(graph: OnnxGraph, node: OnnxNode) -> tuple[Pair, Pair, Pair, Padding]:
    """(kernel, strides, dilations, padding) of a pool; ceil_mode adds bottom/right padding.

    With ceil_mode, a last window that would start in the end padding is
    dropped, as onnxruntime and PyTorch do (ONNX shape inference keeps it:
    the output shape is then corrected to onnxruntime's).
    """
    in_shape = graph.shape(node.inputs[0])
    _window_rank_check("pooling", len(in_shape))
    kernel, strides, dilations = _pair(node, "kernel_shape"), _pair(node, "strides"), _pair(node, "dilations")
    padding = list(explicit_padding(node, in_shape[2:], kernel, strides, dilations))
    if node.int_attr("ceil_mode", 0):
        out_hw = []
        for axis in (0, 1):
            size, before, after = in_shape[2 + axis], padding[axis], padding[axis + 2]
            span = size + before + after - (kernel[axis] - 1) * dilations[axis] - 1
            count = -(-span // strides[axis]) + 1
            if (count - 1) * strides[axis] >= size + before:
                count -= 1
            padding[axis + 2] += max((count - 1) * strides[axis] - span, 0)
            out_hw.append(count)
        graph.shapes[node.outputs[0]] = (*in_shape[:2], *out_hw)
    return kernel, strides, dilations, (padding[0], padding[1], padding[2], padding[3])


def convert_max_pool(graph: OnnxGraph, node: OnnxNode) -> None:
    """MaxPool -> graph.max_pool2d (a strided slice first when dilated)."""
    if any(graph.is_used(name) for name in node.outputs[1:]):
        raise Unsupported("the Indices output is not supported")
    kernel, strides, dilations, padding = _pool_window(graph, node)
    ifm = graph.value(node.inputs[0])
    if dilations != (1, 1):
        ifm, strides, padding = _undilate(graph, ifm, kernel, strides, dilations, padding,
                                          graph.shape(node.outputs[0])[2:])
    pool = MaxPool2dOp(ifm, graph.tensor_type(node.outputs[0]), kernel, strides, padding)
    graph.bind(node.outputs[0], graph.emit(pool).results[0])


def _undilate(
    graph: OnnxGraph, ifm: SSAValue, kernel: Pair, strides: Pair, dilations: Pair,
    padding: Padding, out_hw: Sequence[int],
) -> tuple[SSAValue, Pair, Padding]:
    """A dilated max pool as a plain one on every dilation-th row and column.

    With stride a multiple of the dilation every window reads the same
    residue class of rows (columns): slice that class, then pool with the
    kernel undilated, stride / dilation and the padding rescaled.
    """
    if any(stride % dilation for stride, dilation in zip(strides, dilations)):
        raise Unsupported(f"dilations {list(dilations)} must divide strides {list(strides)}")
    shape = list(value_shape(ifm))
    begin, end, step = [0, 0, 0, 0], list(shape), [1, 1, 1, 1]
    new_strides, new_padding = [0, 0], [0, 0, 0, 0]
    for axis in (0, 1):
        size, dilation, before = shape[1 + axis], dilations[axis], padding[axis]
        first = -before % dilation
        new_strides[axis] = strides[axis] // dilation
        new_padding[axis] = (first + before) // dilation
        needed = (out_hw[axis] - 1) * new_strides[axis] + kernel[axis] - new_padding[axis]
        count = min(len(range(first, size, dilation)), needed)
        new_padding[axis + 2] = needed - count
        begin[1 + axis], end[1 + axis], step[1 + axis] = first, first + (count - 1) * dilation + 1, dilation
        shape[1 + axis] = count
    sliced = graph.emit(SliceOp(ifm, f32_tensor(shape), begin, end, step)).results[0]
    top, left, bottom, right = new_padding
    return sliced, (new_strides[0], new_strides[1]), (top, left, bottom, right)


def convert_average_pool(graph: OnnxGraph, node: OnnxNode) -> None:
    """AveragePool -> graph.avg_pool2d; with count_include_pad=1 an explicit zero pad first."""
    kernel, strides, dilations, padding = _pool_window(graph, node)
    if dilations != (1, 1):
        raise Unsupported("dilated average pooling is not supported")
    ifm = graph.value(node.inputs[0])
    if node.int_attr("count_include_pad", 0) and any(padding):
        declared = explicit_padding(node, graph.shape(node.inputs[0])[2:], kernel, strides, (1, 1))
        ifm = _zero_pad(graph, ifm, declared)
        top, left, bottom, right = (p - d for p, d in zip(padding, declared))
        padding = (top, left, bottom, right)
    pool = AvgPool2dOp(ifm, graph.tensor_type(node.outputs[0]), kernel, strides, padding)
    graph.bind(node.outputs[0], graph.emit(pool).results[0])


def _zero_pad(graph: OnnxGraph, ifm: SSAValue, padding: Padding) -> SSAValue:
    """`graph.pad` of an NHWC value by (top, left, bottom, right) zeros."""
    if not any(padding):
        return ifm
    top, left, bottom, right = padding
    batch, height, width, channels = value_shape(ifm)
    padded_type = f32_tensor((batch, height + top + bottom, width + left + right, channels))
    pad = PadOp(ifm, padded_type, [0, 0, top, bottom, left, right, 0, 0], "constant", 0.0)
    return graph.emit(pad).results[0]


def _convert_global_pool(
    graph: OnnxGraph, node: OnnxNode, op_class: type[MaxPool2dOp] | type[AvgPool2dOp]
) -> None:
    in_shape = graph.shape(node.inputs[0])
    _window_rank_check("pooling", len(in_shape))
    pool = op_class(graph.value(node.inputs[0]), graph.tensor_type(node.outputs[0]), in_shape[2:])
    graph.bind(node.outputs[0], graph.emit(pool).results[0])


def convert_global_average_pool(graph: OnnxGraph, node: OnnxNode) -> None:
    """GlobalAveragePool -> graph.avg_pool2d with the whole feature map as kernel."""
    _convert_global_pool(graph, node, AvgPool2dOp)


def convert_global_max_pool(graph: OnnxGraph, node: OnnxNode) -> None:
    """GlobalMaxPool -> graph.max_pool2d with the whole feature map as kernel."""
    _convert_global_pool(graph, node, MaxPool2dOp)


CONVERTERS = {
    "Conv": lifted(convert_conv),
    "ConvTranspose": lifted(convert_conv_transpose),
    "MaxPool": lifted(convert_max_pool),
    "AveragePool": lifted(convert_average_pool),
    "GlobalAveragePool": lifted(convert_global_average_pool),
    "GlobalMaxPool": lifted(convert_global_max_pool),
}
