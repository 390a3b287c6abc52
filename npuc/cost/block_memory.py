"""What one block of a compute command costs in memory time: the `CommandMemory` the compute rules take.

The compute model needs, besides the data path, how long one IFM block
takes to arrive and one OFM block to leave (the pipeline fills and drains
once per command, and commands are issued no faster than the blocks move),
how long a block's scale/bias records take to fetch, and how many OFM
elements the command writes as stored. All follow from where the feature
maps and the scale/bias table are (`PlacedMap`, `ScaleTable`), so the same
rules price a lowered command (`traffic.command_memory`) and a quantized op
before lowering (`npuc.cost.staging`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from npuc.cost.bursts import PlacedMap
from npuc.cost.compute import CommandMemory, CommandShape
from npuc.cost.geometry import BlockGeometry
from npuc.cost.ifm_blocks import fetched_ifm_block
from npuc.targets import Memory, Target


@dataclass(frozen=True)
class ScaleTable:
    """A weighted command's scale/bias table: its size in bytes and the memory it is read from."""

    bytes: int
    memory: Memory


def block_memory(
    shape: CommandShape,
    geometry: BlockGeometry,
    target: Target,
    ifms: Sequence[PlacedMap],
    ofm: PlacedMap,
    scales: ScaleTable | None,
) -> CommandMemory:
    """The `CommandMemory` of a command reading `ifms` (one, or two for an elementwise command),
    writing `ofm` and, if weighted, fetching `scales`.

    One IFM block (the slower of two IFMs) and one OFM block, each clipped
    to its map: read or write latency plus the transfer (`PlacedMap.block_cycles`).
    A weighted command fetches its block's share of the scale/bias table
    (the table over the OFM depth, times the block depth) at one read
    latency of the table's memory per `scale_bytes_per_read_latency` bytes.
    """
    ifm_block = fetched_ifm_block(shape, geometry.block, target)
    ifm_cycles = max(fm.block_cycles(ifm_block, False, target) for fm in ifms)
    ofm_cycles = ofm.block_cycles(geometry.block, True, target)
    scale_cycles = 0.0
    per_latency = target.throughput.scale_bytes_per_read_latency
    if scales is not None and per_latency:
        block_share = scales.bytes * min(geometry.block[2], geometry.ofm[2]) / geometry.ofm[2]
        scale_cycles = block_share * scales.memory.read_latency / per_latency
    stored = ofm.stored_bytes(ofm.extent, target) // ofm.element_bytes
    return CommandMemory(ifm_cycles, ofm_cycles, scale_cycles, stored)
