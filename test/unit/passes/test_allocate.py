"""npu-allocate: the independent checker re-checks the allocator's placement."""

from __future__ import annotations

import pytest
from xdsl.parser import Parser
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.allocation import LiveRange
from npuc.context import npuc_context
from npuc.ir import main_function
from npuc.passes.npu import allocate as allocate_pass
from npuc.passes.npu.allocate import allocate_module
from npuc.targets import load_target

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
