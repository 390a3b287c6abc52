"""The cost model's cycles of a quantized NPU op's command, before it is lowered.

npu-schedule's searches (cascades, weight staging) price commands that do
not exist yet: an op computing some OFM rows, with its feature maps in the
arena memory and its weights read from some memory. `command_cycles` gives
them the cost model's estimate of such a command (`npuc.cost.compute`): its
compute, with each block's scale/bias fetch from where the table is read,
or the time to read its weights if that is longer. Weights are read once
per OFM block position (`npuc.cost.traffic.compute_transfers`).
"""

from __future__ import annotations

from math import ceil

from xdsl.dialects.builtin import DenseArrayBase
from xdsl.ir import Operation

from npuc.backend.planning import clip_block, element_bytes
from npuc.cost.block_memory import ScaleTable, block_memory
from npuc.cost.bursts import PlacedMap
from npuc.cost.compute import CommandShape, compute_work
from npuc.cost.geometry import split_blocks
from npuc.dialects.common import array_values
from npuc.dialects.npu import BLOCK_ATTR
from npuc.targets import BlockShape, Memory, Target


def command_cycles(
    op: Operation,
    shape: CommandShape,
    target: Target,
    weights: Memory | None = None,
    weight_bytes: int = 0,
    scale_bytes: int = 0,
) -> int:
    """Cycles of `op`'s command of `shape` (its whole layer, or one stripe of it), feature maps in the arena.

    With `weights`, the command reads `weight_bytes` of weights and a
    `scale_bytes` scale/bias table from that memory, once per block position.
    """
    op_block = op.attributes[BLOCK_ATTR]
    assert isinstance(op_block, DenseArrayBase), f"{BLOCK_ATTR} is set by npu-tile as an array"
    _, rows, width, depth = shape.ofm
    block = clip_block(BlockShape(*array_values(op_block)), (rows, width, depth), target.ofm_ublock)
    geometry = split_blocks(shape.ofm, block, target.ofm_ublock)
    arena = target.memory(target.arena_memory)
    ifms = [PlacedMap(arena, shape.ifm, element_bytes(op.operands[0]), False)]
    ofm = PlacedMap(arena, shape.ofm, element_bytes(op.results[0]), False)
    scales = ScaleTable(scale_bytes, weights) if weights is not None and scale_bytes else None
    work = compute_work(shape, geometry, target, block_memory(shape, geometry, target, ifms, ofm, scales))
    if weights is None:
        return work.cycles
    reads = ceil((weight_bytes + scale_bytes) * geometry.hw_positions / weights.bandwidth)
    return max(work.cycles, reads)
