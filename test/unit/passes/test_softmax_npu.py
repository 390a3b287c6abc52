"""int8 SOFTMAX on the NPU: the command chain equals TFLite's reference bit for bit.

The property test runs `softmax_commands` in the simulator on random rows
(lengths 1..1100, several input scales and betas); the model tests compile
the one-op softmax .tflite files through the whole back end and compare the
simulated program (and its decoded command stream) with the quantized
reference interpreter.
"""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    i32,
)

import npuc
from npuc.backend.planning import cpu_operations
from npuc.backend.softmax import exp_table, scratch_layout, softmax_commands
from npuc.data import model_interface
from npuc.dialects import npu
from npuc.dialects.quantized_type import UniformQuantizedType
from npuc.emit.command_stream import decode, encode
from npuc.reference.int_softmax import softmax
from npuc.sim.simulator import simulate_sample

from support.paths import TFLITE_MODELS

MODELS = TFLITE_MODELS


def softmax_program(shape: tuple[int, ...], scale: float, zero_point: int, beta: float) -> ModuleOp:
    """A lowered program: the softmax of an int8 input at sram 0 into sram after it, then its scratch."""
    ifm_type = UniformQuantizedType(IntegerType(8), [scale], [zero_point])
    ofm_type = UniformQuantizedType(IntegerType(8), [1 / 256], [-128])
    aligned = -(-int(np.prod(shape)) // 16) * 16
    ifm = npu.FeatureMapAttr.dense("sram", 0, shape, ifm_type)
    ofm = npu.FeatureMapAttr.dense("sram", aligned, shape, ofm_type)
    scratch = npu.BufferAttr("sram", 2 * aligned, scratch_layout(shape).size)
    table = exp_table(scale, beta)
    lut = npu.BufferAttr("flash", 0, table.nbytes)
    constant = npu.ConstantOp(lut, DenseIntOrFPElementsAttr(TensorType(i32, [table.size]), BytesAttr(table.tobytes())))
    commands = softmax_commands(ifm, ofm, scratch, lut, lambda ofm_hwc: ofm_hwc, "softmax")
    module = ModuleOp([constant, npu.InputOp("x", ifm), *commands, npu.OutputOp("y", ofm)])
    module.attributes[npu.TARGET_ATTR] = StringAttr("ethos-u55-128")
    module.verify()
    return module


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 3),
    depth=st.integers(1, 1100),
    scale=st.sampled_from([0.0039, 0.02, 0.1, 0.5, 1.0, 6.0]),
    zero_point=st.integers(-128, 127),
    beta=st.sampled_from([0.25, 1.0, 1.7, 4.0]),
    seed=st.integers(0, 2**32 - 1),
    spread=st.integers(0, 255),
)
def test_commands_equal_the_tflite_reference(rows, depth, scale, zero_point, beta, seed, spread) -> None:
    rng = np.random.default_rng(seed)
    low = rng.integers(-128, 128 - spread) if spread < 255 else -128
    x = rng.integers(low, low + spread + 1, size=(1, rows, depth)).astype(np.int8)
    program = softmax_program(x.shape, scale, zero_point, beta)
    np.testing.assert_array_equal(simulate_sample(program, [x])[0], softmax(x, scale, beta))


def test_exp_lut_is_zero_below_tflites_diff_min() -> None:
    # beta * scale = 24 per step: every difference but 0 (the row maximum) is below diff_min.
    table = exp_table(6.0, 4.0)
    assert table.dtype == np.dtype("<i4")
    assert table.tolist() == [0] * 255 + [2**31 - 1]


def test_chain_is_28_commands_of_the_layer_inside_its_ofm_and_scratch() -> None:
    shape = (1, 10)
    program = softmax_program(shape, 0.1, 0, 1.0)
    commands = [op for op in program.ops if isinstance(op, (npu.PoolOp, npu.ElementwiseOp))]
    assert len(commands) == 28
    assert {op.attributes["layer"].data for op in commands} == {"softmax"}
    # Every feature map a command writes lies in the OFM (sram 16..25) or the scratch (from 32).
    end = 32 + scratch_layout(shape).size
    for op in commands:
        assert 16 <= op.ofm.offset.data and op.ofm.offset.data + op.ofm.byte_extent() <= end


def compile_tflite(name: str, target: str = "ethos-u55-128"):
    """(reference module, compiled program, random inputs) of a one-op .tflite model."""
    reference = npuc.import_model(MODELS / name)
    interface = model_interface(reference)
    rng = np.random.default_rng(0)
    inputs = [rng.integers(-128, 128, size=spec.shape).astype(np.int8) for spec in interface.inputs]
    compiled = npuc.compile_model(npuc.import_model(MODELS / name), target).module
    return reference, compiled, inputs


@pytest.mark.parametrize("name", ["softmax_int8.tflite", "softmax_int8_beta.tflite", "softmax_int8_wide.tflite"])
def test_compiled_softmax_model_matches_the_reference(name: str) -> None:
    reference, program, inputs = compile_tflite(name)
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    expected = npuc.run(reference, inputs)[0]
    np.testing.assert_array_equal(simulate_sample(program, inputs)[0], expected)
    stream = encode(program)
    decoded = decode(stream.stream, stream.blob)
    assert str(decoded) == str(program)
    np.testing.assert_array_equal(simulate_sample(decoded, inputs)[0], expected)


def test_exp_lut_follows_the_other_constants_in_the_weights_memory() -> None:
    _, program, _ = compile_tflite("softmax_int8_wide.tflite", "ethos-u65-256")
    constants = [op for op in program.ops if isinstance(op, npu.ConstantOp)]
    luts = {op.lut for op in program.ops if isinstance(op, npu.ElementwiseOp) and op.lut is not None}
    assert [lut.size.data for lut in luts] == [1024]
    lut = luts.pop()
    # After the model's constants: the lut, then the scalars too wide for Ethos-U's scalar register.
    position = [op.buffer for op in constants].index(lut)
    assert all(op.buffer.end <= lut.offset.data for op in constants[:position])
    assert [op.buffer.size.data for op in constants[position + 1 :]] == [4, 4, 4]
    usage = program.attributes["npu.memory_usage"].data[lut.region.data].value.data
    assert usage >= lut.end


def test_int16_softmax_stays_on_the_cpu() -> None:
    module = npuc.import_model(MODELS / "softmax_16x8.tflite")
    npuc.run_pipeline(module, "npu-legalize")
    assert [(reason) for _, _, reason in cpu_operations(module)] == ["ofm data type int16 not in int8"]


def test_scratch_is_planned_like_a_buffer_in_the_staging_memory() -> None:
    """On Dedicated_Sram (ethos-u65-256) the scratch goes to the SRAM, not the DRAM arena."""
    module = npuc.import_model(MODELS / "softmax_int8_wide.tflite")
    npuc.run_pipeline(module, ",".join(f"{name}{{target=ethos-u65-256}}" for name in npuc.api.BACKEND_PASSES[:-1]))
    softmax = next(op for op in module.walk() if op.name == "quantized.softmax")
    assert softmax.attributes[npu.SCRATCH_MEMORY_ATTR].data == "sram"
    assert npu.SCRATCH_OFFSET_ATTR in softmax.attributes
    _, program, _ = compile_tflite("softmax_int8_wide.tflite", "ethos-u65-256")
    written = {op.ofm.region.data for op in program.ops if isinstance(op, (npu.PoolOp, npu.ElementwiseOp))}
    assert "sram" in written
