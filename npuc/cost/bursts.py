"""Feature maps as the memory rules see them: where they are, how they are stored, how they move in bursts.

A memory moves data in bursts of `burst_length` bytes; a contiguous run
shorter than a burst still costs a whole one. How long the runs of a
feature-map transfer are depends on the map's layout and the block the NPU
moves (Vela 5.2's rule, `target.feature_map_access`):

| layout | read (IFM block) | write (OFM block) |
| --- | --- | --- |
| bricks (NPU-only maps) | a brick row: `brick_depth` channels x block width | the same x `cores` |
| plain NHWC, block spans the depth | whole block rows (width x depth) | whole rows too, if the depth is at most `write_burst_channels` |
| plain NHWC, otherwise | the block depth per pixel | min(block depth, `write_burst_channels` x `cores`) channels per pixel, at most `write_burst_max_bytes` |

The transfer then costs `bytes x burst_length / min(burst_length, run)`
bytes of bandwidth. A bricked map also stores its depth in whole bricks.
A target without `feature_map_access` stores every map plainly and moves
every transfer in whole bursts.
"""

from __future__ import annotations

from dataclasses import dataclass

from npuc.targets import Memory, Target


@dataclass(frozen=True)
class PlacedMap:
    """A feature map where the memory rules need it.

    `memory`: where it is; `extent`: (batch, height, width, depth);
    `element_bytes`: bytes per element; `bricked`: stored in bricks (else
    plain NHWC).
    """

    memory: Memory
    extent: tuple[int, int, int, int]
    element_bytes: int
    bricked: bool

    def stored_bytes(self, extent: tuple[int, int, int, int], target: Target) -> int:
        """Bytes an (batch, height, width, depth) part of the map takes as stored (depth in whole bricks)."""
        batch, height, width, depth = extent
        access = target.feature_map_access
        if self.bricked and access is not None:
            depth = -(-depth // access.brick_depth) * access.brick_depth
        return batch * height * width * depth * self.element_bytes

    def run_bytes(self, block: tuple[int, int, int], write: bool, target: Target) -> int | None:
        """Bytes moved contiguously per transfer of `block` ([h, w, c]; None: whole bursts; table above)."""
        access = target.feature_map_access
        if access is None:
            return None
        _, width, depth = block
        if self.bricked:
            return access.brick_depth * self.element_bytes * width * (target.cores if write else 1)
        spans_depth = depth == self.extent[3]
        if not write:
            return (width * depth if spans_depth else depth) * self.element_bytes
        if spans_depth and depth <= access.write_burst_channels:
            return width * depth * self.element_bytes
        channels = min(depth, access.write_burst_channels * target.cores)
        return min(access.write_burst_max_bytes, channels * self.element_bytes)

    def moved_bytes(self, size: float, block: tuple[int, int, int], write: bool, target: Target) -> float:
        """Bytes of bandwidth `size` bytes of the map take, moved block by block (runs shorter than a burst cost whole bursts)."""
        run = self.run_bytes(block, write, target)
        burst = self.memory.burst_length
        if run is None or run >= burst:
            return size
        return size * burst / run

    def block_cycles(self, block: tuple[int, int, int], write: bool, target: Target) -> float:
        """Latency plus transfer time of one block of the map (clipped to it) in or out of its memory."""
        _, height, width, depth = self.extent
        size = min(height, block[0]) * min(width, block[1]) * min(depth, block[2]) * self.element_bytes
        latency = self.memory.write_latency if write else self.memory.read_latency
        return latency + self.moved_bytes(size, block, write, target) / self.memory.bandwidth
