"""Bad streams are refused with one line naming the command: missing waits, bad addresses, no OP_STOP.

Each case edits Vela's own output for a per-operator model (a command
dropped, inserted or changed) and runs it in the simulator: the unedited
stream runs, the edited one must fail for the reason the edit introduces.
Random one-word corruptions must run or raise an `NpucError`: never another
exception, never a hang.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest

from npuc.emit.ethos_u.package import EthosUOperator, read_package
from npuc.emit.ethos_u.payload import NpuConfig, build_payload, parse_payload
from npuc.emit.ethos_u.registers import (
    Cmd0,
    Cmd1,
    Command,
    Product,
    address_words,
    cmd0_word,
    cmd1_words,
    decode_commands,
)
from npuc.errors import CommandStreamError, NpucError, StreamHazardError
from npuc.sim.ethos_u.runner import simulate_operator

from support.paths import TEST

SOFTMAX = TEST / "vela_models" / "softmax_int8.u55-128_vela.tflite"
CONV = TEST / "vela_models" / "conv_2d_same_s1.u55-128_vela.tflite"
Edit = Callable[[list[Command]], list[list[int]]]


def _words(command: Command) -> list[int]:
    if command.data is None:
        return [cmd0_word(command.opcode, command.param)]
    return list(cmd1_words(command.opcode, command.data, command.param))


def _edited(path, edit: Edit | None) -> EthosUOperator:
    """The file's ethos-u operator with its register stream rewritten by `edit` (a list of command words)."""
    operator = read_package(path).ethos_u[0]
    payload = parse_payload(operator.command_stream.data or b"")
    commands = decode_commands(payload.streams[0].words)
    pieces = edit(commands) if edit else [_words(command) for command in commands]
    data = build_payload([word for piece in pieces for word in piece], payload.config)
    return dataclasses.replace(operator, command_stream=dataclasses.replace(operator.command_stream, data=data))


def _run(operator: EthosUOperator, expected: NpuConfig | None = None) -> list[bytes]:
    ifms = [np.random.default_rng(0).integers(0, 256, tensor.nbytes, dtype=np.uint8).tobytes()
            for tensor in operator.ifms]
    return simulate_operator(operator, ifms, "model.tflite", expected)


def _without(opcode, occurrence: int = 0) -> Edit:
    """Drop the `occurrence`-th command with this opcode."""
    def edit(commands: list[Command]) -> list[list[int]]:
        found = [index for index, command in enumerate(commands) if command.opcode is opcode]
        return [_words(command) for index, command in enumerate(commands) if index != found[occurrence]]
    return edit


def _before(opcode, inserted: list[int], occurrence: int = 0) -> Edit:
    """Insert words before the `occurrence`-th command with this opcode."""
    def edit(commands: list[Command]) -> list[list[int]]:
        found = [index for index, command in enumerate(commands) if command.opcode is opcode]
        pieces = [_words(command) for command in commands]
        pieces.insert(found[occurrence], inserted)
        return pieces
    return edit


def test_vela_s_streams_run_unedited():
    assert _run(_edited(SOFTMAX, None)) == _run(read_package(SOFTMAX).ethos_u[0])
    assert len(_run(_edited(CONV, None))[0]) == read_package(CONV).ethos_u[0].ofms[0].nbytes


def test_a_kernel_that_does_not_wait_for_its_lookup_table_dma_is_a_hazard():
    with pytest.raises(StreamHazardError, match=r"command at offset 0x204 \(NPU_OP_ELEMENTWISE\): reads lookup "
                                                r"table bytes .* that the DMA at offset 0x124 .* writes"):
        _run(_edited(SOFTMAX, _without(Cmd0.OP_DMA_WAIT)))


def test_a_lookup_table_never_loaded_is_refused():
    with pytest.raises(StreamHazardError, match="lookup-table slot 0 holds no table"):
        _run(_edited(SOFTMAX, _without(Cmd0.OP_DMA_START)))


def test_a_blockdep_that_overlaps_the_previous_kernel_s_output_is_a_hazard():
    # The subtraction reads the maximum the pooling before it writes: it must wait for all of it.
    edit = _before(Cmd0.OP_ELEMENTWISE, [cmd0_word(Cmd0.SET_BLOCKDEP, 3)])
    with pytest.raises(StreamHazardError, match=r"offset 0x20c .*BLOCKDEP 3 lets job 0 read IFM2 bytes"):
        _run(_edited(SOFTMAX, edit))


def test_a_stream_without_op_stop_is_refused():
    with pytest.raises(CommandStreamError, match="ends without NPU_OP_STOP"):
        _run(_edited(CONV, _without(Cmd0.OP_STOP)))


def test_an_ifm_outside_its_region_is_refused_before_any_byte_is_read():
    edit = _before(Cmd0.OP_CONV, list(address_words(Cmd1.SET_IFM_BASE0, 1 << 20)))
    with pytest.raises(CommandStreamError, match=r"NPU_OP_CONV\): IFM bytes 0x100000-.* lie outside scratch"):
        _run(_edited(CONV, edit))


def test_a_region_without_a_tensor_is_refused():
    with pytest.raises(CommandStreamError, match="region 7 has no tensor"):
        _run(_edited(CONV, _before(Cmd0.OP_CONV, [cmd0_word(Cmd0.SET_OFM_REGION, 7)])))


def test_a_weight_stream_too_short_for_the_kernel_is_refused():
    edit = _before(Cmd0.OP_CONV, list(cmd1_words(Cmd1.SET_WEIGHT_LENGTH, 16)))
    with pytest.raises(CommandStreamError, match="NPU_OP_CONV.*weight stream"):
        _run(_edited(CONV, edit))


def test_a_payload_for_another_accelerator_is_refused():
    with pytest.raises(CommandStreamError, match="header is for Ethos-U55 with 128 MACs"):
        _run(_edited(CONV, None), NpuConfig(Product.ETHOS_U65, 256, 48))


def _npuc(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "npuc.tools.npuc_main", *arguments], capture_output=True, text=True)


def test_the_cli_names_a_bad_command_in_one_line(tmp_path):
    data = bytearray(CONV.read_bytes())
    payload = read_package(CONV).ethos_u[0].command_stream.data or b""
    start = bytes(data).index(payload)
    data[start + 0x20 : start + 0x24] = (0x0000_0007).to_bytes(4, "little")  # the first command: opcode 0x007
    broken = tmp_path / "broken_vela.tflite"
    broken.write_bytes(bytes(data))
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8, 3), np.int8))
    for arguments in (("run", str(broken), "--input", str(tmp_path / "x.npy")), ("disasm", str(broken))):
        result = _npuc(*arguments)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "command at offset 0x0: unknown cmd0 opcode 0x007" in result.stderr


@pytest.mark.parametrize("model", ["conv_2d_same_s1.u55-128", "softmax_int8.u55-128", "depthwise_conv_2d_same.u65-256",
                                   "average_pool_2d_same_s1.u55-128", "transpose_conv_same_s2.u55-128"])
def test_any_corrupted_word_either_runs_or_is_one_npuc_error(model):
    operator = read_package(TEST / "vela_models" / f"{model}_vela.tflite").ethos_u[0]
    payload = operator.command_stream.data or b""
    rng = np.random.default_rng(0)
    for _ in range(60):
        position = int(rng.integers(0x20, len(payload)) // 4 * 4)
        word = int.from_bytes(payload[position : position + 4], "little")
        corrupted = word ^ (1 << int(rng.integers(32))) if rng.random() < 0.5 else int(rng.integers(1 << 32))
        data = payload[:position] + corrupted.to_bytes(4, "little") + payload[position + 4 :]
        broken = dataclasses.replace(operator, command_stream=dataclasses.replace(operator.command_stream, data=data))
        try:
            _run(broken)
        except NpucError:
            pass
