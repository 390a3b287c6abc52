"""ONNX importer: an ONNX model file becomes a `graph` dialect module.

The importer builds xDSL objects directly (never through IR text):

- `loader` reads the model in its forms (external weights, old opsets,
  symbolic batch) and runs ONNX shape inference;
- `fold` folds constant subgraphs (shape computations, weight fills);
- this module holds the conversion state (`OnnxGraph`) and assembles `@main`;
- converters: `ops` (convolution, pooling), `linear` (Gemm,
  MatMul, BatchNormalization), `elementwise`, `movement` (concat,
  split, slice, pad, resize, ...) and `layout` (transposes, reshapes).

Layout: every ONNX activation is held in the IR as a transpose of itself, in
a layout recorded per tensor (see `layout`); feature-map ops read NCHW
tensors as NHWC. A 4-D model input only transposed or reshaped by its users
(the NHWC inputs of tf2onnx exports) may stay in its own layout; other 4-D
inputs and results are NHWC in the IR with `graph.layout = "NCHW"`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import onnx
from onnx import numpy_helper
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.utils.exceptions import VerifyException

from npuc.dialects.common import LAYER_ATTR, LAYOUT_ATTR, NAME_ATTR
from npuc.dialects.graph import (
    ConstantOp,
    ReshapeOp,
    TransposeOp,
)
from npuc.errors import ModelVerificationError, UnsupportedOperatorError
from npuc.importers.common import (
    TensorTooLarge,
    check_element_count,
    first_line,
    main_module,
)
from npuc.importers.onnx import elementwise, layout, linear, loader, movement, ops
from npuc.importers.onnx.fold import FOLDERS, fold_constants
from npuc.importers.onnx.gelu import fuse_gelu
from npuc.importers.onnx.layout import (
    Perm,
    canonical_perm,
    f32_tensor,
    identity,
    keeps_row_major_order,
    permute,
    relayout_perm,
)
from npuc.importers.onnx.node import Invalid, OnnxNode, Unsupported, decode
from npuc.importers.onnx.qdq import is_qdq, strip_qdq

CONVERTERS: dict[str, Callable[[OnnxGraph, OnnxNode], None]] = {
    **ops.CONVERTERS,
    **linear.CONVERTERS,
    **elementwise.CONVERTERS,
    **movement.CONVERTERS,
    **layout.CONVERTERS,
    "Constant": lambda graph, node: _reject_constant(),
}
"""ONNX op type -> converter of a node with computed (non-constant) inputs."""

CONSTANT_ONLY = tuple(sorted(set(FOLDERS) - set(CONVERTERS)))
"""Operators npuc imports only when their inputs are constants (folded at import)."""


def _reject_constant() -> None:
    """A Constant that folding could not read (sparse or string values)."""
    raise Unsupported("only dense numeric tensor and number constants are supported")


def is_supported(op_type: str) -> bool:
    """Whether the importer converts or folds operators of `op_type`."""
    return op_type in CONVERTERS or op_type in FOLDERS


def import_onnx(path: str) -> ModuleOp:
    """Import the ONNX model file at `path` (and its external weights) into a verified module."""
    return _import(loader.load_file(path), path)


def import_onnx_bytes(data: bytes, source: str) -> ModuleOp:
    """Import a serialized ONNX model; `source` names it in error messages (on one line).

    Weights in external data files cannot be found from bytes: use `import_onnx`.
    """
    return _import(loader.load_bytes(data, source), source)


def _import(model: onnx.ModelProto, source: str) -> ModuleOp:
    loader.check_model(model, source)
    if not is_qdq(model):
        return OnnxGraph(loader.prepare(model, source, is_supported), source).build()
    # A QDQ model: strip its QDQ nodes, import the float rest, then lower it to quantized IR
    # with the recorded parameters (imported here: only QDQ models need the quantizer's arithmetic).
    from npuc.importers.onnx.qdq_lower import lower_to_quantized

    float_model, plan = strip_qdq(model, source)
    graph = OnnxGraph(loader.prepare(float_model, source, is_supported), source)
    return lower_to_quantized(graph.build(), graph, plan, source)


class OnnxGraph:
    """Conversion state of one ONNX graph: tensor names to IR values, layouts and constants.

    Converters read tensors through it (`shape`, `constant`, `value`,
    `stored`) and add ops with `emit`, which tags them with the node's name.
    """

    def __init__(self, model: onnx.ModelProto, source: str):
        self.source = source
        self.graph = model.graph
        self.opset = loader.default_opset(model)
        self.constants: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in self.graph.initializer
        }
        self.shapes: dict[str, tuple[int | None, ...] | None] = {
            name: tuple(array.shape) for name, array in self.constants.items()
        }
        for value in (*self.graph.input, *self.graph.value_info, *self.graph.output):
            self.shapes.setdefault(value.name, loader.declared_shape(value))
        self.nodes = [decode(node, index) for index, node in enumerate(self.graph.node)]
        self.folded: set[str] = set()
        while fold_constants(self) and self._unknown_shapes():
            shapes = loader.infer_remaining_shapes(model, self.folded, self.constants)
            self.shapes.update({name: shape for name, shape in shapes.items() if shape is not None})
        self.nodes = fuse_gelu(self.nodes, self.constants, {value.name for value in self.graph.output})
        self.consumers: dict[str, list[tuple[OnnxNode, int]]] = {}
        for node in self.nodes:
            for position, name in enumerate(node.inputs):
                if name and node.name not in self.folded:
                    self.consumers.setdefault(name, []).append((node, position))
        self.graph_outputs = {value.name for value in self.graph.output}
        self.values: dict[str, SSAValue] = {}
        self.layouts: dict[str, Perm] = {}
        self._relayouts: dict[tuple[str, Perm], SSAValue] = {}
        self.k_layouts: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        """Feature maps flattened in their IR order, for their FC consumers:
        (ONNX shape of the flattened axes, their order in the IR)."""
        self.block = Block()
        self._node: OnnxNode | None = None
        self._node_ops: list[Operation] = []

    def _unknown_shapes(self) -> bool:
        """Whether some output of a node left to convert has no static shape."""
        return any(
            self.static_shape(name) is None
            for node in self.nodes
            if node.name not in self.folded
            for name in node.used_outputs()
        )

    # -- reading tensors -------------------------------------------------

    def shape(self, name: str) -> tuple[int, ...]:
        """The static ONNX shape of a tensor, or an error naming it."""
        shape = self.shapes.get(name)
        if shape is None:
            raise ModelVerificationError(
                f"{self.source}: tensor '{name}' has no known shape (shape inference failed)"
            )
        if not loader.is_static(shape):
            shown = ", ".join("?" if extent is None else str(extent) for extent in shape)
            raise ModelVerificationError(
                f"{self.source}: tensor '{name}' has a dynamic shape ([{shown}]); "
                "only the batch dimension may be symbolic"
            )
        return shape

    def static_shape(self, name: str) -> tuple[int, ...] | None:
        """The shape of a tensor when every extent is known, else None."""
        shape = self.shapes.get(name)
        return shape if shape is not None and loader.is_static(shape) else None

    def tensor_type(self, name: str, perm: Perm | None = None) -> TensorType:
        """The IR type of an ONNX tensor in layout `perm` (default: canonical)."""
        shape = self.shape(name)
        return f32_tensor(permute(shape, perm if perm is not None else canonical_perm(len(shape))))

    def constant(self, name: str) -> np.ndarray | None:
        """The ONNX-layout array of a constant tensor, or None for an activation."""
        return self.constants.get(name)

    def require_constant(self, node: OnnxNode, index: int, what: str) -> np.ndarray:
        """The constant input `index` of `node`, or Unsupported when it is computed."""
        array = self.constant(node.input(index))
        if array is None:
            raise Unsupported(f"{what} must be a constant")
        return array

    def layout(self, name: str) -> Perm:
        """The layout the IR value of activation `name` is held in."""
        return self.layouts.get(name) or canonical_perm(len(self.shape(name)))

    def stored(self, name: str) -> tuple[SSAValue, Perm]:
        """The IR value of a tensor as held, with its layout (constants: canonical)."""
        if name in self.values:
            return self.values[name], self.layouts[name]
        perm = canonical_perm(len(self.shape(name)))
        return self.value(name, perm), perm

    def value(self, name: str, perm: Perm | None = None) -> SSAValue:
        """The IR value of a tensor in layout `perm` (default: canonical).

        A constant becomes a `graph.constant`; an activation held in another
        layout is converted once (`relayout`) and the result reused.
        """
        perm = perm if perm is not None else canonical_perm(len(self.shape(name)))
        key = (name, perm)
        if key not in self._relayouts:
            if name in self.values:
                value = self.values[name]
                self._relayouts[key] = self.relayout(value, self.shape(name), self.layouts[name], perm)
            else:
                self._relayouts[key] = self.emit_constant(self.constants[name].transpose(perm))
        return self._relayouts[key]

    def is_used(self, name: str) -> bool:
        """Whether tensor `name` is read by a node or is a model output."""
        return bool(name) and (name in self.consumers or name in self.graph_outputs)

    def feeds_only(self, name: str, accepts: Callable[[OnnxNode, int], bool]) -> bool:
        """Whether every use of tensor `name` is a node input that `accepts(node, position)`."""
        uses = self.consumers.get(name, [])
        return bool(uses) and name not in self.graph_outputs and all(
            accepts(node, position) for node, position in uses
        )

    # -- building IR -----------------------------------------------------

    def emit(self, op: Operation) -> Operation:
        """Append a layer op for the current node, tagged with its `layer` name."""
        assert self._node is not None
        op.attributes[LAYER_ATTR] = StringAttr(self._node.name)
        self.block.add_op(op)
        self._node_ops.append(op)
        return op

    def emit_constant(self, array: np.ndarray) -> SSAValue:
        """A `graph.constant` holding `array` (already in IR layout) as f32."""
        if array.dtype.kind not in "fiub":
            raise Unsupported(f"constant of type {array.dtype} is not supported")
        try:
            check_element_count(array.shape, "constant")
        except TensorTooLarge as error:
            where = f"node '{self._node.name}' ({self._node.op_type})" if self._node else "model"
            raise ModelVerificationError(f"{self.source}: {where}: {error}") from None
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        constant = ConstantOp(DenseIntOrFPElementsAttr(f32_tensor(array.shape), BytesAttr(data)))
        self.block.add_op(constant)
        self._node_ops.append(constant)
        return constant.output

    def bind(self, name: str, value: SSAValue, perm: Perm | None = None) -> None:
        """Make `value` the IR value of ONNX tensor `name`, held in layout `perm`."""
        self.values[name] = value
        self.layouts[name] = perm if perm is not None else canonical_perm(len(self.shape(name)))
        self._relayouts[(name, self.layouts[name])] = value

    def reshape(self, value: SSAValue, result_type: TensorType) -> SSAValue:
        """`graph.reshape` to `result_type`, or `value` itself when it already has it."""
        if value.type == result_type:
            return value
        return self.emit(ReshapeOp(value, result_type)).results[0]

    def relayout(
        self, value: SSAValue, onnx_shape: Sequence[int], stored: Perm, target: Perm
    ) -> SSAValue:
        """`value`, an ONNX tensor of `onnx_shape` in layout `stored`, in layout `target`.

        A reshape when the element order allows it, else a `graph.transpose`.
        """
        if stored == target:
            return value
        order = relayout_perm(stored, target)
        target_type = f32_tensor(permute(onnx_shape, target))
        if keeps_row_major_order(permute(onnx_shape, stored), order):
            return self.reshape(value, target_type)
        return self.emit(TransposeOp(value, target_type, order)).results[0]

    # -- the whole graph -------------------------------------------------

    def build(self) -> ModuleOp:
        """Convert every node and assemble the verified module with `@main`."""
        arguments = [v for v in self.graph.input if v.name not in self.constants]
        for value in arguments:
            self._check_float(value)
            perm = self._argument_layout(value.name)
            argument = self.block.insert_arg(self.tensor_type(value.name, perm), len(self.block.args))
            self.bind(value.name, argument, perm)
        problems: list[tuple[str, str, str]] = []
        poisoned: set[str] = set()
        for node in self.nodes:
            if node.name in self.folded:
                continue
            reason = self._convert(node, poisoned)
            if reason is not None:
                problems.append((node.name, node.op_type, reason))
            if reason is not None or any(name in poisoned for name in node.inputs):
                poisoned.update(node.used_outputs())
        if problems:
            raise UnsupportedOperatorError(self.source, problems)
        results = [self._result(value.name) for value in self.graph.output]
        return main_module(
            self.block,
            [value for value, _ in results],
            [_interface_attrs(v.name, self.layouts[v.name]) for v in arguments],
            [_interface_attrs(v.name, perm) for v, (_, perm) in zip(self.graph.output, results)],
            self.source,
        )

    def _argument_layout(self, name: str) -> Perm:
        """The layout of a model input: canonical, unless its users suggest otherwise.

        A 4-D input that is only transposed, all in one way, takes the layout
        (row-major or NHWC) that puts the transposed tensor in NHWC, else
        row-major (tf2onnx's NHWC inputs: Transpose(0, 3, 1, 2) then NCHW
        ops); one that is only reshaped stays row-major. A `perm` that is no
        permutation of the axes suggests nothing (its converter refuses it).
        """
        rank = len(self.shape(name))
        if rank != 4:
            return canonical_perm(rank)
        users = self.consumers.get(name, [])
        orders = {tuple(node.ints_attr("perm") or ()) for node, _ in users if node.op_type == "Transpose"}
        if len(orders) == 1 and all(node.op_type == "Transpose" for node, _ in users):
            (order,) = orders
            if sorted(order) == list(range(rank)):
                for perm in (permute(order, canonical_perm(rank)), order):
                    if perm in (identity(rank), canonical_perm(rank)):
                        return perm
        if users and all(node.op_type in layout.RESHAPES for node, _ in users):
            return identity(rank)
        return canonical_perm(rank)

    def _result(self, name: str) -> tuple[SSAValue, Perm]:
        """A model result's IR value: canonical, or row-major when held so.

        A layout conversion it needs is tagged with the producing node's name.
        """
        producer = next((node for node in self.nodes if name in node.outputs), None)
        self._node = producer or OnnxNode(name, "Input", [], [name], {})
        rank = len(self.shape(name))
        perm = self.layout(name) if name in self.values else canonical_perm(rank)
        if perm != identity(rank):
            perm = canonical_perm(rank)
        return self.value(name, perm), perm

    def _convert(self, node: OnnxNode, poisoned: set[str]) -> str | None:
        """Convert one node; the reason it is unsupported, or None."""
        converter = CONVERTERS.get(node.op_type)
        if converter is None:
            if node.op_type in CONSTANT_ONLY:
                return "supported only on constant inputs (folded at import)"
            return "operator not supported"
        if any(name in poisoned for name in node.inputs):
            return None  # its producer is reported; judge this node once that is fixed
        self._node, self._node_ops = node, []
        try:
            converter(self, node)
        except Unsupported as problem:
            return str(problem)
        except (Invalid, ValueError, IndexError) as error:  # contradicting attributes, or numpy refusing them
            raise ModelVerificationError(
                f"{self.source}: node '{node.name}' ({node.op_type}): {first_line(error)}"
            ) from None
        for op in self._node_ops:
            try:
                op.verify()
            except VerifyException as error:
                raise ModelVerificationError(
                    f"{self.source}: node '{node.name}' ({node.op_type}): {first_line(error)}"
                ) from None
        return None

    def _check_float(self, value: onnx.ValueInfoProto) -> None:
        element_type = value.type.tensor_type.elem_type
        if element_type != onnx.TensorProto.FLOAT:
            type_name = onnx.TensorProto.DataType.Name(element_type)
            raise ModelVerificationError(
                f"{self.source}: input '{value.name}' has element type {type_name}; "
                "npuc imports float32 models"
            )


def _interface_attrs(name: str, perm: Perm) -> DictionaryAttr:
    """`graph.name`, and `graph.layout = "NCHW"` for a 4-D tensor held as NHWC."""
    attrs: dict[str, Attribute] = {NAME_ATTR: StringAttr(name)}
    if len(perm) == 4 and perm == canonical_perm(4):
        attrs[LAYOUT_ATTR] = StringAttr("NCHW")
    return DictionaryAttr(attrs)


