"""Decoding a weighted command's encoded streams back into weights and TFLite's rescale.

A command with `encoding = #npu.encoded<...>` holds per NPU core an
mlw-coded weight stream in brick order and a stream of 10-byte scale
records (docs/ir.md). The simulator reads them from its memories as the NPU
would, with the register-level simulator's readers
(`npuc.sim.ethos_u.mlw`: the codec's own decoder; `npuc.sim.ethos_u.weight_stream`:
the brick order inverted, the records unpacked), deals each core's output channels back,
and turns every record into TFLite's (bias, multiplier, exponent), so the
integer kernels compute the command as the quantized reference defines it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from npuc.dialects import npu
from npuc.dialects.common import layer_name
from npuc.emit.ethos_u.scales import MULTIPLIER_FRACTION_BITS, REDUCED_MULTIPLIER_BITS
from npuc.sim.ethos_u.mlw import decode_weights
from npuc.sim.ethos_u.weight_stream import BrickLayout, scale_records, unbrick
from npuc.targets import Target

REDUCED_DROPPED_BITS = MULTIPLIER_FRACTION_BITS - REDUCED_MULTIPLIER_BITS
"""Bits TFLite's int64 rescale drops of the Q31 multiplier: a 15-bit record scale is the multiplier >> this."""


@dataclass(frozen=True)
class DecodedLayer:
    """A weighted command's constants in the integer kernels' form.

    `weights` is OHWI (I = 1 for depthwise) int8; `bias` int32, or int64
    for wide records; `multiplier` and `exponent` are TFLite's per output
    channel.
    """

    weights: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    exponent: np.ndarray


def decode_layer(
    op: npu.WeightedOp | npu.FullyConnectedOp, weights: np.ndarray, scales: np.ndarray, target: Target
) -> DecodedLayer:
    """Decode `op`'s weight buffer bytes `weights` and scale/bias buffer bytes `scales`."""
    encoding = op.encoding
    assert encoding is not None, "decode_layer reads encoded commands"
    where = f"layer '{layer_name(op)}'"
    ofm_depth, ifm_depth = op.ofm.shape_values()[-1], op.ifm.shape_values()[-1]
    depthwise = isinstance(op, npu.DepthwiseConv2dOp)
    kernel, dilation = ((1, 1), (1, 1)) if isinstance(op, npu.FullyConnectedOp) else (op.window().kernel, op.window().dilations)
    weight_lengths, scale_lengths = encoding.weight_stream_lengths(), encoding.scale_stream_lengths()
    cores = len(weight_lengths)
    ohwi = np.zeros((ofm_depth, *kernel, 1 if depthwise else ifm_depth), dtype=np.int64)
    bias, scale, shift = (np.zeros(ofm_depth, dtype=np.int64) for _ in range(3))
    weight_start = scale_start = 0
    for core in range(cores):
        channels = np.arange(core, ofm_depth, cores)
        layout = BrickLayout(
            ofm_depth=len(channels), kernel_height=kernel[0], kernel_width=kernel[1],
            ifm_depth=1 if depthwise else ifm_depth, ofm_block_depth=-(-(op.block_shape()[2] - core) // cores),
            depthwise=depthwise, part_kernel_first=encoding.traversal.data == "part_kernel_first",
            ifm_bits=op.ifm.element_type.bits, ofm_micro_block=target.ofm_ublock.depth,
            dilation_y=dilation[0], dilation_x=dilation[1],
        )  # fmt: skip
        stream = weights[weight_start : weight_start + weight_lengths[core]].tobytes()
        ohwi[channels] = unbrick(decode_weights(stream, f"{where}, core {core}"), layout, where)
        records = scales[scale_start : scale_start + scale_lengths[core]].tobytes()
        bias[channels], scale[channels], shift[channels] = scale_records(records, len(channels), where)
        weight_start += weight_lengths[core]
        scale_start += scale_lengths[core]
    if depthwise:
        kernel_weights = ohwi.transpose(3, 1, 2, 0)
    elif isinstance(op, npu.FullyConnectedOp):
        kernel_weights = ohwi[:, 0, 0, :]
    else:
        kernel_weights = ohwi
    if encoding.wide.data:  # the inverse of `scales.record_scales`
        return DecodedLayer(kernel_weights.astype(np.int8), bias, scale << REDUCED_DROPPED_BITS, REDUCED_MULTIPLIER_BITS - shift)
    if not isinstance(op, npu.FullyConnectedOp):  # a fully connected layer's rescale does not follow its bias type
        bias = bias.astype(np.int32)
    return DecodedLayer(kernel_weights.astype(np.int8), bias, scale, MULTIPLIER_FRACTION_BITS - shift)
