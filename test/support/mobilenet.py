"""A MobileNetV2-shaped float ONNX model with random weights, built with onnx.helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MOBILENET_V2_BLOCKS = [
    # (expansion, output channels, repeats, first stride), as in MobileNetV2.
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
]


class _Builder:
    """Accumulates ONNX nodes and random initializers for a MobileNetV2-like network."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def conv(self, name: str, x: str, cin: int, cout: int, kernel: int, stride: int, group: int, relu6: bool) -> str:
        weights = self.rng.standard_normal((cout, cin // group, kernel, kernel)).astype(np.float32)
        weights *= np.sqrt(2.0 / (kernel * kernel * cin // group))
        self.initializers += [numpy_helper.from_array(weights, f"{name}.w"),
                              numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}.b")]
        pad = kernel // 2
        self.nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [name], name=name,
                                           kernel_shape=[kernel, kernel], strides=[stride, stride],
                                           pads=[pad] * 4, group=group))
        if not relu6:
            return name
        self.nodes.append(helper.make_node("Clip", [name, "zero", "six"], [f"{name}_relu6"], name=f"{name}_relu6"))
        return f"{name}_relu6"


def mobilenet_v2_like(path: Path, size: int = 224, width: float = 1.0, classes: int = 1000, seed: int = 0) -> None:
    """Write a MobileNetV2-shaped float ONNX model (NCHW input 1x3xSIZExSIZE, random weights)."""
    b = _Builder(seed)
    b.initializers += [numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
                       numpy_helper.from_array(np.array(6.0, np.float32), "six")]

    def channels(c: int) -> int:
        return max(8, int(c * width + 4) // 8 * 8)

    cin = channels(32)
    x = b.conv("Conv1", "input", 3, cin, 3, 2, 1, True)
    block = 0
    for expansion, c, repeats, first_stride in MOBILENET_V2_BLOCKS:
        cout = channels(c)
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            name = f"block_{block}"
            hidden = cin * expansion
            y = b.conv(f"{name}_expand", x, cin, hidden, 1, 1, 1, True) if expansion != 1 else x
            y = b.conv(f"{name}_depthwise", y, hidden, hidden, 3, stride, hidden, True)
            y = b.conv(f"{name}_project", y, hidden, cout, 1, 1, 1, False)
            if stride == 1 and cin == cout:
                b.nodes.append(helper.make_node("Add", [x, y], [f"{name}_add"], name=f"{name}_add"))
                y = f"{name}_add"
            x, cin, block = y, cout, block + 1
    x = b.conv("Conv_1", x, cin, 1280, 1, 1, 1, True)
    b.nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pool"], name="global_pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1),
    ]
    fc = (b.rng.standard_normal((classes, 1280)) * np.sqrt(1.0 / 1280)).astype(np.float32)
    b.initializers += [numpy_helper.from_array(fc, "fc.w"), numpy_helper.from_array(np.zeros(classes, np.float32), "fc.b")]
    b.nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="predictions", transB=1))
    graph = helper.make_graph(
        b.nodes, "mobilenet_v2_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])],
        b.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
