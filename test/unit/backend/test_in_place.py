"""An NPU add, sub or mul writes its OFM over an IFM no later op reads (planning.overwritten_ifm).

Checked on the lowered program: which commands write their OFM exactly on
an IFM, and that the program still computes what LiteRT's reference
kernels compute (in both simulators, the hazard checker running first).
"""

from __future__ import annotations

import numpy as np
import pytest

import npuc
from npuc.api import QUANTIZED_REWRITES, backend_pipeline, run_pipeline
from npuc.dialects.npu import ElementwiseOp
from npuc.emit.ethos_u.emitter import emit_program
from npuc.sim.simulator import simulate_sample

from support.ethos_u_layers import INT8, lower
from support.ethos_u_run import run_program
from support.litert import random_inputs
from support.paths import TEST
from tflite_models.builder import run_model

T = INT8.act((1, 4, 4, 16), 0.05, -3)
CHAIN = f"""
func.func @main(%x1: {T}, %x2: {T}) -> {T} {{
  %a = quantized.add %x1, %x2 {{layer = "a", activation = "none"}} : ({T}, {T}) -> {T}
  %b = quantized.sub %x1, %x2 {{layer = "b", activation = "none"}} : ({T}, {T}) -> {T}
  %y = quantized.add %a, %b {{layer = "y", activation = "none"}} : ({T}, {T}) -> {T}
  %z = quantized.mul %y, %a {{layer = "z", activation = "none"}} : ({T}, {T}) -> {T}
  %w = quantized.add %z, %b {{layer = "w", activation = "none"}} : ({T}, {T}) -> {T}
  func.return %w : {T}
}}"""
"""y reads a and b, both read again later: y gets buffers of its own. z writes over y (read by z
alone), w over z or b (each read last by w); w is the function's result, which the host reads in
plain NHWC, so it keeps its own buffer."""


def in_place(module) -> dict[str, bool]:
    """Per elementwise command's layer: whether its OFM lies exactly on one of its IFMs."""
    return {
        command.attributes["layer"].data: any(
            fm is not None and (fm.region, fm.offset) == (command.ofm.region, command.ofm.offset)
            for fm in (command.ifm, command.ifm2)
        )
        for command in module.ops if isinstance(command, ElementwiseOp)
    }  # fmt: skip


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
def test_an_elementwise_op_writes_over_an_ifm_only_where_nothing_reads_it_later(target):
    module = lower(CHAIN, target)
    assert in_place(module) == {"a": False, "b": False, "y": False, "z": True, "w": False}
    rng = np.random.default_rng(0)
    inputs = [rng.integers(-128, 128, (1, 4, 4, 16), dtype=np.int8) for _ in range(2)]
    expected = simulate_sample(lower(CHAIN, target), inputs)
    got = run_program(module, emit_program(module), inputs)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_residual_adds_of_a_network_run_in_place_bit_exactly():
    path = TEST / "models" / "ic_resnet8.tflite"
    module = npuc.import_model(path)
    run_pipeline(module, ",".join([*QUANTIZED_REWRITES, backend_pipeline("ethos-u55-128")]))
    adds = [layer for layer, placed in in_place(module).items() if "add" in layer.lower() and placed]
    assert len(adds) == 3
    inputs = random_inputs(module)
    want = run_model(path.read_bytes(), *inputs)
    for outputs in (simulate_sample(module, inputs), run_program(module, emit_program(module), inputs)):
        for got, expected in zip(outputs, want, strict=True):
            np.testing.assert_array_equal(got, expected)
