"""npu-tile: the block search is only asked about compute commands; stripes are the whole OFM unless asked."""

from __future__ import annotations

import pytest
from xdsl.dialects.builtin import StringAttr
from xdsl.parser import Parser

from npuc.backend.planning import layer_command_shape as command_shape
from npuc.context import npuc_context
from npuc.dialects.common import array_values
from npuc.dialects.quantized import ReshapeOp
from npuc.ir import main_function
from npuc.passes.npu import tile as tile_pass
from npuc.passes.npu.legalize import legalize
from npuc.passes.npu.tile import tile
from npuc.targets import load_target

from support.ethos_u_layers import INT8, conv_chain

TARGET = load_target("ethos-u55-128")


def test_a_memory_only_op_has_no_command_shape_and_gets_no_block():
    x, flat = INT8.act((1, 2, 2, 8), 0.05, -3), INT8.act((1, 32), 0.05, -3)
    text = f"""
func.func @main(%x: {x}) -> {flat} {{
  %r = quantized.reshape %x {{layer = "flatten"}} : {x} -> {flat}
  func.return %r : {flat}
}}"""
    func = main_function(Parser(npuc_context(), text).parse_module())
    legalize(func, TARGET)
    tile(func, TARGET)
    reshape = next(op for op in func.body.ops if isinstance(op, ReshapeOp))
    assert reshape.attributes["npu.placement"] == StringAttr("npu")
    assert "npu.block" not in reshape.attributes
    with pytest.raises(AssertionError, match=r"^flatten \(quantized.reshape\) lowers to no compute command$"):
        command_shape(reshape)


def test_stripes_are_the_whole_ofm_unless_asked_and_never_higher_than_it():
    func = main_function(Parser(npuc_context(), conv_chain((6, 4, 8), [8], [3])).parse_module())
    legalize(func, TARGET)
    tile(func, TARGET)
    conv = next(op for op in func.body.ops if op.attributes.get("layer") == StringAttr("layer0"))
    assert array_values(conv.attributes["npu.stripe"]) == (6, 4, 8)
    for asked, height in ((4, 4), (6, 6), (9, 6)):
        tile(func, TARGET, max_stripe_height=asked)
        assert array_values(conv.attributes["npu.stripe"]) == (height, 4, 8)


def test_ops_of_one_shape_share_one_block_search(monkeypatch):
    # Three convolutions, the last two of one command shape (8 -> 8 channels, 3x3, 6x4): two searches.
    search, searched = tile_pass.search_block, []

    def counting(shape, target):
        searched.append(shape)
        return search(shape, target)

    monkeypatch.setattr(tile_pass, "search_block", counting)
    func = main_function(Parser(npuc_context(), conv_chain((6, 4, 4), [8, 8, 8], [3, 3, 3])).parse_module())
    legalize(func, TARGET)
    tile(func, TARGET)
    assert len(searched) == 2 and len(set(searched)) == 2
    blocks = {op.attributes["layer"].data: array_values(op.attributes["npu.block"]) for op in func.body.ops
              if "npu.block" in op.attributes}
    assert blocks["layer1"] == blocks["layer2"] == search(searched[1], TARGET)
