"""Height stripes: their geometry, and programs computed stripe by stripe simulate bit for bit.

`npu-tile{max-stripe-height=N}` gives every striped op stripes of N rows;
npu-lower makes a command of each, reading the IFM rows its windows cover.
The oracles are LiteRT's BUILTIN_REF kernels (every per-operator model) and
the same model compiled without stripes, run in npuc's functional simulator
(with its memory-hazard check: a stripe's halo reads rows of several
commands of one result) and in the register-level Ethos-U simulator on the
emitted stream.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npuc
from npuc.api import QUANTIZED_REWRITES, backend_pipeline, run_pipeline
from npuc.backend.stripes import ifm_rows, stripe_ranges
from npuc.dialects import npu
from npuc.dialects.common import Window, conv_output_size
from npuc.emit.ethos_u.emitter import emit_program
from npuc.sim.simulator import simulate_sample

from support.ethos_u_run import run_program
from support.litert import random_inputs, special_operator
from support.paths import TEST, TFLITE_MODELS
from tflite_models.builder import run_model


@st.composite
def windows(draw) -> tuple[Window, int]:
    """A window along the height axis (padding below the dilated kernel) and an IFM height it covers."""
    kernel, stride, dilation = draw(st.integers(1, 7)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    extent = dilation * (kernel - 1) + 1
    top, bottom = draw(st.integers(0, extent - 1)), draw(st.integers(0, extent - 1))
    height = draw(st.integers(max(1, extent - top - bottom), 40))
    return Window((kernel, 1), (stride, 1), (dilation, 1), (top, 0, bottom, 0)), height


@given(windows(), st.integers(1, 12))
def test_each_stripe_reads_the_rows_its_windows_cover_and_computes_its_rows(case, stripe_height):
    window, height = case
    ofm_height = window.output_size(height, 1)[0]
    stride, extent = window.strides[0], window.dilated_kernel[0]
    stripes = list(stripe_ranges(ofm_height, stripe_height))
    assert [row for rows in stripes for row in rows] == list(range(ofm_height))
    for rows in stripes:
        reads = ifm_rows(window, rows, height)
        taps = {row * stride - window.padding[0] + offset for row in rows for offset in range(0, extent, window.dilations[0])}
        assert reads.ifm.start == max(min(taps), 0) and reads.ifm.stop == min(max(taps) + 1, height)
        assert reads.pad_top == max(-min(taps), 0) and reads.pad_bottom == max(max(taps) + 1 - height, 0)
        computed = conv_output_size(len(reads.ifm), window.kernel[0], stride, window.dilations[0], reads.pad_top, reads.pad_bottom)
        assert computed == len(rows)


def compiled(path, target: str, max_stripe_height: int):
    """The model at `path` through npuc's rewrites and back end, with stripes of at most `max_stripe_height` rows."""
    module = npuc.import_model(path)
    run_pipeline(module, ",".join([*QUANTIZED_REWRITES, backend_pipeline(target, max_stripe_height=max_stripe_height)]))
    return module


def compute_commands(module) -> int:
    return sum(isinstance(op, npu.ComputeOp) for op in module.ops)


def has_npu_segment(module) -> bool:
    return compute_commands(module) > 0


def layers_in_stripes(module) -> int:
    """Layers computed by more than one convolution or pooling command."""
    commands = Counter(op.attributes["layer"].data for op in module.ops if isinstance(op, npu.WindowedOp))
    return sum(count > 1 for count in commands.values())


NAMES = sorted(path.name for path in TFLITE_MODELS.glob("*.tflite"))


@pytest.mark.parametrize(("target", "max_stripe_height"), [("ethos-u55-128", 1), ("ethos-u65-256", 2)])
def test_every_operator_model_in_stripes_matches_litert_in_both_simulators(target, max_stripe_height):
    striped = 0
    for name in NAMES:
        data = (TFLITE_MODELS / name).read_bytes()
        module = compiled(TFLITE_MODELS / name, target, max_stripe_height)
        inputs = random_inputs(module)
        expected = run_model(data, *inputs, operator=special_operator(data))
        runs = [simulate_sample(module, inputs)]
        if has_npu_segment(module):
            runs.append(run_program(module, emit_program(module), inputs))
        for outputs in runs:
            for got, want in zip(outputs, expected, strict=True):
                np.testing.assert_array_equal(got, want, err_msg=name)
        striped += layers_in_stripes(module)
    assert striped >= 30, "the convolutions and pools of the models compute in stripes"


@pytest.mark.parametrize("model", ["ic_resnet8", "kws_dscnn"])
def test_a_network_in_stripes_computes_what_it_computes_whole(model):
    path = TEST / "models" / f"{model}.tflite"
    whole, striped = compiled(path, "ethos-u55-128", 0), compiled(path, "ethos-u55-128", 3)
    assert compute_commands(striped) > 2 * compute_commands(whole)
    inputs = random_inputs(whole)
    expected = simulate_sample(whole, inputs)
    for outputs in (simulate_sample(striped, inputs), run_program(striped, emit_program(striped), inputs)):
        for got, want in zip(outputs, expected, strict=True):
            np.testing.assert_array_equal(got, want)
