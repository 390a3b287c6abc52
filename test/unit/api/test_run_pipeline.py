"""`npuc.run_pipeline` verifies the module at the pipeline's boundaries: what goes in and what comes out."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import FunctionType, ModuleOp, TensorType, f32
from xdsl.parser import Parser
from xdsl.passes import ModulePass

import npuc.passes
from npuc.api import run_pipeline
from npuc.context import npuc_context
from npuc.errors import PipelineError

IDENTITY_IR = "func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {\n  func.return %x : tensor<4xf32>\n}\n"


def identity() -> ModuleOp:
    """A verified module whose @main returns its argument."""
    return Parser(npuc_context(), IDENTITY_IR).parse_module()


def break_result_type(module: ModuleOp) -> None:
    """Make @main declare a result type its `func.return` does not return (the module no longer verifies)."""
    main = next(op for op in module.walk() if isinstance(op, func.FuncOp))
    main.function_type = FunctionType.from_lists([TensorType(f32, [4])], [TensorType(f32, [5])])


@dataclass(frozen=True)
class BreakIrPass(ModulePass):
    """A faulty pass: it leaves IR that does not verify."""

    name = "break-ir"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        break_result_type(op)


def test_a_module_that_does_not_verify_is_refused_before_the_first_pass() -> None:
    module = identity()
    break_result_type(module)
    with pytest.raises(PipelineError, match="tensor<5xf32>"):
        run_pipeline(module, "layer-cse")


def test_a_pass_leaving_ir_that_does_not_verify_fails_the_pipeline(monkeypatch) -> None:
    passes = {**npuc.passes.get_all_passes(), "break-ir": lambda: BreakIrPass}
    monkeypatch.setattr(npuc.passes, "get_all_passes", lambda: passes)
    with pytest.raises(PipelineError, match="tensor<5xf32>"):
        run_pipeline(identity(), "break-ir,layer-cse")
    with pytest.raises(PipelineError, match="tensor<5xf32>"):
        run_pipeline(identity(), "layer-cse,break-ir")


def test_a_verified_module_passes_through() -> None:
    module = identity()
    assert run_pipeline(module, "layer-cse,layer-cse") is module


def test_a_module_the_caller_verified_is_still_verified_after_the_last_pass() -> None:
    module = identity()
    break_result_type(module)  # a caller wrongly claiming to have verified it
    with pytest.raises(PipelineError, match="tensor<5xf32>"):
        run_pipeline(module, "layer-cse", verified=True)
