"""The HTML report of a MobileNetV2-shaped network in headless Chromium: every tab draws, no console errors.

Without Chromium these tests skip on a developer's machine and fail in CI
(`support.browser`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from npuc.api import analyze_model
from npuc.report.html import TABS

from support import browser as browsers
from support.browser import chromium, console_messages, headless_command
from support.mobilenet import mobilenet_v2_like

CONTENT_TOP = 130
"""Screenshot rows above this are the page header and the tab bar, drawn on every tab."""


@pytest.fixture(scope="module")
def browser() -> str:
    """Checked before the report is built: a machine without a browser skips at once."""
    return chromium()


@pytest.fixture(scope="module")
def report_html(browser, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    model = folder / "mobilenet_v2_like.onnx"
    mobilenet_v2_like(model, size=64, width=0.35, classes=100)
    sample = np.random.default_rng(2).uniform(0, 1, (1, 64, 64, 3)).astype(np.float32)
    return analyze_model(model, "ethos-u55-128", [sample]).write_reports(folder, ["html"])[0]


@pytest.fixture(scope="module")
def browser_runs(browser, report_html, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Each tab opened by its own headless Chromium (all at once): the run and its screenshot."""
    folder = tmp_path_factory.mktemp("browser")
    launched = {}
    for tab in TABS:
        screenshot = folder / f"{tab}.png"
        command = headless_command(browser, f"{report_html.as_uri()}?tab={tab}", folder, tab, screenshot)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        launched[tab] = (command, process, screenshot)
    runs = {}
    for tab, (command, process, screenshot) in launched.items():
        stdout, stderr = process.communicate(timeout=120)
        runs[tab] = (subprocess.CompletedProcess(command, process.returncode, stdout, stderr), screenshot)
    return runs


@pytest.mark.parametrize("tab", list(TABS))
def test_tab_draws_without_console_errors(browser_runs, tab):
    result, screenshot = browser_runs[tab]
    assert result.returncode == 0, result.stderr[-2000:]
    console = console_messages(result.stderr)
    assert console == [], console
    assert '<body data-status="ok">' in result.stdout
    assert f'<button id="button-{tab}" data-tab="{tab}" class="active">' in result.stdout
    with Image.open(screenshot) as image:
        pixels = np.asarray(image.convert("RGB"))[CONTENT_TOP:]
    colours = np.unique(pixels.reshape(-1, 3)[::7], axis=0)
    background = (pixels == pixels[-1, -1]).all(axis=2).mean()
    assert len(colours) > 20, f"{tab}: only {len(colours)} colours"
    assert background < 0.97, f"{tab}: {background:.1%} of the content is background"


@pytest.mark.parametrize(("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_a_missing_browser_skips_outside_ci_and_fails_in_it(monkeypatch, ci, outcome):
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(browsers, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install chromium"):
        chromium()
