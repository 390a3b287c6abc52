"""quantized-mean-to-depthwise keeps TFLite MEAN's results bit for bit.

The integer reference runs a one-op module (a spatial mean) before and after
the pass on random data, for random shapes and quantizations of int8 and
int16; the outputs must be identical, also for inputs all at the storage
minimum or maximum.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import IntegerType, ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

from npuc.api import compile_model, run_pipeline
from npuc.dialects import npu, quantized
from npuc.dialects.npu import CPU_REASON_ATTR, PLACEMENT_ATTR
from npuc.dialects.quantized import UniformQuantizedType
from npuc.reference.fixed_point import quantize_multiplier
from npuc.reference.int_tensor_ops import mean_rescale
from npuc.reference.quantized_interpreter import run_quantized
from npuc.sim.simulator import simulate


def mean_module(shape, bits, input_quantization, output_quantization, keep_dims) -> ModuleOp:
    """`@main(x)` returning the mean of `x` over H and W."""
    storage = IntegerType(bits)
    ifm = TensorType(UniformQuantizedType(storage, [input_quantization[0]], [input_quantization[1]]), shape)
    out_shape = [shape[0], 1, 1, shape[3]] if keep_dims else [shape[0], shape[3]]
    out_qtype = UniformQuantizedType(storage, [output_quantization[0]], [output_quantization[1]])
    block = Block(arg_types=[ifm])
    mean = quantized.ReduceOp(block.args[0], TensorType(out_qtype, out_shape), "mean", [1, 2])
    block.add_ops([mean, ReturnOp(mean.output)])
    module = ModuleOp([FuncOp("main", ([ifm], [mean.output.type]), Region(block))])
    module.verify()
    return module


@st.composite
def mean_cases(draw):
    """(module, input) pairs: shapes up to 2x9x9x5, int8 or int16, any scales and zero points."""
    bits = draw(st.sampled_from([8, 16]))
    shape = [draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 5))]
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    # int16 activations are symmetric (zero point 0), as TFLite's 16x8 mode requires.
    zero_point = st.integers(low, high) if bits == 8 else st.just(0)
    scale = st.floats(1e-4, 1.0)
    input_quantization = (draw(scale), draw(zero_point))
    output_quantization = (draw(scale), draw(zero_point))
    module = mean_module(shape, bits, input_quantization, output_quantization, draw(st.booleans()))
    fill = draw(st.sampled_from(["random", "min", "max"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    data = {
        "random": rng.integers(low, high + 1, size=shape),
        "min": np.full(shape, low),
        "max": np.full(shape, high),
    }[fill]
    return module, data.astype(f"int{bits}")


@settings(max_examples=60, deadline=None)
@given(mean_cases())
def test_reference_unchanged_by_the_rewrite(case):
    module, data = case
    before = run_quantized(module, [data]).outputs
    run_pipeline(module, "quantized-mean-to-depthwise")
    names = [op.name for op in module.walk()]
    assert "quantized.reduce" not in names and "quantized.depthwise_conv2d" in names
    after = run_quantized(module, [data]).outputs
    assert len(before) == len(after) == 1
    assert after[0].dtype == before[0].dtype
    np.testing.assert_array_equal(after[0], before[0])


def test_mean_rescale_folds_the_count_into_the_multiplier():
    # in/out = 1: QuantizeMultiplier gives (2^30, 1); 49 elements shift it left by 5.
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert mean_rescale(0.5, 0.5, 49) == ((1 << 35) // 49, 1 - 5)


def test_mean_rescale_shift_stays_in_range():
    # A tiny ratio has shift -29: the count's normalisation stops at 31 + shift = 2.
    assert quantize_multiplier(1e-9)[1] == -29
    multiplier, shift = mean_rescale(1e-9, 1.0, 1 << 20)
    assert shift == -31 and 0 <= multiplier < 1 << 31


def test_global_average_pool_runs_on_the_npu_bit_exactly():
    # MobileNetV2's head: a mean over 7x7 fits ethos-u55-128's depthwise kernel rule.
    module = mean_module([1, 7, 7, 16], 8, (0.02, -128), (0.004, -128), keep_dims=False)
    data = np.random.default_rng(0).integers(-128, 128, size=(1, 7, 7, 16)).astype(np.int8)
    reference = run_quantized(module, [data]).outputs
    compiled = compile_model(module, "ethos-u55-128")
    assert not [op for op in compiled.module.ops if isinstance(op, npu.CpuOp)]
    assert [op for op in compiled.module.ops if isinstance(op, npu.DepthwiseConv2dOp)]
    np.testing.assert_array_equal(simulate(compiled.module, [data])[0], reference[0])


def test_a_window_beyond_the_target_goes_to_the_cpu_with_a_reason():
    module = mean_module([1, 65, 1, 4], 8, (0.02, -128), (0.02, -128), keep_dims=True)
    run_pipeline(module, "quantized-mean-to-depthwise,npu-legalize{target=ethos-u55-128}")
    (conv,) = [op for op in module.walk() if isinstance(op, quantized.DepthwiseConv2dOp)]
    assert conv.attributes[PLACEMENT_ATTR].data == "cpu"
    assert conv.attributes[CPU_REASON_ATTR].data == "kernel height 65 outside 1..64"
