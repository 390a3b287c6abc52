"""Transposes and slices as strided copies: NPU commands that move elements between feature maps.

An NPU feature map is an [N, H, W, C] box with a byte stride per axis, the
channels adjacent (or a depth of 1). A transpose or a (strided) slice reads
its input through such boxes and writes its output through others: each
output axis is a `CopyAxis` (its extent, the byte step between its elements
in the input and in the output). Axes of extent 1 drop out and axes nested
alike in both maps merge; what is left becomes commands of 1x1 max pools
(which copy exactly: one element in, the same element out) whose IFM and
OFM are boxes over the same elements: the innermost axis is the channel
axis when it is adjacent in both maps (else the channels are one deep),
of the three longest other axes the shortest is the batch (one hardware
operation per batch element) and the other two are height and width, in
the output's order; each further axis repeats the command along it. Vela 5.2 runs TRANSPOSE so (a pool whose OFM strides are
swapped).

npu-legalize refuses a copy that reverses an axis (a negative slice
stride: feature-map strides are positive), needs more operations than its
rule's `max_commands` or has a command larger than its rule's `max_ofm`
(`copy_problem`); npu-lower builds the commands (`copy_commands`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from math import prod

from xdsl.ir import Operation

from npuc.dialects.common import array_values, value_shape
from npuc.dialects.npu_memory import FeatureMapAttr
from npuc.dialects.quantized import SliceOp, TransposeOp, quant_type
from npuc.targets import OperatorRule

COPY_OPS = (TransposeOp, SliceOp)
"""Quantized ops the NPU runs as strided copies."""

@dataclass(frozen=True)
class CopyAxis:
    """One axis of a copy: `extent` elements, `source` bytes apart in the input, `dest` bytes apart in the output."""

    extent: int
    source: int
    dest: int


@dataclass(frozen=True)
class CopyPlan:
    """A copy as commands: byte offsets of the first element, the command's [N, H, W, C] axes, and the
    axes along which the command repeats (outermost first)."""

    source_offset: int
    dest_offset: int
    command: tuple[CopyAxis, CopyAxis, CopyAxis, CopyAxis]
    repeats: tuple[CopyAxis, ...]

    def operations(self) -> int:
        """Hardware operations the copy takes: commands times batch elements."""
        return prod(axis.extent for axis in self.repeats) * self.command[0].extent


def copy_plan(op: Operation, source: FeatureMapAttr, dest: FeatureMapAttr) -> CopyPlan:
    """How `op` (a transpose or slice with a positive step on every axis) copies `source` into `dest`."""
    element_bytes = source.element_type.bits // 8
    source_strides, dest_strides = source.stride_values(), dest.stride_values()
    offset = source.offset.data
    if isinstance(op, TransposeOp):
        perm = array_values(op.perm)
        steps = [source_strides[axis] for axis in perm]
    else:
        assert isinstance(op, SliceOp)
        begin, steps_per_axis = array_values(op.begin), array_values(op.strides)
        assert min(steps_per_axis) > 0, "npu-legalize keeps reversing slices on the CPU"
        offset += sum(first * stride for first, stride in zip(begin, source_strides))
        steps = [stride * step for stride, step in zip(source_strides, steps_per_axis)]
    axes = [CopyAxis(extent, step, stride) for extent, step, stride in zip(dest.shape_values(), steps, dest_strides)]
    return permuted_plan(axes, offset, dest.offset.data, element_bytes)


def permuted_plan(axes: list[CopyAxis], source_offset: int, dest_offset: int, element_bytes: int) -> CopyPlan:
    """The plan copying the elements `axes` describe (one per output axis, outermost first) from
    `source_offset` to `dest_offset`."""
    return _as_commands(_merged(axes), source_offset, dest_offset, element_bytes)


def _merged(axes: list[CopyAxis]) -> list[CopyAxis]:
    """`axes` without extents of 1, ordered by output stride (outermost first), nested pairs merged."""
    merged: list[CopyAxis] = []
    for axis in sorted((axis for axis in axes if axis.extent > 1), key=lambda axis: -axis.dest):
        outer = merged[-1] if merged else None
        if outer and outer.source == axis.source * axis.extent and outer.dest == axis.dest * axis.extent:
            merged[-1] = CopyAxis(outer.extent * axis.extent, axis.source, axis.dest)
        else:
            merged.append(axis)
    return merged


def _as_commands(axes: list[CopyAxis], source_offset: int, dest_offset: int, element_bytes: int) -> CopyPlan:
    """The command axes and repeats of merged copy axes (see the module docstring)."""
    unit = CopyAxis(1, element_bytes, element_bytes)
    channels = axes.pop() if axes and axes[-1].source == axes[-1].dest == element_bytes else unit
    longest = sorted(sorted(range(len(axes)), key=lambda index: -axes[index].extent)[:3])
    batch = min(longest, key=lambda index: axes[index].extent) if len(longest) == 3 else None
    spatial = [unit, unit] + [axes[index] for index in longest if index != batch]
    repeats = tuple(axis for index, axis in enumerate(axes) if index not in longest)
    command = (unit if batch is None else axes[batch], spatial[-2], spatial[-1], channels)
    return CopyPlan(source_offset, dest_offset, command, repeats)


def copy_commands(plan: CopyPlan, source: FeatureMapAttr, dest: FeatureMapAttr) -> list[tuple[FeatureMapAttr, FeatureMapAttr]]:
    """The (IFM, OFM) feature maps of each command of `plan`, `source` and `dest` giving region and type."""
    shape = [axis.extent for axis in plan.command]
    element_bytes = source.element_type.bits // 8
    source_strides = [axis.source for axis in plan.command[:3]] + [element_bytes]
    dest_strides = [axis.dest for axis in plan.command[:3]] + [element_bytes]
    commands = []
    for index in product(*(range(axis.extent) for axis in plan.repeats)):
        source_offset = plan.source_offset + sum(i * axis.source for i, axis in zip(index, plan.repeats))
        dest_offset = plan.dest_offset + sum(i * axis.dest for i, axis in zip(index, plan.repeats))
        commands.append((
            FeatureMapAttr(source.region.data, source_offset, shape, source_strides, source.element_type),
            FeatureMapAttr(dest.region.data, dest_offset, shape, dest_strides, dest.element_type),
        ))  # fmt: skip
    return commands


def copy_problem(op: Operation, rule: OperatorRule) -> str | None:
    """Why the NPU cannot copy `op` (a transpose or slice) under `rule`, or None: a reversing slice,
    more hardware operations than the rule's `max_commands`, or a command's height, width or depth
    (over dense feature maps) beyond its `max_ofm`."""
    if isinstance(op, SliceOp):
        reversed_axes = [axis for axis, step in enumerate(array_values(op.strides)) if step < 0]
        if reversed_axes:
            return f"slice reverses axis {reversed_axes[0]} (a negative stride; feature-map strides are positive)"
    qtype = quant_type(op.results[0])
    assert qtype is not None, "verified: per-tensor quantized"
    source = FeatureMapAttr.dense("dense", 0, value_shape(op.operands[0]), qtype)
    dest = FeatureMapAttr.dense("dense", 0, value_shape(op.results[0]), qtype)
    plan = copy_plan(op, source, dest)
    operations = plan.operations()
    if rule.max_commands is not None and operations > rule.max_commands:
        return f"a strided copy of {operations} operations exceeds the {rule.max_commands} the target allows"
    limits = (rule.max_ofm.height, rule.max_ofm.width, rule.max_ofm.depth)
    for what, axis, limit in zip(("height", "width", "depth"), plan.command[1:], limits):
        if axis.extent > limit:
            return f"a strided copy command's {what} {axis.extent} exceeds {limit}"
    return None
