"""sweep.html in headless Chromium: every figure draws, no console errors, the cheapest row highlighted.

Without Chromium this skips on a developer's machine and fails in CI (`support.browser`).
"""

from __future__ import annotations

import subprocess

import pytest

from npuc.dse.executor import run_sweep
from npuc.dse.grid import expand_grid
from npuc.dse.table import sweep_document, write_sweep

from support.browser import chromium, console_messages, headless_command
from support.paths import MODELS


@pytest.fixture(scope="module")
def browser() -> str:
    """Checked before the sweep runs: a machine without a browser skips at once."""
    return chromium()


def test_the_sweep_page_draws_without_console_errors(browser, tmp_path):
    models = [str(MODELS / "digits_cnn.tflite"), str(MODELS / "kws_dscnn.tflite")]
    run = run_sweep(expand_grid(models, ["ethos-u55-64", "ethos-u65-256"], [1024, None], ["Performance", "Size"]))
    page = write_sweep(sweep_document(run.rows, latency_ms=1.0), tmp_path)[2]
    screenshot = tmp_path / "sweep.png"
    command = headless_command(browser, page.as_uri(), tmp_path, "sweep", screenshot)
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    assert '<body data-status="ok">' in result.stdout
    assert result.stdout.count('class="plot-container plotly"') == len(models)  # one drawn figure per model
    assert result.stdout.count('<tr class="cheapest">') == len(models)
    assert result.stdout.count('<tr class="error">') == sum(row["status"] == "error" for row in run.rows) > 0
    assert screenshot.stat().st_size > 10_000
