"""Int8 BATCH_MATMUL of two computed tensors runs on the NPU, bit-exact with LiteRT.

The per-operator models (3-D, 4-D attention heads, a broadcast batch)
compile with the product on the NPU as strided copies of the rhs, two
commands per output row and one per batch; random and extreme inputs
(every element at the storage minimum or maximum: the largest sums)
through the npu-IR simulator and the Ethos-U register-stream simulator
give LiteRT's BUILTIN_REF bytes on ethos-u55-128 and ethos-u65-256.
"""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.parser import Parser

import npuc
from npuc.context import npuc_context
from npuc.dialects import npu
from npuc.emit.ethos_u.emitter import emit_program
from npuc.sim.simulator import simulate_sample

from support.ethos_u_run import assert_both_simulators_give, run_program
from support.paths import TFLITE_MODELS
from tflite_models.builder import run_model

MODELS = {
    # name: (lhs shape, rhs shape, output batches, rhs batches)
    "batch_matmul_3d": ((2, 5, 8), (2, 8, 6), 2, 2),
    "batch_matmul_4d_heads": ((1, 2, 6, 4), (1, 2, 4, 6), 2, 2),
    "batch_matmul_broadcast": ((2, 3, 7), (1, 7, 4), 2, 1),
}
TARGETS = ["ethos-u55-128", "ethos-u65-256"]


def _samples(lhs: tuple[int, ...], rhs: tuple[int, ...]) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(7)
    random = [[rng.integers(-128, 128, shape, dtype=np.int8) for shape in (lhs, rhs)] for _ in range(3)]
    extremes = [[np.full(lhs, a, np.int8), np.full(rhs, b, np.int8)] for a in (-128, 127) for b in (-128, 127)]
    return random + extremes


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_product_runs_on_the_npu_as_litert_computes_it(name: str, target: str) -> None:
    lhs, rhs, batches, rhs_batches = MODELS[name]
    program = npuc.compile_model(npuc.import_model(TFLITE_MODELS / f"{name}.tflite"), target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    commands = [op for op in program.ops if isinstance(op, npu.ComputeOp)]
    copies = [op for op in commands if isinstance(op, npu.PoolOp) and op.kind.data == "max"]
    sums = [op for op in commands if isinstance(op, npu.PoolOp) and op.kind.data == "reduce_sum"]
    rows = lhs[-2]
    assert len(sums) == batches * rows and len(commands) - len(copies) == batches * (2 * rows + 1)
    assert 1 <= len(copies) <= rhs_batches
    data = (TFLITE_MODELS / f"{name}.tflite").read_bytes()
    stream = emit_program(program)
    for inputs in _samples(lhs, rhs):
        want = run_model(data, *inputs)[0]
        np.testing.assert_array_equal(simulate_sample(program, inputs)[0], want)
        np.testing.assert_array_equal(run_program(program, stream, inputs)[0], want)


def test_a_16x8_product_stays_on_the_cpu_by_the_data_type_rule() -> None:
    program = npuc.compile_model(npuc.import_model(TFLITE_MODELS / "batch_matmul_16x8.tflite"), "ethos-u55-128")
    (cpu,) = [op for op in program.module.ops if isinstance(op, npu.CpuOp)]
    assert cpu.reason is not None and cpu.reason.data == "ofm data type int16 not in int8"


QUERIES = "tensor<1x2x17x32x!quantized.uniform<i8:f32, 0.03:5>>"
KEYS_T = "tensor<1x2x32x17x!quantized.uniform<i8:f32, 0.03:5>>"
SCORES = "tensor<1x2x17x17x!quantized.uniform<i8:f32, 0.05:-11>>"
ATTENTION_SCORES = f"""
func.func @main(%q: {QUERIES}, %k: {KEYS_T}) -> {SCORES} {{
  %s = quantized.batch_matmul %q, %k {{layer = "scores"}} : ({QUERIES}, {KEYS_T}) -> {SCORES}
  func.return %s : {SCORES}
}}"""
"""A small ViT's attention scores: 2 heads of 17 tokens of 32 channels."""


@pytest.mark.parametrize("target", TARGETS)
def test_vit_sized_attention_scores_get_blocks_their_int32_commands_fit(target: str) -> None:
    module = Parser(npuc_context(), ATTENTION_SCORES).parse_module()
    rng = np.random.default_rng(6)
    inputs = [rng.integers(-128, 128, (1, 2, 17, 32), dtype=np.int8), rng.integers(-128, 128, (1, 2, 32, 17), dtype=np.int8)]
    expected = npuc.run(module.clone(), inputs)[0]
    program = npuc.compile_model(module, target).module
    assert not [op for op in program.ops if isinstance(op, npu.CpuOp)]
    assert_both_simulators_give(program, inputs, [expected])
