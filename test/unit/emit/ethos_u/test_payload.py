"""COP1 driver payloads: npuc writes Vela's bytes, reads them back, and rejects what the driver rejects."""

from __future__ import annotations

import struct

import pytest
from ethosu.vela.api import NpuAccelerator, npu_create_driver_payload

from npuc.emit.ethos_u.payload import (
    DriverAction,
    NpuConfig,
    action_word,
    build_payload,
    check_accelerator,
    parse_payload,
)
from npuc.emit.ethos_u.registers import Cmd0, Product, cmd0_word
from npuc.errors import CommandStreamError

ACCELERATORS = [
    (NpuAccelerator.Ethos_U55_32, NpuConfig(Product.ETHOS_U55, 32, 16)),
    (NpuAccelerator.Ethos_U55_128, NpuConfig(Product.ETHOS_U55, 128, 24)),
    (NpuAccelerator.Ethos_U55_256, NpuConfig(Product.ETHOS_U55, 256, 48)),
    (NpuAccelerator.Ethos_U65_256, NpuConfig(Product.ETHOS_U65, 256, 48)),
    (NpuAccelerator.Ethos_U65_512, NpuConfig(Product.ETHOS_U65, 512, 96)),
]
STREAM = [cmd0_word(Cmd0.SET_IFM_REGION, 1), cmd0_word(Cmd0.OP_STOP, 0xFFFF)]


@pytest.mark.parametrize(("accelerator", "config"), ACCELERATORS, ids=lambda value: getattr(value, "name", ""))
@pytest.mark.parametrize("length", [1, 2, 5, 70_000])
def test_payload_is_vela_s_and_parses_back(accelerator, config, length):
    words = list(range(length))
    data = build_payload(words, config)
    assert data == npu_create_driver_payload(words, accelerator)
    payload = parse_payload(data)
    assert payload.config == config
    assert [stream.words for stream in payload.streams] == [tuple(words)]
    assert payload.streams[0].offset % 16 == 0


def test_two_core_u65_is_told_by_its_macs():
    assert NpuConfig(Product.ETHOS_U65, 512, 96).cores == 2
    assert NpuConfig(Product.ETHOS_U65, 256, 48).cores == 1


def _words(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 4}I", data))


def _pack(words: list[int]) -> bytes:
    return struct.pack(f"<{len(words)}I", *words)


def _with_word(index: int, word: int) -> bytes:
    words = _words(build_payload(STREAM, ACCELERATORS[1][1]))
    words[index] = word
    return _pack(words)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"COP1", "4 bytes is not a driver payload"),
        (build_payload(STREAM, ACCELERATORS[1][1])[:-2], "not a driver payload"),
        (_with_word(0, 0x32504F43), "offset 0x0: fourcc 0x32504f43 is not COP1"),
        (_with_word(2, 0x2000_1807), "CONFIG word 0x20001807 is for product 2"),
        (_with_word(2, 0x0000_1809), "ETHOS_U55 has no 512-MAC configuration"),
        (_with_word(2, 0x0000_1817), "command-stream version 1"),
        (_with_word(3, 0x2000_0000), "architecture 2.0.0 is not compatible"),
        (_with_word(7, action_word(DriverAction.COMMAND_STREAM, 9)), "command stream of 9 words runs past"),
        (_with_word(6, action_word(DriverAction.COMMAND_STREAM, 2)), "not on a 16-byte boundary"),
        (_with_word(6, 0x0000_0009), "offset 0x18: unknown driver action 0x9"),
        (_pack([0x31504F43, action_word(DriverAction.NOP)]), "no CONFIG action"),
    ],
)
def test_malformed_payloads_name_the_offset_and_the_problem(data, message):
    with pytest.raises(CommandStreamError, match=message):
        parse_payload(data, "model.tflite")


def test_a_payload_for_another_accelerator_is_refused():
    payload = parse_payload(build_payload(STREAM, NpuConfig(Product.ETHOS_U65, 256, 48)))
    with pytest.raises(CommandStreamError, match="header is for Ethos-U65 with 256 MACs .*, not Ethos-U55 with 128"):
        check_accelerator(payload, ACCELERATORS[1][1])
