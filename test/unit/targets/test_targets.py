"""Tests for target descriptions: built-in accelerators, target specs and complete target files."""

from dataclasses import replace
from importlib import resources

import pytest

from npuc.errors import TargetError
from npuc.targets import (
    ENGINES,
    OPERATOR_KINDS,
    HostRate,
    Range,
    available_targets,
    load_target,
    parse_target_spec,
    target_spec,
)
from npuc.targets.host_cpu import OPERATOR_CLASSES, counts_macs

ETHOS_U = ("ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u65-512")
GENERIC = "generic-4tops"


def data_text(name: str) -> str:
    return (resources.files("npuc.targets") / "data" / name).read_text()


def write(tmp_path, text: str, name: str = "custom.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_builtin_targets_are_listed():
    assert available_targets() == sorted([*ETHOS_U, GENERIC])


def test_default_ethos_u55_128_is_vela_high_end_embedded_shared_sram():
    target = load_target("ethos-u55-128")
    assert (target.name, target.accelerator) == ("ethos-u55-128", "ethos-u55-128")
    assert (target.system_config, target.memory_mode) == ("Ethos_U55_High_End_Embedded", "Shared_Sram")
    assert target.clock_hz == 500e6
    assert target.alignment == 16
    assert (target.arena_memory, target.weights_memory, target.staging_memory) == ("sram", "flash", "sram")
    sram, flash = target.memories
    assert (sram.name, sram.port, sram.bandwidth, sram.burst_length, sram.read_latency) == ("sram", "Axi0", 8.0, 32, 32)
    assert (sram.max_reads, sram.max_writes, sram.size) == (4, 4, 1 << 32)
    assert (flash.name, flash.port, flash.bandwidth, flash.burst_length) == ("flash", "Axi1", 1.0, 128)
    assert (flash.read_latency, flash.write_latency, flash.max_reads) == (64, 0, 2)
    assert target.peak_bandwidth("sram") == 4e9


@pytest.mark.parametrize(
    "name, macs, ublock, shram, usable, output_rate",
    [
        ("ethos-u55-32", 32, (1, 1, 4), 16384, 14336, 0.5),
        ("ethos-u55-64", 64, (1, 1, 8), 16384, 14336, 1.0),
        ("ethos-u55-128", 128, (1, 2, 8), 24576, 20480, 2.0),
        ("ethos-u55-256", 256, (2, 2, 8), 49152, 45056, 4.0),
        ("ethos-u65-256", 256, (2, 2, 8), 49152, 45056, 4.0),
        ("ethos-u65-512", 512, (2, 2, 8), 49152, 45056, 8.0),
    ],
)
def test_accelerator_numbers(name, macs, ublock, shram, usable, output_rate):
    target = load_target(name)
    rates = target.throughput
    assert rates.macs_per_cycle == macs
    assert (target.ofm_ublock.height, target.ofm_ublock.width, target.ofm_ublock.depth) == ublock
    assert (target.shram_bytes, target.shram_usable_bytes) == (shram, usable)
    assert rates.output_elements_per_cycle == output_rate
    # The Ethos-U convolution rules every accelerator shares.
    assert (rates.ifm_depth_step, rates.depth_first_ifm_depth_step, rates.kernel_element_step) == (8, 32, 4)
    assert rates.ofm_block_depth == 16
    assert target.engines == ENGINES
    assert {rule.kind for rule in target.operators} == set(OPERATOR_KINDS)


def test_ethos_u65_defaults_are_client_server_dedicated_sram_384kb():
    target = load_target("ethos-u65-256")
    assert (target.system_config, target.memory_mode) == ("Ethos_U65_Client_Server", "Dedicated_Sram_384KB")
    assert target.clock_hz == 1e9
    assert (target.arena_memory, target.weights_memory, target.staging_memory) == ("dram", "dram", "sram")
    sram, dram = target.memories
    assert (sram.size, sram.bandwidth) == (393216, 16.0)
    assert (dram.size, dram.bandwidth, dram.read_latency, dram.write_latency) == (1 << 40, 12.0, 500, 250)


def test_spec_selects_system_config_and_memory_mode():
    spec = "ethos-u65-256:Ethos_U65_High_End:Dedicated_Sram"
    target = load_target(spec)
    assert target.name == spec
    assert target.memory("dram").bandwidth == 16 * 0.234375
    assert target.memory("sram").size == 1 << 40
    u55 = load_target("ethos-u55-128:Ethos_U55_Deep_Embedded")
    assert u55.name == "ethos-u55-128:Ethos_U55_Deep_Embedded:Shared_Sram"
    assert (u55.clock_hz, u55.memory("flash").bandwidth) == (200e6, 0.5)


def test_naming_the_defaults_gives_the_plain_name():
    assert load_target("ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram").name == "ethos-u55-128"


@pytest.mark.parametrize(
    "spec", ["ethos-u55-64", "ethos-u65-512:Ethos_U65_Mid_End:Sram_Only", "ethos-u55-128::Sram_Only", GENERIC]
)
def test_target_name_loads_the_same_target(spec):
    target = load_target(spec)
    assert replace(load_target(target.name), source=spec) == target


def test_sram_only_keeps_constants_in_an_on_chip_flash_like_vela():
    target = load_target("ethos-u55-128::Sram_Only")
    assert (target.arena_memory, target.staging_memory, target.weights_memory) == ("sram", "sram", "on_chip_flash")
    constants = target.memory("on_chip_flash")
    assert (constants.port, constants.bandwidth, constants.read_latency) == ("Axi1", 8.0, 32)


def test_spec_round_trip():
    assert target_spec("ethos-u55-128") == "ethos-u55-128"
    assert target_spec("ethos-u55-128", None, "Sram_Only") == "ethos-u55-128::Sram_Only"
    assert target_spec("a", "S", "M", "x.ini") == "a:S:M@x.ini"
    parsed = parse_target_spec("a:S:M@x.ini")
    assert (parsed.base, parsed.system_config, parsed.memory_mode, parsed.config) == ("a", "S", "M", "x.ini")


def test_budget_round_trips_in_the_spec_and_caps_the_staging_memory():
    assert target_spec("a", None, "M", "x.ini", 4096) == "a::M@x.ini#arena_cache_size=4096"
    assert parse_target_spec("a::M@x.ini#arena_cache_size=4096").arena_cache_size == 4096
    shared = load_target("ethos-u55-128#arena_cache_size=65536")
    assert (shared.arena_cache_size, shared.budget_memory, shared.memory("sram").size) == (65536, "sram", 65536)
    assert replace(load_target(shared.name), source=shared.source) == shared
    # Dedicated_Sram: the budget is the cache; the arena's DRAM keeps its size.
    dedicated = load_target("ethos-u65-256")
    assert (dedicated.arena_cache_size, dedicated.memory("sram").size) == (393216, 393216)
    override = load_target("ethos-u65-256#arena_cache_size=1024")
    assert (override.memory("sram").size, override.memory("dram").size) == (1024, dedicated.memory("dram").size)
    assert load_target("ethos-u55-128").arena_cache_size is None


def test_budget_of_a_target_describing_its_own_memories():
    target = load_target(f"{GENERIC}#arena_cache_size=1000")
    assert (target.arena_cache_size, target.memory(target.staging_memory).size) == (1000, 1000)
    with pytest.raises(TargetError, match="arena cache size 1099511627776 is beyond the"):
        load_target(f"{GENERIC}#arena_cache_size={1 << 40}")


@pytest.mark.parametrize("spec", ["ethos-u55-128#arena_cache_size=", "ethos-u55-128#arena_cache_size=1k"])
def test_bad_budget_in_spec(spec):
    with pytest.raises(TargetError, match="the budget must be a number of bytes"):
        load_target(spec)


USER_INI = """
; a board described in Vela's format
[System_Config.My_Board]
core_clock=400e6
axi0_port=Sram
axi1_port=Dram
Sram_clock_scale=0.5
Sram_burst_length=64
Dram_clock_scale=0.25
Dram_read_latency=300
Dram_ports_used=2

[Memory_Mode.Base]
const_mem_area=Axi1
arena_mem_area=Axi0
cache_mem_area=Axi0

[Memory_Mode.Small]
inherit=Memory_Mode.Base
arena_cache_size=131072
"""


def test_user_vela_ini_with_inherit_and_vela_defaults(tmp_path):
    ini = write(tmp_path, USER_INI, "board.ini")
    target = load_target(target_spec("ethos-u55-128", "My_Board", "Small", ini))
    assert target.name == f"ethos-u55-128:My_Board:Small@{ini}"
    assert target.clock_hz == 400e6
    assert (target.arena_memory, target.weights_memory, target.staging_memory) == ("sram", "dram", "sram")
    sram, dram = target.memories
    assert (sram.bandwidth, sram.burst_length, sram.size) == (4.0, 64, 131072)
    assert target.arena_cache_size == 131072
    # Keys the file leaves out take Vela's defaults.
    assert (sram.read_latency, sram.write_latency, sram.max_reads) == (0, 0, 1)
    assert (dram.bandwidth, dram.read_latency, dram.burst_length) == (8 * 2 * 0.25, 300, 1)


def test_a_target_is_read_once_and_again_when_its_file_changes(tmp_path):
    assert load_target("ethos-u55-128") is load_target("ethos-u55-128")
    ini = write(tmp_path, USER_INI, "board.ini")
    spec = target_spec("ethos-u55-128", "My_Board", "Small", ini)
    assert load_target(spec) is load_target(spec)
    write(tmp_path, USER_INI.replace("arena_cache_size=131072", "arena_cache_size=65536"), "board.ini")
    assert load_target(spec).arena_cache_size == 65536  # the file's size changed: read again


def test_builtin_ini_read_from_a_file_gives_the_default_target(tmp_path):
    ini = write(tmp_path, data_text("systems.ini"), "vela.ini")
    own = load_target(f"ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram@{ini}")
    assert own.memories == load_target("ethos-u55-128").memories


@pytest.mark.parametrize(
    "spec_text, message",
    [
        ("ethos-u55-128:Nope", "no system config 'Nope' (section [System_Config.Nope]; known: "),
        ("ethos-u55-128:My_Board:Nope", "no memory mode 'Nope' (section [Memory_Mode.Nope]; known: Base, Small, Loop, Arena_Axi1)"),
        ("ethos-u55-128:Broken:Base", "[System_Config.Broken] core_clock: expected a number, got 'fast'"),
        ("ethos-u55-128:My_Board:Loop", "[Memory_Mode.Loop] inherits itself"),
        ("ethos-u55-128:Flash_Board:Arena_Axi1", "puts the arena area in OffChipFlash"),
        ("generic-4tops:My_Board:Base", "generic-4tops describes its own memories"),
        ("ethos-u55-128:a:b:c", "expected NAME[:SYSTEM_CONFIG[:MEMORY_MODE]][@CONFIG.ini]"),
    ],
)
def test_bad_vela_choices_name_the_problem(tmp_path, spec_text, message):
    extra = """
[System_Config.Broken]
core_clock=fast
axi1_port=Dram
[System_Config.Flash_Board]
axi1_port=OffChipFlash
[Memory_Mode.Loop]
inherit=Memory_Mode.Loop
[Memory_Mode.Arena_Axi1]
const_mem_area=Axi1
arena_mem_area=Axi1
"""
    ini = write(tmp_path, USER_INI + extra, "board.ini")
    config = None if spec_text.startswith("ethos-u55-128:Nope") else ini
    spec = spec_text if config is None else f"{spec_text}@{config}"
    with pytest.raises(TargetError) as raised:
        load_target(spec)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_vela_file():
    with pytest.raises(TargetError, match="nowhere.ini: cannot read Vela configuration file"):
        load_target("ethos-u55-128:A:B@/nonexistent/nowhere.ini")


def test_generic_target_is_4_tops_at_1_25_ghz_with_16_gb_s_dram():
    target = load_target(GENERIC)
    assert target.clock_hz == 1.25e9
    assert 2 * target.throughput.macs_per_cycle * target.clock_hz == pytest.approx(4e12)
    assert target.peak_bandwidth("dram") == pytest.approx(16e9)
    assert (target.arena_memory, target.weights_memory, target.staging_memory) == ("sram", "dram", "sram")
    assert (target.system_config, target.memory_mode) == ("", "")
    assert target.engines == ("dma", "mac", "elementwise")


def test_builtin_operator_rules():
    target = load_target("ethos-u55-128")
    conv = target.operator_rule("conv2d")
    assert conv.kernel.stride == Range(1, 3)
    assert 3 in conv.kernel.stride and 4 not in conv.kernel.stride
    assert conv.kernel.dilation == Range(1, 2)
    assert conv.data_types == ("int8", "int16")
    assert "relu6" in conv.activations
    assert conv.max_ifm.admits(224, 224, 3)
    assert target.operator_rule("avg_pool2d").kernel.padded_size == Range(1, 8)
    assert target.operator_rule("fully_connected").kernel is None
    assert target.operator_rule("softmax").data_types == ("int8",)
    assert target.operator_rule("transpose").max_commands == target.operator_rule("slice").max_commands == 64
    assert conv.max_commands is None
    assert conv.max_bias_bits == target.operator_rule("fully_connected").max_bias_bits == 40
    assert target.operator_rule("add").max_bias_bits is None


@pytest.mark.parametrize("name", [*ETHOS_U, GENERIC])
def test_largest_block_is_a_ublock_multiple(name):
    target = load_target(name)
    u, block = target.ofm_ublock, target.ofm_block_max
    assert (block.height % u.height, block.width % u.width, block.depth % u.depth) == (0, 0, 0)


def test_unknown_memory_lookup_raises():
    with pytest.raises(TargetError, match="no memory 'dram'"):
        load_target("ethos-u55-128").memory("dram")


def test_user_file_with_base_overrides_an_accelerator(tmp_path):
    text = 'base = "ethos-u55-128"\nname = "my-u55"\nshram_bytes = 32768\n[vela]\nmemory_mode = "Sram_Only"\n'
    target = load_target(write(tmp_path, text))
    assert (target.name, target.shram_bytes, target.memory_mode) == ("my-u55", 32768, "Sram_Only")
    assert target.throughput.macs_per_cycle == 128


def test_complete_user_file_loads_by_path(tmp_path):
    text = data_text(f"{GENERIC}.toml").replace('name = "generic-4tops"', 'name = "my-board"')
    target = load_target(write(tmp_path, text.replace("size = 4194304", "size = 524288")))
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
        ("clock_hz = 1.25e9", "", "clock_hz", "missing"),
        ("macs_per_cycle = 1600", "", "throughput.macs_per_cycle", "missing"),
        ("read_latency = 250", "", "memories.dram.read_latency", "missing"),
        # wrong types
        ("alignment = 64", 'alignment = "64"', "alignment", "expected an integer, got a string"),
        ("alignment = 64", "alignment = true", "alignment", "expected an integer, got a boolean"),
        ("size = 4194304", "size = 4194304.0", "memories.sram.size", "expected an integer"),
        ("bandwidth = 64.0", 'bandwidth = "fast"', "memories.sram.bandwidth", "expected a number"),
        ("bandwidth_gb_per_s = 16.0", "bandwidth_gb_per_s = 16.0\nbandwidth = 1.0", "memories.dram.bandwidth",
         "exactly one of"),
        ("ofm_ublock = [5, 5, 8]", "ofm_ublock = [5, 5]", "ofm_ublock", "list of 3 positive integers"),
        # bad values
        ("alignment = 64", "alignment = 12", "alignment", "power of two"),
        ("ofm_block_max = [40, 40, 256]", "ofm_block_max = [40, 42, 256]", "ofm_block_max", "not a multiple of ofm_ublock"),
        ("stride = [1, 4], dilation = [1, 4] }", "stride = [4, 1], dilation = [1, 4] }",
         "operators.conv2d.kernel.stride", "empty"),
        ('engines = ["dma", "mac", "elementwise"]', 'engines = ["dma", "gpu"]', "engines", "unknown value 'gpu'"),
        # unknown references and names
        ('weights_memory = "dram"', 'weights_memory = "rom"', "weights_memory", "unknown memory 'rom'"),
        ("[operators.reshape]", "[operators.lstm]", "operators.lstm", "unknown operator kind"),
        ('data_types = ["int8", "int16"]\nactivations = ["none"]',
         'data_types = ["int8", "float32"]\nactivations = ["none"]',
         "operators.reshape.data_types", "unknown value 'float32'"),
        ('data_types = ["int8", "int16"]\nactivations = ["none"]',
         'data_types = ["int8", "int16"]\nactivations = ["none"]\nmax_commands = 0',
         "operators.reshape.max_commands", "must be at least 1"),
        ('data_types = ["int8", "int16"]\nactivations = ["none"]',
         'data_types = ["int8", "int16"]\nactivations = ["none"]\nmax_bias_bits = 1',
         "operators.reshape.max_bias_bits", "must be at least 2"),
        ("burst_length = 64\nport", "burst_lenght = 64\nburst_length = 64\nport",
         "memories.dram.burst_lenght", "unknown field"),
        # the host CPU
        ('core = "Cortex-A55"\n', "", "host_cpu.core", "missing"),
        ('core = "Cortex-A55"\n', 'core = "Cortex-A55"\nclock = 1\n', "host_cpu.clock", "unknown field"),
        ("clock_hz = 1.8e9", "clock_hz = 0", "host_cpu.clock_hz", "greater than 0"),
        ("default_cycles_per_element = 10.0", "default_cycles_per_element = 0.0",
         "host_cpu.default_cycles_per_element", "greater than 0"),
        ("conv2d = 0.125", "conv2d = -0.125", "host_cpu.cycles_per_mac.conv2d", "greater than 0"),
        ("conv2d = 0.125", 'conv2d = "fast"', "host_cpu.cycles_per_mac.conv2d", "expected a number"),
        ("conv2d = 0.125", "conv2d = 0.125\ntanh = 1.0", "host_cpu.cycles_per_mac.tanh", "no multiply-accumulates"),
        ("softmax = 5.0", "softmax = 5.0\nsoftmaks = 5.0", "host_cpu.cycles_per_element.softmaks",
         "unknown operator kind"),
        ("reduce = 1.5", "reduce = 1.5\nsoftmax = 2.0", "host_cpu.cycles_per_input_element.softmax",
         "already has a rate per element"),
    ],
)
def test_malformed_file_names_field(tmp_path, old, new, field, problem):
    text = data_text(f"{GENERIC}.toml")
    assert old in text
    path = write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(TargetError) as raised:
        load_target(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: field '{field}': ")
    assert problem in message


@pytest.mark.parametrize(
    ("name", "product", "dma", "wide_ifm_granule"),
    [("ethos-u55-32", "ethos-u55", 1, 4), ("ethos-u55-128", "ethos-u55", 1, 8), ("ethos-u65-512", "ethos-u65", 2, 16)],
)
def test_ethos_u_targets_encode_weights_and_describe_their_command_stream(name, product, dma, wide_ifm_granule):
    target = load_target(name)
    assert target.encodes_weights
    assert target.ethos_u is not None
    assert (target.ethos_u.product, target.ethos_u.max_outstanding_dma, target.ethos_u.max_outstanding_kernels) == (
        product, dma, 2
    )
    # Vela: 2 reserved output banks, lookup tables in the last 2 KiB of 256-byte slots, IFM32 granule.
    assert (target.shram.output_banks, target.shram.lut_bytes, target.ethos_u.lut_slot_bytes) == (2, 2048, 256)
    assert target.shram.wide_ifm_granule == wide_ifm_granule


def test_generic_target_keeps_raw_weights_and_has_no_ethos_u_stream():
    target = load_target(GENERIC)
    assert (target.weight_encoding, target.encodes_weights, target.ethos_u) == ("raw", False, None)


def test_unknown_weight_encoding_names_the_field(tmp_path):
    text = 'base = "ethos-u55-128"\nweight_encoding = "zip"\n'
    with pytest.raises(TargetError, match="field 'weight_encoding': unknown value 'zip' \\(known: raw, ethos-u\\)"):
        load_target(write(tmp_path, text))


def test_missing_host_cpu_names_the_table(tmp_path):
    text = data_text(f"{GENERIC}.toml")
    path = write(tmp_path, text[: text.index("[host_cpu]")])
    with pytest.raises(TargetError, match=f"^{path}: field 'host_cpu': missing$"):
        load_target(path)


@pytest.mark.parametrize("name", available_targets())
def test_builtin_host_cpu(name):
    target = load_target(name)
    host = target.host_cpu
    if name.startswith("ethos-u"):
        # Corstone-300's Cortex-M55, on the NPU's clock (the system config's core_clock).
        assert (host.core, host.clock_hz, target.host_clock_hz) == ("Cortex-M55", None, target.clock_hz)
    else:
        assert (host.core, target.host_clock_hz) == ("Cortex-A55", 1.8e9)
    assert host.default_cycles_per_element > 0
    assert all(rate.cycles > 0 for _, rate in host.rates)
    # Every weighted layer and pool is priced per MAC (never by the per-element default).
    mac_kinds = {kind for kind, op in OPERATOR_CLASSES.items() if counts_macs(op)}
    assert mac_kinds == {"conv2d", "depthwise_conv2d", "fully_connected", "transpose_conv2d", "max_pool2d", "avg_pool2d"}
    assert all(host.rate(kind).unit == "mac" for kind in mac_kinds)
    assert host.rate("no_such_kind") == HostRate("element", host.default_cycles_per_element)
