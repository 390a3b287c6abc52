"""The analytic cost model over lowered `npu` IR: cycles, MACs and bytes per command and layer.

`estimate(module, target)` walks the command list of a lowered module and
gives, per command, its compute cycles (`compute`), memory traffic and access
cycles (`traffic`), the host's estimated time for a CPU operation (`host`)
and its place on the engine timeline (`timeline`); then
it groups commands by their `layer` attribute (the original model node) and
sums the network. Formulas and their reasons: docs/report-format.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from math import ceil

from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation

from npuc.cost.compute import compute_work
from npuc.cost.geometry import block_geometry
from npuc.cost.host import host_cycles
from npuc.cost.timeline import COMPUTE_ENGINE, CPU, DMA_ENGINE, Job, schedule
from npuc.cost.traffic import (
    BufferRoles,
    Transfer,
    access_cycles,
    command_memory,
    compute_transfers,
    dma_bound,
    dma_time,
    placed_command,
    property_spans,
)
from npuc.dialects.common import layer_name
from npuc.dialects.npu import (
    CASCADES_ATTR,
    BufferAttr,
    ComputeOp,
    ConstantOp,
    CpuOp,
    DmaOp,
    FeatureMapAttr,
    FullyConnectedOp,
    InterfaceOp,
    WeightedOp,
)
from npuc.errors import ModelVerificationError
from npuc.targets import Target

COMPUTE_BOUND = "compute"
LATENCY_BOUND = "latency"
CPU_BOUND = "cpu"
"""`bound` values besides memory names: the MAC/elementwise data path, memory
latency (a DMA that waits longer for its first bytes than it transfers) and host work."""


@dataclass(frozen=True)
class CommandCost:
    """The estimate for one command, in program order (`index` counts commands only).

    `kind` is the op name without `npu.`; `engine` is "npu" (compute), "dma"
    or "cpu". `cycles` is the command's own duration: max(compute, access
    cycles of every memory) for compute commands, the copy time for DMAs,
    the host's estimated time for CPU work (`npuc.cost.host`, in cycles of
    the NPU clock like every figure here). `start`/`end` place it on the timeline.
    """

    index: int
    layer: str
    kind: str
    engine: str
    macs: int
    compute_cycles: int
    dma_cycles: int
    bytes_read: Mapping[str, int]
    bytes_written: Mapping[str, int]
    access_cycles: Mapping[str, int]
    cycles: int
    bound: str
    start: int
    end: int


@dataclass(frozen=True)
class LayerCost:
    """The commands of one original layer, summed.

    `cycles` is what the layer adds to the network's timeline (time not
    hidden under earlier commands), so layer cycles add up to the network
    total; `npu_cycles` is the time the compute engine spends on the layer,
    `cpu_cycles` the host's estimated time for it (CPU operations);
    `utilisation` = macs / (npu_cycles x macs_per_cycle). `bound` is that of
    the layer's longest command. `stripes` counts its compute commands (1:
    its OFM at once; more: height stripes, or an NPU softmax's steps);
    `cascade` is the index of its cascade (`npu.cascades`), None outside one.
    """

    layer: str
    operators: tuple[str, ...]
    cycles: int
    npu_cycles: int
    dma_cycles: int
    macs: int
    utilisation: float
    bytes_read: Mapping[str, int]
    bytes_written: Mapping[str, int]
    bound: str
    on_cpu: bool
    cpu_cycles: int = 0
    stripes: int = 1
    cascade: int | None = None


@dataclass(frozen=True)
class NetworkCost:
    """The estimate for a whole lowered module on one target.

    `memories` lists the target's memory names (the order reports use);
    `peak_memory` is the highest byte address any buffer reaches per memory;
    `weight_bytes` the size of all constants; `original_weight_bytes` and
    `encoded_weight_bytes` those of the weights of the weighted layers, as
    int8 tensors and as stored (Ethos-U encoded streams, or the same int8
    bytes on a target that does not encode them; scale/bias tables are not
    weights), each constant counted once (Vela's "Original Weights Size"
    and "NPU Encoded Weights Size"); `npu_operators` and `cpu_operators`
    count compute commands and CPU commands. `total_cycles` is the whole
    timeline, NPU and host: `npu_cycles` (what the NPU's commands take, the
    figure Vela reports) plus `cpu_cycles` (the host's estimated time for
    the CPU operations, during which the NPU waits).
    """

    target: str
    clock_hz: float
    macs_per_cycle: int
    memories: tuple[str, ...]
    commands: tuple[CommandCost, ...]
    layers: tuple[LayerCost, ...]
    total_cycles: int
    peak_memory: Mapping[str, int]
    weight_bytes: int
    original_weight_bytes: int
    encoded_weight_bytes: int
    npu_operators: int
    cpu_operators: int

    @property
    def cpu_cycles(self) -> int:
        """Estimated cycles (NPU clock) the host spends on CPU operations; the NPU waits meanwhile."""
        return sum(command.cycles for command in self.commands if command.engine == CPU)

    @property
    def npu_cycles(self) -> int:
        """Cycles of the NPU's commands: the total without the host's CPU operations."""
        return self.total_cycles - self.cpu_cycles

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole network."""
        return sum(command.macs for command in self.commands)

    @property
    def bytes_read(self) -> dict[str, int]:
        """Bytes read per memory by all commands."""
        return _sum_per_memory(self.memories, (c.bytes_read for c in self.commands))

    @property
    def bytes_written(self) -> dict[str, int]:
        """Bytes written per memory by all commands."""
        return _sum_per_memory(self.memories, (c.bytes_written for c in self.commands))

    @property
    def inference_time_s(self) -> float:
        """Seconds per inference at the target's clock."""
        return self.total_cycles / self.clock_hz

    @property
    def inferences_per_second(self) -> float:
        """Inferences per second at the target's clock (0 for an empty network)."""
        return self.clock_hz / self.total_cycles if self.total_cycles else 0.0

    @property
    def utilisation(self) -> float:
        """Network MACs over the MAC capacity of the compute engine's busy cycles."""
        busy = sum(layer.npu_cycles for layer in self.layers)
        return self.macs / (busy * self.macs_per_cycle) if busy else 0.0


def _sum_per_memory(memories: Iterable[str], tables: Iterable[Mapping[str, int]]) -> dict[str, int]:
    totals = dict.fromkeys(memories, 0)
    for table in tables:
        for memory, count in table.items():
            totals[memory] = totals.get(memory, 0) + count
    return totals


def require_lowered(module: ModuleOp) -> None:
    """Raise `ModelVerificationError` unless `module` holds lowered npu commands."""
    if any(isinstance(op, FuncOp) for op in module.ops):
        raise ModelVerificationError(
            "the cost model runs on lowered npu IR (the module still holds func.func): run npu-lower first"
        )


def commands(module: ModuleOp) -> list[Operation]:
    """The commands of a lowered module in program order (constants and interface ops excluded)."""
    return [op for op in module.ops if not isinstance(op, (ConstantOp, InterfaceOp))]


@dataclass(frozen=True)
class _Estimate:
    """A command's cost before it is placed on the timeline."""

    kind: str
    engine: str
    macs: int
    compute_cycles: int
    dma_cycles: int
    transfers: tuple[Transfer, ...]
    access_cycles: Mapping[str, int]
    cycles: int
    bound: str
    job: Job


def _compute_estimate(op: ComputeOp, target: Target, layer: str, roles: BufferRoles) -> _Estimate:
    geometry = block_geometry(op, target.ofm_ublock)
    placed = placed_command(op, target, roles, layer)
    work = compute_work(placed.shape, geometry, target, command_memory(op, placed, geometry, target, layer))
    transfers = compute_transfers(op, placed, geometry, target, roles)
    access = access_cycles(transfers, target, layer)
    bound, cycles = COMPUTE_BOUND, work.cycles
    for memory, time in access.items():
        if time > cycles:
            bound, cycles = memory, time
    reads = property_spans(op, ("ifm", "ifm2", "weights", "scale_bias", "lut"))
    streamed = tuple(b for b in property_spans(op, ("weights", "scale_bias")) if (b.region.data, b.offset.data) in roles.copies)
    slices = ceil(geometry.ofm[2] / target.throughput.ofm_block_depth)  # weights are encoded per such slice
    job = Job(COMPUTE_ENGINE, cycles, reads, property_spans(op, ("ofm",)), streamed, slices)
    return _Estimate(op.name.removeprefix("npu."), COMPUTE_ENGINE, work.macs, work.cycles, 0,
                     tuple(transfers), access, cycles, bound, job)


def _dma_estimate(op: DmaOp, target: Target, layer: str) -> _Estimate:
    time = dma_time(op, target, layer)
    bound = LATENCY_BOUND if time.latency > time.transfer else dma_bound(op, target, layer)
    size = op.src.size.data
    transfers = (Transfer(op.src.region.data, False, size, size), Transfer(op.dst.region.data, True, size, size))
    job = Job(DMA_ENGINE, time.cycles, (op.src,), (op.dst,))
    return _Estimate("dma", DMA_ENGINE, 0, 0, time.cycles, transfers, {}, time.cycles, bound, job)


def _cpu_estimate(op: CpuOp, target: Target) -> _Estimate:
    reads = tuple(fm.buffer() for fm in op.inputs.data)
    writes = tuple(fm.buffer() for fm in op.outputs.data)
    cycles = host_cycles(op, target)
    return _Estimate("cpu_op", CPU, 0, 0, 0, (), {}, cycles, CPU_BOUND, Job(CPU, cycles, reads, writes))


def _estimate_command(op: Operation, target: Target, layer: str, roles: BufferRoles) -> _Estimate:
    if isinstance(op, DmaOp):
        return _dma_estimate(op, target, layer)
    if isinstance(op, CpuOp):
        return _cpu_estimate(op, target)
    if isinstance(op, ComputeOp):
        return _compute_estimate(op, target, layer, roles)
    raise ModelVerificationError(f"the cost model has no rule for '{op.name}' (layer '{layer}')")


def _bytes(transfers: Iterable[Transfer], write: bool) -> dict[str, int]:
    table: dict[str, int] = defaultdict(int)
    for transfer in transfers:
        if transfer.write == write:
            table[transfer.memory] += transfer.bytes
    return dict(table)


def _command_costs(module: ModuleOp, target: Target) -> list[CommandCost]:
    ops = commands(module)
    layers = [layer_name(op) for op in ops]
    roles = BufferRoles(
        frozenset((op.dst.region.data, op.dst.offset.data) for op in ops if isinstance(op, DmaOp)),
        frozenset(op.fm for op in module.ops if isinstance(op, InterfaceOp))
        | frozenset(fm for op in ops if isinstance(op, CpuOp) for fm in (*op.inputs.data, *op.outputs.data)),
    )
    estimates = [_estimate_command(op, target, layer, roles) for op, layer in zip(ops, layers)]
    times = schedule([estimate.job for estimate in estimates])
    return [
        CommandCost(
            index, layer, e.kind, e.engine, e.macs, e.compute_cycles, e.dma_cycles,
            _bytes(e.transfers, False), _bytes(e.transfers, True), e.access_cycles,
            e.cycles, e.bound, start, end,
        )
        for index, (layer, e, (start, end)) in enumerate(zip(layers, estimates, times))
    ]


def _exposed_cycles(costs: list[CommandCost]) -> list[int]:
    """Cycles each command adds to the timeline; they sum to the total.

    The compute engine's (and the host's) commands own the time from the
    previous such command's end to their own end, stalls for a DMA included;
    a DMA overlapping earlier compute (double-buffered weights) owns nothing,
    except the time it runs past the last compute command.
    """
    horizon, exposed = 0, []
    for cost in costs:
        if cost.engine == DMA_ENGINE:
            exposed.append(0)
            continue
        exposed.append(max(0, cost.end - horizon))
        horizon = max(horizon, cost.end)
    total = max((cost.end for cost in costs), default=0)
    if total > horizon:
        exposed[-1] += total - horizon
    return exposed


def cascade_of_layer(module: ModuleOp) -> dict[str, int]:
    """Layer -> the index of its cascade, from the module's `npu.cascades` (written by npu-lower)."""
    cascades = module.attributes.get(CASCADES_ATTR)
    if not isinstance(cascades, ArrayAttr):
        return {}
    return {
        layer.data: index
        for index, layers in enumerate(cascades.data) if isinstance(layers, ArrayAttr)
        for layer in layers.data if isinstance(layer, StringAttr)
    }  # fmt: skip


def _layer_costs(
    costs: list[CommandCost], macs_per_cycle: int, memories: tuple[str, ...], cascades: Mapping[str, int]
) -> list[LayerCost]:
    groups: dict[str, list[tuple[CommandCost, int]]] = {}
    for cost, exposed in zip(costs, _exposed_cycles(costs)):
        groups.setdefault(cost.layer, []).append((cost, exposed))
    layers = []
    for layer, members in groups.items():
        own = [cost for cost, _ in members]
        npu_cycles = sum(c.cycles for c in own if c.engine == COMPUTE_ENGINE)
        macs = sum(c.macs for c in own)
        longest = max(own, key=lambda c: (c.cycles, c.engine == COMPUTE_ENGINE))
        layers.append(
            LayerCost(
                layer=layer,
                operators=tuple(dict.fromkeys(c.kind for c in own)),
                cycles=sum(exposed for _, exposed in members),
                npu_cycles=npu_cycles,
                dma_cycles=sum(c.dma_cycles for c in own),
                macs=macs,
                utilisation=macs / (npu_cycles * macs_per_cycle) if npu_cycles else 0.0,
                bytes_read=_sum_per_memory(memories, (c.bytes_read for c in own)),
                bytes_written=_sum_per_memory(memories, (c.bytes_written for c in own)),
                bound=longest.bound,
                on_cpu=any(c.engine == CPU for c in own),
                cpu_cycles=sum(c.cycles for c in own if c.engine == CPU),
                stripes=sum(c.engine == COMPUTE_ENGINE for c in own),
                cascade=cascades.get(layer),
            )
        )
    return layers


def _referenced_ends(module: ModuleOp) -> Iterable[tuple[str, int]]:
    """(memory, one past the last byte) of every buffer and feature map the module's ops reference."""
    for op in module.ops:
        for value in op.properties.values():
            attrs = value.data if isinstance(value, ArrayAttr) else (value,)
            for attr in attrs:
                if isinstance(attr, BufferAttr):
                    yield attr.region.data, attr.end
                elif isinstance(attr, FeatureMapAttr):
                    yield attr.region.data, attr.byte_span()[1]


def layer_weight_bytes(module: ModuleOp) -> tuple[int, int]:
    """(original, encoded) bytes of the weighted commands' weights, each stored constant once.

    A command reading weights a DMA staged counts the source of the last
    DMA into them (staging buffers are reused), so a constant staged for
    several layers counts once.
    """
    sources: dict[tuple[str, int], BufferAttr] = {}
    counted: dict[tuple[str, int], tuple[int, int]] = {}
    for op in module.ops:
        if isinstance(op, DmaOp):
            sources[(op.dst.region.data, op.dst.offset.data)] = op.src
        elif isinstance(op, (WeightedOp, FullyConnectedOp)):
            stored = sources.get((op.weights.region.data, op.weights.offset.data), op.weights)
            counted[(stored.region.data, stored.offset.data)] = (op.weight_bytes(), op.weights.size.data)
    return sum(original for original, _ in counted.values()), sum(encoded for _, encoded in counted.values())


def peak_memory(module: ModuleOp, memories: Iterable[str]) -> dict[str, int]:
    """Highest byte address (one past the end) any buffer of the module reaches, per memory."""
    peaks = dict.fromkeys(memories, 0)
    for memory, end in _referenced_ends(module):
        peaks[memory] = max(peaks.get(memory, 0), end)
    return peaks


def estimate(module: ModuleOp, target: Target) -> NetworkCost:
    """Estimate cycles, MACs and memory traffic of a lowered npu module on `target`.

    Raises `ModelVerificationError` if the module is not lowered and
    `TargetError` if a command uses a memory the target lacks.
    """
    require_lowered(module)
    memories = tuple(memory.name for memory in target.memories)
    costs = _command_costs(module, target)
    ops = commands(module)
    original_weights, encoded_weights = layer_weight_bytes(module)
    return NetworkCost(
        target=target.name,
        clock_hz=target.clock_hz,
        macs_per_cycle=target.throughput.macs_per_cycle,
        memories=memories,
        commands=tuple(costs),
        layers=tuple(_layer_costs(costs, target.throughput.macs_per_cycle, memories, cascade_of_layer(module))),
        total_cycles=max((cost.end for cost in costs), default=0),
        peak_memory=peak_memory(module, memories),
        weight_bytes=sum(op.buffer.size.data for op in module.ops if isinstance(op, ConstantOp)),
        original_weight_bytes=original_weights,
        encoded_weight_bytes=encoded_weights,
        npu_operators=sum(isinstance(op, ComputeOp) for op in ops),
        cpu_operators=sum(isinstance(op, CpuOp) for op in ops),
    )
