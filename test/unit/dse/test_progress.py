"""The sweep's progress line: redrawn in place on a terminal, nothing elsewhere."""

from __future__ import annotations

import io

from npuc.dse.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_is_redrawn_on_a_terminal_and_ended_once():
    stream = Terminal()
    bar = ProgressBar(4, stream)
    bar.update(1, 1, 0)
    bar.update(4, 1, 2)
    bar.close()
    assert stream.getvalue() == (
        f"\r[{'#' * 7}{'.' * 23}] 1/4 points (1 from the cache, 0 errors)"
        f"\r[{'#' * 30}] 4/4 points (1 from the cache, 2 errors)\n"
    )


def test_nothing_is_written_when_stderr_is_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(4, stream)
    bar.update(2, 0, 0)
    bar.close()
    assert stream.getvalue() == ""
