"""Running emitted Ethos-U streams in npuc's register-level simulator, on a lowered program's memories.

`run_program` builds the regions a packager would pass the driver (the
constants as read-only data, the arena, the staging memory as fast
scratch), writes the inputs where the `npu.input` feature maps say, and
walks the program: each NPU segment's stream runs in `npuc.sim.ethos_u`'s
machine (which also checks the stream's waits and BLOCKDEP against what its
operations touch), each `npu.cpu_op` in the quantized reference, on the
same memories; the outputs are read where the `npu.output` feature maps say.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

import npuc
from npuc.dialects import npu
from npuc.emit.ethos_u.emitter import EthosUProgram, emit_program
from npuc.emit.ethos_u.registers import Product, decode_commands
from npuc.reference.quantized_interpreter import run_block
from npuc.sim.ethos_u.execute import Accelerator
from npuc.sim.ethos_u.machine import Machine
from npuc.sim.ethos_u.memory import Memory, Region
from npuc.sim.hazards import region_sizes
from npuc.sim.simulator import Memories, simulate_sample

PRODUCTS = {"ethos-u55": Product.ETHOS_U55, "ethos-u65": Product.ETHOS_U65}


def run_program(module: ModuleOp, program: EthosUProgram, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The outputs of the lowered `module`, run as `program`'s streams and its CPU operations, on quantized `inputs`."""
    target = program.target
    assert target.ethos_u is not None
    memories = Memories(region_sizes(module))
    for op in module.ops:
        if isinstance(op, npu.ConstantOp):
            memories.bytes(op.buffer)[...] = np.frombuffer(op.value.data.data, dtype=np.uint8)
    for op, sample in zip([op for op in module.ops if isinstance(op, npu.InputOp)], inputs):
        memories.write(op.fm, sample)
    read_only = memories.regions.get(target.weights_memory, np.zeros(0, np.uint8)).copy()
    regions = {0: Region("read-only data", read_only, 0, read_only.size, False)}
    arena = memories.regions[target.arena_memory]
    regions[1] = Region("scratch", arena, 0, arena.size, True)
    if target.staging_memory != target.arena_memory and target.staging_memory in memories.regions:
        staging = memories.regions[target.staging_memory]
        regions[2] = Region("fast scratch", staging, 0, staging.size, True)
    accelerator = Accelerator(target.throughput.macs_per_cycle, target.cores, target.shram_bytes)
    starts = {id(segment.commands[0]): segment for segment in program.segments}
    for op in module.ops:
        if id(op) in starts:
            machine = Machine(Memory(regions, accelerator.shram_bytes), accelerator, PRODUCTS[target.ethos_u.product])
            machine.run(decode_commands(list(starts[id(op)].words)), "emitted stream")
        elif isinstance(op, npu.CpuOp):
            outputs = run_block(op.body.block, [memories.read(fm) for fm in op.inputs.data])
            for fm, values in zip(op.outputs.data, outputs, strict=True):
                memories.write(fm, values)
    return [memories.read(op.fm) for op in module.ops if isinstance(op, npu.OutputOp)]


def assert_both_simulators_give(module: ModuleOp, inputs: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> None:
    """The npu-IR simulator and the register-level run of `module`'s emitted stream both give `expected`."""
    for outputs in (simulate_sample(module, inputs), run_program(module, emit_program(module), inputs)):
        for got, want in zip(outputs, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def assert_both_simulators_give_the_reference(program, quantized_module, codes: np.ndarray) -> None:
    """The npu-IR simulator and the register-level run of `program` (one float input and output,
    int8 codes at its interface) give what npuc's quantized reference gives for input `codes`."""
    (source,) = [op.fm for op in program.ops if isinstance(op, npu.InputOp)]
    (result,) = [op.fm for op in program.ops if isinstance(op, npu.OutputOp)]
    codes = codes.astype(np.int8)
    inputs = [((codes.astype(np.float32) - source.element_type.zero_point) * source.element_type.scale).astype(np.float32)]
    (expected,) = npuc.run(quantized_module, inputs)
    np.testing.assert_array_equal(simulate_sample(program, inputs)[0], expected)
    (stored,) = run_program(program, emit_program(program), [codes])  # the register-level run holds the int8 codes
    dequantized = (stored.astype(np.float32) - result.element_type.zero_point) * np.float32(result.element_type.scale)
    np.testing.assert_allclose(dequantized, expected, rtol=0, atol=1e-6)
