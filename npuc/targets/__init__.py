"""Target descriptions: every hardware number the compiler uses, loaded from data files.

A `Target` says which operators the NPU runs and under which constraints
(legalization), how fast it computes (cost model), which output block shapes it
can use and how large its shared buffer is (tiling), and which memories hold
activations and weights (allocation). Passes read these numbers from the
`Target`; none of them hard-codes a hardware fact.

A target is named by a spec string (see `target_spec`):

    ethos-u55-128                                   accelerator, Vela's default system config and memory mode
    ethos-u65-256:Ethos_U65_High_End:Dedicated_Sram  accelerator x system config x memory mode
    ethos-u55-128:My_System:My_Mode@board.ini        ... from a Vela configuration file
    ethos-u55-128#arena_cache_size=262144           any of these with a memory budget (`Target.arena_cache_size`)
    generic-4tops                                   a built-in target that describes its own memories
    path/to/board.toml                              a target file

Accelerators and complete targets are TOML files (`npuc/targets/data/`, schema
in docs/targets.md); system configurations and memory modes are Vela
configuration files (`data/systems.ini` holds the built-in ones with Vela's
names and numbers). Every mistake in a file raises `TargetError` with a single
line naming the file and the field.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from npuc.errors import TargetError
from npuc.targets.description import (
    ACTIVATIONS,
    DATA_TYPES,
    ENGINES,
    OPERATOR_KINDS,
    BlockShape,
    EthosU,
    FeatureMapAccess,
    FeatureMapLimit,
    HostCpu,
    HostRate,
    KernelRule,
    Memory,
    MemorySystem,
    OperatorRule,
    Range,
    Target,
    Throughput,
)
from npuc.targets.toml_reader import TableReader
from npuc.targets.toml_schema import VelaLink, read_target, with_base
from npuc.targets.vela_config import VelaConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

__all__ = [
    "OPERATOR_KINDS",
    "DATA_TYPES",
    "ACTIVATIONS",
    "ENGINES",
    "Range",
    "BlockShape",
    "EthosU",
    "FeatureMapAccess",
    "FeatureMapLimit",
    "HostCpu",
    "HostRate",
    "KernelRule",
    "OperatorRule",
    "Memory",
    "MemorySystem",
    "Throughput",
    "Target",
    "TargetSpec",
    "load_target",
    "available_targets",
    "target_spec",
    "parse_target_spec",
    "with_arena_cache_size",
]

BUDGET_KEY = "#arena_cache_size="
"""What joins a target spec and its memory budget (`target_spec`)."""

BUILTIN_CONFIG = "systems.ini"
"""The built-in Vela configuration file (system configs and memory modes)."""


@dataclass(frozen=True)
class TargetSpec:
    """A parsed target spec: base target (name or file), optional Vela choices and file, and budget."""

    base: str
    system_config: str | None = None
    memory_mode: str | None = None
    config: str | None = None
    arena_cache_size: int | None = None


def target_spec(
    base: str,
    system_config: str | None = None,
    memory_mode: str | None = None,
    config: str | None = None,
    arena_cache_size: int | None = None,
) -> str:
    """The spec string `BASE[:SYSTEM_CONFIG[:MEMORY_MODE]][@CONFIG.ini][#arena_cache_size=BYTES]`.

    Omitted parts take the defaults; the budget, when given, overrides the
    memory mode's `arena_cache_size`. This is how a target travels through
    pass options (`target=...`) and the `npu.target` attribute:
    `load_target(target_spec(...))` loads it.
    """
    head = ":".join([base, system_config or "", memory_mode or ""]).rstrip(":")
    spec = f"{head}@{config}" if config else head
    return spec if arena_cache_size is None else f"{spec}{BUDGET_KEY}{arena_cache_size}"


def _is_file(text: str) -> bool:
    """Whether `text` names an existing file; False for a text no file can have (too long, a NUL byte)."""
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def parse_target_spec(spec: str) -> TargetSpec:
    """Split a spec string into its parts; an existing file path is a base on its own."""
    if _is_file(spec):
        return TargetSpec(spec)
    spec, separator, budget_text = spec.partition(BUDGET_KEY)
    budget = None
    if separator:
        if not budget_text.isdigit():
            raise TargetError(f"target '{spec}{BUDGET_KEY}{budget_text}': the budget must be a number of bytes")
        budget = int(budget_text)
    if separator and _is_file(spec):
        return TargetSpec(spec, arena_cache_size=budget)
    head, separator, config = spec.partition("@")
    if separator and not config:
        raise TargetError(f"target '{spec}': no Vela configuration file after '@'")
    parts = head.split(":")
    if len(parts) > 3 or not parts[0]:
        raise TargetError(
            f"target '{spec}': expected NAME[:SYSTEM_CONFIG[:MEMORY_MODE]][@CONFIG.ini]"
        )
    parts += [""] * (3 - len(parts))
    return TargetSpec(parts[0], parts[1] or None, parts[2] or None, config or None, budget)


def with_arena_cache_size(spec: str, arena_cache_size: int | None) -> str:
    """`spec` with its memory budget set to `arena_cache_size` bytes (None: `spec` as it is)."""
    if arena_cache_size is None:
        return spec
    parsed = parse_target_spec(spec)
    return target_spec(parsed.base, parsed.system_config, parsed.memory_mode, parsed.config, arena_cache_size)


def available_targets() -> list[str]:
    """Names of the built-in targets, sorted."""
    data = resources.files(__name__) / "data"
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in data.iterdir()
        if entry.name.endswith(".toml")
    )


def load_target(spec: str) -> Target:
    """Load the target named by `spec` (a built-in name, a .toml path, or either with Vela parts).

    A string naming an existing file, or ending in `.toml`, is a target file;
    anything else must name a built-in target. A target with a `[vela]` table
    takes its memories from a system config and memory mode (its defaults
    unless the spec names others) of the built-in configuration file or the
    one after `@`. A budget (`#arena_cache_size=BYTES`) replaces the memory
    mode's `arena_cache_size`; a target describing its own memories takes it
    as the size of its staging memory, which it must not exceed.

    A `Target` is immutable, and every pass of a compilation asks for it by
    its spec: it is read once per process, cached by the spec and by the
    modification time and size of the files the spec names (a file changed
    since is read again).
    """
    parsed = parse_target_spec(spec)
    return _load_target(spec, _file_stamp(parsed.base), _file_stamp(parsed.config))


def _file_stamp(path: str | None) -> tuple[int, int] | None:
    """(modification time, size) of the file `path` names; None when it names none (a built-in target)."""
    if not path:
        return None
    try:
        status = os.stat(path)
    except (OSError, ValueError):  # no such file, or a NUL byte in the name: loading says which
        return None
    return status.st_mtime_ns, status.st_size


@lru_cache(maxsize=64)
def _load_target(spec: str, *file_stamps: tuple[int, int] | None) -> Target:
    """`load_target`'s work; `file_stamps` only key the cache."""
    parsed = parse_target_spec(spec)
    document, source = _base_document(parsed.base)
    document = with_base(document, source, _common_document)
    accelerator, memory = read_target(TableReader(source, document, ""))
    name = accelerator.name
    if isinstance(memory, VelaLink):
        link = memory
        system = parsed.system_config or link.system_config
        mode = parsed.memory_mode or link.memory_mode
        memory = _vela_config(parsed.config).memory_system(system, mode, link.ports, parsed.arena_cache_size)
        if parsed.config or (system, mode) != (link.system_config, link.memory_mode) or parsed.arena_cache_size:
            name = target_spec(accelerator.name, system, mode, parsed.config, parsed.arena_cache_size)
    elif parsed.system_config or parsed.memory_mode or parsed.config:
        raise TargetError(
            f"target '{spec}': {accelerator.name} describes its own memories; a system config, "
            "memory mode or Vela configuration file applies only to targets with a [vela] table"
        )
    elif parsed.arena_cache_size is not None:
        memory = _with_budget(memory, parsed.arena_cache_size, spec)
        name = target_spec(name, arena_cache_size=parsed.arena_cache_size)
    return Target(
        **_fields(accelerator),
        **_fields(memory),
        name=name,
        source=spec,
        accelerator=accelerator.name,
    )


def _with_budget(memory: MemorySystem, budget: int, spec: str) -> MemorySystem:
    """`memory` with its staging memory cut to `budget` bytes (a target that describes its own memories)."""
    staging = next(m for m in memory.memories if m.name == memory.staging_memory)
    if budget > staging.size:
        raise TargetError(
            f"target '{spec}': arena cache size {budget} is beyond the {staging.size} bytes of "
            f"memory '{staging.name}'"
        )
    memories = tuple(replace(m, size=budget) if m is staging else m for m in memory.memories)
    return replace(memory, memories=memories, arena_cache_size=budget)


def _fields(part: Any) -> dict[str, Any]:
    """The fields of a target part (accelerator or memory system) but its name."""
    return {field.name: getattr(part, field.name) for field in fields(part) if field.name != "name"}


def _base_document(base: str) -> tuple[dict[str, Any], str]:
    """The decoded TOML of a built-in target or a target file, and its name for errors."""
    if base.endswith(".toml") or _is_file(base):
        return _decode(_read_text(base, "target file"), base), base
    if base not in available_targets():
        known = ", ".join(available_targets())
        raise TargetError(
            f"unknown target '{base}' (built-in targets: {known}; or give the path of a .toml file)"
        )
    return _decode(_data_text(f"{base}.toml"), base), base


def _common_document(name: str) -> dict[str, Any]:
    """A `base` document: a built-in target or a shared file in `data/common/`."""
    if name in available_targets():
        return _decode(_data_text(f"{name}.toml"), name)
    common = resources.files(__name__) / "data" / "common" / f"{name}.toml"
    if not common.is_file():
        raise TargetError(f"unknown base '{name}' (a built-in target or a file in npuc/targets/data/common)")
    return _decode(common.read_text(encoding="utf-8"), name)


def _data_text(name: str) -> str:
    return (resources.files(__name__) / "data" / name).read_text(encoding="utf-8")


def _decode(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TargetError(f"{source}: not valid TOML: {error}") from None


def _vela_config(config: str | None) -> VelaConfig:
    """The Vela configuration file `config`, or the built-in one when `None`."""
    if config is None:
        return VelaConfig(_data_text(BUILTIN_CONFIG), BUILTIN_CONFIG)
    return VelaConfig(_read_text(config, "Vela configuration file"), config)


def _read_text(path: str, what: str) -> str:
    """The UTF-8 text of the file `path`, `what` naming it in a `TargetError` if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TargetError(f"{path}: cannot read {what}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise TargetError(f"{path}: cannot read {what}: not UTF-8 text (byte {error.start})") from None
    except ValueError as error:  # a NUL byte in the path
        raise TargetError(f"{path!r}: cannot read {what}: {error}") from None
