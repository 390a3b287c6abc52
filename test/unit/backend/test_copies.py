"""Transposes, slices and channel means on the NPU, bit for bit, in both simulators.

The per-operator TRANSPOSE, SLICE, STRIDED_SLICE and MEAN (channel axis)
models of test/tflite_models compile for ethos-u55-128 and ethos-u65-256
with no CPU operation, and npuc's npu-IR simulator and its Ethos-U
register-stream simulator (running the emitted streams) both reproduce
LiteRT's BUILTIN_REF kernels exactly. A channel shuffle, as a TFLite
RESHAPE/TRANSPOSE/RESHAPE and as torch exports it to ONNX (NCHW, built with
onnx.helper here), runs with no CPU operation either; the ONNX one is one
transpose after graph-canonicalize. So do ShuffleNet units as the dynamo
exporter writes them (a Split where the TorchScript exporter has Slices),
matching onnxruntime in float and npuc's quantized reference on the NPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from xdsl.dialects.builtin import i8
from xdsl.parser import Parser

import npuc
from npuc.backend.copies import CopyAxis, copy_plan
from npuc.context import npuc_context
from npuc.dialects import npu, quantized
from npuc.dialects.common import int_array
from npuc.dialects.npu_memory import FeatureMapAttr
from npuc.dialects.quantized_type import UniformQuantizedType
from npuc.emit.tflite.flatbuffer import Model, Operator, Options, Subgraph, serialize
from npuc.importers.onnx.importer import import_onnx_bytes

from support.ethos_u_run import (
    assert_both_simulators_give,
    assert_both_simulators_give_the_reference,
)
from support.litert import random_inputs
from support.onnx_models import make_model, max_error_against_onnxruntime
from support.paths import TFLITE_MODELS
from tflite_models.builder import TensorSpec, run_model, to_tensor

TARGETS = ["ethos-u55-128", "ethos-u65-256"]
NPU_MODELS = sorted(
    path.stem
    for pattern in ("transpose_*", "slice_*", "strided_slice_*", "mean_channels*", "mean_negative_axis*")
    for path in TFLITE_MODELS.glob(f"{pattern}.tflite")
    if path.stem != "strided_slice_negative_stride" and not path.stem.startswith("transpose_conv")
)


def cpu_layers(module) -> list[str]:
    return [op.attributes["layer"].data for op in module.ops if isinstance(op, npu.CpuOp)]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", NPU_MODELS)
def test_operator_model_runs_on_the_npu_bit_exactly(name: str, target: str) -> None:
    assert len(NPU_MODELS) >= 12
    data = (TFLITE_MODELS / f"{name}.tflite").read_bytes()
    module = npuc.compile_model(npuc.import_model(TFLITE_MODELS / f"{name}.tflite"), target).module
    assert cpu_layers(module) == []
    assert any(isinstance(op, npu.ComputeOp) for op in module.ops)
    inputs = random_inputs(module)
    assert_both_simulators_give(module, inputs, run_model(data, *inputs))


def test_a_reversing_strided_slice_stays_on_the_cpu_with_its_reason() -> None:
    module = npuc.compile_model(npuc.import_model(TFLITE_MODELS / "strided_slice_negative_stride.tflite")).module
    (cpu,) = [op for op in module.ops if isinstance(op, npu.CpuOp)]
    assert cpu.reason is not None and "negative stride" in cpu.reason.data


def shuffle_tflite(height: int, width: int, channels: int, groups: int) -> bytes:
    """An int8 channel shuffle as TFLite holds it: RESHAPE to groups, TRANSPOSE the last two axes, RESHAPE back."""
    scale, zero_point = [0.05], [3]
    grouped = (1, height, width, groups, channels // groups)
    swapped = (1, height, width, channels // groups, groups)
    specs = [
        TensorSpec((1, height, width, channels), np.int8, scale, zero_point),
        TensorSpec((5,), np.int32, data=np.array(grouped, np.int32)),
        TensorSpec(grouped, np.int8, scale, zero_point),
        TensorSpec((5,), np.int32, data=np.array([0, 1, 2, 4, 3], np.int32)),
        TensorSpec(swapped, np.int8, scale, zero_point),
        TensorSpec((4,), np.int32, data=np.array((1, height, width, channels), np.int32)),
        TensorSpec((1, height, width, channels), np.int8, scale, zero_point),
    ]
    operators = (
        Operator("RESHAPE", (0, 1), (2,), Options("ReshapeOptions", {})),
        Operator("TRANSPOSE", (2, 3), (4,), Options("TransposeOptions", {})),
        Operator("RESHAPE", (4, 5), (6,), Options("ReshapeOptions", {})),
    )
    subgraph = Subgraph(tuple(to_tensor(spec) for spec in specs), operators, (0,), (6,))
    return serialize(Model((subgraph,), "channel shuffle"))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("height", "width", "channels", "groups"), [(4, 5, 16, 2), (3, 3, 24, 3)])
def test_a_tflite_channel_shuffle_runs_on_the_npu_bit_exactly(tmp_path, target, height, width, channels, groups):
    data = shuffle_tflite(height, width, channels, groups)
    path = tmp_path / "shuffle.tflite"
    path.write_bytes(data)
    module = npuc.compile_model(npuc.import_model(path), target).module
    assert cpu_layers(module) == []
    copies = [op for op in module.ops if isinstance(op, npu.PoolOp)]
    assert len(copies) == 1 and copies[0].ofm.shape_values()[0] == groups, "one command, a batch per group"
    inputs = random_inputs(module)
    assert_both_simulators_give(module, inputs, run_model(data, *inputs))


def shuffle_onnx(channels: int, groups: int) -> bytes:
    """Conv, channel shuffle as torch exports it (NCHW: Reshape, Transpose, Reshape), conv."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Reshape", ["r", "grouped"], ["g"]),
        helper.make_node("Transpose", ["g"], ["t"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t", "merged"], ["s"]),
        helper.make_node("Conv", ["s", "w2"], ["y"], kernel_shape=[1, 1]),
    ]
    initializers = {
        "w1": rng.normal(size=(channels, 3, 1, 1)).astype(np.float32),
        "w2": rng.normal(size=(4, channels, 1, 1)).astype(np.float32),
        "grouped": np.array([1, groups, channels // groups, 6, 5], np.int64),
        "merged": np.array([1, channels, 6, 5], np.int64),
    }
    return make_model(nodes, {"x": [1, 3, 6, 5]}, {"y": [1, 4, 6, 5]}, initializers, opset=17)


@pytest.mark.parametrize("target", TARGETS)
def test_an_onnx_channel_shuffle_is_one_transpose_on_the_npu(target) -> None:
    model = shuffle_onnx(channels=12, groups=2)
    rng = np.random.default_rng(2)
    assert max_error_against_onnxruntime(model, {"x": rng.normal(size=(1, 3, 6, 5)).astype(np.float32)},
                                         "graph-canonicalize") <= 1e-5  # fmt: skip
    module = import_onnx_bytes(model, "shuffle.onnx")
    npuc.quantize(module, [rng.normal(size=(8, 6, 5, 3)).astype(np.float32)], report_samples=0)
    transposes = [op for op in module.walk() if isinstance(op, quantized.TransposeOp)]
    assert [op.output.type.get_shape() for op in transposes] == [(30, 6, 2)]
    quantized_module = module.clone()
    program = npuc.compile_model(module, target).module
    assert cpu_layers(program) == []
    assert_both_simulators_give_the_reference(program, quantized_module, rng.integers(-128, 128, size=(1, 6, 5, 3)))


INT8 = UniformQuantizedType(i8, [0.1], [0])


def dense(shape) -> FeatureMapAttr:
    return FeatureMapAttr.dense("sram", 0, shape, INT8)


def transpose_plan(shape, perm):
    source = quantized.TransposeOp.create(properties={"perm": int_array(perm)})
    out_shape = [shape[axis] for axis in perm]
    return copy_plan(source, dense(shape), dense(out_shape))


def test_copy_plans_merge_axes_and_keep_adjacent_channels_as_depth() -> None:
    shuffle = transpose_plan((20, 2, 8), (0, 2, 1))
    assert shuffle.command == (CopyAxis(2, 8, 1), CopyAxis(20, 16, 16), CopyAxis(8, 1, 2), CopyAxis(1, 1, 1))
    assert shuffle.repeats == () and shuffle.operations() == 2
    to_nchw = transpose_plan((1, 3, 4, 5), (0, 3, 1, 2))
    assert to_nchw.command == (CopyAxis(1, 1, 1), CopyAxis(5, 1, 12), CopyAxis(12, 5, 1), CopyAxis(1, 1, 1))
    swap_hw = transpose_plan((1, 3, 4, 5), (0, 2, 1, 3))
    assert swap_hw.command[1:] == (CopyAxis(4, 5, 15), CopyAxis(3, 20, 5), CopyAxis(5, 1, 1))
    scattered = transpose_plan((9, 10, 11, 12), (0, 3, 2, 1))
    assert [axis.extent for axis in scattered.repeats] == [9] and scattered.operations() == 90


Q = "!quantized.uniform<i8:f32, 0.1:-2>"
SHUFFLE_UNIT = f"""
func.func @main(%x: tensor<1x4x6x8x{Q}>) -> tensor<1x4x6x8x{Q}> {{
  %kept = quantized.slice %x {{layer = "kept", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 4, 6, 4>, strides = array<i64: 1, 1, 1, 1>}} : tensor<1x4x6x8x{Q}> -> tensor<1x4x6x4x{Q}>
  %branch = quantized.slice %x {{layer = "branch", begin = array<i64: 0, 0, 0, 4>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 1, 1, 1>}} : tensor<1x4x6x8x{Q}> -> tensor<1x4x6x4x{Q}>
  %w = quantized.constant dense<[[[[1, -2, 3, 4]]], [[[5, 6, -7, 8]]], [[[9, 10, 11, -12]]], [[[-13, 14, 15, 16]]]]> : tensor<4x1x1x4xi8> -> tensor<4x1x1x4x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<[7, -7, 70, 0]> : tensor<4xi32>
  %conv = quantized.conv2d %branch, %w, %b {{layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"}} : (tensor<1x4x6x4x{Q}>, tensor<4x1x1x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<4xi32>) -> tensor<1x4x6x4x{Q}>
  %cat = quantized.concat %kept, %conv {{layer = "cat", axis = 3 : i64}} : (tensor<1x4x6x4x{Q}>, tensor<1x4x6x4x{Q}>) -> tensor<1x4x6x8x{Q}>
  %grouped = quantized.reshape %cat : tensor<1x4x6x8x{Q}> -> tensor<24x2x4x{Q}>
  %shuffled = quantized.transpose %grouped {{layer = "shuffle", perm = array<i64: 0, 2, 1>}} : tensor<24x2x4x{Q}> -> tensor<24x4x2x{Q}>
  %y = quantized.reshape %shuffled : tensor<24x4x2x{Q}> -> tensor<1x4x6x8x{Q}>
  func.return %y : tensor<1x4x6x8x{Q}>
}}
"""
"""A ShuffleNet unit: channel halves (one kept, one through a conv), concat, channel shuffle."""


@pytest.mark.parametrize("target", TARGETS)
def test_a_shufflenet_unit_slices_in_place_copies_into_the_concat_and_shuffles(target) -> None:
    module = Parser(npuc_context(), SHUFFLE_UNIT).parse_module()
    reference = module.clone()
    program = npuc.compile_model(module, target).module
    assert cpu_layers(program) == []
    copies = [op.attributes["layer"].data for op in program.ops if isinstance(op, npu.PoolOp)]
    assert copies == ["kept", "shuffle"], "the branch half is read in place (a split view), the kept half copied"
    inputs = random_inputs(program)
    assert_both_simulators_give(program, inputs, npuc.run(reference, inputs))


def shufflenet_unit_onnx() -> bytes:
    """A ShuffleNet v2 unit as torch exports it (NCHW): chunk into halves (two Slices), a conv and ReLU on
    the second, Concat, channel shuffle (Reshape, Transpose, Reshape), then a conv."""
    rng = np.random.default_rng(3)
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], kernel_shape=[1, 1]),
        helper.make_node("Slice", ["a", "zero", "half", "axis"], ["kept"]),
        helper.make_node("Slice", ["a", "half", "all", "axis"], ["branch"]),
        helper.make_node("Conv", ["branch", "w1"], ["b"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b"], ["r"]),
        helper.make_node("Concat", ["kept", "r"], ["cat"], axis=1),
        helper.make_node("Reshape", ["cat", "grouped"], ["g"]),
        helper.make_node("Transpose", ["g"], ["t"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t", "merged"], ["s"]),
        helper.make_node("Conv", ["s", "w2"], ["y"], kernel_shape=[1, 1]),
    ]
    initializers = {
        "w0": rng.normal(size=(16, 3, 1, 1)).astype(np.float32),
        "w1": rng.normal(size=(8, 8, 3, 3)).astype(np.float32) / 3,
        "w2": rng.normal(size=(4, 16, 1, 1)).astype(np.float32),
        "zero": np.array([0], np.int64), "half": np.array([8], np.int64), "all": np.array([16], np.int64),
        "axis": np.array([1], np.int64),
        "grouped": np.array([1, 2, 8, 6, 5], np.int64), "merged": np.array([1, 16, 6, 5], np.int64),
    }  # fmt: skip
    return make_model(nodes, {"x": [1, 3, 6, 5]}, {"y": [1, 4, 6, 5]}, initializers, opset=17)


def test_an_onnx_shufflenet_unit_stays_in_nhwc_and_runs_on_the_npu() -> None:
    model = shufflenet_unit_onnx()
    rng = np.random.default_rng(4)
    assert max_error_against_onnxruntime(model, {"x": rng.normal(size=(1, 3, 6, 5)).astype(np.float32)},
                                         "graph-canonicalize") <= 1e-5  # fmt: skip
    module = import_onnx_bytes(model, "unit.onnx")
    npuc.quantize(module, [rng.normal(size=(8, 6, 5, 3)).astype(np.float32)], report_samples=0)
    transposes = [op.output.type.get_shape() for op in module.walk() if isinstance(op, quantized.TransposeOp)]
    assert transposes == [(30, 8, 2)], "only the shuffle, in NHWC"
    program = npuc.compile_model(module, "ethos-u55-128").module
    assert cpu_layers(program) == []


def dynamo_shufflenet_units_onnx() -> bytes:
    """Two ShuffleNet v2 units as torch's dynamo exporter writes them (opset 18): Reshapes with
    `allowzero`, the chunk into halves one Split with `num_outputs` whose first piece goes straight
    into the Concat; the second unit's Concat joins its Split's two pieces (swapped), then a conv."""
    rng = np.random.default_rng(5)
    shuffle = [
        ("Reshape", ["{}", "grouped"], ["{}_g"], {"allowzero": 1}),
        ("Transpose", ["{}_g"], ["{}_t"], {"perm": [0, 2, 1, 3, 4]}),
        ("Reshape", ["{}_t", "merged"], ["{}_s"], {"allowzero": 1}),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["a"], ["r0"]),
        *(helper.make_node(op, [n.format("r0") for n in ins], [n.format("r0") for n in outs], **attrs)
          for op, ins, outs, attrs in shuffle),
        helper.make_node("Split", ["r0_s"], ["kept", "branch"], axis=1, num_outputs=2),
        helper.make_node("Conv", ["branch", "w1"], ["b"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b"], ["r1"]),
        helper.make_node("Concat", ["kept", "r1"], ["cat"], axis=1),
        *(helper.make_node(op, [n.format("cat") for n in ins], [n.format("cat") for n in outs], **attrs)
          for op, ins, outs, attrs in shuffle),
        helper.make_node("Split", ["cat_s"], ["first", "second"], name="swap", axis=1, num_outputs=2),
        helper.make_node("Concat", ["second", "first"], ["swapped"], axis=1),
        helper.make_node("Conv", ["swapped", "w2"], ["y"], kernel_shape=[1, 1]),
    ]  # fmt: skip
    initializers = {
        "w0": rng.normal(size=(16, 3, 1, 1)).astype(np.float32),
        "w1": rng.normal(size=(8, 8, 3, 3)).astype(np.float32) / 3,
        "w2": rng.normal(size=(4, 16, 1, 1)).astype(np.float32),
        "grouped": np.array([1, 2, 8, 6, 5], np.int64), "merged": np.array([1, 16, 6, 5], np.int64),
    }  # fmt: skip
    return make_model(nodes, {"x": [1, 3, 6, 5]}, {"y": [1, 4, 6, 5]}, initializers, opset=18)


@pytest.mark.parametrize("target", TARGETS)
def test_a_dynamo_shufflenet_unit_runs_on_the_npu_bit_exactly(target) -> None:
    model = dynamo_shufflenet_units_onnx()
    rng = np.random.default_rng(6)
    assert max_error_against_onnxruntime(model, {"x": rng.normal(size=(1, 3, 6, 5)).astype(np.float32)},
                                         "graph-canonicalize") <= 1e-5  # fmt: skip
    module = import_onnx_bytes(model, "units.onnx")
    npuc.quantize(module, [rng.normal(size=(8, 6, 5, 3)).astype(np.float32)], report_samples=0)
    transposes = [op.output.type.get_shape() for op in module.walk() if isinstance(op, quantized.TransposeOp)]
    assert transposes == [(30, 8, 2), (30, 8, 2)], "only the shuffles, in NHWC"
    quantized_module = module.clone()
    program = npuc.compile_model(module, target).module
    assert cpu_layers(program) == []
    copies = [op.attributes["layer"].data for op in program.ops if isinstance(op, npu.PoolOp)]
    assert copies.count("swap") == 2, "both pieces of the swapping split are copied into the concat"
    assert_both_simulators_give_the_reference(program, quantized_module, rng.integers(-128, 128, size=(1, 6, 5, 3)))


def test_a_slice_read_by_a_cpu_operation_is_a_dense_copy_the_package_holds(tmp_path) -> None:
    module = Parser(npuc_context(), f"""
    func.func @main(%x: tensor<1x4x6x8x{Q}>) -> tensor<1x4x4x1x{Q}> {{
      %s = quantized.slice %x {{layer = "corner", begin = array<i64: 0, 0, 0, 4>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 1, 1, 1>}} : tensor<1x4x6x8x{Q}> -> tensor<1x4x6x4x{Q}>
      %c = quantized.slice %s {{layer = "crop", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 2, 2, 4>, strides = array<i64: 1, 1, 1, 1>}} : tensor<1x4x6x4x{Q}> -> tensor<1x2x2x4x{Q}>
      %d = quantized.depth_to_space %c {{layer = "d2s", block_size = 2 : i64, mode = "DCR"}} : tensor<1x2x2x4x{Q}> -> tensor<1x4x4x1x{Q}>
      func.return %d : tensor<1x4x4x1x{Q}>
    }}""").parse_module()
    reference = module.clone()
    result = npuc.compile_model(module, "ethos-u55-128")
    assert cpu_layers(result.module) == ["d2s"]
    assert any(path.suffix == ".tflite" for path in result.write(tmp_path))
    inputs = random_inputs(result.module)
    assert_both_simulators_give(result.module, inputs, npuc.run(reference, inputs))
