"""npu-cost-model: annotate lowered npu IR with the cost model's estimate."""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from npuc.dialects.npu import TARGET_ATTR
from npuc.errors import NpucError, TargetError

CYCLES_ATTR = "npu.cycles"
MACS_ATTR = "npu.macs"
BOUND_ATTR = "npu.bound"
TOTAL_CYCLES_ATTR = "npu.total_cycles"


def module_target_name(module: ModuleOp, option: str) -> str:
    """The target to cost for: the pass option, else the module's `npu.target` attribute."""
    if option:
        return option
    attr = module.attributes.get(TARGET_ATTR)
    if isinstance(attr, StringAttr):
        return attr.data
    raise TargetError("no target: pass target=NAME or set the module's npu.target attribute")


def annotate(module: ModuleOp, target_name: str) -> None:
    """Attach cycles, MACs and bound to every command and the total cycles to the module."""
    from npuc.cost.model import commands, estimate
    from npuc.targets import load_target

    cost = estimate(module, load_target(target_name))
    for op, command in zip(commands(module), cost.commands):
        op.attributes[CYCLES_ATTR] = IntegerAttr(command.cycles, i64)
        op.attributes[MACS_ATTR] = IntegerAttr(command.macs, i64)
        op.attributes[BOUND_ATTR] = StringAttr(command.bound)
    module.attributes[TOTAL_CYCLES_ATTR] = IntegerAttr(cost.total_cycles, i64)


@dataclass(frozen=True)
class CostModelPass(ModulePass):
    """Annotate each command with `npu.cycles`, `npu.macs` and `npu.bound`, and the module
    with `npu.total_cycles`, as estimated by `npuc.cost.model.estimate`.

    Assumes lowered npu IR (no `func.func` left). `target` names a built-in
    target or a target file; empty (the default) means the module's
    `npu.target` attribute.
    """

    name = "npu-cost-model"

    target: str = ""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from npuc.cost.model import require_lowered

        try:
            require_lowered(op)
            annotate(op, module_target_name(op, self.target))
        except NpucError as error:
            raise PassFailedException(f"{self.name}: {error}") from error
