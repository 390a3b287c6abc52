"""Byte mutations and truncations of valid ONNX and TFLite files, judged by onnxruntime and LiteRT."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator, Mapping
from pathlib import Path

from fuzz import reference
from fuzz.case import Case
from fuzz.drive import exercise_model, write_files
from fuzz.mutate import MUTATIONS
from fuzz.seeds import onnx_seeds, tflite_seeds

MUTANTS_PER_SEED = {"onnx": 70, "tflite": 50}
"""Mutated files per seed model, by format."""


def cases(seed: int) -> Iterator[Case]:
    """`MUTANTS_PER_SEED` mutants of every seed model, the mutation drawn from `MUTATIONS` in turn."""
    yield from _mutants("onnx-bytes", "onnx", onnx_seeds(), seed)
    yield from _mutants("tflite-bytes", "tflite", tflite_seeds(), seed)


def _mutants(family: str, suffix: str, seeds: Mapping[str, bytes], seed: int) -> Iterator[Case]:
    names = sorted(MUTATIONS)
    for model, data in seeds.items():
        rng = random.Random(f"{seed}/{family}/{model}")
        for index in range(MUTANTS_PER_SEED[suffix]):
            mutation = names[index % len(names)]
            mutant = MUTATIONS[mutation](data, rng)
            yield model_case(family, f"{model}-{mutation}-{index}", {f"model.{suffix}": mutant})


def model_case(family: str, name: str, files: Mapping[str, bytes], issue: bool = False, **options) -> Case:
    """A case of a model file `model.onnx` or `model.tflite` (with any files beside it) judged by its runtime."""
    main = next(file for file in files if file.startswith("model."))
    if main.endswith(".onnx"):
        judge = functools.partial(_onnx_refuses, files, main)
    else:
        judge = functools.partial(_litert_refuses, files[main])
    return Case(family, name, functools.partial(_exercise, files, main), reference=judge, issue=issue, **options)


def _exercise(files: Mapping[str, bytes], main: str, directory: Path) -> object:
    write_files(directory, files)
    return exercise_model(directory / main)


def _onnx_refuses(files: Mapping[str, bytes], main: str, directory: Path) -> bool:
    write_files(directory, files)
    return reference.onnxruntime_refuses(directory / main)


def _litert_refuses(data: bytes, _directory: Path) -> bool:
    return reference.litert_refuses(data)
