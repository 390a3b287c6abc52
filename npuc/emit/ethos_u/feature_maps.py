"""The IFM, IFM2 and OFM registers of an `#npu.fm` feature map.

A feature map is programmed as a region, four tile base addresses with
their heights and width, a depth, byte strides, a zero point and a
precision. npuc's feature maps are NHWC tiles as wide as the map: tile 0
is the whole map (HEIGHT0 = HEIGHT1 = height, WIDTH0 = width, bases 1-3
zero), or, for a map that wraps (a rolling buffer's view), its rows before
the wrap, the rest in tile 2 (HEIGHT0 = HEIGHT1 = the rows before the wrap,
BASE2 = where the rest starts); element
(y, x, c) at `base + y * stride_y + x * stride_x + c * element size` (so
the channel stride must be the element size; STRIDE_C is programmed with
it, as the hardware ignores it in NHWC). A map of rank below 4 reads as
the last axes of [1, H, W, C] (a fully connected [N, K] as 1 x N x K). The
NPU has no batch: an [N, H, W, C] map is N maps, one per operation
(`feature_map`'s `batch`; a map of batch 1 is the same for every one).
"""

from __future__ import annotations

from dataclasses import dataclass

from npuc.dialects.npu_memory import FeatureMapAttr
from npuc.emit.ethos_u.command_writer import CommandWriter
from npuc.emit.ethos_u.regions import RegionMap
from npuc.emit.ethos_u.registers import (
    ActivationFormat,
    ActivationPrecision,
    Cmd0,
    Cmd1,
    IfmScaleMode,
    pack_param,
)
from npuc.errors import CommandStreamError

_PRECISIONS = {8: ActivationPrecision.B8, 16: ActivationPrecision.B16, 32: ActivationPrecision.B32}
"""xFM_PRECISION `activation_precision` of each storage width."""
SIGNED = 1
"""xFM_PRECISION `activation_type` of signed elements (npuc's storage types are all signed)."""


@dataclass(frozen=True)
class FeatureMap:
    """A feature map as its registers hold it: region, base, (height, width, depth), byte strides.

    Rows from `height0` on are in tile 2, from `base2` (a map that wraps);
    `height0` is the height otherwise.
    """

    region: int
    base: int
    height: int
    width: int
    depth: int
    stride_y: int
    stride_x: int
    element_bytes: int
    zero_point: int
    height0: int
    base2: int = 0

    @property
    def bits(self) -> int:
        """Bits per stored element."""
        return self.element_bytes * 8

    def row_address(self, y: int) -> int:
        """The address of row `y`'s first element: in tile 0, or past `height0` in tile 2."""
        return self.base + y * self.stride_y if y < self.height0 else self.base2 + (y - self.height0) * self.stride_y

    def byte_ranges(self) -> list[tuple[int, int]]:
        """[start, end) of the bytes each tile of the map spans in its region."""
        return self.box_ranges(range(self.height), range(self.width), range(self.depth), per_tile=True)

    def box_ranges(self, rows: range, columns: range, channels: range, per_tile: bool = False) -> list[tuple[int, int]]:
        """[start, end) byte ranges covering the elements of a box, one per row (a superset per row), or
        with `per_tile` one per tile the rows are in."""
        if not rows or not columns or not channels:
            return []
        first = columns.start * self.stride_x + channels.start * self.element_bytes
        last = (columns.stop - 1) * self.stride_x + (channels.stop - 1) * self.element_bytes + self.element_bytes
        if not per_tile:
            return [(self.row_address(y) + first, self.row_address(y) + last) for y in rows]
        tiles = [range(rows.start, min(rows.stop, self.height0)), range(max(rows.start, self.height0), rows.stop)]
        return [(self.row_address(tile.start) + first, self.row_address(tile.stop - 1) + last) for tile in tiles if tile]


def batches(fm: FeatureMapAttr) -> int:
    """The batch of a map: the extent of the axis before H, W and C of a 4-D map (else 1)."""
    shape = fm.shape_values()
    return shape[0] if len(shape) == 4 else 1


def feature_map(fm: FeatureMapAttr, regions: RegionMap, where: str, batch: int = 0) -> FeatureMap:
    """The register view of batch element `batch` of `fm` (its only one for a batch of 1);
    CommandStreamError naming `where` for a map the registers cannot hold."""
    shape, strides = fm.shape_values(), fm.stride_values()
    element_bytes = fm.element_type.bits // 8
    if len(shape) > 4:
        raise CommandStreamError(f"{where}: feature map {list(shape)} has more than 4 axes")
    base = fm.offset.data + (batch * strides[0] if batches(fm) > 1 else 0)
    padded_shape = (1, 1, 1, *shape)[-3:]
    padded_strides = list((0, 0, 0, *strides)[-3:])
    for axis in range(2 - min(len(shape), 3), -1, -1):  # axes the map does not have: as if dense
        padded_strides[axis] = padded_strides[axis + 1] * padded_shape[axis + 1]
    height, width, depth = padded_shape
    if depth > 1 and padded_strides[2] != element_bytes:
        raise CommandStreamError(f"{where}: feature map channels are {padded_strides[2]} bytes apart; NHWC needs them adjacent")
    region = regions.region(fm.region.data, *fm.byte_span(), where)
    return FeatureMap(
        region, base, height, width, depth,
        padded_strides[0], padded_strides[1], element_bytes, fm.element_type.zero_point,
        fm.wrap.data or height, fm.wrap_offset.data,
    )  # fmt: skip


def ifm_precision(fm: FeatureMap, scale_mode: IfmScaleMode) -> int:
    """The IFM_PRECISION parameter: signed NHWC elements of the map's width, the operand scale mode."""
    return pack_param(
        Cmd0.SET_IFM_PRECISION,
        activation_type=SIGNED,
        activation_precision=_PRECISIONS[fm.bits],
        activation_format=ActivationFormat.NHWC,
        scale_mode=scale_mode,
    )


def ifm2_precision(fm: FeatureMap) -> int:
    """The IFM2_PRECISION parameter: signed NHWC elements of the map's width."""
    return pack_param(
        Cmd0.SET_IFM2_PRECISION,
        activation_type=SIGNED,
        activation_precision=_PRECISIONS[fm.bits],
        activation_format=ActivationFormat.NHWC,
    )


def ofm_precision(fm: FeatureMap, global_scale: bool, round_mode: int) -> int:
    """The OFM_PRECISION parameter: signed NHWC elements, per-channel or global scale, a rounding mode."""
    return pack_param(
        Cmd0.SET_OFM_PRECISION,
        activation_type=SIGNED,
        activation_precision=_PRECISIONS[fm.bits],
        activation_format=ActivationFormat.NHWC,
        scale_mode=int(global_scale),
        round_mode=round_mode,
    )


def write_ifm(writer: CommandWriter, fm: FeatureMap) -> None:
    """IFM_REGION, BASE0-3, HEIGHT0/1, WIDTH0, DEPTH, STRIDE_C/Y/X and ZERO_POINT."""
    writer.set(Cmd0.SET_IFM_REGION, fm.region)
    _write_tile(writer, fm, (Cmd1.SET_IFM_BASE0, Cmd1.SET_IFM_BASE1, Cmd1.SET_IFM_BASE2, Cmd1.SET_IFM_BASE3),
                (Cmd0.SET_IFM_HEIGHT0_M1, Cmd0.SET_IFM_HEIGHT1_M1, Cmd0.SET_IFM_WIDTH0_M1))
    writer.set(Cmd0.SET_IFM_DEPTH_M1, fm.depth - 1)
    _write_strides(writer, fm, (Cmd1.SET_IFM_STRIDE_C, Cmd1.SET_IFM_STRIDE_Y, Cmd1.SET_IFM_STRIDE_X))
    writer.set(Cmd0.SET_IFM_ZERO_POINT, fm.zero_point)


def write_ifm2(writer: CommandWriter, fm: FeatureMap) -> None:
    """IFM2_REGION, BASE0-3, HEIGHT0/1, WIDTH0 and STRIDE_C/Y/X (the zero point is written apart: a scalar has one too)."""
    writer.set(Cmd0.SET_IFM2_REGION, fm.region)
    _write_tile(writer, fm, (Cmd1.SET_IFM2_BASE0, Cmd1.SET_IFM2_BASE1, Cmd1.SET_IFM2_BASE2, Cmd1.SET_IFM2_BASE3),
                (Cmd0.SET_IFM2_HEIGHT0_M1, Cmd0.SET_IFM2_HEIGHT1_M1, Cmd0.SET_IFM2_WIDTH0_M1))
    _write_strides(writer, fm, (Cmd1.SET_IFM2_STRIDE_C, Cmd1.SET_IFM2_STRIDE_Y, Cmd1.SET_IFM2_STRIDE_X))


def write_ofm(writer: CommandWriter, fm: FeatureMap) -> None:
    """OFM_REGION, BASE0-3, HEIGHT0/1, WIDTH0, HEIGHT, WIDTH, DEPTH, STRIDE_C/Y/X and ZERO_POINT."""
    writer.set(Cmd0.SET_OFM_REGION, fm.region)
    _write_tile(writer, fm, (Cmd1.SET_OFM_BASE0, Cmd1.SET_OFM_BASE1, Cmd1.SET_OFM_BASE2, Cmd1.SET_OFM_BASE3),
                (Cmd0.SET_OFM_HEIGHT0_M1, Cmd0.SET_OFM_HEIGHT1_M1, Cmd0.SET_OFM_WIDTH0_M1))
    writer.set(Cmd0.SET_OFM_HEIGHT_M1, fm.height - 1)
    writer.set(Cmd0.SET_OFM_WIDTH_M1, fm.width - 1)
    writer.set(Cmd0.SET_OFM_DEPTH_M1, fm.depth - 1)
    _write_strides(writer, fm, (Cmd1.SET_OFM_STRIDE_C, Cmd1.SET_OFM_STRIDE_Y, Cmd1.SET_OFM_STRIDE_X))
    writer.set(Cmd0.SET_OFM_ZERO_POINT, fm.zero_point)


def _write_tile(writer: CommandWriter, fm: FeatureMap, bases: tuple[Cmd1, ...], extents: tuple[Cmd0, ...]) -> None:
    """Tiles 0 and 2 as wide as the map: base 0 the map, base 2 the rows past `height0` (or zero), bases 1
    and 3 zero; HEIGHT0 = HEIGHT1 = `height0`, WIDTH0 = width."""
    for base, address in zip(bases, (fm.base, 0, fm.base2, 0)):
        writer.set_address(base, address)
    height0, height1, width0 = extents
    writer.set(height0, fm.height0 - 1)
    writer.set(height1, fm.height0 - 1)
    writer.set(width0, fm.width - 1)


def _write_strides(writer: CommandWriter, fm: FeatureMap, strides: tuple[Cmd1, Cmd1, Cmd1]) -> None:
    stride_c, stride_y, stride_x = strides
    writer.set_address(stride_c, fm.element_bytes)
    writer.set_address(stride_y, fm.stride_y)
    writer.set_address(stride_x, fm.stride_x)
