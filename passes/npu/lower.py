"""npu-lower: turn the scheduled, allocated quantized `@main` into npu commands.

The pass is the walk over `@main`, each op to its commands in program
order; the commands are built in `npuc.backend`: the descriptors of values
in memory (`addresses`), the constants and tables of the weights memory
(`constant_pool`), a layer's compute command (`layer_commands`), split
into height stripes or interleaved in its cascade (`striped_layers`) or
into OFM-depth weight slices (`weight_slices`), the layers expanded into
several commands (`expanded_layers`), the DMA copies and where they are
issued (`dma_commands`), the interface and the CPU operations
(`host_commands`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    i64,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.addresses import Addresses
from npuc.backend.constant_pool import ConstantPool
from npuc.backend.copies import COPY_OPS
from npuc.backend.dma_commands import constant_copies, program_order, stage_copies
from npuc.backend.expanded_layers import (
    batch_matmul_layer,
    copy_layer,
    softmax_layer,
    squared_difference_layer,
)
from npuc.backend.host_commands import cpu_command, input_command, output_commands
from npuc.backend.layer_commands import LayerCommands
from npuc.backend.planning import (
    CPU,
    HOST,
    cascade_groups,
    describe,
    is_host_conversion,
    main_or_fail,
    require,
    target_or_fail,
)
from npuc.backend.striped_layers import cascade_commands, height_stripes
from npuc.backend.views import VIEW_OPS
from npuc.backend.weight_encoding import slice_depth
from npuc.backend.weight_slices import depth_slice_commands
from npuc.dialects import npu, quantized
from npuc.dialects.common import layer_name
from npuc.targets import Target

PASS = "npu-lower"


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
    (`npuc.backend.copies`). An NPU softmax expands into its
    pool/elementwise chain (`npuc.backend.softmax`), working in its scratch
    buffer (`npu.scratch_memory`/`npu.scratch_offset`), with its exp lut as
    a new constant after the others in the weights memory
    (`npu.memory_usage` grows accordingly); on an Ethos-U target its
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
    if isinstance(usage, DictionaryAttr) and lowering.pool.tables:
        module.attributes[npu.MEMORY_USAGE_ATTR] = DictionaryAttr(
            usage.data | {target.weights_memory: IntegerAttr(lowering.pool.end, i64)}
        )


class _Lowering:
    """The lowering of one function: the walk over its ops, each to its commands in program order."""

    def __init__(self, func: FuncOp, target: Target, weights_used: int):
        self.func = func
        self.target = target
        self.addresses = Addresses(func, target, PASS)
        self.pool = ConstantPool(self.addresses, weights_used)
        self.layers = LayerCommands(self.addresses, self.pool)
        self.cascades = cascade_groups(func)
        """Each op of a cascade -> the cascade's ops in program order."""

    def commands(self) -> list[Operation]:
        """Constants (model constants, then lowering-made tables), inputs, program-order commands, outputs."""
        body = list(self.func.body.ops)
        constants = self.pool.model_constants(body)
        inputs = [input_command(self.addresses, arg) for arg in self.func.body.block.args]
        program = program_order(body, self.lower)
        return [*constants, *self.pool.tables, *inputs, *program]

    def lower(self, op: Operation) -> list[Operation]:
        """The commands of one op of `@main`, in program order."""
        if isinstance(op, quantized.ConstantOp):
            return []
        if isinstance(op, npu.StageOp):
            return stage_copies(self.addresses, op)
        if isinstance(op, ReturnOp):
            return output_commands(self.addresses, op)
        where = require(op, npu.PLACEMENT_ATTR, "npu-legalize", PASS)
        assert isinstance(where, StringAttr)
        if where.data == HOST:
            self.check_host_conversion(op)
            return []
        if where.data == CPU:
            return [cpu_command(self.addresses, op)]
        if isinstance(op, quantized.ReshapeOp):
            self.check_shared_buffer(op)
            return []
        if isinstance(op, quantized.SoftmaxOp):
            return softmax_layer(self.addresses, self.pool, op)
        if isinstance(op, quantized.SquaredDifferenceOp):
            return squared_difference_layer(self.addresses, self.pool, op)
        if isinstance(op, quantized.BatchMatMulOp):
            return batch_matmul_layer(self.addresses, self.pool, op)
        if isinstance(op, quantized.ConcatOp):
            return constant_copies(self.addresses, op)  # its other inputs' producers write their slices
        if isinstance(op, VIEW_OPS):
            return []  # its outputs' readers address the slices
        if op in self.layers.absorbed:
            return []  # its table is applied by its producer's command (`absorb_activation`)
        if isinstance(op, COPY_OPS):
            return copy_layer(self.addresses, op)
        cascade = self.cascades.get(op)
        if cascade is not None:
            if op is not cascade[-1]:
                return []
            computes = [self.layers.compute(layer) for layer in cascade]
            return cascade_commands(cascade, computes, self.target.ofm_ublock, PASS)
        op_type, properties = self.layers.compute(op)
        properties = self.layers.absorb_activation(op, op_type, properties)
        if slice_depth(op) is not None:
            return depth_slice_commands(self.addresses, op, op_type, properties)
        return [
            npu.build_command(op_type, stripe, layer_name(op))
            for stripe in height_stripes(op, properties, self.target.ofm_ublock)
        ]

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
        source_memory, source_offset = self.addresses.location(op.input)
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
