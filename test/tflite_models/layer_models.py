"""Operator families of the test models with weights or windows: conv, depthwise, fully connected,
transpose conv, binary elementwise, pooling and reductions."""

from __future__ import annotations

import numpy as np
import tflite

from tflite_models.builder import TensorSpec
from tflite_models.specs import (
    ACTIVATIONS,
    SAME,
    VALID,
    ModelSpec,
    act,
    act_params,
    bias,
    const,
    conv_out,
    family,
    out,
    weights,
)


@family
def conv_models(rng_for):
    """CONV_2D: strides, padding, dilation, per-tensor weights, batch 2, 16x8 biases, grouped filters."""
    cases = [
        # name, dtype, ifm shape, out channels, kernel, strides, dilations, padding, per-channel, activation, bias
        # (a `grouped_gN` name: the filter's depth is the ifm's / N, a grouped convolution of N groups)
        ("conv_2d_same_s1", np.int8, (1, 8, 8, 3), 4, (3, 3), (1, 1), (1, 1), SAME, True, "relu", np.int32),
        ("conv_2d_valid_s2", np.int8, (1, 9, 9, 4), 5, (3, 3), (2, 2), (1, 1), VALID, True, "none", np.int32),
        ("conv_2d_dilated", np.int8, (1, 10, 10, 3), 4, (3, 3), (1, 1), (2, 2), SAME, True, "relu6", np.int32),
        ("conv_2d_per_tensor", np.int8, (1, 7, 6, 5), 3, (2, 3), (1, 2), (1, 1), SAME, False, "relu_n1_to_1", np.int32),
        ("conv_2d_pointwise_batch2", np.int8, (2, 5, 5, 8), 6, (1, 1), (1, 1), (1, 1), VALID, True, "none", np.int32),
        ("conv_2d_16x8_same", np.int16, (1, 8, 8, 3), 4, (3, 3), (1, 1), (1, 1), SAME, True, "relu", np.int64),
        ("conv_2d_16x8_int32_bias", np.int16, (1, 9, 9, 3), 4, (3, 3), (2, 2), (1, 1), VALID, True, "none", np.int32),
        # SAME padding that is not symmetric: stride 2 over an even extent, stride 3, dilation 3 of a 2-tap kernel
        ("conv_2d_same_s2_even", np.int8, (1, 8, 8, 3), 4, (3, 3), (2, 2), (1, 1), SAME, True, "none", np.int32),
        ("conv_2d_same_s3", np.int8, (1, 11, 10, 3), 4, (3, 3), (3, 3), (1, 1), SAME, True, "relu", np.int32),
        ("conv_2d_same_dilated_asymmetric", np.int8, (1, 9, 8, 2), 3, (2, 3), (1, 1), (3, 2), SAME, True, "none", np.int32),
        ("conv_2d_grouped_g2_relu", np.int8, (1, 8, 8, 8), 6, (3, 3), (1, 1), (1, 1), SAME, True, "relu", np.int32),
        ("conv_2d_grouped_g4_s2", np.int8, (1, 9, 9, 8), 8, (3, 3), (2, 2), (1, 1), SAME, True, "none", np.int32),
    ]  # fmt: skip
    for name, dtype, shape, channels, kernel, strides, dilations, padding, per_channel, activation, bias_type in cases:  # fmt: skip
        rng = rng_for(name)
        in_scale, in_zp = act_params(rng, dtype)
        out_scale, out_zp = act_params(rng, dtype, 0.05, 0.3)
        groups = int(name.split("_grouped_g")[1][0]) if "_grouped_g" in name else 1
        w, w_scales = weights(rng, (channels, *kernel, shape[3] // groups), 0 if per_channel else None)
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
        # SAME padding that is not symmetric, as for CONV_2D
        ("depthwise_conv_2d_same_s2_even", np.int8, (1, 8, 10, 3), 2, (3, 3), (2, 2), (1, 1), SAME, True, "none"),
        ("depthwise_conv_2d_same_s3", np.int8, (1, 10, 11, 2), 1, (3, 3), (3, 3), (1, 1), SAME, True, "relu"),
        ("depthwise_conv_2d_dilated_asymmetric", np.int8, (1, 9, 9, 4), 1, (2, 2), (1, 1), (3, 3), SAME, True, "relu6"),
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
    """FULLY_CONNECTED: per tensor/channel, no bias, 4-D input, 16x8 biases, shallow IFMs."""
    cases = [
        # name, dtype, ifm shape, units, per-channel, activation, bias type (None: no bias)
        ("fully_connected_per_tensor", np.int8, (2, 16), 8, False, "relu", np.int32),
        ("fully_connected_per_channel", np.int8, (1, 32), 10, True, "none", np.int32),
        ("fully_connected_no_bias", np.int8, (3, 12), 5, False, "relu6", None),
        ("fully_connected_4d_input", np.int8, (1, 2, 2, 4), 6, True, "none", np.int32),
        ("fully_connected_16x8", np.int16, (2, 16), 8, True, "none", np.int64),
        ("fully_connected_16x8_per_tensor", np.int16, (3, 10), 4, False, "relu6", np.int64),
        ("fully_connected_16x8_int32_bias", np.int16, (1, 20), 7, False, "relu", np.int32),
        ("fully_connected_16x8_40bit_bias", np.int16, (2, 16), 8, True, "none", np.int64),
        ("fully_connected_16x8_43bit_bias", np.int16, (2, 16), 8, True, "none", np.int64),
        # At most 8 IFM channels: part-kernel first on the NPU, as Vela's default core encodes it.
        ("fully_connected_shallow", np.int8, (1, 8), 24, True, "relu", np.int32),
        ("fully_connected_16x8_shallow", np.int16, (2, 4), 12, True, "none", np.int64),
    ]  # fmt: skip
    # Biases past int32 (TFLite's 16x8 bias is int64): within the Ethos-U record's 40 bits, and beyond them.
    wide_biases = {"fully_connected_16x8_40bit_bias": 2**38, "fully_connected_16x8_43bit_bias": 2**42}
    for name, dtype, shape, units, per_channel, activation, bias_type in cases:
        rng = rng_for(name)
        depth = int(np.prod(shape[1:]))
        in_scale, in_zp = act_params(rng, dtype)
        out_scale, out_zp = act_params(rng, dtype, 0.05, 0.3)
        w, w_scales = weights(rng, (units, depth), 0 if per_channel else None)
        batch = shape[0]
        if name in wide_biases:  # an output scale that keeps the bias within the int16 range
            out_scale = float(wide_biases[name] * in_scale * w_scales.max() / 20000)
        tensors = [act(shape, dtype, in_scale, in_zp), w]
        inputs = [0, 1]
        if bias_type is not None:
            tensors.append(bias(rng, in_scale, w_scales, units, bias_type, wide_biases.get(name)))
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
def large_bias_models(rng_for):
    """16x8 FULLY_CONNECTED with int64 biases near 2^38: logits that are nearly their bias over small
    inputs, whose accumulator times the Q31 multiplier passes int64 (TFLite rescales it in double)."""
    name = "fully_connected_16x8_large_bias"
    rng = rng_for(name)
    in_scale, _ = act_params(rng, np.int16)
    w, w_scales = weights(rng, (6, 16), 0)
    bias_scales = (np.float32(in_scale) * w_scales).astype(np.float32)
    data = rng.integers(-(1 << 38), 1 << 38, size=6).astype(np.int64)
    out_scale = float(np.float32(float(bias_scales.max()) * (1 << 38) / 20000))
    tensors = [
        act((2, 16), np.int16, in_scale),
        w,
        TensorSpec((6,), np.int64, bias_scales, [0] * 6, 0, data, "bias"),
        out((2, 6), np.int16, out_scale),
    ]
    fields = {"FusedActivationFunction": ACTIVATIONS["none"]}
    yield ModelSpec(name, "FULLY_CONNECTED", tensors, [0, 1, 2], [3], "FullyConnectedOptions", fields)


@family
def normalisation_models(rng_for):
    """SQUARED_DIFFERENCE and RSQRT (int8 only in TFLite): a layer norm's variance and normaliser."""
    cases = [
        # name, a shape, b shape
        ("squared_difference_same_shape", (1, 4, 5, 8), (1, 4, 5, 8)),
        ("squared_difference_broadcast_mean", (1, 6, 16), (1, 6, 1)),
    ]  # fmt: skip
    for name, a_shape, b_shape in cases:
        rng = rng_for(name)
        a_q, b_q = act_params(rng, np.int8, 0.02, 0.1), act_params(rng, np.int8, 0.02, 0.1)
        o_q = (float(np.float32(rng.uniform(0.05, 0.2))), -128)
        out_shape = np.broadcast_shapes(a_shape, b_shape)
        tensors = [act(a_shape, np.int8, *a_q), act(b_shape, np.int8, *b_q, name="input2"), out(out_shape, np.int8, *o_q)]
        yield ModelSpec(name, "SQUARED_DIFFERENCE", tensors, [0, 1], [2])
    # RSQRT refuses inputs below the zero point (negative reals): zero point -128 keeps every input valid
    for name, shape, in_scale, out_scale in [
        ("rsqrt_int8", (1, 6, 1), 0.004, 0.05),
        ("rsqrt_int8_wide", (2, 4, 8), 0.05, 0.01),
    ]:
        tensors = [act(shape, np.int8, in_scale, -128), out(shape, np.int8, out_scale, -128)]
        yield ModelSpec(name, "RSQRT", tensors, [0], [1])


@family
def div_models(rng_for):
    """DIV of quantized tensors (int8, 16x8): TFLite refuses a divisor equal to its zero point when it
    runs, so the divisor is a constant without one (a computed divisor is the same kernel)."""
    cases = [
        # name, dtype, dividend shape, divisor shape, activation
        ("div_int8", np.int8, (1, 4, 5, 6), (1, 4, 5, 6), "none"),
        ("div_broadcast_relu", np.int8, (1, 6, 16), (1, 6, 1), "relu"),
        ("div_16x8", np.int16, (2, 5, 8), (2, 5, 8), "none"),
    ]  # fmt: skip
    for name, dtype, a_shape, b_shape, activation in cases:
        rng = rng_for(name)
        a_q, b_q, o_q = (act_params(rng, dtype, 0.02, 0.2) for _ in range(3))
        info = np.iinfo(dtype)
        divisor = rng.integers(info.min, info.max, size=b_shape, endpoint=True)
        divisor = np.where(divisor == b_q[1], b_q[1] + 1, divisor).astype(dtype)
        tensors = [
            act(a_shape, dtype, *a_q),
            TensorSpec(b_shape, dtype, [b_q[0]], [b_q[1]], data=divisor, name="input2"),
            out(np.broadcast_shapes(a_shape, b_shape), dtype, *o_q),
        ]
        fields = {"FusedActivationFunction": ACTIVATIONS[activation]}
        yield ModelSpec(name, "DIV", tensors, [0, 1], [2], "DivOptions", fields)


@family
def batch_matmul_models(rng_for):
    """BATCH_MATMUL of two activations: 3-D and 4-D (attention scores and context), broadcast batch, 16x8."""
    cases = [
        # name, dtype, lhs shape, rhs shape
        ("batch_matmul_3d", np.int8, (2, 5, 8), (2, 8, 6)),
        ("batch_matmul_4d_heads", np.int8, (1, 2, 6, 4), (1, 2, 4, 6)),
        ("batch_matmul_broadcast", np.int8, (2, 3, 7), (1, 7, 4)),
        ("batch_matmul_16x8", np.int16, (1, 4, 16), (1, 16, 5)),
    ]  # fmt: skip
    for name, dtype, lhs_shape, rhs_shape in cases:
        rng = rng_for(name)
        lhs_q, rhs_q = act_params(rng, dtype, 0.02, 0.1), act_params(rng, dtype, 0.02, 0.1)
        o_q = act_params(rng, dtype, 0.1, 0.5)
        out_shape = (*np.broadcast_shapes(lhs_shape[:-2], rhs_shape[:-2]), lhs_shape[-2], rhs_shape[-1])
        tensors = [act(lhs_shape, dtype, *lhs_q), act(rhs_shape, dtype, *rhs_q, name="input2"), out(out_shape, dtype, *o_q)]
        yield ModelSpec(name, "BATCH_MATMUL", tensors, [0, 1], [2], "BatchMatMulOptions", {"AdjX": 0, "AdjY": 0})


@family
def pool_models(rng_for):
    """AVERAGE_POOL_2D and MAX_POOL_2D: windows, strides, padding, activations, 16x8."""
    cases = [
        # variant, dtype, shape, kernel, strides, padding, activation
        ("same_s1", np.int8, (1, 7, 6, 3), (3, 3), (1, 1), SAME, "none"),
        ("valid_s2", np.int8, (1, 10, 9, 2), (2, 3), (2, 2), VALID, "relu"),
        ("same_s3_relu6", np.int8, (2, 8, 8, 5), (4, 4), (3, 3), SAME, "relu6"),
        ("16x8", np.int16, (1, 7, 6, 3), (3, 3), (2, 2), SAME, "none"),
        # SAME padding that is not symmetric: more at the bottom and right
        ("same_s2_even", np.int8, (1, 8, 6, 3), (3, 3), (2, 2), SAME, "none"),
        ("same_s3_asymmetric", np.int8, (1, 10, 7, 2), (2, 3), (3, 3), SAME, "relu"),
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
