"""npu-allocate: the independent checker re-checks the allocator's placement."""

from __future__ import annotations

from dataclasses import replace

import pytest
from xdsl.parser import Parser
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.allocation import LiveRange
from npuc.backend.budget import SIZE
from npuc.context import npuc_context
from npuc.ir import main_function
from npuc.passes.npu import allocate as allocate_pass
from npuc.passes.npu.allocate import allocate_module
from npuc.passes.npu.legalize import legalize
from npuc.passes.npu.schedule import schedule
from npuc.passes.npu.tile import tile
from npuc.targets import load_target

from support.ethos_u_layers import conv_chain

TARGET = load_target("ethos-u55-128")
X = "tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>>"
ARGUMENT_IN_SRAM = f"""
func.func @main(%x: {X} {{npu.memory = "sram"}}) -> {X} {{
  func.return %x : {X}
}}"""


def test_a_placement_past_the_capacity_is_caught_by_the_checker(monkeypatch):
    # An allocator bug: every buffer placed right after the end of the memory.
    def past_the_end(ranges: list[LiveRange], alignment: int, capacity: int, memory: str) -> dict[str, int]:
        return {r.name: capacity for r in ranges}

    monkeypatch.setattr(allocate_pass, "allocate", past_the_end)
    func = main_function(Parser(npuc_context(), ARGUMENT_IN_SRAM).parse_module())
    capacity = TARGET.memory("sram").size
    with pytest.raises(PassFailedException) as failure:
        allocate_module(func, TARGET)
    assert str(failure.value) == (
        f"npu-allocate: buffer 'arg0' at [{capacity}, {capacity + 64}) in memory 'sram' exceeds "
        f"the capacity of {capacity} bytes (largest buffer: arg0, 64 bytes)"
    )


def test_an_overflow_of_a_memory_the_budget_does_not_cap_is_reported_as_such():
    # flash (weights, not the budget's memory) is placed first and overflows; the arena
    # budget is exceeded too, but the first failure is flash's own.
    flash = replace(TARGET.memory("flash"), size=32)
    memories = (flash, *(m for m in TARGET.memories if m.name != "flash"))
    target = replace(TARGET, memories=memories, arena_cache_size=64)
    func = main_function(Parser(npuc_context(), conv_chain((4, 4, 8), [16], [1])).parse_module())
    legalize(func, target)
    tile(func, target)
    schedule(func, target, SIZE)
    with pytest.raises(PassFailedException) as failure:
        allocate_module(func, target)
    assert str(failure.value) == (
        "npu-allocate: memory 'flash': buffers need 352 bytes but its capacity is 32 bytes "
        "(largest buffer: quantized.constant@0, 192 bytes)"
    )
