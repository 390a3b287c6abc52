"""Post-training quantization: graph IR (f32) to quantized IR (TFLite int8).

The scheme is TFLite's full-integer one, so a quantized module runs bit-exactly
on TFLite's reference kernels and on the NPU:

- Activations: asymmetric int8 per tensor. The calibrated range [min, max] is
  widened to include 0, scale = (max - min) / 255 (stored as a float32 value)
  and zero point = round(qmin - min / scale), clamped to [-128, 127], so that
  0.0 is exactly representable (zero padding, ReLU).
- Weights: symmetric int8 per output channel (zero point 0, values in
  [-127, 127]), scale_c = max|w_c| / 127; an all-zero channel gets scale 1.
- Bias: int32, round(b / (ifm_scale * weight_scale_c)), saturated.
- Ops that move values (max/avg pool, reshape, transpose) keep their input's
  parameters, as TFLite requires; add gets its own output range; fused
  activations stay properties (their calibrated range is already after the
  activation); standalone relu/clip become `quantized.clamp` with the input's
  parameters and quantized bounds.
- The float interface stays: a `quantized.quantize` follows each f32 argument
  and a `quantized.dequantize` precedes each f32 result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    Float32Type,
    ModuleOp,
    TensorType,
    i32,
)
from xdsl.dialects.func import ReturnOp
from xdsl.ir import Block, Operation, SSAValue

from npuc.ir import arg_attributes, tensor_name
from npuc.dialects import graph, quantized
from npuc.dialects.common import layer_name
from npuc.dialects.quantized import UniformQuantizedType, quant_type, storage_of
from npuc.errors import InputDataError, NpucError, UnsupportedOperatorError
from npuc.ir import main_function
from npuc.reference import fixed_point
from npuc.reference.graph_interpreter import constant_value, run_graph

CALIBRATION_BATCH = 32
"""Samples run at once while calibrating: bounds the memory kept per value."""

SUPPORTED_ACTIVATION_BITS = (8,)

MIN_SCALE = 1e-9
"""Scale used for a range of (nearly) zero width, which has no natural scale."""

WEIGHT_QMAX = 127
"""Symmetric int8 weights use [-127, 127] (TFLite's narrow range)."""

Range = tuple[float, float]

_CONV_LIKE: dict[type[Operation], type[Operation]] = {
    graph.Conv2dOp: quantized.Conv2dOp,
    graph.DepthwiseConv2dOp: quantized.DepthwiseConv2dOp,
    graph.FullyConnectedOp: quantized.FullyConnectedOp,
}
_SAME_QUANTIZATION: dict[type[Operation], type[Operation]] = {
    graph.MaxPool2dOp: quantized.MaxPool2dOp,
    graph.AvgPool2dOp: quantized.AvgPool2dOp,
    graph.ReshapeOp: quantized.ReshapeOp,
    graph.TransposeOp: quantized.TransposeOp,
}


def calibrate(module: ModuleOp, samples: Sequence[np.ndarray]) -> dict[SSAValue, Range]:
    """Run @main in float over `samples` and record each value's (min, max).

    `samples` holds one array per argument in IR layout, N samples stacked on
    axis 0; they run in batches of `CALIBRATION_BATCH` so that memory stays
    bounded whatever N is.
    """
    ranges: dict[SSAValue, Range] = {}
    count = len(samples[0]) if samples else 0
    for start in range(0, count, CALIBRATION_BATCH):
        batch = [sample[start : start + CALIBRATION_BATCH] for sample in samples]
        execution = run_graph(module, batch, keep_values=True)
        for value, array in execution.values.items():
            if isinstance(value.owner, graph.ConstantOp) or array.size == 0:
                continue  # constants are quantized from their own data
            low, high = float(np.min(array)), float(np.max(array))
            if value in ranges:
                low, high = min(low, ranges[value][0]), max(high, ranges[value][1])
            ranges[value] = (low, high)
    return ranges


def activation_params(minimum: float, maximum: float, bits: int = 8) -> tuple[float, int]:
    """(scale, zero point) of asymmetric `bits`-bit quantization of [min, max].

    The range is nudged to include 0 so that 0.0 quantizes exactly; the scale
    is rounded to float32 as TFLite stores it.
    """
    if not (np.isfinite(minimum) and np.isfinite(maximum)):
        raise ValueError(f"range [{minimum}, {maximum}] is not finite")
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    low, high = min(minimum, 0.0), max(maximum, 0.0)
    scale = float(np.float32(max((high - low) / (qmax - qmin), MIN_SCALE)))
    zero_point = int(fixed_point.round_half_away_from_zero(qmin - low / scale))
    return scale, int(np.clip(zero_point, qmin, qmax))


def activation_type(minimum: float, maximum: float, bits: int = 8) -> UniformQuantizedType:
    """The per-tensor quantized element type of a calibrated activation range."""
    scale, zero_point = activation_params(minimum, maximum, bits)
    return UniformQuantizedType(storage_of(bits), [scale], [zero_point])


def weight_scales(weights: np.ndarray, axis: int) -> np.ndarray:
    """Symmetric per-channel scales (float32) along `axis`: max|w_c| / 127."""
    reduce_axes = tuple(a for a in range(weights.ndim) if a != axis)
    peak = np.max(np.abs(weights), axis=reduce_axes).astype(np.float64)
    scales = np.where(peak > 0, peak / WEIGHT_QMAX, 1.0)
    return scales.astype(np.float32)


def quantize_weights(weights: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weights, float32 scales) of symmetric per-channel quantization."""
    scales = weight_scales(weights, axis)
    stored = fixed_point.quantize(weights, scales, 0, -WEIGHT_QMAX, WEIGHT_QMAX, axis=axis)
    return stored, scales


def quantize_bias(bias: np.ndarray, ifm_scale: float, scales: np.ndarray) -> np.ndarray:
    """int32 bias with the implied scale ifm_scale * weight_scale_c, saturated."""
    bias_scales = float(ifm_scale) * scales.astype(np.float64)
    rounded = fixed_point.round_half_away_from_zero(bias.astype(np.float64) / bias_scales)
    return np.clip(rounded, fixed_point.INT32_MIN, fixed_point.INT32_MAX).astype(np.int32)


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of `test` against `reference`, in dB.

    Infinite when they are equal; the usual figure of merit of a quantized
    model against its float original (25 dB and above is a good int8 model).
    """
    reference = np.asarray(reference, dtype=np.float64)
    noise = float(np.sum((reference - np.asarray(test, dtype=np.float64)) ** 2))
    signal = float(np.sum(reference**2))
    if noise == 0.0:
        return float("inf")
    return 10.0 * float(np.log10(signal / noise)) if signal > 0 else float("-inf")


def _dense(array: np.ndarray, element_type) -> DenseIntOrFPElementsAttr:
    return DenseIntOrFPElementsAttr(
        TensorType(element_type, list(array.shape)), BytesAttr(array.tobytes())
    )


class _Quantizer:
    """Rewrites one block of graph ops into quantized ops, op by op in order.

    New ops are inserted before the op they replace; `values` maps each float
    value to its quantized counterpart. The float ops are erased at the end.
    """

    def __init__(self, block: Block, ranges: dict[SSAValue, Range], bits: int):
        self.block = block
        self.ranges = ranges
        self.bits = bits
        self.values: dict[SSAValue, SSAValue] = {}

    def range_type(self, value: SSAValue, what: str) -> UniformQuantizedType:
        """The activation type of a calibrated value; `what` names it in errors."""
        low, high = self.ranges.get(value, (float("nan"), float("nan")))
        if not (np.isfinite(low) and np.isfinite(high)):
            raise InputDataError(
                f"calibration gave no finite range for {what} ([{low}, {high}])"
            )
        return activation_type(low, high, self.bits)

    def insert(self, new_op: Operation, before: Operation) -> Operation:
        self.block.insert_op_before(new_op, before)
        return new_op

    def quantize_arguments(self, names: Sequence[str]) -> None:
        first = self.block.first_op
        assert first is not None
        for argument, name in zip(self.block.args, names):
            if not _is_float_tensor(argument):
                self.values[argument] = argument
                continue
            shape = argument.type.get_shape()  # type: ignore[attr-defined]
            qtype = self.range_type(argument, f"input '{name}'")
            op = self.insert(quantized.QuantizeOp(argument, TensorType(qtype, shape)), first)
            self.values[argument] = op.results[0]

    def activation(self, value: SSAValue, user: Operation) -> SSAValue:
        """The quantized form of an activation operand (constants get their own range)."""
        if value in self.values:
            return self.values[value]
        owner = value.owner
        if isinstance(owner, graph.ConstantOp):
            data = constant_value(owner.value)
            qtype = activation_type(float(data.min()), float(data.max()), self.bits)
            stored = fixed_point.quantize(
                data, qtype.scale, qtype.zero_point, qtype.qmin, qtype.qmax,
                dtype=qtype.numpy_dtype(),
            )
            constant = quantized.ConstantOp(
                _dense(stored, qtype.storage_type), TensorType(qtype, list(data.shape))
            )
            constant.attributes.update(owner.attributes)
            self.values[value] = self.insert(constant, user).results[0]
            return self.values[value]
        raise UnsupportedOperatorError(
            "quantize", [(layer_name(user), user.name, "operand is not a quantized value")]
        )

    def conv_like(self, op: Operation, target: type[Operation]) -> Operation:
        ifm = self.activation(op.operands[0], op)
        ifm_type = quant_type(ifm)
        assert ifm_type is not None
        weights_op, bias_op = op.operands[1].owner, op.operands[2].owner
        assert isinstance(weights_op, graph.ConstantOp) and isinstance(bias_op, graph.ConstantOp)
        axis = target.WEIGHT_AXIS  # type: ignore[attr-defined]
        stored, scales = quantize_weights(constant_value(weights_op.value), axis)
        weights_type = UniformQuantizedType(
            storage_of(8), [float(s) for s in scales], [0] * len(scales), axis
        )
        weights = quantized.ConstantOp(
            _dense(stored, storage_of(8)), TensorType(weights_type, list(stored.shape))
        )
        weights.attributes.update(weights_op.attributes)
        bias = quantized.ConstantOp(
            _dense(quantize_bias(constant_value(bias_op.value), ifm_type.scale, scales), i32)
        )
        bias.attributes.update(bias_op.attributes)
        self.insert(weights, op)
        self.insert(bias, op)
        ofm_type = self.range_type(op.results[0], f"'{layer_name(op)}'")
        return self.rebuild(op, target, [ifm, weights.results[0], bias.results[0]], ofm_type)

    def rebuild(
        self,
        op: Operation,
        target: type[Operation],
        operands: Sequence[SSAValue],
        element_type: UniformQuantizedType,
    ) -> Operation:
        """`op` as a `target` op on quantized operands: properties and attributes kept."""
        result_shape = op.results[0].type.get_shape()  # type: ignore[attr-defined]
        new_op = target.create(
            operands=list(operands),
            result_types=[TensorType(element_type, result_shape)],
            properties=dict(op.properties),
            attributes=dict(op.attributes),
        )
        return self.insert(new_op, op)

    def clamp(self, op: Operation, minimum: float | None, maximum: float | None) -> Operation:
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

    def rewrite(self, op: Operation) -> None:
        """Insert the quantized form of `op` and map its result."""
        kind = type(op)
        if isinstance(op, graph.ConstantOp):
            return  # quantized where used: as weights, bias or activation
        if kind in _CONV_LIKE:
            new_op = self.conv_like(op, _CONV_LIKE[kind])
        elif kind in _SAME_QUANTIZATION:
            ifm = self.activation(op.operands[0], op)
            qtype = quant_type(ifm)
            assert qtype is not None
            new_op = self.rebuild(op, _SAME_QUANTIZATION[kind], [ifm], qtype)
        elif isinstance(op, graph.AddOp):
            operands = [self.activation(value, op) for value in op.operands]
            ofm_type = self.range_type(op.ofm, f"'{layer_name(op)}'")
            new_op = self.rebuild(op, quantized.AddOp, operands, ofm_type)
        elif isinstance(op, graph.ReluOp):
            new_op = self.clamp(op, 0.0, None)
        else:
            assert isinstance(op, graph.ClipOp), "check_supported admits only these ops"
            new_op = self.clamp(op, op.min.value.data, op.max.value.data)
        self.values[op.results[0]] = new_op.results[0]

    def dequantize_results(self, return_op: ReturnOp) -> None:
        results = []
        for value in return_op.operands:
            new_value = self.values.get(value, value)
            if _is_float_tensor(value) and new_value is not value:
                new_value = self.insert(quantized.DequantizeOp(new_value), return_op).results[0]
            results.append(new_value)
        return_op.operands = results


def check_supported(block: Block) -> None:
    """Raise `UnsupportedOperatorError` listing every graph op `quantize` cannot handle.

    Checked before anything changes, so a rejected module is left as it was.
    """
    handled = (
        *_CONV_LIKE, *_SAME_QUANTIZATION, graph.ConstantOp, graph.AddOp, graph.ReluOp, graph.ClipOp
    )
    problems = []
    for op in block.ops:
        if op.dialect_name() != "graph":
            continue
        if not isinstance(op, handled):
            problems.append((layer_name(op), op.name, "no quantized form"))
        elif type(op) in _CONV_LIKE:
            for index, what in ((1, "weights"), (2, "bias")):
                if not isinstance(op.operands[index].owner, graph.ConstantOp):
                    problems.append((layer_name(op), op.name, f"{what} are not a constant"))
    if problems:
        raise UnsupportedOperatorError("quantize", problems)


def _is_float_tensor(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and isinstance(value.type.element_type, Float32Type)


def quantize_module(
    module: ModuleOp, samples: Sequence[np.ndarray], activation_bits: int = 8
) -> ModuleOp:
    """Quantize the graph IR of `module` in place, calibrated on `samples`.

    `samples` holds one array per @main argument in IR layout (N samples on
    axis 0, see `npuc.data.load_samples`). Raises `NpucError` subclasses for
    unsupported ops, non-constant weights and unusable calibration data.
    """
    if activation_bits not in SUPPORTED_ACTIVATION_BITS:
        raise NpucError(
            f"quantize supports {', '.join(map(str, SUPPORTED_ACTIVATION_BITS))}-bit "
            f"activations, not {activation_bits}"
        )
    if not samples or len(samples[0]) == 0:
        raise InputDataError("quantize needs at least one calibration sample")
    func = main_function(module)
    block = func.body.block
    if not any(op.dialect_name() == "graph" for op in block.ops):
        return module  # already quantized: nothing to do
    check_supported(block)
    ranges = calibrate(module, samples)
    quantizer = _Quantizer(block, ranges, activation_bits)
    old_ops = list(block.ops)
    names = [tensor_name(attrs, f"arg{i}") for i, attrs in enumerate(arg_attributes(func))]
    quantizer.quantize_arguments(names)
    for op in old_ops:
        if isinstance(op, ReturnOp):
            quantizer.dequantize_results(op)
        elif op.dialect_name() == "graph":
            quantizer.rewrite(op)
    for op in reversed(old_ops):
        if op.dialect_name() == "graph":
            block.erase_op(op)
    return module
