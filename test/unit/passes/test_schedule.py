"""npu-schedule: where the weight copies go (double buffering, undone when it does not fit) and which memory holds a view."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import pytest
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue
from xdsl.parser import Parser
from xdsl.utils.exceptions import PassFailedException

from npuc.backend import planning, staging_memory
from npuc.backend.allocation import allocate, arena_size
from npuc.backend.cascade_search import choose_cascades, mark_cascade
from npuc.backend.planning import buffer_bytes
from npuc.backend.stages import stage_weights
from npuc.backend.staging_memory import (
    hoist_stages,
    keep_in_staging,
    reads_weights_once,
    stage_weights_that_fit,
)
from npuc.backend.weight_staging import FITS
from npuc.context import npuc_context
from npuc.dialects.common import array_values
from npuc.dialects.npu import BLOCK_ATTR, MEMORY_ATTR, StageOp
from npuc.ir import main_function
from npuc.passes.npu.legalize import legalize
from npuc.passes.npu.schedule import assign_memories, schedule
from npuc.passes.npu.tile import tile
from npuc.targets import Target, load_target

from support.ethos_u_layers import INT8, conv_chain

TARGET = load_target("ethos-u55-128")


def tiled(text: str, target: Target) -> FuncOp:
    """`@main` of `text` after npu-legalize and npu-tile for `target`."""
    module: ModuleOp = Parser(npuc_context(), text).parse_module()
    module.verify()
    func = main_function(module)
    legalize(func, target)
    tile(func, target)
    return func


def op_order(func: FuncOp) -> list[str]:
    """The ops of `func`: a layer's name, `stage <layer>` for a weight copy, `<name>` for other ops."""
    names = []
    for op in func.body.ops:
        layer = op.attributes.get("layer")
        if isinstance(op, StageOp):
            names.append(f"stage {layer.data if isinstance(layer, StringAttr) else ''}")
        else:
            names.append(layer.data if isinstance(layer, StringAttr) else op.name)
    return names


def test_the_weight_copy_moves_before_the_first_op_of_the_function():
    # The add is the first op: the conv's scale/bias table and weights (and their
    # constants, defined after the add) are copied while it computes.
    x = INT8.act((1, 4, 4, 8), 0.05, -3)
    weights = "tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>"
    text = f"""
func.func @main(%a: {x}, %b: {x}) -> {x} {{
  %s = quantized.add %a, %b {{layer = "add", activation = "none"}} : ({x}, {x}) -> {x}
  %w = quantized.constant dense<1> : tensor<8x1x1x8xi8> -> {weights}
  %bias = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %s, %w, %bias {{layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({x}, {weights}, tensor<8xi32>) -> {x}
  func.return %c : {x}
}}"""
    func = tiled(text, TARGET)
    schedule(func, TARGET, weight_staging=FITS)
    assert op_order(func) == [
        "quantized.constant", "stage conv", "quantized.constant", "stage conv", "add", "conv", "func.return"
    ]


def staging_of(size: int) -> Target:
    """ethos-u65-256 (arena in DRAM, weights staged into SRAM) with raw weights and `size` bytes of SRAM."""
    base = replace(load_target("ethos-u65-256"), weight_encoding="raw")
    sram = replace(base.memory("sram"), size=size)
    return replace(base, memories=tuple(sram if m.name == "sram" else m for m in base.memories))


CHAIN = conv_chain((4, 4, 8), [16, 16], [1, 1])
"""Two 1x1 convolutions: raw weights of 16 x 8 = 128 and 16 x 16 = 256 bytes, each with a
192-byte scale/bias table (16 records of 10 bytes, aligned): copies of 320 and 448 bytes."""

BOTH_COPIES = 128 + 192 + 256 + 192
"""Staging bytes for both layers' copies at once."""

IN_PLACE = [
    "quantized.constant", "quantized.constant", "stage layer0", "stage layer0", "layer0",
    "quantized.constant", "quantized.constant", "stage layer1", "stage layer1", "layer1", "func.return",
]
"""CHAIN's ops with each copy right before its consumer."""


def test_the_weight_copy_overlaps_the_previous_op_when_both_copies_fit_together():
    func = tiled(CHAIN, staging_of(BOTH_COPIES))
    schedule(func, staging_of(BOTH_COPIES), weight_staging=FITS)
    assert op_order(func) == [
        "quantized.constant", "quantized.constant", "stage layer0", "stage layer0",
        "quantized.constant", "stage layer1", "quantized.constant", "stage layer1",
        "layer0", "layer1", "func.return",
    ]


def test_the_move_is_undone_when_the_two_copies_do_not_fit_together():
    # Each layer's copies fit alone, one layer after the other; hoisting layer1's
    # copies before layer0 would need both layers' at once: they and their
    # constants go back in place.
    target = staging_of(480)  # room for layer1's 448 bytes, not for both layers' 768
    func = tiled(CHAIN, target)
    schedule(func, target, weight_staging=FITS)
    assert op_order(func) == IN_PLACE
    stages = [op for op in func.body.ops if isinstance(op, StageOp)]
    assert [op.attributes[MEMORY_ATTR] for op in stages] == [StringAttr("sram")] * 4


def test_a_reshape_of_a_constant_stays_in_the_weights_memory():
    # A view lives in its input's buffer: the constant's, in flash.
    x = INT8.act((1, 1, 1, 8), 0.05, -3)
    flat = INT8.act((1, 8), 0.05, -3)
    text = f"""
func.func @main(%a: {x}) -> {x} {{
  %k = quantized.constant dense<3> : tensor<1x8xi8> -> {flat}
  %r = quantized.reshape %k {{layer = "reshape"}} : {flat} -> {x}
  %y = quantized.add %a, %r {{layer = "add", activation = "none"}} : ({x}, {x}) -> {x}
  func.return %y : {x}
}}"""
    func = tiled(text, TARGET)
    schedule(func, TARGET, weight_staging=FITS)
    memories = [op.attributes.get(MEMORY_ATTR) for op in func.body.ops]
    assert list(zip(op_order(func), memories)) == [
        ("quantized.constant", StringAttr("flash")), ("reshape", StringAttr("flash")), ("add", StringAttr("sram")),
        ("func.return", None),
    ]


def test_schedule_sizes_each_buffer_once_and_its_steps_alone_agree(monkeypatch):
    # Both layers' copies hoisted (fit checks after staging, after each move, for the
    # feature maps): the memo sizes each value once, and the steps run alone, without
    # a memo, give the same schedule and memories.
    target = staging_of(BOTH_COPIES + 512)
    sized: list[SSAValue] = []

    def counted(value: SSAValue, target: Target) -> int:
        sized.append(value)
        return buffer_bytes(value, target)

    monkeypatch.setattr(planning, "buffer_bytes", counted)
    func = tiled(CHAIN, target)
    schedule(func, target, weight_staging=FITS)
    assert sized and max(Counter(sized).values()) == 1
    monkeypatch.undo()

    alone = tiled(CHAIN, target)
    assign_memories(alone, target)
    stage_weights_that_fit(alone, target)
    hoist_stages(alone, target)
    keep_in_staging(alone, target)
    assert op_order(alone) == op_order(func) == [
        "quantized.constant", "quantized.constant", "stage layer0", "stage layer0",
        "quantized.constant", "stage layer1", "quantized.constant", "stage layer1",
        "layer0", "layer1", "func.return",
    ]
    assert [op.attributes.get(MEMORY_ATTR) for op in alone.body.ops] == [
        op.attributes.get(MEMORY_ATTR) for op in func.body.ops
    ]
    assert ops_by_layer(func)["layer0"].attributes[MEMORY_ATTR] == StringAttr("sram")


def ops_by_layer(func: FuncOp) -> dict[str, Operation]:
    return {op.attributes["layer"].data: op for op in func.body.ops if "layer" in op.attributes and not isinstance(op, StageOp)}


def fully_connected(batch: int) -> FuncOp:
    """@main: one fully connected layer of `batch` rows of 128 to 10, legalized and tiled (npu.block 1x4x16 from 3 rows)."""
    x, y, w = INT8.act((batch, 128), 0.05, -3), INT8.act((batch, 10), 0.1, 0), "tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>"
    return tiled(f"""
func.func @main(%x: {x}) -> {y} {{
  %w = quantized.constant dense<1> : tensor<10x128xi8> -> {w}
  %b = quantized.constant dense<0> : tensor<10xi32>
  %f = quantized.fully_connected %x, %w, %b {{layer = "fc", activation = "none"}} : ({x}, {w}, tensor<10xi32>) -> {y}
  func.return %f : {y}
}}""", TARGET)


def test_a_fully_connected_op_reads_its_weights_once_up_to_exactly_one_block_of_rows():
    four, eight = (ops_by_layer(fully_connected(batch))["fc"] for batch in (4, 8))
    assert array_values(four.attributes[BLOCK_ATTR]) == array_values(eight.attributes[BLOCK_ATTR]) == (1, 4, 16)
    assert reads_weights_once(four) and not reads_weights_once(eight)
    del four.attributes[BLOCK_ATTR]
    with pytest.raises(PassFailedException) as failure:
        reads_weights_once(four)
    assert str(failure.value) == "npu-schedule: fc (quantized.fully_connected) has no npu.block: run npu-tile first"


def test_weights_are_staged_when_the_bias_is_not_a_constant():
    # The bias arrives as an argument: only the weights have a constant to copy.
    text = conv_chain((4, 4, 8), [16], [1])
    bias_line = next(line for line in text.splitlines() if "%layer0_b = " in line)
    text = text.replace(bias_line + "\n", "").replace("@main(%x: ", "@main(%layer0_b: tensor<16xi32>, %x: ")
    target = replace(TARGET, weight_encoding="raw")
    func = tiled(text, target)
    schedule(func, target, weight_staging=FITS)
    assert op_order(func) == ["quantized.constant", "stage layer0", "layer0", "func.return"]


def test_under_size_a_cascades_weights_are_staged_only_within_the_arena_it_needs():
    # Two 3x3 convolutions through a 4x deeper intermediate: Size cascades them (the intermediate in a
    # rolling buffer), and staging their weights would grow the arena past what the cascade needs, so
    # only a larger capacity stages them.
    func = tiled(conv_chain((16, 16, 8), [32, 8], [3, 3]), TARGET)
    schedule(func, TARGET, "size")
    assert "npu.cascade" in next(op for op in func.body.ops if op.attributes.get("layer") == StringAttr("layer0")).attributes
    assert not any(isinstance(op, StageOp) for op in func.body.ops)
    stage_weights_that_fit(func, TARGET, cascades_only=True, capacity=1 << 20)
    assert [name for name in op_order(func) if name.startswith("stage")] == ["stage layer0"] * 2 + ["stage layer1"] * 2


def test_a_cascades_weights_are_staged_before_the_others(monkeypatch):
    # The copies are tried in this order, one by one when not all fit: the cascade's first.
    func = tiled(conv_chain((16, 16, 8), [8, 32, 8], [3, 3, 3]), TARGET)
    assign_memories(func, TARGET)
    layers = [op for op in func.body.ops if "layer" in op.attributes]
    mark_cascade(layers[1:], 2, 0, TARGET)
    tried = []

    def recorded(op, memory, *plan_and_sizes):
        tried.append(op.attributes["layer"].data)
        return stage_weights(op, memory, *plan_and_sizes)

    monkeypatch.setattr(staging_memory, "stage_weights", recorded)
    stage_weights_that_fit(func, TARGET)
    assert tried[:3] == ["layer1", "layer2", "layer0"]


@pytest.mark.parametrize("last_kernel", [1, 7])
def test_under_size_only_a_cascades_weights_are_staged_and_the_arena_does_not_grow(last_kernel):
    # layer0 -> layer1 cascade (layer1's result is also returned, so layer2 stays alone). With a 1x1
    # layer2 its weights would fit beside the cascade's peak, but Size stages only a cascade's; with a
    # 7x7 one the flash holding the weights outgrows the SRAM arena, and Size stages only within the
    # SRAM arena the schedule needs.
    text = conv_chain((16, 16, 8), [32, 8, 8], [3, 3, last_kernel])
    second = re.search(r"%layer1 = quantized.conv2d .* -> (tensor<.*>>)\n", text).group(1)
    result = re.search(r"-> (tensor<.*>>) \{", text).group(1)
    text = text.replace(f"-> {result} {{", f"-> ({result}, {second}) {{", 1)
    text = text.replace(f"func.return %layer2 : {result}", f"func.return %layer2, %layer1 : {result}, {second}")
    cascaded = tiled(text, TARGET)
    assign_memories(cascaded, TARGET)
    choose_cascades(cascaded, TARGET, "size")
    func = tiled(text, TARGET)
    schedule(func, TARGET, "size")
    assert "npu.cascade" not in next(op for op in func.body.ops if op.attributes.get("layer") == StringAttr("layer2")).attributes
    assert "stage layer2" not in op_order(func)
    assert sram_arena(func) == sram_arena(cascaded)


def sram_arena(func: FuncOp) -> int:
    """The bytes npu-allocate's placement of the SRAM buffers spans."""
    ranges = [b.live_range() for b in planning.buffers(func, TARGET)[0] if b.memory == "sram"]
    return arena_size(ranges, allocate(ranges, TARGET.alignment))
