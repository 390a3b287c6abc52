"""The commands of a layer whose weights are streamed in OFM-depth slices (docs/ir.md "Weight slices").

A conv, depthwise conv or fully connected layer whose `npu.stripe` is
shallower than its OFM (`slice_depth`) runs one command per slice: the
slice's channels of the OFM (of the IFM too, depthwise), its encoded
streams (`npuc.backend.weight_encoding`) and the layer's block clipped to
it. Staged through `npu.slots` slots, the copies of the slices beyond the
first slots - 1 are issued between the commands, each into the slot the
command before last read (`npuc.backend.dma_commands.slice_copy`).
"""

from __future__ import annotations

from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr
from xdsl.ir import Attribute, Operation
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.addresses import Addresses
from npuc.backend.dma_commands import slice_copy
from npuc.backend.planning import clip_block, describe, hwc
from npuc.backend.stripes import channel_view, stripe_height
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND, layer_streams
from npuc.dialects import npu
from npuc.dialects.common import array_values, layer_name
from npuc.targets import BlockShape


def depth_slice_commands(
    addresses: Addresses, op: Operation, op_type: type[npu.ComputeOp], properties: dict[str, Attribute]
) -> list[Operation]:
    """The commands of a layer whose weights are streamed in OFM-depth slices (`slice_depth`), one per
    slice, each with its channels of the OFM (of the IFM too, depthwise), its streams and the block
    clipped to it; `properties` are those of the whole layer's command.

    Read in place, a slice's command reads its streams where they are
    stored. Staged into `npu.slots` slots (its scales and its weights,
    each in their own buffer), slice k is in slot k mod slots: the
    copies of the first slots - 1 slices are issued where the stages are
    (`stage_copies`), and the copies of slice k + slots - 1 right before the
    command of slice k, so that they run while that command computes;
    they overwrite the slots the command of slice k - 1 read.
    """
    target = addresses.target
    if not target.encodes_weights:
        raise PassFailedException(
            f"{addresses.pass_name}: {describe(op)}: OFM-depth slices of weights need a target that encodes them "
            f"({target.name} does not)"
        )
    streams = layer_streams(op, target)
    weights, scales, ofm, block = (properties[name] for name in ("weights", "scale_bias", "ofm", "block"))
    assert isinstance(weights, npu.BufferAttr) and isinstance(scales, npu.BufferAttr)
    assert isinstance(ofm, npu.FeatureMapAttr) and isinstance(block, DenseArrayBase)
    stripe_height(op, ofm)  # refuses height stripes besides the depth slices
    stages = {
        name: stage for name, operand in (("scale_bias", BIAS_OPERAND), ("weights", WEIGHTS_OPERAND))
        if isinstance(stage := op.operands[operand].owner, npu.StageOp) and npu.SLOTS_ATTR in stage.attributes
    }  # fmt: skip
    height, width, _ = hwc(ofm.shape_values())
    commands: list[Operation] = []
    for index, part in enumerate(streams.slices):
        buffers = {}
        for name, operand, buffer in (("scale_bias", BIAS_OPERAND, scales), ("weights", WEIGHTS_OPERAND, weights)):
            held = part.bytes_of(operand)
            start = held.start
            if name in stages:
                slots = stages[name].attributes[npu.SLOTS_ATTR]
                assert isinstance(slots, IntegerAttr)
                if index + slots.value.data - 1 < len(streams.slices):
                    commands.append(slice_copy(addresses, stages[name], index + slots.value.data - 1))
                start = index % slots.value.data * streams.largest_slice(operand)
            buffers[name] = npu.BufferAttr(buffer.region.data, buffer.offset.data + start, len(held))
        command = properties | buffers | {
            "ofm": channel_view(ofm, part.channels),
            "encoding": npu.EncodedWeightsAttr(
                streams.traversal.name.lower(), part.weight_lengths, part.scale_lengths, streams.wide
            ),
            "block": npu.block_attr(clip_block(BlockShape(*array_values(block)),
                                               (height, width, len(part.channels)), target.ofm_ublock)),
        }  # fmt: skip
        ifm = properties["ifm"]
        if op_type is npu.DepthwiseConv2dOp and isinstance(ifm, npu.FeatureMapAttr):
            command["ifm"] = channel_view(ifm, part.channels)
        commands.append(npu.build_command(op_type, command, layer_name(op)))
    return commands
