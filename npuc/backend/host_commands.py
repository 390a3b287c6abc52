"""The commands of a lowered program that involve the host: its interface and its CPU operations.

`npu.input`/`npu.output` describe each argument and result of the model
where the NPU reads or writes it; an f32 one is converted by the host (a
host-placed quantize after the argument, dequantize before the result),
so it is described by the quantized value the host writes or reads. An
operation placed on the CPU becomes an `npu.cpu_op` holding a copy of it,
its constant operands copied into its body, its other operands and its
results described where they live.
"""

from __future__ import annotations

from xdsl.dialects.builtin import ArrayAttr
from xdsl.dialects.func import ReturnOp
from xdsl.ir import Attribute, Block, BlockArgument, Operation, Region, SSAValue
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.addresses import Addresses
from npuc.backend.planning import HOST, placement
from npuc.dialects import npu, quantized
from npuc.dialects.common import layer_name, layout_of
from npuc.ir import arg_attributes, tensor_name


def input_command(addresses: Addresses, arg: BlockArgument) -> npu.InputOp:
    """`npu.input` of one argument; an f32 one is quantized by the host."""
    pass_name = addresses.pass_name
    attributes = arg_attributes(addresses.func)[arg.index]
    tensor = tensor_name(attributes, f"input{arg.index}")
    layout = _layout(attributes)
    if quantized.quant_type(arg) is not None:
        return npu.InputOp(tensor, addresses.feature_map(arg), layout=layout)
    users = [use.operation for use in arg.uses]
    if users and all(isinstance(user, ReturnOp) for user in users):
        raise PassFailedException(
            f"{pass_name}: f32 input '{tensor}' is returned unchanged: the model has no layer to run"
        )
    if len(users) != 1 or not isinstance(users[0], quantized.QuantizeOp) or placement(users[0]) != HOST:
        raise PassFailedException(
            f"{pass_name}: f32 {addresses.describe_argument(arg.index)} ('{tensor}') must feed exactly one "
            f"host-placed quantized.quantize: run npu-legalize first"
        )
    return npu.InputOp(tensor, addresses.feature_map(users[0].output), "quantize", layout)


def output_commands(addresses: Addresses, op: ReturnOp) -> list[Operation]:
    """`npu.output` per result; a host dequantize describes its quantized input.

    A dequantize feeding the return is host-placed by now: lowering it failed
    otherwise (no placement, a CPU op whose f32 result is no feature map, or
    no NPU command).
    """
    func = addresses.func
    result_attrs = func.res_attrs.data if func.res_attrs is not None else ()
    outputs: list[Operation] = []
    for index, value in enumerate(op.arguments):
        attributes = dict(result_attrs[index].data) if result_attrs else {}
        tensor, layout = tensor_name(attributes, f"output{index}"), _layout(attributes)
        producer = value.owner
        if isinstance(producer, quantized.DequantizeOp):
            outputs.append(npu.OutputOp(tensor, addresses.feature_map(producer.input), "dequantize", layout))
        else:
            outputs.append(npu.OutputOp(tensor, addresses.feature_map(value), layout=layout))
    return outputs


def cpu_command(addresses: Addresses, op: Operation) -> npu.CpuOp:
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
            inputs.append(addresses.feature_map(operand))
            mapping[operand] = block.insert_arg(operand.type, len(block.args))
    body_op = _without_annotations(op.clone(value_mapper=mapping))
    block.add_ops([body_op, npu.YieldOp(*body_op.results)])
    properties: dict[str, Attribute] = {
        "inputs": ArrayAttr(inputs),
        "outputs": ArrayAttr([addresses.feature_map(result) for result in op.results]),
    }
    reason = op.attributes.get(npu.CPU_REASON_ATTR)
    if reason is not None:
        properties["reason"] = reason
    return npu.build_command(npu.CpuOp, properties, layer_name(op), [Region(block)])


def _without_annotations(op: Operation) -> Operation:
    """`op` with the scheduling annotations (`npu.*` attributes) removed."""
    for key in [key for key in op.attributes if key.startswith("npu.")]:
        del op.attributes[key]
    return op


def _layout(attributes: dict[str, Attribute]) -> str | None:
    """The interface layout to record on npu.input/npu.output: None when NHWC."""
    layout = layout_of(attributes)
    return None if layout == "NHWC" else layout
