"""Model importers: a model file becomes a verified npuc module.

`import_model` picks the importer from the file extension. Importers are
loaded lazily: `import onnx` alone costs about 0.3 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp
from xdsl.ir import Block, Region, SSAValue

from npuc.errors import ModelFormatError, ModelVerificationError


def import_model(path: str) -> ModuleOp:
    """Import `.onnx` (graph IR), `.tflite` (quantized IR) or parse `.mlir` into a verified module."""
    if not Path(path).is_file():
        raise ModelFormatError(f"{path}: no such file")
    extension = Path(path).suffix.lower()
    if extension == ".onnx":
        from npuc.importers.onnx import import_onnx

        return import_onnx(path)
    if extension == ".mlir":
        return parse_mlir(path)
    if extension == ".tflite":
        from npuc.importers.tflite import import_tflite

        return import_tflite(path)
    raise ModelFormatError(
        f"{path}: unknown model format '{extension or '(no extension)'}' "
        "(expected .onnx, .tflite or .mlir)"
    )


def main_module(
    block: Block,
    results: Sequence[SSAValue],
    arg_attrs: Sequence[DictionaryAttr],
    res_attrs: Sequence[DictionaryAttr],
    source: str,
) -> ModuleOp:
    """Close `block` with a return of `results` into a verified module with `@main`.

    Importers build the body ops directly; a module that does not verify is the
    model's fault and raises `ModelVerificationError` naming `source`.
    """
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.utils.exceptions import VerifyException

    block.add_op(ReturnOp(*results))
    function = FuncOp(
        "main",
        ([arg.type for arg in block.args], [result.type for result in results]),
        Region(block),
        arg_attrs=ArrayAttr(list(arg_attrs)),
        res_attrs=ArrayAttr(list(res_attrs)),
    )
    module = ModuleOp([function])
    try:
        module.verify()
    except VerifyException as error:
        raise ModelVerificationError(f"{source}: {first_line(error)}") from None
    return module


def first_line(error: BaseException) -> str:
    """The first non-blank line of an error's message (xDSL's are multi-line)."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def parse_mlir(path: str) -> ModuleOp:
    """Parse an npuc IR file with every npuc dialect loaded, then verify it."""
    from xdsl.parser import Parser
    from xdsl.utils.exceptions import ParseError, VerifyException

    from npuc.context import npuc_context

    try:
        text = Path(path).read_text()
    except UnicodeDecodeError:
        raise ModelFormatError(f"{path}: not a text IR file") from None
    try:
        module = Parser(npuc_context(), text, path).parse_module()
    except ParseError as error:
        raise ModelFormatError(_parse_error_line(error)) from None
    try:
        module.verify()
    except VerifyException as error:
        raise ModelVerificationError(f"{path}: {_verify_error_line(module, error)}") from None
    return module


def _verify_error_line(module: ModuleOp, error: Exception) -> str:
    """The verifier's message, prefixed with the failing leaf op and its layer name."""
    from xdsl.utils.exceptions import VerifyException

    from npuc.dialects.common import layer_name

    for op in module.walk():
        if op.regions:
            continue
        try:
            op.verify()
        except VerifyException as op_error:
            message = str(op_error).strip().splitlines()[0]
            name = layer_name(op)  # type: ignore[arg-type]
            return f"{op.name} '{name}': {message}" if name != op.name else f"{op.name}: {message}"
    return str(error).strip().splitlines()[0]


def _parse_error_line(error: Exception) -> str:
    """`FILE:LINE:COL: message` from xDSL's multi-line parse error.

    xDSL prints the location, the source line, a caret line, then the message.
    """
    lines = [line for line in str(error).splitlines() if line.strip()]
    if len(lines) >= 4:
        return f"{lines[0]}: {lines[3].strip()}"
    return lines[0] if lines else "parse error"
