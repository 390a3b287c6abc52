"""Small queries on npuc modules shared by passes, interpreters and drivers."""

from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp

from npuc.errors import ModelVerificationError


def main_function(module: ModuleOp) -> FuncOp:
    """The model's `@main` function (the only function of an imported model)."""
    functions = [op for op in module.ops if isinstance(op, FuncOp)]
    for func in functions:
        if func.sym_name.data == "main":
            return func
    if len(functions) == 1:
        return functions[0]
    raise ModelVerificationError("the module has no @main function")
