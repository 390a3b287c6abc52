"""Textual IR as a model: parse an npuc `.mlir` file with every dialect loaded, then verify it."""

from __future__ import annotations

from pathlib import Path

from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.utils.exceptions import ParseError, VerifyException

from npuc.context import npuc_context
from npuc.dialects.common import layer_name
from npuc.errors import ModelFormatError, ModelVerificationError


def parse_mlir(path: str) -> ModuleOp:
    """Parse an npuc IR file with every npuc dialect loaded, then verify it."""
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
    for op in module.walk():
        if op.regions:
            continue
        try:
            op.verify()
        except VerifyException as op_error:
            message = str(op_error).strip().splitlines()[0]
            name = layer_name(op)
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
