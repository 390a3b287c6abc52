"""npu-lower: the commands, buffers and tables it emits for an annotated module."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ethosu.vela.api import (
    NpuAccelerator,
    NpuBlockTraversal,
    npu_encode_bias,
    npu_encode_weights,
)
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.utils.exceptions import PassFailedException

from npuc.context import npuc_context
from npuc.dialects import npu, quantized
from npuc.passes.npu.lower import LowerPass
from npuc.reference import int_handlers as interpreter
from npuc.targets import load_target

from support.npu_text import ANNOTATED_MODULE, lowered, parse

RAW = replace(load_target("ethos-u55-128"), weight_encoding="raw")
"""ethos-u55-128 with raw weights and scale/bias tables (the form of targets that do not encode them)."""


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
    table = constant_at(lowered(target=RAW), bias_offset)
    raw = table.value.data.data
    assert len(raw) == len(bias) * npu.SCALE_BIAS_ENTRY_BYTES == table.buffer.size.data
    entries = np.frombuffer(raw, dtype="<i4").reshape(-1, 3)
    np.testing.assert_array_equal(entries[:, 0], bias)
    np.testing.assert_array_equal(entries[:, 1], multiplier)
    np.testing.assert_array_equal(entries[:, 2], shift)


def test_weights_are_the_raw_int8_constant():
    weights = constant_at(lowered(target=RAW), 400)
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
    ops = list(lowered(target=RAW).ops)
    dma = next(op for op in ops if isinstance(op, npu.DmaOp))
    conv = next(op for op in ops if isinstance(op, npu.Conv2dOp))
    assert dma.src == npu.BufferAttr("flash", 0, 288)
    assert conv.weights == dma.dst == npu.BufferAttr("sram", 256, 288)


def vela_records(bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> bytes:
    """Vela's 10-byte scale records (TFLite's left-shift exponent as Vela's right shift), padded to 16 bytes."""
    records = b"".join(
        bytes(npu_encode_bias(np.int64(b), int(m), 31 - int(e)))
        for b, m, e in zip(bias, multiplier, shift)
    )
    return records + bytes(-len(records) % 16)


def test_encoded_conv_constants_are_velas_streams_and_the_dma_copies_them():
    source = quantized_layer(parse(ANNOTATED_MODULE), "conv1")
    ops = list(lowered().ops)
    dma = next(op for op in ops if isinstance(op, npu.DmaOp))
    conv = next(op for op in ops if isinstance(op, npu.Conv2dOp))
    volume = np.ones((8, 3, 3, 4), np.int16)  # dense<1>, zero points 0; 4 IFM channels: part-kernel first
    weights = bytes(npu_encode_weights(
        NpuAccelerator.Ethos_U55_128, volume, (1, 1), 8, 8, False, NpuBlockTraversal.PART_KERNEL_FIRST
    ))  # fmt: skip
    bias = np.array([1, -2, 3, -4, 5, -6, 7, -8])
    records = vela_records(bias, *interpreter.rescale_parameters(source))
    assert constant_at(lowered(), 0).value.data.data == weights
    assert constant_at(lowered(), 288).value.data.data == records
    assert dma.src == npu.BufferAttr("flash", 0, len(weights))
    assert conv.weights == dma.dst == npu.BufferAttr("sram", 256, len(weights))
    assert conv.scale_bias == npu.BufferAttr("flash", 288, len(records))
    assert conv.encoding == npu.EncodedWeightsAttr("part_kernel_first", [len(weights)], [len(records)], wide=False)


def test_encoded_fully_connected_runs_depth_first_in_its_block_depth():
    fc = next(op for op in lowered().ops if isinstance(op, npu.FullyConnectedOp))
    weights = bytes(npu_encode_weights(
        NpuAccelerator.Ethos_U55_128, np.full((10, 1, 1, 128), 2, np.int16), (1, 1), 8, 16, False,
        NpuBlockTraversal.DEPTH_FIRST,
    ))  # fmt: skip
    assert constant_at(lowered(), 400).value.data.data == weights
    assert fc.encoding == npu.EncodedWeightsAttr("depth_first", [len(weights)], [112], wide=False)


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


def softmax_module(depth: int, memory_usage: str = "") -> str:
    """@main around an NPU int8 softmax over rows of `depth`, annotated as the planning passes leave it."""
    ifm, ofm = (f"tensor<1x{depth}x!quantized.uniform<i8:f32, {scale}>>" for scale in ("0.1:0", "0.00390625:-128"))
    attributes = f" attributes {{npu.memory_usage = {memory_usage}}}" if memory_usage else ""
    return f"""
builtin.module{attributes} {{
  func.func @main(%x: {ifm} {{npu.memory = "sram", npu.offset = 0 : i64}}) -> {ofm} {{
    %p = quantized.softmax %x {{layer = "probs", axis = 1 : i64, beta = 1.0 : f32, npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.memory = "sram", npu.offset = 4096 : i64, npu.scratch_memory = "sram", npu.scratch_offset = 8192 : i64}} : {ifm} -> {ofm}
    func.return %p : {ofm}
  }}
}}"""


def test_softmax_of_the_longest_rows_puts_its_lut_first_in_empty_weights():
    # 4095 is the longest row whose exps the NPU sums without overflow. Without constants or an
    # npu.memory_usage to start after, the exp lut is the weights memory's first buffer.
    module = lowered(softmax_module(4095))
    tables = [op.buffer for op in module.ops if isinstance(op, npu.ConstantOp)]
    assert tables[0] == npu.BufferAttr("flash", 0, 1024)
    assert npu.MEMORY_USAGE_ATTR not in module.attributes
    assert len([op for op in module.ops if op.attributes.get("layer") == StringAttr("probs")]) == 28


def test_softmax_lut_goes_after_the_weights_in_use():
    module = lowered(softmax_module(10, "{flash = 100 : i64, sram = 9000 : i64}"))
    tables = [op.buffer for op in module.ops if isinstance(op, npu.ConstantOp)]
    # The lut after the 100 bytes in use (aligned to 16), then three scalars too wide for the register.
    assert tables == [npu.BufferAttr("flash", offset, size) for offset, size in ((112, 1024), (1136, 4), (1152, 4), (1168, 4))]
    usage = {key: value.value.data for key, value in module.attributes[npu.MEMORY_USAGE_ATTR].data.items()}
    assert usage == {"flash": 1172, "sram": 9000}


def test_softmax_scratch_must_meet_the_target_alignment():
    target = replace(load_target("ethos-u55-128"), alignment=32)
    with pytest.raises(PassFailedException) as error:
        lowered(softmax_module(10), target=target)
    assert str(error.value) == "npu-lower: probs (quantized.softmax): scratch slots are 16-byte aligned, ethos-u55-128 needs 32"


def test_unknown_target_fails_naming_the_pass():
    with pytest.raises(PassFailedException, match=r"^npu-lower: unknown target 'ethos-u99' \(built-in targets: "):
        LowerPass(target="ethos-u99").apply(npuc_context(), parse(ANNOTATED_MODULE))


def test_bias_shared_by_layers_of_different_rescales_is_refused():
    # Two fully connected layers read one bias but rescale to different OFM scales:
    # one scale/bias table cannot serve both.
    weights = "tensor<4x4x!quantized.uniform<i8:f32, 0.01:0>>"
    ifm = "tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>"
    layers = "\n".join(
        f'    %{name} = quantized.fully_connected %x, %w, %b {{layer = "{name}", activation = "none", '
        f'npu.placement = "npu", npu.block = array<i64: 1, 1, 16>, npu.memory = "sram", npu.offset = {offset} : i64}} '
        f": ({ifm}, {weights}, tensor<4xi32>) -> tensor<1x4x!quantized.uniform<i8:f32, {scale}:0>>"
        for name, offset, scale in (("fc1", 16, "0.25"), ("fc2", 32, "0.125"))
    )
    text = f"""
builtin.module {{
  func.func @main(%x: {ifm} {{npu.memory = "sram", npu.offset = 0 : i64}}) -> tensor<1x4x!quantized.uniform<i8:f32, 0.25:0>> {{
    %w = quantized.constant {{npu.memory = "flash", npu.offset = 0 : i64}} dense<1> : tensor<4x4xi8> -> {weights}
    %b = quantized.constant {{npu.memory = "flash", npu.offset = 16 : i64}} dense<0> : tensor<4xi32>
{layers}
    func.return %fc1 : tensor<1x4x!quantized.uniform<i8:f32, 0.25:0>>
  }}
}}"""
    with pytest.raises(PassFailedException) as error:
        lowered(text, target=RAW)
    assert str(error.value) == (
        "npu-lower: a bias constant feeds layers with different rescales (fc1, fc2); give each layer its own bias constant"
    )
