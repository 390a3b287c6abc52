"""The `[host_cpu]` table of a target file: the processor that runs CPU operations, and its rates.

A layer the NPU cannot run becomes an `npu.cpu_op` whose body is the
`quantized` op the host executes; the cost model prices it with the rate of
that op's kind (its name without the dialect). Rates count multiply-
accumulates for the layers that have them (`counts_macs`: convolutions,
fully connected, and the window taps of a pool), input elements for
reductions, output elements otherwise; see docs/targets.md.
"""

from __future__ import annotations

from npuc.dialects.quantized import Quantized
from npuc.dialects.window_layers import Pool2dBase, WeightedLayerBase
from npuc.targets.description import HOST_CPU_UNITS, HostCpu, HostRate
from npuc.targets.toml_reader import TableReader

RATE_TABLES = dict(zip(HOST_CPU_UNITS, ("cycles_per_mac", "cycles_per_element", "cycles_per_input_element")))
"""The `[host_cpu]` sub-table of each unit of `HOST_CPU_UNITS`."""

OPERATOR_CLASSES = {
    op.name.split(".", 1)[1]: op for op in Quantized.operations if op.name != "quantized.constant"
}
"""Operator kinds a `[host_cpu]` rate may name: the `quantized` layer ops, by name without the dialect."""


def counts_macs(op_class: type) -> bool:
    """Whether ops of `op_class` may be priced per multiply-accumulate (weighted layers, pools:
    the ops whose MACs `npuc.cost.host.host_macs` counts)."""
    return issubclass(op_class, (WeightedLayerBase, Pool2dBase))


def read_host_cpu(reader: TableReader) -> HostCpu:
    """The `[host_cpu]` table: core, optional clock, default rate and the per-kind rate tables."""
    rates: dict[str, HostRate] = {}
    for unit, table in RATE_TABLES.items():
        if reader.has(table):
            _read_rates(reader.sub(table), unit, rates)
    host = HostCpu(
        core=reader.string("core"),
        clock_hz=reader.positive_number("clock_hz") if reader.has("clock_hz") else None,
        rates=tuple(rates.items()),
        default_cycles_per_element=reader.positive_number("default_cycles_per_element"),
    )
    reader.done()
    return host


def _read_rates(reader: TableReader, unit: str, rates: dict[str, HostRate]) -> None:
    """One rate table into `rates`; a kind must be a `quantized` op, listed once, MACs only where it has them."""
    for kind in reader.table:
        if kind not in OPERATOR_CLASSES:
            raise reader.fail(kind, f"unknown operator kind (known: {', '.join(sorted(OPERATOR_CLASSES))})")
        if kind in rates:
            raise reader.fail(kind, f"'{kind}' already has a rate per {rates[kind].unit.replace('_', ' ')}")
        if unit == "mac" and not counts_macs(OPERATOR_CLASSES[kind]):
            raise reader.fail(kind, "has no multiply-accumulates: give its rate per element")
        rates[kind] = HostRate(unit, reader.positive_number(kind))
    reader.done()
