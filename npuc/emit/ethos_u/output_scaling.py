"""How a command rescales: OFM_PRECISION's rounding and scale mode, OFM_SCALE, OPA_SCALE and OPB_SCALE.

Convolutions, depthwise convolutions and fully connected layers rescale per
output channel from their scale records; pooling and elementwise commands
with the global OFM_SCALE (a 32-bit scale and a 6-bit right shift),
elementwise add and sub also rescale one operand first (OPA_SCALE, with
IFM_PRECISION's `scale_mode` saying which). The values realise each
command's meaning in the npu IR (docs/ir.md), TFLite's:

- rounding: DBL (TFLite's double rounding) for convolutions and depthwise
  convolutions with 32-bit-scale records and for quantized pooling and
  elementwise commands; NATURAL (half up, once) for the 15-bit records of
  an int64 bias (TFLite's int64 rescale rounds once) and for fully
  connected layers (TFLite rounds their product once: Vela's legacy
  generator uses DBL here); an integer elementwise command's `rounding`
  (`half_up` NATURAL, `truncate` TRUNCATE, `double` DBL; the NPU has no
  mode rounding half away from zero once);
- average pooling without padding divides by the kernel size through
  OFM_SCALE, with padding by the count of real elements (per-channel mode,
  no scale); max pooling does not scale; `reduce_sum` scales by 1;
- quantized add and sub rescale the operand of the smaller scale by
  `scale / (2 x larger scale)` on values shifted left by 20 bits (15 for
  16-bit data), the other by exactly 1/2, and the sum by `2 x larger
  scale / (2^shift x output scale)`, TFLite's ADD; with equal scales the
  cheaper 16-bit operand scaling is exact when its OFM scale has no low
  bits (as Vela, whose choices these are, `scaling.py`); quantized mul
  scales by `scale1 x scale2 / output scale` formed in float32;
- integer elementwise commands scale by their `rescale` (add and sub with
  both operands at scale 1); shifts and clz ignore OFM_SCALE (their
  rescale must be 1, 0), and 32-bit mul uses its shift only (multiplier 1).

Scales are the tensors' float32 scales (TFLite's), multipliers TFLite's
`QuantizeMultiplier`: register scale m and right shift 31 - exponent.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import frexp

import numpy as np

from npuc.dialects import npu
from npuc.dialects.common import array_values, layer_name
from npuc.emit.ethos_u.registers import IfmScaleMode, RoundMode
from npuc.errors import CommandStreamError
from npuc.reference.fixed_point import quantize_multiplier

Q31 = 31
"""Fraction bits of a quantized multiplier: register shift = Q31 - exponent."""

ADD_SHIFT_BITS = {8: 20, 16: 15}
"""TFLite ADD/SUB: operands are shifted left by this many bits per element width before rescaling."""

SIMPLE_ADD_SHIFT = 16
"""Left shift of the equal-scale add scaling: each operand scaled by 2^15 (one half of 2^16)."""

SIMPLE_ADD_EXACT_MASK = 0xFFF
"""Equal-scale 8-bit add: the 16-bit operand scaling is exact only when the OFM scale's low 12 bits are zero."""

ROUND_MODES = {"half_up": RoundMode.NATURAL, "truncate": RoundMode.TRUNCATE, "double": RoundMode.DBL}
"""OFM_PRECISION rounding of an integer elementwise command's `rounding`."""

SCALE_FREE_KINDS = ("shl", "asr", "clz")
"""Integer elementwise kinds whose result does not go through OFM_SCALE."""


@dataclass(frozen=True)
class Scaling:
    """What a command programs for its rescale.

    `ofm` is OFM_SCALE's (scale, shift) or None for per-channel mode;
    `opa` and `opb` are OPA_SCALE's (scale, shift) and OPB_SCALE's scale,
    written only for add and sub; `operand` is IFM_PRECISION's scale mode.
    """

    round_mode: RoundMode
    ofm: tuple[int, int] | None = None
    opa: tuple[int, int] | None = None
    opb: int = 0
    operand: IfmScaleMode = IfmScaleMode.OPA_OPB_16


def quantised(real: float) -> tuple[int, int]:
    """(scale, right shift) of a positive real multiplier (TFLite's `QuantizeMultiplier`)."""
    multiplier, exponent = quantize_multiplier(real)
    return multiplier, Q31 - exponent


def weighted_round_mode(op: npu.WeightedOp | npu.FullyConnectedOp) -> RoundMode:
    """Rounding of a conv, depthwise conv or fully connected layer (see the module docstring)."""
    encoding = op.encoding
    if isinstance(op, npu.FullyConnectedOp) or (encoding is not None and encoding.wide.data):
        return RoundMode.NATURAL
    return RoundMode.DBL


def pool_scaling(op: npu.PoolOp) -> Scaling:
    """The scaling of a max, average or reduce-sum pool."""
    kind = op.kind.data
    if kind == "reduce_sum":
        return Scaling(RoundMode.NATURAL, ofm=(1, 0))
    if kind == "avg" and not any(array_values(op.padding)):
        return Scaling(RoundMode.DBL, ofm=pooling_scale(op.window().elements))
    return Scaling(RoundMode.DBL)


def pooling_scale(elements: int) -> tuple[int, int]:
    """OFM_SCALE dividing a sum of `elements` values by their count: 1/elements with 31 + k fraction
    bits (k = bits of elements - 1), rounded up so that exact quotients stay exact."""
    _, bits = frexp(elements - 1)
    shift = Q31 + bits
    return ((1 << shift) + (1 << bits)) // elements, shift


def elementwise_scaling(op: npu.ElementwiseOp, reversed_operands: bool) -> Scaling:
    """The scaling of an elementwise command; `reversed_operands`: operand A is the IFM2 (OPA_SCALE
    then rescales it, as IFM_PRECISION's scale mode says)."""
    if op.rescale is not None:
        return _integer_scaling(op)
    assert op.ifm2 is not None, "a quantized elementwise has two operands (verified)"
    first, second, out = (float(np.float32(fm.element_type.scale)) for fm in (op.ifm, op.ifm2, op.ofm))
    if op.kind.data == "mul":
        real = float(np.float32(first) * np.float32(second) / np.float32(out))
        return Scaling(RoundMode.DBL, ofm=quantised(real))
    bits = op.ifm.element_type.bits
    if first == second:
        ofm_scale, shift = quantised(2 * first / (out * (1 << SIMPLE_ADD_SHIFT)))
        half = 1 << (SIMPLE_ADD_SHIFT - 1)
        if bits == 16:  # halved, so that the double rounding matches the general scaling's
            return Scaling(RoundMode.DBL, ofm=(ofm_scale, shift - 1), opa=(half // 2, 0), opb=half // 2)
        if not ofm_scale & SIMPLE_ADD_EXACT_MASK:
            return Scaling(RoundMode.DBL, ofm=(ofm_scale, shift), opa=(half, 0), opb=half)
    input_shift = ADD_SHIFT_BITS[bits]
    larger, smaller = max(first, second), min(first, second)
    opa = quantised(smaller * (1 << input_shift) / (2 * larger))
    ofm = quantised(2 * larger / (out * (1 << input_shift)))
    ifm_scaled = first < second  # the IFM has the smaller scale (on a tie the IFM2 is rescaled)
    operand = IfmScaleMode.OPA_32 if ifm_scaled != reversed_operands else IfmScaleMode.OPB_32
    return Scaling(RoundMode.DBL, ofm=ofm, opa=opa, opb=0, operand=operand)


def _integer_scaling(op: npu.ElementwiseOp) -> Scaling:
    """An integer elementwise command's own rescale and rounding."""
    assert op.rescale is not None and op.rounding is not None
    where = f"layer '{layer_name(op)}' ({op.kind.data})"
    rounding = op.rounding.data
    if rounding not in ROUND_MODES:
        raise CommandStreamError(f"{where}: the NPU has no '{rounding}' rounding (it has {', '.join(ROUND_MODES)})")
    multiplier, shift = array_values(op.rescale)
    kind = op.kind.data
    if kind in SCALE_FREE_KINDS and (multiplier, shift) != (1, 0):
        raise CommandStreamError(f"{where}: rescale ({multiplier}, {shift}) on an operation the NPU does not rescale")
    if kind == "mul" and op.ifm.element_type.bits == 32 and multiplier != 1:
        raise CommandStreamError(f"{where}: a 32-bit mul scales by a shift only, not by {multiplier}")
    if kind in ("add", "sub"):
        return Scaling(ROUND_MODES[rounding], ofm=(multiplier, shift), opa=(1, 0), opb=1)
    return Scaling(ROUND_MODES[rounding], ofm=(multiplier, shift))
