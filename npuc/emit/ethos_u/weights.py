"""Ethos-U weight streams: one NPU layer's weights in brick order, mlw-compressed, with its scale/bias records.

The NPU reads a convolution's weights as a stream in the order its MAC array
consumes them ("bricks"), compressed with the mlw codec (`ethosu.mlw_codec`,
shipped with Vela) or, where shorter, npuc's own mlw encoder
(`npuc.emit.ethos_u.mlw_encoder`). npuc reorders the weights itself; Vela
5.2's API (`npu_encode_weights`) gives the same brick order, the tests'
oracle (compared decoded, or as bytes where the codec's are kept).

## Brick order

Before reordering, the weight zero point is subtracted (values -255..255).
The loops, outermost first; every position outside the weights (OFM or IFM
channel beyond the depth, kernel element beyond the sub-kernel) is a zero:

| loop | over | step | extent |
| --- | --- | --- | --- |
| OFM block | OFM channels | block depth (block config) | OFM depth |
| IFM block | IFM channels | IFM block depth | IFM depth (depthwise: one block) |
| sub-kernel rows | kernel rows | `sub_kernel_max` h / dilation h | kernel height |
| sub-kernel columns | kernel columns | `sub_kernel_max` w / dilation w | kernel width |
| IFM micro-blocks (part-kernel-first only) | IFM block | `ifm_ublock` depth | the IFM block's channels within the IFM depth |
| OFM micro-blocks | OFM block | `ofm_ublock` depth | the OFM block, clipped to the OFM depth |
| kernel elements, row-major | sub-kernel | 1 | padded elements |
| IFM micro-blocks (depth-first only) | IFM block | `ifm_ublock` depth | the whole IFM block |
| OFM channel | OFM micro-block | 1 | `ofm_ublock` depth |
| IFM channel | IFM micro-block | 1 | `ifm_ublock` depth (depthwise: 1) |

The IFM block is as deep as the data path's IFM buffer: a fixed number of
bytes, `depth_first_ifm_depth_step` 8-bit channels (32, so 16 of 16-bit
data); a part-kernel-first block holds `kernel_first_ifm_block_depth` (16)
channels of either width. Kernel elements are padded to a whole step of the
data path: part-kernel-first to `kernel_element_step` elements of 8-bit data
(4, so 2 of 16-bit data), depthwise to `kernel_element_step`, depth-first not
at all. A fully connected layer is a 1x1 depth-first convolution; a
depthwise one has one IFM channel per OFM channel.

## Traversal

A convolution (and a fully connected layer, a 1x1 convolution) walks the kernel either depth first (per kernel element, a
whole IFM block) or part-kernel first (per IFM micro-block, a few kernel
elements at once). The choice is the emitter's to make and KERNEL_STRIDE's
`weight_order` bit tells the NPU: `choose_traversal` picks the one that fills
the data path better, as Vela does (`ethosu/vela/weight_compressor.py`; its
default core applies the rule to fully connected layers too, so an FC with at
most 8 IFM channels runs part-kernel first and its weights pack 8 deep, not 32).

## Layer blob and cores

The blob of one layer is, per core, `[scale/bias records][weights]`, each
padded to the target's alignment (the records with zeros; the codec pads its
own stream with 0xff). `cores` > 1 (Ethos-U65-512) deals the output channels
alternately: core k gets channels k, k + cores, ..., their records and their
weights, encoded with block depth `ceil((block depth - k) / cores)`; a core
without channels gets no streams. `EncodedLayer.cores` holds where each
stream sits, for WEIGHT_BASE/LENGTH and SCALE_BASE/LENGTH (WEIGHT1_*,
SCALE1_* for the second core). A layer whose weights are streamed in OFM
depth slices is encoded slice by slice, each slice as a layer of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from npuc.cost.compute import STEP_BITS, kernel_first
from npuc.cost.geometry import ceil_to
from npuc.cost.ifm_blocks import ifm_block_depth
from npuc.emit.ethos_u.scales import scale_bias_records
from npuc.targets import Target

CONV2D, DEPTHWISE_CONV2D, FULLY_CONNECTED = "conv2d", "depthwise_conv2d", "fully_connected"
"""Weighted layer kinds, named as the target's operator kinds."""

class Traversal(IntEnum):
    """How a convolution walks its kernel; the value is KERNEL_STRIDE's `weight_order` bit."""

    DEPTH_FIRST = 0
    PART_KERNEL_FIRST = 1


def choose_traversal(kind: str, ifm_depth: int, kernel_elements: int, ifm_bits: int, target: Target) -> Traversal:
    """The traversal of a layer, as Vela chooses it.

    Depthwise layers run depth first; a convolution or a fully connected
    layer (a 1x1 convolution: kernel first only for an IFM of at most one
    `ifm_depth_step`, as Vela's default core encodes it) by the hardware's
    rule the cost model and the block search use too
    (`npuc.cost.compute.kernel_first`).
    """
    if kind in (CONV2D, FULLY_CONNECTED) and kernel_first(ifm_depth, kernel_elements, ifm_bits, target.throughput):
        return Traversal.PART_KERNEL_FIRST
    return Traversal.DEPTH_FIRST


def kernel_element_padding(kind: str, traversal: Traversal, ifm_bits: int, target: Target) -> int:
    """The multiple a sub-kernel's element count is padded to (see the module docstring)."""
    if kind == DEPTHWISE_CONV2D:
        return target.throughput.kernel_element_step
    if traversal == Traversal.PART_KERNEL_FIRST:
        return target.throughput.kernel_element_step * STEP_BITS // ifm_bits
    return 1


def brick_order(
    volume: np.ndarray,
    kind: str,
    traversal: Traversal,
    ofm_block_depth: int,
    ifm_bits: int,
    dilation: tuple[int, int],
    target: Target,
) -> np.ndarray:
    """The weights of `volume` (OHWI, zero point already subtracted) as the NPU reads them.

    `kind` is `CONV2D`, `DEPTHWISE_CONV2D` (IFM depth 1: one kernel per OFM
    channel) or `FULLY_CONNECTED` (a 1x1 kernel); `dilation` is (height,
    width). Returns the int16 stream, zeros included (the module docstring's
    loops).
    """
    ofm_depth, kernel_height, kernel_width, ifm_depth = volume.shape
    depthwise = kind == DEPTHWISE_CONV2D
    part_kernel = traversal == Traversal.PART_KERNEL_FIRST
    ofm_ublock = target.ofm_ublock.depth
    ifm_ublock = 1 if depthwise else target.ifm_ublock.depth
    ifm_block = ifm_depth if depthwise else ifm_block_depth(part_kernel, ifm_bits, target)
    padding = kernel_element_padding(kind, traversal, ifm_bits, target)
    sub_height = target.sub_kernel_max[0] // dilation[0]
    sub_width = target.sub_kernel_max[1] // dilation[1]
    # Within one (OFM block, IFM block, sub-kernel) the loops are a transpose of
    # [OFM micro-block, OFM channel, element, IFM micro-block, IFM channel].
    order = (3, 0, 2, 1, 4) if part_kernel else (0, 2, 3, 1, 4)
    parts = []
    for ofm_start in range(0, ofm_depth, ofm_block_depth):
        ofm_count = min(ofm_block_depth, ofm_depth - ofm_start)
        for ifm_start in range(0, ifm_depth, ifm_block):
            ifm_count = min(ifm_block, ifm_depth - ifm_start)
            ifm_extent = ceil_to(ifm_count, ifm_ublock) if part_kernel else ifm_block
            for row in range(0, kernel_height, sub_height):
                rows = min(sub_height, kernel_height - row)
                for column in range(0, kernel_width, sub_width):
                    columns = min(sub_width, kernel_width - column)
                    elements = rows * columns
                    brick = np.zeros(
                        (ceil_to(ofm_count, ofm_ublock), ceil_to(elements, padding), ifm_extent), dtype=np.int16
                    )
                    brick[:ofm_count, :elements, :ifm_count] = volume[
                        ofm_start : ofm_start + ofm_count,
                        row : row + rows,
                        column : column + columns,
                        ifm_start : ifm_start + ifm_count,
                    ].reshape(ofm_count, elements, ifm_count)
                    shape = (brick.shape[0] // ofm_ublock, ofm_ublock, brick.shape[1], ifm_extent // ifm_ublock, ifm_ublock)
                    parts.append(brick.reshape(shape).transpose(order).ravel())
    return np.concatenate(parts)


def compress(stream: np.ndarray) -> bytes:
    """A `brick_order` stream mlw-compressed, padded (0xff) to 16 bytes: by Vela's codec, or by npuc's
    own encoder where that is shorter (`mlw_encoder.encode_shorter`: zero-padded streams, whose zero
    runs the codec codes in one way only).

    Vela's codec loads here, when weights are encoded: a target that stores them raw never needs it.
    """
    from ethosu import mlw_codec

    from npuc.emit.ethos_u.mlw_encoder import encode_shorter

    return encode_shorter(stream, bytes(mlw_codec.encode(stream.tolist())))


@dataclass(frozen=True)
class LayerWeights:
    """One weighted NPU layer's constants, as the npu IR holds them.

    `weights` is int8 in the layout of its `kind`: conv2d OHWI `[O, KH, KW,
    I]`, depthwise `[1, KH, KW, C]` (TFLite's), fully connected `[O, K]`.
    `zero_point` is the weight zero point, one for the layer or one per
    output channel. `bias` is int32, or int64 for a 16x8 layer with TFLite's
    int64 bias; `multiplier` and `shift` are TFLite's per output channel
    (`npuc.reference.int_parameters.rescale_parameters`). `ifm_bits` is the
    IFM element width (8 or 16), `dilation` (height, width). `name` names
    the layer in errors.
    """

    name: str
    kind: str
    weights: np.ndarray
    zero_point: int | np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    ifm_bits: int
    dilation: tuple[int, int] = (1, 1)

    def channels(self, start: int, stop: int) -> LayerWeights:
        """The layer computing only OFM channels [start, stop): an OFM-depth slice, encoded as a layer of its own."""
        axis = 3 if self.kind == DEPTHWISE_CONV2D else 0
        weights = self.weights[(slice(None),) * axis + (slice(start, stop),)]
        zero_point = self.zero_point[start:stop] if isinstance(self.zero_point, np.ndarray) else self.zero_point
        return LayerWeights(
            self.name, self.kind, weights, zero_point, self.bias[start:stop], self.multiplier[start:stop],
            self.shift[start:stop], self.ifm_bits, self.dilation,
        )  # fmt: skip

    def volume(self) -> np.ndarray:
        """The weights as OHWI int16 with the zero point subtracted (depthwise: I = 1)."""
        weights = self.weights.astype(np.int16)
        if self.kind == DEPTHWISE_CONV2D:
            weights = weights.transpose(3, 1, 2, 0)
        elif self.kind == FULLY_CONNECTED:
            weights = weights[:, np.newaxis, np.newaxis, :]
        zero_point = np.asarray(self.zero_point, dtype=np.int16).reshape(-1, 1, 1, 1)
        return weights - zero_point

    def reduced_scales(self) -> bool:
        """Whether the records hold TFLite's 15-bit int64 rescale (`npuc.emit.ethos_u.scales`).

        A conv or depthwise layer with an int64 bias rescales that way; a
        fully connected layer rounds once with the whole Q31 multiplier,
        whatever its bias type (as TFLite computes it).
        """
        return self.bias.dtype == np.int64 and self.kind != FULLY_CONNECTED


@dataclass(frozen=True)
class CoreStreams:
    """Where one core's streams sit in a layer blob: byte offsets and lengths (padded, as programmed)."""

    scale_offset: int
    scale_length: int
    weight_offset: int
    weight_length: int


@dataclass(frozen=True)
class EncodedLayer:
    """A layer's blob (`[records][weights]` per core), its traversal and each core's streams in it."""

    blob: bytes
    traversal: Traversal
    cores: tuple[CoreStreams, ...]


def encode_layer(layer: LayerWeights, ofm_block_depth: int, target: Target) -> EncodedLayer:
    """Encode a layer for `target` with the block config's OFM depth `ofm_block_depth`.

    The emitter programs SCALE_BASE/LENGTH and WEIGHT_BASE/LENGTH (the
    second core's SCALE1_*/WEIGHT1_*) from `cores`, offsets relative to
    where it places the blob, and KERNEL_STRIDE's `weight_order` from
    `traversal`. Raises `TargetError` for a bias or rescale the records
    cannot hold.
    """
    volume = layer.volume()
    ofm_depth, kernel_height, kernel_width, ifm_depth = volume.shape
    traversal = choose_traversal(layer.kind, ifm_depth, kernel_height * kernel_width, layer.ifm_bits, target)
    blob = bytearray()
    cores = []
    for core in range(min(target.cores, ofm_depth)):
        channels = slice(core, None, target.cores)
        scale_offset = len(blob)
        blob += scale_bias_records(
            layer.name, layer.bias[channels], layer.multiplier[channels], layer.shift[channels], layer.reduced_scales()
        )
        blob += bytes(-len(blob) % target.alignment)
        weight_offset = len(blob)
        core_block_depth = -(-(ofm_block_depth - core) // target.cores)
        blob += compress(
            brick_order(volume[channels], layer.kind, traversal, core_block_depth, layer.ifm_bits, layer.dilation, target)
        )
        weight_length = len(blob) - weight_offset
        blob += bytes(-len(blob) % target.alignment)
        cores.append(CoreStreams(scale_offset, weight_offset - scale_offset, weight_offset, weight_length))
    return EncodedLayer(bytes(blob), traversal, tuple(cores))
