"""Addresses: where the values of a scheduled, allocated function live, as npu commands describe them.

npu-lower turns every value held in memory into a descriptor: a feature map
(memory region, offset, shape, strides, quantization) for what a command
reads or writes, a byte range for weights and scale/bias tables, a scratch
buffer for a layer that needs one. npu-schedule chose the memories and
npu-allocate the offsets (`npu.memory`/`npu.offset`); a value inside
another's buffer (a concat input, a split output, `npuc.backend.views`) is a
strided view of it, and an NPU reshape's result is its input's buffer. A
value without an address, or in a memory the target does not have, fails
naming it and the pass to run.
"""

from __future__ import annotations

from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, StringAttr, TensorType
from xdsl.dialects.func import FuncOp
from xdsl.ir import BlockArgument, Operation, OpResult, SSAValue
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.planning import (
    NPU,
    describe,
    npu_views,
    placement,
    scratch_bytes,
    sized_bytes,
)
from npuc.backend.softmax import SCRATCH_ALIGNMENT
from npuc.dialects import npu, quantized
from npuc.dialects.common import array_values
from npuc.ir import arg_attributes
from npuc.targets import Target


class Addresses:
    """The memory descriptors of the values of one function on `target`; `pass_name` starts every error."""

    def __init__(self, func: FuncOp, target: Target, pass_name: str):
        self.func = func
        self.target = target
        self.pass_name = pass_name
        self.sizes: dict[SSAValue, int] = {}
        """Bytes of each value held in memory (`sized_bytes`)."""
        self.views = npu_views(func)

    def location(self, value: SSAValue) -> tuple[str, int]:
        """(memory, byte offset) of a value held in memory."""
        if isinstance(value, BlockArgument):
            attributes = arg_attributes(self.func)[value.index]
            what = self.describe_argument(value.index)
        else:
            assert isinstance(value, OpResult)
            owner = value.owner
            if isinstance(owner, quantized.ReshapeOp) and placement(owner) == NPU:
                return self.location(owner.input)
            attributes = owner.attributes
            what = describe(owner)
        memory, offset_attr = attributes.get(npu.MEMORY_ATTR), attributes.get(npu.OFFSET_ATTR)
        offset = None
        if isinstance(offset_attr, IntegerAttr):
            offset = offset_attr.value.data
        elif isinstance(offset_attr, DenseArrayBase):  # one offset per result
            offsets = array_values(offset_attr)
            offset = offsets[value.index] if value.index < len(offsets) else None
        if not isinstance(memory, StringAttr) or offset is None:
            raise PassFailedException(
                f"{self.pass_name}: {what} has no {npu.MEMORY_ATTR}/{npu.OFFSET_ATTR}: run npu-allocate first"
            )
        return self.target_memory(memory.data, what), offset

    def target_memory(self, memory: str, what: str) -> str:
        """`memory`, where `what` lives, if the target has it; else the pass fails naming both."""
        names = [known.name for known in self.target.memories]
        if memory not in names:
            raise PassFailedException(
                f"{self.pass_name}: {what} is in memory '{memory}', which target '{self.target.name}' does not "
                f"have (it has: {', '.join(names)}): run npu-allocate for this target"
            )
        return memory

    def feature_map(self, value: SSAValue) -> npu.FeatureMapAttr:
        """The descriptor of a per-tensor quantized value in memory.

        Dense, except for a concat input or a split output: a slice of the
        concat's (split input's) feature map, with its strides.
        """
        qtype = quantized.quant_type(value)
        if qtype is None or qtype.is_per_axis:
            raise PassFailedException(
                f"{self.pass_name}: {self.describe_value(value)} is not a per-tensor quantized feature map"
            )
        assert isinstance(value.type, TensorType)
        shape = value.type.get_shape()
        view = self.views.get(value)
        if view is not None:
            base = self.feature_map(view.base)
            strides = base.stride_values()
            offset = base.offset.data + view.start * strides[view.axis]
            if view.dense:
                return npu.FeatureMapAttr.dense(base.region.data, offset, shape, qtype)
            return npu.FeatureMapAttr(base.region.data, offset, shape, strides, qtype)
        memory, offset = self.location(value)
        return npu.FeatureMapAttr.dense(memory, offset, shape, qtype)

    def ranked_feature_map(self, value: SSAValue, rank: int) -> npu.FeatureMapAttr:
        """The descriptor of elementwise operand `value` with leading 1s up to `rank` (numpy
        broadcasting), its strides kept."""
        fm = self.feature_map(value)
        shape, strides = fm.shape_values(), fm.stride_values()
        extra = rank - len(shape)
        if extra <= 0:
            return fm
        outer = (shape[0] * strides[0],) * extra
        return npu.FeatureMapAttr(fm.region.data, fm.offset.data, (1,) * extra + shape, outer + strides, fm.element_type)

    def buffer(self, value: SSAValue) -> npu.BufferAttr:
        """The byte range of a value in memory (weights, scale/bias table)."""
        memory, offset = self.location(value)
        return npu.BufferAttr(memory, offset, sized_bytes(value, self.target, self.sizes))

    def scratch(self, op: Operation) -> npu.BufferAttr:
        """The scratch buffer npu-schedule and npu-allocate gave `op`, whose slots are
        `SCRATCH_ALIGNMENT`-byte aligned (a target needing more is refused)."""
        if SCRATCH_ALIGNMENT % self.target.alignment:
            raise PassFailedException(
                f"{self.pass_name}: {describe(op)}: scratch slots are {SCRATCH_ALIGNMENT}-byte aligned, "
                f"{self.target.name} needs {self.target.alignment}"
            )
        memory, offset = op.attributes.get(npu.SCRATCH_MEMORY_ATTR), op.attributes.get(npu.SCRATCH_OFFSET_ATTR)
        if not isinstance(memory, StringAttr) or not isinstance(offset, IntegerAttr):
            raise PassFailedException(
                f"{self.pass_name}: {describe(op)} has no {npu.SCRATCH_MEMORY_ATTR}/{npu.SCRATCH_OFFSET_ATTR}: "
                "run npu-schedule and npu-allocate first"
            )
        return npu.BufferAttr(self.target_memory(memory.data, f"the scratch of {describe(op)}"), offset.value.data,
                              scratch_bytes(op))  # fmt: skip

    def describe_value(self, value: SSAValue) -> str:
        """How messages name a value: an argument or the op that defines it."""
        if isinstance(value, BlockArgument):
            return self.describe_argument(value.index)
        assert isinstance(value.owner, Operation)
        return f"the result of {describe(value.owner)}"

    def describe_argument(self, index: int) -> str:
        """How messages name argument `index` of the lowered function."""
        return f"argument {index} of @{self.func.sym_name.data}"
