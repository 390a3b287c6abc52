"""The progress line of a sweep, redrawn in place on a terminal; nothing when stderr is not one."""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30
"""Characters of the bar."""


class ProgressBar:
    """`[#####.....] done/total points (N from the cache, E errors)` on `stream`, if it is a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.shown = self.stream.isatty() and total > 0

    def update(self, done: int, cached: int, errors: int) -> None:
        """Redraw the line for `done` finished points, `cached` of them from the cache, `errors` not compiling."""
        if not self.shown:
            return
        filled = WIDTH * done // self.total
        self.stream.write(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{self.total} points "
                          f"({cached} from the cache, {errors} errors)")
        self.stream.flush()

    def close(self) -> None:
        """End the line, so what follows starts on its own."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
