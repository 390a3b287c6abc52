"""A grouped convolution (ONNX Conv with group > 1) is one layer from import to the NPU's commands.

Built with onnx.helper: 2 and 4 groups, with stride 2 and asymmetric
padding, a batch norm and a ReLU after. It imports as one `graph.conv2d`
with its `groups`, the batch norm folds into it and the ReLU fuses, and it
runs in float as onnxruntime does. Quantized, it computes the integers of
the same model written out as Split -> one Conv per group -> Concat (the
form the importer made before), and on the NPU it is one convolution
command per group, with no CPU operation, bit-exact with the integer
reference in both simulators.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import npuc
from npuc.dialects import graph, npu
from npuc.importers.onnx.importer import import_onnx_bytes
from npuc.ir import main_function
from npuc.passes import GRAPH_OPTIMISATION_PIPELINE

from support.ethos_u_run import assert_both_simulators_give_the_reference
from support.onnx_models import make_model, max_error_against_onnxruntime

CHANNELS, OUTPUTS, SIZE = 8, 12, 9
CASES = [(2, 1, [1, 1, 1, 1]), (4, 2, [0, 1, 1, 0])]
"""(groups, stride, ONNX pads [top, left, bottom, right])."""


def grouped_model(groups: int, stride: int, pads: list[int], split: bool = False) -> bytes:
    """x -> grouped 3x3 Conv -> BatchNormalization -> Relu; with `split`, the Conv written per group."""
    rng = np.random.default_rng(groups)
    weights = (0.3 * rng.standard_normal((OUTPUTS, CHANNELS // groups, 3, 3))).astype(np.float32)
    initializers = {
        "w": weights, "b": rng.standard_normal(OUTPUTS).astype(np.float32),
        "gamma": (np.abs(rng.standard_normal(OUTPUTS)) + 0.5).astype(np.float32),
        "beta": rng.standard_normal(OUTPUTS).astype(np.float32),
        "mean": (0.1 * rng.standard_normal(OUTPUTS)).astype(np.float32),
        "var": (np.abs(rng.standard_normal(OUTPUTS)) + 0.5).astype(np.float32),
    }  # fmt: skip
    window = {"strides": [stride, stride], "pads": pads}
    if split:
        per_group = OUTPUTS // groups
        parts = [f"x{g}" for g in range(groups)]
        nodes = [helper.make_node("Split", ["x", "pieces"], parts, axis=1)]
        initializers["pieces"] = np.array([CHANNELS // groups] * groups, np.int64)
        for g in range(groups):
            initializers[f"w{g}"] = weights[g * per_group : (g + 1) * per_group]
            initializers[f"b{g}"] = initializers["b"][g * per_group : (g + 1) * per_group]
            nodes.append(helper.make_node("Conv", [parts[g], f"w{g}", f"b{g}"], [f"c{g}"], **window))
        nodes.append(helper.make_node("Concat", [f"c{g}" for g in range(groups)], ["c"], axis=1))
        del initializers["w"], initializers["b"]
    else:
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="grouped", group=groups, **window)]
    nodes += [
        helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"]),
        helper.make_node("Relu", ["n"], ["y"]),
    ]
    return make_model(nodes, {"x": (1, CHANNELS, SIZE, SIZE)}, {"y": None}, initializers)


def calibration() -> list[np.ndarray]:
    return [np.random.default_rng(0).standard_normal((8, SIZE, SIZE, CHANNELS)).astype(np.float32)]


def quantized_module(model: bytes):
    module = import_onnx_bytes(model, "model.onnx")
    npuc.quantize(module, calibration(), report_samples=0)
    return module


@pytest.mark.parametrize("groups, stride, pads", CASES)
def test_a_grouped_conv_is_one_op_with_the_batch_norm_and_relu_folded_in(groups, stride, pads) -> None:
    model = grouped_model(groups, stride, pads)
    inputs = {"x": np.random.default_rng(1).standard_normal((1, CHANNELS, SIZE, SIZE)).astype(np.float32)}
    pipeline = ",".join(GRAPH_OPTIMISATION_PIPELINE)
    assert max_error_against_onnxruntime(model, inputs) <= 1e-5
    assert max_error_against_onnxruntime(model, inputs, pipeline) <= 1e-5
    module = import_onnx_bytes(model, "model.onnx")
    npuc.api.run_pipeline(module, pipeline)
    ops = [op for op in main_function(module).body.ops if not isinstance(op, graph.ConstantOp)]
    assert [op.name for op in ops[:-1]] == ["graph.conv2d"]
    assert (ops[0].group_count(), ops[0].activation.data) == (groups, "relu")


@pytest.mark.parametrize("groups, stride, pads", CASES)
def test_quantized_it_computes_what_the_per_group_form_computes(groups, stride, pads) -> None:
    grouped = quantized_module(grouped_model(groups, stride, pads))
    per_group = quantized_module(grouped_model(groups, stride, pads, split=True))
    assert [op.name for op in per_group.walk()].count("quantized.conv2d") == groups
    samples = np.random.default_rng(2).standard_normal((4, SIZE, SIZE, CHANNELS)).astype(np.float32)
    for sample in samples:
        (expected,) = npuc.run(per_group, [sample[None]])
        (got,) = npuc.run(grouped, [sample[None]])
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
@pytest.mark.parametrize("groups, stride, pads", CASES)
def test_on_the_npu_it_is_one_command_per_group_bit_exact_in_both_simulators(groups, stride, pads, target) -> None:
    module = quantized_module(grouped_model(groups, stride, pads))
    reference = module.clone()
    program = npuc.compile_model(module, target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    commands = [op for op in program.ops if isinstance(op, npu.Conv2dOp)]
    assert len(commands) == groups
    assert {(op.act_min.value.data, op.ofm.shape_values()[3]) for op in commands} == {
        (commands[0].ofm.element_type.zero_point, OUTPUTS // groups)
    }  # the relu as each command's lower bound, its group's channels
    codes = np.random.default_rng(3).integers(-128, 128, (1, SIZE, SIZE, CHANNELS))
    assert_both_simulators_give_the_reference(program, reference, codes)
