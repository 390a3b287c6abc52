"""Property: on random conv shapes the integer reference stays within quantization error.

A float conv is quantized by npuc (per-channel int8 weights, int8 activations
calibrated on the same input) and run in integers; every output element must
lie within the error that the roundings can introduce: half an input step
times the weights' magnitude, half a weight step times the inputs' magnitude,
their product, the bias rounding and one output step for the final
requantization.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    ModuleOp,
    TensorType,
    f32,
)
from xdsl.dialects.func import FuncOp, ReturnOp

import npuc
from npuc.dialects import graph
from npuc.dialects.common import conv_output_size
from npuc.dialects.quantized import quant_type
from npuc.quantization.driver import quantize_module
from npuc.reference import float_kernels


def constant(array: np.ndarray) -> graph.ConstantOp:
    tensor_type = TensorType(f32, array.shape)
    return graph.ConstantOp(
        DenseIntOrFPElementsAttr(tensor_type, BytesAttr(array.astype("<f4").tobytes()))
    )


def conv_module(shape, weights, bias, stride, padding) -> ModuleOp:
    kernel = weights.shape[1:3]
    ofm_shape = [
        1,
        conv_output_size(shape[1], kernel[0], stride, 1, padding[0], padding[2]),
        conv_output_size(shape[2], kernel[1], stride, 1, padding[1], padding[3]),
        weights.shape[0],
    ]
    ifm_type = TensorType(f32, shape)
    ofm_type = TensorType(f32, ofm_shape)
    func = FuncOp("main", ((ifm_type,), (ofm_type,)))
    block = func.body.block
    weights_op, bias_op = constant(weights), constant(bias)
    conv = graph.Conv2dOp(
        block.args[0], weights_op.output, bias_op.output, ofm_type,
        strides=(stride, stride), padding=padding,
    )
    block.add_ops([weights_op, bias_op, conv, ReturnOp(conv.ofm)])
    return ModuleOp([func])


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(3, 9),
    width=st.integers(3, 9),
    depth=st.integers(1, 5),
    channels=st.integers(1, 5),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    pad=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_integer_conv_within_quantization_error(
    height, width, depth, channels, kernel, stride, pad, seed
):
    rng = np.random.default_rng(seed)
    shape = (1, height, width, depth)
    ifm = rng.uniform(-1, 1, shape).astype(np.float32)
    weights = rng.standard_normal((channels, kernel, kernel, depth)).astype(np.float32)
    bias = rng.standard_normal(channels).astype(np.float32) * 0.1
    padding = (kernel // 2,) * 4 if pad else (0, 0, 0, 0)
    module = conv_module(shape, weights, bias, stride, padding)
    float_ofm = npuc.run(module, [ifm])[0]

    quantize_module(module, [ifm])
    integer_ofm = npuc.run(module, [ifm])[0]

    ops = list(module.walk())
    conv = next(op for op in ops if op.name == "quantized.conv2d")
    ifm_scale = quant_type(conv.operands[0]).scale
    weight_scales = quant_type(conv.operands[1]).scale_array()
    ofm_scale = quant_type(conv.results[0]).scale
    window = dict(strides=(stride, stride), dilations=(1, 1), padding=padding)
    zeros = np.zeros(channels, np.float32)
    weight_magnitude = float_kernels.conv2d(np.ones_like(ifm), np.abs(weights), zeros, **window)
    input_magnitude = float_kernels.conv2d(np.abs(ifm), np.ones_like(weights), zeros, **window)
    taps = kernel * kernel * depth
    bound = (
        0.5 * ifm_scale * weight_magnitude
        + 0.5 * weight_scales * input_magnitude
        + 0.25 * ifm_scale * weight_scales * taps
        + 0.5 * ifm_scale * weight_scales
        + ofm_scale
    )
    assert np.all(np.abs(integer_ofm - float_ofm) <= bound + 1e-6)
