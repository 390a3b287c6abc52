"""The report document: one JSON-ready dict every report format is written from.

`build_report` joins the cost model's estimate (`NetworkCost`), the target,
the lowered module (for live bytes and block geometry) and the layer graph
(original operators and edges) into the versioned `npuc-report` document
described in docs/report-format.md. The text, CSV, JSON, HTML and trace
writers only format it, so they agree with each other by construction.
Floats are rounded to 6 significant digits and rows keep program order, so
the same inputs give the same document, byte for byte once serialised.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from xdsl.dialects.builtin import ModuleOp, StringAttr

from npuc.backend.allocation import bytes_per_position, peak_live_bytes
from npuc.cost.model import CPU, DMA_ENGINE, CommandCost, LayerCost, NetworkCost
from npuc.dialects.common import layer_name
from npuc.dialects.npu import CpuOp, YieldOp
from npuc.dialects.quantized import ONNXRUNTIME_ROUNDING, rounding_mode
from npuc.report.advice import advice_lines
from npuc.report.network import LAYER, LayerGraph, LayerNode
from npuc.report.usage import live_ranges
from npuc.targets import Target

SCHEMA = "npuc-report"
VERSION = 8

LANES = {"dma_in": "DMA in", "dma_out": "DMA out", "mac": "MAC", "elementwise": "Elementwise", "cpu": "CPU"}
"""Timeline lanes (command `lane` values) and their display names, in display order."""

ROUNDING_NOTE = (
    "QDQ model: the NPU requantizes with fixed-point multipliers (TFLite semantics); "
    "onnxruntime rounds in float; outputs may differ by a few steps"
)
"""The summary's `rounding_note` for a module imported from a QDQ ONNX model."""


def number(value: float) -> float:
    """A float rounded to 6 significant digits, so its JSON text is stable."""
    return float(f"{value:.6g}")


def percent(part: float, whole: float) -> float:
    """`part` as a percentage of `whole` (0 when `whole` is 0)."""
    return number(100.0 * part / whole) if whole else 0.0


def lane(command: CommandCost, target: Target) -> str:
    """The timeline lane of a command: DMA into the staging memory or out of it, MAC, elementwise, CPU."""
    if command.engine == CPU:
        return "cpu"
    if command.engine == DMA_ENGINE:
        return "dma_in" if target.staging_memory in command.bytes_written else "dma_out"
    if command.kind == "elementwise" and "elementwise" in target.engines:
        return "elementwise"
    return "mac"


def _memories(target: Target) -> dict[str, Any]:
    roles = {"arena": target.arena_memory, "weights": target.weights_memory, "staging": target.staging_memory}
    return {
        memory.name: {
            "size": memory.size,
            "port": memory.port,
            "bandwidth_bytes_per_cycle": number(memory.bandwidth),
            "peak_bandwidth_bytes_per_s": number(target.peak_bandwidth(memory.name)),
            "burst_length": memory.burst_length,
            "read_latency": memory.read_latency,
            "write_latency": memory.write_latency,
            "max_reads": memory.max_reads,
            "max_writes": memory.max_writes,
            "roles": [role for role, name in roles.items() if name == memory.name],
        }
        for memory in target.memories
    }


def cpu_estimate_note(target: Target) -> str:
    """The summary's `cpu_estimate_note`: which figure is an estimate, and from what."""
    return (
        f"CPU cycles are an estimate: the {target.host_cpu.core} at {target.host_clock_hz / 1e6:g} MHz, "
        "priced per operator from the target's [host_cpu] rates, in cycles of the NPU clock"
    )


def _summary(cost: NetworkCost, target: Target, staging_peak: int) -> dict[str, Any]:
    moved = {m: cost.bytes_read[m] + cost.bytes_written[m] for m in cost.memories}
    seconds = cost.inference_time_s
    return {
        "target": cost.target,
        "accelerator": target.accelerator,
        "system_config": target.system_config,
        "memory_mode": target.memory_mode,
        "clock_hz": number(cost.clock_hz),
        "macs_per_cycle": cost.macs_per_cycle,
        "memories": _memories(target),
        "total_cycles": cost.total_cycles,
        "npu_cycles": cost.npu_cycles,
        "cpu_cycles": cost.cpu_cycles,
        "host_cpu": {"core": target.host_cpu.core, "clock_hz": number(target.host_clock_hz)},
        "cpu_estimate_note": cpu_estimate_note(target),
        "inference_time_s": number(seconds),
        "inferences_per_second": number(cost.inferences_per_second),
        "macs": cost.macs,
        "operations": 2 * cost.macs,
        "operations_per_second": number(2 * cost.macs / seconds) if seconds else 0.0,
        "utilisation_percent": number(100.0 * cost.utilisation),
        "bytes_read": dict(cost.bytes_read),
        "bytes_written": dict(cost.bytes_written),
        "average_bandwidth_bytes_per_s": {m: number(moved[m] / seconds) if seconds else 0.0 for m in cost.memories},
        "peak_memory": dict(cost.peak_memory),
        "staging_peak": staging_peak,
        "weight_bytes": cost.weight_bytes,
        "original_weight_bytes": cost.original_weight_bytes,
        "encoded_weight_bytes": cost.encoded_weight_bytes,
        "npu_operators": cost.npu_operators,
        "cpu_operators": cost.cpu_operators,
    }


def cpu_operations(module: ModuleOp | None) -> list[dict[str, str]]:
    """`{layer, operator, reason}` of every `npu.cpu_op` of a lowered module, in program order.

    The operator is the body op's name without its dialect (`softmax`), with
    its `kind` if it has one (`reduce mean`), or the `op_type` of a
    `quantized.external` (`GATHER`); the reason is the target rule
    npu-legalize found violated. Empty without a module.
    """
    if module is None:
        return []
    return [
        {"layer": layer_name(op), "operator": _cpu_operator(op), "reason": op.reason.data if op.reason else ""}
        for op in module.ops
        if isinstance(op, CpuOp)
    ]


def _cpu_operator(op: CpuOp) -> str:
    names = []
    for inner in op.body.block.ops:
        op_type = inner.properties.get("op_type")
        if isinstance(op_type, StringAttr):
            names.append(op_type.data)
        elif not isinstance(inner, YieldOp) and inner.name != "quantized.constant":
            kind = inner.properties.get("kind")
            suffix = f" {kind.data}" if isinstance(kind, StringAttr) else ""
            names.append(inner.name.split(".", 1)[-1] + suffix)
    return "+".join(names)


def _access_cycles(members: Sequence[CommandCost], memories: Sequence[str]) -> dict[str, int]:
    """Cycles each memory is busy for a layer: compute commands' access cycles, DMA copy times."""
    totals = dict.fromkeys(memories, 0)
    for command in members:
        if command.engine == DMA_ENGINE:
            for memory in {*command.bytes_read, *command.bytes_written}:
                totals[memory] += command.cycles
        for memory, cycles in command.access_cycles.items():
            totals[memory] += cycles
    return totals


def _layer(layer: LayerCost, members: Sequence[CommandCost], usage: int, cost: NetworkCost,
           staging_peak: int, operator: str) -> dict[str, Any]:
    return {
        "name": layer.layer,
        "original_operator": operator,
        "operators": list(layer.operators),
        "staging_usage": usage,
        "staging_peak_percent": percent(usage, staging_peak),
        "cycles": layer.cycles,
        "network_percent": percent(layer.cycles, cost.total_cycles),
        "npu_cycles": layer.npu_cycles,
        "cpu_cycles": layer.cpu_cycles,
        "dma_cycles": layer.dma_cycles,
        "access_cycles": _access_cycles(members, cost.memories),
        "macs": layer.macs,
        "mac_percent": percent(layer.macs, cost.macs),
        "utilisation_percent": number(100.0 * layer.utilisation),
        "bytes_read": dict(layer.bytes_read),
        "bytes_written": dict(layer.bytes_written),
        "bound": layer.bound,
        "on_cpu": layer.on_cpu,
        "stripes": layer.stripes,
        "cascade": layer.cascade,
    }


def _command(command: CommandCost, target: Target) -> dict[str, Any]:
    return {
        "index": command.index,
        "layer": command.layer,
        "kind": command.kind,
        "engine": command.engine,
        "lane": lane(command, target),
        "macs": command.macs,
        "compute_cycles": command.compute_cycles,
        "dma_cycles": command.dma_cycles,
        "access_cycles": dict(command.access_cycles),
        "bytes_read": dict(command.bytes_read),
        "bytes_written": dict(command.bytes_written),
        "cycles": command.cycles,
        "estimated": command.engine == CPU,
        "bound": command.bound,
        "start": command.start,
        "end": command.end,
    }


def memory_timeline(cost: NetworkCost, target: Target, module: ModuleOp | None) -> dict[str, Any]:
    """Per target memory: its arena, the peak-live bound and the bytes live at each command.

    `live` has one entry per command in program order: its index, layer and
    start/end cycle on the engine timeline, and the bytes of the memory live
    while it runs (`npuc.report.usage`). `arena` is the highest byte address
    any buffer reaches (the summary's `peak_memory`); `peak_live_bytes` is
    `npuc.backend.allocation.peak_live_bytes` of the same live ranges at the
    target's alignment, the least any placement could need, so `arena -
    peak_live_bytes` bounds what a better placement could save. Empty
    without a module.
    """
    if module is None:
        return {}
    timeline = {}
    for memory in cost.memories:
        ranges = live_ranges(module, memory)
        live = bytes_per_position(ranges, len(cost.commands))
        timeline[memory] = {
            "arena": cost.peak_memory[memory],
            "peak_live_bytes": peak_live_bytes(ranges, target.alignment),
            "live": [
                {"command": command.index, "layer": command.layer, "start": command.start, "end": command.end,
                 "live_bytes": live[command.index]}
                for command in cost.commands
            ],
        }
    return timeline


def _graph(cost: NetworkCost, network: LayerGraph | None) -> dict[str, Any]:
    """Nodes and edges for the graph view; a chain of the costed layers without a layer graph."""
    if network is None:
        nodes = [LayerNode(layer.layer, LAYER, "+".join(layer.operators), ()) for layer in cost.layers]
        edges = list(zip([n.name for n in nodes], [n.name for n in nodes][1:]))
    else:
        nodes, edges = list(network.nodes), list(network.edges)
    return {
        "nodes": [{"name": n.name, "kind": n.kind, "operator": n.operator, "shape": list(n.shape)} for n in nodes],
        "edges": [list(edge) for edge in edges],
    }


def build_report(
    cost: NetworkCost,
    target: Target,
    module: ModuleOp | None = None,
    network: LayerGraph | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report document of an estimate (see the module docstring).

    `module` is the lowered module the estimate was made from (without it,
    staging usage is 0 and the free-channel advice is left out); `network`
    the layer graph taken before lowering (without it, original operators
    are the command kinds and the graph is a chain). `extra` (e.g.
    `{"model": path}`) is added to the summary; its keys must not clash with
    the summary's own.
    """
    memories = memory_timeline(cost, target, module)
    usage = ([entry["live_bytes"] for entry in memories[target.staging_memory]["live"]] if memories
             else [0] * len(cost.commands))
    staging_peak = max(usage, default=0)
    summary = _summary(cost, target, staging_peak)
    summary["cpu_operations"] = cpu_operations(module)
    if module is not None and rounding_mode(module) == ONNXRUNTIME_ROUNDING:
        summary["rounding_note"] = ROUNDING_NOTE
    clashes = sorted(set(summary) & set(extra or {}))
    if clashes:
        raise ValueError(f"extra report fields clash with summary fields: {', '.join(clashes)}")
    members: dict[str, list[CommandCost]] = defaultdict(list)
    for command in cost.commands:
        members[command.layer].append(command)
    layers = []
    for layer in cost.layers:
        own = members[layer.layer]
        operator = (network.operator(layer.layer) if network else None) or "+".join(layer.operators)
        layer_usage = max(usage[command.index] for command in own)
        layers.append(_layer(layer, own, layer_usage, cost, staging_peak, operator))
    summary |= extra or {}
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "summary": summary,
        "layers": layers,
        "commands": [_command(command, target) for command in cost.commands],
        "graph": _graph(cost, network),
        "memory_timeline": memories,
        "advice": advice_lines(module, target, layers, summary),
    }
