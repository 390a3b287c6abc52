"""The `npu` dialect's memory attributes: byte ranges and feature maps.

    #npu.buf<flash, 0, 2304>                                   region, offset, size in bytes
    #npu.fm<sram, 1024, [1, 28, 28, 8], [6272, 224, 8, 1], !quantized.uniform<i8:f32, 0.1:-3>>
                    region, offset, NHWC shape, byte strides, element type
    #npu.fm<sram, 1472, [1, 5, 8, 8], [320, 64, 8, 1], !quantized.uniform<i8:f32, 0.1:-3>, wrap 2 to 1280>
                    ... rows 0-1 from 1472, rows 2-4 from 1280 (a rolling buffer)

Every npu command names the memory it reads and writes through these two
attributes; the commands themselves are in `npuc.dialects.npu`. A weighted
command of a target that encodes its weights says how its buffers hold the
encoded streams with `#npu.encoded<...>` (`EncodedWeightsAttr`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from operator import index

from xdsl.dialects.builtin import ArrayAttr, IntAttr, StringAttr
from xdsl.ir import Attribute, ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.quantized_type import UniformQuantizedType, int_attr

HEIGHT_AXIS = 1
"""The row axis of an NHWC feature map (the axis a feature map wraps along)."""


@lru_cache(maxsize=8192)
def _ints(values: tuple[int, ...]) -> ArrayAttr[IntAttr]:
    return ArrayAttr([int_attr(v) for v in values])


@lru_cache(maxsize=64)
def _region(name: str) -> StringAttr:
    return StringAttr(name)


def _parse_int_list(parser: AttrParser) -> list[int]:
    return parser.parse_comma_separated_list(
        parser.Delimiter.SQUARE, lambda: parser.parse_integer(allow_boolean=False)
    )


def _parse_region_offset(parser: AttrParser) -> tuple[str, int]:
    """`<region, offset,`: the start every memory attribute shares."""
    parser.parse_punctuation("<")
    region = parser.parse_identifier()
    parser.parse_punctuation(",")
    offset = parser.parse_integer(allow_boolean=False)
    parser.parse_punctuation(",")
    return region, offset


def _print_int_list(printer: Printer, values: Sequence[int]) -> None:
    printer.print_string("[" + ", ".join(str(v) for v in values) + "]")


@irdl_attr_definition
class BufferAttr(ParametrizedAttribute):
    """A byte range in one memory region: weights, tables, DMA endpoints."""

    name = "npu.buf"

    region: StringAttr
    offset: IntAttr
    size: IntAttr

    def __init__(self, region: str, offset: int, size: int):
        super().__init__(_region(region), int_attr(index(offset)), int_attr(index(size)))

    @property
    def end(self) -> int:
        """One past the last byte."""
        return self.offset.data + self.size.data

    def verify(self) -> None:
        if self.offset.data < 0 or self.size.data <= 0:
            raise VerifyException("buffer offset must be >= 0 and size > 0")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        region, offset = _parse_region_offset(parser)
        size = parser.parse_integer(allow_boolean=False)
        parser.parse_punctuation(">")
        return [StringAttr(region), IntAttr(offset), IntAttr(size)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.region.data}, {self.offset.data}, {self.size.data}>")


@irdl_attr_definition
class FeatureMapAttr(ParametrizedAttribute):
    """An NHWC feature map in memory: where it is, its shape, byte strides and type.

    A map may wrap (`wrap` > 0): its first `wrap` rows start at `offset`,
    the rows after them at `wrap_offset`, with the same strides. That is a
    view of a rolling buffer, whose rows are reused circularly (a cascade's
    intermediate feature map): the view starts at some row of the buffer
    and continues at its first row. The Ethos-U feature-map tiles address
    it as such (HEIGHT0 = `wrap`, BASE2 = `wrap_offset`). Only a batch of
    one wraps.
    """

    name = "npu.fm"

    region: StringAttr
    offset: IntAttr
    shape: ArrayAttr[IntAttr]
    strides: ArrayAttr[IntAttr]
    element_type: UniformQuantizedType
    wrap: IntAttr
    wrap_offset: IntAttr

    def __init__(
        self,
        region: str,
        offset: int,
        shape: Sequence[int],
        strides: Sequence[int],
        element_type: UniformQuantizedType,
        wrap: int = 0,
        wrap_offset: int = 0,
    ):
        super().__init__(
            _region(region),
            int_attr(index(offset)),
            _ints(tuple(map(index, shape))),
            _ints(tuple(map(index, strides))),
            element_type,
            int_attr(index(wrap)),
            int_attr(index(wrap_offset)),
        )

    @staticmethod
    def dense(
        region: str, offset: int, shape: Sequence[int], element_type: UniformQuantizedType
    ) -> FeatureMapAttr:
        """A feature map stored contiguously in row-major (NHWC) order."""
        element_bytes = element_type.bits // 8
        strides = [element_bytes] * len(shape)
        for axis in range(len(shape) - 2, -1, -1):
            strides[axis] = strides[axis + 1] * shape[axis + 1]
        return FeatureMapAttr(region, offset, shape, strides, element_type)

    def shape_values(self) -> tuple[int, ...]:
        """The shape as Python ints."""
        return tuple(v.data for v in self.shape.data)

    def stride_values(self) -> tuple[int, ...]:
        """Byte strides as Python ints."""
        return tuple(v.data for v in self.strides.data)

    def pieces(self) -> tuple[FeatureMapAttr, ...]:
        """The map as views that do not wrap, top to bottom: itself, or its rows before and after the wrap."""
        if not self.wrap.data:
            return (self,)
        strides = self.stride_values()
        return tuple(
            FeatureMapAttr(self.region.data, offset, shape, strides, self.element_type)
            for offset, shape in self._piece_shapes()
        )

    def _piece_shapes(self) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """(offset, shape) of each of `pieces`, without building them (the cost model asks for every
        command's spans)."""
        shape, wrap = self.shape_values(), self.wrap.data
        if not wrap:
            return ((self.offset.data, shape),)
        first, rest = list(shape), list(shape)
        first[HEIGHT_AXIS], rest[HEIGHT_AXIS] = wrap, shape[HEIGHT_AXIS] - wrap
        return ((self.offset.data, tuple(first)), (self.wrap_offset.data, tuple(rest)))

    def byte_extent(self) -> int:
        """Bytes from the base address to one past the last element (of a map that does not wrap)."""
        return self._extent(self.shape_values(), self.stride_values())

    def _extent(self, shape: Sequence[int], strides: Sequence[int]) -> int:
        """`byte_extent` of a view of this map's type of `shape` and `strides`."""
        return self.element_type.bits // 8 + sum((extent - 1) * stride for extent, stride in zip(shape, strides))

    def byte_span(self) -> tuple[int, int]:
        """[first, end) of the bytes the map's pieces span."""
        strides = self.stride_values()
        pieces = self._piece_shapes()
        return (
            min(offset for offset, _ in pieces),
            max(offset + self._extent(shape, strides) for offset, shape in pieces),
        )

    def buffer(self) -> BufferAttr:
        """The byte range the feature map occupies (its pieces' span)."""
        first, end = self.byte_span()
        return BufferAttr(self.region.data, first, end - first)

    def verify(self) -> None:
        if len(self.shape.data) != len(self.strides.data) or not self.shape.data:
            raise VerifyException("feature map needs one stride per dimension")
        if self.offset.data < 0 or any(v.data <= 0 for v in self.shape.data):
            raise VerifyException("feature map offset must be >= 0 and extents > 0")
        if self.element_type.is_per_axis:
            raise VerifyException("feature maps are quantized per tensor")
        if any(v.data <= 0 for v in self.strides.data):
            raise VerifyException("feature map strides must be positive")
        wrap, shape = self.wrap.data, self.shape_values()
        if wrap and (len(shape) != 4 or shape[0] != 1 or not 0 < wrap < shape[HEIGHT_AXIS] or self.wrap_offset.data < 0):
            raise VerifyException(
                f"a feature map wraps after 0 < rows < its height, at an offset >= 0, with a batch of one; "
                f"got wrap {wrap} to {self.wrap_offset.data} on {list(shape)}"
            )

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        region, offset = _parse_region_offset(parser)
        shape = _parse_int_list(parser)
        parser.parse_punctuation(",")
        strides = _parse_int_list(parser)
        parser.parse_punctuation(",")
        element_type = parser.parse_type()
        wrap = wrap_offset = 0
        if parser.parse_optional_punctuation(",") is not None:
            parser.parse_keyword("wrap")
            wrap = parser.parse_integer(allow_boolean=False)
            parser.parse_keyword("to")
            wrap_offset = parser.parse_integer(allow_boolean=False)
        parser.parse_punctuation(">")
        return [
            StringAttr(region),
            IntAttr(offset),
            ArrayAttr([IntAttr(v) for v in shape]),
            ArrayAttr([IntAttr(v) for v in strides]),
            element_type,
            IntAttr(wrap),
            IntAttr(wrap_offset),
        ]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.region.data}, {self.offset.data}, ")
        _print_int_list(printer, self.shape_values())
        printer.print_string(", ")
        _print_int_list(printer, self.stride_values())
        printer.print_string(", ")
        printer.print_attribute(self.element_type)
        if self.wrap.data:
            printer.print_string(f", wrap {self.wrap.data} to {self.wrap_offset.data}")
        printer.print_string(">")


TRAVERSALS = ("depth_first", "part_kernel_first")
"""Weight orders of encoded weights: the NPU's KERNEL_STRIDE `weight_order` (depth first, part-kernel first)."""


@irdl_attr_definition
class EncodedWeightsAttr(ParametrizedAttribute):
    """How a weighted command's weight and scale/bias buffers hold encoded streams (Ethos-U).

        #npu.encoded<part_kernel_first, weights [112, 96], scales [32, 32]>
        #npu.encoded<depth_first, weights [64], scales [16], wide>

    The weights buffer holds one mlw-coded weight stream per NPU core in
    `traversal` order, back to back, of the given (padded) lengths; the
    scale/bias buffer one stream of 10-byte scale records per core likewise.
    Core k computes output channels k, k + cores, ... `wide` says the
    records hold the 15-bit scales of TFLite's int64-bias rescale
    (`npuc.emit.ethos_u.scales`). The streams depend on the command's block
    depth (`npuc.emit.ethos_u.weights`).
    """

    name = "npu.encoded"

    traversal: StringAttr
    weight_lengths: ArrayAttr[IntAttr]
    scale_lengths: ArrayAttr[IntAttr]
    wide: IntAttr

    def __init__(self, traversal: str, weight_lengths: Sequence[int], scale_lengths: Sequence[int], wide: bool):
        super().__init__(
            StringAttr(traversal),
            ArrayAttr([IntAttr(v) for v in weight_lengths]),
            ArrayAttr([IntAttr(v) for v in scale_lengths]),
            IntAttr(int(wide)),
        )

    def weight_stream_lengths(self) -> tuple[int, ...]:
        """Bytes of each core's weight stream, in core order."""
        return tuple(v.data for v in self.weight_lengths.data)

    def scale_stream_lengths(self) -> tuple[int, ...]:
        """Bytes of each core's scale record stream, in core order."""
        return tuple(v.data for v in self.scale_lengths.data)

    def verify(self) -> None:
        if self.traversal.data not in TRAVERSALS:
            raise VerifyException(f"unknown weight traversal '{self.traversal.data}' (known: {', '.join(TRAVERSALS)})")
        weights, scales = self.weight_stream_lengths(), self.scale_stream_lengths()
        if not weights or len(weights) != len(scales):
            raise VerifyException("encoded weights need one weight and one scale stream per core")
        if any(length <= 0 for length in (*weights, *scales)):
            raise VerifyException("encoded stream lengths must be positive")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        parser.parse_punctuation("<")
        traversal = parser.parse_identifier()
        parser.parse_punctuation(",")
        parser.parse_keyword("weights")
        weights = _parse_int_list(parser)
        parser.parse_punctuation(",")
        parser.parse_keyword("scales")
        scales = _parse_int_list(parser)
        wide = parser.parse_optional_punctuation(",") is not None
        if wide:
            parser.parse_keyword("wide")
        parser.parse_punctuation(">")
        return [
            StringAttr(traversal),
            ArrayAttr([IntAttr(v) for v in weights]),
            ArrayAttr([IntAttr(v) for v in scales]),
            IntAttr(int(wide)),
        ]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.traversal.data}, weights ")
        _print_int_list(printer, self.weight_stream_lengths())
        printer.print_string(", scales ")
        _print_int_list(printer, self.scale_stream_lengths())
        printer.print_string(", wide>" if self.wide.data else ">")
