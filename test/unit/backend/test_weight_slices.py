"""Weights streamed in OFM-depth slices (issue 13, point 4): decided, lowered, simulated bit-exactly.

A layer staged in slices has an `npu.stripe` shallower than its OFM and
`npu.slots` on its stages (`npuc.backend.weight_staging`, npu-schedule's
`weight-slices`); npu-lower gives each slice its command and DMAs, the
slices' copies reusing the slots. Each slice is encoded as a layer of its
own. Per-operator models (conv int8 and 16x8, depthwise, fully connected)
are forced into slices on three targets (one and two cores) and must equal
LiteRT's BUILTIN_REF in the npu-IR simulator and in the register-level
simulator running the emitted stream (which checks its waits); a stream
missing the wait before a DMA into a slot still being read is a hazard; a
copy into a slot ahead of its reader is refused by the simulation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

import npuc
from npuc.api import QUANTIZED_REWRITES, backend_pipeline, run_pipeline
from npuc.backend.operators import WEIGHTED_OPS
from npuc.backend.stages import stage_weights
from npuc.backend.weight_staging import Slicing, slice_depths
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.dialects.common import layer_name
from npuc.emit.ethos_u.emitter import emit_program
from npuc.emit.ethos_u.registers import Cmd0, decode_commands
from npuc.errors import CommandStreamError, StreamHazardError
from npuc.ir import main_function
from npuc.passes.npu.schedule import assign_memories
from npuc.sim.hazards import check_program
from npuc.sim.simulator import simulate_sample
from npuc.targets import load_target

from support.ethos_u_layers import conv_chain
from support.ethos_u_run import run_program
from support.litert import random_inputs
from tflite_models.builder import run_model
from tflite_models.specs import (
    ACTIVATIONS,
    SAME,
    ModelSpec,
    act,
    act_params,
    bias,
    out,
    weights,
)

TARGETS = ("ethos-u55-128", "ethos-u65-256", "ethos-u65-512")


def conv_model(dtype, depth: int, channels: int, kernel: int, depthwise: bool = False) -> bytes:
    """A SAME CONV_2D (DEPTHWISE_CONV_2D) of a 6x6 IFM of `depth` channels into `channels`, with ReLU."""
    rng = np.random.default_rng(channels)
    in_scale, in_zp = act_params(rng, dtype)
    out_scale, out_zp = act_params(rng, dtype, 0.05, 0.3)
    shape = (1, kernel, kernel, channels) if depthwise else (channels, kernel, kernel, depth)
    w, w_scales = weights(rng, shape, 3 if depthwise else 0)
    tensors = [act((1, 6, 6, depth), dtype, in_scale, in_zp), w,
               bias(rng, in_scale, w_scales, channels, np.int64 if dtype == np.int16 else np.int32),
               out((1, 6, 6, channels), dtype, out_scale, out_zp)]  # fmt: skip
    fields = {"Padding": SAME, "StrideH": 1, "StrideW": 1, "DilationHFactor": 1, "DilationWFactor": 1,
              "FusedActivationFunction": ACTIVATIONS["relu"]}  # fmt: skip
    if depthwise:
        return ModelSpec("dw", "DEPTHWISE_CONV_2D", tensors, [0, 1, 2], [3], "DepthwiseConv2DOptions",
                         fields | {"DepthMultiplier": channels // depth}).build()  # fmt: skip
    return ModelSpec("conv", "CONV_2D", tensors, [0, 1, 2], [3], "Conv2DOptions", fields).build()


def fully_connected_model(inputs: int, units: int) -> bytes:
    """An int8 FULLY_CONNECTED of a [2, inputs] IFM into `units`."""
    rng = np.random.default_rng(units)
    in_scale, in_zp = act_params(rng, np.int8)
    out_scale, out_zp = act_params(rng, np.int8, 0.05, 0.3)
    w, w_scales = weights(rng, (units, inputs), 0)
    tensors = [act((2, inputs), np.int8, in_scale, in_zp), w, bias(rng, in_scale, w_scales, units, np.int32),
               out((2, units), np.int8, out_scale, out_zp)]  # fmt: skip
    return ModelSpec("fc", "FULLY_CONNECTED", tensors, [0, 1, 2], [3], "FullyConnectedOptions",
                     {"FusedActivationFunction": ACTIVATIONS["none"]}).build()  # fmt: skip


MODELS = {
    "conv_int8": lambda: conv_model(np.int8, 24, 256, 3),
    "conv_16x8": lambda: conv_model(np.int16, 8, 128, 3),
    "depthwise": lambda: conv_model(np.int8, 64, 64, 3, depthwise=True),
    "depthwise_multiplier": lambda: conv_model(np.int8, 16, 64, 3, depthwise=True),
    "fully_connected": lambda: fully_connected_model(40, 256),
}


def sliced(module: ModuleOp, target: str, slots: int) -> ModuleOp:
    """`module` (quantized) through the back end with every weighted layer's weights staged in its thinnest
    OFM-depth slices (`slice_depths`) through `slots` slots."""
    run_pipeline(module, ",".join([*QUANTIZED_REWRITES, backend_pipeline(target, passes=["npu-legalize", "npu-tile"])]))
    func, description = main_function(module), load_target(target)
    assign_memories(func, description)
    for op in [op for op in func.body.ops if isinstance(op, WEIGHTED_OPS)]:
        depths = slice_depths(op, description, None)
        assert depths, f"{layer_name(op)} has more than one slice step of channels"
        stage_weights(op, description.staging_memory, Slicing(depths[-1], slots))
    run_pipeline(module, backend_pipeline(target, passes=["npu-allocate", "npu-lower"]))
    return module


def imported(data: bytes, directory) -> ModuleOp:
    """The quantized module of the TFLite model `data` (written to `directory`)."""
    path = directory / "model.tflite"
    path.write_bytes(data)
    return npuc.import_model(path)


def commands(module: ModuleOp, kind: type) -> int:
    return sum(isinstance(op, kind) for op in module.ops)


@pytest.mark.parametrize("slots", [2, 3])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", MODELS)
def test_a_layer_in_depth_slices_matches_litert_in_both_simulators(name, target, slots, tmp_path):
    data = MODELS[name]()
    module = sliced(imported(data, tmp_path), target, slots)
    layer_commands = commands(module, npu.ComputeOp)
    assert layer_commands > 1, "the layer runs in depth slices"
    assert commands(module, npu.DmaOp) == 2 * layer_commands, "each slice copies its scales and weights"
    inputs = random_inputs(module)
    expected = run_model(data, *inputs)
    for outputs in (simulate_sample(module, inputs), run_program(module, emit_program(module), inputs)):
        for got, want in zip(outputs, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_dma_into_a_slot_must_wait_for_the_command_that_read_it(tmp_path):
    module = sliced(imported(MODELS["conv_int8"](), tmp_path), "ethos-u55-128", 2)
    program = emit_program(module)
    (segment,) = program.segments
    words = list(segment.words)
    waits = [command for command in decode_commands(words) if command.opcode is Cmd0.OP_KERNEL_WAIT]
    assert waits, "the slots' reuse waits for their readers"
    inputs = random_inputs(module)
    run_program(module, program, inputs)
    dropped = waits[0].offset // 4
    unsafe = dataclasses.replace(program, segments=(dataclasses.replace(segment, words=tuple(words[:dropped] + words[dropped + 1:])),))
    with pytest.raises(StreamHazardError, match=r"\(NPU_OP_DMA_START\): writes DMA destination bytes .* that the kernel .* reads"):
        run_program(module, unsafe, inputs)


def test_the_schedule_slices_weights_only_when_asked_and_where_the_whole_copy_does_not_fit():
    # A 3x3 conv, then a 1x1 conv of 16 KiB of weights over a 16x16 map: the second's weights are worth
    # staging (read once per block position), but its IFM and OFM leave 8 KB of the 90,000-byte budget.
    text = conv_chain((16, 16, 32), [64, 256], [3, 1])
    target = "ethos-u55-128#arena_cache_size=90000"
    plain, slices = (
        npuc.analyze_model(Parser(npuc_context(), text).parse_module(), target, weight_slices=flag) for flag in (False, True)
    )
    assert commands(plain.module, npu.ComputeOp) == 2
    assert commands(slices.module, npu.ComputeOp) > 2
    assert slices.cost.total_cycles < plain.cost.total_cycles
    assert slices.cost.peak_memory["sram"] <= 90000


def test_a_slot_copied_over_before_its_reader_ran_is_refused_by_the_simulation(tmp_path):
    # The npu-IR program is in order: the copies of slice 2 into slot 0 moved before the command of slice 0
    # (which reads slot 0) hand that command slice 2's scales and weights. They replace the bytes exactly,
    # which the hazard checker cannot tell from a correct program without the dataflow (npuc.sim.hazards);
    # the simulator can: slice 0's command decodes slice 2's stream as its own, which runs past its end
    # (a shorter one) or gives slice 2's weights: either way not the reference's output.
    data = MODELS["conv_int8"]()
    module = sliced(imported(data, tmp_path), "ethos-u55-128", 2)
    inputs = random_inputs(module)
    expected = run_model(data, *inputs)
    np.testing.assert_array_equal(simulate_sample(module, inputs)[0], expected[0])
    ops = list(module.ops)
    first = next(index for index, op in enumerate(ops) if isinstance(op, npu.Conv2dOp))
    for copy in [op for op in ops[first:] if isinstance(op, npu.DmaOp)][:2]:
        copy.detach()
        module.body.block.insert_op_before(copy, ops[first])
    check_program(module)
    try:
        outputs = simulate_sample(module, inputs)
    except CommandStreamError as error:
        assert "the weight stream does not decode" in str(error)
    else:
        assert not np.array_equal(outputs[0], expected[0])


def test_under_a_budget_a_whole_copy_at_the_peak_is_sliced_where_that_lowers_it():
    # A 1x1 conv of 256 KiB of weights over a 4x4 map, after one of 64 KiB: its whole copy, hoisted over the
    # first conv, makes the SRAM peak. Under a budget that fits it, slicing it (no more than 1 % slower on
    # the staging timeline) lowers the peak, so npu-schedule slices it (`shrink_peak`); without a budget
    # the whole copy stays.
    text = conv_chain((4, 4, 256), [256, 1024], [1, 1])
    target = "ethos-u55-128#arena_cache_size=300000"
    plain = npuc.analyze_model(Parser(npuc_context(), text).parse_module(), target, weight_slices=False)
    sliced_ = npuc.analyze_model(Parser(npuc_context(), text).parse_module(), target)
    unbudgeted = npuc.analyze_model(Parser(npuc_context(), text).parse_module(), "ethos-u55-128")
    assert commands(plain.module, npu.ComputeOp) == commands(unbudgeted.module, npu.ComputeOp) == 2
    assert commands(sliced_.module, npu.ComputeOp) > 2
    assert sliced_.cost.peak_memory["sram"] < plain.cost.peak_memory["sram"] // 2
    assert sliced_.cost.total_cycles <= plain.cost.total_cycles * 1.01
    inputs = [np.random.default_rng(2).integers(-128, 128, (1, 4, 4, 256), dtype=np.int8)]
    expected = simulate_sample(plain.module, inputs)
    for outputs in (simulate_sample(sliced_.module, inputs), run_program(sliced_.module, emit_program(sliced_.module), inputs)):
        np.testing.assert_array_equal(outputs[0], expected[0])
