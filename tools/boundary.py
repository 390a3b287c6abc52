"""The error boundary of the command-line tools: every failure ends in one line on stderr.

`npuc` and `npuc-opt` run their work through `run_reporting_errors`. An
`NpucError` (bad input the library foresaw) prints `PROG: error: MESSAGE` and
exits 1; any other exception is a bug in npuc and prints one line with its
type and message and a request to report it, and exits 2. Only `--debug`
adds the Python traceback. The message goes through `npuc.errors.printable`
once more, so a name that slipped through unescaped cannot break the line.
A command line argparse cannot parse is one line too (`OneLineArgumentParser`,
`usage_error`), exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

from npuc.errors import NpucError, printable

DEBUG_FLAG = "--debug"
"""The option of both tools that adds the traceback to the error line."""

DEBUG_HELP = "on an error, print the Python traceback before the error line"

BAD_INPUT_EXIT = 1
"""Exit status of a failure the library reported (`NpucError`): bad input or an impossible request."""

INTERNAL_ERROR_EXIT = 2
"""Exit status of an exception npuc did not foresee: a bug to report."""

INTERRUPTED_EXIT = 130
"""Exit status after Ctrl-C: 128 + SIGINT, as a shell reports it."""

BROKEN_PIPE_EXIT = 141
"""Exit status when the reader of stdout went away: 128 + SIGPIPE, as a shell reports a killed writer."""

USAGE_EXIT = 2
"""Exit status of a command line argparse cannot parse (argparse's own)."""


def usage_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """argparse's `error`, on one line like every other failure: `PROG: error: MESSAGE (see PROG --help)`."""
    prog = parser.prog.split()[0]  # a subcommand's parser is "npuc import"
    parser.exit(USAGE_EXIT, f"{prog}: error: {printable(message)} (see {parser.prog} --help)\n")


class OneLineArgumentParser(argparse.ArgumentParser):
    """An `ArgumentParser` whose usage errors are one line (`usage_error`); its subparsers are too."""

    def error(self, message: str) -> NoReturn:
        usage_error(self, message)


def stop_on_broken_pipe() -> NoReturn:
    """The reader of stdout went away (`npuc analyze ... | head`): stop quietly, as Unix tools do.

    stdout is pointed at /dev/null first, so the interpreter's final flush
    does not fail again.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(BROKEN_PIPE_EXIT)


def unforeseen_message(error: BaseException) -> str:
    """The one line that reports an exception npuc did not foresee: its type and message, and what to do."""
    detail = " ".join(str(error).split())
    return (
        f"internal error: {type(error).__name__}{': ' + detail if detail else ''} "
        f"(a bug in npuc: please report it with the command and its input; {DEBUG_FLAG} prints the traceback)"
    )


def fail(prog: str, message: str, status: int) -> NoReturn:
    """Print `PROG: error: MESSAGE` as one line on stderr and exit with `status`."""
    print(f"{prog}: error: {printable(message)}", file=sys.stderr)
    sys.exit(status)


def run_reporting_errors(prog: str, work: Callable[[], object], debug: bool,
                         translate: Callable[[Exception], NpucError | None] = lambda _error: None) -> None:
    """Run `work`, turning every exception into one error line and an exit status.

    `translate` maps exceptions of the tool's own libraries that stand for bad
    input (xDSL's parse errors in `npuc-opt`) to an `NpucError`, or to None.
    With `debug` the traceback is printed before the line.
    """
    try:
        work()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT)
    except BrokenPipeError:
        stop_on_broken_pipe()
    except Exception as error:  # the boundary: every failure becomes one line
        if debug:
            traceback.print_exc()
        known = error if isinstance(error, NpucError) else translate(error)
        if known is not None:
            fail(prog, str(known), BAD_INPUT_EXIT)
        fail(prog, unforeseen_message(error), INTERNAL_ERROR_EXIT)
