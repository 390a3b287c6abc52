"""The memories an Ethos-U command stream addresses, and feature maps laid out in them.

A *region* is what a base pointer points at: a byte range of one buffer
(`Region`; the arena and a constant tensor are buffers, and two regions may
share one). The shared buffer (SHRAM) is the NPU's internal memory, reached
by DMA with the internal region mode; lookup tables live in its last 2 KiB.

A `FeatureMap` is the register view of an IFM, IFM2 or OFM: region, up to
four tiles (base0-3 with height0, height1 and width0: x >= width0 is in tile
1 or 3, y at or past tile 0's (or 1's) height is in tile 2 (or 3), and each
tile's coordinates restart at 0), byte strides, storage (8, 16 or 32 bits,
signed or not) and layout. In NHWC an element is at
`base + y * stride_y + x * stride_x + c * size`; in NHCWB16 (bricks of 16
channels, x fastest) at `base + y * stride_y + x * 16 * size + (c // 16) *
stride_c + (c % 16) * size`. `element_addresses` evaluates that for whole
index grids at once, so reads and writes are numpy gathers and scatters;
every access is bounds-checked against its region first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from npuc.errors import CommandStreamError

BRICK_DEPTH = 16
LUT_BYTES = 2048
"""The lookup tables occupy the last 2 KiB of each core's shared buffer."""
SHRAM_REGION = -1
"""The region number npuc uses for the shared buffer (DMA's internal region mode)."""


@dataclass(frozen=True)
class Region:
    """A byte range of a buffer that a base pointer (or the SHRAM) designates.

    `buffer` is the whole backing store (the arena, a tensor's bytes or the
    SHRAM), `start` where the region begins in it and `size` how many bytes
    the region may address; `name` says what it is, for messages.
    """

    name: str
    buffer: np.ndarray
    start: int
    size: int
    writable: bool

    def view(self) -> np.ndarray:
        """The region's bytes as a writable (when allowed) uint8 view."""
        return self.buffer[self.start : self.start + self.size]


@dataclass(frozen=True)
class FeatureMap:
    """An IFM, IFM2 or OFM as its registers describe it; `shape` is (height, width, depth)."""

    region: int
    bases: tuple[int, int, int, int]
    height0: int
    height1: int
    width0: int
    shape: tuple[int, int, int]
    stride_x: int
    stride_y: int
    stride_c: int
    element_bits: int
    signed: bool
    brick: bool
    zero_point: int

    @property
    def element_size(self) -> int:
        """Bytes per element."""
        return self.element_bits // 8

    @property
    def dtype(self) -> np.dtype:
        """The little-endian numpy type of one stored element."""
        return np.dtype(f"<{'i' if self.signed else 'u'}{self.element_size}")


def element_addresses(fm: FeatureMap, ys: np.ndarray, xs: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """Byte addresses (in the region) of the elements at the broadcast index grids ys, xs, cs."""
    size = fm.element_size
    right = xs >= fm.width0
    bottom = ys >= np.where(right, fm.height1, fm.height0)
    tile = right.astype(np.int64) + 2 * bottom
    bases = np.asarray(fm.bases, dtype=np.int64)[tile]
    local_y = ys - np.where(bottom, np.where(right, fm.height1, fm.height0), 0)
    local_x = xs - np.where(right, fm.width0, 0)
    if fm.brick:
        channel = (cs // BRICK_DEPTH) * fm.stride_c + (cs % BRICK_DEPTH) * size
        return bases + local_y * fm.stride_y + local_x * (BRICK_DEPTH * size) + channel
    return bases + local_y * fm.stride_y + local_x * fm.stride_x + cs * size


def grid(height: range, width: range, depth: range) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcastable (y, x, c) index arrays for a box of a feature map."""
    return (
        np.arange(height.start, height.stop, dtype=np.int64)[:, None, None],
        np.arange(width.start, width.stop, dtype=np.int64)[None, :, None],
        np.arange(depth.start, depth.stop, dtype=np.int64)[None, None, :],
    )


def full_box(fm: FeatureMap) -> tuple[range, range, range]:
    """Every element of a feature map."""
    height, width, depth = fm.shape
    return range(height), range(width), range(depth)


class Memory:
    """The regions of one run and the shared buffer; bounds-checked feature-map access.

    `where` (the current command's offset and name) starts every error message.
    """

    def __init__(self, regions: dict[int, Region], shram_bytes: int):
        self.regions = dict(regions)
        self.shram = np.zeros(shram_bytes, dtype=np.uint8)
        self.regions[SHRAM_REGION] = Region("SHRAM", self.shram, 0, shram_bytes, True)

    def region(self, number: int, where: str) -> Region:
        """The region a base pointer number designates; CommandStreamError if the stream has none."""
        if number not in self.regions or number == SHRAM_REGION:
            known = ", ".join(f"{index} ({region.name})" for index, region in sorted(self.regions.items()) if index >= 0)
            raise CommandStreamError(f"{where}: region {number} has no tensor (regions: {known})")
        return self.regions[number]

    def check(self, region: Region, first: int, end: int, what: str, where: str, write: bool = False) -> None:
        """CommandStreamError unless bytes [first, end) lie inside `region` (and it may be written)."""
        if first < 0 or end > region.size:
            raise CommandStreamError(
                f"{where}: {what} bytes {first:#x}-{end:#x} lie outside {region.name} ({region.size} bytes)"
            )
        if write and not region.writable:
            raise CommandStreamError(f"{where}: {what} writes into read-only {region.name}")

    def read(self, fm: FeatureMap, box: tuple[range, range, range], what: str, where: str) -> np.ndarray:
        """The elements of `box` (rows, columns, channels) of a feature map, as int64."""
        region = self.region(fm.region, where)
        addresses = element_addresses(fm, *grid(*box))
        if addresses.size == 0:
            return np.zeros(addresses.shape, np.int64)
        self.check(region, int(addresses.min()), int(addresses.max()) + fm.element_size, what, where)
        return _gather(region.view(), addresses, fm.dtype)

    def write(self, fm: FeatureMap, box: tuple[range, range, range], values: np.ndarray, what: str,
              where: str) -> None:
        """Store `values` (already in the element range) into `box` of a feature map."""
        region = self.region(fm.region, where)
        addresses = element_addresses(fm, *grid(*box))
        if addresses.size == 0:
            return
        self.check(region, int(addresses.min()), int(addresses.max()) + fm.element_size, what, where, write=True)
        raw = np.ascontiguousarray(values.astype(fm.dtype)).view(np.uint8).reshape(*values.shape, fm.element_size)
        view = region.view()
        for byte in range(fm.element_size):
            view[addresses + byte] = raw[..., byte]


def _gather(view: np.ndarray, addresses: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Elements of `dtype` at byte `addresses` of a uint8 view, as int64."""
    if dtype.itemsize == 1:
        return view[addresses].view(dtype).astype(np.int64)
    parts = np.stack([view[addresses + byte] for byte in range(dtype.itemsize)], axis=-1)
    return np.ascontiguousarray(parts).view(dtype)[..., 0].astype(np.int64)
