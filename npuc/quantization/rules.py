"""The op-by-op rewrite of graph IR into quantized IR, with TFLite's conventions.

`npuc.quantization.quantizer` calibrates and chooses parameters; this module applies
them. Each graph op falls in one family:

- conv-like (conv, depthwise, fully connected, transpose conv): int8 weights
  symmetric per output channel (or per tensor), int32 bias, own output range;
- own output range: add, sub, mul, div (by a constant rewritten exactly as
  mul by its reciprocal, by a computed tensor TFLite's DIV), prelu, leaky
  relu, hard swish, hard sigmoid, gelu (int8 only: lookup tables), squared
  difference and rsqrt (int8 in TFLite), batch matmul of two computed
  tensors, reduce, concat;
- fixed output range: sigmoid (1/256, -128), tanh (1/128, 0), softmax
  (1/256, -128), as TFLite's int8 kernels require;
- a global average pool: TFLite's MEAN over H and W, own output range;
- same quantization as the input: pools, reshape, transpose, split, slice,
  pad, resize, depth/space rearrangements; maximum and minimum share one
  quantization among all operands and the result (operands are requantized
  or constants quantized to it);
- standalone relu/clip: `quantized.clamp` on the input's parameters.

Everything else (pow, sqrt, elu, lrn) has no integer form and is listed by `check_supported`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import (
    Float32Type,
    IntegerAttr,
    TensorType,
    i32,
    i64,
)
from xdsl.dialects.func import ReturnOp
from xdsl.ir import Block, Operation, SSAValue

from npuc.dialects import graph, quantized
from npuc.dialects.common import (
    array_values,
    constant_value,
    dense,
    layer_name,
    value_shape,
)
from npuc.dialects.quantized import UniformQuantizedType, quant_type, storage_of
from npuc.dialects.quantized_layers import QuantizedConvLike
from npuc.errors import InputDataError, UnsupportedOperatorError
from npuc.quantization.bias_correction import weight_error_mean
from npuc.quantization.calibration import Range
from npuc.quantization.params import quantize_bias
from npuc.reference import fixed_point, int_elementwise

CONV_LIKE: dict[type[Operation], type[QuantizedConvLike]] = {
    graph.Conv2dOp: quantized.Conv2dOp,
    graph.DepthwiseConv2dOp: quantized.DepthwiseConv2dOp,
    graph.FullyConnectedOp: quantized.FullyConnectedOp,
    graph.TransposeConv2dOp: quantized.TransposeConv2dOp,
}
SAME_QUANTIZATION: dict[type[Operation], type[Operation]] = {
    graph.MaxPool2dOp: quantized.MaxPool2dOp,
    graph.AvgPool2dOp: quantized.AvgPool2dOp,
    graph.ReshapeOp: quantized.ReshapeOp,
    graph.TransposeOp: quantized.TransposeOp,
    graph.SplitOp: quantized.SplitOp,
    graph.SliceOp: quantized.SliceOp,
    graph.ResizeOp: quantized.ResizeOp,
    graph.DepthToSpaceOp: quantized.DepthToSpaceOp,
    graph.SpaceToDepthOp: quantized.SpaceToDepthOp,
}
OWN_RANGE: dict[type[Operation], type[Operation]] = {
    graph.AddOp: quantized.AddOp,
    graph.SubOp: quantized.SubOp,
    graph.MulOp: quantized.MulOp,
    graph.PReluOp: quantized.PReluOp,
    graph.LeakyReluOp: quantized.LeakyReluOp,
    graph.HardSwishOp: quantized.HardSwishOp,
    graph.HardSigmoidOp: quantized.HardSigmoidOp,
    graph.GeluOp: quantized.GeluOp,
    graph.SquaredDifferenceOp: quantized.SquaredDifferenceOp,
    graph.RsqrtOp: quantized.RsqrtOp,
    graph.BatchMatMulOp: quantized.BatchMatMulOp,
    graph.ReduceOp: quantized.ReduceOp,
    graph.ConcatOp: quantized.ConcatOp,
}
SHARED_QUANTIZATION: dict[type[Operation], type[Operation]] = {
    graph.MaximumOp: quantized.MaximumOp,
    graph.MinimumOp: quantized.MinimumOp,
}
FIXED_RANGE: dict[type[Operation], tuple[type[Operation], float, int]] = {
    graph.SigmoidOp: (quantized.LogisticOp, 1.0 / 256, -128),
    graph.TanhOp: (quantized.TanhOp, 1.0 / 128, 0),
    graph.SoftmaxOp: (quantized.SoftmaxOp, 1.0 / 256, -128),
}
"""Graph op -> (quantized op, int8 output scale, zero point) TFLite's kernels require."""

FIXED_RANGE_16 = 1.0 / 32768
"""The int16 output scale (zero point 0) of sigmoid, tanh and softmax in TFLite's 16x8 kernels."""

HANDLED: tuple[type[Operation], ...] = (
    *CONV_LIKE, *SAME_QUANTIZATION, *OWN_RANGE, *SHARED_QUANTIZATION, *FIXED_RANGE,
    graph.ConstantOp, graph.ReluOp, graph.ClipOp, graph.PadOp, graph.DivOp,
)  # fmt: skip


def is_float_tensor(value: SSAValue) -> bool:
    """Whether `value` is an f32 tensor."""
    return isinstance(value.type, TensorType) and isinstance(value.type.element_type, Float32Type)


def _constant_operand(value: SSAValue) -> bool:
    return isinstance(value.owner, graph.ConstantOp)


BIAS_FIT_MARGIN = 1.0 + 2.0**-20
"""Relative headroom of the input scale `Quantizer.bias_fitting_input` chooses, so the rounded bias stays within int32."""

ADD_MULTIPLIER_TARGET = 0.5
"""The ADD/SUB output rescale `representable_add_type` widens a too narrow output to (TFLite needs it below 1)."""

NON_FINITE_CONSTANT = "a constant operand holds NaN or infinite values (no scale represents them)"


def check_supported(block: Block) -> None:
    """Raise `UnsupportedOperatorError` listing every graph op `quantize` cannot handle.

    Checked before anything changes, so a rejected module is left as it was.
    """
    problems = []
    for op in block.ops:
        if any(_non_finite_constant(operand) for operand in op.operands):
            problems.append((layer_name(op), op.name, NON_FINITE_CONSTANT))
        if op.dialect_name() != "graph":
            continue
        if not isinstance(op, HANDLED):
            problems.append((layer_name(op), op.name, "no quantized form"))
        elif type(op) in CONV_LIKE:
            for index, what in ((1, "weights"), (2, "bias")):
                if not _constant_operand(op.operands[index]):
                    problems.append((layer_name(op), op.name, f"{what} are not a constant"))
    if problems:
        raise UnsupportedOperatorError("quantize", problems)


def _non_finite_constant(value: SSAValue) -> bool:
    """Whether `value` is a graph constant holding a NaN or an infinity (a batch norm's negative variance)."""
    return isinstance(value.owner, graph.ConstantOp) and not np.isfinite(constant_value(value.owner.value)).all()


WeightQuantizer = Callable[[np.ndarray, int, Operation], tuple[np.ndarray, np.ndarray]]
"""(float weights, channel axis, op) -> (int8 weights, float32 scales: one per channel or one)."""

TypeChooser = Callable[[SSAValue, str, int], UniformQuantizedType]
"""(float value, description for errors, bits) -> its activation type."""

LayerBits = Callable[[Operation], "int | None"]
"""op -> the activation width asked for it (8 or 16), or None for the default."""

FOLLOW_INPUT: tuple[type[Operation], ...] = (*SAME_QUANTIZATION, graph.PadOp, graph.ReluOp, graph.ClipOp)
"""Ops whose width, unless set, follows their input's (no requantize needed)."""

INT8_ONLY: tuple[type[Operation], ...] = (graph.SquaredDifferenceOp, graph.RsqrtOp)
"""Ops TFLite has an int8 kernel for only: they run in int8 whatever width is asked
(a 16x8 layer norm requantizes around them, as TFLite's converter would have to)."""


class Quantizer:
    """Rewrites one block of graph ops into quantized ops, op by op in order.

    `activation_type(value, what, bits)` gives a calibrated value's type (it
    raises for values without a usable range); `constant_type(data, bits)` the
    type of a constant used as an activation operand; `weights(data, axis)` quantizes
    conv-like weights (`weights(data, axis, op)` also gets the op, for
    per-layer schemes). `bits` is the activation width: 8, or 16 for TFLite's
    16x8 scheme (int64 bias, fixed ranges at 2^-15); `layer_bits(op)`, if
    given, sets it per op (mixed precision): an operand of another width is
    requantized at the boundary, and ops of `FOLLOW_INPUT` not set keep their
    input's width. `input_mean(value)`, if given, is the per-channel mean
    calibration measured of a float value (None: not known); a conv-like
    layer whose input has one gets its bias corrected for the rounding of
    its weights (`npuc.quantization.bias_correction`). New ops are inserted before the op they replace;
    `values` maps each float value to its quantized counterpart. The caller
    erases the float ops at the end.
    """

    def __init__(
        self,
        block: Block,
        activation_type: TypeChooser,
        constant_type: Callable[[np.ndarray, int], UniformQuantizedType],
        weights: WeightQuantizer,
        bits: int = 8,
        layer_bits: LayerBits | None = None,
        input_mean: Callable[[SSAValue], np.ndarray | None] | None = None,
    ):
        self.block = block
        self.input_mean = input_mean or (lambda value: None)
        self.bits = self.default_bits = bits
        self.layer_bits = layer_bits or (lambda op: None)
        self.bits_used: dict[Operation, int] = {}
        self.activation_type = activation_type
        self.constant_type = constant_type
        self.weights = weights
        self.values: dict[SSAValue, SSAValue] = {}

    def insert(self, new_op: Operation, before: Operation) -> Operation:
        """Insert `new_op` before `before` and return it."""
        self.block.insert_op_before(new_op, before)
        return new_op

    def quantize_arguments(self, names: Sequence[str], widths: Sequence[int | None] = ()) -> None:
        """Follow each f32 argument by a `quantized.quantize` to its calibrated type.

        An argument's width is `widths[i]` if given, else 16 when a reader of
        it is asked to be 16-bit (no int8 step before it), else the default.
        """
        first = self.block.first_op
        assert first is not None
        for index, (argument, name) in enumerate(zip(self.block.args, names)):
            if not is_float_tensor(argument):
                self.values[argument] = argument
                continue
            shape = value_shape(argument)
            width = widths[index] if index < len(widths) else None
            if width is None:
                readers = {self.layer_bits(use.operation) for use in argument.uses}
                width = 16 if 16 in readers else self.default_bits
            qtype = self.activation_type(argument, f"input '{name}'", width)
            op = self.insert(quantized.QuantizeOp(argument, TensorType(qtype, shape)), first)
            self.values[argument] = op.results[0]

    def constant(self, op: graph.ConstantOp, qtype: UniformQuantizedType, user: Operation) -> SSAValue:
        """A quantized copy of a float constant with `qtype`, inserted before `user`."""
        data = constant_value(op.value)
        stored = fixed_point.quantize(
            data, qtype.scale, qtype.zero_point, qtype.qmin, qtype.qmax, dtype=qtype.numpy_dtype()
        )
        new_op = quantized.ConstantOp(dense(stored, qtype.storage_type), TensorType(qtype, list(data.shape)))
        new_op.attributes.update(op.attributes)
        return self.insert(new_op, user).results[0]

    def activation(
        self, value: SSAValue, user: Operation, qtype: UniformQuantizedType | None = None
    ) -> SSAValue:
        """The quantized form of an activation operand, with `qtype` if given.

        A constant gets its own range (or `qtype`); a computed value of another
        type (or, without `qtype`, of another width than the op's) is
        requantized to `qtype` (to its own range at the op's width).
        """
        owner = value.owner
        if isinstance(owner, graph.ConstantOp):
            if qtype is None:
                qtype = self.constant_type(constant_value(owner.value), self.bits)
            return self.constant(owner, qtype, user)
        if value not in self.values:
            raise UnsupportedOperatorError(
                "quantize", [(layer_name(user), user.name, "operand is not a quantized value")]
            )
        new_value = self.values[value]
        current = quant_type(new_value)
        if qtype is None and current is not None and current.bits != self.bits:
            qtype = self.activation_type(value, f"input of '{layer_name(user)}'", self.bits)
        if qtype is not None and quant_type(new_value) != qtype:
            shape = value_shape(new_value)
            requantize = quantized.RequantizeOp(new_value, TensorType(qtype, shape))
            requantize.attributes.update(user.attributes)
            new_value = self.insert(requantize, user).results[0]
        return new_value

    def conv_like(self, op: Operation, target: type[QuantizedConvLike]) -> Operation:
        """Quantize weights (per channel or per tensor) and bias; own output range."""
        ifm = self.activation(op.operands[0], op)
        ifm_type = quant_type(ifm)
        assert ifm_type is not None
        weights_op, bias_op = op.operands[1].owner, op.operands[2].owner
        assert isinstance(weights_op, graph.ConstantOp) and isinstance(bias_op, graph.ConstantOp)
        axis = target.WEIGHT_AXIS
        stored, scales = self.weights(constant_value(weights_op.value), axis, op)
        per_axis = len(scales) > 1 or stored.shape[axis] == 1
        weights_type = UniformQuantizedType(
            storage_of(8), [float(s) for s in scales], [0] * len(scales), axis if per_axis else -1
        )
        weights = quantized.ConstantOp(
            dense(stored, storage_of(8)), TensorType(weights_type, list(stored.shape))
        )
        weights.attributes.update(weights_op.attributes)
        channels = stored.shape[axis]
        float_bias = self.corrected_bias(op, constant_value(weights_op.value), stored, scales, axis)
        if self.bits == 16 and target is quantized.FullyConnectedOp:
            ifm = self.bias_fitting_input(op, ifm, float_bias, np.broadcast_to(scales, (channels,)))
            ifm_type = quant_type(ifm)
            assert ifm_type is not None
        bias_data = quantize_bias(float_bias, ifm_type.scale, np.broadcast_to(scales, (channels,)), self.bits)
        bias = quantized.ConstantOp(dense(bias_data, i64 if self.bits == 16 else i32))
        bias.attributes.update(bias_op.attributes)
        self.insert(weights, op)
        self.insert(bias, op)
        ofm_type = self.own_type(op)
        return self.rebuild(op, target, [ifm, weights.results[0], bias.results[0]], [ofm_type])

    def corrected_bias(
        self, op: Operation, weights: np.ndarray, stored: np.ndarray, scales: np.ndarray, axis: int
    ) -> np.ndarray:
        """The float bias of conv-like `op`, less the mean shift rounding its weights to `stored` (at `scales`
        along `axis`) causes on its calibrated input (`npuc.quantization.bias_correction`), when known."""
        bias_op = op.operands[2].owner
        assert isinstance(bias_op, graph.ConstantOp)
        bias = constant_value(bias_op.value)
        mean = self.input_mean(op.operands[0])
        if mean is None:
            return bias
        channels = value_shape(op.operands[0])[-1]
        if mean.shape != (channels,):
            raise InputDataError(
                f"quantize: the calibration statistics give the input of '{layer_name(op)}' {mean.size} "
                f"channel means, it has {channels} channels (statistics saved for another model?)"
            )
        shape = [1] * stored.ndim
        shape[axis] = -1
        restored = stored.astype(np.float64) * np.asarray(scales, dtype=np.float64).reshape(shape)
        shift = weight_error_mean(op, weights, restored, mean)
        return bias if shift is None else bias.astype(np.float64) - shift

    def bias_fitting_input(self, op: Operation, ifm: SSAValue, bias: np.ndarray, scales: np.ndarray) -> SSAValue:
        """`ifm`, requantized to a coarser int16 scale if a 16x8 fully connected layer's bias would not fit int32.

        A bias large against the layer's input (a logit bias over small
        pooled features) can pass what an NPU's scale records hold (Ethos-U:
        40 bits, the target's `max_bias_bits`; the layer would run on the
        CPU). The quantizer does not know the target, so it keeps such a bias
        within int32, which every target holds, by widening the input's step
        to `max |bias_c| / (INT32_MAX * weight_scale_c)`.
        """
        qtype = quant_type(ifm)
        assert qtype is not None
        needed = float(np.max(np.abs(bias.astype(np.float64)) / (fixed_point.INT32_MAX * scales.astype(np.float64))))
        if needed <= qtype.scale:
            return ifm
        scale = float(np.nextafter(np.float32(needed * BIAS_FIT_MARGIN), np.float32(np.inf)))
        return self.activation(op.operands[0], op, UniformQuantizedType(qtype.storage_type, [scale], [0]))

    def rebuild(
        self,
        op: Operation,
        target: type[Operation],
        operands: Sequence[SSAValue],
        element_types: Sequence[UniformQuantizedType],
        properties: dict | None = None,
    ) -> Operation:
        """`op` as a `target` op on quantized operands: properties and attributes kept."""
        result_types = [
            TensorType(element_type, value_shape(result))
            for result, element_type in zip(op.results, element_types, strict=True)
        ]
        new_op = target.create(
            operands=list(operands),
            result_types=result_types,
            properties=dict(op.properties) if properties is None else properties,
            attributes=dict(op.attributes),
        )
        return self.insert(new_op, op)

    def clamp(self, op: Operation, minimum: float | None, maximum: float | None) -> Operation:
        """A standalone relu/clip as `quantized.clamp` on the input's parameters."""
        ifm = self.activation(op.operands[0], op)
        qtype = quant_type(ifm)
        assert qtype is not None
        bounds = [qtype.qmin, qtype.qmax]
        for index, bound in enumerate((minimum, maximum)):
            if bound is not None:
                bounds[index] = int(
                    fixed_point.quantize(
                        np.float32(bound), qtype.scale, qtype.zero_point, qtype.qmin, qtype.qmax
                    )
                )
        new_op = quantized.ClampOp(ifm, bounds[0], bounds[1])
        new_op.attributes.update(op.attributes)
        return self.insert(new_op, op)

    def own_type(self, op: Operation) -> UniformQuantizedType:
        """The calibrated type of `op`'s (single) result."""
        return self.activation_type(op.results[0], f"'{layer_name(op)}'", self.bits)

    def rewrite(self, op: Operation) -> None:
        """Insert the quantized form of `op` and map its results."""
        kind = type(op)
        if isinstance(op, graph.ConstantOp):
            return  # quantized where used: as weights, bias or activation
        self.bits = self._width(op)
        self.bits_used[op] = self.bits
        if kind in CONV_LIKE:
            new_op = self.conv_like(op, CONV_LIKE[kind])
        elif isinstance(op, graph.AvgPool2dOp) and is_global_average(op):
            new_op = self.global_mean(op)
        elif kind in SAME_QUANTIZATION:
            ifm = self.activation(op.operands[0], op)
            qtype = quant_type(ifm)
            assert qtype is not None
            new_op = self.rebuild(op, SAME_QUANTIZATION[kind], [ifm], [qtype] * len(op.results))
        elif isinstance(op, graph.PadOp):
            new_op = self.pad(op)
        elif kind in OWN_RANGE:
            operands = [self.activation(value, op) for value in op.operands]
            qtype = self.own_type(op)
            if isinstance(op, graph.AddOp | graph.SubOp):
                qtype = representable_add_type(qtype, operands)
            if isinstance(op, graph.SquaredDifferenceOp):
                qtype = representable_squared_difference_type(qtype, operands)
            new_op = self.rebuild(op, OWN_RANGE[kind], operands, [qtype])
        elif isinstance(op, graph.DivOp) and _constant_operand(op.ifm2):
            new_op = self.divide_by_constant(op)
        elif isinstance(op, graph.DivOp):
            operands = [self.activation(value, op) for value in op.operands]
            new_op = self.rebuild(op, quantized.DivOp, operands, [self.own_type(op)])
        elif kind in SHARED_QUANTIZATION:
            qtype = self.own_type(op)
            operands = [self.activation(value, op, qtype) for value in op.operands]
            new_op = self.rebuild(op, SHARED_QUANTIZATION[kind], operands, [qtype])
        elif kind in FIXED_RANGE:
            target, scale, zero_point = FIXED_RANGE[kind]
            if self.bits == 16:
                scale, zero_point = FIXED_RANGE_16, 0
            ifm = self.activation(op.operands[0], op)
            qtype = UniformQuantizedType(storage_of(self.bits), [scale], [zero_point])
            new_op = self.rebuild(op, target, [ifm], [qtype])
        elif isinstance(op, graph.ReluOp):
            new_op = self.clamp(op, 0.0, None)
        else:
            assert isinstance(op, graph.ClipOp), "check_supported admits only these ops"
            new_op = self.clamp(op, op.min.value.data, op.max.value.data)
        for old, new in zip(op.results, new_op.results, strict=True):
            self.values[old] = new

    def _width(self, op: Operation) -> int:
        """The activation width of `op`: 8 for `INT8_ONLY`, else asked for, its input's (`FOLLOW_INPUT`) or the default."""
        if isinstance(op, INT8_ONLY):
            return 8
        asked = self.layer_bits(op)
        if asked is not None:
            return asked
        if isinstance(op, FOLLOW_INPUT):
            qtype = quant_type(self.values.get(op.operands[0], op.operands[0]))
            if qtype is not None:
                return qtype.bits
        return self.default_bits

    def global_mean(self, op: graph.AvgPool2dOp) -> Operation:
        """A global average pool as TFLite's MEAN over H and W, with its own output range.

        AVERAGE_POOL_2D keeps its input's quantization, whose step is far too
        coarse for the mean of a whole feature map (its range is a fraction of the
        map's): MEAN rescales to the calibrated range of the result, as
        onnxruntime's and TensorFlow's quantizers do with a global pool.
        """
        ifm = self.activation(op.ifm, op)
        new_op = quantized.ReduceOp(ifm, TensorType(self.own_type(op), value_shape(op.ofm)), "mean", SPATIAL_AXES)
        new_op.attributes.update(op.attributes)
        return self.insert(new_op, op)

    def pad(self, op: graph.PadOp) -> Operation:
        """Pad keeps the input's parameters; the fill value is stored quantized."""
        ifm = self.activation(op.input, op)
        qtype = quant_type(ifm)
        assert qtype is not None
        fill = fixed_point.quantize(
            np.float32(op.value.value.data), qtype.scale, qtype.zero_point, qtype.qmin, qtype.qmax
        )
        properties = dict(op.properties)
        properties["value"] = IntegerAttr(int(fill), 64)
        return self.rebuild(op, quantized.PadOp, [ifm], [qtype], properties)

    def divide_by_constant(self, op: graph.DivOp) -> Operation:
        """x / c as x * (1 / c): TFLite has no integer DIV."""
        divisor = op.ifm2.owner
        assert isinstance(divisor, graph.ConstantOp)
        reciprocal = (1.0 / constant_value(divisor.value).astype(np.float64)).astype(np.float32)
        inverse = graph.ConstantOp(dense(reciprocal, divisor.value.type.element_type))
        inverse.attributes.update(divisor.attributes)
        self.insert(inverse, op)
        operands = [self.activation(op.ifm, op), self.activation(inverse.results[0], op)]
        new_op = self.rebuild(op, quantized.MulOp, operands, [self.own_type(op)])
        self.block.erase_op(inverse)
        return new_op

    def dequantize_results(self, return_op: ReturnOp) -> None:
        """Precede each f32 result by a `quantized.dequantize`."""
        results = []
        for value in return_op.operands:
            if isinstance(value.owner, graph.ConstantOp):  # a constant result (an ONNX initializer output)
                new_value = self.activation(value, return_op)
            else:
                new_value = self.values.get(value, value)
            if is_float_tensor(value) and new_value is not value:
                new_value = self.insert(quantized.DequantizeOp(new_value), return_op).results[0]
            results.append(new_value)
        return_op.operands = results


SPATIAL_AXES = (1, 2)
"""H and W of an NHWC feature map."""


def is_global_average(op: graph.AvgPool2dOp) -> bool:
    """Whether `op` averages each channel's whole map into one value (no padding, no fused activation)."""
    height, width = value_shape(op.ifm)[1:3]
    return (
        list(array_values(op.kernel)) == [height, width]
        and not any(array_values(op.padding))
        and op.activation.data == "none"
    )


def representable_add_type(qtype: UniformQuantizedType, operands: Sequence[SSAValue]) -> UniformQuantizedType:
    """`qtype` for an ADD/SUB output, its scale widened if TFLite's output rescale would not be below 1.

    A result far narrower than the operands (`x - x` calibrates to [0, 0])
    gets the scale at which the rescale is 1/2
    (`npuc.reference.int_elementwise.add_output_multiplier`); its zero point stays.
    """
    a_type, b_type = (quant_type(value) for value in operands)
    assert a_type is not None and b_type is not None, "operands are quantized before their user"
    real = int_elementwise.add_output_multiplier(a_type.scale, b_type.scale, qtype.scale, qtype.bits)
    if fixed_point.quantize_multiplier(real)[1] <= 0:  # a Q31 multiplier below 1: representable
        return qtype
    scale = float(np.float32(qtype.scale * real / ADD_MULTIPLIER_TARGET))
    return UniformQuantizedType(qtype.storage_type, [scale], [qtype.zero_point])


def representable_squared_difference_type(
    qtype: UniformQuantizedType, operands: Sequence[SSAValue]
) -> UniformQuantizedType:
    """`qtype` for a SQUARED_DIFFERENCE output, its scale widened if TFLite's output rescale would not be below 1.

    An output far narrower than its inputs (x minus a mean it equals) gets
    the scale at which the rescale
    (`npuc.reference.int_elementwise.squared_difference_output_multiplier`) is 1/2.
    """
    a_type, b_type = (quant_type(value) for value in operands)
    assert a_type is not None and b_type is not None, "operands are quantized before their user"
    real = int_elementwise.squared_difference_output_multiplier(a_type.scale, b_type.scale, qtype.scale)
    if fixed_point.quantize_multiplier(real)[1] <= 0:
        return qtype
    scale = float(np.float32(qtype.scale * real / ADD_MULTIPLIER_TARGET))
    return UniformQuantizedType(qtype.storage_type, [scale], [qtype.zero_point])


def require_finite(value_range: Range, what: str) -> Range:
    """`value_range` if both ends are finite, else `InputDataError` naming `what`."""
    low, high = value_range
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InputDataError(f"calibration gave no finite range for {what} ([{low}, {high}])")
    return value_range
