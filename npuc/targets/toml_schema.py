"""The target TOML schema (docs/targets.md): an accelerator, and its memories or a Vela link.

A target file always describes an accelerator (MACs, blocks, shared buffer,
throughput, operators, engines) and the host CPU that runs what the NPU
cannot (`[host_cpu]`, `npuc.targets.host_cpu`). Its memory system is either described in
the file itself (`clock_hz`, `[memories.*]` and the three roles: a complete
target, the form for any NPU) or taken from a Vela system configuration and
memory mode (`[vela]`: the defaults and the AXI port numbers that turn a
Vela memory into bytes per cycle; the form of the Ethos-U accelerators).
`base = "NAME"` starts from another built-in file (`data/NAME.toml` or
`data/common/NAME.toml`) and overrides it table by table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from npuc.errors import TargetError
from npuc.targets.description import (
    ACTIVATIONS,
    DATA_TYPES,
    ENGINES,
    OPERATOR_KINDS,
    PRODUCTS,
    WEIGHT_ENCODINGS,
    BlockShape,
    EthosU,
    FeatureMapAccess,
    FeatureMapLimit,
    HostCpu,
    KernelRule,
    Memory,
    MemorySystem,
    OperatorRule,
    ShramBanks,
    Throughput,
)
from npuc.targets.host_cpu import read_host_cpu
from npuc.targets.toml_reader import TableReader, describe
from npuc.targets.vela_config import AxiPorts

ROLES = ("arena_memory", "weights_memory", "staging_memory")
GIGA = 1e9


@dataclass(frozen=True)
class Accelerator:
    """The accelerator part of a target: everything but clock, memories and roles."""

    name: str
    description: str
    alignment: int
    throughput: Throughput
    shram_bytes: int
    shram_reserved_bytes: int
    ofm_ublock: BlockShape
    ifm_ublock: BlockShape
    operators: tuple[OperatorRule, ...]
    engines: tuple[str, ...]
    ofm_block_max: BlockShape
    sub_kernel_max: tuple[int, int]
    shram: ShramBanks
    cores: int
    weight_encoding: str
    feature_map_access: FeatureMapAccess | None
    ethos_u: EthosU | None
    host_cpu: HostCpu


@dataclass(frozen=True)
class VelaLink:
    """An accelerator whose memories come from a Vela system config and memory mode.

    `system_config` and `memory_mode` are the defaults (Vela's, for Ethos-U);
    `ports` the accelerator's AXI port width and address width.
    """

    system_config: str
    memory_mode: str
    ports: AxiPorts


def with_base(
    document: dict[str, Any], source: str, load_base: Callable[[str], dict[str, Any]], seen: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`document` merged over its `base` chain (tables merge key by key, values replace)."""
    if "base" not in document:
        return document
    base_name = document["base"]
    if not isinstance(base_name, str):
        raise TargetError(f"{source}: field 'base': expected a string, got {describe(base_name)}")
    if base_name in seen:
        raise TargetError(f"{source}: field 'base': '{base_name}' is its own base")
    base = with_base(load_base(base_name), source, load_base, (*seen, base_name))
    own = {key: value for key, value in document.items() if key != "base"}
    return _merge(base, own)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_target(reader: TableReader) -> tuple[Accelerator, MemorySystem | VelaLink]:
    """Read a whole target document: the accelerator and its memory system (or Vela link)."""
    accelerator = read_accelerator(reader)
    if reader.has("vela"):
        if reader.has("clock_hz"):
            raise reader.fail("vela", "a target gives either [vela] or clock_hz and [memories], not both")
        memory: MemorySystem | VelaLink = read_vela_link(reader.sub("vela"))
    else:
        memory = read_memory_system(reader)
    reader.done()
    return accelerator, memory


def read_accelerator(reader: TableReader) -> Accelerator:
    """The accelerator fields of a target document."""
    alignment = reader.integer("alignment", minimum=1)
    if alignment & (alignment - 1):
        raise reader.fail("alignment", f"must be a power of two, got {alignment}")
    shram_bytes = reader.integer("shram_bytes", minimum=1)
    shram_reserved_bytes = reader.integer("shram_reserved_bytes")
    if shram_reserved_bytes >= shram_bytes:
        raise reader.fail(
            "shram_reserved_bytes",
            f"must be less than shram_bytes ({shram_bytes}), got {shram_reserved_bytes}",
        )
    ofm_ublock = BlockShape(*reader.int_list("ofm_ublock", 3))
    ifm_ublock = BlockShape(*reader.int_list("ifm_ublock", 3)) if reader.has("ifm_ublock") else ofm_ublock
    engines = reader.choices("engines", ENGINES) if reader.has("engines") else ENGINES
    return Accelerator(
        name=reader.string("name"),
        description=reader.string("description"),
        alignment=alignment,
        throughput=read_throughput(reader.sub("throughput")),
        shram_bytes=shram_bytes,
        shram_reserved_bytes=shram_reserved_bytes,
        ofm_ublock=ofm_ublock,
        ifm_ublock=ifm_ublock,
        operators=read_operators(reader.sub("operators")),
        engines=engines,
        ofm_block_max=read_ofm_block_max(reader, ofm_ublock),
        sub_kernel_max=_optional_pair(reader, "sub_kernel_max", UNSPLIT),
        shram=read_shram_banks(reader.sub("shram")) if reader.has("shram") else ShramBanks(),
        cores=reader.integer("cores", minimum=1) if reader.has("cores") else 1,
        weight_encoding=reader.choice("weight_encoding", WEIGHT_ENCODINGS) if reader.has("weight_encoding") else "raw",
        feature_map_access=read_feature_map_access(reader.sub("feature_maps")) if reader.has("feature_maps") else None,
        ethos_u=read_ethos_u(reader.sub("ethos_u")) if reader.has("ethos_u") else None,
        host_cpu=read_host_cpu(reader.sub("host_cpu")),
    )


def read_memory_system(reader: TableReader) -> MemorySystem:
    """`clock_hz`, `[memories.*]` and the roles of a complete target."""
    clock_hz = reader.positive_number("clock_hz")
    memories_table = reader.sub("memories")
    memories = tuple(
        read_memory(memories_table.sub(key), key, clock_hz) for key in memories_table.table
    )
    memories_table.done()
    if not memories:
        raise reader.fail("memories", "at least one memory is required")
    names = [memory.name for memory in memories]
    roles = {}
    for role in ROLES:
        roles[role] = reader.string(role)
        if roles[role] not in names:
            raise reader.fail(role, f"unknown memory '{roles[role]}' (memories: {', '.join(names)})")
    return MemorySystem(
        system_config="", memory_mode="", clock_hz=clock_hz, memories=memories,
        arena_memory=roles["arena_memory"], weights_memory=roles["weights_memory"],
        staging_memory=roles["staging_memory"],
    )


def read_memory(reader: TableReader, name: str, clock_hz: float) -> Memory:
    """One `[memories.NAME]` table; bandwidth in bytes/cycle or in GB/s (10^9 bytes/s)."""
    if reader.has("bandwidth") == reader.has("bandwidth_gb_per_s"):
        raise reader.fail("bandwidth", "give exactly one of bandwidth (bytes/cycle) and bandwidth_gb_per_s")
    if reader.has("bandwidth"):
        bandwidth = reader.positive_number("bandwidth")
    else:
        per_second = reader.positive_number("bandwidth_gb_per_s") * GIGA
        bandwidth = reader.checked_positive("bandwidth_gb_per_s", per_second / clock_hz)
    memory = Memory(
        name=name,
        size=reader.integer("size", minimum=1),
        bandwidth=bandwidth,
        read_latency=reader.integer("read_latency"),
        write_latency=reader.integer("write_latency"),
        burst_length=reader.integer("burst_length", minimum=1),
        port=reader.string("port") if reader.has("port") else "",
        max_reads=reader.integer("max_reads", minimum=1) if reader.has("max_reads") else 1,
        max_writes=reader.integer("max_writes") if reader.has("max_writes") else 1,
    )
    reader.done()
    return memory


def read_vela_link(reader: TableReader) -> VelaLink:
    """The `[vela]` table of an accelerator whose memories come from a Vela config."""
    link = VelaLink(
        system_config=reader.string("system_config"),
        memory_mode=reader.string("memory_mode"),
        ports=AxiPorts(
            bytes_per_cycle=reader.positive_number("axi_port_bytes_per_cycle"),
            address_bits=reader.integer("address_bits", minimum=1),
        ),
    )
    reader.done()
    return link


def read_throughput(reader: TableReader) -> Throughput:
    """The `[throughput]` table; absent optional fields default to the plain rates (`Throughput`)."""
    throughput = Throughput(
        macs_per_cycle=reader.integer("macs_per_cycle", minimum=1),
        elementwise_elements_per_cycle=reader.positive_number("elementwise_elements_per_cycle"),
        pooling_elements_per_cycle=reader.positive_number("pooling_elements_per_cycle"),
        output_elements_per_cycle=reader.positive_number("output_elements_per_cycle"),
        ifm_depth_step=reader.integer("ifm_depth_step", minimum=1),
        kernel_element_step=reader.integer("kernel_element_step", minimum=1),
        depth_first_ifm_depth_step=reader.integer("depth_first_ifm_depth_step", minimum=1),
        ofm_block_depth=reader.integer("ofm_block_depth", minimum=1),
        command_overhead_cycles=reader.integer("command_overhead_cycles"),
        activation_elements_per_cycle=_positive_or(reader, "activation_elements_per_cycle", "output_elements_per_cycle"),
        max_pool_output_elements_per_cycle=_positive_or(
            reader, "max_pool_output_elements_per_cycle", "output_elements_per_cycle"
        ),
        depth_slice_min_cycles=_integer_or(reader, "depth_slice_min_cycles", Throughput.depth_slice_min_cycles),
        block_pipeline_stages=_integer_or(reader, "block_pipeline_stages", Throughput.block_pipeline_stages),
        kernel_first_ifm_block_depth=reader.integer(
            "kernel_first_ifm_block_depth" if reader.has("kernel_first_ifm_block_depth") else "depth_first_ifm_depth_step",
            minimum=1,
        ),
        scale_bytes_per_read_latency=_integer_or(
            reader, "scale_bytes_per_read_latency", Throughput.scale_bytes_per_read_latency
        ),
    )
    reader.done()
    return throughput


def _positive_or(reader: TableReader, key: str, fallback: str) -> float:
    """Optional field `key` as a positive number, or field `fallback` when `key` is absent."""
    return reader.positive_number(key if reader.has(key) else fallback)


def _integer_or(reader: TableReader, key: str, default: int) -> int:
    """Optional field `key` as a positive integer, or `default` when absent."""
    return reader.integer(key, minimum=1) if reader.has(key) else default


def _optional_pair(reader: TableReader, key: str, default: tuple[int, int]) -> tuple[int, int]:
    """Optional field `key` as two positive integers, or `default` when absent."""
    if not reader.has(key):
        return default
    first, second = reader.int_list(key, 2)
    return first, second


UNSPLIT = (65536, 65536)
"""Default `sub_kernel_max`: larger than any kernel a tensor allows, so no kernel is split."""


def read_ofm_block_max(reader: TableReader, ublock: BlockShape) -> BlockShape:
    """`ofm_block_max`: the largest OFM block [h, w, c], a multiple of `ublock`."""
    block = BlockShape(*reader.int_list("ofm_block_max", 3))
    if block.height % ublock.height or block.width % ublock.width or block.depth % ublock.depth:
        raise reader.fail(
            "ofm_block_max",
            f"[{block.height}, {block.width}, {block.depth}] is not a multiple of ofm_ublock [{ublock.height}, {ublock.width}, {ublock.depth}]",
        )
    return block


def read_shram_banks(reader: TableReader) -> ShramBanks:
    """The `[shram]` table (bank size, granules and reserved areas, see `ShramBanks`).

    Absent granules are 1, absent reserved areas 0.
    """
    granules = (
        "bank_bytes", "ifm_granule", "elementwise_ifm_granule", "wide_ifm_granule",
        "accumulator_granule", "wide_accumulator_granule",
    )  # fmt: skip
    values = {key: reader.integer(key, minimum=1) for key in granules if reader.has(key)}
    values |= {key: reader.integer(key) for key in ("output_banks", "lut_bytes") if reader.has(key)}
    banks = ShramBanks(**values)
    reader.done()
    return banks


def read_feature_map_access(reader: TableReader) -> FeatureMapAccess:
    """The `[feature_maps]` table: brick depth and write bursts of feature maps (see `FeatureMapAccess`)."""
    access = FeatureMapAccess(
        brick_depth=reader.integer("brick_depth", minimum=1),
        write_burst_channels=reader.integer("write_burst_channels", minimum=1),
        write_burst_max_bytes=reader.integer("write_burst_max_bytes", minimum=1),
    )
    reader.done()
    return access


def read_ethos_u(reader: TableReader) -> EthosU:
    """The `[ethos_u]` table: the register command stream's facts of an Ethos-U accelerator."""
    facts = EthosU(
        product=reader.choice("product", PRODUCTS),
        max_outstanding_dma=reader.integer("max_outstanding_dma", minimum=1),
        max_outstanding_kernels=reader.integer("max_outstanding_kernels", minimum=1),
        lut_slot_bytes=reader.integer("lut_slot_bytes", minimum=1),
        shram_dma_region=reader.integer("shram_dma_region"),
    )
    reader.done()
    return facts


def read_operators(reader: TableReader) -> tuple[OperatorRule, ...]:
    """The `[operators.*]` tables, one per supported operator kind."""
    rules = []
    for kind in reader.table:
        if kind not in OPERATOR_KINDS:
            raise reader.fail(kind, f"unknown operator kind (known: {', '.join(OPERATOR_KINDS)})")
        rules.append(read_operator_rule(reader.sub(kind), kind))
    reader.done()
    return tuple(rules)


def read_operator_rule(reader: TableReader, kind: str) -> OperatorRule:
    """One `[operators.KIND]` table."""
    rule = OperatorRule(
        kind=kind,
        data_types=reader.choices("data_types", DATA_TYPES),
        activations=reader.choices("activations", ACTIVATIONS),
        max_ifm=read_feature_map_limit(reader.sub("max_ifm")),
        max_ofm=read_feature_map_limit(reader.sub("max_ofm")),
        kernel=read_kernel_rule(reader.sub("kernel")) if reader.has("kernel") else None,
        max_commands=reader.integer("max_commands", minimum=1) if reader.has("max_commands") else None,
        max_bias_bits=reader.integer("max_bias_bits", minimum=2) if reader.has("max_bias_bits") else None,
    )
    reader.done()
    return rule


def read_feature_map_limit(reader: TableReader) -> FeatureMapLimit:
    """A `{height, width, depth}` limit."""
    limit = FeatureMapLimit(
        height=reader.integer("height", minimum=1),
        width=reader.integer("width", minimum=1),
        depth=reader.integer("depth", minimum=1),
    )
    reader.done()
    return limit


def read_kernel_rule(reader: TableReader) -> KernelRule:
    """A `kernel = {...}` table of window constraints."""
    rule = KernelRule(
        height=reader.range("height"),
        width=reader.range("width"),
        area_max=reader.integer("area_max", minimum=1),
        stride=reader.range("stride"),
        dilation=reader.range("dilation"),
        padded_size=reader.range("padded_size") if reader.has("padded_size") else None,
    )
    reader.done()
    return rule
