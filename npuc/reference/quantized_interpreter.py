"""Integer reference interpreter of quantized IR, with TFLite's integer semantics.

`run_quantized` executes `@main` with the int8 kernels of
`npuc.reference.int_kernels`. The rescale parameters of a layer op are
derived from the scales in its types by `rescale_parameters` and
`activation_bounds`: the npu-lower pass builds its scale/bias tables with the
same two functions, so the simulator and this interpreter agree by
construction. Scheduling annotations are ignored and `npu.stage` (a copy into
another memory) is the identity, so annotated IR runs as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue

from npuc.dialects import npu, quantized
from npuc.dialects.common import layer_name
from npuc.dialects.quantized import UniformQuantizedType, quant_type
from npuc.errors import InputDataError, UnsupportedOperatorError
from npuc.reference import fixed_point, int_kernels
from npuc.reference.graph_interpreter import (
    Execution,
    Handler,
    constant,
    interpret_block,
    reshape,
    run_function,
    transpose,
)


def _qtype(value: SSAValue) -> UniformQuantizedType:
    qtype = quant_type(value)
    assert qtype is not None, "verified quantized IR has quantized activations"
    return qtype


def _scales_f32(qtype: UniformQuantizedType) -> np.ndarray:
    """Scales as TFLite holds them: float32 values."""
    return qtype.scale_array().astype(np.float32)


def rescale_parameters(op: Operation) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) int32 arrays of a conv-like op.

    The real multiplier of channel c is `ifm_scale * weight_scale[c] / ofm_scale`
    on float32 scales promoted to double, as TFLite's CONV_2D and
    DEPTHWISE_CONV_2D compute it; FULLY_CONNECTED forms the product
    `ifm_scale * weight_scale` in float32 first (GetQuantizedConvolutionMultipler).
    Per-tensor weight scales are broadcast to every output channel.
    """
    assert isinstance(
        op, quantized.Conv2dOp | quantized.DepthwiseConv2dOp | quantized.FullyConnectedOp
    )
    ifm_scale = _scales_f32(_qtype(op.ifm))[0]
    ofm_scale = _scales_f32(_qtype(op.ofm))[0].astype(np.float64)
    channels = op.ofm.type.get_shape()[-1]
    weight_scales = np.broadcast_to(_scales_f32(_qtype(op.weights)), (channels,))
    if isinstance(op, quantized.FullyConnectedOp):
        product = (ifm_scale * weight_scales).astype(np.float64)
    else:
        product = np.float64(ifm_scale) * weight_scales.astype(np.float64)
    return fixed_point.quantize_multipliers(product / ofm_scale)


def activation_bounds(op: Operation) -> tuple[int, int]:
    """The [act_min, act_max] clamp of a layer op's fused activation, in ofm integers.

    TFLite's CalculateActivationRangeQuantized with the ofm scale and zero point.
    """
    ofm = _qtype(op.results[0])
    activation = op.properties["activation"].data  # type: ignore[attr-defined]
    return fixed_point.activation_range(activation, ofm.scale, ofm.zero_point, ofm.qmin, ofm.qmax)


def _require_int8(op: Operation) -> None:
    """The integer kernels implement int8 activations only."""
    if _qtype(op.results[0]).bits != 8:
        raise UnsupportedOperatorError(
            "reference interpreter",
            [(layer_name(op), op.name, "only int8 activations have reference kernels")],
        )


def _conv_like(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    _require_int8(op)
    ifm, weights, bias = operands
    multiplier, shift = rescale_parameters(op)
    common = (
        ifm,
        _qtype(op.operands[0]).zero_point,
        weights,
        bias,
        multiplier,
        shift,
        _qtype(op.results[0]).zero_point,
        *activation_bounds(op),
    )
    if isinstance(op, quantized.FullyConnectedOp):
        return int_kernels.fully_connected(*common)
    assert isinstance(op, quantized.Conv2dOp | quantized.DepthwiseConv2dOp)
    if isinstance(op, quantized.DepthwiseConv2dOp):
        return int_kernels.depthwise_conv2d(*common, *op.window(), op.depth_multiplier())
    return int_kernels.conv2d(*common, *op.window())


def _add(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    _require_int8(op)
    first, second, ofm = (_qtype(value) for value in (*op.operands, op.results[0]))
    return int_kernels.add(
        operands[0], first.zero_point, first.scale,
        operands[1], second.zero_point, second.scale,
        ofm.zero_point, ofm.scale, *activation_bounds(op),
    )  # fmt: skip


def _pool(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    _require_int8(op)
    assert isinstance(op, quantized.MaxPool2dOp | quantized.AvgPool2dOp)
    if isinstance(op, quantized.MaxPool2dOp):
        return int_kernels.max_pool2d(operands[0], *op.window(), *activation_bounds(op))
    return int_kernels.avg_pool2d(operands[0], *op.window(), *activation_bounds(op))


def _clamp(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, quantized.ClampOp)
    return np.clip(operands[0], op.min.value.data, op.max.value.data).astype(operands[0].dtype)


def _quantize(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    ofm = _qtype(op.results[0])
    return fixed_point.quantize(
        operands[0], ofm.scale, ofm.zero_point, ofm.qmin, ofm.qmax, dtype=ofm.numpy_dtype()
    )


def _dequantize(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    ifm = _qtype(op.operands[0])
    return fixed_point.dequantize(operands[0], ifm.scale, ifm.zero_point)


def _identity(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return operands[0]


QUANTIZED_HANDLERS: dict[type[Operation], Handler] = {
    quantized.ConstantOp: constant,
    quantized.Conv2dOp: _conv_like,
    quantized.DepthwiseConv2dOp: _conv_like,
    quantized.FullyConnectedOp: _conv_like,
    quantized.AddOp: _add,
    quantized.MaxPool2dOp: _pool,
    quantized.AvgPool2dOp: _pool,
    quantized.ReshapeOp: reshape,
    quantized.TransposeOp: transpose,
    quantized.ClampOp: _clamp,
    quantized.QuantizeOp: _quantize,
    quantized.DequantizeOp: _dequantize,
    npu.StageOp: _identity,
}
"""Quantized op class -> the function computing its result."""


def _as_interface_type(argument: SSAValue, array: np.ndarray, name: str) -> np.ndarray:
    """f32 arguments take floats; quantized arguments take stored integers."""
    qtype = quant_type(argument)
    if qtype is None:
        return array.astype(np.float32, copy=False)
    if not np.issubdtype(array.dtype, np.integer):
        raise InputDataError(
            f"input '{name}' is quantized ({qtype.storage_type}); pass integer data, "
            f"got {array.dtype.name}"
        )
    return array.astype(qtype.numpy_dtype(), copy=False)


def run_quantized(
    module: ModuleOp, inputs: Sequence[np.ndarray], keep_values: bool = False
) -> Execution:
    """Execute quantized IR with TFLite integer semantics on NHWC inputs (any batch N)."""
    return run_function(module, inputs, QUANTIZED_HANDLERS, _as_interface_type, keep_values)


def run_block(block: Block, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Execute a block of quantized ops (an `npu.cpu_op` body) on stored integers."""
    values = dict(zip(block.args, map(np.asarray, inputs), strict=True))
    return interpret_block(block, values, QUANTIZED_HANDLERS)
