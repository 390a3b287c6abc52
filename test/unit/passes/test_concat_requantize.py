"""Concat inputs with other quantizations: explicit requantize ops, run on the NPU as 1x1 depthwise convs.

quantized-concat-requantize and quantized-requantize-to-depthwise keep the
integer reference's results bit for bit (random int8/int16 shapes and
quantizations); compiled, a concat of two maps quantized unlike its output
runs with no CPU operation: each input is requantized by a depthwise command
writing straight into its slice of the concat, and the simulated program
equals the reference. TFLite's integer QUANTIZE models, int8 and int16 and
between them, run as one such command, as LiteRT's reference kernels compute them.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import FunctionType, IntegerType, ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

import npuc
from npuc.api import compile_model, run_pipeline
from npuc.dialects import npu, quantized
from npuc.dialects.common import dense
from npuc.dialects.quantized import UniformQuantizedType
from npuc.emit.ethos_u.emitter import emit_program
from npuc.reference.quantized_interpreter import run_quantized
from npuc.sim.simulator import simulate

from support.ethos_u_run import assert_both_simulators_give, run_program
from support.litert import random_inputs
from support.paths import TFLITE_MODELS
from tflite_models.builder import run_model


def concat_module(shapes, bits, quantizations, output_quantization, axis) -> ModuleOp:
    """`@main(x0, x1, ...)` returning their concat along `axis`."""
    storage = IntegerType(bits)
    types = [TensorType(UniformQuantizedType(storage, [s], [z]), shape) for shape, (s, z) in zip(shapes, quantizations)]
    out_shape = list(shapes[0])
    out_shape[axis] = sum(shape[axis] for shape in shapes)
    out_type = TensorType(UniformQuantizedType(storage, [output_quantization[0]], [output_quantization[1]]), out_shape)
    block = Block(arg_types=types)
    concat = quantized.ConcatOp(list(block.args), out_type, axis)
    block.add_ops([concat, ReturnOp(concat.output)])
    module = ModuleOp([FuncOp("main", (types, [out_type]), Region(block))])
    module.verify()
    return module


@st.composite
def concat_cases(draw):
    """(module, inputs): two or three 4-D inputs up to 2x4x4x5, int8 or int16, some sharing the output's parameters."""
    bits = draw(st.sampled_from([8, 16]))
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    zero_point = st.integers(low, high) if bits == 8 else st.just(0)
    output_quantization = (draw(st.floats(1e-3, 1.0)), draw(zero_point))
    same = st.just(output_quantization)
    other = st.tuples(st.floats(1e-3, 1.0), zero_point)
    count, axis = draw(st.integers(2, 3)), draw(st.integers(1, 3))
    base = [draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 5))]
    shapes = []
    for _ in range(count):
        shape = list(base)
        shape[axis] = draw(st.integers(1, 4))
        shapes.append(shape)
    quantizations = [draw(st.one_of(same, other)) for _ in range(count)]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    inputs = [rng.integers(low, high + 1, size=shape).astype(f"int{bits}") for shape in shapes]
    return concat_module(shapes, bits, quantizations, output_quantization, axis), inputs


@settings(max_examples=40, deadline=None)
@given(concat_cases())
def test_reference_unchanged_by_the_rewrites(case):
    module, inputs = case
    before = run_quantized(module, inputs).outputs
    run_pipeline(module, "quantized-concat-requantize,quantized-requantize-to-depthwise")
    assert "quantized.requantize" not in [op.name for op in module.walk()]
    after = run_quantized(module, inputs).outputs
    np.testing.assert_array_equal(after[0], before[0])
    assert after[0].dtype == before[0].dtype


def test_compiled_concat_of_differently_quantized_maps_runs_on_the_npu():
    shapes = [[1, 3, 4, 5], [1, 3, 4, 2]]
    module = concat_module(shapes, 8, [(0.05, 3), (0.3, -7)], (0.1, -2), 3)
    rng = np.random.default_rng(1)
    inputs = [rng.integers(-128, 128, size=shape).astype(np.int8) for shape in shapes]
    expected = run_quantized(module, inputs).outputs[0]
    program = compile_model(module, "ethos-u55-128").module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    copies = [op for op in program.ops if isinstance(op, npu.DepthwiseConv2dOp)]
    output = next(op for op in program.ops if isinstance(op, npu.OutputOp)).fm
    assert [(op.ofm.offset.data - output.offset.data, op.ofm.stride_values()) for op in copies] == [
        (0, output.stride_values()), (5, output.stride_values())
    ]
    np.testing.assert_array_equal(simulate(program, inputs)[0], expected)


def test_a_constant_input_becomes_a_constant_of_the_outputs_quantization():
    # a ViT's class token before its patches: the reference result is the same, with no requantize left
    module = concat_module([[1, 4, 8]], 8, [(0.05, 3)], (0.1, -2), 1)
    block = module.body.block.first_op.body.block
    token_type = TensorType(UniformQuantizedType(IntegerType(8), [0.03], [-5]), [1, 1, 8])
    values = np.arange(-100, 100, 25, dtype=np.int8).reshape(1, 1, 8)
    token = quantized.ConstantOp(dense(values, IntegerType(8)), token_type)
    concat = next(op for op in block.ops if isinstance(op, quantized.ConcatOp))
    out_type = TensorType(concat.output.type.element_type, [1, 5, 8])
    new_concat = quantized.ConcatOp([token.output, block.args[0]], out_type, 1)
    return_op = block.last_op
    block.insert_ops_before([token, new_concat], concat)
    return_op.operands = [new_concat.output]
    block.erase_op(concat)
    module.body.block.first_op.function_type = FunctionType.from_lists([block.args[0].type], [out_type])
    module.verify()
    inputs = [np.random.default_rng(2).integers(-128, 128, size=(1, 4, 8)).astype(np.int8)]
    before = run_quantized(module, inputs).outputs[0]
    run_pipeline(module, "quantized-concat-requantize,quantized-requantize-to-depthwise,layer-dce")
    assert "quantized.requantize" not in [op.name for op in module.walk()]
    np.testing.assert_array_equal(run_quantized(module, inputs).outputs[0], before)


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
def test_a_requantize_of_tokens_runs_on_the_npu_between_reshapes(target):
    storage = IntegerType(8)
    in_type = TensorType(UniformQuantizedType(storage, [0.0169], [9]), [1, 16, 64])
    out_type = TensorType(UniformQuantizedType(storage, [0.0168], [9]), [1, 16, 64])
    block = Block(arg_types=[in_type])
    requantize = quantized.RequantizeOp(block.args[0], out_type)
    block.add_ops([requantize, ReturnOp(requantize.output)])
    module = ModuleOp([FuncOp("main", ([in_type], [out_type]), Region(block))])
    inputs = [np.random.default_rng(3).integers(-128, 128, size=(1, 16, 64)).astype(np.int8)]
    expected = run_quantized(module, inputs).outputs[0]
    program = compile_model(module, target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    assert [type(op) for op in program.ops if isinstance(op, npu.ComputeOp)] == [npu.DepthwiseConv2dOp]
    np.testing.assert_array_equal(simulate(program, inputs)[0], expected)
    np.testing.assert_array_equal(run_program(program, emit_program(program), inputs)[0], expected)


WIDTH_CHANGES = ["quantize_int8_to_int16", "quantize_int16_to_int8", "quantize_int16_to_int16", "quantize_int8_to_int8"]


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
@pytest.mark.parametrize("name", WIDTH_CHANGES)
def test_integer_quantize_models_run_on_the_npu_as_litert_computes_them(name: str, target: str) -> None:
    # TFLite's integer QUANTIZE, also between int8 and int16 (the boundaries of npuc's 16x8 head and layer
    # norm): one 1x1 depthwise command reading one width and writing the other, LiteRT BUILTIN_REF's bytes
    data = (TFLITE_MODELS / f"{name}.tflite").read_bytes()
    program = compile_model(npuc.import_model(TFLITE_MODELS / f"{name}.tflite"), target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    assert [type(op) for op in program.ops if isinstance(op, npu.ComputeOp)] == [npu.DepthwiseConv2dOp]
    inputs = random_inputs(program)
    assert_both_simulators_give(program, inputs, run_model(data, *inputs))
