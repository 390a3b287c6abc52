"""Mutation score of npuc's back end, with mutmut.

Mutates the npu passes (legalize, tile, schedule, allocate, lower,
cost-model), the back end's planning, memory views, allocator and softmax
chain, the modules npu-lower builds its commands with and npu-schedule
fills the staging memory with, the command-stream emitter, the simulator
and its hazard check, and runs the fast tests that exercise them (the back
end's unit tests, the simulator and emitter tests, the per-operator models
compiled and simulated, and the FileCheck files, which run in process).
Prints the kill rate per module and every surviving mutant with its
change; the acceptance is a kill rate of at least 85 %, every survivor
explained in bench/README.md.

    pip install -e '.[mutation]'
    python bench/mutation.py [--max-children N]      # a full run, from scratch
    python bench/mutation.py --resume                # after changing sources or tests
    python bench/mutation.py --survivors             # ... and re-test every mutant not killed
    python bench/mutation.py --only NAME [NAME ...]  # ... and re-test these (mutmut's globs work)
    python bench/mutation.py --results               # print the figures of the last run

mutmut wants a plain package layout, while npuc installs dialects/, passes/
and tools/ as subpackages (pyproject's package-dir): the script copies the
package into that layout under build/mutation and runs mutmut there, so the
working tree is never mutated. A full run takes about 80 minutes on 2
busy cores.

`--resume` copies the sources and tests into build/mutation again but keeps
mutmut's state (build/mutation/mutants): the verdicts stand, mutmut
generates new mutants only for the functions that changed and tests those,
and it recollects which tests call which function (a minute), so new tests
and new functions are seen. A verdict is only redone when asked for:
`--survivors` re-tests every mutant not killed (after adding tests),
`--only` the named ones; both imply `--resume`. A kill from an earlier run
is trusted, so the figures to quote come from a full run.

mutmut runs a mutant against the tests that called its function; the
plugin bench/mutmut_fixtures.py makes the calls a module-scoped fixture
makes count for every test using the fixture, not only the first.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
PROJECT = REPOSITORY / "build" / "mutation"
PLUGIN = "mutmut_fixtures"
"""The pytest plugin (bench/mutmut_fixtures.py) mutmut's test runs load."""

MUTATED = (
    "npuc/passes/npu/*",
    "npuc/backend/allocation.py",
    "npuc/backend/planning.py",
    "npuc/backend/views.py",
    "npuc/backend/softmax.py",
    "npuc/backend/stripes.py",
    "npuc/backend/addresses.py",
    "npuc/backend/constant_pool.py",
    "npuc/backend/dma_commands.py",
    "npuc/backend/expanded_layers.py",
    "npuc/backend/host_commands.py",
    "npuc/backend/layer_commands.py",
    "npuc/backend/stages.py",
    "npuc/backend/staging_memory.py",
    "npuc/backend/striped_layers.py",
    "npuc/backend/weight_slices.py",
    "npuc/emit/command_stream.py",
    "npuc/sim/simulator.py",
    "npuc/sim/integer_ops.py",
    "npuc/sim/hazards.py",
)
"""The modules mutated (globs in the assembled layout)."""

TESTS = (
    "test/unit/backend",
    "test/unit/passes/test_lower.py",
    "test/unit/passes/test_legalize.py",
    "test/unit/passes/test_tile.py",
    "test/unit/passes/test_schedule.py",
    "test/unit/passes/test_allocate.py",
    "test/unit/passes/test_planning_passes.py",
    "test/unit/passes/test_softmax_npu.py",
    "test/unit/passes/test_elementwise_npu.py",
    "test/unit/passes/test_cpu_fallback.py",
    "test/unit/cost/test_cost_model.py",
    "test/unit/emit/test_command_stream.py",
    "test/unit/emit/test_golden_streams.py",
    "test/unit/sim/test_hazards.py",
    "test/unit/sim/test_integer_ops.py",
    "test/unit/sim/test_simulator.py",
    "test/unit/sim/test_tflite_models_compiled.py",
    "test/unit/test_filecheck.py",
)
"""The tests mutmut runs (each mutant runs only those that cover its function)."""

CONFIG = """\
[tool.pytest.ini_options]
testpaths = ["test/unit"]
pythonpath = ["test"]
addopts = "--import-mode=importlib -p no:cacheprovider"

[tool.mutmut]
source_paths = ["npuc"]
also_copy = ["examples", "{plugin}.py"]
only_mutate = {mutated}
pytest_add_cli_args = ["-p", "{plugin}"]
pytest_add_cli_args_test_selection = {tests}
timeout_multiplier = {timeout_multiplier}
"""

TIMEOUT_MULTIPLIER = 5
"""mutmut stops a mutant's tests after (their usual time + 1 s) x 2 x this many CPU seconds and counts
a timeout as killed. Its default, 15, gives a mutant that breaks the allocator's search bound 30 times
the compiled-model tests' time; 10 times tells a hang as surely on 2 cores."""

KILLED = ("killed", "timeout")
"""mutmut verdicts that count as killed: a test failed, or the mutant hung."""


def assemble(keep_state: bool = False) -> None:
    """The installed layout of npuc, its tests and the example model, with mutmut's configuration.

    With `keep_state`, mutmut's state (mutants/: the mutants, their verdicts
    and the test statistics) survives, less the statistics: mutmut collects
    them again from the tests as they are now.
    """
    for entry in PROJECT.glob("*") if PROJECT.exists() else ():
        if entry.is_dir() and not (keep_state and entry.name == "mutants"):
            shutil.rmtree(entry)
        elif entry.is_file():
            entry.unlink()
    (PROJECT / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    # mutmut copies a file that is not Python (target data) into mutants/ only when it is missing there.
    for path in (PROJECT / "mutants" / "npuc").rglob("*"):
        if path.is_file() and path.suffix not in (".py", ".meta", ".spans"):
            path.unlink()
    ignore = shutil.ignore_patterns("__pycache__", "Output", "*.lit_test_times.txt")
    # copytree keeps modification times: mutmut regenerates the mutants of a file newer than them.
    shutil.copytree(REPOSITORY / "npuc", PROJECT / "npuc", ignore=ignore)
    for subpackage in ("dialects", "passes", "tools"):
        shutil.copytree(REPOSITORY / subpackage, PROJECT / "npuc" / subpackage, ignore=ignore)
    for folder in ("test", "examples"):
        shutil.copytree(REPOSITORY / folder, PROJECT / folder, ignore=ignore)
        # mutmut copies them into mutants/ over what is there: drop files deleted since.
        shutil.rmtree(PROJECT / "mutants" / folder, ignore_errors=True)
    shutil.copy2(Path(__file__).with_name(f"{PLUGIN}.py"), PROJECT)
    listed = lambda items: "[" + ", ".join(f'"{item}"' for item in items) + "]"  # noqa: E731
    (PROJECT / "pyproject.toml").write_text(
        CONFIG.format(
            mutated=listed(MUTATED), tests=listed(TESTS), plugin=PLUGIN, timeout_multiplier=TIMEOUT_MULTIPLIER
        )
    )


def mutmut(*args: str, capture: bool = True) -> str:
    """Run mutmut in the assembled project; its output, when captured."""
    command = [sys.executable, "-m", "mutmut", *args]
    result = subprocess.run(command, cwd=PROJECT, capture_output=capture, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"mutmut {args[0]} failed (exit status {result.returncode})")
    return result.stdout if capture else ""


def run(max_children: int, names: list[str] | None = None) -> None:
    """`mutmut run`: the mutants without a verdict, or re-test `names`."""
    mutmut("run", "--max-children", str(max_children), *(names or ()), capture=False)


def verdicts() -> dict[str, str]:
    """Mutant name -> mutmut's verdict, for every mutant."""
    found = {}
    for line in mutmut("results", "--all", "true").splitlines():
        name, _, verdict = line.strip().rpartition(": ")
        if name:
            found[name] = verdict
    return found


def module_of(mutant: str) -> str:
    """The module a mutant belongs to (`npuc.backend.constant_pool.xǁConstantPoolǁtable__mutmut_3` -> `npuc.backend.constant_pool`)."""
    return re.split(r"\.x[_ǁ]", mutant, maxsplit=1)[0]


def change(mutant: str) -> str:
    """The mutant's change, as its removed and added source lines."""
    lines = mutmut("show", mutant).splitlines()
    diff = [line[1:].strip() for line in lines if line[:1] in "-+" and not line.startswith(("---", "+++"))]
    return "  ->  ".join(diff)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2, help="parallel test processes (default 2)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true",
        help="copy sources and tests again, keep the verdicts, test the mutants of changed functions",
    )
    again.add_argument("--survivors", action="store_true", help="--resume, then re-test every mutant not killed")
    again.add_argument("--only", nargs="+", metavar="NAME", help="--resume, then re-test these mutants")
    again.add_argument("--results", action="store_true", help="only print the figures of the last run")
    args = parser.parse_args()
    resume = args.resume or args.survivors or args.only
    if (resume or args.results) and not (PROJECT / "mutants").exists():
        print(f"no earlier run in {PROJECT}: run without options first")
        return 1
    if not args.results:
        assemble(keep_state=bool(resume))
        run(args.max_children)
        if args.survivors:
            survivors = [name for name, verdict in verdicts().items() if verdict not in KILLED]
            if survivors:
                run(args.max_children, survivors)
        elif args.only:
            run(args.max_children, args.only)
    results = verdicts()
    if not results:
        print("mutmut produced no results (is it installed? pip install -e '.[mutation]')")
        return 1
    per_module: dict[str, Counter[str]] = {}
    for name, verdict in results.items():
        per_module.setdefault(module_of(name), Counter())[verdict] += 1
    print(f"{'module':40} {'mutants':>8} {'killed':>8} {'survived':>9} {'no tests':>9} {'kill rate':>10}")
    for module, counts in sorted(per_module.items()):
        total = sum(counts.values())
        killed = sum(counts[verdict] for verdict in KILLED)
        print(f"{module:40} {total:8} {killed:8} {counts['survived']:9} {counts['no tests']:9} {killed / total:10.1%}")
    total = len(results)
    killed = sum(verdict in KILLED for verdict in results.values())
    rate = killed / total
    print(f"{'all':40} {total:8} {killed:8} {'':9} {'':9} {rate:10.1%}  (limit 85 %)")
    survivors = sorted(name for name, verdict in results.items() if verdict not in KILLED)
    print(f"\n{len(survivors)} mutants not killed:")
    for name in survivors:
        print(f"  [{results[name]}] {name}: {change(name)}")
    return 0 if rate >= 0.85 else 1


if __name__ == "__main__":
    sys.exit(main())
