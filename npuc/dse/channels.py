"""Channel what-if: what a layer's output channel count costs against the NPU's feature-map bricks.

An NPU that stores feature maps in bricks of `brick_depth` channels
(Ethos-U's NHCWB16: `[feature_maps] brick_depth` of the target) computes and
moves a partly filled brick as a full one: 90 output channels may cost what
96 do, and 17 what 32 do. For every conv, depthwise conv and fully connected
layer of a quantized module whose output channel count is off the brick, this
module builds the module with that count rounded down and up to the brick and
has a caller-given `measure` (the normal analyze path, `npuc.api.channel_what_if`)
price each: cycles and peak bytes of the budgeted SRAM.

Layers are not changed alone. Their output reaches other ops, and the
channels of a tensor must agree wherever it goes: a **channel group** is the
set of tensors that share one channel axis, found by following the tensor
through ops that compute each channel from the same channel of their inputs
(depthwise convs of multiplier 1, activations, pools, resizes, elementwise
binary ops, and reductions, reshapes and pads that keep the channel axis
last and whole). A group starts at the convs and fully connected layers
that produce it (their filters change) and ends at those that read it
(their input slices change); an elementwise op joining two producers puts
both in the group (MobileNetV2's residual adds).

Rounding up adds zero filters with zero bias, each new channel's per-channel
weight scale (and explicit rescale) copied from the last channel; depthwise
convs in the group grow the same way, and the consumers get zero input
slices. The kept channels then compute exactly the numbers they did: a
consumer's zero weights make its result independent of the new channels,
whatever values they hold. A group whose tensor meets an op that mixes or
moves channels (concat, transpose, a reshape moving the channel axis, a
reduction over it, a constant operand over the channels, any op not known
to keep channels apart) or a model input is declined with that op named; a
softmax over the channels declines only rounding up (the new channels would
take a share of every probability). A group that reaches a model output
widens or narrows that output (its kept channels exact). Rounding down
drops the last channels (and the consumers' matching input slices): the
numbers change, it is a what-if for cost only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import ReturnOp
from xdsl.ir import Operation, OpResult, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from npuc.dialects import quantized
from npuc.dialects.common import (
    BinaryBase,
    ReduceBase,
    ReshapeBase,
    SoftmaxBase,
    UnaryBase,
    array_values,
    constant_value,
    layer_name,
    value_shape,
)
from npuc.dialects.movement import PadBase, ResizeBase
from npuc.dialects.quantized_layers import QuantizedConvLike
from npuc.dialects.window_layers import Pool2dBase
from npuc.errors import ChannelVariantError, NpucError
from npuc.ir import main_function
from npuc.report.advice import channel_variant_line
from npuc.targets import Target

PRODUCERS = (quantized.Conv2dOp, quantized.FullyConnectedOp)
"""Layers that produce a channel group from other channels (their filters change) and end one
(their input slices change)."""

CHANNEL_LAYERS = (*PRODUCERS, quantized.DepthwiseConv2dOp)
"""The layers whose output channel counts the what-if looks at."""

_PER_CHANNEL = (
    UnaryBase, BinaryBase, Pool2dBase, ResizeBase, quantized.ClampOp, quantized.QuantizeOp, quantized.DequantizeOp,
)
"""Ops computing each output channel from the same channel of their inputs (softmax is a `UnaryBase`
too; it is handled before these)."""


@dataclass(frozen=True)
class Measurement:
    """What the analyze path says of one module: total cycles and the peak bytes of the budgeted SRAM."""

    cycles: int
    sram_bytes: int


@dataclass(frozen=True)
class ChannelVariant:
    """One rounding of a channel group: its channel count and measurement, or why it was not measured."""

    channels: int
    measurement: Measurement | None = None
    declined: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The report's form (docs/report-format.md, `channel_variants`)."""
        measured = self.measurement
        return {"channels": self.channels, "cycles": measured.cycles if measured else None,
                "sram_bytes": measured.sram_bytes if measured else None, "declined": self.declined}


@dataclass(frozen=True)
class ChannelWhatIf:
    """The channel what-if of one channel group: its layers, channel count and the two roundings.

    `layers` are the conv, depthwise and fully connected layers whose output
    is in the group (in program order; several when an elementwise op or a
    depthwise conv ties them); `memory` the budgeted SRAM the byte figures
    are of; `original` the unchanged module's measurement.
    """

    layers: tuple[str, ...]
    channels: int
    brick_depth: int
    memory: str
    original: Measurement
    down: ChannelVariant
    up: ChannelVariant

    def as_dict(self) -> dict[str, Any]:
        """The report's form (docs/report-format.md, `channel_variants`)."""
        return {"layers": list(self.layers), "channels": self.channels, "brick_depth": self.brick_depth,
                "memory": self.memory, "cycles": self.original.cycles, "sram_bytes": self.original.sram_bytes,
                "down": self.down.as_dict(), "up": self.up.as_dict()}

    def row(self) -> dict[str, Any]:
        """One flat row (a sweep's table): the original's and each rounding's figures and differences."""
        row: dict[str, Any] = {"layer": " + ".join(self.layers), "channels": self.channels,
                               "brick_depth": self.brick_depth, "memory": self.memory,
                               "cycles": self.original.cycles, "sram_bytes": self.original.sram_bytes}
        for direction, variant in (("down", self.down), ("up", self.up)):
            measured = variant.measurement
            row |= {
                f"{direction}_channels": variant.channels,
                f"{direction}_cycles": measured.cycles if measured else None,
                f"{direction}_sram_bytes": measured.sram_bytes if measured else None,
                f"{direction}_cycles_change": measured.cycles - self.original.cycles if measured else None,
                f"{direction}_sram_bytes_change": measured.sram_bytes - self.original.sram_bytes if measured else None,
                f"{direction}_declined": variant.declined,
            }
        return row

    def advice(self) -> str:
        """The advice line `npuc analyze` prints for this group."""
        return channel_variant_line(self.as_dict())


@dataclass
class ChannelGroup:
    """The tensors sharing one channel axis, with the layers to change for another channel count.

    `values` hold `channels` channels on their last axis; `producers` write
    them (filters change), `depthwise` convs pass them through (weights and
    bias grow or shrink with them), `consumers` read them as their input
    (input slices change). `reaches_output` says a model output is in the
    group. `declined` is why no rounding can be built (empty if it can),
    `declined_up` why rounding up cannot keep the kept channels exact.
    """

    channels: int
    values: list[SSAValue] = field(default_factory=list)
    producers: list[QuantizedConvLike] = field(default_factory=list)
    depthwise: list[QuantizedConvLike] = field(default_factory=list)
    consumers: list[QuantizedConvLike] = field(default_factory=list)
    reaches_output: bool = False
    declined: str = ""
    declined_up: str = ""

    def layers(self) -> tuple[str, ...]:
        """Names of the conv, depthwise and fully connected layers whose output is in the group."""
        return tuple(layer_name(op) for op in _in_program_order([*self.producers, *self.depthwise]))

    def decline(self, reason: str) -> None:
        """Record why the group cannot be rounded (the first reason found stays)."""
        self.declined = self.declined or reason


def _in_program_order(ops: Sequence[Operation]) -> list[Operation]:
    block = ops[0].parent_block() if ops else None
    order = {id(op): index for index, op in enumerate(block.ops)} if block else {}
    return sorted(ops, key=lambda op: order.get(id(op), 0))


def _channels(value: SSAValue) -> int:
    shape = value_shape(value)
    return shape[-1] if shape else 1


def _is_constant(value: SSAValue) -> bool:
    return isinstance(value.owner, quantized.ConstantOp)


def channel_group(seed: SSAValue) -> ChannelGroup:
    """The channel group of `seed` (a layer's output): every tensor that must keep its channel count."""
    group = ChannelGroup(_channels(seed))
    seen_ops: set[int] = set()
    pending = [seed]
    while pending:
        value = pending.pop()
        if value in group.values:
            continue
        group.values.append(value)
        if not isinstance(value, OpResult):
            group.decline("a model input has these channels")
        elif isinstance(value.owner, PRODUCERS):
            _add_layer(group.producers, value.owner, group)
        elif id(value.owner) not in seen_ops:
            seen_ops.add(id(value.owner))
            pending += _visit(value.owner, group)
        for use in value.uses:
            user = use.operation
            if isinstance(user, PRODUCERS):
                if use.index != 0:
                    group.decline(f"{layer_name(user)} ({user.name}) reads them as weights or bias")
                _add_layer(group.consumers, user, group)
            elif id(user) not in seen_ops:
                seen_ops.add(id(user))
                pending += _visit(user, group)
    return group


def _add_layer(layers: list[QuantizedConvLike], op: QuantizedConvLike, group: ChannelGroup) -> None:
    """Add a conv-like layer whose weights and bias change with the group (they must be constants)."""
    layers.append(op)
    if not all(_is_constant(value) for value in op.operands[1:]):
        group.decline(f"{layer_name(op)} ({op.name}): its weights or bias are computed")


def _visit(op: Operation, group: ChannelGroup) -> list[SSAValue]:
    """Classify `op` (not a producer), which writes or reads a group tensor; the tensors it ties to the group."""
    name = f"{layer_name(op)} ({op.name})"
    if isinstance(op, ReturnOp):
        group.reaches_output = True
        return []
    if isinstance(op, quantized.ConstantOp):
        group.decline(f"{name}: a constant has these channels")
        return []
    if isinstance(op, quantized.DepthwiseConv2dOp):
        if op.depth_multiplier() != 1:
            group.decline(f"{name}: depth multiplier {op.depth_multiplier()}")
        _add_layer(group.depthwise, op, group)
        return [op.operands[0], *op.results]
    if isinstance(op, SoftmaxBase) and op.axis.value.data == len(value_shape(op.operands[0])) - 1:
        group.declined_up = f"{name} normalises over the channels: new ones would change the kept ones"
        return _channel_operands(op, group) + list(op.results)
    if isinstance(op, _PER_CHANNEL) or _keeps_channel_axis(op, group.channels):
        if any(_channels(value) != group.channels for value in op.results):
            group.decline(f"{name} broadcasts the channels")
        return _channel_operands(op, group) + list(op.results)
    group.decline(f"{name} may mix or move the channels")
    return []


def _keeps_channel_axis(op: Operation, channels: int) -> bool:
    """A reshape, reduction or padding that leaves the channel axis last and whole."""
    if isinstance(op, PadBase):
        return array_values(op.paddings)[-2:] == (0, 0)
    if isinstance(op, ReshapeBase):
        return _channels(op.operands[0]) == _channels(op.results[0]) == channels
    if isinstance(op, ReduceBase):
        rank = len(value_shape(op.operands[0]))
        return (rank - 1) not in {axis % rank for axis in array_values(op.axes)}
    return False


def _channel_operands(op: Operation, group: ChannelGroup) -> list[SSAValue]:
    """The operands of a per-channel op that carry the group's channels (others broadcast over them)."""
    tied = []
    for value in op.operands:
        if _channels(value) != group.channels:
            continue
        if _is_constant(value):
            if group.channels != 1:  # a one-channel constant still broadcasts over more channels
                group.decline(f"{layer_name(op)} ({op.name}): a constant operand has these channels")
            continue
        tied.append(value)
    return tied


def off_brick_groups(module: ModuleOp, brick_depth: int) -> list[tuple[int, ChannelGroup]]:
    """The channel groups of the module's conv, depthwise and fully connected layers whose output channel
    count is not a multiple of `brick_depth`, each once, as (index of its first layer in `module.walk()`, group)."""
    found: list[tuple[int, ChannelGroup]] = []
    grouped: set[SSAValue] = set()
    for index, op in enumerate(module.walk()):
        if not isinstance(op, CHANNEL_LAYERS) or op.results[0] in grouped:
            continue
        if _channels(op.results[0]) % brick_depth:
            group = channel_group(op.results[0])
            grouped.update(group.values)
            found.append((index, group))
    return found


def with_channels(module: ModuleOp, seed_index: int, channels: int) -> ModuleOp:
    """A copy of `module` with the channel group of its `seed_index`-th op (in `walk()` order) holding
    `channels` channels: rounded up with zero filters and inputs, or down by dropping the last ones.

    Raises `ChannelVariantError` with the reason when the group cannot be changed.
    """
    variant = module.clone()
    seed = list(variant.walk())[seed_index]
    group = channel_group(seed.results[0])
    if group.declined:
        raise ChannelVariantError(group.declined)
    if channels > group.channels and group.declined_up:
        raise ChannelVariantError(group.declined_up)
    for op in [*group.producers, *group.depthwise]:
        _resize_operand(op, 1, op.WEIGHT_AXIS, channels)
        _resize_operand(op, 2, 0, channels)
        rescale = op.channel_rescale(lambda pairs: _resized(pairs, channels))
        if rescale is not None:
            op.properties["rescale"] = rescale
    for op in group.consumers:
        _resize_operand(op, 1, len(value_shape(op.operands[1])) - 1, channels)
    for value in group.values:
        value_type = value.type
        assert isinstance(value_type, TensorType)
        Rewriter.replace_value_with_new_type(
            value, TensorType(value_type.element_type, [*value_shape(value)[:-1], channels])
        )
    if group.reaches_output:
        main_function(variant).update_function_type()
    variant.verify()
    return variant


def _resized(values: Sequence[Any], count: int) -> list[Any]:
    """`values` cut to `count`, or extended by repeating the last (a new channel's scale or rescale)."""
    return list(values[:count]) + [values[-1]] * (count - len(values))


def _resize_operand(op: Operation, index: int, axis: int, count: int) -> None:
    """Give `op` a copy of its constant operand `index` cut or zero-padded to `count` along `axis`,
    per-axis scales along it cut or extended from the last channel."""
    value = op.operands[index]
    constant = value.owner
    assert isinstance(constant, quantized.ConstantOp)
    data = constant_value(constant.value)
    if count <= data.shape[axis]:
        data = np.take(data, range(count), axis=axis)
    else:
        widths = [(0, 0)] * data.ndim
        widths[axis] = (0, count - data.shape[axis])
        data = np.pad(data, widths)
    resized = quantized.channel_constant(value, data, axis, lambda values: _resized(values, count))
    Rewriter.insert_op(resized, InsertPoint.before(op))
    operands = list(op.operands)
    operands[index] = resized.output
    op.operands = operands
    if not constant.output.uses:
        Rewriter.erase_op(constant)


def channel_variants(
    module: ModuleOp,
    target: Target,
    measure: Callable[[ModuleOp], Measurement],
    original: Measurement | None = None,
) -> list[ChannelWhatIf]:
    """The channel what-if of every off-brick channel group of a quantized `module` on `target`.

    `measure` prices a module (it may change it: it is given copies) and
    raises `NpucError` when the module does not compile (the variant is then
    declined with that message); `original` is the unchanged module's
    measurement when the caller has it. A target without feature-map bricks
    (`feature_map_access` None) gives no what-ifs. `module` is not changed.
    """
    access = target.feature_map_access
    if access is None:
        return []
    brick = access.brick_depth
    groups = off_brick_groups(module, brick)
    if groups and original is None:
        original = measure(module.clone())
    results = []
    for seed_index, group in groups:
        assert original is not None
        down = group.channels // brick * brick
        up = down + brick
        results.append(ChannelWhatIf(
            group.layers(), group.channels, brick, target.budget_memory, original,
            _variant(module, seed_index, down, measure) if down else
            ChannelVariant(down, declined="fewer channels than one brick"),
            _variant(module, seed_index, up, measure),
        ))
    return results


def _variant(
    module: ModuleOp, seed_index: int, channels: int, measure: Callable[[ModuleOp], Measurement]
) -> ChannelVariant:
    try:
        return ChannelVariant(channels, measure(with_channels(module, seed_index, channels)))
    except NpucError as error:
        return ChannelVariant(channels, declined=str(error))
