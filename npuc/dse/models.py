"""The sweep's models as its workers receive them, and their imports, once per worker.

The parent reads each model once (`model_digest`, for the cache) and, when
some of its points must be analyzed, prepares it (`prepare_model`): a TFLite
file travels as its bytes (importing it is faster than parsing its IR); any
other model is imported in the parent and, if float, quantized there once on
its first calibration sample (as `npuc analyze` does: the estimate depends
on shapes and placement, not on scales), and travels as quantized IR text.
Only text and bytes cross the process boundary, so a worker on another
machine needs no access to the parent's files. A worker imports a model the
first time it sees it and analyzes a copy for each point (`module_for`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict

from xdsl.dialects.builtin import ModuleOp

from npuc.errors import NpucError
from npuc.importers.common import read_file

TFLITE_SUFFIX = ".tflite"

KEPT_MODULES = 4
"""Imported modules a worker keeps (the most recently used): a sweep is model-major, so a worker needs one at a time."""


@dataclasses.dataclass(frozen=True)
class PreparedModel:
    """A model ready to analyze anywhere: the bytes of a TFLite file, or quantized (or graph) IR text.

    `name` is the path as given (error messages and rows name it), `digest`
    what the cache keys its points on (`model_digest`).
    """

    name: str
    digest: str
    tflite: bytes = b""
    ir_text: str = ""


def model_digest(path: str, calibration: str | None) -> str:
    """sha256 of the model's bytes and, for a model quantized here (not TFLite), its calibration file's."""
    digest = hashlib.sha256(read_file(path))
    if calibration is not None and not path.lower().endswith(TFLITE_SUFFIX):
        digest.update(read_file(calibration))
    return digest.hexdigest()


def prepare_model(path: str, calibration: str | None, digest: str) -> PreparedModel:
    """`path` as the workers receive it; `NpucError` if it cannot be read, imported or quantized."""
    if path.lower().endswith(TFLITE_SUFFIX):
        return PreparedModel(path, digest, tflite=read_file(path))
    from npuc.api import import_model, is_float_module, quantize
    from npuc.data import first_samples, load_samples, model_interface

    module = import_model(path)
    if is_float_module(module):
        if calibration is None:
            raise NpucError(f"{path}: a float model needs --calibration CALIB.npy to be quantized")
        quantize(module, first_samples(load_samples(calibration, model_interface(module)), 1), report_samples=0)
    return PreparedModel(path, digest, ir_text=str(module))


_modules: OrderedDict[str, ModuleOp] = OrderedDict()
"""This process's imported models by digest, most recently used last."""


def module_for(model: PreparedModel) -> ModuleOp:
    """A fresh copy of `model`'s module to analyze (lowering changes it in place); imported on first use."""
    module = _modules.get(model.digest)
    if module is None:
        module = _import(model)
        _modules[model.digest] = module
        while len(_modules) > KEPT_MODULES:
            _modules.popitem(last=False)
    _modules.move_to_end(model.digest)
    return module.clone()


def _import(model: PreparedModel) -> ModuleOp:
    if model.tflite:
        from npuc.importers.tflite.importer import import_tflite_bytes

        return import_tflite_bytes(model.tflite, model.name)
    from npuc.importers.mlir import parse_mlir_text

    return parse_mlir_text(model.ir_text, model.name)
