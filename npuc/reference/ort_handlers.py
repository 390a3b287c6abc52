"""The quantized interpreter's handlers for onnxruntime's rounding (QDQ ONNX models).

A module marked `quantized.rounding = "onnxruntime"` runs with `ORT_HANDLERS`:
TFLite's handlers (`int_handlers.QUANTIZED_HANDLERS`) except for the
ops whose arithmetic onnxruntime defines differently, computed with
`npuc.reference.ort_kernels` (see its docstring for the kernels mirrored).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.ir import Operation

from npuc.dialects import quantized
from npuc.dialects.common import value_shape
from npuc.dialects.quantized import quant_type
from npuc.reference import int_kernels, ort_kernels
from npuc.reference.batching import batch_views, merge_batch
from npuc.reference.int_handlers import (
    QUANTIZED_HANDLERS,
    int_property,
    per_sample,
    pool,
    property_value,
    unsupported,
)
from npuc.reference.int_parameters import (
    ConvLike,
    activation_bounds,
    qtype_of,
    tensor_params,
)
from npuc.reference.interpreter import Handler


def _ort_conv_like(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """QLinearConv / QLinearMatMul: exact int32 accumulation, float32 requantization."""
    assert isinstance(op, ConvLike)
    if "rescale" in op.properties:
        raise unsupported(op, "an explicit rescale has no onnxruntime-rounding reference")
    ifm, weights, bias = operands
    zero_point = qtype_of(op.ifm).zero_point
    if isinstance(op, quantized.FullyConnectedOp):
        acc = int_kernels.fully_connected_accumulator(ifm, zero_point, weights)
    elif isinstance(op, quantized.DepthwiseConv2dOp):
        window = op.window()
        acc = int_kernels.depthwise_accumulator(
            ifm, zero_point, weights, window.strides, window.dilations, window.padding, op.depth_multiplier()
        )
    elif isinstance(op, quantized.Conv2dOp):
        window = op.window()
        acc = int_kernels.conv_accumulator(
            ifm, zero_point, weights, window.strides, window.dilations, window.padding, op.group_count()
        )
    else:
        raise unsupported(op, "no onnxruntime-rounding reference for a transposed conv")
    acc = acc + bias.astype(np.int64)
    channels = value_shape(op.ofm)[-1]
    weight_scales = np.broadcast_to(qtype_of(op.weights).scale_array(), (channels,))
    ofm = qtype_of(op.ofm)
    scales = ort_kernels.requantize_scales(qtype_of(op.ifm).scale, weight_scales, ofm.scale)
    low, high = activation_bounds(op)
    return ort_kernels.requantize_output(acc, scales, ofm.zero_point, low, high, ofm.numpy_dtype())


def _ort_binary(function: Callable) -> Handler:
    """Add, Sub, Mul between DequantizeLinear and QuantizeLinear, in float32."""

    def handler(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
        first, second = per_sample(op, operands)
        ofm = qtype_of(op.results[0])
        low, high = activation_bounds(op)
        result = ort_kernels.float_binary(
            function, first, tensor_params(op.operands[0]), second, tensor_params(op.operands[1]),
            tensor_params(op.results[0]), low, high, ofm.numpy_dtype(),
        )  # fmt: skip
        return merge_batch(op, result)

    return handler


def _ort_pool(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    if isinstance(op, quantized.MaxPool2dOp):
        return pool(op, operands)
    assert isinstance(op, quantized.AvgPool2dOp)
    window = op.window()
    low, high = activation_bounds(op)
    return ort_kernels.avg_pool2d(
        operands[0], tensor_params(op.operands[0]), tensor_params(op.results[0]), low, high,
        window.kernel, window.strides, window.padding,
    )  # fmt: skip


def _ort_quantize(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    ofm = qtype_of(op.results[0])
    real = operands[0]
    if quant_type(op.operands[0]) is not None:  # a requantize: DequantizeLinear first
        real = ort_kernels.dequantize_linear(real, *tensor_params(op.operands[0]))
    return ort_kernels.quantize_linear(
        real, ofm.scale, ofm.zero_point, ofm.qmin, ofm.qmax, ofm.numpy_dtype()
    )


def _ort_dequantize(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return ort_kernels.dequantize_linear(operands[0], *tensor_params(op.operands[0]))


def _ort_softmax(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    if qtype_of(op.results[0]).bits != 8 or property_value(op, "beta") != 1.0:
        raise unsupported(op, "onnxruntime's QLinearSoftmax takes int8 with beta 1")
    (source,) = batch_views(op, operands)
    axis = int_property(op, "axis") + 1
    last = np.ascontiguousarray(np.moveaxis(source, axis, -1))
    ofm = ort_kernels.softmax_int8(last, qtype_of(op.operands[0]).scale, *tensor_params(op.results[0]))
    return merge_batch(op, np.ascontiguousarray(np.moveaxis(ofm, -1, axis)))


ORT_HANDLERS: dict[type[Operation], Handler] = {
    **QUANTIZED_HANDLERS,
    quantized.Conv2dOp: _ort_conv_like,
    quantized.DepthwiseConv2dOp: _ort_conv_like,
    quantized.FullyConnectedOp: _ort_conv_like,
    quantized.TransposeConv2dOp: _ort_conv_like,
    quantized.AddOp: _ort_binary(np.add),
    quantized.SubOp: _ort_binary(np.subtract),
    quantized.MulOp: _ort_binary(np.multiply),
    quantized.AvgPool2dOp: _ort_pool,
    quantized.QuantizeOp: _ort_quantize,
    quantized.RequantizeOp: _ort_quantize,
    quantized.DequantizeOp: _ort_dequantize,
    quantized.SoftmaxOp: _ort_softmax,
}
"""The handlers of a module with `quantized.rounding = "onnxruntime"` (a QDQ ONNX import)."""
