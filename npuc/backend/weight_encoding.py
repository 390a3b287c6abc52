"""The Ethos-U encoded constants of a weighted NPU layer, derived once from its quantized op.

On a target whose `weight_encoding` is `ethos-u`, a conv, depthwise conv or
fully connected layer stores its weights and scale/bias table as the NPU
reads them (`npuc.emit.ethos_u.weights.encode_layer`): per core, mlw-coded
weights in brick order and 10-byte scale records. The encoding depends on
the layer's OFM block depth, so it exists from npu-tile on. npu-schedule and
npu-allocate size the weight and bias buffers by it
(`npuc.backend.planning.buffer_bytes`) and npu-lower stores its bytes, so all
three must see the same encoding: `layer_streams` computes it from the op's
constants, rescale, IFM width, dilation and block, and caches it by those
values, so each layer is encoded once per process.

The streams of one kind sit back to back: the weight buffer holds core 0's
weight stream then core 1's, the bias buffer core 0's records then core
1's, each stream padded to the target's alignment. A layer whose weights are
streamed in OFM-depth slices (`slice_depth`) is encoded slice by slice, each
slice as a layer of its own, slice after slice (`LayerStreams.slices`).

An encoded depthwise convolution keeps the IFM depth (its bricks hold one
IFM channel per OFM channel), so a depthwise layer with a channel
multiplier runs as a convolution (`runs_as_convolution`): output channel c
reads IFM channel c // multiplier, every other IFM channel with weight 0
(Vela does the same for an IFM of one channel).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from weakref import WeakKeyDictionary

import numpy as np
from xdsl.dialects.builtin import DenseArrayBase, DenseIntOrFPElementsAttr
from xdsl.ir import Operation, SSAValue
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.operators import WEIGHTED_OPS
from npuc.cost.geometry import ceil_to
from npuc.dialects.common import array_values, constant_value, layer_name, value_shape
from npuc.dialects.npu import BLOCK_ATTR, STRIPE_ATTR, StageOp
from npuc.dialects.quantized import (
    ConstantOp,
    DepthwiseConv2dOp,
    FullyConnectedOp,
    quant_type,
)
from npuc.dialects.window_layers import Conv2dBase
from npuc.emit.ethos_u.weights import (
    CONV2D,
    DEPTHWISE_CONV2D,
    FULLY_CONNECTED,
    EncodedLayer,
    LayerWeights,
    Traversal,
    encode_layer,
)
from npuc.errors import TargetError
from npuc.reference.int_parameters import rescale_parameters
from npuc.targets import Target

WEIGHTS_OPERAND, BIAS_OPERAND = 1, 2
"""Operand positions of the weights and the bias of a conv, depthwise conv or fully connected op."""


@dataclass(frozen=True)
class StreamSlice:
    """The streams of one OFM-depth slice of a layer (the whole layer when it is not sliced).

    `channels` are the slice's OFM channels; `weights` and `scales` its
    bytes in the layer's weight and bias buffers (every core's streams of
    the slice, back to back); `weight_lengths` and `scale_lengths` the
    padded stream lengths per core, as its command's `encoding` states them.
    """

    channels: range
    weights: range
    scales: range
    weight_lengths: tuple[int, ...]
    scale_lengths: tuple[int, ...]

    def bytes_of(self, operand: int) -> range:
        """The slice's bytes in the buffer of operand `operand`: the weights' or the bias' (`BIAS_OPERAND`)."""
        return self.scales if operand == BIAS_OPERAND else self.weights


@dataclass(frozen=True)
class LayerStreams:
    """A layer's encoded constants: the weight buffer's and the bias buffer's bytes.

    `slices` are the OFM-depth slices the layer's commands read, one each
    (`slice_depth`): one slice, the whole layer, unless its weights are
    streamed in depth slices, each then encoded as a layer of its own, its
    streams after the previous slice's. `traversal` is the weight order the
    NPU is told (the same for every slice); `wide` says the records hold the
    15-bit scales of TFLite's int64-bias rescale (`npuc.emit.ethos_u.scales`).
    """

    weights: bytes
    scales: bytes
    slices: tuple[StreamSlice, ...]
    traversal: Traversal
    wide: bool

    @property
    def weight_lengths(self) -> tuple[int, ...]:
        """The padded weight stream length per core of an unsliced layer."""
        assert len(self.slices) == 1, "a sliced layer's streams are per slice"
        return self.slices[0].weight_lengths

    @property
    def scale_lengths(self) -> tuple[int, ...]:
        """The padded scale stream length per core of an unsliced layer."""
        assert len(self.slices) == 1, "a sliced layer's streams are per slice"
        return self.slices[0].scale_lengths

    def largest_slice(self, operand: int) -> int:
        """Bytes of the longest slice's weight streams (`WEIGHTS_OPERAND`) or scale streams
        (`BIAS_OPERAND`): the size of one slot of a sliced copy of that buffer."""
        return max(len(part.bytes_of(operand)) for part in self.slices)


def slice_depth(op: Operation) -> int | None:
    """The OFM channels per depth slice of a weighted layer whose weights are streamed in slices (its
    `npu.stripe` shallower than its OFM), else None."""
    stripe = op.attributes.get(STRIPE_ATTR)
    if not isinstance(op, WEIGHTED_OPS) or not isinstance(stripe, DenseArrayBase):
        return None
    depth = array_values(stripe)[2]
    return depth if depth < value_shape(op.results[0])[-1] else None


def weighted_consumers(value: SSAValue, operand: int) -> list[Operation]:
    """The conv, depthwise conv and fully connected ops reading `value` (directly or staged) as operand `operand`."""
    consumers: list[Operation] = []
    for use in value.uses:
        if isinstance(use.operation, StageOp):
            consumers += weighted_consumers(use.operation.output, operand)
        elif isinstance(use.operation, WEIGHTED_OPS) and use.index == operand:
            consumers.append(use.operation)
    return consumers


def layer_streams(op: Operation, target: Target) -> LayerStreams:
    """The encoded weight and bias buffers of the NPU layer `op` (cached by the values they depend on).

    Raises `PassFailedException` naming the layer when its weights are not
    a constant, it has no `npu.block` yet, or a record field does not fit.
    """
    weights = _constant(op.operands[WEIGHTS_OPERAND], op, "weights")
    bias = _constant(op.operands[BIAS_OPERAND], op, "bias")
    block = op.attributes.get(BLOCK_ATTR)
    if not isinstance(block, DenseArrayBase):
        raise PassFailedException(f"{layer_name(op)}: no {BLOCK_ATTR} to encode its weights for: run npu-tile first")
    depth = slice_depth(op)
    known = _BY_LAYER.get(op)
    if (known is not None and known[0] is weights and known[1] is bias and known[2] == block
            and known[3] == depth and known[4] == target):
        return known[5]
    streams = _streams(op, weights, bias, block, depth, target)
    _BY_LAYER[op] = (weights, bias, block, depth, target, streams)
    return streams


_BY_LAYER: WeakKeyDictionary[
    Operation, tuple[ConstantOp, ConstantOp, DenseArrayBase, int | None, Target, LayerStreams]
] = WeakKeyDictionary()
"""Each layer's streams with the constants, block, slice depth and target they were encoded for: the back end asks
for them many times per layer, and building `_LayerKey` (rescale, hashing the weights) costs more than
the lookup. A layer's types (its rescale, dilation, IFM depth) do not change in the back end. Targets
compare by value: every pass loads its own `Target`, equal to the other passes'."""


def _streams(
    op: Operation, weights: ConstantOp, bias: ConstantOp, block: DenseArrayBase, depth: int | None, target: Target
) -> LayerStreams:
    """`layer_streams` of `op` with these constants and block, through the cache by value (`_encode`)."""
    weight_type, ifm_type = quant_type(op.operands[WEIGHTS_OPERAND]), quant_type(op.operands[0])
    assert weight_type is not None and ifm_type is not None, "weighted layers are quantized (verified)"
    multiplier, shift = rescale_parameters(op)
    window = op.window() if isinstance(op, Conv2dBase) else None
    expanded = runs_as_convolution(op, target)
    key = _LayerKey(
        layer_name(op), CONV2D if expanded else _kind(op), weights.value,
        tuple(z.data for z in weight_type.zero_points.data), bias.value,
        multiplier.astype(np.int64).tobytes(), shift.astype(np.int64).tobytes(), ifm_type.bits,
        window.dilations if window else (1, 1), array_values(block)[2],
        value_shape(op.operands[0])[-1] if expanded else 0, depth or 0,
    )  # fmt: skip
    try:
        return _encode(key, target)
    except TargetError as error:  # a bias or rescale the records cannot hold
        raise PassFailedException(str(error)) from None


@dataclass(frozen=True)
class _LayerKey:
    """Everything a layer's encoding depends on besides the target (hashable, for the cache)."""

    name: str
    kind: str
    weights: DenseIntOrFPElementsAttr
    zero_points: tuple[int, ...]
    bias: DenseIntOrFPElementsAttr
    multiplier: bytes
    shift: bytes
    ifm_bits: int
    dilation: tuple[int, int]
    block_depth: int
    expanded_ifm_depth: int
    """The IFM depth of a depthwise layer encoded as a convolution (`runs_as_convolution`), else 0."""
    slice_depth: int
    """The OFM channels per depth slice (`slice_depth`), 0 for one slice of the whole layer."""


def runs_as_convolution(op: Operation, target: Target) -> bool:
    """Whether `op` is a depthwise layer with a channel multiplier on a target that encodes weights (see
    the module docstring): npu-lower makes it an `npu.conv2d` and its weights a convolution's."""
    return (
        isinstance(op, DepthwiseConv2dOp)
        and target.encodes_weights
        and value_shape(op.operands[0])[-1] != value_shape(op.results[0])[-1]
    )


def convolution_weights(depthwise: np.ndarray, ifm_depth: int, zero_points: np.ndarray) -> np.ndarray:
    """The OHWI weights of the convolution computing depthwise weights [1, KH, KW, C x M] over `ifm_depth`
    (C) channels: zero points where an output channel does not read an IFM channel."""
    channels = depthwise.shape[3]
    multiplier = channels // ifm_depth
    volume = np.broadcast_to(np.broadcast_to(zero_points, (channels,)).reshape(channels, 1, 1, 1),
                             (channels, *depthwise.shape[1:3], ifm_depth)).astype(depthwise.dtype)
    ohwi = volume.copy()
    reads = np.arange(channels) // multiplier
    ohwi[np.arange(channels), :, :, reads] = depthwise[0].transpose(2, 0, 1)
    return ohwi


@lru_cache(maxsize=1024)
def _encode(key: _LayerKey, target: Target) -> LayerStreams:
    zero_points = np.array(key.zero_points, dtype=np.int64)
    bias = constant_value(key.bias)
    weights = constant_value(key.weights)
    if key.expanded_ifm_depth:
        weights = convolution_weights(weights, key.expanded_ifm_depth, zero_points)
    layer = LayerWeights(
        key.name, key.kind, weights, zero_points if zero_points.size > 1 else int(zero_points[0]),
        bias, np.frombuffer(key.multiplier, np.int64), np.frombuffer(key.shift, np.int64), key.ifm_bits, key.dilation,
    )  # fmt: skip
    depth = key.slice_depth or len(bias)
    encoded = [
        (range(start, min(start + depth, len(bias))), encode_layer(layer.channels(start, start + depth), key.block_depth, target))
        for start in range(0, len(bias), depth)
    ]
    return _split(encoded, target, wide=layer.reduced_scales())


def _split(encoded: list[tuple[range, EncodedLayer]], target: Target, wide: bool) -> LayerStreams:
    """The blobs of a layer's slices (their OFM channels, their encoding) as the weight streams and the
    scale streams, each kind back to back: slice by slice, core by core within a slice."""
    weights, scales = bytearray(), bytearray()
    slices = []
    traversal = encoded[0][1].traversal
    for channels, part in encoded:
        weight_start, scale_start = len(weights), len(scales)
        weight_lengths, scale_lengths = [], []
        for core in part.cores:
            weight_length = ceil_to(core.weight_length, target.alignment)
            weights += part.blob[core.weight_offset : core.weight_offset + weight_length]
            scales += part.blob[core.scale_offset : core.scale_offset + core.scale_length]
            weight_lengths.append(weight_length)
            scale_lengths.append(core.scale_length)
        slices.append(StreamSlice(channels, range(weight_start, len(weights)), range(scale_start, len(scales)),
                                  tuple(weight_lengths), tuple(scale_lengths)))  # fmt: skip
    return LayerStreams(bytes(weights), bytes(scales), tuple(slices), traversal, wide)


def _kind(op: Operation) -> str:
    if isinstance(op, DepthwiseConv2dOp):
        return DEPTHWISE_CONV2D
    return FULLY_CONNECTED if isinstance(op, FullyConnectedOp) else CONV2D


def _constant(value: SSAValue, op: Operation, what: str) -> ConstantOp:
    """The constant `value` holds (through weight staging); PassFailedException if it is computed."""
    owner = value.owner
    while isinstance(owner, StageOp):
        owner = owner.input.owner
    if not isinstance(owner, ConstantOp):
        raise PassFailedException(f"{layer_name(op)}: the Ethos-U weight encoding needs constant {what}")
    return owner
