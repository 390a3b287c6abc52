"""Bad sample data (.npy/.npz), calibration statistics, per-layer control files and quantization options.

Every case reads its file for the built ONNX conv model (one input,
1x3x8x8 float32) as `npuc quantize` does: `npuc.data.load_samples`, then
`npuc.quantize` with the options under test. Files that are not a valid
sample of that input must be refused.
"""

from __future__ import annotations

import functools
import io
import json
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

import npuc
from npuc.data import load_samples, model_interface
from npuc.quantization.options import QuantizationOptions

from fuzz.case import MAY_ACCEPT, MUST_REJECT, Case
from fuzz.mutate import MUTATIONS
from fuzz.seeds import CONV_INPUT, conv_model

RANDOM_MUTANTS = 24
"""Byte mutants each of the valid .npy and .npz."""

HUGE_COUNT = 10**15
"""Elements a forged .npy header claims (issue 14)."""

NESTING = 100_000
"""Depth of the nested JSON control file."""

NPY_MAGIC = b"\x93NUMPY"

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""The date of every archive member: the earliest a zip file holds."""

PATH_OPTIONS = ("statistics", "save_statistics", "layers", "save_layers")
"""Quantization options that name files (relative to the case's directory)."""

ISSUE_CASES = frozenset({
    "npy-header-1e15", "npz-truncated-half", "npz-corrupt-directory", "npz-member-not-npy", "npz-member-object",
    "npz-member-1e15", "statistics-npy-file", "layers-nested-deep", "layers-activation-bits-7",
    "layers-unknown-layer", "options-target-sqnr-inf", "options-save-statistics-missing-dir",
    "options-save-layers-missing-dir",
})  # fmt: skip
"""The cases issue 14 names."""


def cases(seed: int) -> Iterator[Case]:
    """Every data, statistics, control and option case; byte mutants drawn with `seed`."""
    for name, files, expect in (*_npy_cases(seed), *_npz_cases(seed)):
        yield _case(name, files, expect, functools.partial(_samples_then_quantize, files))
    for name, files, expect, options in _quantization_cases():
        yield _case(name, files, expect, functools.partial(_quantize_with, files, options))


def _case(name: str, files: dict[str, bytes], expect: str, run) -> Case:
    return Case("data", name, run, expect, issue=name in ISSUE_CASES)


def _model(directory: Path):
    path = directory / "model.onnx"
    path.write_bytes(conv_model().SerializeToString())
    return npuc.import_model(path)


def _write(directory: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        (directory / name).write_bytes(content)


def _samples_then_quantize(files: dict[str, bytes], directory: Path) -> object:
    """`npuc quantize model.onnx --calibration <the file>`."""
    _write(directory, files)
    module = _model(directory)
    samples = load_samples(str(directory / next(iter(files))), model_interface(module))
    return npuc.quantize(module, samples, report_samples=0)


def _quantize_with(files: dict[str, bytes], options: dict[str, Any], directory: Path) -> object:
    """`npuc quantize` on valid calibration data with `options` (file names relative to `directory`)."""
    _write(directory, files)
    module = _model(directory)
    samples = [_valid_sample().transpose(0, 2, 3, 1).copy()]
    paths: dict[str, Any] = {key: str(directory / value) if key in PATH_OPTIONS else value for key, value in options.items()}
    return npuc.quantize(module, samples, QuantizationOptions(**paths), report_samples=0)


def _valid_sample() -> np.ndarray:
    return np.random.default_rng(0).random(CONV_INPUT).astype(np.float32)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _npy_header(header: str, version: bytes = b"\x01\x00", payload: bytes = b"") -> bytes:
    """A .npy file with a hand-written header dictionary text."""
    text = header.encode("latin1") + b"\n"
    return NPY_MAGIC + version + len(text).to_bytes(2, "little") + text + payload


def _npz(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip archive of `members`, dated `ZIP_DATE` (np.savez would stamp the time: cases must not change)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(zipfile.ZipInfo(name, ZIP_DATE), content, compression)
    return buffer.getvalue()


def _npy_cases(seed: int):
    valid = _npy(_valid_sample())
    header_end = valid.index(b"\n") + 1
    yield "npy-valid", {"data.npy": valid}, MAY_ACCEPT
    yield "npy-stacked", {"data.npy": _npy(np.zeros((3, *CONV_INPUT[1:]), np.float32))}, MAY_ACCEPT
    yield "npy-fortran-order", {"data.npy": _npy(np.asfortranarray(_valid_sample()))}, MAY_ACCEPT
    for length in (0, 5, 8, 10, header_end - 1, header_end, header_end + 10, len(valid) - 1):
        yield f"npy-truncated-{length}", {"data.npy": valid[:length]}, MUST_REJECT
    yield "npy-header-1e15", {"data.npy": _npy_header(
        f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({HUGE_COUNT}, 3, 8, 8), }}")}, MUST_REJECT
    for header, label in (
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 8, 8), }", "data-missing"),
        ("{'descr': 'x9', 'fortran_order': False, 'shape': (1, 3, 8, 8), }", "descr-unknown"),
        ("{'descr': '|O', 'fortran_order': False, 'shape': (1, 3, 8, 8), }", "descr-object"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3, 8, 8), }", "shape-negative"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': 'x', }", "shape-text"),
        ("{'descr': '<f4', 'shape': (1, 3, 8, 8), }", "key-missing"),
        ("[1, 2, 3]", "not-a-dict"),
        ("{'descr': __import__('os').getcwd()}", "expression"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 8, 8), 'extra': 1, }", "key-extra"),
    ):
        yield f"npy-header-{label}", {"data.npy": _npy_header(header)}, MUST_REJECT
    yield "npy-version-3", {"data.npy": valid[:6] + b"\x03\x00" + valid[8:]}, MUST_REJECT
    yield "npy-version-99", {"data.npy": valid[:6] + b"\x63\x00" + valid[8:]}, MUST_REJECT
    yield "npy-header-length-huge", {"data.npy": valid[:8] + b"\xff\xff" + valid[10:]}, MUST_REJECT
    yield "npy-magic-wrong", {"data.npy": b"\x93NUMPZ" + valid[6:]}, MUST_REJECT
    yield "npy-data-long", {"data.npy": valid + b"\x00" * 64}, MAY_ACCEPT
    for shape, label in (((3, 8, 8), "rank3"), ((1, 3, 8, 9), "width"), ((0, 3, 8, 8), "no-samples"),
                         ((1, 8, 8, 3), "nhwc"), ((), "scalar"), ((1, 1, 1, 3, 8, 8), "rank6")):
        yield f"npy-shape-{label}", {"data.npy": _npy(np.zeros(shape, np.float32))}, MUST_REJECT
    for dtype, label in ((np.float64, "float64"), (np.float16, "float16"), (np.int8, "int8"),
                         (np.bool_, "bool"), (np.complex64, "complex64"), (">f4", "big-endian"), ("<U4", "unicode"),
                         ([("a", "<f4")], "structured")):
        yield f"npy-dtype-{label}", {"data.npy": _npy(np.zeros(CONV_INPUT, dtype))}, MUST_REJECT
    yield "npy-dtype-object", {"data.npy": _npy(np.full(CONV_INPUT, None, object))}, MUST_REJECT
    for value, label in ((np.nan, "nan"), (np.inf, "inf"), (-np.inf, "minus-inf"), (3e38, "huge"), (1e-45, "denormal"),
                         (0.0, "zero")):
        yield f"npy-values-{label}", {"data.npy": _npy(np.full(CONV_INPUT, value, np.float32))}, MAY_ACCEPT
    yield from _byte_mutants("npy", valid, seed)


def _npz_cases(seed: int):
    sample = _npy(_valid_sample())
    valid = _npz({"input.npy": sample})
    yield "npz-valid", {"data.npz": valid}, MAY_ACCEPT
    yield "npz-compressed", {"data.npz": _npz({"input.npy": sample}, zipfile.ZIP_DEFLATED)}, MAY_ACCEPT
    yield "npz-extra-member", {"data.npz": _npz({"input.npy": sample, "other.npy": sample})}, MAY_ACCEPT
    yield "npz-key-wrong", {"data.npz": _npz({"image.npy": sample})}, MUST_REJECT
    yield "npz-empty", {"data.npz": _npz({})}, MUST_REJECT
    for fraction, label in ((0.25, "quarter"), (0.5, "half"), (0.99, "end")):
        yield f"npz-truncated-{label}", {"data.npz": valid[: int(len(valid) * fraction)]}, MUST_REJECT
    directory = valid.rindex(b"PK\x01\x02")
    yield "npz-corrupt-directory", {"data.npz": valid[:directory] + b"\xff" * 16 + valid[directory + 16 :]}, MUST_REJECT
    yield "npz-member-not-npy", {"data.npz": _npz({"input.npy": b"not an array\n"})}, MUST_REJECT
    yield "npz-member-object", {"data.npz": _npz({"input.npy": _npy(np.full(CONV_INPUT, None, object))})}, MUST_REJECT
    yield "npz-member-1e15", {"data.npz": _npz({"input.npy": _npy_header(
        f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({HUGE_COUNT}, 3, 8, 8), }}")})}, MUST_REJECT
    yield "npz-member-truncated", {"data.npz": _npz({"input.npy": sample[:100]})}, MUST_REJECT
    yield "npz-not-zip", {"data.npz": b"PK\x03\x04 this is not a zip file"}, MUST_REJECT
    yield "npz-nested-zip", {"data.npz": _npz({"input.npy": valid})}, MUST_REJECT
    yield from _byte_mutants("npz", valid, seed)


def _byte_mutants(kind: str, valid: bytes, seed: int):
    names = sorted(MUTATIONS)
    rng = random.Random(f"{seed}/data/{kind}")
    for index in range(RANDOM_MUTANTS):
        mutation = names[index % len(names)]
        yield f"{kind}-{mutation}-{index}", {f"data.{kind}": MUTATIONS[mutation](valid, rng)}, MAY_ACCEPT


def _quantization_cases():
    """(name, files, expectation, options) of statistics, control files and options."""
    statistics = {"conv|range": np.array([0.0, 1.0, 0.0, 1.0])}
    for name, arrays, expect in (
        ("statistics-range-short", {"conv|range": np.array([0.0, 1.0])}, MUST_REJECT),
        ("statistics-range-nan", {"conv|range": np.array([np.nan] * 4)}, MUST_REJECT),
        ("statistics-range-text", {"conv|range": np.array(["a"] * 4)}, MUST_REJECT),
        ("statistics-histogram-2d", {**statistics, "conv|histogram": np.zeros((2, 2))}, MUST_REJECT),
        ("statistics-object", {"conv|range": np.array([None] * 4, object)}, MUST_REJECT),
        ("statistics-no-ranges", {"other": np.zeros(3)}, MAY_ACCEPT),
    ):
        members = {f"{key}.npy": _npy(array) for key, array in arrays.items()}
        yield name, {"stats.npz": _npz(members)}, expect, {"statistics": "stats.npz"}
    yield "statistics-npy-file", {"stats.npz": _npy(np.zeros(4))}, MUST_REJECT, {"statistics": "stats.npz"}
    yield "statistics-truncated", {"stats.npz": _npz({"conv|range.npy": _npy(np.zeros(4))})[:50]}, MUST_REJECT, {
        "statistics": "stats.npz"}
    for name, text, expect in (
        ("layers-nested-deep", "[" * NESTING + "]" * NESTING, MUST_REJECT),
        ("layers-nested-object", '{"layers": ' * NESTING + "{}" + "}" * NESTING, MUST_REJECT),
        ("layers-not-json", "layers: conv", MUST_REJECT),
        ("layers-empty", "", MUST_REJECT),
        ("layers-list", '{"layers": []}', MUST_REJECT),
        ("layers-bits-7", '{"layers": {"conv": {"bits": 7}}}', MUST_REJECT),
        ("layers-activation-bits-7", '{"activation_bits": 7, "layers": {}}', MUST_REJECT),
        ("layers-unknown-layer", '{"layers": {"no_such_layer": {"strategy": "minmax"}}}', MUST_REJECT),
        ("layers-strategy-unknown", '{"layers": {"conv": {"strategy": "best"}}}', MUST_REJECT),
        ("layers-per-channel-text", '{"layers": {"conv": {"per_channel": "yes"}}}', MUST_REJECT),
        ("layers-bits-infinity", '{"layers": {"conv": {"bits": Infinity}}}', MUST_REJECT),
        ("layers-bits-huge", '{"layers": {"conv": {"bits": 1e999}}}', MUST_REJECT),
        ("layers-name-newline", json.dumps({"layers": {"con\nv" + "x" * 10_000: {"bits": 9}}}), MUST_REJECT),
        ("layers-valid", '{"layers": {"conv": {"strategy": "minmax", "bits": 16}}}', MAY_ACCEPT),
    ):
        yield name, {"layers.json": text.encode()}, expect, {"layers": "layers.json"}
    yield "layers-not-utf8", {"layers.json": b'{"layers": {"\xff\xfe": {}}}'}, MUST_REJECT, {"layers": "layers.json"}
    for name, options, expect in (
        ("options-activation-bits-7", {"activation_bits": 7}, MUST_REJECT),
        ("options-activation-strategy-unknown", {"activation_strategy": "best"}, MUST_REJECT),
        ("options-weight-strategy-unknown", {"weight_strategy": "entropy"}, MUST_REJECT),
        ("options-percentile-nan", {"activation_strategy": "percentile", "percentile": float("nan")}, MUST_REJECT),
        ("options-percentile-101", {"activation_strategy": "percentile", "percentile": 101.0}, MUST_REJECT),
        ("options-target-sqnr-inf", {"target_sqnr": float("inf")}, MUST_REJECT),
        ("options-target-sqnr-nan", {"target_sqnr": float("nan")}, MUST_REJECT),
        ("options-target-sqnr-huge", {"target_sqnr": 1e9}, MAY_ACCEPT),
        ("options-statistics-missing", {"statistics": "missing.npz"}, MUST_REJECT),
        ("options-layers-missing", {"layers": "missing.json"}, MUST_REJECT),
        ("options-layers-directory", {"layers": "."}, MUST_REJECT),
        ("options-save-statistics-missing-dir", {"save_statistics": "missing/stats.npz"}, MUST_REJECT),
        ("options-save-layers-missing-dir", {"save_layers": "missing/layers.json"}, MUST_REJECT),
        ("options-save-statistics-directory", {"save_statistics": "."}, MAY_ACCEPT),  # numpy writes "<dir>.npz"
        ("options-save-layers-directory", {"save_layers": "."}, MUST_REJECT),
    ):
        yield name, {}, expect, options
