"""The cost model on hand-written lowered npu IR: cycles, bounds, overlap, aggregation."""

from __future__ import annotations

import pytest
from xdsl.parser import Parser

from npuc.api import backend_pipeline, run_pipeline
from npuc.backend.weight_staging import FITS
from npuc.context import npuc_context
from npuc.cost.compute import (
    MAX_POOL,
    REDUCE_SUM,
    CommandShape,
    block_cycles,
    kernel_first,
)
from npuc.cost.geometry import split_blocks
from npuc.cost.model import estimate
from npuc.dialects.common import UNIT_WINDOW, Window
from npuc.dialects.npu import ROUNDING_MODES, Conv2dOp, DmaOp, FullyConnectedOp
from npuc.errors import ModelVerificationError, TargetError
from npuc.targets import load_target

from support.ethos_u_layers import conv_chain, lower
from support.npu_text import (
    add,
    conv,
    cpu_op,
    dma,
    fm,
    fully_connected,
    ints,
    program,
)

TARGET = load_target("ethos-u55-128")
ROUNDING = ROUNDING_MODES[0]

def test_3x3_conv_16_channels_lands_near_921600_cycles():
    # 88,473,600 MACs at 128 MACs/cycle and 75 % utilisation: depth 16 fills two
    # depth steps of 8, 9 kernel elements use 9 of 12 in steps of 4.
    cost = estimate(program(conv("c", (1, 240, 160, 16), 16, kernel=3)), TARGET)
    command = cost.commands[0]
    assert command.macs == 88_473_600
    assert command.bound == "compute"
    assert command.cycles == pytest.approx(921_600, rel=0.05)
    assert cost.layers[0].utilisation == pytest.approx(0.75, rel=0.01)


def test_ifm_depth_12_wastes_the_rest_of_the_depth_step():
    full = estimate(program(conv("c", (1, 32, 32, 16), 16, kernel=3)), TARGET).layers[0]
    partial = estimate(program(conv("c", (1, 32, 32, 12), 16, kernel=3)), TARGET).layers[0]
    assert partial.utilisation == pytest.approx(full.utilisation * 12 / 16, rel=0.01)
    assert partial.npu_cycles == pytest.approx(full.npu_cycles, rel=0.01)


def test_depthwise_has_no_ifm_depth_term():
    cost = estimate(program(conv("d", (1, 16, 16, 32), 32, kernel=3, kind="depthwise_conv2d")), TARGET)
    # 16x16x32 outputs x 12 kernel steps / 16 depthwise MACs per cycle, + the
    # write-back of the last 16x8x8 block at 2 elements/cycle, + one IFM block
    # (18x10x8, clipped to the 16 IFM rows) and one OFM block in and out of the
    # SRAM (latency 32 + 32, 8 bytes/cycle).
    block_memory = 32 + 16 * 10 * 8 // 8 + 32 + 16 * 8 * 8 // 8
    assert cost.commands[0].compute_cycles == 16 * 16 * 32 * 12 // 16 + 16 * 8 * 8 // 2 + block_memory
    assert cost.commands[0].macs == 16 * 16 * 32 * 9


def test_large_weights_from_flash_are_flash_bound():
    cost = estimate(program(fully_connected("fc", 1024, 1000, "flash")), TARGET)
    command = cost.commands[0]
    assert command.bound == "flash"
    assert command.bytes_read["flash"] == 1024 * 1000 + 1000 * 12
    # 1 byte/cycle flash: the weights alone take ~1M cycles, far above the compute time.
    assert command.cycles >= 1024 * 1000
    assert command.compute_cycles < command.cycles / 5
    assert cost.layers[0].bound == "flash"


def test_same_weights_from_sram_move_at_sram_bandwidth():
    flash = estimate(program(fully_connected("fc", 1024, 1000, "flash")), TARGET).commands[0]
    sram = estimate(program(fully_connected("fc", 1024, 1000, "sram")), TARGET).commands[0]
    assert sram.bound == "sram"
    assert sram.cycles == pytest.approx(flash.cycles / 8, rel=0.15)


def test_tiny_command_is_latency_bound():
    command = estimate(program(dma("w", ("flash", 0), ("sram", 0), 16)), TARGET).commands[0]
    assert command.bound == "latency"
    assert command.dma_cycles == 16 + 64


def test_weights_are_streamed_once_per_block_position():
    # The IFM of a convolution is read once per OFM block, depth blocks
    # included (two 8-deep blocks of 16 channels); the weights once per
    # height/width block position.
    one_position = estimate(program(conv("c", (1, 16, 8, 16), 16, block=(16, 8, 8))), TARGET)
    four_positions = estimate(program(conv("c", (1, 32, 16, 16), 16, block=(16, 8, 8))), TARGET)
    weights = 16 * 16
    assert one_position.commands[0].bytes_read["sram"] == 2 * 16 * 8 * 16 + weights
    assert four_positions.commands[0].bytes_read["sram"] == 2 * 32 * 16 * 16 + 4 * weights


def test_dma_overlaps_the_preceding_compute_command():
    # conv a runs while the weights of conv b are copied from flash; b waits for its copy.
    module = program(
        conv("a", (1, 64, 64, 16), 16, kernel=3, weights=("sram", 4_000_000)),
        dma("b", ("flash", 1024), ("sram", 4_100_000), 2304),
        conv("b", (1, 64, 64, 16), 16, kernel=3, weights=("sram", 4_100_000), ifm_offset=2_000_000, ofm_offset=0),
    )
    cost = estimate(module, TARGET)
    a, copy, b = cost.commands
    assert copy.start == 0 < a.end
    assert b.start == max(a.end, copy.end)
    assert cost.total_cycles < sum(c.cycles for c in cost.commands)
    assert cost.total_cycles >= max(a.cycles + b.cycles, copy.cycles)


def test_dma_into_a_buffer_in_use_waits_for_its_reader():
    module = program(
        conv("a", (1, 64, 64, 16), 16, kernel=3, weights=("sram", 4_000_000)),
        dma("b", ("flash", 1024), ("sram", 4_000_000), 2304),
    )
    a, copy = estimate(module, TARGET).commands
    assert copy.start == a.end


def test_layer_cycles_add_up_to_the_total():
    module = program(
        conv("a", (1, 32, 32, 16), 16, kernel=3),
        dma("b", ("flash", 1024), ("sram", 4_100_000), 2304),
        conv("b", (1, 32, 32, 16), 16, kernel=3, weights=("sram", 4_100_000), ifm_offset=2_000_000, ofm_offset=0),
        cpu_op("r", (1, 8)),
        fully_connected("fc", 256, 10, "flash"),
    )
    cost = estimate(module, TARGET)
    assert [layer.layer for layer in cost.layers] == ["a", "b", "r", "fc"]
    assert sum(layer.cycles for layer in cost.layers) == cost.total_cycles
    assert sum(layer.macs for layer in cost.layers) == cost.macs
    assert cost.layers[1].operators == ("dma", "conv2d")


def test_cpu_work_is_priced_from_the_host_table_and_the_npu_waits_for_it():
    # The reshape's 8 output elements at the Cortex-M55's 0.25 cycles per element, at the NPU's clock.
    cost = estimate(program(conv("a", (1, 8, 8, 16), 16), cpu_op("r", (1, 8)), conv("b", (1, 8, 8, 16), 16)),
                    TARGET)
    first, cpu, second = cost.commands
    assert (cpu.engine, cpu.cycles, cpu.bound) == ("cpu", 2, "cpu")
    assert (cpu.start, cpu.end) == (first.end, first.end + 2)
    assert second.start == cpu.end
    assert (cost.npu_operators, cost.cpu_operators) == (2, 1)
    assert cost.layers[1].on_cpu and cost.layers[1].cpu_cycles == 2 == cost.layers[1].cycles
    assert (cost.cpu_cycles, cost.npu_cycles) == (2, cost.total_cycles - 2)
    assert cost.npu_cycles == first.cycles + second.cycles


def test_network_totals():
    module = program(
        'npu.constant {buffer = #npu.buf<flash, 0, 4>, value = dense<1> : tensor<4xi8>}',
        conv("a", (1, 8, 8, 16), 16),
    )
    cost = estimate(module, TARGET)
    assert cost.weight_bytes == 4
    assert cost.peak_memory == {"sram": 4_000_000 + 256, "flash": 16 * 12}
    assert cost.inference_time_s == pytest.approx(cost.total_cycles / 500e6)
    assert cost.inferences_per_second == pytest.approx(500e6 / cost.total_cycles)


def test_unlowered_module_is_rejected():
    module = Parser(npuc_context(), "func.func @main() {\n  func.return\n}").parse_module()
    with pytest.raises(ModelVerificationError, match="run npu-lower first"):
        estimate(module, TARGET)


def test_memory_missing_from_the_target_names_the_layer():
    module = program(dma("w", ("dram", 0), ("sram", 0), 64))
    with pytest.raises(TargetError, match="layer 'w': target 'ethos-u55-128' has no memory 'dram'"):
        estimate(module, TARGET)


def test_pooling_takes_four_cycles_per_kernel_tap_per_micro_block_for_int8():
    # 2x2 max pool, an 8x8x16 block: 8 x 4 x 2 micro-blocks of 1x2x8 (16 elements)
    # at 4 taps per cycle, 4 taps each; 16-bit data takes twice as long.
    window = Window((2, 2), (2, 2))
    shape = CommandShape(MAX_POOL, (1, 16, 16, 16), (1, 8, 8, 16), window)
    assert block_cycles(shape, (8, 8, 16), TARGET) == 64 * 4 * 16 / 4
    wide = CommandShape(MAX_POOL, (1, 16, 16, 16), (1, 8, 8, 16), window, ifm_bits=16)
    assert block_cycles(wide, (8, 8, 16), TARGET) == 2 * 64 * 4 * 16 / 4


def test_reduce_sum_walks_the_ifm_depth_like_a_depth_first_convolution():
    # Vela prices a reduce sum as a 1x1 depth-first convolution: one step per
    # 32 IFM channels, each at least the slice minimum; a pool would not see the depth.
    shape = CommandShape(REDUCE_SUM, (1, 1, 8, 64), (1, 1, 8, 1), UNIT_WINDOW, ifm_bits=32)
    deeper = CommandShape(REDUCE_SUM, (1, 1, 8, 128), (1, 1, 8, 1), UNIT_WINDOW, ifm_bits=32)
    assert block_cycles(shape, (1, 8, 8), TARGET) == 2 * 32
    assert block_cycles(deeper, (1, 8, 8), TARGET) == 4 * 32


def test_edge_blocks_count_by_the_part_they_fill():
    # 14 rows in blocks of 6: 6 + 6 + 2 rows, 14/6 blocks of work; depth 40 in
    # blocks of 16: 16 + 16 + 8, 40/16 blocks of work.
    geometry = split_blocks((1, 14, 14, 40), (6, 14, 16), TARGET.ofm_ublock)
    assert geometry.counts == (3, 1, 3)
    assert geometry.work_blocks == pytest.approx(14 / 6 * 40 / 16)


def test_a_lookup_table_is_read_once_per_command():
    # An int8 sub with a 256-entry table in flash (the softmax's exp step, int8 here).
    def sub(lut: str) -> str:
        return (
            f'npu.elementwise {{layer = "e", kind = "sub", ifm = {fm("sram", 0, (1, 4, 4, 16))}, '
            f'scalar = 3 : i32, ofm = {fm("sram", 4096, (1, 4, 4, 16))}, rescale = array<i64: 1, 0>, '
            f'rounding = "{ROUNDING}", {lut}act_min = -128 : i32, act_max = 127 : i32, block = {ints((4, 4, 16))}}}'
        )

    plain = estimate(program(sub("")), TARGET).commands[0]
    with_table = estimate(program(sub("lut = #npu.buf<flash, 0, 256>, ")), TARGET).commands[0]
    assert with_table.bytes_read["flash"] - plain.bytes_read.get("flash", 0) == 256


def test_compute_starts_when_the_first_weight_slice_has_arrived():
    # 64 OFM channels: the conv consumes its DMA'd weights in 4 slices of 16 channels
    # (the granule weights are encoded in), whatever its block depth.
    weight_bytes = 64 * 9 * 16
    module = program(
        dma("b", ("flash", 1024), ("sram", 4_100_000), weight_bytes),
        conv("b", (1, 16, 16, 16), 64, kernel=3, block=(16, 8, 8), weights=("sram", 4_100_000)),
    )
    copy, compute = estimate(module, TARGET).commands
    assert compute.start == copy.start + -(-copy.cycles // 4) < copy.end
    assert compute.end == max(compute.start + compute.cycles, copy.end + -(-compute.cycles // 4))


def test_small_elementwise_pays_its_share_of_the_memory_latency():
    # 12 elements in DRAM (500 + 250 cycles of latency) on ethos-u65-256: far
    # below one DRAM round trip; the elements' share of a 64-element block's.
    target = load_target("ethos-u65-256")
    command = estimate(program(add("a", "dram", (1, 1, 1, 12), (2, 2, 16)), target="ethos-u65-256"), target).commands[0]
    assert command.compute_cycles < 100


def test_model_input_with_shallow_depth_reads_a_burst_per_micro_block_deep_run():
    # A 1-channel model input (plain NHWC) is fetched 8 channels (the IFM
    # micro-block depth) per pixel: each 8-byte run costs a whole 32-byte SRAM
    # burst. A feature map only NPU commands touch is stored in bricks of 16
    # channels (Vela's NHCWB16): it reads 16 stored channels per pixel, in
    # whole bursts.
    command = conv("c", (1, 32, 32, 1), 16, kernel=3)
    interface = f'npu.input {{tensor = "x", fm = {fm("sram", 0, (1, 32, 32, 1))}}}'
    bricked = estimate(program(command), TARGET).commands[0]
    model_input = estimate(program(interface, command), TARGET).commands[0]
    weights = 8 * 144  # 144 bytes per block position (8)
    ifm_bytes = model_input.bytes_read["sram"] - weights
    assert bricked.bytes_read["sram"] - weights == 16 * ifm_bytes
    ofm_bytes = 32 * 32 * 16
    assert model_input.access_cycles["sram"] == -(-(ifm_bytes * 32 // 8 + weights + ofm_bytes) // 8)


CONV_FC = """
func.func @main(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>> {
  %w = quantized.constant dense<3> : tensor<8x1x1x4xi8> -> tensor<8x1x1x4x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<1> : tensor<8xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x1x1x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
  %r = quantized.reshape %c {layer = "flatten"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> -> tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>
  %fw = quantized.constant dense<2> : tensor<10x128xi8> -> tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>
  %fb = quantized.constant dense<0> : tensor<10xi32>
  %f = quantized.fully_connected %r, %fw, %fb {layer = "fc", activation = "none"} : (tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>, tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>, tensor<10xi32>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>
  func.return %f : tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>
}
"""


@pytest.mark.parametrize("target", ["ethos-u55-128", "generic-4tops"])
def test_layer_weights_count_original_and_stored_bytes_once_per_constant(target):
    module = Parser(npuc_context(), CONV_FC).parse_module()
    run_pipeline(module, backend_pipeline(target, weight_staging=FITS))
    cost = estimate(module, load_target(target))
    weighted = [op for op in module.ops if isinstance(op, (Conv2dOp, FullyConnectedOp))]
    stored = sum(op.weights.size.data for op in weighted)  # staged copies read by the commands
    assert cost.original_weight_bytes == 8 * 4 + 10 * 128
    assert cost.encoded_weight_bytes == stored
    assert (stored < cost.original_weight_bytes) == (target == "ethos-u55-128")  # splat weights compress


def test_layer_weights_follow_each_dma_when_a_staging_buffer_is_reused():
    depths = [16, 16, 16, 16]
    module = lower(conv_chain((8, 8, 8), depths, [3, 3, 3, 3]), "ethos-u55-128", FITS)
    destinations = [(op.dst.region.data, op.dst.offset.data) for op in module.ops if isinstance(op, DmaOp)]
    assert len(set(destinations)) < len(destinations)  # double-buffered weights: staging buffers are reused
    cost = estimate(module, TARGET)
    assert cost.original_weight_bytes == sum(depth * 3 * 3 * ifm for depth, ifm in zip(depths, [8, *depths]))


@pytest.mark.parametrize(("ifm_depth", "ifm_bits", "expected"), [(8, 16, True), (20, 8, True), (20, 16, False)])
def test_kernel_first_on_a_target_taking_one_kernel_element_per_step(ifm_depth, ifm_bits, expected):
    """generic-4tops takes one kernel element and 8 channels per step: 16-bit data takes one element too
    (not half of one), so 20 16-bit channels fill 5 of 6 kernel-first steps and all 5 depth-first ones."""
    assert kernel_first(ifm_depth, 9, ifm_bits, load_target("generic-4tops").throughput) == expected
