"""Target descriptions: every hardware number the compiler uses, loaded from TOML.

A `Target` says which operators the NPU runs and under which constraints
(legalization), how fast it computes (cost model), which output block shapes it
can use and how large its shared buffer is (tiling), and which memories hold
activations and weights (allocation). Passes read these numbers from the
`Target`; none of them hard-codes a hardware fact.

Targets are TOML files. Built-in ones live in `npuc/targets/data/` and are
loaded by name (`load_target("ethos-u55-128")`); any other file is loaded by
path. The schema is documented in `docs/targets.md`. Every user mistake in a
file (missing field, wrong type, unknown memory) raises `TargetError` with a
single line naming the file and the field.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from npuc.errors import TargetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

__all__ = [
    "OPERATOR_KINDS",
    "DATA_TYPES",
    "ACTIVATIONS",
    "Range",
    "BlockShape",
    "FeatureMapLimit",
    "KernelRule",
    "OperatorRule",
    "Memory",
    "Throughput",
    "Target",
    "load_target",
    "available_targets",
]

OPERATOR_KINDS = (
    "conv2d",
    "depthwise_conv2d",
    "fully_connected",
    "add",
    "max_pool2d",
    "avg_pool2d",
    "reshape",
)
"""NPU operator kinds a target may list under `[operators]`."""

DATA_TYPES = ("int8", "uint8", "int16", "int32")
"""Element types a target may list as supported by an operator."""

ACTIVATIONS = ("none", "relu", "relu6", "relu_n1_to_1")
"""Fused activations a target may list as supported by an operator."""


@dataclass(frozen=True)
class Range:
    """An inclusive integer range `[low, high]`, e.g. the legal strides."""

    low: int
    high: int

    def __contains__(self, value: int) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"[{self.low}, {self.high}]"


@dataclass(frozen=True)
class BlockShape:
    """An output-feature-map block shape (height, width, depth) in elements."""

    height: int
    width: int
    depth: int

    @property
    def elements(self) -> int:
        """Number of elements in one block."""
        return self.height * self.width * self.depth


@dataclass(frozen=True)
class FeatureMapLimit:
    """Largest feature map (height, width, depth) an operator accepts on the NPU."""

    height: int
    width: int
    depth: int

    def admits(self, height: int, width: int, depth: int) -> bool:
        """Whether a feature map of this shape is within the limit."""
        return height <= self.height and width <= self.width and depth <= self.depth


@dataclass(frozen=True)
class KernelRule:
    """Constraints on a windowed operator's kernel (convolution, pooling).

    Kernel height, width and area are those of the dilated kernel, as the
    hardware sees it. `padded_size`, when set, bounds each kernel dimension of
    an operator that pads its input (Ethos-U average pooling with SAME padding
    is limited to 8x8); `None` means padding adds no constraint.
    """

    height: Range
    width: Range
    area_max: int
    stride: Range
    dilation: Range
    padded_size: Range | None


@dataclass(frozen=True)
class OperatorRule:
    """What the NPU accepts for one operator kind; used by legalization.

    `kernel` is `None` for operators without a window (fully connected,
    elementwise, reshape).
    """

    kind: str
    data_types: tuple[str, ...]
    activations: tuple[str, ...]
    max_ifm: FeatureMapLimit
    max_ofm: FeatureMapLimit
    kernel: KernelRule | None


@dataclass(frozen=True)
class Memory:
    """One memory the NPU reaches over its bus.

    `bandwidth` is in bytes per NPU clock cycle; latencies are in NPU cycles;
    `burst_length` is the transfer size in bytes that reaches full bandwidth.
    """

    name: str
    size: int
    bandwidth: float
    read_latency: int
    write_latency: int
    burst_length: int


@dataclass(frozen=True)
class Throughput:
    """Compute rates of the NPU, for the cost model.

    Rates are per NPU cycle. `ifm_depth_step` is how many input channels one
    MAC step consumes (convolution depth is rounded up to it),
    `kernel_element_step` how many kernel elements one depthwise step consumes,
    `ofm_block_depth` the output-channel granule weights are streamed in, and
    `command_overhead_cycles` the fixed cost of issuing one NPU command.
    """

    macs_per_cycle: int
    depthwise_macs_per_cycle: int
    elementwise_elements_per_cycle: float
    pooling_elements_per_cycle: float
    output_elements_per_cycle: float
    ifm_depth_step: int
    kernel_element_step: int
    ofm_block_depth: int
    command_overhead_cycles: int


@dataclass(frozen=True)
class Target:
    """A complete description of one NPU and its memory system.

    `arena_memory` holds activations, `weights_memory` holds constants as
    stored in the image, and `staging_memory` is where weights are copied by
    DMA before an operator uses them; all three name entries of `memories`.
    `alignment` (bytes) applies to every buffer placement. `shram_bytes` is the
    NPU's internal shared buffer, of which `shram_reserved_bytes` are not
    available for IFM and accumulator blocks. Every block in `block_configs` is
    a multiple of `ofm_ublock`. Operator kinds absent from `operators` do not
    run on the NPU. `source` is the built-in name or file path it was loaded
    from.
    """

    name: str
    description: str
    source: str
    clock_hz: float
    alignment: int
    memories: tuple[Memory, ...]
    arena_memory: str
    weights_memory: str
    staging_memory: str
    throughput: Throughput
    shram_bytes: int
    shram_reserved_bytes: int
    ofm_ublock: BlockShape
    block_configs: tuple[BlockShape, ...]
    operators: tuple[OperatorRule, ...]

    def memory(self, name: str) -> Memory:
        """The memory called `name`; `TargetError` if the target has none."""
        for memory in self.memories:
            if memory.name == name:
                return memory
        known = ", ".join(m.name for m in self.memories)
        raise TargetError(
            f"target '{self.name}' has no memory '{name}' (it has: {known})"
        )

    @property
    def shram_usable_bytes(self) -> int:
        """Shared-buffer bytes available for IFM and accumulator blocks."""
        return self.shram_bytes - self.shram_reserved_bytes

    def operator_rule(self, kind: str) -> OperatorRule | None:
        """The constraints for operator `kind`, or `None` if the NPU lacks it."""
        for rule in self.operators:
            if rule.kind == kind:
                return rule
        return None

    def supports(self, kind: str) -> bool:
        """Whether operator `kind` runs on the NPU at all."""
        return self.operator_rule(kind) is not None


def available_targets() -> list[str]:
    """Names of the built-in targets, sorted."""
    data = resources.files(__name__) / "data"
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in data.iterdir()
        if entry.name.endswith(".toml")
    )


def load_target(name_or_path: str) -> Target:
    """Load a built-in target by name, or a target TOML file by path.

    A string naming an existing file, or ending in `.toml`, is a path;
    anything else must be a built-in target name.
    """
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") or path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise TargetError(
                f"{name_or_path}: cannot read target file: {error.strerror}"
            ) from None
        return _parse_target(text, name_or_path)
    if name_or_path not in available_targets():
        known = ", ".join(available_targets())
        raise TargetError(
            f"unknown target '{name_or_path}' (built-in targets: {known}; "
            "or give the path of a .toml file)"
        )
    resource = resources.files(__name__) / "data" / f"{name_or_path}.toml"
    return _parse_target(resource.read_text(encoding="utf-8"), name_or_path)


def _parse_target(text: str, source: str) -> Target:
    """Decode and validate a target TOML document; `source` names it in errors."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TargetError(f"{source}: not valid TOML: {error}") from None
    return _Reader(source, document, "").target()


class _Reader:
    """Strictly typed access to one TOML table, reporting errors by field path."""

    def __init__(self, source: str, table: dict[str, Any], path: str):
        self.source = source
        self.table = table
        self.path = path
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> TargetError:
        """A `TargetError` naming the file and field `key` of this table."""
        return TargetError(f"{self.source}: field '{self._field(key)}': {problem}")

    def _field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str) -> Any:
        self.used.add(key)
        if key not in self.table:
            raise self.fail(key, "missing")
        return self.table[key]

    def has(self, key: str) -> bool:
        """Whether optional field `key` is present."""
        return key in self.table

    def string(self, key: str) -> str:
        """Field `key` as a string."""
        value = self._get(key)
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_type_name(value)}")
        return value

    def integer(self, key: str, minimum: int = 0) -> int:
        """Field `key` as an integer no smaller than `minimum`."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {_type_name(value)}")
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def positive_number(self, key: str) -> float:
        """Field `key` as a number (integer or float) greater than zero."""
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"expected a number, got {_type_name(value)}")
        if not value > 0:
            raise self.fail(key, f"must be greater than 0, got {value}")
        return float(value)

    def int_list(self, key: str, length: int | None = None) -> list[int]:
        """Field `key` as a list of positive integers (of `length`, if given)."""
        value = self._get(key)
        return self._checked_int_list(key, value, length)

    def _checked_int_list(self, key: str, value: Any, length: int | None) -> list[int]:
        wanted = f"a list of {length} positive integers" if length else "a list of positive integers"
        if not isinstance(value, list) or (length is not None and len(value) != length):
            raise self.fail(key, f"expected {wanted}, got {_describe(value)}")
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or item < 1:
                raise self.fail(key, f"expected {wanted}, got {_describe(value)}")
        return value

    def choices(self, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        """Field `key` as a non-empty list of strings drawn from `allowed`."""
        value = self._get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"expected a non-empty list of strings, got {_describe(value)}")
        for item in value:
            if item not in allowed:
                raise self.fail(key, f"unknown value '{item}' (known: {', '.join(allowed)})")
        return tuple(value)

    def range(self, key: str) -> Range:
        """Field `key` as an inclusive range `[low, high]` of positive integers."""
        low, high = self.int_list(key, 2)
        if low > high:
            raise self.fail(key, f"range [{low}, {high}] is empty")
        return Range(low, high)

    def sub(self, key: str) -> _Reader:
        """Field `key` as a nested table."""
        value = self._get(key)
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table, got {_type_name(value)}")
        return _Reader(self.source, value, self._field(key))

    def done(self) -> None:
        """Reject fields of this table that were never read (typos, stale keys)."""
        for key in self.table:
            if key not in self.used:
                raise self.fail(key, "unknown field")

    # -- schema ---------------------------------------------------------------

    def target(self) -> Target:
        """Read the whole document as a `Target`."""
        name = self.string("name")
        description = self.string("description")
        clock_hz = self.positive_number("clock_hz")
        alignment = self.integer("alignment", minimum=1)
        if alignment & (alignment - 1):
            raise self.fail("alignment", f"must be a power of two, got {alignment}")

        memories_table = self.sub("memories")
        memories = tuple(
            memories_table.sub(key).memory(key) for key in memories_table.table
        )
        memories_table.done()
        if not memories:
            raise self.fail("memories", "at least one memory is required")
        memory_names = [m.name for m in memories]
        roles = {}
        for role in ("arena_memory", "weights_memory", "staging_memory"):
            roles[role] = self.string(role)
            if roles[role] not in memory_names:
                raise self.fail(
                    role,
                    f"unknown memory '{roles[role]}' (memories: {', '.join(memory_names)})",
                )

        throughput_table = self.sub("throughput")
        throughput = throughput_table.throughput()

        shram_bytes = self.integer("shram_bytes", minimum=1)
        shram_reserved_bytes = self.integer("shram_reserved_bytes")
        if shram_reserved_bytes >= shram_bytes:
            raise self.fail(
                "shram_reserved_bytes",
                f"must be less than shram_bytes ({shram_bytes}), got {shram_reserved_bytes}",
            )
        ofm_ublock = BlockShape(*self.int_list("ofm_ublock", 3))
        block_configs = self.block_configs(ofm_ublock)

        operators_table = self.sub("operators")
        operators = []
        for kind in operators_table.table:
            if kind not in OPERATOR_KINDS:
                raise operators_table.fail(
                    kind, f"unknown operator kind (known: {', '.join(OPERATOR_KINDS)})"
                )
            operators.append(operators_table.sub(kind).operator_rule(kind))
        operators_table.done()
        self.done()
        return Target(
            name=name,
            description=description,
            source=self.source,
            clock_hz=clock_hz,
            alignment=alignment,
            memories=memories,
            throughput=throughput,
            shram_bytes=shram_bytes,
            shram_reserved_bytes=shram_reserved_bytes,
            ofm_ublock=ofm_ublock,
            block_configs=block_configs,
            operators=tuple(operators),
            **roles,
        )

    def memory(self, name: str) -> Memory:
        """Read this table as the `Memory` called `name`."""
        memory = Memory(
            name=name,
            size=self.integer("size", minimum=1),
            bandwidth=self.positive_number("bandwidth"),
            read_latency=self.integer("read_latency"),
            write_latency=self.integer("write_latency"),
            burst_length=self.integer("burst_length", minimum=1),
        )
        self.done()
        return memory

    def throughput(self) -> Throughput:
        """Read this table as the `Throughput` numbers."""
        throughput = Throughput(
            macs_per_cycle=self.integer("macs_per_cycle", minimum=1),
            depthwise_macs_per_cycle=self.integer("depthwise_macs_per_cycle", minimum=1),
            elementwise_elements_per_cycle=self.positive_number("elementwise_elements_per_cycle"),
            pooling_elements_per_cycle=self.positive_number("pooling_elements_per_cycle"),
            output_elements_per_cycle=self.positive_number("output_elements_per_cycle"),
            ifm_depth_step=self.integer("ifm_depth_step", minimum=1),
            kernel_element_step=self.integer("kernel_element_step", minimum=1),
            ofm_block_depth=self.integer("ofm_block_depth", minimum=1),
            command_overhead_cycles=self.integer("command_overhead_cycles"),
        )
        self.done()
        return throughput

    def block_configs(self, ublock: BlockShape) -> tuple[BlockShape, ...]:
        """Read `block_configs`: a non-empty list of [h, w, c] multiples of `ublock`."""
        value = self._get("block_configs")
        if not isinstance(value, list) or not value:
            raise self.fail("block_configs", f"expected a non-empty list of [h, w, c], got {_describe(value)}")
        shapes = []
        for entry in value:
            shape = BlockShape(*self._checked_int_list("block_configs", entry, 3))
            if shape.height % ublock.height or shape.width % ublock.width or shape.depth % ublock.depth:
                raise self.fail(
                    "block_configs",
                    f"block {entry} is not a multiple of ofm_ublock "
                    f"[{ublock.height}, {ublock.width}, {ublock.depth}]",
                )
            shapes.append(shape)
        return tuple(shapes)

    def feature_map_limit(self) -> FeatureMapLimit:
        """Read this table as a `FeatureMapLimit`."""
        limit = FeatureMapLimit(
            height=self.integer("height", minimum=1),
            width=self.integer("width", minimum=1),
            depth=self.integer("depth", minimum=1),
        )
        self.done()
        return limit

    def kernel_rule(self) -> KernelRule:
        """Read this table as a `KernelRule`."""
        rule = KernelRule(
            height=self.range("height"),
            width=self.range("width"),
            area_max=self.integer("area_max", minimum=1),
            stride=self.range("stride"),
            dilation=self.range("dilation"),
            padded_size=self.range("padded_size") if self.has("padded_size") else None,
        )
        self.done()
        return rule

    def operator_rule(self, kind: str) -> OperatorRule:
        """Read this table as the `OperatorRule` for operator `kind`."""
        rule = OperatorRule(
            kind=kind,
            data_types=self.choices("data_types", DATA_TYPES),
            activations=self.choices("activations", ACTIVATIONS),
            max_ifm=self.sub("max_ifm").feature_map_limit(),
            max_ofm=self.sub("max_ofm").feature_map_limit(),
            kernel=self.sub("kernel").kernel_rule() if self.has("kernel") else None,
        )
        self.done()
        return rule


def _type_name(value: Any) -> str:
    """TOML-flavoured name of a decoded value's type, for error messages."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    """Short description of a decoded value for error messages."""
    if isinstance(value, list):
        return f"{value!r}" if len(repr(value)) <= 60 else "a long array"
    return _type_name(value)
