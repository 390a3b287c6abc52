"""npu-legalize: decide, op by op, whether the NPU or the CPU runs each layer."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from npuc.backend.batch_matmul import batch_matmul_problem
from npuc.backend.copies import COPY_OPS, copy_problem
from npuc.backend.lookup_tables import LOOKUP_TABLE_OPS, table_problem
from npuc.backend.operators import BINARY_OPS, npu_operator
from npuc.backend.planning import (
    CPU,
    HOST,
    NPU,
    computes_on_npu,
    is_host_conversion,
    layer_ops,
    main_or_fail,
    target_or_fail,
    tensor_hwc,
    window,
)
from npuc.backend.views import VIEW_OPS, view_problem
from npuc.backend.weight_encoding import fully_connected_bias_problem
from npuc.dialects.common import Window, value_shape
from npuc.dialects.npu import CPU_REASON_ATTR, PLACEMENT_ATTR
from npuc.dialects.quantized import (
    BatchMatMulOp,
    ConcatOp,
    SoftmaxOp,
    SplitOp,
    quant_type,
)
from npuc.targets import FeatureMapLimit, KernelRule, OperatorRule, Range, Target


@dataclass(frozen=True)
class LegalizePass(ModulePass):
    """Set `npu.placement` on every layer op of `@main`, and `npu.cpu_reason` for CPU ops.

    An op goes to the NPU ("npu") when the target has a rule for its operator
    kind and the op meets every constraint of that rule: ofm storage type,
    fused activation, dilated kernel height/width/area, stride, dilation, the
    kernel limit of padded operators, and the ifm/ofm extents. Otherwise it
    goes to the CPU ("cpu") with the first constraint it violates (a
    softmax also needs the form npu-lower expands: see `softmax_violation`; a
    transpose or slice a strided copy of at most the rule's `max_commands`
    operations: see `npuc.backend.copies.copy_problem`; a lookup-table
    activation one function of its input: a PReLU with one slope, see
    `npuc.backend.lookup_tables.table_problem`). The
    quantize/dequantize ops of a float interface are converted by the host
    ("host"); constants get no placement. Run quantized-canonicalize first so
    that an irrelevant stride (along an axis with one output element) does
    not send a layer to the CPU. A concat or split runs on the NPU only as a
    memory view (`npuc.backend.views`): a concat whose inputs are not all written by
    NPU commands, for one, goes to the CPU saying which input is not, and a
    split read by an op the CPU runs (`cpu_reader_problem`) too.

    Assumes quantized IR: a `func.func @main` of `quantized` ops.
    """

    name = "npu-legalize"

    target: str = "ethos-u55-128"
    """Built-in target name or path of a target TOML file."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = target_or_fail(self.target, self.name)
        legalize(main_or_fail(op, self.name), target)


def legalize(func: FuncOp, target: Target) -> None:
    """Annotate every layer op of `func` with its placement on `target`."""
    writers: set[Operation] = set()  # NPU ops placed so far that write memory: compute commands, concat views
    for op in layer_ops(func):
        op.attributes.pop(CPU_REASON_ATTR, None)
        if is_host_conversion(op):
            op.attributes[PLACEMENT_ATTR] = StringAttr(HOST)
            continue
        reason = cpu_reason(op, target)
        if reason is None and isinstance(op, VIEW_OPS):
            reason = view_problem(op, writers, target.alignment) or cpu_reader_problem(op, target)
        op.attributes[PLACEMENT_ATTR] = StringAttr(CPU if reason else NPU)
        if reason:
            op.attributes[CPU_REASON_ATTR] = StringAttr(reason)
        elif computes_on_npu(op) or isinstance(op, ConcatOp):
            writers.add(op)


def cpu_reason(op: Operation, target: Target) -> str | None:
    """Why `op` cannot run on the NPU of `target` (first rule violated), or None."""
    operator = npu_operator(op)
    rule = target.operator_rule(operator.rule) if operator else None
    if rule is None:
        return f"no NPU operator for {op.name} on {target.name}"
    problem = rule_violation(op, rule)
    if problem is None and isinstance(op, SoftmaxOp):
        problem = softmax_violation(op)
    if problem is None and isinstance(op, COPY_OPS):
        problem = copy_problem(op, rule)
    if problem is None and isinstance(op, LOOKUP_TABLE_OPS):
        problem = table_problem(op)
    if problem is None and isinstance(op, BatchMatMulOp):
        problem = batch_matmul_problem(op, rule)
    if problem is None and target.encodes_weights:
        problem = fully_connected_bias_problem(op)
    return problem


def cpu_reader_problem(op: Operation, target: Target) -> str | None:
    """Why a split cannot leave its outputs in place for a reader the CPU runs, or None.

    A CPU operation reads dense tensors (a TFLite tensor is dense), not a
    strided slice of the split's input; the readers' placement follows from
    their rules (`cpu_reason`).
    """
    if not isinstance(op, SplitOp):
        return None
    for index, value in enumerate(op.outputs):
        for use in value.uses:
            reader = use.operation
            if reader.name != "func.return" and not is_host_conversion(reader) and cpu_reason(reader, target):
                return f"output {index} feeds {reader.name}, which runs on the CPU and reads dense tensors"
    return None


def softmax_violation(op: SoftmaxOp) -> str | None:
    """Why the NPU's softmax commands cannot compute `op`, or None.

    They normalise the last axis into TFLite's int8 output form (scale
    1/256, zero point -128); a beta that is not positive never gets here
    (the softmax verifier refuses it, as LiteRT does).
    """
    rank = len(value_shape(op.input))
    if op.axis.value.data != rank - 1:
        return f"softmax axis {op.axis.value.data} is not the last axis ({rank - 1})"
    qtype = quant_type(op.output)
    if qtype is None or qtype.zero_point != -128 or abs(qtype.scale * 256 - 1) > 0.001:
        return "softmax output is not scale 1/256, zero point -128"
    return None


def rule_violation(op: Operation, rule: OperatorRule) -> str | None:
    """The first constraint of `rule` that `op` violates, with the values, or None."""
    data_type = storage_name(op.results[0])
    if data_type not in rule.data_types:
        return f"ofm data type {data_type} not in {', '.join(rule.data_types)}"
    activation_attr = op.properties.get("activation")
    activation = activation_attr.data if isinstance(activation_attr, StringAttr) else "none"
    if activation not in rule.activations:
        return f"activation {activation} not in {', '.join(rule.activations)}"
    op_window = window(op)
    if rule.kernel is not None and op_window is not None:
        problem = kernel_violation(rule.kernel, op_window)
        if problem:
            return problem
    ifms = op.operands[:2] if isinstance(op, BINARY_OPS) else op.operands[:1]
    for name, value in zip(("ifm", "ifm2"), ifms):
        problem = extent_violation(name, value, rule.max_ifm)
        if problem:
            return problem
    return extent_violation("ofm", op.results[0], rule.max_ofm)


def kernel_violation(rule: KernelRule, op_window: Window) -> str | None:
    """The first kernel constraint `op_window` violates; kernel sizes are dilated."""
    kernel, strides, dilations = op_window.dilated_kernel, op_window.strides, op_window.dilations
    checks = [
        ("kernel height", kernel[0], rule.height),
        ("kernel width", kernel[1], rule.width),
        ("kernel area", kernel[0] * kernel[1], Range(1, rule.area_max)),
        ("stride height", strides[0], rule.stride),
        ("stride width", strides[1], rule.stride),
        ("dilation height", dilations[0], rule.dilation),
        ("dilation width", dilations[1], rule.dilation),
    ]
    if any(op_window.padding) and rule.padded_size is not None:
        checks += [
            ("kernel height with padding", kernel[0], rule.padded_size),
            ("kernel width with padding", kernel[1], rule.padded_size),
        ]
    for what, value, allowed in checks:
        if value not in allowed:
            return f"{what} {value} outside {allowed.low}..{allowed.high}"
    return None


def extent_violation(name: str, value: SSAValue, limit: FeatureMapLimit) -> str | None:
    """The first of height, width, depth of feature map `value` beyond `limit`."""
    extents = zip(("height", "width", "depth"), tensor_hwc(value))
    limits = (limit.height, limit.width, limit.depth)
    for (axis, extent), maximum in zip(extents, limits):
        if extent > maximum:
            return f"{name} {axis} {extent} exceeds {maximum}"
    return None


def storage_name(value: SSAValue) -> str:
    """The target's name for a quantized tensor's stored integers: int8, int16, int32."""
    qtype = quant_type(value)
    assert qtype is not None  # every op with an NPU operator verifies its results are quantized
    return f"int{qtype.bits}"
