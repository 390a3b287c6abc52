"""Element-type rules shared by the `quantized` dialect's layer ops, as op bases.

A quantized layer op inherits its structure (operands, properties, shape
rules) from `npuc.dialects.common` and its element-type rules from one base
here: conv-like ops (int8 symmetric weights, i32/i64 bias, optional explicit
rescale), per-tensor ops (every operand and result per-tensor quantized in
one storage type), ops that keep their input's quantization, and ops whose
operands and result all share it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from xdsl.dialects.builtin import DenseArrayBase, TensorType, i32, i64
from xdsl.ir import SSAValue
from xdsl.irdl import opt_prop_def
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.common import LayerOp, array_values, tensor_shape
from npuc.dialects.quantized_type import UniformQuantizedType, quant_type


def per_tensor(value: SSAValue, what: str) -> UniformQuantizedType:
    """The per-tensor quantized type of `value`; fails verification naming `what` otherwise."""
    qtype = quant_type(value)
    if qtype is None:
        raise VerifyException(f"{what} must have a !quantized.uniform element type")
    if qtype.is_per_axis:
        raise VerifyException(f"{what} must be quantized per tensor")
    return qtype


def _check_weights(op: LayerOp, axis: int, channels: int) -> UniformQuantizedType:
    qtype = quant_type(op.operands[1])
    if qtype is None:
        raise VerifyException("weights must have a !quantized.uniform element type")
    if qtype.bits != 8:
        raise VerifyException("weights must be int8")
    if any(z.data != 0 for z in qtype.zero_points.data):
        raise VerifyException("weights must be symmetric (zero point 0)")
    if qtype.is_per_axis and (qtype.axis.data != axis or len(qtype.scales.data) != channels):
        raise VerifyException(
            f"per-axis weights must be quantized along axis {axis} with {channels} scales"
        )
    return qtype


def _check_bias(op: LayerOp, ifm: UniformQuantizedType) -> None:
    """i32 bias for 8-bit activations; i32 or i64 for 16-bit ones (TFLite 16x8)."""
    bias_type = op.operands[2].type
    assert isinstance(bias_type, TensorType)
    allowed = (i32,) if ifm.bits == 8 else (i32, i64)
    if bias_type.element_type not in allowed:
        names = " or ".join(str(t) for t in allowed)
        raise VerifyException(f"bias must be an {names} tensor, got {bias_type.element_type}")


def check_same_storage(first: UniformQuantizedType, second: UniformQuantizedType) -> None:
    """Fail verification unless the two types store their integers in the same type."""
    if first.storage_type != second.storage_type:
        raise VerifyException(
            f"ifm and ofm storage types differ ({first.storage_type} vs {second.storage_type})"
        )


RESCALE_SHIFTS = range(-31, 32)
"""Allowed shifts of an explicit rescale: real multiplier = multiplier * 2^(shift - 31)."""


def _rescale_pairs(rescale: DenseArrayBase) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(multipliers, shifts) of a `rescale` property of (multiplier, shift) pairs."""
    values = array_values(rescale)
    return values[0::2], values[1::2]


class QuantizedConvLike(LayerOp):
    """Shared rules of conv, depthwise conv, fully connected and transposed conv.

    `rescale`, when present, is the explicit fixed-point rescale of the
    accumulators: `array<i32: multiplier, shift>` for every output channel, or
    `array<i32: m0, s0, m1, s1, ...>` per output channel, in TFLite's
    QuantizeMultiplier convention (real = multiplier * 2^(shift - 31),
    multiplier in [0, 2^31), shift in -31..31). It replaces the rescale the
    scales imply (`ifm_scale * weight_scale / ofm_scale`): a rewrite whose
    arithmetic is not a product of scales sets it, as
    quantized-mean-to-depthwise does for TFLite's MEAN. With it the ofm may
    store its integers in another type than the ifm (a split MEAN's int16
    partial sums of int8 inputs, and their int8 mean).
    """

    WEIGHT_AXIS: ClassVar[int] = 0
    rescale = opt_prop_def(DenseArrayBase)

    def explicit_rescale(self) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """(multipliers, shifts) of the `rescale` property (one pair when per tensor), or None."""
        return None if self.rescale is None else _rescale_pairs(self.rescale)

    def channel_rescale(self, pick: Callable[[list], list]) -> DenseArrayBase | None:
        """The `rescale` property for other output channels: its per-channel pairs as `pick` chooses
        them from the list of pairs (a per-tensor pair, and no rescale, unchanged)."""
        if self.rescale is None or len(self.rescale) == 2:
            return self.rescale
        pairs = pick(list(zip(*_rescale_pairs(self.rescale), strict=True)))
        return DenseArrayBase.from_list(i32, [number for pair in pairs for number in pair])

    def verify_element_types(self) -> None:
        ifm = per_tensor(self.operands[0], "ifm")
        ofm = per_tensor(self.results[0], "ofm")
        if self.rescale is None:
            check_same_storage(ifm, ofm)
        channels = tensor_shape(self.results[0], "ofm")[-1]
        _check_weights(self, self.WEIGHT_AXIS, channels)
        _check_bias(self, ifm)
        self._verify_rescale(channels)

    def _verify_rescale(self, channels: int) -> None:
        if self.rescale is None:
            return
        if self.rescale.elt_type != i32:
            raise VerifyException("'rescale' must be an array<i32: ...>")
        pairs = len(self.rescale) // 2
        if len(self.rescale) % 2 or pairs not in (1, channels):
            raise VerifyException(
                f"'rescale' must hold (multiplier, shift) pairs for 1 or {channels} channels, "
                f"got {len(self.rescale)} values"
            )
        multipliers, shifts = _rescale_pairs(self.rescale)
        if any(m < 0 for m in multipliers) or any(s not in RESCALE_SHIFTS for s in shifts):
            raise VerifyException(
                "'rescale' multipliers must be non-negative and shifts within -31..31"
            )


class PerTensorLayerOp(LayerOp):
    """Ops whose operands and results are all per-tensor quantized, same storage."""

    def verify_element_types(self) -> None:
        types = [
            per_tensor(value, "operand" if value in self.operands else "result")
            for value in (*self.operands, *self.results)
        ]
        for other in types[1:]:
            check_same_storage(types[0], other)


class SameQuantizationLayerOp(PerTensorLayerOp):
    """Ops that move values without rescaling: every result has the input's parameters."""

    def verify_element_types(self) -> None:
        super().verify_element_types()
        source = quant_type(self.operands[0])
        if any(quant_type(result) != source for result in self.results):
            raise VerifyException("result must have the same quantization as the input")


class AllSameQuantizationLayerOp(PerTensorLayerOp):
    """Ops that compare stored values (max, min): all operands and results share parameters."""

    def verify_element_types(self) -> None:
        super().verify_element_types()
        types = {quant_type(value) for value in (*self.operands, *self.results)}
        if len(types) != 1:
            raise VerifyException("operands and result must have the same quantization")
