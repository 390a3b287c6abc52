"""Whether copying an NPU layer's weights into the staging memory makes the program faster.

A conv, depthwise conv or fully connected layer reads its weights and
scale/bias table once per OFM block position. Read in place, from where
they are stored (flash, DRAM), each read pays that memory's bandwidth and
each block's table fetch its latency. Staged, a DMA first copies them into
the staging memory, while the NPU layer before computes (npu-schedule hoists
the copy there), and the layer reads the fast copy; the copy takes staging
memory and DMA time. Staging pays only where the layer then ends earlier:
a layer whose compute outlasts reading its weights in place, or whose copy
the layer before cannot hide, reads them in place and takes no staging
memory (Vela, too, leaves such weights where they are: digits_cnn's second
convolution, ic_resnet8's widest).

`staged_layers` decides with the cost model's own rules: each command's
estimate (`npuc.backend.estimates.command_cycles`) on a two-engine
timeline run through the program in order (`npuc.cost.timeline`'s rules:
copies on the DMA engine, weights streamed slice by slice). The `fits`
rule stages every layer's weights that fit instead, as Vela does.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from math import ceil, lcm

from xdsl.dialects.builtin import DenseArrayBase
from xdsl.ir import Operation, SSAValue

from npuc.backend.estimates import command_cycles, op_block
from npuc.backend.operators import npu_operator
from npuc.backend.planning import (
    CPU,
    computes_on_npu,
    element_bytes,
    layer_command_shape,
    placement,
    sized_bytes,
    tensor_hwc,
)
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND
from npuc.cost.compute import DEPTHWISE
from npuc.cost.traffic import copy_time
from npuc.dialects.common import array_values, value_shape
from npuc.dialects.npu import CASCADE_ATTR, STRIPE_ATTR
from npuc.dialects.quantized import ConstantOp
from npuc.errors import NpucError
from npuc.targets import Target

PAYS, FITS = "pays", "fits"
STAGING_RULES = (PAYS, FITS)
"""npu-schedule's `weight-staging` rules: stage a layer's weights where that makes it end earlier
(`staged_layers`), or wherever they fit (Vela's rule: the cost-model agreement compares like with like)."""


def staging_rule(text: str) -> str:
    """`text` as one of `STAGING_RULES`; `NpucError` otherwise."""
    if text not in STAGING_RULES:
        raise NpucError(f"unknown weight-staging rule '{text}' (known: {', '.join(STAGING_RULES)})")
    return text


@dataclass(frozen=True)
class Slicing:
    """Weights streamed in OFM-depth slices of `depth` channels through `slots` slots of the staging memory."""

    depth: int
    slots: int


WHOLE = None
"""A staging plan copying a layer's weights whole."""

Plan = Slicing | None
"""How a layer's weights are staged: whole (`WHOLE`) or in slices."""

SLOT_COUNTS = (2, 3)
"""Slots tried for a sliced copy: double buffering (the copy of slice k + 1 overlaps the command of
slice k), or one slice more ahead, which pays where copies and commands alternate unevenly."""

SLICING_SLACK = 0.01
"""Under a memory budget, the share of a layer's time on the staging timeline (from when the compute
engine is free for it to its end, staged whole) a slicing may end later than the whole copy and still be
chosen for the staging memory it saves, where that lowers the staging memory's peak (`_slicings`)."""

IN_PLACE_MARGIN = 0.05
"""The share of a layer's in-place time a slicing must save to be staged instead: reading in place leaves
the DMA engine to the copies the layers after it hoist over it, which a layer-by-layer decision does not
see (MobileNetV2 at 384 KiB: Conv_1 sliced saves 1 % of its flash-bound in-place time and delays the
global pool's copy by more)."""

MAX_SLICES = 16
"""The most OFM-depth slices a layer's weights are priced in: each slice is a command (its pipeline fill,
its IFM read again), so a finer slicing only saves staging memory; `fits_slicings` goes finer where
nothing coarser fits."""


def slice_step(op: Operation, target: Target) -> int:
    """The OFM channels a depth slice of `op` is a multiple of: its block depth (its weights are encoded
    per block depth) and as many channels as make a slice's OFM address aligned."""
    channel_bytes = max(1, element_bytes(op.results[0]))
    return lcm(op_block(op)[2], max(1, target.alignment // channel_bytes))


def slice_depths(op: Operation, target: Target, most: int | None = MAX_SLICES) -> list[int]:
    """The OFM-depth slice depths `op` may stream its weights in, deepest first: multiples of its
    `slice_step` (doubling) giving at least two and at most `most` slices (None: no limit)."""
    depth = value_shape(op.results[0])[-1]
    step = slice_step(op, target)
    depths = []
    while step < depth:
        if most is None or ceil(depth / step) <= most:
            depths.append(step)
        step *= 2
    return depths[::-1]


def can_slice(op: Operation, target: Target) -> bool:
    """Whether `op`'s weights may be streamed in OFM-depth slices: a conv, depthwise conv or fully
    connected layer outside a cascade, computing its OFM in one stripe, on a target that encodes
    weights (each slice its own streams), with a slicing to choose (`slice_depths`)."""
    if not target.encodes_weights or CASCADE_ATTR in op.attributes:
        return False
    stripe = op.attributes.get(STRIPE_ATTR)
    if isinstance(stripe, DenseArrayBase) and tuple(array_values(stripe)) != tensor_hwc(op.results[0]):
        return False
    return bool(slice_depths(op, target, None))


@dataclass
class StagingPlans:
    """What `staged_layers` decides: per staged layer its plan, where a slicing takes less staging memory
    for at most `SLICING_SLACK` of its time its `thrifty` plan, and the slicings that save
    `IN_PLACE_MARGIN` of reading its weights in place, fastest first (`fallbacks`: what to try where its
    plan does not fit)."""

    plans: dict[Operation, Plan] = field(default_factory=dict)
    thrifty: dict[Operation, Plan] = field(default_factory=dict)
    fallbacks: dict[Operation, list[Plan]] = field(default_factory=dict)


def staged_layers(ops: Sequence[Operation], candidates: Collection[Operation], target: Target,
                  sizes: dict[SSAValue, int], slicing: bool = False) -> StagingPlans:
    """The `candidates` (weighted NPU ops reading constant weights) of the program `ops` whose weights
    staging makes end earlier, with how they are staged, decided in program order on a running
    two-engine timeline.

    The timeline keeps when the compute engine and the DMA engine are next
    free. An NPU op computes for its estimate; a CPU operation waits for
    both engines. A candidate reading its weights in place ends after its
    in-place estimate (weights and table read from where they are stored,
    once per block position); staged whole, its copies (the scale/bias
    table, then the weights, as `stage_weights` issues them, hoisted over
    the op before) run on the DMA engine once it is free and the op before
    has started (the copy's buffer may take bytes of anything that died
    before that op: the copy waits for their readers), and it starts once
    the first of its weight slices has arrived and ends no earlier than the
    copies plus one slice of its work (`npuc.cost.timeline`'s weight
    streaming). Whichever ends first is kept, and the timeline moves on.
    `sizes` remembers buffer sizes (`sized_bytes`).

    With `slicing`, each staged layer's OFM-depth slicings through slots
    are priced too (`slice_depths` x `SLOT_COUNTS`, `_sliced_end`,
    `_slicings`), not to replace a whole copy that fits (the timeline is too
    coarse to prefer one: on digits_cnn's Ethos-U65 Dedicated_Sram schedule
    a slicing it found 1 % faster is 3 % slower in the cost model), but for
    `StagingPlans`: the thriftiest
    slicing within `SLICING_SLACK` of the layer's time of the whole copy's
    end (under a budget npu-schedule takes it where the staging memory's
    peak then shrinks), and the slicings that save `IN_PLACE_MARGIN` of
    reading in place, fastest first (npu-schedule tries them where the whole
    copy does not fit).
    """
    stored, staging = target.memory(target.weights_memory), target.memory(target.staging_memory)
    compute_free = dma_free = previous_start = 0
    staged = StagingPlans()
    for op in ops:
        if placement(op) == CPU:
            compute_free = dma_free = previous_start = max(compute_free, dma_free)
            continue
        if not computes_on_npu(op):
            continue
        start = compute_free
        if op not in candidates:
            compute_free += _cycles(op, target)
            previous_start = start
            continue
        weight_bytes, scale_bytes = (
            sized_bytes(value, target, sizes) if isinstance(value.owner, ConstantOp) else 0
            for value in (op.operands[WEIGHTS_OPERAND], op.operands[BIAS_OPERAND])
        )
        shape = layer_command_shape(op)
        in_place_end = compute_free + command_cycles(op, shape, target, stored, weight_bytes, scale_bytes)
        copy_start = max(dma_free, previous_start)
        copied = copy_start + sum(copy_time(size, stored, staging).cycles for size in (scale_bytes, weight_bytes) if size)
        slices = ceil(value_shape(op.results[0])[-1] / target.throughput.ofm_block_depth)
        work = command_cycles(op, shape, target, staging, weight_bytes, scale_bytes)
        first_slice = copy_start + ceil((copied - copy_start) / slices)
        whole_end = max(max(compute_free, first_slice) + work, copied + ceil(work / slices))
        if whole_end < in_place_end:
            staged.plans[op] = WHOLE
            if slicing and can_slice(op, target):
                slicings = _slicings(op, target, (compute_free, copy_start), weight_bytes, scale_bytes)
                margin = ceil(IN_PLACE_MARGIN * (in_place_end - compute_free))
                staged.fallbacks[op] = [plan for end, _, _, plan in sorted(slicings, key=lambda option: option[:2])
                                        if end + margin < in_place_end]  # fmt: skip
                limit = whole_end + ceil(SLICING_SLACK * (whole_end - compute_free))
                thriftiest = min((option for option in slicings if option[0] <= limit), key=lambda option: option[1],
                                 default=None)  # fmt: skip
                if thriftiest is not None and thriftiest[1] < weight_bytes + scale_bytes:
                    staged.thrifty[op] = thriftiest[3]
            compute_free, dma_free = whole_end, copied
        else:
            compute_free = in_place_end
        previous_start = start
    return staged


def _slicings(op: Operation, target: Target, free: tuple[int, int], weight_bytes: int,
              scale_bytes: int) -> list[tuple[int, int, int, Plan]]:
    """(end, staging bytes, copies' end, plan) of `op` staged in each slicing (`slice_depths` x
    `SLOT_COUNTS`, `_sliced_end`).

    A slicing ending at most `SLICING_SLACK` of the layer's time after the
    whole copy counts as no slower for `StagingPlans.thrifty`: the whole
    copy's estimate assumes its command streams the copy block by block as
    it arrives, a slicing's commands do so explicitly, so a difference that
    small is the estimate's rounding, not time a whole copy buys.
    `staged_layers` offers as fallbacks only slicings that save
    `IN_PLACE_MARGIN` of the time reading in place takes.
    """
    options: list[tuple[int, int, int, Plan]] = []
    channels = value_shape(op.results[0])[-1]
    for depth in slice_depths(op, target):
        slices = _slices(op, target, depth, weight_bytes, scale_bytes)
        for slots in SLOT_COUNTS:
            end, copies_end = _sliced_end(slices, slots, free, target)
            options.append((end, slots * ceil((weight_bytes + scale_bytes) * depth / channels), copies_end,
                            Slicing(depth, slots)))
    return options


@dataclass(frozen=True)
class _Slice:
    """One OFM-depth slice of a layer, priced: its channels, bytes of weights and scale records, and the
    cycles of its command reading them from the staging memory."""

    channels: int
    weights: int
    scales: int
    work: int


def _slices(op: Operation, target: Target, depth: int, weight_bytes: int, scale_bytes: int) -> list[_Slice]:
    """The slices of `op` of `depth` channels (the last one the rest), each with its share of the layer's
    `weight_bytes` and `scale_bytes` (the encoding is not made per candidate) and its command's cycles
    (`command_cycles`, once per distinct slice)."""
    staging = target.memory(target.staging_memory)
    shape = layer_command_shape(op)
    batch, height, width, channels = shape.ofm
    priced: dict[int, _Slice] = {}
    slices = []
    for first in range(0, channels, depth):
        count = min(depth, channels - first)
        if count not in priced:
            weights, scales = ceil(weight_bytes * count / channels), ceil(scale_bytes * count / channels)
            ifm = (*shape.ifm[:3], count) if shape.kind == DEPTHWISE else shape.ifm
            work = command_cycles(op, replace(shape, ofm=(batch, height, width, count), ifm=ifm), target, staging,
                                  weights, scales)  # fmt: skip
            priced[count] = _Slice(count, weights, scales, work)
        slices.append(priced[count])
    return slices


def _sliced_end(slices: list[_Slice], slots: int, free: tuple[int, int], target: Target) -> tuple[int, int]:
    """(end of the last command, end of the last copy) of a layer staged in `slices` through `slots` slots,
    its compute engine free from `free[0]` and its copies starting at `free[1]`.

    Slice k (its scale records, then its weights) is copied into slot k
    mod `slots` once the command of slice k - `slots` (which read that
    slot) has ended; the command of slice k follows the one before and
    streams its slice as a whole layer's command streams its weights.
    """
    stored, staging = target.memory(target.weights_memory), target.memory(target.staging_memory)
    compute_free, dma_free = free
    ends: list[int] = []
    for part in slices:
        copy_start = max(dma_free, ends[len(ends) - slots] if len(ends) >= slots else 0)
        dma_free = copy_start + sum(copy_time(size, stored, staging).cycles for size in (part.scales, part.weights) if size)
        blocks = ceil(part.channels / target.throughput.ofm_block_depth)
        start = max(compute_free, copy_start + ceil((dma_free - copy_start) / blocks))
        compute_free = max(start + part.work, dma_free + ceil(part.work / blocks))
        ends.append(compute_free)
    return compute_free, dma_free


def _cycles(op: Operation, target: Target) -> int:
    """The estimate of the NPU op `op`'s one command (0 for an op lowering to several, e.g. a softmax:
    its time hides a copy too, but is not counted on)."""
    operator = npu_operator(op)
    if operator is None or operator.command is None:
        return 0
    return command_cycles(op, layer_command_shape(op), target)
