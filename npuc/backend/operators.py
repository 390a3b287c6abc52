"""The back end's one table of quantized op classes: how each can run on the NPU.

Per op class: the target operator kind whose rule admits it (npu-legalize
reads the target description's rule of that kind), and the compute command
it lowers to (`CommandShape.kind`: npu-tile's block search prices it,
npu-lower builds it). Reshape, concat and split are memory views on the NPU
and lower to no command; softmax lowers to a chain of elementwise and
pooling commands (`npuc.backend.softmax`), priced as one elementwise
command for its block; transpose and slice lower to strided copies, 1x1 max
pools (`npuc.backend.copies`), priced as one over the whole tensor; the int8
activations are one elementwise command with a lookup table each
(`npuc.backend.lookup_tables`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import Operation

from npuc.cost.compute import (
    AVG_POOL,
    CONV,
    DEPTHWISE,
    ELEMENTWISE,
    FULLY_CONNECTED,
    MAX_POOL,
)
from npuc.dialects.quantized import (
    AddOp,
    AvgPool2dOp,
    BatchMatMulOp,
    ConcatOp,
    Conv2dOp,
    DepthwiseConv2dOp,
    FullyConnectedOp,
    GeluOp,
    HardSigmoidOp,
    HardSwishOp,
    LeakyReluOp,
    LogisticOp,
    MaxPool2dOp,
    MulOp,
    PReluOp,
    ReshapeOp,
    RsqrtOp,
    SliceOp,
    SoftmaxOp,
    SplitOp,
    SquaredDifferenceOp,
    SubOp,
    TanhOp,
    TransposeOp,
)


@dataclass(frozen=True)
class NpuOperator:
    """How the NPU runs one quantized op class.

    `rule` is the target operator kind (`npuc.targets.OPERATOR_KINDS`);
    `command` the `CommandShape.kind` of the compute command it becomes,
    None for a memory view, which moves no data.
    """

    rule: str
    command: str | None


NPU_OPERATORS: dict[type[Operation], NpuOperator] = {
    Conv2dOp: NpuOperator("conv2d", CONV),
    DepthwiseConv2dOp: NpuOperator("depthwise_conv2d", DEPTHWISE),
    FullyConnectedOp: NpuOperator("fully_connected", FULLY_CONNECTED),
    AddOp: NpuOperator("add", ELEMENTWISE),
    SubOp: NpuOperator("sub", ELEMENTWISE),
    MulOp: NpuOperator("mul", ELEMENTWISE),
    MaxPool2dOp: NpuOperator("max_pool2d", MAX_POOL),
    AvgPool2dOp: NpuOperator("avg_pool2d", AVG_POOL),
    SoftmaxOp: NpuOperator("softmax", ELEMENTWISE),
    ReshapeOp: NpuOperator("reshape", None),
    ConcatOp: NpuOperator("concat", None),
    SplitOp: NpuOperator("split", None),
    TransposeOp: NpuOperator("transpose", MAX_POOL),
    SliceOp: NpuOperator("slice", MAX_POOL),
    LogisticOp: NpuOperator("logistic", ELEMENTWISE),
    TanhOp: NpuOperator("tanh", ELEMENTWISE),
    HardSwishOp: NpuOperator("hard_swish", ELEMENTWISE),
    HardSigmoidOp: NpuOperator("hard_sigmoid", ELEMENTWISE),
    GeluOp: NpuOperator("gelu", ELEMENTWISE),
    LeakyReluOp: NpuOperator("leaky_relu", ELEMENTWISE),
    PReluOp: NpuOperator("prelu", ELEMENTWISE),
    RsqrtOp: NpuOperator("rsqrt", ELEMENTWISE),
    SquaredDifferenceOp: NpuOperator("squared_difference", ELEMENTWISE),
    BatchMatMulOp: NpuOperator("batch_matmul", ELEMENTWISE),
}
"""Quantized op class -> how the NPU runs it; an op class not listed runs on the CPU."""

WEIGHTED_OPS = (Conv2dOp, DepthwiseConv2dOp, FullyConnectedOp)
"""Ops with a weights operand (index 1) and a bias operand (index 2)."""

INT32_COMMAND_OPS = (SquaredDifferenceOp, BatchMatMulOp)
"""Ops lowering to commands that read int32 intermediates (`npuc.backend.squared_difference`,
`npuc.backend.batch_matmul`): their block is searched for 32-bit IFMs."""

BINARY_OPS = (AddOp, SubOp, MulOp)
"""Ops reading two feature maps (ifm and ifm2) that run as one TFLite-semantics elementwise command."""


def npu_operator(op: Operation) -> NpuOperator | None:
    """How the NPU runs `op`, or None when no NPU operator exists for its class."""
    return NPU_OPERATORS.get(type(op))


STRIPED_OPS = (Conv2dOp, DepthwiseConv2dOp, MaxPool2dOp, AvgPool2dOp, *BINARY_OPS)
"""Ops lowering to one command whose OFM rows can be computed in height stripes (`npuc.backend.stripes`)."""
