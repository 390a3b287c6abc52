"""The fuzz suite of malformed inputs (issue 14): generators per family, a bounded runner, its tests.

`generate.all_cases(seed)` builds every case (a `case.Case`: family, name,
what it runs through `npuc.api`, the outcome it may have);
`runner.run_cases` executes them in forked workers under a time alarm and an
address-space cap and classifies each outcome. `test_fuzz.py` runs a seeded
sample and the cases issue 14 names; `bench/fuzz.py` runs the whole set.
"""
