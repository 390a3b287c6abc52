"""The integers TFLite derives from a quantized op's types: rescales, activation clamps, the ADD/SUB check.

`rescale_parameters` gives a conv-like op's per-channel (multiplier, shift),
`activation_bounds` the clamp of its fused activation and `check_add_rescale`
refuses an ADD or SUB whose output rescale has no integer form. The
reference handlers (`npuc.reference.int_handlers`) compute with them and the
back end encodes them, so both see the same integers; this module holds
them apart from the interpreter, so compiling does not load it.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Operation, SSAValue

from npuc.dialects import quantized
from npuc.dialects.common import layer_name, property_of, value_shape
from npuc.dialects.quantized import UniformQuantizedType, quant_type
from npuc.errors import ModelVerificationError
from npuc.reference import fixed_point, int_elementwise, int_kernels

ConvLike = (
    quantized.Conv2dOp
    | quantized.DepthwiseConv2dOp
    | quantized.FullyConnectedOp
    | quantized.TransposeConv2dOp
)
"""The quantized ops that rescale an int32 accumulator per output channel."""


def qtype_of(value: SSAValue) -> UniformQuantizedType:
    """The quantized type of an activation of verified quantized IR."""
    qtype = quant_type(value)
    assert qtype is not None, "verified quantized IR has quantized activations"
    return qtype


def tensor_params(value: SSAValue) -> tuple[float, int]:
    """(scale, zero point) of a per-tensor quantized value."""
    qtype = qtype_of(value)
    return qtype.scale, qtype.zero_point


def rescale_parameters(op: Operation) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) int32 arrays of a conv-like op.

    An explicit `rescale` property wins (a per-tensor pair is broadcast).
    Otherwise the real multiplier of channel c is `ifm_scale * weight_scale[c]
    / ofm_scale` on float32 scales promoted to double, as TFLite computes it;
    per-tensor weight scales are broadcast to every output channel.
    """
    assert isinstance(op, ConvLike)
    channels = value_shape(op.ofm)[-1]
    explicit = op.explicit_rescale()
    if explicit is not None:
        multipliers, shifts = (
            np.broadcast_to(np.array(values, dtype=np.int32), (channels,)) for values in explicit
        )
        return multipliers, shifts
    weight_scales = np.broadcast_to(qtype_of(op.weights).scale_array(), (channels,))
    return int_kernels.conv_rescale(qtype_of(op.ifm).scale, weight_scales, qtype_of(op.ofm).scale)


def activation_bounds(op: Operation) -> tuple[int, int]:
    """The [act_min, act_max] clamp of a layer op's fused activation, in ofm integers.

    TFLite's CalculateActivationRangeQuantized with the ofm scale and zero point.
    """
    ofm = qtype_of(op.results[0])
    activation = property_of(op, "activation", StringAttr).data
    return fixed_point.activation_range(activation, ofm.scale, ofm.zero_point, ofm.qmin, ofm.qmax)


def check_add_rescale(op: quantized.AddOp | quantized.SubOp) -> None:
    """`ModelVerificationError` naming an ADD or SUB whose output rescale TFLite cannot represent.

    Its real multiplier (`int_elementwise.add_output_multiplier`) must be
    below 1 and round to a Q31 multiplier of shift <= 0: a scale ratio like
    1e60 between the inputs and the output has no integer form, in TFLite as
    on the NPU.
    """
    (a_scale, _), (b_scale, _) = tensor_params(op.operands[0]), tensor_params(op.operands[1])
    ofm_scale, _ = tensor_params(op.results[0])
    bits = qtype_of(op.results[0]).bits
    real = int_elementwise.add_output_multiplier(a_scale, b_scale, ofm_scale, bits)
    if not np.isfinite(real) or fixed_point.quantize_multiplier(real)[1] > 0:
        raise ModelVerificationError(
            f"layer '{layer_name(op)}' ({op.name}): output scale {ofm_scale:g} is too small for input "
            f"scales {a_scale:g} and {b_scale:g}: the rescale 2 * max(input scales) / "
            f"(2^{int_elementwise.ADD_LEFT_SHIFT[bits]} * output scale) = {real:g} must be below 1"
        )
