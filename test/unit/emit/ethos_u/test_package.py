"""Reading deployable `.tflite` files: ethos-u operators, their regions and the arena plan."""

from __future__ import annotations

import pytest

from npuc.emit.ethos_u.package import arena_offsets, read_package
from npuc.errors import ModelFormatError

from support.paths import TEST, TFLITE_MODELS

VELA_MODELS = TEST / "vela_models"


def test_an_npu_cpu_npu_model_has_two_ethos_u_operators_around_the_cpu_one():
    package = read_package(VELA_MODELS / "npu_cpu_npu.u55-128_vela.tflite")
    assert [code == "ethos-u" for code in package.operator_codes] == [True, False, True]
    first, second = package.ethos_u
    assert (first.position, second.position) == (0, 2)
    assert [tensor.name for tensor in first.ifms] == ["input"] and [t.name for t in second.ofms] == ["output"]


def test_shared_sram_passes_one_scratch_tensor_and_plans_the_ifm_inside_it():
    operator = read_package(VELA_MODELS / "conv_2d_same_s1.u55-128_vela.tflite").ethos_u[0]
    assert operator.scratch.index == operator.scratch_fast.index
    ifm = operator.ifms[0]
    assert operator.scratch.arena_offset == 0 and ifm.arena_offset is not None
    assert ifm.arena_offset + ifm.nbytes <= operator.scratch.nbytes
    assert operator.read_only.data is not None and operator.command_stream.data[:4] == b"COP1"


def test_dedicated_sram_has_a_separate_fast_scratch_tensor():
    operator = read_package(VELA_MODELS / "conv_2d_same_s1.u65-256_vela.tflite").ethos_u[0]
    assert operator.scratch.index != operator.scratch_fast.index
    assert [tensor.name for tensor in operator.region_tensors()[:3]] == ["read_only", "scratch", "scratch_fast"]


def test_arena_offsets_come_from_the_offline_memory_allocation():
    path = VELA_MODELS / "conv_2d_same_s1.u55-128_vela.tflite"
    operator = read_package(path).ethos_u[0]
    offsets = arena_offsets(path.read_bytes(), str(path))
    assert offsets[operator.ifms[0].index] == operator.ifms[0].arena_offset
    assert operator.command_stream.index not in offsets
    assert arena_offsets((TFLITE_MODELS / "conv_2d_same_s1.tflite").read_bytes(), "plain") == {}


def test_what_is_not_a_tflite_model_is_refused():
    with pytest.raises(ModelFormatError, match="x.bin: not a TFLite model"):
        read_package(b"COP1" + bytes(60), "x.bin")
    with pytest.raises(ModelFormatError, match="missing.tflite: cannot read"):
        read_package(TEST / "missing.tflite")
