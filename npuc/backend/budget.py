"""The memory budget (`Target.arena_cache_size`): schedule goals, and what a layer needs at least.

Vela's `--optimise` chooses between two goals under the budget; npuc uses
its names and meanings. `performance`: the fastest schedule that fits the
budget (weights staged and double-buffered, feature maps kept in the
staging memory, each only while the budget still holds them). `size`: the
smallest use of the budgeted memory (weights read where they are stored,
nothing staged, nothing kept in the staging memory).

When even the smallest schedule does not fit, `budget_error` names the
layer at the schedule's fullest point and what is live there.
"""

from __future__ import annotations

from xdsl.dialects.func import FuncOp

from npuc.backend.planning import Buffer, buffers, layer_ops, scratch_name
from npuc.dialects.common import layer_name
from npuc.dialects.npu import StageOp
from npuc.dialects.quantized import ConstantOp
from npuc.errors import ArenaBudgetError, NpucError
from npuc.targets import Target

PERFORMANCE, SIZE = "performance", "size"
OPTIMISE_GOALS = (PERFORMANCE, SIZE)
"""The values of npu-schedule's `optimise` option (Vela's `--optimise Performance|Size`, lower case)."""


def optimise_goal(text: str) -> str:
    """`text` (any case: Vela writes `Performance`, `Size`) as one of `OPTIMISE_GOALS`; `NpucError` otherwise."""
    goal = text.lower()
    if goal not in OPTIMISE_GOALS:
        raise NpucError(f"unknown optimise goal '{text}' (known: Performance, Size)")
    return goal


def budget_error(func: FuncOp, target: Target) -> ArenaBudgetError | None:
    """Why `func`'s schedule cannot fit the budget: the layer whose schedule position has the most bytes
    live in the budgeted memory, and what they are; None if no budget is set or no position exceeds it.

    Counted at that position, each buffer once: the layer's IFM(s) and OFM,
    the weights (and scale/bias tables) it reads from the budgeted memory,
    its scratch, and the other buffers live across it (feature maps kept
    for later layers, weights staged ahead). They must all be in the memory
    at once, so no placement of this schedule needs fewer bytes.
    """
    budget = target.arena_cache_size
    if budget is None:
        return None
    found, holder = buffers(func, target)
    resident = {id(b): b for b in found if b.memory == target.budget_memory}
    worst: tuple[int, str, list[tuple[str, int]]] | None = None
    layers = set(layer_ops(func))
    for position, op in enumerate(func.body.ops):
        if op not in layers:
            continue
        parts: dict[str, list[Buffer]] = {"IFM": [], "OFM": [], "weights": [], "scratch": []}
        for operand in op.operands:
            buffer = resident.get(id(holder.get(operand)))
            if buffer is not None:
                weights = isinstance(operand.owner, (StageOp, ConstantOp))
                parts["weights" if weights else "IFM"].append(buffer)
        for result in op.results:
            buffer = resident.get(id(holder.get(result)))
            if buffer is not None:
                parts["OFM"].append(buffer)
        parts["scratch"] = [b for b in resident.values() if b.name == scratch_name(op, position)]
        own = {id(b) for listed in parts.values() for b in listed}
        others = [b for b in resident.values() if b.start <= position <= b.end and id(b) not in own]
        counted = [(what, _bytes(listed)) for what, listed in parts.items()]
        counted.append(("other live buffers", _bytes(others)))
        needed = sum(size for _, size in counted)
        if worst is None or needed > worst[0]:
            worst = (needed, layer_name(op), counted)
    if worst is None or worst[0] <= budget:
        return None
    needed, layer, counted = worst
    return ArenaBudgetError(budget, layer, needed, counted)


def _bytes(listed: list[Buffer]) -> int:
    """Total size of distinct buffers."""
    return sum({id(b): b.size for b in listed}.values())
