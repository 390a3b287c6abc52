"""TFLite's integer semantics as reference handlers, one per quantized op class.

`QUANTIZED_HANDLERS` maps each quantized op to the integer kernel of
`npuc.reference` that computes it (int8 and 16x8 activations). The rescale
parameters of a conv-like op are derived from the scales in its types by
`npuc.reference.int_parameters`. (TFLite's reference
FULLY_CONNECTED rounds a double-precision rescale; the kernel here rounds the
product with the fixed-point multiplier once, which gives the same result
unless the exact value lies within 2^-31 of its magnitude of a rounding tie.)

`npu.stage` (a copy into another memory) is the identity, so IR annotated by
the back end runs as well. Ops that act on the leading axis run per sample
(`npuc.reference.batching`), so a batch of N samples gives the results of N
separate runs. The public helpers are shared with `ort_handlers`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr
from xdsl.ir import Operation

from npuc.dialects import npu, quantized
from npuc.dialects.common import array_values, layer_name, property_of, value_shape
from npuc.errors import InputDataError, ModelVerificationError, UnsupportedOperatorError
from npuc.reference import (
    fixed_point,
    int_activations,
    int_elementwise,
    int_kernels,
    int_softmax,
    int_tensor_ops,
    movement_handlers,
)
from npuc.reference.batching import batch_views, merge_batch
from npuc.reference.int_parameters import (
    ConvLike,
    activation_bounds,
    check_add_rescale,
    qtype_of,
    rescale_parameters,
    tensor_params,
)
from npuc.reference.interpreter import Handler, constant, reshape, transpose


def unsupported(op: Operation, reason: str) -> UnsupportedOperatorError:
    return UnsupportedOperatorError("reference interpreter", [(layer_name(op), op.name, reason)])


def _external(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """An opaque op runs only on the CPU runtime: say which one has no reference."""
    assert isinstance(op, quantized.ExternalOp)
    raise unsupported(op, f"no reference implementation for TFLite op {op.op_type.data}")


def property_value(op: Operation, name: str) -> int | float | str:
    """The Python value of a string, integer or float property."""
    attr = op.properties[name]
    if isinstance(attr, StringAttr):
        return attr.data
    assert isinstance(attr, IntegerAttr | FloatAttr), f"{op.name} property '{name}' is {attr}"
    return attr.value.data


def int_property(op: Operation, name: str) -> int:
    value = property_value(op, name)
    assert isinstance(value, int)
    return value


def _conv_like(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, ConvLike)
    ifm, weights, bias = operands
    multiplier, shift = rescale_parameters(op)
    common = (
        ifm, qtype_of(op.ifm).zero_point, weights, bias, multiplier, shift,
        qtype_of(op.ofm).zero_point, *activation_bounds(op),
    )  # fmt: skip
    if isinstance(op, quantized.FullyConnectedOp):
        return int_kernels.fully_connected(*common)
    window = op.window()
    if isinstance(op, quantized.TransposeConv2dOp):
        if window.dilations != (1, 1):
            raise unsupported(op, "TFLite's TRANSPOSE_CONV has no dilation")
        return int_kernels.transpose_conv2d(*common, window.strides, window.padding, op.output_extra())
    if isinstance(op, quantized.DepthwiseConv2dOp):
        return int_kernels.depthwise_conv2d(
            *common, window.strides, window.dilations, window.padding, op.depth_multiplier(),
            np.dtype(f"int{qtype_of(op.ofm).bits}"),
        )  # fmt: skip
    assert isinstance(op, quantized.Conv2dOp)
    return int_kernels.conv2d(*common, window.strides, window.dilations, window.padding, op.group_count())


def per_sample(op: Operation, operands: list[np.ndarray]) -> list[np.ndarray]:
    """The operands as `[N, *ir_shape]`, ranks aligned to the result's for broadcasting."""
    return batch_views(op, operands, rank=len(value_shape(op.results[0])))


def _rescaling_binary(function: Callable) -> Handler:
    """ADD, SUB, MUL: both inputs' and the output's parameters, fused activation."""

    def handler(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
        first, second = per_sample(op, operands)
        (a_scale, a_zp), (b_scale, b_zp) = tensor_params(op.operands[0]), tensor_params(op.operands[1])
        ofm_scale, ofm_zp = tensor_params(op.results[0])
        ofm = function(
            first, a_zp, a_scale, second, b_zp, b_scale, ofm_zp, ofm_scale, *activation_bounds(op)
        )
        return merge_batch(op, ofm)

    return handler


def _adding_binary(function: Callable) -> Handler:
    """ADD, SUB: `_rescaling_binary` after `check_add_rescale`."""
    rescaling = _rescaling_binary(function)

    def handler(op: Operation, operands: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        assert isinstance(op, quantized.AddOp | quantized.SubOp)
        check_add_rescale(op)
        return rescaling(op, operands)

    return handler


_rescaled_squared_difference = _rescaling_binary(int_elementwise.squared_difference)


def _squared_difference(op: Operation, operands: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """SQUARED_DIFFERENCE: int8 only, with an output rescale TFLite can represent (below 1)."""
    (a_scale, _), (b_scale, _) = tensor_params(op.operands[0]), tensor_params(op.operands[1])
    ofm_scale, _ = tensor_params(op.results[0])
    if qtype_of(op.results[0]).bits != 8:
        raise unsupported(op, "TFLite's SQUARED_DIFFERENCE has an int8 form only")
    real = int_elementwise.squared_difference_output_multiplier(a_scale, b_scale, ofm_scale)
    if not np.isfinite(real) or fixed_point.quantize_multiplier(real)[1] > 0:
        raise ModelVerificationError(
            f"layer '{layer_name(op)}' ({op.name}): output scale {ofm_scale:g} is too small for input "
            f"scales {a_scale:g} and {b_scale:g}: the rescale (2 * max(input scales))^2 / "
            f"(2^14 * output scale) = {real:g} must be below 1"
        )
    return _rescaled_squared_difference(op, operands)


_rescaled_div = _rescaling_binary(int_elementwise.div)


def _div(op: Operation, operands: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """DIV: a divisor equal to its zero point (a real zero) is refused, as TFLite refuses it when it runs."""
    _, divisor_zero_point = tensor_params(op.operands[1])
    if np.any(operands[1] == divisor_zero_point):
        raise InputDataError(f"layer '{layer_name(op)}' ({op.name}): division by zero (a divisor equal to its zero point)")
    return _rescaled_div(op, operands)


def _batch_matmul(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    """BATCH_MATMUL of two computed tensors (int8 or 16x8), leading axes broadcast per sample."""
    lhs, rhs = per_sample(op, operands)
    (lhs_scale, lhs_zp), (rhs_scale, rhs_zp) = tensor_params(op.operands[0]), tensor_params(op.operands[1])
    ofm_scale, ofm_zp = tensor_params(op.results[0])
    ofm = int_kernels.batch_matmul(lhs, lhs_zp, lhs_scale, rhs, rhs_zp, rhs_scale, ofm_zp, ofm_scale)
    return merge_batch(op, ofm)


def _comparing_binary(function: Callable) -> Handler:
    """MAXIMUM, MINIMUM: stored values compared directly, then the fused activation clamp."""

    def handler(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
        ofm = merge_batch(op, function(*per_sample(op, operands)))
        return np.clip(ofm, *activation_bounds(op)).astype(ofm.dtype)

    return handler


def pool(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, quantized.MaxPool2dOp | quantized.AvgPool2dOp)
    function = (
        int_kernels.max_pool2d if isinstance(op, quantized.MaxPool2dOp) else int_kernels.avg_pool2d
    )
    window = op.window()
    return function(operands[0], window.kernel, window.strides, window.padding, *activation_bounds(op))


def _clamp(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, quantized.ClampOp)
    return np.clip(operands[0], op.min.value.data, op.max.value.data).astype(operands[0].dtype)


def _quantize(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    ofm = qtype_of(op.results[0])
    return fixed_point.quantize(
        operands[0], ofm.scale, ofm.zero_point, ofm.qmin, ofm.qmax, dtype=ofm.numpy_dtype()
    )


def _requantize(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    ifm, ofm = qtype_of(op.operands[0]), qtype_of(op.results[0])
    return int_kernels.requantize(
        operands[0], ifm.scale, ifm.zero_point, ofm.scale, ofm.zero_point,
        ofm.qmin, ofm.qmax, ofm.numpy_dtype(),
    )  # fmt: skip


def _dequantize(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return fixed_point.dequantize(operands[0], *tensor_params(op.operands[0]))


def _identity(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    return operands[0]


INT8_ONLY = (quantized.HardSwishOp, quantized.GeluOp, quantized.HardSigmoidOp, quantized.RsqrtOp)
"""Activations npuc computes for int8 only (GELU: TFLite's int16 form is not reproduced)."""


def _require_tflite_form(op: Operation) -> None:
    """Reject the quantization parameters TFLite's kernels do not accept for an op.

    SOFTMAX, LOGISTIC and TANH compute into fixed output formats, int16
    activations of these lookup-based ops need zero points 0, and the
    `INT8_ONLY` activations exist for int8 only.
    """
    in_zp = qtype_of(op.operands[0]).zero_point
    out_scale, out_zp = tensor_params(op.results[0])
    bits = qtype_of(op.results[0]).bits
    problems = []
    if isinstance(op, INT8_ONLY) and bits != 8:
        problems.append("it has an int8 form only (TFLite's HARD_SWISH, GELU and RSQRT; hard sigmoid as GELU)")
    lookup = isinstance(op, quantized.SoftmaxOp | quantized.LogisticOp | quantized.TanhOp)
    if lookup and bits == 16 and (in_zp, out_zp, out_scale) != (0, 0, 2.0**-15):
        problems.append("the int16 form needs zero points 0 and output scale 2^-15")
    if isinstance(op, quantized.LogisticOp) and bits == 8 and out_scale != 1 / 256:
        problems.append("the int8 form needs output scale 1/256")
    softmax_int8 = isinstance(op, quantized.SoftmaxOp) and bits == 8
    if softmax_int8 and (out_zp != -128 or abs(out_scale - 1 / 256) > 0.001 / 256):
        problems.append("the int8 form needs output scale 1/256 and zero point -128")
    if problems:
        raise unsupported(op, problems[0])


def _unary(function: Callable, *properties: str) -> Handler:
    """Elementwise activations taking (x, in_zp, in_scale, out_zp, out_scale, *properties)."""

    def handler(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
        _require_tflite_form(op)
        in_scale, in_zp = tensor_params(op.operands[0])
        out_scale, out_zp = tensor_params(op.results[0])
        values = [property_value(op, name) for name in properties]
        return function(operands[0], in_zp, in_scale, out_zp, out_scale, *values)

    return handler


def _gelu(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, quantized.GeluOp)
    _require_tflite_form(op)
    (in_scale, in_zp), (out_scale, out_zp) = tensor_params(op.input), tensor_params(op.output)
    return int_activations.gelu(operands[0], in_zp, in_scale, out_zp, out_scale, op.is_approximate)


def _prelu(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    ifm, slope = batch_views(op, operands, rank=len(value_shape(op.results[0])))
    (in_scale, in_zp), (out_scale, out_zp) = tensor_params(op.operands[0]), tensor_params(op.results[0])
    slope_scale, slope_zp = tensor_params(op.operands[1])
    ofm = int_activations.prelu(
        ifm, in_zp, in_scale, slope, slope_zp, slope_scale, out_zp, out_scale
    )
    return merge_batch(op, ofm)


def _softmax(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    _require_tflite_form(op)
    (source,) = batch_views(op, operands)
    axis = int_property(op, "axis") + 1
    beta = property_of(op, "beta", FloatAttr).value.data
    last = np.moveaxis(source, axis, -1)
    ofm = int_softmax.softmax(np.ascontiguousarray(last), qtype_of(op.operands[0]).scale, beta)
    return merge_batch(op, np.ascontiguousarray(np.moveaxis(ofm, -1, axis)))


def _reduce(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, quantized.ReduceOp)
    (source,) = batch_views(op, operands)
    axes = [axis + 1 for axis in array_values(op.axes)]
    ifm, ofm = tensor_params(op.input), tensor_params(op.output)
    kind = op.kind.data
    if kind in ("mean", "sum"):
        function = int_tensor_ops.mean if kind == "mean" else int_tensor_ops.reduce_sum
        return merge_batch(op, function(source, axes, op.keeps_dims(), ifm, ofm))
    reduced = (np.max if kind == "max" else np.min)(
        source, axis=tuple(axes), keepdims=op.keeps_dims()
    )
    ofm_type = qtype_of(op.output)
    requantized = int_kernels.requantize(
        reduced, *ifm, *ofm, ofm_type.qmin, ofm_type.qmax, ofm_type.numpy_dtype()
    )
    return merge_batch(op, requantized)


def _concat(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    quantizations = [tensor_params(value) for value in op.operands]
    ofm = int_tensor_ops.concatenate(
        batch_views(op, operands), quantizations, tensor_params(op.results[0]), int_property(op, "axis") + 1
    )
    return merge_batch(op, ofm)


TFLITE_RESIZE_FLAGS: dict[tuple[str, str, str], tuple[bool, bool]] = {
    ("nearest", "asymmetric", "floor"): (False, False),
    ("nearest", "align_corners", "round_prefer_ceil"): (True, False),
    ("nearest", "half_pixel", "round_prefer_ceil"): (False, True),
    ("linear", "asymmetric", ""): (False, False),
    ("linear", "align_corners", ""): (True, False),
    ("linear", "half_pixel", ""): (False, True),
}
"""(mode, coordinate mode, nearest mode) -> TFLite's (align_corners, half_pixel_centers).

Quantized resizes have TFLite's semantics; other coordinate rules have no
integer reference (linear resizes ignore the nearest mode)."""


def _resize(op: Operation, operands: list[np.ndarray]) -> np.ndarray:
    assert isinstance(op, quantized.ResizeOp)
    mode, coordinates = op.mode.data, op.coordinate_mode.data
    output_hw = op.output_hw()
    if coordinates == "pytorch_half_pixel" and min(output_hw) > 1:
        coordinates = "half_pixel"
    key = (mode, coordinates, op.nearest_mode.data if mode == "nearest" else "")
    if key not in TFLITE_RESIZE_FLAGS:
        raise unsupported(op, f"no TFLite resize with {', '.join(filter(None, key))}")
    function = (
        int_tensor_ops.resize_nearest if mode == "nearest" else int_tensor_ops.resize_bilinear
    )
    return function(operands[0], output_hw, *TFLITE_RESIZE_FLAGS[key])


QUANTIZED_HANDLERS: dict[type[Operation], Handler] = {
    quantized.ConstantOp: constant,
    quantized.ExternalOp: _external,
    quantized.Conv2dOp: _conv_like,
    quantized.DepthwiseConv2dOp: _conv_like,
    quantized.FullyConnectedOp: _conv_like,
    quantized.TransposeConv2dOp: _conv_like,
    quantized.AddOp: _adding_binary(int_elementwise.add),
    quantized.SubOp: _adding_binary(int_elementwise.sub),
    quantized.MulOp: _rescaling_binary(int_elementwise.mul),
    quantized.DivOp: _div,
    quantized.SquaredDifferenceOp: _squared_difference,
    quantized.BatchMatMulOp: _batch_matmul,
    quantized.MaximumOp: _comparing_binary(int_elementwise.maximum),
    quantized.MinimumOp: _comparing_binary(int_elementwise.minimum),
    quantized.MaxPool2dOp: pool,
    quantized.AvgPool2dOp: pool,
    quantized.ReshapeOp: reshape,
    quantized.TransposeOp: transpose,
    quantized.ClampOp: _clamp,
    quantized.QuantizeOp: _quantize,
    quantized.RequantizeOp: _requantize,
    quantized.DequantizeOp: _dequantize,
    quantized.ReluOp: _unary(int_activations.relu, "kind"),
    quantized.LeakyReluOp: _unary(int_activations.leaky_relu, "alpha"),
    quantized.HardSwishOp: _unary(int_activations.hard_swish),
    quantized.LogisticOp: _unary(int_activations.logistic),
    quantized.TanhOp: _unary(int_activations.tanh),
    quantized.HardSigmoidOp: _unary(int_activations.hard_sigmoid, "alpha", "beta"),
    quantized.GeluOp: _gelu,
    quantized.RsqrtOp: _unary(int_activations.rsqrt),
    quantized.PReluOp: _prelu,
    quantized.SoftmaxOp: _softmax,
    quantized.ReduceOp: _reduce,
    quantized.ConcatOp: _concat,
    quantized.SplitOp: movement_handlers.split,
    quantized.SliceOp: movement_handlers.slice_,
    quantized.PadOp: movement_handlers.pad,
    quantized.ResizeOp: _resize,
    quantized.DepthToSpaceOp: movement_handlers.depth_to_space,
    quantized.SpaceToDepthOp: movement_handlers.space_to_depth,
    npu.StageOp: _identity,
}
"""Quantized op class -> the function computing its results."""
