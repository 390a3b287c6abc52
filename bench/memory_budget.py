"""npuc against Vela 5.2 under a memory budget on every shared model (issue 13, "Done when").

On ethos-u55-128 with the system config `Ethos_U55_High_End_Embedded` (copied
at run time from the installed Vela's own `config_files/Arm/vela.ini`) and
the memory mode

    [Memory_Mode.Budget]
    const_mem_area=Axi1
    arena_mem_area=Axi0
    cache_mem_area=Axi0
    arena_cache_size=<bytes>

for each budget in {unlimited, 1M, 512K, 384K, 256K, 128K, 64K, 32K} it
writes one ini holding both sections (`build/memory_budget/budget_<budget>.ini`:
Vela does not fall back on its own vela.ini once given `--config`, and npuc
reads the two sections from one file), runs `vela --optimise Performance`
and npuc's `analyze_model` (the back end and the estimate, no files) on
every `/work/shared/models/*/model.tflite` with it, and prints per model and
budget: whether Vela fits, Vela's "Total SRAM used" and total cycles (its
summary CSV: `sram_memory_used`, `cycles_total`), whether npuc compiles (or
its error), npuc's peak SRAM (the arena: highest byte address in the SRAM)
and its peak-live-bytes lower bound, npuc's total cycles, npuc/Vela and
npuc's wall seconds (in this process, so the first model also pays the lazy
imports). Then both with `--optimise Size` and the budget unlimited, per
model: Vela's and npuc's arena.

Unlimited: no `arena_cache_size` key. Vela then takes the whole 32-bit
address space (4 GiB, its summary's `arena_cache_size`) and npuc the address
space likewise, with no budget check. Vela treats the budget as a target,
not a limit, in this memory mode: below its smallest schedule it compiles
anyway, exceeding the budget without a warning, so "Vela fits" means its
Total SRAM used <= the budget. Under `--optimise Size` Vela ignores
`arena_cache_size` here (it schedules for its minimum; its CLI says so), so
the Size runs use the unlimited ini.

Acceptance (issue 13):
1. npuc compiles wherever Vela fits, with peak SRAM <= the budget and <=
   Vela's Total SRAM used; and wherever npuc compiles, its peak SRAM is within
   the budget (it never exceeds the budget without an error).
2. npuc's cycles <= Vela's at the same budget on every case where Vela fits
   (a case npuc does not compile fails), geomean of npuc/Vela <= 0.95 over
   the cases where Vela fits and npuc compiles.
3. With `--optimise Size`, npuc's arena <= Vela's on every model.
4. MobileNetV2 at 384K compiles (analyze_model) in under 3 s.
A point whose cases are not in the selection (`--models`, `--budgets`) is
reported as not measured and does not change the exit status: 0 when every
measured point holds, 1 otherwise.

Vela's results are cached in `build/memory_budget/vela.json`, keyed by the
model file's hash, the budget and the optimise goal (`--refresh-vela` redoes
them; a cache from another Vela version is dropped).

    python bench/memory_budget.py [--models a,b] [--budgets 384K,64K] [--refresh-vela] [--quiet]
"""

from __future__ import annotations

import argparse
import configparser
import csv
import hashlib
import json
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ethosu.vela
from vela_compare import SHARED

from npuc.api import analyze_model
from npuc.errors import ArenaBudgetError, NpucError
from npuc.report.document import memory_timeline
from npuc.targets import target_spec

BUILD = Path(__file__).resolve().parents[1] / "build" / "memory_budget"
VELA_CACHE = BUILD / "vela.json"
VELA_INI = Path(ethosu.vela.__file__).resolve().parents[1] / "config_files" / "Arm" / "vela.ini"
ACCELERATOR = "ethos-u55-128"
SYSTEM_CONFIG = "Ethos_U55_High_End_Embedded"
MEMORY_MODE = "Budget"
MODE_KEYS = {"const_mem_area": "Axi1", "arena_mem_area": "Axi0", "cache_mem_area": "Axi0"}
BUDGETS: dict[str, int | None] = {
    "unlimited": None, "1M": 1 << 20, "512K": 512 << 10, "384K": 384 << 10, "256K": 256 << 10,
    "128K": 128 << 10, "64K": 64 << 10, "32K": 32 << 10,
}
"""The budgets of the acceptance, by the names `--budgets` takes (None: no arena_cache_size key)."""
GEOMEAN_LIMIT = 0.95
TIMED_MODEL, TIMED_BUDGET, SECONDS_LIMIT = "mobilenet_v2_100_224", "384K", 3.0
"""Point 4: this model at this budget compiles in under this many seconds."""


def write_ini(budget: str) -> Path:
    """The ini for `budget`: Vela's own system config section and the Budget memory mode."""
    vela, ini = configparser.ConfigParser(), configparser.ConfigParser()
    vela.optionxform = ini.optionxform = str  # type: ignore[assignment,method-assign]  # regor reads keys as written
    vela.read(VELA_INI)
    ini[f"System_Config.{SYSTEM_CONFIG}"] = vela[f"System_Config.{SYSTEM_CONFIG}"]
    limit = BUDGETS[budget]
    ini[f"Memory_Mode.{MEMORY_MODE}"] = MODE_KEYS if limit is None else {**MODE_KEYS, "arena_cache_size": str(limit)}
    path = BUILD / f"budget_{budget}.ini"
    with path.open("w") as file:
        ini.write(file, space_around_delimiters=False)
    return path


def run_vela(model: Path, ini: Path, optimise: str) -> dict:
    """Vela's Total SRAM used (bytes) and total cycles from its summary CSV, or its error."""
    with tempfile.TemporaryDirectory() as output:
        done = subprocess.run(
            ["vela", str(model), "--accelerator-config", ACCELERATOR, "--config", str(ini), "--system-config",
             SYSTEM_CONFIG, "--memory-mode", MEMORY_MODE, "--optimise", optimise, "--output-dir", output],
            capture_output=True, text=True,
        )
        summaries = list(Path(output).glob("*_summary_*.csv"))
        if done.returncode or not summaries:
            lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit status {done.returncode}"]
            return {"error": lines[-1]}
        with summaries[0].open() as file:
            row = next(csv.DictReader(file))
    return {"sram": round(float(row["sram_memory_used"]) * 1024), "cycles": int(row["cycles_total"])}


class VelaRuns:
    """Vela's results by model hash, budget and goal, kept in `VELA_CACHE` across runs."""

    def __init__(self, refresh: bool):
        document = json.loads(VELA_CACHE.read_text()) if VELA_CACHE.exists() and not refresh else {}
        self.runs: dict[str, dict] = document.get("runs", {}) if document.get("vela") == ethosu.vela.__version__ else {}

    def get(self, model: Path, budget: str, optimise: str, ini: Path) -> dict:
        """Vela's result for `model` under `budget` and `optimise` (the ini `budget` names), run if not cached."""
        key = f"{hashlib.sha256(model.read_bytes()).hexdigest()[:16]}:{budget}:{optimise}"
        if key in self.runs:
            return self.runs[key]
        result = {"model": model.parent.name, **run_vela(model, ini, optimise)}
        if "error" not in result:  # an error is not kept: the next run tries again
            self.runs[key] = result
            VELA_CACHE.write_text(json.dumps({"vela": ethosu.vela.__version__, "runs": self.runs}, indent=1) + "\n")
        return result


@dataclass
class Npuc:
    """One npuc analysis: peak SRAM (arena), its peak-live bound, cycles and seconds; or its error."""

    seconds: float
    sram: int = 0
    peak_live: int = 0
    cycles: int = 0
    error: str = ""
    crashed: bool = False


def short_error(error: Exception) -> str:
    """`error` on one line, without the model path and with a long layer name cut to its end."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if isinstance(error, ArenaBudgetError):
        text = text.removeprefix(f"{error.source}: ").replace(error.layer, f"...{error.layer[-48:]}")
    return f"{type(error).__name__}: {text}"


def run_npuc(model: Path, ini: Path, optimise: str) -> Npuc:
    """Analyze `model` with the target the ini names; its SRAM figures, cycles and wall seconds."""
    start = time.perf_counter()
    try:
        analysis = analyze_model(model, target_spec(ACCELERATOR, SYSTEM_CONFIG, MEMORY_MODE, str(ini)),
                                 optimise=optimise)
    except NpucError as error:
        return Npuc(time.perf_counter() - start, error=short_error(error))
    except Exception as error:  # a crash: reported, the benchmark goes on
        return Npuc(time.perf_counter() - start, error=short_error(error), crashed=True)
    seconds = time.perf_counter() - start
    memory = analysis.target.budget_memory
    timeline = memory_timeline(analysis.cost, analysis.target, analysis.module)[memory]
    return Npuc(seconds, timeline["arena"], timeline["peak_live_bytes"], analysis.cost.total_cycles)


def reproduce(model: Path, ini: Path, optimise: str) -> str:
    """The npuc command line of one case."""
    return (f"npuc analyze {model} --target {ACCELERATOR} --config {ini} --system-config {SYSTEM_CONFIG} "
            f"--memory-mode {MEMORY_MODE} --optimise {optimise} -o /tmp/npuc_budget")


def number(value: int | float | None, digits: int = 0) -> str:
    """`value` with thousands separators ('-' for None)."""
    return "-" if value is None else f"{value:,.{digits}f}"


@dataclass
class Case:
    """One model at one budget (or under --optimise Size): both results."""

    model: Path
    budget: str
    vela: dict
    npuc: Npuc
    ini: Path
    optimise: str = "Performance"

    @property
    def name(self) -> str:
        return f"{self.model.parent.name} {self.budget}" + (" Size" if self.optimise == "Size" else "")

    @property
    def vela_fits(self) -> bool:
        limit = BUDGETS[self.budget]
        return "error" not in self.vela and (limit is None or self.vela["sram"] <= limit)

    @property
    def ratio(self) -> float | None:
        both = not self.npuc.error and "error" not in self.vela
        return self.npuc.cycles / self.vela["cycles"] if both and self.vela["cycles"] else None

    def row(self, label: str) -> str:
        npuc, vela = self.npuc, self.vela
        fits = "error" if "error" in vela else "yes" if self.vela_fits else "no"
        ok = not npuc.error
        return (f"{self.model.parent.name:22s} {label:9s} {fits:5s} {number(vela.get('sram')):>11s} "
                f"{number(vela.get('cycles')):>12s} {number(npuc.sram if ok else None):>11s} "
                f"{number(npuc.peak_live if ok else None):>11s} {number(npuc.cycles if ok else None):>12s} "
                f"{number(self.ratio, 3):>9s} {npuc.seconds:7.2f}")

    def details(self) -> list[str]:
        lines = [f"   vela: {self.vela['error']}"] if "error" in self.vela else []
        if self.npuc.error:
            lines.append(f"   npuc{' CRASH' if self.npuc.crashed else ''}: {self.npuc.error}")
        return lines


HEADER = (f"{'model':22s} {'budget':9s} {'vela':5s} {'vela SRAM':>11s} {'vela cycles':>12s} {'npuc SRAM':>11s} "
          f"{'peak live':>11s} {'npuc cycles':>12s} {'npuc/vela':>9s} {'seconds':>7s}")


def verdict(point: int, title: str, failures: list[str] | None, extra: str = "") -> bool:
    """Print one acceptance point and its failures (None: not measured); whether it holds or was not measured."""
    state = "not measured" if failures is None else "FAIL" if failures else "PASS"
    print(f"{point}. {title}: {state}{extra}")
    for failure in failures or []:
        print(f"   {failure}")
    return not failures


def budget_failures(cases: list[Case]) -> list[str]:
    """Point 1: cases where Vela fits and npuc does not, or npuc is over the budget or Vela's SRAM."""
    failures = []
    for case in cases:
        limit, npuc, vela = BUDGETS[case.budget], case.npuc, case.vela
        if case.vela_fits and npuc.error:
            failures.append(f"{case.name}: Vela fits ({number(vela['sram'])} B), npuc does not compile")
        elif not npuc.error and limit is not None and npuc.sram > limit:
            failures.append(f"{case.name}: npuc's peak SRAM {number(npuc.sram)} B is over the budget "
                            f"{number(limit)} B without an error")
        elif case.vela_fits and npuc.sram > vela["sram"]:
            failures.append(f"{case.name}: npuc's peak SRAM {number(npuc.sram)} B > Vela's {number(vela['sram'])} B")
    return failures


def cycle_failures(cases: list[Case]) -> tuple[list[str], list[float]]:
    """Point 2: cases where Vela fits and npuc does not compile or needs more cycles; the ratios compared."""
    failures, ratios = [], []
    for case in cases:
        if not case.vela_fits:
            continue
        if case.npuc.error:
            failures.append(f"{case.name}: npuc does not compile (Vela: {number(case.vela['cycles'])} cycles)")
            continue
        ratio = case.ratio
        if ratio is None:
            continue
        ratios.append(ratio)
        if ratio > 1:
            failures.append(f"{case.name}: npuc {number(case.npuc.cycles)} cycles > Vela's "
                            f"{number(case.vela['cycles'])} (x{ratio:.3f})")
    return failures, ratios


def size_failures(cases: list[Case]) -> list[str]:
    """Point 3: models whose npuc --optimise Size arena is over Vela's (or that do not compile)."""
    failures = []
    for case in cases:
        if "error" in case.vela or case.npuc.error:
            failures.append(f"{case.name}: vela {case.vela.get('error', 'ok')}; npuc {case.npuc.error or 'ok'}")
        elif case.npuc.sram > case.vela["sram"]:
            failures.append(f"{case.name}: npuc {number(case.npuc.sram)} B > Vela's {number(case.vela['sram'])} B")
    return failures


def main() -> int:
    """Run every model at every budget and under Size; print the table and the verdicts; exit 1 on a FAIL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated model directories (default: all)")
    parser.add_argument("--budgets", help=f"comma-separated budgets among {', '.join(BUDGETS)} (default: all)")
    parser.add_argument("--refresh-vela", action="store_true", help="run Vela again instead of using its cache")
    parser.add_argument("--quiet", action="store_true", help="only the verdicts")
    args = parser.parse_args()
    models = sorted(SHARED.glob("models/*/model.tflite"))
    if args.models:
        models = [SHARED / "models" / name / "model.tflite" for name in args.models.split(",")]
    budgets = {label.lower(): label for label in BUDGETS}
    chosen = [budgets.get(text.strip().lower()) for text in args.budgets.split(",")] if args.budgets else list(BUDGETS)
    if None in chosen or any(not model.is_file() for model in models):
        parser.error(f"unknown budget or model (budgets: {', '.join(BUDGETS)})")
    BUILD.mkdir(parents=True, exist_ok=True)
    inis = {budget: write_ini(budget) for budget in {*chosen, "unlimited"}}
    vela = VelaRuns(args.refresh_vela)
    show = print if not args.quiet else (lambda *_: None)

    show(f"## Performance: {ACCELERATOR}, {SYSTEM_CONFIG}, memory mode {MEMORY_MODE} (Vela {ethosu.vela.__version__})")
    show(HEADER)
    cases: list[Case] = []
    for model in models:
        for budget in chosen:
            ini = inis[budget]
            case = Case(model, budget, vela.get(model, budget, "Performance", ini), run_npuc(model, ini, "Performance"), ini)
            cases.append(case)
            show(case.row(budget))
            for line in case.details():
                show(line)

    show("\n## --optimise Size, budget unlimited (Vela ignores arena_cache_size under Size in this memory mode)")
    show(HEADER)
    sizes: list[Case] = []
    for model in models:
        ini = inis["unlimited"]
        case = Case(model, "unlimited", vela.get(model, "unlimited", "Size", ini), run_npuc(model, ini, "Size"), ini, "Size")
        sizes.append(case)
        show(case.row("Size"))
        for line in case.details():
            show(line)

    print("\n## Acceptance")
    ok = verdict(1, "npuc compiles wherever Vela fits, peak SRAM <= budget and <= Vela's", budget_failures(cases))
    failures, ratios = cycle_failures(cases)
    geomean = statistics.geometric_mean(ratios) if ratios else 0.0
    if ratios and geomean > GEOMEAN_LIMIT:
        failures.append(f"geomean {geomean:.3f} > {GEOMEAN_LIMIT}")
    measured = any(case.vela_fits for case in cases)
    ok &= verdict(2, f"npuc cycles <= Vela's where Vela fits, geomean <= {GEOMEAN_LIMIT}",
                  failures if measured else None, f" (geomean npuc/vela {geomean:.3f} over {len(ratios)} cases"
                  " where Vela fits and npuc compiles)" if ratios else "")
    ok &= verdict(3, "--optimise Size: npuc's arena <= Vela's", size_failures(sizes) if sizes else None)
    timed = [case for case in cases if case.model.parent.name == TIMED_MODEL and case.budget == TIMED_BUDGET]
    slow = [f"{case.name}: {case.npuc.error or f'{case.npuc.seconds:.2f} s'}" for case in timed
            if case.npuc.error or case.npuc.seconds >= SECONDS_LIMIT]
    ok &= verdict(4, f"{TIMED_MODEL} at {TIMED_BUDGET} compiles in under {SECONDS_LIMIT:g} s", slow if timed else None,
                  "".join(f" ({case.npuc.seconds:.2f} s)" for case in timed if not case.npuc.error))
    crashes = [case for case in [*cases, *sizes] if case.npuc.crashed]
    if crashes:
        print("\n## npuc crashed (not an NpucError)")
        for case in crashes:
            print(f"   {case.name}: {case.npuc.error}\n      {reproduce(case.model, case.ini, case.optimise)}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
