"""Whole programs as Ethos-U streams: segments, synchronisation, and runs in the register-level simulator.

The oracles: Vela's generator for the register state of a chain of layers
(waits and BLOCKDEP included), and npuc's register-level simulator
(`npuc.sim.ethos_u`, itself checked against Vela's output and LiteRT) for
what a stream computes and whether its waits and BLOCKDEP let an operation
touch bytes another may still be writing.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import npuc
from npuc.backend.weight_staging import FITS
from npuc.dialects import npu
from npuc.dialects.common import layer_name
from npuc.emit.ethos_u.emitter import emit_program
from npuc.emit.ethos_u.payload import parse_payload
from npuc.emit.ethos_u.registers import (
    Cmd0,
    Command,
    Product,
    cmd0_word,
    cmd1_words,
    decode_commands,
    mnemonic,
)
from npuc.errors import CommandStreamError, StreamHazardError
from npuc.sim.simulator import simulate_sample
from npuc.targets import load_target

from support.ethos_u_layers import conv_chain, convolution, lower
from support.ethos_u_run import run_program
from support.paths import TEST, TFLITE_MODELS
from support.vela_oracle import Regions, commands, layer_of, operation, vela_stream

pytestmark = pytest.mark.usefixtures("velas_codec")  # byte-for-byte with Vela's streams


def random_inputs(module) -> list[np.ndarray]:
    """One random sample per `npu.input`, over its storage type's range."""
    rng = np.random.default_rng(0)
    return [
        rng.integers(op.fm.element_type.qmin, op.fm.element_type.qmax + 1, op.fm.shape_values())
        .astype(op.fm.element_type.numpy_dtype())
        for op in module.ops if isinstance(op, npu.InputOp)
    ]


def operations(words) -> list[tuple[str, int, dict]]:
    """The operations of a stream, each with the register values (by mnemonic) it runs with."""
    registers: dict[str, int] = {}
    found = []
    for command in decode_commands(list(words)):
        name = mnemonic(command.opcode)
        if command.opcode.name.startswith("SET_"):
            registers[name] = command.value
        else:
            found.append((name, command.value, dict(registers)))
    return found


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256", "ethos-u65-512"])
def test_a_chain_runs_with_velas_registers_and_a_blockdep_no_deeper_than_velas(target):
    text = conv_chain((12, 12, 8), [16, 32, 16], [3, 1, 3])
    description = load_target(target)
    module = lower(text, target)
    (segment,) = emit_program(module).segments
    regions = Regions(module, description)
    theirs = vela_stream([operation(op, layer_of(text, "none", layer_name(op)) if isinstance(op, npu.WeightedOp) else None,
                                    description, "none", regions) for op in commands(module)], description)
    ours, vela = operations(segment.words), operations(theirs)
    assert [(name, value) for name, value, _ in ours] == [(name, value) for name, value, _ in vela]
    for (_, _, our_registers), (_, _, vela_registers) in zip(ours, vela):
        blockdep = our_registers.pop("NPU_SET_BLOCKDEP", 0), vela_registers.pop("NPU_SET_BLOCKDEP", 0)
        assert our_registers == vela_registers
        # npuc's allocator may put a kernel's OFM over the bytes the previous kernel reads, which Vela's
        # BLOCKDEP does not consider: npuc's is never deeper than Vela's.
        assert blockdep[0] <= blockdep[1]


def run(module, words) -> list[np.ndarray]:
    """The outputs of a one-segment program whose stream is `words`, in the register-level simulator."""
    program = emit_program(module)
    (segment,) = program.segments
    return run_program(module, replace(program, segments=(replace(segment, words=tuple(words)),)), random_inputs(module))


@pytest.mark.parametrize(
    ("model", "target"),
    [
        ("conv_2d_same_s3.tflite", "ethos-u55-32"),  # part-kernel first, 4-deep OFM micro-blocks
        ("depthwise_conv_2d_mult2_s2.tflite", "ethos-u55-128"),  # a channel multiplier: a convolution
        ("conv_2d_pointwise_batch2.tflite", "ethos-u65-512"),  # a batch of 2: two operations, two cores
        ("fully_connected_16x8.tflite", "ethos-u65-256"),  # int64 bias, full-precision records
        ("average_pool_2d_same_s3_asymmetric.tflite", "ethos-u55-128"),  # the count of real elements
        ("softmax_int8.tflite", "ethos-u55-32"),  # 28 integer commands, a lookup table in unreserved banks
        ("softmax_int8_wide.tflite", "ethos-u65-256"),  # scalars in memory, the staging SRAM
    ],
)
def test_the_register_level_simulator_computes_what_the_npu_ir_simulator_does(model, target):
    module = npuc.compile_model(npuc.import_model(TFLITE_MODELS / model), target, weight_staging=FITS).module
    inputs = random_inputs(module)
    expected = simulate_sample(module, inputs)
    for ours, reference in zip(run_program(module, emit_program(module), inputs), expected):
        np.testing.assert_array_equal(ours, reference)


def rewritten(words, change) -> list[int]:
    """The stream with each command replaced by `change(command)` (a list of commands, maybe empty)."""
    result: list[int] = []
    for command in decode_commands(list(words)):
        for new in change(command):
            result += [cmd0_word(new.opcode, new.param)] if new.data is None else list(cmd1_words(new.opcode, new.data, new.param))
    return result


def without(words, opcode: Cmd0) -> list[int]:
    """The stream without its `opcode` commands."""
    return rewritten(words, lambda command: [] if command.opcode is opcode else [command])


def with_blockdep(words, value: int) -> list[int]:
    """The stream with every nonzero BLOCKDEP set to `value`."""
    return rewritten(words, lambda command: [
        Command(command.offset, command.opcode, value) if command.opcode is Cmd0.SET_BLOCKDEP and command.param else command
    ])


def test_a_kernel_reading_a_dma_destination_waits_for_the_dma():
    module = lower(convolution((8, 8, 64), 32, (3, 3), padding=(1, 1, 1, 1)), "ethos-u55-128", FITS)
    (segment,) = emit_program(module).segments
    names = [mnemonic(command.opcode) for command in decode_commands(list(segment.words))]
    assert names.index("NPU_OP_DMA_START") < names.index("NPU_OP_DMA_WAIT") < names.index("NPU_OP_CONV")
    run(module, segment.words)
    with pytest.raises(StreamHazardError, match="DMA"):
        run(module, without(segment.words, Cmd0.OP_DMA_WAIT))


def blockdeps(words) -> list[int]:
    """The BLOCKDEP each kernel operation runs with."""
    return [registers.get("NPU_SET_BLOCKDEP", 0) for name, _, registers in operations(words)
            if name in ("NPU_OP_CONV", "NPU_OP_DEPTHWISE", "NPU_OP_POOL", "NPU_OP_ELEMENTWISE")]


def test_blockdep_lets_a_kernel_overlap_its_predecessor_exactly_as_far_as_its_reads_allow():
    # On Dedicated_Sram the first conv reads the DRAM input and writes the SRAM: the second can overlap it
    # while its first jobs read rows the first conv has written already.
    target = "ethos-u65-256"
    module = lower(conv_chain((32, 32, 8), [8, 8], [3, 3]), target)
    (segment,) = emit_program(module).segments
    first, second = blockdeps(segment.words)
    assert (first, second) == (0, 1)  # the first kernel of a stream waits for nothing before it
    run(module, segment.words)
    with pytest.raises(StreamHazardError, match="BLOCKDEP 2 lets job"):
        run(module, with_blockdep(segment.words, second + 1))


def test_streams_start_with_the_parallel_mode_of_an_ethos_u65_and_end_with_op_stop():
    text = convolution((8, 8, 8), 8, (1, 1))
    for target, first in (("ethos-u65-512", (Cmd0.SET_PARALLEL_MODE, 1)), ("ethos-u65-256", (Cmd0.SET_PARALLEL_MODE, 0))):
        (segment,) = emit_program(lower(text, target)).segments
        start = decode_commands(list(segment.words))[0]
        assert (start.opcode, start.param) == first
    (segment,) = emit_program(lower(text, "ethos-u55-128")).segments
    decoded = decode_commands(list(segment.words))
    assert Cmd0.SET_PARALLEL_MODE not in [command.opcode for command in decoded]
    assert decoded[-1].opcode is Cmd0.OP_STOP and segment.words[-1] == cmd0_word(Cmd0.OP_STOP, 0xFFFF)


CPU_BETWEEN = """
func.func @main(%x: T) -> T {
  %w = quantized.constant dense<2> : tensor<8x1x1x8xi8> -> tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<1> : tensor<8xi32>
  %y = quantized.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (T, tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> T
  %t = quantized.slice %y {layer = "mirror", begin = array<i64: 0, 0, 5, 0>, end = array<i64: 1, 6, -1, 8>, strides = array<i64: 1, 1, -1, 1>} : T -> T
  %z = quantized.add %t, %y {layer = "add", activation = "none"} : (T, T) -> T
  func.return %z : T
}
""".replace("T", "tensor<1x6x6x8x!quantized.uniform<i8:f32, 0.05:-3>>")
"""A conv, a slice reversing the width (a CPU operation) and an add of both: two NPU segments around the CPU."""


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
def test_segments_and_cpu_operations_run_in_turn_on_the_same_memories(target):
    module = lower(CPU_BETWEEN, target)
    inputs = random_inputs(module)
    np.testing.assert_array_equal(run_program(module, emit_program(module), inputs)[0], simulate_sample(module, inputs)[0])


def test_cpu_operations_split_the_program_into_segments():
    program = emit_program(lower(CPU_BETWEEN, "ethos-u55-128", FITS))
    assert [[op.name for op in segment.commands] for segment in program.segments] == [
        ["npu.dma", "npu.dma", "npu.conv2d"], ["npu.elementwise"]
    ]
    for segment in program.segments:
        assert decode_commands(list(segment.words))[-1].opcode is Cmd0.OP_STOP


@pytest.mark.parametrize(("target", "product", "shram_kib"), [
    ("ethos-u55-128", Product.ETHOS_U55, 24), ("ethos-u65-512", Product.ETHOS_U65, 96),
])
def test_compile_writes_the_first_segments_driver_payload(tmp_path, target, product, shram_kib):
    result = npuc.compile_model(npuc.import_model(TFLITE_MODELS / "conv_2d_same_s1.tflite"), target, weight_staging=FITS)
    payload = parse_payload((result.write(tmp_path, ["text"])[0]).read_bytes(), "command_stream.bin")
    config = payload.config
    assert (config.product, config.macs_per_cycle, config.shram_kib) == (
        product, load_target(target).throughput.macs_per_cycle, shram_kib
    )
    (stream,) = payload.streams
    assert result.segments == 1
    assert list(stream.words) == list(emit_program(result.module).segments[0].words)


def test_programs_the_registers_cannot_hold_fail_with_one_line_naming_the_layer():
    text = convolution((8, 8, 8), 8, (1, 1))
    with pytest.raises(CommandStreamError, match="^target generic-4tops is not an Ethos-U: it has no register command stream$"):
        emit_program(lower(text, "generic-4tops"))
    raw = str(TEST / "filecheck" / "passes" / "npu" / "Inputs" / "ethos-u55-128-raw.toml")
    with pytest.raises(CommandStreamError, match="^layer 'layer' \\(npu.conv2d\\): its weights are not Ethos-U encoded"):
        emit_program(lower(text, raw), load_target(raw))
