"""npuc's deployable `.tflite`: Vela's layout, and `npuc run` on it computes what TFLite computes.

The oracles: LiteRT's reference kernels on the original per-operator models
(the optimized SUM, as `builder.OPTIMIZED_KERNEL_OPERATORS` says), and
npuc's integer reference on the quantized IR for programs no TFLite model
describes. The package is read back by the package reader and the TFLite
importer; `npuc.run` runs its `ethos-u` operators in the register-level
simulator, which refuses a stream with a hazard, and its builtins in the
integer reference.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tflite
from xdsl.parser import Parser

import npuc
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.emit.ethos_u.disasm import disassemble
from npuc.emit.ethos_u.package import CUSTOM_OPTIONS, read_package
from npuc.errors import NpucError, UnsupportedOperatorError
from npuc.importers.tflite.importer import import_tflite_bytes
from npuc.importers.tflite.model import decode_model
from npuc.ir import arg_attributes, main_function, tensor_name

from support.paths import EXAMPLES, TEST, TFLITE_MODELS
from tflite_models.builder import OPTIMIZED_KERNEL_OPERATORS, reference_interpreter

MODELS = sorted(path.stem for path in TFLITE_MODELS.glob("*.tflite"))
TARGETS = ("ethos-u55-128", "ethos-u65-256")
CONFIGS = (("ethos-u55-128", "Performance"), ("ethos-u65-256", "Performance"), ("ethos-u55-256", "Size"))
"""Target and --optimise goal of the per-operator packages: Vela's configurations (issue 12)."""
NPU_CPU_NPU = TEST / "vela_models" / "npu_cpu_npu.tflite"


def _random_input(detail: dict, rng: np.random.Generator) -> np.ndarray:
    if np.issubdtype(detail["dtype"], np.floating):
        return rng.uniform(-6.0, 6.0, detail["shape"]).astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return rng.integers(info.min, info.max, detail["shape"], dtype=detail["dtype"], endpoint=True)


def builtin(name: str) -> str:
    """How the package reader names a builtin operator's code."""
    return f"BUILTIN_{getattr(tflite.BuiltinOperator, name)}"


def run_package(package: bytes, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """`npuc.run` on a package, its inputs given by name."""
    module = import_tflite_bytes(package, "package")
    names = [tensor_name(attributes, "") for attributes in arg_attributes(main_function(module))]
    return npuc.run(module, [inputs[name] for name in names])


@pytest.mark.parametrize(("target", "optimise"), CONFIGS)
@pytest.mark.parametrize("model", MODELS)
def test_npuc_runs_its_package_as_litert_runs_the_original_model(model: str, target: str, optimise: str) -> None:
    path = TFLITE_MODELS / f"{model}.tflite"
    try:
        package = npuc.compile_model(path, target, optimise=optimise).package
    except NpucError as error:
        pytest.skip(f"does not compile for {target}: {error}")
    operators = {operator.op_type for operator in decode_model(path.read_bytes(), model)[1]}
    special = sorted(operators & OPTIMIZED_KERNEL_OPERATORS)
    interpreter = reference_interpreter(path.read_bytes(), special[0] if special else None)
    for seed in range(2):
        rng = np.random.default_rng(seed)
        inputs = {detail["name"]: _random_input(detail, rng) for detail in interpreter.get_input_details()}
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], inputs[detail["name"]])
        interpreter.invoke()
        expected = [interpreter.get_tensor(detail["index"]) for detail in interpreter.get_output_details()]
        for index, (want, got) in enumerate(zip(expected, run_package(package, inputs), strict=True)):
            assert got.dtype == want.dtype and got.shape == want.shape, f"output {index}"
            differing = np.count_nonzero(want.view(np.uint8) != got.view(np.uint8))
            assert differing == 0, f"seed {seed}, output {index}: {differing} bytes differ"


@pytest.mark.parametrize("target", TARGETS)
def test_npu_segments_around_a_cpu_operator_are_ethos_u_operators_around_its_builtin(target: str) -> None:
    result = npuc.compile_model(NPU_CPU_NPU, target)
    package = read_package(result.package)
    assert package.operator_codes == ("ethos-u", builtin("DEPTH_TO_SPACE"), "ethos-u")
    first, second = package.ethos_u
    assert first.read_only.index == second.read_only.index and first.scratch.index == second.scratch.index
    assert (first.scratch.index == first.scratch_fast.index) == (target == "ethos-u55-128")  # Dedicated_Sram: two
    assert first.command_stream.data is not None and first.command_stream.data[:4] == b"COP1"
    # the tensors the streams address lie in the scratch arena, where the npu IR planned them
    interface = [op for op in result.module.ops if isinstance(op, (npu.InputOp, npu.OutputOp))]
    planned = {op.tensor.data: op.fm.offset.data for op in interface}
    assert first.ifms[0].arena_offset == planned["input"] and second.ofms[0].arena_offset == planned["output"]
    for tensor in (*first.ifms, *first.ofms, *second.ifms, *second.ofms):
        assert tensor.arena_offset is not None and tensor.arena_offset + tensor.nbytes <= first.scratch.nbytes
    assert first.scratch.arena_offset == 0
    # the CPU operator reads the first segment's OFM and writes the second segment's IFM
    cpu_operator = tflite.Model.GetRootAsModel(result.package, 0).Subgraphs(0).Operators(1)
    assert (cpu_operator.Inputs(0), cpu_operator.Outputs(0)) == (first.ofms[0].index, second.ifms[0].index)


def test_the_ethos_u_operators_take_velas_custom_options_and_the_plan_covers_every_tensor() -> None:
    data = npuc.compile_model(NPU_CPU_NPU, "ethos-u55-128").package
    model = tflite.Model.GetRootAsModel(data, 0)
    subgraph = model.Subgraphs(0)
    (metadata,) = [model.Metadata(i) for i in range(model.MetadataLength())]
    plan = np.frombuffer(model.Buffers(metadata.Buffer()).DataAsNumpy().tobytes(), "<i4")
    assert metadata.Name() == b"OfflineMemoryAllocation"
    assert list(plan[:3]) == [0, 1, subgraph.TensorsLength()] and len(plan) == 3 + subgraph.TensorsLength()
    custom = [subgraph.Operators(i) for i in (0, 2)]
    assert all(op.CustomOptionsAsNumpy().tobytes() == CUSTOM_OPTIONS for op in custom)


def test_npuc_disasm_reads_every_stream_of_a_package() -> None:
    listing = disassemble(npuc.compile_model(NPU_CPU_NPU, "ethos-u65-256").package, "package")
    assert sum(line.startswith("ethos-u operator") for line in listing) == 2
    assert sum("NPU_OP_STOP" in line for line in listing) == 2


X = "tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:-3>>"
W = "tensor<4x1x1x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.015:0, 0.01:0}>>"
C = "tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.08:1>>"
T = "tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.0078125:0>>"
Y = "tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.1:2>>"


def residual(cpu_op: str) -> str:
    """`@main`: a conv (NPU), `cpu_op` (IR text defining %t from the conv's %c), the add of both (NPU).

    The second NPU segment reads what the first one wrote, around the CPU operation.
    """
    return f"""
func.func @main(%x: {X} {{graph.name = "x"}}) -> ({Y} {{graph.name = "y"}}) {{
  %w = quantized.constant dense<[[[[1, -2, 3, 4]]], [[[5, 6, -7, 8]]], [[[9, -10, 11, 12]]], [[[-13, 14, 15, 16]]]]>
      : tensor<4x1x1x4xi8> -> {W}
  %b = quantized.constant dense<[10, -20, 30, 0]> : tensor<4xi32>
  %c = quantized.conv2d %x, %w, %b {{layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
      padding = array<i64: 0, 0, 0, 0>, activation = "none"}} : ({X}, {W}, tensor<4xi32>) -> {C}
  {cpu_op}
  %y = quantized.add %c, %t {{layer = "add", activation = "none"}} : ({C}, {T}) -> {Y}
  func.return %y : {Y}
}}
"""


SLOPE = "tensor<4x!quantized.uniform<i8:f32, 0.01:0>>"
PER_CHANNEL_PRELU = f"""%s = quantized.constant dense<[10, -20, 30, 40]> : tensor<4xi8> -> {SLOPE}
  %t = quantized.prelu %c, %s {{layer = "prelu"}} : ({C}, {SLOPE}) -> {T}"""
"""A CPU operation: a PReLU with a slope per channel (no single lookup table computes it)."""


@pytest.mark.parametrize("target", TARGETS)
def test_a_segment_reading_an_earlier_segments_ofm_takes_it_as_an_ifm(target: str) -> None:
    module = Parser(npuc_context(), residual(PER_CHANNEL_PRELU)).parse_module()
    reference = module.clone()
    result = npuc.compile_model(module, target)
    first, second = read_package(result.package).ethos_u
    assert set(first.ofms) <= set(second.ifms) and len(second.ifms) == 2
    x = np.random.default_rng(0).integers(-128, 128, (1, 6, 6, 4), dtype=np.int8)
    np.testing.assert_array_equal(run_package(result.package, {"x": x})[0], npuc.run(reference, [x])[0])


FLOAT_NCHW = """
func.func @main(%x: tensor<1x5x4x3xf32> {graph.name = "x", graph.layout = "NCHW"})
    -> (tensor<1x5x4x2xf32> {graph.name = "y", graph.layout = "NCHW"}) {
  %q = quantized.quantize %x {layer = "x"} : tensor<1x5x4x3xf32> -> tensor<1x5x4x3x!quantized.uniform<i8:f32, 0.05:-3>>
  %w = quantized.constant dense<[[[[1, -2, 3]]], [[[5, 6, -7]]]]> : tensor<2x1x1x3xi8>
      -> tensor<2x1x1x3x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0}>>
  %b = quantized.constant dense<[10, -20]> : tensor<2xi32>
  %c = quantized.conv2d %q, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>,
      padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x4x3x!quantized.uniform<i8:f32, 0.05:-3>>,
      tensor<2x1x1x3x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0}>>, tensor<2xi32>)
      -> tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.02:4>>
  %y = quantized.dequantize %c {layer = "y"} : tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.02:4>> -> tensor<1x5x4x2xf32>
  func.return %y : tensor<1x5x4x2xf32>
}
"""
"""A float model with an NCHW interface, as the ONNX importer and the quantizer leave one."""


def test_a_float_nchw_interface_is_kept_by_quantize_transpose_and_transpose_dequantize() -> None:
    module = Parser(npuc_context(), FLOAT_NCHW).parse_module()
    package = npuc.compile_model(module.clone(), "ethos-u55-128").package
    assert read_package(package).operator_codes == (
        builtin("QUANTIZE"), builtin("TRANSPOSE"), "ethos-u", builtin("TRANSPOSE"), builtin("DEQUANTIZE"))
    x = np.random.default_rng(0).uniform(-6.0, 6.0, (1, 3, 5, 4)).astype(np.float32)
    (got,) = run_package(package, {"x": x})
    (want,) = npuc.run(module, [x.transpose(0, 2, 3, 1)])
    assert got.dtype == np.float32 and got.shape == (1, 2, 5, 4)
    np.testing.assert_array_equal(got, want.transpose(0, 3, 1, 2))


def test_a_cpu_operator_without_a_tflite_form_is_named_with_its_layer() -> None:
    opaque = f'%t = quantized.external %c {{layer = "tanh", op_type = "MyTanh"}} : ({C}) -> {T}'
    module = Parser(npuc_context(), residual(opaque)).parse_module()
    with pytest.raises(UnsupportedOperatorError, match=r"tanh \(quantized.external\): custom operator 'MyTanh'"):
        npuc.compile_model(module, "ethos-u55-128")


def test_npuc_compile_writes_the_package_that_npuc_run_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    model = TFLITE_MODELS / "conv_2d_same_s1.tflite"
    command = [sys.executable, "-m", "npuc.tools.npuc_main"]
    compiled = subprocess.run([*command, "compile", str(model), "--target", "ethos-u65-256", "--report", "json",
                               "-o", str(out)], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stderr
    package = out / "conv_2d_same_s1_npuc.tflite"
    assert str(package) in compiled.stdout
    x = np.random.default_rng(0).integers(-128, 128, (1, 8, 8, 3), dtype=np.int8)
    np.save(tmp_path / "x.npy", x)
    ran = subprocess.run([*command, "run", str(package), "--input", str(tmp_path / "x.npy"), "-o",
                          str(tmp_path / "y.npy")], capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    interpreter = reference_interpreter(model.read_bytes())
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)


@pytest.mark.parametrize("target", TARGETS)
def test_padding_no_window_reaches_is_not_programmed(target: str) -> None:
    # tiny_cnn's stride-2 convs pad [1, 1, 1, 1] over an even extent: the last window
    # ends on the last real row. The hardware derives the IFM extent from the OFM
    # and the padding, so programming the unreached bottom row would read a real
    # row as padding.
    module = npuc.import_model(EXAMPLES / "tiny_cnn.onnx")
    calibration = [np.load(EXAMPLES / "tiny_cnn_calib.npy").transpose(0, 2, 3, 1)]
    npuc.quantize(module, calibration, report_samples=0)
    package = npuc.compile_model(module.clone(), target).package
    x = np.load(EXAMPLES / "tiny_cnn_test.npy")[:4]
    (got,) = run_package(package, {"input": x})
    (want,) = npuc.run(module, [x.transpose(0, 2, 3, 1)])
    np.testing.assert_array_equal(got, want)
