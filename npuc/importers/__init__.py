"""Model importers: a model file becomes a verified npuc module.

`import_model` picks the importer from the file extension. Importers are
loaded lazily: `import onnx` alone costs about 0.3 s.
"""

from __future__ import annotations

from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

from npuc.errors import ModelFormatError, printable


def import_model(path: str) -> ModuleOp:
    """Import `.onnx` (graph IR), `.tflite` (quantized IR) or parse `.mlir` into a verified module."""
    if not Path(path).is_file():
        raise ModelFormatError(f"{printable(path)}: no such file")
    extension = Path(path).suffix.lower()
    if extension == ".onnx":
        from npuc.importers.onnx.importer import import_onnx

        return import_onnx(path)
    if extension == ".mlir":
        from npuc.importers.mlir import parse_mlir

        return parse_mlir(path)
    if extension == ".tflite":
        from npuc.importers.tflite.importer import import_tflite

        return import_tflite(path)
    raise ModelFormatError(
        f"{printable(path)}: unknown model format '{printable(extension) or '(no extension)'}' "
        "(expected .onnx, .tflite or .mlir)"
    )
