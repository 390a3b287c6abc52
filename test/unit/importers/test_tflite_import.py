"""The TFLite importer: structure of the imported quantized IR and its errors.

Models are built in the test with npuc's TFLite writer
(`npuc.emit.tflite.flatbuffer`) from the tensor specs of
`test/tflite_models/builder.py`; `build_graph` composes several operators
(and extra subgraphs). Numerical agreement with TFLite is checked
per operator in `test_tflite_models.py`.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tflite
from xdsl.dialects.builtin import Float32Type, TensorType
from xdsl.parser import Parser

import npuc
from npuc.api import compile_model, import_model, run_pipeline
from npuc.context import npuc_context
from npuc.dialects import quantized
from npuc.dialects.common import Window
from npuc.dialects.npu import CPU_REASON_ATTR, PLACEMENT_ATTR
from npuc.dialects.quantized import quant_type
from npuc.emit.tflite import flatbuffer
from npuc.errors import ModelFormatError, UnsupportedOperatorError
from npuc.importers.tflite.importer import import_tflite_bytes
from npuc.importers.tflite.movement import resize_modes, resolve_strided_slice
from npuc.importers.tflite.ops import window_padding
from npuc.ir import arg_attributes, main_function, result_attributes

from tflite_models import builder
from tflite_models.builder import TensorSpec

I8 = {"dtype": np.int8, "scale": [0.05], "zero_point": [-3]}
"""An int8 activation quantized per tensor."""


@dataclass
class Operator:
    """One operator of a test graph: a builtin name, or `custom` with its custom code."""

    code: str
    inputs: list[int]
    outputs: list[int]
    options: str | None = None
    fields: dict = field(default_factory=dict)
    custom: str | None = None


def build_graph(
    tensors: list[TensorSpec],
    operators: list[Operator],
    inputs: list[int],
    outputs: list[int],
    extra_subgraphs: int = 0,
) -> bytes:
    """A TFLite model whose subgraph 0 runs `operators` in order.

    `extra_subgraphs` copies of a one-tensor empty subgraph follow the main one.
    """
    written = tuple(
        flatbuffer.Operator(op.custom or op.code, tuple(op.inputs), tuple(op.outputs),
                            flatbuffer.Options(op.options, op.fields) if op.options else None, custom=bool(op.custom))
        for op in operators
    )
    main = flatbuffer.Subgraph(tuple(builder.to_tensor(spec) for spec in tensors), written, tuple(inputs),
                               tuple(outputs))
    spare = flatbuffer.Subgraph((builder.to_tensor(TensorSpec([1], np.float32)),), (), (0,), (0,), "spare")
    return flatbuffer.serialize(flatbuffer.Model((main, *[spare] * extra_subgraphs)))


def _conv_tensors(depth: int = 4) -> list[TensorSpec]:
    rng = np.random.default_rng(0)
    return [
        TensorSpec([1, 7, 7, 3], **I8, name="image"),
        TensorSpec([depth, 3, 3, 3], np.int8, [0.01 * (i + 1) for i in range(depth)], [0] * depth,
                   0, rng.integers(-127, 128, (depth, 3, 3, 3), dtype=np.int8)),
        TensorSpec([depth], np.int32, [0.0005] * depth, [0] * depth, 0, np.arange(depth, dtype=np.int32)),
        TensorSpec([1, 4, 4, depth], np.int8, [0.1], [5], name="features"),
    ]  # fmt: skip


def _ops(module, kind):
    return [op for op in main_function(module).body.ops if isinstance(op, kind)]


def test_conv_imports_with_explicit_same_padding_and_per_axis_weights() -> None:
    model = builder.build_model(
        "CONV_2D", _conv_tensors(), [0, 1, 2], [3], "Conv2DOptions",
        Padding=tflite.Padding.SAME, StrideH=2, StrideW=2,
        FusedActivationFunction=tflite.ActivationFunctionType.RELU6,
    )  # fmt: skip
    module = import_tflite_bytes(model, "conv.tflite")
    (conv,) = _ops(module, quantized.Conv2dOp)
    assert conv.window() == Window((3, 3), (2, 2), (1, 1), (1, 1, 1, 1))
    assert conv.activation.data == "relu6"
    assert conv.attributes["layer"].data == "features"
    weights = quant_type(conv.weights)
    assert weights.axis.data == 0 and np.allclose(weights.scale_array(), [0.01, 0.02, 0.03, 0.04])
    assert conv.bias.type == TensorType(quantized.storage_of(32), [4])
    assert (quant_type(conv.ofm).scale, quant_type(conv.ofm).zero_point) == (np.float32(0.1), 5)
    func = main_function(module)
    assert [a["graph.name"].data for a in arg_attributes(func)] == ["image"]
    assert [a["graph.name"].data for a in result_attributes(func)] == ["features"]
    assert "graph.layout" not in arg_attributes(func)[0]


def test_constants_keep_their_bytes() -> None:
    tensors = _conv_tensors()
    model = builder.build_model(
        "CONV_2D", tensors, [0, 1, 2], [3], "Conv2DOptions", Padding=tflite.Padding.SAME, StrideH=2, StrideW=2
    )
    module = import_tflite_bytes(model, "m")
    (conv,) = _ops(module, quantized.Conv2dOp)
    stored = conv.weights.owner.value.data.data
    assert bytes(stored) == tensors[1].data.tobytes()


def test_tflite_same_padding_puts_the_odd_row_after() -> None:
    # kws_dscnn's first conv: 49x10 input, 10x4 kernel, stride 2.
    assert window_padding(tflite.Padding.SAME, (49, 10), (10, 4), (2, 2)) == [4, 1, 5, 1]
    assert window_padding(tflite.Padding.VALID, (49, 10), (10, 4), (2, 2)) == [0, 0, 0, 0]
    assert window_padding(tflite.Padding.SAME, (5, 5), (3, 3), (1, 1), (2, 2)) == [2, 2, 2, 2]


def test_depthwise_keeps_the_multiplier_and_axis_3_scales() -> None:
    tensors = [
        TensorSpec([1, 5, 5, 2], **I8),
        TensorSpec([1, 3, 3, 4], np.int8, [0.01, 0.02, 0.03, 0.04], [0] * 4, 3, np.ones((1, 3, 3, 4), np.int8)),
        TensorSpec([4], np.int32, data=np.zeros(4, np.int32)),
        TensorSpec([1, 3, 3, 4], **I8),
    ]  # fmt: skip
    model = builder.build_model(
        "DEPTHWISE_CONV_2D", tensors, [0, 1, 2], [3], "DepthwiseConv2DOptions",
        Padding=tflite.Padding.VALID, StrideH=1, StrideW=1, DepthMultiplier=2,
    )  # fmt: skip
    (op,) = _ops(import_tflite_bytes(model, "m"), quantized.DepthwiseConv2dOp)
    assert op.depth_multiplier() == 2 and quant_type(op.weights).axis.data == 3


def test_fully_connected_flattens_its_input_and_restores_kept_dims() -> None:
    tensors = [
        TensorSpec([1, 2, 3, 4], **I8),
        TensorSpec([5, 4], np.int8, [0.02], [0], 0, np.ones((5, 4), np.int8)),
        TensorSpec([1, 2, 3, 5], **I8, name="out"),
    ]
    model = builder.build_model(
        "FULLY_CONNECTED", tensors, [0, 1, -1], [2], "FullyConnectedOptions", KeepNumDims=True
    )
    module = import_tflite_bytes(model, "m")
    (fc,) = _ops(module, quantized.FullyConnectedOp)
    assert fc.ifm.type.get_shape() == (6, 4) and fc.ofm.type.get_shape() == (6, 5)
    assert np.all(fc.bias.owner.value.data.data == b"\0" * 20)  # absent bias: zeros
    reshapes = _ops(module, quantized.ReshapeOp)
    assert [r.output.type.get_shape() for r in reshapes] == [(6, 4), (1, 2, 3, 5)]
    assert {r.attributes["layer"].data for r in reshapes} == {"out"}


def test_float_interface_becomes_quantize_and_dequantize() -> None:
    tensors = [
        TensorSpec([1, 8], np.float32, name="x"),
        TensorSpec([1, 8], **I8),
        TensorSpec([1, 8], np.int8, [0.1], [0]),
        TensorSpec([1, 8], np.float32, name="y"),
    ]
    operators = [
        Operator("QUANTIZE", [0], [1]),
        Operator("ADD", [1, 1], [2], "AddOptions"),
        Operator("DEQUANTIZE", [2], [3]),
    ]
    module = import_tflite_bytes(build_graph(tensors, operators, [0], [3]), "m")
    func = main_function(module)
    assert isinstance(func.function_type.inputs.data[0].element_type, Float32Type)
    assert isinstance(func.function_type.outputs.data[0].element_type, Float32Type)
    assert [op.name for op in func.body.ops] == [
        "quantized.quantize", "quantized.add", "quantized.dequantize", "func.return"
    ]  # fmt: skip


def test_integer_quantize_becomes_requantize() -> None:
    tensors = [TensorSpec([1, 8], **I8), TensorSpec([1, 8], np.int16, [0.001], [0])]
    model = builder.build_model("QUANTIZE", tensors, [0], [1])
    (op,) = _ops(import_tflite_bytes(model, "m"), quantized.RequantizeOp)
    assert quant_type(op.output).bits == 16


def test_custom_and_float_operators_stay_external_and_go_to_the_cpu() -> None:
    tensors = [
        TensorSpec([1, 8], **I8, name="x"),
        TensorSpec([1, 8], np.float32),
        TensorSpec([1, 8], np.float32, name="floor"),
        TensorSpec([1, 8], **I8, name="custom"),
    ]
    operators = [
        Operator("DEQUANTIZE", [0], [1]),
        Operator("FLOOR", [1], [2]),
        Operator("CUSTOM", [0], [3], custom="MyCustomOp"),
    ]
    module = import_tflite_bytes(build_graph(tensors, operators, [0], [2, 3]), "m")
    externals = _ops(module, quantized.ExternalOp)
    assert [(op.op_type.data, op.attributes["layer"].data) for op in externals] == [
        ("FLOOR", "floor"), ("MyCustomOp", "custom")
    ]  # fmt: skip
    module_text = str(module)
    assert 'quantized.external %0 {layer = "custom", op_type = "MyCustomOp"}' in module_text
    reparsed = Parser(npuc_context(), module_text).parse_module()
    reparsed.verify()
    assert str(reparsed) == module_text


def test_external_ops_are_placed_on_the_cpu() -> None:
    tensors = [TensorSpec([1, 8], **I8, name="x"), TensorSpec([1, 8], **I8, name="y")]
    model = build_graph(tensors, [Operator("CUSTOM", [0], [1], custom="Mystery")], [0], [1])
    module = run_pipeline(import_tflite_bytes(model, "m"), "npu-legalize")
    (op,) = _ops(module, quantized.ExternalOp)
    assert op.attributes[PLACEMENT_ATTR].data == "cpu"
    assert "quantized.external" in op.attributes[CPU_REASON_ATTR].data


def test_unsupported_forms_are_listed_together() -> None:
    tensors = [
        TensorSpec([1, 8], **I8, name="x"),
        TensorSpec([1, 8], **I8, name="sum_tanh"),
        TensorSpec([1, 8], **I8, name="y"),
        TensorSpec([1, 8], **I8, name="product_sign"),
    ]
    operators = [
        Operator("ADD", [0, 0], [1], "AddOptions",
                 {"FusedActivationFunction": tflite.ActivationFunctionType.TANH}),
        Operator("SUB", [0, 0], [2], "SubOptions"),
        Operator("MUL", [0, 2], [3], "MulOptions",
                 {"FusedActivationFunction": tflite.ActivationFunctionType.SIGN_BIT}),
    ]  # fmt: skip
    with pytest.raises(UnsupportedOperatorError) as raised:
        import_tflite_bytes(build_graph(tensors, operators, [0], [1, 3]), "two.tflite")
    assert [(name, kind) for name, kind, _ in raised.value.problems] == [
        ("sum_tanh", "ADD"), ("product_sign", "MUL")
    ]  # fmt: skip
    assert "fused activation TANH" in str(raised.value)


def test_main_subgraph_of_a_multi_subgraph_file() -> None:
    tensors = [TensorSpec([1, 8], **I8, name="x"), TensorSpec([1, 8], **I8, name="y")]
    model = build_graph(tensors, [Operator("RELU", [0], [1])], [0], [1], extra_subgraphs=2)
    (op,) = _ops(import_tflite_bytes(model, "m"), quantized.ReluOp)
    assert op.kind.data == "relu"


def test_pack_and_unpack_become_reshapes_around_concat_and_split() -> None:
    tensors = [
        TensorSpec([2, 3], **I8, name="a"),
        TensorSpec([2, 3], **I8, name="b"),
        TensorSpec([2, 2, 3], **I8, name="packed"),
        TensorSpec([2, 3], **I8, name="first"),
        TensorSpec([2, 3], **I8, name="second"),
    ]
    operators = [
        Operator("PACK", [0, 1], [2], "PackOptions", {"ValuesCount": 2, "Axis": 1}),
        Operator("UNPACK", [2], [3, 4], "UnpackOptions", {"Num": 2, "Axis": 1}),
    ]
    module = import_tflite_bytes(build_graph(tensors, operators, [0, 1], [3, 4]), "m")
    names = [op.name for op in main_function(module).body.ops]
    assert names == ["quantized.reshape"] * 2 + ["quantized.concat", "quantized.split"] + [
        "quantized.reshape"
    ] * 2 + ["func.return"]


@pytest.mark.parametrize(
    "masks, begin, end, strides, expected",
    [
        # x[1:3, ::-1]
        ((2, 2, 0, 0, 0), [1, 0], [3, 0], [1, -1], ([1, 4, 0], [3, -1, 6], [1, -1, 1])),
        # x[-1] (shrink), x[..., 1:]
        ((0, 0, 0, 0, 1), [-1], [0], [1], ([3, 0, 0], [4, 5, 6], [1, 1, 1])),
        ((0, 0, 1, 0, 0), [0, 1], [0, 6], [1, 1], ([0, 0, 1], [4, 5, 6], [1, 1, 1])),
        # x[:, None, -10:-1:2] (new axis, clamped begin)
        ((1, 1, 0, 2, 0), [0, 0, -10], [0, 0, -1], [1, 1, 2], ([0, 0, 0], [4, 4, 6], [1, 2, 1])),
    ],
)
def test_strided_slice_masks_resolve_to_explicit_bounds(masks, begin, end, strides, expected) -> None:
    assert resolve_strided_slice((4, 5, 6), begin, end, strides, *masks) == tuple(map(list, expected))


def test_resize_flags_map_to_coordinate_modes() -> None:
    assert resize_modes("nearest", False, False) == ("asymmetric", "floor")
    assert resize_modes("nearest", True, False) == ("align_corners", "round_prefer_ceil")
    assert resize_modes("linear", False, True)[0] == "half_pixel"


def test_transpose_conv_crops_same_padding_from_the_full_output() -> None:
    tensors = [
        TensorSpec([4], np.int32, data=np.array([1, 8, 8, 2], np.int32)),
        TensorSpec([2, 3, 3, 3], np.int8, [0.01], [0], 0, np.ones((2, 3, 3, 3), np.int8)),
        TensorSpec([1, 4, 4, 3], **I8),
        TensorSpec([1, 8, 8, 2], **I8),
    ]
    model = builder.build_model(
        "TRANSPOSE_CONV", tensors, [0, 1, 2], [3], "TransposeConvOptions",
        Padding=tflite.Padding.SAME, StrideH=2, StrideW=2,
    )  # fmt: skip
    (op,) = _ops(import_tflite_bytes(model, "m"), quantized.TransposeConv2dOp)
    # full output 9x9; SAME pads 0 before (total 1), so one row/column is cropped after.
    assert [tuple(op.padding.get_values()), tuple(op.output_padding.get_values())] == [
        (0, 0, 1, 1), (0, 0)
    ]  # fmt: skip


def test_not_a_tflite_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        import_tflite_bytes(b"ONNX" * 10, "bad.tflite")
    path = tmp_path / "model.tflite"
    path.write_bytes(b"\x01\x02")
    with pytest.raises(ModelFormatError, match="model.tflite: not a TFLite model"):
        import_model(path)


def test_truncated_file() -> None:
    model = builder.build_model("CONV_2D", _conv_tensors(), [0, 1, 2], [3], "Conv2DOptions", StrideH=2)
    with pytest.raises(ModelFormatError, match="truncated or corrupt"):
        import_tflite_bytes(model[: len(model) // 3], "cut.tflite")


def test_npuc_opt_reads_tflite(tmp_path: Path) -> None:
    path = tmp_path / "relu.tflite"
    tensors = [TensorSpec([1, 8], **I8), TensorSpec([1, 8], **I8)]
    path.write_bytes(builder.build_model("RELU6", tensors, [0], [1]))
    result = subprocess.run(["npuc-opt", str(path)], capture_output=True, text=True, check=True)
    assert 'quantized.relu %0 {layer = "t1", kind = "relu6"}' in result.stdout


def test_compile_needs_no_calibration_for_an_int8_model() -> None:
    model = builder.build_model(
        "CONV_2D", _conv_tensors(), [0, 1, 2], [3], "Conv2DOptions",
        Padding=tflite.Padding.SAME, StrideH=2, StrideW=2,
    )  # fmt: skip
    result = compile_model(import_tflite_bytes(model, "conv.tflite"))
    assert result.command_stream and any(op.name == "npu.conv2d" for op in result.module.walk())


@pytest.mark.parametrize("operator", ["REDUCE_MAX", "REDUCE_MIN"])
def test_reduce_max_and_min_match_tflite(operator: str) -> None:
    # Not among the generated per-operator models: checked here against BUILTIN_REF.
    axes = TensorSpec([2], np.int32, data=np.array([1, 2], np.int32))
    tensors = [TensorSpec([1, 4, 5, 3], **I8), axes, TensorSpec([1, 1, 1, 3], **I8)]
    model = builder.build_model(operator, tensors, [0, 1], [2], "ReducerOptions", KeepDims=True)
    module = import_tflite_bytes(model, "m")
    x = np.random.default_rng(0).integers(-128, 128, (1, 4, 5, 3), dtype=np.int8)
    np.testing.assert_array_equal(npuc.run(module, [x])[0], builder.run_model(model, x)[0])


def test_running_an_external_op_names_the_tflite_operator() -> None:
    tensors = [TensorSpec([1, 8], **I8, name="x"), TensorSpec([1, 8], **I8, name="y")]
    model = build_graph(tensors, [Operator("CUSTOM", [0], [1], custom="Mystery")], [0], [1])
    module = import_tflite_bytes(model, "m")
    with pytest.raises(UnsupportedOperatorError, match="y .quantized.external.: no reference implementation for TFLite op Mystery"):
        npuc.run(module, [np.zeros((1, 8), np.int8)])
