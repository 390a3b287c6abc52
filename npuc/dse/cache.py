"""Finished sweep points on disk, so a sweep that is run again (or was interrupted) resumes.

One JSON file per point, named by the sha256 of everything the row depends
on: the model's digest (its bytes, and its calibration samples when the
sweep quantizes it), the point's target, budget and goal, the bytes of a
Vela configuration file it names, and the npuc version. Rows are written as
points finish, each file replaced atomically; an unreadable entry counts as
missing. Rows of points that did not fit are kept too: they are as
deterministic as the others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from npuc.dse.grid import SweepPoint
from npuc.errors import writing
from npuc.importers.common import read_file

CACHE_FORMAT = 2
"""Bumped when the rows' fields change: older entries then miss."""


def npuc_version() -> str:
    """The installed npuc's version ("unknown" when run from a source tree that is not installed)."""
    try:
        return metadata.version("npuc")
    except metadata.PackageNotFoundError:
        return "unknown"


class PointCache:
    """Rows of finished points in `directory` (created on the first write); None: no cache."""

    def __init__(self, directory: str | Path | None):
        self.directory = Path(directory) if directory is not None else None
        self._config_digests: dict[str, str] = {}

    def key(self, point: SweepPoint, model_digest: str) -> str:
        """The sha256 naming `point`'s entry when its model's digest is `model_digest`."""
        fields = dataclasses.asdict(point)
        del fields["model"]  # the model is its digest: a copy elsewhere finds the same rows
        if point.config is not None:
            fields["config"] = self._config_digest(point.config)
        text = json.dumps({"format": CACHE_FORMAT, "npuc": npuc_version(), "model": model_digest, **fields},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def _config_digest(self, path: str) -> str:
        if path not in self._config_digests:
            self._config_digests[path] = hashlib.sha256(read_file(path)).hexdigest()
        return self._config_digests[path]

    def get(self, key: str) -> dict[str, Any] | None:
        """The row stored under `key`, or None."""
        if self.directory is None:
            return None
        try:
            row = json.loads((self.directory / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return row if isinstance(row, dict) else None

    def put(self, key: str, row: dict[str, Any]) -> None:
        """Store `row` under `key`; `OutputError` if the directory cannot be written."""
        if self.directory is None:
            return
        path = self.directory / f"{key}.json"
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with writing(path, "the sweep cache"):
            self.directory.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(row, sort_keys=True), encoding="utf-8")
            os.replace(partial, path)
