"""Build the bundled example model `tiny_cnn.onnx` and its sample data.

    python examples/make_tiny_cnn.py

A small NCHW image classifier for one 16x16 grey-scale image:

    Conv 1->8 3x3 pad 1, Relu, MaxPool 2x2            -> 1x8x8x8
    Conv 8->16 3x3 stride 2 pad 1, Relu                -> 1x16x4x4
    Flatten, Gemm 256->10                              -> 1x10 logits

Weights are He-initialised from a fixed seed, so running the script again
writes identical files. It also writes `tiny_cnn_calib.npy` (32 calibration
samples) and `tiny_cnn_test.npy` (16 other samples): smooth random images in
[0, 1], shaped [N, 1, 16, 16] float32 like the model's input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 2024
IMAGE_SIZE = 16
CALIBRATION_SAMPLES = 32
TEST_SAMPLES = 16


def he_normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """Weights drawn from N(0, 2 / fan_in), the usual initialisation before ReLU."""
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def build_model(rng: np.random.Generator) -> onnx.ModelProto:
    """The tiny_cnn ONNX model with random He-initialised weights."""
    initializers = [
        numpy_helper.from_array(he_normal(rng, (8, 1, 3, 3), 1 * 9), "conv1.weight"),
        numpy_helper.from_array((0.05 * rng.standard_normal(8)).astype(np.float32), "conv1.bias"),
        numpy_helper.from_array(he_normal(rng, (16, 8, 3, 3), 8 * 9), "conv2.weight"),
        numpy_helper.from_array((0.05 * rng.standard_normal(16)).astype(np.float32), "conv2.bias"),
        numpy_helper.from_array(he_normal(rng, (10, 256), 256), "fc.weight"),
        numpy_helper.from_array((0.05 * rng.standard_normal(10)).astype(np.float32), "fc.bias"),
    ]
    nodes = [
        helper.make_node(
            "Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1_out"], name="conv1",
            kernel_shape=[3, 3], pads=[1, 1, 1, 1],
        ),
        helper.make_node("Relu", ["conv1_out"], ["relu1_out"], name="relu1"),
        helper.make_node(
            "MaxPool", ["relu1_out"], ["pool1_out"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]
        ),
        helper.make_node(
            "Conv", ["pool1_out", "conv2.weight", "conv2.bias"], ["conv2_out"], name="conv2",
            kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2],
        ),
        helper.make_node("Relu", ["conv2_out"], ["relu2_out"], name="relu2"),
        helper.make_node("Flatten", ["relu2_out"], ["flat"], name="flatten", axis=1),
        helper.make_node(
            "Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        initializers,
    )
    model = helper.make_model(
        graph, producer_name="npuc-examples", opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def smooth_images(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` images [count, 1, 16, 16] in [0, 1]: sums of a few random low-frequency waves."""
    axis = np.arange(IMAGE_SIZE) / IMAGE_SIZE
    y, x = np.meshgrid(axis, axis, indexing="ij")
    images = np.zeros((count, 1, IMAGE_SIZE, IMAGE_SIZE))
    for image in images:
        for _ in range(4):
            fy, fx = rng.uniform(0.0, 2.5, size=2)
            phase, amplitude = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 1.0)
            image[0] += amplitude * np.sin(2 * np.pi * (fy * y + fx * x) + phase)
        image -= image.min()
        image /= max(image.max(), 1e-6)
    return images.astype(np.float32)


def main() -> None:
    """Write the model and both sample files next to this script."""
    directory = Path(__file__).resolve().parent
    rng = np.random.default_rng(SEED)
    onnx.save(build_model(rng), directory / "tiny_cnn.onnx")
    np.save(directory / "tiny_cnn_calib.npy", smooth_images(rng, CALIBRATION_SAMPLES))
    np.save(directory / "tiny_cnn_test.npy", smooth_images(rng, TEST_SAMPLES))


if __name__ == "__main__":
    main()
