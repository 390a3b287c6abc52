"""The cost model's cycles of a quantized NPU op's command, before it is lowered.

npu-schedule's searches (cascades, weight staging) price commands that do
not exist yet: an op computing some OFM rows, with its feature maps in the
arena memory and its weights read from some memory. `command_cycles` gives
them the cost model's estimate of such a command (`npuc.cost.compute`): its
compute, with each block's scale/bias fetch from where the table is read,
or the time to read its weights if that is longer (the cascade search: the
time each memory needs for everything the command moves, as for a lowered
command). Weights are read once per OFM block position
(`npuc.cost.traffic.compute_transfers`).
"""

from __future__ import annotations

from xdsl.dialects.builtin import DenseArrayBase
from xdsl.ir import Operation

from npuc.backend.planning import clip_block, element_bytes
from npuc.cost.block_memory import ScaleTable, block_memory
from npuc.cost.bursts import PlacedMap
from npuc.cost.compute import CommandShape, compute_work
from npuc.cost.geometry import split_blocks
from npuc.cost.traffic import Transfer, access_cycles, feature_map_transfers
from npuc.dialects.common import array_values, layer_name
from npuc.dialects.npu import BLOCK_ATTR
from npuc.targets import BlockShape, Memory, Target


def command_cycles(
    op: Operation,
    shape: CommandShape,
    target: Target,
    weights: Memory | None = None,
    weight_bytes: int = 0,
    scale_bytes: int = 0,
    block: tuple[int, int, int] | None = None,
    memory_bound: bool = False,
    plain: tuple[bool, bool] = (False, False),
) -> int:
    """Cycles of `op`'s command of `shape` (its whole layer, or one stripe of it), feature maps in the arena.

    With `weights`, the command reads `weight_bytes` of weights and a
    `scale_bytes` scale/bias table from that memory, once per block position.
    It computes in OFM blocks of `block` (default: the op's `npu.block`),
    clipped to `shape`. With `memory_bound` its feature maps are stored in
    bricks, as an NPU-only intermediate is, and the command takes at least
    the time each memory needs for what it moves (IFM reads, the OFM write
    and weights reads sharing a memory add up), as the cost model prices a
    lowered command (`npuc.cost.traffic`): a block shape changes how many
    bytes move as much as how long it computes. `plain` says which of the
    IFM and OFM are plain NHWC instead (the host's or a CPU operation's).
    """
    if block is None:
        block = op_block(op)
    _, rows, width, depth = shape.ofm
    clipped = clip_block(BlockShape(*block), (rows, width, depth), target.ofm_ublock)
    geometry = split_blocks(shape.ofm, clipped, target.ofm_ublock)
    arena = target.memory(target.arena_memory)
    ifms = [PlacedMap(arena, shape.ifm, element_bytes(op.operands[0]), memory_bound and not plain[0])]
    ofm = PlacedMap(arena, shape.ofm, element_bytes(op.results[0]), memory_bound and not plain[1])
    scales = ScaleTable(scale_bytes, weights) if weights is not None and scale_bytes else None
    work = compute_work(shape, geometry, target, block_memory(shape, geometry, target, ifms, ofm, scales))
    transfers: list[Transfer] = []
    if memory_bound:
        reads, write = feature_map_transfers(shape, geometry, ifms, ofm, target)
        transfers += [*reads, write]
    if weights is not None:
        size = (weight_bytes + scale_bytes) * geometry.hw_positions
        transfers.append(Transfer(weights.name, False, size, size))
    return max([work.cycles, *access_cycles(transfers, target, layer_name(op)).values()])


def op_block(op: Operation) -> tuple[int, int, int]:
    """The op's OFM block (`npu.block`, set by npu-tile)."""
    attr = op.attributes[BLOCK_ATTR]
    assert isinstance(attr, DenseArrayBase), f"{BLOCK_ATTR} is set by npu-tile as an array"
    height, width, depth = array_values(attr)
    return height, width, depth
