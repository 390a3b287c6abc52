"""Reading ONNX models in their different forms, ready for conversion.

- Files are read with `onnx.load`, which also reads weights kept in external
  data files next to the model (`location` relative to the model's
  directory). A model given as bytes (`load_bytes`, used by `npuc-opt`
  reading a stream) cannot see such files: it is rejected with a message
  saying to import the model from its path.
- Opsets 7 and later are read as they are (converters handle the
  attribute-versus-input forms); an opset 6 model is first upgraded to opset 7
  with `onnx.version_converter`, after giving legacy per-channel PRelu slopes
  their explicit broadcast shape. Older opsets are refused.
- A symbolic or unknown batch dimension is fixed to 1, then ONNX shape
  inference (with data propagation, so shapes computed by Shape/Gather/Concat
  chains are known) types every tensor, checking each node's input types
  against its schema as onnxruntime does.
- Before any of that, `check_model` refuses what onnxruntime refuses to
  load: unknown or ancient opsets, IR versions newer than ONNX's, unnamed
  interface tensors, corrupt initializers, nodes that do not match their schema.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeGuard

import numpy as np
import onnx
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from onnx import helper, numpy_helper, version_converter
from onnx.external_data_helper import uses_external_data

from npuc.errors import (
    ModelFormatError,
    ModelVerificationError,
    UnsupportedOperatorError,
)
from npuc.importers.common import first_line
from npuc.importers.onnx.node import node_name, op_type

OLDEST_DIRECT_OPSET = 7
"""Models with an older default-domain opset are upgraded to this one first."""

OLDEST_OPSET = 6
"""The oldest default-domain opset npuc reads: before it, operators carry the legacy `consumed_inputs`
attribute and onnxruntime has no kernels for most of them (Relu and Sigmoid start at 6)."""


def load_file(path: str) -> onnx.ModelProto:
    """The model at `path`, with weights from external data files loaded."""
    if not Path(path).is_file():
        raise ModelFormatError(f"{path}: no such file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as error:  # protobuf raises DecodeError and friends
        raise ModelFormatError(f"{path}: not a valid ONNX model ({first_line(error)})") from None
    directory = str(Path(path).resolve().parent)
    for tensor in _external_tensors(model):
        _check_external_location(tensor, directory, path)
    try:
        onnx.load_external_data_for_model(model, directory)
    except (OSError, ValueError, onnx.checker.ValidationError) as error:
        raise ModelFormatError(f"{path}: cannot read external data ({first_line(error)})") from None
    return model


def _check_external_location(tensor: onnx.TensorProto, directory: str, path: str) -> None:
    """Raise ModelFormatError unless the tensor's external data file is a file beside or below the model.

    onnx refuses an absolute or `..` location too; npuc says so first, naming the tensor.
    """
    location = next((entry.value for entry in tensor.external_data if entry.key == "location"), None)
    if not location:
        raise ModelFormatError(f"{path}: weights '{tensor.name}' are external data without a location")
    relative = Path(location)
    if relative.is_absolute() or ".." in relative.parts:
        raise ModelFormatError(
            f"{path}: weights '{tensor.name}' are in external data file '{location}', "
            "which is not a relative path inside the model's directory"
        )
    if not (Path(directory) / relative).is_file():
        raise ModelFormatError(
            f"{path}: weights '{tensor.name}' are in external data file '{location}', "
            "which is not next to the model"
        )


def load_bytes(data: bytes, source: str) -> onnx.ModelProto:
    """A model serialized in `data`; `source` names it in messages."""
    try:
        model = onnx.load_model_from_string(data)
    except Exception as error:  # protobuf raises DecodeError and friends
        raise ModelFormatError(f"{source}: not a valid ONNX model ({first_line(error)})") from None
    external = _external_tensors(model)
    if external:
        raise ModelFormatError(
            f"{source}: weights '{external[0].name}' are in an external data file; "
            "import the model from its file path so the file can be found"
        )
    return model


def _external_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    return [tensor for tensor in model.graph.initializer if uses_external_data(tensor)]


def check_model(model: onnx.ModelProto, source: str) -> None:
    """Refuse, before anything reads it, a model onnxruntime would refuse to load.

    Checked: the opset is one ONNX defines and not older than `OLDEST_OPSET`;
    the IR version is not newer than ONNX's; interface and initializer names
    are non-empty; every text field is UTF-8; every initializer holds data of its declared type and
    shape (`onnx.checker.check_tensor`, then numpy); every node of a known operator
    matches its schema at the model's opset: input and output counts,
    attribute kinds (`onnx.checker.check_node`). Nodes of unknown operators
    are left to the importer's unsupported-operator report.
    """
    binary = _binary_text_field(model)
    if binary is not None:
        raise ModelFormatError(f"{source}: not a valid ONNX model (a {binary!r} field is not UTF-8 text)")
    newest = onnx.defs.onnx_opset_version()
    if default_opset(model) > newest:
        raise ModelFormatError(
            f"{source}: opset {default_opset(model)} is newer than the newest ONNX opset, {newest}"
        )
    if default_opset(model) < OLDEST_OPSET:
        raise ModelFormatError(
            f"{source}: opset {default_opset(model)} is older than opset {OLDEST_OPSET}, the oldest npuc reads "
            "(its operators' legacy forms); convert the model to a newer opset"
        )
    if model.ir_version > onnx.IR_VERSION:
        raise ModelFormatError(
            f"{source}: IR version {model.ir_version} is newer than the newest ONNX IR version, {onnx.IR_VERSION}"
        )
    graph = model.graph
    for kind, values in (("input", graph.input), ("output", graph.output), ("initializer", graph.initializer)):
        if any(not value.name for value in values):
            raise ModelFormatError(f"{source}: not a valid ONNX model (a graph {kind} has an empty name)")
    context = onnx.checker.C.CheckerContext()
    context.ir_version = model.ir_version
    context.opset_imports = {entry.domain: entry.version for entry in model.opset_import}
    for tensor in graph.initializer:
        _check_initializer(tensor, context, source)
    for index, node in enumerate(graph.node):
        if _has_schema(node):
            try:
                onnx.checker.check_node(node, context)
            except onnx.checker.ValidationError as error:
                raise ModelVerificationError(
                    f"{source}: node '{node_name(node, index)}' ({op_type(node)}): {_checker_message(error)}"
                ) from None


def _binary_text_field(message: Message) -> str | None:
    """The name of a string field of `message` (or of a message inside) that is not UTF-8, or None.

    protobuf hands such a field over as bytes, which onnx's checker and
    every name lookup then trip over.
    """
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        if field.type == FieldDescriptor.TYPE_STRING and any(isinstance(item, bytes) for item in values):
            return field.name
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            found = next((name for item in values if (name := _binary_text_field(item)) is not None), None)
            if found is not None:
                return found
    return None


def _check_initializer(tensor: onnx.TensorProto, context: onnx.checker.C.CheckerContext, source: str) -> None:
    """Raise ModelFormatError unless the initializer's data matches its type and shape."""
    if tensor.data_type not in helper.get_all_tensor_dtypes() or tensor.data_type == onnx.TensorProto.UNDEFINED:
        raise ModelFormatError(
            f"{source}: initializer '{tensor.name}' has data type {_type_name(tensor.data_type)}"
        )
    try:
        onnx.checker.check_tensor(tensor, context)
    except onnx.checker.ValidationError as error:
        raise ModelFormatError(f"{source}: initializer '{tensor.name}': {_checker_message(error)}") from None
    try:  # the checker accepts more data than the shape holds; onnxruntime and numpy do not
        numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as error:
        raise ModelFormatError(f"{source}: initializer '{tensor.name}': {first_line(error)}") from None


def _type_name(data_type: int) -> str:
    """The ONNX name of a tensor data type code, or the code when it names none."""
    try:
        return onnx.TensorProto.DataType.Name(data_type)
    except ValueError:
        return f"{data_type} (unknown)"


def _has_schema(node: onnx.NodeProto) -> bool:
    """Whether ONNX defines the node's operator and the node holds no subgraph (checked with its scope)."""
    holds_graph = any(attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for attr in node.attribute)
    return not holds_graph and onnx.defs.has(node.op_type, node.domain)


CHECKER_CONTEXT = "==>"
"""onnx.checker appends `==> Context: ...` (the node again) to its messages."""


def _checker_message(error: Exception) -> str:
    """The checker's message without its trailing context."""
    return first_line(error).split(CHECKER_CONTEXT)[0].strip()


def default_opset(model: onnx.ModelProto) -> int:
    """The version of the default (ai.onnx) operator set the model imports."""
    return next(
        (entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 1
    )


def prepare(
    model: onnx.ModelProto, source: str, is_supported: Callable[[str], bool]
) -> onnx.ModelProto:
    """Check references, upgrade old opsets, fix the batch and infer every shape.

    `is_supported(op_type)` tells which operators the importer converts: when
    shape inference fails, unsupported operators are reported instead.
    """
    graph = model.graph
    if not graph.node or not graph.output:
        raise ModelFormatError(f"{source}: not a valid ONNX model (the graph is empty)")
    _check_references(graph, source)
    _fix_batch_dimension(graph)
    if default_opset(model) < OLDEST_DIRECT_OPSET:
        model = _upgrade(model, source, is_supported)
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as error:
        _raise_unsupported(model, source, is_supported)
        raise ModelVerificationError(
            f"{source}: shape inference failed: {first_line(error)}"
        ) from None


def _check_references(graph: onnx.GraphProto, source: str) -> None:
    """Every tensor a node or the graph's output reads is defined before it."""
    defined = {value.name for value in graph.input} | {t.name for t in graph.initializer}
    for index, node in enumerate(graph.node):
        for name in node.input:
            if name and name not in defined:
                raise ModelFormatError(
                    f"{source}: not a valid ONNX model (node '{node_name(node, index)}' "
                    f"reads undefined tensor '{name}')"
                )
        defined.update(node.output)
    for value in graph.output:
        if value.name not in defined:
            raise ModelFormatError(
                f"{source}: not a valid ONNX model (graph output '{value.name}' is not produced by any node)"
            )


def _fix_batch_dimension(graph: onnx.GraphProto) -> None:
    """Set a symbolic or unknown leading dimension of inputs and outputs to 1."""
    initializers = {t.name for t in graph.initializer}
    for value in (*[v for v in graph.input if v.name not in initializers], *graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    del graph.value_info[:]


SMALL_CONSTANT = 4096
"""Folded constants up to this many elements re-enter shape inference by value, larger
ones by shape only (shapes never depend on their values)."""


def infer_remaining_shapes(
    model: onnx.ModelProto, folded: set[str], constants: dict[str, np.ndarray]
) -> dict[str, tuple[int | None, ...] | None]:
    """Shapes inferred again with the constant-folded subgraphs replaced by their values.

    ONNX's data propagation cannot follow every shape computation (Range,
    Where, Expand, ...); once they are folded, the shapes they feed are known.
    """
    nodes = enumerate(model.graph.node)
    kept = [node for index, node in nodes if node_name(node, index) not in folded]
    needed = {name for node in kept for name in node.input if name in constants}
    small = [
        numpy_helper.from_array(constants[name], name)
        for name in needed
        if constants[name].size <= SMALL_CONSTANT
    ]
    large = [
        helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(constants[name].dtype), constants[name].shape
        )
        for name in needed
        if constants[name].size > SMALL_CONSTANT
    ]
    inputs = [value for value in model.graph.input if value.name not in constants]
    graph = helper.make_graph(kept, model.graph.name, inputs + large, list(model.graph.output), small)
    reduced = helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    try:
        inferred = onnx.shape_inference.infer_shapes(reduced, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError):
        return {}
    values = (*inferred.graph.value_info, *inferred.graph.output)
    return {value.name: declared_shape(value) for value in values}


def declared_shape(value: onnx.ValueInfoProto) -> tuple[int | None, ...] | None:
    """The static shape a value info declares (None for unknown extents), or None."""
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return tuple(
        dim.dim_value if dim.HasField("dim_value") else None for dim in tensor_type.shape.dim
    )


def is_static(shape: tuple[int | None, ...]) -> TypeGuard[tuple[int, ...]]:
    """Whether every extent of a declared shape is known."""
    return None not in shape


def _raise_unsupported(
    model: onnx.ModelProto, source: str, is_supported: Callable[[str], bool]
) -> None:
    unknown = [
        (node_name(node, index), op_type(node), "operator not supported")
        for index, node in enumerate(model.graph.node)
        if not is_supported(op_type(node))
    ]
    if unknown:
        raise UnsupportedOperatorError(source, unknown)


def _upgrade(
    model: onnx.ModelProto, source: str, is_supported: Callable[[str], bool]
) -> onnx.ModelProto:
    """The model converted to opset 7, whose broadcasting rules npuc implements."""
    _expand_legacy_prelu_slopes(model)
    try:
        return version_converter.convert_version(model, OLDEST_DIRECT_OPSET)
    except Exception as error:  # the converter raises RuntimeError and C++ errors
        _raise_unsupported(model, source, is_supported)
        raise ModelFormatError(
            f"{source}: cannot upgrade opset {default_opset(model)} to "
            f"{OLDEST_DIRECT_OPSET}: {first_line(error)}"
        ) from None


def _expand_legacy_prelu_slopes(model: onnx.ModelProto) -> None:
    """Before opset 7 a 1-D PRelu slope is per channel (axis 1): make that explicit.

    From opset 7 the slope broadcasts numpy-style from the right, so a slope
    of shape [C] on an [N, C, H, W] input becomes [C, 1, 1].
    """
    try:
        ranks = {
            value.name: len(value.type.tensor_type.shape.dim)
            for value in onnx.shape_inference.infer_shapes(model).graph.value_info
        }
    except onnx.shape_inference.InferenceError:
        ranks = {}
    ranks.update({v.name: len(v.type.tensor_type.shape.dim) for v in model.graph.input})
    slopes = {t.name: t for t in model.graph.initializer}
    declared = {value.name: value for value in model.graph.input}
    for node in model.graph.node:
        if node.op_type != "PRelu" or node.input[1] not in slopes:
            continue
        slope = numpy_helper.to_array(slopes[node.input[1]])
        rank = ranks.get(node.input[0], 0)
        if slope.ndim == 1 and slope.size > 1 and rank > 2:
            expanded = slope.reshape((slope.size,) + (1,) * (rank - 2))
            slopes[node.input[1]].CopyFrom(numpy_helper.from_array(expanded, node.input[1]))
            if node.input[1] in declared:  # old models also list initializers as inputs
                element_type = slopes[node.input[1]].data_type
                declared[node.input[1]].CopyFrom(
                    helper.make_tensor_value_info(node.input[1], element_type, expanded.shape)
                )
