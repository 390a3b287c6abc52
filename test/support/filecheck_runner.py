"""Runs the RUN lines of a lit/FileCheck test file in this process.

`test/filecheck` is a lit suite (`lit test/filecheck` runs it as lit does,
one process per command). The unit tests run each file's RUN lines here
instead, in process: no interpreter start per command, and the code under
test runs where coverage-based tools (the mutation bench) can see it. The
RUN lines are the same; what they may use is lit's subset the suite needs:
pipelines of `npuc-opt`, `xdsl-opt`, `filecheck` and `python -c`, with
lit's `%s` (the test file), `%S` (its folder) and `%t` (a temporary path) substitutions. As
with lit's pipefail, a line fails when any of its commands exits non-zero.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filecheck.matcher import Matcher
from filecheck.options import parse_argv_options

RUN_PREFIX = "// RUN:"


@dataclass(frozen=True)
class Outcome:
    """What one command of a RUN line printed, and its exit status."""

    stdout: str
    stderr: str
    status: int


def run_lines(path: Path) -> list[str]:
    """The RUN commands of a test file, in order."""
    return [line.split(RUN_PREFIX, 1)[1].strip() for line in path.read_text().splitlines() if RUN_PREFIX in line]


def pipeline(line: str, path: Path, temporary: Path) -> list[list[str]]:
    """A RUN line as its commands' argument lists, substitutions made."""
    text = line.replace("%s", str(path)).replace("%S", str(path.parent)).replace("%t", str(temporary))
    lexer = shlex.shlex(text, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token == "|":
            commands.append([])
        else:
            commands[-1].append(token)
    return commands


def _captured(main: Callable[[], object], argv: list[str], stdin: str) -> Outcome:
    """Run a console-script `main` with `argv`, `stdin` as its input; what it printed and its status."""
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_stdin = sys.argv, sys.stdin
    sys.argv, sys.stdin = argv, io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    status = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result = main()
                status = result if isinstance(result, int) else 0
            except SystemExit as exit_:
                status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            except Exception:  # an uncaught error is what a crashing process would print
                traceback.print_exc()
                status = 1
    finally:
        sys.argv, sys.stdin = saved_argv, saved_stdin
    return Outcome(out.getvalue(), err.getvalue(), status)


def _npuc_opt(argv: list[str], stdin: str) -> Outcome:
    from npuc.tools.npuc_opt import main

    return _captured(main, argv, stdin)


def _xdsl_opt(argv: list[str], stdin: str) -> Outcome:
    from xdsl.tools.xdsl_opt import main

    return _captured(main, argv, stdin)


def _filecheck(argv: list[str], stdin: str, temporary: Path) -> Outcome:
    checked = temporary.with_name(temporary.name + ".input")
    checked.write_text(stdin)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        matcher = Matcher.from_opts(parse_argv_options([*argv, f"--input-file={checked}"]))
        status = matcher.run()
    return Outcome(out.getvalue(), err.getvalue(), status)


def _python(argv: list[str]) -> Outcome:
    if argv[1:2] != ["-c"] or len(argv) != 3:
        return Outcome("", f"only `python -c CODE` is supported: {argv}", 1)
    exec(compile(argv[2], "<RUN line>", "exec"), {"__name__": "__main__"})
    return Outcome("", "", 0)


def run_command(argv: list[str], stdin: str, temporary: Path) -> Outcome:
    """One command of a RUN line."""
    program = argv[0]
    if program == "npuc-opt":
        return _npuc_opt(argv, stdin)
    if program == "xdsl-opt":
        return _xdsl_opt(argv, stdin)
    if program == "filecheck":
        return _filecheck(argv, stdin, temporary)
    if program == "python":
        return _python(argv)
    return Outcome("", f"unsupported command '{program}' in a RUN line", 127)


def check_file(path: Path, temporary: Path) -> None:
    """Run every RUN line of `path`; `AssertionError` with the failing line and its output if one fails."""
    for line in run_lines(path):
        stdin = ""
        for argv in pipeline(line, path, temporary):
            outcome = run_command(argv, stdin, temporary)
            if outcome.status != 0:
                raise AssertionError(
                    f"RUN: {line}\n`{argv[0]}` exited with {outcome.status}\n"
                    f"--- stdout ---\n{outcome.stdout}\n--- stderr ---\n{outcome.stderr}"
                )
            stdin = outcome.stdout
