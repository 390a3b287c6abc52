"""The points of a sweep: every model x target x memory budget x schedule goal."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from npuc.errors import NpucError
from npuc.targets import target_spec

VARIANTS = ("channels",)
"""The model variants a sweep can measure at each point (`--variants`)."""


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One configuration to analyze: a model on a target with a memory budget and a schedule goal.

    `model` is the model's path as given; `target` an accelerator or target
    name (`ethos-u55-128`); `system_config`, `memory_mode` and `config` the
    Vela parts of the target spec (None: the accelerator's defaults);
    `budget` the arena cache size in bytes (None: the memory mode's own);
    `optimise` Vela's `--optimise` (`Performance` or `Size`); `variants` the
    model variants measured with the point (`VARIANTS`: `channels`, the
    channel what-if of `npuc.dse.channels`).
    """

    model: str
    target: str
    budget: int | None
    optimise: str
    system_config: str | None = None
    memory_mode: str | None = None
    config: str | None = None
    variants: tuple[str, ...] = ()

    @property
    def spec(self) -> str:
        """The target spec without the budget (`analyze_model` takes the budget apart)."""
        return target_spec(self.target, self.system_config, self.memory_mode, self.config)


def expand_grid(
    models: Sequence[str],
    targets: Sequence[str],
    budgets: Sequence[int | None],
    optimise: Sequence[str],
    system_config: str | None = None,
    memory_mode: str | None = None,
    config: str | None = None,
    variants: Sequence[str] = (),
) -> list[SweepPoint]:
    """Every combination, model-major (a model's points are consecutive: workers reuse its import),
    then target, budget and goal in the order given; a value given twice counts once. `variants` (each
    one of `VARIANTS`) are measured at every point."""
    unknown = [variant for variant in variants if variant not in VARIANTS]
    if unknown:
        raise NpucError(f"unknown variant '{unknown[0]}' (known: {', '.join(VARIANTS)})")
    return [
        SweepPoint(model, target, budget, goal, system_config, memory_mode, config, tuple(_unique(variants)))
        for model, target, budget, goal in itertools.product(
            _unique(models), _unique(targets), _unique(budgets), _unique(optimise)
        )
    ]


def _unique(values: Sequence) -> list:
    return list(dict.fromkeys(values))
