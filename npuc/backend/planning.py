"""Shared queries of the back-end planning passes (legalize, tile, schedule, allocate).

The planning passes annotate the quantized `@main` function instead of
rewriting it, so each of them needs the same few facts about it: which ops are
layers that run somewhere (and which target operator kind they are), the
window of a convolution or pooling op, the (height, width, depth) view of a
tensor, and, for allocation, which values hold memory, how many bytes and for
how long. Those facts live here, once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DictionaryAttr,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, BlockArgument, Operation, OpResult, SSAValue
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.allocation import LiveRange, allocate, arena_size
from npuc.backend.batch_matmul import BatchMatmulShape
from npuc.backend.batch_matmul import scratch_layout as batch_matmul_scratch
from npuc.backend.blocks import search_input
from npuc.backend.lookup_tables import LOOKUP_TABLE_OPS
from npuc.backend.operators import (
    BINARY_OPS,
    INT32_COMMAND_OPS,
    WEIGHTED_OPS,
    npu_operator,
)
from npuc.backend.softmax import scratch_layout
from npuc.backend.squared_difference import scratch_size as squared_difference_scratch
from npuc.backend.views import VIEW_OPS, View, memory_views
from npuc.backend.weight_encoding import (
    BIAS_OPERAND,
    WEIGHTS_OPERAND,
    layer_streams,
    weighted_consumers,
)
from npuc.cost.compute import CommandShape
from npuc.cost.geometry import as_batch_hwc
from npuc.dialects.common import (
    UNIT_WINDOW,
    Window,
    array_values,
    layer_name,
    value_shape,
)
from npuc.dialects.npu import (
    BLOCK_ATTR,
    CASCADE_ATTR,
    CPU_REASON_ATTR,
    MEMORY_ATTR,
    PLACEMENT_ATTR,
    ROLLING_ROWS_ATTR,
    SCALE_BIAS_ENTRY_BYTES,
    SCRATCH_MEMORY_ATTR,
    SLOTS_ATTR,
    STRIPE_ATTR,
    WIDE_SCALE_BIAS_ENTRY_BYTES,
    StageOp,
)
from npuc.dialects.quantized import (
    BatchMatMulOp,
    ConcatOp,
    ConstantOp,
    DequantizeOp,
    QuantizeOp,
    ReshapeOp,
    SoftmaxOp,
    SplitOp,
    SquaredDifferenceOp,
    quant_type,
)
from npuc.dialects.window_layers import Conv2dBase, Pool2dBase
from npuc.emit.ethos_u import shared_buffer
from npuc.errors import ModelVerificationError, TargetError
from npuc.ir import arg_attributes, main_function
from npuc.targets import BlockShape, Target, load_target

HOST, NPU, CPU = "host", "npu", "cpu"
"""Values of `npu.placement`: host interface conversion, NPU command, CPU fallback."""


def target_or_fail(name: str, pass_name: str) -> Target:
    """The target `name` (built-in or file), or `PassFailedException` with the reason after `pass_name`."""
    try:
        return load_target(name)
    except TargetError as error:
        raise PassFailedException(f"{pass_name}: {error}") from None


def main_or_fail(module: ModuleOp, pass_name: str) -> FuncOp:
    """The module's `@main`, or `PassFailedException` (after `pass_name`) if it has none."""
    try:
        return main_function(module)
    except ModelVerificationError as error:
        raise PassFailedException(f"{pass_name}: {error}") from None


def describe(op: Operation) -> str:
    """`layer (op name)` for messages; just the op name when it has no layer."""
    name = layer_name(op)
    return name if name == op.name else f"{name} ({op.name})"


def is_host_conversion(op: Operation) -> bool:
    """Whether `op` converts the float interface on the host.

    A `quantized.quantize` of a function argument or a `quantized.dequantize`
    whose result only feeds `func.return` is the driver's job, not an NPU or
    CPU operation of the model.
    """
    if isinstance(op, QuantizeOp):
        return isinstance(op.input, BlockArgument)
    if isinstance(op, DequantizeOp):
        return all(isinstance(use.operation, ReturnOp) for use in op.output.uses)
    return False


def layer_ops(func: FuncOp) -> Iterator[Operation]:
    """The ops of `func` that are placed somewhere: all but constants, stages, return."""
    for op in func.body.ops:
        if not isinstance(op, (ConstantOp, StageOp, ReturnOp)):
            yield op


def placement(op: Operation) -> str | None:
    """The op's `npu.placement`, or None before npu-legalize."""
    attr = op.attributes.get(PLACEMENT_ATTR)
    return attr.data if isinstance(attr, StringAttr) else None


def computes_on_npu(op: Operation) -> bool:
    """Whether `op` is an NPU compute command (conv, depthwise, fc, pool, add).

    An NPU reshape, concat or split is placed on the NPU but moves no data
    (see `npuc.backend.views`), so it is not one.
    """
    operator = npu_operator(op)
    return placement(op) == NPU and operator is not None and operator.command is not None


def moves_no_data(op: Operation) -> bool:
    """Whether `op` is an NPU reshape, concat or split: a reinterpretation of buffers."""
    operator = npu_operator(op)
    return placement(op) == NPU and operator is not None and operator.command is None


def npu_only(value: SSAValue) -> bool:
    """Whether only NPU commands write `value` and read it (an NPU reshape, concat or split counts as both)."""

    def on_npu(op: Operation) -> bool:
        return computes_on_npu(op) or moves_no_data(op)

    return isinstance(value.owner, Operation) and on_npu(value.owner) and all(on_npu(use.operation) for use in value.uses)


def npu_views(func: FuncOp) -> dict[SSAValue, View]:
    """The values of `func` living inside another value's buffer (NPU concat and split)."""
    return memory_views(func, {op for op in func.body.ops if isinstance(op, VIEW_OPS) and placement(op) == NPU})


def require(op: Operation, key: str, producer: str, pass_name: str) -> Attribute:
    """The op's attribute `key`; fails naming the op and the pass to run first."""
    attr = op.attributes.get(key)
    if attr is None:
        raise PassFailedException(
            f"{pass_name}: {describe(op)} has no {key}: run {producer} first"
        )
    return attr


def cpu_operations(module: ModuleOp) -> list[tuple[str, str, str]]:
    """`(layer, op name, reason)` of every op npu-legalize placed on the CPU."""
    return [
        (layer_name(op), op.name, _cpu_reason(op))
        for op in layer_ops(main_function(module))
        if placement(op) == CPU
    ]


def _cpu_reason(op: Operation) -> str:
    """The `npu.cpu_reason` npu-legalize gives every op it places on the CPU."""
    reason = op.attributes[CPU_REASON_ATTR]
    assert isinstance(reason, StringAttr), f"{CPU_REASON_ATTR} is a string"
    return reason.data


def hwc(shape: Sequence[int]) -> tuple[int, int, int]:
    """(height, width, depth) of a tensor: the last three axes, padded with 1s.

    NHWC gives (H, W, C); a fully connected [N, K] tensor reads as 1 x N x K.
    """
    padded = (1, 1, 1, *shape)
    return padded[-3], padded[-2], padded[-1]


def tensor_hwc(value: SSAValue) -> tuple[int, int, int]:
    """`hwc` of a tensor value's shape."""
    return hwc(value_shape(value))


def window(op: Operation) -> Window | None:
    """The window of a quantized convolution or pooling op, or None if it has none (fully connected, add...)."""
    return op.window() if isinstance(op, (Conv2dBase, Pool2dBase)) else None


def clip_block(
    config: BlockShape, ofm: tuple[int, int, int], ublock: BlockShape
) -> tuple[int, int, int]:
    """`config` shrunk to the OFM extents (height, width, depth), each rounded up to the micro-block."""
    granules = (ublock.height, ublock.width, ublock.depth)
    extents = (config.height, config.width, config.depth)
    height, width, depth = (
        min(extent, -(-size // granule) * granule)
        for extent, size, granule in zip(extents, ofm, granules)
    )
    return height, width, depth


def element_bytes(value: SSAValue) -> int:
    """Bytes per stored element of a tensor value (its storage type for quantized)."""
    qtype = quant_type(value)
    if qtype is not None:
        return qtype.bits // 8
    assert isinstance(value.type, TensorType)
    element = value.type.element_type
    width = element.width.data if isinstance(element, IntegerType) else 32
    return max(1, width // 8)


def cascade_groups(func: FuncOp) -> dict[Operation, list[Operation]]:
    """Each op of a cascade (`npu.cascade`, `npuc.backend.cascades`) -> the ops of its cascade, in program order."""
    groups: dict[int, list[Operation]] = {}
    for op in func.body.ops:
        cascade = op.attributes.get(CASCADE_ATTR)
        if isinstance(cascade, IntegerAttr):
            groups.setdefault(cascade.value.data, []).append(op)
    return {op: ops for ops in groups.values() for op in ops}


def buffer_bytes(value: SSAValue, target: Target) -> int:
    """Bytes a value occupies in memory on `target`.

    A bias feeding a conv, depthwise conv or fully connected op is stored as
    the NPU's scale/bias table (`SCALE_BIAS_ENTRY_BYTES` per output channel,
    `WIDE_SCALE_BIAS_ENTRY_BYTES` for an int64 bias). On a target that
    encodes weights (`Target.encodes_weights`) the weights and bias of an
    NPU-placed layer are instead its encoded weight streams and scale
    records (`npuc.backend.weight_encoding`), sized by their encoding; every
    NPU layer reading one constant must then encode it alike. A cascade
    intermediate (its producer has `npu.rolling_rows`) holds that many rows.
    A copy of weights or scales streamed in OFM-depth slices (its
    `npu.stage` has `npu.slots`) holds that many of its layer's largest
    slices of them.
    Everything else is its element count times the storage bytes.
    """
    assert isinstance(value.type, TensorType)
    rows = value.owner.attributes.get(ROLLING_ROWS_ATTR) if isinstance(value, OpResult) else None
    if isinstance(rows, IntegerAttr):
        height, width, depth = tensor_hwc(value)
        return min(rows.value.data, height) * width * depth * element_bytes(value)
    slots = value.owner.attributes.get(SLOTS_ATTR) if isinstance(value, OpResult) else None
    if isinstance(slots, IntegerAttr):
        operand = WEIGHTS_OPERAND if _npu_readers(value, WEIGHTS_OPERAND) else BIAS_OPERAND
        (layer,) = _npu_readers(value, operand)
        return slots.value.data * layer_streams(layer, target).largest_slice(operand)
    if target.encodes_weights:
        weight_readers = _npu_readers(value, WEIGHTS_OPERAND)
        bias_readers = _npu_readers(value, BIAS_OPERAND)
        if weight_readers or bias_readers:
            return _encoded_bytes(weight_readers, bias_readers, target)
    if weighted_consumers(value, BIAS_OPERAND):
        wide = value.type.element_type == i64
        return value.type.get_shape()[0] * (WIDE_SCALE_BIAS_ENTRY_BYTES if wide else SCALE_BIAS_ENTRY_BYTES)
    return value.type.element_count() * element_bytes(value)


def sized_bytes(value: SSAValue, target: Target, sizes: dict[SSAValue, int]) -> int:
    """`buffer_bytes` of `value`, remembered in `sizes` (a constant many layers read is costly to size:
    every reader's encoding is compared)."""
    if value not in sizes:
        sizes[value] = buffer_bytes(value, target)
    return sizes[value]


def _npu_readers(value: SSAValue, operand: int) -> list[Operation]:
    """The NPU-placed weighted layers reading `value` (directly or staged) as operand `operand`."""
    return [op for op in weighted_consumers(value, operand) if placement(op) == NPU]


def _encoded_bytes(weight_readers: list[Operation], bias_readers: list[Operation], target: Target) -> int:
    """Size of the encoded weight streams (bias records) of the layers reading a value as weights (bias)."""
    sizes = {len(layer_streams(op, target).weights) for op in weight_readers}
    sizes |= {len(layer_streams(op, target).scales) for op in bias_readers}
    if len(sizes) > 1:
        names = ", ".join(layer_name(op) for op in weight_readers + bias_readers)
        raise PassFailedException(
            f"layers {names} read one constant but encode it differently for {target.name}; "
            "give each layer its own constant"
        )
    return sizes.pop()


def scratch_bytes(op: Operation) -> int:
    """Bytes of working memory `op` needs while it runs (an NPU softmax's, squared difference's or
    batch matmul's intermediates), or 0."""
    if isinstance(op, SoftmaxOp) and placement(op) == NPU:
        return scratch_layout(value_shape(op.input)).size
    if isinstance(op, SquaredDifferenceOp) and placement(op) == NPU:
        return squared_difference_scratch(value_shape(op.results[0]))
    if isinstance(op, BatchMatMulOp) and placement(op) == NPU:
        return batch_matmul_scratch(BatchMatmulShape.of(value_shape(op.lhs), value_shape(op.rhs))).size
    return 0


def absorbing_layer(activation: Operation, target: Target) -> Operation | None:
    """The layer whose command applies the table of lookup-table activation `activation`, or None.

    As Vela fuses a TABLE_LOOKUP activation into the convolution before it:
    an NPU activation whose input is the only result use of an NPU
    convolution, depthwise convolution or fully connected layer scheduled
    right before it (constants aside), neither in a cascade, and on an
    Ethos-U a layer whose block leaves the shared buffer room for the
    table. npu-lower then writes the activation's OFM from the layer's
    command (`absorb_activation`), so `buffers` keeps that OFM live from the
    layer's position.
    """
    if not isinstance(activation, LOOKUP_TABLE_OPS) or placement(activation) != NPU:
        return None
    source = activation.operands[0]
    layer = source.owner
    if not isinstance(layer, WEIGHTED_OPS) or placement(layer) != NPU or not source.has_one_use():
        return None
    if CASCADE_ATTR in layer.attributes or CASCADE_ATTR in activation.attributes:
        return None
    following = layer.next_op
    while isinstance(following, ConstantOp):
        following = following.next_op
    if following is not activation:
        return None
    if target.ethos_u is not None:
        block = layer.attributes.get(BLOCK_ATTR)
        if not isinstance(block, DenseArrayBase):
            return None
        shape = layer_command_shape(layer)
        traversal = search_input(shape, target).traversal
        height, width, depth = array_values(block)
        if shared_buffer.layout(shape, (height, width, depth), traversal, target, lut=True) is None:
            return None
    return layer


def scratch_name(op: Operation, position: int) -> str:
    """The allocator's name for the scratch buffer of `op` at schedule `position`."""
    return f"{layer_name(op)}@{position}.scratch"


def aliases_input(op: Operation) -> bool:
    """Whether `op`'s results reuse its input's buffer (an NPU reshape or split: no data moves)."""
    return isinstance(op, (ReshapeOp, SplitOp)) and placement(op) == NPU


def memory_of(attributes: DictionaryAttr | dict[str, Attribute] | None) -> str | None:
    """The `npu.memory` in an op's or argument's attributes, if any."""
    data = attributes.data if isinstance(attributes, DictionaryAttr) else attributes or {}
    attr = data.get(MEMORY_ATTR)
    return attr.data if isinstance(attr, StringAttr) else None


def value_memory(func: FuncOp, value: SSAValue) -> str | None:
    """The `npu.memory` npu-schedule has assigned to `value` (op result or argument), if any."""
    if isinstance(value, BlockArgument):
        return memory_of(arg_attributes(func)[value.index])
    assert isinstance(value.owner, Operation)
    return memory_of(value.owner.attributes)


def set_arg_attribute(func: FuncOp, index: int, key: str, value: Attribute) -> None:
    """Set one attribute of argument `index` of `func`, keeping the others."""
    dictionaries = arg_attributes(func)
    dictionaries[index][key] = value
    func.arg_attrs = ArrayAttr([DictionaryAttr(d) for d in dictionaries])


@dataclass
class Buffer:
    """A range of bytes in one memory, held by a value and the values aliasing it.

    `start`/`end` are the schedule positions (op indices in `@main`) of its
    first write and last read.
    """

    name: str
    memory: str
    size: int
    start: int
    end: int

    def live_range(self) -> LiveRange:
        """The buffer as the allocator's `LiveRange`."""
        return LiveRange(self.name, self.start, self.end, self.size)


def buffers(
    func: FuncOp, target: Target, sizes: dict[SSAValue, int] | None = None
) -> tuple[list[Buffer], dict[SSAValue, Buffer]]:
    """The buffers npu-schedule assigned to memories on `target`, with their live ranges and sizes.

    Positions are op indices in `@main`. Function arguments, host-written
    quantize results and constants are live from -1 (before the first op);
    constants, function results and values read by the host's dequantize
    live to the last position. The results of an NPU reshape or split share
    their input's buffer and extend its live range; the inputs of an NPU
    concat live in the concat's buffer, which is written first by its first
    input's producer (and lives in that producer's memory); a concat that is
    the input of an NPU concat lives in the outer one's buffer. An op needing
    scratch (`scratch_bytes`) gets a buffer live at its own position only,
    named `scratch_name`, in its `npu.scratch_memory` (once npu-schedule has
    set it). The ops of a cascade run together, interleaved (npu-lower
    emits them at the last one's position): their reads last to the
    cascade's last position and their results are live from its first (a
    cascade intermediate is a rolling buffer, `buffer_bytes`). An NPU add,
    sub or mul may write its result over an IFM no later op reads
    (`overwritten_ifm`): the result then shares that buffer. A lookup-table
    activation fused into the layer before it (`absorbing_layer`) has its
    result live from that layer's position. Returns the buffers and, for
    every value held in memory, its buffer.

    `sizes` memoises `buffer_bytes` across calls while the layers and their
    weights stay as they are (npu-schedule's repeated fit checks: an encoded
    size is costly to key).
    """
    memo: dict[SSAValue, int] = {} if sizes is None else sizes

    def size_of(value: SSAValue) -> int:
        return sized_bytes(value, target, memo)

    ops = list(func.body.ops)
    last = len(ops) - 1
    found: list[Buffer] = []
    holder: dict[SSAValue, Buffer] = {}
    views = npu_views(func)

    for index, arg in enumerate(func.body.block.args):
        memory = memory_of(arg_attributes(func)[index])
        if memory is not None:
            holder[arg] = Buffer(f"arg{index}", memory, size_of(arg), -1, -1)
            found.append(holder[arg])

    positions = {op: position for position, op in enumerate(ops)}
    cascades = cascade_groups(func)
    for position, op in enumerate(ops):
        cascade = cascades.get(op)
        first, read_until = (positions[cascade[0]], positions[cascade[-1]]) if cascade else (position, position)
        layer = absorbing_layer(op, target)
        if layer is not None:  # written by the layer's command
            first = positions[layer]
        scratch_memory = op.attributes.get(SCRATCH_MEMORY_ATTR)
        if isinstance(scratch_memory, StringAttr):
            found.append(Buffer(scratch_name(op, position), scratch_memory.data, scratch_bytes(op), position, position))
        reads_to_end = isinstance(op, ReturnOp) or is_host_conversion(op)
        for operand in op.operands:
            if operand in holder:
                buffer = holder[operand]
                buffer.end = max(buffer.end, last if reads_to_end else read_until)
        if aliases_input(op) and op.operands[0] in holder:
            for result in op.results:
                holder[result] = holder[op.operands[0]]
            continue
        overwritten = overwritten_ifm(op, positions, views, cascades)
        if overwritten is not None and overwritten in holder and holder[overwritten].memory == memory_of(op.attributes):
            holder[op.results[0]] = holder[overwritten]
            continue
        if isinstance(op, ConcatOp) and op.output in holder:
            continue
        memory = memory_of(op.attributes)
        if memory is None:
            continue
        whole_program = isinstance(op, ConstantOp)
        start = -1 if whole_program or is_host_conversion(op) else first
        for number, result in enumerate(op.results):
            chain = enclosing_concats(result, views)
            held = next((holder[value] for value in chain if value in holder), None)
            if held is None:
                owner = chain[-1] if chain else result
                name = f"{layer_name(owner.owner)}@{position}" + (f".{number}" if number else "")
                held = Buffer(name, memory, size_of(owner), start, last if whole_program else start)
                found.append(held)
            if layer is not None:  # a concat slice the absorbing layer's command writes
                held.start = min(held.start, start)
            for value in (result, *chain):
                holder[value] = held
    return found, holder


def overwritten_ifm(
    op: Operation, positions: dict[Operation, int], views: dict[SSAValue, View], cascades: dict[Operation, list[Operation]]
) -> SSAValue | None:
    """The IFM an NPU add, sub or mul writes its OFM over, in place, if one qualifies; else None.

    Each output element of an elementwise command depends only on the input
    elements at its own position, and the NPU reads a block before it writes
    it, so the OFM can take an IFM's buffer when that IFM is read by no later
    op: as Vela does, a residual add's result reuses its input's bytes. The
    IFM qualifies if it has the OFM's shape and element size (not a
    broadcast operand), every reader of it runs on the NPU no later than
    `op` (the host and CPU operations see plain NHWC maps, the NPU's may be
    in bricks), it is an NPU op's result held whole (no view, no cascade's
    rolling buffer), and so is the OFM, read by NPU commands only. The op
    computes its OFM in one command (the hazard checker sees a layer's
    stripes as one result, still reading the IFM its first stripe wrote over).
    """
    if not isinstance(op, BINARY_OPS) or placement(op) != NPU or op in cascades or in_stripes(op):
        return None
    result = op.results[0]
    if result in views or not result.uses or not all(computes_on_npu(use.operation) for use in result.uses):
        return None
    for ifm in dict.fromkeys(op.operands[:2]):
        producer = ifm.owner
        if (
            isinstance(producer, Operation) and computes_on_npu(producer) and producer not in cascades
            and ifm not in views and value_shape(ifm) == value_shape(result)
            and element_bytes(ifm) == element_bytes(result)
            and all(computes_on_npu(use.operation) and positions[use.operation] <= positions[op] for use in ifm.uses)
        ):  # fmt: skip
            return ifm
    return None


def in_stripes(op: Operation) -> bool:
    """Whether `op` computes its OFM in height stripes lower than it (`npu.stripe`)."""
    stripe = op.attributes.get(STRIPE_ATTR)
    return isinstance(stripe, DenseArrayBase) and array_values(stripe)[0] < tensor_hwc(op.results[0])[0]


def staging_arena(func: FuncOp, target: Target, sizes: dict[SSAValue, int] | None = None) -> int:
    """The bytes npu-allocate's placement of the staging (budgeted) memory's buffers spans now."""
    ranges = [b.live_range() for b in buffers(func, target, sizes)[0] if b.memory == target.staging_memory]
    return arena_size(ranges, allocate(ranges, target.alignment))


def enclosing_concats(value: SSAValue, views: dict[SSAValue, View]) -> list[OpResult]:
    """The results of the NPU concats whose buffers hold `value`, innermost first (nested views)."""
    chain: list[OpResult] = []
    while value in views and isinstance(concat := views[value].base.owner, ConcatOp):
        chain.append(concat.output)
        value = concat.output
    return chain


INT32_BITS = 32
"""Element width of the int32 intermediates some layers' commands read."""


def layer_command_shape(op: Operation) -> CommandShape:
    """The cost model's view of the command a quantized NPU op lowers to, before lowering (npu-tile's
    block search, the cascade search).

    The IFM element width sizes the shared-buffer areas (32 bits for an op
    whose commands read int32 intermediates, `INT32_COMMAND_OPS`); fused
    activations do not matter to the searches, so the shape is unclamped.
    """
    op_window = window(op) or UNIT_WINDOW
    ifm = as_batch_hwc(value_shape(op.operands[0]))
    ofm = as_batch_hwc(value_shape(op.results[0]))
    operator = npu_operator(op)
    assert operator is not None and operator.command is not None, f"{describe(op)} lowers to no compute command"
    bits = INT32_BITS if isinstance(op, INT32_COMMAND_OPS) else element_bytes(op.operands[0]) * 8
    return CommandShape(operator.command, ifm, ofm, op_window, ifm_bits=bits)
