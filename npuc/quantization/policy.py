"""npuc's default precision policy: the few layers quantized 16x8 (int16 activations, int8 weights) by default.

int8 activations lose most where one tensor's step must serve values of very
different sizes and the error reaches the output unaveraged. Two places do
that in the networks npuc meets, and both are cheap in 16 bits:

- the classifier head: the layers after a network's last spatial reduction
  (a global average or max pool, a mean over H and W) up to the outputs. A
  few thousand values (pooled features, logits) that the output reads
  directly: an int8 step of the logits' range is the error floor of the
  whole model (onnxruntime's quantizer leaves a ReduceMean in float for the
  same reason). The reduction itself reads its feature map through a
  requantize to int16, so it averages exact int8 values into a fine step.
  Only the head layers whose results reach the outputs in 16 bits are
  promoted: before a softmax (int8 output step 1/256) they would not pay.
- the layer norm: a mean over the last axis with the centring that
  subtracts it (`x - mean(x)`), the normalisation and the affine mul/add
  after it, and the op producing `x` if it is elementwise (a transformer's
  residual add; a conv producing it stays int8, its MACs would cost
  double). Rows of very different spread share one scale (a ViT's class
  token against its patches): in int8 the centred small rows are a step or
  two, and the rsqrt multiplies their error up. The variance branch (squared difference,
  rsqrt) stays int8: TFLite has no int16 SQUARED_DIFFERENCE.

Only ops with a 16x8 TFLite kernel that the NPU also runs in int16 are
promoted (`NPU_SIXTEEN_BIT`): a head or layer norm keeps its other ops
(a hard swish, a softmax) in int8, with a requantize (a 1x1 depthwise
conv on the NPU) at each boundary. The policy is a default, not a rule:
a layer the control file gives `bits` keeps them, `precision="uniform"`
turns the policy off (every layer at `activation_bits`), and with
`activation_bits=16` it has nothing to add. Already quantized models (TFLite
imports) are not requantized at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Operation, SSAValue

from npuc.dialects import graph
from npuc.dialects.common import array_values, layer_name, value_shape
from npuc.quantization.control import LayerControl
from npuc.quantization.options import QuantizationOptions
from npuc.quantization.rules import SPATIAL_AXES, is_global_average

NPU_SIXTEEN_BIT: tuple[type[Operation], ...] = (
    graph.Conv2dOp, graph.DepthwiseConv2dOp, graph.FullyConnectedOp, graph.AddOp, graph.SubOp,
    graph.MulOp, graph.ConcatOp, graph.MaxPool2dOp, graph.AvgPool2dOp, graph.ReduceOp,
    graph.ReshapeOp,
)  # fmt: skip
"""Ops with a TFLite 16x8 kernel that npuc also places on the NPU in int16: the ones the policy promotes."""

ELEMENTWISE_AFFINE: tuple[type[Operation], ...] = (graph.MulOp, graph.AddOp, graph.SubOp)
"""The ops of a layer norm's normalisation and affine after the centring."""


def apply_policy(func: FuncOp, options: QuantizationOptions, control: LayerControl) -> None:
    """Give the policy's layers `bits = 16` in `control.settings`, unless the control file set their bits,
    with `precision = "mixed"` and int8 activations."""
    if options.precision != "mixed" or options.activation_bits != 8:
        return
    for name in sixteen_bit_layers(func):
        control.settings.setdefault(name, {}).setdefault("bits", 16)


def sixteen_bit_layers(func: FuncOp) -> list[str]:
    """The layer names the policy quantizes 16x8 in `func` (graph IR), in program order."""
    chosen: set[Operation] = set()
    heads: set[Operation] = set()
    for op in func.body.block.ops:
        if _is_spatial_reduction(op):
            heads.update(_head_after(op) or ())
        elif _is_centring(op):
            chosen.update(op for op in _layer_norm_around(op) if isinstance(op, NPU_SIXTEEN_BIT))
    chosen.update(_reaching_the_outputs(func, heads))
    return [layer_name(op) for op in func.body.block.ops if op in chosen]


def _reaching_the_outputs(func: FuncOp, head: set[Operation]) -> set[Operation]:
    """The ops of `head` with a 16x8 NPU form whose results reach the outputs through such ops only.

    16 bits in a head pay where they reach the output: one that ends in an
    int8-only op (a softmax, whose int8 output step is fixed at 1/256) keeps
    int8 before it, and after an int8-only op inside it (a hard swish) only
    the layers after that op are promoted.
    """
    reaching: set[Operation] = set()
    for op in reversed(list(func.body.block.ops)):
        if op in head and isinstance(op, NPU_SIXTEEN_BIT) and all(
            isinstance(use.operation, ReturnOp) or use.operation in reaching
            for result in op.results
            for use in result.uses
        ):
            reaching.add(op)
    return reaching


def _is_spatial_reduction(op: Operation) -> bool:
    """A global average pool, a global max pool or a mean/max over H and W of an NHWC map."""
    if isinstance(op, graph.AvgPool2dOp):
        return is_global_average(op)
    if isinstance(op, graph.MaxPool2dOp):
        return list(array_values(op.kernel)) == list(value_shape(op.operands[0])[1:3])
    if isinstance(op, graph.ReduceOp):
        return len(value_shape(op.input)) == 4 and tuple(array_values(op.axes)) == SPATIAL_AXES
    return False


def _is_flat(value: SSAValue) -> bool:
    """Whether `value` has no spatial extent: rank 2 or less, or an NHWC map of 1 x 1."""
    shape = value_shape(value)
    return len(shape) <= 2 or all(extent == 1 for extent in shape[1:-1])


def _head_after(reduction: Operation) -> set[Operation] | None:
    """The reduction and every op after it, if all of them stay flat and none feeds back into a feature map
    (a squeeze-and-excitation block multiplies its pooled branch into the map: not a head)."""
    head: set[Operation] = {reduction}
    pending = list(reduction.results)
    while pending:
        value = pending.pop()
        for use in value.uses:
            user = use.operation
            if isinstance(user, ReturnOp) or user in head:
                continue
            if not all(_is_flat(result) for result in user.results):
                return None
            head.add(user)
            pending.extend(user.results)
    return head


def _is_centring(op: Operation) -> bool:
    """`x - mean(x)` with the mean over the last axis: a layer norm's (or any standardisation's) centring."""
    if not isinstance(op, graph.SubOp):
        return False
    x, mean = op.operands
    owner = mean.owner
    return (
        isinstance(owner, graph.ReduceOp)
        and owner.kind.data == "mean"
        and owner.input is x
        and tuple(array_values(owner.axes)) == (len(value_shape(x)) - 1,)
    )


def _layer_norm_around(centring: Operation) -> Iterable[Operation]:
    """The centring, its mean, the op producing the centred `x` if it is an elementwise add, sub or mul
    (a residual add), and the chain of elementwise mul/add/sub the centred value flows through alone
    (the normalisation by the rsqrt and the affine)."""
    x, mean = centring.operands
    ops: list[Operation] = [centring]
    if isinstance(mean.owner, Operation):
        ops.append(mean.owner)
    if isinstance(x.owner, ELEMENTWISE_AFFINE):  # a conv producing x would cost its MACs twice over in 16 bits
        ops.append(x.owner)
    current = centring
    while current.results[0].has_one_use():
        user = current.results[0].get_user_of_unique_use()
        if not isinstance(user, ELEMENTWISE_AFFINE):
            break
        ops.append(user)
        current = user
    return ops
