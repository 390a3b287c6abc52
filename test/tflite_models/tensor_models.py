"""Operator families of the test models that move or map tensors: concat, pad, slice, split, pack,
reshape, resize, depth/space, activations, lookup tables and quantize."""

from __future__ import annotations

import numpy as np

from tflite_models.builder import TensorSpec
from tflite_models.specs import (
    ACTIVATIONS,
    ModelSpec,
    act,
    act_params,
    const,
    family,
    out,
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


@family
def lookup_activation_models(rng_for):
    """GELU (exact and tanh form, any output scale) and PRELU with one slope for every channel."""
    for name, approximate, shape in (("gelu_int8", False, (1, 4, 5, 3)), ("gelu_int8_approximate", True, (2, 40))):
        rng = rng_for(name)
        in_q, out_q = act_params(rng, np.int8, 0.02, 0.06), act_params(rng, np.int8, 0.01, 0.04)
        tensors = [act(shape, np.int8, *in_q), out(shape, np.int8, *out_q)]
        yield ModelSpec(name, "GELU", tensors, [0], [1], "GeluOptions", {"Approximate": approximate})
    name = "prelu_scalar_slope"
    rng = rng_for(name)
    in_q, out_q, slope_q = act_params(rng, np.int8), act_params(rng, np.int8), act_params(rng, np.int8, 0.001, 0.005)
    slope = np.array([rng.integers(-100, 100)], dtype=np.int8)
    tensors = [
        act((1, 4, 5, 3), np.int8, *in_q),
        TensorSpec((1,), np.int8, [slope_q[0]], [slope_q[1]], data=slope, name="alpha"),
        out((1, 4, 5, 3), np.int8, *out_q),
    ]
    yield ModelSpec(name, "PRELU", tensors, [0, 1], [2])
