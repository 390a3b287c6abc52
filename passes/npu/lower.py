"""npu-lower: turn the scheduled, allocated quantized `@main` into npu commands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    i8,
    i32,
    i64,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import (
    Attribute,
    Block,
    BlockArgument,
    Operation,
    OpResult,
    Region,
    SSAValue,
)
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.batch_matmul import batch_matmul_commands
from npuc.backend.cascades import (
    cascade_chain,
    cascade_steps,
    rolling_rows,
)
from npuc.backend.copies import COPY_OPS, copy_commands, copy_plan
from npuc.backend.lookup_tables import LOOKUP_TABLE_OPS, activation_table
from npuc.backend.operators import BINARY_OPS, npu_operator
from npuc.backend.planning import (
    CPU,
    HOST,
    NPU,
    absorbing_layer,
    cascade_groups,
    clip_block,
    describe,
    hwc,
    is_host_conversion,
    main_or_fail,
    npu_views,
    placement,
    require,
    scratch_bytes,
    sized_bytes,
    target_or_fail,
    window,
)
from npuc.backend.softmax import (
    MAX_DEPTH,
    SCRATCH_ALIGNMENT,
    exp_table,
    softmax_commands,
)
from npuc.backend.squared_difference import squared_difference_commands
from npuc.backend.stripes import (
    channel_view,
    stripe_height,
    stripe_properties,
    stripe_ranges,
)
from npuc.backend.views import VIEW_OPS, constant_slices, view_axis
from npuc.backend.weight_encoding import (
    BIAS_OPERAND,
    WEIGHTS_OPERAND,
    layer_streams,
    runs_as_convolution,
    slice_depth,
    weighted_consumers,
)
from npuc.cost.compute import (
    AVG_POOL,
    CONV,
    DEPTHWISE,
    ELEMENTWISE,
    FULLY_CONNECTED,
    MAX_POOL,
)
from npuc.dialects import npu, quantized
from npuc.dialects.common import (
    LAYER_ATTR,
    UNIT_WINDOW,
    array_values,
    int_array,
    layer_name,
    layout_of,
    value_shape,
)
from npuc.dialects.npu_memory import HEIGHT_AXIS
from npuc.dialects.quantized_type import UniformQuantizedType
from npuc.emit.ethos_u.operations import fits_scalar, fits_with_table
from npuc.ir import arg_attributes, tensor_name
from npuc.reference.int_parameters import activation_bounds, rescale_parameters
from npuc.targets import BlockShape, Target

PASS = "npu-lower"

_SCALAR_TYPE = UniformQuantizedType(IntegerType(32), [1.0], [0])
"""Element type of a scalar operand kept in memory: the int32 value itself."""
_SCALAR_SHAPE = (1, 1, 1, 1)
"""Shape of a scalar operand kept in memory, broadcast by the command's IFM2."""


@dataclass(frozen=True)
class LowerPass(ModulePass):
    """Replace `@main` by the module-level npu command list it was planned into.

    Emits one `npu.constant` per constant (weights as raw int8 bytes, biases as
    the per-channel scale/bias table; on a target that encodes weights, the
    encoded weight streams and scale records of the NPU layer reading them,
    with the command's `encoding`), `npu.input`/`npu.output` for the
    interface, `npu.dma` per `npu.stage`, one compute command per NPU-placed
    layer and one `npu.cpu_op` per CPU-placed layer, in program order. NPU
    reshapes, concats and splits emit nothing: a reshape's result shares the
    input's buffer, a concat's producers write straight into its slices and
    a split's readers read its slices in place (strided feature maps). An NPU
    transpose or slice becomes strided copies, 1x1 max pools
    (`npuc.backend.copies`). An
    NPU softmax expands into its pool/elementwise chain
    (`npuc.backend.softmax`), working in its scratch buffer
    (`npu.scratch_memory`/`npu.scratch_offset`), with its exp lut as a new constant after the others in the weights
    memory (`npu.memory_usage` grows accordingly); on an Ethos-U target its
    scalars wider than the NPU's scalar register become such constants too,
    read as a one-element IFM2.

    Assumes npu-legalize, npu-tile, npu-schedule and npu-allocate have run:
    every layer has `npu.placement`, NPU layers `npu.block`, and every value
    held in memory `npu.memory`/`npu.offset`; a missing annotation fails
    naming the layer and the pass to run, as does a memory the target does
    not have. Constants must be in the target's weights memory.
    """

    name = "npu-lower"

    target: str = "ethos-u55-128"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        lower_module(op, target_or_fail(self.target, PASS))


def lower_module(module: ModuleOp, target: Target) -> None:
    """Replace the module's function (`@main` or its only one) by npu commands in place (see `LowerPass`)."""
    func = main_or_fail(module, PASS)
    usage = module.attributes.get(npu.MEMORY_USAGE_ATTR)
    weights_used = usage.data.get(target.weights_memory) if isinstance(usage, DictionaryAttr) else None
    lowering = _Lowering(func, target, weights_used.value.data if isinstance(weights_used, IntegerAttr) else 0)
    commands = lowering.commands()
    func.detach()
    func.erase()
    module.body.block.add_ops(commands)
    module.attributes[npu.TARGET_ATTR] = StringAttr(target.name)
    cascades = list({id(ops): ops for ops in lowering.cascades.values()}.values())
    if cascades:
        module.attributes[npu.CASCADES_ATTR] = ArrayAttr(
            [ArrayAttr([StringAttr(layer_name(op)) for op in ops]) for ops in cascades]
        )
    if isinstance(usage, DictionaryAttr) and lowering.tables:
        module.attributes[npu.MEMORY_USAGE_ATTR] = DictionaryAttr(
            usage.data | {target.weights_memory: IntegerAttr(lowering.constants_end, i64)}
        )


class _Lowering:
    """The lowering of one function: where its values live and their commands."""

    def __init__(self, func: FuncOp, target: Target, weights_used: int):
        self.func = func
        self.target = target
        self.constants_end = weights_used
        """End of the weights memory in use: lowering-made tables (luts) go after it."""
        self.tables: list[npu.ConstantOp] = []
        self.table_buffers: dict[tuple[bool, bytes], npu.BufferAttr] = {}
        """The lowering-made tables by (int8, bytes): equal tables share one constant."""
        self.scalars: dict[int, npu.BufferAttr] = {}
        """Constants holding scalars wider than the target's scalar register, by value."""
        self.sizes: dict[SSAValue, int] = {}
        """Bytes of each value held in memory (`sized_bytes`)."""
        self.views = npu_views(func)
        self.absorbed: set[Operation] = set()
        """Lookup-table activations fused into their producer's command (`absorb_activation`)."""
        self.cascades = cascade_groups(func)
        """Each op of a cascade -> the cascade's ops in program order."""

    def commands(self) -> list[Operation]:
        """Constants (model constants, then lowering-made tables), inputs, program-order commands, outputs."""
        body = list(self.func.body.ops)
        constants = [self.constant(op) for op in body if isinstance(op, quantized.ConstantOp)]
        self.constants_end = max([self.constants_end] + [op.buffer.end for op in constants])
        inputs = [self.input(arg) for arg in self.func.body.block.args]
        program: list[Operation] = []
        deferred: list[Operation] = []
        for position, op in enumerate(body):
            commands = self.lower(op)
            if isinstance(op, npu.StageOp) and _hoisted_over_slices(body, position):
                deferred += commands
                continue
            if deferred and commands and slice_depth(op) is not None:
                last = max(index for index, command in enumerate(commands) if isinstance(command, npu.ComputeOp))
                commands[last:last] = deferred
                deferred = []
            program += commands
        return [*constants, *self.tables, *inputs, *program]

    def table(self, data: np.ndarray) -> npu.BufferAttr:
        """A constant of the weights memory holding `data` (int8 as bytes, other integers as little-endian
        int32), after all others; a table with the bytes of an earlier one is that one."""
        int8 = data.dtype == np.int8
        stored = data.astype("i1" if int8 else "<i4").tobytes()
        key = (int8, stored)
        if key in self.table_buffers:
            return self.table_buffers[key]
        alignment = self.target.alignment
        offset = -(-self.constants_end // alignment) * alignment
        buffer = npu.BufferAttr(self.target.weights_memory, offset, len(stored))
        value = DenseIntOrFPElementsAttr(TensorType(i8 if int8 else i32, [data.size]), BytesAttr(stored))
        self.tables.append(npu.ConstantOp(buffer, value))
        self.table_buffers[key] = buffer
        self.constants_end = buffer.end
        return buffer

    # Where values live.

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
                f"{PASS}: {what} has no {npu.MEMORY_ATTR}/{npu.OFFSET_ATTR}: run npu-allocate first"
            )
        return self.target_memory(memory.data, what), offset

    def target_memory(self, memory: str, what: str) -> str:
        """`memory`, where `what` lives, if the target has it; else the pass fails naming both."""
        names = [known.name for known in self.target.memories]
        if memory not in names:
            raise PassFailedException(
                f"{PASS}: {what} is in memory '{memory}', which target '{self.target.name}' does not have "
                f"(it has: {', '.join(names)}): run npu-allocate for this target"
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
                f"{PASS}: {self.describe_value(value)} is not a per-tensor quantized feature map"
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

    def buffer(self, value: SSAValue) -> npu.BufferAttr:
        """The byte range of a value in memory (weights, scale/bias table)."""
        memory, offset = self.location(value)
        return npu.BufferAttr(memory, offset, sized_bytes(value, self.target, self.sizes))

    def describe_value(self, value: SSAValue) -> str:
        """How messages name a value: an argument or the op that defines it."""
        if isinstance(value, BlockArgument):
            return self.describe_argument(value.index)
        assert isinstance(value.owner, Operation)
        return f"the result of {describe(value.owner)}"

    def describe_argument(self, index: int) -> str:
        """How messages name argument `index` of the lowered function."""
        return f"argument {index} of @{self.func.sym_name.data}"

    # The interface.

    def input(self, arg: BlockArgument) -> npu.InputOp:
        """`npu.input` of one argument; an f32 one is quantized by the host."""
        attributes = arg_attributes(self.func)[arg.index]
        tensor = tensor_name(attributes, f"input{arg.index}")
        layout = _layout(attributes)
        if quantized.quant_type(arg) is not None:
            return npu.InputOp(tensor, self.feature_map(arg), layout=layout)
        users = [use.operation for use in arg.uses]
        if users and all(isinstance(user, ReturnOp) for user in users):
            raise PassFailedException(
                f"{PASS}: f32 input '{tensor}' is returned unchanged: the model has no layer to run"
            )
        if len(users) != 1 or not isinstance(users[0], quantized.QuantizeOp) or placement(users[0]) != HOST:
            raise PassFailedException(
                f"{PASS}: f32 {self.describe_argument(arg.index)} ('{tensor}') must feed exactly one "
                f"host-placed quantized.quantize: run npu-legalize first"
            )
        return npu.InputOp(tensor, self.feature_map(users[0].output), "quantize", layout)

    def outputs(self, op: ReturnOp) -> list[Operation]:
        """`npu.output` per result; a host dequantize describes its quantized input.

        A dequantize feeding the return is host-placed by now: `lower` failed on it otherwise
        (no placement, a CPU op whose f32 result is no feature map, or no NPU command).
        """
        result_attrs = self.func.res_attrs.data if self.func.res_attrs is not None else ()
        outputs: list[Operation] = []
        for index, value in enumerate(op.arguments):
            attributes = dict(result_attrs[index].data) if result_attrs else {}
            tensor, layout = tensor_name(attributes, f"output{index}"), _layout(attributes)
            producer = value.owner
            if isinstance(producer, quantized.DequantizeOp):
                outputs.append(npu.OutputOp(tensor, self.feature_map(producer.input), "dequantize", layout))
            else:
                outputs.append(npu.OutputOp(tensor, self.feature_map(value), layout=layout))
        return outputs

    # Constants and DMA.

    def constant(self, op: quantized.ConstantOp) -> npu.ConstantOp:
        """The constant's initial memory contents: raw weights or a scale/bias table, or, on a target
        that encodes weights, the encoded weight streams or scale records of the NPU layer reading it."""
        memory, offset = self.location(op.output)
        if memory != self.target.weights_memory:
            readers = ", ".join(sorted({layer_name(use.operation) for use in op.output.uses}))
            raise PassFailedException(
                f"{PASS}: a constant read by {readers or 'nothing'} is in '{memory}', not in the weights "
                f"memory '{self.target.weights_memory}': run npu-allocate first"
            )
        buffer = npu.BufferAttr(memory, offset, sized_bytes(op.output, self.target, self.sizes))
        if self.target.encodes_weights:
            encoded = self.encoded_constant(op.output)
            if encoded is not None:
                return npu.ConstantOp(buffer, _bytes_value(encoded))
        consumers = weighted_consumers(op.output, BIAS_OPERAND)
        if not consumers:
            return npu.ConstantOp(buffer, op.value)
        tables = {_scale_bias_table(op, consumer) for consumer in consumers}
        if len(tables) != 1:
            names = ", ".join(sorted(layer_name(consumer) for consumer in consumers))
            raise PassFailedException(
                f"{PASS}: a bias constant feeds layers with different rescales ({names}); "
                "give each layer its own bias constant"
            )
        table = tables.pop()
        channels = value_shape(consumers[0].results[0])[-1]
        value = DenseIntOrFPElementsAttr(TensorType(i32, [channels, len(table) // channels // 4]), BytesAttr(table))
        return npu.ConstantOp(buffer, value)

    def encoded_constant(self, value: SSAValue) -> bytes | None:
        """The encoded weight streams (scale records) of the NPU layer reading `value` as weights (bias),
        or None if no NPU layer does; `buffer_bytes` made sure every such layer encodes it alike."""
        for operand in (WEIGHTS_OPERAND, BIAS_OPERAND):
            readers = [op for op in weighted_consumers(value, operand) if placement(op) == NPU]
            if readers:
                streams = layer_streams(readers[0], self.target)
                return streams.weights if operand == WEIGHTS_OPERAND else streams.scales
        return None

    def stage(self, op: npu.StageOp) -> list[Operation]:
        """The copy of a staged tensor; of weights (scales) streamed in OFM-depth slices, the copies of the
        slices before the first slot its layer's commands reuse (`depth_slices` issues the others)."""
        slots = op.attributes.get(npu.SLOTS_ATTR)
        if not isinstance(slots, IntegerAttr):
            return [self.dma(op)]
        (use,) = op.output.uses
        parts = layer_streams(use.operation, self.target).slices
        return [self.slice_dma(op, index) for index in range(min(slots.value.data - 1, len(parts)))]

    def slice_dma(self, op: npu.StageOp, index: int) -> npu.DmaOp:
        """The copy of slice `index` of the weights (scales) the stage `op` holds in `npu.slots` slots, from
        where they are stored into slot `index` mod slots."""
        (use,) = op.output.uses
        layer = use.operation
        streams = layer_streams(layer, self.target)
        part, slot = streams.slices[index].bytes_of(use.index), streams.largest_slice(use.index)
        slots = op.attributes[npu.SLOTS_ATTR]
        assert isinstance(slots, IntegerAttr)
        source_memory, source_offset = self.location(op.input)
        target_memory, target_offset = self.location(op.output)
        return npu.DmaOp(
            npu.BufferAttr(source_memory, source_offset + part.start, len(part)),
            npu.BufferAttr(target_memory, target_offset + index % slots.value.data * slot, len(part)),
            _layer(op) or layer_name(layer),
        )

    def dma(self, op: npu.StageOp) -> npu.DmaOp:
        """The copy of a staged tensor, attributed to the layer that reads it."""
        size = sized_bytes(op.output, self.target, self.sizes)
        source_memory, source_offset = self.location(op.input)
        target_memory, target_offset = self.location(op.output)
        readers = [use.operation for use in op.output.uses]
        layer = layer_name(readers[0]) if readers else layer_name(op)
        return npu.DmaOp(
            npu.BufferAttr(source_memory, source_offset, size),
            npu.BufferAttr(target_memory, target_offset, size),
            _layer(op) or layer,
        )

    def constant_copies(self, op: quantized.ConcatOp) -> list[Operation]:
        """One DMA per constant input of a concat view, from the weights memory into its slice.

        npu-legalize placed the concat on the NPU only if each such slice is
        contiguous bytes of the concat's dense buffer (`npuc.backend.views.constant_problem`).
        """
        copies: list[Operation] = []
        for constant, start in constant_slices(op):
            whole = self.feature_map(op.output)
            assert whole.wrap.data == 0, "a concat's buffer does not wrap"
            size = prod(value_shape(constant.output)) * whole.element_type.bits // 8
            memory, source = self.location(constant.output)
            target = whole.offset.data + start * whole.stride_values()[view_axis(op)]
            copies.append(
                npu.DmaOp(
                    npu.BufferAttr(memory, source, size),
                    npu.BufferAttr(whole.region.data, target, size),
                    layer_name(op),
                )
            )
        return copies

    # Layers.

    def lower(self, op: Operation) -> list[Operation]:
        """The commands of one op of `@main`, in program order."""
        if isinstance(op, quantized.ConstantOp):
            return []
        if isinstance(op, npu.StageOp):
            return self.stage(op)
        if isinstance(op, ReturnOp):
            return self.outputs(op)
        where = require(op, npu.PLACEMENT_ATTR, "npu-legalize", PASS)
        assert isinstance(where, StringAttr)
        if where.data == HOST:
            self.check_host_conversion(op)
            return []
        if where.data == CPU:
            return [self.cpu_command(op)]
        if isinstance(op, quantized.ReshapeOp):
            self.check_shared_buffer(op)
            return []
        if isinstance(op, quantized.SoftmaxOp):
            return self.softmax(op)
        if isinstance(op, quantized.SquaredDifferenceOp):
            return self.squared_difference(op)
        if isinstance(op, quantized.BatchMatMulOp):
            return self.batch_matmul(op)
        if isinstance(op, quantized.ConcatOp):
            return self.constant_copies(op)  # its other inputs' producers write their slices
        if isinstance(op, VIEW_OPS):
            return []  # its outputs' readers address the slices
        if op in self.absorbed:
            return []  # its table is applied by its producer's command (`absorb_activation`)
        if isinstance(op, COPY_OPS):
            return self.copy(op)
        cascade = self.cascades.get(op)
        if cascade is not None:
            return self.cascade(cascade) if op is cascade[-1] else []
        op_type, properties = self.compute(op)
        properties = self.absorb_activation(op, op_type, properties)
        if slice_depth(op) is not None:
            return self.depth_slices(op, op_type, properties)
        return [npu.build_command(op_type, stripe, layer_name(op)) for stripe in self.stripes(op, properties)]

    def depth_slices(self, op: Operation, op_type: type[npu.ComputeOp], properties: dict[str, Attribute]) -> list[Operation]:
        """The commands of a layer whose weights are streamed in OFM-depth slices (`slice_depth`), one per
        slice, each with its channels of the OFM (of the IFM too, depthwise), its streams and the block
        clipped to it.

        Read in place, a slice's command reads its streams where they are
        stored. Staged into `npu.slots` slots (its scales and its weights,
        each in their own buffer), slice k is in slot k mod slots: the
        copies of the first slots - 1 slices are issued where the stages are
        (`stage`), and the copies of slice k + slots - 1 right before the
        command of slice k, so that they run while that command computes;
        they overwrite the slots the command of slice k - 1 read.
        """
        if not self.target.encodes_weights:
            raise PassFailedException(
                f"{PASS}: {describe(op)}: OFM-depth slices of weights need a target that encodes them "
                f"({self.target.name} does not)"
            )
        streams = layer_streams(op, self.target)
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
                        commands.append(self.slice_dma(stages[name], index + slots.value.data - 1))
                    start = index % slots.value.data * streams.largest_slice(operand)
                buffers[name] = npu.BufferAttr(buffer.region.data, buffer.offset.data + start, len(held))
            command = properties | buffers | {
                "ofm": channel_view(ofm, part.channels),
                "encoding": npu.EncodedWeightsAttr(
                    streams.traversal.name.lower(), part.weight_lengths, part.scale_lengths, streams.wide
                ),
                "block": npu.block_attr(clip_block(BlockShape(*array_values(block)),
                                                   (height, width, len(part.channels)), self.target.ofm_ublock)),
            }  # fmt: skip
            ifm = properties["ifm"]
            if op_type is npu.DepthwiseConv2dOp and isinstance(ifm, npu.FeatureMapAttr):
                command["ifm"] = channel_view(ifm, part.channels)
            commands.append(npu.build_command(op_type, command, layer_name(op)))
        return commands

    def absorb_activation(
        self, op: Operation, op_type: type[npu.ComputeOp], properties: dict[str, Attribute]
    ) -> dict[str, Attribute]:
        """`properties` with the lookup-table activation reading `op`'s result fused in, when it can be.

        As Vela does (TABLE_LOOKUP on the convolution), the layer
        `absorbing_layer` names writes the activation's OFM through the table;
        its OFM descriptor keeps the layer's own quantization, so the clamped
        layer output indexes the table. npu-allocate kept that OFM live from
        the layer on; a buffer overlapping one the command reads, or a block
        the lowered weights' traversal leaves no room for the table, keeps
        the two commands apart (still correct, only slower).
        """
        result = op.results[0]
        activation = next((use.operation for use in result.uses), None)
        if activation is None or absorbing_layer(activation, self.target) is not op:
            return properties
        ofm = self.feature_map(activation.results[0])
        reads = [properties[name] for name in ("ifm", "weights", "scale_bias") if name in properties]
        if any(_overlap(ofm, read) for read in reads):
            return properties
        fused = properties | {
            "ofm": _retyped(ofm, self.feature_map(result).element_type),
            "lut": self.table(activation_table(activation)),
        }
        if self.target.ethos_u is not None and not fits_with_table(npu.build_command(op_type, fused), self.target):
            return properties
        self.absorbed.add(activation)
        return fused

    def compute(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """The compute command of a whole NPU layer: its class and properties."""
        operator = npu_operator(op)
        build = _COMPUTE.get(operator.command) if operator and operator.command else None
        if isinstance(op, LOOKUP_TABLE_OPS):
            build = _Lowering.lookup_activation
        if build is None:
            raise PassFailedException(f"{PASS}: {describe(op)} has no NPU command; place it on the CPU")
        block = require(op, npu.BLOCK_ATTR, "npu-tile", PASS)
        act_min, act_max = _activation_bounds(op)
        op_type, properties = build(self, op)
        properties |= {
            "act_min": IntegerAttr(act_min, i32),
            "act_max": IntegerAttr(act_max, i32),
            "block": block,
        }
        return op_type, properties

    def stripes(self, op: Operation, properties: dict[str, Attribute]) -> list[dict[str, Attribute]]:
        """The properties of the command of each height stripe of `op` (`npu.stripe`): the whole command
        for a stripe as high as the OFM, else one per stripe (`npuc.backend.stripes.stripe_properties`)."""
        ofm = properties["ofm"]
        assert isinstance(ofm, npu.FeatureMapAttr)
        height = stripe_height(op, ofm)
        if height is None:
            return [properties]
        op_window = window(op) or UNIT_WINDOW
        return [
            stripe_properties(properties, op_window, rows, self.target.ofm_ublock, describe(op))
            for rows in stripe_ranges(ofm.shape_values()[HEIGHT_AXIS], height)
        ]

    def cascade(self, ops: list[Operation]) -> list[Operation]:
        """The interleaved commands of a cascade (`npu.cascade`, `npuc.backend.cascades`), its
        intermediates in rolling buffers of the rows `npu.rolling_rows` gives."""
        computes = [self.compute(op) for op in ops]
        chain = cascade_chain(ops, PASS)
        steps = cascade_steps(chain.links)
        needed = rolling_rows(chain.links, steps)
        for op, buffer_rows, rows in zip(ops, chain.held, needed):
            if buffer_rows < rows:
                raise PassFailedException(
                    f"{PASS}: the rolling buffer of {describe(op)} holds {buffer_rows} rows, its cascade needs "
                    f"{rows}: run npu-schedule again"
                )
        commands: list[Operation] = []
        for step in steps:
            op, (op_type, properties) = ops[step.link], computes[step.link]
            held = {"ofm": chain.held[step.link]} if step.link < len(ops) - 1 else {}
            if step.link:
                held[chain.operands[step.link]] = chain.held[step.link - 1]
            command = stripe_properties(properties, chain.links[step.link].window, step.rows, self.target.ofm_ublock, describe(op), held)
            commands.append(npu.build_command(op_type, command, layer_name(op)))
        return commands

    def softmax(self, op: quantized.SoftmaxOp) -> list[Operation]:
        """The commands of an int8 softmax (`npuc.backend.softmax`) and its exp lut."""
        depth = value_shape(op.input)[-1]
        if depth > MAX_DEPTH:
            raise PassFailedException(
                f"{PASS}: {describe(op)}: rows of {depth} elements exceed the {MAX_DEPTH} whose exps the "
                "NPU sums without overflow; the target's softmax rule must send it to the CPU"
            )
        block = require(op, npu.BLOCK_ATTR, "npu-tile", PASS)
        assert isinstance(block, DenseArrayBase), f"{npu.BLOCK_ATTR} is set by npu-tile as an array"
        layer_block = BlockShape(*array_values(block))
        ifm_type = quantized.quant_type(op.input)
        assert ifm_type is not None
        lut = self.table(exp_table(ifm_type.scale, op.beta.value.data))
        commands = softmax_commands(
            self.feature_map(op.input),
            self.feature_map(op.output),
            self.scratch(op),
            lut,
            lambda ofm: clip_block(layer_block, ofm, self.target.ofm_ublock),
            layer_name(op),
        )
        return [self.register_scalars(command) for command in commands]

    def squared_difference(self, op: quantized.SquaredDifferenceOp) -> list[Operation]:
        """The integer commands of an int8 squared difference (`npuc.backend.squared_difference`) in
        its scratch; inputs of lower rank are described with leading 1s (numpy broadcasting)."""
        block = require(op, npu.BLOCK_ATTR, "npu-tile", PASS)
        assert isinstance(block, DenseArrayBase), f"{npu.BLOCK_ATTR} is set by npu-tile as an array"
        layer_block = BlockShape(*array_values(block))
        rank = max(len(value_shape(op.results[0])), len(_SCALAR_SHAPE))  # as wide scalars are described
        commands = squared_difference_commands(
            self.ranked_feature_map(op.operands[0], rank),
            self.ranked_feature_map(op.operands[1], rank),
            self.ranked_feature_map(op.results[0], rank),
            self.scratch(op),
            lambda fm: clip_block(layer_block, hwc(fm.shape_values()), self.target.ofm_ublock),
            layer_name(op),
        )
        return [self.register_scalars(command) for command in commands]

    def copy(self, op: Operation) -> list[Operation]:
        """The strided copies of a transpose or slice (`npuc.backend.copies`): 1x1 max pools over
        the storage type's whole range, each with the layer's block clipped to its OFM."""
        block = require(op, npu.BLOCK_ATTR, "npu-tile", PASS)
        assert isinstance(block, DenseArrayBase), f"{npu.BLOCK_ATTR} is set by npu-tile as an array"
        layer_block = BlockShape(*array_values(block))
        source, dest = self.feature_map(op.operands[0]), self.feature_map(op.results[0])
        qtype = quantized.quant_type(op.results[0])
        assert qtype is not None
        return [
            self.copy_command(ifm, ofm, layer_block, layer_name(op))
            for ifm, ofm in copy_commands(copy_plan(op, source, dest), source, dest)
        ]

    def copy_command(self, ifm: npu.FeatureMapAttr, ofm: npu.FeatureMapAttr, layer_block: BlockShape, layer: str) -> Operation:
        """One strided copy: a 1x1 max pool over the storage type's whole range, with `layer_block`
        clipped to its OFM."""
        qtype = ofm.element_type
        properties: dict[str, Attribute] = {
            "kind": StringAttr("max"),
            "ifm": ifm,
            "ofm": ofm,
            "kernel": int_array(UNIT_WINDOW.kernel),
            "strides": int_array(UNIT_WINDOW.strides),
            "padding": int_array(UNIT_WINDOW.padding),
            "act_min": IntegerAttr(qtype.qmin, i32),
            "act_max": IntegerAttr(qtype.qmax, i32),
            "block": npu.block_attr(clip_block(layer_block, hwc(ofm.shape_values()), self.target.ofm_ublock)),
        }
        return npu.build_command(npu.PoolOp, properties, layer)

    def batch_matmul(self, op: quantized.BatchMatMulOp) -> list[Operation]:
        """The commands of an int8 product of two computed tensors (`npuc.backend.batch_matmul`) in its
        scratch."""
        block = require(op, npu.BLOCK_ATTR, "npu-tile", PASS)
        assert isinstance(block, DenseArrayBase), f"{npu.BLOCK_ATTR} is set by npu-tile as an array"
        layer_block = BlockShape(*array_values(block))
        layer = layer_name(op)
        commands = batch_matmul_commands(
            self.feature_map(op.lhs),
            self.feature_map(op.rhs),
            self.feature_map(op.results[0]),
            self.scratch(op),
            lambda ifm, ofm: self.copy_command(ifm, ofm, layer_block, layer),
            lambda fm: clip_block(layer_block, hwc(fm.shape_values()), self.target.ofm_ublock),
            layer,
        )
        return [self.register_scalars(command) for command in commands]

    def register_scalars(self, command: Operation) -> Operation:
        """`command` with a scalar the target's register cannot hold made an IFM2 constant of one element.

        An Ethos-U command takes a 16-bit scalar (`fits_scalar`); a wider one is
        a new int32 constant of the weights memory (one per value), broadcast.
        """
        if self.target.ethos_u is None or not isinstance(command, npu.ElementwiseOp) or command.scalar is None:
            return command
        value = command.scalar.value.data
        if fits_scalar(value):
            return command
        if value not in self.scalars:
            self.scalars[value] = self.table(np.array([value], dtype=np.int32))
        buffer = self.scalars[value]
        properties = {key: attr for key, attr in command.properties.items() if key != "scalar"}
        properties["ifm2"] = npu.FeatureMapAttr.dense(buffer.region.data, buffer.offset.data, _SCALAR_SHAPE, _SCALAR_TYPE)
        return npu.build_command(npu.ElementwiseOp, properties, layer_name(command))

    def scratch(self, op: Operation) -> npu.BufferAttr:
        """The scratch buffer npu-schedule and npu-allocate gave `op`, whose slots are
        `SCRATCH_ALIGNMENT`-byte aligned (a target needing more is refused)."""
        if SCRATCH_ALIGNMENT % self.target.alignment:
            raise PassFailedException(
                f"{PASS}: {describe(op)}: scratch slots are {SCRATCH_ALIGNMENT}-byte aligned, "
                f"{self.target.name} needs {self.target.alignment}"
            )
        memory, offset = op.attributes.get(npu.SCRATCH_MEMORY_ATTR), op.attributes.get(npu.SCRATCH_OFFSET_ATTR)
        if not isinstance(memory, StringAttr) or not isinstance(offset, IntegerAttr):
            raise PassFailedException(
                f"{PASS}: {describe(op)} has no {npu.SCRATCH_MEMORY_ATTR}/{npu.SCRATCH_OFFSET_ATTR}: "
                "run npu-schedule and npu-allocate first"
            )
        return npu.BufferAttr(self.target_memory(memory.data, f"the scratch of {describe(op)}"), offset.value.data,
                              scratch_bytes(op))  # fmt: skip

    def check_host_conversion(self, op: Operation) -> None:
        """Host placement is only for the float interface: quantize args, dequantize results."""
        if is_host_conversion(op):
            return
        raise PassFailedException(
            f"{PASS}: {describe(op)} is host-placed but does not convert a model input or output"
        )

    def check_shared_buffer(self, op: quantized.ReshapeOp) -> None:
        """An NPU reshape moves no data, so an allocation of its own would be stale."""
        own = op.attributes.get(npu.OFFSET_ATTR), op.attributes.get(npu.MEMORY_ATTR)
        if own[0] is None and own[1] is None:
            return
        source_memory, source_offset = self.location(op.input)
        if not (
            isinstance(own[0], IntegerAttr)
            and own[0].value.data == source_offset
            and isinstance(own[1], StringAttr)
            and own[1].data == source_memory
        ):
            raise PassFailedException(
                f"{PASS}: reshape {describe(op)} must share its input's buffer "
                f"({source_memory} at {source_offset}): run npu-allocate again"
            )

    def cpu_command(self, op: Operation) -> npu.CpuOp:
        """`npu.cpu_op` holding a copy of `op`; constant operands are copied into the body."""
        block = Block()
        mapping: dict[SSAValue, SSAValue] = {}
        inputs: list[npu.FeatureMapAttr] = []
        for operand in op.operands:
            if operand in mapping:
                continue
            if isinstance(operand.owner, quantized.ConstantOp):
                constant = _without_annotations(operand.owner.clone())
                block.add_op(constant)
                mapping[operand] = constant.results[0]
            else:
                inputs.append(self.feature_map(operand))
                mapping[operand] = block.insert_arg(operand.type, len(block.args))
        body_op = _without_annotations(op.clone(value_mapper=mapping))
        block.add_ops([body_op, npu.YieldOp(*body_op.results)])
        properties: dict[str, Attribute] = {
            "inputs": ArrayAttr(inputs),
            "outputs": ArrayAttr([self.feature_map(result) for result in op.results]),
        }
        reason = op.attributes.get(npu.CPU_REASON_ATTR)
        if reason is not None:
            properties["reason"] = reason
        return npu.build_command(npu.CpuOp, properties, layer_name(op), [Region(block)])

    # Compute commands: (command class, properties without act_min/act_max/block).

    def weighted(self, op: Operation) -> dict[str, Attribute]:
        """Feature maps and constant buffers shared by conv, depthwise and fc (with the encoding of
        their streams on a target that encodes weights)."""
        weights, bias = op.operands[WEIGHTS_OPERAND], op.operands[BIAS_OPERAND]
        properties: dict[str, Attribute] = {
            "ifm": self.feature_map(op.operands[0]),
            "ofm": self.feature_map(op.results[0]),
            "weights": self.buffer(weights),
            "scale_bias": self.buffer(bias),
        }
        if self.target.encodes_weights:  # a layer streamed in depth slices: its first slice's (`depth_slices`)
            streams = layer_streams(op, self.target)
            first = streams.slices[0]
            properties["encoding"] = npu.EncodedWeightsAttr(
                streams.traversal.name.lower(), first.weight_lengths, first.scale_lengths, streams.wide
            )
        return properties

    def convolution(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.conv2d` or `npu.depthwise_conv2d` with the layer's window.

        A depthwise layer with a channel multiplier is an `npu.conv2d` on a
        target that encodes weights (`runs_as_convolution`).
        """
        assert isinstance(op, quantized.Conv2dOp | quantized.DepthwiseConv2dOp)
        window = op.window()
        properties = {
            "kernel": int_array(window.kernel),
            "strides": int_array(window.strides),
            "dilations": int_array(window.dilations),
            "padding": int_array(window.padding),
        }
        depthwise = isinstance(op, quantized.DepthwiseConv2dOp) and not runs_as_convolution(op, self.target)
        return (npu.DepthwiseConv2dOp if depthwise else npu.Conv2dOp), self.weighted(op) | properties

    def fully_connected(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.fully_connected`: [N, K] ifm, [O, K] weights."""
        return npu.FullyConnectedOp, self.weighted(op)

    def pool(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.pool` of kind max or avg."""
        assert isinstance(op, quantized.MaxPool2dOp | quantized.AvgPool2dOp)
        window = op.window()
        return npu.PoolOp, {
            "kind": StringAttr("max" if isinstance(op, quantized.MaxPool2dOp) else "avg"),
            "ifm": self.feature_map(op.ifm),
            "ofm": self.feature_map(op.ofm),
            "kernel": int_array(window.kernel),
            "strides": int_array(window.strides),
            "padding": int_array(window.padding),
        }

    def binary(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.elementwise` add, sub or mul (TFLite semantics); inputs of lower rank are described
        with leading 1s (numpy broadcasting)."""
        assert isinstance(op, BINARY_OPS)
        ofm = self.feature_map(op.ofm)
        rank = len(ofm.shape_values())
        return npu.ElementwiseOp, {
            "kind": StringAttr(op.name.removeprefix("quantized.")),
            "ifm": self.ranked_feature_map(op.ifm, rank),
            "ifm2": self.ranked_feature_map(op.ifm2, rank),
            "ofm": ofm,
        }

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

    def lookup_activation(self, op: Operation) -> tuple[type[npu.ComputeOp], dict[str, Attribute]]:
        """`npu.elementwise` adding the scalar 0 to the raw IFM, then looking the sum up in the op's table
        (`npuc.backend.lookup_tables`). The OFM is described with the IFM's zero point, so that the
        integer output stage (`ifm - zp + ofm zp`) hands the stored input value itself to the table."""
        ifm, ofm = self.feature_map(op.operands[0]), self.feature_map(op.results[0])
        ofm_type = ofm.element_type
        indexed = UniformQuantizedType(ofm_type.storage_type, [ofm_type.scale], [ifm.element_type.zero_point])
        return npu.ElementwiseOp, {
            "kind": StringAttr("add"),
            "ifm": ifm,
            "scalar": IntegerAttr(0, i32),
            "rescale": int_array((1, 0)),
            "rounding": StringAttr("half_up"),
            "ofm": _retyped(ofm, indexed),
            "lut": self.table(activation_table(op)),
        }


_COMPUTE: dict[str, Callable[[_Lowering, Operation], tuple[type[npu.ComputeOp], dict[str, Attribute]]]] = {
    CONV: _Lowering.convolution,
    DEPTHWISE: _Lowering.convolution,
    FULLY_CONNECTED: _Lowering.fully_connected,
    MAX_POOL: _Lowering.pool,
    AVG_POOL: _Lowering.pool,
    ELEMENTWISE: _Lowering.binary,
}
"""Command kind (`NpuOperator.command`) -> the method giving the NPU command and its properties."""


def _hoisted_over_slices(body: list[Operation], position: int) -> bool:
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


def _retyped(fm: npu.FeatureMapAttr, element_type: UniformQuantizedType) -> npu.FeatureMapAttr:
    """Feature map `fm` (the same bytes, wrap included) described with another quantization."""
    return npu.FeatureMapAttr(
        fm.region.data, fm.offset.data, fm.shape_values(), fm.stride_values(), element_type,
        fm.wrap.data, fm.wrap_offset.data,
    )


def _span(memory: npu.FeatureMapAttr | Attribute) -> tuple[str, int, int]:
    """(region, first byte, end) of a buffer, or of a feature map from its first element to past its last."""
    if isinstance(memory, npu.FeatureMapAttr):
        start = memory.offset.data
        last = sum((extent - 1) * stride for extent, stride in zip(memory.shape_values(), memory.stride_values()))
        return memory.region.data, start, start + last + memory.element_type.bits // 8
    assert isinstance(memory, npu.BufferAttr)
    return memory.region.data, memory.offset.data, memory.end


def _overlap(first: Attribute, second: Attribute) -> bool:
    """Whether two buffers or feature maps may share bytes."""
    (region, start, end), (other, other_start, other_end) = _span(first), _span(second)
    return region == other and start < other_end and other_start < end


def _bytes_value(data: bytes) -> DenseIntOrFPElementsAttr:
    """A constant's value holding `data` as bytes (an encoded stream)."""
    return DenseIntOrFPElementsAttr(TensorType(i8, [len(data)]), BytesAttr(data))


def _scale_bias_table(bias: quantized.ConstantOp, layer: Operation) -> bytes:
    """Per output channel, little-endian (bias, multiplier, shift): an int32 bias, or an int64 one (wide)."""
    entry = npu.scale_bias_entry(wide=bias.output.type.element_type == i64)
    values = np.frombuffer(bias.value.data.data, dtype=entry["bias"])
    entries = np.zeros(len(values), dtype=entry)
    entries["bias"] = values
    entries["multiplier"], entries["shift"] = rescale_parameters(layer)
    return entries.tobytes()


def _activation_bounds(op: Operation) -> tuple[int, int]:
    """(act_min, act_max) of a layer, as the quantized reference clamps: its OFM's range without a
    fused activation property (a lookup-table activation)."""
    if "activation" not in op.properties:
        ofm = quantized.quant_type(op.results[0])
        assert ofm is not None, "an NPU layer's result is quantized (verified)"
        return ofm.qmin, ofm.qmax
    low, high = activation_bounds(op)
    return int(low), int(high)


def _without_annotations(op: Operation) -> Operation:
    """`op` with the scheduling annotations (`npu.*` attributes) removed."""
    for key in [key for key in op.attributes if key.startswith("npu.")]:
        del op.attributes[key]
    return op


def _layout(attributes: dict[str, Attribute]) -> str | None:
    """The interface layout to record on npu.input/npu.output: None when NHWC."""
    layout = layout_of(attributes)
    return None if layout == "NHWC" else layout


def _layer(op: Operation) -> str | None:
    """The op's own `layer` attribute, if it has one."""
    attr = op.attributes.get(LAYER_ATTR)
    return attr.data if isinstance(attr, StringAttr) else None
