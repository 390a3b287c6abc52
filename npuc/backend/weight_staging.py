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

`staging_pays` decides with the cost model's own rules: each command's
estimate (`npuc.backend.estimates.command_cycles`) and the two-engine
timeline (`npuc.cost.timeline`) of the three or four commands involved:
the copies, the layer before, the layer. The `fits` rule stages every
layer's weights that fit instead, as Vela does.
"""

from __future__ import annotations

from math import ceil

from xdsl.ir import Operation, SSAValue

from npuc.backend.estimates import command_cycles
from npuc.backend.operators import npu_operator
from npuc.backend.planning import layer_command_shape, sized_bytes
from npuc.backend.weight_encoding import BIAS_OPERAND, WEIGHTS_OPERAND
from npuc.cost.timeline import COMPUTE_ENGINE, DMA_ENGINE, Job, schedule
from npuc.cost.traffic import copy_time
from npuc.dialects.common import value_shape
from npuc.dialects.npu import BufferAttr
from npuc.dialects.quantized import ConstantOp
from npuc.errors import NpucError
from npuc.targets import Target

PAYS, FITS = "pays", "fits"
STAGING_RULES = (PAYS, FITS)
"""npu-schedule's `weight-staging` rules: stage a layer's weights where that makes it end earlier
(`staging_pays`), or wherever they fit (Vela's rule: the cost-model agreement compares like with like)."""


def staging_rule(text: str) -> str:
    """`text` as one of `STAGING_RULES`; `NpucError` otherwise."""
    if text not in STAGING_RULES:
        raise NpucError(f"unknown weight-staging rule '{text}' (known: {', '.join(STAGING_RULES)})")
    return text


def staging_pays(op: Operation, previous: Operation | None, target: Target, sizes: dict[SSAValue, int]) -> bool:
    """Whether `op` (a weighted NPU op reading constant weights) ends earlier with its weights and
    scale/bias table staged, the copies hoisted over `previous` (the NPU op before it, None if a CPU
    operation or nothing precedes it), than reading them where they are stored. `sizes` remembers
    buffer sizes (`sized_bytes`)."""
    stored, staging = target.memory(target.weights_memory), target.memory(target.staging_memory)
    tables = [op.operands[WEIGHTS_OPERAND], op.operands[BIAS_OPERAND]]
    weight_bytes, scale_bytes = (
        sized_bytes(value, target, sizes) if isinstance(value.owner, ConstantOp) else 0 for value in tables
    )
    shape = layer_command_shape(op)
    before = _cycles(previous, target) if previous is not None else 0
    in_place = command_cycles(op, shape, target, stored, weight_bytes, scale_bytes)
    copies = [
        BufferAttr(staging.name, offset, size)
        for offset, size in ((0, weight_bytes), (weight_bytes, scale_bytes)) if size
    ]  # fmt: skip
    jobs = [Job(DMA_ENGINE, copy_time(copy.size.data, stored, staging).cycles, (), (copy,)) for copy in copies]
    jobs.append(Job(COMPUTE_ENGINE, before, (), ()))
    slices = ceil(value_shape(op.results[0])[-1] / target.throughput.ofm_block_depth)
    staged = command_cycles(op, shape, target, staging, weight_bytes, scale_bytes)
    jobs.append(Job(COMPUTE_ENGINE, staged, tuple(copies), (), tuple(copies), slices))
    return schedule(jobs)[-1][1] < before + in_place


def _cycles(op: Operation, target: Target) -> int:
    """The estimate of the NPU op `op`'s one command (0 for an op lowering to several, e.g. a softmax:
    its time hides a copy too, but is not counted on)."""
    operator = npu_operator(op)
    if operator is None or operator.command is None:
        return 0
    return command_cycles(op, layer_command_shape(op), target)
