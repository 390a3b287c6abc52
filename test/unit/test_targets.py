"""Tests for target descriptions: the built-in target, user files and malformed files."""

from importlib import resources

import pytest

from npuc.errors import TargetError
from npuc.targets import OPERATOR_KINDS, Range, available_targets, load_target

BUILTIN = "ethos-u55-128"


def builtin_text() -> str:
    return (resources.files("npuc.targets") / "data" / f"{BUILTIN}.toml").read_text()


def write(tmp_path, text: str):
    path = tmp_path / "custom.toml"
    path.write_text(text)
    return str(path)


def test_builtin_target_is_listed_and_loads():
    assert BUILTIN in available_targets()
    target = load_target(BUILTIN)
    assert target.name == BUILTIN
    assert target.clock_hz == 500e6
    assert target.alignment == 16
    assert target.throughput.macs_per_cycle == 128
    assert target.memory(target.arena_memory).name == "sram"
    assert target.memory(target.weights_memory).name == "flash"
    assert target.memory(target.staging_memory).name == "sram"
    assert target.memory("sram").bandwidth == 8.0
    assert target.memory("flash").bandwidth == 1.0
    assert 0 < target.shram_usable_bytes < target.shram_bytes
    assert target.block_configs


def test_builtin_operator_rules():
    target = load_target(BUILTIN)
    assert {rule.kind for rule in target.operators} == set(OPERATOR_KINDS)
    conv = target.operator_rule("conv2d")
    assert conv.kernel.stride == Range(1, 3)
    assert 3 in conv.kernel.stride and 4 not in conv.kernel.stride
    assert conv.kernel.dilation == Range(1, 2)
    assert conv.data_types == ("int8", "int16")
    assert "relu6" in conv.activations
    assert conv.max_ifm.admits(224, 224, 3)
    assert target.operator_rule("avg_pool2d").kernel.padded_size == Range(1, 8)
    assert target.operator_rule("fully_connected").kernel is None
    assert not target.supports("softmax")
    assert target.operator_rule("softmax") is None


def test_block_configs_are_ublock_multiples():
    target = load_target(BUILTIN)
    u = target.ofm_ublock
    for block in target.block_configs:
        assert block.height % u.height == 0
        assert block.width % u.width == 0
        assert block.depth % u.depth == 0


def test_unknown_memory_lookup_raises():
    with pytest.raises(TargetError, match="no memory 'dram'"):
        load_target(BUILTIN).memory("dram")


def test_user_file_loads_by_path(tmp_path):
    text = builtin_text().replace('name = "ethos-u55-128"', 'name = "my-board"')
    text = text.replace("size = 1048576", "size = 524288")
    target = load_target(write(tmp_path, text))
    assert target.name == "my-board"
    assert target.memory("sram").size == 524288


def test_unknown_builtin_name():
    with pytest.raises(TargetError, match="unknown target 'ethos-u99'.*ethos-u55-128"):
        load_target("ethos-u99")


def test_missing_file():
    with pytest.raises(TargetError, match="nowhere.toml: cannot read"):
        load_target("/nonexistent/nowhere.toml")


def test_invalid_toml(tmp_path):
    with pytest.raises(TargetError, match="not valid TOML"):
        load_target(write(tmp_path, "name = \n"))


@pytest.mark.parametrize(
    "old, new, field, problem",
    [
        # missing fields
        ("clock_hz = 500.0e6", "", "clock_hz", "missing"),
        ("macs_per_cycle = 128", "", "throughput.macs_per_cycle", "missing"),
        ("read_latency = 64", "", "memories.flash.read_latency", "missing"),
        # wrong types
        ("alignment = 16", 'alignment = "16"', "alignment", "expected an integer, got a string"),
        ("alignment = 16", "alignment = true", "alignment", "expected an integer, got a boolean"),
        ("size = 1048576", "size = 1048576.0", "memories.sram.size", "expected an integer"),
        ("bandwidth = 8.0", 'bandwidth = "fast"', "memories.sram.bandwidth", "expected a number"),
        ("ofm_ublock = [1, 2, 8]", "ofm_ublock = [1, 2]", "ofm_ublock", "list of 3 positive integers"),
        # bad values
        ("alignment = 16", "alignment = 12", "alignment", "power of two"),
        ("[2, 2, 8],", "[2, 3, 8],", "block_configs", "not a multiple of ofm_ublock"),
        ("stride = [1, 3], dilation = [1, 2] }", "stride = [3, 1], dilation = [1, 2] }",
         "operators.conv2d.kernel.stride", "empty"),
        # unknown references and names
        ('weights_memory = "flash"', 'weights_memory = "rom"', "weights_memory", "unknown memory 'rom'"),
        ("[operators.reshape]", "[operators.softmax]", "operators.softmax", "unknown operator kind"),
        ('data_types = ["int8", "int16"]\nactivations = ["none"]',
         'data_types = ["int8", "float32"]\nactivations = ["none"]',
         "operators.reshape.data_types", "unknown value 'float32'"),
        ("burst_length = 128", "burst_length = 128\nburst_lenght = 64",
         "memories.flash.burst_lenght", "unknown field"),
    ],
)
def test_malformed_file_names_field(tmp_path, old, new, field, problem):
    text = builtin_text()
    assert old in text
    path = write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(TargetError) as raised:
        load_target(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: field '{field}': ")
    assert problem in message
