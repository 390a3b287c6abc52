"""The DMA commands of a lowering, and where the program issues them.

A staged tensor (`npu.stage`: a layer's weights or scale/bias table copied
into the staging memory) is one copy, attributed to the layer reading it.
Staged in OFM-depth slices through `npu.slots` slots, it is one copy per
slice, slice k into slot k mod slots: the stage issues the copies of the
first slots - 1 slices (`stage_copies`), the layer's slice commands the
others (`npuc.backend.weight_slices`). A constant input of a concat view is
copied from the weights memory into its slice (`constant_copies`).

The DMA engine runs copies in program order, so where a copy is issued
matters: `program_order` issues a stage hoisted over a layer whose weights
are streamed in slices before that layer's last command instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod

from xdsl.dialects.builtin import IntegerAttr, StringAttr
from xdsl.ir import Operation

from npuc.backend.addresses import Addresses
from npuc.backend.planning import sized_bytes
from npuc.backend.views import constant_slices, view_axis
from npuc.backend.weight_encoding import WEIGHTS_OPERAND, layer_streams, slice_depth
from npuc.dialects import npu, quantized
from npuc.dialects.common import LAYER_ATTR, layer_name, value_shape


def stage_copies(addresses: Addresses, op: npu.StageOp) -> list[Operation]:
    """The copy of a staged tensor; of weights (scales) streamed in OFM-depth slices, the copies of the
    slices before the first slot its layer's commands reuse (`depth_slice_commands` issues the others)."""
    slots = op.attributes.get(npu.SLOTS_ATTR)
    if not isinstance(slots, IntegerAttr):
        return [_whole_copy(addresses, op)]
    (use,) = op.output.uses
    parts = layer_streams(use.operation, addresses.target).slices
    return [slice_copy(addresses, op, index) for index in range(min(slots.value.data - 1, len(parts)))]


def slice_copy(addresses: Addresses, op: npu.StageOp, index: int) -> npu.DmaOp:
    """The copy of slice `index` of the weights (scales) the stage `op` holds in `npu.slots` slots, from
    where they are stored into slot `index` mod slots."""
    (use,) = op.output.uses
    layer = use.operation
    streams = layer_streams(layer, addresses.target)
    part, slot = streams.slices[index].bytes_of(use.index), streams.largest_slice(use.index)
    slots = op.attributes[npu.SLOTS_ATTR]
    assert isinstance(slots, IntegerAttr)
    source_memory, source_offset = addresses.location(op.input)
    target_memory, target_offset = addresses.location(op.output)
    return npu.DmaOp(
        npu.BufferAttr(source_memory, source_offset + part.start, len(part)),
        npu.BufferAttr(target_memory, target_offset + index % slots.value.data * slot, len(part)),
        _layer(op) or layer_name(layer),
    )


def _whole_copy(addresses: Addresses, op: npu.StageOp) -> npu.DmaOp:
    """The copy of a staged tensor, attributed to the layer that reads it."""
    size = sized_bytes(op.output, addresses.target, addresses.sizes)
    source_memory, source_offset = addresses.location(op.input)
    target_memory, target_offset = addresses.location(op.output)
    readers = [use.operation for use in op.output.uses]
    layer = layer_name(readers[0]) if readers else layer_name(op)
    return npu.DmaOp(
        npu.BufferAttr(source_memory, source_offset, size),
        npu.BufferAttr(target_memory, target_offset, size),
        _layer(op) or layer,
    )


def constant_copies(addresses: Addresses, op: quantized.ConcatOp) -> list[Operation]:
    """One DMA per constant input of a concat view, from the weights memory into its slice.

    npu-legalize placed the concat on the NPU only if each such slice is
    contiguous bytes of the concat's dense buffer (`npuc.backend.views.constant_problem`).
    """
    copies: list[Operation] = []
    for constant, start in constant_slices(op):
        whole = addresses.feature_map(op.output)
        assert whole.wrap.data == 0, "a concat's buffer does not wrap"
        size = prod(value_shape(constant.output)) * whole.element_type.bits // 8
        memory, source = addresses.location(constant.output)
        target = whole.offset.data + start * whole.stride_values()[view_axis(op)]
        copies.append(
            npu.DmaOp(
                npu.BufferAttr(memory, source, size),
                npu.BufferAttr(whole.region.data, target, size),
                layer_name(op),
            )
        )
    return copies


def program_order(body: Sequence[Operation], lower: Callable[[Operation], list[Operation]]) -> list[Operation]:
    """The commands `lower` gives each op of `body`, in program order, but the copies of a stage hoisted
    over a layer whose weights are streamed in slices (`_hoisted_over_slices`) issued before that
    layer's last compute command."""
    program: list[Operation] = []
    deferred: list[Operation] = []
    for position, op in enumerate(body):
        commands = lower(op)
        if isinstance(op, npu.StageOp) and _hoisted_over_slices(body, position):
            deferred += commands
            continue
        if deferred and commands and slice_depth(op) is not None:
            last = max(index for index, command in enumerate(commands) if isinstance(command, npu.ComputeOp))
            commands[last:last] = deferred
            deferred = []
        program += commands
    return program


def _hoisted_over_slices(body: Sequence[Operation], position: int) -> bool:
    """Whether the stage `body[position]` is hoisted over a layer whose weights are streamed in slices
    through slots (the first op after the stages and constants there, not the stage's reader).

    Its copy is issued before that layer's last command instead: the DMA
    engine runs copies in program order, so issued where it is, the copy
    would hold up the slices' copies (issued between the layer's commands)
    until its own buffer is free.
    """
    stage = body[position]
    following = next(
        (op for op in body[position + 1 :] if not isinstance(op, npu.StageOp | quantized.ConstantOp)), None
    )
    if following is None or slice_depth(following) is None or any(use.operation is following for use in stage.results[0].uses):
        return False
    weights = following.operands[WEIGHTS_OPERAND].owner
    return isinstance(weights, npu.StageOp) and npu.SLOTS_ATTR in weights.attributes


def _layer(op: Operation) -> str | None:
    """The op's own `layer` attribute, if it has one."""
    attr = op.attributes.get(LAYER_ATTR)
    return attr.data if isinstance(attr, StringAttr) else None
