"""Every fuzz case, from every family, and the seeded sample the normal test suite runs."""

from __future__ import annotations

import random
from collections import defaultdict

from fuzz import (
    family_bytes,
    family_cli,
    family_config,
    family_data,
    family_ir,
    family_onnx,
    family_pipeline,
    family_resource,
    family_tflite,
)
from fuzz.case import Case

SUITE_SEED = 14
"""Seed of every generator and of the sample (issue 14)."""

FAMILIES = (
    family_bytes, family_onnx, family_tflite, family_data, family_ir, family_pipeline, family_config, family_resource,
    family_cli,
)
"""The generator modules, each with `cases(seed)`."""


def all_cases(seed: int = SUITE_SEED) -> list[Case]:
    """Every case of every family, in a fixed order; keys are unique."""
    cases = [case for family in FAMILIES for case in family.cases(seed)]
    keys = [case.key for case in cases]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    assert not duplicates, f"duplicate fuzz case keys: {duplicates}"
    return cases


def sample(cases: list[Case], fraction: float, seed: int = SUITE_SEED) -> list[Case]:
    """About `fraction` of the cases not named by the issue, drawn per family (at least one each)."""
    by_family: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        if not case.issue:
            by_family[case.family].append(case)
    rng = random.Random(seed)
    chosen = []
    for family in sorted(by_family):
        members = by_family[family]
        chosen += rng.sample(members, max(1, round(fraction * len(members))))
    return chosen
