"""Headless Chromium for the HTML pages' tests: the browser, or a skip (a failure in CI) without one.

Chromium comes from Debian's packages (`.ci/run` installs it). Without it
the tests skip, their reason the install line, on a developer's machine,
and fail in CI (`CI=true` in the environment), where the HTML pages must be
checked in a real browser.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
WINDOW = (1280, 900)

MISSING = "chromium is not installed: apt-get install chromium (as .ci/run does)"


def chromium() -> str:
    """The browser's path; without one, skip the test (fail it in CI)."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    return path


def headless_command(browser: str, url: str, folder: Path, name: str, screenshot: Path) -> list[str]:
    """The command opening `url` in headless `browser` (a profile of its own in `folder`, named `name`):
    console messages on stderr, the DOM once drawn on stdout, a screenshot of the window into `screenshot`."""
    return [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={folder / ('profile-' + name)}", "--enable-logging=stderr", "--v=0",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", "--virtual-time-budget=10000",
        f"--screenshot={screenshot}", "--dump-dom", url,
    ]


def console_messages(stderr: str) -> list[str]:
    """The page's console messages (errors and logs) among Chromium's stderr lines."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]
