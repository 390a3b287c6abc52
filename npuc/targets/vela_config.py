"""System configurations and memory modes from Vela configuration files (`vela.ini`).

A Vela configuration file is a Python ConfigParser file with sections
`[System_Config.NAME]` (core clock, which memory sits on AXI ports 0 and 1,
and per memory its clock scale, ports used, burst length, read/write latency
and outstanding transactions) and `[Memory_Mode.NAME]` (which port holds the
constants, the arena and the cache, and the cache size). A section may
`inherit` another; its own keys override the inherited ones. npuc reads a
user's file as is, with Vela's meanings and Vela's defaults for absent keys,
and turns the chosen pair of sections into a `MemorySystem` for one
accelerator (whose AXI port width and address width it needs).

Memory names: Vela's `Sram`, `Dram`, `OnChipFlash` and `OffChipFlash` are
npuc's `sram`, `dram`, `on_chip_flash` and `flash`.
"""

from __future__ import annotations

import configparser
import math
from dataclasses import dataclass, replace

from npuc.errors import TargetError
from npuc.targets.description import Memory, MemorySystem

SYSTEM_PREFIX = "System_Config."
MODE_PREFIX = "Memory_Mode."

MEMORY_NAMES = {
    "Sram": "sram",
    "Dram": "dram",
    "OnChipFlash": "on_chip_flash",
    "OffChipFlash": "flash",
}
"""Vela memory area -> npuc memory name."""

PORTS = ("Axi0", "Axi1")
CONSTANT_AREAS = ("Dram", "OnChipFlash", "OffChipFlash")
ARENA_AREAS = ("Sram", "Dram")
CACHE_AREAS = ("Sram",)
"""Where Vela allows constants, the arena and the cache to live."""


@dataclass(frozen=True)
class AxiPorts:
    """What an accelerator's AXI ports give a memory system: width and address space."""

    bytes_per_cycle: float
    address_bits: int


class VelaConfig:
    """A parsed Vela configuration file; `source` names it in errors."""

    def __init__(self, text: str, source: str):
        self.source = source
        self.parser = configparser.ConfigParser()
        try:
            self.parser.read_string(text, source)
        except configparser.Error as error:
            detail = " ".join(str(error).split())
            raise TargetError(f"{source}: not a valid Vela configuration file: {detail}") from None

    def names(self, prefix: str) -> list[str]:
        """Names of the sections starting with `prefix`, in file order."""
        return [s.removeprefix(prefix) for s in self.parser.sections() if s.startswith(prefix)]

    def _section(self, prefix: str, name: str, what: str) -> str:
        section = prefix + name
        if not self.parser.has_section(section):
            known = ", ".join(self.names(prefix)) or "none"
            raise TargetError(f"{self.source}: no {what} '{name}' (section [{section}]; known: {known})")
        return section

    def value(self, section: str, key: str, default: str, seen: tuple[str, ...] = ()) -> str:
        """`key` of `section`, following `inherit`: own keys win over inherited ones."""
        if section in seen:
            chain = " -> ".join((*seen, section))
            raise TargetError(f"{self.source}: [{seen[0]}] inherits itself ({chain})")
        result = default
        if self.parser.has_option(section, "inherit"):
            parent = self._get(section, "inherit")
            if not self.parser.has_section(parent):
                raise TargetError(f"{self.source}: [{section}] inherits missing section [{parent}]")
            result = self.value(parent, key, default, (*seen, section))
        if self.parser.has_option(section, key):
            result = self._get(section, key)
        return result

    def _get(self, section: str, key: str) -> str:
        """`key` of `section` itself, its `%(name)s` references replaced (ConfigParser's, as in Vela)."""
        try:
            return self.parser.get(section, key)
        except configparser.InterpolationError as error:  # a reference to no key, or a loop
            detail = " ".join(str(error).split())
            raise TargetError(f"{self.source}: [{section}] {key}: {detail}") from None

    def positive_number(self, section: str, key: str, default: float) -> float:
        """`key` of `section` as a finite float greater than 0 (Vela's `float()`, without nan and inf)."""
        text = self.value(section, key, str(default))
        try:
            value = float(text)
        except ValueError:
            raise TargetError(
                f"{self.source}: [{section}] {key}: expected a number, got '{text}'"
            ) from None
        if not (math.isfinite(value) and value > 0):
            raise TargetError(
                f"{self.source}: [{section}] {key}: must be a finite number greater than 0, got {value}"
            )
        return value

    def integer(self, section: str, key: str, default: int) -> int:
        """`key` of `section` as a non-negative integer (Vela's `int()`)."""
        text = self.value(section, key, str(default))
        try:
            value = int(text)
        except ValueError:
            raise TargetError(f"{self.source}: [{section}] {key}: expected an integer, got '{text}'") from None
        if value < 0:
            raise TargetError(f"{self.source}: [{section}] {key}: must be at least 0, got {value}")
        return value

    def choice(self, section: str, key: str, default: str, allowed: tuple[str, ...]) -> str:
        """`key` of `section`, which must be one of `allowed`."""
        text = self.value(section, key, default)
        if text not in allowed:
            raise TargetError(
                f"{self.source}: [{section}] {key}: unknown value '{text}' (known: {', '.join(allowed)})"
            )
        return text

    def memory_system(
        self, system_config: str, memory_mode: str, ports: AxiPorts, arena_cache_size: int | None = None
    ) -> MemorySystem:
        """The memories and roles of `system_config` under `memory_mode` (Vela's rules).

        `arena_cache_size`, when given, replaces the memory mode's key of that
        name (Vela's `--arena-cache-size`).

        Absent keys take Vela's defaults: clock 1 Hz, both ports on `Sram`,
        clock scale 1, one port used, burst length 1, latency 0, one read and
        one write in flight, every role on `Axi0`, and a cache as large as the
        address space. As in Vela, a memory mode that puts constants, arena
        and cache all in the SRAM keeps constants in a separate `OnChipFlash`
        with the SRAM's characteristics on the other port.
        """
        system = self._section(SYSTEM_PREFIX, system_config, "system config")
        mode = self._section(MODE_PREFIX, memory_mode, "memory mode")
        areas = {port: self.choice(system, f"{port.lower()}_port", "Sram", tuple(MEMORY_NAMES)) for port in PORTS}
        characteristics = {area: self._characteristics(system, area, ports) for area in areas.values()}
        const, arena, cache = (
            self.choice(mode, f"{role}_mem_area", "Axi0", PORTS) for role in ("const", "arena", "cache")
        )
        address_space = 1 << ports.address_bits
        budget = arena_cache_size
        where = "arena cache size"
        if budget is None and self.value(mode, "arena_cache_size", ""):
            budget = self.integer(mode, "arena_cache_size", address_space)
            where = f"{self.source}: [{mode}] arena_cache_size"
        cache_size = address_space if budget is None else budget
        if cache_size > address_space:
            raise TargetError(f"{where}: {cache_size} is beyond the {ports.address_bits}-bit address space")
        if areas[const] == "Sram" and const == arena == cache:
            const = PORTS[1 - PORTS.index(const)]
            areas[const] = "OnChipFlash"
            characteristics["OnChipFlash"] = characteristics["Sram"]
        for role, port, allowed in (("const", const, CONSTANT_AREAS), ("arena", arena, ARENA_AREAS),
                                    ("cache", cache, CACHE_AREAS)):
            if areas[port] not in allowed:
                raise TargetError(
                    f"{self.source}: memory mode '{memory_mode}' puts the {role} area in "
                    f"{areas[port]} ({port} of system config '{system_config}'); "
                    f"it must be in {' or '.join(allowed)}"
                )
        memories = []
        for port in dict.fromkeys(p for p in PORTS if p in (const, arena, cache)):
            size = cache_size if port == cache else address_space
            area = areas[port]
            memories.append(replace(characteristics[area], name=MEMORY_NAMES[area], port=port, size=size))
        return MemorySystem(
            system_config=system_config,
            memory_mode=memory_mode,
            clock_hz=self.positive_number(system, "core_clock", 1.0),
            memories=tuple(memories),
            arena_memory=MEMORY_NAMES[areas[arena]],
            weights_memory=MEMORY_NAMES[areas[const]],
            staging_memory=MEMORY_NAMES[areas[cache]],
            arena_cache_size=budget,
        )

    def _characteristics(self, system: str, area: str, ports: AxiPorts) -> Memory:
        """A memory's numbers without its name, port and size.

        bandwidth (bytes/cycle) = AXI port width x ports used x clock scale.
        """
        ports_used = max(1, self.integer(system, f"{area}_ports_used", 1))
        scale = self.positive_number(system, f"{area}_clock_scale", 1.0)
        burst = self.integer(system, f"{area}_burst_length", 1)
        if burst < 1:
            raise TargetError(f"{self.source}: [{system}] {area}_burst_length: must be at least 1, got {burst}")
        return Memory(
            name="",
            size=0,
            bandwidth=ports.bytes_per_cycle * ports_used * scale,
            read_latency=self.integer(system, f"{area}_read_latency", 0),
            write_latency=self.integer(system, f"{area}_write_latency", 0),
            burst_length=burst,
            port="",
            max_reads=self.integer(system, f"{area}_max_reads", 1),
            max_writes=self.integer(system, f"{area}_max_writes", 1),
        )
