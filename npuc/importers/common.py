"""Helpers every importer shares: closing a built block into a verified module, error lines."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue
from xdsl.utils.exceptions import VerifyException

from npuc.errors import ModelVerificationError


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
