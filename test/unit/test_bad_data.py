"""Malformed data files and settings end in an `NpucError` naming the file and the entry, never another exception.

Samples and outputs (`npuc.data.read_arrays`), saved calibration statistics,
per-layer control files and the quantize options: truncated or corrupt
archives, members that are not arrays, pickled objects, headers promising more
data than the file holds or than npuc allocates, and values out of range.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from npuc.data import read_arrays
from npuc.errors import MEMORY_LIMIT_BYTES, InputDataError, MemoryLimitError, NpucError
from npuc.quantization.calibration import Statistics, TensorStatistics
from npuc.quantization.control import LayerControl
from npuc.quantization.driver import quantize_module
from npuc.quantization.options import QuantizationOptions

from support.graph_models import build_small_cnn, calibration_samples

NPY_HEADER_ALIGNMENT = 64
"""An `.npy` header is padded so the data starts at a multiple of this."""


def npy_bytes(shape: tuple[int, ...], data: bytes = b"", descr: str = "<f4") -> bytes:
    """An `.npy` file (format 1.0) whose header claims `shape` of `descr`, followed by `data`."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    prefix = len(b"\x93NUMPY\x01\x00") + 2
    padded = header.ljust(-(-(prefix + len(header) + 1) // NPY_HEADER_ALIGNMENT) * NPY_HEADER_ALIGNMENT - prefix - 1)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(padded) + 1) + padded.encode() + b"\n" + data


def npz_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


@pytest.fixture
def valid_npz(tmp_path: Path) -> Path:
    path = tmp_path / "valid.npz"
    np.savez(path, a=np.arange(64, dtype=np.float32), b=np.ones((4, 4), dtype=np.int8))
    return path


def test_the_reader_returns_what_numpy_wrote(valid_npz, tmp_path):
    arrays = read_arrays(str(valid_npz))
    assert isinstance(arrays, dict) and sorted(arrays) == ["a", "b"]
    np.testing.assert_array_equal(arrays["a"], np.arange(64, dtype=np.float32))
    np.save(tmp_path / "one.npy", np.eye(3))
    np.testing.assert_array_equal(read_arrays(str(tmp_path / "one.npy")), np.eye(3))


def test_truncated_npz(valid_npz, tmp_path):
    path = tmp_path / "truncated.npz"
    path.write_bytes(valid_npz.read_bytes()[: valid_npz.stat().st_size // 2])
    with pytest.raises(InputDataError, match="truncated.npz: not a readable .npz archive"):
        read_arrays(str(path))


def test_corrupt_npz_member(tmp_path):
    path = tmp_path / "corrupt.npz"
    np.savez_compressed(path, a=np.arange(4096, dtype=np.float32))
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside the compressed member
    path.write_bytes(bytes(data))
    with pytest.raises(InputDataError, match="corrupt.npz"):
        read_arrays(str(path))


def test_npz_member_that_is_not_npy(tmp_path):
    with pytest.raises(InputDataError, match="notes.npz: member 'notes.txt' is not an .npy array"):
        read_arrays(str(npz_with(tmp_path / "notes.npz", {"notes.txt": b"hello"})))
    with pytest.raises(InputDataError, match="text.npz: array 'a': bad .npy header"):
        read_arrays(str(npz_with(tmp_path / "text.npz", {"a.npy": b"hello"})))


def test_object_arrays_are_never_unpickled(tmp_path):
    objects = np.array([{"x": 1}, None], dtype=object)
    np.save(tmp_path / "objects.npy", objects, allow_pickle=True)
    np.savez(tmp_path / "objects.npz", allow_pickle=True, a=objects)
    with pytest.raises(InputDataError, match="objects.npy: holds Python objects"):
        read_arrays(str(tmp_path / "objects.npy"))
    with pytest.raises(InputDataError, match="objects.npz: array 'a': holds Python objects"):
        read_arrays(str(tmp_path / "objects.npz"))


def test_a_header_claiming_1e15_elements_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_bytes((10**15,), b"\0" * 16))
    with pytest.raises(MemoryLimitError, match=r"huge.npy: array of shape \[1000000000000000\]"):
        read_arrays(str(path))
    archive = npz_with(tmp_path / "huge.npz", {"a.npy": path.read_bytes()})
    with pytest.raises(MemoryLimitError, match="huge.npz: array 'a'"):
        read_arrays(str(archive))


def test_a_header_promising_more_than_the_file_holds(tmp_path):
    elements = MEMORY_LIMIT_BYTES // 8  # under the limit: only the file size refuses it
    path = tmp_path / "short.npy"
    path.write_bytes(npy_bytes((elements,), b"\0" * 16))
    with pytest.raises(InputDataError, match=rf"short.npy: truncated: shape \[{elements}\] \(float32\) needs"):
        read_arrays(str(path))


def test_a_negative_extent_in_a_header(tmp_path):
    path = tmp_path / "negative.npy"
    path.write_bytes(npy_bytes((-4,), b"\0" * 16))
    with pytest.raises(InputDataError, match="negative.npy: bad .npy header"):
        read_arrays(str(path))


@pytest.mark.parametrize("content", [b"", b"\x93NUMPY", b"PK\x03\x04junk", b"plain text"])
def test_files_that_are_not_arrays(tmp_path, content):
    path = tmp_path / "data.npy"
    path.write_bytes(content)
    with pytest.raises(InputDataError, match="data.npy: "):
        read_arrays(str(path))


def test_statistics_must_be_an_archive(tmp_path):
    np.save(tmp_path / "stats.npy", np.zeros(4))
    with pytest.raises(InputDataError, match="stats.npy: calibration statistics are an .npz archive"):
        Statistics.load(tmp_path / "stats.npy")


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"conv|range": np.zeros(3)}, "'conv|range': expected 4 finite numbers"),
        ({"conv|range": np.array(["a", "b", "c", "d"])}, "'conv|range': expected 4 finite numbers"),
        ({"conv|range": np.array([0.0, np.inf, 0.0, 1.0])}, "'conv|range': expected 4 finite numbers"),
        ({"conv|range": np.array([2.0, 1.0, 0.0, 1.0])}, "'conv|range': minimum above maximum"),
        ({"conv|range": np.array([0.0, 1.0, 0.0, 1.0]), "conv|histogram": np.array([1, -2])},
         "'conv|histogram': expected a vector of bin counts"),
        ({"conv|histogram": np.array([1, 2])}, "'conv|histogram' has no 'conv|range'"),
        ({"weights": np.zeros(4)}, "unexpected array 'weights'"),
    ],
)
def test_bad_statistics(tmp_path, arrays, message):
    path = tmp_path / "stats.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputDataError, match=f"stats.npz: {message}"):
        Statistics.load(path)


def test_saved_statistics_read_back(tmp_path):
    statistics = Statistics()
    statistics.tensors["conv"] = TensorStatistics(-1.0, 2.0, -0.5, 1.5, np.arange(8, dtype=np.int64))
    statistics.save(tmp_path / "stats.npz")
    loaded = Statistics.load(tmp_path / "stats.npz").tensors["conv"]
    assert (loaded.minimum, loaded.maximum, loaded.mean_minimum, loaded.mean_maximum) == (-1.0, 2.0, -0.5, 1.5)
    np.testing.assert_array_equal(loaded.histogram, np.arange(8))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"activation_bits": 7, "layers": {}}, "activation_bits must be 8 or 16, not 7"),
        ({"activation_bits": True, "layers": {}}, "activation_bits must be 8 or 16, not True"),
        ({"activation_bits": "8", "layers": {}}, "activation_bits must be 8 or 16, not '8'"),
        ({"layers": {"conv": {"bits": True}}}, "layer 'conv': bad setting bits=True"),
        ({"layers": {"conv": {"bits": 7}}}, "layer 'conv': bits must be 8 or 16, not 7"),
        ({"layers": {"conv": [1]}}, "layer 'conv': bad setting"),
        ({"layers": {"conv\nrelu": {"strategy": 3}}}, r"layer 'conv\\nrelu': bad setting strategy=3"),
        ({"layers": [], "extra": 1}, "expected an object with a 'layers' object"),
        ({"layers": {}, "activation_bit": 8}, "unknown key 'activation_bit'"),
        ([1, 2], "expected an object with a 'layers' object"),
    ],
)
def test_bad_control_files(tmp_path, document, message):
    path = tmp_path / "layers.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputDataError, match=f"layers.json: {message}"):
        LayerControl.load(path)


def test_deeply_nested_control_file(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputDataError, match="deep.json: not a layer control file: JSON nested too deeply"):
        LayerControl.load(path)


def test_control_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(InputDataError, match="binary.json: not a JSON layer control file"):
        LayerControl.load(path)


def test_control_file_naming_a_layer_the_model_lacks(tmp_path):
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"layers": {"no_such_layer": {"bits": 16}}}))
    with pytest.raises(InputDataError, match="layers.json: layer 'no_such_layer' is not in the model"):
        quantize_module(build_small_cnn(), calibration_samples(4, seed=0), options=QuantizationOptions(layers=str(path)))


@pytest.mark.parametrize("target_sqnr", [float("inf"), float("nan")])
def test_target_sqnr_must_be_finite(target_sqnr):
    with pytest.raises(NpucError, match="target_sqnr must be a finite number"):
        QuantizationOptions(target_sqnr=target_sqnr).check()


def test_statistics_of_another_model(tmp_path):
    statistics = Statistics()
    statistics.tensors["other_layer"] = TensorStatistics(0.0, 1.0, 0.0, 1.0)
    statistics.save(tmp_path / "other.npz")
    options = QuantizationOptions(statistics=str(tmp_path / "other.npz"), activation_strategy="minmax")
    with pytest.raises(InputDataError, match=r"other.npz: no statistics for 'x' \(9 value\(s\) of the model missing"):
        quantize_module(build_small_cnn(), [], options=options)
