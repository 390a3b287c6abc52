"""The simulator runs lowered npu programs from memory, bit-exact with the reference.

The example model ships with the repository; the simulator must agree with the
quantized interpreter on it, `npuc run` must accept the lowered IR (and the
emitted binary, decoded), and a program whose addresses are corrupted must not
agree any more: the simulator really reads what the commands address.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp, StringAttr

import npuc
from npuc.api import analyze_model
from npuc.data import load_samples, model_interface
from npuc.dialects import npu
from npuc.emit.command_stream import decode, encode
from npuc.errors import InputDataError, MemoryHazardError, NpucError, TargetError
from npuc.sim.simulator import simulate
from npuc.targets import load_target

from support.npu_text import fm, program
from support.paths import EXAMPLES, FILECHECK

RAW_TARGET = FILECHECK / "passes/npu/Inputs/ethos-u55-128-raw.toml"
"""A target file: ethos-u55-128 with raw weights and scale/bias tables."""


@pytest.fixture(scope="module")
def quantized_example() -> tuple[ModuleOp, list[np.ndarray], np.ndarray]:
    """The example quantized, test inputs and the reference output."""
    module = npuc.import_model(EXAMPLES / "tiny_cnn.onnx")
    interface = model_interface(module)
    npuc.quantize(module, load_samples(str(EXAMPLES / "tiny_cnn_calib.npy"), interface))
    inputs = load_samples(str(EXAMPLES / "tiny_cnn_test.npy"), interface)
    return module, inputs, npuc.run(module, inputs)[0]


@pytest.fixture(scope="module")
def compiled(quantized_example) -> tuple[ModuleOp, list[np.ndarray], np.ndarray]:
    """The example compiled for ethos-u55-128, test inputs and the reference output."""
    module, inputs, reference = quantized_example
    return npuc.compile_model(module.clone(), "ethos-u55-128").module, inputs, reference


def test_simulator_matches_quantized_reference(compiled) -> None:
    program, inputs, reference = compiled
    np.testing.assert_array_equal(simulate(program, inputs)[0], reference)


def test_decoded_binary_runs_identically(compiled) -> None:
    program, inputs, reference = compiled
    stream = encode(program)
    np.testing.assert_array_equal(simulate(decode(stream.stream, stream.blob), inputs)[0], reference)


def test_npuc_run_executes_lowered_ir(compiled, tmp_path: Path) -> None:
    program, _, reference = compiled
    ir_file = tmp_path / "model.npu.mlir"
    ir_file.write_text(str(program))
    output = tmp_path / "y.npy"
    subprocess.run(
        [
            sys.executable, "-m", "npuc.tools.npuc_main", "run", str(ir_file),
            "--input", str(EXAMPLES / "tiny_cnn_test.npy"), "-o", str(output),
        ],
        check=True,
    )
    np.testing.assert_array_equal(np.load(output), reference)


def test_corrupted_weight_address_is_a_read_of_unwritten_bytes(compiled) -> None:
    program, inputs, _ = compiled
    corrupted = program.clone()
    conv = next(op for op in corrupted.ops if isinstance(op, npu.Conv2dOp))
    weights = conv.weights
    conv.weights = npu.BufferAttr(weights.region.data, weights.offset.data + 16, weights.size.data)
    # The shifted weights reach bytes no command wrote, or the staged scale/bias table written after them.
    with pytest.raises(MemoryHazardError, match=r"conv1 \(npu.conv2d\) reads its weights at .* (but nothing wrote|wrote only in part)"):
        simulate(corrupted, inputs)


def test_raw_weights_of_a_target_file_run_bit_exact(quantized_example) -> None:
    # npu.target names a target loaded from a file, which the simulator cannot load by
    # name; raw weights and scale/bias tables need no target to decode them.
    module, inputs, reference = quantized_example
    program = analyze_model(module.clone(), str(RAW_TARGET)).module
    assert program.attributes[npu.TARGET_ATTR] == StringAttr("ethos-u55-128-raw")
    assert not [op for op in program.ops if isinstance(op, npu.WeightedOp) and op.encoding is not None]
    np.testing.assert_array_equal(simulate(program, inputs)[0], reference)


def add_one_halving(act_min: int) -> ModuleOp:
    """`y = round_half_up((x - zp + 1) / 2) + zp`, clamped to [act_min, 127], on a [1, 5] int8 map (zp -3)."""
    return program(
        f'npu.input {{tensor = "x", fm = {fm("sram", 0, (1, 5))}}}',
        f'npu.elementwise {{layer = "halve", kind = "add", ifm = {fm("sram", 0, (1, 5))}, scalar = 1 : i32, '
        f'ofm = {fm("sram", 16, (1, 5))}, act_min = {act_min} : i32, act_max = 127 : i32, '
        'rescale = array<i64: 1, 1>, rounding = "half_up", block = array<i64: 1, 1, 8>}',
        f'npu.output {{tensor = "y", fm = {fm("sram", 16, (1, 5))}}}',
    )


def test_integer_elementwise_rounds_half_up_and_clamps() -> None:
    x = np.array([[-128, -7, -1, 1, 127]], np.int8)
    # x - zp + 1 = -124, -3, 3, 5, 131; halved half up: -62, -1, 2, 3, 66 (truncating: -62, -1, 1, 2, 65).
    np.testing.assert_array_equal(simulate(add_one_halving(-6), [x])[0], [[-6, -4, -1, 0, 63]])
    np.testing.assert_array_equal(simulate(add_one_halving(-128), [x])[0], [[-65, -4, -1, 0, 63]])


def test_inputs_must_match_the_program_in_number_and_shape() -> None:
    module = add_one_halving(-128)
    x = np.zeros((1, 5), np.int8)
    with pytest.raises(InputDataError) as error:
        simulate(module, [x, x])
    assert str(error.value) == "the program has 1 input(s), got 2"
    with pytest.raises(InputDataError) as error:
        simulate(module, [x[:, :3]])
    assert str(error.value) == "input 'x' has shape [1, 3], expected [1, 5]"


def test_program_without_inputs_runs_once() -> None:
    module = program(
        "npu.constant {buffer = #npu.buf<flash, 0, 4>, value = dense<[1, 2, 3, 4]> : tensor<4xi8>}",
        'npu.dma {layer = "copy", src = #npu.buf<flash, 0, 4>, dst = #npu.buf<sram, 0, 4>}',
        f'npu.output {{tensor = "y", fm = {fm("sram", 0, (1, 4))}}}',
    )
    [output] = simulate(module, [])
    np.testing.assert_array_equal(output, [[1, 2, 3, 4]])


def _copy_into(region: str, offset: int) -> ModuleOp:
    """A constant copied by DMA to `region` at `offset` and read back as the output, for ethos-u55-128."""
    return program(
        "npu.constant {buffer = #npu.buf<flash, 0, 4>, value = dense<[1, 2, 3, 4]> : tensor<4xi8>}",
        f'npu.dma {{layer = "copy", src = #npu.buf<flash, 0, 4>, dst = #npu.buf<{region}, {offset}, 4>}}',
        f'npu.output {{tensor = "y", fm = {fm(region, offset, (1, 4))}}}',
    )


def test_a_memory_the_target_lacks_is_refused_naming_the_command() -> None:
    with pytest.raises(TargetError) as error:
        simulate(_copy_into("nowhere", 0), [])
    assert str(error.value) == (
        "command 1, copy (npu.dma): its dst is in memory 'nowhere', which target 'ethos-u55-128' does not have "
        "(it has: sram, flash)"
    )


def test_a_location_past_the_end_of_a_target_memory_is_refused() -> None:
    sram = load_target("ethos-u55-128").memory("sram").size
    with pytest.raises(TargetError, match=rf"^command 1, copy \(npu.dma\): its dst ends at sram byte {sram + 2}, "
                                          rf"past the end of the {sram}-byte sram of target 'ethos-u55-128'$"):  # fmt: skip
        simulate(_copy_into("sram", sram - 2), [])


def test_encoded_weights_need_the_program_target(compiled) -> None:
    program, inputs, _ = compiled
    untargeted = program.clone()
    del untargeted.attributes[npu.TARGET_ATTR]
    with pytest.raises(NpucError) as error:
        simulate(untargeted, inputs)
    assert str(error.value) == "layer 'conv1' has encoded weights but the program names no npu.target"


def dense_fm(offset: int, shape: tuple[int, ...], bits: int) -> str:
    """A dense `#npu.fm` of `bits`-bit integers, zero point 0."""
    strides = [bits // 8] * len(shape)
    for axis in range(len(shape) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * shape[axis + 1]
    return (
        f"#npu.fm<sram, {offset}, {list(shape)}, {strides}, !quantized.uniform<i{bits}:f32, 1.0:0>>"
    )


def raw_command(kind: str, shape: tuple[int, ...], bits: int, table_bytes: int) -> str:
    """A 1x1 `kind` command of raw weights (flash 0) and scale/bias table (flash 16), sram 0 -> sram 64."""
    return (
        f'npu.{kind} {{layer = "{kind}", ifm = {dense_fm(0, shape, bits)}, ofm = {dense_fm(64, shape, bits)}, '
        f"weights = #npu.buf<flash, 0, {shape[3]}>, scale_bias = #npu.buf<flash, 16, {table_bytes}>, "
        "kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, "
        f"padding = array<i64: 0, 0, 0, 0>, act_min = {-(1 << (bits - 1))} : i32, act_max = {(1 << (bits - 1)) - 1} : i32, "
        "block = array<i64: 1, 1, 8>}"
    )


def run_raw(command: str, shape: tuple[int, ...], bits: int, weights: str, table: str, x: np.ndarray) -> np.ndarray:
    """`command` between an input and an output, its weights and table constants in flash."""
    module = program(
        f"npu.constant {{buffer = #npu.buf<flash, 0, {shape[3]}>, value = {weights}}}",
        f"npu.constant {{buffer = #npu.buf<flash, 16, {table.count(',') * 4 + 4}>, value = {table}}}",
        f'npu.input {{tensor = "x", fm = {dense_fm(0, shape, bits)}}}',
        command,
        f'npu.output {{tensor = "y", fm = {dense_fm(64, shape, bits)}}}',
    )
    return simulate(module, [x])[0]


def test_a_raw_wide_table_of_an_int16_conv_is_read_per_output_channel() -> None:
    # One output channel on a 2x3 map: the 16-byte wide entry (int64 bias 5, multiplier 2^30, shift 1: scale 1).
    shape = (1, 2, 3, 1)
    x = np.arange(-3, 3, dtype=np.int16).reshape(shape) * 1000
    wide_table = "dense<[5, 0, 1073741824, 1]> : tensor<4xi32>"
    y = run_raw(raw_command("conv2d", shape, 16, 16), shape, 16, "dense<3> : tensor<1x1x1x1xi8>", wide_table, x)
    np.testing.assert_array_equal(y, 3 * x + 5)


def test_raw_depthwise_weights_are_one_per_channel() -> None:
    shape = (1, 1, 1, 2)
    x = np.array([[[[10, -7]]]], np.int8)
    table = "dense<[0, 1073741824, 1, 1, 1073741824, 1]> : tensor<6xi32>"
    weights = "dense<[2, -3]> : tensor<2xi8>"
    y = run_raw(raw_command("depthwise_conv2d", shape, 8, 24), shape, 8, weights, table, x)
    np.testing.assert_array_equal(y, [[[[20, 22]]]])
