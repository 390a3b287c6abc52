"""Generate the single-operator TFLite test models of this directory.

Usage: ``python test/tflite_models/make_models.py`` (from the repository
root, in the test environment). Every model is built from a `ModelSpec`,
written as ``<op>_<variant>.tflite`` next to this script and run once with
TFLite's reference kernels (ai_edge_litert, BUILTIN_REF) to prove TFLite
accepts it; stale ``.tflite`` files are removed. Generation is deterministic:
each model draws its weights and quantization parameters from a generator
seeded by its name, so adding a model leaves the others' bytes unchanged.

int8 models use asymmetric int8 activations; ``16x8`` models use int16
activations with zero point 0 and int8 weights (int64 bias unless the name
says int32), TFLite's 16x8 quantization mode.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tflite

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tflite_models.builder import TensorSpec, build_model, run_model

MODEL_DIRECTORY = Path(__file__).resolve().parent

ACTIVATIONS = {
    "none": tflite.ActivationFunctionType.NONE,
    "relu": tflite.ActivationFunctionType.RELU,
    "relu6": tflite.ActivationFunctionType.RELU6,
    "relu_n1_to_1": tflite.ActivationFunctionType.RELU_N1_TO_1,
}
SAME, VALID = tflite.Padding.SAME, tflite.Padding.VALID


@dataclass
class ModelSpec:
    """One single-operator model: its tensors, operator and builtin options."""

    name: str
    operator: str
    tensors: list[TensorSpec]
    inputs: list[int]
    outputs: list[int]
    options: str | None = None
    fields: dict[str, int | float] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """Where the model file lives."""
        return MODEL_DIRECTORY / f"{self.name}.tflite"

    def build(self) -> bytes:
        """The serialised flatbuffer."""
        return build_model(
            self.operator, self.tensors, self.inputs, self.outputs, self.options, **self.fields
        )

    def graph_inputs(self) -> list[TensorSpec]:
        """The tensors fed by the user, in model input order."""
        return [self.tensors[i] for i in self.inputs if i >= 0 and self.tensors[i].data is None]


def random_input(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    """Random data for a model input: the full storage range, or floats spanning it."""
    if np.dtype(spec.dtype) == np.float32:
        return rng.uniform(-6.0, 6.0, size=spec.shape).astype(np.float32)
    info = np.iinfo(spec.dtype)
    return rng.integers(info.min, info.max, size=spec.shape, endpoint=True).astype(spec.dtype)


# --- tensor helpers ------------------------------------------------------------


def act(shape, dtype, scale: float, zero_point: int = 0, name: str = "input") -> TensorSpec:
    """A per-tensor quantized activation tensor."""
    return TensorSpec(tuple(shape), dtype, [scale], [zero_point], name=name)


def out(shape, dtype, scale: float, zero_point: int = 0) -> TensorSpec:
    """The output activation tensor."""
    return act(shape, dtype, scale, zero_point, name="output")


def const(values, name: str, dtype=np.int32) -> TensorSpec:
    """A constant non-quantized parameter tensor (shapes, axes, paddings)."""
    data = np.asarray(values, dtype=dtype)
    return TensorSpec(data.shape, dtype, data=data, name=name)


def weights(rng, shape, axis: int | None) -> tuple[TensorSpec, np.ndarray]:
    """Symmetric int8 weights, per channel along ``axis`` or per tensor (None)."""
    data = rng.integers(-127, 128, size=shape, dtype=np.int8)
    channels = shape[axis] if axis is not None else 1
    scales = rng.uniform(0.002, 0.02, size=channels).astype(np.float32)
    spec = TensorSpec(tuple(shape), np.int8, scales, [0] * channels, axis or 0, data, "weights")
    return spec, scales


def bias(rng, in_scale: float, weight_scales: np.ndarray, channels: int, dtype) -> TensorSpec:
    """Bias with the implied scale in_scale * weight_scale (broadcast per channel)."""
    scales = np.broadcast_to(np.float32(in_scale) * weight_scales, (channels,)).astype(np.float32)
    limit = 3000 if dtype == np.int32 else 300000
    data = rng.integers(-limit, limit, size=channels).astype(dtype)
    return TensorSpec((channels,), dtype, scales, [0] * channels, 0, data, "bias")


def act_params(rng, dtype, low: float = 0.01, high: float = 0.1) -> tuple[float, int]:
    """A random (scale, zero point): asymmetric for int8, symmetric for int16."""
    scale = float(np.float32(rng.uniform(low, high) / (256 if dtype == np.int16 else 1)))
    zero_point = int(rng.integers(-40, 40)) if dtype == np.int8 else 0
    return scale, zero_point


def conv_out(size: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    """TFLite's output extent for SAME/VALID padding."""
    if padding == SAME:
        return -(-size // stride)
    return (size - dilation * (kernel - 1) - 1) // stride + 1


# --- operator families -----------------------------------------------------------

Family = Callable[[Callable[[str], np.random.Generator]], Iterator[ModelSpec]]
_FAMILIES: list[Family] = []


def family(function: Family) -> Family:
    """Register a generator of model specs."""
    _FAMILIES.append(function)
    return function


@family
def conv_models(rng_for):
    """CONV_2D: strides, padding, dilation, per-tensor weights, batch 2, 16x8 biases."""
    cases = [
        # name, dtype, ifm shape, out channels, kernel, strides, dilations, padding, per-channel, activation, bias
        ("conv_2d_same_s1", np.int8, (1, 8, 8, 3), 4, (3, 3), (1, 1), (1, 1), SAME, True, "relu", np.int32),
        ("conv_2d_valid_s2", np.int8, (1, 9, 9, 4), 5, (3, 3), (2, 2), (1, 1), VALID, True, "none", np.int32),
        ("conv_2d_dilated", np.int8, (1, 10, 10, 3), 4, (3, 3), (1, 1), (2, 2), SAME, True, "relu6", np.int32),
        ("conv_2d_per_tensor", np.int8, (1, 7, 6, 5), 3, (2, 3), (1, 2), (1, 1), SAME, False, "relu_n1_to_1", np.int32),
        ("conv_2d_pointwise_batch2", np.int8, (2, 5, 5, 8), 6, (1, 1), (1, 1), (1, 1), VALID, True, "none", np.int32),
        ("conv_2d_16x8_same", np.int16, (1, 8, 8, 3), 4, (3, 3), (1, 1), (1, 1), SAME, True, "relu", np.int64),
        ("conv_2d_16x8_int32_bias", np.int16, (1, 9, 9, 3), 4, (3, 3), (2, 2), (1, 1), VALID, True, "none", np.int32),
    ]  # fmt: skip
    for name, dtype, shape, channels, kernel, strides, dilations, padding, per_channel, activation, bias_type in cases:  # fmt: skip
        rng = rng_for(name)
        in_scale, in_zp = act_params(rng, dtype)
        out_scale, out_zp = act_params(rng, dtype, 0.05, 0.3)
        w, w_scales = weights(rng, (channels, *kernel, shape[3]), 0 if per_channel else None)
        oh, ow = (
            conv_out(shape[1 + a], kernel[a], strides[a], dilations[a], padding) for a in (0, 1)
        )
        fields = {
            "Padding": padding, "StrideH": strides[0], "StrideW": strides[1],
            "DilationHFactor": dilations[0], "DilationWFactor": dilations[1],
            "FusedActivationFunction": ACTIVATIONS[activation],
        }  # fmt: skip
        if dtype == np.int16 and bias_type == np.int32:
            fields["QuantizedBiasType"] = tflite.TensorType.INT32
        tensors = [
            act(shape, dtype, in_scale, in_zp),
            w,
            bias(rng, in_scale, w_scales, channels, bias_type),
            out((shape[0], oh, ow, channels), dtype, out_scale, out_zp),
        ]
        yield ModelSpec(name, "CONV_2D", tensors, [0, 1, 2], [3], "Conv2DOptions", fields)


@family
def depthwise_models(rng_for):
    """DEPTHWISE_CONV_2D: depth multipliers, strides, dilation, per-tensor weights, 16x8."""
    cases = [
        # name, dtype, ifm shape, multiplier, kernel, strides, dilations, padding, per-channel, activation
        ("depthwise_conv_2d_same", np.int8, (1, 8, 8, 4), 1, (3, 3), (1, 1), (1, 1), SAME, True, "relu6"),
        ("depthwise_conv_2d_mult2_s2", np.int8, (1, 9, 9, 3), 2, (3, 3), (2, 2), (1, 1), VALID, True, "none"),
        ("depthwise_conv_2d_dilated", np.int8, (1, 10, 9, 2), 3, (2, 3), (1, 2), (2, 2), SAME, True, "relu"),
        ("depthwise_conv_2d_per_tensor", np.int8, (1, 6, 6, 5), 1, (5, 5), (1, 1), (1, 1), SAME, False, "relu_n1_to_1"),
        ("depthwise_conv_2d_16x8", np.int16, (1, 8, 8, 4), 1, (3, 3), (1, 1), (1, 1), SAME, True, "none"),
    ]  # fmt: skip
    for name, dtype, shape, multiplier, kernel, strides, dilations, padding, per_channel, activation in cases:  # fmt: skip
        rng = rng_for(name)
        channels = shape[3] * multiplier
        in_scale, in_zp = act_params(rng, dtype)
        out_scale, out_zp = act_params(rng, dtype, 0.05, 0.3)
        w, w_scales = weights(rng, (1, *kernel, channels), 3 if per_channel else None)
        oh, ow = (
            conv_out(shape[1 + a], kernel[a], strides[a], dilations[a], padding) for a in (0, 1)
        )
        bias_type = np.int64 if dtype == np.int16 else np.int32
        tensors = [
            act(shape, dtype, in_scale, in_zp),
            w,
            bias(rng, in_scale, w_scales, channels, bias_type),
            out((1, oh, ow, channels), dtype, out_scale, out_zp),
        ]
        fields = {
            "Padding": padding, "StrideH": strides[0], "StrideW": strides[1],
            "DilationHFactor": dilations[0], "DilationWFactor": dilations[1],
            "DepthMultiplier": multiplier, "FusedActivationFunction": ACTIVATIONS[activation],
        }  # fmt: skip
        yield ModelSpec(
            name, "DEPTHWISE_CONV_2D", tensors, [0, 1, 2], [3], "DepthwiseConv2DOptions", fields
        )


@family
def fully_connected_models(rng_for):
    """FULLY_CONNECTED: per tensor/channel, no bias, 4-D input, 16x8 biases."""
    cases = [
        # name, dtype, ifm shape, units, per-channel, activation, bias type (None: no bias)
        ("fully_connected_per_tensor", np.int8, (2, 16), 8, False, "relu", np.int32),
        ("fully_connected_per_channel", np.int8, (1, 32), 10, True, "none", np.int32),
        ("fully_connected_no_bias", np.int8, (3, 12), 5, False, "relu6", None),
        ("fully_connected_4d_input", np.int8, (1, 2, 2, 4), 6, True, "none", np.int32),
        ("fully_connected_16x8", np.int16, (2, 16), 8, True, "none", np.int64),
        ("fully_connected_16x8_per_tensor", np.int16, (3, 10), 4, False, "relu6", np.int64),
        ("fully_connected_16x8_int32_bias", np.int16, (1, 20), 7, False, "relu", np.int32),
    ]  # fmt: skip
    for name, dtype, shape, units, per_channel, activation, bias_type in cases:
        rng = rng_for(name)
        depth = int(np.prod(shape[1:]))
        in_scale, in_zp = act_params(rng, dtype)
        out_scale, out_zp = act_params(rng, dtype, 0.05, 0.3)
        w, w_scales = weights(rng, (units, depth), 0 if per_channel else None)
        batch = shape[0]
        tensors = [act(shape, dtype, in_scale, in_zp), w]
        inputs = [0, 1]
        if bias_type is not None:
            tensors.append(bias(rng, in_scale, w_scales, units, bias_type))
            inputs.append(2)
        else:
            inputs.append(-1)
        tensors.append(out((batch, units), dtype, out_scale, out_zp))
        fields = {"FusedActivationFunction": ACTIVATIONS[activation]}
        if dtype == np.int16 and bias_type == np.int32:
            fields["QuantizedBiasType"] = tflite.TensorType.INT32
        yield ModelSpec(
            name,
            "FULLY_CONNECTED",
            tensors,
            inputs,
            [len(tensors) - 1],
            "FullyConnectedOptions",
            fields,
        )


@family
def transpose_conv_models(rng_for):
    """TRANSPOSE_CONV: SAME/VALID, strides, no bias, output padding, 16x8."""
    cases = [
        # name, dtype, ifm shape, out channels, kernel, strides, padding, out hw, activation, bias
        ("transpose_conv_same_s2", np.int8, (1, 4, 4, 3), 2, (3, 3), (2, 2), SAME, (8, 8), "none", True),
        ("transpose_conv_valid_s2", np.int8, (1, 4, 5, 3), 4, (3, 3), (2, 2), VALID, (9, 11), "relu", True),
        ("transpose_conv_same_s1_no_bias", np.int8, (1, 5, 5, 4), 3, (3, 2), (1, 1), SAME, (5, 5), "none", False),
        ("transpose_conv_output_padding", np.int8, (1, 3, 3, 2), 2, (2, 2), (2, 2), VALID, (7, 7), "none", True),
        ("transpose_conv_16x8", np.int16, (1, 4, 4, 3), 2, (3, 3), (2, 2), SAME, (8, 8), "none", True),
    ]  # fmt: skip
    for name, dtype, shape, channels, kernel, strides, padding, out_hw, activation, has_bias in cases:  # fmt: skip
        rng = rng_for(name)
        in_scale, in_zp = act_params(rng, dtype)
        out_scale, out_zp = act_params(rng, dtype, 0.05, 0.3)
        w, w_scales = weights(rng, (channels, *kernel, shape[3]), 0)
        tensors = [
            const([1, *out_hw, channels], "output_shape"),
            w,
            act(shape, dtype, in_scale, in_zp),
        ]
        inputs = [0, 1, 2]
        if has_bias:
            bias_type = np.int64 if dtype == np.int16 else np.int32
            tensors.append(bias(rng, in_scale, w_scales, channels, bias_type))
            inputs.append(3)
        tensors.append(out((1, *out_hw, channels), dtype, out_scale, out_zp))
        fields = {
            "Padding": padding, "StrideH": strides[0], "StrideW": strides[1],
            "FusedActivationFunction": ACTIVATIONS[activation],
        }  # fmt: skip
        yield ModelSpec(
            name,
            "TRANSPOSE_CONV",
            tensors,
            inputs,
            [len(tensors) - 1],
            "TransposeConvOptions",
            fields,
        )


@family
def binary_models(rng_for):
    """ADD, SUB, MUL, MAXIMUM, MINIMUM: broadcasting, fused activations, 16x8."""
    operators = {
        "add": ("ADD", "AddOptions"), "sub": ("SUB", "SubOptions"), "mul": ("MUL", "MulOptions"),
        "maximum": ("MAXIMUM", None), "minimum": ("MINIMUM", None),
    }  # fmt: skip
    cases = [
        # op, variant, dtype, a shape, b shape, activation
        ("add", "same_shape", np.int8, (1, 4, 5, 3), (1, 4, 5, 3), "none"),
        ("add", "broadcast_channel", np.int8, (1, 6, 6, 4), (4,), "relu"),
        ("add", "broadcast_spatial", np.int8, (2, 3, 4, 6), (1, 1, 4, 6), "none"),
        ("add", "relu6", np.int8, (1, 5, 7, 2), (1, 5, 1, 2), "relu6"),
        ("add", "16x8", np.int16, (1, 4, 5, 3), (1, 4, 5, 3), "none"),
        ("add", "16x8_broadcast", np.int16, (1, 4, 5, 3), (1, 1, 1, 3), "relu"),
        ("sub", "same_shape", np.int8, (1, 4, 5, 3), (1, 4, 5, 3), "none"),
        ("sub", "broadcast", np.int8, (1, 6, 6, 4), (1, 1, 6, 4), "relu_n1_to_1"),
        ("sub", "relu", np.int8, (2, 8), (2, 8), "relu"),
        ("sub", "16x8", np.int16, (1, 4, 5, 3), (3,), "none"),
        ("mul", "same_shape", np.int8, (1, 4, 5, 3), (1, 4, 5, 3), "none"),
        ("mul", "broadcast", np.int8, (1, 6, 6, 4), (4,), "relu"),
        ("mul", "relu_n1_to_1", np.int8, (3, 7), (1, 7), "relu_n1_to_1"),
        ("mul", "16x8", np.int16, (1, 4, 5, 3), (1, 4, 5, 3), "none"),
        ("maximum", "same_shape", np.int8, (1, 4, 5, 3), (1, 4, 5, 3), "none"),
        ("maximum", "broadcast", np.int8, (1, 6, 6, 4), (4,), "none"),
        ("maximum", "16x8", np.int16, (2, 5, 3), (2, 5, 3), "none"),
        ("minimum", "same_shape", np.int8, (1, 4, 5, 3), (1, 4, 5, 3), "none"),
        ("minimum", "broadcast", np.int8, (1, 6, 6, 4), (1, 6, 1, 4), "none"),
        ("minimum", "16x8", np.int16, (2, 5, 3), (5, 3), "none"),
    ]  # fmt: skip
    for op, variant, dtype, a_shape, b_shape, activation in cases:
        name = f"{op}_{variant}"
        rng = rng_for(name)
        operator, options = operators[op]
        a_q = act_params(rng, dtype, 0.02, 0.1)
        same_quantization = op in ("maximum", "minimum")
        b_q = a_q if same_quantization else act_params(rng, dtype, 0.02, 0.1)
        o_q = a_q if same_quantization else act_params(rng, dtype, 0.03, 0.15)
        out_shape = np.broadcast_shapes(a_shape, b_shape)
        tensors = [
            act(a_shape, dtype, *a_q, name="input"),
            act(b_shape, dtype, *b_q, name="input2"),
            out(out_shape, dtype, *o_q),
        ]
        fields = {}
        if options is not None:
            fields["FusedActivationFunction"] = ACTIVATIONS[activation]
            if op in ("add", "sub") and dtype == np.int16:
                fields["PotScaleInt16"] = False
        yield ModelSpec(name, operator, tensors, [0, 1], [2], options, fields)


@family
def pool_models(rng_for):
    """AVERAGE_POOL_2D and MAX_POOL_2D: windows, strides, padding, activations, 16x8."""
    cases = [
        # variant, dtype, shape, kernel, strides, padding, activation
        ("same_s1", np.int8, (1, 7, 6, 3), (3, 3), (1, 1), SAME, "none"),
        ("valid_s2", np.int8, (1, 10, 9, 2), (2, 3), (2, 2), VALID, "relu"),
        ("same_s3_relu6", np.int8, (2, 8, 8, 5), (4, 4), (3, 3), SAME, "relu6"),
        ("16x8", np.int16, (1, 7, 6, 3), (3, 3), (2, 2), SAME, "none"),
    ]  # fmt: skip
    for operator, prefix in (
        ("AVERAGE_POOL_2D", "average_pool_2d"),
        ("MAX_POOL_2D", "max_pool_2d"),
    ):
        for variant, dtype, shape, kernel, strides, padding, activation in cases:
            name = f"{prefix}_{variant}"
            scale, zero_point = act_params(rng_for(name), dtype)
            oh, ow = (conv_out(shape[1 + a], kernel[a], strides[a], 1, padding) for a in (0, 1))
            tensors = [
                act(shape, dtype, scale, zero_point),
                out((shape[0], oh, ow, shape[3]), dtype, scale, zero_point),
            ]
            fields = {
                "Padding": padding, "StrideH": strides[0], "StrideW": strides[1],
                "FilterHeight": kernel[0], "FilterWidth": kernel[1],
                "FusedActivationFunction": ACTIVATIONS[activation],
            }  # fmt: skip
            yield ModelSpec(name, operator, tensors, [0], [1], "Pool2DOptions", fields)


@family
def reduce_models(rng_for):
    """MEAN and SUM: axes, keep_dims, rescaling, 16x8."""
    cases = [
        # name, operator, dtype, shape, axes, keep dims, same quantization
        ("mean_hw_keep_dims", "MEAN", np.int8, (1, 6, 5, 4), (1, 2), True, True),
        ("mean_hw", "MEAN", np.int8, (1, 7, 7, 3), (1, 2), False, False),
        ("mean_channels", "MEAN", np.int8, (1, 4, 5, 6), (3,), True, False),
        ("mean_negative_axis", "MEAN", np.int8, (2, 3, 8), (-1,), False, False),
        ("mean_16x8", "MEAN", np.int16, (1, 6, 5, 4), (1, 2), True, False),
        ("sum_hw", "SUM", np.int8, (1, 4, 4, 3), (1, 2), True, False),
        ("sum_axis1", "SUM", np.int8, (2, 5, 3), (1,), False, False),
        ("sum_16x8", "SUM", np.int16, (1, 4, 4, 3), (1, 2), False, False),
    ]  # fmt: skip
    for name, operator, dtype, shape, axes, keep_dims, same in cases:
        rng = rng_for(name)
        in_q = act_params(rng, dtype)
        out_q = in_q if same else act_params(rng, dtype, 0.01, 0.5 if operator == "SUM" else 0.1)
        resolved = [a % len(shape) for a in axes]
        out_shape = [
            1 if i in resolved else e for i, e in enumerate(shape) if keep_dims or i not in resolved
        ]
        tensors = [
            act(shape, dtype, *in_q),
            const(list(axes), "axes"),
            out(out_shape, dtype, *out_q),
        ]
        yield ModelSpec(
            name, operator, tensors, [0, 1], [2], "ReducerOptions", {"KeepDims": keep_dims}
        )


@family
def concatenation_models(rng_for):
    """CONCATENATION: axes, several inputs, 16x8 (equal quantization, as TFLite needs)."""
    cases = [
        # name, dtype, shapes, axis, activation
        ("concatenation_channels", np.int8, [(1, 4, 4, 3), (1, 4, 4, 5)], 3, "none"),
        ("concatenation_axis1_three_inputs", np.int8, [(1, 2, 5, 3), (1, 4, 5, 3), (1, 1, 5, 3)], 1, "none"),
        ("concatenation_negative_axis", np.int8, [(2, 6), (2, 3)], -1, "none"),
        ("concatenation_16x8", np.int16, [(1, 3, 4, 2), (1, 3, 4, 6)], 3, "none"),
    ]  # fmt: skip
    for name, dtype, shapes, axis, activation in cases:
        q = act_params(rng_for(name), dtype)
        out_shape = list(shapes[0])
        out_shape[axis] = sum(s[axis] for s in shapes)
        tensors = [act(s, dtype, *q, name=f"input{i}") for i, s in enumerate(shapes)]
        tensors.append(out(out_shape, dtype, *q))
        fields = {"Axis": axis, "FusedActivationFunction": ACTIVATIONS[activation]}
        yield ModelSpec(
            name,
            "CONCATENATION",
            tensors,
            list(range(len(shapes))),
            [len(shapes)],
            "ConcatenationOptions",
            fields,
        )


@family
def pad_models(rng_for):
    """PAD (zero point) and PADV2 (explicit constant)."""
    cases = [
        # name, operator, dtype, shape, paddings [[before, after] per axis], constant
        ("pad_hw", "PAD", np.int8, (1, 4, 5, 3), [[0, 0], [1, 2], [2, 1], [0, 0]], None),
        ("pad_channels", "PAD", np.int8, (1, 3, 3, 4), [[0, 0], [0, 0], [0, 0], [1, 3]], None),
        ("pad_16x8", "PAD", np.int16, (2, 5, 3), [[0, 1], [2, 0], [1, 1]], None),
        ("padv2_constant", "PADV2", np.int8, (1, 4, 4, 2), [[0, 0], [1, 1], [0, 2], [0, 0]], 37),
        ("padv2_16x8", "PADV2", np.int16, (1, 3, 4, 2), [[0, 0], [2, 1], [1, 0], [0, 0]], -1234),
    ]  # fmt: skip
    for name, operator, dtype, shape, paddings, constant in cases:
        q = act_params(rng_for(name), dtype)
        out_shape = [e + sum(p) for e, p in zip(shape, paddings)]
        tensors = [act(shape, dtype, *q), const(paddings, "paddings")]
        inputs = [0, 1]
        if constant is not None:
            tensors.append(
                TensorSpec(
                    (1,),
                    dtype,
                    [q[0]],
                    [q[1]],
                    data=np.array([constant], dtype),
                    name="constant_values",
                )
            )
            inputs.append(2)
        tensors.append(out(out_shape, dtype, *q))
        options = {"PAD": "PadOptions", "PADV2": "PadV2Options"}[operator]
        yield ModelSpec(name, operator, tensors, inputs, [len(tensors) - 1], options)


@family
def slice_models(rng_for):
    """SLICE and STRIDED_SLICE: sizes of -1, masks, negative strides, shrink axes."""
    slices = [
        # name, dtype, shape, begin, size
        ("slice_basic", np.int8, (1, 6, 6, 4), [0, 1, 2, 1], [1, 3, 4, 2]),
        ("slice_size_minus_one", np.int8, (2, 5, 7), [1, 2, 3], [-1, 2, -1]),
        ("slice_16x8", np.int16, (1, 6, 6, 4), [0, 2, 0, 0], [1, 4, 6, 3]),
    ]  # fmt: skip
    for name, dtype, shape, begin, size in slices:
        q = act_params(rng_for(name), dtype)
        out_shape = [e - b if s == -1 else s for e, b, s in zip(shape, begin, size)]
        tensors = [
            act(shape, dtype, *q),
            const(begin, "begin"),
            const(size, "size"),
            out(out_shape, dtype, *q),
        ]
        yield ModelSpec(name, "SLICE", tensors, [0, 1, 2], [3], "SliceOptions")
    strided = [
        # name, dtype, shape, begin, end, strides, masks (begin, end, shrink), output shape
        ("strided_slice_basic", np.int8, (1, 8, 8, 4), [0, 1, 0, 0], [1, 7, 8, 4], [1, 2, 3, 1], (0, 0, 0), (1, 3, 3, 4)),
        ("strided_slice_masks", np.int8, (1, 6, 7, 5), [0, 2, 1, 1], [0, 0, 6, 4], [1, 1, 2, 1], (0b1001, 0b0011, 0), (1, 4, 3, 4)),
        ("strided_slice_negative_stride", np.int8, (2, 6, 5), [1, 5, 4], [2, 0, -6], [1, -2, -1], (0, 0, 0), (1, 3, 5)),
        ("strided_slice_shrink_axis", np.int8, (1, 6, 6, 3), [0, 2, 0, 0], [1, 3, 6, 3], [1, 1, 1, 1], (0, 0, 0b0011), (6, 3)),
        ("strided_slice_16x8", np.int16, (1, 8, 8, 4), [0, 0, 1, 0], [1, 8, 8, 4], [1, 3, 2, 2], (0, 0, 0), (1, 3, 4, 2)),
    ]  # fmt: skip
    for name, dtype, shape, begin, end, strides, (
        begin_mask,
        end_mask,
        shrink,
    ), out_shape in strided:
        q = act_params(rng_for(name), dtype)
        tensors = [
            act(shape, dtype, *q), const(begin, "begin"), const(end, "end"), const(strides, "strides"),
            out(out_shape, dtype, *q),
        ]  # fmt: skip
        fields = {"BeginMask": begin_mask, "EndMask": end_mask, "ShrinkAxisMask": shrink}
        yield ModelSpec(
            name, "STRIDED_SLICE", tensors, [0, 1, 2, 3], [4], "StridedSliceOptions", fields
        )


@family
def split_models(rng_for):
    """SPLIT and SPLIT_V: axes, piece counts, a -1 size."""
    cases = [
        # name, operator, dtype, shape, axis, sizes (SPLIT_V; -1 = the rest), outputs
        ("split_channels", "SPLIT", np.int8, (1, 4, 4, 6), 3, None, 2),
        ("split_axis1_three", "SPLIT", np.int8, (1, 6, 5, 3), 1, None, 3),
        ("split_16x8", "SPLIT", np.int16, (2, 4, 6), -1, None, 3),
        ("split_v_channels", "SPLIT_V", np.int8, (1, 4, 4, 7), 3, [2, 5], 2),
        ("split_v_minus_one", "SPLIT_V", np.int8, (1, 9, 3, 2), 1, [2, -1, 3], 3),
        ("split_v_16x8", "SPLIT_V", np.int16, (3, 8), 1, [1, 4, 3], 3),
    ]  # fmt: skip
    for name, operator, dtype, shape, axis, sizes, count in cases:
        q = act_params(rng_for(name), dtype)
        extent = shape[axis]
        if sizes is None:
            pieces = [extent // count] * count
        else:
            pieces = [extent - sum(s for s in sizes if s != -1) if s == -1 else s for s in sizes]
        outputs = []
        for piece in pieces:
            shape_i = list(shape)
            shape_i[axis] = piece
            outputs.append(act(shape_i, dtype, *q, name=f"output{len(outputs)}"))
        if operator == "SPLIT":
            tensors = [const(axis, "axis"), act(shape, dtype, *q), *outputs]
            inputs = [0, 1]
            options = ("SplitOptions", {"NumSplits": count})
        else:
            tensors = [
                act(shape, dtype, *q),
                const(sizes, "size_splits"),
                const(axis, "axis"),
                *outputs,
            ]
            inputs = [0, 1, 2]
            options = ("SplitVOptions", {"NumSplits": count})
        yield ModelSpec(
            name, operator, tensors, inputs, list(range(len(inputs), len(tensors))), *options
        )


@family
def pack_models(rng_for):
    """PACK and UNPACK along the first and last axes."""
    packs = [
        ("pack_axis0", np.int8, (4, 3), 2, 0),
        ("pack_last_axis", np.int8, (1, 3, 4), 3, 3),
        ("pack_16x8", np.int16, (2, 5), 2, 1),
    ]
    for name, dtype, shape, count, axis in packs:
        q = act_params(rng_for(name), dtype)
        out_shape = list(shape)
        out_shape.insert(axis, count)
        tensors = [act(shape, dtype, *q, name=f"input{i}") for i in range(count)]
        tensors.append(out(out_shape, dtype, *q))
        yield ModelSpec(
            name,
            "PACK",
            tensors,
            list(range(count)),
            [count],
            "PackOptions",
            {"ValuesCount": count, "Axis": axis},
        )
    unpacks = [
        ("unpack_axis0", np.int8, (3, 4, 5), 0),
        ("unpack_last_axis", np.int8, (1, 4, 2), 2),
        ("unpack_16x8", np.int16, (2, 3, 4), 1),
    ]
    for name, dtype, shape, axis in unpacks:
        q = act_params(rng_for(name), dtype)
        piece = [e for i, e in enumerate(shape) if i != axis]
        outputs = [act(piece, dtype, *q, name=f"output{i}") for i in range(shape[axis])]
        tensors = [act(shape, dtype, *q), *outputs]
        yield ModelSpec(
            name, "UNPACK", tensors, [0], list(range(1, len(tensors))), "UnpackOptions",
            {"Num": shape[axis], "Axis": axis},
        )  # fmt: skip


@family
def reshape_models(rng_for):
    """TRANSPOSE, RESHAPE, SQUEEZE, EXPAND_DIMS."""
    cases = [
        # name, operator, dtype, shape, parameter, output shape
        ("transpose_nhwc_to_nchw", "TRANSPOSE", np.int8, (1, 3, 4, 5), [0, 3, 1, 2], (1, 5, 3, 4)),
        ("transpose_3d", "TRANSPOSE", np.int8, (2, 3, 4), [2, 0, 1], (4, 2, 3)),
        ("transpose_16x8", "TRANSPOSE", np.int16, (1, 3, 4, 5), [0, 2, 1, 3], (1, 4, 3, 5)),
        ("reshape_flatten", "RESHAPE", np.int8, (1, 3, 4, 5), [1, 60], (1, 60)),
        ("reshape_16x8", "RESHAPE", np.int16, (2, 6), [2, 3, 2], (2, 3, 2)),
        ("squeeze_all", "SQUEEZE", np.int8, (1, 1, 1, 8), None, (8,)),
        ("squeeze_16x8", "SQUEEZE", np.int16, (1, 3, 1, 4), None, (3, 4)),
        ("expand_dims_axis1", "EXPAND_DIMS", np.int8, (2, 5), 1, (2, 1, 5)),
        ("expand_dims_16x8", "EXPAND_DIMS", np.int16, (2, 5), -1, (2, 5, 1)),
    ]  # fmt: skip
    options = {"TRANSPOSE": "TransposeOptions", "RESHAPE": "ReshapeOptions", "SQUEEZE": "SqueezeOptions",
               "EXPAND_DIMS": "ExpandDimsOptions"}  # fmt: skip
    for name, operator, dtype, shape, parameter, out_shape in cases:
        q = act_params(rng_for(name), dtype)
        tensors = [act(shape, dtype, *q)]
        if parameter is not None:
            tensors.append(const(parameter, "parameter"))
        tensors.append(out(out_shape, dtype, *q))
        inputs = list(range(len(tensors) - 1))
        yield ModelSpec(name, operator, tensors, inputs, [len(tensors) - 1], options[operator])


@family
def resize_models(rng_for):
    """RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR: align_corners, half_pixel_centers."""
    cases = [
        # name, operator, dtype, shape, output hw, align corners, half pixel centers
        ("resize_bilinear_upscale", "RESIZE_BILINEAR", np.int8, (1, 4, 5, 3), (8, 10), False, False),
        ("resize_bilinear_align_corners", "RESIZE_BILINEAR", np.int8, (1, 4, 5, 3), (7, 9), True, False),
        ("resize_bilinear_half_pixel", "RESIZE_BILINEAR", np.int8, (1, 4, 5, 3), (8, 7), False, True),
        ("resize_bilinear_downscale", "RESIZE_BILINEAR", np.int8, (1, 9, 8, 2), (4, 3), False, False),
        ("resize_bilinear_16x8", "RESIZE_BILINEAR", np.int16, (1, 4, 5, 3), (8, 7), False, True),
        ("resize_nearest_neighbor_upscale", "RESIZE_NEAREST_NEIGHBOR", np.int8, (1, 3, 4, 2), (6, 8), False, False),
        ("resize_nearest_neighbor_align_corners", "RESIZE_NEAREST_NEIGHBOR", np.int8, (1, 4, 5, 3), (7, 9), True, False),
        ("resize_nearest_neighbor_half_pixel", "RESIZE_NEAREST_NEIGHBOR", np.int8, (1, 5, 4, 3), (7, 6), False, True),
        ("resize_nearest_neighbor_16x8", "RESIZE_NEAREST_NEIGHBOR", np.int16, (1, 6, 6, 2), (4, 9), False, False),
    ]  # fmt: skip
    for name, operator, dtype, shape, out_hw, align_corners, half_pixel in cases:
        q = act_params(rng_for(name), dtype)
        tensors = [
            act(shape, dtype, *q),
            const(out_hw, "size"),
            out((shape[0], *out_hw, shape[3]), dtype, *q),
        ]
        options = (
            "ResizeBilinearOptions"
            if operator == "RESIZE_BILINEAR"
            else "ResizeNearestNeighborOptions"
        )
        fields = {"AlignCorners": align_corners, "HalfPixelCenters": half_pixel}
        yield ModelSpec(name, operator, tensors, [0, 1], [2], options, fields)


@family
def depth_space_models(rng_for):
    """DEPTH_TO_SPACE and SPACE_TO_DEPTH (int8 only in TFLite)."""
    for name, operator, shape, out_shape in (
        ("depth_to_space_block2", "DEPTH_TO_SPACE", (1, 3, 2, 8), (1, 6, 4, 2)),
        ("space_to_depth_block2", "SPACE_TO_DEPTH", (1, 4, 6, 3), (1, 2, 3, 12)),
    ):
        q = act_params(rng_for(name), np.int8)
        tensors = [act(shape, np.int8, *q), out(out_shape, np.int8, *q)]
        options = "DepthToSpaceOptions" if operator == "DEPTH_TO_SPACE" else "SpaceToDepthOptions"
        yield ModelSpec(name, operator, tensors, [0], [1], options, {"BlockSize": 2})


@family
def activation_models(rng_for):
    """RELU family, LEAKY_RELU, HARD_SWISH (rescaling or not) and PRELU."""
    cases = [
        # name, operator, dtype, shape, input (scale, zp) range, output (scale, zp) or None: like input, options
        ("relu_int8", "RELU", np.int8, (1, 4, 5, 3), None, None),
        ("relu_int8_rescale", "RELU", np.int8, (2, 10), None, "rescale"),
        ("relu_16x8", "RELU", np.int16, (1, 4, 5, 3), None, "rescale"),
        ("relu6_int8", "RELU6", np.int8, (1, 4, 5, 3), None, None),
        ("relu6_int8_rescale", "RELU6", np.int8, (1, 6, 6, 2), None, "rescale"),
        ("relu6_16x8", "RELU6", np.int16, (1, 4, 5, 3), None, "rescale"),
        ("relu_n1_to_1_int8", "RELU_N1_TO_1", np.int8, (1, 4, 5, 3), (0.005, 0.02), None),
        ("relu_n1_to_1_int8_rescale", "RELU_N1_TO_1", np.int8, (3, 9), (0.005, 0.02), "rescale"),
        ("relu_0_to_1_int8", "RELU_0_TO_1", np.int8, (1, 4, 5, 3), (0.005, 0.02), "rescale"),
        ("leaky_relu_int8", "LEAKY_RELU", np.int8, (1, 4, 5, 3), None, None),
        ("leaky_relu_int8_rescale", "LEAKY_RELU", np.int8, (2, 12), None, "rescale"),
        ("leaky_relu_16x8", "LEAKY_RELU", np.int16, (1, 4, 5, 3), None, "rescale"),
        ("hard_swish_int8", "HARD_SWISH", np.int8, (1, 4, 5, 3), (0.02, 0.06), "rescale"),
        ("hard_swish_int8_wide", "HARD_SWISH", np.int8, (2, 16), (0.1, 0.2), "rescale"),
    ]  # fmt: skip
    options = {"LEAKY_RELU": "LeakyReluOptions", "HARD_SWISH": "HardSwishOptions"}
    for name, operator, dtype, shape, input_range, output in cases:
        rng = rng_for(name)
        in_q = act_params(rng, dtype, *(input_range or (0.01, 0.1)))
        out_q = act_params(rng, dtype, 0.01, 0.1) if output == "rescale" else in_q
        fields = (
            {"Alpha": float(np.float32(rng.uniform(0.05, 0.4)))} if operator == "LEAKY_RELU" else {}
        )
        tensors = [act(shape, dtype, *in_q), out(shape, dtype, *out_q)]
        yield ModelSpec(name, operator, tensors, [0], [1], options.get(operator), fields)
    # 16x8 PRELU takes an int8 slope, like weights.
    for name, dtype, shape, slope_shape in (
        ("prelu_channel_slope", np.int8, (1, 4, 5, 3), (3,)),
        ("prelu_full_slope", np.int8, (1, 3, 4, 2), (1, 3, 4, 2)),
        ("prelu_16x8", np.int16, (1, 4, 5, 3), (1, 1, 3)),
    ):
        rng = rng_for(name)
        in_q, out_q = act_params(rng, dtype), act_params(rng, dtype)
        slope = rng.integers(-100, 100, size=slope_shape).astype(np.int8)
        slope_q = act_params(rng, np.int8, 0.001, 0.005)
        tensors = [
            act(shape, dtype, *in_q),
            TensorSpec(slope_shape, np.int8, [slope_q[0]], [slope_q[1]], data=slope, name="alpha"),
            out(shape, dtype, *out_q),
        ]
        yield ModelSpec(name, "PRELU", tensors, [0, 1], [2])


@family
def lookup_models(rng_for):
    """LOGISTIC, TANH and SOFTMAX with the output formats TFLite requires."""
    cases = [
        # name, operator, dtype, shape, input scale range, output (scale, zp)
        ("logistic_int8", "LOGISTIC", np.int8, (1, 4, 5, 3), (0.02, 0.08), (1 / 256, -128)),
        ("logistic_int8_wide", "LOGISTIC", np.int8, (4, 64), (0.05, 0.15), (1 / 256, -128)),
        ("logistic_16x8_pot", "LOGISTIC", np.int16, (1, 4, 5, 3), (2.0**-12, 2.0**-12), (2.0**-15, 0)),
        ("logistic_16x8", "LOGISTIC", np.int16, (4, 64), (2e-4, 6e-4), (2.0**-15, 0)),
        ("tanh_int8", "TANH", np.int8, (1, 4, 5, 3), (0.02, 0.08), (1 / 128, 0)),
        ("tanh_int8_wide", "TANH", np.int8, (4, 64), (0.05, 0.15), (1 / 128, 0)),
        ("tanh_16x8_pot", "TANH", np.int16, (1, 4, 5, 3), (2.0**-12, 2.0**-12), (2.0**-15, 0)),
        ("tanh_16x8_pot_shift1", "TANH", np.int16, (2, 32), (2.0**-11, 2.0**-11), (2.0**-15, 0)),
        ("tanh_16x8", "TANH", np.int16, (4, 64), (2e-4, 6e-4), (2.0**-15, 0)),
        ("softmax_int8", "SOFTMAX", np.int8, (2, 10), (0.05, 0.2), (1 / 256, -128)),
        ("softmax_int8_beta", "SOFTMAX", np.int8, (1, 3, 4, 7), (0.02, 0.1), (1 / 256, -128)),
        ("softmax_int8_wide", "SOFTMAX", np.int8, (3, 100), (0.1, 0.3), (1 / 256, -128)),
        ("softmax_16x8", "SOFTMAX", np.int16, (2, 10), (2e-4, 6e-4), (1 / 32768, 0)),
        ("softmax_16x8_beta", "SOFTMAX", np.int16, (1, 3, 4, 16), (1e-4, 3e-4), (1 / 32768, 0)),
    ]  # fmt: skip
    for name, operator, dtype, shape, scale_range, (out_scale, out_zp) in cases:
        rng = rng_for(name)
        in_scale = float(np.float32(rng.uniform(*scale_range)))
        in_zp = int(rng.integers(-30, 30)) if dtype == np.int8 else 0
        tensors = [act(shape, dtype, in_scale, in_zp), out(shape, dtype, out_scale, out_zp)]
        if operator == "SOFTMAX":
            beta = 1.0 if not name.endswith("beta") else float(np.float32(rng.uniform(0.3, 2.0)))
            yield ModelSpec(name, operator, tensors, [0], [1], "SoftmaxOptions", {"Beta": beta})
        else:
            yield ModelSpec(name, operator, tensors, [0], [1])


@family
def quantize_models(rng_for):
    """QUANTIZE (float or integer to integer) and DEQUANTIZE."""
    cases = [
        # name, operator, input dtype, output dtype, shape
        ("quantize_float_to_int8", "QUANTIZE", np.float32, np.int8, (1, 4, 5, 3)),
        ("quantize_float_to_int16", "QUANTIZE", np.float32, np.int16, (2, 16)),
        ("quantize_int8_to_int8", "QUANTIZE", np.int8, np.int8, (1, 4, 5, 3)),
        ("quantize_int8_to_int16", "QUANTIZE", np.int8, np.int16, (2, 16)),
        ("quantize_int16_to_int8", "QUANTIZE", np.int16, np.int8, (2, 16)),
        ("quantize_int16_to_int16", "QUANTIZE", np.int16, np.int16, (1, 4, 5, 3)),
        ("dequantize_int8", "DEQUANTIZE", np.int8, np.float32, (1, 4, 5, 3)),
        ("dequantize_int16", "DEQUANTIZE", np.int16, np.float32, (2, 16)),
    ]  # fmt: skip
    options = {"QUANTIZE": "QuantizeOptions", "DEQUANTIZE": "DequantizeOptions"}
    for name, operator, in_dtype, out_dtype, shape in cases:
        rng = rng_for(name)
        tensors = [
            TensorSpec(shape, np.float32, name=role)
            if dtype == np.float32
            else act(shape, dtype, *act_params(rng, dtype, 0.01, 0.1), name=role)
            for dtype, role in ((in_dtype, "input"), (out_dtype, "output"))
        ]
        yield ModelSpec(name, operator, tensors, [0], [1], options[operator])


def model_specs() -> list[ModelSpec]:
    """Every test model, in a stable order."""

    def rng_for(name: str) -> np.random.Generator:
        return np.random.default_rng(zlib.crc32(name.encode()))

    specs = [spec for generate in _FAMILIES for spec in generate(rng_for)]
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names)), "model names must be unique"
    return specs


def main() -> None:
    """Write every model, check TFLite's reference kernels run it, drop stale files.

    The declared output shapes must be the ones TFLite computes, so that an
    importer reading the file sees consistent shapes.
    """
    specs = model_specs()
    rng = np.random.default_rng(0)
    for spec in specs:
        model = spec.build()
        try:
            outputs = run_model(model, *(random_input(t, rng) for t in spec.graph_inputs()))
        except (RuntimeError, ValueError) as error:
            raise SystemExit(f"{spec.name}: TFLite rejects the model: {error}") from error
        declared = [tuple(spec.tensors[i].shape) for i in spec.outputs]
        if declared != [o.shape for o in outputs]:
            raise SystemExit(f"{spec.name}: declared output shapes {declared} are not TFLite's")
        spec.path.write_bytes(model)
    current = {spec.path for spec in specs}
    for stale in set(MODEL_DIRECTORY.glob("*.tflite")) - current:
        stale.unlink()
    total = sum(spec.path.stat().st_size for spec in specs)
    print(f"wrote {len(specs)} models ({total / 1024:.0f} KiB) to {MODEL_DIRECTORY}")


if __name__ == "__main__":
    main()
