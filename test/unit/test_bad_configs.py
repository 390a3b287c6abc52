"""Bad target specs, TOML targets and Vela configuration files end in one `TargetError` naming the file and key.

Non-finite or non-positive numbers where a positive one is needed (a NaN
clock would print "nan ms"), ConfigParser's `%(name)s` references to nothing,
files that are not UTF-8, and target names no file can have.
"""

from __future__ import annotations

from importlib import resources

import pytest

from npuc.errors import TargetError
from npuc.targets import load_target

GENERIC = "generic-4tops"
VELA_TARGET = "ethos-u55-128:My_System:My_Mode"


def vela_ini(core_clock: str = "500e6", sram_clock_scale: str = "1.0", extra: str = "") -> str:
    """A minimal Vela configuration file with one system config and one memory mode."""
    return (
        f"[System_Config.My_System]\ncore_clock={core_clock}\naxi0_port=Sram\naxi1_port=OffChipFlash\n"
        f"Sram_clock_scale={sram_clock_scale}\n{extra}\n"
        "[Memory_Mode.My_Mode]\nconst_mem_area=Axi1\narena_mem_area=Axi0\ncache_mem_area=Axi0\n"
    )


def load_with_ini(tmp_path, text: str):
    path = tmp_path / "vela.ini"
    path.write_text(text)
    return load_target(f"{VELA_TARGET}@{path}")


def test_a_valid_ini_with_a_reference_loads(tmp_path):
    target = load_with_ini(tmp_path, vela_ini(core_clock="%(clock)s", extra="clock=400e6"))
    assert target.clock_hz == 400e6


@pytest.mark.parametrize(
    ("core_clock", "sram_clock_scale", "key", "problem"),
    [
        ("nan", "1.0", "core_clock", "must be a finite number greater than 0, got nan"),
        ("inf", "1.0", "core_clock", "must be a finite number greater than 0, got inf"),
        ("0", "1.0", "core_clock", "must be a finite number greater than 0, got 0.0"),
        ("-5e8", "1.0", "core_clock", "must be a finite number greater than 0, got -500000000.0"),
        ("500e6", "inf", "Sram_clock_scale", "must be a finite number greater than 0, got inf"),
        ("500e6", "nan", "Sram_clock_scale", "must be a finite number greater than 0, got nan"),
        ("%(x)s", "1.0", "core_clock", "Bad value substitution"),
        ("%(core_clock)s", "1.0", "core_clock", "Recursion limit exceeded"),
        ("50%", "1.0", "core_clock", "'%' must be followed by '%' or '('"),
    ],
)
def test_bad_ini_numbers_name_section_and_key(tmp_path, core_clock, sram_clock_scale, key, problem):
    with pytest.raises(TargetError) as raised:
        load_with_ini(tmp_path, vela_ini(core_clock, sram_clock_scale))
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'vela.ini'}: [System_Config.My_System] {key}: ")
    assert problem in message and "\n" not in message


def test_ini_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.ini"
    path.write_bytes(vela_ini(extra="; caf\xe9").encode("latin-1"))
    with pytest.raises(TargetError, match="latin1.ini: cannot read Vela configuration file: not UTF-8 text"):
        load_target(f"{VELA_TARGET}@{path}")


def test_toml_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    with pytest.raises(TargetError, match="latin1.toml: cannot read target file: not UTF-8 text"):
        load_target(str(path))


@pytest.mark.parametrize("spec", ["x" * 10_000, "x" * 10_000 + ".toml", "x" * 10_000 + "@vela.ini", "a\0b"])
def test_target_names_no_file_can_have(spec):
    with pytest.raises(TargetError):
        load_target(spec)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("clock_hz = 1.25e9", "clock_hz = nan", "clock_hz"),
        ("clock_hz = 1.25e9", "clock_hz = inf", "clock_hz"),
        ("bandwidth = 64.0", "bandwidth = inf", "memories.sram.bandwidth"),
        ("bandwidth_gb_per_s = 16.0", "bandwidth_gb_per_s = 1.7e308", "memories.dram.bandwidth_gb_per_s"),
        ("clock_hz = 1.8e9", "clock_hz = nan", "host_cpu.clock_hz"),
        ("conv2d = 0.125", "conv2d = inf", "host_cpu.cycles_per_mac.conv2d"),
    ],
)
def test_non_finite_toml_numbers_name_the_field(tmp_path, old, new, field):
    text = (resources.files("npuc.targets") / "data" / f"{GENERIC}.toml").read_text()
    assert old in text
    path = tmp_path / "board.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(TargetError, match=f"board.toml: field '{field}': must be a finite number greater than 0"):
        load_target(str(path))


@pytest.mark.parametrize(
    ("spec", "escaped"),
    [("ethos\nu55-128", "'ethos\\nu55-128'"), ("ethos-u55-128:Ethos\nU55", "'Ethos\\nU55'")],
)
def test_a_name_with_a_newline_stays_on_one_line(spec, escaped):
    with pytest.raises(TargetError) as raised:
        load_target(spec)
    assert "\n" not in str(raised.value) and escaped in str(raised.value)
