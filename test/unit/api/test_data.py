"""Tests for npuc.data: the .npy/.npz sample and output conventions."""

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from npuc.context import npuc_context
from npuc.data import (
    ModelInterface,
    load_samples,
    model_interface,
    save_outputs,
    to_interface,
)
from npuc.errors import InputDataError


def parse_main(text: str) -> ModelInterface:
    """The interface of a model given as IR text."""
    module = Parser(npuc_context(), text).parse_module()
    assert isinstance(module, ModuleOp)
    return model_interface(module)


NCHW_MODEL = """
func.func @main(%x: tensor<1x4x5x3xf32> {graph.name = "image", graph.layout = "NCHW"})
    -> (tensor<1x4x5x3xf32> {graph.name = "features", graph.layout = "NCHW"}) {
  func.return %x : tensor<1x4x5x3xf32>
}
"""

NHWC_MODEL = """
func.func @main(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  func.return %x : tensor<1x4x4x2xf32>
}
"""

TWO_INPUTS = """
func.func @main(%a: tensor<1x8xf32> {graph.name = "a"}, %b: tensor<1x3xi8> {graph.name = "b"})
    -> (tensor<1x8xf32> {graph.name = "a_out"}, tensor<1x3xi8> {graph.name = "b_out"}) {
  func.return %a, %b : tensor<1x8xf32>, tensor<1x3xi8>
}
"""


@pytest.fixture
def nchw() -> ModelInterface:
    return parse_main(NCHW_MODEL)


def test_one_nchw_sample_is_transposed_to_nhwc(tmp_path, nchw):
    sample = np.arange(60, dtype=np.float32).reshape(1, 3, 4, 5)
    np.save(tmp_path / "x.npy", sample)
    (loaded,) = load_samples(str(tmp_path / "x.npy"), nchw)
    assert loaded.shape == (1, 4, 5, 3)
    np.testing.assert_array_equal(loaded, sample.transpose(0, 2, 3, 1))


def test_stacked_samples_keep_their_count(tmp_path, nchw):
    samples = np.random.default_rng(0).standard_normal((7, 3, 4, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", samples)
    (loaded,) = load_samples(str(tmp_path / "x.npy"), nchw)
    assert loaded.shape == (7, 4, 5, 3)
    np.testing.assert_array_equal(loaded[6, :, :, 1], samples[6, 1])


def test_nhwc_interface_is_not_transposed(tmp_path):
    samples = np.random.default_rng(1).standard_normal((8, 4, 4, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", samples)
    (loaded,) = load_samples(str(tmp_path / "x.npy"), parse_main(NHWC_MODEL))
    np.testing.assert_array_equal(loaded, samples)


def test_npz_is_read_by_input_name_with_storage_dtype(tmp_path):
    func = parse_main(TWO_INPUTS)
    a = np.ones((5, 8), np.float32)
    b = np.full((5, 3), -3, np.int8)
    np.savez(tmp_path / "in.npz", b=b, a=a)
    loaded_a, loaded_b = load_samples(str(tmp_path / "in.npz"), func)
    np.testing.assert_array_equal(loaded_a, a)
    np.testing.assert_array_equal(loaded_b, b)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (
            np.zeros((1, 4, 5, 3), np.float32),
            "input 'image' expects shape [1, 3, 4, 5] or [N, 3, 4, 5], got [1, 4, 5, 3]",
        ),
        (np.zeros((3, 4, 5), np.float32), "got [3, 4, 5]"),
        (np.zeros((0, 3, 4, 5), np.float32), "got [0, 3, 4, 5]"),
        (np.zeros((2, 3, 4, 5), np.float64), "input 'image' expects dtype float32, got float64"),
    ],
)
def test_bad_arrays_are_rejected_with_one_line(tmp_path, nchw, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(InputDataError) as caught:
        load_samples(str(path), nchw)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_missing_npz_key_names_the_input(tmp_path):
    np.savez(tmp_path / "in.npz", a=np.ones((1, 8), np.float32))
    with pytest.raises(InputDataError, match="no array for input\\(s\\) 'b' \\(file has 'a'\\)"):
        load_samples(str(tmp_path / "in.npz"), parse_main(TWO_INPUTS))


def test_npy_for_two_inputs_asks_for_npz(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((1, 8), np.float32))
    message = "has 2 inputs; give an .npz keyed by input name \\(a, b\\)"
    with pytest.raises(InputDataError, match=message):
        load_samples(str(tmp_path / "x.npy"), parse_main(TWO_INPUTS))


def test_different_sample_counts_are_rejected(tmp_path):
    np.savez(tmp_path / "in.npz", a=np.ones((2, 8), np.float32), b=np.ones((3, 3), np.int8))
    with pytest.raises(InputDataError, match="different sample counts \\('a': 2, 'b': 3\\)"):
        load_samples(str(tmp_path / "in.npz"), parse_main(TWO_INPUTS))


def test_unreadable_file_is_an_input_error(tmp_path, nchw):
    (tmp_path / "junk.npy").write_text("not numpy")
    with pytest.raises(InputDataError, match="junk.npy: cannot read as .npy/.npz"):
        load_samples(str(tmp_path / "junk.npy"), nchw)
    with pytest.raises(InputDataError, match="missing.npy: cannot read"):
        load_samples(str(tmp_path / "missing.npy"), nchw)


def test_outputs_go_back_to_nchw_and_into_npy(tmp_path, nchw):
    nhwc = np.arange(60, dtype=np.float32).reshape(1, 4, 5, 3)
    (interface,) = to_interface([nhwc], nchw)
    np.testing.assert_array_equal(interface, nhwc.transpose(0, 3, 1, 2))
    save_outputs(str(tmp_path / "y.npy"), [interface], nchw)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), interface)


def test_several_outputs_go_into_npz_by_result_name(tmp_path):
    func = parse_main(TWO_INPUTS)
    outputs = [np.zeros((1, 8), np.float32), np.ones((1, 3), np.int8)]
    save_outputs(str(tmp_path / "y.npz"), outputs, func)
    with np.load(tmp_path / "y.npz") as saved:
        assert sorted(saved.files) == ["a_out", "b_out"]
        np.testing.assert_array_equal(saved["b_out"], outputs[1])
    with pytest.raises(InputDataError, match="has 2 outputs; write them to an .npz file"):
        save_outputs(str(tmp_path / "y.npy"), outputs, func)
