"""npu-lower: the commands, buffers and tables it emits for an annotated module."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.parser import Parser
from xdsl.utils.exceptions import PassFailedException

from npuc.context import npuc_context
from npuc.dialects import npu, quantized
from npuc.passes.npu.lower import LowerPass
from npuc.reference import int_handlers as interpreter

ANNOTATED_MODULE = """
builtin.module attributes {npu.memory_usage = {flash = 1792 : i64, sram = 1664 : i64}} {
  func.func @main(%x: tensor<1x8x8x4xf32> {graph.name = "image", graph.layout = "NCHW"}, %side: tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>> {graph.name = "side", npu.memory = "sram", npu.offset = 1536 : i64}) -> (tensor<1x10xf32> {graph.name = "logits"}, tensor<10x!quantized.uniform<i8:f32, 0.25:0>> {graph.name = "flat"}, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> {graph.name = "transposed"}) {
    %q = quantized.quantize %x {npu.placement = "host", npu.memory = "sram", npu.offset = 0 : i64} : tensor<1x8x8x4xf32> -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<8x3x3x4xi8> -> tensor<8x3x3x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 288 : i64} dense<[1, -2, 3, -4, 5, -6, 7, -8]> : tensor<8xi32>
    %ws = npu.stage %w to "sram" {npu.memory = "sram", npu.offset = 256 : i64} : tensor<8x3x3x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>
    %c = quantized.conv2d %q, %ws, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 8, 8, 8>, npu.memory = "sram", npu.offset = 1024 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x3x3x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %m = quantized.max_pool2d %c {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 0 : i64} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %t = quantized.transpose %m {layer = "transpose1", perm = array<i64: 0, 2, 1, 3>, npu.placement = "cpu", npu.cpu_reason = "transpose is not an NPU operator", npu.memory = "sram", npu.offset = 1280 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %r = quantized.reshape %m {layer = "flatten", npu.placement = "npu", npu.memory = "sram", npu.offset = 0 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> -> tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>
    %fw = quantized.constant {npu.memory = "flash", npu.offset = 400 : i64} dense<2> : tensor<10x128xi8> -> tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>
    %fb = quantized.constant {npu.memory = "flash", npu.offset = 1680 : i64} dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]> : tensor<10xi32>
    %f = quantized.fully_connected %r, %fw, %fb {layer = "fc1", activation = "none", npu.placement = "npu", npu.block = array<i64: 1, 1, 16>, npu.stripe = array<i64: 1, 1, 16>, npu.memory = "sram", npu.offset = 128 : i64} : (tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>, tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>, tensor<10xi32>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>
    %a = quantized.add %f, %side {layer = "add1", activation = "relu6", npu.placement = "npu", npu.block = array<i64: 1, 1, 16>, npu.stripe = array<i64: 1, 1, 16>, npu.memory = "sram", npu.offset = 1552 : i64} : (tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>, tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.25:0>>
    %y = quantized.dequantize %a {npu.placement = "host"} : tensor<1x10x!quantized.uniform<i8:f32, 0.25:0>> -> tensor<1x10xf32>
    %flat = quantized.reshape %a {layer = "flat", npu.placement = "npu"} : tensor<1x10x!quantized.uniform<i8:f32, 0.25:0>> -> tensor<10x!quantized.uniform<i8:f32, 0.25:0>>
    func.return %y, %flat, %t : tensor<1x10xf32>, tensor<10x!quantized.uniform<i8:f32, 0.25:0>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}
"""
"""Conv + relu with staged weights, max pool, CPU transpose, reshapes, fc, add,
as npu-legalize/tile/schedule/allocate leave it."""


def parse(text: str) -> ModuleOp:
    """A verified module from IR text."""
    module = Parser(npuc_context(), text).parse_module()
    module.verify()
    return module


def lowered(text: str = ANNOTATED_MODULE) -> ModuleOp:
    """The module after npu-lower, verified."""
    module = parse(text)
    LowerPass().apply(npuc_context(), module)
    module.verify()
    return module


def quantized_layer(module: ModuleOp, layer: str):
    """The op of @main carrying `layer`."""
    return next(op for op in module.walk() if op.attributes.get("layer") == StringAttr(layer))


def constant_at(module: ModuleOp, offset: int) -> npu.ConstantOp:
    return next(
        op for op in module.ops if isinstance(op, npu.ConstantOp) and op.buffer.offset.data == offset
    )


def test_commands_in_program_order_keep_their_layer():
    commands = [op for op in lowered().ops if not isinstance(op, (npu.ConstantOp, npu.InterfaceOp))]
    assert [(op.name, op.attributes["layer"].data) for op in commands] == [
        ("npu.dma", "conv1"),
        ("npu.conv2d", "conv1"),
        ("npu.pool", "pool1"),
        ("npu.cpu_op", "transpose1"),
        ("npu.fully_connected", "fc1"),
        ("npu.elementwise", "add1"),
    ]


@pytest.mark.parametrize(("layer", "bias_offset"), [("conv1", 288), ("fc1", 1680)])
def test_scale_bias_table_holds_bias_and_rescale_parameters(layer, bias_offset):
    source = quantized_layer(parse(ANNOTATED_MODULE), layer)
    multiplier, shift = interpreter.rescale_parameters(source)
    bias = np.frombuffer(source.operands[2].owner.value.data.data, dtype="<i4")
    table = constant_at(lowered(), bias_offset)
    raw = table.value.data.data
    assert len(raw) == len(bias) * npu.SCALE_BIAS_ENTRY_BYTES == table.buffer.size.data
    entries = np.frombuffer(raw, dtype="<i4").reshape(-1, 3)
    np.testing.assert_array_equal(entries[:, 0], bias)
    np.testing.assert_array_equal(entries[:, 1], multiplier)
    np.testing.assert_array_equal(entries[:, 2], shift)


def test_weights_are_the_raw_int8_constant():
    weights = constant_at(lowered(), 400)
    assert weights.value.type.get_shape() == (10, 128)
    assert weights.buffer == npu.BufferAttr("flash", 400, 1280)
    assert set(np.frombuffer(weights.value.data.data, dtype=np.int8)) == {2}


def test_activation_bounds_come_from_the_reference():
    module = lowered()
    for layer in ("conv1", "add1"):
        source = quantized_layer(parse(ANNOTATED_MODULE), layer)
        command = quantized_layer(module, layer)
        if isinstance(command, npu.DmaOp):
            command = command.next_op
        bounds = (command.act_min.value.data, command.act_max.value.data)
        assert bounds == tuple(int(v) for v in interpreter.activation_bounds(source))


def test_staged_weights_are_read_from_the_dma_destination():
    ops = list(lowered().ops)
    dma = next(op for op in ops if isinstance(op, npu.DmaOp))
    conv = next(op for op in ops if isinstance(op, npu.Conv2dOp))
    assert dma.src == npu.BufferAttr("flash", 0, 288)
    assert conv.weights == dma.dst == npu.BufferAttr("sram", 256, 288)


def test_interface_and_reshaped_output_share_buffers():
    ops = list(lowered().ops)
    inputs = [op for op in ops if isinstance(op, npu.InputOp)]
    outputs = {op.tensor.data: op for op in ops if isinstance(op, npu.OutputOp)}
    assert inputs[0].host_conversion.data == "quantize" and inputs[0].layout.data == "NCHW"
    assert inputs[1].host_conversion is None
    assert outputs["logits"].host_conversion.data == "dequantize"
    assert outputs["flat"].fm.shape_values() == (10,)
    assert outputs["flat"].fm.offset == outputs["logits"].fm.offset


def test_cpu_op_body_is_the_layer_without_annotations():
    cpu = next(op for op in lowered().ops if isinstance(op, npu.CpuOp))
    transpose = cpu.body.block.first_op
    assert isinstance(transpose, quantized.TransposeOp)
    assert transpose.operands[0] is cpu.body.block.args[0]
    assert not [key for key in transpose.attributes if key.startswith("npu.")]
    assert cpu.reason.data == "transpose is not an NPU operator"


def test_missing_tile_annotation_names_layer_and_pass():
    text = ANNOTATED_MODULE.replace("npu.block = array<i64: 4, 4, 8>, ", "")
    with pytest.raises(PassFailedException, match="pool1 .* has no npu.block: run npu-tile first"):
        lowered(text)
