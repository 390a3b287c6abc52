"""Design-space exploration: what a model costs across targets, budgets and variants.

`grid` expands models x targets x budgets x goals into `SweepPoint`s;
`models` prepares each model once for the workers (a float model is
quantized once, in the parent); `point` analyzes one point into a row;
`cache` keeps finished rows on disk so a sweep resumes; `executor` runs the
points in this process, a local process pool or on a Dask cluster (with a
`progress` line on a terminal); `table`
marks the Pareto front and the cheapest configuration and writes the rows as
CSV and JSON (the HTML page is `npuc.report.sweep`). docs/sweep.md
describes the command and its outputs. `channels` builds and measures the
channel-count what-ifs of `npuc analyze --channel-advice`.
"""
