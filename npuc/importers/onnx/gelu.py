"""GELU as exporters write it out: the node patterns that become one `Gelu` node at import.

PyTorch's exporters spell `nn.GELU` with elementary operators before opset 20:

- exact: `Div(x, sqrt 2)` (or `Mul(x, 1/sqrt 2)`) -> `Erf` -> `Add(., 1)`
  -> `Mul(x, .)` -> `Mul(., 0.5)`, the multiplications by x and 0.5 in any
  order and association (the TorchScript exporter at opset 17 and the
  dynamo exporter at opset 18 differ only there);
- tanh approximation: `x + 0.044715 * x^3` (the cube as `Pow(x, 3)` or as
  products of x), times sqrt(2/pi), `Tanh`, then the same tail.

Opset 20 has the `Gelu` operator itself. Each match is replaced by one
`Gelu` node (attribute `approximate` "none" or "tanh") named after the last
node of the pattern; the converter makes it `graph.gelu`. A node of the
pattern whose result is read elsewhere (or is a model output) keeps the
pattern as it is, so nothing any other node reads disappears; an `Erf`
left over has no converter and is reported as unsupported by name.
"""

from __future__ import annotations

import math

import numpy as np

from npuc.importers.onnx.node import OnnxNode

SQRT_2 = math.sqrt(2.0)
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
CUBE_COEFFICIENT = 0.044715
RELATIVE_TOLERANCE = 1e-5
"""How close a constant must be to the pattern's value: the exporters write them in float32."""


class _Patterns:
    """Producers and readers of the tensors of one graph, to follow a pattern through it."""

    def __init__(self, nodes: list[OnnxNode], constants: dict[str, np.ndarray], outputs: set[str]):
        self.constants = constants
        self.outputs = outputs
        self.producer = {name: node for node in nodes for name in node.used_outputs()}
        self.readers: dict[str, list[OnnxNode]] = {}
        for node in nodes:
            for name in node.inputs:
                self.readers.setdefault(name, []).append(node)

    def is_constant(self, name: str, value: float) -> bool:
        """Whether tensor `name` is a constant holding `value` everywhere."""
        array = self.constants.get(name)
        if array is None or array.size == 0 or not np.issubdtype(array.dtype, np.number):
            return False
        return bool(np.all(np.isclose(array.astype(np.float64), value, rtol=RELATIVE_TOLERANCE, atol=0.0)))

    def made_by(self, name: str, op_type: str) -> OnnxNode | None:
        """The node of type `op_type` writing tensor `name`, read by one node only and not a model output."""
        node = self.producer.get(name)
        if node is None or node.op_type != op_type or name in self.outputs or len(self.readers.get(name, [])) != 1:
            return None
        return node

    def sole_reader(self, name: str, op_type: str) -> OnnxNode | None:
        """The one node reading tensor `name`, if it has type `op_type` and `name` is no model output."""
        readers = self.readers.get(name, [])
        if len(readers) != 1 or readers[0].op_type != op_type or name in self.outputs:
            return None
        return readers[0]

    def scaled(self, node: OnnxNode | None, value: float) -> str | None:
        """The other operand of binary `node` when one operand is the constant `value`."""
        if node is None or len(node.inputs) != 2:
            return None
        first, second = node.inputs
        if self.is_constant(second, value):
            return first
        if self.is_constant(first, value):
            return second
        return None


def _erf_argument(patterns: _Patterns, erf: OnnxNode, inside: list[OnnxNode]) -> str | None:
    """x of `Erf(x / sqrt 2)`."""
    divide = patterns.made_by(erf.inputs[0], "Div")
    if divide is not None and patterns.is_constant(divide.inputs[1], SQRT_2):
        inside.append(divide)
        return divide.inputs[0]
    multiply = patterns.made_by(erf.inputs[0], "Mul")
    source = patterns.scaled(multiply, 1.0 / SQRT_2)
    if multiply is not None and source is not None:
        inside.append(multiply)
    return source


def _is_cube(patterns: _Patterns, name: str, x: str, inside: list[OnnxNode]) -> bool:
    """Whether tensor `name` is x^3: `Pow(x, 3)`, `x * (x * x)` or `(x * x) * x`."""
    power = patterns.made_by(name, "Pow")
    if power is not None:
        inside.append(power)
        return power.inputs[0] == x and patterns.is_constant(power.inputs[1], 3.0)
    product = patterns.made_by(name, "Mul")
    if product is None or x not in product.inputs:
        return False
    square_name = product.inputs[1] if product.inputs[0] == x else product.inputs[0]
    square = patterns.made_by(square_name, "Mul")
    inside += [product] + ([square] if square is not None else [])
    return square is not None and square.inputs == [x, x]


def _tanh_argument(patterns: _Patterns, tanh: OnnxNode, inside: list[OnnxNode]) -> str | None:
    """x of `Tanh(sqrt(2/pi) * (x + 0.044715 * x^3))`."""
    scale = patterns.made_by(tanh.inputs[0], "Mul")
    inner = patterns.made_by(patterns.scaled(scale, SQRT_2_OVER_PI) or "", "Add")
    if scale is None or inner is None:
        return None
    inside += [scale, inner]
    for x, term in (inner.inputs, inner.inputs[::-1]):
        cubed = patterns.made_by(term, "Mul")
        cube = patterns.scaled(cubed, CUBE_COEFFICIENT)
        if cubed is not None and cube is not None and _is_cube(patterns, cube, x, inside):
            inside.append(cubed)
            return x
    return None


def _tail(patterns: _Patterns, function: OnnxNode, x: str, inside: list[OnnxNode]) -> OnnxNode | None:
    """The last node of `0.5 * x * (1 + function)`, in any order of the two products."""
    one_plus = patterns.sole_reader(function.outputs[0], "Add")
    if one_plus is None or patterns.scaled(one_plus, 1.0) != function.outputs[0]:
        return None
    product = patterns.sole_reader(one_plus.outputs[0], "Mul")
    if product is None:
        return None
    inside += [function, one_plus]
    other = product.inputs[1] if product.inputs[0] == one_plus.outputs[0] else product.inputs[0]
    if other == x:  # (x * (1 + f)) * 0.5
        last = patterns.sole_reader(product.outputs[0], "Mul")
        inside.append(product)
        return last if patterns.scaled(last, 0.5) == product.outputs[0] else None
    half_x = patterns.made_by(other, "Mul")
    if half_x is not None and patterns.scaled(half_x, 0.5) == x:  # (x * 0.5) * (1 + f)
        inside.append(half_x)
        return product
    if patterns.is_constant(other, 0.5):  # ((1 + f) * 0.5) * x
        last = patterns.sole_reader(product.outputs[0], "Mul")
        inside.append(product)
        return last if last is not None and x in last.inputs else None
    return None


def fuse_gelu(nodes: list[OnnxNode], constants: dict[str, np.ndarray], outputs: set[str]) -> list[OnnxNode]:
    """`nodes` with every GELU pattern (module docstring) replaced by one `Gelu` node, in order.

    `constants` holds the constant tensors (initializers and folded
    results), `outputs` the model's output names.
    """
    patterns = _Patterns(nodes, constants, outputs)
    replaced: dict[str, OnnxNode] = {}
    removed: set[str] = set()
    for node in nodes:
        if node.op_type not in ("Erf", "Tanh") or node.name in removed:
            continue
        inside: list[OnnxNode] = []
        if node.op_type == "Erf":
            x = _erf_argument(patterns, node, inside)
        else:
            x = _tanh_argument(patterns, node, inside)
        last = _tail(patterns, node, x, inside) if x is not None else None
        if x is None or last is None or any(member.name in removed for member in inside):
            continue
        approximate = "tanh" if node.op_type == "Tanh" else "none"
        replaced[last.name] = OnnxNode(last.name, "Gelu", [x], [last.outputs[0]], {"approximate": approximate})
        removed.update(member.name for member in inside)
    return [replaced.get(node.name, node) for node in nodes if node.name not in removed]
