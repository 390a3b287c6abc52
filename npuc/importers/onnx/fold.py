"""Constant folding at import: nodes whose inputs are all constants become constants.

Exported models compute shapes and weights with small subgraphs (Shape ->
Gather -> Unsqueeze -> Concat -> Reshape from PyTorch, ConstantOfShape fills,
Unsqueeze of per-channel parameters, Transpose of a weight matrix). Before
conversion, `fold_constants` evaluates, in node order, every node whose inputs
are all constant (and every Shape/Size of a tensor with a static shape), so
those subgraphs never reach the IR and later converters see plain arrays.

Common operators are evaluated with numpy (`FOLDERS`); any other default-
domain operator with constant inputs is evaluated with ONNX's reference
evaluator. A result larger than `MAX_TENSOR_ELEMENTS` (by its inferred
shape, or by the shape argument of a fill, Expand or Tile) is refused before
it is computed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from onnx import helper

from npuc.errors import ModelVerificationError
from npuc.importers.common import TensorTooLarge, check_element_count
from npuc.importers.onnx.node import OnnxNode, normalized_axes

if TYPE_CHECKING:
    from npuc.importers.onnx.importer import OnnxGraph

Folder = Callable[[OnnxNode, list[np.ndarray]], list[np.ndarray]]

NEVER_FOLDED = ("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                "Multinomial", "Bernoulli", "If", "Loop", "Scan")
"""Operators whose result is not a function of their inputs, or that hold subgraphs."""

SHAPE_OPS = ("Shape", "Size")
"""Operators folded from their input's static shape alone."""


def fold_constants(graph: OnnxGraph) -> int:
    """Fold every foldable node into `graph.constants` and `graph.folded`; return how many."""
    count = 0
    for node in graph.nodes:
        if node.name in graph.folded:
            continue
        arrays = _constant_inputs(graph, node)
        if arrays is None:
            continue
        try:
            for name in node.used_outputs():
                check_element_count(graph.static_shape(name) or (), "result")
            results = evaluate(node, arrays, graph.opset)
        except TensorTooLarge as error:
            raise ModelVerificationError(f"{graph.source}: node '{node.name}' ({node.op_type}): {error}") from None
        except Exception:  # noqa: BLE001 - an unevaluable node is left to its converter
            continue
        for name, array in zip(node.outputs, results):
            if name:
                graph.constants[name] = np.asarray(array)
                graph.shapes[name] = tuple(np.shape(array))
        graph.folded.add(node.name)
        count += 1
    return count


def _constant_inputs(graph: OnnxGraph, node: OnnxNode) -> list[np.ndarray] | None:
    """The node's input arrays when it can be folded, else None.

    A Shape/Size input contributes its shape (as an empty array of it).
    """
    if node.op_type in NEVER_FOLDED or node.op_type.count("."):
        return None
    names = [name for name in node.inputs if name]
    if node.op_type in SHAPE_OPS:
        shape = graph.static_shape(names[0])
        if shape is None:
            return None
        return [np.empty(shape, np.float32)]
    if not names and node.op_type != "Constant":
        return None
    arrays = [graph.constants.get(name) for name in node.inputs]
    if any(array is None for name, array in zip(node.inputs, arrays) if name):
        return None
    # An absent optional input stays None, as `evaluate` says: the folders reading one test for it.
    return arrays  # type: ignore[return-value]


def evaluate(node: OnnxNode, arrays: list[np.ndarray], opset: int) -> list[np.ndarray]:
    """The outputs of `node` on constant inputs (absent optional inputs are None)."""
    folder = FOLDERS.get(node.op_type)
    if folder is not None:
        return folder(node, arrays)
    return _reference_evaluate(node, arrays, opset)


def _reference_evaluate(node: OnnxNode, arrays: list[np.ndarray], opset: int) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    inputs = [
        helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape
        )
        for name, array in zip(node.inputs, arrays)
        if name
    ]
    outputs = [helper.make_empty_tensor_value_info(name) for name in node.outputs if name]
    proto = helper.make_node(node.op_type, node.inputs, node.outputs)
    proto.attribute.extend(helper.make_attribute(key, value) for key, value in node.attrs.items())
    model = helper.make_model(
        helper.make_graph([proto], "fold", inputs, outputs),
        opset_imports=[helper.make_opsetid("", opset)],
    )
    feeds = {name: array for name, array in zip(node.inputs, arrays) if name}
    return list(ReferenceEvaluator(model).run(None, feeds))


# -- numpy folders -------------------------------------------------------------


def constant_node_value(node: OnnxNode) -> np.ndarray:
    """The array of a Constant node (dense tensor or number forms)."""
    attrs = node.attrs
    tensor = node.tensor_attr("value")
    if tensor is not None:
        return tensor
    for key, dtype in (
        ("value_float", np.float32),
        ("value_floats", np.float32),
        ("value_int", np.int64),
        ("value_ints", np.int64),
    ):
        if key in attrs:
            return np.array(attrs[key], dtype=dtype)
    raise ValueError("only dense tensor and number constants are read")


def _axes(node: OnnxNode, arrays: list[np.ndarray], index: int) -> list[int] | None:
    """Axes from the `axes` attribute or from input `index` (opset 13+)."""
    if "axes" in node.attrs:
        return node.ints_attr("axes")
    if len(arrays) > index and arrays[index] is not None:
        return [int(v) for v in arrays[index].reshape(-1)]
    return None


def _unsqueeze(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
    data, axes = arrays[0], _axes(node, arrays, 1) or []
    for axis in sorted(normalized_axes(axes, data.ndim + len(axes))):
        data = np.expand_dims(data, axis)
    return [data]


def _squeeze(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
    axes = _axes(node, arrays, 1)
    if axes is None:
        return [np.squeeze(arrays[0])]
    return [np.squeeze(arrays[0], axis=tuple(normalized_axes(axes, arrays[0].ndim)))]


def _slice(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
    data = arrays[0]
    if "starts" in node.attrs:
        starts, ends = node.ints_attr("starts", []), node.ints_attr("ends", [])
        axes, steps = node.ints_attr("axes"), None
    else:
        starts, ends = ([int(v) for v in a.reshape(-1)] for a in arrays[1:3])
        axes = _axes(node, arrays, 3) if len(arrays) > 3 else None
        has_steps = len(arrays) > 4 and arrays[4] is not None
        steps = [int(v) for v in arrays[4].reshape(-1)] if has_steps else None
    axes = list(range(len(starts))) if axes is None else normalized_axes(axes, data.ndim)
    index: list[slice] = [slice(None)] * data.ndim
    for position, axis in enumerate(axes):
        step = steps[position] if steps else 1
        index[axis] = slice(starts[position], ends[position], step)
    return [data[tuple(index)]]


def _reshape(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
    data, shape = arrays[0], [int(v) for v in arrays[1].reshape(-1)]
    if not node.int_attr("allowzero", 0):
        shape = [data.shape[i] if extent == 0 else extent for i, extent in enumerate(shape)]
    return [data.reshape(shape)]


def _shape(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
    shape = np.array(arrays[0].shape, np.int64)
    return [shape[node.int_attr("start", 0) : node.int_attr("end", len(shape))]]


def _constant_of_shape(node: OnnxNode, shape: np.ndarray) -> np.ndarray:
    """A read-only broadcast view: weight fills cost no memory until the IR holds them."""
    value = node.tensor_attr("value")
    fill = value.reshape(-1)[0] if value is not None else np.float32(0)
    return np.broadcast_to(fill, _checked_shape(shape))


def _checked_shape(shape: np.ndarray) -> list[int]:
    """A shape argument as a list, refused (`TensorTooLarge`) when a tensor of it would be too large."""
    extents = [int(v) for v in shape.reshape(-1)]
    check_element_count(extents, "result")
    return extents


def _tile(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
    repeats = [int(v) for v in arrays[1].reshape(-1)]
    check_element_count([*arrays[0].shape, *repeats], "result")
    return [np.tile(arrays[0], repeats)]


def _divide(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
    a, b = arrays
    if np.issubdtype(a.dtype, np.integer):
        return [np.trunc(a / b).astype(a.dtype)]
    return [a / b]


def _reduce(function: Callable[..., np.ndarray]) -> Folder:
    def fold(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
        axes = _axes(node, arrays, 1)
        axis = None if not axes else tuple(normalized_axes(axes, arrays[0].ndim))
        return [function(arrays[0], axis=axis, keepdims=bool(node.int_attr("keepdims", 1)))]

    return fold


def _elementwise(function: Callable[..., np.ndarray]) -> Folder:
    def fold(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
        result = function(*arrays)
        # numpy promotes float32 with python scalars; ONNX keeps the input type
        return [result.astype(arrays[0].dtype) if result.dtype.kind == "f" else result]

    return fold


def _variadic(function: Callable[..., np.ndarray]) -> Folder:
    def fold(node: OnnxNode, arrays: list[np.ndarray]) -> list[np.ndarray]:
        result = arrays[0]
        for array in arrays[1:]:
            result = function(result, array)
        return [result]

    return fold


FOLDERS: dict[str, Folder] = {
    "Constant": lambda node, arrays: [constant_node_value(node)],
    "Identity": lambda node, arrays: [arrays[0]],
    "Dropout": lambda node, arrays: [arrays[0]],
    "Shape": _shape,
    "Size": lambda node, arrays: [np.array(arrays[0].size, np.int64)],
    "Cast": lambda node, arrays: [
        arrays[0].astype(helper.tensor_dtype_to_np_dtype(node.int_attr("to", 1)))
    ],
    "Gather": lambda node, arrays: [np.take(arrays[0], arrays[1], axis=node.int_attr("axis", 0))],
    "Concat": lambda node, arrays: [np.concatenate(arrays, axis=node.int_attr("axis", 0))],
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Range": lambda node, arrays: [
        np.arange(arrays[0].item(), arrays[1].item(), arrays[2].item()).astype(arrays[0].dtype)
    ],
    "Expand": lambda node, arrays: [arrays[0] * np.ones(_checked_shape(arrays[1]), arrays[0].dtype)],
    "Tile": _tile,
    "Where": lambda node, arrays: [np.where(*arrays)],
    "ConstantOfShape": lambda node, arrays: [_constant_of_shape(node, arrays[0])],
    "Slice": _slice,
    "Reshape": _reshape,
    "Flatten": lambda node, arrays: [
        arrays[0].reshape(int(np.prod(arrays[0].shape[: node.int_attr("axis", 1)])), -1)
    ],
    "Transpose": lambda node, arrays: [arrays[0].transpose(node.ints_attr("perm"))],
    "Add": _elementwise(np.add),
    "Sub": _elementwise(np.subtract),
    "Mul": _elementwise(np.multiply),
    "Div": _divide,
    "Pow": _elementwise(np.power),
    "Neg": _elementwise(np.negative),
    "Abs": _elementwise(np.abs),
    "Sqrt": _elementwise(np.sqrt),
    "Reciprocal": _elementwise(np.reciprocal),
    "Floor": _elementwise(np.floor),
    "Ceil": _elementwise(np.ceil),
    "Equal": _elementwise(np.equal),
    "Less": _elementwise(np.less),
    "Greater": _elementwise(np.greater),
    "LessOrEqual": _elementwise(np.less_equal),
    "GreaterOrEqual": _elementwise(np.greater_equal),
    "Not": _elementwise(np.logical_not),
    "And": _elementwise(np.logical_and),
    "Or": _elementwise(np.logical_or),
    "Max": _variadic(np.maximum),
    "Min": _variadic(np.minimum),
    "Sum": _variadic(np.add),
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMin": _reduce(np.min),
    "ReduceMax": _reduce(np.max),
}
"""Op type -> numpy evaluation on constant inputs."""
