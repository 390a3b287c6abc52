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
from math import ceil

from xdsl.ir import Operation, SSAValue

from npuc.backend.estimates import command_cycles
from npuc.backend.operators import npu_operator
from npuc.backend.planning import (
    CPU,
    computes_on_npu,
    layer_command_shape,
    placement,
    sized_bytes,
)
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND
from npuc.cost.traffic import copy_time
from npuc.dialects.common import value_shape
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


def staged_layers(ops: Sequence[Operation], candidates: Collection[Operation], target: Target,
                  sizes: dict[SSAValue, int]) -> set[Operation]:
    """The `candidates` (weighted NPU ops reading constant weights) of the program `ops` whose weights
    staging makes end earlier, decided in program order on a running two-engine timeline.

    The timeline keeps when the compute engine and the DMA engine are next
    free. An NPU op computes for its estimate; a CPU operation waits for
    both engines. A candidate reading its weights in place ends after its
    in-place estimate (weights and table read from where they are stored,
    once per block position); staged, its copies (the scale/bias table,
    then the weights, as `stage_weights` issues them, hoisted over the op
    before) run on the DMA engine once it is free and the op before has
    started (the copy's buffer may take bytes of anything that died
    before that op: the copy waits for their readers), and it starts once
    the first of its weight slices has arrived and ends no earlier than the
    copies plus one slice of its work (`npuc.cost.timeline`'s weight
    streaming). Whichever ends first is kept, and the timeline moves on.
    `sizes` remembers buffer sizes (`sized_bytes`).
    """
    stored, staging = target.memory(target.weights_memory), target.memory(target.staging_memory)
    compute_free = dma_free = previous_start = 0
    staged: set[Operation] = set()
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
        staged_end = max(max(compute_free, first_slice) + work, copied + ceil(work / slices))
        if staged_end < in_place_end:
            staged.add(op)
            compute_free, dma_free = staged_end, copied
        else:
            compute_free = in_place_end
        previous_start = start
    return staged


def _cycles(op: Operation, target: Target) -> int:
    """The estimate of the NPU op `op`'s one command (0 for an op lowering to several, e.g. a softmax:
    its time hides a copy too, but is not counted on)."""
    operator = npu_operator(op)
    if operator is None or operator.command is None:
        return 0
    return command_cycles(op, layer_command_shape(op), target)
