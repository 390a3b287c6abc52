"""`npuc disasm` lists Vela's commands as Vela lists them, and names what it cannot read."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from npuc.emit.ethos_u.disasm import disassemble
from npuc.emit.ethos_u.package import read_package
from npuc.errors import CommandStreamError, ModelFormatError

from support.paths import TEST, TFLITE_MODELS

SYSTEMS_INI = TEST.parent / "npuc" / "targets" / "data" / "systems.ini"
VELA_LINE = re.compile(r"^(0x[0-9a-f]{6}): ([0-9a-f ]{8}) ([0-9a-f]{4}) ([0-9a-f]{4}) - (NPU_\w+)", re.MULTILINE)


def _columns(text: str) -> list[tuple[str, ...]]:
    """Offset, payload word, parameter, code and name of every command line."""
    return [found.groups() for found in VELA_LINE.finditer(text)]


@pytest.mark.parametrize("model", ["conv_2d_same_s1", "softmax_int8", "add_broadcast_channel"])
def test_every_command_is_listed_as_vela_lists_it(model, tmp_path):
    vela = subprocess.run(
        ["vela", str(TFLITE_MODELS / f"{model}.tflite"), "--accelerator-config", "ethos-u65-256",
         "--config", str(SYSTEMS_INI), "--system-config", "Ethos_U65_High_End", "--memory-mode", "Dedicated_Sram",
         "--verbose-register-command-stream", "--output-dir", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )
    output = tmp_path / f"{model}_vela.tflite"
    ours = _columns("\n".join(disassemble(output.read_bytes(), str(output))))
    assert ours and ours == _columns(vela.stdout)


def test_the_listing_names_the_regions_and_the_configuration():
    path = TEST / "vela_models" / "conv_2d_same_s1.u55-128_vela.tflite"
    lines = disassemble(path.read_bytes(), str(path))
    operator = read_package(path).ethos_u[0]
    assert f"  region 3: IFM 0 'input', {operator.ifms[0].nbytes} bytes, arena offset" in "\n".join(lines)
    assert any(line.startswith("COP1 payload") and "Ethos-U55, 128 MACs/cycle, 24 KiB SHRAM" in line
               for line in lines)
    assert lines[-1].endswith("NPU_OP_STOP                    65535, stop = 65535")


def test_a_raw_payload_disassembles_and_a_plain_model_is_refused():
    path = TEST / "vela_models" / "conv_2d_same_s1.u55-128_vela.tflite"
    payload = read_package(path).ethos_u[0].command_stream.data or b""
    assert disassemble(payload, "payload.bin")[0].startswith(f"COP1 payload, {len(payload)} bytes")
    with pytest.raises(ModelFormatError, match="conv.tflite: has no ethos-u operator"):
        disassemble((TFLITE_MODELS / "conv_2d_same_s1.tflite").read_bytes(), "conv.tflite")
    with pytest.raises(CommandStreamError, match="payload.bin: command at offset 0x0: unknown cmd0 opcode"):
        disassemble(payload[:0x20] + (7).to_bytes(4, "little") + payload[0x24:], "payload.bin")


def test_the_cli_prints_the_listing_or_one_error_line(tmp_path):
    path = TEST / "vela_models" / "softmax_int8.u55-128_vela.tflite"
    listing = subprocess.run([sys.executable, "-m", "npuc.tools.npuc_main", "disasm", str(path)],
                             capture_output=True, text=True)
    assert listing.returncode == 0 and len(_columns(listing.stdout)) > 100
    broken = tmp_path / "payload.bin"
    broken.write_bytes(b"COP1" + bytes(3))
    failed = subprocess.run([sys.executable, "-m", "npuc.tools.npuc_main", "disasm", str(broken)],
                            capture_output=True, text=True)
    assert failed.returncode == 1
    assert failed.stderr == f"npuc: error: {broken}: 7 bytes is not a driver payload (a whole number of words)\n"
