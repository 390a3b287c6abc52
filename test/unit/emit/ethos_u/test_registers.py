"""Ethos-U register commands: npuc's tables and word encoding agree with Vela's register description.

The oracle is Vela's own Python (`ethosu.vela.ethos_u55_regs` and the legacy
core's `CommandStreamEmitter`, which writes the words Vela ships), not npuc's
tables read back.
"""

from __future__ import annotations

import struct

import pytest
from ethosu.vela.api import NpuBlockTraversal, NpuKernel
from ethosu.vela.ethos_u55_regs import ethos_u55_regs as vela_regs
from ethosu.vela.register_command_stream_generator import (
    CommandStreamEmitter,
    generate_kernel,
)
from hypothesis import given
from hypothesis import strategies as st

from npuc.emit.ethos_u.registers import (
    Cmd0,
    Cmd1,
    Command,
    WeightOrder,
    address_words,
    cmd0_word,
    cmd1_words,
    decode_command,
    decode_commands,
    kernel_stride,
    kernel_strides,
    mnemonic,
    pack_param,
)
from npuc.errors import CommandStreamError


def test_every_opcode_has_vela_s_number_and_name():
    assert {mnemonic(op): op.value for op in Cmd0} == {op.name: op.value for op in vela_regs.cmd0}
    assert {mnemonic(op): op.value for op in Cmd1} == {op.name: op.value for op in vela_regs.cmd1}


@given(st.sampled_from(list(vela_regs.cmd0)), st.integers(-0x8000, 0xFFFF))
def test_cmd0_words_equal_vela_s_and_decode_back(opcode, param):
    emitter = CommandStreamEmitter()
    emitter.cmd0_with_param(opcode, param)
    (word,) = emitter.to_list()
    assert cmd0_word(Cmd0[opcode.name.removeprefix("NPU_")], param) == word
    command = decode_command([word], 0)
    assert (mnemonic(command.opcode), command.param, command.data) == (opcode.name, param & 0xFFFF, None)


@given(st.sampled_from(list(vela_regs.cmd1)), st.integers(0, 0xFFFF_FFFF), st.integers(0, 0x3F))
def test_cmd1_words_equal_vela_s_and_decode_back(opcode, data, shift):
    emitter = CommandStreamEmitter()
    emitter.cmd1_with_offset(opcode, data, shift)
    words = emitter.to_list()
    assert cmd1_words(Cmd1[opcode.name.removeprefix("NPU_")], data, shift) == tuple(words)
    command = decode_command(words, 0)
    assert (mnemonic(command.opcode), command.param, command.data, command.size) == (opcode.name, shift, data, 8)


@given(st.integers(0, (1 << 40) - 1))
def test_a_40_bit_address_round_trips_through_vela_s_words(address):
    emitter = CommandStreamEmitter()
    emitter.cmd1_with_address(vela_regs.cmd1.NPU_SET_IFM2_BASE3, address)
    words = emitter.to_list()
    assert address_words(Cmd1.SET_IFM2_BASE3, address) == tuple(words)
    assert decode_command(words, 0).value == address


def test_signed_registers_read_back_negative():
    emitter = CommandStreamEmitter()
    emitter.cmd0_with_param(vela_regs.cmd0.NPU_SET_OFM_ZERO_POINT, -128)
    emitter.cmd0_with_param(vela_regs.cmd0.NPU_SET_ACTIVATION_MIN, -32768)
    emitter.cmd0_with_param(vela_regs.cmd0.NPU_SET_IFM_DEPTH_M1, 65535)
    zero_point, clip_min, depth = decode_commands([*emitter.to_list(), cmd0_word(Cmd0.OP_STOP, 0xFFFF)])[:3]
    assert zero_point.value == -128 and zero_point.fields() == {"zero_point": -128}
    assert clip_min.fields() == {"activation_min": -32768}
    assert depth.value == 65535


@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 2), st.integers(1, 2), st.booleans())
def test_kernel_stride_is_vela_s_register(stride_x, stride_y, dilation_x, dilation_y, part_kernel):
    emitter = CommandStreamEmitter()
    traversal = NpuBlockTraversal.PART_KERNEL_FIRST if part_kernel else NpuBlockTraversal.DEPTH_FIRST
    generate_kernel(emitter, NpuKernel(3, 3, stride_x, stride_y, dilation_x, dilation_y), traversal)
    vela_param = emitter.to_list()[-1] >> 16
    order = WeightOrder.PART_KERNEL_FIRST if part_kernel else WeightOrder.DEPTH_FIRST
    assert kernel_stride(stride_x, stride_y, dilation_x, dilation_y, order) == vela_param
    assert kernel_strides(vela_param) == (stride_x, stride_y, dilation_x, dilation_y)
    assert decode_command([cmd0_word(Cmd0.SET_KERNEL_STRIDE, vela_param)], 0).fields()["weight_order"] == order


@given(st.integers(0, 0xFFFF))
def test_precision_fields_sit_where_vela_s_structures_put_them(param):
    ofm = vela_regs.npu_set_ofm_precision_t.from_buffer_copy(struct.pack("<I", param << 16))
    fields = Command(0, Cmd0.SET_OFM_PRECISION, param).fields()
    assert fields["activation_type"] | fields["activation_precision"] << 1 == ofm.precision
    assert (fields["activation_format"], fields["scale_mode"], fields["round_mode"]) == (
        ofm.format, ofm.scaling, ofm.rounding
    )
    ifm = vela_regs.npu_set_ifm_precision_t.from_buffer_copy(struct.pack("<I", param << 16))
    fields = Command(0, Cmd0.SET_IFM_PRECISION, param).fields()
    assert fields["activation_type"] | fields["activation_precision"] << 2 == ifm.precision & 0xD
    assert (fields["activation_format"], fields["scale_mode"], fields["round_mode"]) == (
        ifm.format, ifm.scale_mode, ifm.round_mode
    )
    broadcast = vela_regs.npu_set_ifm2_broadcast_t.from_buffer_copy(struct.pack("<I", param << 16))
    fields = Command(0, Cmd0.SET_IFM2_BROADCAST, param).fields()
    assert [fields[name] for name in ("broadcast_h", "broadcast_w", "broadcast_c", "operand_order",
                                      "broadcast_constant")] == [
        broadcast.broadcast_height, broadcast.broadcast_width, broadcast.broadcast_depth,
        broadcast.operand_order, broadcast.broadcast_scalar,
    ]


def test_pack_param_sets_named_fields_and_rejects_what_does_not_fit():
    assert pack_param(Cmd0.SET_ACTIVATION, activation_function=16, activation_clip_range=3) == 0x3010
    with pytest.raises(ValueError, match="no field 'clip'"):
        pack_param(Cmd0.SET_ACTIVATION, clip=1)
    with pytest.raises(ValueError, match="does not fit"):
        pack_param(Cmd0.SET_IFM2_BROADCAST, operand_order=2)
    with pytest.raises(ValueError, match="does not fit"):
        cmd0_word(Cmd0.SET_IFM_ZERO_POINT, 0x10000)


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([0x0000_0007], "offset 0x0: unknown cmd0 opcode 0x007"),
        ([0x0001_010F, 0x0000_4077, 0], "offset 0x4: unknown cmd1 opcode 0x077"),
        ([0x0000_4000], "offset 0x0: NPU_SET_IFM_BASE0 is cut off"),
        ([0x0000_8000], "payload size 2"),
        ([0x0000_0402], "reserved bits"),
        ([0x0001_010F], "ends without NPU_OP_STOP"),
    ],
)
def test_malformed_words_name_the_offset_and_the_problem(words, message):
    with pytest.raises(CommandStreamError, match=message):
        decode_commands(words)


def test_decoding_stops_at_op_stop():
    words = [*cmd1_words(Cmd1.SET_IFM_BASE0, 0x40), cmd0_word(Cmd0.OP_STOP, 0xFFFF), 0xDEAD_BEEF]
    commands = decode_commands(words)
    assert [(command.opcode, command.offset) for command in commands] == [(Cmd1.SET_IFM_BASE0, 0), (Cmd0.OP_STOP, 8)]


def test_errors_start_with_the_source():
    with pytest.raises(CommandStreamError, match=r"^model.tflite: command at offset 0x4: unknown cmd0"):
        decode_commands([0x0001_010F, 0x0000_0007], "model.tflite")
