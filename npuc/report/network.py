"""The network as the reports draw it: original layers, their operator and the edges between them.

Lowered `npu` IR keeps each command's `layer` but no longer the model's
structure (reshapes vanish, operators become commands), so the drivers take
a `LayerGraph` from the function-level IR (graph or quantized) just before
the back end runs, and the report colours its nodes with the cost model's
per-layer cycles. Constants, weight staging and the host's float interface
conversions are not nodes: an edge runs from a layer to every layer reading
its result, and from each model input and to each model output.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import ReturnOp
from xdsl.ir import Operation, SSAValue

from npuc.backend.planning import is_host_conversion
from npuc.dialects.common import ConstantBase, layer_name
from npuc.dialects.npu import StageOp
from npuc.ir import arg_attributes, main_function, result_attributes, tensor_name

INPUT, OUTPUT, LAYER = "input", "output", "layer"
"""`LayerNode.kind` values."""

RESHAPE = "reshape"
"""The operator a layer's node does not keep when the layer has another op (TFLite's
FULLY_CONNECTED imports as a reshape of its input and the fully connected op)."""


@dataclass(frozen=True)
class LayerNode:
    """A node of the network: a model input, a model output or an original layer.

    `name` is unique among nodes: the layer name, or `input:TENSOR` /
    `output:TENSOR` for the interface. `operator` is the op kind of the
    layer's first op other than a reshape (`conv2d`, `add`, ...; the
    interface's kind otherwise), `shape` that op's first result's shape.
    """

    name: str
    kind: str
    operator: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class LayerGraph:
    """Nodes in program order and directed edges (producer name, consumer name)."""

    nodes: tuple[LayerNode, ...]
    edges: tuple[tuple[str, str], ...]

    def operator(self, name: str) -> str | None:
        """The operator of node `name`, or None if there is no such node."""
        for node in self.nodes:
            if node.name == name:
                return node.operator
        return None


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape()) if isinstance(value.type, TensorType) else ()


def _is_data_free(op: Operation) -> bool:
    """Ops whose results carry no activations: constants and weight staging."""
    return isinstance(op, (ConstantBase, StageOp))


def layer_graph(module: ModuleOp) -> LayerGraph:
    """The layer graph of a module's `@main` (graph or quantized IR, before lowering)."""
    func = main_function(module)
    nodes: dict[str, LayerNode] = {}
    edges: dict[tuple[str, str], None] = {}
    sources: dict[SSAValue, tuple[str, ...]] = {}
    for index, (arg, attributes) in enumerate(zip(func.body.block.args, arg_attributes(func))):
        name = f"{INPUT}:{tensor_name(attributes, f'input{index}')}"
        nodes[name] = LayerNode(name, INPUT, INPUT, _shape(arg))
        sources[arg] = (name,)
    outputs = [tensor_name(attributes, f"output{i}") for i, attributes in enumerate(result_attributes(func))]
    for op in func.body.ops:
        reads = tuple(dict.fromkeys(s for operand in op.operands for s in sources.get(operand, ())))
        if isinstance(op, ReturnOp):
            for index, operand in enumerate(op.operands):
                name = f"{OUTPUT}:{outputs[index]}"
                nodes[name] = LayerNode(name, OUTPUT, OUTPUT, _shape(operand))
                edges.update(((source, name), None) for source in sources.get(operand, ()))
            continue
        if _is_data_free(op):
            produced: tuple[str, ...] = ()
        elif is_host_conversion(op):
            produced = reads
        else:
            layer = layer_name(op)
            operator = op.name.split(".", 1)[-1]
            if layer not in nodes or nodes[layer].operator == RESHAPE != operator:
                nodes[layer] = LayerNode(layer, LAYER, operator, _shape(op.results[0]) if op.results else ())
            edges.update(((source, layer), None) for source in reads if source != layer)
            produced = (layer,)
        for result in op.results:
            sources[result] = produced
    return LayerGraph(tuple(nodes.values()), tuple(edges))
