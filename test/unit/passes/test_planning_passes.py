"""Tests for the planning passes: npu-legalize, npu-tile, npu-schedule, npu-allocate."""

from dataclasses import replace

import numpy as np
import pytest
from ethosu.vela.api import NpuAccelerator, NpuBlockTraversal, npu_encode_weights
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import BlockArgument
from xdsl.parser import Parser
from xdsl.utils.exceptions import PassFailedException

from npuc.backend import weight_encoding
from npuc.backend.allocation import check_placement
from npuc.backend.blocks import choose_block as search_block
from npuc.backend.blocks import fits_shram, search_input
from npuc.backend.planning import (
    Buffer,
    buffer_bytes,
    buffers,
    cpu_operations,
    element_bytes,
    hwc,
    memory_of,
    moves_no_data,
)
from npuc.backend.planning import layer_command_shape as tile_command_shape
from npuc.backend.staging_memory import fits
from npuc.backend.weight_encoding import layer_streams
from npuc.backend.weight_staging import FITS
from npuc.context import npuc_context
from npuc.cost.compute import CONV, DEPTHWISE, FULLY_CONNECTED, MAX_POOL, CommandShape
from npuc.dialects.common import UNIT_WINDOW, Window
from npuc.dialects.npu import (
    CPU_REASON_ATTR,
    OFFSET_ATTR,
    PLACEMENT_ATTR,
    SCALE_BIAS_ENTRY_BYTES,
    WIDE_SCALE_BIAS_ENTRY_BYTES,
    StageOp,
)
from npuc.dialects.quantized import ConstantOp, Conv2dOp, FullyConnectedOp
from npuc.ir import arg_attributes
from npuc.passes.npu.allocate import AllocatePass, allocate_module
from npuc.passes.npu.legalize import LegalizePass
from npuc.passes.npu.schedule import SchedulePass, schedule
from npuc.passes.npu.tile import TilePass
from npuc.targets import load_target

TARGET = load_target("ethos-u55-128")
PIPELINE = (LegalizePass(), TilePass(), SchedulePass(weight_staging=FITS), AllocatePass())
"""The planning passes, weights staged wherever they fit (the staging mechanics these tests check)."""


def act(shape: str, scale: str = "0.05", zero_point: int = -128) -> str:
    return f"tensor<{shape}x!quantized.uniform<i8:f32, {scale}:{zero_point}>>"


def weights(shape: str) -> str:
    return f"tensor<{shape}x!quantized.uniform<i8:f32, 0.01:0>>"


WINDOW = 'dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"'

CONV_PAIR = f"""
func.func @main(%x: tensor<1x8x8x3xf32>) -> tensor<1x8x8x8xf32> {{
  %q = quantized.quantize %x : tensor<1x8x8x3xf32> -> {act("1x8x8x3")}
  %w = quantized.constant dense<1> : tensor<8x3x3x3xi8> -> {weights("8x3x3x3")}
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %q, %w, %b {{layer = "first", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"}} : ({act("1x8x8x3")}, {weights("8x3x3x3")}, tensor<8xi32>) -> {act("1x8x8x8")}
  %w2 = quantized.constant dense<1> : tensor<8x1x1x8xi8> -> {weights("8x1x1x8")}
  %b2 = quantized.constant dense<0> : tensor<8xi32>
  %d = quantized.conv2d %c, %w2, %b2 {{layer = "second", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({act("1x8x8x8")}, {weights("8x1x1x8")}, tensor<8xi32>) -> {act("1x8x8x8")}
  %y = quantized.dequantize %d : {act("1x8x8x8")} -> tensor<1x8x8x8xf32>
  func.return %y : tensor<1x8x8x8xf32>
}}
"""

CHAIN = f"""
func.func @main(%x: tensor<1x8x8x3xf32>) -> tensor<1x10xf32> {{
  %q = quantized.quantize %x : tensor<1x8x8x3xf32> -> {act("1x8x8x3")}
  %w = quantized.constant dense<1> : tensor<8x3x3x3xi8> -> {weights("8x3x3x3")}
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %q, %w, %b {{layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"}} : ({act("1x8x8x3")}, {weights("8x3x3x3")}, tensor<8xi32>) -> {act("1x8x8x8")}
  %p = quantized.max_pool2d %c {{layer = "pool", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({act("1x8x8x8")}) -> {act("1x4x4x8")}
  %r = quantized.reshape %p {{layer = "flatten"}} : {act("1x4x4x8")} -> {act("1x128")}
  %fw = quantized.constant dense<1> : tensor<10x128xi8> -> {weights("10x128")}
  %fb = quantized.constant dense<0> : tensor<10xi32>
  %f = quantized.fully_connected %r, %fw, %fb {{layer = "fc", activation = "none"}} : ({act("1x128")}, {weights("10x128")}, tensor<10xi32>) -> {act("1x10", "0.1", 0)}
  %y = quantized.dequantize %f : {act("1x10", "0.1", 0)} -> tensor<1x10xf32>
  func.return %y : tensor<1x10xf32>
}}
"""


def parse(text: str) -> ModuleOp:
    module = Parser(npuc_context(), text).parse_module()
    module.verify()
    return module


def run(module: ModuleOp, passes=PIPELINE) -> ModuleOp:
    context = npuc_context()
    for each in passes:
        each.apply(context, module)
        module.verify()
    return module


def ops_by_layer(module: ModuleOp) -> dict[str, object]:
    return {
        op.attributes["layer"].data: op
        for op in module.walk()
        if "layer" in op.attributes and not isinstance(op, StageOp)
    }


def test_oversized_kernel_and_reversing_slice_go_to_the_cpu_with_reasons():
    module = parse(f"""
    func.func @main(%x: {act("1x80x80x1")}) -> {act("1x1x1x1")} {{
      %w = quantized.constant dense<1> : tensor<1x80x80x1xi8> -> {weights("1x80x80x1")}
      %b = quantized.constant dense<0> : tensor<1xi32>
      %c = quantized.conv2d %x, %w, %b {{layer = "big", strides = array<i64: 1, 1>, {WINDOW}}} : ({act("1x80x80x1")}, {weights("1x80x80x1")}, tensor<1xi32>) -> {act("1x1x1x1")}
      %t = quantized.slice %c {{layer = "swap", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, -1, 1, 1>, strides = array<i64: 1, -1, 1, 1>}} : {act("1x1x1x1")} -> {act("1x1x1x1")}
      func.return %t : {act("1x1x1x1")}
    }}""")
    run(module, [LegalizePass()])
    assert cpu_operations(module) == [
        ("big", "quantized.conv2d", "kernel height 80 outside 1..64"),
        ("swap", "quantized.slice", "slice reverses axis 1 (a negative stride; feature-map strides are positive)"),
    ]


def test_chain_runs_on_the_npu_and_interface_conversion_on_the_host():
    module = run(parse(CHAIN), [LegalizePass()])
    placements = [
        op.attributes[PLACEMENT_ATTR].data for op in module.walk() if PLACEMENT_ATTR in op.attributes
    ]
    assert placements == ["host", "npu", "npu", "npu", "npu", "host"]
    assert not any(CPU_REASON_ATTR in op.attributes for op in module.walk())
    assert cpu_operations(module) == []


def test_tile_takes_the_blocks_vela_picks_clipped_to_the_ofm():
    module = run(parse(CHAIN), [LegalizePass(), TilePass()])
    layers = ops_by_layer(module)
    blocks = {
        name: tuple(layers[name].attributes["npu.block"].get_values())
        for name in ("conv", "pool", "fc")
    }
    # What Vela 5.2's block search picks for the same shapes.
    assert blocks == {"conv": (8, 8, 8), "pool": (4, 4, 8), "fc": (1, 2, 16)}
    assert tile_command_shape(layers["conv"]).ifm_bits == 8
    wide = "tensor<1x8x8x8x!quantized.uniform<i16:f32, 0.05:0>>"
    pool16 = parse(f"""
    func.func @main(%x: {wide}) -> {wide} {{
      %p = quantized.max_pool2d %x {{layer = "p", kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({wide}) -> {wide}
      func.return %p : {wide}
    }}""")
    assert tile_command_shape(ops_by_layer(pool16)["p"]).ifm_bits == 16
    assert tuple(layers["fc"].attributes["npu.stripe"].get_values()) == (1, 1, 10)
    assert "npu.block" not in layers["flatten"].attributes


CONV3X3 = Window((3, 3), padding=(1, 1, 1, 1))
POOL2X2 = Window((2, 2), (2, 2))


@pytest.mark.parametrize(
    ("target", "shape", "block"),
    [
        # OFM blocks Vela 5.2 reports (vela --verbose-schedule) for layers of the shared models.
        ("ethos-u55-128", CommandShape(CONV, (1, 16, 16, 1), (1, 16, 16, 16), CONV3X3), (8, 16, 16)),
        ("ethos-u65-256", CommandShape(CONV, (1, 16, 16, 1), (1, 16, 16, 16), CONV3X3), (16, 16, 16)),
        ("ethos-u55-128", CommandShape(MAX_POOL, (1, 16, 16, 16), (1, 8, 8, 16), POOL2X2), (5, 8, 16)),
        ("ethos-u65-256", CommandShape(MAX_POOL, (1, 16, 16, 16), (1, 8, 8, 16), POOL2X2), (6, 6, 16)),
        ("ethos-u55-128", CommandShape(DEPTHWISE, (1, 112, 112, 32), (1, 112, 112, 32), CONV3X3), (7, 12, 16)),
        ("ethos-u55-128", CommandShape(DEPTHWISE, (1, 28, 28, 192), (1, 28, 28, 192), CONV3X3), (7, 12, 16)),
        ("ethos-u65-256", CommandShape(CONV, (1, 49, 10, 1), (1, 25, 5, 64), Window((10, 4), (2, 2), padding=(4, 1, 5, 2))),
         (14, 6, 32)),
        ("ethos-u55-128", CommandShape(FULLY_CONNECTED, (1, 1, 1, 640), (1, 1, 1, 128), UNIT_WINDOW), (1, 2, 128)),
    ],
)
def test_block_search_picks_the_blocks_vela_picks(target, shape, block):
    assert search_block(shape, load_target(target)) == block


def test_targets_carry_the_shared_buffer_bank_rules():
    # Vela 5.2's shram_granules (IFM8, IFM8 elementwise, Acc32, Acc40) for two
    # accelerators; a target without [shram] counts plain bytes.
    small, large = TARGET.shram, load_target("ethos-u65-256").shram
    assert (small.bank_bytes, small.ifm_granule, small.elementwise_ifm_granule) == (1024, 4, 4)
    assert (small.accumulator_granule, small.wide_accumulator_granule) == (8, 12)
    assert (large.ifm_granule, large.accumulator_granule, large.wide_accumulator_granule) == (8, 16, 20)
    assert (TARGET.ofm_block_max.height, TARGET.ofm_block_max.width, TARGET.sub_kernel_max) == (32, 64, (8, 8))
    generic = load_target("generic-4tops")
    assert generic.shram.bank_bytes == generic.shram.accumulator_granule == 1
    assert (generic.ofm_block_max.height, generic.ofm_block_max.depth) == (40, 256)


def test_blocks_must_fit_the_shared_buffer_in_banks():
    # ethos-u55-128: 20 usable banks of 1 KiB. A 1x1 conv over 32 channels in an
    # 8x8x32 block: IFM 8x8x32 bytes = 2 banks, doubled = 4; accumulators
    # 8x8x32 int32 = 8 banks, doubled = 16: 20 banks, fits. 8x10x32 needs 24.
    shape = CommandShape(CONV, (1, 8, 16, 32), (1, 8, 16, 32), UNIT_WINDOW)
    command = search_input(shape, TARGET)
    assert fits_shram(command, (8, 8, 32), TARGET)
    assert not fits_shram(command, (8, 10, 32), TARGET)


def test_schedule_stages_weights_and_scale_bias_of_each_npu_layer():
    module = run(parse(CHAIN), PIPELINE[:3])
    ops = list(module.body.block.first_op.body.block.ops)
    stages = [i for i, op in enumerate(ops) if isinstance(op, StageOp)]
    # conv has no NPU op before it: its bias (scale/bias table) and weights are
    # copied right before it. fc's OFM is one block position: it reads its
    # weights once, in place (Vela's rule), so nothing stages them.
    assert [ops[i + 1].attributes["layer"].data for i in stages] == ["conv", "conv"]
    conv = ops[stages[1] + 1]
    assert conv.operands[2] is ops[stages[0]].results[0]
    assert conv.operands[1] is ops[stages[1]].results[0]
    fc = next(op for op in ops if isinstance(op, FullyConnectedOp))
    assert not isinstance(fc.operands[1].owner, StageOp)


def test_schedule_stages_weights_before_the_previous_npu_op():
    module = run(parse(CONV_PAIR), PIPELINE[:3])
    ops = list(module.body.block.first_op.body.block.ops)
    stages = [i for i, op in enumerate(ops) if isinstance(op, StageOp)]
    # first's copies come right before it; second's move before first, so they
    # overlap its compute (double buffering).
    assert [ops[i].attributes["layer"].data for i in stages] == ["first", "first", "second", "second"]
    assert all(i < ops.index(next(op for op in ops if isinstance(op, Conv2dOp))) for i in stages)
    assert layers_reading(ops, ops[stages[3]].results[0]) == ["second"]


def memories_by_layer(module: ModuleOp) -> dict[str, str]:
    return {layer: op.attributes["npu.memory"].data for layer, op in ops_by_layer(module).items() if "npu.memory" in op.attributes}


def test_dedicated_sram_keeps_npu_only_feature_maps_in_the_staging_memory():
    target = "ethos-u65-256"  # arena in DRAM, weights staged into a 384 KiB SRAM
    module = run(parse(CHAIN), (LegalizePass(target=target), TilePass(target=target), SchedulePass(target=target)))
    # conv and pool only feed NPU ops (the reshape aliases the pool's buffer); the fc
    # result is read by the host, the quantize result written by it.
    assert memories_by_layer(module) == {"conv": "sram", "pool": "sram", "flatten": "sram", "fc": "dram"}
    quantize = next(op for op in module.walk() if op.name == "quantized.quantize")
    assert quantize.attributes["npu.memory"].data == "dram"


def test_staging_memory_takes_feature_maps_only_while_they_fit():
    base = load_target("ethos-u65-256")
    module = run(parse(CHAIN), (LegalizePass(target=base.name), TilePass(target=base.name)))
    func = module.body.block.first_op
    # Raw weights: room for the conv's staged weights (224 B) and scale/bias table (80 B) and the
    # pool's 128 bytes, not for the conv's 512-byte map as well: the conv map falls back to the arena.
    # (fc reads its weights in place: its OFM is one block position.)
    raw = replace(base, weight_encoding="raw")
    small = replace(base.memory("sram"), size=224 + 80 + 128)
    target = replace(raw, memories=tuple(small if m.name == "sram" else m for m in base.memories))
    schedule(func, target, weight_staging=FITS)
    assert memories_by_layer(module) == {"conv": "dram", "pool": "sram", "flatten": "sram", "fc": "dram"}
    found, _ = buffers(func, target)
    assert fits(found, small, target.alignment)
    usage = allocate_module(func, target)
    assert usage["sram"] <= small.size


def test_buffers_live_from_first_write_to_last_read():
    module = run(parse(CHAIN), PIPELINE[:3])
    found, _ = buffers(module.body.block.first_op, TARGET)
    # Positions: 0 quantize (written by the host: live from -1), 1-2 constants, 3-4 stages (the
    # conv's scale/bias table, then its weights), 5 conv, 6 pool, 7 reshape (shares the pool's
    # buffer), 8-9 constants (fc reads its weights in place: one block position), 10 fc,
    # 11 dequantize (the host reads fc's result after the program: live to the end), 12 return.
    # Constants live for the whole program; a stage's copy from its position.
    assert found == [
        Buffer("quantized.quantize@0", "sram", 192, -1, 5),
        Buffer("quantized.constant@1", "flash", 112, -1, 12),
        Buffer("quantized.constant@2", "flash", 80, -1, 12),
        Buffer("conv@3", "sram", 80, 3, 5),
        Buffer("conv@4", "sram", 112, 4, 5),
        Buffer("conv@5", "sram", 512, 5, 6),
        Buffer("pool@6", "sram", 128, 6, 10),
        Buffer("quantized.constant@8", "flash", 272, -1, 12),
        Buffer("quantized.constant@9", "flash", 112, -1, 12),
        Buffer("fc@10", "sram", 10, 10, 12),
    ]


def conv1x1(name: str, depth: int) -> str:
    """A 1x1 convolution of %x (1x4x4x8) to `depth` channels."""
    kernel = f"{depth}x1x1x8"
    return (
        f"%w{name} = quantized.constant dense<1> : tensor<{kernel}xi8> -> {weights(kernel)}\n"
        f"%b{name} = quantized.constant dense<0> : tensor<{depth}xi32>\n"
        f'%{name} = quantized.conv2d %x, %w{name}, %b{name} {{layer = "{name}", strides = array<i64: 1, 1>, {WINDOW}}} '
        f": ({act('1x4x4x8')}, {weights(kernel)}, tensor<{depth}xi32>) -> {act(f'1x4x4x{depth}')}\n"
    )


def test_concat_inputs_share_one_buffer_and_an_unused_argument_lives_before_the_program():
    text = (
        f"func.func @main(%x: {act('1x4x4x8')}, %unused: {act('1x4x4x8')}) -> {act('1x4x4x12')} {{\n"
        + conv1x1("c1", 8)
        + conv1x1("c2", 4)
        + f'%cat = quantized.concat %c1, %c2 {{layer = "cat", axis = 3 : i64}} : '
        f"({act('1x4x4x8')}, {act('1x4x4x4')}) -> {act('1x4x4x12')}\n"
        f"func.return %cat : {act('1x4x4x12')}\n}}"
    )
    module = run(parse(text), PIPELINE[:3])
    found, holder = buffers(module.body.block.first_op, TARGET)
    sram = [buffer for buffer in found if buffer.memory == "sram"]
    # c1's scale/bias table and weights are staged at 2-3, c2's at 5 and 7 (hoisted before c1:
    # double buffering); c1 (at 8) writes the concat's buffer first, c2 (at 9) writes into it
    # too, and the result lives to the return (11).
    assert sram == [
        Buffer("arg0", "sram", 128, -1, 9),
        Buffer("arg1", "sram", 128, -1, -1),
        Buffer("c1@2", "sram", 80, 2, 8),
        Buffer("c1@3", "sram", 48, 3, 8),
        Buffer("c2@5", "sram", 48, 5, 9),
        Buffer("c2@7", "sram", 32, 7, 9),
        Buffer("cat@8", "sram", 192, 8, 11),
    ]
    layers = ops_by_layer(module)
    assert holder[layers["c1"].results[0]] is holder[layers["c2"].results[0]] is holder[layers["cat"].results[0]]


def test_shape_bytes_and_memory_helpers():
    assert [hwc(shape) for shape in ((), (5,), (2, 3), (1, 2, 3, 4))] == [(1, 1, 1), (1, 1, 5), (1, 2, 3), (2, 3, 4)]
    types = ("i8", "i16", "i32", "i1", "f32")
    signature = ", ".join(f"%a{i}: tensor<4x{t}>" for i, t in enumerate(types))
    func = parse(f"func.func @main({signature}) {{\n  func.return\n}}").body.block.first_op
    assert [element_bytes(arg) for arg in func.body.block.args] == [1, 2, 4, 1, 4]
    assert memory_of(DictionaryAttr({"npu.memory": StringAttr("sram")})) == "sram"
    assert memory_of({"npu.memory": StringAttr("dram")}) == "dram"
    assert memory_of(None) is None and memory_of({}) is None


def test_only_an_npu_placed_reshape_moves_no_data():
    shape = act("1x4x4x8")
    module = parse(f"""
    func.func @main(%x: {shape}) -> {shape} {{
      %a = quantized.reshape %x {{layer = "a", npu.placement = "npu"}} : {shape} -> {shape}
      %b = quantized.reshape %a {{layer = "b", npu.placement = "cpu"}} : {shape} -> {shape}
      %c = quantized.reshape %b {{layer = "c"}} : {shape} -> {shape}
      func.return %c : {shape}
    }}""")
    layers = ops_by_layer(module)
    assert [moves_no_data(layers[name]) for name in "abc"] == [True, False, False]


def layers_reading(ops, value):
    return [op.attributes["layer"].data for op in ops if value in op.operands]


def test_allocation_reuses_dead_buffers_and_passes_the_checker():
    module = run(parse(CHAIN))
    func = module.body.block.first_op
    found, holder = buffers(func, TARGET)
    usage = module.attributes["npu.memory_usage"]
    for memory in ("sram", "flash"):
        ranges = [b.live_range() for b in found if b.memory == memory]
        offsets = {b.name: holder_offset(func, holder, b) for b in found if b.memory == memory}
        check_placement(ranges, offsets, TARGET.memory(memory).size, TARGET.alignment, memory)
    sram_total = sum(b.size for b in found if b.memory == "sram")
    assert usage.data["sram"].value.data < sram_total
    layers = ops_by_layer(module)
    assert layers["flatten"].attributes[OFFSET_ATTR] == layers["pool"].attributes[OFFSET_ATTR]


def holder_offset(func, holder, buffer) -> int:
    """The `npu.offset` the pass wrote for `buffer` (on its op or argument)."""
    value = next(v for v, b in holder.items() if b is buffer)
    if isinstance(value, BlockArgument):
        return arg_attributes(func)[value.index][OFFSET_ATTR].value.data
    return value.owner.attributes[OFFSET_ATTR].value.data


def test_raw_biases_take_scale_bias_table_bytes_in_flash():
    target = replace(TARGET, weight_encoding="raw")
    module = run(parse(CHAIN), (LegalizePass(), TilePass()))
    func = module.body.block.first_op
    schedule(func, target, weight_staging=FITS)
    usage = allocate_module(func, target)
    found, _ = buffers(func, target)
    flash = sorted(b.size for b in found if b.memory == "flash")
    # fc weights 10x128, conv weights 8x3x3x3, fc / conv bias tables 12 bytes per channel.
    assert flash == [8 * 12, 10 * 12, 8 * 27, 1280]
    # Aligned to 16: 96 + 224 + 1280 below the 120-byte table, whose rounding the arena's top does not need.
    assert usage["flash"] == 96 + 224 + 1280 + 120


def test_encoded_constants_take_the_bytes_vela_encodes_them_in():
    module = run(parse(CHAIN))
    func = module.body.block.first_op
    _, holder = buffers(func, TARGET)
    sizes = {}
    for constant in [op for op in func.body.ops if isinstance(op, ConstantOp)]:
        use = next(iter(constant.output.uses))
        reader = next(iter(use.operation.output.uses)) if isinstance(use.operation, StageOp) else use
        sizes[f"{reader.operation.attributes['layer'].data}{reader.index}"] = holder[constant.output].size
    conv_weights = npu_encode_weights(
        NpuAccelerator.Ethos_U55_128, np.ones((8, 3, 3, 3), np.int16), (1, 1), 8, 8, False,
        NpuBlockTraversal.PART_KERNEL_FIRST,
    )  # fmt: skip
    fc_weights = npu_encode_weights(
        NpuAccelerator.Ethos_U55_128, np.ones((10, 1, 1, 128), np.int16), (1, 1), 8, 16, False,
        NpuBlockTraversal.DEPTH_FIRST,
    )  # fmt: skip
    # One 10-byte scale record per output channel, streams padded to 16 bytes.
    assert sizes == {"conv1": len(conv_weights), "conv2": 80, "fc1": len(fc_weights), "fc2": 112}



def test_a_layers_streams_are_found_again_for_every_pass_loading_the_target(monkeypatch):
    # Each pass loads its own Target; equal by value, they find the streams the first one looked up
    # without keying the encoding cache again (hashing the weights); another target does not.
    func = run(parse(CHAIN)).body.block.first_op
    conv = next(op for op in func.body.ops if isinstance(op, Conv2dOp))
    looked_up = []
    monkeypatch.setattr(weight_encoding, "_streams", lambda *args, lookup=weight_encoding._streams: (
        looked_up.append(args[-1].name) or lookup(*args)))
    streams = layer_streams(conv, load_target("ethos-u55-128"))
    assert layer_streams(conv, load_target("ethos-u55-128")) is streams
    assert layer_streams(conv, load_target("ethos-u65-256")) is not streams
    assert looked_up == ["ethos-u65-256"]

def test_unknown_target_is_a_pass_failure():
    with pytest.raises(PassFailedException, match="unknown target 'ethos-u99'"):
        run(parse(CHAIN), [LegalizePass(target="ethos-u99")])


def conv_chain(depths: list[int]) -> str:
    """@main: a chain of 1x1 convolutions on 4x4 maps with the given OFM depths."""
    lines, previous, previous_depth = [], "%x", 8
    for index, depth in enumerate(depths):
        kernel = f"{depth}x1x1x{previous_depth}"
        lines += [
            f"%w{index} = quantized.constant dense<1> : tensor<{kernel}xi8> -> {weights(kernel)}",
            f"%b{index} = quantized.constant dense<0> : tensor<{depth}xi32>",
            f"%c{index} = quantized.conv2d {previous}, %w{index}, %b{index} "
            f'{{layer = "c{index}", strides = array<i64: 1, 1>, {WINDOW}}} : '
            f"({act(f'1x4x4x{previous_depth}')}, {weights(kernel)}, tensor<{depth}xi32>) "
            f"-> {act(f'1x4x4x{depth}')}",
        ]
        previous, previous_depth = f"%c{index}", depth
    result = act(f"1x4x4x{previous_depth}")
    body = "\n".join(lines)
    return f"func.func @main(%x: {act('1x4x4x8')}) -> {result} {{\n{body}\nfunc.return {previous} : {result}\n}}"


@settings(max_examples=20, deadline=None)
@given(st.lists(st.sampled_from([8, 16, 24, 64]), min_size=3, max_size=8))
def test_allocation_of_conv_chains_is_valid_and_reuses_the_arena(depths):
    module = run(parse(conv_chain(depths)))
    func = module.body.block.first_op
    found, holder = buffers(func, TARGET)
    sram = [b for b in found if b.memory == "sram"]
    offsets = {b.name: holder_offset(func, holder, b) for b in sram}
    check_placement([b.live_range() for b in sram], offsets, alignment=TARGET.alignment)
    usage = module.attributes["npu.memory_usage"].data["sram"].value.data
    assert usage < sum(b.size for b in sram)


def test_one_constant_encoded_differently_by_two_layers_is_a_pass_failure():
    # A 1x3x3x8 constant as a conv's weights (one output channel) and a depthwise conv's
    # (eight channels): the two encodings differ in size, so no one buffer can hold both.
    kernel = weights("1x3x3x8")
    SAME = 'strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"'
    text = f"""
func.func @main(%x: {act('1x4x4x8')}) -> ({act('1x4x4x1')}, {act('1x4x4x8')}) {{
  %w = quantized.constant dense<1> : tensor<1x3x3x8xi8> -> {kernel}
  %b1 = quantized.constant dense<0> : tensor<1xi32>
  %b8 = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %x, %w, %b1 {{layer = "conv", {SAME}}} : ({act('1x4x4x8')}, {kernel}, tensor<1xi32>) -> {act('1x4x4x1')}
  %d = quantized.depthwise_conv2d %x, %w, %b8 {{layer = "dw", {SAME}}} : ({act('1x4x4x8')}, {kernel}, tensor<8xi32>) -> {act('1x4x4x8')}
  func.return %c, %d : {act('1x4x4x1')}, {act('1x4x4x8')}
}}"""
    with pytest.raises(PassFailedException) as failure:
        run(parse(text), PIPELINE[:3])
    assert str(failure.value) == (
        "layers dw, conv read one constant but encode it differently for ethos-u55-128; "
        "give each layer its own constant"
    )


def test_a_wide_bias_takes_wide_scale_bias_records():
    # 16-bit feature maps take an int64 bias; its records are wider than an int32 bias's.
    x, kernel = "tensor<1x4x4x8x!quantized.uniform<i16:f32, 0.05:0>>", weights("8x1x1x8")
    conv = f'strides = array<i64: 1, 1>, {WINDOW}}} : ({act("1x4x4x8")}, {kernel}'
    text = f"""
func.func @main(%x: {act('1x4x4x8')}, %x16: {x}) -> ({act('1x4x4x8')}, {x}) {{
  %w = quantized.constant dense<1> : tensor<8x1x1x8xi8> -> {kernel}
  %b32 = quantized.constant dense<0> : tensor<8xi32>
  %b64 = quantized.constant dense<0> : tensor<8xi64>
  %c = quantized.conv2d %x, %w, %b32 {{layer = "narrow", {conv}, tensor<8xi32>) -> {act('1x4x4x8')}
  %d = quantized.conv2d %x16, %w, %b64 {{layer = "wide", {conv.replace(act("1x4x4x8"), x)}, tensor<8xi64>) -> {x}
  func.return %c, %d : {act('1x4x4x8')}, {x}
}}"""
    func = parse(text).body.block.first_op
    raw = replace(TARGET, weight_encoding="raw")
    _, narrow, wide = (op.output for op in func.body.ops if isinstance(op, ConstantOp))
    assert buffer_bytes(narrow, raw) == 8 * SCALE_BIAS_ENTRY_BYTES
    assert buffer_bytes(wide, raw) == 8 * WIDE_SCALE_BIAS_ENTRY_BYTES
    assert WIDE_SCALE_BIAS_ENTRY_BYTES > SCALE_BIAS_ENTRY_BYTES


def test_ops_after_a_host_dequantize_still_get_buffers():
    # The first output's dequantize (host memory: no buffer) comes before the second conv.
    text = f"""
func.func @main(%x: {act('1x4x4x8')}) -> (tensor<1x4x4x8xf32>, {act('1x4x4x8')}) {{
  %w = quantized.constant dense<1> : tensor<8x1x1x8xi8> -> {weights('8x1x1x8')}
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %x, %w, %b {{layer = "first", strides = array<i64: 1, 1>, {WINDOW}}} : ({act('1x4x4x8')}, {weights('8x1x1x8')}, tensor<8xi32>) -> {act('1x4x4x8')}
  %y = quantized.dequantize %c : {act('1x4x4x8')} -> tensor<1x4x4x8xf32>
  %d = quantized.conv2d %c, %w, %b {{layer = "second", strides = array<i64: 1, 1>, {WINDOW}}} : ({act('1x4x4x8')}, {weights('8x1x1x8')}, tensor<8xi32>) -> {act('1x4x4x8')}
  func.return %y, %d : tensor<1x4x4x8xf32>, {act('1x4x4x8')}
}}"""
    module = run(parse(text), PIPELINE[:3])
    found, _ = buffers(module.body.block.first_op, TARGET)
    # 0-1 constants, 2-5 both convs' staged copies, 6 first, 7 dequantize (the host reads
    # first's map after the program), 8 second, 9 return.
    assert [(b.name, b.start, b.end) for b in found if b.memory == "sram"] == [
        ("arg0", -1, 6), ("first@2", 2, 6), ("first@3", 3, 6), ("second@4", 4, 8), ("second@5", 5, 8),
        ("first@6", 6, 9), ("second@8", 8, 9),
    ]
