"""Decoded ONNX nodes and the helpers every converter of the ONNX importer uses.

A node's attributes are decoded once into Python values (`OnnxNode.attrs`).
Several operators moved parameters from attributes to inputs across opsets
(Clip, Pad, Slice, Split, Squeeze, Unsqueeze, Reduce*, Upsample); `ints_param`
and `float_param` read either form so converters do not branch on the opset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

import numpy as np
import onnx
from onnx import helper, numpy_helper

if TYPE_CHECKING:
    from npuc.importers.onnx.importer import OnnxGraph


class Unsupported(Exception):
    """A node form npuc cannot convert; the message is the reason users read."""


class Invalid(Exception):
    """A node contradicting its operator's definition (a zero `group`); the message says how."""


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

    def int_attr(self, key: str, default: int) -> int:
        """An integer attribute, or `default` when absent."""
        return int(self._number(key, default))

    def float_attr(self, key: str, default: float) -> float:
        """A float attribute, or `default` when absent."""
        return float(self._number(key, default))

    @overload
    def ints_attr(self, key: str) -> list[int] | None: ...

    @overload
    def ints_attr(self, key: str, default: Sequence[int]) -> list[int]: ...

    def ints_attr(self, key: str, default: Sequence[int] | None = None) -> list[int] | None:
        """An integer-list attribute, or `default` when absent."""
        if self.attrs.get(key) is None:
            return None if default is None else list(default)
        return [int(v) for v in self._list(key)]

    def floats_attr(self, key: str) -> list[float]:
        """A float-list attribute the node has."""
        return [float(v) for v in self._list(key)]

    def tensor_attr(self, key: str) -> np.ndarray | None:
        """The array of a tensor attribute, or None when absent."""
        value = self.attrs.get(key)
        if value is None:
            return None
        assert isinstance(value, onnx.TensorProto), f"{self.op_type} attribute '{key}' is {value!r}"
        return numpy_helper.to_array(value)

    def _number(self, key: str, default: float) -> float:
        """A scalar attribute (ONNX's schema check gave it its kind), or `default`."""
        value = self.attrs.get(key, default)
        assert isinstance(value, int | float), f"{self.op_type} attribute '{key}' is {value!r}"
        return value

    def _list(self, key: str) -> list[int | float]:
        """A list-of-numbers attribute (ONNX's schema check gave it its kind)."""
        value = self.attrs[key]
        assert isinstance(value, list) and all(isinstance(v, int | float) for v in value), (
            f"{self.op_type} attribute '{key}' is {value!r}"
        )
        return value


def node_name(node: onnx.NodeProto, index: int) -> str:
    """The node's name, or a stable `<op_type>_<index>` for an unnamed node."""
    return node.name or f"{node.op_type}_{index}"


def op_type(node: onnx.NodeProto) -> str:
    """The node's op type, prefixed with its domain unless that is the default one."""
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"


def decode(node: onnx.NodeProto, index: int) -> OnnxNode:
    """The `OnnxNode` of a node proto, with its attribute values decoded."""
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


def ints_param(
    graph: OnnxGraph, node: OnnxNode, index: int, key: str, what: str
) -> list[int] | None:
    """An integer list given as attribute `key` (older opsets) or constant input `index`.

    None when the node gives neither; `Unsupported` when the input is computed.
    """
    if key in node.attrs:
        return node.ints_attr(key)
    if not node.input(index):
        return None
    return [int(v) for v in graph.require_constant(node, index, what).reshape(-1)]


def float_param(
    graph: OnnxGraph, node: OnnxNode, index: int, key: str, default: float, what: str
) -> float:
    """A float given as attribute `key` (older opsets) or constant scalar input `index`."""
    if key in node.attrs:
        return node.float_attr(key, default)
    if not node.input(index):
        return default
    return float(graph.require_constant(node, index, what).reshape(-1)[0])


def normalized_axes(axes: Sequence[int], rank: int) -> list[int]:
    """ONNX axes (negative counts from the end) as indices in [0, rank)."""
    result = [axis + rank if axis < 0 else axis for axis in axes]
    if any(not 0 <= axis < rank for axis in result):
        raise Unsupported(f"axes {list(axes)} are outside a rank-{rank} tensor")
    return result
