"""The handlers of the float reference interpreter: one per graph op.

Each handler reads an op's properties and runs the numpy kernels of
`float_kernels` (convolution, pooling), `float_math` (arithmetic) and
`movement_kernels` (data movement) on its operand arrays. Ops that act on
the leading axis, or broadcast across it, run per sample on
`batching.batch_views` so that a batch of N samples gives the same results
as N separate runs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr
from xdsl.ir import Operation

from npuc.dialects import graph
from npuc.dialects.common import array_values, property_of, value_shape
from npuc.reference import (
    float_kernels,
    float_math,
    movement_handlers,
    movement_kernels,
)
from npuc.reference.batching import batch_views, merge_batch
from npuc.reference.fixed_point import ACTIVATION_BOUNDS
from npuc.reference.interpreter import Handler, constant, reshape, transpose


def _activation(op: Operation, ofm: np.ndarray) -> np.ndarray:
    lower, upper = ACTIVATION_BOUNDS[property_of(op, "activation", StringAttr).data]
    return float_kernels.clamp(ofm, lower, upper)


def _float(op: Operation, name: str) -> float:
    return property_of(op, name, FloatAttr).value.data


def _int(op: Operation, name: str) -> int:
    return property_of(op, name, IntegerAttr).value.data


def _conv2d(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.Conv2dOp)
    ifm, weights, bias = operands
    window = op.window()
    ofm = float_kernels.conv2d(
        ifm, weights, bias, window.strides, window.dilations, window.padding, op.group_count()
    )
    return _activation(op, ofm)


def _depthwise_conv2d(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.DepthwiseConv2dOp)
    ifm, weights, bias = operands
    window = op.window()
    ofm = float_kernels.depthwise_conv2d(
        ifm, weights, bias, window.strides, window.dilations, window.padding, op.depth_multiplier()
    )
    return _activation(op, ofm)


def _transpose_conv2d(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.TransposeConv2dOp)
    ifm, weights, bias = operands
    window = op.window()
    ofm = float_kernels.transpose_conv2d(
        ifm, weights, bias, window.strides, window.dilations, window.padding, op.output_extra()
    )
    return _activation(op, ofm)


def _fully_connected(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return _activation(op, float_kernels.fully_connected(*operands))


def _max_pool2d(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.MaxPool2dOp)
    window = op.window()
    return _activation(op, float_kernels.max_pool2d(operands[0], window.kernel, window.strides, window.padding))


def _avg_pool2d(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.AvgPool2dOp)
    window = op.window()
    return _activation(op, float_kernels.avg_pool2d(operands[0], window.kernel, window.strides, window.padding))


def _relu(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return float_kernels.clamp(operands[0], 0.0, None)


def _clip(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return float_kernels.clamp(operands[0], _float(op, "min"), _float(op, "max"))


def _per_sample(op: Operation, operands: list[np.ndarray]) -> list[np.ndarray]:
    """The operands as `[N, *ir_shape]`, ranks aligned to the result's for broadcasting."""
    return batch_views(op, operands, rank=len(value_shape(op.results[0])))


def _binary(function: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Handler:
    def handler(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
        return _activation(op, merge_batch(op, function(*_per_sample(op, operands))))

    return handler


def _ufunc(function: np.ufunc) -> Handler:
    return _binary(lambda ifm, ifm2: float_math.binary(function, ifm, ifm2))


def _prelu(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return merge_batch(op, float_math.prelu(*_per_sample(op, operands)))


def _batch_matmul(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return merge_batch(op, float_math.batch_matmul(*_per_sample(op, operands)))


def _unary(function: Callable[[np.ndarray], np.ndarray]) -> Handler:
    return lambda op, operands: function(operands[0])


def _leaky_relu(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return float_math.leaky_relu(operands[0], _float(op, "alpha"))


def _elu(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return float_math.elu(operands[0], _float(op, "alpha"))


def _gelu(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.GeluOp)
    return float_math.gelu(operands[0], op.is_approximate)


def _hard_sigmoid(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return float_math.hard_sigmoid(operands[0], _float(op, "alpha"), _float(op, "beta"))


def _lrn(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    parameters = [_float(op, name) for name in ("alpha", "beta", "bias")]
    return float_math.lrn(operands[0], _int(op, "size"), *parameters)


def _softmax(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    (source,) = batch_views(op, operands)
    return merge_batch(op, float_math.softmax(source, _int(op, "axis") + 1, _float(op, "beta")))


def _reduce(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.ReduceOp)
    (source,) = batch_views(op, operands)
    axes = [axis + 1 for axis in array_values(op.axes)]
    return merge_batch(op, float_math.reduce(source, op.kind.data, axes, op.keeps_dims()))


def _concat(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return merge_batch(op, movement_kernels.concat(batch_views(op, operands), _int(op, "axis") + 1))


def _resize(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, graph.ResizeOp)
    output_hw = op.output_hw()
    if op.mode.data == "linear":
        return float_math.resize_linear(operands[0], output_hw, op.coordinate_mode.data)
    return movement_kernels.resize_nearest(
        operands[0], output_hw, op.coordinate_mode.data, op.nearest_mode.data
    )


GRAPH_HANDLERS: dict[type[Operation], Handler] = {
    graph.ConstantOp: constant,
    graph.Conv2dOp: _conv2d,
    graph.DepthwiseConv2dOp: _depthwise_conv2d,
    graph.TransposeConv2dOp: _transpose_conv2d,
    graph.FullyConnectedOp: _fully_connected,
    graph.MaxPool2dOp: _max_pool2d,
    graph.AvgPool2dOp: _avg_pool2d,
    graph.ReshapeOp: reshape,
    graph.TransposeOp: transpose,
    graph.ReluOp: _relu,
    graph.ClipOp: _clip,
    graph.AddOp: _binary(float_kernels.add),
    graph.SubOp: _ufunc(np.subtract),
    graph.MulOp: _ufunc(np.multiply),
    graph.DivOp: _ufunc(np.divide),
    graph.MaximumOp: _ufunc(np.maximum),
    graph.MinimumOp: _ufunc(np.minimum),
    graph.PowOp: _ufunc(np.power),
    graph.PReluOp: _prelu,
    graph.BatchMatMulOp: _batch_matmul,
    graph.SigmoidOp: _unary(float_math.sigmoid),
    graph.TanhOp: _unary(float_math.tanh),
    graph.HardSwishOp: _unary(float_math.hard_swish),
    graph.SqrtOp: _unary(float_math.sqrt),
    graph.RsqrtOp: _unary(float_math.rsqrt),
    graph.SquaredDifferenceOp: _binary(float_math.squared_difference),
    graph.LeakyReluOp: _leaky_relu,
    graph.EluOp: _elu,
    graph.HardSigmoidOp: _hard_sigmoid,
    graph.GeluOp: _gelu,
    graph.SoftmaxOp: _softmax,
    graph.LrnOp: _lrn,
    graph.ReduceOp: _reduce,
    graph.ConcatOp: _concat,
    graph.SplitOp: movement_handlers.split,
    graph.SliceOp: movement_handlers.slice_,
    graph.PadOp: movement_handlers.pad,
    graph.ResizeOp: _resize,
    graph.DepthToSpaceOp: movement_handlers.depth_to_space,
    graph.SpaceToDepthOp: movement_handlers.space_to_depth,
}
"""Graph op class -> the function computing its results."""
