"""ONNX importer: an ONNX model file becomes a `graph` dialect module.

The importer builds xDSL objects directly (never through IR text). It runs
ONNX shape inference first, after fixing a symbolic batch dimension to 1, and
types every result from the inferred shapes; the op verifiers then double-check
each node as it is converted.

Layout: ONNX feature maps are NCHW, the IR is NHWC. Every 4-D ONNX tensor is
held in the IR as its NHWC transpose ("NCHW-as-NHWC"); every other tensor keeps
its ONNX shape and row-major order. Constants are converted in numpy; where an
activation changes rank (Flatten, Reshape, broadcasting Add) the converters in
`onnx_layout` restore ONNX's element order with `graph.transpose`, or, for a
flatten feeding only fully connected layers, by permuting the layers' weights.

Per-op conversion lives in `onnx_ops` and `onnx_layout`; this module loads
the file, holds the conversion state (`OnnxGraph`) and assembles `@main`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from xdsl.dialects.builtin import (
    ArrayAttr,
    BytesAttr,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.utils.exceptions import VerifyException

from npuc.data import NCHW_TO_NHWC, NHWC_TO_NCHW
from npuc.dialects.graph import NAME_ATTR
from npuc.dialects.common import LAYER_ATTR
from npuc.dialects.graph import LAYOUT_ATTR, ConstantOp, ReshapeOp, TransposeOp
from npuc.errors import ModelFormatError, ModelVerificationError, UnsupportedOperatorError
from npuc.importers import onnx_layout, onnx_ops
from npuc.importers.onnx_layout import f32_tensor, keeps_row_major_order, nhwc_shape
from npuc.importers.onnx_ops import Unsupported, constant_node_value, plan_batch_norm_folds

CONVERTERS: dict[str, Callable[[OnnxGraph, OnnxNode], None]] = {
    "Constant": onnx_ops.convert_constant,
    "Identity": onnx_ops.convert_identity,
    "Dropout": onnx_ops.convert_identity,
    "Relu": onnx_ops.convert_relu,
    "Clip": onnx_ops.convert_clip,
    "Conv": onnx_ops.convert_conv,
    "MaxPool": onnx_ops.convert_max_pool,
    "AveragePool": onnx_ops.convert_average_pool,
    "GlobalAveragePool": onnx_ops.convert_global_average_pool,
    "Gemm": onnx_ops.convert_gemm,
    "MatMul": onnx_ops.convert_matmul,
    "BatchNormalization": onnx_ops.convert_batch_norm,
    "Add": onnx_layout.convert_add,
    "Flatten": onnx_layout.convert_flatten,
    "Reshape": onnx_layout.convert_reshape,
}
"""ONNX op type -> converter; any other op type is reported as unsupported."""


def import_onnx(path: str) -> ModuleOp:
    """Import the ONNX model file at `path` into a verified graph module."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: no such file") from None
    except OSError as error:
        raise ModelFormatError(f"{path}: cannot read ({error.strerror})") from None
    return import_onnx_bytes(data, path)


def import_onnx_bytes(data: bytes, source: str) -> ModuleOp:
    """Import a serialized ONNX model; `source` names it in error messages."""
    model = _load(data, source)
    _fix_batch_dimension(model.graph)
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as error:
        # Inference stops at operators it does not know; those are the real problem.
        unknown = [
            (node_name(node, index), op_type(node), "operator not supported")
            for index, node in enumerate(model.graph.node)
            if op_type(node) not in CONVERTERS
        ]
        if unknown:
            raise UnsupportedOperatorError(source, unknown) from None
        raise ModelVerificationError(
            f"{source}: shape inference failed: {_first_line(error)}"
        ) from None
    return OnnxGraph(model, source).build()


def _load(data: bytes, source: str) -> onnx.ModelProto:
    try:
        model = onnx.load_model_from_string(data)
    except Exception as error:  # protobuf raises DecodeError and friends
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFormatError(f"{source}: not a valid ONNX model ({detail})") from None
    graph = model.graph
    if not graph.node or not graph.output:
        raise ModelFormatError(f"{source}: not a valid ONNX model (the graph is empty)")
    defined = {value.name for value in graph.input} | {t.name for t in graph.initializer}
    for index, node in enumerate(graph.node):
        for name in node.input:
            if name and name not in defined:
                raise ModelFormatError(
                    f"{source}: not a valid ONNX model (node '{node_name(node, index)}' "
                    f"reads undefined tensor '{name}')"
                )
        defined.update(node.output)
    return model


def _fix_batch_dimension(graph: onnx.GraphProto) -> None:
    """Set a symbolic or unknown leading dimension of inputs and outputs to 1."""
    graph_inputs = [v for v in graph.input if v.name not in {t.name for t in graph.initializer}]
    for value in (*graph_inputs, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    del graph.value_info[:]


def node_name(node: onnx.NodeProto, index: int) -> str:
    """The node's name, or a stable `<op_type>_<index>` for an unnamed node."""
    return node.name or f"{node.op_type}_{index}"


def op_type(node: onnx.NodeProto) -> str:
    """The node's op type, prefixed with its domain unless that is the default one."""
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"


@dataclass
class OnnxNode:
    """One ONNX node with its attributes decoded; absent optional inputs are ''."""

    name: str
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, object]

    def input(self, index: int) -> str:
        """The tensor name of input `index`, or '' when the input is absent."""
        return self.inputs[index] if index < len(self.inputs) else ""

    def used_outputs(self) -> list[str]:
        """Names of the outputs the model actually uses (non-empty names)."""
        return [name for name in self.outputs if name]


class OnnxGraph:
    """Conversion state of one ONNX graph: tensor names to IR values and constants.

    Converters in `onnx_ops` read tensors through it (`shape`, `value`,
    `constant`) and add ops with `emit`, which tags them with the node's name.
    """

    def __init__(self, model: onnx.ModelProto, source: str):
        self.source = source
        self.graph = model.graph
        self.opset = next(
            (entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")),
            1,
        )
        self.constants: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in self.graph.initializer
        }
        self.shapes: dict[str, tuple[int | None, ...] | None] = {
            name: tuple(array.shape) for name, array in self.constants.items()
        }
        for value in (*self.graph.input, *self.graph.value_info, *self.graph.output):
            self.shapes.setdefault(value.name, _declared_shape(value))
        self.nodes = [_decode(node, index) for index, node in enumerate(self.graph.node)]
        for node in self.nodes:
            if node.op_type == "Constant" and (array := constant_node_value(node)) is not None:
                self.constants[node.outputs[0]] = array
        self.consumers: dict[str, list[tuple[OnnxNode, int]]] = {}
        for node in self.nodes:
            for position, name in enumerate(node.inputs):
                if name:
                    self.consumers.setdefault(name, []).append((node, position))
        self.graph_outputs = {value.name for value in self.graph.output}
        self.folds, self.fold_problems = plan_batch_norm_folds(self)
        self.values: dict[str, SSAValue] = {}
        self.k_orders: dict[str, np.ndarray] = {}
        """Flattened feature maps held in NHWC order: K-axis permutation for their FC consumers."""
        self.block = Block()
        self._node: OnnxNode | None = None
        self._node_ops: list[Operation] = []

    # -- reading tensors -------------------------------------------------

    def shape(self, name: str) -> tuple[int, ...]:
        """The static ONNX shape of a tensor, or an error naming it."""
        shape = self.shapes.get(name)
        if shape is None:
            raise ModelVerificationError(
                f"{self.source}: tensor '{name}' has no known shape (shape inference failed)"
            )
        if None in shape:
            shown = ", ".join("?" if extent is None else str(extent) for extent in shape)
            raise ModelVerificationError(
                f"{self.source}: tensor '{name}' has a dynamic shape ([{shown}]); "
                "only the batch dimension may be symbolic"
            )
        return shape  # type: ignore[return-value]

    def ir_type(self, name: str) -> TensorType:
        """The IR tensor type of an ONNX tensor (NHWC for 4-D)."""
        return f32_tensor(nhwc_shape(self.shape(name)))

    def constant(self, name: str) -> np.ndarray | None:
        """The ONNX-layout array of a constant tensor, or None for an activation."""
        return self.constants.get(name)

    def require_constant(self, node: OnnxNode, index: int, what: str) -> np.ndarray:
        """The constant input `index` of `node`, or Unsupported when it is computed."""
        array = self.constant(node.input(index))
        if array is None:
            raise Unsupported(f"{what} must be a constant")
        return array

    def value(self, name: str) -> SSAValue:
        """The IR value of a tensor; a constant becomes a `graph.constant` on first use."""
        if name not in self.values:
            array = self.constants[name]
            if len(array.shape) == 4:
                array = array.transpose(NCHW_TO_NHWC)
            self.values[name] = self.emit_constant(array)
        return self.values[name]

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
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        constant = ConstantOp(DenseIntOrFPElementsAttr(f32_tensor(array.shape), BytesAttr(data)))
        self.block.add_op(constant)
        self._node_ops.append(constant)
        return constant.output

    def bind(self, name: str, value: SSAValue) -> None:
        """Make `value` the IR value of ONNX tensor `name`."""
        self.values[name] = value

    def reshape(self, value: SSAValue, result_type: TensorType) -> SSAValue:
        """`graph.reshape` to `result_type`, or `value` itself when it already has it."""
        if value.type == result_type:
            return value
        return self.emit(ReshapeOp(value, result_type)).results[0]

    def row_major(self, name: str) -> SSAValue:
        """An IR value with tensor `name`'s elements in ONNX (NCHW) order; its shape may differ."""
        value, shape = self.value(name), self.shape(name)
        if len(shape) == 4 and not keeps_row_major_order(shape, NCHW_TO_NHWC):
            return self.emit(TransposeOp(value, f32_tensor(shape), NHWC_TO_NCHW)).results[0]
        return value

    def from_row_major(self, value: SSAValue, onnx_shape: Sequence[int]) -> SSAValue:
        """The IR value of a tensor of `onnx_shape` whose elements `value` holds in ONNX order."""
        ir_type = f32_tensor(nhwc_shape(onnx_shape))
        if len(onnx_shape) == 4 and not keeps_row_major_order(onnx_shape, NCHW_TO_NHWC):
            nchw = self.reshape(value, f32_tensor(onnx_shape))
            return self.emit(TransposeOp(nchw, ir_type, NCHW_TO_NHWC)).results[0]
        return self.reshape(value, ir_type)

    # -- the whole graph -------------------------------------------------

    def build(self) -> ModuleOp:
        """Convert every node and assemble the verified module with `@main`."""
        arguments = [v for v in self.graph.input if v.name not in self.constants]
        for value in arguments:
            self._check_float(value)
            self.values[value.name] = self.block.insert_arg(
                self.ir_type(value.name), len(self.block.args)
            )
        problems: list[tuple[str, str, str]] = []
        poisoned: set[str] = set()
        for node in self.nodes:
            reason = self._convert(node, poisoned)
            if reason is not None:
                problems.append((node.name, node.op_type, reason))
            if reason is not None or any(name in poisoned for name in node.inputs):
                poisoned.update(node.used_outputs())
        if problems:
            raise UnsupportedOperatorError(self.source, problems)
        results = [self.value(value.name) for value in self.graph.output]
        self.block.add_op(ReturnOp(*results))
        function = FuncOp(
            "main",
            ([arg.type for arg in self.block.args], [result.type for result in results]),
            Region(self.block),
            arg_attrs=ArrayAttr(
                [_interface_attrs(v.name, arg) for v, arg in zip(arguments, self.block.args)]
            ),
            res_attrs=ArrayAttr(
                [_interface_attrs(v.name, result) for v, result in zip(self.graph.output, results)]
            ),
        )
        module = ModuleOp([function])
        try:
            module.verify()
        except VerifyException as error:
            raise ModelVerificationError(f"{self.source}: {_first_line(error)}") from None
        return module

    def _convert(self, node: OnnxNode, poisoned: set[str]) -> str | None:
        """Convert one node; the reason it is unsupported, or None."""
        converter = CONVERTERS.get(node.op_type)
        if converter is None:
            return "operator not supported"
        if any(name in poisoned for name in node.inputs):
            return None  # its producer is reported; judge this node once that is fixed
        self._node, self._node_ops = node, []
        try:
            converter(self, node)
        except Unsupported as problem:
            return str(problem)
        for op in self._node_ops:
            try:
                op.verify()
            except VerifyException as error:
                raise ModelVerificationError(
                    f"{self.source}: node '{node.name}' ({node.op_type}): {_first_line(error)}"
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



def _interface_attrs(name: str, value: SSAValue) -> DictionaryAttr:
    """`graph.name`, and `graph.layout = "NCHW"` for a 4-D tensor, of an argument or result."""
    attrs: dict[str, Attribute] = {NAME_ATTR: StringAttr(name)}
    if isinstance(value.type, TensorType) and value.type.get_num_dims() == 4:
        attrs[LAYOUT_ATTR] = StringAttr("NCHW")
    return DictionaryAttr(attrs)


def _declared_shape(value: onnx.ValueInfoProto) -> tuple[int | None, ...] | None:
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return tuple(
        dim.dim_value if dim.HasField("dim_value") else None for dim in tensor_type.shape.dim
    )


def _decode(node: onnx.NodeProto, index: int) -> OnnxNode:
    return OnnxNode(
        name=node_name(node, index),
        op_type=op_type(node),
        inputs=list(node.input),
        outputs=list(node.output),
        attrs={attr.name: _attribute_value(attr) for attr in node.attribute},
    )


def _attribute_value(attr: onnx.AttributeProto) -> object:
    value = helper.get_attribute_value(attr)
    return value.decode() if isinstance(value, bytes) else value


def _first_line(error: Exception) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
