"""An int8 MEAN over a map larger than the depthwise kernel rule runs on the NPU, bit-exact with LiteRT.

efficientnet_b0's first squeeze-and-excitation mean is over 112 x 112: as
one 112 x 112 kernel it breaks the Ethos-U depthwise rule (height <= 64,
area <= 4096). quantized-mean-to-depthwise, given the target, splits it in
two depthwise convs (rows of int16 partial sums, then one sum and MEAN's
rescale); npuc's quantized reference on the model and on the rewritten
IR, the npu-IR simulator and the Ethos-U register-stream simulator must
all give LiteRT BUILTIN_REF's bytes, on random maps and on the extremes
whose partial sums are largest.
"""

from __future__ import annotations

import numpy as np
import pytest

import npuc
from npuc.api import quantized_rewrites
from npuc.dialects import npu, quantized
from npuc.emit.ethos_u.emitter import emit_program
from npuc.sim.simulator import simulate_sample

from support.ethos_u_run import run_program
from tflite_models.builder import build_model, run_model
from tflite_models.specs import act, const, out

TARGETS = ["ethos-u55-128", "ethos-u65-256"]
CASES = [
    # input shape, input (scale, zero point), output (scale, zero point), the depthwise kernels
    ((1, 112, 112, 4), (0.05, -3), (0.02, 5), [(1, 128), (1, 98)]),
    ((1, 112, 112, 3), (0.0173, 17), (0.0173, 17), [(1, 128), (1, 98)]),
    ((1, 72, 40, 2), (0.08, -128), (0.01, 127), [(1, 2880)]),
]


def _mean_model(shape: tuple[int, ...], in_q: tuple[float, int], out_q: tuple[float, int]) -> bytes:
    tensors = [act(shape, np.int8, *in_q), const([1, 2], "axes"), out((1, shape[-1]), np.int8, *out_q)]
    return build_model("MEAN", tensors, [0, 1], [2], "ReducerOptions", KeepDims=False)


def _inputs(shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Random maps, plus the extremes whose partial sums are largest in magnitude."""
    rng = np.random.default_rng(seed)
    return [
        rng.integers(-128, 128, shape, dtype=np.int8),
        np.full(shape, 127, dtype=np.int8),
        np.full(shape, -128, dtype=np.int8),
        rng.choice(np.array([-128, 127], dtype=np.int8), shape),
    ]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_a_mean_over_a_large_map_runs_on_the_npu_bit_exact(case: int, target: str, tmp_path) -> None:
    shape, in_q, out_q, kernels = CASES[case]
    data = _mean_model(shape, in_q, out_q)
    path = tmp_path / "mean.tflite"
    path.write_bytes(data)
    module = npuc.import_model(path)
    rewritten = npuc.run_pipeline(module.clone(), ",".join(quantized_rewrites(target)))
    convs = [op for op in rewritten.walk() if isinstance(op, quantized.DepthwiseConv2dOp)]
    assert [conv.kernel_shape() for conv in convs] == kernels
    compiled = npuc.compile_model(module.clone(), target)
    program = compiled.module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    stream = emit_program(program)
    for index, x in enumerate(_inputs(shape, case)):
        want = run_model(data, x)[0]
        np.testing.assert_array_equal(npuc.run(module.clone(), [x])[0], want, err_msg=f"reference, input {index}")
        np.testing.assert_array_equal(npuc.run(rewritten.clone(), [x])[0], want, err_msg=f"split, input {index}")
        np.testing.assert_array_equal(simulate_sample(program, [x])[0], want, err_msg=f"npu IR, input {index}")
        np.testing.assert_array_equal(run_program(program, stream, [x])[0], want, err_msg=f"stream, input {index}")


def test_without_a_target_the_mean_is_one_depthwise_conv(tmp_path) -> None:
    path = tmp_path / "mean.tflite"
    path.write_bytes(_mean_model(*CASES[0][:3]))
    module = npuc.import_model(path)
    npuc.run_pipeline(module, "quantized-mean-to-depthwise")
    convs = [op for op in module.walk() if isinstance(op, quantized.DepthwiseConv2dOp)]
    assert [conv.kernel_shape() for conv in convs] == [(112, 112)]
