"""Run the whole fuzz suite of issue 14 and print its counts and failure signatures.

    python bench/fuzz.py [--family NAME ...] [--sample FRACTION] [--workers N] [--json FILE]

Prints the cases per family and outcome, then every distinct failure
signature (exception type and the npuc line that let it out, or the
outcome) with its count and an example case, grouped by the area that
fixes it. Exits 1 when any case fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test"))

from fuzz.generate import all_cases, sample  # noqa: E402
from fuzz.runner import MAX_WORKERS, OK, run_cases  # noqa: E402
from fuzz.summary import counts_table, signatures_by_area  # noqa: E402
from fuzz.warm import warm_up  # noqa: E402

PROGRESS_EVERY = 100
"""Cases between progress lines on stderr."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append", help="run only this family (repeatable)")
    parser.add_argument("--sample", type=float, help="run this fraction of each family (the test suite's sample)")
    parser.add_argument("--workers", type=int, default=MAX_WORKERS, help=f"parallel cases (at most {MAX_WORKERS})")
    parser.add_argument("--json", help="write every result to this JSON file")
    args = parser.parse_args()

    warm_up()
    cases = all_cases()
    if args.family:
        cases = [case for case in cases if case.family in args.family]
    if args.sample:
        cases = sample(cases, args.sample)
    started = time.monotonic()
    done = []

    def progress(result) -> None:
        done.append(result)
        if len(done) % PROGRESS_EVERY == 0:
            print(f"{len(done)}/{len(cases)} cases, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)

    results = run_cases(cases, args.workers, progress)
    seconds = time.monotonic() - started
    print(counts_table(results))
    print(f"\n{len(results)} cases in {seconds:.0f} s with {args.workers} worker(s)\n")
    print(signatures_by_area(results))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(result) for result in results], indent=1) + "\n")
    return 0 if all(result.outcome == OK for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
