"""Bad targets: spec strings, target TOML files and Vela configuration (.ini) files.

Each case loads the target (`npuc.targets.load_target`, what `--target`,
`--config`, `--system-config` and `--memory-mode` reach) and analyzes the
built TFLite conv with it (`npuc.analyze_model`). Non-finite or negative
numbers in a file must be refused: they end in "nan ms" summaries.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import npuc
from npuc.targets import load_target

from fuzz.case import MAY_ACCEPT, MUST_REJECT, Case
from fuzz.seeds import tflite_conv

ETHOS_U = "ethos-u55-128"
SYSTEM = "Ethos_U55_High_End_Embedded"
MODE = "Shared_Sram"
LONG = 10_000
"""Characters of the overlong names."""

TOML_NUMBER_MUTANTS = {"generic-4tops": 60, "ethos-u55-128": 30}
"""Seeded (key, value) replacements drawn per target file."""

TOML_LINE_DELETIONS = 10
TRUNCATIONS = 6

BAD_NUMBERS = {"nan": "nan", "inf": "inf", "minus-inf": "-inf", "minus-1": "-1"}
"""Values that make no sense for any number of a target: must be refused."""

ODD_VALUES = {"0": "0", "1e308": "1e308", "2-pow-70": str(2**70), "text": '"x"', "bool": "true", "array": "[]"}
"""Values a reader may accept or refuse, but must not crash on."""

INI_VALUES = {"nan": "nan", "inf": "inf", "minus-1": "-1", "1e400": "1e400", "text": "abc",
              "interpolation": "%(x)s", "0": "0", "empty": ""}  # fmt: skip
INI_MAY_ACCEPT = ("0",)
"""Vela-file values that are not nonsense for every key."""

ISSUE_CASES = frozenset({
    "spec-name-long", "spec-name-newline", "ini-core_clock-nan", "ini-Sram_clock_scale-inf", "ini-not-utf8",
    "ini-core_clock-interpolation",
})  # fmt: skip
"""The cases issue 14 names."""


def cases(seed: int) -> Iterator[Case]:
    """Spec strings, then seeded TOML mutants, then Vela file mutants."""
    yield from _spec_cases()
    for target, count in TOML_NUMBER_MUTANTS.items():
        yield from _toml_cases(target, count, random.Random(f"{seed}/config/{target}"))
    yield from _ini_cases(random.Random(f"{seed}/config/ini"))


def _case(name: str, spec: str, files: dict[str, bytes], expect: str) -> Case:
    return Case("config", name, functools.partial(_analyze, spec, files), expect, issue=name in ISSUE_CASES)


def _analyze(spec: str, files: dict[str, bytes], directory: Path) -> object:
    """Load the target `spec` ({dir} standing for `directory`) and analyze the conv model with it."""
    for name, content in files.items():
        (directory / name).write_bytes(content)
    spec = spec.replace("{dir}", str(directory))
    load_target(spec)
    model = directory / "conv.tflite"
    model.write_bytes(tflite_conv())
    return npuc.analyze_model(model, target=spec)


def _spec_cases():
    for name, spec in (
        ("spec-name-long", "x" * LONG),
        ("spec-name-newline", "ethos\nu55-128"),
        ("spec-empty", ""),
        ("spec-colon", ":"),
        ("spec-parts-4", f"{ETHOS_U}:a:b:c"),
        ("spec-at-nothing", f"{ETHOS_U}@"),
        ("spec-at-only", "@vela.ini"),
        ("spec-budget-negative", f"{ETHOS_U}#arena_cache_size=-1"),
        ("spec-budget-text", f"{ETHOS_U}#arena_cache_size=abc"),
        ("spec-budget-0", f"{ETHOS_U}#arena_cache_size=0"),
        ("spec-budget-huge", f"{ETHOS_U}#arena_cache_size={'9' * 40}"),
        ("spec-nul", f"{ETHOS_U}\x00"),
        ("spec-passwd", "/etc/passwd"),
        ("spec-dev-null", "/dev/null"),
        ("spec-missing-toml", "{dir}/missing.toml"),
        ("spec-directory-toml", "{dir}/folder.toml"),
        ("spec-system-unknown", f"{ETHOS_U}:No_Such_System"),
        ("spec-mode-unknown", f"{ETHOS_U}:{SYSTEM}:No_Such_Mode"),
        ("spec-system-long", f"{ETHOS_U}:{'S' * LONG}"),
        ("spec-system-newline", f"{ETHOS_U}:Ethos\nU55"),
        ("spec-config-missing", f"{ETHOS_U}:{SYSTEM}:{MODE}@{{dir}}/missing.ini"),
        ("spec-config-directory", f"{ETHOS_U}:{SYSTEM}:{MODE}@{{dir}}"),
        ("spec-generic-with-system", f"generic-4tops:{SYSTEM}"),
        ("spec-generic-budget-beyond", "generic-4tops#arena_cache_size=99999999999"),
        ("spec-upper-case", ETHOS_U.upper()),
    ):
        if "folder.toml" in spec:
            yield _directory_case(name, spec)
        else:
            yield _case(name, spec, {}, MAY_ACCEPT if name == "spec-budget-huge" else MUST_REJECT)


def _directory_case(name: str, spec: str) -> Case:
    def run(directory: Path) -> object:
        (directory / "folder.toml").mkdir()
        return _analyze(spec, {}, directory)

    return Case("config", name, run, MUST_REJECT)


def _data_text(name: str) -> str:
    return (resources.files("npuc.targets") / "data" / name).read_text(encoding="utf-8")


NUMBER_LINE = re.compile(r"^(\s*)([A-Za-z_]+)(\s*=\s*)(-?[0-9][0-9_.eE+-]*)", re.MULTILINE)
"""A `key = number` line of a TOML or ini file."""


def _toml_cases(target: str, count: int, rng: random.Random):
    text = _data_text(f"{target}.toml")
    spec = "{dir}/target.toml"
    numbers = list(NUMBER_LINE.finditer(text))
    values = {**BAD_NUMBERS, **ODD_VALUES}
    for index in range(count):
        match = rng.choice(numbers)
        label = rng.choice(sorted(values))
        mutant = text[: match.start(4)] + values[label] + text[match.end(4) :]
        expect = MUST_REJECT if label in BAD_NUMBERS else MAY_ACCEPT
        yield _case(f"toml-{target}-{match.group(2)}-{label}-{index}", spec, {"target.toml": mutant.encode()}, expect)
    lines = text.splitlines(keepends=True)
    for index in range(TOML_LINE_DELETIONS):
        line = rng.randrange(len(lines))
        mutant = "".join(lines[:line] + lines[line + 1 :])
        yield _case(f"toml-{target}-line-deleted-{index}", spec, {"target.toml": mutant.encode()}, MAY_ACCEPT)
    for index in range(TRUNCATIONS):
        cut = text[: rng.randrange(len(text))]
        yield _case(f"toml-{target}-truncated-{index}", spec, {"target.toml": cut.encode()}, MAY_ACCEPT)
    name = re.search(r'^name = "[^"]*"', text, re.MULTILINE)
    assert name is not None
    for label, content, expect in (
        ("not-utf8", text.encode() + b"\n# \xff\xfe\n", MUST_REJECT),
        ("name-long", text.replace(name.group(0), f'name = "{"n" * LONG}"').encode(), MAY_ACCEPT),
        ("name-newline", text.replace(name.group(0), 'name = "a\\nb\\u001b[31m"').encode(), MAY_ACCEPT),
        ("key-duplicate", (text + f"\n{name.group(0)}\n").encode(), MUST_REJECT),
        ("key-unknown", text.replace(name.group(0), name.group(0) + "\nfrobnicate = 1").encode(), MUST_REJECT),
        ("base-unknown", (text.replace('base = "ethos-u"', 'base = "nothing"') if "base =" in text
                          else 'base = "nothing"\n' + text).encode(), MUST_REJECT),
        ("base-path", ('base = "../../etc/passwd"\n' + text.replace('base = "ethos-u"\n', "")).encode(), MUST_REJECT),
        ("empty", b"", MUST_REJECT),
    ):
        yield _case(f"toml-{target}-{label}", spec, {"target.toml": content}, expect)


def _ini_cases(rng: random.Random):
    text = _data_text("systems.ini")
    spec = f"{ETHOS_U}:{SYSTEM}:{MODE}@{{dir}}/vela.ini"
    system_start = text.index(f"[System_Config.{SYSTEM}]")
    system_end = text.index("\n[", system_start + 1)
    for match in NUMBER_LINE.finditer(text, system_start, system_end):
        key = match.group(2)
        for label, value in INI_VALUES.items():
            mutant = text[: match.start(4)] + value + text[match.end(4) :]
            expect = MAY_ACCEPT if label in INI_MAY_ACCEPT else MUST_REJECT
            yield _case(f"ini-{key}-{label}", spec, {"vela.ini": mutant.encode()}, expect)
    mode = f"[Memory_Mode.{MODE}]\nconst_mem_area=Axi1\narena_mem_area=Axi0\n"
    assert mode in text, f"systems.ini lacks {mode!r}"
    for label, old, new in (
        ("area-unknown", "const_mem_area=Axi1", "const_mem_area=Axi9"),
        ("area-empty", "arena_mem_area=Axi0", "arena_mem_area="),
        ("cache-size-negative", "arena_mem_area=Axi0", "arena_mem_area=Axi0\narena_cache_size=-1"),
        ("cache-size-nan", "arena_mem_area=Axi0", "arena_mem_area=Axi0\narena_cache_size=nan"),
        ("cache-size-huge", "arena_mem_area=Axi0", "arena_mem_area=Axi0\narena_cache_size=1e400"),
        ("inherit-self", "arena_mem_area=Axi0", f"arena_mem_area=Axi0\ninherit=Memory_Mode.{MODE}"),
        ("inherit-unknown", "arena_mem_area=Axi0", "arena_mem_area=Axi0\ninherit=Memory_Mode.Nothing"),
    ):
        mutant = text.replace(mode, mode.replace(old, new))
        yield _case(f"ini-mode-{label}", spec, {"vela.ini": mutant.encode()}, MUST_REJECT)
    system = f"[System_Config.{SYSTEM}]\n"
    for label, changed, expect in (
        ("not-utf8", text.encode().replace(b"core_clock=500e6", b"core_clock=500e6 ; \xff\xfe", 1), MUST_REJECT),
        ("section-duplicate", text + "\n" + system + "core_clock=1\n", MUST_REJECT),
        ("option-duplicate", text.replace(system, system + "core_clock=1\n"), MUST_REJECT),
        ("line-without-equals", text.replace(system, system + "core_clock\n"), MUST_REJECT),
        ("section-long", text.replace(system, f"[System_Config.{'S' * LONG}]\n" + system), MAY_ACCEPT),
        ("section-unclosed", text.replace(system, "[System_Config.Broken\n" + system), MUST_REJECT),
        ("system-missing", text.replace(system, "[System_Config.Renamed]\n"), MUST_REJECT),
        ("empty", "", MUST_REJECT),
        ("byte-order-mark", "\ufeff" + text, MAY_ACCEPT),
        ("continuation", text.replace(system, system + "axi0_port=Sram\n  continued\n"), MUST_REJECT),
    ):
        content = changed if isinstance(changed, bytes) else changed.encode()
        yield _case(f"ini-{label}", spec, {"vela.ini": content}, expect)
    for index in range(TRUNCATIONS):
        cut = text[: rng.randrange(system_end)]
        yield _case(f"ini-truncated-{index}", spec, {"vela.ini": cut.encode()}, MAY_ACCEPT)
