"""Conformance sweep: ONNX's own test data, imported and run by the float reference.

The `onnx` wheel ships models with stored inputs and outputs
(`onnx/backend/test/data`):

- `pytorch-converted/` and `pytorch-operator/`: one directory per case with
  `model.onnx` and `test_data_set_*/{input,output}_*.pb`. Every case must
  import and reproduce its outputs (rtol 1e-4, atol 1e-5), except cases
  skipped for a listed reason: operators outside the issue's list, 1-D and
  3-D windows, or inputs that are not float32.
- `light/`: nine classic CNNs whose weights are ConstantOfShape fills. Their
  input is made as ONNX's backend runner makes it
  (`onnx.backend.test.runner.Runner.generate_dummy_data(random=False)`):
  `arange(n).reshape(shape) / n` in float32; all nine must reproduce
  `light_<name>_output_0.pb`.

`test_sweep_summary` prints a table of every case with its outcome and
asserts the pass count.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import npuc
from npuc.data import model_interface
from npuc.errors import ModelVerificationError, UnsupportedOperatorError
from npuc.importers.onnx.importer import import_onnx

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
NODE_SUITES = ("pytorch-converted", "pytorch-operator")
LIGHT_MODELS = (
    "bvlc_alexnet",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "resnet50",
    "shufflenet",
    "squeezenet",
    "vgg19",
    "zfnet512",
)
RTOL, ATOL = 1e-4, 1e-5
MINIMUM_PASSES = 96
"""Node-suite cases that pass today (87 of 117) plus the nine light models."""

ISSUE_OPERATORS = frozenset(
    "Conv ConvTranspose Gemm MatMul BatchNormalization Relu Clip LeakyRelu PRelu Sigmoid "
    "HardSigmoid HardSwish Tanh Elu Softmax Add Sub Mul Div Max Min Sum Mean Sqrt Pow MaxPool "
    "AveragePool GlobalAveragePool GlobalMaxPool ReduceMean ReduceMax ReduceSum Concat Split "
    "Slice Pad Reshape Flatten Transpose Squeeze Unsqueeze Resize Upsample DepthToSpace "
    "SpaceToDepth LRN Identity Dropout Constant ConstantOfShape Shape Gather Cast Range Expand "
    "Tile Where".split()
)
"""The operators issue 3 asks for."""


@dataclass(frozen=True)
class Outcome:
    """What one case did: `passed`, `skipped` (with the reason) or `failed`."""

    status: str
    detail: str
    seconds: float


def node_cases() -> list[Path]:
    return sorted(case for suite in NODE_SUITES for case in (DATA / suite).iterdir() if case.is_dir())


def _load(path: Path) -> np.ndarray:
    return numpy_helper.to_array(onnx.load_tensor(str(path)))


def _compare(model_path: Path, inputs: list[np.ndarray], expected: list[np.ndarray]) -> str | None:
    """Import, run on `inputs` (interface layout), compare; the mismatch or None."""
    module = import_onnx(str(model_path))
    interface = model_interface(module)
    ir_inputs = [tensor.to_ir_layout(array) for tensor, array in zip(interface.inputs, inputs)]
    outputs = npuc.run(module, ir_inputs)
    for index, (tensor, output, reference) in enumerate(zip(interface.outputs, outputs, expected)):
        actual = tensor.to_interface_layout(output)
        if actual.shape != reference.shape:
            return f"output {index} has shape {list(actual.shape)}, expected {list(reference.shape)}"
        if not np.allclose(actual, reference, rtol=RTOL, atol=ATOL, equal_nan=True):
            return f"output {index} differs by up to {float(np.nanmax(np.abs(actual - reference))):.3g}"
    return None


def _skip_reason(case: Path, error: Exception) -> str | None:
    """Why a rejected case may be skipped, or None when the rejection is a failure."""
    operators = {node.op_type for node in onnx.load(str(case / "model.onnx")).graph.node}
    outside = sorted(operators - ISSUE_OPERATORS)
    message = str(error).split(": ", 1)[-1]
    if outside and isinstance(error, UnsupportedOperatorError):
        return f"{', '.join(outside)} outside the issue's operator list"
    if isinstance(error, UnsupportedOperatorError) and all(
        reason.startswith("3-D") for _, _, reason in error.problems
    ):
        return error.problems[0][2]
    if isinstance(error, ModelVerificationError) and "float32" in message:
        return message
    return None


@functools.cache
def node_case_outcome(case: Path) -> Outcome:
    """Import and run one node-suite case against each of its stored data sets."""
    start = time.perf_counter()
    try:
        for data_set in sorted(case.glob("test_data_set_*")):
            inputs = [_load(path) for path in sorted(data_set.glob("input_*.pb"))]
            expected = [_load(path) for path in sorted(data_set.glob("output_*.pb"))]
            mismatch = _compare(case / "model.onnx", inputs, expected)
            if mismatch is not None:
                return Outcome("failed", mismatch, time.perf_counter() - start)
    except (UnsupportedOperatorError, ModelVerificationError) as error:
        reason = _skip_reason(case, error)
        status = "skipped" if reason is not None else "failed"
        return Outcome(status, reason or str(error), time.perf_counter() - start)
    return Outcome("passed", "", time.perf_counter() - start)


def light_inputs(model: onnx.ModelProto) -> list[np.ndarray]:
    """ONNX's runner inputs for a light model: arange(n).reshape(shape) / n, float32."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    arrays = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        shape = tuple(
            dim.dim_value if dim.HasField("dim_value") else 1 for dim in value.type.tensor_type.shape.dim
        )
        count = int(np.prod(shape))
        arrays.append((np.arange(count).reshape(shape) / count).astype(np.float32))
    return arrays


@functools.cache
def light_outcome(name: str) -> Outcome:
    """Import and run one light model on the runner's input; compare output 0."""
    start = time.perf_counter()
    path = DATA / "light" / f"light_{name}.onnx"
    inputs = light_inputs(onnx.load(str(path)))
    expected = [_load(DATA / "light" / f"light_{name}_output_0.pb")]
    mismatch = _compare(path, inputs, expected)
    status = "failed" if mismatch else "passed"
    return Outcome(status, mismatch or "", time.perf_counter() - start)


@pytest.mark.parametrize("case", node_cases(), ids=lambda case: f"{case.parent.name}/{case.name}")
def test_node_case(case: Path) -> None:
    outcome = node_case_outcome(case)
    if outcome.status == "skipped":
        pytest.skip(outcome.detail)
    assert outcome.status == "passed", outcome.detail


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model(name: str) -> None:
    outcome = light_outcome(name)
    assert outcome.status == "passed", outcome.detail


def test_sweep_summary(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    """Print every case's outcome (past pytest's capture) and require the known number of passes."""
    rows = [(f"{case.parent.name}/{case.name}", node_case_outcome(case)) for case in node_cases()]
    rows += [(f"light/{name}", light_outcome(name)) for name in LIGHT_MODELS]
    counts = {status: sum(o.status == status for _, o in rows) for status in ("passed", "skipped", "failed")}
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    with capsys.disabled():
        reporter.ensure_newline()
        reporter.write_sep("-", "ONNX conformance sweep")
        for name, outcome in rows:
            reporter.write_line(f"{name:58} {outcome.status:8} {outcome.seconds:6.2f}s  {outcome.detail}")
        reporter.write_line(
            f"{counts['passed']} passed, {counts['skipped']} skipped, {counts['failed']} failed"
        )
    assert counts["failed"] == 0
    assert counts["passed"] >= MINIMUM_PASSES
